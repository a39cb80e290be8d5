//! OrderedMap across real processes (fork): writers SIGKILLed at random points (600 kills)
//! with every acknowledged write checked against a model and readers that never need the
//! dead writer's lock; 4 writers on disjoint ranges while 2 scanners check order, duplicates
//! and every key present throughout; a reader in another process sees a write at once.

mod common;

use common::{Exit, Rng, TestStore, fork_child, run_in_processes, wait_until, watchdog};
use shmkit::OrderedMap;
use std::collections::BTreeMap;
use std::ops::Bound;
use std::time::Duration;

/// The value of write `i` to `key`: the write's number, then filler derived from both, so a
/// torn or misplaced value is caught.
fn value_of(key: &[u8], i: u64, len: usize) -> Vec<u8> {
    let mut v = i.to_le_bytes().to_vec();
    let fill = (key.iter().map(|b| u64::from(*b)).sum::<u64>() + i) as u8;
    v.resize(8 + len, fill);
    v
}

fn check_value(key: &[u8], v: &[u8]) {
    assert!(v.len() >= 8, "value of {} bytes for {key:?}", v.len());
    let i = u64::from_le_bytes(v[..8].try_into().unwrap());
    assert_eq!(
        v,
        &value_of(key, i, v.len() - 8)[..],
        "torn value for {key:?}"
    );
}

/// Write `i` of the sequence seeded by `seed` (the round): (key, Some(value)) to set, (key,
/// None) to remove. Keys from a space that keeps a tree of three levels; rounds alternate in
/// runs of 40 between mostly setting and mostly removing, so the tree keeps growing and
/// shrinking and kills land in splits, merges and root changes.
fn op(seed: u64, i: u64) -> (Vec<u8>, Option<Vec<u8>>) {
    let mut rng = Rng::new(seed.wrapping_mul(1_000_003).wrapping_add(i));
    let key = format!("key-{:06}", rng.below(6000)).into_bytes();
    let set_percent = if (seed / 40) % 2 == 0 { 85 } else { 15 };
    if rng.below(100) < set_percent {
        let len = rng.below(120) as usize;
        let v = value_of(&key, seed << 32 | i, len);
        (key, Some(v))
    } else {
        (key, None)
    }
}

fn apply(model: &mut BTreeMap<Vec<u8>, Vec<u8>>, (k, v): (Vec<u8>, Option<Vec<u8>>)) {
    match v {
        Some(v) => model.insert(k, v),
        None => model.remove(&k),
    };
}

fn contents(map: &OrderedMap) -> BTreeMap<Vec<u8>, Vec<u8>> {
    map.iter().map(Result::unwrap).collect()
}

