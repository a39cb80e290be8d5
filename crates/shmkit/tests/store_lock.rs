//! The robust mutex excludes across processes under contention, hands the lock on to
//! sleeping waiters (no lost wake-up wedges anyone), and honours timeouts.

mod common;

use common::{TestStore, fork_child, watchdog};
use shmkit::Store;
use shmkit::sync::LockError;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

#[test]
fn contended_lock_excludes_across_processes() {
    let _dog = watchdog(100);
    let store = TestStore::new("lock-contended");
    let counter = store.alloc(16).unwrap();
    const CHILDREN: u64 = 4;
    const ITERS: u64 = 5_000;
    let mut children = Vec::new();
    for _ in 0..CHILDREN {
        let store = store.clone();
        children.push(fork_child(move || {
            let lock = store.test_mutex().unwrap();
            let c = store.get::<AtomicU64>(counter).unwrap();
            let shadow = store.get::<AtomicU64>(counter + 8).unwrap();
            for i in 0..ITERS {
                let g = lock.lock().unwrap();
                // A non-atomic read-modify-write: only correct under mutual exclusion.
                let v = c.load(Ordering::Relaxed);
                if i % 64 == 0 {
                    std::thread::yield_now(); // widen the window
                }
                c.store(v + 1, Ordering::Relaxed);
                shadow.store(shadow.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
                if g.recovered() {
                    return 3;
                }
            }
            0
        }));
    }
    for child in children {
        child.expect_success();
    }
    let c = store
        .get::<AtomicU64>(counter)
        .unwrap()
        .load(Ordering::SeqCst);
    let shadow = store
        .get::<AtomicU64>(counter + 8)
        .unwrap()
        .load(Ordering::SeqCst);
    assert_eq!(c, CHILDREN * ITERS);
    assert_eq!(shadow, CHILDREN * ITERS);
    let raw = store.test_mutex().unwrap().raw();
    assert_eq!(raw.owner(), None, "unlocked at the end");
}

#[test]
fn timeout_while_a_live_process_holds_the_lock() {
    let _dog = watchdog(60);
    let store = TestStore::new("lock-timeout");
    let lock = store.test_mutex().unwrap();
    let held = lock.lock().unwrap();
    let me = store.owner_id();
    let child_store = store.clone();
    let child = fork_child(move || {
        let lock = child_store.test_mutex().unwrap();
        let limit = Duration::from_millis(200);
        match lock.lock_timeout(limit) {
            // Timed out, the holder untouched.
            Err(LockError::Timeout(d)) if d == limit && lock.raw().owner() == Some(me) => 0,
            Err(LockError::Timeout(_)) => 3,
            Ok(_) => 1,
            Err(_) => 2,
        }
    });
    child.expect_success();
    assert!(
        !lock.raw().needs_repair(),
        "nobody declared the holder dead"
    );
    drop(held);
    // A child may now take it (and leaves holding it: recovered for the next one).
    let child_store = store.clone();
    let child = fork_child(move || {
        let lock = child_store.test_mutex().unwrap();
        match lock.lock_timeout(Duration::from_secs(30)) {
            Ok(g) if !g.recovered() => 0,
            _ => 1,
        }
    });
    child.expect_success();
}

#[test]
fn try_lock_and_nested_handles_share_one_owner() {
    let store = TestStore::new("lock-handles");
    let again = Store::open(store.name()).unwrap();
    assert!(store.same_attachment(&again));
    assert_eq!(store.owner_id(), again.owner_id());
    let lock = store.test_mutex().unwrap();
    let g = lock.lock().unwrap();
    // The same process through another handle: the lock is taken, a timed attempt fails.
    let lock2 = again.test_mutex().unwrap();
    assert!(
        lock2
            .raw()
            .try_lock(&NoRegistry(again.owner_id()))
            .is_none()
    );
    assert!(matches!(
        lock2.lock_timeout(Duration::from_millis(50)),
        Err(LockError::Timeout(_))
    ));
    drop(g);
    assert!(lock2.lock_timeout(Duration::from_secs(30)).is_ok());
}

struct NoRegistry(u32);

impl shmkit::sync::OwnerRegistry for NoRegistry {
    fn my_owner_id(&self) -> Result<u32, LockError> {
        Ok(self.0)
    }
    fn is_owner_alive(&self, _: u32) -> bool {
        true
    }
}
