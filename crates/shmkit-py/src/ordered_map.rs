//! `shmkit.OrderedMap`: a shared sorted map that behaves like a `dict` whose keys iterate in
//! order, with range and prefix scans, floor/ceiling, counts and `popitem` at either end.
//! What every handle has (name, close, context manager, pickling, verify/repair/stats) comes
//! from its base class [`PySharedObject`]; this class adds the map's own operations over the
//! core's `shmkit::OrderedMap`.
//!
//! Invariants:
//! - keys are ordered keys ([`crate::ordered_key`], the core's `value::ordered`): `None`,
//!   `bool`, `int`, `float`, `bytes`, `str` and tuples of them, ordered as Python orders
//!   them within a type (`None` < numbers < `bytes` < `str` < tuples across types); a
//!   `bool` or an integral `float` is the int it equals and comes back as that int. Any
//!   other key raises `TypeError` before the store is touched;
//! - values are typed values exactly as in `HashMap` ([`crate::codec`]: natively encoded,
//!   pickled only without a native tag);
//! - keys and values are encoded before the core call and decoded after it, and every core
//!   call runs with the GIL released: the map's readers are lock-free, but fall back to its
//!   lock when writers keep interfering, and no lock is ever waited for holding the GIL;
//! - the bounds of a scan are computed here from the encoded keys only (a `prefix=` is the
//!   core's prefix of a tuple's elements, or of the start of a string:
//!   [`crate::ordered_key::encode_order_prefix`]); the scan, the counts and every
//!   comparison of keys are the core's;
//! - iterators own a clone of the map handle and fetch in batches with the GIL released,
//!   through the core's allocation-free `OrderedMap::scan` into one buffer, each batch
//!   resuming after the last key fetched; they are weakly consistent as the core's scans are:
//!   an entry present throughout is yielded exactly once and in order, never an error
//!   because the map changed;
//! - every operation first checks that the handle is open.
//!
//! ```python
//! m = store.ordered_map("events")
//! m[(2024, 5, "b")] = 1; m[(2024, 5, "a")] = 2; m[(2025, 1, "x")] = 3
//! list(m)                            # [(2024, 5, 'a'), (2024, 5, 'b'), (2025, 1, 'x')]
//! list(m.items(prefix=(2024,)))      # [((2024, 5, 'a'), 2), ((2024, 5, 'b'), 1)]
//! m.floor((2024, 12))                # ((2024, 5, 'b'), 1)
//! m.count((2024,), (2025,))          # 2
//! ```

use crate::buffers::with_scratch;
use crate::codec::{decode, encode_value};
use crate::errors::{ExceptionClass, IndexOutOfRangeError, IntoPyErr, KeyNotFoundError, ResultExt};
use crate::handle::PySharedObject;
use crate::incr::{Delta, DeltaArg, add_error};
use crate::missing::is_missing;
use crate::ordered_key::{Prefix, decode_key, encode_order_key, encode_order_prefix};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::pyclass::CompareOp;
use pyo3::types::{PyBool, PyDict, PyTuple};
use shmkit::collections::ordered_map::prefix_end;
use shmkit::{OrderedMap, OrderedMapError, RangeCount, Store, UpdateAction};
use std::ops;

/// A stored `(key, value)` pair.
type Item = (Vec<u8>, Vec<u8>);

/// One end of a range of encoded keys.
type Edge = ops::Bound<Vec<u8>>;

/// An ordered map handle (see the module documentation).
#[pyclass(module = "shmkit", name = "OrderedMap", extends = PySharedObject, frozen, mapping)]
pub struct PyOrderedMap {
    map: OrderedMap,
}

/// Opens the ordered map `name` of `store` (opened by `store_name`), creating it if `create`.
pub fn open(
    py: Python<'_>,
    store: &Store,
    store_name: String,
    name: &str,
    create: bool,
) -> PyResult<Py<PyOrderedMap>> {
    let map = py
        .detach(|| {
            if create {
                store.ordered_map(name)
            } else {
                store.open_ordered_map(name)
            }
        })
        .py_err(py)?;
    let base = PySharedObject::new(
        Box::new(map.clone()),
        store,
        store_name,
        PyDict::new(py),
        "entries",
    );
    Py::new(
        py,
        PyClassInitializer::from(base).add_subclass(PyOrderedMap { map }),
    )
}