#[test]
fn writers_killed_at_random_points_keep_every_acknowledged_write() {
    // Round after round a child runs a deterministic sequence of sets and removes and
    // acknowledges each after it returned (`acked`); it is SIGKILLed at a random moment.
    // Before anyone takes the map's lock again, this process reads the whole map (so
    // readers never need a dead writer's lock: the lock stays abandoned while they read)
    // and finds either the model after the acknowledged writes or that plus the write in
    // flight, every value whole. Then a check settles the writer's intent and must find
    // the tree clean. 600 kills; at the end a store repair finds nothing leaked beyond
    // what the kills left in flight.
    let _dog = watchdog(1500);
    let t = TestStore::new("om-kill");
    let map = t.ordered_map("m").unwrap();
    let acked = t.atomic_vector("acked", 1).unwrap();
    let mut model = BTreeMap::new();
    for i in 0..3000u64 {
        let key = format!("key-{:06}", i * 2).into_bytes();
        let v = value_of(&key, i, 40);
        map.set(&key, &v).unwrap();
        model.insert(key, v);
    }
    let mut rng = Rng::new(11);
    let (mut abandoned, mut in_flight_applied, mut kills) = (0, 0, 0);
    for round in 1..=600u64 {
        acked.store(0, 0).unwrap();
        let child = fork_child(|| {
            for i in 0.. {
                let (k, v) = op(round, i);
                match v {
                    Some(v) => map.set(&k, &v).unwrap(),
                    None => drop(map.delete(&k).unwrap()),
                }
                acked.store(0, i as i64 + 1).unwrap();
            }
            0
        });
        // Let it run a little: up to a few hundred writes.
        assert!(wait_until(Duration::from_secs(60), || acked
            .load(0)
            .unwrap()
            > 0));
        std::thread::sleep(Duration::from_micros(rng.below(1500)));
        assert_eq!(
            child.kill_and_wait(),
            Exit::Signal(libc::SIGKILL),
            "round {round}"
        );
        kills += 1;
        let a = acked.load(0).unwrap() as u64;
        for i in 0..a {
            apply(&mut model, op(round, i));
        }
        let lock_abandoned = || {
            t.lock_states()
                .iter()
                .any(|l| l.is_abandoned() && l.name.starts_with("ordered_map"))
        };
        let was_abandoned = lock_abandoned();
        // Lock-free reads while the lock may still be held by the dead writer.
        let seen = contents(&map);
        for (k, v) in &seen {
            check_value(k, v);
        }
        let (k, v) = op(round, a);
        assert_eq!(map.get(&k).unwrap(), seen.get(&k).cloned());
        assert_eq!(map.len(), seen.len() as u64, "round {round}");
        if was_abandoned {
            abandoned += 1;
            assert!(lock_abandoned(), "round {round}: a reader took the lock");
        }
        if seen != model {
            let mut with = model.clone();
            apply(&mut with, (k.clone(), v.clone()));
            assert!(
                seen == with,
                "round {round}: after {a} acknowledged writes the map is neither the model \
                 nor the model plus the write in flight"
            );
            model = with;
            in_flight_applied += 1;
        }
        if round % 20 == 0 || was_abandoned {
            let report = map.verify().unwrap();
            assert!(
                report.problems.is_empty(),
                "round {round}: {:?}",
                report.problems
            );
            assert_eq!(report.len, model.len() as u64);
        }
    }
    let stats = map.stats().unwrap();
    eprintln!(
        "{kills} kills: lock abandoned in {abandoned} rounds, the write in flight had \
         committed in {in_flight_applied}; {stats:?}"
    );
    assert!(
        abandoned >= 20,
        "only {abandoned} kills landed inside a write"
    );
    assert!(stats.recoveries >= 20, "{stats:?}");
    assert!(stats.splits > 20 && stats.merges > 10, "{stats:?}");
    assert_eq!(contents(&map), model);
    let report = t.repair();
    assert!(report.after.is_clean(), "{report:?}");
    assert_eq!(contents(&map), model);
}

