//! `shmkit.PriorityQueue`: `queue.PriorityQueue`'s interface over the core's shared
//! priority queue, so `pq.put((priority, task))` orders as Python orders `(priority, task)`.
//!
//! Invariants:
//! - an item's order is its ordered-key encoding (`shmkit.encode_key`, the core's
//!   `value::ordered`): numbers (ints and floats together, exactly), `bytes`, `str`, `None`
//!   and tuples of them sort as Python sorts them; for a tuple, only the leading elements
//!   that have an ordered encoding count (`(1, some_object)` orders as `(1,)`), and items
//!   whose keys are equal come out in the order they were put (where
//!   `queue.PriorityQueue` would compare the objects, or raise `TypeError`). An item with
//!   no ordered form at all (a dict, a list) is refused with `TypeError` before anything is
//!   stored;
//! - the item itself is stored as a typed value (`codec`, pickled when it has no native
//!   encoding) and comes back equal, of its own type;
//! - blocking follows `crate::waiting` (GIL released, Ctrl-C honoured); errors are
//!   `queue.Empty` / `queue.Full` (`shmkit.EmptyError` / `shmkit.FullError`).
//!
//! ```python
//! pq = store.priority_queue("tasks")
//! pq.put((2, "write")); pq.put((1, "read")); pq.put((1.5, {"k": 1}))
//! pq.get()                # -> (1, 'read')
//! pq.get()                # -> (1.5, {'k': 1}): ints and floats in one order; the dict is
//!                         #    carried, never compared
//! ```

use crate::codec;
use crate::errors::{EmptyError, ExceptionClass, FullError, IntoPyErr, ResultExt};
use crate::handle::PySharedObject;
use crate::ordered_key::encode_order_key_lenient;
use crate::waiting::{Waiting, with_waiting};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use shmkit::{PriorityQueue, PriorityQueueError, PriorityQueueOptions, Store};

/// A priority queue handle (see the module documentation).
#[pyclass(module = "shmkit", name = "PriorityQueue", extends = PySharedObject, frozen)]
pub struct PyPriorityQueue {
    queue: PriorityQueue,
}

/// Opens the priority queue `name` of `store` (opened by `store_name`): created with room
/// for `maxsize` items (0: no limit) if missing and `create`.
pub fn open(
    py: Python<'_>,
    store: &Store,
    store_name: String,
    name: &str,
    maxsize: u64,
    create: bool,
) -> PyResult<Py<PyPriorityQueue>> {
    let options = PriorityQueueOptions {
        maxlen: (maxsize > 0).then_some(maxsize),
        ..PriorityQueueOptions::default()
    };
    let queue = py
        .detach(|| {
            if create {
                store.priority_queue_with(name, &options)
            } else {
                store.open_priority_queue(name)
            }
        })
        .py_err(py)?;
    let base = PySharedObject::new(
        Box::new(queue.clone()),
        store,
        store_name,
        PyDict::new(py),
        "items",
    );
    Py::new(
        py,
        PyClassInitializer::from(base).add_subclass(PyPriorityQueue { queue }),
    )
}

/// Re-attaches a pickled handle (the queue opened, never created).
pub fn reopen(
    py: Python<'_>,
    store: &Store,
    store_name: String,
    name: &str,
) -> PyResult<Py<PyPriorityQueue>> {
    open(py, store, store_name, name, 0, false)
}

/// The (key, value) an item is stored as.
fn encode(item: &Bound<'_, PyAny>) -> PyResult<(Vec<u8>, Vec<u8>)> {
    let mut key = Vec::new();
    encode_order_key_lenient(item, &mut key)?;
    let mut value = Vec::new();
    codec::encode_value(item, &mut value)?;
    Ok((key, value))
}

fn empty_error(py: Python<'_>) -> PyErr {
    EmptyError::new_err(py, ("get from an empty priority queue",))
}

impl PyPriorityQueue {
    /// The queue, or `ClosedError`.
    #[inline]
    fn queue<'a>(slf: &'a Bound<'_, Self>) -> PyResult<&'a PriorityQueue> {
        slf.as_super().get().check_open(slf.py(), "PriorityQueue")?;
        Ok(&slf.get().queue)
    }

    fn put_with(slf: &Bound<'_, Self>, item: &Bound<'_, PyAny>, waiting: Waiting) -> PyResult<()> {
        let py = slf.py();
        let q = Self::queue(slf)?;
        let (key, value) = encode(item)?;
        let done = with_waiting(py, waiting, |wait| {
            match q.push_timeout(&key, &value, Some(wait)) {
                Ok(()) => Ok(Some(())),
                Err(PriorityQueueError::Full { .. }) => Ok(None),
                Err(e) => Err(e),
            }
        })?;
        done.ok_or_else(|| {
            PriorityQueueError::Full {
                maxlen: q.maxlen().unwrap_or(0),
            }
            .into_py_err(py)
        })
    }

    fn get_with<'py>(slf: &Bound<'py, Self>, waiting: Waiting) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        let q = Self::queue(slf)?;
        let got = with_waiting(py, waiting, |wait| q.pop_timeout(Some(wait)))?;
        match got {
            Some((_key, value)) => codec::decode(py, &value),
            None => Err(empty_error(py)),
        }
    }
}

#[pymethods]
impl PyPriorityQueue {
    /// Puts `item`. With `block` (the default), waits up to `timeout` seconds (``None``: for
    /// ever) for room in a bounded queue, then raises ``queue.Full``; without, at once.
    /// ``TypeError`` for an item with no order (see the class documentation).
    #[pyo3(signature = (item, block = true, timeout = None))]
    fn put(
        slf: &Bound<'_, Self>,
        item: &Bound<'_, PyAny>,
        block: bool,
        timeout: Option<f64>,
    ) -> PyResult<()> {
        Self::put_with(slf, item, Waiting::from_block(block, timeout)?)
    }

