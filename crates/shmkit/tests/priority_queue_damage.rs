//! PriorityQueue against damaged shared memory and failing allocations: every case is an
//! error or a self-repair, never a write outside the queue's blocks, a panic, an item handed
//! out twice or taken from another object, a huge allocation, or a failed batch that hides
//! what went in. Each test was red before its fix.

mod common;

use common::{TestStore, fork_child, wait_until, watchdog};
use shmkit::collections::priority_queue::layout::{
    ARRAY_HEADER_LEN, ArrayHeader, ENTRY_LEN, Entry, INTENT_PUSH, PqRoot, RECORD_HEADER_LEN,
    RecordHeader, content_hash, key_prefix, record_len, seal,
};
use shmkit::collections::priority_queue::{Item, MAX_VALUE_LEN};
use shmkit::{
    ErrorKind, PqPopped, PriorityQueue, PriorityQueueError, PriorityQueueOptions, Store,
    StoreOptions,
};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::Ordering;
use std::time::Duration;

/// Refuses any single allocation over 256 MiB (the process then aborts): a damaged length
/// must be refused before it becomes an allocation.
struct NoHugeAllocations;

// SAFETY: forwards to the system allocator, refusing (null) only oversized requests.
unsafe impl GlobalAlloc for NoHugeAllocations {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if layout.size() > 256 << 20 {
            return std::ptr::null_mut();
        }
        // SAFETY: the caller's contract.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if layout.size() > 256 << 20 {
            return std::ptr::null_mut();
        }
        // SAFETY: the caller's contract.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if new_size > 256 << 20 {
            return std::ptr::null_mut();
        }
        // SAFETY: the caller's contract.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: NoHugeAllocations = NoHugeAllocations;

fn root<'a>(t: &'a Store, q: &PriorityQueue) -> &'a PqRoot {
    t.get(q.root_offset()).unwrap()
}

fn entry<'a>(t: &'a Store, q: &PriorityQueue, i: u64) -> &'a Entry {
    let array = root(t, q).array.load(Ordering::SeqCst);
    t.get(array + ARRAY_HEADER_LEN + i * ENTRY_LEN).unwrap()
}

/// True if `got` is the item whose value is `value`.
fn is_item(got: &Result<Option<Item>, PriorityQueueError>, value: &[u8]) -> bool {
    matches!(got, Ok(Some((_, v))) if v == value)
}

#[test]
fn an_array_header_claiming_more_than_its_block_is_refused_also_by_a_handle_that_used_it() {
    // A handle remembers the array it checked against the allocator; a header whose
    // capacity changed since must be checked again, or a push writes past the block.
    let t = TestStore::new("pqr-cache");
    let small = PriorityQueueOptions {
        initial_capacity: 16,
        ..PriorityQueueOptions::default()
    };
    let a = t.priority_queue_with("a", &small).unwrap();
    let b = t.priority_queue_with("b", &small).unwrap();
    b.push(b"neighbour", b"").unwrap();
    for i in 0..16u32 {
        a.push(format!("k{i:03}").as_bytes(), b"").unwrap(); // `a` checks its array
    }
    let array = root(&t, &a).array.load(Ordering::SeqCst);
    let block = t.block_capacity(array).unwrap();
    let fit = (block - ARRAY_HEADER_LEN) / ENTRY_LEN; // entries the block really holds
    let header: &ArrayHeader = t.get(array).unwrap();
    assert_eq!(header.capacity.load(Ordering::SeqCst), 16);
    let fake = (fit + 1).next_power_of_two();
    header.capacity.store(fake, Ordering::SeqCst);
    let fresh = t.open_priority_queue("a").unwrap();
    assert_eq!(
        fresh.push(b"zzz", b"").unwrap_err().kind(),
        ErrorKind::Corrupt
    );
    // Entry `fit` lies past the block.
    let landing = array + ARRAY_HEADER_LEN + fit * ENTRY_LEN;
    assert!(landing + ENTRY_LEN > array + block);
    let mut before = [0u8; 24];
    t.read_bytes(landing, &mut before).unwrap();
    let mut refused = None;
    for i in 16..=fit {
        if let Err(e) = a.push(format!("z{i:03}").as_bytes(), b"") {
            refused = Some(e);
            break;
        }
    }
    let mut after = [0u8; 24];
    t.read_bytes(landing, &mut after).unwrap();
    assert_eq!(
        before,
        after,
        "a push wrote past its array block (len {})",
        a.len()
    );
    assert_eq!(refused.map(|e| e.kind()), Some(ErrorKind::Corrupt));
    assert!(b.verify().unwrap().is_clean(), "the neighbour is untouched");
}

