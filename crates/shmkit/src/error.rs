//! The umbrella error, and the one classification of every failure.
//!
//! Every per-operation error converts into [`Error`] with `?`. Every error type (the umbrella
//! and each per-operation enum) also has a `kind()`: an [`ErrorKind`] that says which of the
//! failures a user must tell apart happened, whatever operation and error type reported it.
//! Front ends (exit codes of the command, Python exception classes, ...) map the kind, not the
//! variants.
//!
//! ```
//! use shmkit::{ErrorKind, Store};
//! fn open() -> Result<(), shmkit::Error> {
//!     Store::open("no-such-store-umbrella")?;
//!     Ok(())
//! }
//! let e = open().unwrap_err();
//! assert!(matches!(e, shmkit::Error::Open(_)));
//! assert_eq!(e.kind(), ErrorKind::StoreNotFound);
//! assert_eq!(e.kind().name(), "store_not_found");
//! assert_eq!(e.kind().to_string(), "no such store");
//!
//! // The same kind, whichever error type carries it.
//! let bad = shmkit::store::name::resolve("a b").unwrap_err();
//! assert_eq!(bad.kind(), ErrorKind::InvalidName);
//! assert_eq!(shmkit::Error::from(bad).kind(), ErrorKind::InvalidName);
//! ```

use crate::collections::array::ArrayError;
use crate::collections::array::values::ElementValueError;
use crate::collections::atomic_vector::VectorError;
use crate::collections::deque::DequeError;
use crate::collections::hash_map::{MapError, TypedMapError};
use crate::collections::ordered_map::OrderedMapError;
use crate::collections::priority_queue::PriorityQueueError;
use crate::raw::OutOfBounds;
use crate::store::error::{
    AllocError, CreateError, DirectoryError, FreeError, OpenError, VerifyError,
};
use crate::store::name::NameError;
use crate::sync::LockError;
use crate::value::DecodeError;
use crate::value::arith::AddError;
use crate::value::codec::CodecError;
use crate::value::ordered::OrderedKeyError;
use std::fmt;

/// What kind of failure an error is: the classification front ends map (exit codes, exception
/// classes), one value per situation a user must tell apart.
///
/// Every error type of the crate has a `kind()` method; nested errors (a lock error inside an
/// allocation error, ...) have the kind of the inner error. New kinds may be added, so a
/// `match` needs a wildcard arm.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// No store under that name or path.
    StoreNotFound,
    /// No object (hash map, ...) of that name in the store.
    ObjectNotFound,
    /// A store (or another file) already has that name, and creation was exclusive.
    StoreExists,
    /// The store file may not be opened or created by this process.
    PermissionDenied,
    /// A store name or object name that cannot be used.
    InvalidName,
    /// An argument the operation does not accept: options that contradict each other or are
    /// out of range, a key or value longer than the limit.
    InvalidArgument,
    /// A stored value of another type than the operation needs (`incr_*` on a value that is
    /// not an 8-byte number).
    WrongType,
    /// The name belongs to an object of another kind (a hash map asked for as something else).
    WrongKind,
    /// Stored bytes that are not a value this build can decode (unknown type tag, bad length,
    /// text that is not UTF-8).
    InvalidValue,
    /// The file is not a complete shmkit store: empty, foreign, or shorter than its header
    /// says.
    NotAStore,
    /// A store of a format version this build does not read.
    UnsupportedVersion,
    /// Shared state is damaged: a header checksum or field, an offset outside the store, a
    /// broken allocator or map structure.
    Corrupt,
    /// The store cannot provide the memory: the file system is full, the reserved size is
    /// reached, or one allocation is larger than the largest block.
    StoreFull,
    /// All process slots of the store are held by live processes, so this process could not
    /// attach (or, a forked child, has no slot and may not take store locks).
    RegistryFull,
    /// A live process held a lock for longer than the caller would wait.
    Busy,
    /// A bounded container (a deque or priority queue created with a `maxlen`) has no room,
    /// and the caller would not wait (longer).
    Full,
    /// Another system error (see the error's source for the OS error).
    Io,
}

impl ErrorKind {
    /// Every kind, in declaration order. Front ends that map kinds to codes of their own
    /// (the C API's status codes, exit codes, exception classes) test against it, so a kind
    /// added later without a code of its own fails their tests instead of falling into a
    /// wildcard arm unnoticed. A test of this crate keeps it complete.
    pub const ALL: &[ErrorKind] = &[
        ErrorKind::StoreNotFound,
        ErrorKind::ObjectNotFound,
        ErrorKind::StoreExists,
        ErrorKind::PermissionDenied,
        ErrorKind::InvalidName,
        ErrorKind::InvalidArgument,
        ErrorKind::WrongType,
        ErrorKind::WrongKind,
        ErrorKind::InvalidValue,
        ErrorKind::NotAStore,
        ErrorKind::UnsupportedVersion,
        ErrorKind::Corrupt,
        ErrorKind::StoreFull,
        ErrorKind::RegistryFull,
        ErrorKind::Busy,
        ErrorKind::Full,
        ErrorKind::Io,
    ];

    /// A stable snake_case name (`"store_not_found"`, ...), for machine-readable output.
    /// Names are never changed or reused once released.
    pub fn name(&self) -> &'static str {
        match self {
            ErrorKind::StoreNotFound => "store_not_found",
            ErrorKind::ObjectNotFound => "object_not_found",
            ErrorKind::StoreExists => "store_exists",
            ErrorKind::PermissionDenied => "permission_denied",
            ErrorKind::InvalidName => "invalid_name",
            ErrorKind::InvalidArgument => "invalid_argument",
            ErrorKind::WrongType => "wrong_type",
            ErrorKind::WrongKind => "wrong_kind",
            ErrorKind::InvalidValue => "invalid_value",
            ErrorKind::NotAStore => "not_a_store",
            ErrorKind::UnsupportedVersion => "unsupported_version",
            ErrorKind::Corrupt => "corrupt",
            ErrorKind::StoreFull => "store_full",
            ErrorKind::RegistryFull => "registry_full",
            ErrorKind::Busy => "busy",
            ErrorKind::Full => "full",
            ErrorKind::Io => "io",
        }
    }

    /// A short lower-case description (`"no such store"`, ...); what `Display` prints.
    fn description(&self) -> &'static str {
        match self {
            ErrorKind::StoreNotFound => "no such store",
            ErrorKind::ObjectNotFound => "no such object",
            ErrorKind::StoreExists => "store already exists",
            ErrorKind::PermissionDenied => "permission denied",
            ErrorKind::InvalidName => "invalid name",
            ErrorKind::InvalidArgument => "invalid argument",
            ErrorKind::WrongType => "value of the wrong type",
            ErrorKind::WrongKind => "object of another kind",
            ErrorKind::InvalidValue => "undecodable value",
            ErrorKind::NotAStore => "not a shmkit store",
            ErrorKind::UnsupportedVersion => "unsupported store format version",
            ErrorKind::Corrupt => "corrupt store",
            ErrorKind::StoreFull => "store full",
            ErrorKind::RegistryFull => "all process slots in use",
            ErrorKind::Busy => "lock held by a live process",
            ErrorKind::Full => "container full",
            ErrorKind::Io => "system error",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.description())
    }
}

