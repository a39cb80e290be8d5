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
//!   operations (get, contains, set, remove) on top, atomic vectors their element
//!   operations (load, load_range, store, fetch_add, expand, verify);
//! - every element value a vector hands out is one written (`i + 1` for element `i` of the
//!   written prefix, 0 past it, or one of the exercise's own [`VEC_MARK`] writes) or the
//!   8 bytes the file held, when the exercise began reading vectors, at the element's address
//!   as the file's root block gives it: elements carry no checksum, so damage to element
//!   storage (or a damaged segment offset that names another block) is handed out as it is,
//!   but an element is never read from anywhere else;
//! - the same for arrays ([`SWEEP_ARRAY_FORMAT`] records): every element handed out is the
//!   one written, zeros, the exercise's own [`ARRAY_MARK`] record, or the bytes the file
//!   held at the element's address as the root gives it.
//!
//! ```ignore
//! let written = Expect::Written { keys: 200 };
//! exercise_store("/dev/shm/some-dir/store", &written);
//! ```

use shmkit::collections::any::open_any;
use shmkit::collections::object::{CheckMode, Item};
use shmkit::{
    Array, AtomicVector, HashMap, HashMapOptions, ObjectKind, OpenOptions, Store, StoreOptions,
};

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

/// Elements of the sweep store's vector "vec" written with `i + 1` (the rest read 0).
pub const SWEEP_VEC_WRITTEN: u64 = 200;
/// Length of the sweep store's vector: five segments (8, 16, 32, 64, 128 elements).
pub const SWEEP_VEC_LEN: u64 = 230;
/// The value the exercise stores in a vector element (and adds 1 to).
pub const VEC_MARK: i64 = 0x5eed_0000_0000;

/// The element type of the sweep store's array "arr": an int64 and a float64.
pub const SWEEP_ARRAY_FORMAT: &str = "T{q:a:d:b:}";
/// Its shape.
pub const SWEEP_ARRAY_SHAPE: [u64; 2] = [10, 7];

/// Record `i` of the sweep store's array: `(i + 1, i + 0.5)`.
pub fn sweep_record(i: u64) -> [u8; 16] {
    let mut r = [0; 16];
    r[..8].copy_from_slice(&(i as i64 + 1).to_le_bytes());
    r[8..].copy_from_slice(&(i as f64 + 0.5).to_le_bytes());
    r
}

/// The record the exercise writes into arrays.
pub const ARRAY_MARK: [u8; 16] = [0x5e; 16];

