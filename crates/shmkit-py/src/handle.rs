//! `shmkit.SharedObject`: the Python base class of every object class (`HashMap` now, a
//! deque or ordered map later), holding what every handle on a shared object does —
//! written once here, so a new kind's class adds only its own operations.
//!
//! How: PyO3 cannot share `#[pymethods]` between classes, but Python classes inherit. So
//! this is a `#[pyclass(subclass)]` that holds the object as the core's object-safe
//! [`SharedObject`] (`Box<dyn SharedObject>`: check, repair, statistics work for any kind),
//! and each kind's class declares `extends = PySharedObject` and keeps its own typed core
//! handle next to it for its operations. The base gives:
//! `name`, `store_name`, `kind`, `closed`, `close()`, `__enter__`/`__exit__`, `verify()`,
//! `repair()`, `stats()` (dicts from [`crate::reports`]), `__repr__`, and pickling by name
//! (`__reduce__` → [`crate::kinds::_reopen`] with the store's path, the object's name and
//! the options the kind registered, which re-attaches and never creates).
//!
//! Invariants: a closed handle refuses every operation with `ClosedError` (the kind's
//! operations ask [`PySharedObject::check_open`] first); maintenance runs with the GIL
//! released; the options dict is the kind's own record of how to reopen the handle (keyword
//! arguments of its opener) and is never handed out.
//!
//! A new kind's class:
//!
//! ```ignore
//! #[pyclass(module = "shmkit", name = "Deque", extends = PySharedObject, frozen)]
//! pub struct PyDeque { deque: shmkit::Deque }
//!
//! pub fn open(py: Python<'_>, store: &Store, store_name: String, name: &str) -> PyResult<Py<PyDeque>> {
//!     let deque = py.detach(|| store.open_object::<shmkit::Deque>(name)).py_err(py)?;
//!     let base = PySharedObject::new(Box::new(deque.clone()), store, store_name, PyDict::new(py), "items");
//!     Py::new(py, PyClassInitializer::from(base).add_subclass(PyDeque { deque }))
//! }
//! ```
//! plus one arm in [`crate::kinds::_reopen`].

use crate::errors::{self, ResultExt};
use crate::reports;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};
use shmkit::Store;
use shmkit::collections::object::{CheckMode, SharedObject};
use std::sync::atomic::{AtomicBool, Ordering};

/// A handle on one shared object (see the module documentation).
#[pyclass(module = "shmkit", name = "SharedObject", subclass, frozen)]
pub struct PySharedObject {
    object: Box<dyn SharedObject>,
    store_path: String,
    store_name: String,
    closed: AtomicBool,
    /// Keyword arguments the kind's opener takes to give an equal handle (pickling).
    options: Py<PyDict>,
    /// The name of the item count in a check report (`entries` for maps).
    count_key: &'static str,
}

impl PySharedObject {
    /// The base part of a handle on `object` of `store` (opened by the name or path
    /// `store_name`); `options` reopen an equal handle, `count_key` names the item count in
    /// check reports.
    pub fn new(
        object: Box<dyn SharedObject>,
        store: &Store,
        store_name: String,
        options: Bound<'_, PyDict>,
        count_key: &'static str,
    ) -> PySharedObject {
        PySharedObject {
            object,
            store_path: store.path().to_string_lossy().into_owned(),
            store_name,
            closed: AtomicBool::new(false),
            options: options.unbind(),
            count_key,
        }
    }

    /// `ClosedError` once the handle is closed (`what` names the class in the message).
    #[inline]
    pub fn check_open(&self, py: Python<'_>, what: &str) -> PyResult<()> {
        if self.closed.load(Ordering::Relaxed) {
            return Err(errors::closed(py, what));
        }
        Ok(())
    }

    /// The name or path the store was opened by.
    pub fn store_name(&self) -> &str {
        &self.store_name
    }

    /// The object, unless the handle is closed.
    fn object<'a>(slf: &'a Bound<'_, Self>) -> PyResult<&'a dyn SharedObject> {
        let this = slf.get();
        this.check_open(slf.py(), &slf.get_type().name()?.to_string())?;
        Ok(this.object.as_ref())
    }

    fn check<'py>(slf: &Bound<'py, Self>, mode: CheckMode) -> PyResult<Bound<'py, PyDict>> {
        let py = slf.py();
        let object = Self::object(slf)?;
        let report = py.detach(|| object.check(mode)).py_err(py)?;
        reports::object_report(py, &report, slf.get().count_key)
    }
}

#[pymethods]
impl PySharedObject {
    /// The object's name in its store.
    #[getter]
    fn name(&self) -> &str {
        self.object.name()
    }

    /// The name (or path) of the store holding the object.
    #[getter(store_name)]
    fn py_store_name(&self) -> &str {
        &self.store_name
    }

    /// The kind of object (`"hash_map"`, ...), as `Store.objects()` lists it.
    #[getter]
    fn kind(&self) -> String {
        self.object.kind().name()
    }

    /// True once `close()` was called.
    #[getter]
    fn closed(&self) -> bool {
        self.closed.load(Ordering::Relaxed)
    }

    /// Makes this handle unusable (the data stays for everyone else).
    fn close(&self) {
        self.closed.store(true, Ordering::Relaxed);
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    #[pyo3(signature = (*_args))]
    fn __exit__(&self, _args: &Bound<'_, PyTuple>) -> bool {
        self.close();
        false
    }

    /// Full consistency check of the object; returns a report dict (`clean`, `problems`,
    /// `repaired`, `busy`, and the item count, `entries` for maps).
    fn verify<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyDict>> {
        Self::check(slf, CheckMode::Verify)
    }

    /// Check and repair what a killed writer left behind; returns a report dict.
    fn repair<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyDict>> {
        Self::check(slf, CheckMode::Repair)
    }

    /// Size and layout figures of the object, as a dict.
    fn stats<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyDict>> {
        let py = slf.py();
        let object = Self::object(slf)?;
        let stats = py.detach(|| object.stats()).py_err(py)?;
        reports::stats(py, &stats)
    }

    #[allow(clippy::type_complexity)]
    fn __reduce__<'py>(
        slf: &Bound<'py, Self>,
    ) -> PyResult<(
        Bound<'py, PyAny>,
        (String, String, String, String, Bound<'py, PyDict>),
    )> {
        let py = slf.py();
        let this = slf.get();
        let f = py.import("shmkit._shmkit")?.getattr("_reopen")?;
        Ok((
            f,
            (
                this.object.kind().name(),
                this.store_path.clone(),
                this.object.name().to_string(),
                this.store_name.clone(),
                this.options.bind(py).copy()?,
            ),
        ))
    }

    /// `shmkit.HashMap("m", store="s", raw=True, closed)`: the options shown are those set
    /// (all but `False` and `None`, so a size of 0 shows).
    fn __repr__(slf: &Bound<'_, Self>) -> PyResult<String> {
        let py = slf.py();
        let this = slf.get();
        let mut options = String::new();
        for (key, value) in this.options.bind(py).iter() {
            let unset = value.is_none() || value.is(pyo3::types::PyBool::new(py, false));
            if !unset {
                options.push_str(&format!(", {key}={}", value.repr()?));
            }
        }
        let closed = if this.closed() { ", closed" } else { "" };
        Ok(format!(
            "shmkit.{}({:?}, store={:?}{options}{closed})",
            slf.get_type().name()?,
            this.object.name(),
            this.store_name
        ))
    }
}
