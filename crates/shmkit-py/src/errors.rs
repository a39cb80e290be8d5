//! The Python exception classes of shmkit, declared once here, and the conversion of every
//! Rust error into one of them.
//!
//! Invariants:
//! - every class is declared in the [`exceptions!`] list below, with its bases and its
//!   docstring; `shmkit.errors` only re-exports them;
//! - every error path of the bindings goes through [`IntoPyErr`] (no `unwrap`, no panic
//!   crosses into Python); the class of a Rust error follows from its [`shmkit::ErrorKind`]
//!   in one match, [`class_of`];
//! - each class derives from `shmkit.Error` and also from the builtin a Python user expects
//!   (`FileNotFoundError` for a missing store, ...). Classes that derive from `OSError` get
//!   `(errno, message, path)` from the variant ([`Classified::os_detail`]) so `e.errno` and
//!   `e.filename` work.
//!
//! Why not `pyo3::create_exception!`: it gives a class exactly one base, and these classes
//! have two (`shmkit.Error` and a builtin). [`exceptions!`] does what it does — a unit type
//! per class whose Python type is built once, on first use, and cached — but builds the
//! type with `type(name, bases, namespace)`, through the safe API.
//!
//! ```python
//! try:
//!     shmkit.Store("missing", create=False)
//! except FileNotFoundError as e:   # shmkit.StoreNotFoundError
//!     print(e.filename)
//! ```

use pyo3::exceptions::{
    PyException, PyFileExistsError, PyFileNotFoundError, PyIndexError, PyKeyError, PyMemoryError,
    PyOSError, PyPermissionError, PyTimeoutError, PyTypeError, PyValueError,
};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyTuple, PyType};
use shmkit::LockError;
use shmkit::store::name::NameError;
use shmkit::{
    AllocError, CreateError, DequeError, DirectoryError, ErrorKind, FreeError, MapError, OpenError,
    VectorError, VerifyError,
};
use std::path::Path;

/// The module the classes say they belong to (where users import them from).
const MODULE: &str = "shmkit.errors";

/// One shmkit exception class.
pub trait ExceptionClass {
    /// Its Python name.
    const NAME: &'static str;

