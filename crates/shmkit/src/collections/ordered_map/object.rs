//! The ordered map as a [`Collection`]: how generic code (maintenance, the CLI, the
//! bindings) opens, checks, counts and lists it.
//!
//! Invariants: its one lock is the map's writer lock ([`LockRole::Object`]: whoever takes
//! it next settles a dead writer's intent); its owned blocks are its root, every node of
//! the tree and of the free list, and every record; its items are `Item::Entry { key,
//! value }` in key order (weakly consistent, as [`super::Range`]).
//!
//! ```
//! use shmkit::collections::object::{Collection, Item, SharedObject, StatValue};
//! use shmkit::{OrderedMap, OrderedMapOptions, Store, StoreOptions};
//! let name = format!("doc-om-object-{}", std::process::id()); // unique to this process
//! let store = Store::create(&name, &StoreOptions::default()).unwrap();
//! let map = OrderedMap::open_or_create(&store, "m", &OrderedMapOptions::default()).unwrap();
//! map.set(b"b", b"2").unwrap();
//! map.set(b"a", b"1").unwrap();
//! assert_eq!(Collection::locks(&map).len(), 1);
//! assert_eq!(SharedObject::item_count(&map), Some(2));
//! let mut keys = Vec::new();
//! SharedObject::for_each_item(&map, &mut |item| {
//!     if let Item::Entry { key, .. } = item {
//!         keys.push(key);
//!     }
//!     true
//! })
//! .unwrap();
//! assert_eq!(keys, vec![b"a".to_vec(), b"b".to_vec()]);
//! assert_eq!(SharedObject::stats(&map).unwrap().get("entries"), Some(StatValue::Count(2)));
//! Store::remove(&name).unwrap();
//! ```

use super::verify::{OrderedMapReport, OrderedMapStats};
use super::{OrderedMap, OrderedMapError, OrderedMapOptions};
use crate::collections::object::{
    CheckMode, Collection, Item, ObjectLock, ObjectReport, ObjectStats, StatValue,
};
use crate::store::Store;
use crate::store::directory::ObjectKind;
use crate::store::locks::LockRole;

impl Collection for OrderedMap {
    const KIND: ObjectKind = ObjectKind::OrderedMap;
    type Options = OrderedMapOptions;
    type Error = OrderedMapError;
    type Stats = OrderedMapStats;
    type Report = OrderedMapReport;

    fn open_at(store: &Store, name: &str, root: u64) -> Result<OrderedMap, OrderedMapError> {
        OrderedMap::attach(store, name, root)
    }

    fn open_or_create(
        store: &Store,
        name: &str,
        options: &OrderedMapOptions,
    ) -> Result<OrderedMap, OrderedMapError> {
        OrderedMap::open_or_create_map(store, name, options)
    }

    fn object_name(&self) -> &str {
        self.name()
    }

    fn root(&self) -> u64 {
        self.root_offset()
    }

    fn item_count(&self) -> Option<u64> {
        Some(self.len())
    }

    fn check(&self, mode: CheckMode) -> Result<OrderedMapReport, OrderedMapError> {
        self.inner
            .unfaulted(self.inner.check(mode == CheckMode::Repair))
    }

    fn statistics(&self) -> Result<OrderedMapStats, OrderedMapError> {
        self.stats()
    }

    fn owned_blocks(&self, f: &mut dyn FnMut(u64)) -> Result<(), OrderedMapError> {
        self.inner.unfaulted(self.inner.owned_blocks(f))
    }

    fn locks(&self) -> Vec<ObjectLock<'_>> {
        self.inner
            .root_ref()
            .map(|r| ObjectLock {
                name: "ordered map",
                index: None,
                role: LockRole::Object,
                mutex: &r.lock,
            })
            .into_iter()
            .collect()
    }

    fn for_each_item(&self, f: &mut dyn FnMut(Item) -> bool) -> Result<(), OrderedMapError> {
        for item in self.iter() {
            let (key, value) = item?;
            if !f(Item::Entry { key, value }) {
                break;
            }
        }
        Ok(())
    }
}

impl From<OrderedMapReport> for ObjectReport {
    fn from(r: OrderedMapReport) -> ObjectReport {
        ObjectReport {
            problems: r.problems,
            repaired: r.repaired,
            busy: r.busy,
            item_count: Some(r.len),
        }
    }
}

impl From<OrderedMapStats> for ObjectStats {
    fn from(s: OrderedMapStats) -> ObjectStats {
        ObjectStats {
            fields: vec![
                ("entries", StatValue::Count(s.len)),
                ("entry_bytes", StatValue::Bytes(s.entry_bytes)),
                ("depth", StatValue::Count(s.depth)),
                ("leaves", StatValue::Count(s.leaves)),
                ("inner_nodes", StatValue::Count(s.inner_nodes)),
                ("free_nodes", StatValue::Count(s.free_nodes)),
                ("node_bytes", StatValue::Bytes(s.node_bytes)),
                ("writes", StatValue::Count(s.writes)),
                ("splits", StatValue::Count(s.splits)),
                ("merges", StatValue::Count(s.merges)),
                ("recoveries", StatValue::Count(s.recoveries)),
            ],
        }
    }
}