/// Re-attaches a pickled handle (the map opened, never created).
pub fn reopen(
    py: Python<'_>,
    store: &Store,
    store_name: String,
    name: &str,
) -> PyResult<Py<PyOrderedMap>> {
    open(py, store, store_name, name, false)
}

/// The ordered key of `key` in a new buffer.
fn key_bytes(key: &Bound<'_, PyAny>) -> PyResult<Vec<u8>> {
    let mut k = Vec::new();
    encode_order_key(key, &mut k)?;
    Ok(k)
}

/// The stored form of `value`, or `None` for `shmkit.MISSING`.
fn optional_value(value: &Bound<'_, PyAny>) -> PyResult<Option<Vec<u8>>> {
    if is_missing(value)? {
        return Ok(None);
    }
    let mut v = Vec::new();
    encode_value(value, &mut v)?;
    Ok(Some(v))
}

/// `(key, value)` as Python objects.
fn item<'py>(py: Python<'py>, (k, v): &Item) -> PyResult<Bound<'py, PyTuple>> {
    PyTuple::new(py, [decode_key(py, k)?, decode(py, v)?])
}

/// `(key, value)` or `None`.
fn optional_item<'py>(py: Python<'py>, found: Option<Item>) -> PyResult<Bound<'py, PyAny>> {
    match found {
        Some(i) => Ok(item(py, &i)?.into_any()),
        None => Ok(py.None().into_bound(py)),
    }
}

fn missing_key(py: Python<'_>, key: &Bound<'_, PyAny>) -> PyErr {
    KeyNotFoundError::new_err(py, (key.clone().unbind(),))
}

/// The ends of the keys that a scan's arguments select (`None` bounds nothing).
fn edges(
    start: Option<&Bound<'_, PyAny>>,
    stop: Option<&Bound<'_, PyAny>>,
    prefix: Option<&Bound<'_, PyAny>>,
    inclusive: (bool, bool),
) -> PyResult<(Edge, Edge)> {
    if let Some(prefix) = prefix {
        if start.is_some() || stop.is_some() {
            return Err(PyValueError::new_err(
                "give either prefix or start/stop, not both",
            ));
        }
        let mut p = Vec::new();
        let kind = encode_order_prefix(prefix, &mut p)?;
        let end = match kind {
            Prefix::Elements => ops::Bound::Excluded([&p[..], &[0xff]].concat()),
            Prefix::Text => prefix_end(&p).map_or(ops::Bound::Unbounded, ops::Bound::Excluded),
        };
        return Ok((ops::Bound::Included(p), end));
    }
    let edge = |key: Option<&Bound<'_, PyAny>>, included: bool| -> PyResult<Edge> {
        Ok(match key {
            None => ops::Bound::Unbounded,
            Some(key) if included => ops::Bound::Included(key_bytes(key)?),
            Some(key) => ops::Bound::Excluded(key_bytes(key)?),
        })
    };
    Ok((edge(start, inclusive.0)?, edge(stop, inclusive.1)?))
}

fn borrowed(e: &Edge) -> ops::Bound<&[u8]> {
    e.as_ref().map(Vec::as_slice)
}

/// What an iterator yields.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Yield {
    Keys,
    Values,
    Items,
}

/// The entries an iterator fetches in its first call into the core; each later call
/// fetches four times more, up to [`MAX_BATCH`], so a short scan reads little and a long
/// one releases the GIL once per [`MAX_BATCH`] entries.
const FIRST_BATCH: usize = 64;
/// The most entries an iterator fetches per call into the core.
const MAX_BATCH: usize = 1024;

/// Iterator over a range of an ordered map (see the module documentation).
#[pyclass(module = "shmkit", name = "OrderedMapIterator")]
pub struct OrderedMapIter {
    map: OrderedMap,
    lo: Edge,
    hi: Edge,
    reverse: bool,
    what: Yield,
    /// The fetched entries, keys and values back to back, and where each is.
    data: Vec<u8>,
    spans: Vec<(usize, usize, usize)>,
    /// The next fetched entry to hand out.
    next: usize,
    /// The last key fetched: the next fetch resumes after it (before it, in reverse).
    resume: Option<Vec<u8>>,
    batch: usize,
    /// The range is used up, or failed (then `error` holds why, raised after the entries
    /// fetched before it).
    done: bool,
    error: Option<OrderedMapError>,
}

