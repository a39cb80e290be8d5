//! Stable key handles of `HashMap` (`shmkit::KeyHandle`, passed to Python as an `int`):
//! `handle`, `set_with_handle`, `insert_if_absent_with_handle`, `get_by_handle`,
//! `key_by_handle`, `set_by_handle`, `remove_by_handle`.
//!
//! Invariants: a handle is any integer in `0..2**64` (others raise `OverflowError` when
//! converted); one that names no live key of this map reads as missing (`default`, `None`,
//! `False`), never as another key's value; keys and values are encoded and decoded with the
//! GIL held, writes release it, reads by handle keep it (the core's optimistic read never
//! waits for a lock unless writers keep interfering, as `m[k]`).
//!
//! ```python
//! h = m.set_with_handle("user:1", {"name": "ada"}); m.get_by_handle(h)["name"] == "ada"
//! m["user:1"] = 2; m.get_by_handle(h) == 2; del m["user:1"]; m.get_by_handle(h) is None
//! ```

use super::PyHashMap;
use crate::buffers::with_scratch;
use crate::errors::ResultExt;
use pyo3::prelude::*;
use shmkit::KeyHandle;

impl PyHashMap {
    /// See `HashMap.handle`.
    pub(super) fn handle_impl(
        slf: &Bound<'_, Self>,
        key: &Bound<'_, PyAny>,
    ) -> PyResult<Option<u64>> {
        let py = slf.py();
        let (this, map) = Self::open(slf)?;
        with_scratch(|k, _| {
            this.key_into(key, k)?;
            let h = py.detach(|| map.handle(k)).py_err(py)?;
            Ok(h.map(KeyHandle::to_raw))
        })
    }

    /// See `HashMap.set_with_handle` and `HashMap.insert_if_absent_with_handle`.
    pub(super) fn put_with_handle_impl(
        slf: &Bound<'_, Self>,
        key: &Bound<'_, PyAny>,
        value: &Bound<'_, PyAny>,
        if_absent: bool,
    ) -> PyResult<(u64, bool)> {
        let py = slf.py();
        let (this, map) = Self::open(slf)?;
        with_scratch(|k, v| {
            this.key_into(key, k)?;
            this.value_into(value, v)?;
            let (h, stored) = py
                .detach(|| {
                    if if_absent {
                        map.insert_if_absent_with_handle(k, v)
                    } else {
                        map.set_with_handle(k, v).map(|h| (h, true))
                    }
                })
                .py_err(py)?;
            Ok((h.to_raw(), stored))
        })
    }

    /// See `HashMap.get_by_handle`.
    pub(super) fn get_by_handle_impl<'py>(
        slf: &Bound<'py, Self>,
        handle: u64,
        default: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        let (this, map) = Self::open(slf)?;
        with_scratch(|_, v| {
            if map
                .get_by_handle_into(KeyHandle::from_raw(handle), v)
                .py_err(py)?
            {
                this.decode_value(py, v)
            } else {
                Ok(default.clone().unwrap_or_else(|| py.None().into_bound(py)))
            }
        })
    }

    /// See `HashMap.key_by_handle`.
    pub(super) fn key_by_handle_impl<'py>(
        slf: &Bound<'py, Self>,
        handle: u64,
    ) -> PyResult<Option<Bound<'py, PyAny>>> {
        let py = slf.py();
        let (this, map) = Self::open(slf)?;
        match map.key_by_handle(KeyHandle::from_raw(handle)).py_err(py)? {
            Some(key) => this.decode_value(py, &key).map(Some),
            None => Ok(None),
        }
    }

    /// See `HashMap.set_by_handle`.
    pub(super) fn set_by_handle_impl(
        slf: &Bound<'_, Self>,
        handle: u64,
        value: &Bound<'_, PyAny>,
    ) -> PyResult<bool> {
        let py = slf.py();
        let (this, map) = Self::open(slf)?;
        with_scratch(|_, v| {
            this.value_into(value, v)?;
            py.detach(|| map.set_by_handle(KeyHandle::from_raw(handle), v))
                .py_err(py)
        })
    }

    /// See `HashMap.remove_by_handle`.
    pub(super) fn remove_by_handle_impl(slf: &Bound<'_, Self>, handle: u64) -> PyResult<bool> {
        let py = slf.py();
        let (_, map) = Self::open(slf)?;
        py.detach(|| map.remove_by_handle(KeyHandle::from_raw(handle)))
            .py_err(py)
    }
}
