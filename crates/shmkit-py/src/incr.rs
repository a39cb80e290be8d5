//! What every typed `incr` shares (`HashMap.incr`, `OrderedMap.incr`): the `delta` argument
//! turned into the core's [`Addend`], and the core's [`AddError`] turned into the Python
//! exception. The arithmetic itself is the core's ([`shmkit::value::arith::add_to`], run
//! under the object's lock); nothing here computes a sum.
//!
//! Invariants: a delta is an `int` (any size, or an `int` subclass through `__index__`) or
//! a `float`; `bool` and anything else raise `TypeError` before any store call; a value
//! that is not a number raises `NotAnIntegerError` (a `TypeError`) naming the type it
//! holds; an int too large for a float added to a float raises `OverflowError`, as Python
//! does.
//!
//! ```python
//! m.incr("hits")            # 1
//! m.incr("hits", 2**70)     # promotes to a big int
//! m.incr("hits", 0.5)       # int + float -> float
//! ```

use crate::codec::int_le_bytes;
use crate::errors::{self, ExceptionClass, NotAnIntegerError};
use pyo3::exceptions::{PyOverflowError, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyFloat, PyInt};
use shmkit::value;
use shmkit::value::arith::{AddError, Addend};

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
pub enum Delta {
    Int(Vec<u8>),
    Float(f64),
}

impl Delta {
    /// The delta of an `incr` call, or `TypeError`.
    pub fn parse(delta: DeltaArg<'_>) -> PyResult<Delta> {
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

    /// The delta as the core's addition takes it.
    pub fn addend(&self) -> Addend<'_> {
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

/// The exception for an addition the core refused.
pub fn add_error(py: Python<'_>, why: AddError) -> PyErr {
    match why {
        AddError::FloatOverflow => PyOverflowError::new_err("int too large to convert to float"),
        AddError::NotANumber { tag } => NotAnIntegerError::new_err(
            py,
            (format!(
                "incr needs an int or float value, but the key holds a {}",
                type_name_of_tag(tag)
            ),),
        ),
        other => errors::Error::new_err(py, (format!("incr: {other}"),)),
    }
}
