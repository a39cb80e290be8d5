//! Python objects ↔ the shared typed encoding (`shmkit::value`: a tag byte, then the payload).
//!
//! Invariants:
//! - `None`, `bool`, `int` (any size), `float`, `bytes` and `str` are stored natively, so Rust
//!   and C read them; any other object is pickled (protocol 5) under tag `0x08`, language 1.
//! - Values keep their exact type: a subclass of `int`/`str`/... (an `IntEnum`, say) is pickled
//!   so it comes back as itself.
//! - Keys follow `dict` equality: `True`, `1` and `1.0` are one key (bool and integral floats
//!   are stored as ints, so they read back as `int`); subclasses of `str`/`bytes`/`int` are
//!   stored as their base type; `1`, `"1"` and `b"1"` are three keys. Other keys must be
//!   hashable and are matched by their pickle bytes.
//! - The bytes are the core's business: values are written through [`ValueRef::encode_into`]
//!   and read through [`value::decode_ref`] (one match on its kinds), so no tag or payload
//!   layout is known here, and malformed bytes get the core's error messages.
//! - Integers get their canonical encoding from the core ([`shmkit::value::int`]: i64 when
//!   they fit, else minimal two's complement under tag `0x07`); this module only moves the
//!   bytes of a Python `int` (or of an integral `float` key) in and out.
//!
//! ```python
//! m[1] = "a"; m[1.0]   # -> "a"
//! m[(1, "x")] = 2      # tuple key, stored pickled
//! ```

use crate::errors::{DecodeError, ExceptionClass, IntoPyErr};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBool, PyBytes, PyFloat, PyInt, PyString};
use shmkit::value::{self, LANG_PYTHON_PICKLE, ValueRef, int};

/// Pickle protocol used for stored objects (fixed, so a key's bytes do not depend on the
/// Python version that wrote it).
pub const PICKLE_PROTOCOL: i32 = 5;

static PICKLE_DUMPS: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
static PICKLE_LOADS: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

fn pickle_fn<'py>(
    py: Python<'py>,
    cell: &PyOnceLock<Py<PyAny>>,
    name: &str,
) -> PyResult<Bound<'py, PyAny>> {
    let f = cell.get_or_try_init(py, || {
        Ok::<_, PyErr>(py.import("pickle")?.getattr(name)?.unbind())
    })?;
    Ok(f.bind(py).clone())
}

/// Appends the pickle of `obj` as a foreign value of language [`LANG_PYTHON_PICKLE`].
fn encode_pickle(obj: &Bound<'_, PyAny>, out: &mut Vec<u8>) -> PyResult<()> {
    let py = obj.py();
    let data = pickle_fn(py, &PICKLE_DUMPS, "dumps")?.call1((obj, PICKLE_PROTOCOL))?;
    let data = data.cast::<PyBytes>()?;
    ValueRef::Foreign {
        lang: LANG_PYTHON_PICKLE,
        data: data.as_bytes(),
    }
    .encode_into(out);
    Ok(())
}

/// The bytes of an `int` (or subclass): two's complement, little-endian (minimal for one
/// that fits in i64, one sign byte to spare otherwise). Calls `to_bytes` only beyond i64.
pub fn int_le_bytes(obj: &Bound<'_, PyAny>) -> PyResult<Vec<u8>> {
    if let Ok(i) = obj.extract::<i64>() {
        return Ok(i.to_le_bytes().to_vec());
    }
    let bits: u64 = obj.call_method0("bit_length")?.extract()?;
    let len = bits / 8 + 1;
    let kwargs = pyo3::types::PyDict::new(obj.py());
    kwargs.set_item("signed", true)?;
    let bytes = obj.call_method("to_bytes", (len, "little"), Some(&kwargs))?;
    Ok(bytes.cast::<PyBytes>()?.as_bytes().to_vec())
}

/// Appends the encoding of an `int` (or subclass).
fn encode_int(obj: &Bound<'_, PyAny>, out: &mut Vec<u8>) -> PyResult<()> {
    match obj.extract::<i64>() {
        Ok(i) => int::encode_i64_into(i, out),
        Err(_) => int::encode_le_into(&int_le_bytes(obj)?, out),
    }
    Ok(())
}

/// Appends the encoding of `value`, keeping its exact Python type.
pub fn encode_value(obj: &Bound<'_, PyAny>, out: &mut Vec<u8>) -> PyResult<()> {
    if let Ok(s) = obj.cast_exact::<PyString>() {
        match s.to_str() {
            Ok(text) => {
                ValueRef::Str(text).encode_into(out);
                return Ok(());
            }
            // Lone surrogates have no UTF-8 form: keep them through pickle.
            Err(_) => return encode_pickle(obj, out),
        }
    }
    if obj.is_exact_instance_of::<PyInt>() {
        return encode_int(obj, out);
    }
    if let Ok(b) = obj.cast_exact::<PyBytes>() {
        ValueRef::Bytes(b.as_bytes()).encode_into(out);
        return Ok(());
    }
    if let Ok(f) = obj.cast_exact::<PyFloat>() {
        ValueRef::Float(f.value()).encode_into(out);
        return Ok(());
    }
    if obj.is_none() {
        ValueRef::Null.encode_into(out);
        return Ok(());
    }
    if let Ok(b) = obj.cast_exact::<PyBool>() {
        ValueRef::Bool(b.is_true()).encode_into(out);
        return Ok(());
    }
    encode_pickle(obj, out)
}

