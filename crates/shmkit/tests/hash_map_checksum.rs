//! Record checksums: a value damaged in place (a stray write inside a record) is never
//! returned. Every read path fails with `MapError::Corrupt` instead, a write that would hand
//! back or decide on the damaged value changes nothing, `verify` reports the record and
//! `repair` drops it while keeping the rest. Counters, the one value rewritten in place,
//! stay sealed, also when their writer dies between the value and the checksum store.

mod common;

use common::{Exit, TestStore, fork_child, watchdog};
use shmkit::collections::hash_map::layout::{
    RECORD_HEADER_LEN, ROOT_LEN, RecordHeader, SHARD_STRIDE, ShardHeader, value_offset,
};
use shmkit::store::header::Line;
use shmkit::{HashMap, MapError, Store, UpdateAction};
use std::sync::atomic::{AtomicU64, Ordering};

/// Offset of the record holding `key` (found among the blocks the map owns).
fn record_of(t: &TestStore, map: &HashMap, key: &[u8]) -> u64 {
    let mut found = Vec::new();
    map.owned_blocks(&mut |block| {
        let Ok(header) = t.get::<RecordHeader>(block) else {
            return;
        };
        if header.key_len.load(Ordering::Relaxed) as usize != key.len() {
            return;
        }
        let mut k = vec![0u8; key.len()];
        if t.read_bytes(block + RECORD_HEADER_LEN, &mut k).is_ok() && k == key {
            found.push(block);
        }
    })
    .unwrap();
    assert_eq!(found.len(), 1, "records of {key:?}: {found:?}");
    found[0]
}

/// Flips the bits of `mask` in byte `index` of `key`'s value.
fn flip_value_byte(t: &TestStore, map: &HashMap, key: &[u8], index: u64, mask: u8) {
    let at = value_offset(record_of(t, map, key), key.len() as u64) + index;
    let mut b = [0u8];
    t.read_bytes(at, &mut b).unwrap();
    t.write_bytes(at, &[b[0] ^ mask]).unwrap();
}

/// How many problems of `report` are records whose checksum does not match their value.
fn checksum_mismatches(report: &shmkit::MapReport) -> usize {
    report
        .problems
        .iter()
        .filter(|p| p.what.contains("checksum mismatch"))
        .count()
}

fn is_corrupt<T: std::fmt::Debug>(r: Result<T, MapError>) -> bool {
    match r {
        Err(MapError::Corrupt { reason, .. }) => reason.contains("checksum"),
        other => panic!("expected a checksum error, got {other:?}"),
    }
}

/// The shard header of a one-shard map.
fn shard0<'a>(store: &'a Store, map: &HashMap) -> &'a ShardHeader {
    let at = (map.root_offset() + ROOT_LEN).next_multiple_of(SHARD_STRIDE);
    &store.get::<Line<ShardHeader>>(at).unwrap().0
}

#[test]
fn a_flipped_value_byte_is_an_error_on_every_read_path() {
    let _watchdog = watchdog(60);
    let t = TestStore::new("checksum-reads");
    let map = t.map(1);
    let small = b"a small value".to_vec();
    let large: Vec<u8> = (0..5000u32).map(|i| (i % 251) as u8).collect(); // built unlocked
    map.set(b"small", &small).unwrap();
    map.set(b"large", &large).unwrap();
    map.set(b"other", b"untouched").unwrap();
    assert!(map.verify().unwrap().is_clean());
    // One bit of each value; the last byte of the large one.
    flip_value_byte(&t, &map, b"small", 3, 0x01);
    flip_value_byte(&t, &map, b"large", 4999, 0x80);

    for key in [&b"small"[..], &b"large"[..]] {
        assert!(is_corrupt(map.get(key)), "{key:?}");
        let mut buf = vec![9u8; 3];
        assert!(is_corrupt(map.get_into(key, &mut buf)));
        assert!(buf.is_empty(), "damaged bytes handed out with the error");
        assert!(is_corrupt(map.try_get_into_lock_free(key, &mut buf)));
        assert!(buf.is_empty());
        // Writes that would return or decide on the damaged value change nothing.
        assert!(is_corrupt(map.insert(key, b"new")));
        assert!(is_corrupt(map.remove(key)));
        assert!(is_corrupt(map.update(key, |_| UpdateAction::Keep)));
        assert!(
            is_corrupt(map.get(key)),
            "{key:?} changed by a failed write"
        );
        // The key is still there (nothing read its value).
        assert!(map.contains_key(key).unwrap());
    }
    // compare_and_set matching the (damaged) stored bytes exactly.
    let mut damaged = small.clone();
    damaged[3] ^= 0x01;
    assert!(is_corrupt(map.compare_and_set(
        b"small",
        Some(&damaged),
        Some(b"x")
    )));
    // Iteration over values fails rather than yield the entry; keys alone are still listed
    // (a key is checked against its slot's hash tag, not the value's checksum).
    assert!(is_corrupt(map.shard_entries(0, false)));
    assert!(map.iter().any(|r| r.is_err()));
    assert!(map.values().any(|r| r.is_err()));
    assert!(map.iter().all(|r| r.map_or(true, |(k, _)| k != b"small")));
    let mut keys: Vec<Vec<u8>> = map.keys().map(Result::unwrap).collect();
    keys.sort();
    assert_eq!(keys, [&b"large"[..], b"other", b"small"]);

    // verify names both records; repair drops exactly them.
    let report = map.verify().unwrap();
    let mismatches = checksum_mismatches(&report);
    assert_eq!(mismatches, 2, "{report:?}");
    let repaired = map.repair().unwrap();
    assert!(repaired.is_clean(), "{repaired:?}");
    assert_eq!(repaired.entries, 1);
    assert_eq!(map.get(b"small").unwrap(), None);
    assert_eq!(map.get(b"large").unwrap(), None);
    assert_eq!(
        map.get(b"other").unwrap().as_deref(),
        Some(&b"untouched"[..])
    );
    assert!(map.verify().unwrap().is_clean());
}

