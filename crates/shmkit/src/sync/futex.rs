//! Blocking waits on a 32-bit word in shared memory, across processes (shared futexes),
//! always with a bounded timeout so callers can re-check liveness.
//!
//! ```
//! use shmkit::sync::futex::{wait, wake_all, WaitOutcome};
//! use std::sync::atomic::AtomicU32;
//! use std::time::Duration;
//! let word = AtomicU32::new(1);
//! // The word is not 0, so the wait returns at once.
//! assert_eq!(wait(&word, 0, Duration::from_millis(10)), WaitOutcome::ValueChanged);
//! wake_all(&word);
//! ```

use crate::sys;
use std::sync::atomic::AtomicU32;
use std::time::Duration;

pub use crate::sys::FutexWait as WaitOutcome;

/// Sleeps while `*word == expected`, at most `timeout`.
pub fn wait(word: &AtomicU32, expected: u32, timeout: Duration) -> WaitOutcome {
    sys::futex_wait(word, expected, Some(timeout))
}

/// Wakes one waiter in any process.
pub fn wake_one(word: &AtomicU32) -> u32 {
    sys::futex_wake(word, 1)
}

/// Wakes every waiter in every process.
pub fn wake_all(word: &AtomicU32) -> u32 {
    sys::futex_wake(word, i32::MAX as u32)
}
