//! Rust errors → the Python exception hierarchy defined in `shmkit/errors.py`.
//!
//! Invariants: every error path of the bindings goes through [`IntoPyErr`] (no `unwrap`, no
//! panic crosses into Python); the class of a Rust error follows from its
//! [`shmkit::ErrorKind`] in one place, [`class_name`], and also inherits the builtin a Python
//! user expects (`FileNotFoundError` for a missing store, ...). Classes that derive from
//! `OSError` get `(errno, message, path)` from the variant ([`Classified::os_detail`]) so
//! `e.errno` and `e.filename` work.
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
use shmkit::{
    AllocError, CreateError, DirectoryError, ErrorKind, FreeError, OpenError, VerifyError,
};
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

/// errno for an I/O error without an OS code.
const EIO: i32 = 5;
/// errno of a missing store (`FileNotFoundError`).
const ENOENT: i32 = 2;
/// errno of a store that may not be opened or created (`PermissionError`).
const EACCES: i32 = 13;
/// errno of a taken store name (`FileExistsError`).
const EEXIST: i32 = 17;

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

/// The `shmkit.errors` class of each [`ErrorKind`]: the one place a Rust error's class is
/// chosen (only [`MapError`] refines `InvalidArgument` into the key and value size classes).
pub fn class_name(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::StoreNotFound => "StoreNotFoundError",
        ErrorKind::ObjectNotFound => "ObjectNotFoundError",
        ErrorKind::StoreExists => "StoreExistsError",
        ErrorKind::PermissionDenied => "PermissionDeniedError",
        ErrorKind::InvalidName => "InvalidNameError",
        ErrorKind::InvalidArgument => "InvalidOptionsError",
        ErrorKind::WrongType => "NotAnIntegerError",
        ErrorKind::WrongKind => "WrongKindError",
        ErrorKind::InvalidValue => "DecodeError",
        ErrorKind::NotAStore => "NotAStoreError",
        ErrorKind::UnsupportedVersion => "UnsupportedVersionError",
        ErrorKind::Corrupt => "CorruptError",
        ErrorKind::StoreFull => "StoreFullError",
        ErrorKind::RegistryFull => "RegistryFullError",
        ErrorKind::Busy => "LockTimeoutError",
        ErrorKind::Io => "StoreIOError",
        // Kinds added to the library later.
        _ => "Error",
    }
}

/// What an `OSError`-derived class gets besides the message: `e.errno`, and `e.filename` when
/// the error names a file.
pub struct OsDetail<'a> {
    errno: i32,
    path: Option<&'a Path>,
}

impl<'a> OsDetail<'a> {
    fn file(errno: i32, path: &'a Path) -> OsDetail<'a> {
        OsDetail {
            errno,
            path: Some(path),
        }
    }

    fn io(source: &std::io::Error, path: Option<&'a Path>) -> OsDetail<'a> {
        OsDetail {
            errno: source.raw_os_error().unwrap_or(EIO),
            path,
        }
    }
}

/// A shmkit error as the bindings raise it: its kind picks the class ([`class_name`]); the
/// variant adds only the OS detail of `OSError`-derived classes.
pub trait Classified: std::fmt::Display {
    /// The library's classification.
    fn kind(&self) -> ErrorKind;

    /// errno and file name, for an error whose class derives from `OSError`.
    fn os_detail(&self) -> Option<OsDetail<'_>> {
        None
    }

    /// The `shmkit.errors` class name.
    fn class_name(&self) -> &'static str {
        class_name(self.kind())
    }
}

impl<E: Classified> IntoPyErr for E {
    fn into_py_err(self, py: Python<'_>) -> PyErr {
        let cls = match class(py, self.class_name()) {
            Ok(cls) => cls,
            Err(e) => return e,
        };
        let msg = self.to_string();
        match self.os_detail() {
            None => PyErr::from_type(cls, (msg,)),
            Some(OsDetail {
                errno,
                path: Some(path),
            }) => PyErr::from_type(cls, (errno, msg, path.to_string_lossy().into_owned())),
            Some(OsDetail { errno, path: None }) => PyErr::from_type(cls, (errno, msg)),
        }
    }
}

/// `Classified` for error types whose variants carry no OS detail.
macro_rules! classified {
    ($($ty:ty),*) => {$(
        impl Classified for $ty {
            fn kind(&self) -> ErrorKind {
                <$ty>::kind(self)
            }
        }
    )*};
}

classified!(
    NameError,
    FreeError,
    VerifyError,
    LockError,
    shmkit::raw::OutOfBounds
);

impl Classified for OpenError {
    fn kind(&self) -> ErrorKind {
        OpenError::kind(self)
    }

    fn os_detail(&self) -> Option<OsDetail<'_>> {
        match self {
            OpenError::NotFound { path } => Some(OsDetail::file(ENOENT, path)),
            OpenError::PermissionDenied { path }
            | OpenError::ForeignOwner { path, .. }
            | OpenError::ModeTooWide { path, .. } => Some(OsDetail::file(EACCES, path)),
            OpenError::Map { path, source, .. } | OpenError::Io { path, source } => {
                Some(OsDetail::io(source, Some(path)))
            }
            _ => None,
        }
    }
}

impl Classified for CreateError {
    fn kind(&self) -> ErrorKind {
        CreateError::kind(self)
    }

    fn os_detail(&self) -> Option<OsDetail<'_>> {
        match self {
            CreateError::AlreadyExists { path } => Some(OsDetail::file(EEXIST, path)),
            CreateError::PermissionDenied { path } => Some(OsDetail::file(EACCES, path)),
            CreateError::Open(e) => e.os_detail(),
            CreateError::Io { path, source } => Some(OsDetail::io(source, Some(path))),
            _ => None,
        }
    }
}

impl Classified for AllocError {
    fn kind(&self) -> ErrorKind {
        AllocError::kind(self)
    }

    fn os_detail(&self) -> Option<OsDetail<'_>> {
        match self {
            AllocError::Io(source) => Some(OsDetail::io(source, None)),
            _ => None,
        }
    }
}

impl Classified for DirectoryError {
    fn kind(&self) -> ErrorKind {
        DirectoryError::kind(self)
    }

    fn os_detail(&self) -> Option<OsDetail<'_>> {
        match self {
            DirectoryError::Alloc(e) => e.os_detail(),
            _ => None,
        }
    }
}

impl Classified for MapError {
    fn kind(&self) -> ErrorKind {
        MapError::kind(self)
    }

    fn os_detail(&self) -> Option<OsDetail<'_>> {
        match self {
            MapError::Directory(e) => e.os_detail(),
            MapError::Alloc(e) => e.os_detail(),
            _ => None,
        }
    }

    /// Python tells an oversize key from an oversize value (both `InvalidArgument`).
    fn class_name(&self) -> &'static str {
        match self {
            MapError::KeyTooLarge { .. } => "KeyTooLargeError",
            MapError::ValueTooLarge { .. } => "ValueTooLargeError",
            e => class_name(e.kind()),
        }
    }
}
