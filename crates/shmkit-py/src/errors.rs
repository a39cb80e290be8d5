//! Rust errors → the Python exception hierarchy defined in `shmkit/errors.py`.
//!
//! Invariants: every error path of the bindings goes through [`IntoPyErr`] (no `unwrap`, no
//! panic crosses into Python); each Rust variant maps to exactly one class, which also inherits
//! the builtin a Python user expects (`FileNotFoundError` for a missing store, ...). Classes
//! that derive from `OSError` get `(errno, message, path)` so `e.errno` and `e.filename` work.
//!
//! ```python
//! try:
//!     shmkit.Store("missing", create=False)
//! except FileNotFoundError as e:   # shmkit.StoreNotFoundError
//!     print(e.filename)
//! ```

use crate::map_api::MapError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyType;
use shmkit::store::name::NameError;
use shmkit::sync::LockError;
use shmkit::{AllocError, CreateError, DirectoryError, FreeError, OpenError, VerifyError};
use std::path::Path;

static ERRORS: PyOnceLock<Py<PyModule>> = PyOnceLock::new();

/// The exception class `shmkit.errors.<name>`.
pub fn class<'py>(py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyType>> {
    let module = ERRORS.get_or_try_init(py, || py.import("shmkit.errors").map(Bound::unbind))?;
    Ok(module.bind(py).getattr(name)?.cast_into::<PyType>()?)
}

/// A `shmkit.errors.<name>` built from one message.
pub fn err(py: Python<'_>, name: &str, message: impl Into<String>) -> PyErr {
    match class(py, name) {
        Ok(cls) => PyErr::from_type(cls, (message.into(),)),
        Err(e) => e,
    }
}

/// An `OSError`-derived `shmkit.errors.<name>` with `errno` and `filename` set.
fn os_err(py: Python<'_>, name: &str, errno: i32, message: String, path: &Path) -> PyErr {
    match class(py, name) {
        Ok(cls) => PyErr::from_type(cls, (errno, message, path.to_string_lossy().into_owned())),
        Err(e) => e,
    }
}

fn io_err(py: Python<'_>, e: &std::io::Error, message: String, path: &Path) -> PyErr {
    os_err(
        py,
        "StoreIOError",
        e.raw_os_error().unwrap_or(EIO),
        message,
        path,
    )
}

/// errno for an I/O error without an OS code.
const EIO: i32 = 5;

/// `shmkit.ClosedError`.
pub fn closed(py: Python<'_>, what: &str) -> PyErr {
    err(py, "ClosedError", format!("operation on a closed {what}"))
}

