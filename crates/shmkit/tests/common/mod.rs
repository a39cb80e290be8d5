//! Helpers shared by the integration tests: unique store names, cleanup, watchdogs, fork.
#![allow(dead_code)]

use shmkit::{Store, StoreOptions};
use std::time::Duration;

/// A store that is removed when the guard drops (also when the test fails).
pub struct TestStore {
    pub name: String,
    pub store: Store,
}

impl TestStore {
    pub fn new(test: &str) -> TestStore {
        TestStore::with(test, &StoreOptions::default())
    }

    pub fn with(test: &str, options: &StoreOptions) -> TestStore {
        let name = format!("test-{test}-{}", std::process::id());
        let _ = Store::remove(&name);
        let store = Store::create(&name, options).expect("create test store");
        TestStore { name, store }
    }
}

impl Drop for TestStore {
    fn drop(&mut self) {
        let _ = Store::remove(&self.name);
    }
}

/// Aborts the whole test process if the test runs longer than `secs` (a deadlock guard).
/// Disarmed when the returned guard drops, so a later test in the same process (under
/// `cargo test`) is not killed by an earlier test's watchdog.
#[must_use = "the watchdog is disarmed when this guard drops"]
pub fn watchdog(secs: u64) -> Watchdog {
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = done.clone();
    std::thread::spawn(move || {
        let deadline = std::time::Instant::now() + Duration::from_secs(secs);
        while std::time::Instant::now() < deadline {
            if flag.load(std::sync::atomic::Ordering::Relaxed) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        eprintln!("watchdog: test still running after {secs} s, aborting");
        std::process::abort();
    });
    Watchdog(done)
}

/// See [`watchdog`].
pub struct Watchdog(std::sync::Arc<std::sync::atomic::AtomicBool>);

impl Drop for Watchdog {
    fn drop(&mut self) {
        self.0.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Forks a child that runs `f` and leaves with `_exit(f())`. Returns the child's pid.
pub fn fork_child(f: impl FnOnce() -> i32) -> libc::pid_t {
    // SAFETY: the child only runs `f` and then `_exit`s; it never returns into the harness.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        // SAFETY: prctl with PR_SET_PDEATHSIG only sets a flag of this process: if the test
        // process dies (a failed assertion), the child is killed instead of running on.
        unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) };
        let code = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or(101);
        // SAFETY: ending the child without running the parent's atexit handlers or harness.
        unsafe { libc::_exit(code) };
    }
    pid
}

/// Waits for `pid`; returns its exit code (or 128 + signal).
pub fn wait_child(pid: libc::pid_t) -> i32 {
    let mut status = 0;
    // SAFETY: waiting for our own child with a valid status pointer.
    let r = unsafe { libc::waitpid(pid, &mut status, 0) };
    assert_eq!(r, pid, "waitpid");
    if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else if libc::WIFSIGNALED(status) {
        128 + libc::WTERMSIG(status)
    } else {
        -1
    }
}

/// Sends SIGKILL to `pid`.
pub fn kill_child(pid: libc::pid_t) {
    // SAFETY: signalling our own child.
    unsafe { libc::kill(pid, libc::SIGKILL) };
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

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}
