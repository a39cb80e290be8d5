//! Crash torture: a child process writes to a map in a loop and is SIGKILLed at random
//! moments, hundreds of times. After every kill the parent checks the map against the
//! child's own progress log (kept in the same store): every write the child finished is
//! there, the one in flight is all-or-nothing, no value is torn, `verify()` is clean.
//!
//! The map has 2 shards starting at the smallest table and the child clears it now and then,
//! so shards are growing (migrating) at many of the kills; the test counts those.
//!
//! Keys also get stable handles (the child writes and removes through them; the parent gives
//! every even key one at each check), so kills land while cells are made live, freed, and
//! their tables grow; after each kill every handle the parent holds reads its own key's
//! current value or, if the key was removed meanwhile, nothing.

mod common;

use common::{Exit, Rng, TestStore, fork_child, wait_until, watchdog};
use shmkit::collections::hash_map::layout::{
    MapRoot, ROOT_LEN, SHARD_STRIDE, ShardHeader, TableHeader,
};
use shmkit::store::header::Line;
use shmkit::store::registry::split_owner_id;
use shmkit::{HashMap, KeyHandle, Store, UpdateAction};
use std::sync::atomic::Ordering;
use std::time::Duration;

const KEYS: u64 = 2000;
const KILLS: u32 = 500;

// Progress log words.
const OPS: u64 = 0;
const VERSION: u64 = 1;
const FLAG: u64 = 2; // 0 idle, 1 write in flight, 2 remove in flight, 3 clear in flight
const IN_KEY: u64 = 3;
const IN_NEW: u64 = 4;
const STATE: u64 = 8; // STATE + k: finished version of key k (0 = absent)

type Log<'a> = common::ProgressLog<'a>;

fn key(k: u64) -> Vec<u8> {
    let mut out = b"key-".to_vec();
    out.extend_from_slice(&k.to_le_bytes());
    out.resize(12 + (k % 13) as usize, b'x');
    out
}

/// The value of version `v` of key `k` (lengths 0..90, including 8).
fn val(k: u64, v: u64) -> Vec<u8> {
    let len = ((v * 13 + k) % 90) as usize;
    let mut out: Vec<u8> = (0..len)
        .map(|i| (v as u8).wrapping_mul(31) ^ (i as u8) ^ (k as u8))
        .collect();
    if len >= 8 {
        out[..8].copy_from_slice(&v.to_le_bytes());
    }
    out
}

fn child(map: HashMap, log: Log<'_>, seed: u64) -> i32 {
    // After a round the parent did not check, the previous child's last operation is still
    // open in the log: settle it (this also exercises recovery by a plain reader/writer).
    if settle(&map, &log, false).is_err() {
        return 5;
    }
    let mut rng = Rng::new(seed | 1);
    loop {
        let k = rng.below(KEYS);
        let cur = log.get(STATE + k);
        let cur_val = (cur != 0).then(|| val(k, cur));
        let choice = rng.below(1000);
        if choice < 2 {
            log.set(FLAG, 3);
            if map.clear().is_err() {
                return 2;
            }
            for j in 0..KEYS {
                log.set(STATE + j, 0);
            }
        } else if choice < 350 {
            log.set(IN_KEY, k);
            log.set(IN_NEW, 0);
            log.set(FLAG, 2);
            let ok = match choice % 5 {
                4 if cur_val.is_some() => match map.handle(&key(k)) {
                    Ok(Some(h)) => map.remove_by_handle(h),
                    Ok(None) => Ok(false),
                    Err(e) => Err(e),
                },
                0 | 4 => map
                    .delete(&key(k))
                    .map(|present| present == cur_val.is_some()),
                1 => map.remove(&key(k)).map(|old| old == cur_val),
                2 => map
                    .update(&key(k), |_| UpdateAction::Remove)
                    .map(|v| v.is_none()),
                _ => map.compare_and_set(&key(k), cur_val.as_deref(), None),
            };
            if !matches!(ok, Ok(true)) {
                return 3;
            }
            log.set(STATE + k, 0);
        } else {
            let v = log.get(VERSION) + 1;
            log.set(VERSION, v);
            let new = val(k, v);
            log.set(IN_KEY, k);
            log.set(IN_NEW, v);
            log.set(FLAG, 1);
            let ok = match choice % 7 {
                5 => map.set_with_handle(&key(k), &new).map(|_| true),
                6 if cur_val.is_some() => match map.handle(&key(k)) {
                    Ok(Some(h)) => map.set_by_handle(h, &new),
                    Ok(None) => Ok(false),
                    Err(e) => Err(e),
                },
                6 => map
                    .insert_if_absent_with_handle(&key(k), &new)
                    .map(|(_, inserted)| inserted),
                0 => map.set(&key(k), &new).map(|()| true),
                1 => map.insert(&key(k), &new).map(|old| old == cur_val),
                2 => map
                    .update(&key(k), |_| UpdateAction::Set(new.clone()))
                    .map(|v| v.is_some()),
                3 => map.compare_and_set(&key(k), cur_val.as_deref(), Some(&new)),
                _ => {
                    if cur_val.is_none() {
                        map.insert_if_absent(&key(k), &new)
                    } else {
                        map.set(&key(k), &new).map(|()| true)
                    }
                }
            };
            if !matches!(ok, Ok(true)) {
                return 4;
            }
            log.set(STATE + k, v);
        }
        log.set(FLAG, 0);
        log.set(OPS, log.get(OPS) + 1);
    }
}

