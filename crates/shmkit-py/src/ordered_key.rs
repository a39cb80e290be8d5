//! Python objects ↔ ordered keys (`shmkit::value::ordered`): bytes whose order is the
//! objects' order, what sorted structures (the priority queue, the ordered map) sort by.
//!
//! Invariants:
//! - `None`, `int` (any size up to the core's `MAX_INT_BITS`), `float`, `bytes`, `str` and
//!   tuples of them (nested up to `MAX_DEPTH`) are keys; subclasses encode as their base type
//!   (through the base type's own methods, never an override); `bool` is the int 0 or 1 and
//!   an integral float the int it equals, so they decode as ints. Anything else is a
//!   `TypeError` naming its type; a tuple nested too deep a `ValueError`, an int too large an
//!   `OverflowError`, a `str` with lone surrogates its `UnicodeEncodeError`.
//! - The bytes are the core's: each object goes straight to the core's borrowed encoders
//!   (one pass, no intermediate key value), and decoding is the core's `OrderedKey::decode`,
//!   whose errors become `shmkit.DecodeError`.
//! - [`encode_order_prefix`] is what an ordered map's prefix scan starts from: a tuple's
//!   elements, or the start of a `str` or `bytes`;
//! - [`encode_order_key_lenient`] is the order a priority queue needs where
//!   `queue.PriorityQueue` would raise: a tuple keeps its longest encodable prefix of
//!   elements (recursively), so `(1, obj)` sorts as `(1,)` and ties fall back to insertion
//!   order.
//!
//! ```python
//! shmkit.encode_key((1, "a")) < shmkit.encode_key((1.5,))   # True
//! shmkit.decode_key(shmkit.encode_key((True, 2.0)))          # (1, 2)
//! ```

use crate::buffers::with_scratch;
use crate::codec::decode_big_int;
use crate::errors::ResultExt;
use pyo3::exceptions::{PyOverflowError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyFloat, PyInt, PyString, PyTuple};
use shmkit::value::ordered::{
    self, MAX_DEPTH, MAX_INT_BITS, OrderedKey, OrderedKeyError, begin_tuple, end_tuple,
};

/// What encoding one object did.
enum Step<'py> {
    /// The object's encoding was appended.
    Done,
    /// A tuple: its elements are the caller's to encode.
    Tuple(Bound<'py, PyTuple>),
    /// The object cannot be a key (the error says why); nothing was appended.
    Refused(PyErr),
}

/// Appends the encoding of `obj` unless it is a tuple (or cannot be a key).
fn scalar<'py>(obj: &Bound<'py, PyAny>, out: &mut Vec<u8>) -> PyResult<Step<'py>> {
    if obj.is_exact_instance_of::<PyInt>() {
        return int(obj, out);
    }
    if let Ok(f) = obj.cast_exact::<PyFloat>() {
        ordered::encode_f64_into(f.value(), out);
        return Ok(Step::Done);
    }
    if let Ok(s) = obj.cast_exact::<PyString>() {
        return Ok(text(s, out));
    }
    if let Ok(t) = obj.cast_exact::<PyTuple>() {
        return Ok(Step::Tuple(t.clone()));
    }
    if let Ok(b) = obj.cast_exact::<PyBytes>() {
        ordered::encode_bytes_into(b.as_bytes(), out);
        return Ok(Step::Done);
    }
    if obj.is_none() {
        ordered::encode_null_into(out);
        return Ok(Step::Done);
    }
    // Subclasses (bool, IntEnum, namedtuple, ...): as their base type.
    if obj.is_instance_of::<PyInt>() {
        return int(obj, out);
    }
    if let Ok(f) = obj.cast::<PyFloat>() {
        ordered::encode_f64_into(f.value(), out);
        return Ok(Step::Done);
    }
    if let Ok(s) = obj.cast::<PyString>() {
        return Ok(text(s, out));
    }
    if let Ok(t) = obj.cast::<PyTuple>() {
        return Ok(Step::Tuple(t.clone()));
    }
    if let Ok(b) = obj.cast::<PyBytes>() {
        ordered::encode_bytes_into(b.as_bytes(), out);
        return Ok(Step::Done);
    }
    Ok(Step::Refused(PyTypeError::new_err(format!(
        "an ordered key cannot hold a '{}' (only None, int, float, bytes, str and tuples of them)",
        obj.get_type().name()?
    ))))
}

