//! Stable key handles: a handle reads its key's current value without hashing or probing,
//! survives overwrites and every resize (growth and shrinking), goes stale when its key is
//! removed and never reads another key (nor the same key re-inserted later). Forged
//! handles and handles of another map read as "no such key". A forked writer overwrites,
//! removes and re-inserts handled keys while the parent reads by handle.
//!
//! (Kills during handle creation, removal by handle and cell-table growth are in
//! `crash_hash_map.rs`.)

mod common;

use common::{Rng, TestStore, fork_churner, stop_churner, watchdog};
use proptest::prelude::*;
use shmkit::{ErrorKind, HashMap, KeyHandle};
use std::collections::HashMap as StdMap;

fn key(k: u64) -> Vec<u8> {
    format!("key-{k}").into_bytes()
}

/// A value that names its key, so a value of another key is recognised as such.
fn val(k: u64, v: u64) -> Vec<u8> {
    format!("key-{k}={v}").into_bytes()
}

#[test]
fn a_handle_follows_its_key_through_overwrites_and_goes_stale_on_removal() {
    let t = TestStore::new("handles-basic");
    let map = t.map(4);
    assert_eq!(map.handle(b"absent").unwrap(), None);
    let h = map.set_with_handle(b"a", b"1").unwrap();
    assert_ne!(h.to_raw(), 0);
    assert_eq!(map.get_by_handle(h).unwrap().as_deref(), Some(&b"1"[..]));
    assert_eq!(map.key_by_handle(h).unwrap().as_deref(), Some(&b"a"[..]));
    // Every way of writing the key keeps the handle.
    map.set(b"a", b"2").unwrap();
    assert_eq!(map.get_by_handle(h).unwrap().as_deref(), Some(&b"2"[..]));
    assert_eq!(map.insert(b"a", b"3").unwrap().as_deref(), Some(&b"2"[..]));
    assert!(map.compare_and_set(b"a", Some(b"3"), Some(b"4")).unwrap());
    assert_eq!(map.incr_i64(b"n", 1).unwrap(), 1);
    let hn = map.handle(b"n").unwrap().unwrap();
    assert_eq!(map.incr_i64(b"n", 41).unwrap(), 42);
    assert_eq!(
        map.get_by_handle(hn).unwrap().as_deref(),
        Some(&42i64.to_le_bytes()[..])
    );
    assert!(map.set_by_handle(h, b"5").unwrap());
    assert_eq!(map.get(b"a").unwrap().as_deref(), Some(&b"5"[..]));
    assert_eq!(map.handle(b"a").unwrap(), Some(h));
    assert_eq!(map.set_with_handle(b"a", b"6").unwrap(), h);
    assert_eq!(
        map.insert_if_absent_with_handle(b"a", b"7").unwrap(),
        (h, false)
    );
    assert_eq!(map.get_by_handle(h).unwrap().as_deref(), Some(&b"6"[..]));
    let mut buf = Vec::new();
    assert!(map.get_by_handle_into(h, &mut buf).unwrap());
    assert_eq!(buf, b"6");
    // Removed: stale for good, also after the key comes back (with a new handle).
    assert_eq!(map.remove(b"a").unwrap().as_deref(), Some(&b"6"[..]));
    assert_eq!(map.get_by_handle(h).unwrap(), None);
    assert!(!map.get_by_handle_into(h, &mut buf).unwrap());
    assert!(buf.is_empty());
    assert_eq!(map.key_by_handle(h).unwrap(), None);
    assert!(!map.set_by_handle(h, b"x").unwrap());
    assert!(!map.remove_by_handle(h).unwrap());
    assert_eq!(
        map.get(b"a").unwrap(),
        None,
        "a stale set_by_handle wrote nothing"
    );
    let (h2, inserted) = map.insert_if_absent_with_handle(b"a", b"8").unwrap();
    assert!(inserted);
    assert_ne!(h2, h);
    assert_eq!(map.get_by_handle(h).unwrap(), None);
    assert_eq!(map.get_by_handle(h2).unwrap().as_deref(), Some(&b"8"[..]));
    // Removal by handle, and by every other way.
    assert!(map.remove_by_handle(h2).unwrap());
    assert_eq!(map.get(b"a").unwrap(), None);
    for (i, remove) in [
        (|m: &HashMap| assert!(m.delete(b"b").unwrap())) as fn(&HashMap),
        |m| assert!(m.compare_and_set(b"b", Some(b"v"), None).unwrap()),
        |m| {
            m.update(b"b", |_| shmkit::UpdateAction::Remove).unwrap();
        },
    ]
    .into_iter()
    .enumerate()
    {
        let hb = map.set_with_handle(b"b", b"v").unwrap();
        remove(&map);
        assert_eq!(map.get_by_handle(hb).unwrap(), None, "removal {i}");
    }
    let hc = map.set_with_handle(b"c", b"v").unwrap();
    map.clear().unwrap();
    assert_eq!(map.get_by_handle(hc).unwrap(), None);
    map.set(b"c", b"w").unwrap();
    assert_eq!(map.get_by_handle(hc).unwrap(), None);
    let report = map.verify().unwrap();
    assert!(report.is_clean(), "{report:?}");
}

