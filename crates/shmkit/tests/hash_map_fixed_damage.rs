//! Damaged slabs of a fixed-size map (garbage a bug or a hostile process could leave in a
//! slab header, a chunk offset, a free list, `carved`, `free_count` or a slot) never make an
//! operation panic, fault or write outside the map: every read returns its key's own value
//! (or, for the keys the damage hit, nothing or a `Corrupt` error), every write succeeds or
//! fails with `Corrupt`, and a write that succeeded is not lost later (unless the damage
//! makes the repair drop the chunk it went to); objects beside the map in the same store
//! are unharmed. `verify` reports the damage, `repair` makes the map clean and usable, and
//! every key the damage did not hit keeps its value. A root whose sizes are impossible is a
//! `Corrupt` error when the map is opened. A chunk offset damaged to name another object's
//! allocated block is told apart by the chunk header (which names its slab and position).

mod common;

use common::{TestStore, watchdog};
use shmkit::collections::hash_map::layout::{
    CHUNK_HEADER_LEN, LIVE_BIT, MapRoot, ROOT_LEN, SHARD_STRIDE, SLAB_HEADER_LEN, ShardHeader,
    SlabHeader, Slot, TableHeader, key_hash, slot_offset,
};
use shmkit::collections::object::SharedObject;
use shmkit::store::header::Line;
use shmkit::{Deque, DequeOptions, ErrorKind, HashMap, MapError, StoreOptions};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU64, Ordering};

const SHARDS: u64 = 2;
const KEYS: u64 = 120;
/// Bytes of one record (8-byte keys and values).
const STRIDE: u64 = 24;

fn key(k: u64) -> [u8; 8] {
    (0x4B00_0000_0000_0000 | k).to_le_bytes()
}

/// Version `v` of key `k`'s value: names the key, so another key's value shows.
fn val(k: u64, v: u64) -> [u8; 8] {
    (((k + 1) << 32) | v).to_le_bytes()
}

/// A fixed-size map of two shards, its slabs with records live, free and uncarved, and two
/// objects beside it in the same store (a map of any sizes and a deque) that no damage to
/// the map may touch.
struct Fixture {
    t: TestStore,
    map: HashMap,
    other: HashMap,
    queue: Deque,
    /// What the map holds: key → value.
    model: BTreeMap<u64, [u8; 8]>,
    /// Keys the damage hit: they may read as absent (or fail) and be dropped by the repair.
    victims: BTreeSet<u64>,
    /// A shard all of whose keys are victims, also those written after the damage (the
    /// repair drops the records of a slab it replaces, and those of every chunk from the
    /// first bad one on).
    victim_shard: Option<u64>,
    /// Store bytes outside the map that must keep these contents (a free block's only
    /// until the store's repair, after which an allocation may take it): offset, bytes,
    /// and whether they stay to the end.
    untouched: Option<(u64, Vec<u8>, bool)>,
    what: String,
}

impl Fixture {
    fn new(what: &str) -> Fixture {
        let t = TestStore::with(
            &format!("fixed-damage-{what}"),
            &StoreOptions {
                reserve: 64 << 20,
                ..StoreOptions::default()
            },
        );
        let options = common::fixed_options(SHARDS as u32, 8, 8);
        let map = t.hash_map_with("m", &options).unwrap();
        let other = t.hash_map("other").unwrap();
        let queue = t
            .deque_with(
                "q",
                &DequeOptions {
                    initial_bytes: 4096,
                    ..DequeOptions::default()
                },
            )
            .unwrap();
        for i in 0..50u64 {
            other.set(&i.to_le_bytes(), &[i as u8; 40]).unwrap();
            queue.push_back(&[i as u8; 24]).unwrap();
        }
        // The same layout whatever the store's hash seed: `KEYS / 2` keys per shard, so each
        // slab has chunks of 16 and 32 records and 12 records carved from its third (64).
        let shard_of = |k: u64| (key_hash(t.hash_seed(), &key(k)) >> 48) & (SHARDS - 1);
        let mut per_shard = [0u64; SHARDS as usize];
        let mut model = BTreeMap::new();
        for k in 0.. {
            let n = &mut per_shard[shard_of(k) as usize];
            if *n < KEYS / SHARDS {
                *n += 1;
                map.set(&key(k), &val(k, 0)).unwrap();
                model.insert(k, val(k, 0));
            }
            if per_shard.iter().all(|&n| n == KEYS / SHARDS) {
                break;
            }
        }
        // Every fourth key removed: its record is on its shard's free list.
        for k in model.keys().copied().step_by(4).collect::<Vec<_>>() {
            map.delete(&key(k)).unwrap();
            model.remove(&k);
        }
        let f = Fixture {
            t,
            map,
            other,
            queue,
            model,
            victims: BTreeSet::new(),
            victim_shard: None,
            untouched: None,
            what: what.to_string(),
        };
        assert!(f.map.verify().unwrap().is_clean());
        f
    }

