//! A sequence lock for optimistic readers that never write shared cache lines.
//!
//! Invariants: the counter is even when no write is in progress. Writers (who must already
//! hold the mutex guarding the data) make it odd before changing anything and even again
//! after; readers read the counter, read the data, and accept the data only if the counter
//! was even and has not changed. A writer that dies leaves the counter odd: whoever recovers
//! the mutex repairs the data and calls [`SeqLock::force_even`].
//!
//! ```
//! use shmkit::sync::SeqLock;
//! let seq = SeqLock::new();
//! let start = seq.read_begin().unwrap();
//! seq.write_begin();
//! seq.write_end();
//! assert!(!seq.read_validate(start));
//! ```

use super::atomic::{AtomicU64, Ordering, fence};
use zerocopy::{FromBytes, KnownLayout};

/// The shared layout of a seqlock (one 64-bit counter).
#[repr(C)]
#[derive(Debug, Default, FromBytes, KnownLayout)]
pub struct SeqLock {
    seq: AtomicU64,
}

const _: () = assert!(size_of::<SeqLock>() == 8);

impl SeqLock {
    /// A new seqlock (counter 0).
    #[cfg(any(test, feature = "internals"))]
    pub const fn new() -> SeqLock {
        SeqLock {
            seq: AtomicU64::new(0),
        }
    }

    /// Starts an optimistic read: `None` while a write is in progress.
    #[inline]
    pub fn read_begin(&self) -> Option<u64> {
        let s = self.seq.load(Ordering::Acquire);
        if s & 1 == 0 { Some(s) } else { None }
    }

    /// True if nothing was written since `read_begin` returned `start`.
    #[inline]
    pub fn read_validate(&self, start: u64) -> bool {
        fence(Ordering::Acquire);
        self.seq.load(Ordering::Relaxed) == start
    }

    /// The raw counter (diagnostics and repair).
    pub fn value(&self) -> u64 {
        self.seq.load(Ordering::Acquire)
    }

    /// True if a write is in progress (or its writer died).
    pub fn is_writing(&self) -> bool {
        self.value() & 1 == 1
    }

    /// Marks the start of a write. The caller holds the data's mutex.
    #[inline]
    pub fn write_begin(&self) {
        let s = self.seq.load(Ordering::Relaxed);
        self.seq.store(s | 1, Ordering::Relaxed);
        fence(Ordering::Release);
    }

    /// Marks the end of a write.
    #[inline]
    pub fn write_end(&self) {
        let s = self.seq.load(Ordering::Relaxed);
        self.seq.store((s | 1).wrapping_add(1), Ordering::Release);
    }

    /// After repairing the data of a dead writer: makes the counter even (and new).
    pub fn force_even(&self) {
        let s = self.seq.load(Ordering::Relaxed);
        self.seq.store((s | 1).wrapping_add(1), Ordering::Release);
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    //! The counter's states, one step at a time (the memory ordering of the read protocol is
    //! model-checked in `tests/loom_seqlock.rs`).
    use super::*;

    #[test]
    fn a_write_makes_readers_wait_and_then_fail_validation() {
        let seq = SeqLock::new();
        let start = seq.read_begin().expect("even: no write in progress");
        assert!(seq.read_validate(start), "nothing written yet");
        seq.write_begin();
        assert!(seq.is_writing());
        assert_eq!(seq.read_begin(), None, "no read starts during a write");
        assert!(!seq.read_validate(start));
        seq.write_end();
        assert!(!seq.is_writing());
        assert_eq!(seq.value(), start + 2);
        assert!(
            !seq.read_validate(start),
            "a read across a whole write is rejected"
        );
        let again = seq.read_begin().unwrap();
        assert!(seq.read_validate(again));
    }

    #[test]
    fn force_even_after_a_dead_writer_gives_a_new_even_value() {
        let seq = SeqLock::new();
        let before = seq.read_begin().unwrap();
        seq.write_begin(); // the writer dies here
        seq.force_even();
        assert!(!seq.is_writing());
        assert_eq!(seq.value(), before + 2);
        assert!(!seq.read_validate(before));
        // Already even: still moves on, so reads begun before the repair are rejected.
        let mid = seq.value();
        seq.force_even();
        assert_eq!(seq.value(), mid + 2);
        assert!(seq.read_begin().is_some());
    }

    #[test]
    fn a_write_begun_over_a_dead_writers_odd_counter_keeps_readers_out() {
        let seq = SeqLock::new();
        seq.write_begin(); // the writer dies here
        let odd = seq.value();
        seq.write_begin(); // the next lock holder writes before it repairs
        assert!(seq.is_writing(), "readers must still be kept out");
        assert_eq!(seq.read_begin(), None);
        seq.write_end();
        assert!(!seq.is_writing());
        assert_eq!(seq.value(), odd + 1);
    }
}
