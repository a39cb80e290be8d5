//! `shmkit.Store`: a named store attached from Python.
//!
//! Invariants: opening and creating run with the GIL released (they may wait for another
//! process's lock); `close()` drops this handle's reference to the attachment (maps opened
//! from it keep it alive until they are released); nothing here ever deletes a store except
//! an explicit `unlink()` / `shmkit.remove()` — a process that attaches and exits leaves the
//! store in place. Handles pickle by path and re-attach (never create) on unpickling.
//!
//! ```python
//! with shmkit.Store("demo") as store:
//!     users = store.hash_map("users")
//!     users["ada"] = 1815
//! shmkit.remove("demo")
//! ```

use crate::array;
use crate::atomic_vector::{self, PyAtomicVector};
use crate::deque;
use crate::errors::{self, ResultExt};
use crate::hash_map::{self, PyHashMap};
use crate::ordered_map::{self, PyOrderedMap};
use crate::priority_queue::{self, PyPriorityQueue};
use crate::reports;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};
use shmkit::store::remove::Removed;
use shmkit::{OpenOptions, Store, StoreOptions};
use std::sync::Mutex;

/// A store handle (see the module documentation).
#[pyclass(module = "shmkit", name = "Store", frozen)]
pub struct PyStore {
    name: String,
    inner: Mutex<Option<Store>>,
}

impl PyStore {
    /// The attached store, or `ClosedError`.
    pub fn store(&self, py: Python<'_>) -> PyResult<Store> {
        let guard = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        guard.clone().ok_or_else(|| errors::closed(py, "Store"))
    }

    /// Attaches to an existing store.
    pub fn open_existing(py: Python<'_>, name: &str) -> PyResult<PyStore> {
        let store = py.detach(|| Store::open(name)).py_err(py)?;
        Ok(PyStore {
            name: name.to_string(),
            inner: Mutex::new(Some(store)),
        })
    }
}

