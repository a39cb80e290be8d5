//! HashMap writers stopped at every instruction (the harness is `common/crash_points.rs`):
//! a traced child runs one write — an insert, an overwrite and a removal of a key with a
//! handle, the first handle of a key (the cell taken and named), an insert that starts a
//! resize, a counter, a clear — in a map of any sizes and in a fixed-size map (whose
//! inserts carve, grow and reuse the slab); every distinct state the store passes through
//! (a clear's: those under a shard lock, and every 25th outside) is copied to a store of its
//! own, as a SIGKILL at that instruction would leave it, and checked there:
//! - a lock-free read of every key gives its value before or after the write, or (the shard
//!   being mid-write) asks for the lock; never anything else;
//! - the map the next lock holder settles (its recovery) is the map before or after the
//!   write, and checks clean; every handle taken before the write reads its key's value (or
//!   nothing, its key gone) and names its key;
//! - the recovery frees nothing another process allocated meanwhile, and leaves at most the
//!   blocks a kill may leak (a record or table allocated and not yet published);
//! - (every fourth state) writes after it keep a model, and a store repair (the leak sweep)
//!   frees nothing the map uses.
//!
//! For the fixed-size map, the next lock holder is also traced from some states a kill left
//! mid-write: a recovery killed at any instruction (rebuilding the slab's free list) leaves a
//! state the next one settles the same way.

mod common;

use common::crash_points::{Copy, Probes, full, ptrace_works, restore, trace, word32};
use common::{TestStore, watchdog};
use shmkit::collections::hash_map::layout::{SHARD_STRIDE, ShardHeader};
use shmkit::{HashMap, HashMapOptions, KeyHandle, Store};
use std::collections::BTreeMap;
use std::path::Path;

type Model = BTreeMap<Vec<u8>, Vec<u8>>;
/// One traced write: what it is, its key, its new value (`None`: a removal).
type Write = (&'static str, Vec<u8>, Option<Vec<u8>>);
/// A map figure that changes when the map grows (resizes, slab bytes).
type Growth<'a> = (&'static str, &'a dyn Fn(&HashMap) -> u64);

const SHARDS: u32 = 2;

fn options(fixed: bool) -> HashMapOptions {
    if fixed {
        common::fixed_options(SHARDS, 8, 8)
    } else {
        HashMapOptions {
            shards: SHARDS,
            ..HashMapOptions::default()
        }
    }
}

fn key(i: u64) -> Vec<u8> {
    format!("k{i:07}").into_bytes()
}

/// Values of the fixed map's size (8 bytes) that name their key and version, so a value
/// read through a reused record shows.
fn val(i: u64, round: u64) -> Vec<u8> {
    (i << 32 | round).to_le_bytes().to_vec()
}

fn contents(map: &HashMap) -> Model {
    map.iter().map(Result::unwrap).collect()
}

/// The 32-bit word at `field` of every shard header of `map`, in a state's bytes.
fn shard_words<'a>(bytes: &'a [u8], map: &HashMap, field: usize) -> impl Iterator<Item = u32> + 'a {
    let shards = (map.root_offset() + 64).next_multiple_of(SHARD_STRIDE);
    (0..u64::from(SHARDS)).map(move |i| word32(bytes, shards + i * SHARD_STRIDE + field as u64))
}

/// The first word of every shard's lock (nonzero while a writer holds it).
fn locked(bytes: &[u8], map: &HashMap) -> bool {
    shard_words(bytes, map, std::mem::offset_of!(ShardHeader, lock)).any(|w| w != 0)
}

fn assert_clean(map: &HashMap, what: &str) {
    let report = map.verify().unwrap();
    assert!(
        report.problems.is_empty() && report.busy.is_empty(),
        "{what}: {report:?}"
    );
}