/// Queue `a` pushes and pops one item (its entry 0 keeps naming the freed record), then
/// queue `b` pushes an item of the same size, which reuses that block. Returns the block.
fn stale_entry_naming_a_record_of_b(t: &Store, a: &PriorityQueue, b: &PriorityQueue) -> u64 {
    a.push(b"key", b"from a").unwrap();
    assert!(a.pop().unwrap().is_some());
    let stale = entry(t, a, 0).rec.load(Ordering::SeqCst);
    b.push(b"key", b"from b").unwrap();
    assert_eq!(
        entry(t, b, 0).rec.load(Ordering::SeqCst),
        stale,
        "precondition: b's record reused the block a's stale entry names"
    );
    stale
}

#[test]
fn a_pop_through_a_stale_entry_naming_another_queues_record_is_refused() {
    // Both queues' first sequence number is 0, so the stale entry even agrees with the
    // record's seq: only the queue's own tag in the checksum tells the record is not a's.
    let t = TestStore::new("pqr-foreign");
    let a = t.priority_queue("a").unwrap();
    let b = t.priority_queue("b").unwrap();
    stale_entry_naming_a_record_of_b(&t, &a, &b);
    root(&t, &a).len.store(1, Ordering::SeqCst); // one count word off by one
    let got = a.pop();
    assert!(
        !is_item(&got, b"from b"),
        "queue a popped (and freed) queue b's item: {got:?}"
    );
    assert_eq!(got.unwrap_err().kind(), ErrorKind::Corrupt);
    assert!(
        b.verify().unwrap().is_clean(),
        "b's record is still b's alone"
    );
    assert!(is_item(&b.pop(), b"from b"));
}

#[test]
fn a_pop_through_a_stale_entry_naming_a_freed_record_is_refused() {
    let t = TestStore::new("pqr-freed");
    let a = t.priority_queue("a").unwrap();
    a.push(b"key", b"once").unwrap();
    assert_eq!(a.pop().unwrap().unwrap().1, b"once");
    root(&t, &a).len.store(1, Ordering::SeqCst);
    let got = a.pop();
    assert!(
        !is_item(&got, b"once"),
        "an item popped and returned was returned again from a freed block: {got:?}"
    );
    assert_eq!(got.unwrap_err().kind(), ErrorKind::Corrupt);
    assert_eq!(a.peek().unwrap_err().kind(), ErrorKind::Corrupt);
}

#[test]
fn a_clear_after_a_damaged_length_leaves_another_queues_record_alone() {
    // A clear frees the records its entries name after the lock is released: a stale
    // entry's block, reused by queue b, must not be freed as one of a's.
    let t = TestStore::new("pqr-clear");
    let a = t.priority_queue("a").unwrap();
    let b = t.priority_queue("b").unwrap();
    stale_entry_naming_a_record_of_b(&t, &a, &b);
    root(&t, &a).len.store(1, Ordering::SeqCst);
    let _ = a.clear();
    let report = b.verify().unwrap();
    assert!(report.is_clean(), "a's clear freed b's record: {report:?}");
    assert!(is_item(&b.pop(), b"from b"));
}