#[test]
fn handles_survive_growth_and_shrinking() {
    let _watchdog = watchdog(300);
    const N: u64 = 60_000;
    let t = TestStore::new("handles-resize");
    let map = t.map(2);
    let mut handles = Vec::new();
    for k in 0..N {
        if k % 3 == 0 {
            handles.push((k, map.set_with_handle(&key(k), &val(k, 0)).unwrap()));
        } else {
            map.set(&key(k), &val(k, 0)).unwrap();
        }
        if k % 1000 == 0 {
            // Read by handle while shards migrate.
            for &(j, h) in handles.iter().step_by(97) {
                assert_eq!(map.get_by_handle(h).unwrap(), Some(val(j, 0)), "key {j}");
            }
        }
    }
    let grown = map.stats().unwrap();
    assert!(grown.resizes >= 20, "{grown:?}");
    assert_eq!(grown.handles, handles.len() as u64);
    assert!(grown.handle_bytes >= 32 * handles.len() as u64, "{grown:?}");
    for &(k, h) in &handles {
        assert_eq!(map.get_by_handle(h).unwrap(), Some(val(k, 0)), "key {k}");
        assert_eq!(map.handle(&key(k)).unwrap(), Some(h));
    }
    // Remove all but every 50th key (by key, by handle) so the shards shrink.
    for k in 0..N {
        if k % 50 == 0 {
            continue;
        }
        if k % 3 == 0 && k % 2 == 0 {
            let h = handles[(k / 3) as usize].1;
            assert!(map.remove_by_handle(h).unwrap());
        } else {
            assert!(map.delete(&key(k)).unwrap());
        }
    }
    let shrunk = map.stats().unwrap();
    assert!(shrunk.shrinks >= 4, "{shrunk:?}");
    for &(k, h) in &handles {
        let expected = (k % 50 == 0).then(|| val(k, 0));
        assert_eq!(map.get_by_handle(h).unwrap(), expected, "key {k}");
    }
    assert_eq!(
        shrunk.handles,
        handles.iter().filter(|(k, _)| k % 50 == 0).count() as u64
    );
    let report = map.verify().unwrap();
    assert!(report.is_clean(), "{report:?}");
    // Cells freed by removals are reused (the table does not grow again), with new
    // generations: no old handle reads a new key.
    let bytes = shrunk.handle_bytes;
    let fresh: Vec<KeyHandle> = (N..N + 10_000)
        .map(|k| map.set_with_handle(&key(k), &val(k, 1)).unwrap())
        .collect();
    assert_eq!(map.stats().unwrap().handle_bytes, bytes);
    for &(k, h) in &handles {
        let expected = (k % 50 == 0).then(|| val(k, 0));
        assert_eq!(map.get_by_handle(h).unwrap(), expected, "key {k}");
    }
    for (i, h) in fresh.iter().enumerate() {
        assert!(!handles.iter().any(|(_, old)| old == h));
        assert_eq!(map.key_by_handle(*h).unwrap(), Some(key(N + i as u64)));
    }
}