impl OrderedMapIter {
    /// Fetches the next batch with the GIL released, through the core's allocation-free
    /// scan (resuming after the last key fetched, so the iteration is the core's weakly
    /// consistent one).
    fn fetch(&mut self, py: Python<'_>) {
        let n = self.batch;
        let resume = self.resume.as_deref().map(ops::Bound::Excluded);
        let (start, end) = match (resume, self.reverse) {
            (None, _) => (borrowed(&self.lo), borrowed(&self.hi)),
            (Some(r), false) => (r, borrowed(&self.hi)),
            (Some(r), true) => (borrowed(&self.lo), r),
        };
        let (map, data, spans) = (&self.map, &mut self.data, &mut self.spans);
        data.clear();
        spans.clear();
        self.next = 0;
        let result = py.detach(|| {
            map.scan(start, end, self.reverse, |k, v| {
                let at = data.len();
                data.extend_from_slice(k);
                data.extend_from_slice(v);
                spans.push((at, k.len(), v.len()));
                spans.len() < n
            })
        });
        match result {
            Ok(_) if self.spans.len() < n => self.done = true,
            Ok(_) => {}
            Err(e) => {
                self.done = true;
                self.error = Some(e);
            }
        }
        if let Some(&(at, k, _)) = self.spans.last() {
            let r = self.resume.get_or_insert_with(Vec::new);
            r.clear();
            r.extend_from_slice(&self.data[at..at + k]);
        }
        self.batch = (self.batch * 4).min(MAX_BATCH);
    }
}

#[pymethods]
impl OrderedMapIter {
    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__<'py>(&mut self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        let (at, k, v) = loop {
            if let Some(&span) = self.spans.get(self.next) {
                self.next += 1;
                break span;
            }
            if self.done {
                return match self.error.take() {
                    Some(e) => Err(e.into_py_err(py)),
                    None => Ok(None),
                };
            }
            self.fetch(py);
        };
        let key = &self.data[at..at + k];
        let value = &self.data[at + k..at + k + v];
        Ok(Some(match self.what {
            Yield::Keys => decode_key(py, key)?,
            Yield::Values => decode(py, value)?,
            Yield::Items => {
                PyTuple::new(py, [decode_key(py, key)?, decode(py, value)?])?.into_any()
            }
        }))
    }
}

impl PyOrderedMap {
    /// The map, or `ClosedError`.
    #[inline]
    fn map<'a>(slf: &'a Bound<'_, Self>) -> PyResult<&'a OrderedMap> {
        slf.as_super().get().check_open(slf.py(), "OrderedMap")?;
        Ok(&slf.get().map)
    }

