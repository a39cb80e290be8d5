//! Python bindings of shmkit (the `shmkit._shmkit` extension module, built by maturin; the
//! Python package around it is in `python-src/shmkit`). No `unsafe` here but in `array`'s
//! buffer protocol slots: everything else goes through PyO3's safe API, and no value logic either: encodings and arithmetic on values
//! are the core's (`shmkit::value`), shared with C and the CLI.
//!
//! Layers (each module uses only those below it; no cycles):
//!
//! ```text
//! lib        the module: registers the classes and functions
//! store      shmkit.Store, which opens objects through their kind's module
//! kinds      the one match over kinds (unpickling a handle)
//! hash_map/  shmkit.HashMap: the map's own operations (read, incr, bulk, iter)
//! atomic_vector  shmkit.AtomicVector: the vector's element, bit and wait operations
//! array      shmkit.Array: a fixed-size record array exported to NumPy (buffer protocol)
//! deque      shmkit.Deque and shmkit.Queue: one shared deque, collections.deque's and
//!            queue.Queue's interfaces
//! priority_queue  shmkit.PriorityQueue: queue.PriorityQueue's interface, items ordered by
//!            the ordered-key encoding
//! ordered_map  shmkit.OrderedMap: a sorted dict with range and prefix scans, keys in the
//!            ordered-key encoding
//! waiting    blocking calls in GIL-free slices, interruptible by Ctrl-C
//! handle     shmkit.SharedObject, the base class of every object class: name, close,
//!            context manager, pickling by name, verify/repair/stats
//! reports    core reports and statistics as dicts
//! codec      Python objects <-> the shared value encoding
//! incr       the delta and the errors of every typed incr
//! ordered_key  Python objects <-> ordered keys (encode_key, decode_key)
//! errors     the exception classes and Rust error -> Python exception
//! missing, buffers
//! ```
//!
//! ```python
//! import shmkit
//! with shmkit.Store("demo") as store:
//!     m = store.hash_map("m")
//!     m["k"] = [1, 2]
//! shmkit.remove("demo")
//! ```
#![deny(unsafe_code)] // allowed in `array` alone, for the buffer protocol

mod array;
mod atomic_vector;
mod buffers;
mod codec;
mod deque;
mod errors;
mod handle;
mod hash_map;
mod incr;
mod kinds;
mod missing;
mod ordered_key;
mod ordered_map;
mod priority_queue;
mod reports;
mod store;
mod waiting;

use pyo3::prelude::*;

#[pymodule]
fn _shmkit(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    errors::add_classes(m)?;
    errors::add_queue_classes(m)?;
    m.add_class::<store::PyStore>()?;
    m.add_class::<handle::PySharedObject>()?;
    m.add_class::<hash_map::PyHashMap>()?;
    m.add_class::<hash_map::MapIter>()?;
    m.add_class::<atomic_vector::PyAtomicVector>()?;
    m.add_class::<array::PyArray>()?;
    m.add_class::<deque::PyDeque>()?;
    m.add_class::<deque::PyQueue>()?;
    m.add_class::<priority_queue::PyPriorityQueue>()?;
    m.add_class::<ordered_map::PyOrderedMap>()?;
    m.add_class::<ordered_map::OrderedMapIter>()?;
    m.add_function(wrap_pyfunction!(array::_element_layout, m)?)?;
    m.add_class::<missing::Missing>()?;
    m.add("MISSING", missing::missing(py)?.clone_ref(py))?;
    m.add("PICKLE_PROTOCOL", codec::PICKLE_PROTOCOL)?;
    m.add_function(wrap_pyfunction!(ordered_key::encode_key, m)?)?;
    m.add_function(wrap_pyfunction!(ordered_key::decode_key, m)?)?;
    m.add_function(wrap_pyfunction!(ordered_key::_encode_key_lenient, m)?)?;
    m.add_function(wrap_pyfunction!(store::remove, m)?)?;
    m.add_function(wrap_pyfunction!(store::remove_if_unused, m)?)?;
    m.add_function(wrap_pyfunction!(store::_open_store, m)?)?;
    m.add_function(wrap_pyfunction!(kinds::_reopen, m)?)?;
    m.add_function(wrap_pyfunction!(hash_map::_set_reads_release_gil, m)?)?;
    Ok(())
}
