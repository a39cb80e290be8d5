//! Status codes, the per-thread last error message, and [`entry`], the wrapper every C
//! function's body runs in.
//!
//! Invariants:
//! - every failure of the core reaches C through [`CError::from`]: its code follows from its
//!   [`ErrorKind`] in one place, [`Status::of_kind`] (refined only where C must tell cases
//!   apart: a foreign owner and a too wide mode, both `PermissionDenied`, as the hardening
//!   issue asks; an index past an atomic vector's end, `InvalidArgument`, as Python's
//!   `IndexOutOfRangeError` refines it, and an array's; an array of another shape, as
//!   Python's `ShapeError` does);
//! - no panic crosses into C: [`entry`] runs the body in `catch_unwind` and turns a panic
//!   into [`Status::Panic`];
//! - the message of a call's error is kept per thread until that thread's next failing call
//!   (`shmkit_last_error_message`).
//!
//! ```
//! use shmkit_c::Status;
//! assert_eq!(Status::of_kind(shmkit::ErrorKind::StoreNotFound), Status::StoreNotFound);
//! assert!((Status::StoreNotFound as i32) < 0);
//! ```

use shmkit::value::DecodeError;
use shmkit::{ArrayError, CreateError, Error, ErrorKind, MapError, OpenError, VectorError};
use std::cell::RefCell;
use std::ffi::{CStr, CString, c_char};
use std::panic::{AssertUnwindSafe, catch_unwind};

/// What a C function reports. `SHMKIT_STATUS_OK` and the other non-negative codes are outcomes;
/// every negative code is an error, whose message `shmkit_last_error_message()` returns.
/// Numbers are stable: never changed or reused once released.
#[repr(i32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Status {
    /// Success.
    Ok = 0,
    /// The key is not in the map (`get` and its typed forms). Not an error.
    NotFound = 1,
    /// The iterator has no more entries. Not an error.
    End = 2,
    /// `shmkit_hash_map_incr_int` stored a sum beyond `int64_t` as a big int (as Python's
    /// `incr` does) and did not write `*out`. Not an error: the increment happened.
    BigInt = 3,
    /// `shmkit_atomic_vector_compare_exchange` found another value than the expected one
    /// and stored nothing (the value found is in its out-parameter). Not an error.
    Mismatch = 4,

    // One code per `shmkit::ErrorKind` (`shmkit_status_name` gives the kind's name).
    /// No store under that name or path.
    StoreNotFound = -1,
    /// No object of that name in the store.
    ObjectNotFound = -2,
    /// A store already has that name, and creation was exclusive.
    StoreExists = -3,
    /// The store file may not be opened or created by this process (see also
    /// `SHMKIT_STATUS_FOREIGN_OWNER` and `SHMKIT_STATUS_MODE_TOO_WIDE`).
    PermissionDenied = -4,
    /// A store or object name that cannot be used (also: not UTF-8).
    InvalidName = -5,
    /// An argument the operation does not accept (options out of range, a key or value too
    /// long or of another length than a fixed-size map's, text that is not UTF-8).
    InvalidArgument = -6,
    /// A stored value of another type than the operation needs.
    WrongType = -7,
    /// The name belongs to an object of another kind.
    WrongKind = -8,
    /// Stored bytes that are not a value this build can decode.
    InvalidValue = -9,
    /// The file is not a complete shmkit store.
    NotAStore = -10,
    /// A store of a format version this build does not read.
    UnsupportedVersion = -11,
    /// Shared state is damaged.
    Corrupt = -12,
    /// The store cannot provide the memory.
    StoreFull = -13,
    /// All process slots of the store are held by live processes.
    RegistryFull = -14,
    /// A live process held a lock for longer than the operation waits; or another thread is
    /// inside a call on the same iterator (an iterator is for one thread at a time).
    Busy = -15,
    /// Another system error.
    Io = -16,

    // Refinements of `PermissionDenied` (the store is refused, not the file).
    /// The existing store is owned by another user and `SHMKIT_ALLOW_FOREIGN_OWNER` was not
    /// given.
    ForeignOwner = -17,
    /// The existing store's permission bits grant more than the mode asked for.
    ModeTooWide = -18,

    // A refinement of `InvalidArgument`.
    /// An element or bit index at or past the atomic vector's length, or an element index
    /// at or past the array's (Python's `IndexOutOfRangeError`, an `IndexError`).
    IndexOutOfRange = -19,

    // A refinement of `InvalidArgument`.
    /// The array exists with another shape than the one asked for (Python's `ShapeError`);
    /// nothing was created or changed.
    ShapeMismatch = -20,

    /// A bounded deque is full and the call would not wait (longer); nothing was pushed.
    Full = -21,

    // Errors of the C API itself.
    /// A required pointer was null (or a buffer pointer was null with a nonzero length).
    NullPointer = -100,
    /// The caller's buffer is too small; the needed length was reported, nothing copied.
    BufferTooSmall = -101,
    /// A number does not fit the type it must become (an int too large for a `double`);
    /// nothing was changed.
    Overflow = -102,
    /// A bug in shmkit: a panic was caught at the boundary. The handle stays usable.
    Panic = -103,
    /// An error of a kind added to the library after this binding.
    Unknown = -104,
}