    /// ``put(item, block=False)``.
    fn put_nowait(slf: &Bound<'_, Self>, item: &Bound<'_, PyAny>) -> PyResult<()> {
        Self::put_with(slf, item, Waiting::No)
    }

    /// Puts every item of `items` in as few lock holds as fit (``queue.Full`` if a bounded
    /// queue stayed full past the timeout; the items before stay put). Another error after
    /// some items went in (the store full) says how many.
    #[pyo3(signature = (items, block = true, timeout = None))]
    fn put_many(
        slf: &Bound<'_, Self>,
        items: &Bound<'_, PyAny>,
        block: bool,
        timeout: Option<f64>,
    ) -> PyResult<()> {
        let py = slf.py();
        let q = Self::queue(slf)?;
        let waiting = Waiting::from_block(block, timeout)?;
        let encoded = items
            .try_iter()?
            .map(|item| encode(&item?))
            .collect::<PyResult<Vec<_>>>()?;
        let total = encoded.len();
        let mut done = 0;
        let finished = with_waiting(py, waiting, |wait| {
            done += match q.push_many_timeout(&encoded[done..], Some(wait)) {
                Ok(n) => n,
                // Count the items earlier slices put too.
                Err(PriorityQueueError::PushedPartly { pushed, source }) => {
                    return Err(PriorityQueueError::PushedPartly {
                        pushed: done + pushed,
                        source,
                    });
                }
                Err(e) if done > 0 => {
                    return Err(PriorityQueueError::PushedPartly {
                        pushed: done,
                        source: Box::new(e),
                    });
                }
                Err(e) => return Err(e),
            };
            Ok((done == total).then_some(()))
        })?;
        finished.ok_or_else(|| {
            FullError::new_err(
                py,
                (format!(
                    "priority queue is full: {done} of {total} items put"
                ),),
            )
        })
    }

    /// Removes and returns the smallest item (the first put among equals). With `block`
    /// (the default), waits up to `timeout` seconds (``None``: for ever) for one, then raises
    /// ``queue.Empty``; without, at once.
    #[pyo3(signature = (block = true, timeout = None))]
    fn get<'py>(
        slf: &Bound<'py, Self>,
        block: bool,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        Self::get_with(slf, Waiting::from_block(block, timeout)?)
    }

    /// ``get(block=False)``.
    fn get_nowait<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        Self::get_with(slf, Waiting::No)
    }

    /// Removes and returns between 1 and `max_items` items, smallest first, in one lock
    /// hold, waiting for the first as ``get`` does (``queue.Empty`` if none came).
    #[pyo3(signature = (max_items, block = true, timeout = None))]
    fn get_many<'py>(
        slf: &Bound<'py, Self>,
        max_items: usize,
        block: bool,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyList>> {
        let py = slf.py();
        let q = Self::queue(slf)?;
        if max_items == 0 {
            return Err(PyValueError::new_err("max_items must be at least 1"));
        }
        let waiting = Waiting::from_block(block, timeout)?;
        let got = with_waiting(py, waiting, |wait| {
            let items = q.pop_many_timeout(max_items, Some(wait))?;
            Ok::<_, PriorityQueueError>((!items.is_empty()).then_some(items))
        })?;
        let items = got.ok_or_else(|| empty_error(py))?;
        let list = PyList::empty(py);
        for (_key, value) in items {
            list.append(codec::decode(py, &value)?)?;
        }
        Ok(list)
    }

    /// The smallest item, left in place (``queue.Empty`` if there is none).
    fn peek<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        let q = Self::queue(slf)?;
        match py.detach(|| q.peek()).py_err(py)? {
            Some((_key, value)) => codec::decode(py, &value),
            None => Err(empty_error(py)),
        }
    }

    /// Removes every item.
    fn clear(slf: &Bound<'_, Self>) -> PyResult<()> {
        let py = slf.py();
        let q = Self::queue(slf)?;
        py.detach(|| q.clear()).py_err(py).map(drop)
    }

    /// Items in the queue now (other processes may put and get meanwhile).
    fn qsize(slf: &Bound<'_, Self>) -> PyResult<u64> {
        Ok(Self::queue(slf)?.len())
    }

    /// ``qsize()``.
    fn __len__(slf: &Bound<'_, Self>) -> PyResult<usize> {
        Ok(Self::queue(slf)?.len() as usize)
    }

    /// True if the queue holds no items now.
    fn empty(slf: &Bound<'_, Self>) -> PyResult<bool> {
        Ok(Self::queue(slf)?.is_empty())
    }

    /// True if a bounded queue holds `maxsize` items now.
    fn full(slf: &Bound<'_, Self>) -> PyResult<bool> {
        let q = Self::queue(slf)?;
        Ok(q.maxlen().is_some_and(|m| q.len() >= m))
    }

    /// The most items the queue holds (``0``: no limit, as in ``queue.PriorityQueue``).
    #[getter]
    fn maxsize(slf: &Bound<'_, Self>) -> PyResult<u64> {
        Ok(Self::queue(slf)?.maxlen().unwrap_or(0))
    }

    /// The items in the order ``get`` would return them (one snapshot taken under the lock).
    fn items<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyList>> {
        let py = slf.py();
        let q = Self::queue(slf)?;
        let items = py.detach(|| q.items()).py_err(py)?;
        let list = PyList::empty(py);
        for (_key, value) in items {
            list.append(codec::decode(py, &value)?)?;
        }
        Ok(list)
    }
}
