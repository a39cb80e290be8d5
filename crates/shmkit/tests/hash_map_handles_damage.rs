//! Damaged handle cells (garbage a bug or a hostile process could leave in a shard's cell
//! table) never make an operation panic, fault or hang: reads by key and by handle return
//! the key's own value, nothing, or an error; `verify` reports the damage, `repair` fixes it,
//! and afterwards every handle reads its own key's value or nothing, never another key's.

mod common;

use common::{Rng, TestStore, watchdog};
use shmkit::collections::hash_map::layout::{
    CELL_LEN, Cell, CellTableHeader, MAX_SHARD_CELLS, ROOT_LEN, SHARD_STRIDE, ShardHeader,
    TAG_CELL_SHIFT, TableHeader, first_cell, slot_offset, tag_cell,
};
use shmkit::store::header::Line;
use shmkit::{HashMap, KeyHandle, StoreOptions};
use std::sync::atomic::Ordering;

const KEYS: u64 = 300;

fn key(k: u64) -> Vec<u8> {
    format!("key-{k}").into_bytes()
}

/// The value of key `k` (names the key, so a value read through the wrong handle shows).
fn val(k: u64, v: u64) -> Vec<u8> {
    format!("value of {k}, version {v}").into_bytes()
}

/// A store with a small reserve: no damage can make it grow without bound.
fn small_store(test: &str) -> TestStore {
    TestStore::with(
        test,
        &StoreOptions {
            reserve: 64 << 20,
            ..StoreOptions::default()
        },
    )
}

fn shard<'a>(t: &'a TestStore, map: &HashMap, index: u64) -> &'a ShardHeader {
    let shards = (map.root_offset() + ROOT_LEN).next_multiple_of(SHARD_STRIDE);
    &t.get::<Line<ShardHeader>>(shards + index * SHARD_STRIDE)
        .unwrap()
        .0
}

fn cell_header<'a>(t: &'a TestStore, shard: &ShardHeader) -> &'a CellTableHeader {
    t.get(shard.cells.load(Ordering::Relaxed)).unwrap()
}

fn cell<'a>(t: &'a TestStore, shard: &ShardHeader, index: u64) -> &'a Cell {
    let table = shard.cells.load(Ordering::Relaxed);
    t.get(first_cell(table) + index * CELL_LEN).unwrap()
}

/// The live slots of the shard's current table that name a cell: (slot offset, cell index).
/// (The cell index is in the slot's tag, its first word.)
fn cell_slots(t: &TestStore, shard: &ShardHeader) -> Vec<(u64, u64)> {
    let table = shard.table.load(Ordering::Relaxed);
    let buckets = t
        .get::<TableHeader>(table)
        .unwrap()
        .buckets
        .load(Ordering::Relaxed);
    (0..buckets)
        .filter_map(|i| {
            let at = slot_offset(table, i);
            let mut w = [0u8; 8];
            t.read_bytes(at, &mut w).unwrap();
            let tag = u64::from_le_bytes(w);
            tag_cell(tag).map(|cell| (at, cell))
        })
        .collect()
}

/// A one-shard map of `KEYS` keys, every one with a handle.
fn filled(t: &TestStore) -> (HashMap, Vec<KeyHandle>) {
    let map = t.map(1);
    let handles = (0..KEYS)
        .map(|k| map.set_with_handle(&key(k), &val(k, 0)).unwrap())
        .collect();
    (map, handles)
}