/// Appends a `str` (or subclass): its UTF-8, which lone surrogates do not have.
fn text<'py>(s: &Bound<'_, PyString>, out: &mut Vec<u8>) -> Step<'py> {
    match s.to_str() {
        Ok(text) => {
            ordered::encode_str_into(text, out);
            Step::Done
        }
        Err(e) => Step::Refused(e),
    }
}

/// Appends an `int` (or subclass, through `int`'s own methods).
fn int<'py>(obj: &Bound<'py, PyAny>, out: &mut Vec<u8>) -> PyResult<Step<'py>> {
    if let Ok(i) = obj.extract::<i64>() {
        ordered::encode_i64_into(i, out);
        return Ok(Step::Done);
    }
    let py = obj.py();
    let int_type = py.get_type::<PyInt>();
    let bits: u64 = int_type.call_method1("bit_length", (obj,))?.extract()?;
    if bits > MAX_INT_BITS {
        return Ok(Step::Refused(too_large(bits)));
    }
    let kwargs = PyDict::new(py);
    kwargs.set_item("signed", true)?;
    let bytes = int_type.call_method("to_bytes", (obj, bits / 8 + 1, "little"), Some(&kwargs))?;
    match ordered::encode_int_le_into(bytes.cast::<PyBytes>()?.as_bytes(), out) {
        Ok(()) => Ok(Step::Done),
        Err(OrderedKeyError::IntTooLarge { bits }) => Ok(Step::Refused(too_large(bits))),
        Err(e) => Ok(Step::Refused(PyValueError::new_err(e.to_string()))),
    }
}

fn too_large(bits: u64) -> PyErr {
    PyOverflowError::new_err(OrderedKeyError::IntTooLarge { bits }.to_string())
}

fn too_deep() -> PyErr {
    PyValueError::new_err(OrderedKeyError::TooDeep.to_string())
}

/// Appends the ordered key of `obj`, or raises (`TypeError` for an object that cannot be a
/// key, `ValueError` for tuples nested deeper than `MAX_DEPTH`, `OverflowError` for an int
/// beyond `MAX_INT_BITS`); `out` may then hold part of a key.
pub(crate) fn encode_order_key(obj: &Bound<'_, PyAny>, out: &mut Vec<u8>) -> PyResult<()> {
    strict(obj, 0, out)
}

fn strict(obj: &Bound<'_, PyAny>, depth: usize, out: &mut Vec<u8>) -> PyResult<()> {
    match scalar(obj, out)? {
        Step::Done => Ok(()),
        Step::Refused(e) => Err(e),
        Step::Tuple(items) => {
            if depth >= MAX_DEPTH {
                return Err(too_deep());
            }
            begin_tuple(out);
            for item in items.iter() {
                strict(&item, depth + 1, out)?;
            }
            end_tuple(out);
            Ok(())
        }
    }
}

/// What the keys under a prefix ([`encode_order_prefix`]) are, given its bytes `P`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Prefix {
    /// A tuple's elements: the tuples that start with them, the keys `P <= k < P ‖ 0xff`
    /// (`ordered::has_prefix`).
    Elements,
    /// The start of a `str` or `bytes`: the strings that start with it, every key that
    /// starts with `P`.
    Text,
}