#[test]
fn forged_and_foreign_handles_read_as_no_such_key() {
    let t = TestStore::new("handles-forged");
    let map = t.map(8);
    let other = t
        .hash_map_with(
            "other",
            &shmkit::HashMapOptions {
                shards: 8,
                initial_capacity: 0,
                fixed_size: None,
            },
        )
        .unwrap();
    let mut mine = std::collections::HashSet::new();
    for k in 0..2000 {
        mine.insert(map.set_with_handle(&key(k), &val(k, 0)).unwrap().to_raw());
    }
    // The other map's keys are the same, its handles must not read this map's values.
    let foreign: Vec<KeyHandle> = (0..2000)
        .map(|k| other.set_with_handle(&key(k), b"other").unwrap())
        .collect();
    for h in &foreign {
        if !mine.contains(&h.to_raw()) {
            assert_eq!(map.get_by_handle(*h).unwrap(), None);
        }
    }
    assert!(
        foreign
            .iter()
            .filter(|h| mine.contains(&h.to_raw()))
            .count()
            <= 1,
        "the maps hand out the same handle values"
    );
    // Random bits, and every low word with the generations of this map's handles shifted.
    let mut rng = Rng::new(0x4A4D);
    let mut probes: Vec<u64> = (0..100_000).map(|_| rng.next()).collect();
    probes.extend([0, 1, u64::MAX, u64::MAX >> 32, 1 << 32, u64::MAX << 32]);
    probes.extend(mine.iter().map(|h| h.wrapping_add(1 << 32)));
    probes.extend(mine.iter().map(|h| h ^ 1));
    for raw in probes {
        let h = KeyHandle::from_raw(raw);
        let got = map.get_by_handle(h).unwrap();
        if mine.contains(&raw) {
            continue;
        }
        assert_eq!(got, None, "forged handle {raw:#x}");
        assert_eq!(map.key_by_handle(h).unwrap(), None);
        assert!(!map.set_by_handle(h, b"forged").unwrap());
        assert!(!map.remove_by_handle(h).unwrap());
    }
    assert_eq!(map.len(), 2000);
    for k in 0..2000 {
        assert_eq!(map.get(&key(k)).unwrap(), Some(val(k, 0)));
    }
    let report = map.verify().unwrap();
    assert!(report.is_clean(), "{report:?}");
}

#[test]
fn a_handle_is_refused_where_a_value_is_too_large() {
    let t = TestStore::with(
        "handles-errors",
        &shmkit::StoreOptions {
            reserve: 64 << 20,
            ..Default::default()
        },
    );
    let map = t.map(1);
    let h = map.set_with_handle(b"k", b"v").unwrap();
    let huge = vec![0u8; 128 << 20];
    let err = map.set_by_handle(h, &huge).unwrap_err();
    assert!(
        matches!(
            err.kind(),
            ErrorKind::StoreFull | ErrorKind::InvalidArgument
        ),
        "{err}"
    );
    assert_eq!(map.get_by_handle(h).unwrap().as_deref(), Some(&b"v"[..]));
    let report = map.verify().unwrap();
    assert!(report.is_clean(), "{report:?}");
}

#[test]
fn readers_by_handle_see_only_their_keys_values_while_another_process_writes() {
    let _watchdog = watchdog(300);
    const KEYS: u64 = 400;
    let t = TestStore::new("handles-procs");
    let map = t.map(4);
    let handles: Vec<KeyHandle> = (0..KEYS)
        .map(|k| map.set_with_handle(&key(k), &val(k, 0)).unwrap())
        .collect();
    // The child overwrites every key (by key and by handle) and removes and re-inserts
    // the odd ones; it also grows the map so shards migrate under the reader.
    let churner = {
        let handles = handles.clone();
        let map = map.clone();
        fork_churner(&map.clone(), move |n| {
            let k = (n / 4) % KEYS;
            let v = n / 4 / KEYS + 1;
            let ok = match n % 4 {
                0 => map.set(&key(k), &val(k, v)).is_ok(),
                1 => map.set_by_handle(handles[k as usize], &val(k, v)).is_ok(),
                2 if k % 2 == 1 => {
                    map.delete(&key(k)).is_ok() && map.set(&key(k), &val(k, v)).is_ok()
                }
                _ => map.set(format!("filler-{n}").as_bytes(), b"x").is_ok(),
            };
            ok && (n % 1000 != 999 || map.delete(b"filler-0").is_ok())
        })
    };
    let mut found = [0u64; 2];
    let (mut rewritten, mut stale) = (0u64, 0u64);
    let mut buf = Vec::new();
    let mut round = 0u64;
    // Until the writer has visibly rewritten values and removed odd keys many times.
    while round < 300 || rewritten < 10_000 || stale < 1_000 {
        round += 1;
        for (k, &h) in handles.iter().enumerate() {
            let k = k as u64;
            if map.get_by_handle_into(h, &mut buf).unwrap() {
                let prefix = format!("key-{k}=");
                assert!(
                    buf.starts_with(prefix.as_bytes()),
                    "round {round}: the handle of key {k} read {:?}",
                    String::from_utf8_lossy(&buf)
                );
                found[(k % 2) as usize] += 1;
                if buf != val(k, 0) {
                    rewritten += 1;
                }
            } else {
                assert_eq!(k % 2, 1, "round {round}: even key {k} vanished");
                stale += 1;
            }
        }
    }
    stop_churner(&map, churner);
    eprintln!("{round} rounds: {rewritten} rewritten values read, {stale} stale handles");
    // Even keys were never removed: their handles always read; odd keys' handles went stale
    // at their first removal.
    assert_eq!(found[0], round * KEYS / 2);
    for (k, &h) in handles.iter().enumerate() {
        let now = map.get_by_handle(h).unwrap();
        if k % 2 == 0 {
            assert_eq!(now, map.get(&key(k as u64)).unwrap());
        }
    }
    let report = map.verify().unwrap();
    assert!(report.is_clean(), "{report:?}");
}

