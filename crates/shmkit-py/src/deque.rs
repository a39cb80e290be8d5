//! `shmkit.Deque` and `shmkit.Queue`: one shared deque of the core seen through two
//! interfaces, `collections.deque`'s names (with `timeout=` on the pops) and
//! `queue.Queue`'s (so code written for `multiprocessing.Queue` runs by changing the line
//! that makes the queue). What every handle has comes from [`PySharedObject`].
//!
//! Invariants:
//! - items are typed values in the shared encoding (`codec`): `None`, `bool`, `int`,
//!   `float`, `bytes`, `str` natively (C and Rust read them), anything else pickled; they are
//!   encoded before the core call and decoded after it, so no Python code runs under the
//!   deque's lock;
//! - every core call runs with the GIL released; a wait is cut into slices of at most
//!   [`SIGNAL_SLICE`] between which the GIL is taken back to run signal handlers, so Ctrl-C
//!   interrupts a blocked `pop`/`get`/`put` (with `KeyboardInterrupt`) within that time;
//! - an empty deque or queue raises `shmkit.EmptyError` (an `IndexError` and a
//!   `queue.Empty`), a full one `shmkit.FullError` (a `queue.Full`); a call that raised
//!   changed nothing, with two exceptions it says in its message: a batch push that failed
//!   part way (the items before stay pushed; the message says how many) and an item popped
//!   that this process cannot decode (a pickle of a class it cannot import): the pop has
//!   committed, so that item is gone (and, for a batch, the items popped with it);
//! - a `Queue` handle pickles as a `Queue`, a `Deque` as a `Deque` (the interface is the
//!   option recorded for reopening), so either can be passed to worker processes.
//!
//! ```python
//! q = store.queue("jobs")            # created if missing
//! q.put({"id": 1})                   # pickled (a dict has no native encoding)
//! q.get(timeout=1.0)                 # -> {'id': 1}; queue.Empty after 1 s if none came
//! d = store.deque("recent", maxlen=100)
//! d.append(b"x"); d.popleft()        # -> b'x'
//! d.popleft(timeout=0.5)             # waits up to 0.5 s for another process's append
//! ```

use crate::buffers::with_scratch;
use crate::codec;
use crate::errors::{EmptyError, ExceptionClass, FullError, IntoPyErr, ResultExt};
use crate::handle::PySharedObject;
use crate::waiting::{Waiting, with_waiting};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use shmkit::{Deque, DequeError, DequeOptions, End, Overflow, Store};

fn full_error(py: Python<'_>, deque: &Deque) -> PyErr {
    DequeError::Full {
        maxlen: deque.maxlen().unwrap_or(0),
    }
    .into_py_err(py)
}

fn empty_error(py: Python<'_>, what: &str) -> PyErr {
    EmptyError::new_err(py, (format!("{what} from an empty deque"),))
}

/// Pushes `item` at `end`, waiting for room as `waiting` allows (`FullError` if none came).
fn push(
    py: Python<'_>,
    deque: &Deque,
    end: End,
    item: &Bound<'_, PyAny>,
    waiting: Waiting,
) -> PyResult<()> {
    with_scratch(|buf, _| {
        codec::encode_value(item, buf)?;
        let buf = &*buf;
        let done = with_waiting(py, waiting, |wait| {
            let pushed = match end {
                End::Back => deque.push_back_timeout(buf, Some(wait)),
                End::Front => deque.push_front_timeout(buf, Some(wait)),
            };
            match pushed {
                Ok(()) => Ok(Some(())),
                Err(DequeError::Full { .. }) => Ok(None),
                Err(e) => Err(e),
            }
        })?;
        done.ok_or_else(|| full_error(py, deque))
    })
}

