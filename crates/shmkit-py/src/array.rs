//! `shmkit.Array`: a fixed-size array of plain records in shared memory, exported through
//! the buffer protocol so that `numpy.asarray(handle)` (and `memoryview(handle)`) is a
//! zero-copy view that every process sees change. `Store.array(...)` returns that NumPy
//! array directly when NumPy is importable.
//!
//! Invariants:
//! - the element type travels as a PEP 3118 format string: a NumPy dtype is turned into
//!   the format NumPy itself exports for it, and the core parses it (so Rust and C read the
//!   same fields); object fields and exotic dtypes NumPy cannot export are refused with
//!   `shmkit.DtypeError` (a `TypeError`);
//! - an exported buffer holds a reference to this handle (`view.obj`), which holds the
//!   core's array, which keeps the store mapped: closing the handle or the store never
//!   unmaps memory under a live view (the mapping goes when the last view and handle do).
//!   A closed handle refuses new exports;
//! - the exported memory is writable, C-contiguous and 64-byte aligned; a request for a
//!   Fortran-contiguous view of a multi-dimensional array raises `BufferError`.
//!
//! This is the one module of the binding with `unsafe`: the buffer protocol's two slots
//! write a C struct through a raw pointer (each block says why that is sound).
//!
//! ```python
//! a = store.array("prices", "f8", (1000, 4))   # a numpy.ndarray on shared memory
//! a[:, 0] = 1.5                                  # every process sees it
//! h = store.array("prices", numpy=False)       # the shmkit.Array handle
//! memoryview(h).shape                            # (1000, 4)
//! ```
#![allow(unsafe_code)] // the buffer protocol slots (`__getbuffer__`, `__releasebuffer__`)

use crate::errors::{DtypeError, ExceptionClass, ResultExt, ShapeError};
use crate::handle::PySharedObject;
use pyo3::exceptions::PyBufferError;
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};
use shmkit::{Array, ArrayOptions, Store};
use std::ffi::{CString, c_int, c_void};
use std::sync::atomic::{AtomicUsize, Ordering};

/// An array handle (see the module documentation).
#[pyclass(module = "shmkit", name = "Array", extends = PySharedObject, frozen)]
pub struct PyArray {
    array: Array,
    /// The format string handed to buffer consumers (NUL-terminated, lives as long as self).
    format: CString,
    /// Shape and C-order strides in bytes, as the buffer protocol wants them.
    shape: Vec<ffi::Py_ssize_t>,
    strides: Vec<ffi::Py_ssize_t>,
    /// Buffers exported and not yet released.
    exports: AtomicUsize,
}

/// The PEP 3118 format of `dtype`: a NumPy dtype (or anything `numpy.dtype()` takes) when
/// NumPy is importable, else a format string as given.
fn format_of(py: Python<'_>, dtype: &Bound<'_, PyAny>) -> PyResult<String> {
    let numpy = match py.import("numpy") {
        Ok(numpy) => numpy,
        Err(_) => {
            return dtype.extract::<String>().map_err(|_| {
                DtypeError::new_err(
                    py,
                    ("without NumPy, a dtype is a buffer format string such as 'd' or '<i4'",),
                )
            });
        }
    };
    let dt = numpy
        .getattr("dtype")?
        .call1((dtype,))
        .map_err(|e| DtypeError::new_err(py, (format!("not a dtype: {e}"),)))?;
    if dt.getattr("hasobject")?.is_truthy()? {
        return Err(DtypeError::new_err(
            py,
            (
                "object fields cannot live in shared memory: a pointer into one process means \
              nothing in another",
            ),
        ));
    }
    let itemsize: u64 = dt.getattr("itemsize")?.extract()?;
    if itemsize == 0 {
        return Err(DtypeError::new_err(py, ("an element of zero bytes",)));
    }
    // Two elements, not zero or one: NumPy spells a structure by the alignment it sees in
    // the data and strides, and only an array of several elements shows it the real one.
    let empty = numpy.getattr("zeros")?.call1((2, &dt))?;
    let format: String = py
        .import("builtins")?
        .getattr("memoryview")?
        .call1((&empty,))
        .and_then(|view| view.getattr("format")?.extract())
        .map_err(|e| {
            DtypeError::new_err(
                py,
                (format!(
                    "{} has no buffer format: {e}",
                    dt.repr().map_or_else(|_| String::new(), |r| r.to_string())
                ),),
            )
        })?;
    // NumPy must read its own export back as the same dtype, or no process could use it.
    let back = numpy
        .getattr("asarray")?
        .call1((py
            .import("builtins")?
            .getattr("memoryview")?
            .call1((&empty,))?,))
        .and_then(|a| a.getattr("dtype"));
    if !back.and_then(|b| b.eq(&dt)).unwrap_or(false) {
        return Err(DtypeError::new_err(
            py,
            (format!(
                "NumPy cannot read its own buffer format {format:?} of this dtype back"
            ),),
        ));
    }
    let parsed = shmkit::collections::array::dtype::ElementType::parse(&format)
        .map_err(|e| DtypeError::new_err(py, (e.to_string(),)))?;
    if parsed.itemsize() != itemsize {
        return Err(DtypeError::new_err(
            py,
            (format!(
                "NumPy describes this dtype of {itemsize} bytes by the buffer format {format:?}, \
                 which is {} bytes (NumPy cannot export it faithfully)",
                parsed.itemsize()
            ),),
        ));
    }
    Ok(format)
}

