//! shmkit: data structures in named shared memory, shared by many processes on one machine
//! at memory speed. No server, no sockets.
//!
//! Layers (each depends only on the ones below; `unsafe` lives only in `sys` and `raw`):
//!
//! - [`collections`]: the shared data structures ([`HashMap`], ...);
//! - [`store`]: the [`Store`] handle, the directory of named objects, the allocator;
//! - [`sync`]: robust cross-process mutex, seqlock, futex waits;
//! - [`raw`] and [`sys`]: offset → reference with bounds checks, system calls.
//!
//! ```
//! use shmkit::{Store, StoreOptions};
//! let store = Store::open_or_create("doc-lib-example", &StoreOptions::default()).unwrap();
//! let off = store.alloc(5).unwrap();
//! store.write_bytes(off, b"hello").unwrap();
//! Store::remove("doc-lib-example").unwrap();
//! ```
#![deny(unsafe_code)]
#![warn(missing_docs)]

#[cfg(target_endian = "big")]
compile_error!("shmkit's store format is little-endian; big-endian targets are not supported");

pub mod collections;
pub mod error;
pub mod raw;
pub mod store;
pub mod sync;
pub mod sys;
pub mod value;

pub use collections::hash_map::{
    HashMap, HashMapOptions, MapError, MapReport, MapStats, UpdateAction,
};
pub use error::Error;
pub use store::directory::{ObjectInfo, ObjectKind};
pub use store::error::{
    AllocError, CreateError, DirectoryError, FreeError, OpenError, VerifyError,
};
pub use store::verify::{Problem, VerifyReport};
pub use store::{Store, StoreOptions};
