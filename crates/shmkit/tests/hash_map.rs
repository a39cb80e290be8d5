//! HashMap: the API in one process, error cases, and a proptest model test against
//! `std::collections::HashMap` (with many shard resizes).

mod common;

use common::TestStore;
use proptest::prelude::*;
use shmkit::{
    AllocError, DirectoryError, HashMapOptions, MapError, Store, StoreOptions, UpdateAction,
};
use std::collections::HashMap as StdMap;

#[test]
fn basic_operations() {
    let t = TestStore::new("map-basic");
    let map = t.hash_map("m").unwrap();
    assert!(map.is_empty());
    assert_eq!(map.get(b"a").unwrap(), None);
    assert_eq!(map.insert(b"a", b"1").unwrap(), None);
    assert_eq!(map.insert(b"a", b"22").unwrap().as_deref(), Some(&b"1"[..]));
    map.set(b"", b"").unwrap(); // empty key and value
    assert_eq!(map.get(b"").unwrap().as_deref(), Some(&b""[..]));
    assert!(map.contains_key(b"").unwrap());
    assert_eq!(map.len(), 2);
    assert!(!map.insert_if_absent(b"a", b"x").unwrap());
    assert!(map.insert_if_absent(b"b", b"x").unwrap());
    assert_eq!(map.remove(b"b").unwrap().as_deref(), Some(&b"x"[..]));
    assert_eq!(map.remove(b"b").unwrap(), None);
    assert!(map.delete(b"").unwrap());
    assert!(!map.delete(b"").unwrap());
    assert_eq!(map.len(), 1);

    let mut buf = Vec::with_capacity(16);
    assert!(map.get_into(b"a", &mut buf).unwrap());
    assert_eq!(buf, b"22");
    assert!(!map.get_into(b"zz", &mut buf).unwrap());
    assert!(buf.is_empty());

    // compare_and_set in all four shapes
    assert!(
        !map.compare_and_set(b"a", Some(b"nope"), Some(b"3"))
            .unwrap()
    );
    assert!(map.compare_and_set(b"a", Some(b"22"), Some(b"3")).unwrap());
    assert!(!map.compare_and_set(b"a", None, Some(b"4")).unwrap());
    assert!(map.compare_and_set(b"c", None, Some(b"4")).unwrap());
    assert!(map.compare_and_set(b"c", Some(b"4"), None).unwrap());
    assert!(map.compare_and_set(b"c", None, None).unwrap());
    assert_eq!(map.get(b"a").unwrap().as_deref(), Some(&b"3"[..]));
    assert_eq!(map.get(b"c").unwrap(), None);

    // update
    let v = map
        .update(b"a", |v| UpdateAction::Set([v.unwrap(), b"+"].concat()))
        .unwrap();
    assert_eq!(v.as_deref(), Some(&b"3+"[..]));
    assert_eq!(
        map.update(b"a", |_| UpdateAction::Keep).unwrap().as_deref(),
        Some(&b"3+"[..])
    );
    assert_eq!(
        map.update(b"n", |v| {
            assert!(v.is_none());
            UpdateAction::Keep
        })
        .unwrap(),
        None
    );
    assert_eq!(map.update(b"a", |_| UpdateAction::Remove).unwrap(), None);
    assert!(!map.contains_key(b"a").unwrap());

    // counters
    assert_eq!(map.incr_i64(b"n", 5).unwrap(), 5);
    assert_eq!(map.incr_i64(b"n", -7).unwrap(), -2);
    assert_eq!(map.get(b"n").unwrap().unwrap(), (-2i64).to_le_bytes());
    map.set(b"max", &i64::MAX.to_le_bytes()).unwrap();
    assert_eq!(map.incr_i64(b"max", 1).unwrap(), i64::MIN);
    assert_eq!(map.incr_f64(b"f", 1.5).unwrap(), 1.5);
    assert_eq!(map.incr_f64(b"f", 0.25).unwrap(), 1.75);
    assert!(matches!(map.incr_i64(b"a-missing-then-short", 1), Ok(1)));
    map.set(b"short", b"abc").unwrap();
    assert!(matches!(
        map.incr_i64(b"short", 1),
        Err(MapError::NotAnInteger { len: 3 })
    ));
    assert!(matches!(
        map.incr_f64(b"short", 1.0),
        Err(MapError::NotAnInteger { len: 3 })
    ));
    assert_eq!(map.get(b"short").unwrap().as_deref(), Some(&b"abc"[..]));

    // iteration
    let mut keys: Vec<Vec<u8>> = map.keys().map(|k| k.unwrap()).collect();
    keys.sort();
    assert_eq!(
        keys,
        vec![
            b"a-missing-then-short".to_vec(),
            b"f".to_vec(),
            b"max".to_vec(),
            b"n".to_vec(),
            b"short".to_vec()
        ]
    );
    assert_eq!(map.values().count(), 5);
    assert_eq!(map.iter().count() as u64, map.len());

    let report = map.verify().unwrap();
    assert!(report.is_clean(), "{report:?}");
    assert_eq!(report.entries, 5);

    map.clear().unwrap();
    assert!(map.is_empty());
    assert_eq!(map.iter().count(), 0);
    assert!(map.verify().unwrap().is_clean());
    map.set(b"after-clear", b"ok").unwrap();
    assert_eq!(
        map.get(b"after-clear").unwrap().as_deref(),
        Some(&b"ok"[..])
    );
}