/// A shape from an int or a sequence of ints.
fn shape_of(py: Python<'_>, shape: &Bound<'_, PyAny>) -> PyResult<Vec<u64>> {
    let dims: Vec<i128> = match shape.extract::<i128>() {
        Ok(n) => vec![n],
        Err(_) => shape
            .extract()
            .map_err(|_| ShapeError::new_err(py, ("a shape is an int or a sequence of ints",)))?,
    };
    dims.into_iter()
        .map(|d| {
            u64::try_from(d)
                .map_err(|_| ShapeError::new_err(py, (format!("a dimension of {d} elements"),)))
        })
        .collect()
}

/// Opens (or creates) the array `name` of `store`; returns the handle.
pub fn open_handle(
    py: Python<'_>,
    store: &Store,
    store_name: String,
    name: &str,
    dtype: Option<&Bound<'_, PyAny>>,
    shape: Option<&Bound<'_, PyAny>>,
    create: bool,
) -> PyResult<Py<PyArray>> {
    let options = ArrayOptions {
        format: dtype.map(|d| format_of(py, d)).transpose()?,
        shape: shape.map(|s| shape_of(py, s)).transpose()?,
    };
    let array = py
        .detach(|| {
            if create {
                store.open_or_create_object::<Array>(name, &options)
            } else {
                let array = store.open_array(name)?;
                array.check_options(&options).map(|()| array)
            }
        })
        .py_err(py)?;
    let size = |n: u64| ffi::Py_ssize_t::try_from(n);
    let itemsize = size(array.itemsize());
    let mut strides = Vec::with_capacity(array.shape().len());
    let mut step = array.itemsize();
    for d in array.shape().iter().rev() {
        strides.push(size(step));
        step = step.saturating_mul(*d);
    }
    strides.reverse();
    let (Ok(_), Ok(shape), Ok(strides)) = (
        itemsize,
        array
            .shape()
            .iter()
            .map(|d| size(*d))
            .collect::<Result<Vec<_>, _>>(),
        strides.into_iter().collect::<Result<Vec<_>, _>>(),
    ) else {
        return Err(ShapeError::new_err(
            py,
            ("the array is larger than this process can address",),
        ));
    };
    let format = CString::new(array.format())
        .map_err(|_| DtypeError::new_err(py, ("a format string with a NUL byte",)))?;
    let base = PySharedObject::new(
        Box::new(array.clone()),
        store,
        store_name,
        PyDict::new(py),
        "elements",
    );
    Py::new(
        py,
        PyClassInitializer::from(base).add_subclass(PyArray {
            array,
            format,
            shape,
            strides,
            exports: AtomicUsize::new(0),
        }),
    )
}

/// The item size and fields `(name, offset, kind, size, big_endian, shape)` the core reads
/// from a PEP 3118 format string (for tests that compare it with NumPy's own parser).
#[pyfunction]
#[allow(clippy::type_complexity)]
pub fn _element_layout(
    py: Python<'_>,
    format: &str,
) -> PyResult<(u64, Vec<(Option<String>, u64, String, u64, bool, Vec<u64>)>)> {
    let parsed = shmkit::collections::array::dtype::ElementType::parse(format)
        .map_err(|e| DtypeError::new_err(py, (e.to_string(),)))?;
    let fields = parsed
        .fields()
        .iter()
        .map(|f| {
            (
                f.name.clone(),
                f.offset,
                format!("{:?}", f.scalar.kind),
                f.scalar.size,
                f.scalar.big_endian,
                f.shape.clone(),
            )
        })
        .collect();
    Ok((parsed.itemsize(), fields))
}

/// `Store.array(...)`: the NumPy array on the handle when `numpy` is true (or `None` and
/// NumPy is importable), else the handle.
#[allow(clippy::too_many_arguments)]
pub fn open(
    py: Python<'_>,
    store: &Store,
    store_name: String,
    name: &str,
    dtype: Option<&Bound<'_, PyAny>>,
    shape: Option<&Bound<'_, PyAny>>,
    create: bool,
    numpy: Option<bool>,
) -> PyResult<Py<PyAny>> {
    let handle = open_handle(py, store, store_name, name, dtype, shape, create)?;
    let np = match numpy {
        Some(false) => return Ok(handle.into_any()),
        Some(true) => Some(py.import("numpy")?),
        None => py.import("numpy").ok(),
    };
    match np {
        Some(np) => Ok(np.getattr("asarray")?.call1((handle,))?.unbind()),
        None => Ok(handle.into_any()),
    }
}

/// Re-attaches a pickled handle (the array opened, never created).
pub fn reopen(
    py: Python<'_>,
    store: &Store,
    store_name: String,
    name: &str,
) -> PyResult<Py<PyArray>> {
    open_handle(py, store, store_name, name, None, None, false)
}

