//! Crash torture for counters, the one value rewritten in place: a child increments a few
//! counters (`incr_i64`) in a loop and is SIGKILLed at random moments, many of them while
//! an increment is in flight (its shard's sequence odd, its counter intent set). After every
//! kill each counter must read back (never as `MapError::Corrupt`, the checksum resealed
//! whatever instruction the writer died at) with its logged count, or one more for the
//! increment in flight, and `verify()` must be clean.
//!
//! The narrowest window, between the store of the new value and the store of its checksum,
//! is hit on purpose: the parent freezes the child with SIGSTOP at random moments, looks at
//! the shared memory, and kills the frozen child only when a counter's value no longer
//! matches its checksum (resuming it with SIGCONT otherwise). Those kills are counted and
//! asserted, so the repair that reseals such a counter is exercised by real kills.
//!
//! Recovery is exercised three ways in turn: a plain `get` (which falls back to the lock and
//! takes it over), `verify`, and the next child's own operations.

mod common;

use common::{Child, Exit, Rng, TestStore, fork_child, wait_until, watchdog};
use shmkit::collections::hash_map::layout::{
    RECORD_HEADER_LEN, ROOT_LEN, RecordHeader, SHARD_STRIDE, ShardHeader, Slot, TableHeader,
    is_live, key_hash, record_checksum, slot_offset, value_offset,
};
use shmkit::store::header::Line;
use shmkit::{HashMap, Store};
use std::sync::atomic::Ordering;
use std::time::Duration;

const COUNTERS: u64 = 8;
const KILLS: u32 = 400;

// Progress log words (in the same store, so they survive the child).
const OPS: u64 = 0;
const FLAG: u64 = 1; // 1 while an increment is in flight
const IN_KEY: u64 = 2;
const STATE: u64 = 4; // STATE + k: finished count of counter k

type Log<'a> = common::ProgressLog<'a>;

/// Key of counter `k`: lengths 1 to 12, so values sit at different offsets.
fn key(k: u64) -> Vec<u8> {
    vec![b'a' + k as u8; 1 + (k as usize * 3) % 12]
}

/// The count counter `k` holds, if the log allows it (the finished count, or one more if
/// the kill came during its increment). Never accepts an error.
fn settle_key(map: &HashMap, log: &Log<'_>, k: u64) -> Result<u64, String> {
    let done = log.get(STATE + k);
    let in_flight = log.get(FLAG) == 1 && log.get(IN_KEY) == k;
    let value = match map.get(&key(k)) {
        Ok(Some(v)) => v,
        Ok(None) => return Err(format!("counter {k} is missing")),
        Err(e) => return Err(format!("counter {k}: {e}")),
    };
    let bytes: [u8; 8] = value
        .try_into()
        .map_err(|v: Vec<u8>| format!("counter {k} is {} bytes", v.len()))?;
    let n = u64::from_le_bytes(bytes);
    if n == done || (in_flight && n == done + 1) {
        Ok(n)
    } else {
        Err(format!(
            "counter {k} is {n}, logged {done} (in flight: {in_flight})"
        ))
    }
}

/// Reads every counter, checks it against the log and brings the log up to date.
fn settle(map: &HashMap, log: &Log<'_>) -> Result<(), String> {
    for k in 0..COUNTERS {
        let n = settle_key(map, log, k)?;
        log.set(STATE + k, n);
    }
    log.set(FLAG, 0);
    Ok(())
}

fn child(map: HashMap, log: Log<'_>, seed: u64) -> i32 {
    if let Err(e) = settle(&map, &log) {
        eprintln!("child: {e}");
        return 5;
    }
    let mut rng = Rng::new(seed | 1);
    loop {
        let k = rng.below(COUNTERS);
        log.set(IN_KEY, k);
        log.set(FLAG, 1);
        match map.incr_i64(&key(k), 1) {
            Ok(n) if n as u64 == log.get(STATE + k) + 1 => log.set(STATE + k, n as u64),
            other => {
                eprintln!("child: incr of counter {k}: {other:?}");
                return 3;
            }
        }
        log.set(FLAG, 0);
        log.set(OPS, log.get(OPS) + 1);
    }
}

