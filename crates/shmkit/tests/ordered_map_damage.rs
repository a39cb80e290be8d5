//! OrderedMap against damaged shared memory and a full store: every case is an error or a
//! self-repair, never a write into another object's blocks, a panic, a hang, an endless
//! scan or a huge allocation; removes succeed when the store has no memory left; `update`
//! removes. Each test was red before its fix.

mod common;

use common::{TestStore, fork_child};
use shmkit::collections::ordered_map::MAX_VALUE_LEN;
use shmkit::collections::ordered_map::layout::{
    INTENT_WRITE, InnerNode, LeafNode, NodeHeader, OmRoot,
};
use shmkit::store::alloc::{BlockHeader, TAG_USED};
use shmkit::{ErrorKind, OrderedMap, Store, StoreOptions, UpdateAction};
use std::alloc::{GlobalAlloc, Layout, System};
use std::ops::Bound;
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

fn root<'a>(t: &'a Store, m: &OrderedMap) -> &'a OmRoot {
    t.get(m.root_offset()).unwrap()
}

/// The published root node's offset and generation.
fn root_node(t: &Store, m: &OrderedMap) -> (u64, u64) {
    let r = root(t, m);
    let v = r.root_version.load(Ordering::SeqCst);
    let s = &r.roots[(v & 1) as usize];
    (
        s.node.load(Ordering::SeqCst),
        s.generation.load(Ordering::SeqCst),
    )
}

fn key(i: u32) -> Vec<u8> {
    format!("key-{i:05}").into_bytes()
}

fn filled(t: &Store, name: &str, n: u32) -> OrderedMap {
    let m = t.ordered_map(name).unwrap();
    for i in 0..n {
        m.set(&key(i), format!("value {i}").as_bytes()).unwrap();
    }
    m
}

fn assert_intact(m: &OrderedMap, n: u32) {
    let report = m.verify().unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    for i in 0..n {
        assert_eq!(
            m.get(&key(i)).unwrap().as_deref(),
            Some(format!("value {i}").as_bytes()),
            "key {i}"
        );
    }
}

/// Runs `f` in a child that must end within `secs` (with exit code 0).
fn within(secs: u64, f: impl FnOnce() -> bool) {
    let mut child = fork_child(|| i32::from(!f()));
    match child.try_wait(Duration::from_secs(secs)) {
        Some(exit) => assert_eq!(exit, common::Exit::Code(0)),
        None => panic!("still running after {secs} s"),
    }
}

#[test]
fn a_committed_intent_whose_dropped_leaf_is_another_maps_leaves_that_map_alone() {
    // The next lock holder finishes a committed write by freeing the records of the
    // dropped entries of `drop_leaf`: a damaged one must not make it free another map's.
    let t = TestStore::new("omd-drop-leaf");
    let a = filled(&t, "a", 3);
    let b = filled(&t, "b", 10);
    let (b_leaf, _) = root_node(&t, &b);
    let r = root(&t, &a);
    r.intent_old_len.store(0, Ordering::SeqCst);
    r.intent_new_len.store(0, Ordering::SeqCst);
    r.intent_done.store(0, Ordering::SeqCst);
    r.intent_rec.store(0, Ordering::SeqCst);
    r.drop_leaf.store(b_leaf, Ordering::SeqCst);
    r.drop_from.store(0, Ordering::SeqCst);
    r.drop_to.store(10, Ordering::SeqCst);
    r.intent_version
        .store(r.root_version.load(Ordering::SeqCst), Ordering::SeqCst);
    r.intent_op.store(INTENT_WRITE, Ordering::SeqCst);
    let _ = a.verify();
    assert_eq!(
        r.intent_op.load(Ordering::SeqCst),
        0,
        "the intent is settled"
    );
    assert_intact(&b, 10);
    assert_intact(&a, 3);
}

#[test]
fn an_uncommitted_intent_whose_record_is_another_maps_leaves_that_record_alone() {
    // Undoing a write frees the record it meant to publish: a damaged `intent_rec` must
    // not make it free a block another map still names.
    let t = TestStore::new("omd-intent-rec");
    let a = filled(&t, "a", 3);
    let b = filled(&t, "b", 10);
    let (b_leaf, _) = root_node(&t, &b);
    let leaf: &LeafNode = t.get(b_leaf).unwrap();
    let b_rec = leaf.entries[4].rec.load(Ordering::SeqCst);
    let r = root(&t, &a);
    r.intent_old_len.store(0, Ordering::SeqCst);
    r.intent_new_len.store(0, Ordering::SeqCst);
    r.intent_done.store(0, Ordering::SeqCst);
    r.drop_leaf.store(0, Ordering::SeqCst);
    r.intent_rec.store(b_rec, Ordering::SeqCst);
    r.intent_version
        .store(r.root_version.load(Ordering::SeqCst) + 1, Ordering::SeqCst);
    r.intent_op.store(INTENT_WRITE, Ordering::SeqCst);
    let _ = a.verify();
    assert_eq!(
        r.intent_op.load(Ordering::SeqCst),
        0,
        "the intent is settled"
    );
    let block: &BlockHeader = t.get(b_rec - 16).unwrap();
    assert_eq!(
        block.tag.load(Ordering::SeqCst),
        TAG_USED,
        "another map's record was freed"
    );
    assert_intact(&b, 10);
}

