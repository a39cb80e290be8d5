//! Every read, check and repair path of a store file of unknown health, run from the outside
//! through the public API: shared by the corruption sweep (`tests/corruption_sweep.rs`) and
//! the fuzz targets (`fuzz/fuzz_targets/*.rs`, which include this file by path).
//!
//! Invariants:
//! - a damaged, truncated or foreign file may make any call return an error, never panic,
//!   never raise a signal, never wait without end (the callers run this in a forked child
//!   with a time limit to tell a signal or a hang from a pass);
//! - every key and value the store hands out, before or after a repair, is one the
//!   [`Expect`] accepts: damage may lose entries, never make up or mix them (records carry
//!   a checksum);
//! - nothing here knows the kinds of object: objects are reached through `open_any`, so a
//!   new kind is exercised as soon as `open_any` knows it. Hash maps get their key-wise
//!   operations (get, contains, set, remove) on top.
//!
//! ```ignore
//! let written = Expect::Written { keys: 200 };
//! exercise_store("/dev/shm/some-dir/store", &written);
//! ```

use shmkit::collections::any::open_any;
use shmkit::collections::object::{CheckMode, Item};
use shmkit::{HashMap, HashMapOptions, ObjectKind, OpenOptions, Store, StoreOptions};

/// The keys a sweep store's maps are filled with: `k0`, `k1`, …
pub fn sweep_key(i: u32) -> Vec<u8> {
    format!("k{i}").into_bytes()
}

/// The value written for key `i`: its number, then `i % 97` bytes of a pattern, and every
/// 50th value long enough to take a block of a large size class.
pub fn sweep_value(i: u32) -> Vec<u8> {
    let len = if i % 50 == 7 { 5000 } else { (i % 97) as usize };
    let mut v = i.to_le_bytes().to_vec();
    v.extend((0..len).map(|j| (i as usize * 31 + j) as u8));
    v
}

/// Keys in each map of a sweep store.
pub const SWEEP_KEYS: u32 = 100;

/// The pristine store: two hash maps (eight shards; one shard grown through resizes) filled
/// with the sweep's keys, created at `path` (a path: it contains a '/'), read back and
/// removed. Returns the file's bytes.
pub fn build_sweep_store(path: &str) -> Vec<u8> {
    let options = StoreOptions {
        initial_len: 0, // the smallest store; it grows as the maps fill
        reserve: 64 << 20,
        max_processes: 8,
        ..StoreOptions::default()
    };
    {
        let store = Store::create(path, &options).expect("create the pristine store");
        let wide = store
            .hash_map_with(
                "wide",
                &HashMapOptions {
                    shards: 8,
                    initial_capacity: 0,
                },
            )
            .expect("create map");
        let narrow = store
            .hash_map_with(
                "narrow",
                &HashMapOptions {
                    shards: 1,
                    initial_capacity: 0,
                },
            )
            .expect("create map");
        for i in 0..SWEEP_KEYS {
            wide.set(&sweep_key(i), &sweep_value(i)).unwrap();
            narrow.set(&sweep_key(i), &sweep_value(i)).unwrap();
        }
        for i in (0..SWEEP_KEYS).step_by(7) {
            wide.remove(&sweep_key(i)).unwrap(); // tombstones in probe chains
        }
        assert!(store.check().is_clean(), "the pristine store is clean");
    }
    let bytes = std::fs::read(path).expect("read the pristine store");
    Store::remove(path).expect("remove the pristine store");
    bytes
}

/// What the store may hand out.
pub enum Expect {
    /// Only entries `sweep_key(i) → sweep_value(i)` for `i < keys` (a sweep store, damaged).
    Written { keys: u32 },
    /// Anything (the file came from random bytes: only crashes and hangs are failures).
    Anything,
}

