//! `shmkit.MISSING`: the sentinel for "absent" in conditional writes (`compare_and_set`),
//! shared by every kind that has them.
//!
//! Invariant: one instance per interpreter; it is falsy and pickles as a reference to
//! `shmkit.MISSING`, so it stays itself across processes.
//!
//! ```python
//! m.compare_and_set("owner", shmkit.MISSING, "me")   # claim if absent
//! ```

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;

/// The class of the sentinel.
#[pyclass(module = "shmkit", name = "_Missing", frozen)]
pub struct Missing;

#[pymethods]
impl Missing {
    fn __repr__(&self) -> &'static str {
        "shmkit.MISSING"
    }
    fn __bool__(&self) -> bool {
        false
    }
    fn __reduce__(&self) -> &'static str {
        "MISSING"
    }
}

/// The module's one `Missing` instance.
static MISSING: PyOnceLock<Py<Missing>> = PyOnceLock::new();

/// The sentinel object.
pub fn missing(py: Python<'_>) -> PyResult<&Py<Missing>> {
    MISSING.get_or_try_init(py, || Py::new(py, Missing))
}

/// True if `obj` is the sentinel.
pub fn is_missing(obj: &Bound<'_, PyAny>) -> PyResult<bool> {
    Ok(obj.is(missing(obj.py())?))
}
