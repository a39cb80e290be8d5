//! Python bindings of shmkit (the `shmkit._shmkit` extension module, built by maturin; the
//! Python package around it is in `python-src/shmkit`).
//!
//! Layers: [`codec`] converts Python objects to the shared value encoding and back;
//! [`errors`] maps every Rust error onto the `shmkit.errors` hierarchy; [`store`] and
//! [`hash_map`] are the classes. No `unsafe` here: everything goes through PyO3's safe API.
//!
//! ```python
//! import shmkit
//! with shmkit.Store("demo") as store:
//!     m = store.hash_map("m")
//!     m["k"] = [1, 2]
//! shmkit.remove("demo")
//! ```
#![forbid(unsafe_code)]

mod bigint;
mod buffers;
mod codec;
mod errors;
mod hash_map;
mod map_api;
mod store;

use pyo3::prelude::*;

#[pymodule]
fn _shmkit(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add_class::<store::PyStore>()?;
    m.add_class::<hash_map::PyHashMap>()?;
    m.add_class::<hash_map::MapIter>()?;
    m.add_class::<hash_map::Missing>()?;
    m.add("MISSING", hash_map::missing(py)?.clone_ref(py))?;
    m.add("PICKLE_PROTOCOL", codec::PICKLE_PROTOCOL)?;
    m.add_function(wrap_pyfunction!(store::remove, m)?)?;
    m.add_function(wrap_pyfunction!(store::remove_if_unused, m)?)?;
    m.add_function(wrap_pyfunction!(store::_open_store, m)?)?;
    m.add_function(wrap_pyfunction!(hash_map::_open_map, m)?)?;
    m.add_function(wrap_pyfunction!(hash_map::_set_reads_release_gil, m)?)?;
    Ok(())
}
