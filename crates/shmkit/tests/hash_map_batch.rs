//! HashMap batched operations: a proptest model test against `std::collections::HashMap`
//! (batches with duplicate keys, small and large values, shard resizes), batch reads while
//! another process writes, and a writer SIGKILLed inside `set_many` loops.

mod common;

use common::{Exit, Rng, TestStore, fork_child, watchdog};
use proptest::prelude::*;
use shmkit::collections::hash_map::MAX_KEY_LEN;
use shmkit::{HashMap, MapError};
use std::collections::HashMap as StdMap;
use std::time::Duration;

fn key_of(k: u8) -> Vec<u8> {
    // Lengths 0..12, so the empty key is in the mix.
    let mut out = vec![b'k'; (k % 12) as usize];
    out.push(k);
    out.truncate((k % 12) as usize + usize::from(k >= 12));
    out
}

#[derive(Clone, Debug)]
enum Op {
    Set(Vec<(u8, Vec<u8>)>),
    Remove(Vec<u8>),
    Get(Vec<u8>),
    GetInto(Vec<u8>),
    Contains(Vec<u8>),
    One(u8, Vec<u8>),
}

fn value() -> impl Strategy<Value = Vec<u8>> {
    // Mostly small (built under the lock, spare blocks), some over 512 bytes (built before
    // the lock).
    prop_oneof![
        4 => proptest::collection::vec(any::<u8>(), 0..40),
        1 => proptest::collection::vec(any::<u8>(), 500..700),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    let keys = proptest::collection::vec(0u8..48, 0..40);
    prop_oneof![
        3 => proptest::collection::vec((0u8..48, value()), 0..40).prop_map(Op::Set),
        1 => keys.clone().prop_map(Op::Remove),
        2 => keys.clone().prop_map(Op::Get),
        1 => keys.clone().prop_map(Op::GetInto),
        1 => keys.prop_map(Op::Contains),
        1 => (0u8..48, value()).prop_map(|(k, v)| Op::One(k, v)),
    ]
}

fn check_op(map: &HashMap, model: &mut StdMap<Vec<u8>, Vec<u8>>, op: Op) {
    match op {
        Op::Set(items) => {
            let items: Vec<(Vec<u8>, Vec<u8>)> =
                items.into_iter().map(|(k, v)| (key_of(k), v)).collect();
            map.set_many(&items).unwrap();
            for (k, v) in items {
                model.insert(k, v);
            }
        }
        Op::Remove(keys) => {
            let keys: Vec<Vec<u8>> = keys.into_iter().map(key_of).collect();
            let mut expected = 0;
            for k in &keys {
                expected += u64::from(model.remove(k).is_some());
            }
            assert_eq!(map.remove_many(&keys).unwrap(), expected);
        }
        Op::Get(keys) => {
            let keys: Vec<Vec<u8>> = keys.into_iter().map(key_of).collect();
            let want: Vec<Option<Vec<u8>>> = keys.iter().map(|k| model.get(k).cloned()).collect();
            assert_eq!(map.get_many(&keys).unwrap(), want);
        }
        Op::GetInto(_) => unreachable!("checked by the caller"),
        Op::Contains(keys) => {
            let keys: Vec<Vec<u8>> = keys.into_iter().map(key_of).collect();
            let want: Vec<bool> = keys.iter().map(|k| model.contains_key(k)).collect();
            assert_eq!(map.contains_many(&keys).unwrap(), want);
        }
        Op::One(k, v) => {
            map.set(&key_of(k), &v).unwrap();
            model.insert(key_of(k), v);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn batches_match_a_std_model(ops in proptest::collection::vec(op(), 1..40)) {
        let t = TestStore::new("batch-model");
        let map = t.map(4);
        let mut model = StdMap::new();
        let (mut out, mut spans) = (Vec::new(), Vec::new());
        for op in ops {
            if let Op::GetInto(keys) = &op {
                let keys: Vec<Vec<u8>> = keys.iter().copied().map(key_of).collect();
                map.get_many_into(&keys, &mut out, &mut spans).unwrap();
                prop_assert_eq!(spans.len(), keys.len());
                for (k, span) in keys.iter().zip(&spans) {
                    let got = span.clone().map(|r| out[r].to_vec());
                    prop_assert_eq!(got.as_ref(), model.get(k));
                }
                continue;
            }
            check_op(&map, &mut model, op);
        }
        prop_assert_eq!(map.len(), model.len() as u64);
        prop_assert!(map.verify().unwrap().is_clean());
        // A loop of single gets agrees with the batch.
        let keys: Vec<Vec<u8>> = (0u8..48).map(key_of).collect();
        let singles: Vec<Option<Vec<u8>>> = keys.iter().map(|k| map.get(k).unwrap()).collect();
        prop_assert_eq!(map.get_many(&keys).unwrap(), singles);
    }
}

#[test]
fn duplicates_resolve_to_the_last_value_and_count_once() {
    let t = TestStore::new("batch-dups");
    let map = t.map(1);
    map.set_many(&[
        (b"a", b"1"),
        (b"b", b"2"),
        (b"a", b"3"),
        (b"b", b"4"),
        (b"a", b"5"),
    ])
    .unwrap();
    assert_eq!(
        map.get_many(&[b"a", b"b", b"a"]).unwrap(),
        vec![
            Some(b"5".to_vec()),
            Some(b"4".to_vec()),
            Some(b"5".to_vec())
        ]
    );
    assert_eq!(map.len(), 2);
    assert_eq!(map.remove_many(&[b"a", b"a", b"c", b"b"]).unwrap(), 2);
    assert!(map.is_empty());
    let empty: [&[u8]; 0] = [];
    assert_eq!(map.get_many(&empty).unwrap(), Vec::<Option<Vec<u8>>>::new());
    map.set_many::<&[u8], &[u8]>(&[]).unwrap();
    assert_eq!(map.remove_many(&empty).unwrap(), 0);
}

#[test]
fn a_batch_grows_shards_past_many_resizes() {
    let t = TestStore::new("batch-grow");
    let map = t.map(2);
    let items: Vec<(Vec<u8>, Vec<u8>)> = (0..20_000u32)
        .map(|i| (i.to_le_bytes().to_vec(), (i * 7).to_le_bytes().to_vec()))
        .collect();
    map.set_many(&items).unwrap();
    assert_eq!(map.len(), 20_000);
    assert!(map.stats().unwrap().resizes >= 10);
    let keys: Vec<&[u8]> = items.iter().map(|(k, _)| &k[..]).collect();
    let got = map.get_many(&keys).unwrap();
    for ((_, v), g) in items.iter().zip(&got) {
        assert_eq!(g.as_deref(), Some(&v[..]));
    }
    assert!(map.verify().unwrap().is_clean());
    assert_eq!(map.remove_many(&keys[..10_000]).unwrap(), 10_000);
    assert_eq!(map.len(), 10_000);
    assert!(map.verify().unwrap().is_clean());
}

#[test]
fn an_oversized_key_fails_the_batch_before_any_write() {
    let t = TestStore::new("batch-oversized");
    let map = t.map(4);
    // Zeroed by the allocator lazily: 4 GiB of address space, no memory touched (the length
    // is checked before the key is hashed).
    let long = vec![0u8; MAX_KEY_LEN as usize + 1];
    let items: Vec<(&[u8], &[u8])> = vec![(b"a", b"1"), (&long, b"2"), (b"b", b"3")];
    let err = map.set_many(&items).unwrap_err();
    assert!(matches!(err, MapError::KeyTooLarge { .. }), "{err:?}");
    assert!(map.is_empty(), "nothing of a refused batch is written");
    let keys: Vec<&[u8]> = vec![b"a", &long];
    assert!(matches!(
        map.get_many(&keys),
        Err(MapError::KeyTooLarge { .. })
    ));
    assert!(matches!(
        map.contains_many(&keys),
        Err(MapError::KeyTooLarge { .. })
    ));
    assert!(matches!(
        map.remove_many(&keys),
        Err(MapError::KeyTooLarge { .. })
    ));
    let (mut out, mut spans) = (b"stale".to_vec(), vec![None]);
    assert!(map.get_many_into(&keys, &mut out, &mut spans).is_err());
    assert!(out.is_empty() && spans.is_empty());
}

/// The value a writer stores for key `k` at version `v`: the key, then the version, then
/// filler whose length depends on both (0..600 bytes, so some records are large).
fn versioned(k: u32, v: u64) -> Vec<u8> {
    let mut out = k.to_le_bytes().to_vec();
    out.extend_from_slice(&v.to_le_bytes());
    let fill = ((u64::from(k) * 31 + v * 17) % 600) as usize;
    out.extend((0..fill).map(|i| (i as u8) ^ (k as u8) ^ (v as u8)));
    out
}

/// The version of `value` if it is exactly what [`versioned`] writes for key `k`.
fn version_of(k: u32, value: &[u8]) -> Option<u64> {
    let v = u64::from_le_bytes(value.get(4..12)?.try_into().ok()?);
    (versioned(k, v) == value).then_some(v)
}

fn key(k: u32) -> Vec<u8> {
    format!("key-{k}").into_bytes()
}

const KEYS: u32 = 400;

#[test]
fn batch_reads_see_only_values_each_key_held_while_another_process_writes() {
    let _watchdog = watchdog(300);
    let t = TestStore::new("batch-concurrent");
    let map = t.map(8);
    let keys: Vec<Vec<u8>> = (0..KEYS).map(key).collect();
    let first: Vec<(Vec<u8>, Vec<u8>)> = (0..KEYS).map(|k| (key(k), versioned(k, 1))).collect();
    map.set_many(&first).unwrap();
    let writer = {
        let map = map.clone();
        fork_child(move || {
            // Versions only grow: batches (with duplicates) and single sets and removals.
            let mut rng = Rng::new(7);
            for v in 2..u64::MAX {
                if map.contains_key(b"stop").unwrap_or(true) {
                    return 0;
                }
                let n = rng.below(64) as usize + 1;
                let items: Vec<(Vec<u8>, Vec<u8>)> = (0..n)
                    .map(|_| {
                        let k = rng.below(u64::from(KEYS)) as u32;
                        (key(k), versioned(k, v))
                    })
                    .collect();
                let ok = match rng.below(8) {
                    0 => items.iter().all(|(k, _)| map.delete(k).is_ok()),
                    1 => map
                        .remove_many(&items.iter().map(|i| &i.0).collect::<Vec<_>>())
                        .is_ok(),
                    2 => items.iter().all(|(k, val)| map.set(k, val).is_ok()),
                    _ => map.set_many(&items).is_ok(),
                };
                if !ok {
                    return 1;
                }
            }
            0
        })
    };
    // Each key's versions only grow, so successive batches must never see one go back.
    let mut seen = vec![0u64; KEYS as usize];
    let (mut out, mut spans) = (Vec::new(), Vec::new());
    let mut checked = 0u64;
    for round in 0..400 {
        let results: Vec<Option<Vec<u8>>> = if round % 2 == 0 {
            map.get_many(&keys).unwrap()
        } else {
            map.get_many_into(&keys, &mut out, &mut spans).unwrap();
            spans
                .iter()
                .map(|s| s.clone().map(|r| out[r].to_vec()))
                .collect()
        };
        assert_eq!(results.len(), keys.len());
        for (k, r) in results.iter().enumerate() {
            let Some(value) = r else { continue };
            let v = version_of(k as u32, value)
                .unwrap_or_else(|| panic!("key {k}: a value no write stored: {value:?}"));
            assert!(
                v >= seen[k],
                "key {k} went back from version {} to {v}",
                seen[k]
            );
            seen[k] = v;
            checked += 1;
        }
        let present = map.contains_many(&keys).unwrap();
        assert_eq!(present.len(), keys.len());
    }
    map.set(b"stop", b"").unwrap();
    let mut writer = writer;
    assert_eq!(writer.wait_timeout(Duration::from_secs(60)), Exit::Code(0));
    assert!(checked > 0);
    assert!(map.verify().unwrap().is_clean());
}

#[test]
fn writer_killed_inside_set_many_loops_leaves_a_map_that_repairs_clean() {
    let _watchdog = watchdog(300);
    let t = TestStore::new("batch-crash");
    let map = t.map(2);
    let mut rng = Rng::new(0xBA7C ^ u64::from(std::process::id()));
    let mut repaired = 0;
    for round in 0..60u32 {
        let seed = rng.next();
        let mut child = {
            let map = map.clone();
            fork_child(move || {
                // Batch v sets every key it names to version v; "done" = v afterwards.
                let mut rng = Rng::new(seed | 1);
                let start = match map.get(b"done") {
                    Ok(Some(d)) => u64::from_le_bytes(d.try_into().unwrap_or([0; 8])),
                    Ok(None) => 0,
                    Err(_) => return 2,
                };
                for v in start + 1.. {
                    let n = rng.below(200) as usize + 1;
                    let items: Vec<(Vec<u8>, Vec<u8>)> = (0..n)
                        .map(|_| {
                            let k = rng.below(u64::from(KEYS)) as u32;
                            (key(k), versioned(k, v))
                        })
                        .collect();
                    if map.set_many(&items).is_err() || map.set(b"done", &v.to_le_bytes()).is_err()
                    {
                        return 1;
                    }
                }
                0
            })
        };
        std::thread::sleep(Duration::from_micros(200 + rng.below(3000)));
        child.kill();
        assert_eq!(child.wait(), Exit::Signal(libc::SIGKILL), "round {round}");
        let report = map.verify().unwrap();
        if !report.repaired.is_empty() {
            repaired += 1;
        }
        assert!(report.is_clean(), "round {round}: {report:?}");
        // Every value is one a batch wrote, and none is newer than the batch in flight.
        let done = map
            .get(b"done")
            .unwrap()
            .map_or(0, |d| u64::from_le_bytes(d.try_into().unwrap()));
        let keys: Vec<Vec<u8>> = (0..KEYS).map(key).collect();
        for (k, r) in map.get_many(&keys).unwrap().iter().enumerate() {
            if let Some(value) = r {
                let v = version_of(k as u32, value)
                    .unwrap_or_else(|| panic!("round {round} key {k}: torn value"));
                assert!(
                    v <= done + 1,
                    "round {round} key {k}: version {v} after {done}"
                );
            }
        }
    }
    eprintln!("60 kills, {repaired} repaired a shard left inside a critical section");
    // The leak sweep frees what killed batches had built but not published.
    let repair = t.repair();
    assert!(repair.not_repaired.is_empty(), "{repair:?}");
    let report = t.check();
    assert!(report.is_clean(), "{report:?}");
    assert!(map.verify().unwrap().is_clean());
}

/// Key `i` of the million-key tests: 16 bytes.
fn key16(i: u32) -> [u8; 16] {
    let mut k = *b"million-key-\0\0\0\0";
    k[12..].copy_from_slice(&i.to_le_bytes());
    k
}

/// Value of key `i` at version `v`: 32 bytes naming both.
fn value32(i: u32, v: u32) -> [u8; 32] {
    let mut out = [0u8; 32];
    out[..4].copy_from_slice(&i.to_le_bytes());
    out[4..8].copy_from_slice(&v.to_le_bytes());
    for (j, b) in out[8..].iter_mut().enumerate() {
        *b = (i as u8) ^ (v as u8) ^ j as u8;
    }
    out
}

#[test]
fn get_many_over_a_million_keys_equals_a_loop_of_get_also_while_another_process_writes() {
    let _watchdog = watchdog(600);
    const N: u32 = 1_000_000;
    let t = TestStore::new("batch-million");
    let map = t.map(64);
    let items: Vec<([u8; 16], [u8; 32])> = (0..N).map(|i| (key16(i), value32(i, 0))).collect();
    for chunk in items.chunks(10_000) {
        map.set_many(chunk).unwrap();
    }
    // Every third key of the request is absent.
    let keys: Vec<[u8; 16]> = (0..N + N / 2)
        .map(|i| {
            if i % 3 == 2 {
                key16(N + i)
            } else {
                key16(i % N)
            }
        })
        .collect();
    let batch = map.get_many(&keys).unwrap();
    let looped: Vec<Option<Vec<u8>>> = keys.iter().map(|k| map.get(k).unwrap()).collect();
    assert!(batch == looped, "get_many differs from a loop of get");
    assert_eq!(
        batch.iter().filter(|r| r.is_none()).count(),
        (N / 2) as usize
    );

    // A writer process bumps versions of random keys; each result must be some version
    // of that key (never another key's value, never torn), and never older than a version
    // an earlier batch saw.
    let writer = {
        let map = map.clone();
        fork_child(move || {
            let mut rng = Rng::new(11);
            for v in 1..u32::MAX {
                if map.contains_key(b"stop").unwrap_or(true) {
                    return 0;
                }
                let batch: Vec<([u8; 16], [u8; 32])> = (0..256)
                    .map(|_| {
                        let i = rng.below(u64::from(N)) as u32;
                        (key16(i), value32(i, v))
                    })
                    .collect();
                if map.set_many(&batch).is_err() {
                    return 1;
                }
            }
            0
        })
    };
    let all: Vec<[u8; 16]> = (0..N).map(key16).collect();
    let mut seen = vec![0u32; N as usize];
    let (mut out, mut spans) = (Vec::new(), Vec::new());
    for round in 0..3 {
        map.get_many_into(&all, &mut out, &mut spans).unwrap();
        for (i, span) in spans.iter().enumerate() {
            let value = &out[span.clone().expect("no key is ever removed")];
            let key_of = u32::from_le_bytes(value[..4].try_into().unwrap());
            let v = u32::from_le_bytes(value[4..8].try_into().unwrap());
            assert_eq!(
                key_of, i as u32,
                "round {round}: key {i} handed out another key's value"
            );
            assert_eq!(
                value,
                value32(i as u32, v),
                "round {round}: key {i}: torn value"
            );
            assert!(
                v >= seen[i],
                "round {round}: key {i} went back from {} to {v}",
                seen[i]
            );
            seen[i] = v;
        }
    }
    assert!(
        seen.iter().any(|v| *v > 0),
        "the writer never ran during the batches"
    );
    map.set(b"stop", b"").unwrap();
    let mut writer = writer;
    assert_eq!(writer.wait_timeout(Duration::from_secs(60)), Exit::Code(0));
    assert!(map.verify().unwrap().is_clean());
}