/// Stops `pid` (SIGSTOP) and waits until it is stopped: its memory then stays as it is.
fn freeze(pid: libc::pid_t) {
    // SAFETY: signalling and waiting for our own child.
    unsafe {
        assert_eq!(libc::kill(pid, libc::SIGSTOP), 0);
        let mut status = 0;
        assert_eq!(libc::waitpid(pid, &mut status, libc::WUNTRACED), pid);
        assert!(
            libc::WIFSTOPPED(status),
            "the child ended on its own (it found a wrong counter): exit status {status:#x}"
        );
    }
}

/// Resumes a frozen child.
fn thaw(pid: libc::pid_t) {
    // SAFETY: signalling our own child.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGCONT) }, 0);
}

/// The record of every counter (counters are changed in place, so their records never move
/// once created), found through the shards' tables.
fn counter_records(store: &Store, shards: &[&ShardHeader]) -> Vec<u64> {
    let mut found = vec![0u64; COUNTERS as usize];
    for shard in shards {
        let table = shard.table.load(Ordering::SeqCst);
        let buckets = store
            .get::<TableHeader>(table)
            .unwrap()
            .buckets
            .load(Ordering::SeqCst);
        for i in 0..buckets {
            let slot: &Slot = store.get(slot_offset(table, i)).unwrap();
            if !is_live(slot.tag.load(Ordering::SeqCst)) {
                continue;
            }
            let rec = slot.rec.load(Ordering::SeqCst);
            let (record_key, _) = read_record(store, rec);
            if let Some(k) = (0..COUNTERS).find(|&k| key(k) == record_key) {
                found[k as usize] = rec;
            }
        }
    }
    assert!(found.iter().all(|&r| r != 0), "counter records: {found:?}");
    found
}

/// The key and the 8-byte value of the counter record at `rec`.
fn read_record(store: &Store, rec: u64) -> (Vec<u8>, [u8; 8]) {
    let header: &RecordHeader = store.get(rec).unwrap();
    let key_len = header.key_len.load(Ordering::SeqCst);
    let mut key = vec![0u8; key_len as usize];
    store.read_bytes(rec + RECORD_HEADER_LEN, &mut key).unwrap();
    let mut value = [0u8; 8];
    store
        .read_bytes(value_offset(rec, u64::from(key_len)), &mut value)
        .unwrap();
    (key, value)
}

/// With the writer frozen: checks every counter record. A value its checksum does not match
/// is allowed only for the record an increment in flight announced (its shard's sequence
/// odd and its counter intent naming the record); returns whether there is one (the writer
/// stopped between the value and the checksum). Any other mismatch means an increment
/// publishes its stores in an order the repair cannot mend: the test fails.
fn torn(store: &Store, shards: &[&ShardHeader], records: &[u64], round: u32) -> bool {
    let mut torn = false;
    for (k, &rec) in records.iter().enumerate() {
        let (record_key, value) = read_record(store, rec);
        let header: &RecordHeader = store.get(rec).unwrap();
        let sealed = record_checksum(key_hash(store.hash_seed(), &record_key), &value);
        if sealed == header.checksum.load(Ordering::SeqCst) {
            continue;
        }
        let announced = shards
            .iter()
            .any(|s| s.seq.is_writing() && s.counter_intent.load(Ordering::SeqCst) == rec);
        assert!(
            announced,
            "round {round}: counter {k} does not match its checksum, and no increment in \
             flight announced it: a kill here would lose it"
        );
        torn = true;
    }
    torn
}

/// Fails the test at once if the child ended on its own (it found a wrong counter).
fn check_running(child: &mut Child, round: u32) {
    if let Some(exit) = child.try_wait(Duration::ZERO) {
        panic!("round {round}: the child failed with {exit:?}");
    }
}

