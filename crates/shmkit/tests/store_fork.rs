//! One attachment per store per process, and correct behaviour after `fork`: the child
//! gets its own registry slot and owner id, its death (even holding a lock) never wedges
//! or detaches the parent, and a forked child that never touches the store does not keep
//! a dead parent's locks alive.

mod common;

use common::{
    Child, Exit, KillOnDrop, Pipe, StoreGuard, TestStore, fork_child, fork_orphanable,
    process_running, wait_until, watchdog,
};
use shmkit::{Store, StoreOptions};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// How long a lock attempt that must succeed may take before the test calls it wedged.
const HANG: Duration = Duration::from_secs(30);

fn create(guard: &StoreGuard) -> Store {
    Store::create(guard.name(), &StoreOptions::default()).unwrap()
}

/// Forks a child that takes the test mutex, runs `then` (holding it), sets the word at
/// `flag` to 1 and waits to be killed; returns once the flag is set.
fn fork_lock_holder(store: &Store, flag: u64, then: impl FnOnce()) -> Child {
    let child = fork_child(|| {
        let _g = store.test_mutex().unwrap().lock().unwrap();
        then();
        store
            .get::<AtomicU64>(flag)
            .unwrap()
            .store(1, Ordering::SeqCst);
        loop {
            std::thread::sleep(Duration::from_millis(5));
        }
    });
    let flag_word = store.get::<AtomicU64>(flag).unwrap();
    assert!(wait_until(Duration::from_secs(20), || flag_word
        .load(Ordering::SeqCst)
        == 1));
    child
}

#[test]
fn opening_twice_in_one_process_shares_one_attachment() {
    let guard = StoreGuard::new("fork-same");
    let a = create(&guard);
    let b = Store::open(guard.name()).unwrap();
    let c = Store::open_or_create(guard.name(), &StoreOptions::default()).unwrap();
    assert!(a.same_attachment(&b) && b.same_attachment(&c));
    assert_eq!(a.owner_id(), b.owner_id());
    assert_eq!(a.attached_processes().unwrap().len(), 1);
    // Handles work together: a lock taken through one excludes the other.
    let off = a.alloc(64).unwrap();
    b.write_bytes(off, b"through b").unwrap();
    let mut buf = [0u8; 9];
    c.read_bytes(off, &mut buf).unwrap();
    assert_eq!(&buf, b"through b");
    let g = a.test_mutex().unwrap().lock().unwrap();
    assert_eq!(
        b.test_mutex().unwrap().raw().owner(),
        Some(b.owner_id()),
        "held, under the one owner id"
    );
    drop(g);
    assert_eq!(b.test_mutex().unwrap().raw().owner(), None);
    c.free(off).unwrap();
    // Dropping some handles keeps the attachment.
    drop(a);
    drop(b);
    assert!(c.verify_allocator().unwrap().is_clean());
    assert!(!c.others_attached());
}

#[test]
fn concurrent_opens_in_one_process_share_one_attachment() {
    let guard = StoreGuard::new("fork-threads");
    drop(create(&guard));
    for _ in 0..20 {
        let name = guard.name().to_string();
        let stores: Vec<Store> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8)
                .map(|_| s.spawn(|| Store::open(&name).unwrap()))
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert!(
            stores.iter().all(|s| s.same_attachment(&stores[0])),
            "one attachment"
        );
        assert_eq!(stores[0].attached_processes().unwrap().len(), 1);
        drop(stores);
    }
}

