//! `shmkit.HashMap`: a shared hash map that behaves like a `dict`. What every handle has
//! (name, close, context manager, pickling, verify/repair/stats) comes from its base class
//! [`PySharedObject`]; this class adds the map's own operations.
//!
//! Files: this one holds the class, how it is opened, how keys and values are converted,
//! and its one `#[pymethods]` block (PyO3 allows one per class), whose longer bodies live
//! in [`read`] (the GIL policy of lookups), [`incr`], [`bulk`] (`update`, `popitem`,
//! `to_dict`, `==`), [`batch`] (`get_many` and the other batched calls) and [`iter`]
//! (iterators and views).
//!
//! Invariants:
//! - keys and values are converted by [`crate::codec`] before any store operation, and
//!   decoded after it: no Python code ever runs while a shard lock is held;
//! - writes (which wait for a shard lock) run with the GIL released; lookups keep it while
//!   they are lock-free and release it before waiting for the lock ([`read`]);
//! - the single-key calls encode an exact `str` or `int` key (and value) into a buffer on
//!   their stack ([`codec::encode_common`]: no thread-local, no scratch buffer), any other
//!   into reused per-thread buffers, with the same bytes either way; they read with
//!   `get_into` into a per-thread buffer, building the Python result straight from the bytes;
//! - every operation first checks that the handle is open;
//! - a fixed-size map is only ever behind a raw handle (checked when it is opened), and
//!   its sizes are recorded in the handle's options, so an unpickled handle checks that it
//!   finds a map of the same sizes.
//!
//! ```python
//! m = store.hash_map("counters")
//! m["hits"] = 0
//! m.incr("hits")                     # atomic across processes -> 1
//! m.compare_and_set("owner", shmkit.MISSING, "me")   # claim if absent
//! ids = store.hash_map("ids", raw=True, key_size=8, value_size=16)  # fixed-size records
//! ids[(7).to_bytes(8, "little")] = bytes(16)   # another length: WrongKeySizeError, ...
//! ```

mod batch;
mod bulk;
mod handles;
mod incr;
mod iter;
mod read;

pub use iter::MapIter;
pub use read::_set_reads_release_gil;

use crate::buffers::with_scratch;
use crate::codec::{self, decode, encode_key, encode_value};
use crate::errors::{ExceptionClass, InvalidOptionsError, KeyNotFoundError, ResultExt};
use crate::handle::PySharedObject;
use crate::incr::DeltaArg;
use crate::missing::is_missing;
use bulk::PopCursor;
use iter::IterKind;
use pyo3::prelude::*;
use pyo3::pyclass::CompareOp;
use pyo3::types::{PyBytes, PyDict, PyList, PyTuple};
use shmkit::{FixedSize, HashMap, HashMapOptions, Store, UpdateAction};

/// A hash map handle (see the module documentation).
#[pyclass(module = "shmkit", name = "HashMap", extends = PySharedObject, frozen, mapping)]
pub struct PyHashMap {
    map: HashMap,
    raw: bool,
    exact_keys: bool,
    pop_cursor: PopCursor,
}

/// How a hash map is to be opened: the keyword arguments of `Store.hash_map` after the
/// name.
pub struct OpenArgs {
    /// Create the map if it is missing.
    pub create: bool,
    /// Plain bytes in and out.
    pub raw: bool,
    /// Keys match by exact type.
    pub exact_keys: bool,
    /// `key_size`, as given.
    pub key_size: Option<i64>,
    /// `value_size`, as given.
    pub value_size: Option<i64>,
}

impl OpenArgs {
    /// The fixed sizes asked for, checked: both or neither, on a raw handle only, each a
    /// `uint32` (the core checks the rest: a key of at least 1 byte, a record of at most
    /// 64 KiB). `InvalidOptionsError` otherwise.
    fn fixed_size(&self, py: Python<'_>) -> PyResult<Option<FixedSize>> {
        let (key_size, value_size) = match (self.key_size, self.value_size) {
            (None, None) => return Ok(None),
            (Some(k), Some(v)) => (k, v),
            _ => {
                return Err(InvalidOptionsError::new_err(
                    py,
                    ("key_size and value_size go together: give both or neither",),
                ));
            }
        };
        if !self.raw {
            return Err(InvalidOptionsError::new_err(
                py,
                (FIXED_NEEDS_RAW.to_string(),),
            ));
        }
        let size = |what: &str, n: i64| {
            u32::try_from(n).map_err(|_| {
                InvalidOptionsError::new_err(
                    py,
                    (format!(
                        "{what} must be between 0 and {}, not {n}",
                        u32::MAX
                    ),),
                )
            })
        };
        Ok(Some(FixedSize {
            key_len: size("key_size", key_size)?,
            value_len: size("value_size", value_size)?,
        }))
    }
}

