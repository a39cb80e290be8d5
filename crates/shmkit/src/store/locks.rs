//! The store-level locks — growth, heap, directory, test mutex, one per allocator size
//! class — with their names and roles, and the state of a lock: held by a dead process, or
//! still marked "needs repair". The report over every lock of a store and of its objects,
//! and the recovery of abandoned locks, are [`Store::lock_states`] and
//! [`Store::recover_abandoned_locks`].
//!
//! Invariants: [`Store::lock_states`] only reads lock words (a racy snapshot, for
//! reporting). An owner is called dead by the rule the robust mutex itself uses
//! (`OwnerRegistry::is_owner_alive`: its slot was freed or reused, or its liveness lock is
//! free), so a live owner is never reported dead. Growth, heap and directory locks guard
//! all-or-nothing changes (a new length, a new heap top, an entry published by one store),
//! so their recovery is only "mark consistent" ([`Store::recover_abandoned_locks`]);
//! size-class locks are recovered by [`Store::repair_allocator`], which recounts the free
//! lists first; locks inside objects by the object's own check or repair.
//!
//! ```
//! use shmkit::{Store, StoreOptions};
//! let name = format!("doc-locks-{}", std::process::id()); // unique to this process
//! let store = Store::create(&name, &StoreOptions::default()).unwrap();
//! store.hash_map("m").unwrap();
//! let states = store.lock_states();
//! assert!(states.iter().any(|l| l.name == "heap lock"));
//! assert!(states.iter().all(|l| !l.is_abandoned()));
//! Store::remove(&name).unwrap();
//! ```
//!
//! [`Store::repair_allocator`]: super::Store::repair_allocator

use super::Store;
use super::alloc::SizeClass;
use super::header::StoreHeader;
use crate::sync::{OwnerRegistry, RobustMutex};

/// Which part of the store a lock guards, and so how it is recovered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LockRole {
    /// Data needs no repair after the owner dies: recovery only marks it consistent.
    AllOrNothing,
    /// An allocator size class: recovered by the allocator repair, which recounts first.
    SizeClass,
    /// A lock inside an object (a hash-map shard): recovered by the object's own check or
    /// repair, or by whoever takes it next.
    Object,
}

/// One lock and its state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LockState {
    /// Human name, e.g. `heap lock`, `size-class 3 lock`, `hash_map "m" shard 2 lock`.
    pub name: String,
    /// What it guards.
    pub role: LockRole,
    /// Owner id if held.
    pub owner: Option<u32>,
    /// Held by a process that is gone.
    pub owner_dead: bool,
    /// A previous owner died and the data was not marked consistent since.
    pub needs_repair: bool,
}

impl LockState {
    /// Held by a dead process, or waiting for its repair.
    pub fn is_abandoned(&self) -> bool {
        self.owner_dead || self.needs_repair
    }

    /// One-line description.
    pub fn describe(&self) -> String {
        match (self.owner_dead, self.needs_repair) {
            (true, _) => format!(
                "{} held by a dead process (owner id {:#x})",
                self.name,
                self.owner.unwrap_or(0)
            ),
            (false, true) => format!(
                "{} was taken over from a dead process and needs repair",
                self.name
            ),
            (false, false) => format!("{} is fine", self.name),
        }
    }
}

impl Store {
    /// The store-level locks with their names and roles (not the objects' own).
    pub(crate) fn store_locks(&self) -> Vec<(String, LockRole, &RobustMutex)> {
        let mut out = Vec::new();
        if let Ok(h) = self.inner.region.get::<StoreHeader>(0) {
            out.push((
                "growth lock".into(),
                LockRole::AllOrNothing,
                &h.growth.0.lock,
            ));
            out.push(("heap lock".into(), LockRole::AllOrNothing, &h.heap.0.lock));
            out.push((
                "directory lock".into(),
                LockRole::AllOrNothing,
                &h.directory.0.lock,
            ));
            out.push((
                "test mutex".into(),
                LockRole::AllOrNothing,
                &h.registry.0.test_mutex,
            ));
        }
        let fixed = &self.inner.fixed;
        for class in 0..fixed.class_count {
            let offset = fixed.class_table_offset + class as u64 * 64;
            if let Ok(entry) = self.inner.region.get::<SizeClass>(offset) {
                out.push((
                    format!("size-class {class} lock"),
                    LockRole::SizeClass,
                    &entry.lock,
                ));
            }
        }
        out
    }

    pub(crate) fn state_of(&self, name: String, role: LockRole, lock: &RobustMutex) -> LockState {
        let owner = lock.owner();
        // Dead only if the same owner still holds it after the liveness look: an owner that
        // unlocked and detached in between is not a dead holder.
        let owner_dead =
            owner.is_some_and(|o| !self.inner.is_owner_alive(o) && lock.owner() == Some(o));
        LockState {
            name,
            role,
            owner,
            owner_dead,
            needs_repair: lock.needs_repair(),
        }
    }
}
