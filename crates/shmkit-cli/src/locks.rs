//! The locks of a store (growth, heap, directory, test mutex, one per allocator size class,
//! one per hash-map shard): which are held by a dead process or still marked "needs
//! repair", and clearing the ones whose data needs no repair.
//!
//! Invariants: scanning only reads lock words (a racy snapshot, for reporting). An owner is
//! called dead only when its registry slot was reclaimed or reused (its generation changed,
//! or the slot is free) — the same rule the robust mutex uses, so a live owner is never
//! reported dead. Growth, heap and directory locks guard all-or-nothing changes (a new
//! length, a new heap top, an entry published by one store), so their recovery is only "mark
//! consistent"; size-class locks are recovered by `Store::repair`, which recounts the free
//! lists first; hash-map shard locks by the map itself (`HashMap::verify`/`repair`, or any
//! next writer of the shard).
//!
//! ```text
//! for lock in scan(&store) { println!("{}: {}", lock.name, lock.describe()); }
//! ```

use shmkit::collections::hash_map::layout::{ROOT_LEN, SHARD_STRIDE, ShardHeader};
use shmkit::store::alloc::SizeClass;
use shmkit::store::header::{Line, StoreHeader};
use shmkit::store::registry::{SLOT_ACTIVE, split_owner_id};
use shmkit::sync::RobustMutex;
use shmkit::{ObjectKind, Store};
use std::sync::atomic::Ordering;
use std::time::Duration;

/// Which part of the store a lock guards.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LockRole {
    /// Data needs no repair after the owner dies: recovery only marks it consistent.
    AllOrNothing,
    /// An allocator size class: recovered by `Store::repair`.
    SizeClass,
    /// A hash-map shard: recovered by whoever takes it next (`HashMap::verify`/`repair`).
    MapShard,
}

/// A lock in an abnormal state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LockIssue {
    /// Human name, e.g. `heap lock` or `size-class 3 lock`.
    pub name: String,
    /// What guards it.
    pub role: LockRole,
    /// Owner id if held.
    pub owner: Option<u32>,
    /// Held by a process that is gone.
    pub owner_dead: bool,
    /// A previous owner died and the data was not marked consistent since.
    pub needs_repair: bool,
}

impl LockIssue {
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

/// The store-level locks with their names and roles.
pub fn store_locks(store: &Store) -> Vec<(String, LockRole, &RobustMutex)> {
    let mut out = Vec::new();
    if let Ok(h) = store.get::<StoreHeader>(0) {
        out.push((
            "growth lock".to_string(),
            LockRole::AllOrNothing,
            &h.growth.0.lock,
        ));
        out.push((
            "heap lock".to_string(),
            LockRole::AllOrNothing,
            &h.heap.0.lock,
        ));
        out.push((
            "directory lock".to_string(),
            LockRole::AllOrNothing,
            &h.directory.0.lock,
        ));
        out.push((
            "test mutex".to_string(),
            LockRole::AllOrNothing,
            &h.registry.0.test_mutex,
        ));
    }
    let fixed = store.header();
    for class in 0..fixed.class_count {
        if let Ok(entry) = store.get::<SizeClass>(fixed.class_table_offset + class as u64 * 64) {
            out.push((
                format!("size-class {class} lock"),
                LockRole::SizeClass,
                &entry.lock,
            ));
        }
    }
    for obj in store.objects().unwrap_or_default() {
        if obj.kind != ObjectKind::HashMap {
            continue;
        }
        let Ok(map) = store.open_hash_map(&obj.name) else {
            continue;
        };
        // The shard headers follow the map's root (see hash_map::layout).
        let shards = (map.root_offset() + ROOT_LEN).next_multiple_of(SHARD_STRIDE);
        for i in 0..map.shard_count() as u64 {
            if let Ok(line) = store.get::<Line<ShardHeader>>(shards + i * SHARD_STRIDE) {
                out.push((
                    format!("hash_map {:?} shard {i} lock", obj.name),
                    LockRole::MapShard,
                    &line.0.lock,
                ));
            }
        }
    }
    out
}

/// False only if the process that held owner id `owner` is certainly gone.
pub fn owner_alive(store: &Store, owner: u32) -> bool {
    let (slot, generation) = split_owner_id(owner);
    if slot >= store.header().registry_slots {
        return false;
    }
    let Ok(s) = store.registry_slot(slot) else {
        return true;
    };
    s.generation.load(Ordering::Acquire) == generation
        && s.state.load(Ordering::Acquire) == SLOT_ACTIVE
}

/// Locks held by dead processes or marked as needing repair.
pub fn scan(store: &Store) -> Vec<LockIssue> {
    store_locks(store)
        .into_iter()
        .filter_map(|(name, role, lock)| {
            let owner = lock.owner();
            let owner_dead = owner.is_some_and(|o| !owner_alive(store, o));
            let needs_repair = lock.needs_repair();
            (owner_dead || needs_repair).then_some(LockIssue {
                name,
                role,
                owner,
                owner_dead,
                needs_repair,
            })
        })
        .collect()
}

/// Takes over and marks consistent every all-or-nothing lock that is held by a dead process
/// or needs repair. Returns what was done, and the locks that could not be taken (held by a
/// live process for longer than `timeout`).
pub fn repair_all_or_nothing(store: &Store, timeout: Duration) -> (Vec<String>, Vec<String>) {
    let mut done = Vec::new();
    let mut stuck = Vec::new();
    for (name, role, lock) in store_locks(store) {
        if role != LockRole::AllOrNothing {
            continue;
        }
        let dead = lock.owner().is_some_and(|o| !owner_alive(store, o));
        if !dead && !lock.needs_repair() {
            continue;
        }
        match store.lock_timeout(lock, timeout) {
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