/// The pristine store: two hash maps (eight shards; one shard grown through resizes) filled
/// with the sweep's keys and an atomic vector grown through five segments, created at `path`
/// (a path: it contains a '/'), read back and removed. Returns the file's bytes.
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
                    fixed_size: None,
                },
            )
            .expect("create map");
        let narrow = store
            .hash_map_with(
                "narrow",
                &HashMapOptions {
                    shards: 1,
                    initial_capacity: 0,
                    fixed_size: None,
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
        let vec = store.atomic_vector("vec", 8).expect("create vector");
        for len in [8, 24, 56, 120, SWEEP_VEC_WRITTEN] {
            vec.expand(len).unwrap();
        }
        for i in 0..SWEEP_VEC_WRITTEN {
            vec.store(i, i as i64 + 1).unwrap();
        }
        vec.expand(SWEEP_VEC_LEN).unwrap();
        let arr = store
            .array("arr", SWEEP_ARRAY_FORMAT, &SWEEP_ARRAY_SHAPE)
            .expect("create array");
        for i in 0..arr.len() {
            arr.write(i, &sweep_record(i)).unwrap();
        }
        assert!(store.check().is_clean(), "the pristine store is clean");
        // The file's bytes are the store's: the oracle of `read_vector` reads elements there.
        let bytes = std::fs::read(path).expect("read the pristine store");
        for i in 0..SWEEP_VEC_LEN {
            let want = if i < SWEEP_VEC_WRITTEN {
                i as i64 + 1
            } else {
                0
            };
            assert_eq!(file_element(&bytes, vec.root_offset(), i), Some(want));
        }
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
    exercise_vectors(&store, path, expect, "before repair");
    exercise_arrays(&store, path, expect, "before repair");
    let report = store.check();
    let _ = (report.is_clean(), format!("{report:?}"));
    let _ = store.lock_states();
    let _ = store.find_unreachable();
    write_a_little(&store, expect);
    let repaired = store.repair();
    let _ = format!("{repaired:?}");
    read_everything(&store, expect, "after repair");
    exercise_vectors(&store, path, expect, "after repair");
    exercise_arrays(&store, path, expect, "after repair");
    let _ = store.check();
}

/// The 8 bytes at `offset` of `file`, if it has them.
fn file_u64(file: &[u8], offset: u64) -> Option<u64> {
    let at = usize::try_from(offset).ok()?;
    let bytes = file.get(at..at.checked_add(8)?)?;
    Some(u64::from_le_bytes(bytes.try_into().ok()?))
}

/// Element `index` of the vector whose root is at `root`, decoded from the file's bytes
/// independently of the library (the layout of FORMAT.md: `base_shift` at root + 12, the
/// segment table at root + 64, segment `s` holding `2^(base_shift + s)` elements from its
/// block offset rounded up to 64).
fn file_element(file: &[u8], root: u64, index: u64) -> Option<i64> {
    let base_shift = (file_u64(file, root.checked_add(8)?)? >> 32) as u32;
    if !(3..=40).contains(&base_shift) || index >= 1 << 40 {
        return None;
    }
    let x = index + (1 << base_shift);
    let top = 63 - x.leading_zeros();
    let (segment, pos) = ((top - base_shift) as u64, x - (1 << top));
    if segment >= 40 {
        return None;
    }
    let block = file_u64(file, root.checked_add(64 + 8 * segment)?)?;
    let data = block.checked_next_multiple_of(64)?.checked_add(pos * 8)?;
    file_u64(file, data).map(|v| v as i64)
}

/// Every atomic vector: its length, every element, a range, a store and a fetch_add, a
/// little growth, and its check and repair.
fn exercise_vectors(store: &Store, path: &str, expect: &Expect, when: &str) {
    let Ok(objects) = store.objects() else {
        return;
    };
    // The file as it is now (the store's bytes: the file is mapped shared), the oracle of
    // the values read below. Taken again after the store's repair, which may rewrite memory
    // that a damaged segment offset aliases (another object's block).
    let snapshot = std::fs::read(path).unwrap_or_default();
    for info in objects
        .iter()
        .filter(|i| i.kind == ObjectKind::AtomicVector)
    {
        let Ok(v) = store.open_object::<AtomicVector>(&info.name) else {
            continue;
        };
        let what = format!("{when}: vector {}", info.name);
        let check = |index: u64, value: i64| {
            if !matches!(expect, Expect::Written { .. }) {
                return;
            }
            let written = if index < SWEEP_VEC_WRITTEN {
                index as i64 + 1
            } else {
                0
            };
            assert!(
                value == written
                    || value == 0
                    || value == VEC_MARK
                    || value == VEC_MARK + 1
                    || Some(value) == file_element(&snapshot, v.root_offset(), index),
                "{what}: element {index} holds {value}, never written"
            );
        };
        let read_all = |v: &AtomicVector| {
            let len = v.len();
            let _ = (v.is_empty(), v.capacity(), v.bit_len());
            let _ = v.stats().map(|s| format!("{s:?}"));
            for index in 0..len.min(4096) {
                if let Ok(value) = v.load(index) {
                    check(index, value);
                }
                let _ = v.get_bit(index * 64 + 1);
            }
            let _ = v.load(len);
            let _ = v.load(len.saturating_sub(1));
            let _ = v.load(u64::MAX);
            // The whole range when it is small or beyond what the segments hold (then an
            // error at once); a prefix otherwise.
            let end = if len <= 1 << 16 || len > v.capacity() {
                len
            } else {
                1 << 16
            };
            if let Ok(values) = v.load_range(0, end) {
                for (index, value) in values.into_iter().enumerate() {
                    check(index as u64, value);
                }
            }
            let _ = v.load_range(len.saturating_sub(3), len);
        };
        read_all(&v);
        let len = v.len();
        if len > 0 && len <= 1 << 20 {
            let last = len - 1;
            if v.store(last, VEC_MARK).is_ok() {
                if let Ok(old) = v.fetch_add(last, 1) {
                    check(last, old);
                }
            }
        }
        if len < 1 << 20 {
            let _ = v.expand(len + 3);
            let _ = v.expand(len + 100);
        }
        let _ = v.verify().map(|r| format!("{r:?}"));
        read_all(&v);
        let _ = v.repair().map(|r| format!("{r:?}"));
        read_all(&v);
    }
}

/// Every array: every element (through copies and through its memory, as NumPy reads it),
/// a write, typed views, its check.
fn exercise_arrays(store: &Store, path: &str, expect: &Expect, when: &str) {
    let Ok(objects) = store.objects() else {
        return;
    };
    let snapshot = std::fs::read(path).unwrap_or_default();
    for info in objects.iter().filter(|i| i.kind == ObjectKind::Array) {
        let Ok(a) = store.open_object::<Array>(&info.name) else {
            continue;
        };
        let what = format!("{when}: array {}", info.name);
        let size = a.itemsize();
        let data = file_u64(&snapshot, a.root_offset() + 32);
        let check = |index: u64, element: &[u8]| {
            if !matches!(expect, Expect::Written { .. }) || size != 16 {
                return;
            }
            let in_file = data
                .and_then(|d| d.checked_add(index.checked_mul(16)?))
                .and_then(|at| {
                    snapshot.get(usize::try_from(at).ok()?..usize::try_from(at + 16).ok()?)
                });
            assert!(
                element == sweep_record(index)
                    || element == [0; 16]
                    || element == ARRAY_MARK
                    || Some(element) == in_file,
                "{what}: element {index} holds {element:?}, never written"
            );
        };
        let _ = (
            a.shape(),
            a.format(),
            a.nbytes(),
            a.stats(),
            a.element_type().fields().len(),
        );
        if a.nbytes() <= 1 << 20 {
            let mut all = vec![0; a.nbytes() as usize];
            if a.read_range(0, &mut all).is_ok() {
                for (i, element) in all.chunks_exact(size as usize).enumerate() {
                    check(i as u64, element);
                }
            }
            // Through the memory itself, as NumPy and C read it: every byte `data_ptr` hands
            // out must be inside the mapped file (a bad offset would raise SIGBUS here).
            let p = a.data_ptr().as_ptr();
            let mut sum = 0u64;
            for i in 0..a.nbytes() as usize {
                // SAFETY: `data_ptr` promises `nbytes` readable bytes while `a` lives; the
                // read is volatile because other processes may write them.
                sum += u64::from(unsafe { std::ptr::read_volatile(p.add(i)) });
            }
            std::hint::black_box(sum);
        }
        let _ = a.read(a.len(), &mut vec![0; size as usize]);
        let _ = a.flat_index(&vec![u64::MAX; a.shape().len()]);
        if !a.is_empty() && size == 16 {
            let _ = a.write(a.len() - 1, &ARRAY_MARK);
            let mut back = [0; 16];
            if a.read(a.len() - 1, &mut back).is_ok() {
                check(a.len() - 1, &back);
            }
        }
        let _ = a.typed::<i64>();
        let _ = a.verify().map(|r| format!("{r:?}"));
    }
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