/// Writes that reuse freed records and cells, applied to the map and the model.
fn churn(map: &HashMap, model: &mut Model, salt: u64) {
    for j in 0..80u64 {
        let i = (j * 37 + salt * 11) % 120;
        let k = key(i);
        match j % 4 {
            0 => assert_eq!(map.remove(&k).unwrap(), model.remove(&k)),
            1 => {
                let v = val(i, 1000 + salt);
                let h = map.set_with_handle(&k, &v).unwrap();
                assert_eq!(map.get_by_handle(h).unwrap(), Some(v.clone()));
                model.insert(k, v);
            }
            _ => {
                let v = val(i, 2000 + salt);
                map.set(&k, &v).unwrap();
                model.insert(k, v);
            }
        }
    }
}

/// What a state must show: the map before and after the write, and the handles taken
/// before it (with their keys).
struct Expect {
    before: Model,
    after: Model,
    handles: Vec<(KeyHandle, Vec<u8>)>,
    /// Blocks a kill may leave unreachable.
    leaks: usize,
}

impl Expect {
    fn allowed(&self, m: &Model) -> bool {
        *m == self.before || *m == self.after
    }
}

/// Checks one state a kill could leave (see the module documentation).
fn check_state(original: &Path, bytes: &[u8], expect: &Expect, deep: bool) {
    let copy = Copy::new(original, bytes);
    let map = copy.store().open_hash_map("m").unwrap();
    // Lock-free readers before anyone recovers the shard: old or new value, or "take the
    // lock" (the sequence left odd), never another value.
    let mut buf = Vec::new();
    for k in expect.before.keys().chain(expect.after.keys()) {
        if let Some(found) = map.try_get_into_lock_free(k, &mut buf).unwrap() {
            let got = found.then(|| buf.clone());
            assert!(
                got.as_ref() == expect.before.get(k) || got.as_ref() == expect.after.get(k),
                "a lock-free read of {k:?} gave {got:?}"
            );
        }
    }
    // Another process allocates before the next lock holder comes: it may get blocks the
    // dead writer freed, which the recovery must not free again.
    let probes = Probes::new(copy.store());
    let seen = contents(&map);
    assert!(
        expect.allowed(&seen),
        "the next lock holder settled on a map that never was"
    );
    assert_eq!(map.len(), seen.len() as u64);
    assert_clean(&map, "after the next lock holder");
    probes.check_and_free(copy.store());
    assert!(contents(&map) == seen, "a check changed the map");
    for (h, k) in &expect.handles {
        assert_eq!(
            map.get_by_handle(*h).unwrap().as_ref(),
            seen.get(k),
            "handle of {k:?}"
        );
        let named = map.key_by_handle(*h).unwrap();
        assert!(
            named.is_none() || named.as_ref() == Some(k),
            "a handle names another key"
        );
    }
    let leaks = copy.store().find_unreachable().unwrap();
    assert!(
        leaks.complete && leaks.unreachable.len() <= expect.leaks,
        "the next lock holder left {leaks:?}"
    );
    if !deep {
        return;
    }
    let mut model = seen;
    churn(&map, &mut model, 1);
    assert!(contents(&map) == model, "writes after the recovery");
    assert_clean(&map, "after writes");
    let repair = copy.store().repair();
    assert!(repair.after.is_clean(), "{repair:?}");
    assert!(contents(&map) == model, "the leak sweep changed the map");
    churn(&map, &mut model, 2);
    assert!(contents(&map) == model, "writes after the leak sweep");
    assert_clean(&map, "after the leak sweep and writes");
    let leaks = copy.store().find_unreachable().unwrap();
    assert!(leaks.complete && leaks.unreachable.is_empty(), "{leaks:?}");
}

/// Traces `op` on `t`'s map "m" and checks every state against `expect`; returns the
/// states the writer left with a shard's sequence odd (for [`trace_recoveries`]).
fn every_instruction(
    t: &TestStore,
    map: &HashMap,
    op: impl FnOnce() -> i32,
    expect: &Expect,
) -> Vec<Vec<u8>> {
    let mut mid_write = Vec::new();
    let seq_odd = |bytes: &[u8]| {
        shard_words(bytes, map, std::mem::offset_of!(ShardHeader, seq)).any(|w| w & 1 == 1)
    };
    trace(
        t,
        op,
        &|bytes| locked(bytes, map),
        &|path, bytes, deep| check_state(path, bytes, expect, deep),
        1, // a write passes through a few dozen states: check them all
        &mut |bytes| {
            if seq_odd(bytes) {
                mid_write.push(bytes.to_vec());
            }
        },
    );
    mid_write
}