    fn shard(&self, index: u64) -> &ShardHeader {
        let shards = (self.map.root_offset() + ROOT_LEN).next_multiple_of(SHARD_STRIDE);
        &self
            .t
            .get::<Line<ShardHeader>>(shards + index * SHARD_STRIDE)
            .unwrap()
            .0
    }

    fn slab(&self, index: u64) -> &SlabHeader {
        self.t
            .get(self.shard(index).slab.load(Ordering::Relaxed))
            .unwrap()
    }

    /// The word holding the offset of chunk `i` of shard `index`'s slab.
    fn chunk_word(&self, index: u64, i: u64) -> &AtomicU64 {
        let slab = self.shard(index).slab.load(Ordering::Relaxed);
        self.t.get(slab + SLAB_HEADER_LEN + 8 * i).unwrap()
    }

    fn shard_of(&self, k: u64) -> u64 {
        (key_hash(self.t.hash_seed(), &key(k)) >> 48) & (SHARDS - 1)
    }

    /// The live slots of shard `index`'s current table.
    fn live_slots(&self, index: u64) -> Vec<&Slot> {
        let table = self.shard(index).table.load(Ordering::Relaxed);
        let header: &TableHeader = self.t.get(table).unwrap();
        (0..header.buckets.load(Ordering::Relaxed))
            .map(|i| self.t.get::<Slot>(slot_offset(table, i)).unwrap())
            .filter(|s| s.tag.load(Ordering::Relaxed) & LIVE_BIT != 0)
            .collect()
    }

    /// The slot of key `k` (its record's key bytes follow the reserved and checksum words).
    fn slot_of(&self, k: u64) -> &Slot {
        self.live_slots(self.shard_of(k))
            .into_iter()
            .find(|s| {
                let mut stored = [0u8; 8];
                self.t
                    .read_bytes(s.rec.load(Ordering::Relaxed) + 8, &mut stored)
                    .unwrap();
                stored == key(k)
            })
            .unwrap_or_else(|| panic!("{}: no slot for key {k}", self.what))
    }

    fn rec_of(&self, k: u64) -> u64 {
        self.slot_of(k).rec.load(Ordering::Relaxed)
    }

    /// The keys of the model that live in shard `index`.
    fn keys_in(&self, index: u64) -> Vec<u64> {
        self.model
            .keys()
            .copied()
            .filter(|&k| self.shard_of(k) == index)
            .collect()
    }

    /// Shard `index`'s free list (at most 10 000 links).
    fn free_list(&self, index: u64) -> Vec<u64> {
        let mut out = Vec::new();
        let mut rec = self.slab(index).free_head.load(Ordering::Relaxed);
        while rec != 0 && out.len() < 10_000 {
            out.push(rec);
            rec = self
                .t
                .get::<AtomicU64>(rec)
                .unwrap()
                .load(Ordering::Relaxed);
        }
        out
    }

    /// A new key (not in the model, never used) that lives in shard `index`.
    fn new_key_in(&self, index: u64, from: &mut u64) -> u64 {
        loop {
            *from += 1;
            if self.shard_of(*from) == index && !self.model.contains_key(from) {
                return *from;
            }
        }
    }