/// Appends the prefix of the keys that `obj` names as a prefix: for a tuple (or subclass),
/// the tuples that start with its elements (its key without the terminator); for a `str` or
/// `bytes`, the strings of that type that start with it (`ordered::encode_str_prefix_into`,
/// `encode_bytes_prefix_into`). Other objects raise `TypeError`; elements raise as in
/// [`encode_order_key`].
pub(crate) fn encode_order_prefix(obj: &Bound<'_, PyAny>, out: &mut Vec<u8>) -> PyResult<Prefix> {
    if let Ok(t) = obj.cast::<PyTuple>() {
        begin_tuple(out);
        for item in t.iter() {
            strict(&item, 1, out)?;
        }
        return Ok(Prefix::Elements);
    }
    if let Ok(s) = obj.cast::<PyString>() {
        ordered::encode_str_prefix_into(s.to_str()?, out);
        return Ok(Prefix::Text);
    }
    if let Ok(b) = obj.cast::<PyBytes>() {
        ordered::encode_bytes_prefix_into(b.as_bytes(), out);
        return Ok(Prefix::Text);
    }
    Err(PyTypeError::new_err(format!(
        "a key prefix is a str, bytes or tuple, not '{}'",
        obj.get_type().name()?
    )))
}

/// [`encode_order_key`], except that a tuple never fails for what its elements hold: it is
/// encoded up to its first element that cannot be a key (at any nesting depth, where the
/// enclosing tuples end too), so `(1, object())` has the key of `(1,)`. An object that is
/// not a tuple raises as in [`encode_order_key`].
pub(crate) fn encode_order_key_lenient(obj: &Bound<'_, PyAny>, out: &mut Vec<u8>) -> PyResult<()> {
    match scalar(obj, out)? {
        Step::Done => Ok(()),
        Step::Refused(e) => Err(e),
        Step::Tuple(items) => lenient_tuple(&items, 0, out).map(|_| ()),
    }
}

/// Appends the tuple `items` at `depth` up to its first element that cannot be a key; true
/// if it was complete.
fn lenient_tuple(items: &Bound<'_, PyTuple>, depth: usize, out: &mut Vec<u8>) -> PyResult<bool> {
    if depth >= MAX_DEPTH {
        return Ok(false);
    }
    begin_tuple(out);
    let mut complete = true;
    for item in items.iter() {
        complete = match scalar(&item, out)? {
            Step::Done => true,
            Step::Refused(_) => false,
            Step::Tuple(inner) => lenient_tuple(&inner, depth + 1, out)?,
        };
        if !complete {
            break;
        }
    }
    end_tuple(out);
    Ok(complete)
}

/// The Python object of a decoded key.
fn to_python<'py>(py: Python<'py>, key: &OrderedKey) -> PyResult<Bound<'py, PyAny>> {
    Ok(match key {
        OrderedKey::Null => py.None().into_bound(py),
        OrderedKey::Int(i) => i.into_pyobject(py)?.into_any(),
        OrderedKey::BigInt(n) => decode_big_int(py, n)?,
        OrderedKey::Float(f) => PyFloat::new(py, *f).into_any(),
        OrderedKey::Bytes(b) => PyBytes::new(py, b).into_any(),
        OrderedKey::Str(s) => PyString::new(py, s).into_any(),
        OrderedKey::Tuple(items) => {
            let items = items
                .iter()
                .map(|k| to_python(py, k))
                .collect::<PyResult<Vec<_>>>()?;
            PyTuple::new(py, items)?.into_any()
        }
    })
}

/// `shmkit.encode_key(obj)`: the ordered key of `obj` (None, int, float, bytes, str, or a
/// tuple of them), bytes that compare as the objects do.
#[pyfunction]
pub fn encode_key<'py>(py: Python<'py>, obj: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyBytes>> {
    with_scratch(|key, _| {
        encode_order_key(obj, key)?;
        Ok(PyBytes::new(py, key))
    })
}

/// `shmkit.decode_key(data)`: the object of an ordered key (bools and integral floats come
/// back as ints); `shmkit.DecodeError` for bytes that are not one.
#[pyfunction]
pub fn decode_key<'py>(py: Python<'py>, data: &[u8]) -> PyResult<Bound<'py, PyAny>> {
    let key = OrderedKey::decode(data).py_err(py)?;
    to_python(py, &key)
}

/// The lenient key of `obj` ([`encode_order_key_lenient`], what the priority queue sorts
/// by), for the tests.
#[pyfunction]
pub fn _encode_key_lenient<'py>(
    py: Python<'py>,
    obj: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyBytes>> {
    with_scratch(|key, _| {
        encode_order_key_lenient(obj, key)?;
        Ok(PyBytes::new(py, key))
    })
}
