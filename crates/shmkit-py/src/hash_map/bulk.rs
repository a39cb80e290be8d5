//! Operations on many items of a `HashMap`: `update(...)`, `popitem()`, `to_dict()` and
//! `==` with another mapping.
//!
//! Invariants: each item is one atomic write, a batch is not atomic; `popitem` pops from a
//! copy of one shard kept by the handle (the pop cursor), removing each entry only if it
//! still holds the copied value (one compare-and-set), so draining a map copies each shard
//! once and another process's concurrent change is never lost; snapshots are taken with
//! the GIL released, one consistent shard at a time.
//!
//! ```python
//! m.update({"a": 1}, b=2); m.popitem(); m.to_dict() == m
//! ```

use super::PyHashMap;
use crate::errors::{ExceptionClass, KeyNotFoundError, ResultExt};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::pyclass::CompareOp;
use pyo3::types::{PyBool, PyDict, PyTuple};
use std::sync::Mutex;

/// One `(key, value)` pair as stored.
pub type Item = (Vec<u8>, Vec<u8>);

/// `popitem`'s cursor: the next shard to copy, and the not yet popped entries of the last
/// copied one.
#[derive(Default)]
pub struct PopCursor(Mutex<(u32, Vec<Item>)>);

impl PyHashMap {
    /// See `HashMap.update`.
    pub(super) fn update_impl(
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
                    let value = other.get_item(&key)?;
                    Self::set(slf, &key, &value)?;
                }
            } else {
                for item in other.try_iter()? {
                    let item = item?;
                    let pair: Vec<Bound<'_, PyAny>> = item.try_iter()?.collect::<PyResult<_>>()?;
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

    /// See `HashMap.popitem`.
    pub(super) fn popitem_impl<'py>(
        slf: &Bound<'py, Self>,
    ) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyAny>)> {
        let py = slf.py();
        let (this, map) = Self::open(slf)?;
        let shards = map.shard_count();
        let lock = || this.pop_cursor.0.lock().unwrap_or_else(|p| p.into_inner());
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
                    return Ok((this.decode_value(py, &k)?, this.decode_value(py, &v)?));
                }
                continue;
            }
            if empty_in_a_row >= shards {
                return Err(KeyNotFoundError::new_err(py, ("popitem(): map is empty",)));
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

    /// A `dict` copy of the current items.
    pub(super) fn to_dict_impl<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyDict>> {
        let py = slf.py();
        let (this, map) = Self::open(slf)?;
        let items = py
            .detach(|| map.iter().collect::<Result<Vec<Item>, _>>())
            .py_err(py)?;
        let d = PyDict::new(py);
        for (k, v) in items {
            d.set_item(this.decode_value(py, &k)?, this.decode_value(py, &v)?)?;
        }
        Ok(d)
    }

    /// `==` / `!=` with any mapping, as a dict compares (another handle on the same map
    /// with the same key mode is equal without reading it).
    pub(super) fn richcmp_impl<'py>(
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
        let this = slf.get();
        if let Ok(o) = other.cast::<PyHashMap>() {
            let o = o.get();
            if o.map.store().same_attachment(this.map.store())
                && o.map.name() == this.map.name()
                && o.raw == this.raw
                && o.exact_keys == this.exact_keys
            {
                return Ok(PyBool::new(py, eq).to_owned().into_any());
            }
        }
        let mine = Self::to_dict_impl(slf)?;
        let theirs = PyDict::new(py);
        theirs.call_method1("update", (other,))?;
        let equal = mine.eq(theirs)?;
        Ok(PyBool::new(py, equal == eq).to_owned().into_any())
    }
}