/// Any shmkit error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// See [`OpenError`].
    #[error(transparent)]
    Open(#[from] OpenError),
    /// See [`CreateError`].
    #[error(transparent)]
    Create(#[from] CreateError),
    /// See [`AllocError`].
    #[error(transparent)]
    Alloc(#[from] AllocError),
    /// See [`FreeError`].
    #[error(transparent)]
    Free(#[from] FreeError),
    /// See [`DirectoryError`].
    #[error(transparent)]
    Directory(#[from] DirectoryError),
    /// See [`VerifyError`].
    #[error(transparent)]
    Verify(#[from] VerifyError),
    /// See [`MapError`].
    #[error(transparent)]
    Map(#[from] MapError),
    /// See [`TypedMapError`].
    #[error(transparent)]
    TypedMap(#[from] TypedMapError),
    /// See [`VectorError`].
    #[error(transparent)]
    Vector(#[from] VectorError),
    /// See [`ArrayError`].
    #[error(transparent)]
    Array(#[from] ArrayError),
    /// See [`DequeError`].
    #[error(transparent)]
    Deque(#[from] DequeError),
    /// See [`PriorityQueueError`].
    #[error(transparent)]
    PriorityQueue(#[from] PriorityQueueError),
    /// See [`OrderedMapError`].
    #[error(transparent)]
    OrderedMap(#[from] OrderedMapError),
    /// See [`LockError`].
    #[error(transparent)]
    Lock(#[from] LockError),
    /// See [`NameError`].
    #[error(transparent)]
    Name(#[from] NameError),
    /// An offset outside the store (a corrupt store, or a stale offset).
    #[error(transparent)]
    OutOfBounds(#[from] OutOfBounds),
    /// A system error not covered above.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

// The classification: each error type's variants to kinds, all in one place.

impl Error {
    /// What kind of failure this is (the kind of the wrapped error).
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Open(e) => e.kind(),
            Error::Create(e) => e.kind(),
            Error::Alloc(e) => e.kind(),
            Error::Free(e) => e.kind(),
            Error::Directory(e) => e.kind(),
            Error::Verify(e) => e.kind(),
            Error::Map(e) => e.kind(),
            Error::TypedMap(e) => e.kind(),
            Error::Vector(e) => e.kind(),
            Error::Array(e) => e.kind(),
            Error::Deque(e) => e.kind(),
            Error::PriorityQueue(e) => e.kind(),
            Error::OrderedMap(e) => e.kind(),
            Error::Lock(e) => e.kind(),
            Error::Name(e) => e.kind(),
            Error::OutOfBounds(e) => e.kind(),
            Error::Io(_) => ErrorKind::Io,
        }
    }
}

impl OpenError {
    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        match self {
            OpenError::InvalidName(e) => e.kind(),
            OpenError::NotFound { .. } => ErrorKind::StoreNotFound,
            OpenError::PermissionDenied { .. }
            | OpenError::ForeignOwner { .. }
            | OpenError::ModeTooWide { .. } => ErrorKind::PermissionDenied,
            OpenError::Empty { .. } | OpenError::NotAStore { .. } | OpenError::Truncated { .. } => {
                ErrorKind::NotAStore
            }
            OpenError::UnsupportedVersion { .. } => ErrorKind::UnsupportedVersion,
            OpenError::HeaderChecksum { .. } | OpenError::CorruptHeader { .. } => {
                ErrorKind::Corrupt
            }
            OpenError::RegistryFull { .. } => ErrorKind::RegistryFull,
            OpenError::Map { .. } | OpenError::Io { .. } => ErrorKind::Io,
        }
    }
}

impl CreateError {
    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        match self {
            CreateError::InvalidName(e) => e.kind(),
            CreateError::AlreadyExists { .. } => ErrorKind::StoreExists,
            CreateError::PermissionDenied { .. } => ErrorKind::PermissionDenied,
            CreateError::InvalidOptions(_) => ErrorKind::InvalidArgument,
            CreateError::StoreFull { .. } => ErrorKind::StoreFull,
            CreateError::Open(e) => e.kind(),
            CreateError::Io { .. } => ErrorKind::Io,
        }
    }
}

impl AllocError {
    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        match self {
            AllocError::StoreFull { .. }
            | AllocError::ReservationExceeded { .. }
            | AllocError::TooLarge { .. } => ErrorKind::StoreFull,
            AllocError::Corrupt { .. } => ErrorKind::Corrupt,
            AllocError::OutOfBounds(e) => e.kind(),
            AllocError::Lock(e) => e.kind(),
            AllocError::Io(_) => ErrorKind::Io,
        }
    }
}

impl FreeError {
    /// What kind of failure this is. An offset that is not an allocated block (or one freed
    /// twice) is [`ErrorKind::Corrupt`]: the allocator cannot tell a wrong offset from a
    /// damaged block header.
    pub fn kind(&self) -> ErrorKind {
        match self {
            FreeError::NotABlock(_) | FreeError::DoubleFree(_) => ErrorKind::Corrupt,
            FreeError::NotAttached => ErrorKind::RegistryFull,
            FreeError::Busy(_) => ErrorKind::Busy,
        }
    }
}

impl DirectoryError {
    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        match self {
            DirectoryError::InvalidName { .. } => ErrorKind::InvalidName,
            DirectoryError::WrongKind { .. } => ErrorKind::WrongKind,
            DirectoryError::NotFound(_) => ErrorKind::ObjectNotFound,
            DirectoryError::Alloc(e) => e.kind(),
            DirectoryError::OutOfBounds(e) => e.kind(),
            DirectoryError::Lock(e) => e.kind(),
        }
    }
}

impl VerifyError {
    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        match self {
            VerifyError::OutOfBounds(e) => e.kind(),
            VerifyError::Lock(e) => e.kind(),
        }
    }
}

impl MapError {
    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        match self {
            MapError::Directory(e) => e.kind(),
            MapError::Alloc(e) => e.kind(),
            MapError::Lock(e) => e.kind(),
            MapError::KeyTooLarge { .. }
            | MapError::ValueTooLarge { .. }
            | MapError::WrongKeySize { .. }
            | MapError::WrongValueSize { .. }
            | MapError::InvalidOptions(_) => ErrorKind::InvalidArgument,
            MapError::NotAnInteger { .. } => ErrorKind::WrongType,
            MapError::TooManyHandles { .. } => ErrorKind::Full,
            MapError::Corrupt { .. } => ErrorKind::Corrupt,
        }
    }
}

impl TypedMapError {
    /// What kind of failure this is: the map's, or the codec's (see [`CodecError::kind`]);
    /// `incr` on a value that is not a number is [`ErrorKind::WrongType`], an int too large
    /// to add to a float [`ErrorKind::InvalidArgument`].
    pub fn kind(&self) -> ErrorKind {
        match self {
            TypedMapError::Map(e) => e.kind(),
            TypedMapError::Key(e) | TypedMapError::Value(e) => e.kind(),
            TypedMapError::Incr(AddError::NotANumber { .. }) => ErrorKind::WrongType,
            TypedMapError::Incr(AddError::FloatOverflow) => ErrorKind::InvalidArgument,
        }
    }
}

impl CodecError {
    /// What kind of failure this is: bytes that are no value, or not what the codec wrote
    /// ([`ErrorKind::InvalidValue`]); a value of another type or out of the type's range
    /// ([`ErrorKind::WrongType`]); a value that cannot be encoded
    /// ([`ErrorKind::InvalidArgument`]).
    pub fn kind(&self) -> ErrorKind {
        match self {
            CodecError::Malformed(_) | CodecError::Invalid { .. } => ErrorKind::InvalidValue,
            CodecError::WrongType { .. } | CodecError::OutOfRange { .. } => ErrorKind::WrongType,
            CodecError::Unencodable { .. } => ErrorKind::InvalidArgument,
        }
    }
}

impl VectorError {
    /// What kind of failure this is (an index out of range is an
    /// [`ErrorKind::InvalidArgument`]; bindings refine it, e.g. Python's `IndexError`).
    pub fn kind(&self) -> ErrorKind {
        match self {
            VectorError::Directory(e) => e.kind(),
            VectorError::Alloc(e) => e.kind(),
            VectorError::Lock(e) => e.kind(),
            VectorError::IndexOutOfRange { .. }
            | VectorError::BitOutOfRange { .. }
            | VectorError::TooLong { .. } => ErrorKind::InvalidArgument,
            VectorError::Corrupt { .. } => ErrorKind::Corrupt,
        }
    }
}

impl DequeError {
    /// What kind of failure this is (a push on a full bounded deque is
    /// [`ErrorKind::Full`]).
    pub fn kind(&self) -> ErrorKind {
        match self {
            DequeError::Directory(e) => e.kind(),
            DequeError::Alloc(e) => e.kind(),
            DequeError::Lock(e) => e.kind(),
            DequeError::ItemTooLarge { .. } | DequeError::InvalidOptions(_) => {
                ErrorKind::InvalidArgument
            }
            DequeError::Full { .. } => ErrorKind::Full,
            DequeError::PushedPartly { source, .. } => source.kind(),
            DequeError::Corrupt { .. } => ErrorKind::Corrupt,
        }
    }
}

impl OrderedMapError {
    /// What kind of failure this is; `incr` on a value that is not a number is
    /// [`ErrorKind::WrongType`], an int too large to add to a float
    /// [`ErrorKind::InvalidArgument`].
    pub fn kind(&self) -> ErrorKind {
        match self {
            OrderedMapError::Directory(e) => e.kind(),
            OrderedMapError::Alloc(e) => e.kind(),
            OrderedMapError::Lock(e) => e.kind(),
            OrderedMapError::KeyTooLarge { .. }
            | OrderedMapError::ValueTooLarge { .. }
            | OrderedMapError::InvalidOptions(_)
            | OrderedMapError::Incr(AddError::FloatOverflow) => ErrorKind::InvalidArgument,
            OrderedMapError::Incr(AddError::NotANumber { .. }) => ErrorKind::WrongType,
            OrderedMapError::Corrupt { .. } => ErrorKind::Corrupt,
        }
    }
}

impl PriorityQueueError {
    /// What kind of failure this is (a push on a full bounded queue is
    /// [`ErrorKind::Full`]; a key or value past the limits is
    /// [`ErrorKind::InvalidArgument`]).
    pub fn kind(&self) -> ErrorKind {
        match self {
            PriorityQueueError::Directory(e) => e.kind(),
            PriorityQueueError::Alloc(e) => e.kind(),
            PriorityQueueError::Lock(e) => e.kind(),
            PriorityQueueError::KeyTooLarge { .. }
            | PriorityQueueError::ValueTooLarge { .. }
            | PriorityQueueError::InvalidOptions(_) => ErrorKind::InvalidArgument,
            PriorityQueueError::Full { .. } => ErrorKind::Full,
            PriorityQueueError::PushedPartly { source, .. } => source.kind(),
            PriorityQueueError::Corrupt { .. } => ErrorKind::Corrupt,
        }
    }
}

impl ArrayError {
    /// What kind of failure this is: another element type is [`ErrorKind::WrongType`];
    /// an element type refused, a bad shape or index, another shape, a wrong buffer length
    /// are [`ErrorKind::InvalidArgument`].
    pub fn kind(&self) -> ErrorKind {
        match self {
            ArrayError::Directory(e) => e.kind(),
            ArrayError::Alloc(e) => e.kind(),
            ArrayError::TypeMismatch { .. } => ErrorKind::WrongType,
            ArrayError::Dtype(_)
            | ArrayError::BadShape { .. }
            | ArrayError::ShapeMismatch { .. }
            | ArrayError::NeedsType(_)
            | ArrayError::IndexOutOfRange { .. }
            | ArrayError::BufferLength { .. } => ErrorKind::InvalidArgument,
            ArrayError::Corrupt { .. } => ErrorKind::Corrupt,
        }
    }
}

impl ElementValueError {
    /// What kind of failure this is: values that do not fit an element (a wrong number of
    /// them, a wrong type, out of range, too long) are [`ErrorKind::InvalidArgument`].
    pub fn kind(&self) -> ErrorKind {
        ErrorKind::InvalidArgument
    }
}

impl LockError {
    /// What kind of failure this is: [`ErrorKind::Busy`] for a timeout,
    /// [`ErrorKind::RegistryFull`] for a process without a registry slot.
    pub fn kind(&self) -> ErrorKind {
        match self {
            LockError::Timeout(_) => ErrorKind::Busy,
            LockError::NotAttached => ErrorKind::RegistryFull,
        }
    }
}

impl NameError {
    /// What kind of failure this is: always [`ErrorKind::InvalidName`].
    pub fn kind(&self) -> ErrorKind {
        ErrorKind::InvalidName
    }
}

impl OutOfBounds {
    /// What kind of failure this is: always [`ErrorKind::Corrupt`].
    pub fn kind(&self) -> ErrorKind {
        ErrorKind::Corrupt
    }
}

impl DecodeError {
    /// What kind of failure this is: always [`ErrorKind::InvalidValue`].
    pub fn kind(&self) -> ErrorKind {
        ErrorKind::InvalidValue
    }
}

impl OrderedKeyError {
    /// What kind of failure this is: a key that cannot be encoded (tuples nested too deep,
    /// an int too large) is [`ErrorKind::InvalidArgument`]; bytes that are not an encoded
    /// key are [`ErrorKind::InvalidValue`].
    pub fn kind(&self) -> ErrorKind {
        match self {
            OrderedKeyError::TooDeep | OrderedKeyError::IntTooLarge { .. } => {
                ErrorKind::InvalidArgument
            }
            OrderedKeyError::Truncated { .. }
            | OrderedKeyError::TrailingBytes { .. }
            | OrderedKeyError::UnknownType { .. }
            | OrderedKeyError::Invalid { .. }
            | OrderedKeyError::BadUtf8 { .. } => ErrorKind::InvalidValue,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;
    use std::fmt::Debug;
    use std::io;
    use std::path::PathBuf;
    use std::time::Duration;

    /// Checks one value per variant against the kind it must have. `variant` numbers the
    /// variants with an exhaustive match (a new variant does not compile until it is numbered
    /// there), and the cases must cover every number.
    fn check<E: Debug>(
        cases: Vec<(E, ErrorKind)>,
        kind: fn(&E) -> ErrorKind,
        variant: fn(&E) -> usize,
        variants: usize,
    ) {
        let mut seen = HashSet::new();
        for (e, want) in &cases {
            assert_eq!(kind(e), *want, "{e:?}");
            seen.insert(variant(e));
        }
        let missing: Vec<usize> = (0..variants).filter(|v| !seen.contains(v)).collect();
        assert!(missing.is_empty(), "no case for variants {missing:?}");
    }

    fn path() -> PathBuf {
        PathBuf::from("/dev/shm/shmkit.x")
    }

    fn oob() -> OutOfBounds {
        OutOfBounds {
            offset: 8,
            len: 8,
            committed: 4,
        }
    }

    fn io_error() -> io::Error {
        io::Error::from_raw_os_error(libc::EIO)
    }

    fn name_variant(e: &NameError) -> usize {
        match e {
            NameError::Empty => 0,
            NameError::TooLong(_) => 1,
            NameError::BadCharacter(_) => 2,
            NameError::LeadingDot => 3,
            NameError::BadPath(_) => 4,
        }
    }

    fn open_variant(e: &OpenError) -> usize {
        match e {
            OpenError::InvalidName(_) => 0,
            OpenError::NotFound { .. } => 1,
            OpenError::PermissionDenied { .. } => 2,
            OpenError::Empty { .. } => 3,
            OpenError::Truncated { .. } => 4,
            OpenError::NotAStore { .. } => 5,
            OpenError::UnsupportedVersion { .. } => 6,
            OpenError::HeaderChecksum { .. } => 7,
            OpenError::CorruptHeader { .. } => 8,
            OpenError::RegistryFull { .. } => 9,
            OpenError::Map { .. } => 10,
            OpenError::Io { .. } => 11,
            OpenError::ForeignOwner { .. } => 12,
            OpenError::ModeTooWide { .. } => 13,
        }
    }

    fn open_cases() -> Vec<(OpenError, ErrorKind)> {
        let p = path;
        vec![
            (NameError::LeadingDot.into(), ErrorKind::InvalidName),
            (OpenError::NotFound { path: p() }, ErrorKind::StoreNotFound),
            (
                OpenError::PermissionDenied { path: p() },
                ErrorKind::PermissionDenied,
            ),
            (
                OpenError::ForeignOwner {
                    path: p(),
                    owner: 1000,
                    me: 0,
                },
                ErrorKind::PermissionDenied,
            ),
            (
                OpenError::ModeTooWide {
                    path: p(),
                    mode: 0o666,
                    allowed: 0o600,
                },
                ErrorKind::PermissionDenied,
            ),
            (OpenError::Empty { path: p() }, ErrorKind::NotAStore),
            (
                OpenError::Truncated {
                    path: p(),
                    len: 1,
                    expected: 2,
                },
                ErrorKind::NotAStore,
            ),
            (OpenError::NotAStore { path: p() }, ErrorKind::NotAStore),
            (
                OpenError::UnsupportedVersion {
                    path: p(),
                    found: 9,
                    supported: 1,
                },
                ErrorKind::UnsupportedVersion,
            ),
            (
                OpenError::HeaderChecksum {
                    path: p(),
                    stored: 1,
                    computed: 2,
                },
                ErrorKind::Corrupt,
            ),
            (
                OpenError::CorruptHeader {
                    path: p(),
                    reason: "x".into(),
                },
                ErrorKind::Corrupt,
            ),
            (
                OpenError::RegistryFull {
                    path: p(),
                    slots: 64,
                },
                ErrorKind::RegistryFull,
            ),
            (
                OpenError::Map {
                    path: p(),
                    len: 1 << 40,
                    source: io_error(),
                },
                ErrorKind::Io,
            ),
            (
                OpenError::Io {
                    path: p(),
                    source: io_error(),
                },
                ErrorKind::Io,
            ),
        ]
    }

    fn create_variant(e: &CreateError) -> usize {
        match e {
            CreateError::InvalidName(_) => 0,
            CreateError::AlreadyExists { .. } => 1,
            CreateError::PermissionDenied { .. } => 2,
            CreateError::InvalidOptions(_) => 3,
            CreateError::StoreFull { .. } => 4,
            CreateError::Open(_) => 5,
            CreateError::Io { .. } => 6,
        }
    }

    fn alloc_variant(e: &AllocError) -> usize {
        match e {
            AllocError::StoreFull { .. } => 0,
            AllocError::ReservationExceeded { .. } => 1,
            AllocError::TooLarge { .. } => 2,
            AllocError::Corrupt { .. } => 3,
            AllocError::OutOfBounds(_) => 4,
            AllocError::Lock(_) => 5,
            AllocError::Io(_) => 6,
        }
    }

    fn alloc_cases() -> Vec<(AllocError, ErrorKind)> {
        vec![
            (
                AllocError::StoreFull {
                    needed: 2,
                    available: 1,
                },
                ErrorKind::StoreFull,
            ),
            (
                AllocError::ReservationExceeded {
                    needed: 2,
                    reserved: 1,
                },
                ErrorKind::StoreFull,
            ),
            (AllocError::TooLarge { size: 1 << 40 }, ErrorKind::StoreFull),
            (
                AllocError::Corrupt {
                    offset: 8,
                    reason: "x",
                },
                ErrorKind::Corrupt,
            ),
            (oob().into(), ErrorKind::Corrupt),
            (
                LockError::Timeout(Duration::from_millis(1)).into(),
                ErrorKind::Busy,
            ),
            (LockError::NotAttached.into(), ErrorKind::RegistryFull),
            (io_error().into(), ErrorKind::Io),
        ]
    }

    fn free_variant(e: &FreeError) -> usize {
        match e {
            FreeError::NotABlock(_) => 0,
            FreeError::DoubleFree(_) => 1,
            FreeError::NotAttached => 2,
            FreeError::Busy(_) => 3,
        }
    }

    fn directory_variant(e: &DirectoryError) -> usize {
        match e {
            DirectoryError::InvalidName { .. } => 0,
            DirectoryError::WrongKind { .. } => 1,
            DirectoryError::NotFound(_) => 2,
            DirectoryError::Alloc(_) => 3,
            DirectoryError::OutOfBounds(_) => 4,
            DirectoryError::Lock(_) => 5,
        }
    }

    fn directory_cases() -> Vec<(DirectoryError, ErrorKind)> {
        vec![
            (
                DirectoryError::InvalidName {
                    name: String::new(),
                    reason: "empty",
                },
                ErrorKind::InvalidName,
            ),
            (
                DirectoryError::WrongKind {
                    name: "m".into(),
                    found: "queue".into(),
                    expected: "hash map".into(),
                },
                ErrorKind::WrongKind,
            ),
            (
                DirectoryError::NotFound("m".into()),
                ErrorKind::ObjectNotFound,
            ),
            (
                AllocError::ReservationExceeded {
                    needed: 2,
                    reserved: 1,
                }
                .into(),
                ErrorKind::StoreFull,
            ),
            (
                AllocError::Corrupt {
                    offset: 8,
                    reason: "x",
                }
                .into(),
                ErrorKind::Corrupt,
            ),
            (oob().into(), ErrorKind::Corrupt),
            (
                LockError::Timeout(Duration::from_millis(1)).into(),
                ErrorKind::Busy,
            ),
            (LockError::NotAttached.into(), ErrorKind::RegistryFull),
        ]
    }

    fn verify_variant(e: &VerifyError) -> usize {
        match e {
            VerifyError::OutOfBounds(_) => 0,
            VerifyError::Lock(_) => 1,
        }
    }

    fn map_variant(e: &MapError) -> usize {
        match e {
            MapError::Directory(_) => 0,
            MapError::Alloc(_) => 1,
            MapError::Lock(_) => 2,
            MapError::KeyTooLarge { .. } => 3,
            MapError::ValueTooLarge { .. } => 4,
            MapError::NotAnInteger { .. } => 5,
            MapError::InvalidOptions(_) => 6,
            MapError::Corrupt { .. } => 7,
            MapError::TooManyHandles { .. } => 8,
            MapError::WrongKeySize { .. } => 9,
            MapError::WrongValueSize { .. } => 10,
        }
    }

    fn vector_variant(e: &VectorError) -> usize {
        match e {
            VectorError::Directory(_) => 0,
            VectorError::Alloc(_) => 1,
            VectorError::Lock(_) => 2,
            VectorError::IndexOutOfRange { .. } => 3,
            VectorError::BitOutOfRange { .. } => 4,
            VectorError::TooLong { .. } => 5,
            VectorError::Corrupt { .. } => 6,
        }
    }

    #[test]
    fn vector_errors() {
        let mut cases = vec![
            (
                LockError::Timeout(Duration::from_millis(1)).into(),
                ErrorKind::Busy,
            ),
            (
                VectorError::IndexOutOfRange { index: 4, len: 4 },
                ErrorKind::InvalidArgument,
            ),
            (
                VectorError::BitOutOfRange { bit: 64, bits: 64 },
                ErrorKind::InvalidArgument,
            ),
            (
                VectorError::TooLong { len: 2, max: 1 },
                ErrorKind::InvalidArgument,
            ),
            (VectorError::corrupt(8, "x"), ErrorKind::Corrupt),
            (oob().into(), ErrorKind::Corrupt),
        ];
        cases.extend(directory_cases().into_iter().map(|(e, k)| (e.into(), k)));
        cases.extend(alloc_cases().into_iter().map(|(e, k)| (e.into(), k)));
        check(cases, VectorError::kind, vector_variant, 7);
    }

    fn deque_variant(e: &DequeError) -> usize {
        match e {
            DequeError::Directory(_) => 0,
            DequeError::Alloc(_) => 1,
            DequeError::Lock(_) => 2,
            DequeError::ItemTooLarge { .. } => 3,
            DequeError::Full { .. } => 4,
            DequeError::InvalidOptions(_) => 5,
            DequeError::Corrupt { .. } => 6,
            DequeError::PushedPartly { .. } => 7,
        }
    }

    #[test]
    fn deque_errors() {
        let mut cases = vec![
            (
                DequeError::ItemTooLarge { len: 2, max: 1 },
                ErrorKind::InvalidArgument,
            ),
            (DequeError::Full { maxlen: 1 }, ErrorKind::Full),
            (
                DequeError::InvalidOptions("x".into()),
                ErrorKind::InvalidArgument,
            ),
            (DequeError::corrupt(8, "x"), ErrorKind::Corrupt),
            (oob().into(), ErrorKind::Corrupt),
            (
                LockError::Timeout(Duration::from_millis(1)).into(),
                ErrorKind::Busy,
            ),
            (
                DequeError::PushedPartly {
                    pushed: 3,
                    source: Box::new(DequeError::corrupt(8, "x")),
                },
                ErrorKind::Corrupt,
            ),
        ];
        cases.extend(directory_cases().into_iter().map(|(e, k)| (e.into(), k)));
        cases.extend(alloc_cases().into_iter().map(|(e, k)| (e.into(), k)));
        check(cases, DequeError::kind, deque_variant, 8);
    }

    fn priority_queue_variant(e: &PriorityQueueError) -> usize {
        match e {
            PriorityQueueError::Directory(_) => 0,
            PriorityQueueError::Alloc(_) => 1,
            PriorityQueueError::Lock(_) => 2,
            PriorityQueueError::KeyTooLarge { .. } => 3,
            PriorityQueueError::ValueTooLarge { .. } => 4,
            PriorityQueueError::Full { .. } => 5,
            PriorityQueueError::InvalidOptions(_) => 6,
            PriorityQueueError::Corrupt { .. } => 7,
            PriorityQueueError::PushedPartly { .. } => 8,
        }
    }

    #[test]
    fn priority_queue_errors() {
        let mut cases = vec![
            (
                PriorityQueueError::KeyTooLarge { len: 2, max: 1 },
                ErrorKind::InvalidArgument,
            ),
            (
                PriorityQueueError::ValueTooLarge { len: 2, max: 1 },
                ErrorKind::InvalidArgument,
            ),
            (PriorityQueueError::Full { maxlen: 1 }, ErrorKind::Full),
            (
                PriorityQueueError::InvalidOptions("x".into()),
                ErrorKind::InvalidArgument,
            ),
            (PriorityQueueError::corrupt(8, "x"), ErrorKind::Corrupt),
            (oob().into(), ErrorKind::Corrupt),
            (
                LockError::Timeout(Duration::from_millis(1)).into(),
                ErrorKind::Busy,
            ),
            (
                PriorityQueueError::PushedPartly {
                    pushed: 3,
                    source: Box::new(PriorityQueueError::corrupt(8, "x")),
                },
                ErrorKind::Corrupt,
            ),
        ];
        cases.extend(directory_cases().into_iter().map(|(e, k)| (e.into(), k)));
        cases.extend(alloc_cases().into_iter().map(|(e, k)| (e.into(), k)));
        check(cases, PriorityQueueError::kind, priority_queue_variant, 9);
    }

    fn ordered_map_variant(e: &OrderedMapError) -> usize {
        match e {
            OrderedMapError::Directory(_) => 0,
            OrderedMapError::Alloc(_) => 1,
            OrderedMapError::Lock(_) => 2,
            OrderedMapError::KeyTooLarge { .. } => 3,
            OrderedMapError::ValueTooLarge { .. } => 4,
            OrderedMapError::Incr(_) => 5,
            OrderedMapError::InvalidOptions(_) => 6,
            OrderedMapError::Corrupt { .. } => 7,
        }
    }

    #[test]
    fn ordered_map_errors() {
        let mut cases = vec![
            (
                OrderedMapError::KeyTooLarge { len: 2, max: 1 },
                ErrorKind::InvalidArgument,
            ),
            (
                OrderedMapError::ValueTooLarge { len: 2, max: 1 },
                ErrorKind::InvalidArgument,
            ),
            (
                OrderedMapError::Incr(AddError::NotANumber { tag: Some(3) }),
                ErrorKind::WrongType,
            ),
            (
                OrderedMapError::Incr(AddError::FloatOverflow),
                ErrorKind::InvalidArgument,
            ),
            (
                OrderedMapError::InvalidOptions("x".into()),
                ErrorKind::InvalidArgument,
            ),
            (OrderedMapError::corrupt(8, "x"), ErrorKind::Corrupt),
            (oob().into(), ErrorKind::Corrupt),
            (
                LockError::Timeout(Duration::from_millis(1)).into(),
                ErrorKind::Busy,
            ),
        ];
        cases.extend(directory_cases().into_iter().map(|(e, k)| (e.into(), k)));
        cases.extend(alloc_cases().into_iter().map(|(e, k)| (e.into(), k)));
        check(cases, OrderedMapError::kind, ordered_map_variant, 8);
    }

    fn array_variant(e: &ArrayError) -> usize {
        match e {
            ArrayError::Directory(_) => 0,
            ArrayError::Alloc(_) => 1,
            ArrayError::Dtype(_) => 2,
            ArrayError::BadShape { .. } => 3,
            ArrayError::TypeMismatch { .. } => 4,
            ArrayError::ShapeMismatch { .. } => 5,
            ArrayError::NeedsType(_) => 6,
            ArrayError::IndexOutOfRange { .. } => 7,
            ArrayError::BufferLength { .. } => 8,
            ArrayError::Corrupt { .. } => 9,
        }
    }

    #[test]
    fn array_errors() {
        let dtype = crate::collections::array::dtype::ElementType::parse("O").unwrap_err();
        let mut cases = vec![
            (dtype.into(), ErrorKind::InvalidArgument),
            (
                ArrayError::BadShape {
                    shape: vec![],
                    reason: "x".into(),
                },
                ErrorKind::InvalidArgument,
            ),
            (
                ArrayError::TypeMismatch {
                    name: "a".into(),
                    found: "<d".into(),
                    asked: "<f".into(),
                },
                ErrorKind::WrongType,
            ),
            (
                ArrayError::ShapeMismatch {
                    name: "a".into(),
                    found: vec![1],
                    asked: vec![2],
                },
                ErrorKind::InvalidArgument,
            ),
            (
                ArrayError::NeedsType("a".into()),
                ErrorKind::InvalidArgument,
            ),
            (
                ArrayError::IndexOutOfRange { index: 4, len: 4 },
                ErrorKind::InvalidArgument,
            ),
            (
                ArrayError::BufferLength {
                    given: 1,
                    needed: 8,
                },
                ErrorKind::InvalidArgument,
            ),
            (ArrayError::corrupt(8, "x"), ErrorKind::Corrupt),
        ];
        cases.extend(directory_cases().into_iter().map(|(e, k)| (e.into(), k)));
        cases.extend(alloc_cases().into_iter().map(|(e, k)| (e.into(), k)));
        check(cases, ArrayError::kind, array_variant, 10);
    }

    fn lock_variant(e: &LockError) -> usize {
        match e {
            LockError::Timeout(_) => 0,
            LockError::NotAttached => 1,
        }
    }

    fn decode_variant(e: &DecodeError) -> usize {
        match e {
            DecodeError::Empty => 0,
            DecodeError::UnknownTag(_) => 1,
            DecodeError::BadLength { .. } => 2,
            DecodeError::BadUtf8 => 3,
        }
    }

    #[test]
    fn name_errors_are_invalid_names() {
        check(
            vec![
                (NameError::Empty, ErrorKind::InvalidName),
                (NameError::TooLong(201), ErrorKind::InvalidName),
                (NameError::BadCharacter(' '), ErrorKind::InvalidName),
                (NameError::LeadingDot, ErrorKind::InvalidName),
                (NameError::BadPath("/x/".into()), ErrorKind::InvalidName),
            ],
            NameError::kind,
            name_variant,
            5,
        );
    }

    #[test]
    fn open_errors() {
        check(open_cases(), OpenError::kind, open_variant, 14);
    }

    #[test]
    fn create_errors() {
        let mut cases = vec![
            (NameError::Empty.into(), ErrorKind::InvalidName),
            (
                CreateError::AlreadyExists { path: path() },
                ErrorKind::StoreExists,
            ),
            (
                CreateError::PermissionDenied { path: path() },
                ErrorKind::PermissionDenied,
            ),
            (
                CreateError::InvalidOptions("x".into()),
                ErrorKind::InvalidArgument,
            ),
            (
                CreateError::StoreFull {
                    needed: 2,
                    available: 1,
                },
                ErrorKind::StoreFull,
            ),
            (
                CreateError::Io {
                    path: path(),
                    source: io_error(),
                },
                ErrorKind::Io,
            ),
        ];
        // A failure to open the new store keeps the open error's kind, for every one of them.
        cases.extend(open_cases().into_iter().map(|(e, k)| (e.into(), k)));
        check(cases, CreateError::kind, create_variant, 7);
    }

    #[test]
    fn alloc_errors() {
        check(alloc_cases(), AllocError::kind, alloc_variant, 7);
    }

    #[test]
    fn free_errors() {
        check(
            vec![
                (FreeError::NotABlock(8), ErrorKind::Corrupt),
                (FreeError::DoubleFree(8), ErrorKind::Corrupt),
                (FreeError::NotAttached, ErrorKind::RegistryFull),
                (FreeError::Busy(8), ErrorKind::Busy),
            ],
            FreeError::kind,
            free_variant,
            4,
        );
    }

    #[test]
    fn directory_errors() {
        check(
            directory_cases(),
            DirectoryError::kind,
            directory_variant,
            6,
        );
    }

    #[test]
    fn verify_errors() {
        check(
            vec![
                (oob().into(), ErrorKind::Corrupt),
                (
                    LockError::Timeout(Duration::from_millis(1)).into(),
                    ErrorKind::Busy,
                ),
                (LockError::NotAttached.into(), ErrorKind::RegistryFull),
            ],
            VerifyError::kind,
            verify_variant,
            2,
        );
    }

    #[test]
    fn map_errors() {
        let mut cases = vec![
            (
                LockError::Timeout(Duration::from_millis(1)).into(),
                ErrorKind::Busy,
            ),
            (LockError::NotAttached.into(), ErrorKind::RegistryFull),
            (
                MapError::KeyTooLarge { len: 2, max: 1 },
                ErrorKind::InvalidArgument,
            ),
            (
                MapError::ValueTooLarge { len: 2, max: 1 },
                ErrorKind::InvalidArgument,
            ),
            (MapError::NotAnInteger { len: 9 }, ErrorKind::WrongType),
            (
                MapError::WrongKeySize {
                    len: 2,
                    expected: 1,
                },
                ErrorKind::InvalidArgument,
            ),
            (
                MapError::WrongValueSize {
                    len: 2,
                    expected: 1,
                },
                ErrorKind::InvalidArgument,
            ),
            (
                MapError::TooManyHandles { shard: 0, max: 1 },
                ErrorKind::Full,
            ),
            (
                MapError::InvalidOptions("x".into()),
                ErrorKind::InvalidArgument,
            ),
            (MapError::corrupt(8, "x"), ErrorKind::Corrupt),
            (oob().into(), ErrorKind::Corrupt),
        ];
        cases.extend(directory_cases().into_iter().map(|(e, k)| (e.into(), k)));
        cases.extend(alloc_cases().into_iter().map(|(e, k)| (e.into(), k)));
        check(cases, MapError::kind, map_variant, 11);
    }

    #[test]
    fn lock_errors() {
        check(
            vec![
                (LockError::Timeout(Duration::from_secs(1)), ErrorKind::Busy),
                (LockError::NotAttached, ErrorKind::RegistryFull),
            ],
            LockError::kind,
            lock_variant,
            2,
        );
    }

    #[test]
    fn out_of_bounds_is_corrupt() {
        assert_eq!(oob().kind(), ErrorKind::Corrupt);
    }

    #[test]
    fn decode_errors_are_invalid_values() {
        check(
            vec![
                (DecodeError::Empty, ErrorKind::InvalidValue),
                (DecodeError::UnknownTag(0xff), ErrorKind::InvalidValue),
                (
                    DecodeError::BadLength { tag: 3, len: 2 },
                    ErrorKind::InvalidValue,
                ),
                (DecodeError::BadUtf8, ErrorKind::InvalidValue),
            ],
            DecodeError::kind,
            decode_variant,
            4,
        );
    }

    #[test]
    fn ordered_key_errors() {
        use OrderedKeyError as E;
        let variant = |e: &E| match e {
            E::TooDeep => 0,
            E::IntTooLarge { .. } => 1,
            E::Truncated { .. } => 2,
            E::TrailingBytes { .. } => 3,
            E::UnknownType { .. } => 4,
            E::Invalid { .. } => 5,
            E::BadUtf8 { .. } => 6,
        };
        check(
            vec![
                (E::TooDeep, ErrorKind::InvalidArgument),
                (E::IntTooLarge { bits: 9 }, ErrorKind::InvalidArgument),
                (E::Truncated { offset: 0 }, ErrorKind::InvalidValue),
                (E::TrailingBytes { offset: 1 }, ErrorKind::InvalidValue),
                (
                    E::UnknownType { offset: 0, byte: 0 },
                    ErrorKind::InvalidValue,
                ),
                (
                    E::Invalid {
                        offset: 0,
                        reason: "x",
                    },
                    ErrorKind::InvalidValue,
                ),
                (E::BadUtf8 { offset: 1 }, ErrorKind::InvalidValue),
            ],
            E::kind,
            variant,
            7,
        );
    }

    fn codec_variant(e: &CodecError) -> usize {
        match e {
            CodecError::Malformed(_) => 0,
            CodecError::WrongType { .. } => 1,
            CodecError::OutOfRange { .. } => 2,
            CodecError::Invalid { .. } => 3,
            CodecError::Unencodable { .. } => 4,
        }
    }

    fn codec_cases() -> Vec<(CodecError, ErrorKind)> {
        vec![
            (DecodeError::Empty.into(), ErrorKind::InvalidValue),
            (
                CodecError::WrongType {
                    expected: "i64",
                    found: "str",
                },
                ErrorKind::WrongType,
            ),
            (
                CodecError::OutOfRange { expected: "u8" },
                ErrorKind::WrongType,
            ),
            (
                CodecError::Invalid {
                    expected: "tuple",
                    reason: "x".into(),
                },
                ErrorKind::InvalidValue,
            ),
            (
                CodecError::Unencodable {
                    type_name: "T",
                    reason: "x".into(),
                },
                ErrorKind::InvalidArgument,
            ),
        ]
    }

    #[test]
    fn codec_errors() {
        check(codec_cases(), CodecError::kind, codec_variant, 5);
    }

    #[test]
    fn typed_map_errors() {
        let variant = |e: &TypedMapError| match e {
            TypedMapError::Map(_) => 0,
            TypedMapError::Key(_) => 1,
            TypedMapError::Value(_) => 2,
            TypedMapError::Incr(_) => 3,
        };
        let mut cases = vec![
            (
                MapError::NotAnInteger { len: 9 }.into(),
                ErrorKind::WrongType,
            ),
            (
                TypedMapError::Incr(AddError::NotANumber { tag: Some(6) }),
                ErrorKind::WrongType,
            ),
            (
                TypedMapError::Incr(AddError::FloatOverflow),
                ErrorKind::InvalidArgument,
            ),
        ];
        for (e, k) in codec_cases() {
            cases.push((TypedMapError::Key(e.clone()), k));
            cases.push((TypedMapError::Value(e), k));
        }
        check(cases, TypedMapError::kind, variant, 4);
    }

    #[test]
    fn the_umbrella_has_the_kind_of_what_it_wraps() {
        let mut cases: Vec<(Error, ErrorKind)> = vec![
            (NameError::Empty.into(), ErrorKind::InvalidName),
            (oob().into(), ErrorKind::Corrupt),
            (FreeError::Busy(8).into(), ErrorKind::Busy),
            (
                VerifyError::from(LockError::NotAttached).into(),
                ErrorKind::RegistryFull,
            ),
            (
                LockError::Timeout(Duration::from_millis(1)).into(),
                ErrorKind::Busy,
            ),
            (
                CreateError::AlreadyExists { path: path() }.into(),
                ErrorKind::StoreExists,
            ),
            (
                MapError::NotAnInteger { len: 9 }.into(),
                ErrorKind::WrongType,
            ),
            (io_error().into(), ErrorKind::Io),
            (
                VectorError::IndexOutOfRange { index: 1, len: 1 }.into(),
                ErrorKind::InvalidArgument,
            ),
            (
                ArrayError::NeedsType("a".into()).into(),
                ErrorKind::InvalidArgument,
            ),
            (
                TypedMapError::Incr(AddError::FloatOverflow).into(),
                ErrorKind::InvalidArgument,
            ),
            (DequeError::Full { maxlen: 1 }.into(), ErrorKind::Full),
            (
                PriorityQueueError::Full { maxlen: 1 }.into(),
                ErrorKind::Full,
            ),
            (
                OrderedMapError::Incr(AddError::NotANumber { tag: None }).into(),
                ErrorKind::WrongType,
            ),
        ];
        cases.extend(open_cases().into_iter().map(|(e, k)| (e.into(), k)));
        cases.extend(alloc_cases().into_iter().map(|(e, k)| (e.into(), k)));
        cases.extend(directory_cases().into_iter().map(|(e, k)| (e.into(), k)));
        let variant = |e: &Error| match e {
            Error::Open(_) => 0,
            Error::Create(_) => 1,
            Error::Alloc(_) => 2,
            Error::Free(_) => 3,
            Error::Directory(_) => 4,
            Error::Verify(_) => 5,
            Error::Map(_) => 6,
            Error::Lock(_) => 7,
            Error::Name(_) => 8,
            Error::OutOfBounds(_) => 9,
            Error::Io(_) => 10,
            Error::Vector(_) => 11,
            Error::Array(_) => 12,
            Error::TypedMap(_) => 13,
            Error::Deque(_) => 14,
            Error::PriorityQueue(_) => 15,
            Error::OrderedMap(_) => 16,
        };
        check(cases, Error::kind, variant, 17);
    }

    #[test]
    fn kind_names_are_unique_snake_case() {
        // Exhaustive: a new kind does not compile until it is added to `ErrorKind::ALL`.
        let _ = |k: ErrorKind| match k {
            ErrorKind::StoreNotFound
            | ErrorKind::ObjectNotFound
            | ErrorKind::StoreExists
            | ErrorKind::PermissionDenied
            | ErrorKind::InvalidName
            | ErrorKind::InvalidArgument
            | ErrorKind::WrongType
            | ErrorKind::WrongKind
            | ErrorKind::InvalidValue
            | ErrorKind::NotAStore
            | ErrorKind::UnsupportedVersion
            | ErrorKind::Corrupt
            | ErrorKind::StoreFull
            | ErrorKind::RegistryFull
            | ErrorKind::Busy
            | ErrorKind::Full
            | ErrorKind::Io => (),
        };
        let names: HashSet<&str> = ErrorKind::ALL.iter().map(ErrorKind::name).collect();
        assert_eq!(names.len(), ErrorKind::ALL.len());
        for name in names {
            assert!(
                !name.is_empty()
                    && name.chars().all(|c| c.is_ascii_lowercase() || c == '_')
                    && !name.starts_with('_')
                    && !name.ends_with('_'),
                "{name}"
            );
        }
        let texts: HashSet<String> = ErrorKind::ALL.iter().map(ErrorKind::to_string).collect();
        assert_eq!(texts.len(), ErrorKind::ALL.len());
    }
}
