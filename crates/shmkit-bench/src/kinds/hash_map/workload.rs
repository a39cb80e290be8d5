//! The hash map section's workload, shared by the worker processes (on a shmkit `HashMap`)
//! and the in-process baseline (on a `std::collections::HashMap`), so both run the very same
//! loop.
//!
//! Keys and values are [`crate::data`]'s: a value read back tells exactly which key and which
//! write it came from. Worker `w` of `W`
//! owns keys `w, w + W, w + 2W, ...`: it loads and deletes only those, and in the mixed phase
//! overwrites them in order with variant 1, so after the phase the expected value of every
//! key is known exactly.
//!
//! Invariants: every value read is compared with what it must be (variant 0, or in the mixed
//! phase variant 0 or 1); a wrong value is counted as an error, never ignored; every delete
//! must find its key.
//!
//! ```text
//! load(map, spec)  read(map, spec, 2 s, seed)  mixed(map, spec, 2 s, seed)
//! verify_all(map, keys, value_size, written)  delete(map, spec)
//! ```

use crate::data::{KEY_LEN, Rng, fill_value, key_of};
use crate::harness::{CHECK_EVERY, Outcome, Progress};
use std::time::{Duration, Instant};

/// Share of writes in the mixed phase, in percent.
pub const MIXED_WRITE_PERCENT: u64 = 10;

/// A map the workload runs on.
pub trait Target {
    /// Inserts or overwrites.
    fn set(&mut self, key: &[u8], value: &[u8]) -> Result<(), String>;
    /// Copies the value of `key` into `buf`; false if absent.
    fn get_into(&mut self, key: &[u8], buf: &mut Vec<u8>) -> Result<bool, String>;
    /// Removes `key`; true if it was present.
    fn delete(&mut self, key: &[u8]) -> Result<bool, String>;
}

impl Target for shmkit::HashMap {
    #[inline]
    fn set(&mut self, key: &[u8], value: &[u8]) -> Result<(), String> {
        shmkit::HashMap::set(self, key, value).map_err(|e| e.to_string())
    }
    #[inline]
    fn get_into(&mut self, key: &[u8], buf: &mut Vec<u8>) -> Result<bool, String> {
        shmkit::HashMap::get_into(self, key, buf).map_err(|e| e.to_string())
    }
    #[inline]
    fn delete(&mut self, key: &[u8]) -> Result<bool, String> {
        shmkit::HashMap::delete(self, key).map_err(|e| e.to_string())
    }
}

/// The baseline: a process-private std hash map (owned keys and values, like a cache).
#[derive(Default)]
pub struct StdMap(pub std::collections::HashMap<Vec<u8>, Vec<u8>>);

impl Target for StdMap {
    #[inline]
    fn set(&mut self, key: &[u8], value: &[u8]) -> Result<(), String> {
        match self.0.get_mut(key) {
            Some(v) => {
                v.clear();
                v.extend_from_slice(value);
            }
            None => {
                self.0.insert(key.to_vec(), value.to_vec());
            }
        }
        Ok(())
    }
    #[inline]
    fn get_into(&mut self, key: &[u8], buf: &mut Vec<u8>) -> Result<bool, String> {
        buf.clear();
        match self.0.get(key) {
            Some(v) => {
                buf.extend_from_slice(v);
                Ok(true)
            }
            None => Ok(false),
        }
    }
    #[inline]
    fn delete(&mut self, key: &[u8]) -> Result<bool, String> {
        Ok(self.0.remove(key).is_some())
    }
}

/// Which keys a worker owns and how values look.
#[derive(Clone, Copy, Debug)]
pub struct Spec {
    /// Keys in the whole map.
    pub keys: u64,
    /// Bytes per value.
    pub value_size: usize,
    /// This worker's index.
    pub worker: u64,
    /// Number of workers.
    pub workers: u64,
}

impl Spec {
    /// Keys this worker owns.
    pub fn own_count(&self) -> u64 {
        if self.worker >= self.keys {
            0
        } else {
            (self.keys - self.worker).div_ceil(self.workers)
        }
    }

    /// The `j`-th key this worker owns.
    pub fn own_key(&self, j: u64) -> u64 {
        self.worker + j * self.workers
    }
}

/// Inserts this worker's keys (variant 0).
pub fn load(t: &mut impl Target, spec: &Spec, progress: Progress<'_>) -> Result<Outcome, String> {
    let start = Instant::now();
    let mut out = Outcome::default();
    let mut key = [0u8; KEY_LEN];
    let mut value = Vec::with_capacity(spec.value_size);
    for j in 0..spec.own_count() {
        let i = spec.own_key(j);
        key_of(i, &mut key);
        fill_value(&mut value, i, 0, spec.value_size);
        t.set(&key, &value)?;
        out.ops += 1;
        if out.ops % CHECK_EVERY == 0 && !progress(out.ops) {
            break;
        }
    }
    out.nanos = start.elapsed().as_nanos() as u64;
    Ok(out)
}

/// Reads random keys of the whole map for `duration`, checking each value.
pub fn read(
    t: &mut impl Target,
    spec: &Spec,
    duration: Duration,
    seed: u64,
    progress: Progress<'_>,
) -> Result<Outcome, String> {
    let start = Instant::now();
    let mut out = Outcome::default();
    let mut rng = Rng::new(seed);
    let (mut key, mut buf, mut expected) = ([0u8; KEY_LEN], Vec::new(), Vec::new());
    loop {
        let i = rng.below(spec.keys);
        key_of(i, &mut key);
        let found = t.get_into(&key, &mut buf)?;
        fill_value(&mut expected, i, 0, spec.value_size);
        if !found || buf != expected {
            out.error(|| format!("key {i}: {}", if found { "wrong value" } else { "missing" }));
        }
        out.ops += 1;
        if out.ops % CHECK_EVERY == 0 && (start.elapsed() >= duration || !progress(out.ops)) {
            break;
        }
    }
    out.nanos = start.elapsed().as_nanos() as u64;
    Ok(out)
}

