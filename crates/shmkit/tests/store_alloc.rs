//! The allocator against a model: live blocks never overlap, lie inside the committed
//! length, keep their contents, memory is reused under churn, and `verify` stays clean —
//! also while other processes allocate, free and publish objects.

mod common;

use common::{Exit, Rng, TestStore, fork_child, watchdog};
use proptest::prelude::*;
use shmkit::{ObjectKind, Store};
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

/// Live blocks: payload offset -> (capacity, requested size, pattern seed).
#[derive(Default)]
struct Model {
    live: BTreeMap<u64, (u64, u64, u64)>,
}

/// `len` bytes that differ from block to block: the seed's bytes, each 8-byte word also
/// carrying its index, so a shifted or overlapping copy is caught too.
fn pattern(seed: u64, len: u64) -> Vec<u8> {
    let mut out = vec![0u8; len.next_multiple_of(8) as usize];
    for (i, word) in out.chunks_exact_mut(8).enumerate() {
        word.copy_from_slice(&(seed ^ (i as u64).rotate_left(40)).to_le_bytes());
    }
    out.truncate(len as usize);
    out
}

impl Model {
    fn alloc(&mut self, store: &Store, size: u64, seed: u64) -> u64 {
        let off = store
            .alloc(size)
            .unwrap_or_else(|e| panic!("alloc({size}): {e}"));
        let cap = store.block_capacity(off).unwrap();
        assert!(cap >= size, "capacity {cap} < requested {size}");
        assert!(
            off + cap <= store.committed_len(),
            "block past the committed length"
        );
        assert!(off >= store.header().heap_offset + 16);
        assert_eq!(off % 16, 0, "payloads are 16-byte aligned");
        if let Some((&prev, &(pcap, _, _))) = self.live.range(..off).next_back() {
            assert!(prev + pcap + 16 <= off, "block {off} overlaps block {prev}");
        }
        if let Some((&next, _)) = self.live.range(off..).next() {
            assert!(
                off + cap + 16 <= next,
                "block {off} (cap {cap}) overlaps block {next}"
            );
        }
        store.write_bytes(off, &pattern(seed, size)).unwrap();
        self.live.insert(off, (cap, size, seed));
        off
    }

    fn free(&mut self, store: &Store, off: u64) {
        let (_, size, seed) = self.live.remove(&off).expect("freeing a live block");
        let mut buf = vec![0u8; size as usize];
        store.read_bytes(off, &mut buf).unwrap();
        assert!(
            buf == pattern(seed, size),
            "contents of block {off} changed"
        );
        store.free(off).unwrap();
        assert_eq!(store.free(off), Err(shmkit::FreeError::DoubleFree(off)));
    }
}

#[derive(Clone, Debug)]
enum Op {
    Alloc(u64),
    Free(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0u64..1024).prop_map(Op::Alloc),
        3 => (0u64..100 * 1024).prop_map(Op::Alloc),
        1 => (100 * 1024u64..2 << 20).prop_map(Op::Alloc),
        8 => any::<usize>().prop_map(Op::Free),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    #[test]
    fn allocator_matches_model(ops in prop::collection::vec(op(), 1..250)) {
        let store = TestStore::new("alloc-model");
        let mut model = Model::default();
        for (i, op) in ops.iter().enumerate() {
            match *op {
                Op::Alloc(size) => {
                    model.alloc(&store, size, i as u64 * 7919 + 1);
                }
                Op::Free(k) if !model.live.is_empty() => {
                    let off = *model.live.keys().nth(k % model.live.len()).unwrap();
                    model.free(&store, off);
                }
                Op::Free(_) => {}
            }
        }
        let report = store.verify_allocator().unwrap();
        prop_assert!(report.is_clean(), "{:?}", report);
        prop_assert_eq!(report.used_blocks, model.live.len() as u64);
        prop_assert_eq!(report.leaked_free_blocks, 0);
        // Free everything: every carved block is on a free list again.
        let all: Vec<u64> = model.live.keys().copied().collect();
        for off in all {
            model.free(&store, off);
        }
        let report = store.verify_allocator().unwrap();
        prop_assert!(report.is_clean());
        prop_assert_eq!(report.used_blocks, 0);
        let stats = store.alloc_stats().unwrap();
        prop_assert_eq!(stats.used_bytes, 0, "{:?}", stats);
        prop_assert_eq!(stats.free_bytes, stats.heap_bytes);
    }
}

