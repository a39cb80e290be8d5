//! OrderedMap in one process: a proptest model against `BTreeMap` (point writes, conditional
//! writes, pops, clears; every read form checked after each step: forward and reverse
//! ranges with each kind of bound, prefixes, counts, floor/ceiling/lower/higher), large
//! trees through splits, merges and collapses with a full check, and bad input.

mod common;

use common::{Rng, TestStore};
use proptest::prelude::*;
use shmkit::collections::ordered_map::{MAX_KEY_LEN, prefix_end};
use shmkit::value::arith::Addend;
use shmkit::{ErrorKind, OrderedMap, UpdateAction};
use std::collections::BTreeMap;
use std::ops::Bound;

type Model = BTreeMap<Vec<u8>, Vec<u8>>;
/// A range probe: lower and upper bound.
type Probe = (Bound<Vec<u8>>, Bound<Vec<u8>>);

/// Keys with many ties: stems around and past 8 bytes, some sharing their first 8 bytes,
/// one ending in a zero byte, plus a short tail.
fn key_strategy() -> impl Strategy<Value = Vec<u8>> {
    let stems: Vec<&'static [u8]> = vec![
        b"",
        b"a",
        b"ab",
        b"aaaaaaaa",
        b"aaaaaaaa\0",
        b"aaaaaaaab",
        b"aaaaaaaaaaaaaaaaaaaaaaa",
        b"z\xff\xff",
    ];
    (
        proptest::sample::select(stems),
        proptest::collection::vec(
            proptest::sample::select(vec![0u8, 1, b'a', b'b', 0xff]),
            0..3,
        ),
    )
        .prop_map(|(s, t)| [s, &t[..]].concat())
}

fn bound_strategy() -> impl Strategy<Value = Bound<Vec<u8>>> {
    prop_oneof![
        Just(Bound::Unbounded),
        key_strategy().prop_map(Bound::Included),
        key_strategy().prop_map(Bound::Excluded),
    ]
}

#[derive(Clone, Debug)]
enum Op {
    Set(Vec<u8>, Vec<u8>),
    Insert(Vec<u8>, Vec<u8>),
    IfAbsent(Vec<u8>, Vec<u8>),
    Remove(Vec<u8>),
    Cas(Vec<u8>, Option<Vec<u8>>, Option<Vec<u8>>),
    Append(Vec<u8>),
    Pop(bool),
    /// Many keys at once (to grow the tree past one leaf).
    Fill(u16, u16),
    /// Removes every other key of the model (merges).
    Thin,
    Clear,
}

fn value_strategy() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 0..20)
}

fn op_strategy() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => (key_strategy(), value_strategy()).prop_map(|(k, v)| Op::Set(k, v)),
        3 => (key_strategy(), value_strategy()).prop_map(|(k, v)| Op::Insert(k, v)),
        3 => (key_strategy(), value_strategy()).prop_map(|(k, v)| Op::IfAbsent(k, v)),
        6 => key_strategy().prop_map(Op::Remove),
        3 => (key_strategy(), proptest::option::of(value_strategy()), proptest::option::of(value_strategy()))
            .prop_map(|(k, e, n)| Op::Cas(k, e, n)),
        2 => key_strategy().prop_map(Op::Append),
        2 => any::<bool>().prop_map(Op::Pop),
        1 => (0u16..2000, 1u16..400).prop_map(|(a, n)| Op::Fill(a, n)),
        1 => Just(Op::Thin),
        1 => Just(Op::Clear),
    ]
}

fn fill_key(i: u16) -> Vec<u8> {
    format!("aaaaaaaa{i:05}").into_bytes()
}

