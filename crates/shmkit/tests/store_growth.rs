//! Growth without remapping: a store grown by one process to >= 1 GiB is used at once by
//! processes attached earlier, and references taken before the growth stay valid.

mod common;

use common::{Exit, Rng, TestStore, fork_child, wait_until, watchdog};
use shmkit::{AllocError, StoreOptions};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

const GIB: u64 = 1 << 30;

#[test]
fn growth_to_one_gib_is_seen_by_earlier_attachments_without_remapping() {
    let _dog = watchdog(100);
    let store = TestStore::new("growth-gib");
    let before = store.committed_len();
    // A reference into the store taken before the growth, and a mailbox for the child.
    let cell = store.alloc(32).unwrap();
    let counter: &AtomicU64 = store.get(cell).unwrap();
    let mailbox: &AtomicU64 = store.get(cell + 8).unwrap();
    let addr_before = counter as *const AtomicU64 as usize;
    counter.store(1, Ordering::SeqCst);

    let child_store = store.clone();
    let mut child = fork_child(move || {
        // The child grows the store past 1 GiB with one big block, writes a marker on
        // pages spread across the new region, and bumps the parent's old reference.
        let big = match child_store.alloc(GIB) {
            Ok(off) => off,
            Err(e) => {
                eprintln!("alloc 1 GiB: {e}");
                return 1;
            }
        };
        for i in 0..16u64 {
            let at = big + i * (GIB / 16) + 4096;
            child_store
                .write_bytes(at, &(at ^ 0x5A5A).to_le_bytes())
                .unwrap();
        }
        let last = big + GIB - 8;
        child_store.write_bytes(last, &last.to_le_bytes()).unwrap();
        let c: &AtomicU64 = child_store.get(cell).unwrap();
        c.fetch_add(1, Ordering::SeqCst);
        child_store
            .get::<AtomicU64>(cell + 8)
            .unwrap()
            .store(big, Ordering::SeqCst);
        // Wait for the parent's writes in the new region.
        let reply = cell + 16;
        let r: &AtomicU64 = child_store.get(reply).unwrap();
        if !wait_until(Duration::from_secs(30), || r.load(Ordering::SeqCst) != 0) {
            return 2;
        }
        let mut buf = [0u8; 8];
        child_store.read_bytes(big + GIB / 2, &mut buf).unwrap();
        if u64::from_le_bytes(buf) != 0xFEED {
            3
        } else {
            0
        }
    });
    assert!(wait_until(Duration::from_secs(60), || mailbox
        .load(Ordering::SeqCst)
        != 0));
    let big = mailbox.load(Ordering::SeqCst);
    // The parent attached before the growth and reads/writes the new region directly. Its
    // view of the committed length is still the one from before the growth, and nothing
    // refreshes it first (no `committed_len()` call): the bounds check of the first read
    // must notice the growth by itself.
    for i in 0..16u64 {
        let at = big + i * (GIB / 16) + 4096;
        let mut buf = [0u8; 8];
        store.read_bytes(at, &mut buf).unwrap();
        assert_eq!(u64::from_le_bytes(buf), at ^ 0x5A5A);
    }
    let mut buf = [0u8; 8];
    store.read_bytes(big + GIB - 8, &mut buf).unwrap();
    assert_eq!(u64::from_le_bytes(buf), big + GIB - 8);
    store
        .write_bytes(big + GIB / 2, &0xFEEDu64.to_le_bytes())
        .unwrap();
    let far: &AtomicU64 = store.get(big + GIB - 64).unwrap();
    far.store(42, Ordering::SeqCst);
    assert!(
        store.committed_len() >= GIB + before,
        "committed {}",
        store.committed_len()
    );
    store
        .get::<AtomicU64>(cell + 16)
        .unwrap()
        .store(1, Ordering::SeqCst);
    assert_eq!(child.wait_timeout(Duration::from_secs(60)), Exit::Code(0));
    // The old reference is the same address, still valid, and saw the child's write.
    assert_eq!(counter as *const AtomicU64 as usize, addr_before);
    assert_eq!(counter.load(Ordering::SeqCst), 2);
    assert!(store.grow_count() >= 1);
    assert_eq!(store.block_capacity(big).unwrap(), GIB);
    store.free(big).unwrap();
    assert!(store.verify_allocator().unwrap().is_clean());
}