/// Random reads of the whole map mixed with overwrites of this worker's own keys (in order,
/// variant 1), for `duration`. Reads accept variant 0 or 1.
pub fn mixed(
    t: &mut impl Target,
    spec: &Spec,
    duration: Duration,
    seed: u64,
    progress: Progress<'_>,
) -> Result<Outcome, String> {
    let start = Instant::now();
    let mut out = Outcome::default();
    let mut rng = Rng::new(seed);
    let own = spec.own_count();
    let mut cursor = 0u64;
    let (mut key, mut buf, mut expected) = ([0u8; KEY_LEN], Vec::new(), Vec::new());
    loop {
        let r = rng.next_u64();
        if r % 100 < MIXED_WRITE_PERCENT && own > 0 {
            let i = spec.own_key(cursor % own);
            key_of(i, &mut key);
            fill_value(&mut expected, i, 1, spec.value_size);
            t.set(&key, &expected)?;
            cursor += 1;
        } else {
            let i = rng.below(spec.keys);
            key_of(i, &mut key);
            let found = t.get_into(&key, &mut buf)?;
            fill_value(&mut expected, i, 0, spec.value_size);
            let ok = found
                && (buf == expected || {
                    fill_value(&mut expected, i, 1, spec.value_size);
                    buf == expected
                });
            if !ok {
                out.error(|| format!("key {i}: {}", if found { "wrong value" } else { "missing" }));
            }
        }
        out.ops += 1;
        if out.ops % CHECK_EVERY == 0 && (start.elapsed() >= duration || !progress(out.ops)) {
            break;
        }
    }
    out.written = cursor.min(own);
    out.nanos = start.elapsed().as_nanos() as u64;
    Ok(out)
}

/// Deletes this worker's keys; each must be present.
pub fn delete(t: &mut impl Target, spec: &Spec, progress: Progress<'_>) -> Result<Outcome, String> {
    let start = Instant::now();
    let mut out = Outcome::default();
    let mut key = [0u8; KEY_LEN];
    for j in 0..spec.own_count() {
        let i = spec.own_key(j);
        key_of(i, &mut key);
        if !t.delete(&key)? {
            out.error(|| format!("key {i}: missing at delete"));
        }
        out.ops += 1;
        if out.ops % CHECK_EVERY == 0 && !progress(out.ops) {
            break;
        }
    }
    out.nanos = start.elapsed().as_nanos() as u64;
    Ok(out)
}

/// After a mixed phase run by `workers` workers, of which worker `w` overwrote its first
/// `written[w]` keys: checks every key's value. Returns (checked, wrong, first wrong).
pub fn verify_all(
    t: &mut impl Target,
    keys: u64,
    value_size: usize,
    written: &[u64],
) -> Result<(u64, u64, Option<String>), String> {
    let workers = written.len() as u64;
    let (mut key, mut buf, mut expected) = ([0u8; KEY_LEN], Vec::new(), Vec::new());
    let (mut wrong, mut first) = (0u64, None);
    for i in 0..keys {
        let (w, j) = (i % workers, i / workers);
        let variant = u8::from(j < written[w as usize]);
        key_of(i, &mut key);
        let found = t.get_into(&key, &mut buf)?;
        fill_value(&mut expected, i, variant, value_size);
        if !found || buf != expected {
            wrong += 1;
            if first.is_none() {
                first = Some(format!(
                    "key {i}: {} (expected variant {variant})",
                    if found { "wrong value" } else { "missing" }
                ));
            }
        }
    }
    Ok((keys, wrong, first))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workers_partition_the_keys() {
        let specs: Vec<Spec> = (0..3)
            .map(|w| Spec {
                keys: 10,
                value_size: 8,
                worker: w,
                workers: 3,
            })
            .collect();
        let mut all: Vec<u64> = specs
            .iter()
            .flat_map(|s| (0..s.own_count()).map(|j| s.own_key(j)))
            .collect();
        all.sort();
        assert_eq!(all, (0..10).collect::<Vec<_>>());
    }

    #[test]
    fn phases_on_the_baseline_check_every_value() {
        let mut m = StdMap::default();
        let spec = Spec {
            keys: 5000,
            value_size: 24,
            worker: 0,
            workers: 1,
        };
        let mut go = |_| true;
        assert_eq!(load(&mut m, &spec, &mut go).unwrap().ops, 5000);
        let r = read(&mut m, &spec, Duration::from_millis(20), 1, &mut go).unwrap();
        assert_eq!(r.errors, 0);
        let x = mixed(&mut m, &spec, Duration::from_millis(20), 2, &mut go).unwrap();
        assert_eq!(x.errors, 0);
        assert!(x.written > 0);
        assert_eq!(verify_all(&mut m, 5000, 24, &[x.written]).unwrap().1, 0);
        // A wrong value is noticed.
        m.0.insert(b"key:000000000007".to_vec(), vec![0; 24]);
        assert_eq!(verify_all(&mut m, 5000, 24, &[x.written]).unwrap().1, 1);
        let d = delete(&mut m, &spec, &mut go).unwrap();
        assert_eq!((d.ops, d.errors), (5000, 0));
        assert!(m.0.is_empty());
    }
}