#[derive(Clone, Debug)]
enum Op {
    Set(u8, u8),
    SetWithHandle(u8, u8),
    InsertIfAbsentWithHandle(u8, u8),
    Handle(u8),
    Remove(u8),
    SetByHandle(u8, u8),
    RemoveByHandle(u8),
    Fill(u16),
    Clear,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0u8..40, any::<u8>()).prop_map(|(k, v)| Op::Set(k, v)),
        4 => (0u8..40, any::<u8>()).prop_map(|(k, v)| Op::SetWithHandle(k, v)),
        2 => (0u8..40, any::<u8>()).prop_map(|(k, v)| Op::InsertIfAbsentWithHandle(k, v)),
        3 => (0u8..40).prop_map(Op::Handle),
        4 => (0u8..40).prop_map(Op::Remove),
        3 => (any::<u8>(), any::<u8>()).prop_map(|(i, v)| Op::SetByHandle(i, v)),
        3 => any::<u8>().prop_map(Op::RemoveByHandle),
        1 => (0u16..3000).prop_map(Op::Fill),
        1 => Just(Op::Clear),
    ]
}

fn pkey(k: u8) -> Vec<u8> {
    vec![b'p', k]
}

fn pval(k: u8, v: u8) -> Vec<u8> {
    vec![k, v, 0xAA]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Random use of handles against a model: every handle ever given out reads its key's
    /// value while the key was never removed since, "no such key" after that.
    #[test]
    fn handles_match_a_model(ops in proptest::collection::vec(op(), 1..120)) {
        let t = TestStore::new("handles-model");
        let map = t.map(2);
        let mut model: StdMap<Vec<u8>, Vec<u8>> = StdMap::new();
        // Every handle given out, with its key while valid (None once stale).
        let mut handles: Vec<(KeyHandle, Option<Vec<u8>>)> = Vec::new();
        let mut current: StdMap<Vec<u8>, KeyHandle> = StdMap::new();
        let mut next_filler = 0u32;
        let forget = |handles: &mut Vec<(KeyHandle, Option<Vec<u8>>)>, current: &mut StdMap<Vec<u8>, KeyHandle>, key: &[u8]| {
            current.remove(key);
            for (_, k) in handles.iter_mut() {
                if k.as_deref() == Some(key) {
                    *k = None;
                }
            }
        };
        let note = |h: KeyHandle, key: Vec<u8>, handles: &mut Vec<(KeyHandle, Option<Vec<u8>>)>, current: &mut StdMap<Vec<u8>, KeyHandle>| {
            match current.get(&key) {
                Some(&known) => prop_assert_eq!(known, h, "a key changed its handle"),
                None => {
                    prop_assert!(handles.iter().all(|(old, _)| *old != h), "a handle was given out twice");
                    current.insert(key.clone(), h);
                    handles.push((h, Some(key)));
                }
            }
            Ok(())
        };
        for op in ops {
            match op {
                Op::Set(k, v) => {
                    map.set(&pkey(k), &pval(k, v)).unwrap();
                    model.insert(pkey(k), pval(k, v));
                }
                Op::SetWithHandle(k, v) => {
                    let h = map.set_with_handle(&pkey(k), &pval(k, v)).unwrap();
                    model.insert(pkey(k), pval(k, v));
                    note(h, pkey(k), &mut handles, &mut current)?;
                }
                Op::InsertIfAbsentWithHandle(k, v) => {
                    let (h, inserted) = map.insert_if_absent_with_handle(&pkey(k), &pval(k, v)).unwrap();
                    prop_assert_eq!(inserted, !model.contains_key(&pkey(k)));
                    model.entry(pkey(k)).or_insert_with(|| pval(k, v));
                    note(h, pkey(k), &mut handles, &mut current)?;
                }
                Op::Handle(k) => {
                    let h = map.handle(&pkey(k)).unwrap();
                    prop_assert_eq!(h.is_some(), model.contains_key(&pkey(k)));
                    if let Some(h) = h {
                        note(h, pkey(k), &mut handles, &mut current)?;
                    }
                }
                Op::Remove(k) => {
                    prop_assert_eq!(map.remove(&pkey(k)).unwrap(), model.remove(&pkey(k)));
                    forget(&mut handles, &mut current, &pkey(k));
                }
                Op::SetByHandle(i, v) if !handles.is_empty() => {
                    let (h, k) = handles[i as usize % handles.len()].clone();
                    let done = map.set_by_handle(h, &[v]).unwrap();
                    prop_assert_eq!(done, k.is_some());
                    if let Some(k) = k {
                        model.insert(k, vec![v]);
                    }
                }
                Op::RemoveByHandle(i) if !handles.is_empty() => {
                    let (h, k) = handles[i as usize % handles.len()].clone();
                    prop_assert_eq!(map.remove_by_handle(h).unwrap(), k.is_some());
                    if let Some(k) = k {
                        model.remove(&k);
                        forget(&mut handles, &mut current, &k);
                    }
                }
                Op::SetByHandle(..) | Op::RemoveByHandle(_) => {}
                Op::Fill(n) => {
                    // Grows the shards (a migration runs across the following ops), then
                    // removes them again (shrinks).
                    let keys: Vec<Vec<u8>> = (0..n).map(|i| format!("fill-{next_filler}-{i}").into_bytes()).collect();
                    next_filler += 1;
                    for (i, k) in keys.iter().enumerate() {
                        if i % 5 == 0 {
                            let h = map.set_with_handle(k, b"f").unwrap();
                            handles.push((h, None)); // removed below: stale
                        } else {
                            map.set(k, b"f").unwrap();
                        }
                    }
                    prop_assert_eq!(map.remove_many(&keys).unwrap(), n as u64);
                }
                Op::Clear => {
                    map.clear().unwrap();
                    model.clear();
                    current.clear();
                    for (_, k) in handles.iter_mut() {
                        *k = None;
                    }
                }
            }
            for (h, k) in &handles {
                let expected = k.as_ref().map(|k| model[k].clone());
                prop_assert_eq!(&map.get_by_handle(*h).unwrap(), &expected);
                prop_assert_eq!(&map.key_by_handle(*h).unwrap(), k);
            }
        }
        prop_assert_eq!(map.len(), model.len() as u64);
        prop_assert_eq!(map.stats().unwrap().handles, current.len() as u64);
        let report = map.verify().unwrap();
        prop_assert!(report.is_clean(), "{:?}", report);
    }
}

