//! `Store::repair` frees leaked blocks only under exclusive use of the store: while another
//! process is attached nothing is freed (it may hold a block it has not published yet), and
//! once it is gone the same repair frees the leak. Attaching waits while a repair's sweep
//! holds the store exclusively, and works once the sweep is over.

mod common;

use common::{Pipe, TestStore, fork_child, watchdog};
use shmkit::Store;
use shmkit::maintenance::check::NotRepairedBecause;

#[test]
fn leaked_blocks_are_freed_only_when_no_other_process_is_attached() {
    let _dog = watchdog(120);
    let t = TestStore::new("repair-exclusive");
    t.hash_map("m").unwrap().set(b"k", b"v").unwrap();
    let stray = t.alloc(100).unwrap();
    let mut attached = Pipe::new();
    let mut release = Pipe::new();
    let name = t.name().to_string();
    let child = fork_child(|| {
        attached.close_read();
        release.close_write();
        // A process of its own: its own attachment, its own "attached" lock.
        let Ok(store) = Store::open(&name) else {
            return 1;
        };
        store.owner_id();
        attached.send(b"a");
        release.wait_closed();
        drop(store);
        0
    });
    attached.close_write();
    release.close_read();
    assert_eq!(attached.read_exact(1), b"a");
    let r = t.repair();
    assert!(
        r.not_repaired
            .iter()
            .any(|n| n.because == NotRepairedBecause::Skipped
                && n.what.contains("other processes are attached")),
        "{r:?}"
    );
    assert!(!r.repaired.iter().any(|s| s.contains("leaked")), "{r:?}");
    assert_eq!(t.find_unreachable().unwrap().unreachable, vec![stray]);
    release.close_write();
    child.expect_success();
    let r = t.repair();
    assert!(
        r.repaired
            .iter()
            .any(|s| s.contains("freed 1 leaked block")),
        "{r:?}"
    );
    assert!(r.after.is_clean(), "{r:?}");
    // The attached lock is shared again: another process can attach.
    let name = t.name().to_string();
    // (A forked child attaches for itself on its first use: it gets an owner id only once
    // it holds the shared "attached" lock.)
    fork_child(move || i32::from(Store::open(&name).map_or(true, |s| s.owner_id() == 0)))
        .expect_success();
}

/// A repair in one thread while another thread of the same process writes: the sweep waits
/// for the writer's allocated-but-unpublished blocks (the sweep gate), so it never frees a
/// block that is about to be published, and every value stays what was written.
#[test]
fn a_repair_never_frees_a_block_another_thread_is_about_to_publish() {
    let _dog = watchdog(300);
    let t = TestStore::new("repair-threads");
    let map = t.hash_map("m").unwrap();
    let stop = std::sync::atomic::AtomicBool::new(false);
    /// Stops the writer also when an assertion fails (the scope waits for it).
    struct StopOnDrop<'a>(&'a std::sync::atomic::AtomicBool);
    impl Drop for StopOnDrop<'_> {
        fn drop(&mut self) {
            self.0.store(true, std::sync::atomic::Ordering::Relaxed);
        }
    }
    // Large values: a writer builds its record before it takes the shard lock, so the window
    // in which its block is allocated and unpublished is long enough to be hit.
    let value =
        |key: u32, round: u32| vec![(key ^ round) as u8; 20_000 + 100 * (key % 300) as usize];
    std::thread::scope(|s| {
        let writer = s.spawn(|| {
            let mut round = 0u32;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                for key in 0..50u32 {
                    map.set(&key.to_le_bytes(), &value(key, round)).unwrap();
                }
                round += 1;
            }
            round
        });
        let stopper = StopOnDrop(&stop);
        for i in 0..300 {
            let r = t.repair();
            assert!(
                r.not_repaired.is_empty(),
                "repair {i}: {:?}",
                r.not_repaired
            );
            assert!(
                r.after.count(shmkit::maintenance::check::Severity::Problem) == 0,
                "repair {i}: {:#?}",
                r.after.findings
            );
        }
        drop(stopper);
        let rounds = writer.join().unwrap();
        assert!(rounds > 0);
        for key in 0..50u32 {
            assert_eq!(
                map.get(&key.to_le_bytes()).unwrap(),
                Some(value(key, rounds - 1)),
                "key {key}"
            );
        }
    });
    let last = t.repair();
    assert!(last.after.is_clean(), "{last:?}");
}
