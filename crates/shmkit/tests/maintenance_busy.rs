//! Checks and repairs never wait for ever behind a live process that holds a lock: a map
//! shard or an allocator lock held by a stopped process is reported busy (the report is not
//! clean), the rest is still checked, and once the holder is gone the same check is clean.

mod common;

use common::{Pipe, TestStore, fork_child, watchdog};
use shmkit::FreeError;
use shmkit::UpdateAction;
use shmkit::store::alloc::SizeClass;
use shmkit::store::alloc_classes::class_for;
use std::time::Duration;

fn stop(pid: libc::pid_t) {
    // SAFETY: a plain system call on our own child's pid.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGSTOP) }, 0);
}

#[test]
fn a_map_shard_held_by_a_stopped_process_is_busy() {
    let _dog = watchdog(120);
    let t = TestStore::new("busy-shard");
    let map = t.map(4);
    for i in 0..400u32 {
        map.set(&i.to_le_bytes(), b"v").unwrap();
    }
    let ready = Pipe::new();
    let m = map.clone();
    let holder = fork_child(|| {
        let _ = m.update(&7u32.to_le_bytes(), |_| {
            ready.send(b"H");
            loop {
                std::thread::park();
            }
            #[allow(unreachable_code)]
            UpdateAction::Keep
        });
        0
    });
    ready.read_exact(1);
    stop(holder.pid);
    let report = map.verify().unwrap();
    assert_eq!(report.busy.len(), 1, "{report:?}");
    assert!(
        report.busy[0].contains("locked by a live process"),
        "{report:?}"
    );
    assert!(
        !report.is_clean(),
        "a check that skipped a shard is not clean"
    );
    assert!(report.problems.is_empty(), "{report:?}");
    assert!(
        report.entries > 0 && report.entries < 400,
        "the other shards were counted, the busy one not: {}",
        report.entries
    );
    let repair = map.repair().unwrap();
    assert_eq!(repair.busy.len(), 1, "{repair:?}");
    assert!(
        map.owned_blocks(&mut |_| {}).is_err(),
        "the block walk needs every shard: it must fail, not hang"
    );
    holder.kill_and_wait();
    let report = map.verify().unwrap();
    assert!(report.is_clean(), "{report:?}");
    assert_eq!(report.entries, 400);
}

#[test]
fn an_allocator_lock_held_by_a_stopped_process_is_busy() {
    let _dog = watchdog(120);
    let t = TestStore::new("busy-class");
    let offset = t.header().class_table_offset;
    assert_eq!(class_for(1), Some(0));
    let block = t.alloc(1).unwrap(); // a block of size class 0
    let ready = Pipe::new();
    let s = t.clone();
    let holder = fork_child(|| {
        let class: &SizeClass = s.get(offset).unwrap();
        let guard = s.lock(&class.lock).unwrap();
        ready.send(b"H");
        std::mem::forget(guard);
        loop {
            std::thread::park();
        }
    });
    ready.read_exact(1);
    stop(holder.pid);
    for report in [t.verify_allocator().unwrap(), t.repair_allocator().unwrap()] {
        assert_eq!(report.busy.len(), 1, "{report:?}");
        assert!(report.busy[0].contains("size class 0"), "{report:?}");
        assert!(!report.is_clean());
    }
    assert_eq!(
        t.free_within(block, Duration::from_millis(200)),
        Err(FreeError::Busy(block))
    );
    holder.kill_and_wait();
    t.free_within(block, Duration::from_millis(200)).unwrap();
    // The holder died: its lock is taken over (and counted as needing repair) — not busy.
    let report = t.repair_allocator().unwrap();
    assert!(report.busy.is_empty(), "{report:?}");
    assert!(t.verify_allocator().unwrap().is_clean());
}