#[test]
fn a_plain_set_or_delete_replaces_a_damaged_value() {
    let _watchdog = watchdog(60);
    let t = TestStore::new("checksum-overwrite");
    let map = t.map(1);
    map.set(b"a", b"value a").unwrap();
    map.set(b"b", b"value b").unwrap();
    flip_value_byte(&t, &map, b"a", 0, 0xFF);
    flip_value_byte(&t, &map, b"b", 6, 0x10);
    assert!(is_corrupt(map.get(b"a")));
    map.set(b"a", b"fresh").unwrap();
    assert_eq!(map.get(b"a").unwrap().as_deref(), Some(&b"fresh"[..]));
    assert!(map.delete(b"b").unwrap());
    assert_eq!(map.get(b"b").unwrap(), None);
    let report = map.verify().unwrap();
    assert!(report.is_clean(), "{report:?}");
    assert_eq!(report.entries, 1);
}

#[test]
fn damage_to_the_checksum_or_the_length_is_detected_too() {
    let _watchdog = watchdog(60);
    let t = TestStore::new("checksum-header");
    let map = t.map(1);
    map.set(b"sum", b"0123456789").unwrap();
    map.set(b"len", b"0123456789").unwrap();
    let header: &RecordHeader = t.get(record_of(&t, &map, b"sum")).unwrap();
    header.checksum.fetch_xor(1 << 17, Ordering::Relaxed);
    let header: &RecordHeader = t.get(record_of(&t, &map, b"len")).unwrap();
    header.val_len.store(9, Ordering::Relaxed); // shorter, still inside the block
    assert!(is_corrupt(map.get(b"sum")));
    assert!(is_corrupt(map.get(b"len")));
    let report = map.verify().unwrap();
    let mismatches = checksum_mismatches(&report);
    assert_eq!(mismatches, 2, "{report:?}");
    map.repair().unwrap();
    assert!(map.is_empty());
}

#[test]
fn counters_stay_sealed() {
    let _watchdog = watchdog(60);
    let t = TestStore::new("checksum-incr");
    let map = t.map(1);
    for n in 1..=200i64 {
        assert_eq!(map.incr_i64(b"i", 1).unwrap(), n);
        assert_eq!(map.get(b"i").unwrap(), Some(n.to_le_bytes().to_vec()));
    }
    for n in 1..=50 {
        assert_eq!(map.incr_f64(b"f", 0.5).unwrap(), f64::from(n) * 0.5);
    }
    let report = map.verify().unwrap();
    assert!(report.is_clean(), "{report:?}");
    // A damaged counter is refused, not incremented (which would seal the damage in).
    flip_value_byte(&t, &map, b"i", 7, 0x40);
    assert!(is_corrupt(map.incr_i64(b"i", 1)));
    assert!(is_corrupt(map.get(b"i")));
}

