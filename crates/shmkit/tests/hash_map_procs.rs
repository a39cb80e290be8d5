//! HashMap across real processes (fork): disjoint and identical concurrent inserts, torn-read
//! detection, counters, and iteration while another process churns.

mod common;

use common::{Rng, START, TestStore, fork_child, fork_churner, stop_churner, wait_until, watchdog};
use shmkit::HashMap;
use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Forks one child per `p` in `0..n` running `work(p)`, starts them together (they spin
/// until the parent sets the start key, so they really run at the same time), and asserts
/// every one exits with 0; the start key is removed again.
fn run_in_processes(map: &HashMap, n: u64, work: impl Fn(u64) -> i32) {
    let children: Vec<_> = (0..n)
        .map(|p| {
            fork_child(|| {
                while !map.contains_key(START).unwrap_or(false) {
                    std::hint::spin_loop();
                }
                work(p)
            })
        })
        .collect();
    map.set(START, b"").unwrap();
    for c in children {
        c.expect_success();
    }
    assert!(map.delete(START).unwrap());
}

fn key(i: u64) -> [u8; 16] {
    let mut k = [0u8; 16];
    k[..8].copy_from_slice(&i.to_le_bytes());
    k[8..].copy_from_slice(&(i.wrapping_mul(0x9E37_79B9_7F4A_7C15)).to_le_bytes());
    k
}

fn value(i: u64) -> Vec<u8> {
    let mut v = i.to_le_bytes().to_vec();
    v.resize(8 + (i % 24) as usize, (i % 251) as u8);
    v
}

#[test]
fn four_processes_insert_disjoint_ranges() {
    let _watchdog = watchdog(240);
    const PER: u64 = 100_000;
    let t = TestStore::new("map-disjoint");
    let map = t.map(16);
    run_in_processes(&map, 4, |p| {
        for i in p * PER..(p + 1) * PER {
            if map.set(&key(i), &value(i)).is_err() {
                return 1;
            }
        }
        0
    });
    assert_eq!(map.len(), 4 * PER);
    let mut buf = Vec::new();
    for i in 0..4 * PER {
        assert!(map.get_into(&key(i), &mut buf).unwrap(), "key {i} missing");
        assert_eq!(buf, value(i), "key {i}");
    }
    let report = map.verify().unwrap();
    assert!(report.is_clean(), "{report:?}");
    assert_eq!(report.entries, 4 * PER);
    assert!(map.stats().unwrap().resizes > 16);
}

#[test]
fn two_processes_insert_the_same_keys() {
    let _watchdog = watchdog(240);
    const N: u64 = 50_000;
    let t = TestStore::new("map-samekeys");
    let map = t.map(8);
    run_in_processes(&map, 2, |p| {
        for i in 0..N {
            // Both write the same keys; one also uses insert_if_absent.
            let r = if p == 0 {
                map.set(&key(i), &value(i)).map(|_| ())
            } else {
                map.insert_if_absent(&key(i), &value(i)).map(|_| ())
            };
            if r.is_err() {
                return 1;
            }
        }
        0
    });
    assert_eq!(map.len(), N);
    assert_eq!(map.keys().count() as u64, N);
    for i in 0..N {
        assert_eq!(map.get(&key(i)).unwrap(), Some(value(i)));
        assert!(map.delete(&key(i)).unwrap(), "key {i} not removable");
        assert!(!map.delete(&key(i)).unwrap(), "key {i} removed twice");
    }
    assert!(map.is_empty());
    assert!(map.verify().unwrap().is_clean());
}

/// A zeroed progress word in the store, for a churner to publish its step count.
fn progress_word(t: &TestStore) -> &AtomicU64 {
    let off = t.alloc(8).unwrap();
    t.write_bytes(off, &[0u8; 8]).unwrap();
    t.get::<AtomicU64>(off).unwrap()
}

#[test]
fn readers_never_see_a_torn_value() {
    let _watchdog = watchdog(240);
    let t = TestStore::new("map-torn");
    let map = t.map(1);
    let a = vec![b'a'; 24];
    let b = vec![b'B'; 1000];
    map.set(b"k", &a).unwrap();
    let steps = progress_word(&t);
    let writer = fork_churner(&map, |n| {
        let v = if n % 2 == 0 { &b } else { &a };
        if map.set(b"k", v).is_err() {
            return false;
        }
        // Churn other keys of the same shard too (frees, reuse, resizes). Step n sets key
        // n % 5000 and removes key (n + 2500) % 5000, which step n - 2500 set.
        if map.set(&key(n % 5000), &value(n)).is_err() {
            return false;
        }
        if map.delete(&key((n + 2500) % 5000)).ok() != Some(n >= 2500) {
            return false;
        }
        steps.store(n + 1, Ordering::SeqCst);
        true
    });
    // Read while the writer runs: at least a million reads, and on until the writer has
    // replaced the value a thousand times during them (bounded: a writer that stopped is
    // reported below).
    assert!(
        wait_until(Duration::from_secs(60), || steps.load(Ordering::SeqCst) > 0),
        "the writer never started"
    );
    let steps_before = steps.load(Ordering::SeqCst);
    let mut buf = Vec::new();
    let (mut seen_a, mut seen_b) = (0u64, 0u64);
    let mut reads = 0u64;
    while reads < 20_000_000
        && (reads < 1_000_000 || steps.load(Ordering::SeqCst) < steps_before + 1000)
    {
        reads += 1;
        assert!(map.get_into(b"k", &mut buf).unwrap());
        if buf == a {
            seen_a += 1;
        } else if buf == b {
            seen_b += 1;
        } else {
            map.set(common::STOP, b"").unwrap();
            panic!(
                "torn read: {} bytes {:?}",
                buf.len(),
                &buf[..buf.len().min(32)]
            );
        }
    }
    let writes_during_reads = steps.load(Ordering::SeqCst) - steps_before;
    stop_churner(&map, writer);
    eprintln!("{reads} reads: {seen_a} a, {seen_b} b, {writes_during_reads} writes meanwhile");
    assert!(
        writes_during_reads >= 1000,
        "the writer overlapped the reads ({writes_during_reads} writes during {reads} reads)"
    );
    assert!(
        seen_a > 0 && seen_b > 0,
        "the reads saw both values ({seen_a} a, {seen_b} b)"
    );
    assert!(map.verify().unwrap().is_clean());
}

#[test]
fn four_processes_increment_one_counter() {
    let _watchdog = watchdog(240);
    const PER: i64 = 100_000;
    let t = TestStore::new("map-incr");
    let map = t.hash_map("m").unwrap();
    run_in_processes(&map, 4, |p| {
        for i in 0..PER {
            let r = if (i + p as i64) % 2 == 0 {
                map.incr_i64(b"counter", 1).map(|_| ())
            } else {
                map.incr_f64(b"float", 1.0)
                    .and_then(|_| map.incr_i64(b"counter", 1))
                    .map(|_| ())
            };
            if r.is_err() {
                return 1;
            }
        }
        0
    });
    let counter = map.get(b"counter").unwrap().unwrap();
    assert_eq!(i64::from_le_bytes(counter.try_into().unwrap()), 4 * PER);
    let float = map.incr_f64(b"float", 0.0).unwrap();
    assert_eq!(float, (2 * PER) as f64);
}

#[test]
fn iteration_while_another_process_churns() {
    let _watchdog = watchdog(240);
    const STABLE: u64 = 20_000;
    let t = TestStore::new("map-iter-churn");
    let map = t.map(8);
    for i in 0..STABLE {
        map.set(&key(i), &value(i)).unwrap();
    }
    let steps = progress_word(&t);
    let mut rng = Rng::new(99);
    // The churner alone writes the keys above STABLE, so it knows which are present.
    let mut present = HashSet::new();
    let churner = fork_churner(&map, |n| {
        // Keys above STABLE come and go; the stable ones are only overwritten.
        let k = STABLE + 1 + rng.below(50_000);
        let ok = if rng.below(2) == 0 {
            present.insert(k);
            map.set(&key(k), &value(k)).is_ok()
        } else {
            map.delete(&key(k)).ok() == Some(present.remove(&k))
        };
        if !ok {
            return false;
        }
        if n % 4 == 0 {
            let s = rng.below(STABLE);
            if map.set(&key(s), &value(s)).is_err() {
                return false;
            }
        }
        steps.store(n + 1, Ordering::SeqCst);
        true
    });
    assert!(
        wait_until(Duration::from_secs(60), || steps.load(Ordering::SeqCst) > 0),
        "the churner never started"
    );
    let steps_before = steps.load(Ordering::SeqCst);
    // At least 6 rounds, and on until the churner has made 1000 changes meanwhile (bounded:
    // a churner that stopped is reported below).
    let mut rounds = 0;
    while rounds < 200 && (rounds < 6 || steps.load(Ordering::SeqCst) < steps_before + 1000) {
        let round = rounds;
        rounds += 1;
        let mut seen = HashSet::new();
        for item in map.iter() {
            let (k, v) = item.unwrap();
            if k.len() != 16 {
                continue;
            }
            let i = u64::from_le_bytes(k[..8].try_into().unwrap());
            if i < STABLE {
                assert_eq!(v, value(i), "round {round}: value of stable key {i}");
                assert!(seen.insert(i), "round {round}: stable key {i} seen twice");
            }
        }
        assert_eq!(
            seen.len() as u64,
            STABLE,
            "round {round}: stable keys missing"
        );
    }
    let changes = steps.load(Ordering::SeqCst) - steps_before;
    stop_churner(&map, churner);
    assert!(
        changes >= 1000,
        "the churner overlapped the iterations ({changes} steps in {rounds} rounds)"
    );
    assert!(map.verify().unwrap().is_clean());
}
