//! The priority queue as a [`Collection`]: how generic code (maintenance, the CLI, the
//! bindings) opens, checks, counts and lists it.
//!
//! Invariants: its one lock is the queue lock ([`LockRole::Object`]: whoever takes it next
//! rebuilds the heap); its owned blocks are its root, its heap array and every record; its
//! items are `Item::Entry { key, value }` in pop order, from one snapshot.
//!
//! ```
//! use shmkit::collections::object::{Collection, Item, SharedObject, StatValue};
//! use shmkit::{PriorityQueue, PriorityQueueOptions, Store, StoreOptions};
//! let name = format!("doc-pq-object-{}", std::process::id()); // unique to this process
//! let store = Store::create(&name, &StoreOptions::default()).unwrap();
//! let q = PriorityQueue::open_or_create(&store, "q", &PriorityQueueOptions::default()).unwrap();
//! q.push(b"b", b"2").unwrap();
//! q.push(b"a", b"1").unwrap();
//! assert_eq!(Collection::locks(&q).len(), 1);
//! assert_eq!(SharedObject::item_count(&q), Some(2));
//! let mut keys = Vec::new();
//! SharedObject::for_each_item(&q, &mut |item| {
//!     if let Item::Entry { key, .. } = item {
//!         keys.push(key);
//!     }
//!     true
//! })
//! .unwrap();
//! assert_eq!(keys, vec![b"a".to_vec(), b"b".to_vec()]);
//! let stats = SharedObject::stats(&q).unwrap();
//! assert_eq!(stats.get("items"), Some(StatValue::Count(2)));
//! Store::remove(&name).unwrap();
//! ```

use super::verify::{PriorityQueueReport, PriorityQueueStats};
use super::{PriorityQueue, PriorityQueueError, PriorityQueueOptions};
use crate::collections::object::{
    CheckMode, Collection, Item, ObjectLock, ObjectReport, ObjectStats, StatValue,
};
use crate::store::Store;
use crate::store::directory::ObjectKind;
use crate::store::locks::LockRole;

impl Collection for PriorityQueue {
    const KIND: ObjectKind = ObjectKind::PriorityQueue;
    type Options = PriorityQueueOptions;
    type Error = PriorityQueueError;
    type Stats = PriorityQueueStats;
    type Report = PriorityQueueReport;

    fn open_at(store: &Store, name: &str, root: u64) -> Result<PriorityQueue, PriorityQueueError> {
        PriorityQueue::attach(store, name, root)
    }

    fn open_or_create(
        store: &Store,
        name: &str,
        options: &PriorityQueueOptions,
    ) -> Result<PriorityQueue, PriorityQueueError> {
        PriorityQueue::open_or_create_queue(store, name, options)
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

    fn check(&self, mode: CheckMode) -> Result<PriorityQueueReport, PriorityQueueError> {
        self.inner
            .unfaulted(self.inner.check(mode == CheckMode::Repair))
    }

    fn statistics(&self) -> Result<PriorityQueueStats, PriorityQueueError> {
        self.stats()
    }

    fn owned_blocks(&self, f: &mut dyn FnMut(u64)) -> Result<(), PriorityQueueError> {
        self.inner.unfaulted(self.inner.owned_blocks(f))
    }

    fn locks(&self) -> Vec<ObjectLock<'_>> {
        self.inner
            .root_ref()
            .map(|r| ObjectLock {
                name: "priority queue",
                index: None,
                role: LockRole::Object,
                mutex: &r.lock,
            })
            .into_iter()
            .collect()
    }

    fn for_each_item(&self, f: &mut dyn FnMut(Item) -> bool) -> Result<(), PriorityQueueError> {
        for (key, value) in self.items()? {
            if !f(Item::Entry { key, value }) {
                break;
            }
        }
        Ok(())
    }
}

impl From<PriorityQueueReport> for ObjectReport {
    fn from(r: PriorityQueueReport) -> ObjectReport {
        ObjectReport {
            problems: r.problems,
            repaired: r.repaired,
            busy: r.busy,
            item_count: Some(r.len),
        }
    }
}

impl From<PriorityQueueStats> for ObjectStats {
    fn from(s: PriorityQueueStats) -> ObjectStats {
        ObjectStats {
            fields: vec![
                ("items", StatValue::Count(s.len)),
                ("item_bytes", StatValue::Bytes(s.item_bytes)),
                ("capacity", StatValue::Count(s.capacity)),
                ("maxlen", StatValue::Count(s.maxlen)),
                ("pushes", StatValue::Count(s.pushes)),
                ("pops", StatValue::Count(s.pops)),
                ("grows", StatValue::Count(s.grows)),
                ("shrinks", StatValue::Count(s.shrinks)),
                ("recoveries", StatValue::Count(s.recoveries)),
                ("pop_waiters", StatValue::Count(s.pop_waiters)),
                ("push_waiters", StatValue::Count(s.push_waiters)),
            ],
        }
    }
}