/// Every handle reads its own key's current value or nothing (and names its key or none);
/// a read may fail only if `errors_allowed`. Returns the handles that still read a value.
fn check_handles(map: &HashMap, handles: &[KeyHandle], errors_allowed: bool, what: &str) -> u64 {
    let mut reading = 0;
    for (k, &h) in handles.iter().enumerate() {
        let k = k as u64;
        match map.get_by_handle(h) {
            Ok(Some(v)) => {
                reading += 1;
                if !errors_allowed {
                    assert_eq!(
                        map.get(&key(k)).unwrap(),
                        Some(v.clone()),
                        "{what}: key {k}"
                    );
                }
                assert!(
                    v.starts_with(format!("value of {k},").as_bytes()),
                    "{what}: the handle of key {k} read {:?}",
                    String::from_utf8_lossy(&v)
                );
            }
            Ok(None) => {}
            Err(e) => assert!(errors_allowed, "{what}: handle of key {k}: {e}"),
        }
        match map.key_by_handle(h) {
            Ok(Some(named)) => assert_eq!(named, key(k), "{what}: handle of key {k}"),
            Ok(None) => {}
            Err(e) => assert!(errors_allowed, "{what}: key of handle of {k}: {e}"),
        }
    }
    reading
}

/// Everything that must hold once a damaged map was repaired: `verify` clean, every handle
/// reads its own key or nothing, every key reads its own value or nothing, and the map
/// works (new keys get handles that read them; old handles never read the new keys).
fn assert_repaired(map: &HashMap, handles: &[KeyHandle], what: &str) {
    let report = map.repair().unwrap();
    assert!(report.is_clean(), "{what}: after repair: {report:?}");
    check_handles(map, handles, false, what);
    for k in 0..KEYS {
        if let Some(v) = map.get(&key(k)).unwrap() {
            assert_eq!(v, val(k, 0), "{what}: key {k}");
        }
    }
    // New keys (and the lost ones again) get handles; no old handle reads them.
    let fresh: Vec<KeyHandle> = (KEYS..2 * KEYS)
        .map(|k| map.set_with_handle(&key(k), &val(k, 1)).unwrap())
        .collect();
    for k in 0..KEYS {
        map.set_with_handle(&key(k), &val(k, 1)).unwrap();
    }
    check_handles(map, handles, false, what);
    for (i, &h) in fresh.iter().enumerate() {
        let k = KEYS + i as u64;
        assert_eq!(map.get_by_handle(h).unwrap(), Some(val(k, 1)), "{what}");
    }
    let report = map.verify().unwrap();
    assert!(report.is_clean(), "{what}: at the end: {report:?}");
}