/// The version of key `k` the map holds, if the log allows it: the finished version, or the
/// in-flight one (a write, a removal, or a clear).
fn settle_key(map: &HashMap, log: &Log<'_>, k: u64, buf: &mut Vec<u8>) -> Result<u64, String> {
    let flag = log.get(FLAG);
    let mut allowed = vec![log.get(STATE + k)];
    if (flag == 1 || flag == 2) && log.get(IN_KEY) == k {
        allowed.push(log.get(IN_NEW));
    }
    if flag == 3 {
        allowed.push(0);
    }
    let found = map.get_into(&key(k), buf).map_err(|e| e.to_string())?;
    allowed
        .iter()
        .copied()
        .find(|&v| match v {
            0 => !found,
            v => found && *buf == val(k, v),
        })
        .ok_or_else(|| {
            format!(
                "key {k}: found {:?} ({} bytes), allowed versions {allowed:?} (flag {flag})",
                found.then(|| buf.clone()),
                buf.len()
            )
        })
}

/// Brings the log up to date with the map after a kill (the operation in flight either
/// happened or not). Checks every key if `all`, else only those the kill could affect.
fn settle(map: &HashMap, log: &Log<'_>, all: bool) -> Result<u64, String> {
    let flag = log.get(FLAG);
    let keys: Vec<u64> = if all || flag == 3 {
        (0..KEYS).collect()
    } else if flag != 0 {
        vec![log.get(IN_KEY)]
    } else {
        Vec::new()
    };
    let mut buf = Vec::new();
    for k in keys {
        let v = settle_key(map, log, k, &mut buf)?;
        log.set(STATE + k, v);
    }
    log.set(FLAG, 0);
    Ok((0..KEYS).filter(|&k| log.get(STATE + k) != 0).count() as u64)
}

/// Checks the map against the log after a kill, then settles the log to what the map holds.
/// Every handle in `handles` (the parent's, from earlier checks) reads its key's value or, if
/// the key went away since, nothing; then every present even key gets its handle (new or
/// the same).
fn check(map: &HashMap, log: &Log<'_>, round: u32, handles: &mut [Option<KeyHandle>]) {
    let present = settle(map, log, true).unwrap_or_else(|e| panic!("round {round}: {e}"));
    for k in 0..KEYS {
        let now = log.get(STATE + k);
        if let Some(h) = handles[k as usize] {
            let read = map.get_by_handle(h).unwrap();
            let current = (now != 0).then(|| val(k, now));
            assert!(
                read.is_none() || read == current,
                "round {round}: the handle of key {k} read {read:?}, the key holds {current:?}"
            );
            if now == 0 {
                assert_eq!(read, None, "round {round}: handle of removed key {k}");
            }
            if read.is_none() {
                handles[k as usize] = None;
            }
        }
        if k % 2 == 0 && now != 0 {
            let h = map
                .handle(&key(k))
                .unwrap()
                .expect("a present key has a handle");
            if let Some(old) = handles[k as usize] {
                assert_eq!(old, h, "round {round}: key {k} changed its handle");
            }
            assert_eq!(map.get_by_handle(h).unwrap(), Some(val(k, now)));
            handles[k as usize] = Some(h);
        }
    }
    let report = map.verify().unwrap();
    assert!(report.is_clean(), "round {round}: {report:?}");
    assert_eq!(report.entries, present, "round {round}: {report:?}");
    assert_eq!(map.len(), present, "round {round}");
    assert_eq!(map.iter().count() as u64, present, "round {round}");
}

