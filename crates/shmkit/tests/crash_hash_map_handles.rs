//! Crash torture aimed at handle cells: a child gives keys handles, overwrites and removes
//! them through their handles and by key, and clears the map now and then, on one shard
//! of few keys (so cells are made live, freed, reused and their table grows all the time);
//! it is SIGKILLed hundreds of times, mostly while the shard's sequence is odd.
//!
//! After every kill: each key holds its finished version or the one in flight, `verify` is
//! clean, and every handle the parent ever saw reads its own key's current value or nothing
//! and names its own key or none, never another key (a cell made live again with a
//! generation an earlier handle had would show here). The repairs must have freed handle
//! cells a dead writer left live, or the kills did not reach the windows this is about.

mod common;

use common::{Exit, Rng, TestStore, fork_child, watchdog};
use shmkit::collections::hash_map::layout::{ROOT_LEN, SHARD_STRIDE, ShardHeader};
use shmkit::store::header::Line;
use shmkit::{HashMap, KeyHandle, StoreOptions};

const KEYS: u64 = 48;
const KILLS: u32 = 400;

// Progress log words.
const OPS: u64 = 0;
const VERSION: u64 = 1;
const FLAG: u64 = 2; // 0 idle, 1 write in flight, 2 remove in flight, 3 clear in flight
const IN_KEY: u64 = 3;
const IN_NEW: u64 = 4;
const STATE: u64 = 8; // STATE + k: finished version of key k (0 = absent)

type Log<'a> = common::ProgressLog<'a>;

fn key(k: u64) -> Vec<u8> {
    format!("handle-key-{k}").into_bytes()
}

/// Version `v` of key `k`: names the key, so a value read through a wrong handle shows.
fn val(k: u64, v: u64) -> Vec<u8> {
    let mut out = format!("{k}:{v}:").into_bytes();
    out.resize(out.len() + (v % 40) as usize, b'.');
    out
}

fn child(map: HashMap, log: Log<'_>, seed: u64) -> i32 {
    let mut rng = Rng::new(seed | 1);
    loop {
        let k = rng.below(KEYS);
        let cur = log.get(STATE + k);
        let choice = rng.below(100);
        let ok = if choice == 0 {
            log.set(FLAG, 3);
            let ok = map.clear().is_ok();
            for j in 0..KEYS {
                log.set(STATE + j, 0);
            }
            ok
        } else if choice < 45 && cur != 0 {
            log.set(IN_KEY, k);
            log.set(IN_NEW, 0);
            log.set(FLAG, 2);
            let ok = match choice % 3 {
                0 => map.delete(&key(k)).unwrap_or(false),
                _ => match map.handle(&key(k)) {
                    Ok(Some(h)) => map.remove_by_handle(h).unwrap_or(false),
                    _ => false,
                },
            };
            log.set(STATE + k, 0);
            ok
        } else {
            let v = log.get(VERSION) + 1;
            log.set(VERSION, v);
            log.set(IN_KEY, k);
            log.set(IN_NEW, v);
            log.set(FLAG, 1);
            let new = val(k, v);
            let ok = match choice % 4 {
                // A plain write: a new key has no handle until one is asked for.
                0 => map.set(&key(k), &new).is_ok(),
                1 if cur != 0 => match map.handle(&key(k)) {
                    Ok(Some(h)) => map.set_by_handle(h, &new).unwrap_or(false),
                    _ => false,
                },
                2 if cur != 0 => {
                    // A key that has no handle yet gets one here (a cell made live).
                    map.set(&key(k), &new).is_ok() && matches!(map.handle(&key(k)), Ok(Some(_)))
                }
                _ => map.set_with_handle(&key(k), &new).is_ok(),
            };
            log.set(STATE + k, v);
            ok
        };
        if !ok {
            return 3;
        }
        log.set(FLAG, 0);
        log.set(OPS, log.get(OPS) + 1);
    }
}