/// Why a fixed-size map needs a raw handle (the message of its `InvalidOptionsError`).
const FIXED_NEEDS_RAW: &str = "key_size and value_size are lengths of the stored bytes, so \
     they need raw=True (a typed handle stores encodings: an int key takes 9 bytes, a str \
     key 1 more than its UTF-8)";

/// `InvalidOptionsError` if the opened `map` is not what `asked` said: other fixed sizes
/// (when sizes were given), or a typed handle on a fixed-size map.
fn check_fixed_size(
    py: Python<'_>,
    map: &HashMap,
    asked: Option<FixedSize>,
    raw: bool,
) -> PyResult<()> {
    let actual = map.fixed_size();
    if asked.is_some() && asked != actual {
        let has = match actual {
            Some(f) => format!("key_size={} and value_size={}", f.key_len, f.value_len),
            None => "keys and values of any length".to_string(),
        };
        return Err(InvalidOptionsError::new_err(
            py,
            (format!("the hash map {:?} exists with {has}", map.name()),),
        ));
    }
    if let (Some(f), false) = (actual, raw) {
        return Err(InvalidOptionsError::new_err(
            py,
            (format!(
                "the hash map {:?} is a fixed-size map (key_size={}, value_size={}): open it \
                 with raw=True",
                map.name(),
                f.key_len,
                f.value_len
            ),),
        ));
    }
    Ok(())
}

/// Opens the hash map `name` of `store` (opened by `store_name`), creating it if
/// `args.create` (as a fixed-size map if `args` gives sizes).
pub fn open(
    py: Python<'_>,
    store: &Store,
    store_name: String,
    name: &str,
    args: &OpenArgs,
) -> PyResult<Py<PyHashMap>> {
    let OpenArgs {
        create,
        raw,
        exact_keys,
        ..
    } = *args;
    let fixed_size = args.fixed_size(py)?;
    let map = py
        .detach(|| {
            if create {
                let options = HashMapOptions {
                    fixed_size,
                    ..HashMapOptions::default()
                };
                store.hash_map_with(name, &options)
            } else {
                store.open_hash_map(name)
            }
        })
        .py_err(py)?;
    check_fixed_size(py, &map, fixed_size, raw)?;
    let options = PyDict::new(py);
    options.set_item("raw", raw)?;
    options.set_item("exact_keys", exact_keys)?;
    // Recorded so that an unpickled handle checks it finds the same map (and `repr` shows
    // them).
    if let Some(f) = map.fixed_size() {
        options.set_item("key_size", f.key_len)?;
        options.set_item("value_size", f.value_len)?;
    }
    let base = PySharedObject::new(Box::new(map.clone()), store, store_name, options, "entries");
    let this = PyHashMap {
        map,
        raw,
        exact_keys,
        pop_cursor: PopCursor::default(),
    };
    Py::new(py, PyClassInitializer::from(base).add_subclass(this))
}

/// Re-attaches a pickled handle: the options its base recorded, the map opened (never
/// created).
pub fn reopen(
    py: Python<'_>,
    store: &Store,
    store_name: String,
    name: &str,
    options: &Bound<'_, PyDict>,
) -> PyResult<Py<PyHashMap>> {
    let flag = |key: &str| -> PyResult<bool> {
        Ok(match options.get_item(key)? {
            Some(v) => v.extract()?,
            None => false,
        })
    };
    let size = |key: &str| -> PyResult<Option<i64>> {
        match options.get_item(key)? {
            Some(v) => v.extract(),
            None => Ok(None),
        }
    };
    let args = OpenArgs {
        create: false,
        raw: flag("raw")?,
        exact_keys: flag("exact_keys")?,
        key_size: size("key_size")?,
        value_size: size("value_size")?,
    };
    open(py, store, store_name, name, &args)
}

/// Room on the stack for the stored form of a key in a single-key call (a 10-character
/// `str` needs 11 bytes, an `int` 9).
const STACK_KEY: usize = 64;
/// Room on the stack for the stored form of a value in `m[k] = v`.
const STACK_VALUE: usize = 128;

impl PyHashMap {
    /// The handle and its map, or `ClosedError`.
    #[inline]
    fn open<'a>(slf: &'a Bound<'_, Self>) -> PyResult<(&'a PyHashMap, &'a HashMap)> {
        slf.as_super().get().check_open(slf.py(), "HashMap")?;
        let this = slf.get();
        Ok((this, &this.map))
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