    fn is_victim(&self, k: u64) -> bool {
        self.victims.contains(&k) || self.victim_shard == Some(self.shard_of(k))
    }

    /// Every read is honest: a key outside `victims` reads its value, a victim its value,
    /// nothing, or a `Corrupt` error; iteration yields only written entries.
    fn assert_reads(&self, stage: &str) {
        let what = format!("{}, {stage}", self.what);
        let keys: BTreeSet<u64> = (0..KEYS * 3)
            .chain(self.model.keys().copied())
            .chain(self.victims.iter().copied())
            .collect();
        for k in keys {
            let got = self.map.get(&key(k));
            let want = self.model.get(&k).map(|v| v.to_vec());
            if self.is_victim(k) {
                match got {
                    Ok(v) => assert!(v.is_none() || v == want, "{what}: victim {k} read {v:?}"),
                    Err(e) => assert_corrupt(e, &what),
                }
            } else {
                assert_eq!(got.unwrap(), want, "{what}: key {k}");
            }
        }
        for entry in self.map.iter() {
            let Ok((k, v)) = entry else { continue };
            let k = u64::from_le_bytes(k.try_into().unwrap()) & 0xFFFF_FFFF;
            assert_eq!(
                Some(&v[..]),
                self.model.get(&k).map(|v| &v[..]),
                "{what}: {k}"
            );
        }
    }

    /// Writes to shard `index` (new keys, overwrites, removals) after damage: each succeeds
    /// (the model follows) or fails with `Corrupt` (the model stays). Returns the failures.
    fn write_to(&mut self, index: u64, version: u64) -> u64 {
        let mut failed = 0;
        let mut next = KEYS;
        for round in 0..24u64 {
            let k = match round % 3 {
                0 => self.new_key_in(index, &mut next),
                _ => match self.keys_in(index).get(round as usize) {
                    Some(&k) => k,
                    None => continue,
                },
            };
            let result = if round % 3 == 2 {
                self.map.delete(&key(k)).map(|_| None)
            } else {
                self.map
                    .set(&key(k), &val(k, version))
                    .map(|()| Some(val(k, version)))
            };
            match result {
                Ok(Some(v)) => {
                    self.model.insert(k, v);
                    self.victims.remove(&k);
                }
                Ok(None) => {
                    self.model.remove(&k);
                    self.victims.remove(&k);
                }
                Err(e) => {
                    assert_corrupt(e, &self.what);
                    failed += 1;
                }
            }
        }
        failed
    }

    /// A block of `len` bytes of `fill` owned by a raw object beside the map, whose bytes
    /// (as they are once `prepare` has written into them) must stay as they are.
    fn raw_block(&mut self, len: u64, fill: u8, prepare: impl FnOnce(&Fixture, u64)) -> u64 {
        let raw = self
            .t
            .object_or_create("raw", shmkit::ObjectKind::Raw, |s| s.alloc(len))
            .unwrap();
        self.t.write_bytes(raw, &vec![fill; len as usize]).unwrap();
        prepare(self, raw);
        let mut bytes = vec![0u8; len as usize];
        self.t.read_bytes(raw, &mut bytes).unwrap();
        self.untouched = Some((raw, bytes, true));
        raw
    }

    /// Inserts `n` new keys into shard `index` (each takes a record: from the free list
    /// first, then new ones); each succeeds or fails with `Corrupt`. Returns the failures.
    fn insert_into(&mut self, index: u64, n: u64, version: u64) -> u64 {
        let mut failed = 0;
        let mut next = KEYS * 50;
        for _ in 0..n {
            let k = self.new_key_in(index, &mut next);
            match self.map.set(&key(k), &val(k, version)) {
                Ok(()) => {
                    self.model.insert(k, val(k, version));
                }
                Err(e) => {
                    assert_corrupt(e, &self.what);
                    failed += 1;
                }
            }
        }
        failed
    }

