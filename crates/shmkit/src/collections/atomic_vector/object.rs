//! The atomic vector as a [`Collection`]: how generic code (maintenance, the CLI, the
//! bindings) opens, checks, counts and lists it.
//!
//! Invariants: its one lock is the expand lock ([`LockRole::Object`]: recovered by whoever
//! takes it next, with nothing to repair); its owned blocks are its root and its published
//! segments; its items are its elements, as 8-byte little-endian values.
//!
//! ```
//! use shmkit::collections::object::{Collection, SharedObject, StatValue};
//! use shmkit::{AtomicVector, AtomicVectorOptions, Store, StoreOptions};
//! let name = format!("doc-vector-object-{}", std::process::id()); // unique to this process
//! let store = Store::create(&name, &StoreOptions::default()).unwrap();
//! let v = AtomicVector::open_or_create(&store, "v", &AtomicVectorOptions { len: 3 }).unwrap();
//! assert_eq!(Collection::locks(&v).len(), 1);
//! assert_eq!(SharedObject::item_count(&v), Some(3));
//! let stats = SharedObject::stats(&v).unwrap();
//! assert_eq!(stats.get("elements"), Some(StatValue::Count(3)));
//! Store::remove(&name).unwrap();
//! ```

use super::verify::{VectorReport, VectorStats};
use super::{AtomicVector, AtomicVectorOptions, VectorError};
use crate::collections::object::{
    CheckMode, Collection, Item, ObjectLock, ObjectReport, ObjectStats, StatValue,
};
use crate::store::Store;
use crate::store::directory::ObjectKind;
use crate::store::locks::LockRole;

impl Collection for AtomicVector {
    const KIND: ObjectKind = ObjectKind::AtomicVector;
    type Options = AtomicVectorOptions;
    type Error = VectorError;
    type Stats = VectorStats;
    type Report = VectorReport;

    fn open_at(store: &Store, name: &str, root: u64) -> Result<AtomicVector, VectorError> {
        AtomicVector::attach(store, name, root)
    }

    fn open_or_create(
        store: &Store,
        name: &str,
        options: &AtomicVectorOptions,
    ) -> Result<AtomicVector, VectorError> {
        AtomicVector::open_or_create_vector(store, name, options)
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

    fn check(&self, mode: CheckMode) -> Result<VectorReport, VectorError> {
        self.inner
            .unfaulted(self.inner.verify(mode == CheckMode::Repair))
    }

    fn statistics(&self) -> Result<VectorStats, VectorError> {
        self.stats()
    }

    fn owned_blocks(&self, f: &mut dyn FnMut(u64)) -> Result<(), VectorError> {
        self.inner.unfaulted(self.inner.owned_blocks(f))
    }

    fn locks(&self) -> Vec<ObjectLock<'_>> {
        self.inner
            .root_ref()
            .map(|r| ObjectLock {
                name: "expand",
                index: None,
                role: LockRole::Object,
                mutex: &r.expand_lock,
            })
            .into_iter()
            .collect()
    }

    fn for_each_item(&self, f: &mut dyn FnMut(Item) -> bool) -> Result<(), VectorError> {
        const CHUNK: u64 = 4096;
        let len = self.len();
        let mut start = 0;
        while start < len {
            let end = (start + CHUNK).min(len);
            for v in self.load_range(start, end)? {
                if !f(Item::Value(v.to_le_bytes().to_vec())) {
                    return Ok(());
                }
            }
            start = end;
        }
        Ok(())
    }
}

impl From<VectorReport> for ObjectReport {
    fn from(r: VectorReport) -> ObjectReport {
        ObjectReport {
            problems: r.problems,
            repaired: r.repaired,
            busy: r.busy,
            item_count: Some(r.len),
        }
    }
}

impl From<VectorStats> for ObjectStats {
    fn from(s: VectorStats) -> ObjectStats {
        ObjectStats {
            fields: vec![
                ("elements", StatValue::Count(s.len)),
                ("capacity", StatValue::Count(s.capacity)),
                ("segments", StatValue::Count(s.segments)),
                ("bytes_used", StatValue::Bytes(s.bytes_used)),
                ("expands", StatValue::Count(s.expands)),
                ("waiters", StatValue::Count(s.waiters)),
            ],
        }
    }
}
