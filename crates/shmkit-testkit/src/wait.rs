//! Bounded waits: [`watchdog`] for a whole test, [`wait_until`] and [`wait_for`] for a
//! condition.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Aborts the whole test process if the test runs longer than `secs` (a deadlock guard), so
/// a wedged test fails instead of hanging the run. Disarmed when the returned guard drops,
/// so a later test in the same process (under `cargo test`) is not killed by an earlier
/// test's watchdog. The watchdog thread does not exist in forked children.
#[must_use = "the watchdog is disarmed when this guard drops"]
pub fn watchdog(secs: u64) -> Watchdog {
    let armed = Arc::new(AtomicBool::new(true));
    let flag = armed.clone();
    let parent = std::process::id();
    std::thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(secs);
        while Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
            if !flag.load(Ordering::Relaxed) {
                return;
            }
        }
        if flag.load(Ordering::Relaxed) && std::process::id() == parent {
            eprintln!("watchdog: test still running after {secs} s, aborting");
            std::process::abort();
        }
    });
    Watchdog { armed }
}

/// See [`watchdog`].
#[derive(Debug)]
pub struct Watchdog {
    armed: Arc<AtomicBool>,
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        self.armed.store(false, Ordering::Relaxed);
    }
}

/// Evaluates `cond` every `every` until it holds or `timeout` passes; returns whether it
/// held.
pub fn poll_until(timeout: Duration, every: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(every);
    }
}

/// Polls `cond` (every 100 µs, for states that may last only briefly) until it holds or
/// `timeout` passes; returns whether it held.
pub fn wait_until(timeout: Duration, cond: impl FnMut() -> bool) -> bool {
    poll_until(timeout, Duration::from_micros(100), cond)
}

/// Polls `cond` every 5 ms (for conditions that are costly to evaluate, such as opening a
/// store) until it holds; panics with "timed out waiting for {what}" after `timeout`.
#[track_caller]
pub fn wait_for(what: &str, timeout: Duration, cond: impl FnMut() -> bool) {
    assert!(
        poll_until(timeout, Duration::from_millis(5), cond),
        "timed out waiting for {what}"
    );
}
