//! A forked child that cannot claim a registry slot of its own (the registry is full) must not
//! take locks under its parent's owner id: a lock taken that way is never recovered after the
//! child dies while the parent lives (the parent even waits for itself), and is stolen from the
//! live child as soon as the parent dies.

mod common;

use common::{
    Exit, KillOnDrop, Pipe, StoreGuard, TestStore, fork_child, fork_orphanable, getpid, watchdog,
};
use shmkit::{Store, StoreOptions};
use std::time::Duration;

fn one_slot() -> StoreOptions {
    StoreOptions {
        max_processes: 1,
        ..StoreOptions::default()
    }
}

#[test]
fn lock_of_a_dead_child_without_a_slot_is_recovered() {
    let _watchdog = watchdog(60);
    let t = TestStore::with("review-fork-noslot-wedge", &one_slot());
    let parent_id = t.owner_id();
    let pipe = Pipe::new();
    let store = t.clone();
    let child = fork_child(|| {
        // SAFETY: arming a self-destruct timer in this child.
        unsafe { libc::alarm(30) };
        let mutex = store.test_mutex().unwrap();
        match mutex.lock_timeout(Duration::from_secs(5)) {
            Ok(guard) => {
                pipe.send(if store.owner_id() == parent_id {
                    b"P"
                } else {
                    b"L"
                });
                std::mem::forget(guard);
                loop {
                    std::thread::sleep(Duration::from_secs(1));
                }
            }
            Err(_) => {
                pipe.send(b"E");
                0
            }
        }
    });
    let what = pipe.read_exact(1);
    child.kill_and_wait();
    // Whatever the child did, it is dead now: the lock must be free or recoverable.
    let result = t.test_mutex().unwrap().lock_timeout(Duration::from_secs(3));
    assert!(
        result.is_ok(),
        "the lock a dead child held (child reported {:?}: P = it locked under the parent's \
         owner id {parent_id:#x}) is never recovered while the parent lives",
        what[0] as char
    );
}

#[test]
fn lock_of_a_live_child_without_a_slot_is_not_stolen_when_its_parent_dies() {
    let _watchdog = watchdog(60);
    let guard = StoreGuard::new("review-fork-noslot-theft");
    let name = guard.name().to_string();
    drop(Store::create(&name, &one_slot()).unwrap());
    let pipe = Pipe::new();
    let n = name.clone();
    // P attaches (taking the only slot) and forks C; C locks, reports its pid, and lives on.
    let parent = fork_child(|| {
        // SAFETY: arming a self-destruct timer in this process.
        unsafe { libc::alarm(30) };
        let store = Store::open(&n).unwrap();
        let _ = store.owner_id();
        let s = store.clone();
        let _grandchild = fork_orphanable(|| {
            // SAFETY: arming a self-destruct timer in this process.
            unsafe { libc::alarm(30) };
            let mutex = s.test_mutex().unwrap();
            let mut msg = [0u8; 5];
            msg[1..].copy_from_slice(&getpid().to_le_bytes());
            match mutex.lock_timeout(Duration::from_secs(5)) {
                Ok(guard) => {
                    msg[0] = b'L';
                    pipe.send(&msg);
                    std::mem::forget(guard);
                    loop {
                        std::thread::sleep(Duration::from_secs(1));
                    }
                }
                Err(_) => {
                    msg[0] = b'E';
                    pipe.send(&msg);
                    0
                }
            }
        });
        loop {
            std::thread::sleep(Duration::from_secs(1));
        }
    });
    let msg = pipe.read_exact(5);
    let grandchild = KillOnDrop(i32::from_le_bytes(msg[1..].try_into().unwrap()));
    parent.kill_and_wait();
    let store = Store::open(&name).unwrap(); // takes the dead parent's slot
    let result = store
        .test_mutex()
        .unwrap()
        .lock_timeout(Duration::from_millis(500));
    let stolen = result.is_ok();
    drop(result);
    drop(grandchild);
    drop(store);
    drop(guard);
    assert!(
        !(msg[0] == b'L' && stolen),
        "a lock held by a live process was taken over because its parent died"
    );
}

/// The only handle of the test process, so that a forked child can drop its last copy.
static KEEP: std::sync::Mutex<Option<Store>> = std::sync::Mutex::new(None);

#[test]
fn child_without_a_slot_does_not_free_its_parents_slot_on_detach() {
    let _watchdog = watchdog(60);
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
        // SAFETY: a self-destruct timer.
        unsafe { libc::alarm(30) };
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
        let _ = s.owner_id();
        drop(s);
        0
    });
    assert_eq!(child.wait(), Exit::Code(0));
    filler.kill_and_wait();
    let store = KEEP.lock().unwrap().take().unwrap();
    let state = store
        .registry_slot(my_slot)
        .unwrap()
        .state
        .load(std::sync::atomic::Ordering::SeqCst);
    // While this process holds a lock, a newly attached process must not take it over.
    let lock = store.test_mutex().unwrap().lock().unwrap();
    let n = name.clone();
    let mut thief = fork_child(move || {
        let s = Store::open(&n).unwrap();
        let stolen = s
            .test_mutex()
            .unwrap()
            .lock_timeout(Duration::from_millis(500))
            .map(std::mem::forget)
            .is_ok();
        i32::from(stolen)
    });
    let stolen = thief.wait() == Exit::Code(1);
    drop(lock);
    drop(store);
    drop(guard);
    assert!(
        state == shmkit::store::registry::SLOT_ACTIVE && !stolen,
        "a forked child that had no slot of its own left its live parent's slot in state \
         {state} (1 = active) on detach; lock taken over from the live parent: {stolen}"
    );
}
