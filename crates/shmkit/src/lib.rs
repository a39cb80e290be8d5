//! shmkit: data structures in named shared memory, shared by many processes on one machine
//! at memory speed. No server, no sockets.
//!
//! Layers (each depends only on the ones below; `unsafe` lives only in `sys` and `raw`):
//!
//! - [`maintenance`]: check, repair, lock and leak reports over a whole store, through the
//!   one [`collections::object::SharedObject`] shape every object has;
//! - [`collections`]: the shared data structures ([`HashMap`], ...);
//! - [`store`]: the [`Store`] handle, the directory of named objects, the allocator;
//! - [`sync`]: robust cross-process mutex, seqlock, futex waits;
//! - [`raw`] and [`sys`]: offset → reference with bounds checks, system calls.
//!
//! ```
//! use shmkit::{Store, StoreOptions};
//! let name = format!("doc-lib-{}", std::process::id()); // unique to this process
//! let store = Store::open_or_create(&name, &StoreOptions::default()).unwrap();
//! let off = store.alloc(5).unwrap();
//! store.write_bytes(off, b"hello").unwrap();
//! Store::remove(&name).unwrap();
//! ```
#![deny(unsafe_code)]
#![warn(missing_docs)]

/// The README's examples, compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
pub struct ReadmeDoctests;

#[cfg(target_endian = "big")]
compile_error!("shmkit's store format is little-endian; big-endian targets are not supported");

// Under `cfg(loom)` only the lock-free cores that loom can model are built (see
// `tests/loom_*.rs`); everything that touches real shared memory needs real atomics.
#[cfg(not(loom))]
pub mod collections;
#[cfg(not(loom))]
pub mod error;
#[cfg(not(loom))]
pub mod maintenance;
#[cfg(not(loom))]
pub mod raw;
#[cfg(not(loom))]
pub mod store;
pub mod sync;
#[cfg(not(loom))]
pub mod sys;
#[cfg(not(loom))]
pub mod value;

#[cfg(not(loom))]
pub use collections::hash_map::{
    HashMap, HashMapOptions, MapError, MapReport, MapStats, UpdateAction,
};
#[cfg(not(loom))]
pub use error::{Error, ErrorKind};
#[cfg(not(loom))]
pub use store::directory::{ObjectInfo, ObjectKind};
#[cfg(not(loom))]
pub use store::error::{
    AllocError, CreateError, DirectoryError, FreeError, OpenError, VerifyError,
};
#[cfg(not(loom))]
pub use store::verify::{Problem, VerifyReport};
#[cfg(not(loom))]
pub use store::{OpenOptions, Store, StoreOptions};