/// Pushes every item of `items` at `end` in order, waiting for room as `waiting` allows;
/// `FullError` (naming how many went in) if not all fit in time.
fn push_many(
    py: Python<'_>,
    deque: &Deque,
    end: End,
    items: &Bound<'_, PyAny>,
    waiting: Waiting,
) -> PyResult<()> {
    let mut encoded = Vec::new();
    for item in items.try_iter()? {
        let mut buf = Vec::new();
        codec::encode_value(&item?, &mut buf)?;
        encoded.push(buf);
    }
    let mut done = 0;
    let total = encoded.len();
    let finished = with_waiting(py, waiting, |wait| {
        let pushed = match end {
            End::Back => deque.push_back_many(&encoded[done..], Some(wait)),
            End::Front => deque.push_front_many(&encoded[done..], Some(wait)),
        };
        done += match pushed {
            Ok(n) => n,
            // Count the items earlier slices pushed too.
            Err(DequeError::PushedPartly { pushed, source }) => {
                return Err(DequeError::PushedPartly {
                    pushed: done + pushed,
                    source,
                });
            }
            Err(e) if done > 0 => {
                return Err(DequeError::PushedPartly {
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
            (format!("deque is full: {done} of {total} items pushed"),),
        )
    })
}

/// Pops the item at `end`, waiting as `waiting` allows; `None` if none came.
fn pop<'py>(
    py: Python<'py>,
    deque: &Deque,
    end: End,
    waiting: Waiting,
) -> PyResult<Option<Bound<'py, PyAny>>> {
    with_scratch(|_, buf| {
        let got = with_waiting(py, waiting, |wait| {
            Ok::<_, DequeError>(deque.pop_into(end, buf, Some(wait))?.then_some(()))
        })?;
        match got {
            Some(()) => codec::decode(py, buf).map(Some),
            None => Ok(None),
        }
    })
}

/// Pops up to `max` items from `end`, waiting for the first as `waiting` allows.
fn pop_many<'py>(
    py: Python<'py>,
    deque: &Deque,
    end: End,
    max: usize,
    waiting: Waiting,
) -> PyResult<Option<Bound<'py, PyList>>> {
    if max == 0 {
        return Ok(Some(PyList::empty(py)));
    }
    let (mut data, mut lens) = (Vec::new(), Vec::new());
    let got = with_waiting(py, waiting, |wait| {
        let n = deque.pop_many_into(end, max, Some(wait), &mut data, &mut lens)?;
        Ok::<_, DequeError>((n > 0).then_some(()))
    })?;
    if got.is_none() {
        return Ok(None);
    }
    let list = PyList::empty(py);
    let mut at = 0;
    for len in lens {
        list.append(codec::decode(py, &data[at..at + len])?)?;
        at += len;
    }
    Ok(Some(list))
}

/// A deque handle (see the module documentation).
#[pyclass(module = "shmkit", name = "Deque", extends = PySharedObject, frozen, sequence)]
pub struct PyDeque {
    deque: Deque,
}

/// A queue handle: the `queue.Queue` interface over a shared deque.
#[pyclass(module = "shmkit", name = "Queue", extends = PySharedObject, frozen)]
pub struct PyQueue {
    deque: Deque,
}

/// Which class a handle on a deque is.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Interface {
    /// `shmkit.Deque`.
    Deque,
    /// `shmkit.Queue`.
    Queue,
}

/// The options creating a deque with at most `maxlen` items and the overflow policy named
/// `overflow` (`"block"` or `"overwrite"`).
pub fn creation(maxlen: Option<u64>, overflow: &str) -> PyResult<DequeOptions> {
    Ok(DequeOptions {
        maxlen,
        overflow: overflow_of(overflow)?,
        ..DequeOptions::default()
    })
}

/// The overflow policy named `name` (`"block"` or `"overwrite"`).
fn overflow_of(name: &str) -> PyResult<Overflow> {
    match name {
        "block" => Ok(Overflow::Block),
        "overwrite" => Ok(Overflow::Overwrite),
        other => Err(PyValueError::new_err(format!(
            "overflow must be 'block' or 'overwrite', not {other:?}"
        ))),
    }
}

