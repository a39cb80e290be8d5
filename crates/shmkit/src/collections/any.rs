//! From a directory entry to an object of the right kind: the one place in shmkit that
//! matches over [`ObjectKind`]s. Maintenance, the CLI and the bindings reach every object
//! through [`open_any`] and the [`SharedObject`] trait; adding a kind of object adds one
//! line here.
//!
//! Invariant: a kind this build does not implement gives `Ok(None)` (its blocks cannot be
//! enumerated, so leak analysis stays incomplete rather than wrong).
//!
//! ```
//! use shmkit::collections::any::open_any;
//! use shmkit::{Store, StoreOptions};
//! let name = format!("doc-any-{}", std::process::id()); // unique to this process
//! let store = Store::create(&name, &StoreOptions::default()).unwrap();
//! store.hash_map("m").unwrap().set(b"k", b"v").unwrap();
//! for info in store.objects().unwrap() {
//!     let object = open_any(&store, &info).unwrap().expect("a kind this build knows");
//!     assert_eq!(object.item_count(), Some(1));
//! }
//! Store::remove(&name).unwrap();
//! ```

use super::array::Array;
use super::atomic_vector::AtomicVector;
use super::deque::Deque;
use super::hash_map::HashMap;
use super::object::{Collection, SharedObject};
use super::ordered_map::OrderedMap;
use super::priority_queue::PriorityQueue;
use crate::error::Error;
use crate::store::Store;
use crate::store::directory::{ObjectInfo, ObjectKind};

/// Opens the object `info` describes as a [`SharedObject`]; `Ok(None)` for a kind this build
/// does not implement.
pub fn open_any(store: &Store, info: &ObjectInfo) -> Result<Option<Box<dyn SharedObject>>, Error> {
    fn boxed<T: Collection>(
        store: &Store,
        info: &ObjectInfo,
    ) -> Result<Box<dyn SharedObject>, Error> {
        T::open_at(store, &info.name, info.root)
            .map(|o| Box::new(o) as Box<dyn SharedObject>)
            .map_err(Into::into)
    }
    match info.kind {
        ObjectKind::HashMap => boxed::<HashMap>(store, info).map(Some),
        ObjectKind::AtomicVector => boxed::<AtomicVector>(store, info).map(Some),
        ObjectKind::Array => boxed::<Array>(store, info).map(Some),
        ObjectKind::Deque => boxed::<Deque>(store, info).map(Some),
        ObjectKind::PriorityQueue => boxed::<PriorityQueue>(store, info).map(Some),
        ObjectKind::OrderedMap => boxed::<OrderedMap>(store, info).map(Some),
        _ => Ok(None),
    }
}
