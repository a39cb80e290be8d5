//! Helpers shared by the core's integration tests, built on `shmkit_testkit` (forked
//! children, watchdogs, waits, pipes, names, the seeded RNG; re-exported here): unique store
//! names and cleanup guards, test stores and maps, churning children, the test mutex's futex
//! word, and a progress log kept in the store.
#![allow(dead_code)]

pub mod crash_points;
pub mod exercise;

use shmkit::{HashMap, HashMapOptions, Store, StoreOptions};
#[allow(unused_imports)] // each test file uses some of them
pub use shmkit_testkit::{
    CHILD_TIMEOUT, Child, Exit, KillOnDrop, Pipe, Rng, TempDir, cannot_run_here, dead_pid,
    fork_child, fork_orphanable, getpid, gettid, pid_alive, process_running, voluntary_switches,
    wait_until, watchdog,
};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// A store name unique to this test, this process and this call: `test-<test>-<pid>-<n>`
/// (the form scripts/clean-test-stores.sh recognises).
pub fn unique_name(test: &str) -> String {
    shmkit_testkit::unique_name("test", test)
}

/// Removes a store (by name or path) when dropped, also when the test fails.
pub struct StoreGuard(pub String);

impl StoreGuard {
    /// A guard for a fresh unique name.
    pub fn new(test: &str) -> StoreGuard {
        StoreGuard(unique_name(test))
    }

    /// The store name.
    pub fn name(&self) -> &str {
        &self.0
    }
}

impl Drop for StoreGuard {
    fn drop(&mut self) {
        let _ = Store::remove(&self.0);
    }
}

/// A fresh store under a unique name, removed when dropped (also when the test fails).
/// Dereferences to the [`Store`].
pub struct TestStore {
    store: Store,
    guard: StoreGuard,
}

impl TestStore {
    pub fn new(test: &str) -> TestStore {
        TestStore::with(test, &StoreOptions::default())
    }

    pub fn with(test: &str, options: &StoreOptions) -> TestStore {
        let guard = StoreGuard::new(test);
        let store = Store::create(guard.name(), options).expect("create test store");
        TestStore { store, guard }
    }

    /// The store name.
    pub fn name(&self) -> &str {
        self.guard.name()
    }

    /// The hash map "m" with `shards` shards, starting at the smallest table (so it grows).
    pub fn map(&self, shards: u32) -> HashMap {
        self.store
            .hash_map_with(
                "m",
                &HashMapOptions {
                    shards,
                    initial_capacity: 0,
                    fixed_size: None,
                },
            )
            .expect("create test map")
    }
}

/// Options of a fixed-size map of `shards` shards (smallest start, so it grows) whose keys
/// are `key_len` and values `value_len` bytes.
pub fn fixed_options(shards: u32, key_len: u32, value_len: u32) -> HashMapOptions {
    HashMapOptions {
        shards,
        initial_capacity: 0,
        fixed_size: Some(shmkit::FixedSize { key_len, value_len }),
    }
}

impl std::ops::Deref for TestStore {
    type Target = Store;

    fn deref(&self) -> &Store {
        &self.store
    }
}

/// The key a [`fork_churner`] waits for before it starts.
pub const START: &[u8] = b"__start";
/// The key that stops a [`fork_churner`].
pub const STOP: &[u8] = b"__stop";

/// Forks a child that waits for [`START`] in `map`, then runs `step(0)`, `step(1)`, ...
/// until [`STOP`] appears (exit 0) or a step fails (exit 1); sets [`START`] and returns the
/// child. End it with [`stop_churner`].
pub fn fork_churner(map: &HashMap, mut step: impl FnMut(u64) -> bool) -> Child {
    let child = fork_child(|| {
        while !map.contains_key(START).unwrap_or(false) {
            std::hint::spin_loop();
        }
        let mut n = 0u64;
        while !map.contains_key(STOP).unwrap_or(true) {
            if !step(n) {
                return 1;
            }
            n += 1;
        }
        0
    });
    map.set(START, b"").unwrap();
    child
}

/// Sets [`STOP`] and asserts the churner ended without a failed step.
pub fn stop_churner(map: &HashMap, mut churner: Child) {
    map.set(STOP, b"").unwrap();
    assert_eq!(churner.wait(), Exit::Code(0), "the churner failed");
}