    /// The stored form of a common key without any buffer: an exact `str` or `int` encoded
    /// into `stack` ([`codec::encode_common`]), or a raw map's `bytes` key as it is. `None`
    /// for any other key: use [`PyHashMap::key_into`], which encodes every key the same way
    /// and raises the errors.
    #[inline]
    fn stack_key<'a>(&self, key: &'a Bound<'_, PyAny>, stack: &'a mut [u8]) -> Option<&'a [u8]> {
        if self.raw {
            return key.cast_exact::<PyBytes>().ok().map(|b| b.as_bytes());
        }
        codec::encode_common(key, stack).map(|n| &stack[..n])
    }

    /// [`PyHashMap::stack_key`] for a value.
    #[inline]
    fn stack_value<'a>(
        &self,
        value: &'a Bound<'_, PyAny>,
        stack: &'a mut [u8],
    ) -> Option<&'a [u8]> {
        if self.raw {
            return value.cast_exact::<PyBytes>().ok().map(|b| b.as_bytes());
        }
        codec::encode_common(value, stack).map(|n| &stack[..n])
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
        if is_missing(value)? {
            return Ok(None);
        }
        self.value(value).map(Some)
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
        KeyNotFoundError::new_err(py, (key.clone().unbind(),))
    }

    /// `m[key] = value`.
    fn set(
        slf: &Bound<'_, Self>,
        key: &Bound<'_, PyAny>,
        value: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        let py = slf.py();
        let (this, map) = Self::open(slf)?;
        let mut key_stack = [0u8; STACK_KEY];
        let mut value_stack = [0u8; STACK_VALUE];
        if let (Some(k), Some(v)) = (
            this.stack_key(key, &mut key_stack),
            this.stack_value(value, &mut value_stack),
        ) {
            return py.detach(|| map.set(k, v)).py_err(py);
        }
        with_scratch(|k, v| {
            this.key_into(key, k)?;
            this.value_into(value, v)?;
            py.detach(|| map.set(k, v)).py_err(py)
        })
    }

    /// The decoded value of `key`, if present.
    fn lookup<'py>(
        slf: &Bound<'py, Self>,
        key: &Bound<'py, PyAny>,
    ) -> PyResult<Option<Bound<'py, PyAny>>> {
        let py = slf.py();
        let (this, map) = Self::open(slf)?;
        let read = |k: &[u8], v: &mut Vec<u8>| {
            if read::read_into(py, map, k, v).py_err(py)? {
                this.decode_value(py, v).map(Some)
            } else {
                Ok(None)
            }
        };
        let mut stack = [0u8; STACK_KEY];
        match this.stack_key(key, &mut stack) {
            Some(k) => with_scratch(|_, v| read(k, v)),
            None => with_scratch(|k, v| {
                this.key_into(key, k)?;
                read(k, v)
            }),
        }
    }

    /// `del m[key]`: true if the key was there (its value is not read back).
    fn delete(slf: &Bound<'_, Self>, key: &Bound<'_, PyAny>) -> PyResult<bool> {
        let py = slf.py();
        let (this, map) = Self::open(slf)?;
        let mut stack = [0u8; STACK_KEY];
        if let Some(k) = this.stack_key(key, &mut stack) {
            return py.detach(|| map.delete(k)).py_err(py);
        }
        with_scratch(|k, _| {
            this.key_into(key, k)?;
            py.detach(|| map.delete(k)).py_err(py)
        })
    }

    /// `key in m`.
    fn contains(slf: &Bound<'_, Self>, key: &Bound<'_, PyAny>) -> PyResult<bool> {
        let py = slf.py();
        let (this, map) = Self::open(slf)?;
        let mut stack = [0u8; STACK_KEY];
        if let Some(k) = this.stack_key(key, &mut stack) {
            return read::contains(py, map, k).py_err(py);
        }
        // Unhashable keys raise TypeError, as `[] in d` does for a dict.
        with_scratch(|k, _| {
            this.key_into(key, k)?;
            read::contains(py, map, k).py_err(py)
        })
    }
}

