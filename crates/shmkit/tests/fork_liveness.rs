//! A forked child that never touches the store must not keep its dead parent "alive": the
//! fork handler gives the child's inherited descriptor its own open file description.

mod common;

use common::{KillOnDrop, Pipe, StoreGuard, fork_child, fork_orphanable, getpid, watchdog};
use shmkit::{Store, StoreOptions};
use std::time::Duration;

#[test]
fn idle_grandchild_does_not_keep_dead_owner_alive() {
    let _watchdog = watchdog(60);
    let name = StoreGuard::new("fork-liveness");
    // Not attached in this process while the child runs, so the child's descriptor is its own.
    drop(Store::create(name.name(), &StoreOptions::default()).unwrap());
    let (locked, grandchild_started) = (Pipe::new(), Pipe::new());
    let child = fork_child(|| {
        let s = Store::open(name.name()).unwrap();
        let lock = s.test_mutex().unwrap().lock().unwrap();
        // Fork a grandchild that never uses the store and outlives us.
        let grandchild = fork_orphanable(|| {
            // SAFETY: closing this process's copies of stdout and stderr, then sleeping.
            unsafe {
                libc::close(1);
                libc::close(2);
            }
            grandchild_started.send(&getpid().to_le_bytes());
            // SAFETY: sleeping is always allowed.
            unsafe { libc::sleep(5) };
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
    let lock = mutex
        .lock_timeout(Duration::from_secs(3))
        .expect("the dead owner's lock must be recovered while its idle grandchild lives");
    assert!(lock.recovered());
    drop(lock);
    drop(grandchild);
    Store::remove(name.name()).unwrap();
}