#[test]
fn concurrent_growth_from_many_processes() {
    let _dog = watchdog(100);
    let store = TestStore::new("growth-race");
    let mut children = Vec::new();
    for c in 0..4u64 {
        let s = store.clone();
        children.push(fork_child(move || {
            let mut rng = Rng::new(c + 1);
            let mut last_committed = 0;
            for i in 0..25u64 {
                let size = (1 << 20) + rng.below(4 << 20);
                let off = if i % 3 == 0 {
                    // Grow explicitly, racing the others' growth by allocation.
                    let target = s.committed_len() + rng.below(8 << 20);
                    if s.grow_to(target).is_err() || s.committed_len() < target {
                        return 1;
                    }
                    s.alloc(size).unwrap()
                } else {
                    s.alloc(size).unwrap()
                };
                // Touch both ends: past the file's end this would be SIGBUS.
                s.write_bytes(off, &[c as u8; 4096]).unwrap();
                s.write_bytes(off + size - 4096, &[c as u8; 4096]).unwrap();
                let committed = s.committed_len();
                if committed < last_committed {
                    return 2; // committed length never shrinks
                }
                last_committed = committed;
            }
            0
        }));
    }
    for child in children {
        child.expect_success();
    }
    let len = std::fs::metadata(store.path()).unwrap().len();
    assert!(
        len >= store.committed_len(),
        "the file backs the committed length"
    );
    assert!(store.committed_len() > 100 << 20);
    assert!(store.verify_allocator().unwrap().is_clean());
}

#[test]
fn growth_past_the_reservation_is_refused() {
    let opts = StoreOptions {
        reserve: 4 << 20,
        ..StoreOptions::default()
    };
    let store = TestStore::with("growth-reserve", &opts);
    assert_eq!(store.reserved_len(), 4 << 20);
    match store.alloc(8 << 20) {
        Err(AllocError::ReservationExceeded { reserved, needed }) => {
            assert_eq!(reserved, 4 << 20);
            assert!(needed > reserved);
        }
        other => panic!("expected ReservationExceeded, got {other:?}"),
    }
    match store.grow_to(5 << 20) {
        Err(AllocError::ReservationExceeded { .. }) => {}
        other => panic!("expected ReservationExceeded, got {other:?}"),
    }
    // Up to the reservation works, then allocation fails cleanly, and the store is fine.
    let mut blocks = Vec::new();
    loop {
        match store.alloc(100_000) {
            Ok(off) => blocks.push(off),
            Err(AllocError::ReservationExceeded { .. }) => break,
            Err(e) => panic!("unexpected {e}"),
        }
    }
    assert!(store.committed_len() <= 4 << 20);
    assert!(!blocks.is_empty());
    for off in blocks {
        store.free(off).unwrap();
    }
    assert!(store.verify_allocator().unwrap().is_clean());
    // A too-large request is its own error.
    assert!(matches!(
        store.alloc(u64::MAX),
        Err(AllocError::TooLarge { .. })
    ));
}

extern "C" fn ignore_signal(_: libc::c_int) {}

#[test]
fn growth_completes_in_a_process_interrupted_by_frequent_signals() {
    // Some kernels' tmpfs abandons (and undoes) an fallocate when any signal arrives; a
    // large growth step retried whole would then never finish in a process that gets a
    // signal every millisecond (an interval timer, a profiler), while holding the
    // allocator's locks. (Linux 6.18 completes it; this guards other kernels.)
    let _dog = watchdog(100);
    let store = TestStore::new("growth-signals");
    let child_store = store.clone();
    let mut child = fork_child(move || {
        // SAFETY: a no-op handler without SA_RESTART and a 1 ms timer, in this child only.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = ignore_signal as extern "C" fn(libc::c_int) as usize;
            libc::sigaction(libc::SIGALRM, &sa, std::ptr::null_mut());
            let tick = libc::timeval {
                tv_sec: 0,
                tv_usec: 1000,
            };
            let timer = libc::itimerval {
                it_interval: tick,
                it_value: tick,
            };
            libc::setitimer(libc::ITIMER_REAL, &timer, std::ptr::null_mut());
        }
        match child_store.grow_to(512 << 20) {
            Ok(()) if child_store.committed_len() >= 512 << 20 => 0,
            Ok(()) => 1,
            Err(e) => {
                eprintln!("grow_to: {e}");
                2
            }
        }
    });
    assert_eq!(child.wait_timeout(Duration::from_secs(60)), Exit::Code(0));
    assert!(store.committed_len() >= 512 << 20);
    let len = std::fs::metadata(store.path()).unwrap().len();
    assert!(len >= store.committed_len());
}