fn apply(map: &OrderedMap, model: &mut Model, op: &Op) {
    match op {
        Op::Set(k, v) => {
            map.set(k, v).unwrap();
            model.insert(k.clone(), v.clone());
        }
        Op::Insert(k, v) => {
            assert_eq!(
                map.insert(k, v).unwrap(),
                model.insert(k.clone(), v.clone())
            );
        }
        Op::IfAbsent(k, v) => {
            let absent = !model.contains_key(k);
            assert_eq!(map.insert_if_absent(k, v).unwrap(), absent);
            if absent {
                model.insert(k.clone(), v.clone());
            }
        }
        Op::Remove(k) => assert_eq!(map.remove(k).unwrap(), model.remove(k)),
        Op::Cas(k, e, n) => {
            let holds = model.get(k) == e.as_ref();
            assert_eq!(
                map.compare_and_set(k, e.as_deref(), n.as_deref()).unwrap(),
                holds
            );
            if holds {
                match n {
                    Some(n) => model.insert(k.clone(), n.clone()),
                    None => model.remove(k),
                };
            }
        }
        Op::Append(k) => {
            let after = map
                .update(k, |v| UpdateAction::Set([v.unwrap_or(b""), b"+"].concat()))
                .unwrap()
                .unwrap();
            let m = model.entry(k.clone()).or_default();
            m.push(b'+');
            assert_eq!(&after, m);
        }
        Op::Pop(last) => {
            let expected = if *last {
                model.pop_last()
            } else {
                model.pop_first()
            };
            assert_eq!(map.pop_end(*last).unwrap(), expected);
        }
        Op::Fill(a, n) => {
            for i in *a..a.saturating_add(*n) {
                let k = fill_key(i);
                let v = i.to_le_bytes().to_vec();
                map.set(&k, &v).unwrap();
                model.insert(k, v);
            }
        }
        Op::Thin => {
            let keys: Vec<_> = model.keys().step_by(2).cloned().collect();
            for k in keys {
                assert!(map.delete(&k).unwrap());
                model.remove(&k);
            }
        }
        Op::Clear => {
            map.clear().unwrap();
            model.clear();
        }
    }
}

fn borrowed(b: &Bound<Vec<u8>>) -> Bound<&[u8]> {
    match b {
        Bound::Included(k) => Bound::Included(&k[..]),
        Bound::Excluded(k) => Bound::Excluded(&k[..]),
        Bound::Unbounded => Bound::Unbounded,
    }
}