/// Forks a child that takes the shard lock of the counter record `rec` (key of 1 byte, a
/// one-shard map), does what `incr_*` does up to `stage`, and dies by SIGKILL holding the
/// lock: 0: sequence odd, intent set; 1: and the new value stored (its checksum not yet
/// resealed).
fn die_inside_incr(t: &TestStore, map: &HashMap, rec: u64, new: i64, stage: u32) {
    let mut child = {
        let store = (*t).clone();
        let map = map.clone();
        fork_child(move || {
            let shard = shard0(&store, &map);
            let _guard = store.lock(&shard.lock).unwrap();
            shard.seq.write_begin();
            shard.counter_intent.store(rec, Ordering::Relaxed);
            if stage >= 1 {
                let cell: &AtomicU64 = store.get(value_offset(rec, 1)).unwrap();
                cell.store(new as u64, Ordering::Release);
            }
            // SAFETY: raising a signal in our own process.
            unsafe { libc::raise(libc::SIGKILL) };
            0
        })
    };
    assert_eq!(child.wait(), Exit::Signal(libc::SIGKILL));
}

#[test]
fn a_counter_update_cut_between_value_and_checksum_is_resealed() {
    let _watchdog = watchdog(60);
    let t = TestStore::new("checksum-incr-crash");
    let map = t.map(1);
    map.incr_i64(b"c", 41).unwrap();
    // (Found now: looking for it takes the shard lock, which would recover the shard.)
    let rec = record_of(&t, &map, b"c");
    let shard = shard0(&t, &map);
    // Killed after the value store: the next lock taker (a reader falling back to the lock,
    // the sequence being odd) reseals the record, and the new value counts.
    die_inside_incr(&t, &map, rec, 42, 1);
    assert_eq!(shard.counter_intent.load(Ordering::Relaxed), rec);
    assert!(shard.seq.is_writing());
    assert_eq!(map.get(b"c").unwrap(), Some(42i64.to_le_bytes().to_vec()));
    assert_eq!(shard.counter_intent.load(Ordering::Relaxed), 0);
    let report = map.verify().unwrap();
    assert!(report.is_clean(), "{report:?}");
    assert_eq!(map.incr_i64(b"c", 1).unwrap(), 43);

    // Killed before the value store: the old value stays, sealed.
    die_inside_incr(&t, &map, rec, 1000, 0);
    let report = map.verify().unwrap();
    assert!(
        report.repaired.iter().any(|r| r.contains("resealed")),
        "{report:?}"
    );
    assert!(report.is_clean(), "{report:?}");
    assert_eq!(map.get(b"c").unwrap(), Some(43i64.to_le_bytes().to_vec()));
}

#[test]
fn a_stray_counter_intent_does_not_seal_a_damaged_value() {
    // Only a writer that died mid-update (sequence left odd) gets its counter resealed; an
    // intent word some stray write set must not make repair bless a damaged value.
    let _watchdog = watchdog(60);
    let t = TestStore::new("checksum-stray-intent");
    let map = t.map(1);
    map.incr_i64(b"c", 7).unwrap();
    flip_value_byte(&t, &map, b"c", 0, 0x02);
    let rec = record_of(&t, &map, b"c");
    shard0(&t, &map)
        .counter_intent
        .store(rec, Ordering::Relaxed);
    let report = map.verify().unwrap();
    assert!(
        report.problems.iter().any(|p| p.what.contains("intent")),
        "{report:?}"
    );
    let repaired = map.repair().unwrap();
    assert!(repaired.is_clean(), "{repaired:?}");
    assert_eq!(map.get(b"c").unwrap(), None);
    assert_eq!(shard0(&t, &map).counter_intent.load(Ordering::Relaxed), 0);
}

#[test]
fn verify_checks_values_of_many_chunks_byte_for_byte() {
    // verify hashes values in chunks straight from the store; its digest must equal the
    // one-shot checksum the writer stored, at every length around the chunk size, and a
    // flipped byte anywhere (first chunk, a later one, the last byte) must be reported.
    let _dog = watchdog(120);
    let t = TestStore::new("checksum-chunks");
    let map = t.map(1);
    let lens = [0u64, 1, 16 * 1024 - 1, 16 * 1024, 16 * 1024 + 1, 200_003];
    for (i, len) in lens.iter().enumerate() {
        let value: Vec<u8> = (0..*len).map(|j| (j * 7 + i as u64) as u8).collect();
        map.set(format!("v{i}").as_bytes(), &value).unwrap();
    }
    let report = map.verify().unwrap();
    assert!(report.is_clean(), "{report:?}");
    for at in [0u64, 16 * 1024 + 5, 199_999, 200_002] {
        flip_value_byte(&t, &map, b"v5", at, 0x10);
        let report = map.verify().unwrap();
        let mismatches = checksum_mismatches(&report);
        assert_eq!(mismatches, 1, "byte {at}: {report:?}");
        flip_value_byte(&t, &map, b"v5", at, 0x10);
        assert!(map.verify().unwrap().is_clean(), "byte {at} restored");
    }
}

