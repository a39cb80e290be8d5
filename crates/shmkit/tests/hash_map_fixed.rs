//! Fixed-size hash maps: the same proptest model test as a map of any sizes (against
//! `std::collections::HashMap`, with handles, counters, batches and clears), typed errors
//! for keys and values of the wrong size (and nothing changed by them), no allocator call
//! once the slab has room, memory given back by `clear`, the sizes kept across opens and
//! processes, and readers in one process while another overwrites.

mod common;

use common::{Exit, TestStore, fixed_options as options, fork_child};
use proptest::prelude::*;
use shmkit::{ErrorKind, FixedSize, HashMap, HashMapOptions, MapError, UpdateAction};
use std::collections::HashMap as StdMap;

const KEY_LEN: usize = 8;
const VALUE_LEN: usize = 8;

fn fixed_map(t: &TestStore, name: &str, shards: u32) -> HashMap {
    t.hash_map_with(name, &options(shards, KEY_LEN as u32, VALUE_LEN as u32))
        .unwrap()
}

fn key(k: u64) -> [u8; KEY_LEN] {
    k.to_le_bytes()
}

fn val(v: u64) -> [u8; VALUE_LEN] {
    v.to_le_bytes()
}

#[derive(Debug, Clone)]
enum Op {
    Set(u8, u64),
    Insert(u8, u64),
    IfAbsent(u8, u64),
    Remove(u8),
    Cas(u8, Option<u64>, Option<u64>),
    Incr(u8, i64),
    Update(u8, Option<u64>),
    Get(u8),
    Handle(u8),
    SetByHandle(u8, u64),
    RemoveByHandle(u8),
    SetMany(Vec<(u8, u64)>),
    RemoveMany(Vec<u8>),
    Clear,
}