#[test]
fn repeating_a_working_set_reuses_memory_exactly() {
    let store = TestStore::new("alloc-reuse");
    let mut rng = Rng::new(42);
    let sizes: Vec<u64> = (0..300).map(|_| rng.below(100 * 1024)).collect();
    let mut model = Model::default();
    let mut heap_after_first = 0;
    for round in 0..6 {
        let mut offs = Vec::new();
        for (i, &s) in sizes.iter().enumerate() {
            offs.push(model.alloc(&store, s, (round * 1000 + i) as u64));
        }
        // Free in a different order each round.
        for k in 0..offs.len() {
            let j = (k * 7 + round * 13) % offs.len();
            if model.live.contains_key(&offs[j]) {
                model.free(&store, offs[j]);
            }
        }
        for off in offs {
            if model.live.contains_key(&off) {
                model.free(&store, off);
            }
        }
        let heap = store.alloc_stats().unwrap().heap_bytes;
        if round == 0 {
            heap_after_first = heap;
        } else {
            assert_eq!(
                heap, heap_after_first,
                "round {round}: the heap grew under reuse"
            );
        }
    }
}

#[test]
fn random_churn_keeps_the_heap_bounded() {
    let store = TestStore::new("alloc-churn");
    let mut rng = Rng::new(7);
    let mut model = Model::default();
    let mut live: Vec<u64> = Vec::new();
    let size = |rng: &mut Rng| {
        if rng.below(20) == 0 {
            100 * 1024 + rng.below(200 * 1024)
        } else {
            rng.below(4096)
        }
    };
    for _ in 0..300 {
        let s = size(&mut rng);
        live.push(model.alloc(&store, s, rng.next()));
    }
    let block = |m: &Model, off: u64| m.live[&off].0 + 16;
    let mut live_bytes: u64 = live.iter().map(|&off| block(&model, off)).sum();
    let mut peak_live = live_bytes;
    let mut heap_mid = 0;
    const ROUNDS: usize = 12_000;
    for round in 0..ROUNDS {
        let k = rng.below(live.len() as u64) as usize;
        let off = live.swap_remove(k);
        live_bytes -= block(&model, off);
        model.free(&store, off);
        let s = size(&mut rng);
        let off = model.alloc(&store, s, rng.next());
        live_bytes += block(&model, off);
        live.push(off);
        peak_live = peak_live.max(live_bytes);
        if round == ROUNDS / 2 {
            heap_mid = store.alloc_stats().unwrap().heap_bytes;
        }
    }
    let heap_end = store.alloc_stats().unwrap().heap_bytes;
    // Segregated free lists cannot give a freed block of one class to another class, so
    // the heap follows each class's own peak, which creeps up slowly under random sizes;
    // but it stays within a small multiple of the live peak, not the operation count.
    assert!(
        heap_end <= 2 * heap_mid,
        "heap kept growing: {heap_mid} -> {heap_end}"
    );
    let bound = 4 * peak_live + 164 * 32 * 1024;
    assert!(
        heap_end <= bound,
        "heap {heap_end} > bound {bound} (peak live {peak_live})"
    );
    assert!(store.verify_allocator().unwrap().is_clean());
}