    /// The objects beside the map hold what was written and check clean.
    fn assert_neighbours(&self, stage: &str) {
        let what = format!("{}, {stage}", self.what);
        for i in 0..50u64 {
            assert_eq!(
                self.other.get(&i.to_le_bytes()).unwrap(),
                Some(vec![i as u8; 40]),
                "{what}: the other map"
            );
        }
        let report = self.other.verify().unwrap();
        assert!(report.is_clean(), "{what}: the other map: {report:?}");
        let items = self.queue.items().unwrap();
        let expected: Vec<Vec<u8>> = (0..50u64).map(|i| vec![i as u8; 24]).collect();
        assert_eq!(items, expected, "{what}: the deque");
        let report = self.queue.verify().unwrap();
        assert!(report.is_clean(), "{what}: the deque: {report:?}");
        if let Some((at, bytes, to_the_end)) = &self.untouched
            && (*to_the_end || stage != "used again")
        {
            let mut now = vec![0u8; bytes.len()];
            self.t.read_bytes(*at, &mut now).unwrap();
            assert!(now == *bytes, "{what}: the bytes at {at} were written");
        }
    }

    /// `repair` makes the map clean; the victims keep their value or are gone, every other
    /// key keeps its value; the store's own repair sweeps what the map let go of; the map
    /// works again. Returns the notes of the map's repair.
    fn repair_and_check(&mut self) -> Vec<String> {
        let what = self.what.clone();
        self.assert_reads("damaged");
        self.assert_neighbours("damaged");
        let report = self.map.repair().unwrap();
        assert!(report.is_clean(), "{what}: after repair: {report:?}");
        self.assert_neighbours("repaired");
        let notes = report.repaired;
        self.assert_reads("repaired");
        let victims: Vec<u64> = (self.model.keys().copied())
            .chain(self.victims.iter().copied())
            .filter(|&k| self.is_victim(k))
            .collect();
        for k in victims {
            if self.map.get(&key(k)).unwrap().is_none() {
                self.model.remove(&k);
            }
        }
        self.victims.clear();
        self.victim_shard = None;
        self.assert_reads("repaired, victims settled");
        let store = self.t.repair();
        assert!(store.after.is_clean(), "{what}: store repair: {store:?}");
        // Usable: every key written again, new ones added, some removed.
        for k in 0..KEYS * 3 {
            if k % 5 == 1 {
                self.map.delete(&key(k)).unwrap();
                self.model.remove(&k);
            } else {
                self.map.set(&key(k), &val(k, 9)).unwrap();
                self.model.insert(k, val(k, 9));
            }
        }
        self.assert_reads("used again");
        self.assert_neighbours("used again");
        let report = self.map.verify().unwrap();
        assert!(report.is_clean(), "{what}: at the end: {report:?}");
        assert_eq!(report.entries, self.model.len() as u64, "{what}");
        notes
    }
}

fn assert_corrupt(e: MapError, what: &str) {
    let e: shmkit::Error = e.into();
    assert_eq!(e.kind(), ErrorKind::Corrupt, "{what}: {e}");
}

fn assert_reported(f: &Fixture) {
    let report = f.map.verify().unwrap();
    assert!(!report.is_clean(), "{}: verify saw nothing", f.what);
}

#[test]
fn a_free_list_head_outside_the_slab_fails_the_write() {
    let _watchdog = watchdog(120);
    // The head names a record block of the other map.
    let mut f = Fixture::new("head-outside");
    let mut blocks = Vec::new();
    f.other.owned_blocks(&mut |b| blocks.push(b)).unwrap();
    let foreign = *blocks.last().unwrap();
    f.slab(0).free_head.store(foreign, Ordering::Relaxed);
    assert_reported(&f);
    assert!(f.write_to(0, 1) > 0, "no write failed");
    f.repair_and_check();

    // The head names zeros in another object (a free record that ends the list, by its
    // first word).
    let mut f = Fixture::new("head-zeros");
    let raw = f.raw_block(4096, 0, |_, _| {});
    f.slab(0).free_head.store(raw + 512, Ordering::Relaxed);
    assert_reported(&f);
    assert!(f.write_to(0, 1) > 0, "no write failed");
    f.repair_and_check();
}

