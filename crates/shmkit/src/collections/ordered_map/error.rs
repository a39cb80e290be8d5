//! Errors of [`super::OrderedMap`] operations.
//!
//! ```
//! use shmkit::{ErrorKind, Store, StoreOptions};
//! let name = format!("doc-om-error-{}", std::process::id()); // unique to this process
//! let store = Store::create(&name, &StoreOptions::default()).unwrap();
//! let map = store.ordered_map("m").unwrap();
//! let too_long = vec![0u8; shmkit::collections::ordered_map::MAX_KEY_LEN as usize + 1];
//! assert_eq!(map.set(&too_long, b"").unwrap_err().kind(), ErrorKind::InvalidArgument);
//! map.set(b"k", b"not a number").unwrap();
//! let e = map.incr(b"k", shmkit::value::arith::Addend::Int(&[1])).unwrap_err();
//! assert_eq!(e.kind(), ErrorKind::WrongType);
//! Store::remove(&name).unwrap();
//! ```

use crate::raw::OutOfBounds;
use crate::store::error::{AllocError, DirectoryError};
use crate::value::arith::AddError;

/// Why an ordered map operation failed. A failed operation changed nothing.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OrderedMapError {
    /// Finding or creating the map in the store's directory failed.
    #[error(transparent)]
    Directory(#[from] DirectoryError),
    /// The store could not provide memory for a record or the nodes of a write.
    #[error(transparent)]
    Alloc(#[from] AllocError),
    /// The map's lock could not be taken (this process has no registry slot, or a
    /// maintenance wait ran out).
    #[error(transparent)]
    Lock(#[from] crate::sync::LockError),
    /// A key longer than [`super::MAX_KEY_LEN`].
    #[error("key of {len} bytes is longer than the maximum of {max}")]
    KeyTooLarge {
        /// The key's length.
        len: u64,
        /// The limit.
        max: u64,
    },
    /// A value longer than [`super::MAX_VALUE_LEN`].
    #[error("value of {len} bytes is longer than the maximum of {max}")]
    ValueTooLarge {
        /// The value's length.
        len: u64,
        /// The limit.
        max: u64,
    },
    /// `incr` on a value that is not a number, or a sum that cannot be formed.
    #[error(transparent)]
    Incr(#[from] AddError),
    /// Options that cannot be used.
    #[error("invalid ordered map options: {0}")]
    InvalidOptions(String),
    /// The map's shared state is damaged.
    #[error("ordered map corrupt at offset {offset}: {reason}")]
    Corrupt {
        /// Where.
        offset: u64,
        /// What.
        reason: String,
    },
}

impl From<OutOfBounds> for OrderedMapError {
    fn from(e: OutOfBounds) -> OrderedMapError {
        OrderedMapError::Corrupt {
            offset: e.offset,
            reason: e.to_string(),
        }
    }
}

impl OrderedMapError {
    pub(crate) fn corrupt(offset: u64, reason: impl Into<String>) -> OrderedMapError {
        OrderedMapError::Corrupt {
            offset,
            reason: reason.into(),
        }
    }
}
