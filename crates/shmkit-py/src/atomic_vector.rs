//! `shmkit.AtomicVector`: a growable vector of atomic 64-bit integers shared by processes
//! (counters, flags, bit sets). What every handle has (name, close, context manager,
//! pickling, verify/repair/stats) comes from its base class [`PySharedObject`]; this class
//! adds the vector's own operations.
//!
//! Invariants:
//! - every element operation is one atomic instruction of the core and never blocks, so it
//!   runs with the GIL held; what can wait (opening, `expand`, `wait`, slices, which copy
//!   many elements) runs with the GIL released;
//! - indices are Python's: a negative index counts from the end (of the elements, or of the
//!   `64 × len` bits for the bit operations); an index out of range raises
//!   `shmkit.IndexOutOfRangeError` (an `IndexError`); a value outside `i64` raises
//!   `OverflowError` (PyO3's conversion);
//! - the read-modify-write operations return the previous value (fetch semantics);
//! - every operation first checks that the handle is open.
//!
//! ```python
//! v = store.atomic_vector("counters", 4)
//! v.add(0, 1)          # -> 0, the value before
//! v[0]                 # -> 1
//! v.compare_exchange(0, 1, 5)   # -> (True, 1)
//! ```

use crate::errors::{ExceptionClass, IndexOutOfRangeError, ResultExt};
use crate::handle::PySharedObject;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PySlice};
use shmkit::{AtomicVector, Store, WaitOutcome};
use std::time::{Duration, Instant};

/// Longest sleep of one `wait` slice before the GIL is taken back to check for signals
/// (Ctrl-C), so an unbounded wait stays interruptible.
const SIGNAL_SLICE: Duration = Duration::from_millis(100);

/// An atomic vector handle (see the module documentation).
#[pyclass(module = "shmkit", name = "AtomicVector", extends = PySharedObject, frozen, sequence)]
pub struct PyAtomicVector {
    vector: AtomicVector,
}

/// Opens the atomic vector `name` of `store` (opened by `store_name`): created with `len`
/// elements if missing and `create`; an existing one shorter than `len` is expanded to it.
pub fn open(
    py: Python<'_>,
    store: &Store,
    store_name: String,
    name: &str,
    len: u64,
    create: bool,
) -> PyResult<Py<PyAtomicVector>> {
    let vector = py
        .detach(|| {
            if create {
                store.atomic_vector(name, len)
            } else {
                let v = store.open_atomic_vector(name)?;
                v.expand(len)?;
                Ok(v)
            }
        })
        .py_err(py)?;
    let base = PySharedObject::new(
        Box::new(vector.clone()),
        store,
        store_name,
        PyDict::new(py),
        "elements",
    );
    Py::new(
        py,
        PyClassInitializer::from(base).add_subclass(PyAtomicVector { vector }),
    )
}

/// Re-attaches a pickled handle (the vector opened, never created).
pub fn reopen(
    py: Python<'_>,
    store: &Store,
    store_name: String,
    name: &str,
) -> PyResult<Py<PyAtomicVector>> {
    open(py, store, store_name, name, 0, false)
}

/// `IndexOutOfRangeError` for `index` in a sequence of `len` (`what`: "index" or "bit").
fn out_of_range(py: Python<'_>, what: &str, index: i64, len: u64) -> PyErr {
    IndexOutOfRangeError::new_err(
        py,
        (format!("{what} {index} out of range for a length of {len}"),),
    )
}

/// The Python index `index` (negative: from the end) of a sequence of `len`.
fn resolve(py: Python<'_>, what: &str, index: i64, len: u64) -> PyResult<u64> {
    let resolved = if index < 0 {
        i128::from(len) + i128::from(index)
    } else {
        i128::from(index)
    };
    // Past the end is left to the core, which checks against the length it reads.
    u64::try_from(resolved).map_err(|_| out_of_range(py, what, index, len))
}

impl PyAtomicVector {
    /// The vector, or `ClosedError`.
    #[inline]
    fn vector<'a>(slf: &'a Bound<'_, Self>) -> PyResult<&'a AtomicVector> {
        slf.as_super().get().check_open(slf.py(), "AtomicVector")?;
        Ok(&slf.get().vector)
    }