#[test]
fn writer_killed_at_random_moments() {
    let _watchdog = watchdog(600);
    let t = TestStore::new("crash-map");
    let map = t.map(2);
    let log = Log::create(&t, STATE + KEYS);
    let shards_offset = (map.root_offset() + ROOT_LEN).next_multiple_of(SHARD_STRIDE);
    let shards: Vec<&Line<ShardHeader>> = (0..2)
        .map(|i| {
            t.get::<Line<ShardHeader>>(shards_offset + i * SHARD_STRIDE)
                .unwrap()
        })
        .collect();
    let mut rng = Rng::new(0xC0FF_EE00 ^ u64::from(std::process::id()));
    let (mut growing_at_kill, mut repaired, mut clear_kills) = (0u32, 0u32, 0u64);
    let mut handles = vec![None; KEYS as usize];
    let mut handles_at_kill = 0u64;
    for round in 0..KILLS {
        let start = log.get(OPS);
        let seed = rng.next();
        let mut child = {
            let map = map.clone();
            let store = t.clone();
            fork_child(move || child(map, log.through(&store), seed))
        };
        // Three kinds of moments: after a random number of finished operations; while a
        // shard is migrating to a bigger table; right after the fork (during attach).
        match rng.below(4) {
            0 => {
                let target = start + rng.below(120);
                while log.get(OPS) < target {
                    std::hint::spin_loop();
                }
            }
            1 => {
                let give_up = start + 3000;
                while log.get(OPS) < give_up && map.stats().unwrap().resizing_shards == 0 {
                    std::hint::spin_loop();
                }
                child.kill(); // at once: a migration lasts only a few writes
            }
            2 => {
                // Inside a critical section: a shard's sequence is odd.
                let give_up = start + 3000;
                while log.get(OPS) < give_up && !shards.iter().any(|s| s.0.seq.is_writing()) {
                    std::hint::spin_loop();
                }
                child.kill();
            }
            _ => {}
        }
        for _ in 0..rng.below(5_000) {
            std::hint::spin_loop();
        }
        child.kill();
        let exit = child.wait();
        assert_eq!(
            exit,
            Exit::Signal(libc::SIGKILL),
            "round {round}: child failed with {exit:?}"
        );
        if log.get(FLAG) == 3 {
            clear_kills += 1;
        }
        let stats = map.stats().unwrap();
        if stats.resizing_shards > 0 {
            growing_at_kill += 1;
        }
        handles_at_kill += stats.handles;
        // Every third round the parent checks nothing: the next child meets the dead
        // writer's leftovers through ordinary reads and writes, which must recover them.
        if round % 3 == 1 {
            continue;
        }
        // Recovery happens in whichever call first takes a dead writer's lock.
        let pre = map.verify().unwrap();
        if !pre.repaired.is_empty() {
            repaired += 1;
        }
        check(&map, &log, round, &mut handles);
    }
    eprintln!(
        "{KILLS} kills: {growing_at_kill} while a shard was migrating, {repaired} inside a critical section, {} keys with handles on average",
        handles_at_kill / u64::from(KILLS)
    );
    assert!(
        handles_at_kill >= u64::from(KILLS) * KEYS / 50,
        "few keys had handles ({handles_at_kill} over all kills)"
    );
    assert!(
        growing_at_kill >= KILLS / 10,
        "kills rarely hit a growing shard ({growing_at_kill})"
    );
    assert!(
        repaired >= KILLS / 15,
        "kills rarely hit a critical section ({repaired})"
    );
    let store_report = t.repair_allocator().unwrap();
    assert!(store_report.is_clean(), "{store_report:?}");
    // What the kills leaked is bounded by what was in flight: at most a new record, an old
    // record (or table) awaiting its free, and a new table per kill; a kill inside clear()
    // may also leak the records of the shard it had just emptied (freed after unlinking).
    let mut owned = 0u64;
    map.owned_blocks(&mut |_| owned += 1).unwrap();
    let leaked = store_report.used_blocks - owned - 2; // - directory page, progress log
    eprintln!("{leaked} blocks leaked by {KILLS} kills ({clear_kills} inside clear)");
    let bound = 3 * u64::from(KILLS) + clear_kills * (KEYS + 2);
    assert!(
        leaked <= bound,
        "{leaked} blocks leaked ({clear_kills} kills inside clear)"
    );
}

/// Buckets of the table at `offset`.
fn buckets_of(store: &Store, offset: u64) -> u64 {
    store
        .get::<TableHeader>(offset)
        .unwrap()
        .buckets
        .load(Ordering::Relaxed)
}