impl Expect {
    fn check_entry(&self, what: &str, key: &[u8], value: &[u8]) {
        let Expect::Written { keys } = self else {
            return;
        };
        let i = std::str::from_utf8(key)
            .ok()
            .and_then(|k| k.strip_prefix('k'))
            .and_then(|n| n.parse::<u32>().ok())
            .filter(|i| *i < *keys + EXTRA_KEYS);
        let Some(i) = i else {
            panic!("{what} handed out a key never written: {key:?}");
        };
        assert!(
            value == sweep_value(i),
            "{what} handed out a wrong value for k{i}: {} bytes",
            value.len()
        );
    }

    fn keys(&self) -> u32 {
        match self {
            Expect::Written { keys } => *keys,
            Expect::Anything => 16,
        }
    }
}

/// Keys past the sweep store's, which the exercise itself sets.
const EXTRA_KEYS: u32 = 4;

/// Runs every public read, check and repair path on the store at `path` (a path, so it
/// contains a '/'), checking whatever is handed out against `expect`.
pub fn exercise_store(path: &str, expect: &Expect) {
    // The inspection reads the file without attaching.
    let inspection = shmkit::store::inspect::inspect(std::path::Path::new(path));
    let _ = format!("{inspection:?}");
    let store = match Store::open_with(path, &OpenOptions::default()) {
        Ok(store) => store,
        Err(e) => {
            let _ = (e.kind(), e.to_string());
            return;
        }
    };
    read_everything(&store, expect, "before repair");
    let report = store.check();
    let _ = (report.is_clean(), format!("{report:?}"));
    let _ = store.lock_states();
    let _ = store.find_unreachable();
    write_a_little(&store, expect);
    let repaired = store.repair();
    let _ = format!("{repaired:?}");
    read_everything(&store, expect, "after repair");
    let _ = store.check();
}

/// Every object through the generic interface, and every hash map key by key.
fn read_everything(store: &Store, expect: &Expect, when: &str) {
    let Ok(objects) = store.objects() else {
        return;
    };
    for info in &objects {
        let object = match open_any(store, info) {
            Ok(Some(object)) => object,
            Ok(None) => continue,
            Err(e) => {
                let _ = (e.kind(), e.to_string());
                continue;
            }
        };
        let _ = object.item_count();
        let _ = object.stats().map(|s| format!("{s:?}"));
        let _ = object.locks().len();
        let _ = object.owned_blocks(&mut |_| {});
        let what = format!("{when}: iterating {}", info.name);
        let _ = object.for_each_item(&mut |item| {
            if let Item::Entry { key, value } = item {
                expect.check_entry(&what, &key, &value);
            }
            true
        });
        let _ = object.check(CheckMode::Verify).map(|r| r.is_clean());
        if info.kind == ObjectKind::HashMap {
            read_map(store, &info.name, expect, when);
        }
    }
}

fn read_map(store: &Store, name: &str, expect: &Expect, when: &str) {
    let Ok(map) = store.open_object::<HashMap>(name) else {
        return;
    };
    let _ = map.len();
    let what = format!("{when}: get on {name}");
    for i in 0..expect.keys() + EXTRA_KEYS {
        let key = sweep_key(i);
        if let Ok(Some(value)) = map.get(&key) {
            expect.check_entry(&what, &key, &value);
        }
        let _ = map.contains_key(&key);
    }
    // Bounded: an iterator over a damaged table may report an error at every step.
    for (key, value) in map.iter().take(10_000).flatten() {
        expect.check_entry(&what, &key, &value);
    }
}

/// A few writes into every hash map (a damaged store must refuse or absorb them, never
/// crash): sets of keys past the written ones, with their sweep values, and a removal.
fn write_a_little(store: &Store, expect: &Expect) {
    let Ok(objects) = store.objects() else {
        return;
    };
    for info in objects.iter().filter(|i| i.kind == ObjectKind::HashMap) {
        let Ok(map) = store.open_object::<HashMap>(&info.name) else {
            continue;
        };
        for i in expect.keys()..expect.keys() + EXTRA_KEYS {
            let _ = map.set(&sweep_key(i), &sweep_value(i));
        }
        let _ = map.remove(&sweep_key(1));
    }
}
