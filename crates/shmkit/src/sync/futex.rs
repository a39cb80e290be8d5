//! Blocking waits on a 32-bit word in shared memory, across processes (shared futexes),
//! always with a bounded timeout so callers can re-check liveness.
//!
//! ```
//! use shmkit::sync::futex::{wait, wake_all, WaitOutcome};
//! use shmkit::sync::atomic::AtomicU32;
//! use std::time::Duration;
//! let word = AtomicU32::new(1);
//! // The word is not 0, so the wait returns at once.
//! assert_eq!(wait(&word, 0, Duration::from_millis(10)), WaitOutcome::ValueChanged);
//! wake_all(&word);
//! ```

use super::atomic::{AtomicU32, as_std_u32};
use crate::sys;
use std::time::Duration;

pub use crate::sys::FutexWait as WaitOutcome;

/// Sleeps while `*word == expected`, at most `timeout`.
pub fn wait(word: &AtomicU32, expected: u32, timeout: Duration) -> WaitOutcome {
    sys::futex_wait(as_std_u32(word), expected, Some(timeout))
}

/// Wakes one waiter in any process.
pub fn wake_one(word: &AtomicU32) -> u32 {
    sys::futex_wake(as_std_u32(word), 1)
}

/// Wakes up to `count` waiters in any process.
pub fn wake_n(word: &AtomicU32, count: u32) -> u32 {
    sys::futex_wake(as_std_u32(word), count.min(i32::MAX as u32))
}

/// Wakes every waiter in every process.
pub fn wake_all(word: &AtomicU32) -> u32 {
    sys::futex_wake(as_std_u32(word), i32::MAX as u32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Instant;

    /// Calls `wake` until it reports `want` woken waiters in total (a waiter counts only once
    /// it sleeps in the kernel, which the test cannot observe otherwise); a generous deadline
    /// turns a wake that never reports anyone into a failure instead of a hang.
    fn wake_until(word: &AtomicU32, want: u32, wake: fn(&AtomicU32) -> u32) {
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut woken = 0;
        while woken < want {
            assert!(
                Instant::now() < deadline,
                "only {woken} of {want} waiters woke"
            );
            woken += wake(word);
            std::thread::yield_now();
        }
        assert_eq!(woken, want, "woke more waiters than were sleeping");
    }

    fn sleeper(word: &Arc<AtomicU32>) -> std::thread::JoinHandle<WaitOutcome> {
        let word = word.clone();
        std::thread::spawn(move || wait(&word, 7, Duration::from_secs(30)))
    }

    #[test]
    fn wake_one_wakes_exactly_one_sleeper_and_says_so() {
        let word = Arc::new(AtomicU32::new(7));
        let (a, b) = (sleeper(&word), sleeper(&word));
        wake_until(&word, 1, wake_one);
        wake_until(&word, 1, wake_one);
        assert_eq!(a.join().unwrap(), WaitOutcome::Woken);
        assert_eq!(b.join().unwrap(), WaitOutcome::Woken);
    }

    #[test]
    fn wake_all_wakes_every_sleeper_and_says_how_many() {
        let word = Arc::new(AtomicU32::new(7));
        let sleepers: Vec<_> = (0..3).map(|_| sleeper(&word)).collect();
        wake_until(&word, 3, wake_all);
        for s in sleepers {
            assert_eq!(s.join().unwrap(), WaitOutcome::Woken);
        }
    }

    #[test]
    fn a_wait_on_a_changed_word_returns_at_once_and_a_bounded_wait_times_out() {
        let word = AtomicU32::new(1);
        assert_eq!(
            wait(&word, 0, Duration::from_secs(60)),
            WaitOutcome::ValueChanged
        );
        assert_eq!(
            wait(&word, 1, Duration::from_millis(1)),
            WaitOutcome::TimedOut
        );
    }
}
