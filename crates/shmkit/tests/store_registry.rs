//! The process registry: dead processes' slots are reclaimed (by the sweep, or by the next
//! process that needs a slot), so attaching and dying over and over never runs out.

mod common;

use common::{TestStore, fork_child, wait_until, watchdog};
use shmkit::store::header::StoreHeader;
use shmkit::store::registry::{SLOT_ACTIVE, SLOT_FREE, split_owner_id};
use shmkit::{Store, StoreOptions};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Forks a child that attaches (its first store operation registers it), reports its owner
/// id in `mailbox`, and waits to be killed; kills it once it has reported.
fn attach_and_kill(store: &Store, mailbox: u64) -> u32 {
    let word: &AtomicU64 = store.get(mailbox).unwrap();
    word.store(0, Ordering::SeqCst);
    let s = store.clone();
    let child = fork_child(move || {
        let id = s.owner_id();
        s.get::<AtomicU64>(mailbox)
            .unwrap()
            .store(id as u64, Ordering::SeqCst);
        loop {
            std::thread::sleep(Duration::from_millis(10));
        }
    });
    assert!(wait_until(Duration::from_secs(20), || word
        .load(Ordering::SeqCst)
        != 0));
    child.kill_and_wait();
    word.load(Ordering::SeqCst) as u32
}

#[test]
fn sweep_reclaims_killed_processes_slots() {
    let _dog = watchdog(60);
    let store = TestStore::new("registry-sweep");
    let mailbox = store.alloc(8).unwrap();
    let mut slots = Vec::new();
    for _ in 0..5 {
        slots.push(attach_and_kill(&store, mailbox) & 1023);
    }
    // Dead processes are never listed, even before the sweep.
    let procs = store.attached_processes().unwrap();
    assert_eq!(procs.len(), 1, "{procs:?}");
    assert!(!store.others_attached());
    assert!(
        !Store::is_in_use(store.name()).unwrap(),
        "only the caller is attached"
    );
    // Each child took a free slot of its own (claims rotate over the 1024 slots) and left it
    // active when it was killed.
    let distinct: std::collections::HashSet<u32> = slots.iter().copied().collect();
    assert_eq!(distinct.len(), slots.len(), "{slots:?}");
    let dead_active = slots
        .iter()
        .filter(|&&s| store.registry_slot(s).unwrap().state.load(Ordering::SeqCst) == 1)
        .count();
    assert_eq!(
        dead_active,
        slots.len(),
        "killed processes leave active slots behind"
    );
    assert_eq!(store.sweep_dead_processes() as usize, dead_active);
    assert_eq!(store.sweep_dead_processes(), 0, "nothing left to sweep");
    for s in slots {
        assert_eq!(
            store.registry_slot(s).unwrap().state.load(Ordering::SeqCst),
            0
        );
    }
    assert!(store.verify_allocator().unwrap().is_clean());
}

#[test]
fn is_in_use_sees_other_processes_only() {
    let _dog = watchdog(60);
    let store = TestStore::new("registry-in-use");
    assert!(
        !Store::is_in_use(store.name()).unwrap(),
        "the caller itself does not count"
    );
    let mailbox = store.alloc(8).unwrap();
    let word: &AtomicU64 = store.get(mailbox).unwrap();
    let s = store.clone();
    let child = fork_child(move || {
        let _ = s.owner_id();
        s.get::<AtomicU64>(mailbox)
            .unwrap()
            .store(1, Ordering::SeqCst);
        loop {
            std::thread::sleep(Duration::from_millis(10));
        }
    });
    assert!(wait_until(Duration::from_secs(20), || word
        .load(Ordering::SeqCst)
        == 1));
    assert!(Store::is_in_use(store.name()).unwrap());
    assert!(store.others_attached());
    child.kill_and_wait();
    assert!(!Store::is_in_use(store.name()).unwrap());
    assert!(!store.others_attached());
}

