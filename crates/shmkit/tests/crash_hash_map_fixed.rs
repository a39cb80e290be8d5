//! Crash torture of a fixed-size map's slabs: a child writes a two-shard map of few keys
//! (sets, inserts, conditional writes, updates, counters, removals, batches of two and a
//! clear now and then), so records go onto the shards' free lists and are taken back
//! constantly; it is SIGKILLed hundreds of times, mostly while a shard's sequence is odd.
//!
//! After every kill: each key holds its finished value or the one in flight (values name
//! their key, so another key's record would show), `verify` is clean, and the slabs account
//! for every record, checked here from the layout and not through `verify`: each carved
//! record is named by exactly one live slot or is on the free list exactly once, and
//! `free_count` is the list's length (a record a kill left between being taken and being
//! published, or between being unlinked and being listed, would show). `stats` agree with
//! the slabs, and the whole-store check finds nothing unaccounted once the blocks the kills
//! left in flight (a new chunk or table) are swept. In every third round ordinary
//! operations meet the dead writer first and must leave nothing for `verify` to repair.
//! The repairs must have rebuilt free lists often, or the kills missed the windows this is
//! about.

mod common;

use common::{Exit, Rng, TestStore, fork_child, watchdog};
use shmkit::collections::hash_map::layout::{
    CHUNK_HEADER_LEN, LIVE_BIT, ROOT_LEN, SHARD_STRIDE, SLAB_BLOCK_LEN, ShardHeader, SlabHeader,
    Slot, TableHeader, slot_offset,
};
use shmkit::store::header::Line;
use shmkit::{HashMap, StoreOptions, UpdateAction};
use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};

const KEYS: u64 = 40;
const SHARDS: u64 = 2;
const KILLS: u32 = 400;
/// Bytes of a record of 8-byte keys and values: reserved word, checksum, key, value.
const STRIDE: u64 = 24;

// Progress log words.
const OPS: u64 = 0;
const VERSION: u64 = 1;
const FLAG: u64 = 2; // 0 idle, 1 writes in flight, 3 clear in flight
const IN_N: u64 = 3; // keys in flight (1 or 2)
const IN_KEY: u64 = 4; // IN_KEY + 2 * i: key i in flight, IN_KEY + 2 * i + 1: its new value
const STATE: u64 = 8; // STATE + k: the value key k holds (0 = absent)

type Log<'a> = common::ProgressLog<'a>;

fn key(k: u64) -> [u8; 8] {
    (0x4B45_5900_0000_0000 | k).to_le_bytes()
}

/// Version `v` of key `k` (never 0): the key's number in the high bits, so a record of
/// another key read for this one shows.
fn val(k: u64, v: u64) -> u64 {
    ((k + 1) << 40) | v
}

fn decode(value: Option<Vec<u8>>) -> u64 {
    value.map_or(0, |v| {
        u64::from_le_bytes(v.try_into().expect("8-byte value"))
    })
}

