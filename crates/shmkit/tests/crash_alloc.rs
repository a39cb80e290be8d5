//! A process SIGKILLed anywhere inside `alloc`/`free` leaves the store usable: the next
//! process recovers the allocator locks it held, `verify` finds no damage (leaks are
//! allowed and reported), and `repair` relinks leaked free blocks.

mod common;

use common::{Exit, Rng, TestStore, fork_child, wait_until, watchdog};
use shmkit::store::alloc::{BlockHeader, TAG_FREE};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

fn size_for(rng: &mut Rng) -> u64 {
    match rng.below(20) {
        0 => 20_000 + rng.below(500_000), // large blocks: carved one by one, may grow the file
        1..=4 => rng.below(16_000),
        _ => rng.below(512),
    }
}

#[test]
fn sigkill_inside_alloc_and_free_200_times() {
    let _dog = watchdog(110);
    let store = TestStore::new("crash-alloc");
    let progress = store.alloc(8).unwrap();
    let mut rng = Rng(0xC0FFEE);
    let (mut saw_leaks, mut saw_recovered) = (0u64, 0u64);
    for round in 0..200u64 {
        let counter = store.get::<AtomicU64>(progress).unwrap();
        counter.store(0, Ordering::SeqCst);
        let child_store = store.clone();
        let seed = rng.next();
        let child = fork_child(move || {
            let mut rng = Rng(seed | 1);
            let counter = child_store.get::<AtomicU64>(progress).unwrap();
            let mut mine = Vec::new();
            loop {
                if mine.len() < 16 && rng.below(2) == 0 {
                    mine.push(child_store.alloc(size_for(&mut rng)).unwrap());
                } else if !mine.is_empty() {
                    let k = rng.below(mine.len() as u64) as usize;
                    child_store.free(mine.swap_remove(k)).unwrap();
                }
                counter.fetch_add(1, Ordering::Relaxed);
            }
        });
        // Let it get going, then kill it at a random moment.
        assert!(wait_until(Duration::from_secs(20), || counter
            .load(Ordering::Relaxed)
            > 0));
        std::thread::sleep(Duration::from_micros(rng.below(3000)));
        assert_eq!(child.kill_and_wait(), Exit::Signal(libc::SIGKILL));

        // The store is usable from here: allocate and free every kind of size.
        let mut mine = Vec::new();
        for _ in 0..8 {
            let size = size_for(&mut rng);
            let off = store
                .alloc(size)
                .unwrap_or_else(|e| panic!("round {round}: alloc: {e}"));
            store.write_bytes(off, &vec![0xAB; size as usize]).unwrap();
            mine.push(off);
        }
        for off in mine {
            store
                .free(off)
                .unwrap_or_else(|e| panic!("round {round}: free: {e}"));
        }
        let report = store.verify().unwrap();
        assert!(report.is_clean(), "round {round}: {report:?}");
        saw_leaks += report.leaked_free_blocks;
        saw_recovered += report.locks_needing_repair;
        if round % 50 == 49 {
            let repaired = store.repair().unwrap();
            assert!(repaired.is_clean(), "round {round}: {repaired:?}");
            let after = store.verify().unwrap();
            assert!(after.is_clean());
            assert_eq!(
                after.leaked_free_blocks, 0,
                "repair relinked every leaked free block"
            );
            assert_eq!(after.locks_needing_repair, 0);
        }
    }
    assert_eq!(
        store.attached_processes().unwrap().len(),
        1,
        "dead children are not listed"
    );
    eprintln!(
        "200 kills: verify saw {saw_leaks} leaked free blocks and {saw_recovered} allocator \
         locks left by a dead owner"
    );
}

#[test]
fn repair_relinks_a_block_tagged_free_but_on_no_list() {
    // The exact state a process killed in `free` between tagging the block free and
    // pushing it leaves behind, forged through the shared header.
    let store = TestStore::new("crash-alloc-leak");
    let keep = store.alloc(100).unwrap();
    let leaked = store.alloc(100).unwrap();
    let header = store.get::<BlockHeader>(leaked - 16).unwrap();
    header.link.store(0, Ordering::SeqCst);
    header.tag.store(TAG_FREE, Ordering::SeqCst);

    let report = store.verify().unwrap();
    assert!(report.is_clean(), "a leak is not damage: {report:?}");
    assert_eq!(report.leaked_free_blocks, 1);
    assert_eq!(
        report.leaked_free_bytes,
        store.block_capacity(keep).unwrap() + 16
    );

    let repaired = store.repair().unwrap();
    assert!(!repaired.repaired.is_empty(), "repair says what it did");
    assert_eq!(store.verify().unwrap().leaked_free_blocks, 0);
    // The relinked block is handed out again.
    let mut again = Vec::new();
    for _ in 0..10_000 {
        let off = store.alloc(100).unwrap();
        again.push(off);
        if off == leaked {
            break;
        }
    }
    assert_eq!(again.last(), Some(&leaked), "the leaked block was reused");
}

#[test]
fn a_dead_allocators_locks_are_recovered_by_the_next_alloc_and_free() {
    let _dog = watchdog(60);
    let store = TestStore::new("crash-alloc-lock");
    // A child runs verify() in a loop, which takes every size-class lock and the heap lock,
    // and is killed while (almost certainly) holding some of them.
    let flag = store.alloc(8).unwrap();
    let child_store = store.clone();
    let child = fork_child(move || {
        child_store
            .get::<AtomicU64>(flag)
            .unwrap()
            .store(1, Ordering::SeqCst);
        loop {
            let _ = child_store.verify();
        }
    });
    assert!(wait_until(Duration::from_secs(20), || {
        store.get::<AtomicU64>(flag).unwrap().load(Ordering::SeqCst) == 1
    }));
    std::thread::sleep(Duration::from_millis(20));
    child.kill_and_wait();
    for size in [1, 100, 1000, 10_000, 100_000] {
        let off = store.alloc(size).unwrap();
        store.free(off).unwrap();
    }
    let report = store.verify().unwrap();
    assert!(report.is_clean(), "{report:?}");
}
