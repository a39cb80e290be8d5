//! Deque against damaged shared memory and failing allocations: every case is an error or a
//! self-repair, never a write outside the deque's blocks, a panic, a spin past a deadline,
//! or an item lost by a call that failed.

mod common;

use common::TestStore;
use shmkit::collections::deque::layout::{DequeRoot, RingHeader};
use shmkit::{DequeError, DequeOptions, End, ErrorKind, Overflow, StoreOptions};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

fn ring_of(d: &shmkit::Deque) -> u64 {
    let mut ring = 0;
    shmkit::collections::object::SharedObject::owned_blocks(d, &mut |b| {
        if b != d.root_offset() {
            ring = b;
        }
    })
    .unwrap();
    ring
}

#[test]
fn a_ring_header_claiming_more_than_its_block_is_refused_also_by_a_handle_that_used_it() {
    let t = TestStore::new("dq-cache");
    let small = DequeOptions {
        initial_bytes: 1024,
        ..DequeOptions::default()
    };
    let a = t.deque_with("a", &small).unwrap();
    let b = t.deque_with("b", &small).unwrap();
    for i in 0..8u8 {
        b.push_back(&[i; 100]).unwrap();
    }
    a.push_back(b"x").unwrap(); // `a` has checked its ring against the allocator
    let ring = ring_of(&a);
    let block = t.block_capacity(ring).unwrap();
    let fake = (block + 1).next_power_of_two() * 4;
    let header: &RingHeader = t.get(ring).unwrap();
    header.capacity.store(fake, Ordering::Relaxed);
    let fresh = t.open_deque("a").unwrap();
    assert_eq!(
        fresh.push_front(b"y").unwrap_err().kind(),
        ErrorKind::Corrupt
    );
    // Where the entry would land with the claimed capacity: outside the ring block.
    let landing = ring + 16 + fake - 24;
    assert!(landing > ring + block);
    let mut before = [0u8; 24];
    t.read_bytes(landing, &mut before).unwrap();
    assert_eq!(
        a.push_front(b"OUTSIDE!").unwrap_err().kind(),
        ErrorKind::Corrupt
    );
    let mut after = [0u8; 24];
    t.read_bytes(landing, &mut after).unwrap();
    assert_eq!(before, after, "nothing written outside the ring");
    assert!(b.verify().unwrap().is_clean(), "the neighbour is untouched");
}

#[test]
fn a_count_that_says_items_on_an_empty_deque_is_repaired_and_a_pop_keeps_its_deadline() {
    let t = TestStore::new("dq-spin");
    let d = t.deque("d").unwrap();
    let root: &DequeRoot = t.get(d.root_offset()).unwrap();
    root.count.store(3, Ordering::SeqCst);
    let start = Instant::now();
    assert_eq!(
        d.pop_front_timeout(Some(Duration::from_millis(200)))
            .unwrap(),
        None
    );
    assert!(start.elapsed() < Duration::from_secs(30), "no spin");
    assert_eq!(
        d.len(),
        0,
        "the pop that found no entries set the count right"
    );
}

#[test]
fn a_count_at_the_largest_value_does_not_overflow() {
    let t = TestStore::new("dq-overflow");
    let d = t.deque("d").unwrap();
    let root: &DequeRoot = t.get(d.root_offset()).unwrap();
    root.count.store(u64::MAX, Ordering::SeqCst);
    d.push_back(b"x").unwrap();
    assert_eq!(d.len(), u64::MAX);
    let report = d.repair().unwrap();
    assert!(report.is_clean(), "{report:?}");
    assert_eq!(d.len(), 1);
}

#[test]
fn a_batch_pop_keeps_the_items_before_a_damaged_one_and_the_next_call_reports_it() {
    let t = TestStore::new("dq-popmany");
    let d = t.deque("d").unwrap();
    for i in 0..5u8 {
        d.push_back(&[b'A' + i; 40]).unwrap();
    }
    let ring = ring_of(&d);
    let mut data = vec![0u8; 1024];
    t.read_bytes(ring + 16, &mut data).unwrap();
    let at = data.windows(40).position(|w| w == [b'C'; 40]).unwrap() as u64;
    t.write_bytes(ring + 16 + at + 3, &[0]).unwrap();
    let got = d.pop_many(End::Front, 10, Some(Duration::ZERO)).unwrap();
    assert_eq!(got, vec![vec![b'A'; 40], vec![b'B'; 40]]);
    let e = d
        .pop_many(End::Front, 10, Some(Duration::ZERO))
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Corrupt);
    assert_eq!(
        d.len(),
        3,
        "the damaged item and those behind it stay for the repair"
    );
}