/// The encoding of the two commonest keys and values, written to the start of `out` when it
/// fits: an exact `str` that has a UTF-8 form, an exact `int` in i64 range. [`encode_key`]
/// and [`encode_value`] give these the same bytes (they treat them alike); `None` for any
/// other object, and when the bytes do not fit (use those two then: they raise the errors).
/// Lets a single-key call encode into a buffer on its stack, with no scratch buffer.
#[inline]
pub fn encode_common(obj: &Bound<'_, PyAny>, out: &mut [u8]) -> Option<usize> {
    if let Ok(s) = obj.cast_exact::<PyString>() {
        return ValueRef::Str(s.to_str().ok()?).encode_to_slice(out);
    }
    if obj.is_exact_instance_of::<PyInt>() {
        return ValueRef::Int(obj.extract::<i64>().ok()?).encode_to_slice(out);
    }
    None
}

/// Appends the encoding of `key`, normalised so that keys equal in a `dict` are equal here.
pub fn encode_key(obj: &Bound<'_, PyAny>, out: &mut Vec<u8>) -> PyResult<()> {
    if let Ok(s) = obj.cast_exact::<PyString>() {
        if let Ok(text) = s.to_str() {
            ValueRef::Str(text).encode_into(out);
            return Ok(());
        }
        return encode_pickle(obj, out);
    }
    if let Ok(b) = obj.cast_exact::<PyBool>() {
        int::encode_i64_into(i64::from(b.is_true()), out);
        return Ok(());
    }
    if obj.is_instance_of::<PyInt>() {
        return encode_int(obj, out);
    }
    if obj.is_instance_of::<PyBytes>() {
        ValueRef::Bytes(obj.cast::<PyBytes>()?.as_bytes()).encode_into(out);
        return Ok(());
    }
    if obj.is_instance_of::<PyString>() {
        // A str subclass: stored as the str it equals.
        let text = obj.cast::<PyString>()?.to_str().map(str::to_owned);
        if let Ok(text) = text {
            ValueRef::Str(&text).encode_into(out);
            return Ok(());
        }
        return encode_pickle(obj, out);
    }
    if obj.is_instance_of::<PyFloat>() {
        let f = obj.cast::<PyFloat>()?.value();
        // An integral float equals the int of the same value in a dict.
        if let Some(n) = int::from_integral_f64(f) {
            int::encode_le_into(&n, out);
            return Ok(());
        }
        ValueRef::Float(f).encode_into(out);
        return Ok(());
    }
    if obj.is_none() {
        ValueRef::Null.encode_into(out);
        return Ok(());
    }
    // Like a dict, refuse unhashable keys (a list, a dict, ...).
    obj.hash()?;
    encode_pickle(obj, out)
}

/// Builds the Python object for an encoded value. The core classifies the bytes
/// ([`value::decode_ref`], a view: the payload is not copied before Python copies it into its
/// object) and describes malformed ones, as every other reader describes them; this only
/// maps each kind of value to its Python type.
pub fn decode<'py>(py: Python<'py>, bytes: &[u8]) -> PyResult<Bound<'py, PyAny>> {
    // The most common value: Python's own decoder validates the UTF-8 as it builds the
    // string, so it is not validated a second time here (measured: +290 instructions a `get`
    // of a 32-character value when it was).
    if let Some(utf8) = value::str_payload_unvalidated(bytes) {
        return match PyString::from_bytes(py, utf8) {
            Ok(s) => Ok(s.into_any()),
            Err(e) if e.is_instance_of::<pyo3::exceptions::PyUnicodeDecodeError>(py) => {
                Err(value::DecodeError::BadUtf8.into_py_err(py))
            }
            Err(e) => Err(e),
        };
    }
    let value = value::decode_ref(bytes).map_err(|e| e.into_py_err(py))?;
    Ok(match value {
        ValueRef::Null => py.None().into_bound(py),
        ValueRef::Bool(b) => PyBool::new(py, b).to_owned().into_any(),
        ValueRef::Int(i) => i.into_pyobject(py)?.into_any(),
        ValueRef::Float(f) => PyFloat::new(py, f).into_any(),
        ValueRef::Bytes(b) => PyBytes::new(py, b).into_any(),
        ValueRef::Str(s) => PyString::new(py, s).into_any(),
        ValueRef::BigInt(n) => decode_big_int(py, n)?,
        ValueRef::Foreign {
            lang: LANG_PYTHON_PICKLE,
            data,
        } => pickle_fn(py, &PICKLE_LOADS, "loads")?.call1((PyBytes::new(py, data),))?,
        ValueRef::Foreign { lang, .. } => {
            return Err(DecodeError::new_err(
                py,
                (format!(
                    "value was written by another language (language id {lang}) and has no Python form"
                ),),
            ));
        }
    })
}

/// `int.from_bytes(payload, "little", signed=True)`.
pub fn decode_big_int<'py>(py: Python<'py>, payload: &[u8]) -> PyResult<Bound<'py, PyAny>> {
    let int_type = py.get_type::<PyInt>();
    let kwargs = pyo3::types::PyDict::new(py);
    kwargs.set_item("signed", true)?;
    int_type.call_method(
        "from_bytes",
        (PyBytes::new(py, payload), "little"),
        Some(&kwargs),
    )
}

/// Bytes of a raw-mode key or value: `bytes`, `bytearray` or `memoryview`-like objects.
pub fn raw_bytes(obj: &Bound<'_, PyAny>, out: &mut Vec<u8>) -> PyResult<()> {
    if let Ok(b) = obj.cast::<PyBytes>() {
        out.extend_from_slice(b.as_bytes());
        return Ok(());
    }
    if let Ok(b) = obj.cast::<pyo3::types::PyByteArray>() {
        out.extend_from_slice(&b.to_vec());
        return Ok(());
    }
    Err(pyo3::exceptions::PyTypeError::new_err(format!(
        "a raw map takes bytes or bytearray, not {}",
        obj.get_type().name()?
    )))
}
