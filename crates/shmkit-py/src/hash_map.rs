//! `shmkit.HashMap`: a shared hash map that behaves like a `dict`.
//!
//! Invariants:
//! - keys and values are converted by [`crate::codec`] before any store operation, and
//!   decoded after it: no Python code ever runs while a shard lock is held (`incr` computes
//!   its result in Rust inside `HashMap::update`);
//! - writes (which wait for a shard lock) run with the GIL released, so other Python threads
//!   run while this one waits for a lock held by another process; lookups keep the GIL while
//!   they are lock-free, and release it if they must fall back to waiting for the shard
//!   lock (see `READS_RELEASE_GIL`): the GIL is never held while waiting for a lock;
//! - the hot paths encode into reused per-thread buffers and read with `get_into`, building
//!   the Python result straight from the bytes;
//! - iteration is weakly consistent (one shard copied at a time, so memory is bounded by a
//!   shard); it never raises because the map changed.
//!
//! ```python
//! m = store.hash_map("counters")
//! m["hits"] = 0
//! m.incr("hits")                     # atomic across processes -> 1
//! m.compare_and_set("owner", shmkit.MISSING, "me")   # claim if absent
//! ```

use crate::bigint;
use crate::buffers::with_scratch;
use crate::codec::{self, decode, encode_key, encode_value};
use crate::errors::{self, ResultExt};
use crate::map_api::{HashMap, UpdateAction};
use pyo3::prelude::*;
use pyo3::pyclass::CompareOp;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBool, PyBytes, PyDict, PyFloat, PyInt, PyTuple};
use shmkit::value::{TAG_BIG_INT, TAG_FLOAT, TAG_INT};
use std::sync::atomic::{AtomicBool, Ordering};

/// Whether lookups release the GIL up front. Off: a lookup is tried lock-free first (it
/// retries instead of waiting) and takes ~100 ns, so handing the GIL over and back would add
/// a quarter to its cost for no gain; only if it has to fall back to the shard lock is the
/// GIL released for the wait. Writes always release it: they wait for shard locks.
pub static READS_RELEASE_GIL: AtomicBool = AtomicBool::new(false);

/// Sets whether lookups release the GIL; returns the previous setting (for benchmarks).
#[pyfunction]
pub fn _set_reads_release_gil(on: bool) -> bool {
    READS_RELEASE_GIL.swap(on, Ordering::Relaxed)
}

/// One `(key, value)` pair as stored.
type Item = (Vec<u8>, Vec<u8>);

/// The `shmkit.MISSING` sentinel: "absent" in `compare_and_set`.
#[pyclass(module = "shmkit", name = "_Missing", frozen)]
pub struct Missing;

#[pymethods]
impl Missing {
    fn __repr__(&self) -> &'static str {
        "shmkit.MISSING"
    }
    fn __bool__(&self) -> bool {
        false
    }
    fn __reduce__(&self) -> &'static str {
        "MISSING"
    }
}

/// The module's one `Missing` instance.
pub static MISSING: PyOnceLock<Py<Missing>> = PyOnceLock::new();

/// The sentinel object.
pub fn missing(py: Python<'_>) -> PyResult<&Py<Missing>> {
    MISSING.get_or_try_init(py, || Py::new(py, Missing))
}

static VIEWS: PyOnceLock<Py<PyModule>> = PyOnceLock::new();

fn view<'py>(slf: &Bound<'py, PyHashMap>, class: &str) -> PyResult<Bound<'py, PyAny>> {
    let py = slf.py();
    let module = VIEWS.get_or_try_init(py, || py.import("shmkit._views").map(Bound::unbind))?;
    module.bind(py).getattr(class)?.call1((slf,))
}

/// A hash map handle (see the module documentation).
#[pyclass(module = "shmkit", name = "HashMap", frozen, mapping)]
pub struct PyHashMap {
    map: HashMap,
    raw: bool,
    exact_keys: bool,
    store_name: String,
    closed: AtomicBool,
    /// `popitem`'s cursor: the next shard to copy, and the not yet popped entries of the
    /// last copied one (so draining a map copies each shard once, not once per item).
    pop_cursor: std::sync::Mutex<(u32, Vec<Item>)>,
}