/// For some states a writer left mid-write, traces the next lock holder (a removal of an
/// absent key: the recovery) at every instruction: a recovery killed anywhere leaves a
/// state the one after it settles the same way.
fn trace_recoveries(t: &TestStore, map: &HashMap, states: Vec<Vec<u8>>, leaks: usize) {
    let path = t.path().to_path_buf();
    let want = if full() { states.len() } else { 1 };
    let n = states.len();
    for i in 0..want.min(n) {
        let state = &states[(i + 1) * n / want.min(n) - 1];
        let settled = {
            let copy = Copy::new(&path, state);
            let m = copy.store().open_hash_map("m").unwrap();
            assert_clean(&m, "the recovery");
            contents(&m)
        };
        restore(&path, state);
        eprintln!("recovery {i}");
        let expect = Expect {
            before: settled.clone(),
            after: settled,
            handles: Vec::new(),
            leaks,
        };
        every_instruction(
            t,
            map,
            || i32::from(map.delete(&key(999_999)).unwrap()),
            &expect,
        );
    }
}

/// A map "m" of `n` keys (keys `0..n`, version 0).
fn filled(t: &TestStore, fixed: bool, n: u64) -> (HashMap, Model) {
    let map = t.hash_map_with("m", &options(fixed)).unwrap();
    let mut model = Model::new();
    for i in 0..n {
        map.set(&key(i), &val(i, 0)).unwrap();
        model.insert(key(i), val(i, 0));
    }
    (map, model)
}

fn with(model: &Model, k: &[u8], v: Option<&[u8]>) -> Model {
    let mut m = model.clone();
    match v {
        Some(v) => m.insert(k.to_vec(), v.to_vec()),
        None => m.remove(k),
    };
    m
}

/// Gives key `k` its first handle under the tracer (see [`writes_killed_at_every_instruction`]).
fn first_handle(
    t: &TestStore,
    map: &HashMap,
    model: &Model,
    handles: &mut Vec<(KeyHandle, Vec<u8>)>,
    what: &str,
    k: u64,
    leaks: usize,
) {
    eprintln!("{what}");
    let expect = Expect {
        before: model.clone(),
        after: model.clone(),
        handles: handles.clone(),
        leaks,
    };
    every_instruction(
        t,
        map,
        || i32::from(map.handle(&key(k)).unwrap().is_none()),
        &expect,
    );
    let h = map.handle(&key(k)).unwrap().unwrap();
    assert_eq!(map.get_by_handle(h).unwrap().as_ref(), model.get(&key(k)));
    handles.push((h, key(k)));
}

