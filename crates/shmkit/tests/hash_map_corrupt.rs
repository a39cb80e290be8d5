//! A damaged map (random bytes over its tables and records, as a bug or a hostile process
//! could leave) never makes an operation fault or hang: lookups return values or errors,
//! `verify` reports the damage, `repair` drops what cannot be trusted, and the map works
//! again afterwards.

mod common;

use common::{Rng, TestStore, watchdog};
use shmkit::collections::hash_map::layout::{ROOT_LEN, SHARD_STRIDE, ShardHeader, TableHeader};
use shmkit::store::header::Line;
use std::sync::atomic::Ordering;

#[test]
fn random_damage_is_reported_and_repaired_without_faults() {
    let _watchdog = watchdog(300);
    for seed in 1..=30 {
        damage_and_repair(seed);
    }
}

fn damage_and_repair(seed: u64) {
    let t = TestStore::new(&format!("map-corrupt-{seed}"));
    let map = t.map(2);
    for i in 0..3000u32 {
        map.set(&i.to_le_bytes(), &vec![i as u8; (i % 50) as usize])
            .unwrap();
    }
    let shards_offset = (map.root_offset() + ROOT_LEN).next_multiple_of(SHARD_STRIDE);
    let mut rng = Rng(0xBAD_5EED ^ seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let mut damaged = 0;
    for s in 0..2u64 {
        let shard: &Line<ShardHeader> = t.get(shards_offset + s * SHARD_STRIDE).unwrap();
        let table = shard.0.table.load(Ordering::Relaxed);
        let header: &TableHeader = t.get(table).unwrap();
        let buckets = header.buckets.load(Ordering::Relaxed);
        // Scribble over 40 random slots: tag, record offset, or the record it points at.
        for _ in 0..40 {
            let slot = table + 16 + rng.below(buckets) * 16;
            let mut bytes = [0u8; 8];
            let garbage = rng.next();
            match rng.below(4) {
                0 => t.write_bytes(slot, &garbage.to_le_bytes()).unwrap(), // tag
                1 => t.write_bytes(slot + 8, &garbage.to_le_bytes()).unwrap(), // rec: anywhere
                2 => {
                    // rec: a plausible, aligned offset inside the store
                    let off = (garbage % t.committed_len()) & !15;
                    t.write_bytes(slot + 8, &off.to_le_bytes()).unwrap();
                }
                _ => {
                    // the record's lengths
                    t.read_bytes(slot + 8, &mut bytes).unwrap();
                    let rec = u64::from_le_bytes(bytes);
                    if rec != 0 {
                        t.write_bytes(rec, &garbage.to_le_bytes()).unwrap();
                    }
                }
            }
            damaged += 1;
        }
    }
    assert!(damaged > 0);
    // Every operation returns (a value or an error); none faults or hangs.
    let mut errors = 0;
    for i in 0..3000u32 {
        match map.get(&i.to_le_bytes()) {
            Ok(Some(v)) => assert!(v.len() < 1 << 20),
            Ok(None) => {}
            Err(_) => errors += 1,
        }
    }
    let _ = map.iter().take(10_000).count();
    let report = map.verify().unwrap();
    assert!(!report.is_clean(), "seed {seed}: damage went unnoticed");
    let repaired = map.repair().unwrap();
    assert!(!repaired.repaired.is_empty());
    let after = map.verify().unwrap();
    assert!(after.is_clean(), "seed {seed}: after repair: {after:?}");
    // The map is usable again and consistent with itself.
    for i in 0..3000u32 {
        map.set(&i.to_le_bytes(), b"fresh").unwrap();
    }
    for i in 0..3000u32 {
        assert_eq!(
            map.get(&i.to_le_bytes()).unwrap().as_deref(),
            Some(&b"fresh"[..])
        );
    }
    assert!(map.verify().unwrap().is_clean());
    eprintln!("seed {seed}: {damaged} slots damaged, {errors} lookups returned errors");
}
