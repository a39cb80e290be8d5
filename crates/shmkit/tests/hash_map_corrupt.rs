//! A damaged map (random bytes over its tables and records, as a bug or a hostile process
//! could leave) never makes an operation fault or hang: lookups return values or errors,
//! `verify` reports the damage, `repair` drops what cannot be trusted, and the map works
//! again afterwards.
//!
//! What "cannot be trusted" means is checked, not assumed: every value a lookup or the
//! iterator returns, before or after the repair, is exactly the value written for its key
//! (records carry a checksum), and the repair keeps every entry the damage did not touch
//! (at least as many as were not hit), so a repair that dropped everything would fail.

mod common;

use common::{Rng, TestStore, watchdog};
use shmkit::collections::hash_map::layout::{
    RECORD_HEADER_LEN, ROOT_LEN, SHARD_STRIDE, ShardHeader, TableHeader, slot_offset, value_offset,
};
use shmkit::store::header::Line;
use std::collections::HashMap;
use std::sync::atomic::Ordering;

#[test]
fn random_damage_is_reported_and_repaired_without_faults() {
    let _watchdog = watchdog(300);
    let values_damaged: u64 = (1..=30).map(damage_and_repair).sum();
    // The damage that only a checksum can notice (a changed value byte) was done often.
    assert!(values_damaged >= 30, "{values_damaged} values damaged");
}

const KEYS: u32 = 3000;

/// The value written for key `i` (0 to 49 bytes; distinct from every other key's value of
/// the same length).
fn written(i: u32) -> Vec<u8> {
    vec![i as u8; (i % 50) as usize]
}

/// Panics unless `value`, returned for the key `key`, is the value written for it.
fn assert_written(seed: u64, what: &str, key: &[u8], value: &[u8]) {
    let i = u32::from_le_bytes(key.try_into().unwrap_or_else(|_| {
        panic!("seed {seed}: {what} returned a key that was never written: {key:?}")
    }));
    assert!(i < KEYS, "seed {seed}: {what} returned unknown key {i}");
    assert_eq!(
        value,
        &written(i)[..],
        "seed {seed}: {what} returned a value for key {i} that was never written"
    );
}

