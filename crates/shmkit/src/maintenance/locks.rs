//! Every lock of a store and of its objects, with its state, and the recovery of the
//! abandoned locks whose data needs no repair.
//!
//! Invariants: [`Store::lock_states`] only reads lock words (a racy snapshot, for
//! reporting); a live owner is never reported dead (see [`crate::store::locks`]).
//! [`Store::recover_abandoned_locks`] only takes over locks of role
//! [`LockRole::AllOrNothing`], each with a timeout; the others are recovered by the repair
//! of what they guard.
//!
//! ```
//! use shmkit::{Store, StoreOptions};
//! let name = format!("doc-maintenance-locks-{}", std::process::id()); // unique to this process
//! let store = Store::create(&name, &StoreOptions::default()).unwrap();
//! store.hash_map("m").unwrap();
//! let states = store.lock_states();
//! assert!(states.iter().any(|l| l.name == "hash_map \"m\" shard 0 lock"));
//! let (recovered, stuck) = store.recover_abandoned_locks(std::time::Duration::from_secs(1));
//! assert!(recovered.is_empty() && stuck.is_empty());
//! Store::remove(&name).unwrap();
//! ```

use crate::collections::any::open_any;
use crate::collections::object::SharedObject;
use crate::store::Store;
use crate::store::locks::{LockRole, LockState};
use crate::sync::RobustMutex;
use std::time::Duration;

/// The objects of `store` this build can open (unreadable ones are skipped: their check
/// reports them).
fn open_objects(store: &Store) -> Vec<Box<dyn SharedObject>> {
    store
        .objects()
        .unwrap_or_default()
        .iter()
        .filter_map(|info| open_any(store, info).ok().flatten())
        .collect()
}

/// `(name, role, lock)` of every lock of `object`.
fn object_locks(object: &dyn SharedObject) -> Vec<(String, LockRole, &RobustMutex)> {
    object
        .locks()
        .into_iter()
        .map(|l| {
            let which = match l.index {
                Some(i) => format!("{} {i}", l.name),
                None => l.name.to_string(),
            };
            let name = format!("{} {:?} {which} lock", object.kind().name(), object.name());
            (name, l.role, l.mutex)
        })
        .collect()
}

impl Store {
    /// Every lock of the store and of its objects, with its state (see the module docs).
    pub fn lock_states(&self) -> Vec<LockState> {
        let mut out: Vec<LockState> = self
            .store_locks()
            .into_iter()
            .map(|(name, role, lock)| self.state_of(name, role, lock))
            .collect();
        for object in open_objects(self) {
            for (name, role, lock) in object_locks(object.as_ref()) {
                out.push(self.state_of(name, role, lock));
            }
        }
        out
    }

    /// Takes over and marks consistent every all-or-nothing lock (of the store or of an
    /// object) that is held by a dead process or needs repair. Returns what was done, and
    /// the locks that could not be taken (held by a live process for longer than `timeout`).
    pub fn recover_abandoned_locks(&self, timeout: Duration) -> (Vec<String>, Vec<String>) {
        let objects = open_objects(self);
        let mut locks = self.store_locks();
        for object in &objects {
            locks.extend(object_locks(object.as_ref()));
        }
        let mut done = Vec::new();
        let mut stuck = Vec::new();
        for (name, role, lock) in locks {
            if role != LockRole::AllOrNothing
                || !self.state_of(name.clone(), role, lock).is_abandoned()
            {
                continue;
            }
            match self.lock_timeout(lock, timeout) {
                Ok(mut guard) => {
                    if guard.recovered() {
                        guard.mark_consistent();
                        done.push(format!("cleared the {name} left by a dead process"));
                    }
                }
                Err(e) => stuck.push(format!("{name}: {e}")),
            }
        }
        (done, stuck)
    }
}
