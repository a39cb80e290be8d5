//! Per-operation errors of the store layer. Each converts into [`crate::Error`].
//!
//! ```
//! use shmkit::{Store, OpenError};
//! match Store::open("no-such-store-for-doc") {
//!     Err(OpenError::NotFound { .. }) => {}
//!     other => panic!("{other:?}"),
//! }
//! ```

use super::name::NameError;
use crate::raw::OutOfBounds;
use crate::sync::LockError;
use std::io;
use std::path::PathBuf;

/// Why a store could not be opened.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// The name is not valid.
    #[error(transparent)]
    InvalidName(#[from] NameError),
    /// No store by that name.
    #[error("no store at {path}")]
    NotFound {
        /// Where it was looked for.
        path: PathBuf,
    },
    /// The file exists but may not be opened for reading and writing.
    #[error("permission denied opening {path}")]
    PermissionDenied {
        /// The file.
        path: PathBuf,
    },
    /// The store belongs to another user, who can read and change everything in it (and
    /// plant values readers decode), and the caller did not allow foreign owners
    /// (`StoreOptions::allow_foreign_owner`, `OpenOptions::allow_foreign_owner`).
    #[error(
        "{path} is owned by uid {owner}, not by this process (uid {me}): refusing a store another user controls (allow it with allow_foreign_owner)"
    )]
    ForeignOwner {
        /// The file.
        path: PathBuf,
        /// Its owner.
        owner: u32,
        /// This process's effective uid.
        me: u32,
    },
    /// The store's permissions grant more than the caller asked for (someone the caller did
    /// not choose may read or write it).
    #[error(
        "{path} has mode {mode:#o}, which grants more than the {allowed:#o} asked for: refusing (open with a mode that includes {mode:#o})"
    )]
    ModeTooWide {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
        /// The permission bits the caller accepts.
        allowed: u32,
    },
    /// The file is empty (for example created by another program, or never initialised).
    #[error("{path} is empty, not a shmkit store")]
    Empty {
        /// The file.
        path: PathBuf,
    },
    /// The file is shorter than its header says.
    #[error("{path} is truncated: {len} bytes, but the store needs {expected}")]
    Truncated {
        /// The file.
        path: PathBuf,
        /// Its length.
        len: u64,
        /// The length its header requires.
        expected: u64,
    },
    /// The file does not start with the shmkit magic bytes.
    #[error("{path} is not a shmkit store")]
    NotAStore {
        /// The file.
        path: PathBuf,
    },
    /// A store of a format version this build does not read.
    #[error("{path} has store format version {found}; this build reads version {supported}")]
    UnsupportedVersion {
        /// The file.
        path: PathBuf,
        /// Version in the file.
        found: u32,
        /// Version this build supports.
        supported: u32,
    },
    /// The header's checksum does not match its contents.
    #[error(
        "{path}: header checksum mismatch (stored {stored:#018x}, computed {computed:#018x}); the store is corrupt"
    )]
    HeaderChecksum {
        /// The file.
        path: PathBuf,
        /// Checksum in the file.
        stored: u64,
        /// Checksum of the header bytes.
        computed: u64,
    },
    /// A header field holds an impossible value.
    #[error("{path}: corrupt header: {reason}")]
    CorruptHeader {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// All registry slots are held by live processes.
    #[error("{path}: all {slots} process slots are in use")]
    RegistryFull {
        /// The file.
        path: PathBuf,
        /// Slot count.
        slots: u32,
    },
    /// Address space for the store could not be reserved.
    #[error("could not reserve {len} bytes of address space for {path}: {source}")]
    Map {
        /// The file.
        path: PathBuf,
        /// Bytes requested.
        len: u64,
        /// The system error.
        source: io::Error,
    },
    /// Another system error.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The system error.
        source: io::Error,
    },
}