    /// The class (built on first use).
    fn class(py: Python<'_>) -> PyResult<Bound<'_, PyType>>;

    /// An instance to raise, built from `args` (the error that building the class raised,
    /// should it fail).
    fn new_err<A>(py: Python<'_>, args: A) -> PyErr
    where
        A: for<'py> IntoPyObject<'py> + Send + Sync + 'static,
    {
        match Self::class(py) {
            Ok(cls) => PyErr::from_type(cls, args),
            Err(e) => e,
        }
    }
}

/// Builds the class `name` with `bases` and `doc`, through `type(...)`.
fn build_class<'py>(
    py: Python<'py>,
    name: &str,
    bases: Bound<'py, PyTuple>,
    doc: &str,
) -> PyResult<Py<PyType>> {
    let namespace = PyDict::new(py);
    namespace.set_item("__module__", MODULE)?;
    namespace.set_item("__doc__", doc)?;
    let cls = py
        .get_type::<PyType>()
        .call1((name, bases, namespace))?
        .cast_into::<PyType>()?;
    Ok(cls.unbind())
}

/// Declares the exception classes: `Name(Parent[, Builtin]) "doc";`.
macro_rules! exceptions {
    ($($name:ident($parent:ty $(, $builtin:ty)?) $doc:literal;)*) => {
        $(
            #[doc = $doc]
            pub struct $name;

            impl ExceptionClass for $name {
                const NAME: &'static str = stringify!($name);

                fn class(py: Python<'_>) -> PyResult<Bound<'_, PyType>> {
                    static CLASS: PyOnceLock<Py<PyType>> = PyOnceLock::new();
                    let cls = CLASS.get_or_try_init(py, || {
                        let bases = PyTuple::new(
                            py,
                            [<$parent as ExceptionClass>::class(py)?
                                $(, py.get_type::<$builtin>())?],
                        )?;
                        build_class(py, Self::NAME, bases, $doc)
                    })?;
                    Ok(cls.bind(py).clone())
                }
            }
        )*

        /// Adds every class to the module `m`.
        pub fn add_classes(m: &Bound<'_, PyModule>) -> PyResult<()> {
            let py = m.py();
            m.add(Error::NAME, Error::class(py)?)?;
            $(m.add($name::NAME, $name::class(py)?)?;)*
            Ok(())
        }
    };
}

/// An exception class whose second base is a class of the standard library's `queue`
/// module (not a builtin, so not expressible in [`exceptions!`]): `Name(Error, builtin,
/// queue.Class) "doc"`.
macro_rules! queue_exceptions {
    ($($name:ident($($builtin:ty,)? $queue_class:literal) $doc:literal;)*) => {
        $(
            #[doc = $doc]
            pub struct $name;

            impl ExceptionClass for $name {
                const NAME: &'static str = stringify!($name);

                fn class(py: Python<'_>) -> PyResult<Bound<'_, PyType>> {
                    static CLASS: PyOnceLock<Py<PyType>> = PyOnceLock::new();
                    let cls = CLASS.get_or_try_init(py, || {
                        let queue_class = py.import("queue")?.getattr($queue_class)?;
                        let bases = PyTuple::new(
                            py,
                            [Error::class(py)?.into_any()
                                $(, py.get_type::<$builtin>().into_any())?,
                                queue_class],
                        )?;
                        build_class(py, Self::NAME, bases, $doc)
                    })?;
                    Ok(cls.bind(py).clone())
                }
            }
        )*

        /// Adds the queue exception classes to the module `m`.
        pub fn add_queue_classes(m: &Bound<'_, PyModule>) -> PyResult<()> {
            let py = m.py();
            $(m.add($name::NAME, $name::class(py)?)?;)*
            Ok(())
        }
    };
}

queue_exceptions! {
    EmptyError(PyIndexError, "Empty")
        "A pop or get found no item (at once, or within its timeout): an ``IndexError`` as \
         ``collections.deque.pop`` raises, and a ``queue.Empty`` as ``queue.Queue.get`` does.";
    FullError("Full")
        "A push or put found a bounded deque or queue full (at once, or within its \
         timeout): a ``queue.Full``.";
}

/// Base class of every shmkit error.
pub struct Error;

impl ExceptionClass for Error {
    const NAME: &'static str = "Error";

    fn class(py: Python<'_>) -> PyResult<Bound<'_, PyType>> {
        static CLASS: PyOnceLock<Py<PyType>> = PyOnceLock::new();
        let cls = CLASS.get_or_try_init(py, || {
            let bases = PyTuple::new(py, [py.get_type::<PyException>()])?;
            build_class(py, Self::NAME, bases, "Base class of every shmkit error.")
        })?;
        Ok(cls.bind(py).clone())
    }
}

exceptions! {
    StoreNotFoundError(Error, PyFileNotFoundError)
        "No store exists under that name or path.";
    StoreExistsError(Error, PyFileExistsError)
        "A store (or another file) already has that name and creation was exclusive.";
    PermissionDeniedError(Error, PyPermissionError)
        "The store file may not be opened or created by this process.";
    InvalidNameError(Error, PyValueError)
        "A store or object name that cannot be used.";
    InvalidOptionsError(Error, PyValueError)
        "Store options that contradict each other or are out of range.";
    NotAStoreError(Error, PyValueError)
        "The file exists but is not a complete shmkit store (empty, foreign or truncated).";
    UnsupportedVersionError(Error, PyValueError)
        "The store was written in a format version this build does not read.";
    CorruptError(Error)
        "Shared state is damaged (bad checksum, offsets out of bounds, broken links).";
    StoreFullError(Error, PyMemoryError)
        "The store cannot grow any more (file system full or reserved size reached).";
    RegistryFullError(Error)
        "All process slots of the store are held by live processes.";
    ObjectNotFoundError(Error, PyKeyError)
        "No structure of that name exists in the store.";
    WrongKindError(Error, PyTypeError)
        "The name belongs to a structure of another kind.";
    KeyNotFoundError(Error, PyKeyError)
        "The key is not in the map (raised by ``m[key]``, ``del m[key]``, ``pop``).";
    IndexOutOfRangeError(Error, PyIndexError)
        "An element or bit index out of range of an atomic vector (``v[i]`` and the others), \
         or an ordered map's ``peekitem`` index past its ends.";
    DtypeError(Error, PyTypeError)
        "An element type an array cannot hold (object fields, zero bytes, unparsable), or \
         another than the existing array's.";
    ShapeError(Error, PyValueError)
        "A shape an array cannot have, another than the existing array's, or an array \
         created without a dtype and shape.";
    KeyTooLargeError(Error, PyValueError)
        "The encoded key is larger than the map accepts.";
    ValueTooLargeError(Error, PyValueError)
        "The encoded value is larger than the map accepts.";
    WrongSizeError(Error, PyValueError)
        "A key or value whose length is not the one every key or value of a fixed-size map \
         has (``store.hash_map(name, raw=True, key_size=..., value_size=...)``); nothing \
         was read or written.";
    WrongKeySizeError(WrongSizeError)
        "A key of another length than a fixed-size map's keys (a ``WrongSizeError``).";
    WrongValueSizeError(WrongSizeError)
        "A value of another length than a fixed-size map's values, or ``incr`` on a \
         fixed-size map whose values are not 8 bytes (a ``WrongSizeError``).";
    NotAnIntegerError(Error, PyTypeError)
        "``incr`` on a value that is not a number of the expected type.";
    DecodeError(Error, PyValueError)
        "Stored bytes that are not a value this build can decode.";
    LockTimeoutError(Error, PyTimeoutError)
        "A lock was held by a live process for longer than the timeout.";
    ClosedError(Error, PyValueError)
        "The handle was closed.";
    StoreIOError(Error, PyOSError)
        "A system error not covered by a more specific class.";
}

/// The class of each [`ErrorKind`]: the one place a Rust error's class is chosen (only
/// [`MapError`] and `OrderedMapError` refine `InvalidArgument` into the key and value size
/// classes (and a fixed-size map's `WrongKeySizeError`/`WrongValueSizeError`), and
/// [`VectorError`] an index out of range into `IndexOutOfRangeError`).
pub fn class_of(py: Python<'_>, kind: ErrorKind) -> PyResult<Bound<'_, PyType>> {
    match kind {
        ErrorKind::StoreNotFound => StoreNotFoundError::class(py),
        ErrorKind::ObjectNotFound => ObjectNotFoundError::class(py),
        ErrorKind::StoreExists => StoreExistsError::class(py),
        ErrorKind::PermissionDenied => PermissionDeniedError::class(py),
        ErrorKind::InvalidName => InvalidNameError::class(py),
        ErrorKind::InvalidArgument => InvalidOptionsError::class(py),
        ErrorKind::WrongType => NotAnIntegerError::class(py),
        ErrorKind::WrongKind => WrongKindError::class(py),
        ErrorKind::InvalidValue => DecodeError::class(py),
        ErrorKind::NotAStore => NotAStoreError::class(py),
        ErrorKind::UnsupportedVersion => UnsupportedVersionError::class(py),
        ErrorKind::Corrupt => CorruptError::class(py),
        ErrorKind::StoreFull => StoreFullError::class(py),
        ErrorKind::RegistryFull => RegistryFullError::class(py),
        ErrorKind::Busy => LockTimeoutError::class(py),
        ErrorKind::Full => FullError::class(py),
        ErrorKind::Io => StoreIOError::class(py),
        // Kinds added to the library later.
        _ => Error::class(py),
    }
}

/// `shmkit.ClosedError` for an operation on a closed `what` ("Store", "HashMap", ...).
pub fn closed(py: Python<'_>, what: &str) -> PyErr {
    ClosedError::new_err(py, (format!("operation on a closed {what}"),))
}

/// errno for an I/O error without an OS code.
const EIO: i32 = 5;
/// errno of a missing store (`FileNotFoundError`).
const ENOENT: i32 = 2;
/// errno of a store that may not be opened or created (`PermissionError`).
const EACCES: i32 = 13;
/// errno of a taken store name (`FileExistsError`).
const EEXIST: i32 = 17;

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

/// A shmkit error as the bindings raise it: its kind picks the class ([`class_of`]); the
/// variant adds only the OS detail of `OSError`-derived classes.
pub trait Classified: std::fmt::Display {
    /// The library's classification.
    fn kind(&self) -> ErrorKind;

    /// errno and file name, for an error whose class derives from `OSError`.
    fn os_detail(&self) -> Option<OsDetail<'_>> {
        None
    }

    /// Its class.
    fn class<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyType>> {
        class_of(py, self.kind())
    }
}

impl<E: Classified> IntoPyErr for E {
    fn into_py_err(self, py: Python<'_>) -> PyErr {
        let cls = match self.class(py) {
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
    shmkit::OutOfBounds,
    shmkit::value::DecodeError,
    shmkit::value::ordered::OrderedKeyError
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

    /// Python tells an oversize key from an oversize value, and a key or value of another
    /// length than a fixed-size map's (all `InvalidArgument`).
    fn class<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyType>> {
        match self {
            MapError::KeyTooLarge { .. } => KeyTooLargeError::class(py),
            MapError::ValueTooLarge { .. } => ValueTooLargeError::class(py),
            MapError::WrongKeySize { .. } => WrongKeySizeError::class(py),
            MapError::WrongValueSize { .. } => WrongValueSizeError::class(py),
            e => class_of(py, e.kind()),
        }
    }
}

impl Classified for VectorError {
    fn kind(&self) -> ErrorKind {
        VectorError::kind(self)
    }

    fn os_detail(&self) -> Option<OsDetail<'_>> {
        match self {
            VectorError::Directory(e) => e.os_detail(),
            VectorError::Alloc(e) => e.os_detail(),
            _ => None,
        }
    }

    /// Python raises an `IndexError` for an index out of range (`InvalidArgument` in Rust).
    fn class<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyType>> {
        match self {
            VectorError::IndexOutOfRange { .. } | VectorError::BitOutOfRange { .. } => {
                IndexOutOfRangeError::class(py)
            }
            e => class_of(py, e.kind()),
        }
    }
}

impl Classified for DequeError {
    fn kind(&self) -> ErrorKind {
        DequeError::kind(self)
    }

    fn os_detail(&self) -> Option<OsDetail<'_>> {
        match self {
            DequeError::Directory(e) => e.os_detail(),
            DequeError::Alloc(e) => e.os_detail(),
            _ => None,
        }
    }
}

impl Classified for shmkit::PriorityQueueError {
    fn kind(&self) -> ErrorKind {
        shmkit::PriorityQueueError::kind(self)
    }

    fn os_detail(&self) -> Option<OsDetail<'_>> {
        match self {
            shmkit::PriorityQueueError::Directory(e) => e.os_detail(),
            shmkit::PriorityQueueError::Alloc(e) => e.os_detail(),
            _ => None,
        }
    }
}

impl Classified for shmkit::OrderedMapError {
    fn kind(&self) -> ErrorKind {
        shmkit::OrderedMapError::kind(self)
    }

    fn os_detail(&self) -> Option<OsDetail<'_>> {
        match self {
            shmkit::OrderedMapError::Directory(e) => e.os_detail(),
            shmkit::OrderedMapError::Alloc(e) => e.os_detail(),
            _ => None,
        }
    }

    /// Python tells an oversize key from an oversize value (both `InvalidArgument`), as for
    /// the hash map.
    fn class<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyType>> {
        match self {
            shmkit::OrderedMapError::KeyTooLarge { .. } => KeyTooLargeError::class(py),
            shmkit::OrderedMapError::ValueTooLarge { .. } => ValueTooLargeError::class(py),
            e => class_of(py, e.kind()),
        }
    }
}

impl Classified for shmkit::ArrayError {
    fn kind(&self) -> ErrorKind {
        shmkit::ArrayError::kind(self)
    }

    fn os_detail(&self) -> Option<OsDetail<'_>> {
        match self {
            shmkit::ArrayError::Directory(e) => e.os_detail(),
            shmkit::ArrayError::Alloc(e) => e.os_detail(),
            _ => None,
        }
    }

    /// Python tells a bad or other element type (`TypeError`), a bad or other shape
    /// (`ValueError`) and an index out of range (`IndexError`) apart.
    fn class<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyType>> {
        use shmkit::ArrayError as E;
        match self {
            E::Dtype(_) | E::TypeMismatch { .. } => DtypeError::class(py),
            E::BadShape { .. } | E::ShapeMismatch { .. } | E::NeedsType(_) => ShapeError::class(py),
            E::IndexOutOfRange { .. } => IndexOutOfRangeError::class(py),
            e => class_of(py, e.kind()),
        }
    }
}

/// The umbrella error, as generic code (a [`shmkit::collections::object::SharedObject`])
/// returns it: the wrapped error decides.
impl Classified for shmkit::Error {
    fn kind(&self) -> ErrorKind {
        shmkit::Error::kind(self)
    }

    fn os_detail(&self) -> Option<OsDetail<'_>> {
        match self {
            shmkit::Error::Open(e) => e.os_detail(),
            shmkit::Error::Create(e) => e.os_detail(),
            shmkit::Error::Alloc(e) => e.os_detail(),
            shmkit::Error::Directory(e) => e.os_detail(),
            shmkit::Error::Map(e) => e.os_detail(),
            shmkit::Error::Vector(e) => e.os_detail(),
            shmkit::Error::Array(e) => e.os_detail(),
            shmkit::Error::Deque(e) => e.os_detail(),
            shmkit::Error::PriorityQueue(e) => e.os_detail(),
            shmkit::Error::OrderedMap(e) => e.os_detail(),
            shmkit::Error::Io(source) => Some(OsDetail::io(source, None)),
            _ => None,
        }
    }

    fn class<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyType>> {
        match self {
            shmkit::Error::Map(e) => e.class(py),
            shmkit::Error::Vector(e) => e.class(py),
            shmkit::Error::Array(e) => e.class(py),
            shmkit::Error::OrderedMap(e) => e.class(py),
            e => class_of(py, e.kind()),
        }
    }
}
