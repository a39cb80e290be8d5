//! A process SIGKILLed while holding a robust mutex never wedges the others: the next
//! process acquires the lock, is told the owner died, and the lock keeps working. Liveness
//! never trusts PIDs: a reused PID does not keep a dead owner "alive", and a live owner is
//! not robbed because its recorded PID looks dead. Nor does the registry slot: when a dead
//! owner's slot belongs to a live process again, the dead owner's lock is still taken over.
//!
//! Lock attempts that must succeed wait up to [`HANG`], a watchdog: a wedged lock fails the
//! test, a slow one does not.

mod common;

use common::{
    Exit, TestStore, dead_pid, fork_child, gettid, process_running, test_mutex_word, wait_until,
    wait_until_waiter_slept, watchdog,
};
use shmkit::store::header::StoreHeader;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

/// How long a lock attempt that must succeed may take before the test calls it wedged.
const HANG: Duration = Duration::from_secs(30);

/// Exit code of a holder that found, when told to release, that it no longer owned the lock.
const ROBBED: i32 = 5;

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
    /// waits to be killed (or, if `release_on` is set, unlocks when the flag reaches it:
    /// exit 0 if it still owned the lock then and nobody had marked it taken over, else
    /// [`ROBBED`]).
    fn spawn_holder(&self, release_on: Option<u64>) -> common::Child {
        let store = self.store.clone();
        let flag = self.flag;
        let child = fork_child(move || {
            let lock = store.test_mutex().unwrap();
            let guard = lock.lock().unwrap();
            let me = store.owner_id();
            let word = store.get::<AtomicU64>(flag).unwrap();
            word.store(me as u64, Ordering::SeqCst);
            loop {
                if let Some(v) = release_on
                    && word.load(Ordering::SeqCst) == v
                {
                    let still_mine = lock.raw().owner() == Some(me) && !lock.raw().needs_repair();
                    drop(guard);
                    return if still_mine { 0 } else { ROBBED };
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
    assert_eq!(
        lock.raw().owner(),
        Some(f.holder_id()),
        "the dead owner's lock"
    );
    let mut guard = lock
        .lock_timeout(HANG)
        .expect("the dead owner's lock is taken over");
    assert!(
        guard.recovered(),
        "the new owner is told the previous one died"
    );
    assert_eq!(lock.raw().owner(), Some(f.store.owner_id()));
    guard.mark_consistent();
    assert!(!guard.recovered());
    drop(guard);
    assert_eq!(lock.raw().owner(), None, "unlocked");
    for _ in 0..3 {
        let guard = lock.lock_timeout(HANG).expect("lock works after recovery");
        assert!(!guard.recovered(), "marked consistent: no longer reported");
    }
    assert!(f.store.verify_allocator().unwrap().is_clean());
}

#[test]
fn a_waiter_already_blocked_is_handed_the_lock_when_the_owner_dies() {
    let _dog = watchdog(90);
    let f = fixture("crash-lock-waiter");
    let holder = f.spawn_holder(None);
    let holder_id = f.holder_id();
    // A second child waits on the lock (it cannot get it while the holder lives).
    let store = f.store.clone();
    let mut waiter = fork_child(move || {
        let lock = store.test_mutex().unwrap();
        match lock.lock() {
            Ok(g) if g.recovered() => 0,
            Ok(_) => 1,
            Err(_) => 2,
        }
    });
    // The waiter is blocked: it set the waiters bit, then went to sleep in the futex.
    let word = test_mutex_word(&f.store);
    assert!(
        wait_until_waiter_slept(word, waiter.pid, 1, HANG, || !process_running(waiter.pid)),
        "the waiter never went to sleep on the lock"
    );
    assert_eq!(
        word.load(Ordering::SeqCst),
        holder_id | common::MUTEX_WAITERS_BIT,
        "the holder still owns the lock, with a waiter"
    );
    assert_eq!(
        waiter.try_wait(Duration::ZERO),
        None,
        "the waiter is still waiting"
    );
    holder.kill_and_wait();
    assert_eq!(waiter.wait_timeout(HANG), Exit::Code(0));
    // The waiter exited (by _exit) while holding the lock: it is recovered again.
    let guard = f.store.test_mutex().unwrap().lock_timeout(HANG).unwrap();
    assert!(guard.recovered());
}

#[test]
fn the_repair_duty_passes_on_when_a_recovering_owner_dies_too() {
    let _dog = watchdog(90);
    let f = fixture("crash-lock-duty");
    f.spawn_holder(None).kill_and_wait();
    // A second child recovers the lock, does not mark it consistent, and is killed.
    f.flag().store(0, Ordering::SeqCst);
    let store = f.store.clone();
    let flag = f.flag;
    let second = fork_child(move || {
        let lock = store.test_mutex().unwrap();
        let guard = lock.lock_timeout(HANG).unwrap();
        let word = store.get::<AtomicU64>(flag).unwrap();
        word.store(if guard.recovered() { 1 } else { 2 }, Ordering::SeqCst);
        loop {
            std::thread::sleep(Duration::from_millis(10));
        }
    });
    assert!(wait_until(HANG, || f.flag().load(Ordering::SeqCst) != 0));
    assert_eq!(
        f.flag().load(Ordering::SeqCst),
        1,
        "the second owner was told"
    );
    second.kill_and_wait();
    let guard = f.store.test_mutex().unwrap().lock_timeout(HANG).unwrap();
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
        .lock_timeout(HANG)
        .expect("wedged: a live process's PID kept a dead owner's lock");
    assert!(guard.recovered());
}

#[test]
fn a_live_owner_whose_pid_looks_dead_is_not_robbed() {
    let _dog = watchdog(90);
    const RELEASE: u64 = u64::MAX - 1;
    let f = fixture("crash-lock-no-rob");
    let mut holder = f.spawn_holder(Some(RELEASE));
    let holder_id = f.holder_id();
    let slot = holder_id & 1023;
    let dead = dead_pid();
    f.store
        .registry_slot(slot)
        .unwrap()
        .pid
        .store(dead, Ordering::SeqCst);
    // A thread of this process waits for the lock, checking the holder's liveness each time
    // one of its sleeps ends.
    let done = AtomicBool::new(false);
    std::thread::scope(|s| {
        let (tid_tx, tid_rx) = std::sync::mpsc::channel();
        let (store, done) = (&f.store, &done);
        let waiter = s.spawn(move || {
            tid_tx.send(gettid()).unwrap();
            let result = store.test_mutex().unwrap().lock_timeout(HANG);
            done.store(true, Ordering::SeqCst);
            result.map(|g| g.recovered())
        });
        let tid = tid_rx.recv().unwrap();
        // Ten sleeps: at least nine liveness probes, each of which found the holder alive.
        let slept = wait_until_waiter_slept(test_mutex_word(&f.store), tid, 10, HANG, || {
            done.load(Ordering::SeqCst)
        });
        let word = test_mutex_word(&f.store).load(Ordering::SeqCst);
        let needs_repair = f.store.test_mutex().unwrap().raw().needs_repair();
        // Release the holder whatever happened, so the waiter thread ends.
        f.flag().store(RELEASE, Ordering::SeqCst);
        let holder_exit = holder.wait_timeout(HANG);
        let recovered = waiter.join().unwrap();
        assert!(
            slept,
            "the waiter stopped waiting while the owner lived: it took the lock ({recovered:?})"
        );
        assert_eq!(
            word & !common::MUTEX_WAITERS_BIT,
            holder_id,
            "after nine probes the live owner still holds the lock"
        );
        assert!(!needs_repair, "nobody declared the live owner dead");
        assert_eq!(
            holder_exit,
            Exit::Code(0),
            "the holder still owned its lock"
        );
        // Once the owner released, the lock was the waiter's, and nothing was "recovered".
        assert!(
            matches!(recovered, Ok(false)),
            "waiter's lock after the release: {recovered:?}"
        );
    });
}

#[test]
fn a_dead_owners_slot_reused_by_a_new_process_does_not_keep_the_lock() {
    let _dog = watchdog(90);
    let f = fixture("crash-lock-slot-reuse");
    let holder = f.spawn_holder(None);
    let dead_owner = f.holder_id();
    let dead_slot = dead_owner & 1023;
    holder.kill_and_wait();
    assert_eq!(
        f.store.sweep_dead_processes(),
        1,
        "the killed holder's slot is freed"
    );
    // Slots are claimed round-robin from `attach_count % slots`: point the next claim at
    // the dead owner's slot.
    f.store
        .get::<StoreHeader>(0)
        .unwrap()
        .registry
        .0
        .attach_count
        .store(u64::from(dead_slot), Ordering::SeqCst);
    // A new process attaches into that slot (with a new generation) and lives on, never
    // touching the lock.
    f.flag().store(0, Ordering::SeqCst);
    let store = f.store.clone();
    let flag = f.flag;
    let mut occupant = fork_child(move || {
        let word = store.get::<AtomicU64>(flag).unwrap();
        word.store(u64::from(store.owner_id()), Ordering::SeqCst);
        loop {
            std::thread::sleep(Duration::from_millis(10));
        }
    });
    assert!(wait_until(HANG, || f.flag().load(Ordering::SeqCst) != 0));
    let occupant_id = f.holder_id();
    assert_eq!(
        occupant_id & 1023,
        dead_slot,
        "the new process was given the dead owner's slot"
    );
    assert_ne!(occupant_id, dead_owner, "with a new generation");
    let lock = f.store.test_mutex().unwrap();
    assert_eq!(
        lock.raw().owner(),
        Some(dead_owner),
        "the dead owner's lock"
    );
    // A third process (this one) must see the old owner id as dead although its slot's
    // liveness lock is held, by the live occupant.
    let result = lock.lock_timeout(HANG);
    let occupant_lived = occupant.try_wait(Duration::ZERO).is_none();
    let guard = result.expect(
        "wedged: the lock of a dead owner whose slot now belongs to a live process was never \
         taken over",
    );
    assert!(
        guard.recovered(),
        "the new owner is told the previous one died"
    );
    assert!(
        occupant_lived,
        "the slot's new occupant was alive throughout"
    );
    drop(guard);
    assert_eq!(occupant.kill_and_wait(), Exit::Signal(libc::SIGKILL));
}

#[test]
fn killing_holders_repeatedly_never_wedges() {
    let _dog = watchdog(200);
    const ROUNDS: u32 = 20;
    let f = fixture("crash-lock-repeat");
    let lock = f.store.test_mutex().unwrap();
    for round in 0..ROUNDS {
        f.flag().store(0, Ordering::SeqCst);
        f.spawn_holder(None).kill_and_wait();
        let mut g = lock
            .lock_timeout(HANG)
            .unwrap_or_else(|e| panic!("round {round}: {e}"));
        assert!(g.recovered(), "round {round}");
        g.mark_consistent();
    }
    // Each holder took a free slot of its own (1024 slots, claimed round-robin) and died in
    // it; nothing swept them yet.
    assert_eq!(f.store.sweep_dead_processes(), ROUNDS);
    assert_eq!(f.store.sweep_dead_processes(), 0);
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
    let mut waiter = fork_child(move || {
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        let waker = {
            let (stop, store) = (stop.clone(), store.clone());
            std::thread::spawn(move || {
                let word = test_mutex_word(&store);
                while !stop.load(Ordering::Relaxed) {
                    shmkit::sync::futex::wake_all(word);
                    std::hint::spin_loop();
                }
            })
        };
        let guard = store.test_mutex().unwrap().lock().unwrap(); // no timeout
        stop.store(true, Ordering::Relaxed);
        if waker.join().is_err() {
            return 2;
        }
        if guard.recovered() { 0 } else { 1 }
    });
    assert_eq!(waiter.wait_timeout(HANG), Exit::Code(0));
}