#[test]
fn a_rebuild_after_an_unknown_intent_keeps_only_the_entries_the_length_counts() {
    // An unknown intent_op says nothing about the old length: the rebuild must not read
    // `[0, intent_old_len)`, whose stale entries name blocks now owned by others.
    let t = TestStore::new("pqr-intent");
    let a = t.priority_queue("a").unwrap();
    let b = t.priority_queue("b").unwrap();
    stale_entry_naming_a_record_of_b(&t, &a, &b);
    let r = root(&t, &a);
    r.intent_old_len.store(1, Ordering::SeqCst);
    r.intent_op.store(9, Ordering::SeqCst);
    let peeked = a.peek();
    assert!(
        !is_item(&peeked, b"from b"),
        "queue a adopted queue b's record: {peeked:?}, a.len() = {}",
        a.len()
    );
    assert_eq!(peeked.unwrap(), None);
    assert_eq!(a.len(), 0);
    assert!(b.verify().unwrap().is_clean());
}

#[test]
fn a_rebuild_does_not_trust_an_old_length_that_fits_no_intent() {
    // A record of the queue's own that no live entry names (as a pop leaves it when its
    // process is killed between the commit and the free) sits behind a stale entry; an
    // intent whose old length fits neither its commit nor its roll-back must not make the
    // rebuild read that far and hand the record out again.
    let t = TestStore::new("pqr-old-len");
    let q = t.priority_queue("q").unwrap();
    let (key, val) = (&b"leaked"[..], &b"popped before"[..]);
    let rec = t
        .alloc(record_len(key.len() as u64, val.len() as u64))
        .unwrap();
    let h: &RecordHeader = t.get(rec).unwrap();
    h.key_len.store(key.len() as u32, Ordering::SeqCst);
    h.val_len.store(val.len() as u32, Ordering::SeqCst);
    h.seq.store(0, Ordering::SeqCst);
    h.checksum.store(
        seal(content_hash(q.root_offset(), key, val), 0),
        Ordering::SeqCst,
    );
    t.write_bytes(rec + RECORD_HEADER_LEN, key).unwrap();
    t.write_bytes(rec + RECORD_HEADER_LEN + key.len() as u64, val)
        .unwrap();
    let e = entry(&t, &q, 5);
    e.key_prefix.store(key_prefix(key), Ordering::SeqCst);
    e.rec.store(rec, Ordering::SeqCst);
    let r = root(&t, &q);
    r.next_seq.store(1, Ordering::SeqCst);
    r.intent_rec.store(0, Ordering::SeqCst);
    r.intent_old_len.store(10, Ordering::SeqCst); // len is 0: neither 0 nor -1
    r.intent_op.store(INTENT_PUSH, Ordering::SeqCst);
    let got = q.pop();
    assert!(!is_item(&got, val), "a leaked record came back: {got:?}");
    assert_eq!(got.unwrap(), None);
    assert!(q.verify().unwrap().is_clean());
}

#[test]
fn a_repair_of_a_length_past_the_array_adopts_no_other_queues_record() {
    let t = TestStore::new("pqr-salvage");
    let a = t.priority_queue("a").unwrap();
    let b = t.priority_queue("b").unwrap();
    stale_entry_naming_a_record_of_b(&t, &a, &b);
    let capacity = a.stats().unwrap().capacity;
    root(&t, &a).len.store(capacity + 1, Ordering::SeqCst);
    let report = a.repair().unwrap();
    assert_eq!(a.len(), 0, "a adopted b's record: {report:?}");
    assert_eq!(a.pop().unwrap(), None);
    assert!(b.verify().unwrap().is_clean());
    assert!(is_item(&b.pop(), b"from b"));
}