/// Opens the deque `name` of `store` (opened by `store_name`) as `interface`: created with
/// `create`'s options if missing (`None`: never created).
pub fn open(
    py: Python<'_>,
    store: &Store,
    store_name: String,
    name: &str,
    create: Option<DequeOptions>,
    interface: Interface,
) -> PyResult<Py<PyAny>> {
    let deque = py
        .detach(|| match &create {
            Some(options) => store.deque_with(name, options),
            None => store.open_deque(name),
        })
        .py_err(py)?;
    let reopen = PyDict::new(py);
    if interface == Interface::Queue {
        reopen.set_item("interface", "queue")?;
    }
    let base = PySharedObject::new(Box::new(deque.clone()), store, store_name, reopen, "items");
    let init = PyClassInitializer::from(base);
    Ok(match interface {
        Interface::Deque => Py::new(py, init.add_subclass(PyDeque { deque }))?.into_any(),
        Interface::Queue => Py::new(py, init.add_subclass(PyQueue { deque }))?.into_any(),
    })
}

/// Re-attaches a pickled handle (the deque opened, never created), as the interface its
/// options name.
pub fn reopen(
    py: Python<'_>,
    store: &Store,
    store_name: String,
    name: &str,
    options: &Bound<'_, PyDict>,
) -> PyResult<Py<PyAny>> {
    let interface = match options.get_item("interface")? {
        Some(i) if i.extract::<String>()? == "queue" => Interface::Queue,
        _ => Interface::Deque,
    };
    open(py, store, store_name, name, None, interface)
}

impl PyDeque {
    /// The deque, or `ClosedError`.
    #[inline]
    fn deque<'a>(slf: &'a Bound<'_, Self>) -> PyResult<&'a Deque> {
        slf.as_super().get().check_open(slf.py(), "Deque")?;
        Ok(&slf.get().deque)
    }
}

#[pymethods]
impl PyDeque {
    /// Appends `item` at the right. On a full deque created with ``overflow="block"``, waits
    /// up to `timeout` seconds for room (``None``: for ever; ``0``: not at all), then raises
    /// ``FullError``; with ``overflow="overwrite"`` the leftmost item is dropped instead.
    #[pyo3(signature = (item, *, timeout = None))]
    fn append(
        slf: &Bound<'_, Self>,
        item: &Bound<'_, PyAny>,
        timeout: Option<f64>,
    ) -> PyResult<()> {
        let d = Self::deque(slf)?;
        push(
            slf.py(),
            d,
            End::Back,
            item,
            Waiting::from_timeout(timeout)?,
        )
    }

    /// Prepends `item` at the left (see ``append``; overwriting drops the rightmost item).
    #[pyo3(signature = (item, *, timeout = None))]
    fn appendleft(
        slf: &Bound<'_, Self>,
        item: &Bound<'_, PyAny>,
        timeout: Option<f64>,
    ) -> PyResult<()> {
        let d = Self::deque(slf)?;
        push(
            slf.py(),
            d,
            End::Front,
            item,
            Waiting::from_timeout(timeout)?,
        )
    }

    /// Appends every item of `items` at the right, in order, in as few lock holds as fit.
    #[pyo3(signature = (items, *, timeout = None))]
    fn extend(
        slf: &Bound<'_, Self>,
        items: &Bound<'_, PyAny>,
        timeout: Option<f64>,
    ) -> PyResult<()> {
        let d = Self::deque(slf)?;
        push_many(
            slf.py(),
            d,
            End::Back,
            items,
            Waiting::from_timeout(timeout)?,
        )
    }

    /// Prepends every item of `items` one after the other (the last ends up leftmost).
    #[pyo3(signature = (items, *, timeout = None))]
    fn extendleft(
        slf: &Bound<'_, Self>,
        items: &Bound<'_, PyAny>,
        timeout: Option<f64>,
    ) -> PyResult<()> {
        let d = Self::deque(slf)?;
        push_many(
            slf.py(),
            d,
            End::Front,
            items,
            Waiting::from_timeout(timeout)?,
        )
    }

