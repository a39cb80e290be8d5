//! A child forked while another thread attaches to (or detaches from) a store must not keep the
//! parent's liveness locks. The lock descriptor is registered with the fork handler only after
//! `claim_slot` has taken the locks on it (and unregistered before it is closed), so a fork in
//! that window leaves the child holding the parent's open file description, locks included:
//! the parent's slot then looks alive for as long as the child lives, whatever the parent does.

mod common;

use common::{StoreGuard, fork_child, watchdog};
use shmkit::{Store, StoreOptions};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

#[test]
fn children_forked_during_attach_and_detach_hold_no_liveness_locks() {
    let _watchdog = watchdog(120);
    let guard = StoreGuard::new("review-fork-fd-window");
    let name = guard.name().to_string();
    drop(Store::create(&name, &StoreOptions::default()).unwrap());
    let mut leaked_rounds = 0;
    let rounds = 10;
    for _ in 0..rounds {
        let stop = Arc::new(AtomicBool::new(false));
        let churn = {
            let (stop, name) = (stop.clone(), name.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let store = Store::open(&name).unwrap();
                    let _ = store.owner_id();
                    drop(store);
                }
            })
        };
        let mut children = Vec::new();
        for _ in 0..20 {
            children.push(fork_child(|| {
                // SAFETY: the child never touches the store; it sleeps until killed (or for
                // at most 20 s).
                unsafe { libc::sleep(20) };
                0
            }));
            std::thread::sleep(Duration::from_micros(300));
        }
        stop.store(true, Ordering::Relaxed);
        churn.join().unwrap();
        // No process is attached now: the children never used the store, and every attachment
        // of this process has been dropped.
        if Store::is_in_use(&name).unwrap() {
            leaked_rounds += 1;
        }
        for child in children {
            child.kill_and_wait();
        }
    }
    drop(guard);
    assert_eq!(
        leaked_rounds, 0,
        "in {leaked_rounds} of {rounds} rounds a child that never used the store held the \
         parent's attach lock"
    );
}