/// Conversion of a Rust error into the matching Python exception.
pub trait IntoPyErr {
    /// The Python exception for `self`.
    fn into_py_err(self, py: Python<'_>) -> PyErr;
}

/// `result.py_err(py)?` turns any shmkit error into its Python exception.
pub trait ResultExt<T> {
    /// Maps the error with [`IntoPyErr`].
    fn py_err(self, py: Python<'_>) -> PyResult<T>;
}

impl<T, E: IntoPyErr> ResultExt<T> for Result<T, E> {
    fn py_err(self, py: Python<'_>) -> PyResult<T> {
        self.map_err(|e| e.into_py_err(py))
    }
}

impl IntoPyErr for NameError {
    fn into_py_err(self, py: Python<'_>) -> PyErr {
        err(py, "InvalidNameError", self.to_string())
    }
}

impl IntoPyErr for OpenError {
    fn into_py_err(self, py: Python<'_>) -> PyErr {
        let msg = self.to_string();
        match &self {
            OpenError::InvalidName(_) => err(py, "InvalidNameError", msg),
            OpenError::NotFound { path } => os_err(py, "StoreNotFoundError", 2, msg, path),
            OpenError::PermissionDenied { path } => {
                os_err(py, "PermissionDeniedError", 13, msg, path)
            }
            OpenError::Empty { .. } | OpenError::NotAStore { .. } | OpenError::Truncated { .. } => {
                err(py, "NotAStoreError", msg)
            }
            OpenError::UnsupportedVersion { .. } => err(py, "UnsupportedVersionError", msg),
            OpenError::HeaderChecksum { .. } | OpenError::CorruptHeader { .. } => {
                err(py, "CorruptError", msg)
            }
            OpenError::RegistryFull { .. } => err(py, "RegistryFullError", msg),
            OpenError::Map { path, source, .. } | OpenError::Io { path, source } => {
                io_err(py, source, msg, path)
            }
            _ => err(py, "Error", msg),
        }
    }
}

impl IntoPyErr for CreateError {
    fn into_py_err(self, py: Python<'_>) -> PyErr {
        let msg = self.to_string();
        match self {
            CreateError::InvalidName(_) => err(py, "InvalidNameError", msg),
            CreateError::AlreadyExists { path } => os_err(py, "StoreExistsError", 17, msg, &path),
            CreateError::PermissionDenied { path } => {
                os_err(py, "PermissionDeniedError", 13, msg, &path)
            }
            CreateError::InvalidOptions(_) => err(py, "InvalidOptionsError", msg),
            CreateError::StoreFull { .. } => err(py, "StoreFullError", msg),
            CreateError::Open(e) => e.into_py_err(py),
            CreateError::Io { path, source } => io_err(py, &source, msg, &path),
            _ => err(py, "Error", msg),
        }
    }
}

impl IntoPyErr for AllocError {
    fn into_py_err(self, py: Python<'_>) -> PyErr {
        let msg = self.to_string();
        match self {
            AllocError::StoreFull { .. }
            | AllocError::ReservationExceeded { .. }
            | AllocError::TooLarge { .. } => err(py, "StoreFullError", msg),
            AllocError::Corrupt { .. } | AllocError::OutOfBounds(_) => err(py, "CorruptError", msg),
            AllocError::Lock(e) => e.into_py_err(py),
            AllocError::Io(source) => match class(py, "StoreIOError") {
                Ok(cls) => PyErr::from_type(cls, (source.raw_os_error().unwrap_or(EIO), msg)),
                Err(e) => e,
            },
            _ => err(py, "Error", msg),
        }
    }
}

impl IntoPyErr for FreeError {
    fn into_py_err(self, py: Python<'_>) -> PyErr {
        match self {
            FreeError::NotAttached => err(py, "RegistryFullError", self.to_string()),
            _ => err(py, "CorruptError", self.to_string()),
        }
    }
}

impl IntoPyErr for DirectoryError {
    fn into_py_err(self, py: Python<'_>) -> PyErr {
        let msg = self.to_string();
        match self {
            DirectoryError::InvalidName { .. } => err(py, "InvalidNameError", msg),
            DirectoryError::WrongKind { .. } => err(py, "WrongKindError", msg),
            DirectoryError::NotFound(_) => err(py, "ObjectNotFoundError", msg),
            DirectoryError::Alloc(e) => e.into_py_err(py),
            DirectoryError::OutOfBounds(_) => err(py, "CorruptError", msg),
            DirectoryError::Lock(e) => e.into_py_err(py),
            _ => err(py, "Error", msg),
        }
    }
}

impl IntoPyErr for VerifyError {
    fn into_py_err(self, py: Python<'_>) -> PyErr {
        match self {
            VerifyError::Lock(e) => e.into_py_err(py),
            _ => err(py, "CorruptError", self.to_string()),
        }
    }
}

impl IntoPyErr for shmkit::raw::OutOfBounds {
    fn into_py_err(self, py: Python<'_>) -> PyErr {
        err(py, "CorruptError", self.to_string())
    }
}

impl IntoPyErr for LockError {
    fn into_py_err(self, py: Python<'_>) -> PyErr {
        match self {
            // A forked child that found every registry slot taken.
            LockError::NotAttached => err(py, "RegistryFullError", self.to_string()),
            _ => err(py, "LockTimeoutError", self.to_string()),
        }
    }
}

impl IntoPyErr for MapError {
    fn into_py_err(self, py: Python<'_>) -> PyErr {
        let msg = self.to_string();
        match self {
            MapError::Directory(e) => e.into_py_err(py),
            MapError::Alloc(e) => e.into_py_err(py),
            MapError::KeyTooLarge { .. } => err(py, "KeyTooLargeError", msg),
            MapError::ValueTooLarge { .. } => err(py, "ValueTooLargeError", msg),
            MapError::NotAnInteger { .. } => err(py, "NotAnIntegerError", msg),
            MapError::InvalidOptions(_) => err(py, "InvalidOptionsError", msg),
            MapError::Corrupt { .. } => err(py, "CorruptError", msg),
            MapError::Lock(e) => e.into_py_err(py),
            _ => err(py, "Error", msg),
        }
    }
}
