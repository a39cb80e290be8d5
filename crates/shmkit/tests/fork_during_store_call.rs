//! Forking while another thread of the parent is inside a store call must not leave the child
//! unable to use the store. The attachment's per-process state sits behind a mutex that is held
//! across system calls (liveness probes while waiting for a lock, `fallocate` while growing,
//! `attached_processes`, `others_attached`); a child forked at that moment inherits the mutex
//! locked by a thread that does not exist in the child, and its first lock operation (which
//! re-attaches after the fork) waits on it forever. The fork gate keeps forks out of those
//! sections.

mod common;

use common::{Exit, TestStore, fork_child, watchdog};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// How long a child may take for one lock and unlock before it counts as hung (a watchdog).
const HANG: Duration = Duration::from_secs(30);

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
            let mut calls = 0u64;
            while !stop.load(Ordering::Relaxed) {
                // Whether another process is attached is not the point: the call holds the
                // attachment's process-local state while it asks the kernel.
                let _ = store.others_attached();
                calls += 1;
            }
            calls
        })
    };
    let mut outcomes = Vec::new();
    for _ in 0..40 {
        let store = t.clone();
        let mut child = fork_child(move || {
            let guard = store.test_mutex().unwrap().lock().unwrap();
            drop(guard);
            0
        });
        let exit = child.try_wait(HANG);
        if exit.is_none() {
            child.kill();
        }
        outcomes.push(exit);
        if exit != Some(Exit::Code(0)) {
            break; // a hung or failed child: no need to fork more
        }
    }
    stop.store(true, Ordering::Relaxed);
    let calls = busy.join().unwrap();
    assert!(calls > 0, "the busy thread never ran a store call");
    assert!(
        outcomes.iter().all(|e| *e == Some(Exit::Code(0))),
        "a forked child hung (None) or failed on its first lock: {outcomes:?}"
    );
}