fn op() -> impl Strategy<Value = Op> {
    // Few distinct values, so compare_and_set's condition holds often.
    let v = 0u64..4;
    let k = 0u8..64;
    prop_oneof![
        6 => (k.clone(), v.clone()).prop_map(|(k, v)| Op::Set(k, v)),
        3 => (k.clone(), v.clone()).prop_map(|(k, v)| Op::Insert(k, v)),
        2 => (k.clone(), v.clone()).prop_map(|(k, v)| Op::IfAbsent(k, v)),
        4 => k.clone().prop_map(Op::Remove),
        2 => (k.clone(), proptest::option::of(v.clone()), proptest::option::of(v.clone()))
            .prop_map(|(k, e, n)| Op::Cas(k, e, n)),
        2 => (k.clone(), -3i64..3).prop_map(|(k, d)| Op::Incr(k, d)),
        1 => (k.clone(), proptest::option::of(v.clone())).prop_map(|(k, n)| Op::Update(k, n)),
        3 => k.clone().prop_map(Op::Get),
        2 => k.clone().prop_map(Op::Handle),
        2 => (k.clone(), v.clone()).prop_map(|(k, v)| Op::SetByHandle(k, v)),
        1 => k.clone().prop_map(Op::RemoveByHandle),
        1 => proptest::collection::vec((k.clone(), v), 0..20).prop_map(Op::SetMany),
        1 => proptest::collection::vec(k, 0..20).prop_map(Op::RemoveMany),
        1 => Just(Op::Clear),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Every operation answers as a `std` map would, handles name their keys until the key
    /// goes, and the map checks clean at the end (its slab accounting every record).
    #[test]
    fn model_against_std_hash_map(ops in proptest::collection::vec(op(), 1..600)) {
        let t = TestStore::new("fixed-model");
        let map = fixed_map(&t, "m", 2);
        let mut model: StdMap<u64, u64> = StdMap::new();
        let mut handles: StdMap<u64, shmkit::KeyHandle> = StdMap::new();
        let get = |k: u64| map.get(&key(k)).unwrap().map(|v| u64::from_le_bytes(v.try_into().unwrap()));
        for op in &ops {
            match op.clone() {
                Op::Set(k, v) => { map.set(&key(k.into()), &val(v)).unwrap(); model.insert(k.into(), v); }
                Op::Insert(k, v) => {
                    let old = map.insert(&key(k.into()), &val(v)).unwrap();
                    prop_assert_eq!(old.map(|o| u64::from_le_bytes(o.try_into().unwrap())), model.insert(k.into(), v));
                }
                Op::IfAbsent(k, v) => {
                    let absent = !model.contains_key(&k.into());
                    if absent { model.insert(k.into(), v); }
                    prop_assert_eq!(map.insert_if_absent(&key(k.into()), &val(v)).unwrap(), absent);
                }
                Op::Remove(k) => {
                    let old = map.remove(&key(k.into())).unwrap();
                    prop_assert_eq!(old.map(|o| u64::from_le_bytes(o.try_into().unwrap())), model.remove(&k.into()));
                    handles.remove(&k.into());
                }
                Op::Cas(k, e, n) => {
                    let holds = model.get(&k.into()) == e.as_ref();
                    if holds {
                        match n { Some(n) => { model.insert(k.into(), n); } None => { model.remove(&k.into()); handles.remove(&k.into()); } }
                    }
                    let got = map.compare_and_set(&key(k.into()), e.map(val).as_ref().map(|v| &v[..]), n.map(val).as_ref().map(|v| &v[..])).unwrap();
                    prop_assert_eq!(got, holds);
                }
                Op::Incr(k, d) => {
                    let new = model.get(&k.into()).map_or(d, |&old| (old as i64).wrapping_add(d));
                    prop_assert_eq!(map.incr_i64(&key(k.into()), d).unwrap(), new);
                    model.insert(k.into(), new as u64);
                }
                Op::Update(k, n) => {
                    let seen = model.get(&k.into()).copied();
                    let after = map.update(&key(k.into()), |cur| {
                        assert_eq!(cur.map(|c| u64::from_le_bytes(c.try_into().unwrap())), seen);
                        match n { Some(n) => UpdateAction::Set(val(n).to_vec()), None => UpdateAction::Remove }
                    }).unwrap();
                    prop_assert_eq!(after, n.map(|n| val(n).to_vec()));
                    match n { Some(n) => { model.insert(k.into(), n); } None => { model.remove(&k.into()); handles.remove(&k.into()); } }
                }
                Op::Get(k) => prop_assert_eq!(get(k.into()), model.get(&k.into()).copied()),
                Op::Handle(k) => {
                    let h = map.handle(&key(k.into())).unwrap();
                    prop_assert_eq!(h.is_some(), model.contains_key(&k.into()));
                    if let Some(h) = h {
                        if let Some(old) = handles.insert(k.into(), h) { prop_assert_eq!(old, h); }
                    }
                }
                Op::SetByHandle(k, v) => {
                    if let Some(&h) = handles.get(&k.into()) {
                        prop_assert!(map.set_by_handle(h, &val(v)).unwrap());
                        model.insert(k.into(), v);
                    }
                }
                Op::RemoveByHandle(k) => {
                    if let Some(h) = handles.remove(&k.into()) {
                        prop_assert!(map.remove_by_handle(h).unwrap());
                        prop_assert!(!map.remove_by_handle(h).unwrap(), "a stale handle removed again");
                        model.remove(&k.into());
                    }
                }
                Op::SetMany(items) => {
                    let pairs: Vec<([u8; 8], [u8; 8])> = items.iter().map(|&(k, v)| (key(k.into()), val(v))).collect();
                    map.set_many(&pairs).unwrap();
                    for (k, v) in items { model.insert(k.into(), v); }
                }
                Op::RemoveMany(keys) => {
                    let ks: Vec<[u8; 8]> = keys.iter().map(|&k| key(k.into())).collect();
                    let mut distinct = keys.clone();
                    distinct.sort();
                    distinct.dedup();
                    let present = distinct.iter().filter(|&&k| model.contains_key(&k.into())).count() as u64;
                    prop_assert_eq!(map.remove_many(&ks).unwrap(), present);
                    for k in keys { model.remove(&k.into()); handles.remove(&k.into()); }
                }
                Op::Clear => { map.clear().unwrap(); model.clear(); handles.clear(); }
            }
            prop_assert_eq!(map.len(), model.len() as u64);
        }
        for (&k, &h) in &handles {
            let by_handle = map.get_by_handle(h).unwrap();
            prop_assert_eq!(by_handle, model.get(&k).map(|&v| val(v).to_vec()));
            prop_assert_eq!(map.key_by_handle(h).unwrap(), Some(key(k).to_vec()));
        }
        let mut items: Vec<_> = map.iter().map(|r| r.unwrap()).collect();
        items.sort();
        let mut expected: Vec<_> = model.iter().map(|(&k, &v)| (key(k).to_vec(), val(v).to_vec())).collect();
        expected.sort();
        prop_assert_eq!(items, expected);
        let report = map.verify().unwrap();
        prop_assert!(report.is_clean(), "{:?}", report);
    }
}

/// Every operation refuses a key or value of another size with a typed error
/// (`InvalidArgument`), and nothing in the map changes.
#[test]
fn wrong_sizes_are_typed_errors_and_change_nothing() {
    let t = TestStore::new("fixed-sizes");
    let map = fixed_map(&t, "m", 4);
    map.set(&key(1), &val(10)).unwrap();
    let h = map.handle(&key(1)).unwrap().unwrap();
    let short = [0u8; 7];
    let long = [0u8; 9];
    let wrong_key = |r: Result<(), MapError>| match r {
        Err(e @ MapError::WrongKeySize { expected: 8, .. }) => {
            assert_eq!(e.kind(), ErrorKind::InvalidArgument)
        }
        other => panic!("expected WrongKeySize, got {other:?}"),
    };
    let wrong_value = |r: Result<(), MapError>| match r {
        Err(e @ MapError::WrongValueSize { expected: 8, .. }) => {
            assert_eq!(e.kind(), ErrorKind::InvalidArgument)
        }
        other => panic!("expected WrongValueSize, got {other:?}"),
    };
    for k in [&short[..], &long[..], &[][..]] {
        wrong_key(map.get(k).map(drop));
        wrong_key(map.contains_key(k).map(drop));
        wrong_key(map.set(k, &val(2)));
        wrong_key(map.insert(k, &val(2)).map(drop));
        wrong_key(map.insert_if_absent(k, &val(2)).map(drop));
        wrong_key(map.remove(k).map(drop));
        wrong_key(map.delete(k).map(drop));
        wrong_key(map.handle(k).map(drop));
        wrong_key(map.incr_i64(k, 1).map(drop));
        wrong_key(map.compare_and_set(k, None, Some(&val(1))).map(drop));
        wrong_key(map.update(k, |_| UpdateAction::Keep).map(drop));
        wrong_key(map.get_many(&[key(1).to_vec(), k.to_vec()]).map(drop));
        wrong_key(map.contains_many(&[k]).map(drop));
        wrong_key(map.remove_many(&[key(1).to_vec(), k.to_vec()]).map(drop));
    }
    for v in [&short[..], &long[..], &[][..]] {
        wrong_value(map.set(&key(1), v));
        wrong_value(map.set(&key(2), v));
        wrong_value(map.insert(&key(1), v).map(drop));
        wrong_value(map.insert_if_absent(&key(2), v).map(drop));
        wrong_value(map.set_with_handle(&key(2), v).map(drop));
        wrong_value(
            map.compare_and_set(&key(1), Some(&val(10)), Some(v))
                .map(drop),
        );
        wrong_value(map.set_by_handle(h, v).map(drop));
        wrong_value(
            map.set_many(&[
                (key(3).to_vec(), val(3).to_vec()),
                (key(4).to_vec(), v.to_vec()),
            ])
            .map(drop),
        );
        // `update`'s closure decides a value of the wrong size: refused under the lock.
        wrong_value(
            map.update(&key(1), |_| UpdateAction::Set(v.to_vec()))
                .map(drop),
        );
    }
    // Nothing changed: key 1 still holds 10; keys 2, 3 and 4 were never written.
    assert_eq!(map.get(&key(1)).unwrap(), Some(val(10).to_vec()));
    assert_eq!(map.get_by_handle(h).unwrap(), Some(val(10).to_vec()));
    assert_eq!(map.len(), 1);
    assert!(map.verify().unwrap().is_clean());

    // Counters need 8-byte values.
    let wide = t.hash_map_with("wide", &options(1, 8, 16)).unwrap();
    match wide.incr_i64(&key(1), 1) {
        Err(
            e @ MapError::WrongValueSize {
                len: 8,
                expected: 16,
            },
        ) => assert_eq!(e.kind(), ErrorKind::InvalidArgument),
        other => panic!("expected WrongValueSize, got {other:?}"),
    }
    assert!(wide.is_empty());

    // Sizes that cannot make a map are refused at creation.
    for (k, v) in [(0, 8), (8, 1 << 16), (1 << 16, 0)] {
        match t.hash_map_with(&format!("bad-{k}-{v}"), &options(1, k, v)) {
            Err(e @ MapError::InvalidOptions(_)) => {
                assert_eq!(e.kind(), ErrorKind::InvalidArgument)
            }
            other => panic!("sizes {k}/{v}: expected InvalidOptions, got {other:?}"),
        }
    }
}

/// Once the slab has room, inserts, overwrites and removals never call the allocator:
/// the store's used bytes stay the same over thousands of them (a map of any sizes
/// allocates a record per overwrite).
#[test]
fn overwrites_and_removals_never_allocate() {
    let t = TestStore::new("fixed-no-alloc");
    let map = fixed_map(&t, "m", 4);
    for k in 0..2000 {
        map.set(&key(k), &val(k)).unwrap();
    }
    for k in (0..2000).step_by(2) {
        map.delete(&key(k)).unwrap();
    }
    let used = t.alloc_stats().unwrap().used_bytes;
    for round in 0..5u64 {
        for k in 0..1000 {
            map.set(&key(k * 2 + 1), &val(round)).unwrap(); // overwrite
        }
        for k in (0..2000).step_by(2) {
            map.set(&key(k), &val(round)).unwrap(); // insert into freed records
        }
        for k in (0..2000).step_by(2) {
            assert!(map.delete(&key(k)).unwrap());
        }
    }
    assert_eq!(t.alloc_stats().unwrap().used_bytes, used);
    assert_eq!(map.len(), 1000);
    assert!(map.verify().unwrap().is_clean());
}

/// A slab's first chunk holds what the first table holds before it grows: a map created
/// for 3000 entries takes them all without an allocator call after the first insert.
#[test]
fn the_first_chunk_holds_the_initial_capacity() {
    let t = TestStore::new("fixed-first-chunk");
    let sized = HashMapOptions {
        initial_capacity: 3000,
        ..options(1, KEY_LEN as u32, VALUE_LEN as u32)
    };
    let map = t.hash_map_with("m", &sized).unwrap();
    map.set(&key(0), &val(0)).unwrap();
    let used = t.alloc_stats().unwrap().used_bytes;
    for k in 1..3000 {
        map.set(&key(k), &val(k)).unwrap();
    }
    assert_eq!(t.alloc_stats().unwrap().used_bytes, used);
    assert_eq!(map.stats().unwrap().resizes, 0);
    assert!(map.verify().unwrap().is_clean());
}

/// Growth to 100k keys through many chunk doublings; `stats` counts the slabs, and a
/// cleared map gives its chunks and tables back to the allocator.
#[test]
fn growth_stats_and_clear() {
    let t = TestStore::new("fixed-growth");
    let map = fixed_map(&t, "m", 8);
    let before = t.alloc_stats().unwrap().used_bytes;
    let n = 100_000u64;
    for k in 0..n {
        map.set(&key(k), &val(k * 3)).unwrap();
    }
    for k in (0..n).step_by(997) {
        assert_eq!(map.get(&key(k)).unwrap(), Some(val(k * 3).to_vec()));
    }
    let stats = map.stats().unwrap();
    assert_eq!(stats.entries, n);
    let stride = 8 + 8 + 8;
    assert!(stats.slab_bytes >= n * stride, "{stats:?}");
    // Chunks double: at most about twice what the records need, plus the slab blocks.
    assert!(
        stats.slab_bytes <= 2 * n * stride + 8 * 64 * 1024,
        "{stats:?}"
    );
    assert!(stats.bytes_per_entry > stride as f64, "{stats:?}");
    assert!(stats.bytes_per_entry < 100.0, "{stats:?}");
    let report = map.verify().unwrap();
    assert!(report.is_clean(), "{report:?}");
    assert_eq!(report.entries, n);
    let full = t.alloc_stats().unwrap().used_bytes;
    map.clear().unwrap();
    assert!(map.is_empty());
    let cleared = t.alloc_stats().unwrap().used_bytes;
    assert!(
        cleared < before + (full - before) / 20,
        "clear kept {} of {} bytes",
        cleared - before,
        full - before
    );
    assert_eq!(map.stats().unwrap().slab_bytes, 8 * (64 + 40 * 8));
    // And it is usable again.
    map.set(&key(5), &val(5)).unwrap();
    assert_eq!(map.get(&key(5)).unwrap(), Some(val(5).to_vec()));
    assert!(map.verify().unwrap().is_clean());
}

/// A value size of 0 makes a set of keys; odd sizes are padded in the record, not in what
/// the map hands back; an opened map (and a forked process) knows its sizes.
#[test]
fn odd_sizes_sets_and_reopening() {
    let t = TestStore::new("fixed-odd");
    let set = t.hash_map_with("set", &options(2, 3, 0)).unwrap();
    assert!(set.insert_if_absent(b"abc", b"").unwrap());
    assert!(!set.insert_if_absent(b"abc", b"").unwrap());
    assert_eq!(set.get(b"abc").unwrap(), Some(Vec::new()));
    let odd = t.hash_map_with("odd", &options(2, 13, 5)).unwrap();
    odd.set(b"thirteen-byte", b"fiveb").unwrap();
    assert_eq!(odd.get(b"thirteen-byte").unwrap(), Some(b"fiveb".to_vec()));
    assert_eq!(
        odd.iter().map(|e| e.unwrap()).collect::<Vec<_>>(),
        vec![(b"thirteen-byte".to_vec(), b"fiveb".to_vec())]
    );
    // Opening by name (other options are ignored for an existing map) keeps the sizes.
    let again = t.open_hash_map("odd").unwrap();
    assert_eq!(
        again.fixed_size(),
        Some(FixedSize {
            key_len: 13,
            value_len: 5
        })
    );
    assert_eq!(t.hash_map("odd").unwrap().fixed_size(), again.fixed_size());
    assert_eq!(t.hash_map("plain").unwrap().fixed_size(), None);
    let mut child = fork_child(|| {
        let map = t.open_hash_map("odd").unwrap();
        let ok = map.fixed_size().is_some_and(|s| s.key_len == 13)
            && map.get(b"thirteen-byte").unwrap() == Some(b"fiveb".to_vec())
            && map.set(b"written-later", b"child").is_ok()
            && matches!(
                map.set(b"short", b"child"),
                Err(MapError::WrongKeySize { .. })
            );
        if ok { 0 } else { 1 }
    });
    assert_eq!(child.wait(), Exit::Code(0));
    assert_eq!(odd.get(b"written-later").unwrap(), Some(b"child".to_vec()));
    assert!(odd.verify().unwrap().is_clean());
    assert!(set.verify().unwrap().is_clean());
}

/// A forked writer overwrites and removes keys (reusing freed records at once) while the
/// parent reads: every value read is one its key had (the value names its key), never a
/// record's next owner's.
#[test]
fn readers_never_see_a_reused_record_of_another_key() {
    let t = TestStore::new("fixed-readers");
    let map = fixed_map(&t, "m", 2);
    const KEYS: u64 = 64;
    let stamp = |k: u64, round: u64| val(k << 32 | round);
    for k in 0..KEYS {
        map.set(&key(k), &stamp(k, 0)).unwrap();
    }
    let stop = TestStore::new("fixed-readers-stop");
    let flag = stop.hash_map("flag").unwrap();
    let mut writer = fork_child(|| {
        let mut round = 1u64;
        while !flag.contains_key(b"stop").unwrap_or(true) {
            for k in 0..KEYS {
                let ok = if (k + round) % 3 == 0 {
                    map.delete(&key(k)).is_ok()
                } else {
                    map.set(&key(k), &stamp(k, round)).is_ok()
                };
                if !ok {
                    return 1;
                }
            }
            round += 1;
        }
        0
    });
    let mut reads = 0u64;
    let mut found = 0u64;
    while reads < 200_000 {
        for k in 0..KEYS {
            if let Some(v) = map.get(&key(k)).unwrap() {
                let v = u64::from_le_bytes(v.try_into().unwrap());
                assert_eq!(v >> 32, k, "key {k} read another key's value");
                found += 1;
            }
            reads += 1;
        }
    }
    flag.set(b"stop", b"").unwrap();
    assert_eq!(writer.wait(), Exit::Code(0));
    assert!(found > 0);
    assert!(map.verify().unwrap().is_clean());
}