/// Every status, for the name table and the tests.
pub const ALL_STATUSES: [Status; 31] = [
    Status::Ok,
    Status::NotFound,
    Status::End,
    Status::BigInt,
    Status::Mismatch,
    Status::StoreNotFound,
    Status::ObjectNotFound,
    Status::StoreExists,
    Status::PermissionDenied,
    Status::InvalidName,
    Status::InvalidArgument,
    Status::WrongType,
    Status::WrongKind,
    Status::InvalidValue,
    Status::NotAStore,
    Status::UnsupportedVersion,
    Status::Corrupt,
    Status::StoreFull,
    Status::RegistryFull,
    Status::Busy,
    Status::Io,
    Status::ForeignOwner,
    Status::ModeTooWide,
    Status::IndexOutOfRange,
    Status::ShapeMismatch,
    Status::Full,
    Status::NullPointer,
    Status::BufferTooSmall,
    Status::Overflow,
    Status::Panic,
    Status::Unknown,
];

impl Status {
    /// The code of an error kind: the one place a kind becomes a C code.
    pub fn of_kind(kind: ErrorKind) -> Status {
        match kind {
            ErrorKind::StoreNotFound => Status::StoreNotFound,
            ErrorKind::ObjectNotFound => Status::ObjectNotFound,
            ErrorKind::StoreExists => Status::StoreExists,
            ErrorKind::PermissionDenied => Status::PermissionDenied,
            ErrorKind::InvalidName => Status::InvalidName,
            ErrorKind::InvalidArgument => Status::InvalidArgument,
            ErrorKind::WrongType => Status::WrongType,
            ErrorKind::WrongKind => Status::WrongKind,
            ErrorKind::InvalidValue => Status::InvalidValue,
            ErrorKind::NotAStore => Status::NotAStore,
            ErrorKind::UnsupportedVersion => Status::UnsupportedVersion,
            ErrorKind::Corrupt => Status::Corrupt,
            ErrorKind::StoreFull => Status::StoreFull,
            ErrorKind::RegistryFull => Status::RegistryFull,
            ErrorKind::Busy => Status::Busy,
            ErrorKind::Full => Status::Full,
            ErrorKind::Io => Status::Io,
            // `ErrorKind` is `#[non_exhaustive]`, so this arm must exist; a test checks that
            // no kind of `ErrorKind::ALL` lands here.
            _ => Status::Unknown,
        }
    }

    /// The stable snake_case name: the kind's [`ErrorKind::name`] for the codes that mirror
    /// a kind (checked by a test), so C and the other front ends print the same names.
    pub fn name(self) -> &'static CStr {
        match self {
            Status::Ok => c"ok",
            Status::NotFound => c"not_found",
            Status::End => c"end",
            Status::BigInt => c"big_int",
            Status::Mismatch => c"mismatch",
            Status::StoreNotFound => c"store_not_found",
            Status::ObjectNotFound => c"object_not_found",
            Status::StoreExists => c"store_exists",
            Status::PermissionDenied => c"permission_denied",
            Status::InvalidName => c"invalid_name",
            Status::InvalidArgument => c"invalid_argument",
            Status::WrongType => c"wrong_type",
            Status::WrongKind => c"wrong_kind",
            Status::InvalidValue => c"invalid_value",
            Status::NotAStore => c"not_a_store",
            Status::UnsupportedVersion => c"unsupported_version",
            Status::Corrupt => c"corrupt",
            Status::StoreFull => c"store_full",
            Status::RegistryFull => c"registry_full",
            Status::Busy => c"busy",
            Status::Io => c"io",
            Status::ForeignOwner => c"foreign_owner",
            Status::ModeTooWide => c"mode_too_wide",
            Status::IndexOutOfRange => c"index_out_of_range",
            Status::ShapeMismatch => c"shape_mismatch",
            Status::Full => c"full",
            Status::NullPointer => c"null_pointer",
            Status::BufferTooSmall => c"buffer_too_small",
            Status::Overflow => c"overflow",
            Status::Panic => c"panic",
            Status::Unknown => c"unknown",
        }
    }

    /// The status with this number, if there is one (C passes plain ints back).
    pub fn from_code(code: i32) -> Option<Status> {
        ALL_STATUSES.into_iter().find(|s| *s as i32 == code)
    }
}

/// An error on its way to C: its code and its message.
#[derive(Debug)]
pub struct CError {
    /// The code the C function returns.
    pub status: Status,
    /// What `shmkit_last_error_message()` returns.
    pub message: String,
}