/// The `delta` argument of `incr` as given (1 when omitted; an explicit `None` is an error).
pub enum DeltaArg<'py> {
    One,
    Given(Bound<'py, PyAny>),
}

impl<'a, 'py> FromPyObject<'a, 'py> for DeltaArg<'py> {
    type Error = PyErr;
    fn extract(obj: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        Ok(DeltaArg::Given(obj.to_owned()))
    }
}

/// The delta of `incr`.
enum Delta {
    /// Two's complement little-endian.
    Int(Vec<u8>),
    Float(f64),
}

/// What an `incr` found under the lock.
#[derive(Clone, Copy, PartialEq, Eq)]
enum IncrOutcome {
    Done,
    /// The stored value is not a number (its tag).
    WrongType(u8),
    /// A combination computed in Python with a compare-and-set loop (big int and float).
    Slow,
}

impl PyHashMap {
    /// A handle on `map`.
    pub fn new(map: HashMap, raw: bool, exact_keys: bool, store_name: String) -> PyHashMap {
        PyHashMap {
            map,
            raw,
            exact_keys,
            store_name,
            closed: AtomicBool::new(false),
            pop_cursor: std::sync::Mutex::new((0, Vec::new())),
        }
    }

    #[inline]
    fn open(&self, py: Python<'_>) -> PyResult<&HashMap> {
        if self.closed.load(Ordering::Relaxed) {
            return Err(errors::closed(py, "HashMap"));
        }
        Ok(&self.map)
    }

    /// Appends the stored form of `key` to `out`.
    #[inline]
    fn key_into(&self, key: &Bound<'_, PyAny>, out: &mut Vec<u8>) -> PyResult<()> {
        if self.raw {
            codec::raw_bytes(key, out)
        } else if self.exact_keys {
            encode_value(key, out)
        } else {
            encode_key(key, out)
        }
    }

    /// Appends the stored form of `value` to `out`.
    #[inline]
    fn value_into(&self, value: &Bound<'_, PyAny>, out: &mut Vec<u8>) -> PyResult<()> {
        if self.raw {
            codec::raw_bytes(value, out)
        } else {
            encode_value(value, out)
        }
    }

    /// The stored form of `key` in a new buffer (paths that are not hot).
    fn key(&self, key: &Bound<'_, PyAny>) -> PyResult<Vec<u8>> {
        let mut buf = Vec::new();
        self.key_into(key, &mut buf)?;
        Ok(buf)
    }

    /// The stored form of `value` in a new buffer.
    fn value(&self, value: &Bound<'_, PyAny>) -> PyResult<Vec<u8>> {
        let mut buf = Vec::new();
        self.value_into(value, &mut buf)?;
        Ok(buf)
    }

    /// Encodes a value, or `None` for `MISSING`.
    fn optional_value(&self, value: &Bound<'_, PyAny>) -> PyResult<Option<Vec<u8>>> {
        if value.is(missing(value.py())?) {
            return Ok(None);
        }
        self.value(value).map(Some)
    }

    /// Reads `k` into `v` holding the GIL only while the read is lock-free: the seqlock read
    /// retries instead of waiting; if writers keep interfering the read must take the shard
    /// lock, and that wait happens with the GIL released, so other Python threads run. See
    /// [`READS_RELEASE_GIL`].
    #[inline]
    fn read_into(
        &self,
        py: Python<'_>,
        map: &HashMap,
        k: &[u8],
        v: &mut Vec<u8>,
    ) -> Result<bool, crate::map_api::MapError> {
        if READS_RELEASE_GIL.load(Ordering::Relaxed) {
            return py.detach(|| map.get_into(k, v));
        }
        match map.try_get_into_lock_free(k, v)? {
            Some(found) => Ok(found),
            None => py.detach(|| map.get_into(k, v)),
        }
    }

