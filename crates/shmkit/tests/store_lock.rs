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

#[test]
fn lock_states_name_a_dead_holders_locks_and_recovery_clears_them() {
    let _dog = watchdog(60);
    let t = TestStore::new("lock-states");
    let map = t.map(2);
    map.set(b"k", b"v").unwrap();
    let ready = common::Pipe::new();
    let s = t.clone();
    let m = map.clone();
    let child = fork_child(|| {
        let guard = s.test_mutex().unwrap().lock().unwrap();
        std::mem::forget(guard);
        let _ = m.update(b"k", |_| {
            ready.send(b"H");
            loop {
                std::thread::park(); // until SIGKILLed
            }
        });
        0
    });
    ready.read_exact(1);
    let live = t.lock_states();
    assert!(
        live.iter().all(|l| !l.owner_dead),
        "a live holder is never called dead: {live:?}"
    );
    assert_eq!(
        live.iter().filter(|l| l.owner.is_some()).count(),
        2,
        "{live:?}"
    );
    child.kill_and_wait();
    let abandoned: Vec<String> = t
        .lock_states()
        .into_iter()
        .filter(|l| l.is_abandoned())
        .map(|l| l.name)
        .collect();
    assert_eq!(abandoned.len(), 2, "{abandoned:?}");
    assert!(
        abandoned.contains(&"test mutex".to_string()),
        "{abandoned:?}"
    );
    assert!(
        abandoned
            .iter()
            .any(|n| n.starts_with("hash_map \"m\" shard")),
        "{abandoned:?}"
    );
    // Only the all-or-nothing ones are recovered here; the shard by the map's own repair.
    let (done, stuck) = t.recover_abandoned_locks(Duration::from_secs(5));
    assert_eq!((done.len(), stuck.len()), (1, 0), "{done:?} {stuck:?}");
    assert!(map.repair().unwrap().is_clean());
    assert!(t.lock_states().iter().all(|l| !l.is_abandoned()));
}