impl CError {
    /// An error of the C API itself.
    pub fn new(status: Status, message: impl Into<String>) -> CError {
        CError {
            status,
            message: message.into(),
        }
    }

    /// A null pointer where `what` was required.
    pub fn null(what: &str) -> CError {
        CError::new(Status::NullPointer, format!("null pointer for {what}"))
    }

    fn of(kind: ErrorKind, e: &dyn std::fmt::Display) -> CError {
        CError::new(Status::of_kind(kind), e.to_string())
    }
}

/// The refinement of `PermissionDenied` C tells apart.
fn refine_open(e: &OpenError) -> Status {
    match e {
        OpenError::ForeignOwner { .. } => Status::ForeignOwner,
        OpenError::ModeTooWide { .. } => Status::ModeTooWide,
        e => Status::of_kind(e.kind()),
    }
}

impl From<OpenError> for CError {
    fn from(e: OpenError) -> CError {
        CError::new(refine_open(&e), e.to_string())
    }
}

impl From<CreateError> for CError {
    fn from(e: CreateError) -> CError {
        match &e {
            CreateError::Open(open) => CError::new(refine_open(open), e.to_string()),
            _ => CError::of(e.kind(), &e),
        }
    }
}

impl From<MapError> for CError {
    fn from(e: MapError) -> CError {
        CError::of(e.kind(), &e)
    }
}

/// The refinement of `InvalidArgument` C tells apart: an index past the vector's end.
fn refine_vector(e: &VectorError) -> Status {
    match e {
        VectorError::IndexOutOfRange { .. } | VectorError::BitOutOfRange { .. } => {
            Status::IndexOutOfRange
        }
        e => Status::of_kind(e.kind()),
    }
}

impl From<VectorError> for CError {
    fn from(e: VectorError) -> CError {
        CError::new(refine_vector(&e), e.to_string())
    }
}

/// The refinements of array errors C tells apart: an index past the end, another shape, a
/// missing array opened without an element type and shape (not found, as for the other
/// kinds; `TypeMismatch` keeps its kind, `WrongType`).
fn refine_array(e: &ArrayError) -> Status {
    match e {
        ArrayError::IndexOutOfRange { .. } => Status::IndexOutOfRange,
        ArrayError::ShapeMismatch { .. } => Status::ShapeMismatch,
        ArrayError::NeedsType(_) => Status::ObjectNotFound,
        e => Status::of_kind(e.kind()),
    }
}

impl From<shmkit::DequeError> for CError {
    fn from(e: shmkit::DequeError) -> CError {
        CError::new(Status::of_kind(e.kind()), e.to_string())
    }
}

impl From<shmkit::PriorityQueueError> for CError {
    fn from(e: shmkit::PriorityQueueError) -> CError {
        CError::new(Status::of_kind(e.kind()), e.to_string())
    }
}

impl From<shmkit::OrderedMapError> for CError {
    fn from(e: shmkit::OrderedMapError) -> CError {
        CError::new(Status::of_kind(e.kind()), e.to_string())
    }
}

impl From<ArrayError> for CError {
    fn from(e: ArrayError) -> CError {
        CError::new(refine_array(&e), e.to_string())
    }
}

impl From<DecodeError> for CError {
    fn from(e: DecodeError) -> CError {
        CError::of(e.kind(), &e)
    }
}

impl From<Error> for CError {
    fn from(e: Error) -> CError {
        match e {
            Error::Open(e) => e.into(),
            Error::Create(e) => e.into(),
            Error::Vector(e) => e.into(),
            Error::Array(e) => e.into(),
            e => CError::of(e.kind(), &e),
        }
    }
}

thread_local! {
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

/// Keeps `message` as this thread's last error message.
fn set_last_error(message: &str) {
    let text = CString::new(message.replace('\0', "\\0")).unwrap_or_default();
    // During thread teardown the slot may be gone: the message is dropped then.
    let _ = LAST_ERROR.try_with(|slot| *slot.borrow_mut() = text);
}

/// This thread's last error message (empty if none), valid until this thread's next failing
/// shmkit call.
pub fn last_error_message() -> *const c_char {
    LAST_ERROR
        .try_with(|slot| slot.borrow().as_ptr())
        .unwrap_or(c"".as_ptr())
}

/// Runs a C function's body: its error becomes its code and this thread's last error
/// message; a panic becomes [`Status::Panic`]. Non-negative statuses leave the message as it
/// was.
pub fn entry(body: impl FnOnce() -> Result<Status, CError>) -> Status {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(status)) => status,
        Ok(Err(e)) => {
            set_last_error(&e.message);
            e.status
        }
        Err(payload) => {
            let what = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic".to_string());
            set_last_error(&format!("internal error in shmkit (please report): {what}"));
            Status::Panic
        }
    }
}