#[test]
fn reader_recovers_a_shard_left_mid_write() {
    // A writer killed inside its critical section leaves the shard locked and its sequence
    // odd. A plain get() then cannot validate an optimistic read: it must take the lock over
    // from the dead writer, repair the shard, make its sequence even again, and answer from
    // the repaired shard.
    //
    // The writer is clear() on a shard that has just started migrating a big table: clear
    // first moves every remaining position of the old table, all in one odd window (many
    // milliseconds), so the parent, polling the shard's sequence, kills it inside that
    // window. A kill that lands elsewhere (the machine was busy) is retried.
    let _watchdog = watchdog(300);
    let t = TestStore::new("crash-map-reader");
    let map = t.map(1);
    let root = t.get::<MapRoot>(map.root_offset()).unwrap();
    let shard = &t
        .get::<Line<ShardHeader>>(root.shards_offset.load(Ordering::Relaxed))
        .unwrap()
        .0;
    let value = |k: u64| val(k, 7 + k % 50);
    const ATTEMPTS: u32 = 20;
    let mut landed = None;
    for attempt in 0..ATTEMPTS {
        // Fill until a shard of at least 2^16 buckets starts to migrate (3/4 of them live).
        let mut n = 0u64;
        loop {
            map.set(&key(n), &value(n)).unwrap();
            n += 1;
            let old = shard.old_table.load(Ordering::Acquire);
            if old != 0 && buckets_of(&t, old) >= 1 << 16 {
                break;
            }
        }
        let table_before = shard.table.load(Ordering::Acquire);
        let mut child = {
            let map = map.clone();
            fork_child(move || if map.clear().is_ok() { 0 } else { 1 })
        };
        // Kill the child as soon as it is inside the odd window (it holds the only lock a
        // writer of this shard can hold, and nobody else writes).
        let child_pid = child.pid;
        let mut ended = None;
        assert!(
            wait_until(Duration::from_secs(60), || {
                ended = child.try_wait(Duration::ZERO);
                shard.seq.is_writing() || ended.is_some()
            }),
            "attempt {attempt}: clear() never started"
        );
        let exit = ended.unwrap_or_else(|| child.kill_and_wait());
        // Did the kill land inside the odd window, before the emptied table was published
        // (during the migration, or while clear() collected the records to free)?
        let mid_write = exit == Exit::Signal(libc::SIGKILL)
            && shard.seq.is_writing()
            && shard.table.load(Ordering::Acquire) == table_before;
        if mid_write {
            landed = Some((attempt, n, child_pid));
            break;
        }
        eprintln!(
            "attempt {attempt}: the kill missed the window ({exit:?}, odd {}, old table {}, \
             table switched {}); again",
            shard.seq.is_writing(),
            shard.old_table.load(Ordering::Acquire),
            shard.table.load(Ordering::Acquire) != table_before
        );
        // Bring the map back to a known state (empty) for the next attempt.
        map.clear().unwrap();
        assert!(map.is_empty());
    }
    let (attempt, n, child_pid) =
        landed.unwrap_or_else(|| panic!("no kill inside clear()'s odd window in {ATTEMPTS} tries"));
    eprintln!(
        "attempt {attempt}: killed mid-write with {n} keys (migration unfinished: {})",
        shard.old_table.load(Ordering::Acquire) != 0
    );

    // The dead child left the shard locked, its sequence odd.
    assert!(shard.seq.is_writing());
    let owner = shard.lock.owner().expect("the shard lock is held");
    assert_ne!(owner, t.owner_id(), "the parent holds no lock");
    let (slot, generation) = split_owner_id(owner);
    let entry = t.registry_slot(slot).unwrap();
    assert_eq!(
        (
            entry.pid.load(Ordering::Relaxed),
            entry.generation.load(Ordering::Relaxed)
        ),
        (child_pid as u32, generation),
        "the lock's owner is the dead child"
    );
    // No optimistic read can validate while the sequence is odd.
    let mut buf = Vec::new();
    assert_eq!(map.try_get_into_lock_free(&key(0), &mut buf).unwrap(), None);

    // A plain get() answers: it took the lock over and repaired the shard.
    assert_eq!(map.get(&key(0)).unwrap(), Some(value(0)));
    assert!(!shard.seq.is_writing(), "the sequence is even again");
    assert_eq!(shard.lock.owner(), None, "the lock was released");
    assert!(
        !shard.lock.needs_repair(),
        "the shard was marked consistent"
    );

    // Nothing was lost (the clear never happened), also through lock-free reads now.
    for k in 0..n {
        assert!(map.get_into(&key(k), &mut buf).unwrap(), "key {k} missing");
        assert_eq!(buf, value(k), "key {k}");
    }
    assert_eq!(map.len(), n);
    let report = map.verify().unwrap();
    assert!(report.is_clean(), "{report:?}");
    assert_eq!(report.entries, n);
    assert!(t.verify_allocator().unwrap().is_clean());
}