    /// The decoded value of `key`, if present.
    fn lookup<'py>(
        slf: &Bound<'py, Self>,
        key: &Bound<'py, PyAny>,
    ) -> PyResult<Option<Bound<'py, PyAny>>> {
        let py = slf.py();
        let map = Self::map(slf)?;
        with_scratch(|k, v| {
            encode_order_key(key, k)?;
            // The optimistic read with the GIL held (handing the GIL over and back costs
            // more than the read); only a read that must wait for the lock releases it.
            let found = match map.try_get_into_lock_free(k, v).py_err(py)? {
                Some(found) => found,
                None => py.detach(|| map.get_into(k, v)).py_err(py)?,
            };
            if found {
                decode(py, v).map(Some)
            } else {
                Ok(None)
            }
        })
    }

    fn set(
        slf: &Bound<'_, Self>,
        key: &Bound<'_, PyAny>,
        value: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        let py = slf.py();
        let map = Self::map(slf)?;
        with_scratch(|k, v| {
            encode_order_key(key, k)?;
            encode_value(value, v)?;
            py.detach(|| map.set(k, v)).py_err(py)
        })
    }

    /// An iterator over the selected range.
    fn iterator(
        slf: &Bound<'_, Self>,
        what: Yield,
        start: Option<&Bound<'_, PyAny>>,
        stop: Option<&Bound<'_, PyAny>>,
        prefix: Option<&Bound<'_, PyAny>>,
        reverse: bool,
        inclusive: (bool, bool),
    ) -> PyResult<OrderedMapIter> {
        let map = Self::map(slf)?;
        let (lo, hi) = edges(start, stop, prefix, inclusive)?;
        Ok(OrderedMapIter {
            map: map.clone(),
            lo,
            hi,
            reverse,
            what,
            data: Vec::new(),
            spans: Vec::new(),
            next: 0,
            resume: None,
            batch: FIRST_BATCH,
            done: false,
            error: None,
        })
    }

    /// The entry a one-sided lookup finds.
    fn neighbour<'py>(
        slf: &Bound<'py, Self>,
        key: &Bound<'py, PyAny>,
        find: fn(&OrderedMap, &[u8]) -> Result<Option<Item>, OrderedMapError>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        let map = Self::map(slf)?;
        let k = key_bytes(key)?;
        let found = py.detach(|| find(map, &k)).py_err(py)?;
        optional_item(py, found)
    }

    /// The count and bytes of the selected range.
    fn range_count(
        slf: &Bound<'_, Self>,
        start: Option<&Bound<'_, PyAny>>,
        stop: Option<&Bound<'_, PyAny>>,
        prefix: Option<&Bound<'_, PyAny>>,
        inclusive: (bool, bool),
    ) -> PyResult<RangeCount> {
        let py = slf.py();
        let map = Self::map(slf)?;
        let (lo, hi) = edges(start, stop, prefix, inclusive)?;
        py.detach(|| map.count(borrowed(&lo), borrowed(&hi)))
            .py_err(py)
    }

    /// Every entry, as a `dict`.
    fn to_dict<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyDict>> {
        let py = slf.py();
        let map = Self::map(slf)?;
        let items = py
            .detach(|| map.iter().collect::<Result<Vec<Item>, _>>())
            .py_err(py)?;
        let d = PyDict::new(py);
        for (k, v) in &items {
            d.set_item(decode_key(py, k)?, decode(py, v)?)?;
        }
        Ok(d)
    }
}

