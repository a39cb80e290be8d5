//! How lookups treat the GIL: a lookup first tries the lock-free read with the GIL held
//! (`HashMap::try_get_into_lock_free`: a validated optimistic copy, ~100 ns), and releases
//! the GIL only if it must fall back to waiting for the shard lock. Handing the GIL over and
//! back would add about a quarter to a lookup for no gain.
//!
//! Invariant: the GIL is never held while waiting for a lock (writes always release it;
//! lookups release it before their fallback).
//!
//! ```python
//! shmkit._shmkit._set_reads_release_gil(True)   # benchmarks: release on every lookup
//! ```

use pyo3::prelude::*;
use shmkit::{HashMap, MapError};
use std::sync::atomic::{AtomicBool, Ordering};

/// Whether lookups release the GIL up front (off: see the module documentation).
static READS_RELEASE_GIL: AtomicBool = AtomicBool::new(false);

/// Sets whether lookups release the GIL; returns the previous setting (for benchmarks).
#[pyfunction]
pub fn _set_reads_release_gil(on: bool) -> bool {
    READS_RELEASE_GIL.swap(on, Ordering::Relaxed)
}

/// Reads `k` into `v`; true if found.
#[inline]
pub fn read_into(
    py: Python<'_>,
    map: &HashMap,
    k: &[u8],
    v: &mut Vec<u8>,
) -> Result<bool, MapError> {
    if READS_RELEASE_GIL.load(Ordering::Relaxed) {
        return py.detach(|| map.get_into(k, v));
    }
    match map.try_get_into_lock_free(k, v)? {
        Some(found) => Ok(found),
        None => py.detach(|| map.get_into(k, v)),
    }
}

/// `k in map`.
#[inline]
pub fn contains(py: Python<'_>, map: &HashMap, k: &[u8]) -> Result<bool, MapError> {
    if READS_RELEASE_GIL.load(Ordering::Relaxed) {
        return py.detach(|| map.contains_key(k));
    }
    match map.try_contains_key_lock_free(k)? {
        Some(found) => Ok(found),
        None => py.detach(|| map.contains_key(k)),
    }
}
