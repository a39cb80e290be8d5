//! Iteration over a `HashMap` and its `keys()` / `values()` / `items()` views.
//!
//! Invariants: the iterator owns a clone of the map handle and copies one shard at a time
//! (`HashMap::shard_entries`, with the GIL released; the core iterator borrows its map,
//! which a Python object cannot hold without `unsafe`), so memory stays bounded by one
//! shard; iteration is weakly consistent: it never raises because the map changed, and an
//! item present for the whole iteration is yielded exactly once. The views are the Python
//! classes of `shmkit/_views.py`, which iterate through this iterator.
//!
//! ```python
//! for k, v in m.items(): ...
//! ```

use super::PyHashMap;
use crate::codec::decode;
use crate::errors::ResultExt;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBytes, PyTuple};
use shmkit::HashMap;

/// What an iterator yields.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum IterKind {
    Keys,
    Values,
    Items,
}

/// Iterator over a map (see the module documentation).
#[pyclass(module = "shmkit")]
pub struct MapIter {
    map: HashMap,
    next_shard: u32,
    shard_count: u32,
    items: std::vec::IntoIter<(Vec<u8>, Vec<u8>)>,
    kind: IterKind,
    raw: bool,
}

impl MapIter {
    fn decode<'py>(&self, py: Python<'py>, bytes: &[u8]) -> PyResult<Bound<'py, PyAny>> {
        if self.raw {
            Ok(PyBytes::new(py, bytes).into_any())
        } else {
            decode(py, bytes)
        }
    }
}

#[pymethods]
impl MapIter {
    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__<'py>(&mut self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        let (k, v) = loop {
            if let Some(item) = self.items.next() {
                break item;
            }
            if self.next_shard >= self.shard_count {
                return Ok(None);
            }
            let (map, index) = (&self.map, self.next_shard);
            let keys_only = self.kind == IterKind::Keys;
            let entries = py
                .detach(|| map.shard_entries(index, keys_only))
                .py_err(py)?;
            self.next_shard += 1;
            self.items = entries.into_iter();
        };
        Ok(Some(match self.kind {
            IterKind::Keys => self.decode(py, &k)?,
            IterKind::Values => self.decode(py, &v)?,
            IterKind::Items => {
                PyTuple::new(py, [self.decode(py, &k)?, self.decode(py, &v)?])?.into_any()
            }
        }))
    }

    fn __length_hint__(&self) -> usize {
        self.items.len()
    }
}

static VIEWS: PyOnceLock<Py<PyModule>> = PyOnceLock::new();

impl PyHashMap {
    /// An iterator of `kind` over the map.
    pub(super) fn iterator(slf: &Bound<'_, Self>, kind: IterKind) -> PyResult<MapIter> {
        let (this, map) = Self::open(slf)?;
        Ok(MapIter {
            map: map.clone(),
            next_shard: 0,
            shard_count: map.shard_count(),
            items: Vec::new().into_iter(),
            kind,
            raw: this.raw,
        })
    }

    /// The view `class` (`KeysView`, ...) of `shmkit._views` on the map.
    pub(super) fn view<'py>(slf: &Bound<'py, Self>, class: &str) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        let module = VIEWS.get_or_try_init(py, || py.import("shmkit._views").map(Bound::unbind))?;
        module.bind(py).getattr(class)?.call1((slf,))
    }
}