#[test]
fn a_reused_block_carries_no_stale_bytes_between_key_and_value() {
    // Records keep values 8-byte aligned: the bytes between a short key and its value are
    // zeroed, so a block reused from a longer key never shows that key's bytes there.
    let t = TestStore::new("record-padding");
    let map = t.map(1);
    map.set(b"abcdefgh", b"first").unwrap();
    map.set(b"abcdefgh", b"second").unwrap(); // the first record's block becomes a spare
    map.set(b"xyz", b"v").unwrap(); // built in that spare block
    let mut blocks = Vec::new();
    map.owned_blocks(&mut |b| blocks.push(b)).unwrap();
    let rec = blocks
        .into_iter()
        .find(|&b| {
            let mut key = [0u8; 3];
            t.get::<RecordHeader>(b)
                .is_ok_and(|h| h.key_len.load(Ordering::Relaxed) == 3)
                && t.read_bytes(b + RECORD_HEADER_LEN, &mut key).is_ok()
                && &key == b"xyz"
        })
        .expect("the record of \"xyz\"");
    let mut pad = [0xEEu8; 5];
    t.read_bytes(rec + RECORD_HEADER_LEN + 3, &mut pad).unwrap();
    assert_eq!(pad, [0u8; 5], "stale bytes of the block's earlier key");
}

#[test]
fn repair_moves_a_migration_cursor_that_ran_past_live_entries_back() {
    // Mid-resize, the old table still holds entries the cursor has not reached. A cursor
    // that says otherwise (damage) would let the migration finish and free the old table
    // with those entries in it; repair must move it back to the first live one.
    let t = TestStore::new("repair-migrate-cursor");
    let map = t.map(1);
    let shard = shard0(&t, &map);
    let mut n = 0u32;
    while shard.old_table.load(Ordering::Acquire) == 0 {
        map.set(&n.to_le_bytes(), &n.to_be_bytes()).unwrap();
        n += 1;
        assert!(n < 1_000_000, "no resize started");
    }
    let old: &shmkit::collections::hash_map::layout::TableHeader =
        t.get(shard.old_table.load(Ordering::Acquire)).unwrap();
    let old_buckets = old.buckets.load(Ordering::Relaxed);
    assert!(shard.migrate_cursor.load(Ordering::Relaxed) < old_buckets);
    shard.migrate_cursor.store(old_buckets, Ordering::Relaxed);
    let report = map.repair().unwrap();
    assert!(
        report
            .repaired
            .iter()
            .any(|r| r.contains("moved the migration cursor back")),
        "{report:?}"
    );
    // Finish the migration with more writes, then every key written must still be there.
    let mut m = n;
    while shard.old_table.load(Ordering::Acquire) != 0 {
        map.set(&m.to_le_bytes(), &m.to_be_bytes()).unwrap();
        m += 1;
        assert!(m < n + 1_000_000, "the migration never finished");
    }
    for i in 0..m {
        assert_eq!(
            map.get(&i.to_le_bytes()).unwrap().as_deref(),
            Some(&i.to_be_bytes()[..]),
            "key {i} of {m} lost"
        );
    }
    assert!(map.verify().unwrap().is_clean());
}

#[test]
fn an_interrupted_updates_intent_reseals_only_a_live_counter() {
    // A writer died with its sequence odd and an intent naming a record that is not an
    // 8-byte counter (damage, or a record replaced since): repair must not reseal it with
    // a checksum of its first 8 bytes, which would turn a sound value into a damaged one.
    let _watchdog = watchdog(60);
    let t = TestStore::new("checksum-intent-not-counter");
    let map = t.map(1);
    map.set(b"text", b"not a counter").unwrap();
    let rec = record_of(&t, &map, b"text");
    let shard = shard0(&t, &map);
    shard.counter_intent.store(rec, Ordering::Relaxed);
    shard.seq.write_begin(); // as left by a writer killed mid-update
    let report = map.repair().unwrap();
    assert!(
        report
            .repaired
            .iter()
            .any(|r| r.contains("ignored a counter intent")),
        "{report:?}"
    );
    assert_eq!(
        map.get(b"text").unwrap().as_deref(),
        Some(&b"not a counter"[..])
    );
    assert!(map.verify().unwrap().is_clean());
}