#[test]
fn scans_see_every_stable_key_once_and_in_order_while_four_processes_write() {
    // Stable keys (even numbers) are never touched; four writers churn the odd keys of
    // their own quarter of the key space (sets, removes, so leaves split and merge under
    // the scans). Two scanners repeatedly scan forwards and backwards, whole and by
    // range: every scan is strictly ordered, and holds every stable key of its range;
    // counts of a range are at least its stable keys and at most all its keys.
    let _dog = watchdog(600);
    let t = TestStore::new("om-scan");
    let map = t.ordered_map("m").unwrap();
    const N: u64 = 8000;
    let key = |i: u64| format!("{i:06}").into_bytes();
    for i in (0..N).step_by(2) {
        map.set(&key(i), &value_of(&key(i), i, 16)).unwrap();
    }
    let done = t.atomic_vector("done", 1).unwrap();
    run_in_processes(&t, 6, |p| {
        if p < 4 {
            let mut rng = Rng::new(p + 100);
            let (lo, hi) = (p * N / 4, (p + 1) * N / 4);
            for i in 0..20_000u64 {
                let k = key((lo + rng.below(hi - lo)) | 1);
                if rng.below(3) == 0 {
                    map.delete(&k).unwrap();
                } else {
                    map.set(&k, &value_of(&k, i, rng.below(60) as usize))
                        .unwrap();
                }
            }
            done.fetch_add(0, 1).unwrap();
            return 0;
        }
        let mut rng = Rng::new(p);
        let mut scans = 0;
        while done.load(0).unwrap() < 4 || scans < 20 {
            let a = rng.below(N);
            let b = a + rng.below(N - a) + 1;
            let (lo, hi) = (key(a), key(b));
            let reverse = rng.below(2) == 0;
            let range = map.range(Bound::Included(&lo[..]), Bound::Excluded(&hi[..]));
            let items: Vec<_> = if reverse {
                range.rev().map(Result::unwrap).collect()
            } else {
                range.map(Result::unwrap).collect()
            };
            let mut keys: Vec<&[u8]> = items.iter().map(|(k, _)| &k[..]).collect();
            if reverse {
                keys.reverse();
            }
            if keys.windows(2).any(|w| w[0] >= w[1]) {
                eprintln!("scan {lo:?}..{hi:?} out of order or repeated");
                return 1;
            }
            for (k, v) in &items {
                check_value(k, v);
            }
            let stable: Vec<Vec<u8>> = (a..b).filter(|i| i % 2 == 0).map(key).collect();
            let present: std::collections::HashSet<&[u8]> = keys.iter().copied().collect();
            if let Some(missing) = stable.iter().find(|k| !present.contains(&k[..])) {
                eprintln!("scan {lo:?}..{hi:?} missed the stable key {missing:?}");
                return 1;
            }
            let c = map
                .count(Bound::Included(&lo[..]), Bound::Excluded(&hi[..]))
                .unwrap();
            if c.count < stable.len() as u64 || c.count > b - a {
                eprintln!(
                    "count {} for {} stable keys in {lo:?}..{hi:?}",
                    c.count,
                    stable.len()
                );
                return 1;
            }
            scans += 1;
        }
        0
    });
    let report = map.verify().unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    let all: Vec<_> = map.iter().map(|r| r.unwrap().0).collect();
    assert!(all.windows(2).all(|w| w[0] < w[1]));
    assert!(all.len() as u64 >= N / 2);
}

#[test]
fn a_write_is_visible_to_another_process_at_once() {
    let t = TestStore::new("om-visible");
    let map = t.ordered_map("m").unwrap();
    let flag = t.atomic_vector("flag", 1).unwrap();
    let child = fork_child(|| {
        for i in 0..200u64 {
            while flag.load(0).unwrap() != 2 * i as i64 + 1 {
                std::hint::spin_loop();
            }
            let k = i.to_be_bytes();
            match map.get(&k) {
                Ok(Some(v)) if v == k => {}
                other => {
                    eprintln!("write {i}: {other:?}");
                    return 1;
                }
            }
            flag.store(0, 2 * i as i64 + 2).unwrap();
        }
        0
    });
    for i in 0..200u64 {
        map.set(&i.to_be_bytes(), &i.to_be_bytes()).unwrap();
        flag.store(0, 2 * i as i64 + 1).unwrap();
        assert!(wait_until(Duration::from_secs(30), || flag
            .load(0)
            .unwrap()
            == 2 * i as i64 + 2));
    }
    child.expect_success();
}