#[test]
fn counter_writers_killed_at_random_moments() {
    let _watchdog = watchdog(600);
    let t = TestStore::new("crash-map-counters");
    let map = t.map(2);
    let log = Log::create(&t, STATE + COUNTERS);
    for k in 0..COUNTERS {
        assert_eq!(map.incr_i64(&key(k), 0).unwrap(), 0);
    }
    let shards_offset = (map.root_offset() + ROOT_LEN).next_multiple_of(SHARD_STRIDE);
    let shards: Vec<&ShardHeader> = (0..2)
        .map(|i| {
            &t.get::<Line<ShardHeader>>(shards_offset + i * SHARD_STRIDE)
                .unwrap()
                .0
        })
        .collect();
    let records = counter_records(&t, &shards);
    let mut rng = Rng::new(0xC0_17E5 ^ u64::from(std::process::id()));
    let mut freezes = 0u64;
    let (mut odd_at_kill, mut intent_at_kill, mut torn_at_kill, mut resealed) =
        (0u32, 0u32, 0u32, 0u32);
    for round in 0..KILLS {
        let start = log.get(OPS);
        let seed = rng.next();
        let mut child = {
            let map = map.clone();
            let store = t.clone();
            fork_child(move || child(map, log.through(&store), seed))
        };
        // After some finished increments; as soon as an increment is seen in flight
        // (sequence odd, or the counter intent set); or frozen between value and checksum.
        let give_up = start + 5000;
        match rng.below(4) {
            0 => {
                let target = start + 1 + rng.below(200);
                while log.get(OPS) < target {
                    check_running(&mut child, round);
                }
            }
            1 => {
                while log.get(OPS) < give_up && !shards.iter().any(|s| s.seq.is_writing()) {
                    check_running(&mut child, round);
                }
            }
            2 => {
                while log.get(OPS) < give_up
                    && !shards
                        .iter()
                        .any(|s| s.counter_intent.load(Ordering::Relaxed) != 0)
                {
                    check_running(&mut child, round);
                }
            }
            _ => {
                for _ in 0..3_000 {
                    freezes += 1;
                    freeze(child.pid);
                    if torn(&t, &shards, &records, round) {
                        torn_at_kill += 1;
                        break; // killed below, still frozen
                    }
                    // Resume; freeze again only after the child has moved on (a stop sent
                    // before it is scheduled again would find it where it was), at a random
                    // point of an increment.
                    let ops = log.get(OPS);
                    thaw(child.pid);
                    assert!(
                        wait_until(Duration::from_secs(30), || log.get(OPS) != ops),
                        "round {round}: the thawed child made no progress"
                    );
                    for _ in 0..rng.below(200) {
                        std::hint::spin_loop();
                    }
                }
            }
        }
        child.kill();
        let exit = child.wait();
        assert_eq!(
            exit,
            Exit::Signal(libc::SIGKILL),
            "round {round}: child failed with {exit:?}"
        );
        if shards.iter().any(|s| s.seq.is_writing()) {
            odd_at_kill += 1;
        }
        if shards
            .iter()
            .any(|s| s.counter_intent.load(Ordering::Relaxed) != 0)
        {
            intent_at_kill += 1;
        }
        match round % 3 {
            // The readers' path: a get meets the odd sequence, takes the lock over and
            // repairs; nothing may read as corrupt.
            0 => settle(&map, &log).unwrap_or_else(|e| panic!("round {round}: {e}")),
            // verify recovers the shard first.
            1 => {
                let report = map.verify().unwrap();
                if report.repaired.iter().any(|r| r.contains("resealed")) {
                    resealed += 1;
                }
                settle(&map, &log).unwrap_or_else(|e| panic!("round {round}: {e}"));
            }
            // The next child meets the leftovers in its own first calls.
            _ => continue,
        }
        let report = map.verify().unwrap();
        assert!(report.is_clean(), "round {round}: {report:?}");
        assert_eq!(report.entries, COUNTERS, "round {round}");
    }
    settle(&map, &log).unwrap();
    let report = map.verify().unwrap();
    assert!(report.is_clean(), "{report:?}");
    let total: u64 = (0..COUNTERS).map(|k| log.get(STATE + k)).sum();
    eprintln!(
        "{KILLS} kills, {total} increments: {odd_at_kill} with a sequence odd, \
         {intent_at_kill} with a counter intent set, {torn_at_kill} between value and \
         checksum; {resealed} resealed by verify; {freezes} freezes"
    );
    // The kills do land inside increments, and between the two stores of one.
    assert!(
        odd_at_kill >= KILLS / 20,
        "kills rarely hit an increment in flight ({odd_at_kill})"
    );
    assert!(
        torn_at_kill >= KILLS / 40,
        "kills rarely hit an increment between its value and checksum ({torn_at_kill})"
    );
    assert!(
        resealed >= 1,
        "verify never resealed a counter cut between its two stores"
    );
}
