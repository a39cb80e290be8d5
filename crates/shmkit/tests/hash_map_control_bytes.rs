//! Control bytes (one per slot, derived from its tag) let probes skip slots without reading
//! them. They are derived data: damage to them is found by `verify` and rewritten by
//! `repair`, and reads are never fooled into a wrong value (a live-looking byte over an
//! empty or foreign slot is checked against the slot's full tag and the key).

mod common;

use common::TestStore;
use shmkit::HashMap;
use shmkit::collections::hash_map::layout::{
    CTRL_EMPTY, ROOT_LEN, SHARD_STRIDE, ShardHeader, TableHeader, ctrl_for_tag, ctrl_word_offset,
    is_live, slot_offset,
};
use shmkit::store::header::Line;
use std::sync::atomic::{AtomicU64, Ordering};

fn key(k: u64) -> Vec<u8> {
    format!("key-{k}").into_bytes()
}

/// The control words and slot tags of shard 0's current table.
fn table_of<'a>(t: &'a TestStore, map: &HashMap) -> (Vec<&'a AtomicU64>, Vec<u64>) {
    let shards = (map.root_offset() + ROOT_LEN).next_multiple_of(SHARD_STRIDE);
    let shard: &Line<ShardHeader> = t.get(shards).unwrap();
    let table = shard.0.table.load(Ordering::Acquire);
    let buckets = t
        .get::<TableHeader>(table)
        .unwrap()
        .buckets
        .load(Ordering::Relaxed);
    let words = (0..buckets / 8)
        .map(|w| t.get::<AtomicU64>(ctrl_word_offset(table, w * 8)).unwrap())
        .collect();
    let tags = (0..buckets)
        .map(|i| {
            let tag: &AtomicU64 = t.get(slot_offset(table, i)).unwrap();
            tag.load(Ordering::Relaxed)
        })
        .collect();
    (words, tags)
}

fn ctrl(words: &[&AtomicU64], i: usize) -> u8 {
    (words[i / 8].load(Ordering::Relaxed) >> ((i % 8) * 8)) as u8
}

fn set_ctrl(words: &[&AtomicU64], i: usize, byte: u8) {
    let w = words[i / 8];
    let shift = (i % 8) * 8;
    w.store(
        (w.load(Ordering::Relaxed) & !(0xFF << shift)) | (u64::from(byte) << shift),
        Ordering::Relaxed,
    );
}

#[test]
fn control_bytes_follow_the_tags_and_damage_to_them_is_found_and_rewritten() {
    let t = TestStore::new("map-ctrl");
    let map = t.map(1);
    for k in 0..10 {
        map.set(&key(k), b"v").unwrap();
    }
    map.delete(&key(3)).unwrap();
    let (words, tags) = table_of(&t, &map);
    for (i, &tag) in tags.iter().enumerate() {
        assert_eq!(ctrl(&words, i), ctrl_for_tag(tag), "slot {i}");
    }
    assert!(map.verify().unwrap().is_clean());

    // A live slot's byte wiped: that key reads as absent (the index is damaged), verify says
    // so, repair rewrites the byte and the key is back with its value.
    let live = tags.iter().position(|&t| is_live(t)).unwrap();
    let saved = ctrl(&words, live);
    set_ctrl(&words, live, CTRL_EMPTY);
    let report = map.verify().unwrap();
    assert!(
        report
            .problems
            .iter()
            .any(|p| p.what.contains("control byte")),
        "{report:?}"
    );
    let repaired = map.repair().unwrap();
    assert!(repaired.is_clean(), "{repaired:?}");
    assert_eq!(ctrl(&words, live), saved);
    for k in (0..10).filter(|&k| k != 3) {
        assert_eq!(
            map.get(&key(k)).unwrap().as_deref(),
            Some(&b"v"[..]),
            "key {k}"
        );
    }

    // Every byte made to look live with every possible 7-bit tag: reads stay right (the
    // slot's full tag and the key decide), absent keys stay absent.
    let (words, tags) = table_of(&t, &map);
    for (i, &tag) in tags.iter().enumerate() {
        if !is_live(tag) {
            set_ctrl(&words, i, 0x80 | (i as u8 & 0x7F));
        }
    }
    for k in 0..200 {
        let expected = (k < 10 && k != 3).then(|| b"v".to_vec());
        assert_eq!(map.get(&key(k)).unwrap(), expected, "key {k}");
    }
    assert!(!map.verify().unwrap().is_clean());
    assert!(map.repair().unwrap().is_clean());
    let (words, tags) = table_of(&t, &map);
    for (i, &tag) in tags.iter().enumerate() {
        assert_eq!(ctrl(&words, i), ctrl_for_tag(tag), "slot {i} after repair");
    }
}