fn child(map: HashMap, log: Log<'_>, seed: u64) -> i32 {
    let mut rng = Rng::new(seed | 1);
    loop {
        let k = rng.below(KEYS);
        let k2 = (k + 1 + rng.below(KEYS - 1)) % KEYS;
        let (cur, cur2) = (log.get(STATE + k), log.get(STATE + k2));
        let opt = |v: u64| (v != 0).then(|| v.to_le_bytes());
        let choice = rng.below(100);
        let ok = if choice == 0 {
            log.set(FLAG, 3);
            let ok = map.clear().is_ok();
            for j in 0..KEYS {
                log.set(STATE + j, 0);
            }
            ok
        } else if choice < 40 {
            log.set(IN_N, 2);
            log.set(IN_KEY, k);
            log.set(IN_KEY + 1, 0);
            log.set(IN_KEY + 2, k2);
            log.set(IN_KEY + 3, if choice % 5 == 4 { 0 } else { cur2 });
            log.set(FLAG, 1);
            let ok = match choice % 5 {
                0 => map.delete(&key(k)).is_ok_and(|had| had == (cur != 0)),
                1 => map.remove(&key(k)).is_ok_and(|old| decode(old) == cur),
                2 => map
                    .update(&key(k), |_| UpdateAction::Remove)
                    .is_ok_and(|v| v.is_none()),
                3 => map
                    .compare_and_set(&key(k), opt(cur).as_ref().map(|v| &v[..]), None)
                    .unwrap_or(false),
                _ => map
                    .remove_many(&[key(k), key(k2)])
                    .is_ok_and(|n| n == u64::from(cur != 0) + u64::from(cur2 != 0)),
            };
            log.set(STATE + k, 0);
            if choice % 5 == 4 {
                log.set(STATE + k2, 0);
            }
            ok
        } else {
            let v = log.get(VERSION) + 1;
            log.set(VERSION, v);
            let new = match choice % 7 {
                // A counter: the value in place, one more.
                6 if cur != 0 => cur + 1,
                _ => val(k, v),
            };
            let new2 = if choice % 7 == 5 { val(k2, v) } else { cur2 };
            log.set(IN_N, 2);
            log.set(IN_KEY, k);
            log.set(IN_KEY + 1, new);
            log.set(IN_KEY + 2, k2);
            log.set(IN_KEY + 3, new2);
            log.set(FLAG, 1);
            let bytes = new.to_le_bytes();
            let ok = match choice % 7 {
                0 => map.set(&key(k), &bytes).is_ok(),
                1 => map
                    .insert(&key(k), &bytes)
                    .is_ok_and(|old| decode(old) == cur),
                2 => map
                    .update(&key(k), |_| UpdateAction::Set(bytes.to_vec()))
                    .is_ok(),
                3 => map
                    .compare_and_set(&key(k), opt(cur).as_ref().map(|v| &v[..]), Some(&bytes))
                    .unwrap_or(false),
                4 if cur == 0 => map.insert_if_absent(&key(k), &bytes).unwrap_or(false),
                5 => map
                    .set_many(&[(key(k), bytes), (key(k2), new2.to_le_bytes())])
                    .is_ok(),
                6 if cur != 0 => map.incr_i64(&key(k), 1).is_ok_and(|n| n as u64 == new),
                _ => map.set(&key(k), &bytes).is_ok(),
            };
            log.set(STATE + k, new);
            log.set(STATE + k2, new2);
            ok
        };
        if !ok {
            return 3;
        }
        log.set(FLAG, 0);
        log.set(OPS, log.get(OPS) + 1);
    }
}

/// Checks that every key holds its finished value or the one in flight, then settles the
/// log to what the map holds. Returns the keys present.
fn settle(map: &HashMap, log: &Log<'_>, round: u32) -> u64 {
    let flag = log.get(FLAG);
    let in_flight: Vec<(u64, u64)> = (0..log.get(IN_N))
        .map(|i| (log.get(IN_KEY + 2 * i), log.get(IN_KEY + 2 * i + 1)))
        .collect();
    let mut present = 0;
    for k in 0..KEYS {
        let mut allowed = vec![log.get(STATE + k)];
        if flag == 1 {
            allowed.extend(in_flight.iter().filter(|f| f.0 == k).map(|f| f.1));
        }
        if flag == 3 {
            allowed.push(0);
        }
        let found = decode(map.get(&key(k)).unwrap());
        assert!(
            allowed.contains(&found),
            "round {round}: key {k} holds {found:#x}, allowed {allowed:x?} (flag {flag})"
        );
        log.set(STATE + k, found);
        present += u64::from(found != 0);
    }
    log.set(FLAG, 0);
    present
}