#[test]
fn a_writer_that_dies_while_a_store_repair_runs_leaves_the_leak_sweep_free_to_finish() {
    // A writer of map "a" dies holding its lock with a write half done after the repair
    // checked "a" (while it checks the larger "b"). The repair's leak sweep then asks "a"
    // for its blocks under exclusive use of the store; settling the dead writer's intent
    // there must not wait for the sweep to end (it waited forever).
    use shmkit::collections::ordered_map::layout::{
        INTENT_WRITE, OmRoot, RECORD_HEADER_LEN, RecordHeader, record_checksum, record_len,
    };
    use shmkit::store::alloc::{BlockHeader, TAG_FREE};
    use std::sync::atomic::{AtomicU32, Ordering};
    let t = TestStore::new("om-sweep-intent");
    let a = t.ordered_map("a").unwrap();
    let b = t.ordered_map("b").unwrap();
    for i in 0..20u32 {
        a.set(&i.to_be_bytes(), b"a").unwrap();
    }
    for i in 0..20_000u32 {
        b.set(&i.to_be_bytes(), b"b").unwrap();
    }
    let ra: &OmRoot = t.get(a.root_offset()).unwrap();
    // The record the dead writer meant to publish, as a write builds it before the lock.
    let (key, value) = (b"new key", b"new value");
    let rec = t.alloc(record_len(7, 9)).unwrap();
    let h: &RecordHeader = t.get(rec).unwrap();
    h.key_len.store(7, Ordering::SeqCst);
    h.val_len.store(9, Ordering::SeqCst);
    h.checksum.store(
        record_checksum(a.root_offset(), key, value),
        Ordering::SeqCst,
    );
    t.write_bytes(rec + RECORD_HEADER_LEN, key).unwrap();
    t.write_bytes(rec + RECORD_HEADER_LEN + 7, value).unwrap();
    let b_lock: &AtomicU32 = t
        .get(b.root_offset() + std::mem::offset_of!(OmRoot, lock) as u64)
        .unwrap();
    // The writer must see the repair inside "b" and die before its sweep starts: on a busy
    // machine it may miss that window (then the round is run again).
    let mut report = None;
    for _round in 0..10 {
        let mut writer = fork_child(|| {
            // Wait for the repair to hold "b"'s lock (it checked "a" before).
            let deadline = std::time::Instant::now() + Duration::from_secs(20);
            while b_lock.load(Ordering::SeqCst) == 0 {
                if std::time::Instant::now() > deadline {
                    return 2;
                }
                std::hint::spin_loop();
            }
            let guard = t.lock(&ra.lock).unwrap();
            ra.intent_new_len.store(0, Ordering::SeqCst);
            ra.intent_old_len.store(0, Ordering::SeqCst);
            ra.intent_done.store(0, Ordering::SeqCst);
            ra.intent_rec.store(rec, Ordering::SeqCst);
            ra.drop_leaf.store(0, Ordering::SeqCst);
            ra.intent_version
                .store(ra.root_version.load(Ordering::SeqCst) + 1, Ordering::SeqCst);
            ra.intent_op.store(INTENT_WRITE, Ordering::SeqCst);
            std::mem::forget(guard);
            0
        });
        let store = (*t).clone();
        let (send, got) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = send.send(store.repair());
        });
        let r = got
            .recv_timeout(Duration::from_secs(120))
            .expect("the store repair did not finish");
        let wrote = writer.wait() == Exit::Code(0);
        let swept = !r.not_repaired.iter().any(|n| n.what.contains("attached"));
        if wrote && swept {
            report = Some(r);
            break;
        }
        if wrote {
            // Settle the write for the next round.
            assert!(a.verify().unwrap().problems.is_empty());
        }
    }
    let report = report.expect("the writer never died inside the repair");
    assert!(
        !report.repaired.iter().any(|r| r.contains("undid")),
        "the check settled the write, not the sweep: {report:?}"
    );
    assert_eq!(ra.intent_op.load(Ordering::SeqCst), 0, "{report:?}");
    assert!(report.not_repaired.is_empty(), "{report:?}");
    let block: &BlockHeader = t.get(rec - 16).unwrap();
    assert_eq!(
        block.tag.load(Ordering::SeqCst),
        TAG_FREE,
        "the record was freed"
    );
    assert!(report.after.is_clean(), "{report:?}");
    assert_eq!(a.len(), 20);
    assert!(a.verify().unwrap().problems.is_empty());
}