#[test]
fn random_garbage_in_cells_is_reported_and_repaired() {
    let _watchdog = watchdog(300);
    for seed in 0..60u64 {
        let t = small_store(&format!("handles-garbage-{seed}"));
        let (map, handles) = filled(&t);
        let s = shard(&t, &map, 0);
        let header = cell_header(&t, s);
        let high_water = header.high_water.load(Ordering::Relaxed);
        let mut rng = Rng::new(0xCE11 ^ seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        for _ in 0..1 + rng.below(4) {
            let garbage = rng.next();
            let small = garbage % (2 * high_water + 2);
            let c = cell(&t, s, rng.below(high_water));
            let which = rng.below(10);
            eprintln!("seed {seed}: damage {which}, garbage {garbage:#x}");
            match which {
                0 => c.state.store(garbage, Ordering::Relaxed),
                1 => c
                    .state
                    .store((garbage & !0xFFFF_FFFF) | 2, Ordering::Relaxed),
                2 => c.rec.store(garbage, Ordering::Relaxed),
                3 => c
                    .rec
                    .store((garbage % t.committed_len()) & !7, Ordering::Relaxed),
                4 => c.hash.store(garbage, Ordering::Relaxed),
                5 => c.next_free.store(small, Ordering::Relaxed),
                6 => header.free_head.store(small, Ordering::Relaxed),
                7 => header.live.store(garbage, Ordering::Relaxed),
                8 => header.high_water.store(small, Ordering::Relaxed),
                _ => header.capacity.store(garbage, Ordering::Relaxed),
            }
        }
        let what = format!("seed {seed}");
        // Nothing panics or hangs; nothing reads another key's value.
        check_handles(&map, &handles, true, &what);
        for k in 0..KEYS {
            if let Ok(Some(v)) = map.get(&key(k)) {
                assert_eq!(v, val(k, 0), "{what}: key {k}");
            }
        }
        let _ = map.stats();
        let _ = map.verify();
        for raw in [0u64, 1, u64::MAX, rng.next(), rng.next() & 0xFFFF_FFFF] {
            let _ = map.get_by_handle(KeyHandle::from_raw(raw));
            let _ = map.key_by_handle(KeyHandle::from_raw(raw));
        }
        assert_repaired(&map, &handles, &what);
        assert!(t.repair_allocator().unwrap().is_clean(), "{what}");
    }
}

#[test]
fn a_huge_cell_table_header_is_an_error_then_repaired() {
    for (capacity, high_water) in [
        (u64::MAX, u64::MAX),
        (u64::MAX, 3),
        (1 << 31, 1 << 31),
        (1 << 32, 1 << 32),
        (5, 1 << 40),
    ] {
        let t = small_store("handles-huge");
        let (map, handles) = filled(&t);
        let s = shard(&t, &map, 0);
        let header = cell_header(&t, s);
        header.capacity.store(capacity, Ordering::Relaxed);
        header.high_water.store(high_water, Ordering::Relaxed);
        let what = format!("capacity {capacity}, high water {high_water}");
        assert!(map.get_by_handle(handles[0]).is_err(), "{what}");
        // Reads by key do not go through cells: the key is still there.
        assert!(map.get(&key(0)).unwrap().is_some(), "{what}");
        assert!(!map.verify().unwrap().is_clean(), "{what}");
        assert_repaired(&map, &handles, &what);
    }
}

#[test]
fn a_free_cell_list_with_a_cycle_is_an_error_then_repaired() {
    let _watchdog = watchdog(60);
    let t = small_store("handles-cycle");
    let (map, handles) = filled(&t);
    // Free cells 10 and 11, then make the list 11 -> 10 -> 11 -> ...
    for k in [10, 11] {
        assert!(map.remove_by_handle(handles[k]).unwrap());
    }
    let s = shard(&t, &map, 0);
    let header = cell_header(&t, s);
    let head = header.free_head.load(Ordering::Relaxed);
    let second = cell(&t, s, head - 1).next_free.load(Ordering::Relaxed);
    assert_ne!(second, 0);
    cell(&t, s, second - 1)
        .next_free
        .store(head, Ordering::Relaxed);
    let report = map.verify().unwrap();
    assert!(
        report.problems.iter().any(|p| p.what.contains("cycle")),
        "{report:?}"
    );
    // Taking cells walks into the cycle: an error, not a hang or a cell taken twice.
    let mut errors = 0;
    for k in 0..4 {
        if map.set_with_handle(&key(KEYS + k), b"x").is_err() {
            errors += 1;
        }
    }
    assert!(errors > 0);
    assert_repaired(&map, &handles, "cycle");
}

#[test]
fn a_slot_naming_a_cell_past_the_table_is_an_error_then_dropped() {
    // Rewrites the cell index in the tag of the slot at `slot`.
    let name = |t: &TestStore, slot: u64, cell: u64| {
        let mut w = [0u8; 8];
        t.read_bytes(slot, &mut w).unwrap();
        let tag = u64::from_le_bytes(w);
        let renamed = (tag & !((MAX_SHARD_CELLS - 1) << TAG_CELL_SHIFT)) | (cell << TAG_CELL_SHIFT);
        t.write_bytes(slot, &renamed.to_le_bytes()).unwrap();
    };
    let t = small_store("handles-past");
    let (map, handles) = filled(&t);
    let s = shard(&t, &map, 0);
    let high_water = cell_header(&t, s).high_water.load(Ordering::Relaxed);
    let (slot, index) = cell_slots(&t, s)[0];
    let victim = map.key_by_handle(handles_at(&handles, index)).unwrap();
    for past in [high_water, high_water + 7, MAX_SHARD_CELLS - 1] {
        name(&t, slot, past);
        // The key itself is still found (its slot holds its record); its handle no longer
        // names it, and verify says so.
        let victim = victim.clone().unwrap();
        assert!(map.get(&victim).unwrap().is_some(), "cell {past}");
        let report = map.verify().unwrap();
        assert!(!report.is_clean(), "cell {past}: {report:?}");
        name(&t, slot, index);
    }
    name(&t, slot, high_water + 1);
    assert_repaired(&map, &handles, "past the table");
    assert_eq!(map.len(), 2 * KEYS);
}

/// The handle of `handles` whose cell is `index` (one shard: the cell index is the low 32
/// bits).
fn handles_at(handles: &[KeyHandle], index: u64) -> KeyHandle {
    *handles
        .iter()
        .find(|h| h.to_raw() & 0xFFFF_FFFF == index)
        .unwrap()
}

#[test]
fn two_slots_naming_one_cell_are_reported_and_one_is_dropped() {
    let t = small_store("handles-twice");
    let (map, handles) = filled(&t);
    let s = shard(&t, &map, 0);
    let slots = cell_slots(&t, s);
    let (_, a_cell) = slots[0];
    let (b_slot, _) = slots[1];
    // B's slot names A's cell (the cell index is in bits 39.. of the tag).
    let mut w = [0u8; 8];
    t.read_bytes(b_slot, &mut w).unwrap();
    let tag = u64::from_le_bytes(w);
    let renamed = (tag & !((MAX_SHARD_CELLS - 1) << TAG_CELL_SHIFT)) | (a_cell << TAG_CELL_SHIFT);
    t.write_bytes(b_slot, &renamed.to_le_bytes()).unwrap();
    let a = handles_at(&handles, a_cell);
    let a_key = map.key_by_handle(a).unwrap().unwrap();
    // A still reads its own value; B reads its own value, nothing, or an error.
    assert!(map.get(&a_key).unwrap().is_some());
    let report = map.verify().unwrap();
    assert!(
        report
            .problems
            .iter()
            .any(|p| p.what.contains("named by two slots")),
        "{report:?}"
    );
    check_handles(&map, &handles, true, "twice");
    assert_repaired(&map, &handles, "two slots, one cell");
    assert_eq!(
        map.get_by_handle(a).unwrap(),
        Some(map.get(&a_key).unwrap().unwrap())
    );
}

#[test]
fn a_cell_at_the_last_generation_is_retired_on_removal() {
    let t = small_store("handles-retire");
    let (map, handles) = filled(&t);
    let s = shard(&t, &map, 0);
    let index = handles[5].to_raw() & 0xFFFF_FFFF;
    let c = cell(&t, s, index);
    c.state
        .store((u64::from(u32::MAX) << 32) | 1, Ordering::Relaxed);
    let last = map.handle(&key(5)).unwrap().unwrap();
    assert_eq!(last.to_raw() >> 32, u64::from(u32::MAX));
    assert_eq!(map.get_by_handle(handles[5]).unwrap(), None);
    assert_eq!(map.get_by_handle(last).unwrap(), Some(val(5, 0)));
    assert!(map.remove_by_handle(last).unwrap());
    assert_eq!(map.get_by_handle(last).unwrap(), None);
    let report = map.verify().unwrap();
    assert!(report.is_clean(), "{report:?}");
    // The cell is never used again: new keys take fresh cells.
    for k in KEYS..KEYS + 40 {
        let h = map.set_with_handle(&key(k), b"new").unwrap();
        assert_ne!(h.to_raw() & 0xFFFF_FFFF, index);
    }
    assert_eq!(map.get_by_handle(last).unwrap(), None);
    assert!(map.verify().unwrap().is_clean());
}

#[test]
fn stale_handles_miss_after_an_unreadable_cell_table_is_dropped() {
    let t = small_store("handles-dropped");
    let (map, handles) = filled(&t);
    let s = shard(&t, &map, 0);
    // Damage the table's magic: the repair can read none of its cells, drops the keys that
    // named them and starts the shard over without a table.
    cell_header(&t, s).magic.store(0, Ordering::Relaxed);
    let report = map.repair().unwrap();
    assert!(report.is_clean(), "{report:?}");
    assert_eq!(map.len(), 0);
    // Other keys get handles: the old handles (their keys were dropped by the repair) must
    // not read them.
    for k in KEYS..2 * KEYS {
        map.set_with_handle(&key(k), &val(k, 1)).unwrap();
    }
    for (k, &h) in handles.iter().enumerate() {
        assert_eq!(map.get_by_handle(h).unwrap(), None, "old handle of key {k}");
    }
}

#[test]
fn a_high_water_mark_raised_over_unwritten_cells_is_repaired() {
    let t = small_store("handles-high-water");
    let (map, handles) = filled(&t);
    let s = shard(&t, &map, 0);
    let header = cell_header(&t, s);
    let capacity = header.capacity.load(Ordering::Relaxed);
    assert!(capacity > KEYS);
    // The cells past the real mark were never written (zero: generation 0, free).
    header.high_water.store(capacity, Ordering::Relaxed);
    let report = map.verify().unwrap();
    assert!(
        report
            .problems
            .iter()
            .any(|p| p.what.contains("generation 0")),
        "{report:?}"
    );
    // The repair gives them generations, so the keys that take them get working handles.
    assert_repaired(&map, &handles, "high water raised");
    for k in KEYS..2 * KEYS {
        let h = map.handle(&key(k)).unwrap().unwrap();
        assert_ne!(h.to_raw() >> 32, 0, "key {k}");
    }
}

/// A cell table whose `capacity` and `high_water` were raised past its block: giving a new
/// key a handle must not write a cell there (into whatever follows the block); it fails as
/// damage, the store's own check stays clean, and repair brings the handles back.
#[test]
fn a_capacity_past_the_block_is_never_written_through() {
    let t = small_store("handles-past-block");
    let (map, handles) = filled(&t);
    let s = shard(&t, &map, 0);
    let header = cell_header(&t, s);
    let real = header.capacity.load(Ordering::Relaxed);
    header.capacity.store(real * 64, Ordering::Relaxed);
    header.high_water.store(real * 8, Ordering::Relaxed);
    header.free_head.store(0, Ordering::Relaxed);
    let err = map.set_with_handle(b"new key", b"v").unwrap_err();
    assert_eq!(err.kind(), shmkit::ErrorKind::Corrupt, "{err}");
    let store_report = t.verify_allocator().unwrap();
    assert!(store_report.is_clean(), "{store_report:?}");
    assert_repaired(&map, &handles, "capacity past the block");
    assert!(map.set_with_handle(b"new key", b"v").is_ok());
}

/// A map of layout version 3 (handle cells named by the slot's `rec`, hash bit 62 kept in
/// plain tags) is refused: read with version 4's slot encoding, about half its keys would
/// look like keys with handles naming arbitrary cells (the repair would drop them, a removal
/// would free another key's cell).
#[test]
fn a_map_of_layout_version_3_is_refused() {
    let t = small_store("handles-v3");
    {
        let map = t.hash_map("m").unwrap();
        map.set(b"k", b"v").unwrap();
        let version: &std::sync::atomic::AtomicU32 = t.get(map.root_offset() + 8).unwrap();
        version.store(3, Ordering::Relaxed);
    }
    let err = t.open_hash_map("m").unwrap_err();
    assert_eq!(err.kind(), shmkit::ErrorKind::Corrupt, "{err}");
    assert!(err.to_string().contains("layout version 3"), "{err}");
}
