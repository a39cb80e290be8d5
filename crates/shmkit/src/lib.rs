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

// Under `cfg(loom)` the whole crate is built: its atomics and racy copies are then
// model-checked by loom inside a model execution (see `sync::atomic` and `sync::model`).
pub mod collections;
pub mod error;
pub mod maintenance;
pub mod raw;
pub mod store;
pub mod sync;
pub mod sys;
pub mod value;

pub use collections::hash_map::{
    HashMap, HashMapOptions, MapError, MapReport, MapStats, UpdateAction,
};
pub use error::{Error, ErrorKind};
pub use store::directory::{ObjectInfo, ObjectKind};
pub use store::error::{
    AllocError, CreateError, DirectoryError, FreeError, OpenError, VerifyError,
};
pub use store::verify::{Problem, VerifyReport};
pub use store::{OpenOptions, Store, StoreOptions};