#[pymethods]
impl PyStore {
    /// Attaches to the store `name_or_path`, creating it when `create` is true (default).
    ///
    /// A plain name lives in `/dev/shm` (or `$SHMKIT_DIR`); a name containing `/` is a file
    /// path. `exclusive=True` fails with `StoreExistsError` if the store exists already.
    /// An existing store must belong to this process's user (`allow_foreign_owner=True`
    /// accepts another user's: its owner controls every value read from it, pickles
    /// included) and, unless `create=False`, grant nothing beyond `mode`
    /// (`PermissionDeniedError` otherwise).
    /// `remove_when_unused=True` (at creation) makes the last process to close its handles
    /// remove the store; a killed last process leaves it for `shmkit gc`.
    #[new]
    #[pyo3(signature = (name_or_path, *, create = true, mode = 0o600, exclusive = false, reserve = None, initial_size = None, max_processes = None, remove_when_unused = false, allow_foreign_owner = false))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        name_or_path: &str,
        create: bool,
        mode: u32,
        exclusive: bool,
        reserve: Option<u64>,
        initial_size: Option<u64>,
        max_processes: Option<u32>,
        remove_when_unused: bool,
        allow_foreign_owner: bool,
    ) -> PyResult<PyStore> {
        let mut options = StoreOptions {
            mode,
            ..StoreOptions::default()
        };
        if let Some(r) = reserve {
            options.reserve = r;
        }
        if let Some(i) = initial_size {
            options.initial_len = i;
        }
        options.remove_when_unused = remove_when_unused;
        options.allow_foreign_owner = allow_foreign_owner;
        if let Some(m) = max_processes {
            options.max_processes = m;
        }
        let name = name_or_path.to_string();
        let store = if !create {
            let open = OpenOptions {
                allow_foreign_owner,
                mode: None,
            };
            py.detach(|| Store::open_with(&name, &open)).py_err(py)?
        } else if exclusive {
            py.detach(|| Store::create(&name, &options)).py_err(py)?
        } else {
            py.detach(|| Store::open_or_create(&name, &options))
                .py_err(py)?
        };
        Ok(PyStore {
            name,
            inner: Mutex::new(Some(store)),
        })
    }

    /// The name (or path) the store was opened by.
    #[getter]
    fn name(&self) -> &str {
        &self.name
    }

    /// The file behind the store.
    #[getter]
    fn path(&self, py: Python<'_>) -> PyResult<String> {
        Ok(self.store(py)?.path().to_string_lossy().into_owned())
    }

    /// True once `close()` was called.
    #[getter]
    fn closed(&self) -> bool {
        self.inner
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_none()
    }

    /// The hash map `name` in this store, created if missing (unless `create=False`, which
    /// raises `ObjectNotFoundError`). `raw=True` takes and returns plain bytes.
    /// `exact_keys=True` matches keys by exact type: `True`, `1` and `1.0` are three keys
    /// (the default follows `dict`, where they are one).
    ///
    /// `key_size` and `value_size` (both or neither) make a new map a **fixed-size map**:
    /// every key is exactly `key_size` bytes (at least 1) and every value `value_size` bytes
    /// (0: a set of keys), a record of at most 64 KiB. It takes less memory per entry and an
    /// overwrite or removal never allocates; a key or value of another length raises
    /// `WrongKeySizeError` / `WrongValueSizeError` (both `WrongSizeError`, a `ValueError`)
    /// in every call (`m[k]`, `k in m`, `get`, the batches), and nothing changes.
    ///
    /// Fixed sizes need `raw=True`: they are lengths of the stored bytes, and a typed
    /// handle stores encodings whose length depends on the value (an int key takes 9 bytes
    /// up to 2**63, more beyond; a str key one more than its UTF-8), so a typed fixed-size
    /// map would refuse values by a length the user never sees. Pack records yourself
    /// (`struct`, `int.to_bytes`, NumPy). A fixed-size map, however it was created (Rust,
    /// C), is opened with `raw=True` only; sizes given for an existing map must be its own
    /// (`InvalidOptionsError` otherwise, as for sizes without `raw=True` or only one of
    /// them); without sizes any map opens. `HashMap.fixed_size` tells the sizes.
    #[pyo3(signature = (name, raw = false, *, create = true, exact_keys = false, key_size = None, value_size = None))]
    #[allow(clippy::too_many_arguments)]
    fn hash_map(
        &self,
        py: Python<'_>,
        name: &str,
        raw: bool,
        create: bool,
        exact_keys: bool,
        key_size: Option<i64>,
        value_size: Option<i64>,
    ) -> PyResult<Py<PyHashMap>> {
        let store = self.store(py)?;
        let args = hash_map::OpenArgs {
            create,
            raw,
            exact_keys,
            key_size,
            value_size,
        };
        hash_map::open(py, &store, self.name.clone(), name, &args)
    }

    /// The atomic vector `name` in this store: created with `len` elements (all 0) if
    /// missing (unless `create=False`, which raises `ObjectNotFoundError`); `len` is a
    /// minimum, so an existing shorter vector is expanded to it and a longer one left as is.
    #[pyo3(signature = (name, len = 0, *, create = true))]
    fn atomic_vector(
        &self,
        py: Python<'_>,
        name: &str,
        len: u64,
        create: bool,
    ) -> PyResult<Py<PyAtomicVector>> {
        let store = self.store(py)?;
        atomic_vector::open(py, &store, self.name.clone(), name, len, create)
    }

    /// The array `name` in this store: created with elements of type `dtype` (a NumPy dtype,
    /// or a buffer format string such as ``"d"`` without NumPy) and `shape` (an int or a
    /// tuple), all zero, if missing and `create`; an existing array must have the `dtype`
    /// and `shape` given (``DtypeError``, ``ShapeError`` if not), and is adopted as it is
    /// when they are omitted. Returns a ``numpy.ndarray`` on the shared memory when `numpy`
    /// is true (default: when NumPy is importable), else the ``shmkit.Array`` handle.
    #[pyo3(signature = (name, dtype = None, shape = None, *, create = true, numpy = None))]
    #[allow(clippy::too_many_arguments)]
    fn array(
        &self,
        py: Python<'_>,
        name: &str,
        dtype: Option<&Bound<'_, PyAny>>,
        shape: Option<&Bound<'_, PyAny>>,
        create: bool,
        numpy: Option<bool>,
    ) -> PyResult<Py<PyAny>> {
        let store = self.store(py)?;
        array::open(
            py,
            &store,
            self.name.clone(),
            name,
            dtype,
            shape,
            create,
            numpy,
        )
    }

    /// The deque `name` in this store, created if missing and `create` with at most `maxlen`
    /// items (``None``: no limit). `overflow` says what an append to a full deque does:
    /// ``"overwrite"`` (the default, as ``collections.deque(maxlen=...)``) drops the item at
    /// the other end; ``"block"`` waits for room (or raises ``FullError``). An existing deque
    /// keeps its own limit and policy.
    #[pyo3(signature = (name, maxlen = None, *, overflow = "overwrite", create = true))]
    fn deque(
        &self,
        py: Python<'_>,
        name: &str,
        maxlen: Option<u64>,
        overflow: &str,
        create: bool,
    ) -> PyResult<Py<PyAny>> {
        let store = self.store(py)?;
        let options = deque::creation(maxlen, overflow)?;
        let create = create.then_some(options);
        deque::open(
            py,
            &store,
            self.name.clone(),
            name,
            create,
            deque::Interface::Deque,
        )
    }

    /// The queue `name` in this store (the ``queue.Queue`` interface over a shared deque),
    /// created if missing and `create` with room for `maxsize` items (``0``: no limit); a
    /// ``put`` on a full queue waits for room. An existing queue keeps its own limit.
    #[pyo3(signature = (name, maxsize = 0, *, create = true))]
    fn queue(&self, py: Python<'_>, name: &str, maxsize: u64, create: bool) -> PyResult<Py<PyAny>> {
        let store = self.store(py)?;
        let options = deque::creation((maxsize > 0).then_some(maxsize), "block")?;
        let create = create.then_some(options);
        deque::open(
            py,
            &store,
            self.name.clone(),
            name,
            create,
            deque::Interface::Queue,
        )
    }

    /// The priority queue `name` in this store (``queue.PriorityQueue``'s interface), created
    /// if missing and `create` with room for `maxsize` items (``0``: no limit). Items order
    /// as Python orders them (see ``shmkit.PriorityQueue``); equal ones come out in the order
    /// they were put. An existing queue keeps its own limit.
    #[pyo3(signature = (name, maxsize = 0, *, create = true))]
    fn priority_queue(
        &self,
        py: Python<'_>,
        name: &str,
        maxsize: u64,
        create: bool,
    ) -> PyResult<Py<PyPriorityQueue>> {
        let store = self.store(py)?;
        priority_queue::open(py, &store, self.name.clone(), name, maxsize, create)
    }

    /// The ordered map `name` in this store (a ``dict`` whose keys are ordered keys and
    /// iterate in order, see ``shmkit.OrderedMap``), created if missing and `create`.
    #[pyo3(signature = (name, *, create = true))]
    fn ordered_map(&self, py: Python<'_>, name: &str, create: bool) -> PyResult<Py<PyOrderedMap>> {
        let store = self.store(py)?;
        ordered_map::open(py, &store, self.name.clone(), name, create)
    }

    /// Names of the structures in the store.
    fn names(&self, py: Python<'_>) -> PyResult<Vec<String>> {
        let store = self.store(py)?;
        let objects = py.detach(|| store.objects()).py_err(py)?;
        Ok(objects.into_iter().map(|o| o.name).collect())
    }

    /// `(name, kind)` of each structure in the store.
    fn objects(&self, py: Python<'_>) -> PyResult<Vec<(String, String)>> {
        let store = self.store(py)?;
        let objects = py.detach(|| store.objects()).py_err(py)?;
        Ok(objects
            .into_iter()
            .map(|o| (o.name, o.kind.name()))
            .collect())
    }

    /// Process ids of the processes attached to the store.
    fn attached_pids(&self, py: Python<'_>) -> PyResult<Vec<u32>> {
        let store = self.store(py)?;
        let procs = py.detach(|| store.attached_processes()).py_err(py)?;
        Ok(procs.into_iter().map(|p| p.pid).collect())
    }

    /// Checks the store layer only (allocator, directory); returns a report dict. `check()`
    /// checks everything.
    fn verify<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let store = self.store(py)?;
        let r = py.detach(|| store.verify_allocator()).py_err(py)?;
        reports::verify_report(py, &r)
    }

    /// Checks the whole store — allocator, every object, every lock, blocks no structure
    /// reaches — without repairing; returns a report dict (`clean`, `findings` as
    /// `(severity, text)` pairs, `objects` as `(name, kind, state, items)`). Never waits
    /// long behind a live process's lock: such parts are findings of severity `busy`.
    fn check<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let store = self.store(py)?;
        let report = py.detach(|| store.check());
        reports::store_report(py, &report)
    }

    /// Repairs what can be repaired (what killed processes left: locks, half-done writes,
    /// leaked blocks — the last only while no other process is attached), then checks
    /// again. Returns `repaired`, `not_repaired` (lists of text) and `after` (a `check()`
    /// dict), and `clean` (the state after).
    fn repair<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let store = self.store(py)?;
        let r = py.detach(|| store.repair());
        let d = PyDict::new(py);
        d.set_item("clean", r.after.is_clean())?;
        d.set_item("repaired", r.repaired.clone())?;
        d.set_item(
            "not_repaired",
            r.not_repaired
                .iter()
                .map(|n| n.to_string())
                .collect::<Vec<_>>(),
        )?;
        d.set_item("after", reports::store_report(py, &r.after)?)?;
        Ok(d)
    }

    /// Detaches this handle. Maps opened from it stay usable until they are released.
    fn close(&self) {
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).take();
    }

    /// Removes the store's name (processes attached keep working until they detach).
    fn unlink(&self, py: Python<'_>) -> PyResult<()> {
        let path = match self
            .inner
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
        {
            Some(s) => s.path().to_string_lossy().into_owned(),
            None => self.name.clone(),
        };
        py.detach(|| Store::remove(&path)).py_err(py)
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    #[pyo3(signature = (*_args))]
    fn __exit__(&self, _args: &Bound<'_, PyTuple>) -> bool {
        self.close();
        false
    }

    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<(Bound<'py, PyAny>, (String,))> {
        let py = slf.py();
        let this = slf.get();
        let target = match this
            .inner
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
        {
            Some(s) => s.path().to_string_lossy().into_owned(),
            None => this.name.clone(),
        };
        let f = py.import("shmkit._shmkit")?.getattr("_open_store")?;
        Ok((f, (target,)))
    }

    fn __repr__(&self) -> String {
        let state = if self.closed() { ", closed" } else { "" };
        format!("shmkit.Store({:?}{state})", self.name)
    }
}

/// Re-attaches a pickled `Store` (never creates one).
#[pyfunction]
pub fn _open_store(py: Python<'_>, path: &str) -> PyResult<PyStore> {
    PyStore::open_existing(py, path)
}

/// Removes the store `name` (or path), even while other processes are attached (they keep
/// working on it until they detach); never a file that is not a store.
#[pyfunction]
pub fn remove(py: Python<'_>, name: &str) -> PyResult<()> {
    py.detach(|| Store::remove(name)).py_err(py)
}

/// Removes the store `name` (or path) only if no other process is attached (this process's
/// own handles do not count); returns whether it did. What `shmkit rm` does without `--force`.
#[pyfunction]
pub fn remove_if_unused(py: Python<'_>, name: &str) -> PyResult<bool> {
    py.detach(|| Store::remove_if_unused(name).map(|r| r == Removed::Yes))
        .py_err(py)
}