#[test]
fn an_entry_claiming_a_huge_value_is_refused_before_allocating_for_it() {
    // Reads, writes that return the old value, checks and repairs size their buffers from
    // a leaf entry's lengths: lengths that do not fit the record's block are damage.
    let t = TestStore::new("omd-huge");
    let m = filled(&t, "m", 5);
    let (leaf, _) = root_node(&t, &m);
    let leaf: &LeafNode = t.get(leaf).unwrap();
    let e = &leaf.entries[2];
    let lens = e.lens.load(Ordering::SeqCst);
    e.lens
        .store((lens & !0xffff_ffff) | MAX_VALUE_LEN, Ordering::SeqCst);
    within(60, || {
        let got = m.get(&key(2));
        let scanned: Vec<_> = m.iter().collect();
        let replaced = m.insert(&key(2), b"new");
        let report = m.verify().unwrap();
        matches!(got, Err(ref e) if e.kind() == ErrorKind::Corrupt)
            && scanned.iter().any(Result::is_err)
            && replaced.is_err()
            && !report.problems.is_empty()
    });
    let report = m.repair().unwrap();
    assert!(!report.repaired.is_empty());
    assert!(m.verify().unwrap().problems.is_empty());
    assert_eq!(m.len(), 4, "the damaged entry is dropped");
}

/// Makes `slots` of the (inner) root name the root itself.
fn root_names_itself(t: &Store, m: &OrderedMap, slots: std::ops::Range<usize>) {
    let (node, generation) = root_node(t, m);
    let inner: &InnerNode = t.get(node).unwrap();
    assert!(inner.header.level.load(Ordering::SeqCst) > 0);
    for i in slots {
        inner.slots[i].child.store(node, Ordering::SeqCst);
        inner.slots[i].child_gen.store(generation, Ordering::SeqCst);
    }
}

#[test]
fn a_node_named_twice_in_the_tree_is_damage_found_without_walking_it_again() {
    // Two children of the root naming the root: a walk that follows every name visits
    // 2^24 copies of the root.
    let t = TestStore::new("omd-cycle");
    let m = filled(&t, "m", 200);
    root_names_itself(&t, &m, 1..3);
    let m2 = m.clone();
    within(60, move || {
        let report = m2.verify().unwrap();
        let stats = m2.stats();
        !report.problems.is_empty() && stats.is_ok()
    });
    within(120, || {
        let report = t.repair();
        report.after.is_clean()
    });
    let report = m.repair().unwrap();
    assert!(report.problems.is_empty(), "{report:?}");
    let keys: Vec<_> = m.iter().map(|r| r.unwrap().0).collect();
    assert!(keys.windows(2).all(|w| w[0] < w[1]));
}

#[test]
fn a_scan_of_a_tree_whose_keys_go_backwards_ends() {
    // The last child of the root names the first leaf: a scan that trusts the tree's
    // order returns the first keys again after the last and starts over, forever.
    let t = TestStore::new("omd-backwards");
    let m = filled(&t, "m", 200);
    let (node, _) = root_node(&t, &m);
    let inner: &InnerNode = t.get(node).unwrap();
    let len = inner.header.len.load(Ordering::SeqCst) as usize;
    let first = &inner.slots[0];
    let last = &inner.slots[len - 1];
    last.child
        .store(first.child.load(Ordering::SeqCst), Ordering::SeqCst);
    last.child_gen
        .store(first.child_gen.load(Ordering::SeqCst), Ordering::SeqCst);
    let m2 = m.clone();
    within(60, move || {
        let forward: Vec<_> = m2.iter().take(10_000).collect();
        let backward: Vec<_> = m2.iter().rev().take(10_000).collect();
        // The allocation-free scan ends too, either way: forwards with the error (it meets
        // the first keys again), backwards before the damage shows (its seeks by key go
        // down the first child).
        let mut scanned = 0;
        let scan = m2.scan(Bound::Unbounded, Bound::Unbounded, false, |_, _| {
            scanned += 1;
            scanned < 10_000
        });
        let mut scanned_back = 0;
        let scan_back = m2.scan(Bound::Unbounded, Bound::Unbounded, true, |_, _| {
            scanned_back += 1;
            scanned_back < 10_000
        });
        forward.len() < 10_000
            && backward.len() < 10_000
            && forward.iter().any(Result::is_err)
            && scan.is_err()
            && scanned_back < 10_000
            && scan_back.is_ok()
    });
}

#[test]
fn a_generation_counter_at_its_end_is_an_error_not_a_panic() {
    let t = TestStore::new("omd-gen");
    let m = filled(&t, "m", 3);
    root(&t, &m).next_gen.store(u64::MAX - 1, Ordering::SeqCst);
    let got = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| m.set(b"k", b"v")));
    let got = got.expect("a write panicked");
    assert_eq!(got.unwrap_err().kind(), ErrorKind::Corrupt);
    assert_intact(&m, 3);
}