/// Accounts for every record of `shard`'s slab from the layout alone: each carved record is
/// live (named by one live slot) or free (on the list once), never both and never neither,
/// and `free_count` is the list's length. Returns the slab's bytes (as `stats` counts them).
fn account_slab(t: &TestStore, shard: &ShardHeader, round: u32, index: u64) -> u64 {
    let what = format!("round {round}, shard {index}");
    let slab: &SlabHeader = t.get(shard.slab.load(Ordering::Relaxed)).unwrap();
    let first = slab.first_capacity.load(Ordering::Relaxed);
    let count = slab.chunk_count.load(Ordering::Relaxed);
    let carved = slab.carved.load(Ordering::Relaxed);
    let chunks_at = shard.slab.load(Ordering::Relaxed) + 64;
    let mut records = HashSet::new();
    let mut bytes = SLAB_BLOCK_LEN;
    for i in 0..count {
        let chunk = t.get::<AtomicU64>(chunks_at + 8 * i).unwrap();
        let chunk = chunk.load(Ordering::Relaxed);
        let capacity = first << i;
        bytes += CHUNK_HEADER_LEN + capacity * STRIDE;
        let used = if i + 1 == count { carved } else { capacity };
        assert!(used <= capacity, "{what}: {used} carved of {capacity}");
        records.extend((0..used).map(|r| chunk + CHUNK_HEADER_LEN + r * STRIDE));
    }
    let mut live = HashSet::new();
    for table in [&shard.table, &shard.old_table] {
        let table = table.load(Ordering::Relaxed);
        if table == 0 {
            continue;
        }
        let buckets = t
            .get::<TableHeader>(table)
            .unwrap()
            .buckets
            .load(Ordering::Relaxed);
        for i in 0..buckets {
            let slot: &Slot = t.get(slot_offset(table, i)).unwrap();
            if slot.tag.load(Ordering::Relaxed) & LIVE_BIT != 0 {
                live.insert(slot.rec.load(Ordering::Relaxed));
            }
        }
    }
    assert_eq!(
        live.len() as u64,
        shard.len.load(Ordering::Relaxed),
        "{what}"
    );
    let mut free = HashSet::new();
    let mut rec = slab.free_head.load(Ordering::Relaxed);
    while rec != 0 {
        assert!(
            records.contains(&rec),
            "{what}: free record {rec} not carved"
        );
        assert!(
            !live.contains(&rec),
            "{what}: live record {rec} on the free list"
        );
        assert!(free.insert(rec), "{what}: free record {rec} listed twice");
        rec = t.get::<AtomicU64>(rec).unwrap().load(Ordering::Relaxed);
    }
    assert_eq!(
        slab.free_count.load(Ordering::Relaxed),
        free.len() as u64,
        "{what}: free_count"
    );
    let lost: Vec<_> = records
        .difference(&live)
        .filter(|r| !free.contains(r))
        .collect();
    assert!(
        lost.is_empty(),
        "{what}: records neither live nor free: {lost:?}"
    );
    assert!(live.is_subset(&records), "{what}: a live record not carved");
    bytes
}