    /// `k in map`, with the GIL released only if the read has to wait for the shard lock.
    #[inline]
    fn read_contains(
        &self,
        py: Python<'_>,
        map: &HashMap,
        k: &[u8],
    ) -> Result<bool, crate::map_api::MapError> {
        if READS_RELEASE_GIL.load(Ordering::Relaxed) {
            return py.detach(|| map.contains_key(k));
        }
        match map.try_contains_key_lock_free(k)? {
            Some(found) => Ok(found),
            None => py.detach(|| map.contains_key(k)),
        }
    }

    #[inline]
    fn decode_value<'py>(&self, py: Python<'py>, bytes: &[u8]) -> PyResult<Bound<'py, PyAny>> {
        if self.raw {
            Ok(PyBytes::new(py, bytes).into_any())
        } else {
            decode(py, bytes)
        }
    }

    fn missing_key(py: Python<'_>, key: &Bound<'_, PyAny>) -> PyErr {
        match errors::class(py, "KeyNotFoundError") {
            Ok(cls) => PyErr::from_type(cls, (key.clone().unbind(),)),
            Err(e) => e,
        }
    }

    /// A snapshot of the items (keys only when `values` is false), taken without the GIL.
    fn snapshot(&self, py: Python<'_>, values: bool) -> PyResult<Vec<(Vec<u8>, Vec<u8>)>> {
        let map = self.open(py)?;
        let items = py.detach(|| -> Result<Vec<Item>, crate::map_api::MapError> {
            if values {
                map.iter().collect()
            } else {
                map.keys().map(|k| k.map(|k| (k, Vec::new()))).collect()
            }
        });
        items.py_err(py)
    }

    fn iterator(&self, py: Python<'_>, kind: IterKind) -> PyResult<MapIter> {
        let map = self.open(py)?.clone();
        let shard_count = map.shard_count();
        Ok(MapIter {
            map,
            next_shard: 0,
            shard_count,
            items: Vec::new().into_iter(),
            kind,
            raw: self.raw,
        })
    }

    /// `incr` computed in Python: read, add, compare-and-set, retry.
    fn incr_slow<'py>(
        &self,
        py: Python<'py>,
        key: &[u8],
        delta: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let map = self.open(py)?;
        loop {
            let current = py.detach(|| map.get(key)).py_err(py)?;
            let Some(current) = current else {
                let mut new = Vec::new();
                encode_value(delta, &mut new)?;
                if py
                    .detach(|| map.compare_and_set(key, None, Some(&new)))
                    .py_err(py)?
                {
                    return decode(py, &new);
                }
                continue;
            };
            let sum = decode(py, &current)?.add(delta)?;
            let mut new = Vec::new();
            encode_value(&sum, &mut new)?;
            if py
                .detach(|| map.compare_and_set(key, Some(&current), Some(&new)))
                .py_err(py)?
            {
                return Ok(sum);
            }
        }
    }

    fn parse_delta(delta: &Bound<'_, PyAny>) -> PyResult<Delta> {
        if delta.is_instance_of::<PyBool>() {
            return Err(pyo3::exceptions::PyTypeError::new_err(
                "incr delta must be an int or a float, not bool",
            ));
        }
        if delta.is_instance_of::<PyInt>() {
            let mut buf = Vec::with_capacity(9);
            encode_value(&delta.call_method0("__index__")?, &mut buf)?;
            let mut n = buf.split_off(1);
            bigint::trim(&mut n, 0);
            return Ok(Delta::Int(n));
        }
        if delta.is_instance_of::<PyFloat>() {
            return Ok(Delta::Float(delta.cast::<PyFloat>()?.value()));
        }
        Err(pyo3::exceptions::PyTypeError::new_err(format!(
            "incr delta must be an int or a float, not {}",
            delta.get_type().name()?
        )))
    }

    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        for (k, v) in self.snapshot(py, true)? {
            let key = self.decode_value(py, &k)?;
            d.set_item(key, self.decode_value(py, &v)?)?;
        }
        Ok(d)
    }
}