#[test]
fn concurrent_processes_allocate_disjoint_blocks() {
    let _dog = watchdog(100);
    let store = TestStore::new("alloc-concurrent");
    let mut children = Vec::new();
    for c in 0..4u64 {
        let store = store.clone();
        children.push(fork_child(move || {
            let mut rng = Rng::new(c + 100);
            let mut mine: HashMap<u64, (u64, u8)> = HashMap::new();
            for i in 0..3000u64 {
                if mine.len() > 50 || (rng.below(3) == 0 && !mine.is_empty()) {
                    let off = *mine.keys().next().unwrap();
                    let (size, byte) = mine.remove(&off).unwrap();
                    let mut buf = vec![0u8; size as usize];
                    store.read_bytes(off, &mut buf).unwrap();
                    if buf.iter().any(|&b| b != byte) {
                        eprintln!("child {c}: block {off} was overwritten");
                        return 1;
                    }
                    store.free(off).unwrap();
                } else {
                    let size = rng.below(if i % 50 == 0 { 200_000 } else { 2000 });
                    let off = store.alloc(size).unwrap();
                    let byte = (c as u8) << 4 | (i as u8 & 15);
                    store.write_bytes(off, &vec![byte; size as usize]).unwrap();
                    mine.insert(off, (size, byte));
                }
            }
            0
        }));
    }
    // Meanwhile verify again and again until every child is done: it must never see a
    // half-done change, and at least one verify must start while the children still work.
    let mut exits: Vec<Option<Exit>> = vec![None; children.len()];
    let mut checks_while_running = 0;
    loop {
        for (child, exit) in children.iter_mut().zip(&mut exits) {
            if exit.is_none() {
                *exit = child.try_wait(Duration::ZERO);
            }
        }
        if exits.iter().all(Option::is_some) {
            break;
        }
        let report = store.verify_allocator().unwrap();
        assert!(report.is_clean(), "verify during activity: {report:?}");
        checks_while_running += 1;
    }
    assert!(
        checks_while_running > 0,
        "the children finished before the first verify"
    );
    assert!(
        exits.iter().all(|e| *e == Some(Exit::Code(0))),
        "children: {exits:?}"
    );
    let report = store.verify_allocator().unwrap();
    assert!(report.is_clean(), "{report:?}");
}

#[test]
fn verify_is_clean_while_others_publish_objects() {
    let _dog = watchdog(100);
    let store = TestStore::new("alloc-verify-objects");
    let child_store = store.clone();
    let child = fork_child(move || {
        for i in 0..300 {
            // Large roots move the heap top for each object.
            let name = format!("object-{i}");
            if child_store
                .object_or_create(&name, ObjectKind::Raw, |s| s.alloc(40_000))
                .is_err()
            {
                return 1;
            }
        }
        0
    });
    let mut problems = Vec::new();
    for _ in 0..2000 {
        let report = store.verify_allocator().unwrap();
        if !report.is_clean() {
            problems.push(report.problems);
        }
        if store.objects().unwrap().len() == 300 {
            break;
        }
    }
    child.expect_success();
    assert!(
        problems.is_empty(),
        "verify reported problems during activity: {:?}",
        &problems[..1]
    );
    assert_eq!(store.objects().unwrap().len(), 300);
}

#[test]
fn churn_with_stable_record_sizes_stops_growing() {
    // Records are replaced by records of similar size (the same size class): after the
    // first round, every allocation is served from a free list.
    let store = TestStore::new("alloc-stable-churn");
    let mut rng = Rng::new(99);
    let mut model = Model::default();
    let classes: Vec<u64> = (0..200).map(|_| 16 << rng.below(13)).collect(); // 16 B .. 64 KiB
    let mut live: Vec<(u64, u64)> = classes
        .iter()
        .map(|&c| (model.alloc(&store, c, rng.next()), c))
        .collect();
    let mut heaps = Vec::new();
    for round in 0..8000 {
        let k = rng.below(live.len() as u64) as usize;
        let (off, class_size) = live[k];
        model.free(&store, off);
        // A size in the same class: (class_size * 7/8, class_size].
        let size = class_size - rng.below(class_size / 8);
        live[k] = (model.alloc(&store, size, rng.next()), class_size);
        if round % 1000 == 999 {
            heaps.push(store.alloc_stats().unwrap().heap_bytes);
        }
    }
    assert!(
        heaps.windows(2).all(|w| w[0] == w[1]),
        "heap grew under steady churn: {heaps:?}"
    );
    assert!(store.verify_allocator().unwrap().is_clean());
}