#[test]
fn a_push_at_the_largest_sequence_number_is_refused_and_a_repair_does_not_overflow() {
    let t = TestStore::new("pqr-seq");
    let q = t.priority_queue("q").unwrap();
    q.push(b"k", b"1").unwrap();
    let r = root(&t, &q);
    r.next_seq.store(u64::MAX, Ordering::SeqCst);
    // Sealing a record with seq u64::MAX would wrap next_seq to 0 (equal keys would then
    // pop out of order): refused as damage, nothing changed.
    assert_eq!(q.push(b"k", b"2").unwrap_err().kind(), ErrorKind::Corrupt);
    assert_eq!(q.len(), 1);
    // A record already sealed with u64::MAX and a wrapped counter: the rebuild must not
    // compute u64::MAX + 1.
    let rec = entry(&t, &q, 0).rec.load(Ordering::SeqCst);
    let h: &RecordHeader = t.get(rec).unwrap();
    h.seq.store(u64::MAX, Ordering::SeqCst);
    h.checksum.store(
        seal(content_hash(q.root_offset(), b"k", b"1"), u64::MAX),
        Ordering::SeqCst,
    );
    entry(&t, &q, 0).seq.store(u64::MAX, Ordering::SeqCst);
    r.next_seq.store(0, Ordering::SeqCst);
    let repaired = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| q.repair()));
    assert!(
        repaired.is_ok(),
        "repair panicked on a damaged sequence counter"
    );
    assert_eq!(q.push(b"k", b"3").unwrap_err().kind(), ErrorKind::Corrupt);
    assert_eq!(q.pop().unwrap().unwrap().1, b"1");
    // Emptied, a repair restarts the counter.
    assert!(!q.repair().unwrap().repaired.is_empty());
    q.push(b"k", b"4").unwrap();
    assert_eq!(q.pop().unwrap().unwrap().1, b"4");
}

#[test]
fn a_record_claiming_a_huge_value_is_refused_before_allocating_for_it() {
    // Pop, peek and items all read records: their buffers must not be sized from a header
    // that does not fit its block.
    let t = TestStore::new("pqr-huge");
    let q = t.priority_queue("q").unwrap();
    q.push(b"k", b"small").unwrap();
    let rec = entry(&t, &q, 0).rec.load(Ordering::SeqCst);
    let header: &RecordHeader = t.get(rec).unwrap();
    header.val_len.store(MAX_VALUE_LEN as u32, Ordering::SeqCst);
    fork_child(|| {
        // Aborts (allocation refused) if the damaged length is allocated.
        let popped = q.pop();
        let peeked = q.peek();
        let listed = q.items();
        i32::from(!(popped.is_err() && peeked.is_err() && listed.is_err()))
    })
    .expect_success();
}

#[test]
fn a_bounded_pop_reports_no_lengths_a_damaged_record_header_made_up() {
    // `pop_into_bounded` (the C API's pop) reports the lengths of an item too large for the
    // caller's buffers, so the caller can grow them: they must be lengths the block holds.
    let t = TestStore::new("pqr-lengths");
    let q = t.priority_queue("q").unwrap();
    q.push(b"k", b"small").unwrap();
    let rec = entry(&t, &q, 0).rec.load(Ordering::SeqCst);
    let header: &RecordHeader = t.get(rec).unwrap();
    header.val_len.store(1 << 29, Ordering::SeqCst);
    let (mut key, mut value) = (Vec::new(), Vec::new());
    let got = q.pop_into_bounded(&mut key, &mut value, 64, 64, Some(Duration::ZERO));
    assert!(
        !matches!(got, Ok(PqPopped::TooLarge { .. })),
        "reported made-up lengths: {got:?}"
    );
    assert_eq!(got.unwrap_err().kind(), ErrorKind::Corrupt);
    assert_eq!(q.len(), 1, "the damaged item stays for the repair");
}