#[test]
fn stats_add_up_to_what_the_shards_and_records_hold() {
    // Every figure of HashMap::stats recomputed from the layout: the shard headers, their
    // tables, and the records written (mid-resize, so an old table is counted too).
    use shmkit::collections::hash_map::layout::{TABLE_HEADER_LEN, TableHeader, record_len};
    let t = TestStore::new("map-stats");
    let map = t.map(4);
    let mut record_bytes = 0u64;
    let mut n = 0u64;
    let shards_at = (map.root_offset() + ROOT_LEN).next_multiple_of(SHARD_STRIDE);
    let shard = |i: u64| -> &ShardHeader {
        &t.get::<Line<ShardHeader>>(shards_at + i * SHARD_STRIDE)
            .unwrap()
            .0
    };
    while n < 300 || (0..4).all(|i| shard(i).old_table.load(Ordering::Acquire) == 0) {
        let key = format!("key-{n}");
        let value = vec![b'v'; (n % 37) as usize];
        map.set(key.as_bytes(), &value).unwrap();
        record_bytes += record_len(key.len() as u64, value.len() as u64);
        n += 1;
        assert!(n < 1_000_000, "no shard started a resize");
    }
    let table_bytes = |offset: u64| -> (u64, u64) {
        let buckets = t
            .get::<TableHeader>(offset)
            .unwrap()
            .buckets
            .load(Ordering::Relaxed);
        // Header, then groups of 16 control bytes and 16 slots of 16 bytes.
        (buckets, TABLE_HEADER_LEN + buckets / 16 * 272)
    };
    let (mut buckets, mut tables, mut resizes, mut resizing) = (0u64, 0u64, 0u64, 0u32);
    for i in 0..4 {
        let s = shard(i);
        let (b, bytes) = table_bytes(s.table.load(Ordering::Acquire));
        buckets += b;
        tables += bytes;
        resizes += s.resizes.load(Ordering::Relaxed);
        let old = s.old_table.load(Ordering::Acquire);
        if old != 0 {
            resizing += 1;
            tables += table_bytes(old).1;
        }
    }
    let stats = map.stats().unwrap();
    assert_eq!(stats.entries, n);
    assert_eq!(stats.shards, 4);
    assert_eq!(stats.buckets, buckets);
    assert_eq!(stats.load_factor, n as f64 / buckets as f64);
    assert_eq!(stats.resizes, resizes);
    assert!(resizes > 0 && resizing > 0);
    assert_eq!(stats.resizing_shards, resizing);
    assert_eq!(
        stats.bytes_used,
        ROOT_LEN + SHARD_STRIDE * 5 + tables + record_bytes,
        "root and shard headers, tables, records"
    );
}

#[test]
fn an_entry_cut_off_from_its_home_by_an_empty_slot_is_reported() {
    // A probe stops at the first empty slot: an entry stored past its home slot with an
    // empty slot in between can never be found, and verify must say so by name.
    use shmkit::collections::hash_map::layout::{EMPTY, Slot, TableHeader, slot_offset};
    let t = TestStore::new("map-unreachable");
    // A table sized for thousands of entries: adjacent homes meet long before it resizes,
    // whatever the store's hash seed.
    let options = shmkit::HashMapOptions {
        shards: 1,
        initial_capacity: 4096,
        fixed_size: None,
    };
    let map = t.hash_map_with("m", &options).unwrap();
    let shard = shard0(&t, &map);
    let table = shard.table.load(Ordering::Acquire);
    let buckets = t
        .get::<TableHeader>(table)
        .unwrap()
        .buckets
        .load(Ordering::Relaxed);
    let slot = |i: u64| t.get::<Slot>(slot_offset(table, i % buckets)).unwrap();
    // Fill until some entry sits one past an occupied home slot.
    let mut n = 0u32;
    let displaced = loop {
        map.set(&n.to_le_bytes(), b"v").unwrap();
        n += 1;
        assert_eq!(
            shard.table.load(Ordering::Acquire),
            table,
            "no collision before a resize"
        );
        let found = (0..buckets).find(|&i| {
            let tag = slot(i).tag.load(Ordering::Relaxed);
            tag > 1 && (tag & (buckets - 1)) == (i + buckets - 1) % buckets
        });
        if let Some(i) = found {
            break i;
        }
    };
    // Empty the home slot in front of it (losing that entry too: a count mismatch).
    let home = slot(displaced + buckets - 1);
    home.rec.store(0, Ordering::Relaxed);
    home.tag.store(EMPTY, Ordering::Relaxed);
    let report = map.verify().unwrap();
    assert!(
        report
            .problems
            .iter()
            .any(|p| p.what.contains("unreachable (empty slot before it)")),
        "{report:?}"
    );
}
