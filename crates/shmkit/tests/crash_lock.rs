//! A process SIGKILLed while holding a robust mutex never wedges the others: the next
//! process acquires the lock (within 1 s), is told the owner died, and the lock keeps
//! working. Liveness never trusts PIDs: a reused PID does not keep a dead owner "alive",
//! and a live owner is not robbed because its recorded PID looks dead.

mod common;

use common::{Exit, TestStore, dead_pid, fork_child, wait_until, watchdog};
use shmkit::store::header::{RegistryState, StoreHeader};
use shmkit::sync::LockError;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

const ONE_SECOND: Duration = Duration::from_secs(1);

struct Fixture {
    store: TestStore,
    /// A shared word children use to say what they are doing.
    flag: u64,
}

fn fixture(test: &str) -> Fixture {
    let store = TestStore::new(test);
    let flag = store.alloc(8).unwrap();
    store
        .get::<AtomicU64>(flag)
        .unwrap()
        .store(0, Ordering::SeqCst);
    Fixture { store, flag }
}

impl Fixture {
    fn flag(&self) -> &AtomicU64 {
        self.store.get::<AtomicU64>(self.flag).unwrap()
    }

    /// Forks a child that takes the test mutex, publishes its owner id in the flag, and
    /// waits to be killed (or, if `release_on` is set, unlocks when the flag reaches it).
    fn spawn_holder(&self, release_on: Option<u64>) -> common::Child {
        let store = self.store.clone();
        let flag = self.flag;
        let child = fork_child(move || {
            let lock = store.test_mutex().unwrap();
            let guard = lock.lock().unwrap();
            let word = store.get::<AtomicU64>(flag).unwrap();
            word.store(store.owner_id() as u64, Ordering::SeqCst);
            loop {
                if let Some(v) = release_on
                    && word.load(Ordering::SeqCst) == v
                {
                    drop(guard);
                    return 0;
                }
                std::thread::sleep(Duration::from_millis(1));
            }
        });
        assert!(
            wait_until(Duration::from_secs(20), || self
                .flag()
                .load(Ordering::SeqCst)
                != 0),
            "the child never took the lock"
        );
        child
    }

    /// The owner id the last holder published.
    fn holder_id(&self) -> u32 {
        self.flag().load(Ordering::SeqCst) as u32
    }
}

#[test]
fn killed_owner_is_detected_and_the_lock_keeps_working() {
    let _dog = watchdog(60);
    let f = fixture("crash-lock-basic");
    let holder = f.spawn_holder(None);
    assert_ne!(
        f.holder_id(),
        f.store.owner_id(),
        "the child has its own owner id"
    );
    assert_eq!(holder.kill_and_wait(), Exit::Signal(libc::SIGKILL));

    let lock = f.store.test_mutex().unwrap();
    let mut guard = lock
        .lock_timeout(ONE_SECOND)
        .expect("dead owner's lock acquired within 1 s");
    assert!(
        guard.recovered(),
        "the new owner is told the previous one died"
    );
    guard.mark_consistent();
    assert!(!guard.recovered());
    drop(guard);
    for _ in 0..3 {
        let guard = lock
            .lock_timeout(ONE_SECOND)
            .expect("lock works after recovery");
        assert!(!guard.recovered(), "marked consistent: no longer reported");
    }
    assert!(f.store.verify().unwrap().is_clean());
}

#[test]
fn a_waiter_already_blocked_is_handed_the_lock_when_the_owner_dies() {
    let _dog = watchdog(60);
    let f = fixture("crash-lock-waiter");
    let holder = f.spawn_holder(None);
    let holder_id = f.holder_id();
    // A second child waits on the lock (it cannot get it while the holder lives).
    let store = f.store.clone();
    let flag = f.flag;
    let mut waiter = fork_child(move || {
        let word = store.get::<AtomicU64>(flag).unwrap();
        word.store(u64::MAX, Ordering::SeqCst); // "waiting"
        let lock = store.test_mutex().unwrap();
        match lock.lock_timeout(Duration::from_secs(20)) {
            Ok(g) if g.recovered() => 0,
            Ok(_) => 1,
            Err(_) => 2,
        }
    });
    assert!(wait_until(Duration::from_secs(20), || f
        .flag()
        .load(Ordering::SeqCst)
        == u64::MAX));
    // Let it sleep in the futex for a while before the owner dies.
    std::thread::sleep(Duration::from_millis(300));
    assert!(f.store.test_mutex().unwrap().raw().owner() == Some(holder_id));
    holder.kill_and_wait();
    assert_eq!(waiter.wait_timeout(Duration::from_secs(30)), Exit::Code(0));
    // The waiter exited (by _exit) while holding the lock: it is recovered again.
    let guard = f
        .store
        .test_mutex()
        .unwrap()
        .lock_timeout(ONE_SECOND)
        .unwrap();
    assert!(guard.recovered());
}

#[test]
fn the_repair_duty_passes_on_when_a_recovering_owner_dies_too() {
    let _dog = watchdog(60);
    let f = fixture("crash-lock-duty");
    f.spawn_holder(None).kill_and_wait();
    // A second child recovers the lock, does not mark it consistent, and is killed.
    f.flag().store(0, Ordering::SeqCst);
    let store = f.store.clone();
    let flag = f.flag;
    let second = fork_child(move || {
        let lock = store.test_mutex().unwrap();
        let guard = lock.lock_timeout(Duration::from_secs(5)).unwrap();
        let word = store.get::<AtomicU64>(flag).unwrap();
        word.store(if guard.recovered() { 1 } else { 2 }, Ordering::SeqCst);
        loop {
            std::thread::sleep(Duration::from_millis(10));
        }
    });
    assert!(wait_until(Duration::from_secs(20), || f
        .flag()
        .load(Ordering::SeqCst)
        != 0));
    assert_eq!(
        f.flag().load(Ordering::SeqCst),
        1,
        "the second owner was told"
    );
    second.kill_and_wait();
    let guard = f
        .store
        .test_mutex()
        .unwrap()
        .lock_timeout(ONE_SECOND)
        .unwrap();
    assert!(
        guard.recovered(),
        "still needs repair: nobody marked it consistent"
    );
}