/// A value of at most 32 bytes is copied into its key's cell, so a read by handle touches
/// the cell's line only; every write keeps the copy in step (overwrites of either length,
/// counters updated in place), and a damaged copy is an error, never a wrong value, until
/// `repair` rewrites it from the record.
#[test]
fn short_values_are_read_from_the_cell_and_kept_in_step() {
    use shmkit::collections::hash_map::layout::{
        CELL_LEN, Cell, ROOT_LEN, SHARD_STRIDE, ShardHeader, first_cell,
    };
    use shmkit::store::header::Line;
    use std::sync::atomic::Ordering;
    let t = TestStore::new("handles-copy");
    let map = t.map(1);
    let h = map.set_with_handle(b"k", b"short").unwrap();
    let long = vec![7u8; 33];
    for (i, value) in [&b"x"[..], &long, &[9u8; 32][..], b"", &long, b"again short"]
        .into_iter()
        .enumerate()
    {
        if i % 2 == 0 {
            map.set(b"k", value).unwrap();
        } else {
            assert!(map.set_by_handle(h, value).unwrap());
        }
        assert_eq!(
            map.get_by_handle(h).unwrap().as_deref(),
            Some(value),
            "write {i}"
        );
        assert!(map.verify().unwrap().is_clean(), "write {i}");
    }
    map.set(b"n", &5i64.to_le_bytes()).unwrap();
    let hn = map.handle(b"n").unwrap().unwrap();
    assert_eq!(map.incr_i64(b"n", 2).unwrap(), 7);
    assert_eq!(
        map.get_by_handle(hn).unwrap().as_deref(),
        Some(&7i64.to_le_bytes()[..])
    );
    // Damage to the copy: the read by handle fails its checksum (no wrong value), the read
    // by key is unaffected, verify names the cell, repair rewrites the copy.
    let shards = (map.root_offset() + ROOT_LEN).next_multiple_of(SHARD_STRIDE);
    let shard: &Line<ShardHeader> = t.get(shards).unwrap();
    let table = shard.0.cells.load(Ordering::Acquire);
    let index = h.to_raw() & 0xFFFF_FFFF; // one shard: no shard bits
    let cell: &Cell = t.get(first_cell(table) + index * CELL_LEN).unwrap();
    cell.copy[0].fetch_xor(1 << 8, Ordering::Relaxed);
    let err = map.get_by_handle(h).unwrap_err();
    assert_eq!(err.kind(), shmkit::ErrorKind::Corrupt, "{err}");
    assert_eq!(map.get(b"k").unwrap().as_deref(), Some(&b"again short"[..]));
    let report = map.verify().unwrap();
    assert!(
        report.problems.iter().any(|p| p.what.contains("copy")),
        "{report:?}"
    );
    assert!(map.repair().unwrap().is_clean());
    assert_eq!(
        map.get_by_handle(h).unwrap().as_deref(),
        Some(&b"again short"[..])
    );
}