#[pymethods]
impl PyOrderedMap {
    fn __getitem__<'py>(
        slf: &Bound<'py, Self>,
        key: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        Self::lookup(slf, key)?.ok_or_else(|| missing_key(slf.py(), key))
    }

    fn __setitem__(
        slf: &Bound<'_, Self>,
        key: &Bound<'_, PyAny>,
        value: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        Self::set(slf, key, value)
    }

    fn __delitem__(slf: &Bound<'_, Self>, key: &Bound<'_, PyAny>) -> PyResult<()> {
        let py = slf.py();
        let map = Self::map(slf)?;
        let deleted = with_scratch(|k, _| {
            encode_order_key(key, k)?;
            py.detach(|| map.delete(k)).py_err(py)
        })?;
        if deleted {
            Ok(())
        } else {
            Err(missing_key(py, key))
        }
    }

    fn __contains__(slf: &Bound<'_, Self>, key: &Bound<'_, PyAny>) -> PyResult<bool> {
        let py = slf.py();
        let map = Self::map(slf)?;
        // A key that cannot be one raises TypeError, as `[] in d` does for a dict.
        with_scratch(|k, _| {
            encode_order_key(key, k)?;
            py.detach(|| map.contains_key(k)).py_err(py)
        })
    }

    fn __len__(slf: &Bound<'_, Self>) -> PyResult<usize> {
        Ok(Self::map(slf)?.len() as usize)
    }

    /// The keys in ascending order.
    fn __iter__(slf: &Bound<'_, Self>) -> PyResult<OrderedMapIter> {
        Self::iterator(slf, Yield::Keys, None, None, None, false, (true, false))
    }

    /// The keys in descending order.
    fn __reversed__(slf: &Bound<'_, Self>) -> PyResult<OrderedMapIter> {
        Self::iterator(slf, Yield::Keys, None, None, None, true, (true, false))
    }

    /// `m[key]` if present, else `default`.
    #[pyo3(signature = (key, default = None))]
    fn get<'py>(
        slf: &Bound<'py, Self>,
        key: &Bound<'py, PyAny>,
        default: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        Ok(Self::lookup(slf, key)?
            .or(default)
            .unwrap_or_else(|| py.None().into_bound(py)))
    }

    /// `m[key]` if present; else stores `default` and returns it (atomically).
    #[pyo3(signature = (key, default = None))]
    fn setdefault<'py>(
        slf: &Bound<'py, Self>,
        key: &Bound<'py, PyAny>,
        default: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        let map = Self::map(slf)?;
        let default = default.unwrap_or_else(|| py.None().into_bound(py));
        let k = key_bytes(key)?;
        let mut d = Vec::new();
        encode_value(&default, &mut d)?;
        let after = py
            .detach(|| {
                map.update(&k, |current| match current {
                    Some(_) => UpdateAction::Keep,
                    None => UpdateAction::Set(d.clone()),
                })
            })
            .py_err(py)?;
        match after {
            Some(v) => decode(py, &v),
            None => Ok(default),
        }
    }

    /// Removes `key` and returns its value; `default` (if given) when absent, else KeyError.
    #[pyo3(signature = (key, *default))]
    fn pop<'py>(
        slf: &Bound<'py, Self>,
        key: &Bound<'py, PyAny>,
        default: &Bound<'py, PyTuple>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        if default.len() > 1 {
            return Err(PyTypeError::new_err(format!(
                "pop expected at most 2 arguments, got {}",
                default.len() + 1
            )));
        }
        let map = Self::map(slf)?;
        let k = key_bytes(key)?;
        match py.detach(|| map.remove(&k)).py_err(py)? {
            Some(v) => decode(py, &v),
            None if default.len() == 1 => default.get_item(0),
            None => Err(missing_key(py, key)),
        }
    }

    /// Removes and returns the `(key, value)` pair with the largest key (`last=False`: the
    /// smallest), atomically; KeyError if the map is empty.
    #[pyo3(signature = (last = true))]
    fn popitem<'py>(slf: &Bound<'py, Self>, last: bool) -> PyResult<Bound<'py, PyTuple>> {
        let py = slf.py();
        let map = Self::map(slf)?;
        match py.detach(|| map.pop_end(last)).py_err(py)? {
            Some(i) => item(py, &i),
            None => Err(KeyNotFoundError::new_err(
                py,
                ("popitem(): ordered map is empty",),
            )),
        }
    }

    /// Removes every entry (other processes may see the map part-way cleared).
    fn clear(slf: &Bound<'_, Self>) -> PyResult<()> {
        let py = slf.py();
        let map = Self::map(slf)?;
        py.detach(|| map.clear()).py_err(py)
    }

    /// Like `dict.update`: from a mapping (anything with `keys()`), an iterable of pairs,
    /// and keyword arguments. Each pair is one atomic write; the batch is not atomic.
    #[pyo3(signature = (*args, **kwargs))]
    fn update(
        slf: &Bound<'_, Self>,
        args: &Bound<'_, PyTuple>,
        kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<()> {
        if args.len() > 1 {
            return Err(PyTypeError::new_err(format!(
                "update expected at most 1 argument, got {}",
                args.len()
            )));
        }
        if let Some(other) = args.iter().next() {
            if other.hasattr("keys")? {
                for key in other.call_method0("keys")?.try_iter()? {
                    let key = key?;
                    Self::set(slf, &key, &other.get_item(&key)?)?;
                }
            } else {
                for pair in other.try_iter()? {
                    let pair: Vec<Bound<'_, PyAny>> = pair?.try_iter()?.collect::<PyResult<_>>()?;
                    if pair.len() != 2 {
                        return Err(PyValueError::new_err(format!(
                            "dictionary update sequence element has length {}; 2 is required",
                            pair.len()
                        )));
                    }
                    Self::set(slf, &pair[0], &pair[1])?;
                }
            }
        }
        if let Some(kwargs) = kwargs {
            for (k, v) in kwargs.iter() {
                Self::set(slf, &k, &v)?;
            }
        }
        Ok(())
    }

    /// The `(key, value)` pairs with keys from `start` to `stop` in ascending order
    /// (`reverse=True`: descending); `inclusive` says whether each bound is included, and a
    /// bound of `None` bounds nothing. `prefix=` instead selects the tuples that start with
    /// a tuple's elements, or the `str` (`bytes`) keys that start with a `str` (`bytes`).
    /// A lazy iterator, fetching in batches, weakly consistent.
    #[pyo3(signature = (start = None, stop = None, *, prefix = None, reverse = false, inclusive = (true, false)))]
    fn items(
        slf: &Bound<'_, Self>,
        start: Option<&Bound<'_, PyAny>>,
        stop: Option<&Bound<'_, PyAny>>,
        prefix: Option<&Bound<'_, PyAny>>,
        reverse: bool,
        inclusive: (bool, bool),
    ) -> PyResult<OrderedMapIter> {
        Self::iterator(slf, Yield::Items, start, stop, prefix, reverse, inclusive)
    }

    /// The keys of `items(...)`.
    #[pyo3(signature = (start = None, stop = None, *, prefix = None, reverse = false, inclusive = (true, false)))]
    fn keys(
        slf: &Bound<'_, Self>,
        start: Option<&Bound<'_, PyAny>>,
        stop: Option<&Bound<'_, PyAny>>,
        prefix: Option<&Bound<'_, PyAny>>,
        reverse: bool,
        inclusive: (bool, bool),
    ) -> PyResult<OrderedMapIter> {
        Self::iterator(slf, Yield::Keys, start, stop, prefix, reverse, inclusive)
    }

    /// The values of `items(...)`.
    #[pyo3(signature = (start = None, stop = None, *, prefix = None, reverse = false, inclusive = (true, false)))]
    fn values(
        slf: &Bound<'_, Self>,
        start: Option<&Bound<'_, PyAny>>,
        stop: Option<&Bound<'_, PyAny>>,
        prefix: Option<&Bound<'_, PyAny>>,
        reverse: bool,
        inclusive: (bool, bool),
    ) -> PyResult<OrderedMapIter> {
        Self::iterator(slf, Yield::Values, start, stop, prefix, reverse, inclusive)
    }

    /// The number of entries `items(...)` would select now, in O(log n).
    #[pyo3(signature = (start = None, stop = None, *, prefix = None, inclusive = (true, false)))]
    fn count(
        slf: &Bound<'_, Self>,
        start: Option<&Bound<'_, PyAny>>,
        stop: Option<&Bound<'_, PyAny>>,
        prefix: Option<&Bound<'_, PyAny>>,
        inclusive: (bool, bool),
    ) -> PyResult<u64> {
        Ok(Self::range_count(slf, start, stop, prefix, inclusive)?.count)
    }

    /// The bytes those entries occupy as stored (the sum of their encoded keys' and values'
    /// lengths), counted with them in O(log n).
    #[pyo3(signature = (start = None, stop = None, *, prefix = None, inclusive = (true, false)))]
    fn bytes_in(
        slf: &Bound<'_, Self>,
        start: Option<&Bound<'_, PyAny>>,
        stop: Option<&Bound<'_, PyAny>>,
        prefix: Option<&Bound<'_, PyAny>>,
        inclusive: (bool, bool),
    ) -> PyResult<u64> {
        Ok(Self::range_count(slf, start, stop, prefix, inclusive)?.bytes)
    }

    /// The `(key, value)` pair with the smallest key, or `None` if the map is empty.
    fn first<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        let map = Self::map(slf)?;
        let found = py.detach(|| map.first()).py_err(py)?;
        optional_item(py, found)
    }

    /// The `(key, value)` pair with the largest key, or `None` if the map is empty.
    fn last<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        let map = Self::map(slf)?;
        let found = py.detach(|| map.last()).py_err(py)?;
        optional_item(py, found)
    }

    /// The `(key, value)` pair at `index` in key order (`0` the first, `-1` the last, as in
    /// `SortedDict.peekitem`); `IndexError` past either end. Walks `index` entries from the
    /// nearer end it names, so it costs O(|index|) beyond the lookup.
    #[pyo3(signature = (index = -1))]
    fn peekitem<'py>(slf: &Bound<'py, Self>, index: i64) -> PyResult<Bound<'py, PyTuple>> {
        let py = slf.py();
        let map = Self::map(slf)?;
        let found = py
            .detach(|| {
                let mut all = map.iter();
                let step = if index >= 0 { index } else { -(index + 1) };
                let step = usize::try_from(step).unwrap_or(usize::MAX);
                if index >= 0 {
                    all.nth(step)
                } else {
                    all.rev().nth(step)
                }
                .transpose()
            })
            .py_err(py)?;
        match found {
            Some(i) => item(py, &i),
            None => Err(IndexOutOfRangeError::new_err(
                py,
                (format!("peekitem index {index} out of range"),),
            )),
        }
    }

    /// The `(key, value)` pair with the largest key `<= key`, or `None`.
    fn floor<'py>(slf: &Bound<'py, Self>, key: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        Self::neighbour(slf, key, OrderedMap::floor)
    }

    /// The `(key, value)` pair with the smallest key `>= key`, or `None`.
    fn ceiling<'py>(
        slf: &Bound<'py, Self>,
        key: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        Self::neighbour(slf, key, OrderedMap::ceiling)
    }

    /// The `(key, value)` pair with the largest key `< key`, or `None`.
    fn lower<'py>(slf: &Bound<'py, Self>, key: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        Self::neighbour(slf, key, OrderedMap::lower)
    }

    /// The `(key, value)` pair with the smallest key `> key`, or `None`.
    fn higher<'py>(slf: &Bound<'py, Self>, key: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        Self::neighbour(slf, key, OrderedMap::higher)
    }

    /// Atomically adds `delta` (int or float) to the number at `key` (missing counts as 0)
    /// and returns the new value, with Python's rules (ints grow into big ints, int + float
    /// gives a float). A non-numeric value raises `NotAnIntegerError` (a TypeError) and is
    /// left unchanged.
    #[pyo3(signature = (key, delta = DeltaArg::One))]
    fn incr<'py>(
        slf: &Bound<'py, Self>,
        key: &Bound<'py, PyAny>,
        delta: DeltaArg<'py>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        let map = Self::map(slf)?;
        let delta = Delta::parse(delta)?;
        let k = key_bytes(key)?;
        match py.detach(|| map.incr(&k, delta.addend())) {
            Ok(sum) => decode(py, &sum),
            Err(OrderedMapError::Incr(why)) => Err(add_error(py, why)),
            Err(e) => Err(e.into_py_err(py)),
        }
    }

    /// One atomic conditional write. `expected` is the value the key must hold, or
    /// `shmkit.MISSING` for "must be absent"; `new` is the value to store, or
    /// `shmkit.MISSING` to delete. Values are compared by their encoding (so `1 != 1.0`
    /// here). Returns True if the condition held and the write happened.
    fn compare_and_set(
        slf: &Bound<'_, Self>,
        key: &Bound<'_, PyAny>,
        expected: &Bound<'_, PyAny>,
        new: &Bound<'_, PyAny>,
    ) -> PyResult<bool> {
        let py = slf.py();
        let map = Self::map(slf)?;
        let k = key_bytes(key)?;
        let expected = optional_value(expected)?;
        let new = optional_value(new)?;
        py.detach(|| map.compare_and_set(&k, expected.as_deref(), new.as_deref()))
            .py_err(py)
    }

    /// `==` / `!=` with any mapping, as a dict compares (keys as they decode: an integral
    /// float key is the int it equals).
    fn __richcmp__<'py>(
        slf: &Bound<'py, Self>,
        other: &Bound<'py, PyAny>,
        op: CompareOp,
    ) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        let eq = match op {
            CompareOp::Eq => true,
            CompareOp::Ne => false,
            _ => return Ok(py.NotImplemented().into_bound(py)),
        };
        let abc = py.import("collections.abc")?.getattr("Mapping")?;
        if !other.is_instance(&abc)? {
            return Ok(py.NotImplemented().into_bound(py));
        }
        let mine = Self::to_dict(slf)?;
        let theirs = PyDict::new(py);
        theirs.call_method1("update", (other,))?;
        let equal = mine.eq(theirs)?;
        Ok(PyBool::new(py, equal == eq).to_owned().into_any())
    }
}
