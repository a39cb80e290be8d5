//! A forked child that cannot claim a registry slot of its own (the registry is full) must not
//! take locks under its parent's owner id: a lock taken that way is never recovered after the
//! child dies while the parent lives (the parent even waits for itself), and is stolen from the
//! live child as soon as the parent dies. Nor may such a child, detaching, free its parent's
//! slot (the parent's locks would then be taken from it while it lives).

mod common;

use common::{
    Exit, KillOnDrop, Pipe, StoreGuard, TestStore, fork_child, fork_orphanable, getpid,
    process_running, test_mutex_word, wait_until_waiter_slept, watchdog,
};
use shmkit::sync::LockError;
use shmkit::{Store, StoreOptions};
use std::sync::atomic::Ordering;
use std::time::Duration;

/// How long a lock attempt that must succeed may take before the test calls it wedged.
const HANG: Duration = Duration::from_secs(30);

fn one_slot() -> StoreOptions {
    StoreOptions {
        max_processes: 1,
        ..StoreOptions::default()
    }
}

/// What a child's lock attempt gave, as one byte: `L` locked, `N` not attached (no slot),
/// `T` timed out.
fn outcome<T>(result: &Result<T, LockError>) -> u8 {
    match result {
        Ok(_) => b'L',
        Err(LockError::NotAttached) => b'N',
        Err(_) => b'T',
    }
}

#[test]
fn lock_of_a_dead_child_without_a_slot_is_recovered() {
    let _watchdog = watchdog(90);
    let t = TestStore::with("review-fork-noslot-wedge", &one_slot());
    let parent_id = t.owner_id();
    let pipe = Pipe::new();
    let store = t.clone();
    let child = fork_child(|| {
        let mutex = store.test_mutex().unwrap();
        let result = mutex.lock_timeout(HANG);
        let under_parent = result.is_ok() && store.owner_id() == parent_id;
        pipe.send(&[if under_parent { b'P' } else { outcome(&result) }]);
        if let Ok(guard) = result {
            std::mem::forget(guard);
        }
        loop {
            std::thread::sleep(Duration::from_secs(1));
        }
    });
    let what = pipe.read_exact(1)[0];
    child.kill_and_wait();
    // Whatever the child did, it is dead now: the lock must be free or recoverable (a lock
    // taken under this process's own id would never be: it waits for itself).
    let result = t.test_mutex().unwrap().lock_timeout(HANG);
    assert!(
        result.is_ok(),
        "the lock a dead child held (child reported {:?}: P = it locked under the parent's \
         owner id {parent_id:#x}) is never recovered while the parent lives",
        what as char
    );
    assert_eq!(
        what, b'N',
        "a child without a slot of its own is refused store locks"
    );
}

#[test]
fn lock_of_a_live_child_without_a_slot_is_not_stolen_when_its_parent_dies() {
    let _watchdog = watchdog(90);
    let guard = StoreGuard::new("review-fork-noslot-theft");
    let name = guard.name().to_string();
    drop(Store::create(&name, &one_slot()).unwrap());
    // The grandchild ends when `lifeline` closes (the test drops it, or dies).
    let (pipe, lifeline) = (Pipe::new(), Pipe::new());
    let n = name.clone();
    // P attaches (taking the only slot) and forks C; C tries to lock, reports, and lives on
    // (holding the lock if it got it).
    let parent = fork_child(|| {
        let store = Store::open(&n).unwrap();
        let _ = store.owner_id();
        let s = store.clone();
        let _grandchild = fork_orphanable(|| {
            let mutex = s.test_mutex().unwrap();
            let result = mutex.lock_timeout(HANG);
            let mut msg = [outcome(&result), 0, 0, 0, 0];
            msg[1..].copy_from_slice(&getpid().to_le_bytes());
            pipe.send(&msg);
            if let Ok(guard) = result {
                std::mem::forget(guard);
            }
            lifeline.wait_closed();
            0
        });
        loop {
            std::thread::sleep(Duration::from_secs(1));
        }
    });
    let msg = pipe.read_exact(5);
    let grandchild = KillOnDrop(i32::from_le_bytes(msg[1..].try_into().unwrap()));
    parent.kill_and_wait();
    let store = Store::open(&name).unwrap(); // takes the dead parent's slot
    let mutex = store.test_mutex().unwrap();
    // Nobody may hold the lock now: C, alive, would hold it under its dead parent's id, and
    // the next locker (this process, in that very slot with a new generation) would take it
    // over from C.
    let owner = mutex.raw().owner();
    let result = mutex.lock_timeout(HANG).map(|g| g.recovered());
    let grandchild_lived = process_running(grandchild.0);
    drop(lifeline);
    drop(grandchild);
    drop(store);
    drop(guard);
    assert!(grandchild_lived, "the child lived throughout");
    assert_eq!(
        msg[0], b'N',
        "a child without a slot of its own is refused store locks (L = it locked)"
    );
    assert_eq!(owner, None, "a lock is held under a dead process's id");
    assert!(
        matches!(result, Ok(false)),
        "the lock was taken over from a live process: {result:?}"
    );
}