#[test]
fn a_free_list_head_inside_a_record_fails_the_write() {
    let _watchdog = watchdog(120);
    let mut f = Fixture::new("head-inside");
    let k = f.keys_in(0)[3];
    let rec = f.rec_of(k);
    f.slab(0).free_head.store(rec + 8, Ordering::Relaxed);
    assert_reported(&f);
    assert!(f.write_to(0, 1) > 0, "no write failed");
    f.repair_and_check();
}

#[test]
fn a_free_list_head_at_a_live_record_fails_the_write() {
    // The record passes as one of the slab's, but its first word links to nothing: the
    // write fails instead of taking a record its key still uses.
    let _watchdog = watchdog(120);
    let mut f = Fixture::new("head-live");
    let k = f.keys_in(0)[3];
    f.slab(0).free_head.store(f.rec_of(k), Ordering::Relaxed);
    assert_reported(&f);
    assert!(f.write_to(0, 1) > 0, "no write failed");
    f.repair_and_check();
}

#[test]
fn a_cycle_in_the_free_list_loses_no_write() {
    let _watchdog = watchdog(120);
    let mut f = Fixture::new("cycle");
    let list = f.free_list(0);
    assert!(list.len() >= 3, "{list:?}");
    // The last free record links back to the second.
    let last = f.t.get::<AtomicU64>(*list.last().unwrap()).unwrap();
    last.store(list[1], Ordering::Relaxed);
    assert_reported(&f);
    // More records taken than the list holds: around the cycle and past it.
    f.insert_into(0, list.len() as u64 + 10, 1);
    f.write_to(0, 2);
    f.repair_and_check();
}

#[test]
fn a_wrong_free_count_is_recounted() {
    // Too small, too large, wrapped: reported, and rebuilt with the list.
    let _watchdog = watchdog(120);
    for (i, wrong) in [Some(0), Some(u64::MAX), None].into_iter().enumerate() {
        let mut f = Fixture::new(&format!("free-count-{i}"));
        let slab = f.slab(1);
        let count = slab.free_count.load(Ordering::Relaxed);
        slab.free_count
            .store(wrong.unwrap_or(count + 7), Ordering::Relaxed);
        assert_reported(&f);
        f.write_to(1, 1);
        let notes = f.repair_and_check();
        assert!(
            notes
                .iter()
                .any(|n| n.contains("rebuilt the slab's free list")),
            "{notes:?}"
        );
    }
}

