//! A forked child that never touches the store must not keep its dead parent "alive": the
//! fork handler gives the child's inherited descriptor its own open file description.

mod common;

use common::{
    KillOnDrop, Pipe, StoreGuard, fork_child, fork_orphanable, getpid, process_running, watchdog,
};
use shmkit::{Store, StoreOptions};
use std::time::Duration;

#[test]
fn idle_grandchild_does_not_keep_dead_owner_alive() {
    let _watchdog = watchdog(60);
    let name = StoreGuard::new("fork-liveness");
    // Not attached in this process while the child runs, so the child's descriptor is its own.
    drop(Store::create(name.name(), &StoreOptions::default()).unwrap());
    // The grandchild ends when `lifeline` closes (the test drops it, or dies).
    let (locked, grandchild_started, lifeline) = (Pipe::new(), Pipe::new(), Pipe::new());
    let child = fork_child(|| {
        let s = Store::open(name.name()).unwrap();
        let lock = s.test_mutex().unwrap().lock().unwrap();
        // Fork a grandchild that never uses the store and outlives us.
        let grandchild = fork_orphanable(|| {
            // SAFETY: closing this process's copies of stdout and stderr.
            unsafe {
                libc::close(1);
                libc::close(2);
            }
            grandchild_started.send(&getpid().to_le_bytes());
            lifeline.wait_closed();
            0
        });
        grandchild.forget();
        locked.send(b"x");
        std::mem::forget(lock);
        loop {
            std::thread::sleep(Duration::from_secs(1));
        }
    });
    locked.read_exact(1);
    let pid = grandchild_started.read_exact(4);
    let grandchild = KillOnDrop(i32::from_le_bytes(pid[..].try_into().unwrap()));
    child.kill_and_wait();
    let store = Store::open(name.name()).unwrap();
    let mutex = store.test_mutex().unwrap();
    assert!(
        process_running(grandchild.0),
        "the grandchild lives when the lock is tried"
    );
    let lock = mutex
        .lock_timeout(Duration::from_secs(30))
        .expect("wedged: the dead owner's lock is never recovered while its idle grandchild lives");
    assert!(lock.recovered());
    assert!(
        process_running(grandchild.0),
        "the grandchild lived throughout the attempt"
    );
    drop(lock);
    drop(lifeline);
    drop(grandchild);
    drop(store);
    Store::remove(name.name()).unwrap();
}
