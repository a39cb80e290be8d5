//! shmkit: data structures in named shared memory, shared by many processes on one machine
//! at memory speed. No server, no sockets.
//!
//! The public API:
//!
//! - [`Store`] (with [`StoreOptions`], [`OpenOptions`]): create, open and remove a store, list
//!   its objects and attached processes; [`store`] also holds what tools need without
//!   attaching (names, the store files of a directory, inspection, safe removal, lock states);
//! - [`collections`]: the shared data structures ([`HashMap`], ...), the
//!   [`collections::object::Collection`] trait every kind implements and
//!   [`collections::any::open_any`], which opens any object of a store's directory;
//! - [`maintenance`]: check, repair, lock and leak reports over a whole store
//!   ([`Store::check`], [`Store::repair`]);
//! - [`value`]: the typed value encoding shared by Rust, Python and C;
//! - [`Error`] and [`ErrorKind`], and the per-operation errors.
//!
//! Inside, each layer uses only the ones below it: maintenance, collections, store, `sync`
//! (robust cross-process mutex, seqlock, futex waits), then `raw` and `sys` (offset →
//! reference with bounds checks, system calls: the only modules with `unsafe`). Those, the
//! shared layouts and raw access to a store's bytes are internals: the `internals` feature
//! makes them public (hidden from these docs) for the project's own tests; it is not a
//! stable API.
//!
//! ```
//! use shmkit::{Store, StoreOptions};
//! let name = format!("doc-lib-{}", std::process::id()); // unique to this process
//! let store = Store::open_or_create(&name, &StoreOptions::default()).unwrap();
//! let map = store.hash_map("greetings").unwrap();
//! map.set(b"hello", b"world").unwrap();
//! assert_eq!(map.get(b"hello").unwrap().as_deref(), Some(&b"world"[..]));
//! Store::remove(&name).unwrap();
//! ```
#![deny(unsafe_code)]
// The loom harness (`sync::model`, the shadows' recording) serves only the loom tests, which
// see it through the `internals` feature: a loom build of the library alone leaves it unused.
#![cfg_attr(all(loom, not(feature = "internals")), allow(dead_code))]
#![warn(missing_docs)]

/// The README's examples, compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
pub struct ReadmeDoctests;

#[cfg(target_endian = "big")]
compile_error!("shmkit's store format is little-endian; big-endian targets are not supported");

/// Declares one of the crate's internals (a module, function or type): `pub` and hidden
/// from the docs under the `internals` feature, `pub(crate)` otherwise. The feature is the
/// project's own test hooks (layouts and raw access for its tests, fuzz targets and loom
/// models); it is not a stable API.
macro_rules! internal {
    ($(#[$attr:meta])* mod $($rest:tt)*) => {
        #[cfg(feature = "internals")]
        #[doc(hidden)]
        $(#[$attr])*
        pub mod $($rest)*
        #[cfg(not(feature = "internals"))]
        $(#[$attr])*
        pub(crate) mod $($rest)*
    };
    ($(#[$attr:meta])* fn $($rest:tt)*) => {
        #[cfg(feature = "internals")]
        #[doc(hidden)]
        $(#[$attr])*
        pub fn $($rest)*
        #[cfg(not(feature = "internals"))]
        $(#[$attr])*
        pub(crate) fn $($rest)*
    };
    ($(#[$attr:meta])* struct $($rest:tt)*) => {
        #[cfg(feature = "internals")]
        #[doc(hidden)]
        $(#[$attr])*
        pub struct $($rest)*
        #[cfg(not(feature = "internals"))]
        $(#[$attr])*
        pub(crate) struct $($rest)*
    };
}

// Under `cfg(loom)` the whole crate is built: its atomics and racy copies are then
// model-checked by loom inside a model execution (see `sync::atomic` and `sync::model`).
pub mod collections;
pub mod error;
pub mod maintenance;
internal! { mod raw; }
pub mod store;
internal! { mod sync; }
internal! { mod sys; }
pub mod value;

pub use collections::array::{
    Array, ArrayError, ArrayOptions, ArrayStats, AtomicElement, Element, TypedArray,
};
pub use collections::atomic_vector::{
    AtomicVector, AtomicVectorOptions, VectorError, VectorReport, VectorStats, WaitOutcome,
};
pub use collections::deque::{
    Deque, DequeError, DequeOptions, DequeReport, DequeStats, End, Overflow, Popped,
};
pub use collections::hash_map::{
    FixedSize, HashMap, HashMapOptions, KeyHandle, MapError, MapReport, MapStats, TypedMap,
    TypedMapError, UpdateAction,
};
pub use collections::ordered_map::{
    OrderedMap, OrderedMapError, OrderedMapOptions, OrderedMapReport, OrderedMapStats, RangeCount,
};
pub use collections::priority_queue::{
    PqPopped, PriorityQueue, PriorityQueueError, PriorityQueueOptions, PriorityQueueReport,
    PriorityQueueStats,
};
pub use error::{Error, ErrorKind};
pub use raw::OutOfBounds;
pub use store::error::{
    AllocError, CreateError, DirectoryError, FreeError, OpenError, VerifyError,
};
pub use store::verify::{Problem, VerifyReport};
pub use store::{ObjectInfo, ObjectKind, OpenOptions, Store, StoreOptions};
pub use sync::{LockError, OwnerId};