#[test]
fn a_forked_child_gets_its_own_slot_and_works() {
    let _dog = watchdog(60);
    let store = TestStore::new("fork-child");
    let parent_id = store.owner_id();
    let parent_pid = std::process::id();
    let shared = store.alloc(32).unwrap();
    fn word(s: &Store, at: u64) -> &AtomicU64 {
        s.get::<AtomicU64>(at).unwrap()
    }
    let child_store = store.clone();
    let mut child = fork_child(move || {
        let s = child_store;
        // Opening again in the child returns the inherited attachment, re-registered.
        let again = Store::open(s.path().to_str().unwrap()).unwrap();
        if !again.same_attachment(&s) {
            return 10;
        }
        if s.owner_id() == parent_id {
            return 11; // must not impersonate the parent
        }
        let procs = s.attached_processes().unwrap();
        let me = std::process::id();
        let pids: Vec<u32> = procs.iter().map(|p| p.pid).collect();
        if procs.len() != 2 || !pids.contains(&me) || !pids.contains(&parent_pid) {
            eprintln!("child sees {procs:?}");
            return 12;
        }
        if !procs.iter().any(|p| p.is_self && p.pid == me) {
            return 13;
        }
        // Locks and allocation work.
        {
            let g = s.test_mutex().unwrap().lock().unwrap();
            if g.recovered() {
                return 14;
            }
        }
        let off = s.alloc(1000).unwrap();
        s.write_bytes(off, &[7u8; 1000]).unwrap();
        word(&s, shared).store(off, Ordering::SeqCst);
        word(&s, shared + 8).store(s.owner_id() as u64, Ordering::SeqCst);
        // Wait until the parent has looked at us.
        while word(&s, shared + 16).load(Ordering::SeqCst) == 0 {
            std::thread::sleep(Duration::from_millis(1));
        }
        0
    });
    assert!(wait_until(Duration::from_secs(20), || word(
        &store,
        shared + 8
    )
    .load(Ordering::SeqCst)
        != 0));
    let procs = store.attached_processes().unwrap();
    assert_eq!(procs.len(), 2, "{procs:?}");
    assert!(
        procs
            .iter()
            .any(|p| p.pid == child.pid as u32 && !p.is_self)
    );
    assert!(store.others_attached());
    let off = word(&store, shared).load(Ordering::SeqCst);
    let mut buf = [0u8; 1000];
    store.read_bytes(off, &mut buf).unwrap();
    assert_eq!(buf, [7u8; 1000]);
    word(&store, shared + 16).store(1, Ordering::SeqCst);
    assert_eq!(child.wait_timeout(Duration::from_secs(20)), Exit::Code(0));
    store.free(off).unwrap();
    // The child is gone; the parent's own slot is intact.
    assert_eq!(store.owner_id(), parent_id);
    let procs = store.attached_processes().unwrap();
    assert_eq!(procs.len(), 1, "{procs:?}");
    assert!(procs[0].is_self && procs[0].pid == parent_pid);
}

#[test]
fn a_child_killed_holding_a_lock_does_not_wedge_the_parent() {
    let _dog = watchdog(60);
    let store = TestStore::new("fork-kill");
    let flag = store.alloc(8).unwrap();
    let child = fork_lock_holder(&store, flag, || {});
    child.kill_and_wait();
    let mut g = store
        .test_mutex()
        .unwrap()
        .lock_timeout(HANG)
        .expect("wedged: a dead child's lock was never taken over");
    assert!(g.recovered());
    g.mark_consistent();
    drop(g);
    assert_eq!(store.attached_processes().unwrap().len(), 1);
}

#[test]
fn a_childs_exit_never_frees_the_parents_slot() {
    let _dog = watchdog(60);
    let store = TestStore::new("fork-slot");
    let my_slot = store.owner_id() & 1023;
    // 1: a child that used the store drops it and exits normally (its own slot is freed);
    // 2: a child that never touched the store drops it (it must not free the parent's);
    // 3: a child that used the store exits without dropping it.
    for mode in 1..=3 {
        let child_store = store.clone();
        let mut child = fork_child(move || {
            if mode != 2 {
                let _ = child_store.alloc(10).unwrap();
            }
            if mode != 3 {
                drop(child_store);
            }
            0
        });
        assert_eq!(child.wait_timeout(Duration::from_secs(20)), Exit::Code(0));
        let slot = store.registry_slot(my_slot).unwrap();
        assert_eq!(
            slot.state.load(Ordering::SeqCst),
            1,
            "mode {mode}: parent's slot freed"
        );
        assert_eq!(slot.pid.load(Ordering::SeqCst), std::process::id());
        let procs = store.attached_processes().unwrap();
        assert_eq!(procs.len(), 1, "mode {mode}: {procs:?}");
        assert!(procs[0].is_self);
    }
    // A newcomer does not get the parent's slot.
    let child_store = store.clone();
    let mut child = fork_child(move || {
        if child_store.owner_id() & 1023 == my_slot {
            1
        } else {
            0
        }
    });
    assert_eq!(child.wait_timeout(Duration::from_secs(20)), Exit::Code(0));
}