/// The typed sum of a stored number and a delta, or why there is none.
fn add_typed(current: &[u8], delta: &Delta) -> Result<Vec<u8>, IncrOutcome> {
    let (&tag, payload) = current.split_first().ok_or(IncrOutcome::WrongType(0xff))?;
    let as_f64 = |p: &[u8]| {
        p.try_into()
            .map(f64::from_le_bytes)
            .map_err(|_| IncrOutcome::WrongType(tag))
    };
    let as_i64 = |p: &[u8]| {
        p.try_into()
            .map(i64::from_le_bytes)
            .map_err(|_| IncrOutcome::WrongType(tag))
    };
    let float = |f: f64| [&[TAG_FLOAT][..], &f.to_le_bytes()].concat();
    match (tag, delta) {
        (TAG_INT, Delta::Int(d)) => Ok(bigint::encode_int(&bigint::add(
            &as_i64(payload)?.to_le_bytes(),
            d,
        ))),
        (TAG_INT, Delta::Float(f)) => Ok(float(as_i64(payload)? as f64 + f)),
        (TAG_BIG_INT, Delta::Int(d)) if !payload.is_empty() => {
            Ok(bigint::encode_int(&bigint::add(payload, d)))
        }
        (TAG_BIG_INT, Delta::Float(_)) => Err(IncrOutcome::Slow),
        (TAG_FLOAT, Delta::Float(f)) => Ok(float(as_f64(payload)? + f)),
        (TAG_FLOAT, Delta::Int(d)) => match bigint::to_i64(d) {
            Some(i) => Ok(float(as_f64(payload)? + i as f64)),
            None => Err(IncrOutcome::Slow),
        },
        _ => Err(IncrOutcome::WrongType(tag)),
    }
}

fn type_name_of_tag(tag: u8) -> &'static str {
    match tag {
        0x00 => "None",
        0x01 | 0x02 => "bool",
        0x05 => "bytes",
        0x06 => "str",
        0x08 => "pickled object",
        _ => "non-numeric value",
    }
}