/// Writes of one key (insert, overwrite, removal) and first handles, in either kind of map.
fn writes_killed_at_every_instruction(fixed: bool) {
    if !ptrace_works() {
        return;
    }
    let _dog = watchdog(if full() { 36_000 } else { 1200 });
    let t = TestStore::new(if fixed { "hmcp-fixed" } else { "hmcp-any" });
    let (map, mut model) = filled(&t, fixed, 40);
    let mut handles = Vec::new();
    for i in 0..10 {
        handles.push((map.handle(&key(i)).unwrap().unwrap(), key(i)));
    }
    // Some records freed, so the next writes reuse them.
    for i in 30..35 {
        map.delete(&key(i)).unwrap();
        model.remove(&key(i));
    }
    let leaks = 2;
    let cases: Vec<Write> = vec![
        ("insert", key(77), Some(val(77, 1))),
        ("overwrite with a handle", key(3), Some(val(3, 1))),
        ("removal with a handle", key(4), None),
        ("overwrite", key(20), Some(val(20, 1))),
    ];
    for (what, k, v) in cases {
        eprintln!("{what}");
        let after = with(&model, &k, v.as_deref());
        let expect = Expect {
            before: model.clone(),
            after: after.clone(),
            handles: handles.clone(),
            leaks,
        };
        let mid = every_instruction(
            &t,
            &map,
            || {
                match &v {
                    Some(v) => map.set(&k, v).unwrap(),
                    None => assert!(map.delete(&k).unwrap()),
                }
                0
            },
            &expect,
        );
        if fixed {
            trace_recoveries(&t, &map, mid, leaks);
            // Back to the state after the write (the recoveries ran from copies of states
            // before it).
            match &v {
                Some(v) => map.set(&k, v).unwrap(),
                None => drop(map.delete(&k).unwrap()),
            }
        }
        assert!(contents(&map) == after);
        model = after;
    }
    // The first handle of a key: a cell taken (off the free list: key 4's; then a new one;
    // then one of a cell table twice the size), filled and named by the key's slot.
    for (what, k) in [
        ("first handle, a freed cell", 25),
        ("first handle, a new cell", 27),
    ] {
        first_handle(&t, &map, &model, &mut handles, what, k, leaks);
    }
    // The key whose first handle doubles its shard's cell table (found without the tracer,
    // the store restored after the try that grows it), then traced.
    let path = t.path().to_path_buf();
    let cells = map.stats().unwrap().handle_bytes;
    let grows = (100..200)
        .find(|&k| {
            if let std::collections::btree_map::Entry::Vacant(e) = model.entry(key(k)) {
                map.set(&key(k), &val(k, 0)).unwrap();
                e.insert(val(k, 0));
            }
            let saved = std::fs::read(&path).unwrap();
            let h = map.handle(&key(k)).unwrap().unwrap();
            if map.stats().unwrap().handle_bytes != cells {
                restore(&path, &saved);
                return true;
            }
            handles.push((h, key(k)));
            false
        })
        .expect("no first handle grew a cell table");
    first_handle(
        &t,
        &map,
        &model,
        &mut handles,
        "first handle, a new cell table",
        grows,
        leaks,
    );
    assert_ne!(map.stats().unwrap().handle_bytes, cells);
    // A counter with a handle: its value and checksum rewritten in place, and its cell's copy.
    eprintln!("counter");
    map.set(&key(26), &0u64.to_le_bytes()).unwrap();
    model.insert(key(26), 0u64.to_le_bytes().to_vec());
    handles.push((map.handle(&key(26)).unwrap().unwrap(), key(26)));
    let expect = Expect {
        before: model.clone(),
        after: with(&model, &key(26), Some(&5u64.to_le_bytes())),
        handles,
        leaks,
    };
    every_instruction(
        &t,
        &map,
        || i32::from(map.incr_i64(&key(26), 5).unwrap() != 5),
        &expect,
    );
}

#[test]
fn writes_to_a_map_of_any_sizes_killed_at_every_instruction() {
    writes_killed_at_every_instruction(false);
}

#[test]
fn writes_to_a_fixed_size_map_killed_at_every_instruction() {
    writes_killed_at_every_instruction(true);
}

/// Inserts until one would change `grew` (a resize started, a new slab chunk); returns
/// that key (not inserted), the model before it.
fn until_it_grows(
    t: &TestStore,
    map: &HashMap,
    model: &mut Model,
    grew: &dyn Fn(&HashMap) -> u64,
) -> Vec<u8> {
    let path = t.path().to_path_buf();
    for i in 1000.. {
        let saved = std::fs::read(&path).unwrap();
        let before = grew(map);
        map.set(&key(i), &val(i, 0)).unwrap();
        if grew(map) != before {
            restore(&path, &saved);
            assert_eq!(grew(map), before);
            return key(i);
        }
        model.insert(key(i), val(i, 0));
    }
    unreachable!()
}

