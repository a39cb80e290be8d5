//! Blocking calls from Python: a wait in the core cut into slices with the GIL released,
//! with signal handlers run in between, so Ctrl-C interrupts a blocked `get` or `put`.
//!
//! Invariants: a call first tries without waiting; each later try waits in the core for at
//! most [`SIGNAL_SLICE`] (and never past the caller's deadline); `py.check_signals()` runs
//! between tries, so a `KeyboardInterrupt` ends the wait with nothing taken or given.
//!
//! ```ignore
//! let got = with_waiting(py, Waiting::from_timeout(Some(1.0))?, |wait| deque.pop_timeout(Some(wait)))?;
//! ```

use crate::errors::{IntoPyErr, ResultExt};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use std::time::{Duration, Instant};

/// Longest wait in the core before the GIL is taken back to check for signals (Ctrl-C).
const SIGNAL_SLICE: Duration = Duration::from_millis(100);

/// How long a call may wait.
#[derive(Clone, Copy, Debug)]
pub enum Waiting {
    /// Not at all.
    No,
    /// Until the deadline (`None`: for ever).
    Until(Option<Instant>),
}

impl Waiting {
    /// From a timeout in seconds: `None` waits for ever, 0 not at all.
    pub fn from_timeout(timeout: Option<f64>) -> PyResult<Waiting> {
        match timeout {
            None => Ok(Waiting::Until(None)),
            Some(t) => {
                let d = Duration::try_from_secs_f64(t).map_err(|_| {
                    PyValueError::new_err("timeout must be a non-negative number of seconds")
                })?;
                if d.is_zero() {
                    Ok(Waiting::No)
                } else {
                    // A deadline too far for `Instant` is no deadline.
                    Ok(Waiting::Until(Instant::now().checked_add(d)))
                }
            }
        }
    }

    /// From `queue.Queue`'s `block` and `timeout` (a negative timeout is a `ValueError`,
    /// as in `queue`).
    pub fn from_block(block: bool, timeout: Option<f64>) -> PyResult<Waiting> {
        if !block {
            return Ok(Waiting::No);
        }
        if timeout.is_some_and(|t| t < 0.0) {
            return Err(PyValueError::new_err(
                "'timeout' must be a non-negative number",
            ));
        }
        Waiting::from_timeout(timeout)
    }

    /// The next slice to wait in the core; `None` once the deadline passed.
    fn slice(self) -> Option<Duration> {
        match self {
            Waiting::No => None,
            Waiting::Until(None) => Some(SIGNAL_SLICE),
            Waiting::Until(Some(end)) => {
                let left = end.saturating_duration_since(Instant::now());
                (!left.is_zero()).then(|| left.min(SIGNAL_SLICE))
            }
        }
    }
}

/// Runs `attempt(wait)` (which returns `Some` once it got what it waits for) until it does
/// or `waiting` runs out: first without waiting, then in slices, checking for signals in
/// between. `None` when the time ran out.
pub fn with_waiting<T, E>(
    py: Python<'_>,
    waiting: Waiting,
    mut attempt: impl FnMut(Duration) -> Result<Option<T>, E> + Send,
) -> PyResult<Option<T>>
where
    T: Send,
    E: IntoPyErr + Send,
{
    let mut wait = Duration::ZERO;
    loop {
        if let Some(done) = py.detach(|| attempt(wait)).py_err(py)? {
            return Ok(Some(done));
        }
        match waiting.slice() {
            None => return Ok(None),
            Some(slice) => wait = slice,
        }
        py.check_signals()?;
    }
}
