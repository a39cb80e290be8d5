//! loom model check of the hash map's lock-free lookup (`try_get_into_lock_free`: the real
//! optimistic read path) against each kind of concurrent write, run by the real write
//! paths on a real store: an overwrite that reuses the block the reader may be copying, an
//! insert into the reader's probe chain (into a tombstone), a removal of the key read and of
//! a neighbour before it in the chain, and a migration step that moves the key read from the
//! old table to the new one (then frees the old table). The removal is also checked with a
//! value the lookup treats as large (a copy that loses the race gets at most one more try).
//!
//! What is checked: a lookup racing the write returns only a value that key held (before,
//! after, or in between), or "absent" where the key was absent at some point; never a mix of
//! bytes, another key's value, a checksum or bounds error. A lookup that gives up (writers
//! kept interfering; a real caller would then take the lock) is allowed and counted, and
//! every result a model allows must be returned by some execution (so a model that stopped
//! exploring the interleavings that give one of them fails).
//!
//! How: `shmkit::sync::model::check` runs each model over the real code, the store's
//! atomics and racy copies shadowed by loom atomics (see `sync::model`); the store's bytes
//! are saved once the pre-state is built and put back before every execution.
//!
//! Run: `RUSTFLAGS="--cfg loom" cargo test -p shmkit --release --test loom_hash_map`
//! (`LOOM_MAX_PREEMPTIONS` overrides the preemption bound of 3; each model prints how many
//! executions it explored).
#![cfg(loom)]

use shmkit::collections::hash_map::layout::key_hash;
use shmkit::{HashMap, HashMapOptions, Store, StoreOptions};
use shmkit_testkit::{unique_name, watchdog};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

const SEED: u64 = 0x6c6f_6f6d;

/// The keys (of `len` bytes) among the first few thousand whose home bucket in a table of
/// `buckets` slots is `home`.
fn keys_at_home(buckets: u64, home: u64, count: usize) -> Vec<Vec<u8>> {
    (0u16..u16::MAX)
        .map(|i| i.to_le_bytes().to_vec())
        .filter(|k| key_hash(SEED, k) & (buckets - 1) == home)
        .take(count)
        .collect()
}

/// A store holding one single-shard map, removed on drop.
struct Fixture {
    name: String,
    store: Store,
    map: HashMap,
}

impl Fixture {
    fn new(case: &str, initial_capacity: u64) -> Fixture {
        let name = unique_name("test", &format!("loom-map-{case}"));
        let options = StoreOptions {
            hash_seed: Some(SEED),
            max_processes: 4,
            initial_len: 256 << 10,
            ..StoreOptions::default()
        };
        let store = Store::create(&name, &options).unwrap();
        let map = store
            .hash_map_with(
                "m",
                &HashMapOptions {
                    shards: 1,
                    initial_capacity,
                    fixed_size: None,
                },
            )
            .unwrap();
        Fixture { name, store, map }
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = Store::remove(&self.name);
    }
}

