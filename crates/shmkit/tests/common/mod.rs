//! Helpers shared by the integration tests: unique store names and cleanup guards, a
//! watchdog that aborts a wedged test, forked children that end with `_exit` and are waited
//! for with a timeout (and killed if a test fails), pipes between processes, and a small
//! deterministic random number generator.
#![allow(dead_code)]

use shmkit::{HashMap, HashMapOptions, Store, StoreOptions};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How long [`Child::wait`] and [`Child::expect_success`] wait before they kill the child
/// and fail: a deadlock guard, generous for a slow shared machine.
pub const CHILD_TIMEOUT: Duration = Duration::from_secs(180);

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A store name unique to this test, this process and this call.
pub fn unique_name(test: &str) -> String {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("test-{test}-{}-{n}", std::process::id())
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
                },
            )
            .expect("create test map")
    }
}

impl std::ops::Deref for TestStore {
    type Target = Store;

    fn deref(&self) -> &Store {
        &self.store
    }
}

/// A temporary directory removed (recursively) when dropped.
pub struct TempDir(pub std::path::PathBuf);

impl TempDir {
    pub fn new(test: &str) -> TempDir {
        let dir = std::env::temp_dir().join(unique_name(test));
        std::fs::create_dir_all(&dir).expect("create temp dir");
        TempDir(dir)
    }

    /// A path inside the directory, as a store name (it contains a '/').
    pub fn store_path(&self, file: &str) -> String {
        self.0.join(file).to_string_lossy().into_owned()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Aborts the whole test process if the test runs longer than `secs` (a deadlock guard).
/// Disarmed when the returned guard drops, so a later test in the same process (under
/// `cargo test`) is not killed by an earlier test's watchdog.
#[must_use = "the watchdog is disarmed when this guard drops"]
pub fn watchdog(secs: u64) -> Watchdog {
    let armed = Arc::new(AtomicBool::new(true));
    let flag = armed.clone();
    std::thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(secs);
        while Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
            if !flag.load(Ordering::Relaxed) {
                return;
            }
        }
        eprintln!("watchdog: test still running after {secs} s, aborting");
        std::process::abort();
    });
    Watchdog { armed }
}

/// See [`watchdog`].
pub struct Watchdog {
    armed: Arc<AtomicBool>,
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        self.armed.store(false, Ordering::Relaxed);
    }
}

/// How a child ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// Exited with this code.
    Code(i32),
    /// Killed by this signal.
    Signal(i32),
}

/// A forked child process: killed and reaped when dropped unless it was waited for.
#[derive(Debug)]
pub struct Child {
    pub pid: libc::pid_t,
    reaped: bool,
}

/// Forks; the child runs `f` and leaves with `libc::_exit(f())` (101 if `f` panics), never
/// returning into the test harness. The child is SIGKILLed if the forking thread dies (a
/// failed test), so it never runs on after its test.
pub fn fork_child(f: impl FnOnce() -> i32) -> Child {
    fork_with(true, f)
}

/// Like [`fork_child`], but the child lives on when its parent dies: for a grandchild that
/// must outlive the child that forked it. Kill it with [`KillOnDrop`] (after [`Child::forget`]).
pub fn fork_orphanable(f: impl FnOnce() -> i32) -> Child {
    fork_with(false, f)
}

fn fork_with(die_with_parent: bool, f: impl FnOnce() -> i32) -> Child {
    // SAFETY: getpid has no preconditions.
    let parent = unsafe { libc::getpid() };
    // SAFETY: fork has no memory preconditions; the child only runs `f` and `_exit`s.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed: {}", std::io::Error::last_os_error());
    if pid == 0 {
        if die_with_parent {
            // SAFETY: prctl with PR_SET_PDEATHSIG only sets a flag of this process; getppid
            // has no preconditions. A parent that died before the flag was set is caught by
            // the check after it.
            unsafe {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                if libc::getppid() != parent {
                    libc::_exit(102);
                }
            }
        }
        let code = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or(101);
        // SAFETY: leaving the child without running the harness's destructors.
        unsafe { libc::_exit(code) };
    }
    Child { pid, reaped: false }
}

