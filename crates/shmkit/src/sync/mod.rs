//! Cross-process synchronisation built on shared memory: a robust mutex that survives its
//! owner's death, a seqlock for optimistic readers, and futex wait/wake helpers.
//!
//! Invariants:
//! - every primitive here is a `#[repr(C)]` layout of 32/64-bit atomics that lives in the
//!   store and works from any process that maps it, at any address;
//! - nothing here ever blocks without a timeout: waits wake periodically to check whether the
//!   lock owner is still alive, so a killed process can never wedge another;
//! - all atomics come from [`atomic`], the single facade that loom model-checks under
//!   `cfg(loom)` (see [`atomic`]).
//!
//! ```
//! use shmkit::{Store, StoreOptions};
//! let name = format!("doc-sync-{}", std::process::id()); // unique to this process
//! let store = Store::create(&name, &StoreOptions::default()).unwrap();
//! // Every store operation that mutates shared state takes one of these locks internally.
//! assert!(store.verify_allocator().unwrap().is_clean());
//! Store::remove(&name).unwrap();
//! ```

pub mod atomic;
pub mod eventcount;
pub mod futex;
#[cfg(loom)]
pub mod model;
mod mutex;
mod seqlock;

pub use mutex::{LockError, MutexGuard, OwnerId, OwnerRegistry, RobustMutex};
pub use seqlock::SeqLock;