/// One model: the pre-state is in `fx`; the writer thread runs `write`; the reader looks
/// `key` up once while it runs. `allowed` are the results a racing lookup may give (`None`:
/// absent), each of which some execution must give; `after` the result once the writer is
/// done.
fn check(
    fx: Fixture,
    write: impl Fn(&HashMap) + Send + Sync + 'static,
    key: Vec<u8>,
    allowed: Vec<Option<Vec<u8>>>,
    after: Option<Vec<u8>>,
) {
    let _dog = watchdog(900);
    let committed = fx.store.committed_len();
    let mut snapshot = vec![0u8; committed as usize];
    fx.store.read_bytes(0, &mut snapshot).unwrap();
    let snapshot = Arc::new(snapshot);
    let reset = {
        let store = fx.store.clone();
        let snapshot = snapshot.clone();
        move || {
            assert_eq!(
                store.committed_len(),
                committed,
                "the store grew in the model"
            );
            store.write_bytes(0, &snapshot).unwrap();
        }
    };
    let write = Arc::new(write);
    let lookup = |map: &HashMap, key: &[u8]| {
        let mut buf = Vec::with_capacity(8);
        match map.try_get_into_lock_free(key, &mut buf) {
            Ok(Some(true)) => Some(Some(buf)),
            Ok(Some(false)) => Some(None),
            Ok(None) => None,
            Err(e) => panic!("a lock-free lookup racing a write failed: {e}"),
        }
    };
    let discover = {
        let map = fx.map.clone();
        let write = write.clone();
        let key = key.clone();
        move || {
            lookup(&map, &key);
            shmkit::sync::model::writer(|| write(&map));
            lookup(&map, &key);
        }
    };

    let executions = Arc::new(AtomicUsize::new(0));
    let validated = Arc::new(AtomicUsize::new(0));
    let gave_up = Arc::new(AtomicUsize::new(0));
    // How many times each result was returned (loom runs every model thread on this OS
    // thread, so a std mutex is uncontended here).
    let seen = Arc::new(Mutex::new(BTreeMap::<Option<Vec<u8>>, usize>::new()));
    let body = {
        let map = fx.map.clone();
        let (executions, validated, gave_up) =
            (executions.clone(), validated.clone(), gave_up.clone());
        let seen = seen.clone();
        let allowed = allowed.clone();
        move || {
            executions.fetch_add(1, Ordering::Relaxed);
            let writer = {
                let map = map.clone();
                let write = write.clone();
                loom::thread::spawn(move || shmkit::sync::model::writer(|| write(&map)))
            };
            match lookup(&map, &key) {
                Some(found) => {
                    assert!(
                        allowed.contains(&found),
                        "a lookup racing the write returned {found:?}, not one of {allowed:?}"
                    );
                    validated.fetch_add(1, Ordering::Relaxed);
                    *seen.lock().unwrap().entry(found).or_default() += 1;
                }
                None => {
                    gave_up.fetch_add(1, Ordering::Relaxed);
                }
            }
            writer.join().unwrap();
            assert_eq!(
                lookup(&map, &key),
                Some(after.clone()),
                "once the writer is done a lookup validates and sees its result"
            );
        }
    };

    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = builder.preemption_bound.or(Some(3));
    builder.max_branches = builder.max_branches.max(20_000);
    let started = std::time::Instant::now();
    shmkit::sync::model::check(&builder, reset, discover, body);
    let (executions, validated, gave_up) = (
        executions.load(Ordering::Relaxed),
        validated.load(Ordering::Relaxed),
        gave_up.load(Ordering::Relaxed),
    );
    let seen = seen.lock().unwrap().clone();
    eprintln!(
        "{}: {executions} executions in {:.1?}: {validated} lookups validated ({}), \
         {gave_up} gave up",
        fx.name,
        started.elapsed(),
        seen.iter()
            .map(|(found, n)| format!("{:?}: {n}", found.as_deref().map(String::from_utf8_lossy)))
            .collect::<Vec<_>>()
            .join(", ")
    );
    for result in &allowed {
        assert!(
            seen.contains_key(result),
            "no execution returned {result:?} (the model no longer reaches it)"
        );
    }
    assert!(fx.map.verify().unwrap().is_clean());
}

fn some(v: &[u8]) -> Option<Vec<u8>> {
    Some(v.to_vec())
}

/// Two overwrites of the key read: the second builds its record in the block of the value
/// the reader may still be copying (the first write put it on the shard's spare list).
#[test]
fn lookup_against_overwrites_that_reuse_the_old_block() {
    let fx = Fixture::new("overwrite", 0);
    let key = b"k".to_vec();
    fx.map.set(&key, b"1").unwrap();
    let k = key.clone();
    let write = move |map: &HashMap| {
        map.set(&k, b"2").unwrap();
        map.set(&k, b"3").unwrap();
    };
    let allowed = vec![some(b"1"), some(b"2"), some(b"3")];
    check(fx, write, key, allowed, some(b"3"));
}