#[test]
fn a_slot_naming_a_record_outside_its_shard_slab_is_dropped() {
    let _watchdog = watchdog(120);
    // A copy of the key's own record (valid key, tag and checksum) in the uncarved part of
    // the other shard's newest chunk: only its place tells it is not the shard's.
    let mut f = Fixture::new("slot-other-shard");
    let k = f.keys_in(0)[2];
    let slab = f.slab(1);
    let count = slab.chunk_count.load(Ordering::Relaxed);
    let carved = slab.carved.load(Ordering::Relaxed);
    let capacity = slab.first_capacity.load(Ordering::Relaxed) << (count - 1);
    assert!(carved + 2 < capacity, "no uncarved record in shard 1");
    let records = f.chunk_word(1, count - 1).load(Ordering::Relaxed) + CHUNK_HEADER_LEN;
    let spare = records + (carved + 1) * STRIDE;
    let mut record = [0u8; STRIDE as usize];
    f.t.read_bytes(f.rec_of(k), &mut record).unwrap();
    f.t.write_bytes(spare, &record).unwrap();
    f.slot_of(k).rec.store(spare, Ordering::Relaxed);
    f.victims.insert(k);
    assert_reported(&f);
    // An overwrite of the key unlinks the copy: it must not go onto shard 0's free list
    // (shard 1 carves that record later).
    f.map.set(&key(k), &val(k, 1)).unwrap();
    f.model.insert(k, val(k, 1));
    f.victims.remove(&k);
    f.insert_into(0, 20, 1);
    f.insert_into(1, 40, 1);
    f.write_to(0, 2);
    f.repair_and_check();

    // A copy of the key's record in another object: an overwrite of the key unlinks it, and
    // must leave it alone (it is no record of the slab: no free-list link goes into it).
    let mut f = Fixture::new("slot-foreign");
    let k = f.keys_in(1)[4];
    let rec = f.rec_of(k);
    let raw = f.raw_block(4096, 0x77, |f, raw| {
        let mut record = [0u8; STRIDE as usize];
        f.t.read_bytes(rec, &mut record).unwrap();
        f.t.write_bytes(raw + 1024, &record).unwrap();
    });
    f.slot_of(k).rec.store(raw + 1024, Ordering::Relaxed);
    f.victims.insert(k);
    assert_reported(&f);
    f.map.set(&key(k), &val(k, 1)).unwrap();
    f.model.insert(k, val(k, 1));
    f.victims.remove(&k);
    f.insert_into(1, 20, 1);
    f.repair_and_check();

    // A slot naming the place just past its shard's newest chunk.
    let mut f = Fixture::new("slot-past-chunk");
    let k = f.keys_in(0)[6];
    let slab = f.slab(0);
    let count = slab.chunk_count.load(Ordering::Relaxed);
    let capacity = slab.first_capacity.load(Ordering::Relaxed) << (count - 1);
    let records = f.chunk_word(0, count - 1).load(Ordering::Relaxed) + CHUNK_HEADER_LEN;
    let end = records + capacity * STRIDE;
    f.slot_of(k).rec.store(end, Ordering::Relaxed);
    f.victims.insert(k);
    assert_reported(&f);
    f.repair_and_check();

    // A slot naming a place inside one of its own shard's records.
    let mut f = Fixture::new("slot-inside");
    let k = f.keys_in(1)[5];
    let slot = f.slot_of(k);
    slot.rec
        .store(slot.rec.load(Ordering::Relaxed) + 8, Ordering::Relaxed);
    f.victims.insert(k);
    assert_reported(&f);
    f.write_to(1, 1);
    f.repair_and_check();
}

#[test]
fn a_destroyed_slab_header_is_replaced_and_other_shards_kept() {
    // Each field the header is checked by, damaged alone: the repair replaces the header
    // with an empty slab, the shard's entries are dropped (their records can no longer be
    // told from garbage) and reported; the other shard keeps all.
    let _watchdog = watchdog(120);
    type Damage = fn(&SlabHeader);
    let damages: [(&str, Damage); 7] = [
        ("magic", |h| h.magic.store(0, Ordering::Relaxed)),
        ("stride", |h| h.stride.store(16, Ordering::Relaxed)),
        ("first-odd", |h| {
            h.first_capacity.store(24, Ordering::Relaxed)
        }),
        ("first-small", |h| {
            h.first_capacity.store(8, Ordering::Relaxed)
        }),
        ("first-huge", |h| {
            h.first_capacity.store(1 << 40, Ordering::Relaxed)
        }),
        ("count", |h| h.chunk_count.store(41, Ordering::Relaxed)),
        ("count-huge", |h| {
            h.chunk_count.store(u64::MAX, Ordering::Relaxed)
        }),
    ];
    for (name, damage) in damages {
        let mut f = Fixture::new(&format!("slab-{name}"));
        damage(f.slab(0));
        f.victim_shard = Some(0);
        assert_reported(&f);
        // Every write that needs a record of shard 0 fails; removals succeed (their records
        // are left to the repair).
        f.write_to(0, 1);
        f.write_to(1, 1);
        let notes = f.repair_and_check();
        let replaced = notes
            .iter()
            .any(|n| n.contains("replaced a damaged record slab"));
        let dropped = notes
            .iter()
            .filter(|n| n.contains("dropped an invalid entry"))
            .count();
        assert!(replaced && dropped > 0, "{name}: {notes:?}");
    }
}