/// Many keys given handles after the fact (`handle(key)` on present keys), across the
/// default 64 shards while tables and cell tables grow.
#[test]
fn handles_given_to_many_existing_keys_in_every_shard() {
    let t = TestStore::new("handles-many");
    let map = t.hash_map("many").unwrap();
    const N: u64 = 100_000;
    for k in 0..N {
        map.set(&key(k), &val(k, 0)).unwrap();
    }
    let handles: Vec<KeyHandle> = (0..N)
        .map(|k| map.handle(&key(k)).unwrap().unwrap())
        .collect();
    for (k, &h) in handles.iter().enumerate() {
        assert_eq!(map.get_by_handle(h).unwrap(), Some(val(k as u64, 0)));
        assert_eq!(map.get(&key(k as u64)).unwrap(), Some(val(k as u64, 0)));
    }
    assert_eq!(map.stats().unwrap().handles, N);
    assert!(map.verify().unwrap().is_clean());
}

/// With 2^15 and 2^16 shards the shard index takes hash bits 62 and 63, which a plain tag
/// does not keep (bit 63 is the live bit, bit 62 is cleared: it marks handled tags): the
/// check that an entry is in its key's shard must use the key's hash, not its tag.
#[test]
fn verify_is_clean_when_the_shard_index_reaches_the_top_hash_bits() {
    for shards in [1u32 << 15, 1 << 16] {
        let t = TestStore::with(
            "handles-top-shards",
            &shmkit::StoreOptions {
                reserve: 64 << 20,
                ..shmkit::StoreOptions::default()
            },
        );
        let map = t.map(shards);
        for k in 0..256 {
            map.set(&key(k), &val(k, 0)).unwrap();
        }
        let report = map.verify().unwrap();
        assert!(report.is_clean(), "{shards} shards: {report:?}");
        let handles: Vec<KeyHandle> = (0..256)
            .map(|k| map.handle(&key(k)).unwrap().unwrap())
            .collect();
        let report = map.verify().unwrap();
        assert!(report.is_clean(), "{shards} shards, handles: {report:?}");
        let report = map.repair().unwrap();
        assert!(report.is_clean(), "{shards} shards, repair: {report:?}");
        assert_eq!(report.entries, 256);
        for (k, &h) in handles.iter().enumerate() {
            assert_eq!(map.get_by_handle(h).unwrap(), Some(val(k as u64, 0)));
        }
    }
}