fn attach_many_times(test: &str, max_processes: u32, times: usize) {
    let _dog = watchdog(110);
    let opts = StoreOptions {
        max_processes,
        ..StoreOptions::default()
    };
    let store = TestStore::with(test, &opts);
    let mailbox = store.alloc(8).unwrap();
    let me = store.owner_id();
    let mut seen = std::collections::HashSet::new();
    for i in 0..times {
        let id = attach_and_kill(&store, mailbox);
        assert_ne!(id & 1023, me & 1023, "attach {i}: got the parent's slot");
        assert!((id & 1023) < max_processes);
        assert!(
            seen.insert(id),
            "attach {i}: owner id {id:#x} reused (same slot and generation)"
        );
    }
    assert_eq!(store.attached_processes().unwrap().len(), 1);
    // Nothing swept in between: the children filled every free slot, then each took over a
    // dead one's (counted as reclaimed); every slot but the parent's holds a dead process.
    let dead = u64::from(max_processes - 1);
    let reclaimed = store
        .get::<StoreHeader>(0)
        .unwrap()
        .registry
        .0
        .reclaimed_count
        .load(Ordering::SeqCst);
    assert_eq!(reclaimed, times as u64 - dead);
    assert_eq!(u64::from(store.sweep_dead_processes()), dead);
    assert!(store.verify_allocator().unwrap().is_clean());
}

#[test]
fn attaching_1100_times_with_kills_never_runs_out_of_slots() {
    attach_many_times("registry-many", 1024, 1100);
}

#[test]
fn attaching_1100_times_into_8_slots() {
    attach_many_times("registry-few", 8, 1100);
}

#[test]
fn a_detaching_process_frees_its_slot_at_once_while_it_lives() {
    // Dropping the last handle gives the slot back there and then (not when a sweep finds
    // the process gone: it is still alive here). Observed by another attached process.
    let _dog = watchdog(60);
    let guard = common::StoreGuard::new("registry-detach");
    drop(Store::create(guard.name(), &StoreOptions::default()).unwrap());
    let store = Store::open(guard.name()).unwrap();
    let my_slot = store.owner_id() & 1023;
    let mut gate = common::Pipe::new();
    let mut child = {
        let (store, gate) = (store.clone(), &gate);
        fork_child(move || {
            let _ = store.owner_id(); // attach in a slot of its own
            gate.wait_closed(); // the parent has dropped its handles
            match store.registry_slot(my_slot) {
                Ok(s) if s.state.load(Ordering::SeqCst) == SLOT_FREE => 0,
                Ok(_) => 1,
                Err(_) => 2,
            }
        })
    };
    drop(store);
    gate.close_write();
    assert_eq!(
        child.wait_timeout(Duration::from_secs(30)),
        common::Exit::Code(0),
        "the detached parent's slot was not marked free (1) or unreadable (2)"
    );
}

#[test]
fn a_new_process_takes_a_free_slot_before_a_dead_ones() {
    // A dead process's slot is reclaimed only when no slot is free: until then it stays
    // listed (pid and all) for the tools, and its generation, part of lock owner ids, does
    // not move on needlessly.
    let _dog = watchdog(60);
    let options = StoreOptions {
        max_processes: 4,
        ..StoreOptions::default()
    };
    let store = TestStore::with("registry-free-first", &options);
    let mailbox = store.alloc(8).unwrap();
    let (dead_slot, dead_generation) = split_owner_id(attach_and_kill(&store, mailbox));
    let registry = &store.get::<StoreHeader>(0).unwrap().registry.0;
    let reclaimed = registry.reclaimed_count.load(Ordering::SeqCst);
    // Claims go round-robin from `attach_count % slots`: point the next one at the dead slot.
    registry
        .attach_count
        .store(u64::from(dead_slot), Ordering::SeqCst);
    let (next_slot, _) = split_owner_id(attach_and_kill(&store, mailbox));
    assert_ne!(
        next_slot, dead_slot,
        "a dead process's slot was taken while free ones remained"
    );
    assert_eq!(registry.reclaimed_count.load(Ordering::SeqCst), reclaimed);
    let dead = store.registry_slot(dead_slot).unwrap();
    assert_eq!(dead.state.load(Ordering::SeqCst), SLOT_ACTIVE);
    assert_eq!(dead.generation.load(Ordering::SeqCst), dead_generation);
}