/// A fixture whose shard 0 has chunk `i` (the first, or the newest) set to `bad(fixture)`.
/// Victims: the keys whose records lie in the newest chunk, or every key of the shard when
/// the first chunk is bad (the repair drops the chunks from the first bad one on, also the
/// records writes took from the later ones after the damage).
fn with_bad_chunk(what: &str, newest: bool, bad: impl Fn(&mut Fixture) -> u64) -> Fixture {
    let mut f = Fixture::new(what);
    let count = f.slab(0).chunk_count.load(Ordering::Relaxed);
    assert!(count >= 2, "{what}: {count} chunks");
    let i = if newest { count - 1 } else { 0 };
    let old = f.chunk_word(0, i).load(Ordering::Relaxed);
    let len = (f.slab(0).first_capacity.load(Ordering::Relaxed) << i) * STRIDE;
    if newest {
        f.victims = f
            .keys_in(0)
            .into_iter()
            .filter(|&k| (old..old + len).contains(&f.rec_of(k)))
            .collect();
    } else {
        f.victim_shard = Some(0);
    }
    let bad = bad(&mut f);
    f.chunk_word(0, i).store(bad, Ordering::Relaxed);
    f
}

#[test]
fn a_chunk_offset_naming_no_block_of_the_map_writes_nothing_outside_it() {
    let _watchdog = watchdog(120);
    // Kinds of bad offsets: a misaligned one, bytes inside another object's block that
    // parse as a block header of a large class (but not an allocated block's), a block
    // that was freed, an allocated block too small for the chunk.
    type Bad = fn(&mut Fixture) -> u64;
    let misaligned: Bad = |_| 12_345;
    let header_lookalike: Bad = |f| {
        // Class 100 (a payload far larger than a chunk), tag neither used nor free.
        let raw = f.raw_block(8192, 0x5A, |f, raw| {
            f.t.write_bytes(raw + 64, &[100, 0, 0, 0, 0, 0, 0, 0])
                .unwrap();
        });
        raw + 64 + 16
    };
    let freed: Bad = |f| {
        let block = f.t.alloc(8192).unwrap();
        f.t.write_bytes(block, &[0xA5u8; 8192]).unwrap();
        f.t.free(block).unwrap();
        let mut bytes = vec![0u8; 8192];
        f.t.read_bytes(block, &mut bytes).unwrap();
        f.untouched = Some((block, bytes, false));
        block
    };
    let too_small: Bad = |f| {
        // Four blocks of 32 bytes, carved one after the other: the first named as a chunk,
        // the writes must not run past it into the others.
        let blocks: Vec<u64> = (0..4).map(|_| f.t.alloc(32).unwrap()).collect();
        assert!(blocks.windows(2).all(|w| w[1] == w[0] + 48), "{blocks:?}");
        for &b in &blocks {
            f.t.write_bytes(b, &[0x3Cu8; 32]).unwrap();
        }
        let mut bytes = vec![0u8; 4 * 48 - 16];
        f.t.read_bytes(blocks[0], &mut bytes).unwrap();
        f.untouched = Some((blocks[0], bytes, false));
        blocks[0]
    };
    for (name, bad) in [
        ("misaligned", misaligned),
        ("lookalike", header_lookalike),
        ("freed", freed),
        ("too-small", too_small),
    ] {
        for newest in [false, true] {
            let what = format!("chunk-{name}-{}", if newest { "newest" } else { "first" });
            let mut f = with_bad_chunk(&what, newest, bad);
            assert_reported(&f);
            f.write_to(0, 1);
            f.insert_into(0, 40, 2);
            f.repair_and_check();
        }
    }
}