#[test]
fn a_batch_push_that_runs_out_of_memory_says_how_many_items_went_in() {
    let options = StoreOptions {
        reserve: 4 << 20,
        ..StoreOptions::default()
    };
    let t = TestStore::with("dq-batch", &options);
    let d = t.deque("d").unwrap();
    let items: Vec<Vec<u8>> = (0..64).map(|i| vec![i as u8; 64 << 10]).collect();
    match d.push_back_many(&items, None) {
        Err(DequeError::PushedPartly { pushed, source }) => {
            assert_eq!(pushed as u64, d.len());
            assert!(pushed > 0);
            assert_eq!(source.kind(), ErrorKind::StoreFull);
            let e = DequeError::PushedPartly { pushed, source };
            assert_eq!(e.kind(), ErrorKind::StoreFull);
        }
        other => panic!("{other:?} with {} items in", d.len()),
    }
}

#[test]
fn an_overwriting_push_that_cannot_get_room_evicts_nothing() {
    let options = StoreOptions {
        reserve: 4 << 20,
        ..StoreOptions::default()
    };
    let t = TestStore::with("dq-evict", &options);
    let o = DequeOptions {
        maxlen: Some(1),
        overflow: Overflow::Overwrite,
        ..DequeOptions::default()
    };
    let d = t.deque_with("d", &o).unwrap();
    d.push_back(b"keep me").unwrap();
    let e = d.push_back(&vec![1u8; 3 << 20]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::StoreFull);
    assert_eq!(d.items().unwrap(), vec![b"keep me".to_vec()]);
}

#[test]
fn a_large_item_pushed_and_popped_over_and_over_does_not_resize_the_ring_each_time() {
    let t = TestStore::new("dq-thrash");
    let d = t.deque("d").unwrap();
    let item = vec![5u8; 5000];
    for _ in 0..100 {
        d.push_back(&item).unwrap();
        d.pop_front().unwrap().unwrap();
    }
    let s = d.stats().unwrap();
    assert!(s.grows <= 2 && s.shrinks <= 2, "{s:?}");
}

#[test]
fn a_snapshot_with_a_damaged_entry_length_is_an_error_not_a_panic() {
    let t = TestStore::new("dq-snapshot");
    let d = t.deque("d").unwrap();
    for i in 0..4u8 {
        d.push_back(&[b'a' + i; 24]).unwrap();
    }
    // The second entry's header claims an item far longer than the deque.
    let ring = ring_of(&d);
    let mut data = vec![0u8; 256];
    t.read_bytes(ring + 16, &mut data).unwrap();
    let at = data.windows(24).position(|w| w == [b'b'; 24]).unwrap() as u64 - 8;
    t.write_bytes(ring + 16 + at, &0x7fff_0000u32.to_le_bytes())
        .unwrap();
    assert_eq!(d.items().unwrap_err().kind(), ErrorKind::Corrupt);
    assert!(!d.verify().unwrap().is_clean());
}

#[test]
fn a_long_deque_keeps_its_ring_while_more_than_an_eighth_is_used() {
    let t = TestStore::new("dq-hysteresis");
    let d = t.deque("d").unwrap();
    for i in 0..2000u32 {
        d.push_back(&i.to_le_bytes()).unwrap();
    }
    let grown = d.stats().unwrap();
    // Pop down to a little over an eighth of the ring: no shrink yet.
    let entry = 24; // 16 bytes of framing + 4 bytes of item padded to 8
    let keep = grown.ring_capacity / 8 / entry + 2;
    let pops = 2000 - keep;
    for _ in 0..pops {
        d.pop_front().unwrap().unwrap();
    }
    let after = d.stats().unwrap();
    assert_eq!(after.shrinks, 0, "{grown:?} -> {after:?}");
    assert_eq!(after.ring_capacity, grown.ring_capacity);
    // Below an eighth it shrinks.
    for _ in 0..10 {
        d.pop_front().unwrap().unwrap();
    }
    assert!(d.stats().unwrap().shrinks > 0);
}
