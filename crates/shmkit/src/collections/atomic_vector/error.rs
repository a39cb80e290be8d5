//! Errors of [`super::AtomicVector`] operations.
//!
//! ```
//! use shmkit::{ErrorKind, Store, StoreOptions, VectorError};
//! let name = format!("doc-vector-error-{}", std::process::id()); // unique to this process
//! let store = Store::create(&name, &StoreOptions::default()).unwrap();
//! let v = store.atomic_vector("v", 4).unwrap();
//! let e = v.load(4).unwrap_err();
//! assert!(matches!(e, VectorError::IndexOutOfRange { index: 4, len: 4 }));
//! assert_eq!(e.kind(), ErrorKind::InvalidArgument);
//! Store::remove(&name).unwrap();
//! ```

use crate::raw::OutOfBounds;
use crate::store::error::{AllocError, DirectoryError};

/// Why an atomic vector operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VectorError {
    /// Finding or creating the vector in the store's directory failed.
    #[error(transparent)]
    Directory(#[from] DirectoryError),
    /// The store could not provide memory for a new segment; the vector is unchanged.
    #[error(transparent)]
    Alloc(#[from] AllocError),
    /// The expand lock could not be taken (this process has no registry slot, or a
    /// maintenance wait ran out).
    #[error(transparent)]
    Lock(#[from] crate::sync::LockError),
    /// An element index at or past the length.
    #[error("index {index} out of range for a vector of {len} elements")]
    IndexOutOfRange {
        /// The index.
        index: u64,
        /// The vector's length when it was checked.
        len: u64,
    },
    /// A bit index at or past `64 × len`.
    #[error("bit {bit} out of range for a vector of {bits} bits")]
    BitOutOfRange {
        /// The bit index.
        bit: u64,
        /// Bits in the vector when it was checked.
        bits: u64,
    },
    /// A length longer than [`super::MAX_LEN`].
    #[error("length {len} is longer than the maximum of {max} elements")]
    TooLong {
        /// The length asked for.
        len: u64,
        /// The limit.
        max: u64,
    },
    /// The vector's shared state is damaged.
    #[error("atomic vector corrupt at offset {offset}: {reason}")]
    Corrupt {
        /// Where.
        offset: u64,
        /// What.
        reason: String,
    },
}

impl From<OutOfBounds> for VectorError {
    fn from(e: OutOfBounds) -> VectorError {
        VectorError::Corrupt {
            offset: e.offset,
            reason: e.to_string(),
        }
    }
}

impl VectorError {
    pub(crate) fn corrupt(offset: u64, reason: impl Into<String>) -> VectorError {
        VectorError::Corrupt {
            offset,
            reason: reason.into(),
        }
    }
}