#[test]
fn lock_free_reads_answer_like_the_locking_ones() {
    let t = TestStore::new("map-lock-free-reads");
    let map = t.hash_map("m").unwrap();
    let mut buf = Vec::new();
    assert_eq!(
        map.try_get_into_lock_free(b"k", &mut buf).unwrap(),
        Some(false)
    );
    assert_eq!(map.try_contains_key_lock_free(b"k").unwrap(), Some(false));
    map.set(b"k", b"value").unwrap();
    // No writer interferes here, so the lock-free form always has an answer.
    assert_eq!(
        map.try_get_into_lock_free(b"k", &mut buf).unwrap(),
        Some(true)
    );
    assert_eq!(buf, b"value");
    assert_eq!(map.try_contains_key_lock_free(b"k").unwrap(), Some(true));
    map.set(b"k", b"").unwrap();
    assert_eq!(
        map.try_get_into_lock_free(b"k", &mut buf).unwrap(),
        Some(true)
    );
    assert!(buf.is_empty());
}

#[test]
fn shard_entries_cover_the_map_once() {
    let t = TestStore::new("map-shard-entries");
    let map = t.hash_map("m").unwrap();
    for i in 0u32..2000 {
        map.set(&i.to_le_bytes(), &(i * 3).to_le_bytes()).unwrap();
    }
    let mut seen = StdMap::new();
    for shard in 0..map.shard_count() {
        for (k, v) in map.shard_entries(shard, false).unwrap() {
            assert!(seen.insert(k, v).is_none(), "a key in two shards");
        }
        for (_, v) in map.shard_entries(shard, true).unwrap() {
            assert!(v.is_empty(), "keys_only copies no values");
        }
    }
    assert_eq!(seen.len(), 2000);
    for (k, v) in &seen {
        assert_eq!(map.get(k).unwrap().as_ref(), Some(v));
    }
    assert!(matches!(
        map.shard_entries(map.shard_count(), false),
        Err(MapError::InvalidOptions(_))
    ));
}