#[pymethods]
impl PyHashMap {
    fn __getitem__<'py>(
        &self,
        py: Python<'py>,
        key: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let map = self.open(py)?;
        with_scratch(|k, v| {
            self.key_into(key, k)?;
            if self.read_into(py, map, k, v).py_err(py)? {
                self.decode_value(py, v)
            } else {
                Err(Self::missing_key(py, key))
            }
        })
    }

    fn __setitem__(
        &self,
        py: Python<'_>,
        key: &Bound<'_, PyAny>,
        value: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        let map = self.open(py)?;
        with_scratch(|k, v| {
            self.key_into(key, k)?;
            self.value_into(value, v)?;
            py.detach(|| map.set(k, v)).py_err(py)
        })
    }

    fn __delitem__(&self, py: Python<'_>, key: &Bound<'_, PyAny>) -> PyResult<()> {
        let map = self.open(py)?;
        let deleted = with_scratch(|k, _| {
            self.key_into(key, k)?;
            py.detach(|| map.delete(k)).py_err(py)
        })?;
        if deleted {
            Ok(())
        } else {
            Err(Self::missing_key(py, key))
        }
    }

    fn __contains__(&self, py: Python<'_>, key: &Bound<'_, PyAny>) -> PyResult<bool> {
        let map = self.open(py)?;
        // Unhashable keys raise TypeError, as `[] in d` does for a dict.
        with_scratch(|k, _| {
            self.key_into(key, k)?;
            self.read_contains(py, map, k).py_err(py)
        })
    }

    fn __len__(&self, py: Python<'_>) -> PyResult<usize> {
        Ok(self.open(py)?.len() as usize)
    }

    fn __iter__(&self, py: Python<'_>) -> PyResult<MapIter> {
        self.iterator(py, IterKind::Keys)
    }

    fn _iter_values(&self, py: Python<'_>) -> PyResult<MapIter> {
        self.iterator(py, IterKind::Values)
    }

    fn _iter_items(&self, py: Python<'_>) -> PyResult<MapIter> {
        self.iterator(py, IterKind::Items)
    }

    /// `m[key]` if present, else `default`.
    #[pyo3(signature = (key, default = None))]
    fn get<'py>(
        &self,
        py: Python<'py>,
        key: &Bound<'py, PyAny>,
        default: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let map = self.open(py)?;
        let found = with_scratch(|k, v| {
            self.key_into(key, k)?;
            if self.read_into(py, map, k, v).py_err(py)? {
                self.decode_value(py, v).map(Some)
            } else {
                Ok(None)
            }
        })?;
        Ok(found
            .or(default)
            .unwrap_or_else(|| py.None().into_bound(py)))
    }

    /// A view of the keys (like `dict.keys()`; iterates shard by shard, weakly consistent).
    fn keys<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        view(slf, "KeysView")
    }

    /// A view of the values.
    fn values<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        view(slf, "ValuesView")
    }

    /// A view of the `(key, value)` pairs.
    fn items<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        view(slf, "ItemsView")
    }

    /// Removes `key` and returns its value; `default` (if given) when absent, else KeyError.
    #[pyo3(signature = (key, *default))]
    fn pop<'py>(
        &self,
        py: Python<'py>,
        key: &Bound<'py, PyAny>,
        default: &Bound<'py, PyTuple>,
    ) -> PyResult<Bound<'py, PyAny>> {
        if default.len() > 1 {
            return Err(pyo3::exceptions::PyTypeError::new_err(format!(
                "pop expected at most 2 arguments, got {}",
                default.len() + 1
            )));
        }
        let map = self.open(py)?;
        let k = self.key(key)?;
        match py.detach(|| map.remove(&k)).py_err(py)? {
            Some(v) => self.decode_value(py, &v),
            None if default.len() == 1 => default.get_item(0),
            None => Err(Self::missing_key(py, key)),
        }
    }

    /// Removes `key` if present; True if it was (like `set.discard`, never raises KeyError).
    fn discard(&self, py: Python<'_>, key: &Bound<'_, PyAny>) -> PyResult<bool> {
        let map = self.open(py)?;
        let k = self.key(key)?;
        py.detach(|| map.delete(&k)).py_err(py)
    }

    /// Removes and returns some `(key, value)` pair; KeyError if the map is empty.
    ///
    /// Pops from a copy of one shard at a time (kept between calls), removing each entry
    /// only if it still holds the copied value, so draining a map costs one shard copy per
    /// shard, and another process's concurrent change is never lost.
    fn popitem<'py>(&self, py: Python<'py>) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyAny>)> {
        let map = self.open(py)?;
        let shards = map.shard_count();
        let lock = || self.pop_cursor.lock().unwrap_or_else(|p| p.into_inner());
        let mut empty_in_a_row = 0u32;
        loop {
            // Keys rewritten by other processes all the time make the compare-and-set fail
            // again and again: let Ctrl-C through.
            py.check_signals()?;
            let candidate = lock().1.pop();
            if let Some((k, v)) = candidate {
                // Remove exactly the value we return, even if another process changes it.
                if py
                    .detach(|| map.compare_and_set(&k, Some(&v), None))
                    .py_err(py)?
                {
                    return Ok((self.decode_value(py, &k)?, self.decode_value(py, &v)?));
                }
                continue;
            }
            if empty_in_a_row >= shards {
                return Err(errors::err(
                    py,
                    "KeyNotFoundError",
                    "popitem(): map is empty",
                ));
            }
            let index = {
                let mut cursor = lock();
                let index = cursor.0 % shards;
                cursor.0 = (index + 1) % shards;
                index
            };
            let entries = py.detach(|| map.shard_entries(index, false)).py_err(py)?;
            if entries.is_empty() {
                empty_in_a_row += 1;
            } else {
                empty_in_a_row = 0;
                // Another thread of this handle may have refilled the copy meanwhile: keep
                // both (a duplicate's compare-and-set just fails).
                lock().1.extend(entries);
            }
        }
    }

    /// `m[key]` if present; else stores `default` and returns it (atomically).
    #[pyo3(signature = (key, default = None))]
    fn setdefault<'py>(
        &self,
        py: Python<'py>,
        key: &Bound<'py, PyAny>,
        default: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let map = self.open(py)?;
        let default = default.unwrap_or_else(|| py.None().into_bound(py));
        let k = self.key(key)?;
        let d = self.value(&default)?;
        let after = py
            .detach(|| {
                map.update(&k, |cur| match cur {
                    Some(_) => UpdateAction::Keep,
                    None => UpdateAction::Set(d.to_vec()),
                })
            })
            .py_err(py)?;
        match after {
            Some(v) => self.decode_value(py, &v),
            None => Ok(default),
        }
    }

    /// Like `dict.update`: from a mapping (anything with `keys()`), an iterable of pairs,
    /// and keyword arguments. Each pair is one atomic write; the batch is not atomic.
    #[pyo3(signature = (*args, **kwargs))]
    fn update(
        &self,
        py: Python<'_>,
        args: &Bound<'_, PyTuple>,
        kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<()> {
        if args.len() > 1 {
            return Err(pyo3::exceptions::PyTypeError::new_err(format!(
                "update expected at most 1 argument, got {}",
                args.len()
            )));
        }
        if let Some(other) = args.iter().next() {
            if other.hasattr("keys")? {
                for key in other.call_method0("keys")?.try_iter()? {
                    let key = key?;
                    let value = other.get_item(&key)?;
                    self.__setitem__(py, &key, &value)?;
                }
            } else {
                for item in other.try_iter()? {
                    let item = item?;
                    let pair: Vec<Bound<'_, PyAny>> = item.try_iter()?.collect::<PyResult<_>>()?;
                    if pair.len() != 2 {
                        return Err(pyo3::exceptions::PyValueError::new_err(format!(
                            "dictionary update sequence element has length {}; 2 is required",
                            pair.len()
                        )));
                    }
                    self.__setitem__(py, &pair[0], &pair[1])?;
                }
            }
        }
        if let Some(kwargs) = kwargs {
            for (k, v) in kwargs.iter() {
                self.__setitem__(py, &k, &v)?;
            }
        }
        Ok(())
    }

    /// Removes every item.
    fn clear(&self, py: Python<'_>) -> PyResult<()> {
        let map = self.open(py)?;
        py.detach(|| map.clear()).py_err(py)
    }

    /// One atomic conditional write. `expected` is the value the key must hold, or
    /// `shmkit.MISSING` for "must be absent"; `new` is the value to store, or `shmkit.MISSING`
    /// to delete. Values are compared by their encoding (so `1 != 1.0` here). Returns True if
    /// the condition held and the write happened.
    fn compare_and_set(
        &self,
        py: Python<'_>,
        key: &Bound<'_, PyAny>,
        expected: &Bound<'_, PyAny>,
        new: &Bound<'_, PyAny>,
    ) -> PyResult<bool> {
        let map = self.open(py)?;
        let k = self.key(key)?;
        let expected = self.optional_value(expected)?;
        let new = self.optional_value(new)?;
        py.detach(|| map.compare_and_set(&k, expected.as_deref(), new.as_deref()))
            .py_err(py)
    }

    /// Atomically adds `delta` (int or float) to the number at `key` (missing counts as 0)
    /// and returns the new value. Ints never overflow (they grow into big ints); int + float
    /// gives a float. A non-numeric value raises `NotAnIntegerError` (a TypeError) and is
    /// left unchanged. On a raw map the value is an 8-byte little-endian i64 (int delta) or
    /// f64 (float delta), wrapping on overflow.
    #[pyo3(signature = (key, delta = DeltaArg::One))]
    fn incr<'py>(
        &self,
        py: Python<'py>,
        key: &Bound<'py, PyAny>,
        delta: DeltaArg<'py>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let map = self.open(py)?;
        let delta = match delta {
            DeltaArg::Given(d) => d,
            DeltaArg::One => 1i64.into_pyobject(py)?.into_any(),
        };
        let parsed = Self::parse_delta(&delta)?;
        let k = self.key(key)?;
        if self.raw {
            return match parsed {
                Delta::Int(d) => {
                    let d = bigint::to_i64(&d).ok_or_else(|| {
                        pyo3::exceptions::PyOverflowError::new_err(
                            "raw incr delta does not fit in i64",
                        )
                    })?;
                    Ok(py
                        .detach(|| map.incr_i64(&k, d))
                        .py_err(py)?
                        .into_pyobject(py)?
                        .into_any())
                }
                Delta::Float(d) => {
                    Ok(PyFloat::new(py, py.detach(|| map.incr_f64(&k, d)).py_err(py)?).into_any())
                }
            };
        }
        let mut outcome = IncrOutcome::Done;
        let after = py
            .detach(|| {
                map.update(&k, |cur| {
                    let new = match cur {
                        None => match &parsed {
                            Delta::Int(d) => Ok(bigint::encode_int(d)),
                            Delta::Float(f) => Ok([&[TAG_FLOAT][..], &f.to_le_bytes()].concat()),
                        },
                        Some(cur) => add_typed(cur, &parsed),
                    };
                    match new {
                        Ok(v) => UpdateAction::Set(v),
                        Err(why) => {
                            outcome = why;
                            UpdateAction::Keep
                        }
                    }
                })
            })
            .py_err(py)?;
        match outcome {
            IncrOutcome::Done => match after {
                Some(v) => decode(py, &v),
                None => Err(errors::err(
                    py,
                    "Error",
                    "incr: value vanished during the update",
                )),
            },
            IncrOutcome::WrongType(tag) => Err(errors::err(
                py,
                "NotAnIntegerError",
                format!(
                    "incr needs an int or float value, but the key holds a {}",
                    type_name_of_tag(tag)
                ),
            )),
            IncrOutcome::Slow => self.incr_slow(py, &k, &delta),
        }
    }

    /// A `dict` copy of the current items.
    #[pyo3(name = "to_dict")]
    fn py_to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        self.to_dict(py)
    }

    /// Full consistency check of the map; returns a report dict (`clean`, `problems`,
    /// `entries`, `repaired`).
    fn verify<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let map = self.open(py)?;
        let r = py.detach(|| map.verify()).py_err(py)?;
        crate::store::map_report(py, &r)
    }

    /// Check and repair what a killed writer left behind.
    fn repair<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let map = self.open(py)?;
        let r = py.detach(|| map.repair()).py_err(py)?;
        crate::store::map_report(py, &r)
    }

    /// Size and layout figures of the map.
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let map = self.open(py)?;
        let s = py.detach(|| map.stats()).py_err(py)?;
        let d = PyDict::new(py);
        d.set_item("entries", s.entries)?;
        d.set_item("shards", s.shards)?;
        d.set_item("buckets", s.buckets)?;
        d.set_item("load_factor", s.load_factor)?;
        d.set_item("bytes_used", s.bytes_used)?;
        d.set_item("resizes", s.resizes)?;
        d.set_item("resizing_shards", s.resizing_shards)?;
        Ok(d)
    }

    /// The map's name in its store.
    #[getter]
    fn name(&self) -> &str {
        self.map.name()
    }

    /// The name (or path) of the store holding the map.
    #[getter]
    fn store_name(&self) -> &str {
        &self.store_name
    }

    /// True if keys match by exact type (`True`, `1` and `1.0` are three keys).
    #[getter]
    fn exact_keys(&self) -> bool {
        self.exact_keys
    }

    /// True for a handle taking and returning plain bytes.
    #[getter]
    fn raw(&self) -> bool {
        self.raw
    }

    /// True once `close()` was called.
    #[getter]
    fn closed(&self) -> bool {
        self.closed.load(Ordering::Relaxed)
    }

    /// Makes this handle unusable (the data stays for everyone else).
    fn close(&self) {
        self.closed.store(true, Ordering::Relaxed);
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    #[pyo3(signature = (*_args))]
    fn __exit__(&self, _args: &Bound<'_, PyTuple>) -> bool {
        self.close();
        false
    }

    fn __richcmp__<'py>(
        slf: &Bound<'py, Self>,
        other: &Bound<'py, PyAny>,
        op: CompareOp,
    ) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        let not_implemented = || py.NotImplemented().into_bound(py);
        let equal = match op {
            CompareOp::Eq | CompareOp::Ne => {
                let abc = py.import("collections.abc")?.getattr("Mapping")?;
                if !other.is_instance(&abc)? {
                    return Ok(not_implemented());
                }
                let this = slf.get();
                if let Ok(o) = other.cast::<PyHashMap>() {
                    let o = o.get();
                    if o.map.store().same_attachment(this.map.store())
                        && o.map.name() == this.map.name()
                        && o.raw == this.raw
                        && o.exact_keys == this.exact_keys
                    {
                        return Ok(PyBool::new(py, matches!(op, CompareOp::Eq))
                            .to_owned()
                            .into_any());
                    }
                }
                let mine = this.to_dict(py)?;
                let theirs = PyDict::new(py);
                theirs.call_method1("update", (other,))?;
                mine.eq(theirs)?
            }
            _ => return Ok(not_implemented()),
        };
        Ok(PyBool::new(py, equal == (matches!(op, CompareOp::Eq)))
            .to_owned()
            .into_any())
    }

    #[allow(clippy::type_complexity)]
    fn __reduce__<'py>(
        slf: &Bound<'py, Self>,
    ) -> PyResult<(Bound<'py, PyAny>, (String, String, bool, bool, String))> {
        let py = slf.py();
        let this = slf.get();
        let path = this.map.store().path().to_string_lossy().into_owned();
        let f = py.import("shmkit._shmkit")?.getattr("_open_map")?;
        Ok((
            f,
            (
                path,
                this.map.name().to_string(),
                this.raw,
                this.exact_keys,
                this.store_name.clone(),
            ),
        ))
    }

    fn __repr__(&self) -> String {
        let raw = if self.raw { ", raw=True" } else { "" };
        let closed = if self.closed() { ", closed" } else { "" };
        format!(
            "shmkit.HashMap({:?}, store={:?}{raw}{closed})",
            self.map.name(),
            self.store_name
        )
    }
}

