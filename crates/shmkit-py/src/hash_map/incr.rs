//! `HashMap.incr`: an atomic add across processes. The arithmetic is the core's
//! ([`shmkit::value::arith::add_to`], run inside `HashMap::update` under the shard lock);
//! this module only runs it, with the delta and the errors of [`crate::incr`] (shared with
//! `OrderedMap.incr`), and handles raw maps.
//!
//! Invariants: no Python code runs under the shard lock (the delta is converted before,
//! the result decoded after); a value that is not a number is left unchanged and raises
//! `NotAnIntegerError`; an int too large for a float added to a float raises
//! `OverflowError` and changes nothing. On a raw map the value is an 8-byte little-endian
//! i64 (int delta) or f64 (float delta) that wraps (`HashMap::incr_i64` / `incr_f64`).
//!
//! ```python
//! m.incr("hits")            # 1
//! m.incr("hits", 2**70)     # promotes to a big int
//! m.incr("hits", 0.5)       # int + float -> float
//! ```

use super::PyHashMap;
use crate::codec::decode;
use crate::errors::{self, ExceptionClass, ResultExt};
use crate::incr::{Delta, DeltaArg, add_error};
use pyo3::exceptions::PyOverflowError;
use pyo3::prelude::*;
use pyo3::types::PyFloat;
use shmkit::UpdateAction;
use shmkit::value::arith::add_to;
use shmkit::value::int;

impl PyHashMap {
    /// See `HashMap.incr` in the class.
    pub(super) fn incr_impl<'py>(
        slf: &Bound<'py, Self>,
        key: &Bound<'py, PyAny>,
        delta: DeltaArg<'py>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        let (this, map) = Self::open(slf)?;
        let delta = Delta::parse(delta)?;
        let k = this.key(key)?;
        if this.raw {
            return match delta {
                Delta::Int(d) => {
                    let d = int::to_i64(&d).ok_or_else(|| {
                        PyOverflowError::new_err("raw incr delta does not fit in i64")
                    })?;
                    let n = py.detach(|| map.incr_i64(&k, d)).py_err(py)?;
                    Ok(n.into_pyobject(py)?.into_any())
                }
                Delta::Float(d) => {
                    let f = py.detach(|| map.incr_f64(&k, d)).py_err(py)?;
                    Ok(PyFloat::new(py, f).into_any())
                }
            };
        }
        let addend = delta.addend();
        let mut failure = None;
        let after = py
            .detach(|| {
                map.update(&k, |current| match add_to(current, addend) {
                    Ok(sum) => UpdateAction::Set(sum),
                    Err(why) => {
                        failure = Some(why);
                        UpdateAction::Keep
                    }
                })
            })
            .py_err(py)?;
        match (failure, after) {
            (None, Some(v)) => decode(py, &v),
            (None, None) => Err(errors::Error::new_err(
                py,
                ("incr: value vanished during the update",),
            )),
            (Some(why), _) => Err(add_error(py, why)),
        }
    }
}