#[test]
fn open_by_name_and_kind_checks() {
    let t = TestStore::new("map-open");
    assert!(matches!(
        t.open_hash_map("nope"),
        Err(MapError::Directory(DirectoryError::NotFound(_)))
    ));
    let a = t
        .hash_map_with(
            "m",
            &HashMapOptions {
                shards: 8,
                initial_capacity: 100,
                fixed_size: None,
            },
        )
        .unwrap();
    a.set(b"k", b"v").unwrap();
    let b = t.open_hash_map("m").unwrap();
    assert_eq!(b.shard_count(), 8);
    assert_eq!(b.get(b"k").unwrap().as_deref(), Some(&b"v"[..]));
    assert_eq!(b.name(), "m");
    assert!(b.store().same_attachment(&t));
    // Another handle to the same store by name sees the same map.
    let again = Store::open(t.name()).unwrap().hash_map("m").unwrap();
    assert_eq!(again.len(), 1);
    assert!(matches!(
        t.hash_map_with(
            "bad",
            &HashMapOptions {
                shards: 3,
                initial_capacity: 0,
                fixed_size: None,
            }
        ),
        Err(MapError::InvalidOptions(_))
    ));
    t.object_or_create("raw", shmkit::ObjectKind::Raw, |s| s.alloc(8))
        .unwrap();
    assert!(matches!(
        t.hash_map("raw"),
        Err(MapError::Directory(DirectoryError::WrongKind { .. }))
    ));
    // The error converts into the umbrella error.
    let e: shmkit::Error = MapError::NotAnInteger { len: 1 }.into();
    assert!(matches!(e, shmkit::Error::Map(_)));
}

#[test]
fn large_values_and_keys() {
    let t = TestStore::new("map-large");
    let map = t.hash_map("m").unwrap();
    let key = vec![7u8; 70 * 1024]; // keys past 64 KiB are fine
    let value: Vec<u8> = (0..3 << 20).map(|i| (i % 251) as u8).collect();
    map.set(&key, &value).unwrap();
    assert_eq!(map.get(&key).unwrap().as_deref(), Some(&value[..]));
    assert_eq!(map.remove(&key).unwrap().as_deref(), Some(&value[..]));
    assert!(map.verify().unwrap().is_clean());
}

#[test]
fn value_beyond_the_reservation_is_a_clear_error() {
    let options = StoreOptions {
        reserve: 8 << 20,
        initial_len: 1 << 20,
        ..StoreOptions::default()
    };
    let t = TestStore::with("map-toolarge", &options);
    let map = t.hash_map("m").unwrap();
    map.set(b"small", b"1").unwrap();
    let huge = vec![1u8; 16 << 20];
    match map.set(b"big", &huge) {
        Err(MapError::Alloc(
            AllocError::ReservationExceeded { .. } | AllocError::StoreFull { .. },
        )) => {}
        other => panic!("expected an allocation error, got {other:?}"),
    }
    match map.insert(b"small", &huge) {
        Err(MapError::Alloc(_)) => {}
        other => panic!("expected an allocation error, got {other:?}"),
    }
    // The map is unchanged and usable.
    assert_eq!(map.get(b"small").unwrap().as_deref(), Some(&b"1"[..]));
    assert_eq!(map.get(b"big").unwrap(), None);
    map.set(b"other", &[2u8; 1000]).unwrap();
    assert_eq!(map.len(), 2);
    assert!(map.verify().unwrap().is_clean());
}

#[test]
fn deleted_space_is_reused() {
    let t = TestStore::new("map-reuse");
    let map = t.map(4);
    let round = |r: u32| {
        for i in 0..2000u32 {
            map.set(&(i + r * 2000).to_le_bytes(), &[r as u8; 40])
                .unwrap();
        }
        for i in 0..2000u32 {
            assert!(map.delete(&(i + r * 2000).to_le_bytes()).unwrap());
        }
    };
    round(0);
    let committed = t.committed_len();
    let heap = t.alloc_stats().unwrap().heap_bytes;
    for r in 1..20 {
        round(r);
    }
    assert!(map.is_empty());
    assert!(map.verify().unwrap().is_clean());
    let heap_after = t.alloc_stats().unwrap().heap_bytes;
    assert!(
        heap_after <= heap * 2,
        "heap grew from {heap} to {heap_after} under churn"
    );
    assert!(t.committed_len() <= committed * 2);
}

#[test]
fn owned_blocks_cover_every_used_block() {
    let t = TestStore::new("map-owned");
    let map = t.map(2);
    for i in 0..500u32 {
        map.set(&i.to_le_bytes(), &vec![1u8; i as usize % 100])
            .unwrap();
    }
    for i in (0..500u32).step_by(3) {
        map.delete(&i.to_le_bytes()).unwrap();
    }
    let mut owned = 0u64;
    map.owned_blocks(&mut |_| owned += 1).unwrap();
    let store_report = t.verify_allocator().unwrap();
    assert!(store_report.is_clean());
    // Every used block belongs to the map (plus the directory page).
    assert_eq!(store_report.used_blocks, owned + 1);
}

