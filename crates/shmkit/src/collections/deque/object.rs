//! The deque as a [`Collection`]: how generic code (maintenance, the CLI, the bindings)
//! opens, checks, counts and lists it.
//!
//! Invariants: its one lock is the deque lock ([`LockRole::Object`]: whoever takes it next
//! recounts); its owned blocks are its root and its ring; its items are its items, front
//! to back, from one snapshot.
//!
//! ```
//! use shmkit::collections::object::{Collection, SharedObject, StatValue};
//! use shmkit::{Deque, DequeOptions, Store, StoreOptions};
//! let name = format!("doc-deque-object-{}", std::process::id()); // unique to this process
//! let store = Store::create(&name, &StoreOptions::default()).unwrap();
//! let d = Deque::open_or_create(&store, "d", &DequeOptions::default()).unwrap();
//! d.push_back(b"job").unwrap();
//! assert_eq!(Collection::locks(&d).len(), 1);
//! assert_eq!(SharedObject::item_count(&d), Some(1));
//! let stats = SharedObject::stats(&d).unwrap();
//! assert_eq!(stats.get("items"), Some(StatValue::Count(1)));
//! Store::remove(&name).unwrap();
//! ```

use super::verify::{DequeReport, DequeStats};
use super::{Deque, DequeError, DequeOptions};
use crate::collections::object::{
    CheckMode, Collection, Item, ObjectLock, ObjectReport, ObjectStats, StatValue,
};
use crate::store::Store;
use crate::store::directory::ObjectKind;
use crate::store::locks::LockRole;

impl Collection for Deque {
    const KIND: ObjectKind = ObjectKind::Deque;
    type Options = DequeOptions;
    type Error = DequeError;
    type Stats = DequeStats;
    type Report = DequeReport;

    fn open_at(store: &Store, name: &str, root: u64) -> Result<Deque, DequeError> {
        Deque::attach(store, name, root)
    }

    fn open_or_create(
        store: &Store,
        name: &str,
        options: &DequeOptions,
    ) -> Result<Deque, DequeError> {
        Deque::open_or_create_deque(store, name, options)
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

    fn check(&self, mode: CheckMode) -> Result<DequeReport, DequeError> {
        self.inner
            .unfaulted(self.inner.check(mode == CheckMode::Repair))
    }

    fn statistics(&self) -> Result<DequeStats, DequeError> {
        self.stats()
    }

    fn owned_blocks(&self, f: &mut dyn FnMut(u64)) -> Result<(), DequeError> {
        self.inner.unfaulted(self.inner.owned_blocks(f))
    }

    fn locks(&self) -> Vec<ObjectLock<'_>> {
        self.inner
            .root_ref()
            .map(|r| ObjectLock {
                name: "deque",
                index: None,
                role: LockRole::Object,
                mutex: &r.lock,
            })
            .into_iter()
            .collect()
    }

    fn for_each_item(&self, f: &mut dyn FnMut(Item) -> bool) -> Result<(), DequeError> {
        for item in self.items()? {
            if !f(Item::Value(item)) {
                break;
            }
        }
        Ok(())
    }
}

impl From<DequeReport> for ObjectReport {
    fn from(r: DequeReport) -> ObjectReport {
        ObjectReport {
            problems: r.problems,
            repaired: r.repaired,
            busy: r.busy,
            item_count: Some(r.len),
        }
    }
}

impl From<DequeStats> for ObjectStats {
    fn from(s: DequeStats) -> ObjectStats {
        ObjectStats {
            fields: vec![
                ("items", StatValue::Count(s.len)),
                ("item_bytes", StatValue::Bytes(s.item_bytes)),
                ("ring_capacity", StatValue::Bytes(s.ring_capacity)),
                ("ring_used", StatValue::Bytes(s.ring_used)),
                ("maxlen", StatValue::Count(s.maxlen)),
                ("evicted", StatValue::Count(s.evicted)),
                ("grows", StatValue::Count(s.grows)),
                ("shrinks", StatValue::Count(s.shrinks)),
                ("recoveries", StatValue::Count(s.recoveries)),
                ("pop_waiters", StatValue::Count(s.pop_waiters)),
                ("push_waiters", StatValue::Count(s.push_waiters)),
            ],
        }
    }
}