#[pymethods]
impl PyHashMap {
    fn __getitem__<'py>(
        slf: &Bound<'py, Self>,
        key: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        Self::lookup(slf, key)?.ok_or_else(|| Self::missing_key(slf.py(), key))
    }

    fn __setitem__(
        slf: &Bound<'_, Self>,
        key: &Bound<'_, PyAny>,
        value: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        Self::set(slf, key, value)
    }

    fn __delitem__(slf: &Bound<'_, Self>, key: &Bound<'_, PyAny>) -> PyResult<()> {
        if Self::delete(slf, key)? {
            Ok(())
        } else {
            Err(Self::missing_key(slf.py(), key))
        }
    }

    fn __contains__(slf: &Bound<'_, Self>, key: &Bound<'_, PyAny>) -> PyResult<bool> {
        Self::contains(slf, key)
    }

    fn __len__(slf: &Bound<'_, Self>) -> PyResult<usize> {
        Ok(Self::open(slf)?.1.len() as usize)
    }

    fn __iter__(slf: &Bound<'_, Self>) -> PyResult<MapIter> {
        Self::iterator(slf, IterKind::Keys)
    }

    fn _iter_values(slf: &Bound<'_, Self>) -> PyResult<MapIter> {
        Self::iterator(slf, IterKind::Values)
    }

    fn _iter_items(slf: &Bound<'_, Self>) -> PyResult<MapIter> {
        Self::iterator(slf, IterKind::Items)
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

    /// A view of the keys (like `dict.keys()`; iterates shard by shard, weakly consistent).
    fn keys<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        Self::view(slf, "KeysView")
    }

    /// A view of the values.
    fn values<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        Self::view(slf, "ValuesView")
    }

    /// A view of the `(key, value)` pairs.
    fn items<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        Self::view(slf, "ItemsView")
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
            return Err(pyo3::exceptions::PyTypeError::new_err(format!(
                "pop expected at most 2 arguments, got {}",
                default.len() + 1
            )));
        }
        let (this, map) = Self::open(slf)?;
        let k = this.key(key)?;
        match py.detach(|| map.remove(&k)).py_err(py)? {
            Some(v) => this.decode_value(py, &v),
            None if default.len() == 1 => default.get_item(0),
            None => Err(Self::missing_key(py, key)),
        }
    }

    /// Removes `key` if present; True if it was (like `set.discard`, never raises KeyError).
    fn discard(slf: &Bound<'_, Self>, key: &Bound<'_, PyAny>) -> PyResult<bool> {
        Self::delete(slf, key)
    }

    /// Removes and returns some `(key, value)` pair; KeyError if the map is empty.
    ///
    /// Pops from a copy of one shard at a time (kept between calls), removing each entry
    /// only if it still holds the copied value, so draining a map costs one shard copy per
    /// shard, and another process's concurrent change is never lost.
    fn popitem<'py>(slf: &Bound<'py, Self>) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyAny>)> {
        Self::popitem_impl(slf)
    }

    /// `m[key]` if present; else stores `default` and returns it (atomically).
    #[pyo3(signature = (key, default = None))]
    fn setdefault<'py>(
        slf: &Bound<'py, Self>,
        key: &Bound<'py, PyAny>,
        default: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        let (this, map) = Self::open(slf)?;
        let default = default.unwrap_or_else(|| py.None().into_bound(py));
        let k = this.key(key)?;
        let d = this.value(&default)?;
        let after = py
            .detach(|| {
                map.update(&k, |cur| match cur {
                    Some(_) => UpdateAction::Keep,
                    None => UpdateAction::Set(d.to_vec()),
                })
            })
            .py_err(py)?;
        match after {
            Some(v) => this.decode_value(py, &v),
            None => Ok(default),
        }
    }

    /// Like `dict.update`: from a mapping (anything with `keys()`), an iterable of pairs,
    /// and keyword arguments. Each pair is one atomic write; the batch is not atomic.
    #[pyo3(signature = (*args, **kwargs))]
    fn update(
        slf: &Bound<'_, Self>,
        args: &Bound<'_, PyTuple>,
        kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<()> {
        Self::update_impl(slf, args, kwargs)
    }

    /// The stable handle (an int) of `key`, giving the key one if it has none; None if the
    /// key is absent. The handle reads the key's value without hashing or probing while the
    /// key exists (across overwrites and resizes); once the key is removed it names nothing,
    /// even after the key comes back (with a new handle).
    fn handle(slf: &Bound<'_, Self>, key: &Bound<'_, PyAny>) -> PyResult<Option<u64>> {
        Self::handle_impl(slf, key)
    }

    /// `m[key] = value`, returning the key's handle.
    fn set_with_handle(
        slf: &Bound<'_, Self>,
        key: &Bound<'_, PyAny>,
        value: &Bound<'_, PyAny>,
    ) -> PyResult<u64> {
        Ok(Self::put_with_handle_impl(slf, key, value, false)?.0)
    }

    /// Inserts `key` only if absent; returns `(handle, inserted)`: the handle of the entry
    /// inserted or of the one already there.
    fn insert_if_absent_with_handle(
        slf: &Bound<'_, Self>,
        key: &Bound<'_, PyAny>,
        value: &Bound<'_, PyAny>,
    ) -> PyResult<(u64, bool)> {
        Self::put_with_handle_impl(slf, key, value, true)
    }

    /// The value of the key `handle` names, `default` if it names none (its key was
    /// removed, or it is not a handle of this map).
    #[pyo3(signature = (handle, default = None))]
    fn get_by_handle<'py>(
        slf: &Bound<'py, Self>,
        handle: u64,
        default: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        Self::get_by_handle_impl(slf, handle, default)
    }

    /// The key `handle` names, None if it names none.
    fn key_by_handle<'py>(
        slf: &Bound<'py, Self>,
        handle: u64,
    ) -> PyResult<Option<Bound<'py, PyAny>>> {
        Self::key_by_handle_impl(slf, handle)
    }

    /// Sets the value of the key `handle` names; False (nothing written) if it names none.
    fn set_by_handle(
        slf: &Bound<'_, Self>,
        handle: u64,
        value: &Bound<'_, PyAny>,
    ) -> PyResult<bool> {
        Self::set_by_handle_impl(slf, handle, value)
    }

    /// Removes the key `handle` names; False if it names none.
    fn remove_by_handle(slf: &Bound<'_, Self>, handle: u64) -> PyResult<bool> {
        Self::remove_by_handle_impl(slf, handle)
    }

    /// The values of `keys` (any iterable), in order, `default` for a missing key: one call
    /// into the core with the GIL released once. Each value is one that key held at some
    /// moment during the call (no atomicity across keys).
    #[pyo3(signature = (keys, default = None))]
    fn get_many<'py>(
        slf: &Bound<'py, Self>,
        keys: &Bound<'py, PyAny>,
        default: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyList>> {
        Self::get_many_impl(slf, keys, default)
    }

    /// For each of `keys`, in order, whether it is present (one call, like `get_many`).
    fn contains_many<'py>(
        slf: &Bound<'py, Self>,
        keys: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyList>> {
        Self::contains_many_impl(slf, keys)
    }

    /// Sets every pair of `items` (a mapping or an iterable of pairs), taking each shard's
    /// lock once; a repeated key ends with its last value. Everything is encoded before
    /// anything is written; the batch is not atomic (other processes see it land key by key).
    fn set_many(slf: &Bound<'_, Self>, items: &Bound<'_, PyAny>) -> PyResult<()> {
        Self::set_many_impl(slf, items)
    }

    /// Removes every key of `keys` that is present; returns how many were (a repeated key
    /// counts once).
    fn remove_many(slf: &Bound<'_, Self>, keys: &Bound<'_, PyAny>) -> PyResult<u64> {
        Self::remove_many_impl(slf, keys)
    }

    /// Removes every item.
    fn clear(slf: &Bound<'_, Self>) -> PyResult<()> {
        let py = slf.py();
        let (_, map) = Self::open(slf)?;
        py.detach(|| map.clear()).py_err(py)
    }

    /// One atomic conditional write. `expected` is the value the key must hold, or
    /// `shmkit.MISSING` for "must be absent"; `new` is the value to store, or `shmkit.MISSING`
    /// to delete. Values are compared by their encoding (so `1 != 1.0` here). Returns True if
    /// the condition held and the write happened.
    fn compare_and_set(
        slf: &Bound<'_, Self>,
        key: &Bound<'_, PyAny>,
        expected: &Bound<'_, PyAny>,
        new: &Bound<'_, PyAny>,
    ) -> PyResult<bool> {
        let py = slf.py();
        let (this, map) = Self::open(slf)?;
        let k = this.key(key)?;
        let expected = this.optional_value(expected)?;
        let new = this.optional_value(new)?;
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
        slf: &Bound<'py, Self>,
        key: &Bound<'py, PyAny>,
        delta: DeltaArg<'py>,
    ) -> PyResult<Bound<'py, PyAny>> {
        Self::incr_impl(slf, key, delta)
    }

    /// A `dict` copy of the current items.
    fn to_dict<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyDict>> {
        Self::to_dict_impl(slf)
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

    /// `(key_size, value_size)` of a fixed-size map (every key and every value has exactly
    /// that many bytes), `None` for a map whose keys and values may have any length. The
    /// sizes are the map's own, chosen when it was created.
    #[getter]
    fn fixed_size(&self) -> Option<(u32, u32)> {
        self.map.fixed_size().map(|f| (f.key_len, f.value_len))
    }

    fn __richcmp__<'py>(
        slf: &Bound<'py, Self>,
        other: &Bound<'py, PyAny>,
        op: CompareOp,
    ) -> PyResult<Bound<'py, PyAny>> {
        Self::richcmp_impl(slf, other, op)
    }
}