/// Damages, checks and repairs one map; returns how many value bytes it changed.
fn damage_and_repair(seed: u64) -> u64 {
    let t = TestStore::new(&format!("map-corrupt-{seed}"));
    let map = t.map(2);
    for i in 0..KEYS {
        map.set(&i.to_le_bytes(), &written(i)).unwrap();
    }
    let shards_offset = (map.root_offset() + ROOT_LEN).next_multiple_of(SHARD_STRIDE);
    // The records as written, with their value lengths: record damage aims only at these
    // (a slot whose offset an earlier scribble changed is not followed), so each scribble
    // costs at most the one entry it hits.
    let mut records: HashMap<u64, u64> = HashMap::new();
    map.owned_blocks(&mut |block| {
        let mut header = [0u8; 16];
        t.read_bytes(block, &mut header).unwrap();
        if u32::from_le_bytes(header[..4].try_into().unwrap()) == 4 {
            records.insert(block, u64::from_le_bytes(header[8..].try_into().unwrap()));
        }
    })
    .unwrap();
    assert_eq!(records.len(), KEYS as usize, "seed {seed}: records found");
    let mut rng = Rng::new(0xBAD_5EED ^ seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let (mut damaged, mut values_damaged) = (0u64, 0u64);
    for s in 0..2u64 {
        let shard: &Line<ShardHeader> = t.get(shards_offset + s * SHARD_STRIDE).unwrap();
        let table = shard.0.table.load(Ordering::Relaxed);
        let header: &TableHeader = t.get(table).unwrap();
        let buckets = header.buckets.load(Ordering::Relaxed);
        // Scribble over 40 random slots: tag, record offset, or the record it points at
        // (its header, its key, or its value).
        for _ in 0..40 {
            let slot = slot_offset(table, rng.below(buckets));
            let mut bytes = [0u8; 8];
            t.read_bytes(slot + 8, &mut bytes).unwrap();
            let rec = u64::from_le_bytes(bytes);
            let val_len = records.get(&rec).copied();
            let garbage = rng.next();
            match (rng.below(7), val_len) {
                (0, _) => t.write_bytes(slot, &garbage.to_le_bytes()).unwrap(), // tag
                (1, _) => t.write_bytes(slot + 8, &garbage.to_le_bytes()).unwrap(), // rec: anywhere
                (2, _) => {
                    // rec: a plausible, aligned offset inside the store
                    let off = (garbage % t.committed_len()) & !15;
                    t.write_bytes(slot + 8, &off.to_le_bytes()).unwrap();
                }
                (_, None) => continue, // no record written by the test behind this slot
                (3, _) => {
                    // the record's key length and checksum
                    t.write_bytes(rec, &garbage.to_le_bytes()).unwrap();
                }
                (4, _) => {
                    // the record's value length, made another plausible length
                    t.write_bytes(rec + 8, &(garbage % 64).to_le_bytes())
                        .unwrap();
                }
                (5, _) => {
                    // one byte of the key
                    let at = rec + RECORD_HEADER_LEN + garbage % 4;
                    t.write_bytes(at, &[(garbage >> 8) as u8]).unwrap();
                }
                (_, Some(0)) => continue, // an empty value has no byte to damage
                (_, Some(len)) => {
                    // one byte of the value, changed (xor with a non-zero byte)
                    let at = value_offset(rec, 4) + (garbage >> 16) % len;
                    let mut b = [0u8];
                    t.read_bytes(at, &mut b).unwrap();
                    t.write_bytes(at, &[b[0] ^ ((garbage as u8) | 1)]).unwrap();
                    values_damaged += 1;
                }
            }
            damaged += 1;
        }
    }
    assert!(damaged > 0);
    // Every operation returns (a value or an error); none faults or hangs, and no value
    // returned is one that was not written.
    let mut errors = 0;
    for i in 0..KEYS {
        let key = i.to_le_bytes();
        match map.get(&key) {
            Ok(Some(v)) => assert_written(seed, "get", &key, &v),
            Ok(None) => {}
            Err(_) => errors += 1,
        }
    }
    // The iterator stops at the first damaged shard; whatever it yielded before is intact.
    for entry in map.iter().take(10_000) {
        match entry {
            Ok((k, v)) => assert_written(seed, "iter", &k, &v),
            Err(_) => break,
        }
    }
    let report = map.verify().unwrap();
    assert!(!report.is_clean(), "seed {seed}: damage went unnoticed");
    let repaired = map.repair().unwrap();
    assert!(!repaired.repaired.is_empty());
    let after = map.verify().unwrap();
    assert!(after.is_clean(), "seed {seed}: after repair: {after:?}");
    // What survived is exactly what was written, and only entries the damage hit are gone:
    // each scribble can cost at most the one entry of its slot.
    let mut survivors = 0u64;
    for i in 0..KEYS {
        let key = i.to_le_bytes();
        match map.get(&key) {
            Ok(Some(v)) => {
                assert_written(seed, "get after repair", &key, &v);
                survivors += 1;
            }
            Ok(None) => {}
            Err(e) => panic!("seed {seed}: key {i} after repair: {e}"),
        }
    }
    let mut iterated = 0u64;
    for entry in map.iter() {
        let (k, v) = entry.unwrap_or_else(|e| panic!("seed {seed}: iter after repair: {e}"));
        assert_written(seed, "iter after repair", &k, &v);
        iterated += 1;
    }
    assert_eq!(iterated, survivors, "seed {seed}");
    assert_eq!(after.entries, survivors, "seed {seed}");
    assert!(
        survivors >= u64::from(KEYS) - damaged,
        "seed {seed}: only {survivors} of {KEYS} entries survived {damaged} scribbles"
    );
    // The map is usable again and consistent with itself.
    for i in 0..KEYS {
        map.set(&i.to_le_bytes(), b"fresh").unwrap();
    }
    for i in 0..KEYS {
        assert_eq!(
            map.get(&i.to_le_bytes()).unwrap().as_deref(),
            Some(&b"fresh"[..])
        );
    }
    assert!(map.verify().unwrap().is_clean());
    eprintln!(
        "seed {seed}: {damaged} scribbles ({values_damaged} on values), {errors} lookups \
         returned errors, {survivors} of {KEYS} entries survived the repair"
    );
    values_damaged
}

/// A bucket table whose `buckets` was raised past its allocator block: writes of the shard
/// fail as damage instead of writing the memory that follows the block (another object's),
/// and the store's own check stays clean.
#[test]
fn a_table_larger_than_its_block_is_an_error_not_a_write_through() {
    let t = TestStore::new("map-table-past-block");
    let map = t.map(1);
    for k in 0..100u64 {
        map.set(&k.to_le_bytes(), b"v").unwrap();
    }
    let shards_offset = (map.root_offset() + ROOT_LEN).next_multiple_of(SHARD_STRIDE);
    let shard: &Line<ShardHeader> = t.get(shards_offset).unwrap();
    let table = shard.0.table.load(Ordering::Relaxed);
    let header: &TableHeader = t.get(table).unwrap();
    let buckets = header.buckets.load(Ordering::Relaxed);
    header.buckets.store(buckets * 64, Ordering::Relaxed);
    // A lock-free read writes nothing and is validated: it may miss the key, never return
    // another value. Everything done under the lock (writes, repair) refuses the table.
    let read = map.get(&1u64.to_le_bytes());
    assert!(
        matches!(&read, Ok(None) | Err(_)) || read.as_ref().unwrap().as_deref() == Some(&b"v"[..]),
        "{read:?}"
    );
    assert!(map.set(&1000u64.to_le_bytes(), b"w").is_err());
    assert!(map.delete(&1u64.to_le_bytes()).is_err());
    assert!(!map.verify().unwrap().is_clean());
    let store_report = t.verify_allocator().unwrap();
    assert!(store_report.is_clean(), "{store_report:?}");
    header.buckets.store(buckets, Ordering::Relaxed);
    assert_eq!(
        map.get(&1u64.to_le_bytes()).unwrap().as_deref(),
        Some(&b"v"[..])
    );
    assert!(map.verify().unwrap().is_clean());
}
