//! Maintenance of a whole store: the check and repair of everything in it, the report of
//! every lock, and the leaked-block analysis. This layer sits above [`crate::store`] and
//! [`crate::collections`]: it reaches every object through
//! [`crate::collections::any::open_any`] and the [`crate::collections::object::SharedObject`]
//! shape, so it knows no kind of object.
//!
//! Invariants: every lock taken here is taken with a timeout
//! ([`crate::store::verify::MAINTENANCE_LOCK_WAIT`]), so no maintenance call hangs behind a
//! live process; nothing is freed unless the analysis is complete and this process holds
//! exclusive use of the store (see [`check`]).
//!
//! ```
//! use shmkit::{Store, StoreOptions};
//! let name = format!("doc-maintenance-{}", std::process::id()); // unique to this process
//! let store = Store::create(&name, &StoreOptions::default()).unwrap();
//! store.hash_map("m").unwrap();
//! assert!(store.check().is_clean());
//! assert!(store.lock_states().iter().all(|l| !l.is_abandoned()));
//! Store::remove(&name).unwrap();
//! ```

pub mod check;
mod locks;
mod reach;

pub use reach::LeakReport;