/// An insert that starts a resize (a new table published, the first batch moved), and in a
/// fixed-size map one that allocates a new slab chunk.
fn growth_killed_at_every_instruction(fixed: bool) {
    if !ptrace_works() {
        return;
    }
    let _dog = watchdog(if full() { 36_000 } else { 1200 });
    let t = TestStore::new(if fixed {
        "hmcp-grow-fixed"
    } else {
        "hmcp-grow"
    });
    let (map, mut model) = filled(&t, fixed, 8);
    let mut kinds: Vec<Growth<'_>> = vec![("resize", &|m: &HashMap| m.stats().unwrap().resizes)];
    if fixed {
        kinds.push(("slab chunk", &|m: &HashMap| m.stats().unwrap().slab_bytes));
    }
    for (what, grew) in kinds {
        let k = until_it_grows(&t, &map, &mut model, grew);
        eprintln!("{what}");
        let v = val(5, 5);
        let expect = Expect {
            before: model.clone(),
            after: with(&model, &k, Some(&v)),
            handles: Vec::new(),
            leaks: 2,
        };
        every_instruction(
            &t,
            &map,
            || {
                map.set(&k, &v).unwrap();
                0
            },
            &expect,
        );
        map.set(&k, &v).unwrap();
        model.insert(k, v);
    }
}

#[test]
fn growth_of_a_map_of_any_sizes_killed_at_every_instruction() {
    growth_killed_at_every_instruction(false);
}

#[test]
fn growth_of_a_fixed_size_map_killed_at_every_instruction() {
    growth_killed_at_every_instruction(true);
}

/// A clear: each shard emptied with one switch to a fresh table (and, in a fixed-size map,
/// its slab emptied and its chunks freed): a reader sees each shard whole or empty.
fn clear_killed_at_every_instruction(fixed: bool) {
    if !ptrace_works() {
        return;
    }
    let _dog = watchdog(if full() { 36_000 } else { 1200 });
    let t = TestStore::new(if fixed {
        "hmcp-clear-fixed"
    } else {
        "hmcp-clear"
    });
    let (map, model) = filled(&t, fixed, 30);
    map.handle(&key(1)).unwrap();
    // Each shard whole or empty: the maps a clear passes through, shard by shard.
    let shard_of = |k: &Vec<u8>, store: &Store| {
        let hash = xxhash_rust::xxh3::xxh3_64_with_seed(k, store.hash_seed());
        (hash >> 48) & u64::from(SHARDS - 1)
    };
    let mut allowed = vec![model.clone()];
    for s in 0..u64::from(SHARDS) {
        let m: Model = allowed
            .last()
            .unwrap()
            .iter()
            .filter(|(k, _)| shard_of(k, &t) != s)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        allowed.push(m);
    }
    let path = t.path().to_path_buf();
    let check = |p: &Path, bytes: &[u8], deep: bool| {
        let copy = Copy::new(p, bytes);
        let m = copy.store().open_hash_map("m").unwrap();
        let seen = contents(&m);
        assert!(allowed.contains(&seen), "a cleared map that never was");
        assert_clean(&m, "after the next lock holder");
        let leaks = copy.store().find_unreachable().unwrap();
        // The table and (fixed) chunks the clear unlinked and had not yet freed.
        assert!(leaks.complete, "{leaks:?}");
        if deep {
            let repair = copy.store().repair();
            assert!(repair.after.is_clean(), "{repair:?}");
            let mut model = seen;
            churn(&m, &mut model, 3);
            assert!(contents(&m) == model, "writes after the recovery");
            assert_clean(&m, "after writes");
        }
    };
    trace(
        &t,
        || {
            map.clear().unwrap();
            0
        },
        &|bytes| locked(bytes, &map),
        &check,
        25,
        &mut |_| {},
    );
    assert!(map.is_empty());
    drop(path);
}

#[test]
fn a_clear_of_a_map_of_any_sizes_killed_at_every_instruction() {
    clear_killed_at_every_instruction(false);
}

#[test]
fn a_clear_of_a_fixed_size_map_killed_at_every_instruction() {
    clear_killed_at_every_instruction(true);
}