#[test]
fn a_batch_push_that_runs_out_of_memory_says_how_many_items_went_in() {
    let options = StoreOptions {
        reserve: 4 << 20,
        ..StoreOptions::default()
    };
    let t = TestStore::with("pqr-batch", &options);
    let q = t.priority_queue("q").unwrap();
    let items: Vec<(Vec<u8>, Vec<u8>)> = (0..64u8).map(|i| (vec![i], vec![i; 64 << 10])).collect();
    match q.push_many(&items) {
        Err(PriorityQueueError::PushedPartly { pushed, source }) => {
            assert_eq!(pushed as u64, q.len());
            assert!(pushed > 0);
            assert_eq!(source.kind(), ErrorKind::StoreFull);
            let e = PriorityQueueError::PushedPartly { pushed, source };
            assert_eq!(e.kind(), ErrorKind::StoreFull);
        }
        other => panic!("{other:?} with {} items in", q.len()),
    }
    // The items in are the batch's first.
    let popped: Vec<u8> = q
        .pop_many(64)
        .unwrap()
        .into_iter()
        .map(|(k, _)| k[0])
        .collect();
    assert_eq!(popped, (0..popped.len() as u8).collect::<Vec<_>>());
}

#[test]
fn a_blocking_batch_push_counts_the_items_of_every_round_in_its_error() {
    // A bounded queue takes a batch in rounds (one per wake for room): the store running out
    // in a later round must still report the items of the earlier ones.
    let _watchdog = watchdog(60);
    let options = StoreOptions {
        reserve: 4 << 20,
        ..StoreOptions::default()
    };
    let t = TestStore::with("pqr-rounds", &options);
    let bounded = PriorityQueueOptions {
        maxlen: Some(4),
        ..PriorityQueueOptions::default()
    };
    let q = t.priority_queue_with("q", &bounded).unwrap();
    // Fill the store with large blocks: small records still fit, a 1 MiB one does not.
    let hog = t.priority_queue("hog").unwrap();
    let chunk = vec![0u8; 256 << 10];
    for i in 0u32.. {
        if hog.push(&i.to_be_bytes(), &chunk).is_err() {
            break;
        }
    }
    // Four small items go in in the first round, the fifth after a wait for room, and the
    // sixth cannot be built.
    let mut items: Vec<(Vec<u8>, Vec<u8>)> = (0..5u8).map(|i| (vec![i], vec![i])).collect();
    items.extend((5..8u8).map(|i| (vec![i], vec![i; 1 << 20])));
    let consumer = {
        let q = q.clone();
        std::thread::spawn(move || {
            assert!(wait_until(Duration::from_secs(30), || q.len() == 4));
            let mut taken = 0u64;
            while q.pop().unwrap().is_some() {
                taken += 1;
            }
            taken
        })
    };
    let result = q.push_many_timeout(&items, Some(Duration::from_secs(30)));
    let taken = consumer.join().unwrap();
    match result {
        Err(PriorityQueueError::PushedPartly { pushed, source }) => {
            assert_eq!(pushed, 5, "the count covers every round");
            assert_eq!(pushed as u64, taken + q.len());
            assert_eq!(source.kind(), ErrorKind::StoreFull);
        }
        other => panic!("{other:?} ({taken} items taken, {} in)", q.len()),
    }
}

#[test]
fn an_array_capacity_that_is_not_a_power_of_two_is_refused() {
    let t = TestStore::new("pq-odd-capacity");
    let q = t.priority_queue("q").unwrap();
    q.push(b"k", b"v").unwrap();
    let array = root(&t, &q).array.load(Ordering::Acquire);
    let header: &ArrayHeader = t.get(array).unwrap();
    let capacity = header.capacity.load(Ordering::Relaxed);
    // Smaller than the block, so only the power-of-two rule can refuse it.
    header.capacity.store(capacity - 1, Ordering::Relaxed);
    let fresh = t.open_priority_queue("q").unwrap();
    assert_eq!(fresh.pop().unwrap_err().kind(), ErrorKind::Corrupt);
    assert_eq!(q.push(b"x", b"y").unwrap_err().kind(), ErrorKind::Corrupt);
}