/// Why a store could not be created.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CreateError {
    /// The name is not valid.
    #[error(transparent)]
    InvalidName(#[from] NameError),
    /// A store (or other file) already has that name.
    #[error("{path} already exists")]
    AlreadyExists {
        /// The file.
        path: PathBuf,
    },
    /// The directory may not be written.
    #[error("permission denied creating {path}")]
    PermissionDenied {
        /// The file.
        path: PathBuf,
    },
    /// The options are inconsistent.
    #[error("invalid store options: {0}")]
    InvalidOptions(String),
    /// Not enough space for the initial size.
    #[error("no space for a new store: {needed} bytes needed, {available} available")]
    StoreFull {
        /// Bytes needed.
        needed: u64,
        /// Bytes available on the file system.
        available: u64,
    },
    /// Opening the freshly created store failed.
    #[error(transparent)]
    Open(#[from] OpenError),
    /// Another system error.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The system error.
        source: io::Error,
    },
}

/// Why memory could not be allocated in a store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AllocError {
    /// The file system holding the store is full.
    #[error("store is full: growing it needs {needed} more bytes, {available} are available")]
    StoreFull {
        /// Additional bytes needed.
        needed: u64,
        /// Bytes available on the file system.
        available: u64,
    },
    /// The store would exceed the size reserved when it was created.
    #[error("store would grow to {needed} bytes, past its reserved maximum of {reserved}")]
    ReservationExceeded {
        /// Length needed.
        needed: u64,
        /// Reserved length.
        reserved: u64,
    },
    /// More than any block can hold.
    #[error("allocation of {size} bytes is larger than the largest block")]
    TooLarge {
        /// Bytes requested.
        size: u64,
    },
    /// Allocator state is damaged.
    #[error("allocator corrupt at offset {offset}: {reason}")]
    Corrupt {
        /// Where.
        offset: u64,
        /// What.
        reason: &'static str,
    },
    /// An offset outside the store.
    #[error(transparent)]
    OutOfBounds(#[from] OutOfBounds),
    /// A store lock could not be taken.
    #[error(transparent)]
    Lock(#[from] LockError),
    /// Another system error while growing.
    #[error("growing the store: {0}")]
    Io(#[from] io::Error),
}

/// Why a block could not be freed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FreeError {
    /// The offset is not the payload of an allocated block.
    #[error("offset {0} is not an allocated block")]
    NotABlock(u64),
    /// The block is already free.
    #[error("block at offset {0} is already free")]
    DoubleFree(u64),
    /// This process has no registry slot (see [`LockError::NotAttached`]).
    #[error("this process has no registry slot in the store (all process slots are in use)")]
    NotAttached,
    /// A live process held the size-class lock for longer than the caller would wait
    /// (maintenance frees with a time limit); the block was not freed.
    #[error("block at offset {0} not freed: its size class is locked by a live process")]
    Busy(u64),
}

/// Errors of the directory of named objects.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DirectoryError {
    /// The object name is empty, too long or not UTF-8 text.
    #[error("invalid object name {name:?}: {reason}")]
    InvalidName {
        /// The name.
        name: String,
        /// Why.
        reason: &'static str,
    },
    /// An object of that name exists with another kind.
    #[error("object {name:?} is a {found}, not a {expected}")]
    WrongKind {
        /// The name.
        name: String,
        /// Its kind.
        found: String,
        /// The kind asked for.
        expected: String,
    },
    /// No object of that name (when opening without creating).
    #[error("no object named {0:?} in this store")]
    NotFound(String),
    /// Memory for the object could not be allocated.
    #[error(transparent)]
    Alloc(#[from] AllocError),
    /// Directory state is damaged.
    #[error(transparent)]
    OutOfBounds(#[from] OutOfBounds),
    /// The directory lock could not be taken.
    #[error(transparent)]
    Lock(#[from] LockError),
}

/// Errors of a consistency check.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// Shared state could not be read.
    #[error(transparent)]
    OutOfBounds(#[from] OutOfBounds),
    /// A lock could not be taken.
    #[error(transparent)]
    Lock(#[from] LockError),
}
