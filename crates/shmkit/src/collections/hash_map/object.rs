//! The hash map as a [`Collection`]: how generic code (maintenance, the CLI, the bindings)
//! opens, checks, counts and lists it. Everything here delegates to the map's own methods.
//!
//! Invariants: the map's locks are its shards' locks, each recovered by the shard's own
//! repair ([`LockRole::Object`]); its owned blocks are its root, the shard tables, the
//! handle-cell tables, and the records and the spare record blocks (a map of any sizes) or
//! the record slabs and their chunks (a fixed-size map).
//!
//! ```
//! use shmkit::collections::object::{Collection, StatValue};
//! use shmkit::{HashMap, HashMapOptions, Store, StoreOptions};
//! let name = format!("doc-map-object-{}", std::process::id()); // unique to this process
//! let store = Store::create(&name, &StoreOptions::default()).unwrap();
//! let options = HashMapOptions { shards: 4, ..HashMapOptions::default() };
//! let map = HashMap::open_or_create(&store, "m", &options).unwrap();
//! assert_eq!(map.locks().len(), 4);
//! let stats = shmkit::collections::object::SharedObject::stats(&map).unwrap();
//! assert_eq!(stats.get("entries"), Some(StatValue::Count(0)));
//! Store::remove(&name).unwrap();
//! ```

use super::verify::{MapReport, MapStats};
use super::{HashMap, HashMapOptions, MapError};
use crate::collections::object::{
    CheckMode, Collection, Item, ObjectLock, ObjectReport, ObjectStats, StatValue,
};
use crate::store::Store;
use crate::store::directory::ObjectKind;
use crate::store::locks::LockRole;

impl Collection for HashMap {
    const KIND: ObjectKind = ObjectKind::HashMap;
    type Options = HashMapOptions;
    type Error = MapError;
    type Stats = MapStats;
    type Report = MapReport;

    fn open_at(store: &Store, name: &str, root: u64) -> Result<HashMap, MapError> {
        HashMap::attach(store, name, root)
    }

    fn open_or_create(
        store: &Store,
        name: &str,
        options: &HashMapOptions,
    ) -> Result<HashMap, MapError> {
        HashMap::open_or_create_map(store, name, options)
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

    fn check(&self, mode: CheckMode) -> Result<MapReport, MapError> {
        self.inner
            .unfaulted(self.inner.verify(mode == CheckMode::Repair))
    }

    fn statistics(&self) -> Result<MapStats, MapError> {
        self.inner.unfaulted(self.inner.stats())
    }

    fn owned_blocks(&self, f: &mut dyn FnMut(u64)) -> Result<(), MapError> {
        self.inner.unfaulted(self.inner.owned_blocks(f))
    }

    fn locks(&self) -> Vec<ObjectLock<'_>> {
        (0..=self.inner.shard_mask)
            .filter_map(|i| {
                self.inner.shard_at(i).ok().map(|s| ObjectLock {
                    name: "shard",
                    index: Some(i),
                    role: LockRole::Object,
                    mutex: &s.lock,
                })
            })
            .collect()
    }

    fn for_each_item(&self, f: &mut dyn FnMut(Item) -> bool) -> Result<(), MapError> {
        for entry in self.iter() {
            let (key, value) = entry?;
            if !f(Item::Entry { key, value }) {
                break;
            }
        }
        Ok(())
    }
}

impl From<MapReport> for ObjectReport {
    fn from(r: MapReport) -> ObjectReport {
        ObjectReport {
            problems: r.problems,
            repaired: r.repaired,
            busy: r.busy,
            item_count: Some(r.entries),
        }
    }
}

impl From<MapStats> for ObjectStats {
    fn from(s: MapStats) -> ObjectStats {
        ObjectStats {
            fields: vec![
                ("entries", StatValue::Count(s.entries)),
                ("shards", StatValue::Count(s.shards as u64)),
                ("buckets", StatValue::Count(s.buckets)),
                ("load_factor", StatValue::Ratio(s.load_factor)),
                ("bytes_used", StatValue::Bytes(s.bytes_used)),
                ("table_bytes", StatValue::Bytes(s.table_bytes)),
                ("slab_bytes", StatValue::Bytes(s.slab_bytes)),
                ("bytes_per_entry", StatValue::Ratio(s.bytes_per_entry)),
                ("resizes", StatValue::Count(s.resizes)),
                ("shrinks", StatValue::Count(s.shrinks)),
                ("handles", StatValue::Count(s.handles)),
                ("handle_bytes", StatValue::Bytes(s.handle_bytes)),
                (
                    "resizing_shards",
                    StatValue::Count(s.resizing_shards as u64),
                ),
            ],
        }
    }
}