#[derive(Clone, Debug)]
enum Op {
    Set(u8, Vec<u8>),
    Insert(u8, Vec<u8>),
    IfAbsent(u8, Vec<u8>),
    Remove(u8),
    Cas(u8, Option<Vec<u8>>, Option<Vec<u8>>),
    Incr(u8, i64),
    Get(u8),
    Clear,
}

fn key(k: u8) -> Vec<u8> {
    // Keys of varied lengths, some sharing prefixes.
    let mut v = format!("key-{k}").into_bytes();
    v.resize(4 + (k as usize % 23), b'.');
    v
}

fn op() -> impl Strategy<Value = Op> {
    let val = proptest::collection::vec(any::<u8>(), 0..40);
    prop_oneof![
        6 => (any::<u8>(), val.clone()).prop_map(|(k, v)| Op::Set(k, v)),
        3 => (any::<u8>(), val.clone()).prop_map(|(k, v)| Op::Insert(k, v)),
        2 => (any::<u8>(), val.clone()).prop_map(|(k, v)| Op::IfAbsent(k, v)),
        4 => any::<u8>().prop_map(Op::Remove),
        2 => (any::<u8>(), proptest::option::of(val.clone()), proptest::option::of(val))
            .prop_map(|(k, e, n)| Op::Cas(k, e, n)),
        2 => (any::<u8>(), any::<i64>()).prop_map(|(k, d)| Op::Incr(k, d)),
        3 => any::<u8>().prop_map(Op::Get),
        1 => Just(Op::Clear),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn model_against_std_hash_map(ops in proptest::collection::vec(op(), 1..600)) {
        let t = TestStore::new("map-model");
        let map = t.map(2);
        let mut model: StdMap<Vec<u8>, Vec<u8>> = StdMap::new();
        for op in &ops {
            match op {
                Op::Set(k, v) => { map.set(&key(*k), v).unwrap(); model.insert(key(*k), v.clone()); }
                Op::Insert(k, v) => {
                    prop_assert_eq!(map.insert(&key(*k), v).unwrap(), model.insert(key(*k), v.clone()));
                }
                Op::IfAbsent(k, v) => {
                    let absent = !model.contains_key(&key(*k));
                    if absent { model.insert(key(*k), v.clone()); }
                    prop_assert_eq!(map.insert_if_absent(&key(*k), v).unwrap(), absent);
                }
                Op::Remove(k) => prop_assert_eq!(map.remove(&key(*k)).unwrap(), model.remove(&key(*k))),
                Op::Cas(k, e, n) => {
                    let holds = model.get(&key(*k)) == e.as_ref();
                    if holds {
                        match n { Some(n) => { model.insert(key(*k), n.clone()); } None => { model.remove(&key(*k)); } }
                    }
                    prop_assert_eq!(map.compare_and_set(&key(*k), e.as_deref(), n.as_deref()).unwrap(), holds);
                }
                Op::Incr(k, d) => {
                    let r = map.incr_i64(&key(*k), *d);
                    match model.get(&key(*k)) {
                        Some(v) if v.len() != 8 => { let bad = matches!(r, Err(MapError::NotAnInteger { .. })); prop_assert!(bad) }
                        cur => {
                            let old = cur.map(|v| i64::from_le_bytes(v[..].try_into().unwrap())).unwrap_or(0);
                            let new = if cur.is_some() { old.wrapping_add(*d) } else { *d };
                            prop_assert_eq!(r.unwrap(), new);
                            model.insert(key(*k), new.to_le_bytes().to_vec());
                        }
                    }
                }
                Op::Get(k) => { let got = map.get(&key(*k)).unwrap(); prop_assert_eq!(got.as_ref(), model.get(&key(*k))) }
                Op::Clear => { map.clear().unwrap(); model.clear(); }
            }
            prop_assert_eq!(map.len(), model.len() as u64);
        }
        let mut items: Vec<_> = map.iter().map(|r| r.unwrap()).collect();
        items.sort();
        let mut expected: Vec<_> = model.into_iter().collect();
        expected.sort();
        prop_assert_eq!(items, expected);
        let report = map.verify().unwrap();
        prop_assert!(report.is_clean(), "{:?}", report);
    }
}

#[test]
fn growth_across_many_resizes_matches_the_model() {
    let t = TestStore::new("map-growth");
    let map = t.map(4);
    let mut model = StdMap::new();
    let mut rng = common::Rng::new(0x1234_5678);
    for step in 0..40_000u64 {
        let k = rng.below(20_000).to_le_bytes().to_vec();
        if rng.below(4) == 0 {
            assert_eq!(map.remove(&k).unwrap(), model.remove(&k), "step {step}");
        } else {
            let v = step.to_le_bytes().repeat((step % 5) as usize);
            assert_eq!(
                map.insert(&k, &v).unwrap(),
                model.insert(k, v),
                "step {step}"
            );
        }
        if step % 5000 == 0 {
            assert!(map.verify().unwrap().is_clean());
        }
    }
    assert_eq!(map.len(), model.len() as u64);
    for (k, v) in &model {
        assert_eq!(map.get(k).unwrap().as_ref(), Some(v));
    }
    let stats = map.stats().unwrap();
    assert!(stats.resizes >= 4 * 8, "{stats:?}");
    assert_eq!(stats.entries, model.len() as u64);
    let report = map.verify().unwrap();
    assert!(report.is_clean(), "{report:?}");
    assert_eq!(report.entries, model.len() as u64);
}

#[test]
fn handles_are_send_sync_clone() {
    fn check<T: Send + Sync + Clone>() {}
    check::<shmkit::HashMap>();
    let t = TestStore::new("map-threads");
    let map = t.hash_map("m").unwrap();
    let threads: Vec<_> = (0..4u32)
        .map(|n| {
            let map = map.clone();
            std::thread::spawn(move || {
                for i in 0..2000u32 {
                    map.set(&(n * 10_000 + i).to_le_bytes(), &i.to_le_bytes())
                        .unwrap();
                }
            })
        })
        .collect();
    for th in threads {
        th.join().unwrap();
    }
    assert_eq!(map.len(), 8000);
    assert!(map.verify().unwrap().is_clean());
}

#[test]
fn a_panicking_update_closure_leaves_the_map_usable() {
    let t = TestStore::new("map-panic");
    let map = t.map(1);
    for i in 0..100u32 {
        map.set(&i.to_le_bytes(), b"v").unwrap(); // a few resizes, maybe one in progress
    }
    let m = map.clone();
    let r = std::panic::catch_unwind(move || {
        let _ = m.update(b"k", |_| panic!("closure failed"));
    });
    assert!(r.is_err());
    assert_eq!(
        map.get(&5u32.to_le_bytes()).unwrap().as_deref(),
        Some(&b"v"[..])
    );
    map.set(b"k", b"after").unwrap();
    assert_eq!(map.len(), 101);
    let report = map.verify().unwrap();
    assert!(report.is_clean(), "{report:?}");
}

#[test]
fn large_records_that_no_slot_takes_are_freed() {
    // A large record is built before the shard lock is taken; when the write then does
    // not happen (the key exists, the expected value differs) it must be freed at once,
    // not left for the leaked-block sweep.
    let t = TestStore::new("map-unused-record");
    let map = t.map(1);
    map.set(b"k", b"small").unwrap();
    let big = vec![7u8; 4096];
    let used = t.alloc_stats().unwrap().used_bytes;
    for _ in 0..20 {
        assert!(!map.insert_if_absent(b"k", &big).unwrap());
        assert!(
            !map.compare_and_set(b"k", Some(b"other".as_slice()), Some(big.as_slice()))
                .unwrap()
        );
    }
    assert_eq!(
        t.alloc_stats().unwrap().used_bytes,
        used,
        "refused records leaked"
    );
    assert_eq!(map.get(b"k").unwrap().as_deref(), Some(&b"small"[..]));
}
