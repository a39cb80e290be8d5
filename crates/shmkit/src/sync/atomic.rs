//! The one atomics facade of the crate: `std::sync::atomic` normally, loom's atomics under
//! `cfg(loom)`, so lock-free algorithms can be model-checked without changing their code.
//!
//! ```
//! use shmkit::sync::atomic::{AtomicU64, Ordering};
//! let a = AtomicU64::new(1);
//! assert_eq!(a.fetch_add(1, Ordering::Relaxed), 1);
//! ```

#[cfg(loom)]
pub use loom::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering, fence};
#[cfg(not(loom))]
pub use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering, fence};

/// Hint to the CPU that this is a spin-wait loop.
#[inline]
pub fn spin_hint() {
    #[cfg(loom)]
    loom::thread::yield_now();
    #[cfg(not(loom))]
    std::hint::spin_loop();
}
