//! A handle's memo of the shared block (a deque's ring, a priority queue's heap array) it
//! last checked against the allocator, so the allocator's header is read once per block and
//! not on every lock.
//!
//! Invariants: the memo is one word holding the block's offset and the capacity its header
//! claimed when it was checked ([`key`]), so threads sharing a handle never pair one block
//! with another's capacity, and a header whose capacity changed since (damage) is checked
//! again. A pair that does not fit in the word is never remembered (always checked).
//!
//! ```
//! use shmkit::collections::checked_block::key;
//! assert_eq!(key(4096, 1024), Some(4096 << 6 | 10));
//! assert_eq!(key(4096, 1000), None); // not a power of two: never remembered
//! ```

use crate::store::Store;
use crate::store::error::FreeError;
use crate::sync::atomic::{AtomicU64, Ordering};

/// The memo word of `block` with a header claiming `capacity`; `None` if it does not fit.
pub fn key(block: u64, capacity: u64) -> Option<u64> {
    (capacity.is_power_of_two() && block < 1 << 57)
        .then(|| block << 6 | u64::from(capacity.trailing_zeros()))
}

/// See the module documentation.
#[derive(Debug, Default)]
pub(crate) struct CheckedBlock(AtomicU64);

impl CheckedBlock {
    /// The usable bytes of `block`, whose header claims `capacity`: `u64::MAX` (nothing
    /// left to check) when this pair was remembered, else the allocator's answer.
    pub(crate) fn usable_bytes(
        &self,
        store: &Store,
        block: u64,
        capacity: u64,
    ) -> Result<u64, FreeError> {
        match key(block, capacity) {
            Some(k) if self.0.load(Ordering::Relaxed) == k => Ok(u64::MAX),
            _ => store.block_capacity(block),
        }
    }

    /// Remembers `block` with `capacity` as checked.
    pub(crate) fn remember(&self, block: u64, capacity: u64) {
        if let Some(k) = key(block, capacity) {
            self.0.store(k, Ordering::Relaxed);
        }
    }
}