/// The only handle of the test process, so that a forked child can drop its last copy.
static KEEP: std::sync::Mutex<Option<Store>> = std::sync::Mutex::new(None);

#[test]
fn child_without_a_slot_does_not_free_its_parents_slot_on_detach() {
    let _watchdog = watchdog(90);
    let guard = StoreGuard::new("review-fork-noslot-detach");
    let name = guard.name().to_string();
    let options = StoreOptions {
        max_processes: 2,
        ..StoreOptions::default()
    };
    let store = Store::create(&name, &options).unwrap();
    let my_slot = store.attached_processes().unwrap()[0].slot;
    *KEEP.lock().unwrap() = Some(store);
    // A filler process takes the second slot, so the next child finds the registry full.
    let pipe = Pipe::new();
    let n = name.clone();
    let filler = fork_child(|| {
        let s = Store::open(&n).unwrap();
        let _ = s.owner_id();
        pipe.send(b"F");
        loop {
            std::thread::sleep(Duration::from_secs(1));
        }
    });
    pipe.read_exact(1);
    // A child with no slot of its own detaches (drops its last handle).
    let mut child = fork_child(|| {
        let s = KEEP.lock().unwrap().take().unwrap();
        let id = s.owner_id();
        drop(s);
        if id == 0 { 0 } else { 1 }
    });
    assert_eq!(child.wait(), Exit::Code(0), "the child had no slot");
    filler.kill_and_wait();
    let store = KEEP.lock().unwrap().take().unwrap();
    let state = store
        .registry_slot(my_slot)
        .unwrap()
        .state
        .load(Ordering::SeqCst);
    // While this process holds a lock, a newly attached process waits for it: it probes
    // this process's liveness again and again (ten sleeps), and never takes the lock over.
    let lock = store.test_mutex().unwrap().lock().unwrap();
    let n = name.clone();
    let mut thief = fork_child(move || {
        let s = Store::open(&n).unwrap();
        match s.test_mutex().unwrap().lock_timeout(HANG) {
            Ok(g) if !g.recovered() => 0,
            Ok(_) => 1,
            Err(_) => 2,
        }
    });
    let word = test_mutex_word(&store);
    let waited = wait_until_waiter_slept(word, thief.pid, 10, HANG, || !process_running(thief.pid));
    let owner = store.test_mutex().unwrap().raw().owner();
    drop(lock);
    let thief_exit = thief.wait();
    let my_id = store.owner_id();
    drop(store);
    drop(guard);
    assert_eq!(
        state,
        shmkit::store::registry::SLOT_ACTIVE,
        "a forked child that had no slot of its own freed its live parent's slot on detach"
    );
    assert!(
        waited,
        "the newcomer stopped waiting while the lock's owner lived (exit {thief_exit:?})"
    );
    assert_eq!(owner, Some(my_id), "the live owner still holds its lock");
    assert_eq!(
        thief_exit,
        Exit::Code(0),
        "the newcomer got the lock once released, not taken over"
    );
}

#[test]
fn a_child_without_a_slot_gets_one_once_a_slot_is_free() {
    let _watchdog = watchdog(90);
    let options = StoreOptions {
        max_processes: 2,
        ..StoreOptions::default()
    };
    let t = TestStore::with("fork-noslot-later", &options);
    let parent_id = t.owner_id();
    // An occupant takes the second slot and lives until killed.
    let ready = Pipe::new();
    let s = t.clone();
    let occupant = fork_child(|| {
        let _ = s.owner_id();
        ready.send(b"O");
        loop {
            std::thread::sleep(Duration::from_secs(1));
        }
    });
    ready.read_exact(1);
    // A child forked now finds the registry full; it asks again after the occupant died.
    let (report, mut go) = (Pipe::new(), Pipe::new());
    let s = t.clone();
    let child = fork_child(|| {
        let mutex = s.test_mutex().unwrap();
        report.send(&[outcome(&mutex.lock_timeout(HANG))]);
        go.wait_closed();
        let result = mutex.lock_timeout(HANG);
        let own_id = s.owner_id() != 0 && s.owner_id() != parent_id;
        report.send(&[outcome(&result), u8::from(own_id)]);
        0
    });
    let first = report.read_exact(1)[0];
    occupant.kill_and_wait();
    go.close_write();
    let second = report.read_exact(2);
    child.expect_success();
    assert_eq!(first, b'N', "no slot was free: the child is refused locks");
    assert_eq!(
        (second[0], second[1]),
        (b'L', 1),
        "once the occupant died, the child's next lock claims the freed slot under an id of \
         its own (L = locked, N = still not attached; then 1 = own id)"
    );
}