#[test]
fn an_inner_node_without_children_is_an_error_for_writers() {
    let t = TestStore::new("omd-empty-inner");
    let m = filled(&t, "m", 200);
    let (node, _) = root_node(&t, &m);
    let h: &NodeHeader = t.get(node).unwrap();
    h.len.store(0, Ordering::SeqCst);
    let got = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| m.set(b"k", b"v")));
    assert_eq!(
        got.expect("a write panicked").unwrap_err().kind(),
        ErrorKind::Corrupt
    );
}

#[test]
fn a_live_node_at_the_head_of_the_free_list_is_not_reused() {
    // A free list whose head is a node of the tree (even generation): taking it would
    // overwrite a published node. The list is dropped instead.
    let t = TestStore::new("omd-live-free");
    let m = filled(&t, "m", 200);
    let (node, _) = root_node(&t, &m);
    let inner: &InnerNode = t.get(node).unwrap();
    let leaf = inner.slots[1].child.load(Ordering::SeqCst);
    let r = root(&t, &m);
    r.free_head.store(leaf, Ordering::SeqCst);
    for i in 200..260 {
        m.set(&key(i), format!("value {i}").as_bytes()).unwrap();
    }
    assert_intact(&m, 260);
}

#[test]
fn an_unreadable_free_list_head_is_dropped_not_an_error_on_every_write() {
    let t = TestStore::new("omd-bad-free");
    let m = filled(&t, "m", 200);
    root(&t, &m).free_head.store(12345, Ordering::SeqCst); // misaligned
    for i in 200..260 {
        m.set(&key(i), format!("value {i}").as_bytes()).unwrap();
    }
    assert_intact(&m, 260);
}

#[test]
fn removes_succeed_in_a_full_store() {
    // A write that adds an entry first stocks the free list for a later remove: once the
    // store has no memory left, every entry can still be removed.
    let options = StoreOptions {
        reserve: 4 << 20,
        initial_len: 4 << 20,
        ..StoreOptions::default()
    };
    let t = TestStore::with("omd-full", &options);
    let m = t.ordered_map("m").unwrap();
    let mut n = 0u32;
    loop {
        match m.set(&key(n), &[7u8; 100]) {
            Ok(()) => n += 1,
            Err(e) => {
                assert_eq!(e.kind(), ErrorKind::StoreFull, "{e}");
                break;
            }
        }
    }
    assert!(n > 1000, "{n} entries");
    // Removes from the middle and both ends: merges on every level, root collapses.
    let mut order: Vec<u32> = (0..n).collect();
    order.sort_by_key(|i| (i % 7, *i));
    for i in order {
        assert!(m.delete(&key(i)).unwrap(), "remove of {i}");
    }
    assert!(m.is_empty());
    assert!(m.verify().unwrap().problems.is_empty());
}

#[test]
fn update_removes_and_keeps() {
    let t = TestStore::new("omd-update");
    let m = filled(&t, "m", 100);
    for i in (0..100).step_by(3) {
        let after = m.update(&key(i), |v| {
            assert_eq!(v, Some(format!("value {i}").as_bytes()));
            UpdateAction::Remove
        });
        assert_eq!(after.unwrap(), None);
    }
    assert_eq!(
        m.update(&key(1), |_| UpdateAction::Keep)
            .unwrap()
            .as_deref(),
        Some(&b"value 1"[..])
    );
    assert_eq!(m.update(b"absent", |_| UpdateAction::Remove).unwrap(), None);
    let keys: Vec<u32> = (0..100).filter(|i| i % 3 != 0).collect();
    assert_eq!(m.len(), keys.len() as u64);
    for i in 0..100 {
        let want = (i % 3 != 0).then(|| format!("value {i}").into_bytes());
        assert_eq!(m.get(&key(i)).unwrap(), want, "key {i}");
    }
    assert!(m.verify().unwrap().problems.is_empty());
}

#[test]
fn a_repair_that_rebuilds_the_tree_leaves_a_clean_map() {
    // The rebuilt tree has fewer nodes than the old one (leaves filled to three quarters
    // instead of half): the free list changes length during the repair.
    let t = TestStore::new("omd-rebuild");
    let m = filled(&t, "m", 300);
    let (node, _) = root_node(&t, &m);
    let inner: &InnerNode = t.get(node).unwrap();
    let leaf: &LeafNode = t.get(inner.slots[2].child.load(Ordering::SeqCst)).unwrap();
    let rec = leaf.entries[3].rec.load(Ordering::SeqCst);
    t.write_bytes(rec + 16 + 9, b"X").unwrap(); // a value byte
    let report = m.repair().unwrap();
    assert!(report.problems.is_empty(), "{report:?}");
    let again = m.verify().unwrap();
    assert!(again.problems.is_empty(), "{again:?}");
    assert_eq!(m.len(), 299);
    let report = t.repair();
    assert!(report.after.is_clean(), "{report:?}");
}
