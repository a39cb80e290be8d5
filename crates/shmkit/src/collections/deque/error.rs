//! Errors of [`super::Deque`] operations.
//!
//! ```
//! use shmkit::{DequeError, DequeOptions, ErrorKind, Overflow, Store, StoreOptions};
//! let name = format!("doc-deque-error-{}", std::process::id()); // unique to this process
//! let store = Store::create(&name, &StoreOptions::default()).unwrap();
//! let options = DequeOptions { maxlen: Some(1), ..DequeOptions::default() };
//! let d = store.deque_with("jobs", &options).unwrap();
//! d.push_back(b"a").unwrap();
//! let e = d.push_back(b"b").unwrap_err();
//! assert!(matches!(e, DequeError::Full { maxlen: 1 }));
//! assert_eq!(e.kind(), ErrorKind::Full);
//! Store::remove(&name).unwrap();
//! ```

use crate::raw::OutOfBounds;
use crate::store::error::{AllocError, DirectoryError};

/// Why a deque operation failed. A failed operation changed nothing, except a batch push
/// that failed part way ([`DequeError::PushedPartly`] says how many items went in).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DequeError {
    /// Finding or creating the deque in the store's directory failed.
    #[error(transparent)]
    Directory(#[from] DirectoryError),
    /// The store could not provide memory for a larger ring.
    #[error(transparent)]
    Alloc(#[from] AllocError),
    /// The deque's lock could not be taken (this process has no registry slot, or a
    /// maintenance wait ran out).
    #[error(transparent)]
    Lock(#[from] crate::sync::LockError),
    /// An item longer than [`super::MAX_ITEM_LEN`].
    #[error("item of {len} bytes is longer than the maximum of {max}")]
    ItemTooLarge {
        /// The item's length.
        len: u64,
        /// The limit.
        max: u64,
    },
    /// A push on a deque holding `maxlen` items, created to refuse (not overwrite), after
    /// waiting as long as the caller allowed.
    #[error("deque is full ({maxlen} items)")]
    Full {
        /// The deque's limit.
        maxlen: u64,
    },
    /// A batch push failed after `pushed` of its items went in (they stay): `source` says
    /// why the next one did not.
    #[error("pushed {pushed} items, then: {source}")]
    PushedPartly {
        /// Items of the batch that are in the deque.
        pushed: usize,
        /// Why the next item was not pushed.
        source: Box<DequeError>,
    },
    /// Options that cannot be used (a `maxlen` of 0).
    #[error("invalid deque options: {0}")]
    InvalidOptions(String),
    /// The deque's shared state is damaged.
    #[error("deque corrupt at offset {offset}: {reason}")]
    Corrupt {
        /// Where.
        offset: u64,
        /// What.
        reason: String,
    },
}

impl From<OutOfBounds> for DequeError {
    fn from(e: OutOfBounds) -> DequeError {
        DequeError::Corrupt {
            offset: e.offset,
            reason: e.to_string(),
        }
    }
}

impl DequeError {
    pub(crate) fn corrupt(offset: u64, reason: impl Into<String>) -> DequeError {
        DequeError::Corrupt {
            offset,
            reason: reason.into(),
        }
    }
}