#[test]
fn an_idle_forked_child_does_not_keep_a_dead_parents_lock_alive() {
    let _dog = watchdog(60);
    let store = TestStore::new("fork-idle");
    let flag = store.alloc(16).unwrap();
    // A "parent" process takes the lock, forks a helper that never touches the store (like
    // a worker pool, outliving it), and is killed while holding the lock. The helper ends
    // when `lifeline` closes (the test drops it, or dies).
    let (mut helper_pid, lifeline) = (Pipe::new(), Pipe::new());
    let owner = fork_lock_holder(&store, flag, || {
        let helper = fork_orphanable(|| {
            lifeline.wait_closed();
            0
        });
        helper_pid.send(&helper.forget().to_le_bytes());
    });
    helper_pid.close_write();
    let bytes = helper_pid.read_exact(4);
    let helper = KillOnDrop(i32::from_le_bytes(bytes[..4].try_into().unwrap()));
    owner.kill_and_wait();
    let result = store.test_mutex().unwrap().lock_timeout(HANG);
    let helper_lived = process_running(helper.0);
    // End the helper (our grandchild) whatever happened.
    drop(lifeline);
    drop(helper);
    assert!(helper_lived, "the idle child lived throughout");
    let g = result
        .expect("wedged: the dead owner's lock was never recovered while its idle child lived");
    assert!(g.recovered());
}

#[test]
fn forking_while_another_thread_uses_the_store() {
    // Another thread keeps using the store (liveness probes, registry reads) while this one
    // forks: a child must never inherit a process-local lock held by a thread that does not
    // exist in the child, or it would hang on its first store operation.
    let _dog = watchdog(100);
    let store = TestStore::new("fork-threads-busy");
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let busy = {
        let (store, stop) = (store.clone(), stop.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let _ = store.others_attached();
                let _ = Store::open(store.path().to_str().unwrap()).unwrap();
            }
        })
    };
    for i in 0..300 {
        let s = store.clone();
        let mut child = fork_child(move || {
            let _ = s.owner_id();
            let again = Store::open(s.path().to_str().unwrap()).unwrap();
            if again.attached_processes().unwrap().len() >= 2 {
                0
            } else {
                1
            }
        });
        // A hung child (it would wait for ever) is killed after HANG and fails the test.
        let exit = child.try_wait(HANG);
        if exit.is_none() {
            stop.store(true, Ordering::Relaxed);
        }
        assert_eq!(
            exit,
            Some(Exit::Code(0)),
            "child {i} hung (None) or failed after fork"
        );
    }
    stop.store(true, Ordering::Relaxed);
    busy.join().unwrap();
}

#[test]
fn a_descriptor_that_reuses_a_detached_stores_number_is_inherited_as_usual() {
    // While attached, the store's lock descriptor is given a fresh description in every
    // forked child. Once detached, that must stop: a file opened later under the same
    // descriptor number must reach a child as fork always passes it, sharing its
    // description (and so its file offset) with the parent.
    let _dog = watchdog(60);
    let guard = StoreGuard::new("fork-renewal-forgotten");
    let store = Store::create(guard.name(), &StoreOptions::default()).unwrap();
    let _ = store.owner_id();
    drop(store); // detaches: its descriptors are closed, their numbers free again
    let dir = common::TempDir::new("fork-renewal-forgotten");
    let path = dir.store_path("data");
    std::fs::write(&path, b"0123456789").unwrap();
    // Open enough files to reuse every number the store held; move each offset to 4.
    let files: Vec<std::fs::File> = (0..8)
        .map(|_| {
            use std::io::{Read, Seek};
            let mut f = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open(&path)
                .unwrap();
            let mut four = [0u8; 4];
            f.read_exact(&mut four).unwrap();
            assert_eq!(f.stream_position().unwrap(), 4);
            f
        })
        .collect();
    let fds: Vec<i32> = files.iter().map(std::os::fd::AsRawFd::as_raw_fd).collect();
    let mut child = fork_child(move || {
        // SAFETY: lseek on descriptors this process inherited.
        let renewed = fds
            .iter()
            .filter(|&&fd| unsafe { libc::lseek(fd, 0, libc::SEEK_CUR) } != 4)
            .count();
        renewed as i32
    });
    assert_eq!(
        child.wait_timeout(Duration::from_secs(20)),
        Exit::Code(0),
        "exit code = descriptors the child did not share with its parent (a detached store's \
         number still renewed)"
    );
    drop(files);
}