/// Re-attaches a pickled `HashMap` (the store must exist; the map is opened, not created).
#[pyfunction]
pub fn _open_map(
    py: Python<'_>,
    store_path: &str,
    name: &str,
    raw: bool,
    exact_keys: bool,
    store_name: String,
) -> PyResult<PyHashMap> {
    let store = py.detach(|| shmkit::Store::open(store_path)).py_err(py)?;
    let map = py
        .detach(|| crate::map_api::open(&store, name, false))
        .py_err(py)?;
    Ok(PyHashMap::new(map, raw, exact_keys, store_name))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum IterKind {
    Keys,
    Values,
    Items,
}

/// Iterator over a map: copies one shard at a time (consistently), so memory stays bounded
/// by one shard and an item present for the whole iteration is yielded exactly once.
#[pyclass(module = "shmkit")]
pub struct MapIter {
    map: HashMap,
    next_shard: u32,
    shard_count: u32,
    items: std::vec::IntoIter<(Vec<u8>, Vec<u8>)>,
    kind: IterKind,
    raw: bool,
}

impl MapIter {
    fn decode<'py>(&self, py: Python<'py>, bytes: &[u8]) -> PyResult<Bound<'py, PyAny>> {
        if self.raw {
            Ok(PyBytes::new(py, bytes).into_any())
        } else {
            decode(py, bytes)
        }
    }
}

#[pymethods]
impl MapIter {
    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__<'py>(&mut self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        let (k, v) = loop {
            if let Some(item) = self.items.next() {
                break item;
            }
            if self.next_shard >= self.shard_count {
                return Ok(None);
            }
            let (map, index) = (&self.map, self.next_shard);
            let keys_only = self.kind == IterKind::Keys;
            let entries = py
                .detach(|| map.shard_entries(index, keys_only))
                .py_err(py)?;
            self.next_shard += 1;
            self.items = entries.into_iter();
        };
        Ok(Some(match self.kind {
            IterKind::Keys => self.decode(py, &k)?,
            IterKind::Values => self.decode(py, &v)?,
            IterKind::Items => {
                PyTuple::new(py, [self.decode(py, &k)?, self.decode(py, &v)?])?.into_any()
            }
        }))
    }

    fn __length_hint__(&self) -> usize {
        self.items.len()
    }
}
