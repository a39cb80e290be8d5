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

/// Aborts the whole test process if it runs longer than `secs` (a deadlock guard).
pub fn watchdog(secs: u64) {
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(secs));
        eprintln!("watchdog: test still running after {secs} s, aborting");
        std::process::abort();
    });
}

/// Forks a child that runs `f` and leaves with `_exit(f())`. Returns the child's pid.
pub fn fork_child(f: impl FnOnce() -> i32) -> libc::pid_t {
    // SAFETY: the child only runs `f` and then `_exit`s; it never returns into the harness.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
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
