//! Forking while another thread of the parent is inside a store call must not leave the child
//! unable to use the store. The attachment's per-process state sits behind a mutex that is held
//! across system calls (liveness probes while waiting for a lock, `fallocate` while growing,
//! `attached_processes`, `others_attached`); a child forked at that moment inherits the mutex
//! locked by a thread that does not exist in the child, and its first lock operation (which
//! re-attaches after the fork) waits on it forever.

mod common;

use common::{Exit, TestStore, fork_child, watchdog};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

#[test]
fn child_forked_during_a_store_call_in_another_thread_can_lock() {
    let _watchdog = watchdog(120);
    let t = TestStore::new("review-fork-internal-lock");
    let stop = Arc::new(AtomicBool::new(false));
    let busy = {
        let store = t.clone();
        let stop = stop.clone();
        // A monitoring thread, as a supervisor process might run.
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let _ = store.others_attached();
            }
        })
    };
    let mut hung = 0;
    let mut forks = 0;
    while forks < 40 && hung < 3 {
        forks += 1;
        let store = t.clone();
        let mut child = fork_child(move || {
            // SAFETY: a self-destruct timer: a hung child dies of SIGALRM.
            unsafe { libc::alarm(2) };
            let guard = store.test_mutex().unwrap().lock().unwrap();
            drop(guard);
            0
        });
        let exit = child.wait();
        if exit == Exit::Signal(libc::SIGALRM) {
            hung += 1;
        } else {
            assert_eq!(exit, Exit::Code(0), "child failed");
        }
    }
    stop.store(true, Ordering::Relaxed);
    busy.join().unwrap();
    assert_eq!(
        hung, 0,
        "{hung} of {forks} forked children hung on their first lock"
    );
}