    /// Removes and returns the rightmost item. On an empty deque waits up to `timeout`
    /// seconds for one (default ``0``: not at all; ``None``: for ever), then raises
    /// ``EmptyError`` (an ``IndexError``).
    #[pyo3(signature = (*, timeout = Some(0.0)))]
    fn pop<'py>(slf: &Bound<'py, Self>, timeout: Option<f64>) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        let d = Self::deque(slf)?;
        pop(py, d, End::Back, Waiting::from_timeout(timeout)?)?
            .ok_or_else(|| empty_error(py, "pop"))
    }

    /// Removes and returns the leftmost item (see ``pop``).
    #[pyo3(signature = (*, timeout = Some(0.0)))]
    fn popleft<'py>(slf: &Bound<'py, Self>, timeout: Option<f64>) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        let d = Self::deque(slf)?;
        pop(py, d, End::Front, Waiting::from_timeout(timeout)?)?
            .ok_or_else(|| empty_error(py, "pop"))
    }

    /// Removes and returns up to `max_items` items from the right (nearest first) in one
    /// lock hold, waiting up to `timeout` for the first; an empty list if none came.
    #[pyo3(signature = (max_items, *, timeout = Some(0.0)))]
    fn pop_many<'py>(
        slf: &Bound<'py, Self>,
        max_items: usize,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyList>> {
        let py = slf.py();
        let d = Self::deque(slf)?;
        Ok(
            pop_many(py, d, End::Back, max_items, Waiting::from_timeout(timeout)?)?
                .unwrap_or_else(|| PyList::empty(py)),
        )
    }

    /// Removes and returns up to `max_items` items from the left, in order (see
    /// ``pop_many``).
    #[pyo3(signature = (max_items, *, timeout = Some(0.0)))]
    fn popleft_many<'py>(
        slf: &Bound<'py, Self>,
        max_items: usize,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyList>> {
        let py = slf.py();
        let d = Self::deque(slf)?;
        Ok(pop_many(
            py,
            d,
            End::Front,
            max_items,
            Waiting::from_timeout(timeout)?,
        )?
        .unwrap_or_else(|| PyList::empty(py)))
    }

    /// The rightmost item, left in place (``EmptyError`` if there is none).
    fn peek<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        let d = Self::deque(slf)?;
        match py.detach(|| d.peek_back()).py_err(py)? {
            Some(v) => codec::decode(py, &v),
            None => Err(empty_error(py, "peek")),
        }
    }

    /// The leftmost item, left in place (``EmptyError`` if there is none).
    fn peekleft<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        let d = Self::deque(slf)?;
        match py.detach(|| d.peek_front()).py_err(py)? {
            Some(v) => codec::decode(py, &v),
            None => Err(empty_error(py, "peek")),
        }
    }

    /// Removes every item.
    fn clear(slf: &Bound<'_, Self>) -> PyResult<()> {
        let py = slf.py();
        let d = Self::deque(slf)?;
        py.detach(|| d.clear()).py_err(py).map(drop)
    }

    /// Items now (other processes may push and pop meanwhile).
    fn __len__(slf: &Bound<'_, Self>) -> PyResult<usize> {
        Ok(Self::deque(slf)?.len() as usize)
    }

    /// Iterates over a snapshot of the items, left to right (one copy taken under the lock).
    fn __iter__<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        let d = Self::deque(slf)?;
        let items = py.detach(|| d.items()).py_err(py)?;
        let list = PyList::empty(py);
        for item in items {
            list.append(codec::decode(py, &item)?)?;
        }
        list.try_iter().map(Bound::into_any)
    }

    /// The most items the deque holds (``None``: no limit).
    #[getter]
    fn maxlen(slf: &Bound<'_, Self>) -> PyResult<Option<u64>> {
        Ok(Self::deque(slf)?.maxlen())
    }

    /// What a push on a full deque does: ``"block"`` or ``"overwrite"``.
    #[getter]
    fn overflow(slf: &Bound<'_, Self>) -> PyResult<&'static str> {
        Ok(match Self::deque(slf)?.overflow() {
            Overflow::Block => "block",
            Overflow::Overwrite => "overwrite",
        })
    }

    /// Total bytes of the encoded items.
    #[getter]
    fn nbytes(slf: &Bound<'_, Self>) -> PyResult<u64> {
        Ok(Self::deque(slf)?.total_bytes())
    }
}

impl PyQueue {
    /// The deque, or `ClosedError`.
    #[inline]
    fn deque<'a>(slf: &'a Bound<'_, Self>) -> PyResult<&'a Deque> {
        slf.as_super().get().check_open(slf.py(), "Queue")?;
        Ok(&slf.get().deque)
    }
}

