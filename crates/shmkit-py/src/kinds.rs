//! The Python side's one match over kinds of objects: from a kind's name to the function
//! that opens its class. Unpickling a handle ([`crate::handle::PySharedObject`]'s
//! `__reduce__`) goes through [`_reopen`]; a new kind adds one arm here.
//!
//! Invariant: reopening attaches to an existing store and opens an existing object; it
//! never creates either.
//!
//! ```python
//! import pickle
//! m2 = pickle.loads(pickle.dumps(m))   # shmkit._shmkit._reopen("hash_map", path, "m", ...)
//! ```

use crate::array;
use crate::atomic_vector;
use crate::deque;
use crate::errors::{ExceptionClass, ResultExt, WrongKindError};
use crate::hash_map;
use crate::ordered_map;
use crate::priority_queue;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use shmkit::Store;

/// Re-attaches a pickled handle of `kind` on the object `name` of the store at
/// `store_path`, with the keyword `options` its kind recorded.
#[pyfunction]
pub fn _reopen(
    py: Python<'_>,
    kind: &str,
    store_path: &str,
    name: &str,
    store_name: String,
    options: &Bound<'_, PyDict>,
) -> PyResult<Py<PyAny>> {
    let store = py.detach(|| Store::open(store_path)).py_err(py)?;
    match kind {
        "hash_map" => Ok(hash_map::reopen(py, &store, store_name, name, options)?.into_any()),
        "atomic_vector" => Ok(atomic_vector::reopen(py, &store, store_name, name)?.into_any()),
        "array" => Ok(array::reopen(py, &store, store_name, name)?.into_any()),
        "deque" => deque::reopen(py, &store, store_name, name, options),
        "priority_queue" => Ok(priority_queue::reopen(py, &store, store_name, name)?.into_any()),
        "ordered_map" => Ok(ordered_map::reopen(py, &store, store_name, name)?.into_any()),
        other => Err(WrongKindError::new_err(
            py,
            (format!("this build cannot open a {other} from Python"),),
        )),
    }
}