#[test]
fn writers_killed_while_taking_and_giving_back_slab_records() {
    let _watchdog = watchdog(600);
    let t = TestStore::with(
        "crash-fixed",
        &StoreOptions {
            reserve: 64 << 20,
            ..StoreOptions::default()
        },
    );
    let options = common::fixed_options(SHARDS as u32, 8, 8);
    let map = t.hash_map_with("m", &options).unwrap();
    // The log in a store of its own: the map's store holds nothing the leak analysis
    // cannot account for.
    let log_store = TestStore::new("crash-fixed-log");
    let log = Log::create(&log_store, STATE + KEYS);
    let shards_offset = (map.root_offset() + ROOT_LEN).next_multiple_of(SHARD_STRIDE);
    let shards: Vec<&ShardHeader> = (0..SHARDS)
        .map(|i| {
            &t.get::<Line<ShardHeader>>(shards_offset + i * SHARD_STRIDE)
                .unwrap()
                .0
        })
        .collect();
    // Keys never written: removing them takes every shard's lock (and so recovers it).
    let absent: Vec<[u8; 8]> = (0..64u64)
        .map(|i| (0xAB5E_0000 + i).to_le_bytes())
        .collect();
    let mut rng = Rng::new(0xF1ED_5EED ^ u64::from(std::process::id()));
    let (mut rebuilt, mut recovered, mut leaked) = (0u32, 0u32, 0u64);
    for round in 0..KILLS {
        let start = log.get(OPS);
        let seed = rng.next();
        let mut child = {
            let map = map.clone();
            let store = log_store.clone();
            fork_child(move || child(map, log.through(&store), seed))
        };
        // Spins until `done` (false if the child ended first: it found a wrong answer).
        let mut ended = None;
        let mut spin_until = |done: &mut dyn FnMut() -> bool| {
            for i in 0u64.. {
                if done() {
                    return;
                }
                if i % 4096 == 0 && ended.is_none() {
                    ended = child.try_wait(std::time::Duration::ZERO);
                }
                if ended.is_some() {
                    return;
                }
                std::hint::spin_loop();
            }
        };
        let target = start + rng.below(40);
        spin_until(&mut || log.get(OPS) >= target);
        if rng.below(4) != 0 {
            // Inside a critical section, after a random number of spins into it.
            let give_up = log.get(OPS) + 2000;
            spin_until(&mut || {
                log.get(OPS) >= give_up || shards.iter().any(|s| s.seq.is_writing())
            });
            for _ in 0..rng.below(300) {
                std::hint::spin_loop();
            }
        }
        let exit = ended.unwrap_or_else(|| {
            child.kill();
            child.wait()
        });
        assert_eq!(exit, Exit::Signal(libc::SIGKILL), "round {round}: {exit:?}");
        let present = if round % 3 == 2 {
            // Ordinary operations meet the dead writer: reads (which take the lock over
            // when the sequence was left odd), then a write to every shard.
            let present = settle(&map, &log, round);
            assert_eq!(map.remove_many(&absent).unwrap(), 0);
            let report = map.verify().unwrap();
            assert!(report.is_clean(), "round {round}: {report:?}");
            assert!(
                report.repaired.is_empty(),
                "round {round}: ordinary operations left repairs: {report:?}"
            );
            present
        } else {
            let report = map.verify().unwrap();
            assert!(report.is_clean(), "round {round}: {report:?}");
            if !report.repaired.is_empty() {
                recovered += 1;
            }
            if report
                .repaired
                .iter()
                .any(|n| n.contains("rebuilt the slab's free list"))
            {
                rebuilt += 1;
            }
            settle(&map, &log, round)
        };
        let slab_bytes: u64 = shards
            .iter()
            .enumerate()
            .map(|(i, s)| account_slab(&t, s, round, i as u64))
            .sum();
        let stats = map.stats().unwrap();
        assert_eq!(stats.entries, present, "round {round}");
        assert_eq!(stats.slab_bytes, slab_bytes, "round {round}");
        // The store: nothing unaccounted once what a kill can leave to the store's repair
        // is repaired (an allocator lock held by the dead child; a chunk or table allocated
        // and not yet published, blocks a clear had unlinked: swept as leaks).
        let check = t.check();
        let unreachable = check.leaks.as_ref().expect("leak analysis ran");
        assert!(unreachable.complete, "round {round}: {unreachable:?}");
        leaked += unreachable.unreachable.len() as u64;
        if !check.is_clean() {
            let repair = t.repair();
            assert!(repair.after.is_clean(), "round {round}: {repair:?}");
        }
        let check = t.check();
        assert!(check.is_clean(), "round {round}: {:#?}", check.findings);
        assert!(
            check
                .leaks
                .as_ref()
                .is_some_and(|l| l.unreachable.is_empty()),
            "round {round}"
        );
    }
    eprintln!(
        "{KILLS} kills: {recovered} recovered by verify, {rebuilt} rebuilt a free list, \
         {leaked} blocks swept"
    );
    assert!(
        rebuilt >= KILLS / 80,
        "kills rarely left a slab record neither live nor free ({rebuilt})"
    );
}
