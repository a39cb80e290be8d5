//! `HashMap.incr`: an atomic add across processes. The arithmetic is the core's
//! ([`shmkit::value::arith::add_to`], run inside `HashMap::update` under the shard lock);
//! this module only turns the Python delta into an [`Addend`] and the outcome into a
//! Python result or exception.
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
use crate::codec::{decode, int_le_bytes};
use crate::errors::{self, ExceptionClass, NotAnIntegerError, ResultExt};
use pyo3::exceptions::{PyOverflowError, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyFloat, PyInt};
use shmkit::UpdateAction;
use shmkit::value::arith::{AddError, Addend, add_to};
use shmkit::value::{self, int};

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

/// The delta as the core adds it: an int's two's complement bytes, or a float.
enum Delta {
    Int(Vec<u8>),
    Float(f64),
}

impl Delta {
    fn parse(delta: DeltaArg<'_>) -> PyResult<Delta> {
        let delta = match delta {
            DeltaArg::One => return Ok(Delta::Int(vec![1])),
            DeltaArg::Given(d) => d,
        };
        if delta.is_instance_of::<PyBool>() {
            return Err(PyTypeError::new_err(
                "incr delta must be an int or a float, not bool",
            ));
        }
        if delta.is_exact_instance_of::<PyInt>() {
            return Ok(Delta::Int(int_le_bytes(&delta)?));
        }
        if delta.is_instance_of::<PyInt>() {
            return Ok(Delta::Int(int_le_bytes(&delta.call_method0("__index__")?)?));
        }
        if delta.is_instance_of::<PyFloat>() {
            return Ok(Delta::Float(delta.cast::<PyFloat>()?.value()));
        }
        Err(PyTypeError::new_err(format!(
            "incr delta must be an int or a float, not {}",
            delta.get_type().name()?
        )))
    }

    fn addend(&self) -> Addend<'_> {
        match self {
            Delta::Int(n) => Addend::Int(n),
            Delta::Float(f) => Addend::Float(*f),
        }
    }
}

/// The Python name of the type a tag stores, for the `NotAnIntegerError` message.
fn type_name_of_tag(tag: Option<u8>) -> &'static str {
    match tag {
        Some(value::TAG_NULL) => "None",
        Some(value::TAG_FALSE | value::TAG_TRUE) => "bool",
        Some(value::TAG_BYTES) => "bytes",
        Some(value::TAG_STR) => "str",
        Some(value::TAG_FOREIGN) => "pickled object",
        _ => "non-numeric value",
    }
}

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
            (Some(AddError::FloatOverflow), _) => Err(PyOverflowError::new_err(
                "int too large to convert to float",
            )),
            (Some(AddError::NotANumber { tag }), _) => Err(NotAnIntegerError::new_err(
                py,
                (format!(
                    "incr needs an int or float value, but the key holds a {}",
                    type_name_of_tag(tag)
                ),),
            )),
            (Some(other), _) => Err(errors::Error::new_err(py, (format!("incr: {other}"),))),
        }
    }
}