#[test]
fn a_chunk_offset_naming_another_objects_block_writes_nothing_outside_the_map() {
    let _watchdog = watchdog(120);
    // The deque's ring block: allocated, and larger than any of the map's chunks.
    for newest in [false, true] {
        let what = format!("chunk-foreign-{}", if newest { "newest" } else { "first" });
        let mut f = with_bad_chunk(&what, newest, |f| {
            let mut blocks = Vec::new();
            SharedObject::owned_blocks(&f.queue, &mut |b| blocks.push(b)).unwrap();
            blocks
                .into_iter()
                .max_by_key(|&b| f.t.block_capacity(b).unwrap_or(0))
                .unwrap()
        });
        assert_reported(&f);
        f.write_to(0, 1);
        f.insert_into(0, 40, 2);
        f.repair_and_check();
    }
}

#[test]
fn a_chunk_offset_naming_another_chunk_is_damage() {
    let _watchdog = watchdog(120);
    // The first chunk named as a later, larger chunk of the same slab (a block of its size,
    // allocated, its header this slab's but another position's), or as the first chunk of the
    // other shard's slab. Taken as the first chunk, the later chunk's records would count
    // twice (the repair lists a free one twice), and the other shard's records would be
    // written by this shard's writes.
    type Bad = fn(&mut Fixture) -> u64;
    let second: Bad = |f| f.chunk_word(0, 1).load(Ordering::Relaxed);
    let third: Bad = |f| f.chunk_word(0, 2).load(Ordering::Relaxed);
    let other_slab: Bad = |f| f.chunk_word(1, 0).load(Ordering::Relaxed);
    for (name, bad) in [
        ("second", second),
        ("third", third),
        ("other-slab", other_slab),
    ] {
        let mut f = with_bad_chunk(&format!("chunk-another-{name}"), false, bad);
        assert_reported(&f);
        f.write_to(0, 1);
        f.insert_into(0, 40, 2);
        let notes = f.repair_and_check();
        assert!(
            notes
                .iter()
                .any(|n| n.contains("dropped slab chunks from 0")),
            "{name}: {notes:?}"
        );
    }
}

#[test]
fn a_damaged_carved_count_is_set_right() {
    let _watchdog = watchdog(120);
    // Too large: counted records that were never written go onto the free list.
    let mut f = Fixture::new("carved-large");
    let slab = f.slab(0);
    slab.carved.store(1 << 40, Ordering::Relaxed);
    assert_reported(&f);
    f.write_to(0, 1);
    f.repair_and_check();

    // Too small (below the highest live record of the newest chunk): the repair counts the
    // live records again, and keeps them. (No write before the repair: one that carves
    // would take a record that is still live, which a writer cannot tell.)
    let mut f = Fixture::new("carved-small");
    let slab = f.slab(0);
    assert!(slab.carved.load(Ordering::Relaxed) > 2);
    slab.carved.store(1, Ordering::Relaxed);
    assert_reported(&f);
    f.repair_and_check();
}

#[test]
fn impossible_sizes_in_the_root_are_corrupt_on_open() {
    // A key of 0 bytes, a record past the largest: `Corrupt`, from the map and from the
    // whole-store check; the sizes put back, the map opens with every entry.
    let _watchdog = watchdog(120);
    let f = Fixture::new("root-sizes");
    let root: &MapRoot = f.t.get(f.map.root_offset()).unwrap();
    for (key_len, value_len) in [(0, 8), (u32::MAX, 8), (8, u32::MAX), (1 << 20, 0)] {
        root.fixed_key_len.store(key_len, Ordering::Relaxed);
        root.fixed_value_len.store(value_len, Ordering::Relaxed);
        let what = format!("sizes {key_len}, {value_len}");
        let e = f.t.open_hash_map("m").unwrap_err();
        assert_corrupt(e, &what);
        let report = f.t.check();
        assert!(!report.is_clean(), "{what}: the store check saw nothing");
    }
    root.fixed_key_len.store(8, Ordering::Relaxed);
    root.fixed_value_len.store(8, Ordering::Relaxed);
    let map = f.t.open_hash_map("m").unwrap();
    for (k, v) in &f.model {
        assert_eq!(map.get(&key(*k)).unwrap().as_deref(), Some(&v[..]));
    }
    assert!(map.verify().unwrap().is_clean());
}