    /// The vector and the element index `index` resolved.
    #[inline]
    fn element<'a>(slf: &'a Bound<'_, Self>, index: i64) -> PyResult<(&'a AtomicVector, u64)> {
        let v = Self::vector(slf)?;
        let i = if index < 0 {
            resolve(slf.py(), "index", index, v.len())?
        } else {
            index as u64
        };
        Ok((v, i))
    }

    /// The vector and the bit index `bit` resolved.
    #[inline]
    fn bit<'a>(slf: &'a Bound<'_, Self>, bit: i64) -> PyResult<(&'a AtomicVector, u64)> {
        let v = Self::vector(slf)?;
        let i = if bit < 0 {
            resolve(slf.py(), "bit", bit, v.bit_len())?
        } else {
            bit as u64
        };
        Ok((v, i))
    }
}

#[pymethods]
impl PyAtomicVector {
    /// Elements in the vector (it only grows).
    fn __len__(slf: &Bound<'_, Self>) -> PyResult<usize> {
        let len = Self::vector(slf)?.len();
        Ok(usize::try_from(len).unwrap_or(usize::MAX))
    }

    /// `v[i]` (an int; negative counts from the end) or `v[a:b:c]` (a list; each element
    /// read atomically, the slice as a whole is not one snapshot).
    fn __getitem__<'py>(
        slf: &Bound<'py, Self>,
        index: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        if let Ok(slice) = index.cast::<PySlice>() {
            let v = Self::vector(slf)?;
            let len = isize::try_from(v.len()).unwrap_or(isize::MAX);
            let ix = slice.indices(len)?;
            if ix.slicelength == 0 {
                return Ok(PyList::empty(py).into_any());
            }
            let values = if ix.step == 1 {
                let (start, stop) = (ix.start as u64, ix.stop as u64);
                py.detach(|| v.load_range(start, stop)).py_err(py)?
            } else {
                let (start, step, n) = (ix.start as i128, ix.step as i128, ix.slicelength);
                py.detach(|| {
                    (0..n as i128)
                        .map(|k| v.load((start + k * step) as u64))
                        .collect::<Result<Vec<i64>, _>>()
                })
                .py_err(py)?
            };
            return Ok(PyList::new(py, values)?.into_any());
        }
        let (v, i) = Self::element(slf, index.extract()?)?;
        Ok(v.load(i).py_err(py)?.into_pyobject(py)?.into_any())
    }

    /// `v[i] = value` (an int index; negative counts from the end).
    fn __setitem__(slf: &Bound<'_, Self>, index: i64, value: i64) -> PyResult<()> {
        let (v, i) = Self::element(slf, index)?;
        v.store(i, value).py_err(slf.py())
    }

    /// The value of element `i`.
    fn load(slf: &Bound<'_, Self>, i: i64) -> PyResult<i64> {
        let (v, i) = Self::element(slf, i)?;
        v.load(i).py_err(slf.py())
    }

    /// Stores `value` in element `i`.
    fn store(slf: &Bound<'_, Self>, i: i64, value: i64) -> PyResult<()> {
        let (v, i) = Self::element(slf, i)?;
        v.store(i, value).py_err(slf.py())
    }

    /// Stores `value` in element `i`; returns the previous value.
    fn exchange(slf: &Bound<'_, Self>, i: i64, value: i64) -> PyResult<i64> {
        let (v, i) = Self::element(slf, i)?;
        v.swap(i, value).py_err(slf.py())
    }

    /// Stores `new` in element `i` if it holds `expected`. Returns `(True, expected)` if it
    /// did, `(False, found)` with the value found if not.
    fn compare_exchange(
        slf: &Bound<'_, Self>,
        i: i64,
        expected: i64,
        new: i64,
    ) -> PyResult<(bool, i64)> {
        let (v, i) = Self::element(slf, i)?;
        Ok(
            match v.compare_exchange(i, expected, new).py_err(slf.py())? {
                Ok(found) => (true, found),
                Err(found) => (false, found),
            },
        )
    }

    /// Adds `delta` to element `i` (wrapping at 64 bits); returns the previous value.
    fn add(slf: &Bound<'_, Self>, i: i64, delta: i64) -> PyResult<i64> {
        let (v, i) = Self::element(slf, i)?;
        v.fetch_add(i, delta).py_err(slf.py())
    }

    /// Subtracts `delta` from element `i` (wrapping); returns the previous value.
    fn sub(slf: &Bound<'_, Self>, i: i64, delta: i64) -> PyResult<i64> {
        let (v, i) = Self::element(slf, i)?;
        v.fetch_sub(i, delta).py_err(slf.py())
    }

    /// Bitwise and of element `i` with `bits`; returns the previous value.
    fn and_(slf: &Bound<'_, Self>, i: i64, bits: i64) -> PyResult<i64> {
        let (v, i) = Self::element(slf, i)?;
        v.fetch_and(i, bits).py_err(slf.py())
    }

    /// Bitwise or of element `i` with `bits`; returns the previous value.
    fn or_(slf: &Bound<'_, Self>, i: i64, bits: i64) -> PyResult<i64> {
        let (v, i) = Self::element(slf, i)?;
        v.fetch_or(i, bits).py_err(slf.py())
    }

    /// Bitwise exclusive or of element `i` with `bits`; returns the previous value.
    fn xor(slf: &Bound<'_, Self>, i: i64, bits: i64) -> PyResult<i64> {
        let (v, i) = Self::element(slf, i)?;
        v.fetch_xor(i, bits).py_err(slf.py())
    }

    /// Bits in the vector (`64 * len(v)`).
    fn bit_len(slf: &Bound<'_, Self>) -> PyResult<u64> {
        Ok(Self::vector(slf)?.bit_len())
    }

    /// Bit `bit` (bit `bit % 64` of element `bit // 64`).
    fn get_bit(slf: &Bound<'_, Self>, bit: i64) -> PyResult<bool> {
        let (v, b) = Self::bit(slf, bit)?;
        v.get_bit(b).py_err(slf.py())
    }

    /// Sets bit `bit`; returns its previous value (a test-and-set).
    fn set_bit(slf: &Bound<'_, Self>, bit: i64) -> PyResult<bool> {
        let (v, b) = Self::bit(slf, bit)?;
        v.set_bit(b).py_err(slf.py())
    }

    /// Clears bit `bit`; returns its previous value.
    fn clear_bit(slf: &Bound<'_, Self>, bit: i64) -> PyResult<bool> {
        let (v, b) = Self::bit(slf, bit)?;
        v.clear_bit(b).py_err(slf.py())
    }

    /// Flips bit `bit`; returns its previous value.
    fn flip_bit(slf: &Bound<'_, Self>, bit: i64) -> PyResult<bool> {
        let (v, b) = Self::bit(slf, bit)?;
        v.flip_bit(b).py_err(slf.py())
    }

    /// Grows the vector to `new_len` elements (nothing if it is that long already); the new
    /// elements read 0, and no element moves (other processes keep using it meanwhile).
    fn expand(slf: &Bound<'_, Self>, new_len: u64) -> PyResult<()> {
        let py = slf.py();
        let v = Self::vector(slf)?;
        py.detach(|| v.expand(new_len)).py_err(py)
    }

    /// Sleeps until element `i` holds something other than `expected`, at most `timeout`
    /// seconds (`None`: no limit), with the GIL released. Returns `"not_equal"` (it did not
    /// hold `expected` to begin with; no sleep), `"changed"` (it changed while waiting) or
    /// `"timed_out"`. Woken by any write to the element from any process, or `notify(i)`.
    #[pyo3(signature = (i, expected, timeout = None))]
    fn wait(
        slf: &Bound<'_, Self>,
        i: i64,
        expected: i64,
        timeout: Option<f64>,
    ) -> PyResult<&'static str> {
        let py = slf.py();
        let (v, i) = Self::element(slf, i)?;
        let deadline = match timeout {
            None => None,
            Some(t) => {
                let d = Duration::try_from_secs_f64(t).map_err(|_| {
                    PyValueError::new_err("timeout must be a non-negative number of seconds")
                })?;
                // A deadline too far for `Instant` is no deadline.
                Instant::now().checked_add(d)
            }
        };
        let mut first = true;
        loop {
            let slice = match deadline {
                None => SIGNAL_SLICE,
                Some(end) => end
                    .saturating_duration_since(Instant::now())
                    .min(SIGNAL_SLICE),
            };
            let outcome = py.detach(|| v.wait(i, expected, Some(slice))).py_err(py)?;
            match outcome {
                WaitOutcome::NotEqual(_) if first => return Ok("not_equal"),
                WaitOutcome::NotEqual(_) | WaitOutcome::Changed(_) => return Ok("changed"),
                WaitOutcome::TimedOut => {
                    if deadline.is_some_and(|end| Instant::now() >= end) {
                        return Ok("timed_out");
                    }
                    py.check_signals()?;
                }
            }
            first = false;
        }
    }

    /// Wakes every process waiting on element `i` (they re-read it and wait again if it still
    /// holds their expected value).
    fn notify(slf: &Bound<'_, Self>, i: i64) -> PyResult<()> {
        let (v, i) = Self::element(slf, i)?;
        v.notify(i).py_err(slf.py())
    }
}