/// Three keys with one home bucket: `n` then `k` then (removed before) a tombstone where `n`
/// was; the insert of `new` reuses that tombstone. Read: the key being inserted.
#[test]
fn lookup_of_a_key_inserted_into_a_tombstone_of_its_chain() {
    let fx = Fixture::new("insert", 0);
    let keys = keys_at_home(16, 5, 3);
    let (n, k, new) = (keys[0].clone(), keys[1].clone(), keys[2].clone());
    fx.map.set(&n, b"n").unwrap();
    fx.map.set(&k, b"k").unwrap();
    fx.map.delete(&n).unwrap();
    let key = new.clone();
    let write = move |map: &HashMap| map.set(&new, b"x").unwrap();
    check(fx, write, key, vec![None, some(b"x")], some(b"x"));
}

/// As above, reading the key behind the slot being filled: it is there throughout.
#[test]
fn lookup_of_a_key_behind_an_insert_into_its_chain() {
    let fx = Fixture::new("insert-behind", 0);
    let keys = keys_at_home(16, 5, 3);
    let (n, k, new) = (keys[0].clone(), keys[1].clone(), keys[2].clone());
    fx.map.set(&n, b"n").unwrap();
    fx.map.set(&k, b"k").unwrap();
    fx.map.delete(&n).unwrap();
    let write = move |map: &HashMap| map.set(&new, b"x").unwrap();
    check(fx, write, k, vec![some(b"k")], some(b"k"));
}

/// Removal of the key read.
#[test]
fn lookup_against_removal_of_the_key() {
    let fx = Fixture::new("remove", 0);
    let key = b"k".to_vec();
    fx.map.set(&key, b"1").unwrap();
    let k = key.clone();
    let write = move |map: &HashMap| assert!(map.delete(&k).unwrap());
    check(fx, write, key, vec![some(b"1"), None], None);
}

/// As above, with a value the lookup treats as large (in loom builds, 4 bytes or more): a
/// validated find whose copy then fails validation gets one more try at most.
#[test]
fn lookup_of_a_large_value_against_removal_of_the_key() {
    let fx = Fixture::new("remove-large", 0);
    let key = b"k".to_vec();
    fx.map.set(&key, b"long").unwrap();
    let k = key.clone();
    let write = move |map: &HashMap| assert!(map.delete(&k).unwrap());
    check(fx, write, key, vec![some(b"long"), None], None);
}

/// Removal of the key before the one read in its probe chain: it leaves a tombstone, and
/// the key read is found throughout.
#[test]
fn lookup_behind_the_removal_of_a_neighbour() {
    let fx = Fixture::new("remove-neighbour", 0);
    let keys = keys_at_home(16, 9, 2);
    let (n, k) = (keys[0].clone(), keys[1].clone());
    fx.map.set(&n, b"n").unwrap();
    fx.map.set(&k, b"k").unwrap();
    let write = move |map: &HashMap| assert!(map.delete(&n).unwrap());
    check(fx, write, k, vec![some(b"k")], some(b"k"));
}

/// A shard half-way through a migration (a 64-slot table, positions 0..32 moved): the next
/// write moves positions 32..64, among them the key read, and frees the old table.
#[test]
fn lookup_against_a_migration_step_that_moves_the_key() {
    let fx = Fixture::new("migrate", 40);
    assert_eq!(fx.map.stats().unwrap().buckets, 64);
    // 48 keys with distinct home buckets sit at their homes: a 64-slot table at 3/4 load.
    let mut homes = std::collections::HashSet::new();
    let mut keys = Vec::new();
    for i in 0u16..u16::MAX {
        let key = i.to_le_bytes().to_vec();
        if homes.insert(key_hash(SEED, &key) & 63) {
            keys.push(key);
            if keys.len() == 48 {
                break;
            }
        }
    }
    for key in &keys {
        fx.map.set(key, b"v").unwrap();
    }
    // The 49th insert starts the resize and moves positions 0..32.
    fx.map.set(b"trigger", b"t").unwrap();
    assert_eq!(fx.map.stats().unwrap().resizing_shards, 1);
    let k = keys
        .iter()
        .find(|key| (40..56).contains(&(key_hash(SEED, key) & 63)))
        .expect("a key in the part still to move")
        .clone();
    let write = |map: &HashMap| assert!(!map.delete(b"absent").unwrap());
    check(fx, write, k, vec![some(b"v")], some(b"v"));
}