/// The model's entries in `(lo, hi)` (empty when the bounds cross, where BTreeMap panics).
fn model_range(model: &Model, lo: &Bound<Vec<u8>>, hi: &Bound<Vec<u8>>) -> Vec<(Vec<u8>, Vec<u8>)> {
    model
        .iter()
        .filter(|(k, _)| {
            let after = match lo {
                Bound::Included(l) => *k >= l,
                Bound::Excluded(l) => *k > l,
                Bound::Unbounded => true,
            };
            let before = match hi {
                Bound::Included(h) => *k <= h,
                Bound::Excluded(h) => *k < h,
                Bound::Unbounded => true,
            };
            after && before
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

fn check_reads(map: &OrderedMap, model: &Model, probes: &[Probe]) {
    assert_eq!(map.len(), model.len() as u64);
    let bytes: u64 = model.iter().map(|(k, v)| (k.len() + v.len()) as u64).sum();
    assert_eq!(map.total_bytes(), bytes);
    let all: Vec<_> = map.iter().map(Result::unwrap).collect();
    let expected: Vec<_> = model.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    assert_eq!(all, expected);
    let back: Vec<_> = map.iter().rev().map(Result::unwrap).collect();
    assert_eq!(back, expected.iter().rev().cloned().collect::<Vec<_>>());
    for (lo, hi) in probes {
        let want = model_range(model, lo, hi);
        let got: Vec<_> = map
            .range(borrowed(lo), borrowed(hi))
            .map(Result::unwrap)
            .collect();
        assert_eq!(got, want, "range {lo:?}..{hi:?}");
        let got_back: Vec<_> = map
            .range(borrowed(lo), borrowed(hi))
            .rev()
            .map(Result::unwrap)
            .collect();
        assert_eq!(got_back, want.iter().rev().cloned().collect::<Vec<_>>());
        // The allocation-free scan sees the same entries, either way, and stops when told.
        for reverse in [false, true] {
            let mut seen = Vec::new();
            let n = map
                .scan(borrowed(lo), borrowed(hi), reverse, |k, v| {
                    seen.push((k.to_vec(), v.to_vec()));
                    true
                })
                .unwrap();
            let mut expected = want.clone();
            if reverse {
                expected.reverse();
            }
            assert_eq!(seen, expected, "scan {lo:?}..{hi:?} reverse {reverse}");
            assert_eq!(n, want.len() as u64);
        }
        let mut first_two = 0;
        let stopped = map
            .scan(borrowed(lo), borrowed(hi), false, |_, _| {
                first_two += 1;
                first_two < 2
            })
            .unwrap();
        assert_eq!(stopped, want.len().min(2) as u64);
        // Both ends at once meet in the middle without losing or repeating an entry.
        let mut r = map.range(borrowed(lo), borrowed(hi));
        let (mut front, mut tail) = (Vec::new(), Vec::new());
        let mut from_front = true;
        loop {
            let item = if from_front { r.next() } else { r.next_back() };
            let Some(item) = item else { break };
            if from_front {
                front.push(item.unwrap());
            } else {
                tail.push(item.unwrap());
            }
            from_front = !from_front;
        }
        tail.reverse();
        front.extend(tail);
        assert_eq!(front, want, "both ends of {lo:?}..{hi:?}");
        let c = map.count(borrowed(lo), borrowed(hi)).unwrap();
        assert_eq!(c.count, want.len() as u64, "count {lo:?}..{hi:?}");
        assert_eq!(
            c.bytes,
            want.iter()
                .map(|(k, v)| (k.len() + v.len()) as u64)
                .sum::<u64>()
        );
        if let Bound::Included(k) | Bound::Excluded(k) = lo {
            let floor = model
                .range(..=k.clone())
                .next_back()
                .map(|(a, b)| (a.clone(), b.clone()));
            assert_eq!(map.floor(k).unwrap(), floor);
            let lower = model
                .range(..k.clone())
                .next_back()
                .map(|(a, b)| (a.clone(), b.clone()));
            assert_eq!(map.lower(k).unwrap(), lower);
            let ceiling = model
                .range(k.clone()..)
                .next()
                .map(|(a, b)| (a.clone(), b.clone()));
            assert_eq!(map.ceiling(k).unwrap(), ceiling);
            let higher = model
                .range((Bound::Excluded(k.clone()), Bound::Unbounded))
                .next()
                .map(|(a, b)| (a.clone(), b.clone()));
            assert_eq!(map.higher(k).unwrap(), higher);
            assert_eq!(map.get(k).unwrap(), model.get(k).cloned());
            assert_eq!(map.contains_key(k).unwrap(), model.contains_key(k));
            let pre: Vec<_> = map.prefix(k).map(|r| r.unwrap().0).collect();
            let end = prefix_end(k);
            let want_pre: Vec<_> = model
                .keys()
                .filter(|key| key.starts_with(k))
                .cloned()
                .collect();
            assert_eq!(pre, want_pre, "prefix {k:?} (end {end:?})");
            assert_eq!(map.count_prefix(k).unwrap().count, want_pre.len() as u64);
        }
    }
    assert_eq!(
        map.first().unwrap(),
        model.first_key_value().map(|(a, b)| (a.clone(), b.clone()))
    );
    assert_eq!(
        map.last().unwrap(),
        model.last_key_value().map(|(a, b)| (a.clone(), b.clone()))
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn matches_a_btreemap(
        ops in proptest::collection::vec(op_strategy(), 1..60),
        probes in proptest::collection::vec((bound_strategy(), bound_strategy()), 4),
    ) {
        let store = TestStore::new("om-model");
        let map = store.ordered_map("m").unwrap();
        let mut model = Model::new();
        for op in &ops {
            apply(&map, &mut model, op);
            check_reads(&map, &model, &probes[..1]);
        }
        check_reads(&map, &model, &probes);
        let report = map.verify().unwrap();
        prop_assert!(report.problems.is_empty(), "{:?}", report.problems);
        prop_assert_eq!(report.len, model.len() as u64);
    }
}

#[test]
fn large_trees_split_merge_and_collapse_cleanly() {
    let store = TestStore::new("om-large");
    let map = store.ordered_map("m").unwrap();
    let mut rng = Rng::new(7);
    let mut model = Model::new();
    let n = 30_000u64;
    for _ in 0..n {
        let k = rng.below(n * 4).to_be_bytes().to_vec();
        let v = vec![b'v'; rng.below(40) as usize];
        map.set(&k, &v).unwrap();
        model.insert(k, v);
    }
    let stats = map.stats().unwrap();
    assert!(stats.depth >= 3, "{stats:?}");
    assert!(map.verify().unwrap().problems.is_empty());
    check_reads(
        &map,
        &model,
        &[(
            Bound::Included(vec![0, 0, 0, 0, 0, 0, 10]),
            Bound::Excluded(vec![0, 0, 0, 0, 0, 1]),
        )],
    );
    // Remove in random order down to a handful: merges at every level, then collapses.
    let mut keys: Vec<_> = model.keys().cloned().collect();
    for i in (1..keys.len()).rev() {
        keys.swap(i, rng.below(i as u64 + 1) as usize);
    }
    for (i, k) in keys.iter().enumerate() {
        if i + 5 >= keys.len() {
            break;
        }
        assert!(map.delete(k).unwrap());
        model.remove(k);
        if i % 5000 == 0 {
            let report = map.verify().unwrap();
            assert!(report.problems.is_empty(), "{:?}", report.problems);
        }
    }
    let stats = map.stats().unwrap();
    assert_eq!(stats.len, 5);
    assert_eq!(stats.depth, 1, "{stats:?}");
    check_reads(&map, &model, &[]);
    assert!(map.verify().unwrap().problems.is_empty());
    // The nodes went back to the map's free list, and the next growth reuses them.
    let free = stats.free_nodes;
    assert!(free > 100, "{stats:?}");
    for i in 0..2000u64 {
        map.set(&i.to_be_bytes(), b"x").unwrap();
    }
    assert!(map.stats().unwrap().free_nodes < free);
}

#[test]
fn incr_adds_typed_numbers() {
    use shmkit::value::{Value, decode, encode};
    let store = TestStore::new("om-incr");
    let map = store.ordered_map("m").unwrap();
    let one = map.incr(b"n", Addend::Int(&[1])).unwrap();
    assert_eq!(decode(&one).unwrap(), Value::Int(1));
    let sum = map.incr(b"n", Addend::Float(0.5)).unwrap();
    assert_eq!(decode(&sum).unwrap(), Value::Float(1.5));
    assert_eq!(map.get(b"n").unwrap(), Some(sum));
    map.set(b"s", &encode(&Value::Str("x".into()))).unwrap();
    let e = map.incr(b"s", Addend::Int(&[1])).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::WrongType);
    assert_eq!(
        map.get(b"s").unwrap(),
        Some(encode(&Value::Str("x".into())))
    );
}

#[test]
fn bad_input_is_refused_and_changes_nothing() {
    let store = TestStore::new("om-bad");
    let map = store.ordered_map("m").unwrap();
    map.set(b"k", b"v").unwrap();
    let long = vec![7u8; MAX_KEY_LEN as usize + 1];
    for e in [
        map.set(&long, b"v").unwrap_err(),
        map.get(&long).unwrap_err(),
        map.remove(&long).unwrap_err(),
        map.count(Bound::Included(&long[..]), Bound::Unbounded)
            .unwrap_err(),
        map.range(Bound::Included(&long[..]), Bound::Unbounded)
            .next()
            .unwrap()
            .unwrap_err(),
    ] {
        assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
    }
    assert_eq!(map.len(), 1);
    // The longest key works.
    let longest = vec![7u8; MAX_KEY_LEN as usize];
    map.set(&longest, b"w").unwrap();
    assert_eq!(map.get(&longest).unwrap().as_deref(), Some(&b"w"[..]));
    // A name holding another kind.
    store.hash_map("h").unwrap();
    assert_eq!(
        store.open_ordered_map("h").unwrap_err().kind(),
        ErrorKind::WrongKind
    );
    assert_eq!(
        store.ordered_map("h").unwrap_err().kind(),
        ErrorKind::WrongKind
    );
    assert_eq!(
        store.open_ordered_map("none").unwrap_err().kind(),
        ErrorKind::ObjectNotFound
    );
    assert!(map.verify().unwrap().problems.is_empty());
}

#[test]
fn a_full_store_refuses_inserts_unchanged_and_still_removes_everything() {
    // Fill a small store until an insert fails: the failed insert changes nothing, and
    // every remove after it succeeds (removes reuse the nodes inserts reserved), down to
    // an empty, clean map.
    let options = shmkit::StoreOptions {
        reserve: 4 << 20,
        initial_len: 1 << 20,
        ..shmkit::StoreOptions::default()
    };
    let store = TestStore::with("om-full", &options);
    let map = store.ordered_map("m").unwrap();
    let mut model = Model::new();
    let mut rng = Rng::new(3);
    let failed = loop {
        let k = rng.below(u64::MAX).to_be_bytes().to_vec();
        let v = vec![9u8; 100];
        match map.set(&k, &v) {
            Ok(()) => {
                model.insert(k, v);
            }
            Err(e) => break e,
        }
    };
    assert_eq!(failed.kind(), ErrorKind::StoreFull, "{failed}");
    assert_eq!(map.len(), model.len() as u64);
    let keys: Vec<_> = model.keys().cloned().collect();
    assert_eq!(map.iter().map(|r| r.unwrap().0).collect::<Vec<_>>(), keys);
    assert!(map.verify().unwrap().problems.is_empty());
    // Removes in random order (merges everywhere), each must succeed on the full store.
    let mut order = keys.clone();
    for i in (1..order.len()).rev() {
        order.swap(i, rng.below(i as u64 + 1) as usize);
    }
    for k in &order {
        assert!(map.delete(k).unwrap());
    }
    assert!(map.is_empty());
    assert!(map.verify().unwrap().problems.is_empty());
}
