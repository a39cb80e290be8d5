//! HashMap across real processes (fork): disjoint and identical concurrent inserts, torn-read
//! detection, counters, and iteration while another process churns.

mod common;

use common::{Rng, START, TestStore, fork_child, fork_churner, stop_churner, watchdog};
use shmkit::HashMap;
use std::collections::HashSet;

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

#[test]
fn readers_never_see_a_torn_value() {
    let _watchdog = watchdog(240);
    let t = TestStore::new("map-torn");
    let map = t.map(1);
    let a = vec![b'a'; 24];
    let b = vec![b'B'; 1000];
    map.set(b"k", &a).unwrap();
    let writer = fork_churner(&map, |n| {
        let v = if n % 2 == 0 { &b } else { &a };
        if map.set(b"k", v).is_err() {
            return false;
        }
        // Churn other keys of the same shard too (frees, reuse, resizes).
        let _ = map.set(&key(n % 5000), &value(n));
        let _ = map.delete(&key((n + 2500) % 5000));
        true
    });
    let mut buf = Vec::new();
    let (mut seen_a, mut seen_b) = (0u64, 0u64);
    for _ in 0..1_000_000 {
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
    stop_churner(&map, writer);
    assert_eq!(seen_a + seen_b, 1_000_000);
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
    let mut rng = Rng(99);
    let churner = fork_churner(&map, |n| {
        // Keys above STABLE come and go; the stable ones are only overwritten.
        let k = STABLE + 1 + rng.below(50_000);
        if rng.below(2) == 0 {
            let _ = map.set(&key(k), &value(k));
        } else {
            let _ = map.delete(&key(k));
        }
        if n % 4 == 0 {
            let s = rng.below(STABLE);
            let _ = map.set(&key(s), &value(s));
        }
        true
    });
    for round in 0..6 {
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
    stop_churner(&map, churner);
    assert!(map.verify().unwrap().is_clean());
}