impl Child {
    /// Waits at most `timeout` for the child to end; `None` (the child still running) if it
    /// has not.
    pub fn try_wait(&mut self, timeout: Duration) -> Option<Exit> {
        let deadline = Instant::now() + timeout;
        loop {
            let mut status = 0;
            // SAFETY: plain waitpid on our own child.
            let r = unsafe { libc::waitpid(self.pid, &mut status, libc::WNOHANG) };
            if r == self.pid {
                self.reaped = true;
                if libc::WIFEXITED(status) {
                    return Some(Exit::Code(libc::WEXITSTATUS(status)));
                }
                return Some(Exit::Signal(libc::WTERMSIG(status)));
            }
            assert!(r == 0, "waitpid: {}", std::io::Error::last_os_error());
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_micros(200));
        }
    }

    /// Waits at most `timeout` for the child to end; kills it (and fails) if it does not.
    pub fn wait_timeout(&mut self, timeout: Duration) -> Exit {
        match self.try_wait(timeout) {
            Some(exit) => exit,
            None => {
                self.kill();
                let _ = self.try_wait(Duration::from_secs(10));
                panic!("child {} did not finish within {timeout:?}", self.pid);
            }
        }
    }

    /// Waits (at most [`CHILD_TIMEOUT`]) for the child to end.
    pub fn wait(&mut self) -> Exit {
        self.wait_timeout(CHILD_TIMEOUT)
    }

    /// Waits (at most [`CHILD_TIMEOUT`]) and asserts the child exited with code 0.
    pub fn expect_success(mut self) {
        let exit = self.wait();
        assert_eq!(exit, Exit::Code(0), "child {} failed", self.pid);
    }

    /// Sends SIGKILL.
    pub fn kill(&self) {
        // SAFETY: plain kill on our own (possibly already dead, not yet reaped) child.
        unsafe { libc::kill(self.pid, libc::SIGKILL) };
    }

    /// SIGKILLs the child and reaps it.
    pub fn kill_and_wait(mut self) -> Exit {
        self.kill();
        self.wait_timeout(Duration::from_secs(30))
    }

    /// Stops managing the child (it is neither killed nor reaped on drop); returns its pid.
    pub fn forget(self) -> libc::pid_t {
        let pid = self.pid;
        std::mem::forget(self);
        pid
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        if !self.reaped {
            self.kill();
            let mut status = 0;
            // SAFETY: reaping our own child.
            unsafe { libc::waitpid(self.pid, &mut status, 0) };
        }
    }
}

/// SIGKILLs a process that is not our child (an orphaned grandchild) when dropped.
pub struct KillOnDrop(pub libc::pid_t);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if self.0 > 0 {
            // SAFETY: plain kill of a process this test started.
            unsafe { libc::kill(self.0, libc::SIGKILL) };
        }
    }
}

/// Polls `cond` until it holds or `timeout` passes; returns whether it held.
pub fn wait_until(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_micros(100));
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

/// A pipe for passing bytes from children to the parent, or as a start gate.
pub struct Pipe {
    pub read: libc::c_int,
    pub write: libc::c_int,
}