/// Bit 31 of a robust mutex's futex word: a waiter has given up spinning and may sleep.
pub const MUTEX_WAITERS_BIT: u32 = 1 << 31;

/// The futex word of the store's test mutex (the first field of the mutex, inside the
/// header's registry line), for tests that observe waiters.
pub fn test_mutex_word(store: &Store) -> &std::sync::atomic::AtomicU32 {
    use shmkit::store::header::{RegistryState, StoreHeader};
    let offset = (std::mem::offset_of!(StoreHeader, registry)
        + std::mem::offset_of!(RegistryState, test_mutex)) as u64;
    store.get(offset).expect("the header page is mapped")
}

/// Waits until thread `tid` is a sleeping waiter of the robust mutex whose futex word is
/// `word`: the waiters bit is set and the thread has then blocked `sleeps` more times.
/// A waiter checks its owner's liveness on a schedule each time a sleep ends, so after
/// `sleeps` sleeps it has run (at least) `sleeps - 1` liveness probes. Panics if
/// `/proc/<tid>/status` cannot be read (the count is what the caller relies on); returns
/// false if the condition does not hold within `timeout` or `gave_up()` turns true.
pub fn wait_until_waiter_slept(
    word: &std::sync::atomic::AtomicU32,
    tid: libc::pid_t,
    sleeps: u64,
    timeout: Duration,
    mut gave_up: impl FnMut() -> bool,
) -> bool {
    let deadline = Instant::now() + timeout;
    let left = || deadline.saturating_duration_since(Instant::now());
    if !wait_until(left(), || {
        gave_up() || word.load(Ordering::SeqCst) & MUTEX_WAITERS_BIT != 0
    }) || gave_up()
    {
        return false;
    }
    let base = voluntary_switches(tid).unwrap_or_else(|| {
        panic!("cannot read /proc/{tid}/status: the waiter's sleeps are unknown")
    });
    wait_until(left(), || {
        gave_up() || voluntary_switches(tid).is_some_and(|n| n >= base + sleeps)
    }) && !gave_up()
}

/// Words kept in the store itself (its raw object "progress"), so that what a SIGKILLed
/// child logged survives it: the child records what it finished and what is in flight, the
/// parent reads that after the kill.
#[derive(Clone, Copy)]
pub struct ProgressLog<'a> {
    store: &'a Store,
    base: u64,
}

impl<'a> ProgressLog<'a> {
    /// A zeroed log of `words` words in `store`.
    pub fn create(store: &'a Store, words: u64) -> ProgressLog<'a> {
        let base = store
            .object_or_create("progress", shmkit::ObjectKind::Raw, |s| {
                let b = s.alloc(8 * words)?;
                s.write_bytes(b, &vec![0u8; 8 * words as usize])?;
                Ok(b)
            })
            .expect("create the progress log");
        ProgressLog { store, base }
    }

    /// The same log through another handle of the store (a forked child's).
    pub fn through(&self, store: &'a Store) -> ProgressLog<'a> {
        ProgressLog {
            store,
            base: self.base,
        }
    }

    fn word(&self, i: u64) -> &AtomicU64 {
        self.store.get::<AtomicU64>(self.base + 8 * i).unwrap()
    }

    pub fn get(&self, i: u64) -> u64 {
        self.word(i).load(Ordering::SeqCst)
    }

    pub fn set(&self, i: u64, v: u64) {
        self.word(i).store(v, Ordering::SeqCst)
    }
}

/// Forks one child per `p` in `0..n` running `work(p)`; they start together (each waits on
/// element 0 of the control vector "ctl" of `store`, which the parent then sets), and each
/// must exit with 0.
pub fn run_in_processes(store: &Store, n: u64, work: impl Fn(u64) -> i32) {
    let ctl = store.atomic_vector("ctl", 1).expect("control vector");
    ctl.store(0, 0).unwrap();
    let children: Vec<_> = (0..n)
        .map(|p| {
            let ctl = ctl.clone();
            let work = &work;
            fork_child(move || {
                while ctl.load(0).unwrap() == 0 {
                    ctl.wait(0, 0, Some(Duration::from_secs(1))).unwrap();
                }
                work(p)
            })
        })
        .collect();
    ctl.store(0, 1).unwrap();
    for c in children {
        c.expect_success();
    }
}
