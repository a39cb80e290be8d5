//! Batched operations of `HashMap`: `get_many`, `contains_many`, `set_many`, `remove_many`.
//!
//! Invariants: every key (and value) of a batch is encoded with the GIL held, into one
//! buffer, before anything else happens (an unencodable item raises before any read or
//! write); the core's batch call then runs once with the GIL released (no Python code and no
//! per-key Python call inside it); results are decoded with the GIL held. The guarantees are
//! the core's (`shmkit::HashMap::get_many`): each key's answer is one a single lookup could
//! have given during the call, with no atomicity across keys; a batch write lands key by
//! key, the last value of a repeated key winning.
//!
//! ```python
//! m.set_many({"a": 1, "b": 2}); m.get_many(["a", "x"]) == [1, None]
//! m.contains_many(["a", "x"]) == [True, False]; m.remove_many(["a", "x"]) == 1
//! ```

use super::PyHashMap;
use crate::errors::ResultExt;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyList};
use std::ops::Range;

/// Encoded items of a batch: their bytes in one buffer, and each item's range in it.
#[derive(Default)]
struct Encoded {
    bytes: Vec<u8>,
    spans: Vec<Range<usize>>,
}

impl Encoded {
    /// Appends one item with `encode`.
    fn push(&mut self, encode: impl FnOnce(&mut Vec<u8>) -> PyResult<()>) -> PyResult<()> {
        let start = self.bytes.len();
        encode(&mut self.bytes)?;
        self.spans.push(start..self.bytes.len());
        Ok(())
    }

    /// The items as slices.
    fn slices(&self) -> Vec<&[u8]> {
        self.spans.iter().map(|r| &self.bytes[r.clone()]).collect()
    }
}

impl PyHashMap {
    /// Encodes every key of the iterable `keys`.
    fn encode_keys(&self, keys: &Bound<'_, PyAny>) -> PyResult<Encoded> {
        let mut out = Encoded::default();
        for key in keys.try_iter()? {
            let key = key?;
            out.push(|buf| self.key_into(&key, buf))?;
        }
        Ok(out)
    }

    /// See `HashMap.get_many`.
    pub(super) fn get_many_impl<'py>(
        slf: &Bound<'py, Self>,
        keys: &Bound<'py, PyAny>,
        default: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyList>> {
        let py = slf.py();
        let (this, map) = Self::open(slf)?;
        let encoded = this.encode_keys(keys)?;
        let (mut out, mut spans) = (Vec::new(), Vec::new());
        py.detach(|| map.get_many_into(&encoded.slices(), &mut out, &mut spans))
            .py_err(py)?;
        let default = default.unwrap_or_else(|| py.None().into_bound(py));
        let list = PyList::empty(py);
        for span in spans {
            match span {
                Some(r) => list.append(this.decode_value(py, &out[r])?)?,
                None => list.append(&default)?,
            }
        }
        Ok(list)
    }

    /// See `HashMap.contains_many`.
    pub(super) fn contains_many_impl<'py>(
        slf: &Bound<'py, Self>,
        keys: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyList>> {
        let py = slf.py();
        let (this, map) = Self::open(slf)?;
        let encoded = this.encode_keys(keys)?;
        let present = py
            .detach(|| map.contains_many(&encoded.slices()))
            .py_err(py)?;
        PyList::new(py, present.into_iter().map(|p| PyBool::new(py, p)))
    }

    /// See `HashMap.remove_many`.
    pub(super) fn remove_many_impl(
        slf: &Bound<'_, Self>,
        keys: &Bound<'_, PyAny>,
    ) -> PyResult<u64> {
        let py = slf.py();
        let (this, map) = Self::open(slf)?;
        let encoded = this.encode_keys(keys)?;
        py.detach(|| map.remove_many(&encoded.slices())).py_err(py)
    }

    /// See `HashMap.set_many`: `items` is a mapping (anything with `keys()`) or an iterable
    /// of `(key, value)` pairs.
    pub(super) fn set_many_impl(slf: &Bound<'_, Self>, items: &Bound<'_, PyAny>) -> PyResult<()> {
        let py = slf.py();
        let (this, map) = Self::open(slf)?;
        let (mut keys, mut values) = (Encoded::default(), Encoded::default());
        let mut add = |k: &Bound<'_, PyAny>, v: &Bound<'_, PyAny>| -> PyResult<()> {
            keys.push(|buf| this.key_into(k, buf))?;
            values.push(|buf| this.value_into(v, buf))
        };
        if items.hasattr("keys")? {
            for key in items.call_method0("keys")?.try_iter()? {
                let key = key?;
                add(&key, &items.get_item(&key)?)?;
            }
        } else {
            for item in items.try_iter()? {
                let pair: Vec<Bound<'_, PyAny>> = item?.try_iter()?.collect::<PyResult<_>>()?;
                if pair.len() != 2 {
                    return Err(PyValueError::new_err(format!(
                        "set_many() item has length {}; 2 is required",
                        pair.len()
                    )));
                }
                add(&pair[0], &pair[1])?;
            }
        }
        let batch: Vec<(&[u8], &[u8])> = keys.slices().into_iter().zip(values.slices()).collect();
        py.detach(|| map.set_many(&batch)).py_err(py)
    }
}