#[test]
fn a_dead_owners_reused_pid_does_not_wedge_the_lock() {
    let _dog = watchdog(60);
    let f = fixture("crash-lock-pid-reuse");
    let holder = f.spawn_holder(None);
    let slot = f.holder_id() & 1023;
    holder.kill_and_wait();
    // Pretend the dead child's PID now belongs to a live process (this one).
    f.store
        .registry_slot(slot)
        .unwrap()
        .pid
        .store(std::process::id(), Ordering::SeqCst);
    let guard = f
        .store
        .test_mutex()
        .unwrap()
        .lock_timeout(ONE_SECOND)
        .expect("no wedge");
    assert!(guard.recovered());
}

#[test]
fn a_live_owner_whose_pid_looks_dead_is_not_robbed() {
    let _dog = watchdog(60);
    let f = fixture("crash-lock-no-rob");
    let mut holder = f.spawn_holder(Some(u64::MAX - 1));
    let slot = f.holder_id() & 1023;
    let dead = dead_pid();
    f.store
        .registry_slot(slot)
        .unwrap()
        .pid
        .store(dead, Ordering::SeqCst);
    let lock = f.store.test_mutex().unwrap();
    match lock.lock_timeout(Duration::from_millis(300)) {
        Err(LockError::Timeout(_)) => {}
        Ok(_) => panic!("a live owner was robbed of its lock"),
        Err(e) => panic!("{e}"),
    }
    // Once the owner releases, the lock is ours, and nothing was "recovered".
    f.flag().store(u64::MAX - 1, Ordering::SeqCst);
    assert_eq!(holder.wait_timeout(Duration::from_secs(20)), Exit::Code(0));
    let guard = lock.lock_timeout(Duration::from_secs(5)).unwrap();
    assert!(!guard.recovered());
}

#[test]
fn a_dead_owners_slot_reused_by_a_new_process_does_not_keep_the_lock() {
    let _dog = watchdog(60);
    let f = fixture("crash-lock-slot-reuse");
    let holder = f.spawn_holder(None);
    let dead_owner = f.holder_id();
    holder.kill_and_wait();
    assert!(f.store.sweep_dead_processes() >= 1);
    // A new child attaches, most likely into the same (lowest free) slot, with a new
    // generation; it must treat the old owner id as dead and take the lock over.
    let store = f.store.clone();
    let mut child = fork_child(move || {
        let slot_reused = (store.owner_id() & 1023) == (dead_owner & 1023);
        let lock = store.test_mutex().unwrap();
        match lock.lock_timeout(Duration::from_secs(2)) {
            Ok(g) if g.recovered() && slot_reused => 0,
            Ok(g) if g.recovered() => 3,
            Ok(_) => 1,
            Err(_) => 2,
        }
    });
    let exit = child.wait_timeout(Duration::from_secs(30));
    assert!(matches!(exit, Exit::Code(0) | Exit::Code(3)), "{exit:?}");
}

#[test]
fn killing_holders_repeatedly_never_wedges() {
    let _dog = watchdog(100);
    let f = fixture("crash-lock-repeat");
    let lock = f.store.test_mutex().unwrap();
    for round in 0..20 {
        f.flag().store(0, Ordering::SeqCst);
        f.spawn_holder(None).kill_and_wait();
        let mut g = lock
            .lock_timeout(ONE_SECOND)
            .unwrap_or_else(|e| panic!("round {round}: {e}"));
        assert!(g.recovered(), "round {round}");
        g.mark_consistent();
    }
    assert!(f.store.sweep_dead_processes() <= 20);
    assert_eq!(f.store.attached_processes().unwrap().len(), 1);
}

#[test]
fn a_waiter_woken_again_and_again_still_detects_a_dead_owner() {
    // A waiter whose futex sleeps keep ending early (signals from profilers or interval
    // timers, wake-ups meant for others) must still notice that the owner died, not go
    // back to sleep for ever. Here another thread wakes the futex word in a tight loop.
    let _dog = watchdog(60);
    let f = fixture("crash-lock-woken");
    let holder = f.spawn_holder(None);
    holder.kill_and_wait();
    let store = f.store.clone();
    // The test mutex's futex word is its first field, inside the header's registry line.
    let word_offset = (std::mem::offset_of!(StoreHeader, registry)
        + std::mem::offset_of!(RegistryState, test_mutex)) as u64;
    let mut waiter = fork_child(move || {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let waker = {
            let (stop, store) = (stop.clone(), store.clone());
            std::thread::spawn(move || {
                let word: &AtomicU32 = store.get(word_offset).unwrap();
                while !stop.load(Ordering::Relaxed) {
                    shmkit::sync::futex::wake_all(word);
                    std::hint::spin_loop();
                }
            })
        };
        let guard = store.test_mutex().unwrap().lock().unwrap(); // no timeout
        stop.store(true, Ordering::Relaxed);
        let _ = waker.join();
        if guard.recovered() { 0 } else { 1 }
    });
    assert_eq!(waiter.wait_timeout(Duration::from_secs(20)), Exit::Code(0));
}
