//! The per-process view of one ordered map: opening and creating its root, reading the
//! published root, and whether the store file shrank under this process.
//!
//! Invariants: a handle exists only for a root that passed [`OmInner::attach`]'s checks
//! (magic, layout version); [`OmInner::snapshot`] returns a root slot that was published as
//! a whole (the version word did not move while it was read).
//!
//! ```
//! use shmkit::{Store, StoreOptions};
//! let name = format!("doc-om-inner-{}", std::process::id()); // unique to this process
//! let store = Store::create(&name, &StoreOptions::default()).unwrap();
//! let map = store.ordered_map("m").unwrap();
//! let again = store.open_ordered_map("m").unwrap();
//! assert_eq!(map.root_offset(), again.root_offset());
//! Store::remove(&name).unwrap();
//! ```

use super::OrderedMap;
use super::error::OrderedMapError;
use super::layout::{OM_MAGIC, OM_VERSION, OmRoot, ROOT_LEN};
use crate::raw::Region;
use crate::store::Store;
use crate::store::directory::ObjectKind;
use crate::store::error::AllocError;
use crate::sync::atomic::{Ordering, fence};
use std::sync::Arc;

/// The per-process view of one ordered map.
pub(crate) struct OmInner {
    pub(crate) store: Store,
    pub(crate) name: String,
    pub(crate) root: u64,
}

/// One published version of the map: its root node and totals.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Snapshot {
    pub(crate) version: u64,
    pub(crate) node: u64,
    pub(crate) generation: u64,
    pub(crate) count: u64,
    pub(crate) bytes: u64,
}

impl OmInner {
    #[inline]
    pub(crate) fn region(&self) -> &Region {
        &self.store.inner.region
    }

    #[inline]
    pub(crate) fn root_ref(&self) -> Result<&OmRoot, OrderedMapError> {
        Ok(self.region().get(self.root)?)
    }

    /// `result`, unless the store file shrank under this process (see `sys::fault`).
    #[inline]
    pub(crate) fn unfaulted<T>(
        &self,
        result: Result<T, OrderedMapError>,
    ) -> Result<T, OrderedMapError> {
        match self.region().faulted_at() {
            None => result,
            Some(offset) => Err(OrderedMapError::corrupt(offset, crate::store::SHRUNK)),
        }
    }

    /// The published root: the slot the version word selects, read while the version did
    /// not move (writers fill the other slot, then store the version).
    pub(crate) fn snapshot(&self) -> Result<Snapshot, OrderedMapError> {
        let root = self.root_ref()?;
        loop {
            let version = root.root_version.load(Ordering::Acquire);
            let slot = &root.roots[(version & 1) as usize];
            let snap = Snapshot {
                version,
                node: slot.node.load(Ordering::Relaxed),
                generation: slot.generation.load(Ordering::Relaxed),
                count: slot.count.load(Ordering::Relaxed),
                bytes: slot.bytes.load(Ordering::Relaxed),
            };
            fence(Ordering::Acquire);
            if root.root_version.load(Ordering::Relaxed) == version {
                return Ok(snap);
            }
            std::hint::spin_loop();
        }
    }
}

impl OrderedMap {
    /// Opens the map whose root is at `root` (checking magic and version).
    pub(super) fn attach(
        store: &Store,
        name: &str,
        root: u64,
    ) -> Result<OrderedMap, OrderedMapError> {
        let r: &OmRoot = store.inner.region.get(root)?;
        if r.magic.load(Ordering::Acquire) != OM_MAGIC {
            return Err(OrderedMapError::corrupt(
                root,
                "not an ordered map root (bad magic)",
            ));
        }
        let version = r.version.load(Ordering::Relaxed);
        if version != OM_VERSION {
            return Err(OrderedMapError::corrupt(
                root,
                format!(
                    "ordered map layout version {version} (this build reads version \
                     {OM_VERSION})"
                ),
            ));
        }
        Ok(OrderedMap {
            inner: Arc::new(OmInner {
                store: store.clone(),
                name: name.to_string(),
                root,
            }),
        })
    }

    pub(super) fn open_or_create_map(
        store: &Store,
        name: &str,
        _options: &super::OrderedMapOptions,
    ) -> Result<OrderedMap, OrderedMapError> {
        let root = store.object_or_create(name, ObjectKind::OrderedMap, create_root)?;
        OrderedMap::attach(store, name, root)
    }
}

fn create_root(store: &Store) -> Result<u64, AllocError> {
    let region = &store.inner.region;
    let root = store.alloc(ROOT_LEN)?;
    let init = || -> Result<(), crate::raw::OutOfBounds> {
        region.fill_bytes(root, ROOT_LEN, 0)?;
        let r: &OmRoot = region.get(root)?;
        r.version.store(OM_VERSION, Ordering::Relaxed);
        r.created_unix_ns
            .store(crate::sys::unix_time_ns(), Ordering::Relaxed);
        r.next_gen.store(2, Ordering::Relaxed);
        r.magic.store(OM_MAGIC, Ordering::Release);
        Ok(())
    };
    if let Err(e) = init() {
        let _ = store.free(root);
        return Err(e.into());
    }
    Ok(root)
}