/// Settles the log to what the map holds after a kill, checking each key holds its
/// finished version or the one in flight.
fn settle(map: &HashMap, log: &Log<'_>, round: u32) {
    let flag = log.get(FLAG);
    for k in 0..KEYS {
        let mut allowed = vec![log.get(STATE + k)];
        if (flag == 1 || flag == 2) && log.get(IN_KEY) == k {
            allowed.push(log.get(IN_NEW));
        }
        if flag == 3 {
            allowed.push(0);
        }
        let found = map.get(&key(k)).unwrap();
        let v = allowed
            .iter()
            .copied()
            .find(|&v| match v {
                0 => found.is_none(),
                v => found.as_deref() == Some(&val(k, v)[..]),
            })
            .unwrap_or_else(|| {
                panic!("round {round}: key {k} holds {found:?}, allowed {allowed:?} (flag {flag})")
            });
        log.set(STATE + k, v);
    }
    log.set(FLAG, 0);
}

#[test]
fn writers_killed_inside_handle_cell_changes() {
    let _watchdog = watchdog(600);
    let t = TestStore::with(
        "crash-handles",
        &StoreOptions {
            reserve: 64 << 20,
            ..StoreOptions::default()
        },
    );
    let map = t.map(1);
    let log = Log::create(&t, STATE + KEYS);
    let shards_offset = (map.root_offset() + ROOT_LEN).next_multiple_of(SHARD_STRIDE);
    let shard = &t.get::<Line<ShardHeader>>(shards_offset).unwrap().0;
    let mut rng = Rng::new(0x4A4D_C311 ^ u64::from(std::process::id()));
    // Every handle the parent saw, with the key it was given for.
    let mut seen: Vec<(KeyHandle, u64)> = Vec::new();
    let mut cells_freed_by_repair = 0u32;
    for round in 0..KILLS {
        let start = log.get(OPS);
        let seed = rng.next();
        let mut child = {
            let map = map.clone();
            let store = t.clone();
            fork_child(move || child(map, log.through(&store), seed))
        };
        let target = start + rng.below(50);
        while log.get(OPS) < target {
            std::hint::spin_loop();
        }
        if rng.below(4) != 0 {
            // Inside a critical section, after a random number of spins into it.
            let give_up = log.get(OPS) + 2000;
            while log.get(OPS) < give_up && !shard.seq.is_writing() {
                std::hint::spin_loop();
            }
            for _ in 0..rng.below(200) {
                std::hint::spin_loop();
            }
        }
        child.kill();
        let exit = child.wait();
        assert_eq!(exit, Exit::Signal(libc::SIGKILL), "round {round}: {exit:?}");
        let report = map.verify().unwrap();
        if report
            .repaired
            .iter()
            .any(|n| n.contains("handle cells no key named"))
        {
            cells_freed_by_repair += 1;
        }
        assert!(report.is_clean(), "round {round}: {report:?}");
        settle(&map, &log, round);
        for &(h, k) in &seen {
            let current = map.get(&key(k)).unwrap();
            let read = map.get_by_handle(h).unwrap();
            if read.is_some() {
                assert_eq!(read, current, "round {round}: a handle of key {k}");
            }
            if let Some(named) = map.key_by_handle(h).unwrap() {
                assert_eq!(named, key(k), "round {round}: a handle of key {k}");
            }
        }
        // The handles of the present keys (some new, given by the parent).
        for k in 0..KEYS {
            if rng.below(3) == 0
                && let Some(h) = map.handle(&key(k)).unwrap()
                && !seen.contains(&(h, k))
            {
                seen.push((h, k));
            }
        }
        if seen.len() > 4000 {
            seen.drain(..1000);
        }
    }
    eprintln!(
        "{KILLS} kills: {cells_freed_by_repair} repairs freed handle cells, {} handles seen",
        seen.len()
    );
    assert!(
        cells_freed_by_repair >= KILLS / 80,
        "kills rarely left a handle cell live without its key ({cells_freed_by_repair})"
    );
    let store_report = t.repair_allocator().unwrap();
    assert!(store_report.is_clean(), "{store_report:?}");
}