#[pymethods]
impl PyArray {
    /// The shape, as a tuple.
    #[getter]
    fn shape<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        PyTuple::new(py, self.array.shape())
    }

    /// The element type's PEP 3118 format string (what `memoryview(h).format` shows).
    #[getter]
    fn format(&self) -> &str {
        self.array.format()
    }

    /// Bytes of one element.
    #[getter]
    fn itemsize(&self) -> u64 {
        self.array.itemsize()
    }

    /// Bytes of all elements.
    #[getter]
    fn nbytes(&self) -> u64 {
        self.array.nbytes()
    }

    /// Dimensions.
    #[getter]
    fn ndim(&self) -> usize {
        self.array.shape().len()
    }

    /// Buffers (NumPy arrays, memoryviews) exported from this handle and still alive.
    #[getter]
    fn exports(&self) -> usize {
        self.exports.load(Ordering::Relaxed)
    }

    /// The length of the first dimension (`TypeError` for a 0-dimensional array).
    fn __len__(&self) -> PyResult<usize> {
        match self.array.shape().first() {
            Some(d) => Ok(*d as usize),
            None => Err(pyo3::exceptions::PyTypeError::new_err(
                "len() of a 0-dimensional array",
            )),
        }
    }

    /// A NumPy array on this handle's memory (zero-copy).
    fn numpy<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        slf.py().import("numpy")?.getattr("asarray")?.call1((slf,))
    }

    /// Fills `view` for a consumer; see the module documentation.
    ///
    /// # Safety
    /// Called by Python with `view` pointing to a `Py_buffer` it owns (or NULL).
    unsafe fn __getbuffer__(
        slf: Bound<'_, Self>,
        view: *mut ffi::Py_buffer,
        flags: c_int,
    ) -> PyResult<()> {
        if view.is_null() {
            return Err(PyBufferError::new_err("a NULL Py_buffer"));
        }
        // SAFETY: `view` is non-null and the caller's for this call; on failure `obj` must
        // be NULL (the buffer protocol's rule), and nothing else is read from it.
        unsafe { (*view).obj = std::ptr::null_mut() };
        let py = slf.py();
        slf.as_super().get().check_open(py, "Array")?;
        if slf.get().array.store_handle().faulted_at().is_some() {
            // The store file shrank under this process: its pages read as zeros here and
            // writes to them are lost; hand out no new view of them.
            return Err(PyBufferError::new_err(
                "the store file was truncated by another process; its memory is gone here",
            ));
        }
        let this = slf.get();
        let ndim = this.shape.len();
        let wants = |f: c_int| flags & f == f;
        if wants(ffi::PyBUF_F_CONTIGUOUS) && this.shape.iter().filter(|d| **d > 1).count() > 1 {
            return Err(PyBufferError::new_err(
                "the array is C-contiguous, not Fortran-contiguous",
            ));
        }
        let structured = wants(ffi::PyBUF_ND);
        let len = this.array.nbytes() as ffi::Py_ssize_t;
        // SAFETY: `view` is non-null (checked) and points to a Py_buffer the caller owns for
        // this call. Every pointer stored in it stays valid until `__releasebuffer__`: the
        // data pointer because `view.obj` holds a strong reference to this handle, which holds
        // the core array and so the store's mapping; `format`, `shape` and `strides` because
        // they are owned by this frozen (never mutated) object.
        unsafe {
            (*view).buf = this.array.data_ptr().as_ptr().cast::<c_void>();
            (*view).obj = slf.clone().into_any().into_ptr();
            (*view).len = len;
            (*view).readonly = 0;
            (*view).internal = std::ptr::null_mut();
            (*view).suboffsets = std::ptr::null_mut();
            if structured {
                (*view).itemsize = this.array.itemsize() as ffi::Py_ssize_t;
                (*view).ndim = ndim as c_int;
                (*view).shape = this.shape.as_ptr().cast_mut();
                (*view).strides = if wants(ffi::PyBUF_STRIDES) {
                    this.strides.as_ptr().cast_mut()
                } else {
                    std::ptr::null_mut()
                };
                (*view).format = if wants(ffi::PyBUF_FORMAT) {
                    this.format.as_ptr().cast_mut()
                } else {
                    std::ptr::null_mut()
                };
            } else {
                // A plain request: the elements as one run of unsigned bytes.
                (*view).itemsize = 1;
                (*view).ndim = 1;
                (*view).shape = std::ptr::null_mut();
                (*view).strides = std::ptr::null_mut();
                (*view).format = if wants(ffi::PyBUF_FORMAT) {
                    c"B".as_ptr().cast_mut()
                } else {
                    std::ptr::null_mut()
                };
            }
        }
        this.exports.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Counts the release of a buffer `__getbuffer__` filled (Python drops `view.obj`).
    ///
    /// # Safety
    /// Called by Python once per successful `__getbuffer__`.
    unsafe fn __releasebuffer__(&self, _view: *mut ffi::Py_buffer) {
        let _ = self
            .exports
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1));
    }
}