impl Pipe {
    pub fn new() -> Pipe {
        let mut fds = [0; 2];
        // SAFETY: `fds` is a writable array of two ints.
        let r = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) };
        assert_eq!(r, 0, "pipe2: {}", std::io::Error::last_os_error());
        Pipe {
            read: fds[0],
            write: fds[1],
        }
    }

    /// Writes all of `data` to the write end (atomic for <= PIPE_BUF bytes).
    pub fn send(&self, data: &[u8]) {
        let mut done = 0;
        while done < data.len() {
            // SAFETY: the pointer and length describe a live slice.
            let n =
                unsafe { libc::write(self.write, data[done..].as_ptr().cast(), data.len() - done) };
            assert!(n > 0, "pipe write: {}", std::io::Error::last_os_error());
            done += n as usize;
        }
    }

    /// Closes the write end (in this process).
    pub fn close_write(&mut self) {
        if self.write >= 0 {
            // SAFETY: closing our own descriptor once.
            unsafe { libc::close(self.write) };
            self.write = -1;
        }
    }

    /// Closes the read end (in this process).
    pub fn close_read(&mut self) {
        if self.read >= 0 {
            // SAFETY: closing our own descriptor once.
            unsafe { libc::close(self.read) };
            self.read = -1;
        }
    }

    /// In a child: closes its inherited copy of the write end, then blocks until the parent
    /// closes its own (a start gate that opens for all children at once).
    pub fn wait_closed(&self) {
        // SAFETY: closing this process's copy of the descriptor; the struct is not used to
        // write afterwards in this process.
        unsafe { libc::close(self.write) };
        let mut b = [0u8; 1];
        loop {
            // SAFETY: reading into a one-byte local buffer.
            let n = unsafe { libc::read(self.read, b.as_mut_ptr().cast(), 1) };
            if n == 0
                || (n < 0 && std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR))
            {
                return;
            }
        }
    }

    /// Reads exactly `n` bytes, blocking until they arrive; fails if every writer closed
    /// its end first.
    pub fn read_exact(&self, n: usize) -> Vec<u8> {
        let mut out = vec![0u8; n];
        let mut done = 0;
        while done < n {
            // SAFETY: reading into the unfilled tail of a local buffer.
            let r = unsafe { libc::read(self.read, out[done..].as_mut_ptr().cast(), n - done) };
            assert!(r > 0, "pipe read: {}", std::io::Error::last_os_error());
            done += r as usize;
        }
        out
    }

    /// Reads until every writer has closed its end (call `close_write` first).
    pub fn read_all(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            // SAFETY: reading into a local buffer of the given length.
            let n = unsafe { libc::read(self.read, buf.as_mut_ptr().cast(), buf.len()) };
            if n == 0 {
                return out;
            }
            if n < 0 {
                if std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
                    continue;
                }
                panic!("pipe read: {}", std::io::Error::last_os_error());
            }
            out.extend_from_slice(&buf[..n as usize]);
        }
    }
}

impl Drop for Pipe {
    fn drop(&mut self) {
        self.close_write();
        self.close_read();
    }
}

/// True when a process with this pid exists.
pub fn pid_alive(pid: libc::pid_t) -> bool {
    // SAFETY: signal 0 only checks for existence.
    unsafe { libc::kill(pid, 0) == 0 }
}

/// A pid that belongs to no process right now (a reaped child's).
pub fn dead_pid() -> u32 {
    let mut c = fork_child(|| 0);
    c.wait_timeout(Duration::from_secs(10));
    c.pid as u32
}

/// This process's pid (in a forked child: the child's own).
pub fn getpid() -> libc::pid_t {
    // SAFETY: getpid has no preconditions.
    unsafe { libc::getpid() }
}

/// A small deterministic PRNG (xorshift64*), so tests need no extra dependency.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
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

/// The calling thread's kernel id.
pub fn gettid() -> libc::pid_t {
    // SAFETY: gettid has no preconditions.
    unsafe { libc::gettid() }
}

/// How many times thread `tid` (of any process; a single-threaded process's pid) has
/// blocked so far: `voluntary_ctxt_switches` from `/proc/<tid>/status`. Each futex sleep of
/// a lock waiter counts one. `None` once the thread is gone (or is a zombie's).
pub fn voluntary_switches(tid: libc::pid_t) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{tid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("voluntary_ctxt_switches:"))
        .and_then(|v| v.trim().parse().ok())
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

/// True while process `pid` exists and has not exited (not a zombie), read from
/// `/proc/<pid>/stat`: unlike [`pid_alive`] it also says "dead" for an unreaped zombie.
pub fn process_running(pid: libc::pid_t) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    // The state follows the command name, which ends at the last ')'.
    let state = stat
        .rfind(')')
        .and_then(|i| stat[i + 1..].split_whitespace().next());
    !matches!(state, None | Some("Z" | "X" | "x"))
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