#[pymethods]
impl PyQueue {
    /// Puts `item` at the back. With `block` (the default), waits up to `timeout` seconds
    /// (``None``: for ever) for room in a bounded queue, then raises ``queue.Full``; without,
    /// raises it at once.
    #[pyo3(signature = (item, block = true, timeout = None))]
    fn put(
        slf: &Bound<'_, Self>,
        item: &Bound<'_, PyAny>,
        block: bool,
        timeout: Option<f64>,
    ) -> PyResult<()> {
        let d = Self::deque(slf)?;
        push(
            slf.py(),
            d,
            End::Back,
            item,
            Waiting::from_block(block, timeout)?,
        )
    }

    /// ``put(item, block=False)``.
    fn put_nowait(slf: &Bound<'_, Self>, item: &Bound<'_, PyAny>) -> PyResult<()> {
        let d = Self::deque(slf)?;
        push(slf.py(), d, End::Back, item, Waiting::No)
    }

    /// Puts every item of `items`, in order, in as few lock holds as fit (``queue.Full``
    /// naming how many went in if a bounded queue stayed full past the timeout).
    #[pyo3(signature = (items, block = true, timeout = None))]
    fn put_many(
        slf: &Bound<'_, Self>,
        items: &Bound<'_, PyAny>,
        block: bool,
        timeout: Option<f64>,
    ) -> PyResult<()> {
        let d = Self::deque(slf)?;
        push_many(
            slf.py(),
            d,
            End::Back,
            items,
            Waiting::from_block(block, timeout)?,
        )
    }

    /// Removes and returns the front item. With `block` (the default), waits up to
    /// `timeout` seconds (``None``: for ever) for one, then raises ``queue.Empty``; without,
    /// raises it at once.
    #[pyo3(signature = (block = true, timeout = None))]
    fn get<'py>(
        slf: &Bound<'py, Self>,
        block: bool,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        let d = Self::deque(slf)?;
        pop(py, d, End::Front, Waiting::from_block(block, timeout)?)?
            .ok_or_else(|| empty_error(py, "get"))
    }

    /// ``get(block=False)``.
    fn get_nowait<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        let d = Self::deque(slf)?;
        pop(py, d, End::Front, Waiting::No)?.ok_or_else(|| empty_error(py, "get"))
    }

    /// Removes and returns between 1 and `max_items` items from the front, in order, in one
    /// lock hold, waiting for the first as ``get`` does (``queue.Empty`` if none came).
    #[pyo3(signature = (max_items, block = true, timeout = None))]
    fn get_many<'py>(
        slf: &Bound<'py, Self>,
        max_items: usize,
        block: bool,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyList>> {
        let py = slf.py();
        let d = Self::deque(slf)?;
        if max_items == 0 {
            return Err(PyValueError::new_err("max_items must be at least 1"));
        }
        pop_many(
            py,
            d,
            End::Front,
            max_items,
            Waiting::from_block(block, timeout)?,
        )?
        .ok_or_else(|| empty_error(py, "get"))
    }

    /// Items in the queue now (other processes may put and get meanwhile).
    fn qsize(slf: &Bound<'_, Self>) -> PyResult<u64> {
        Ok(Self::deque(slf)?.len())
    }

    /// True if the queue holds no items now.
    fn empty(slf: &Bound<'_, Self>) -> PyResult<bool> {
        Ok(Self::deque(slf)?.is_empty())
    }

    /// True if a bounded queue holds `maxsize` items now.
    fn full(slf: &Bound<'_, Self>) -> PyResult<bool> {
        let d = Self::deque(slf)?;
        Ok(d.maxlen().is_some_and(|m| d.len() >= m))
    }

    /// The most items the queue holds (``0``: no limit, as in ``queue.Queue``).
    #[getter]
    fn maxsize(slf: &Bound<'_, Self>) -> PyResult<u64> {
        Ok(Self::deque(slf)?.maxlen().unwrap_or(0))
    }

    /// Does nothing: there is no feeder thread to join (``multiprocessing.Queue``
    /// compatibility).
    fn join_thread(&self) {}

    /// Does nothing (``multiprocessing.Queue`` compatibility).
    fn cancel_join_thread(&self) {}
}
