//! Errors of [`super::PriorityQueue`] operations.
//!
//! ```
//! use shmkit::{ErrorKind, PriorityQueueError, PriorityQueueOptions, Store, StoreOptions};
//! let name = format!("doc-pq-error-{}", std::process::id()); // unique to this process
//! let store = Store::create(&name, &StoreOptions::default()).unwrap();
//! let options = PriorityQueueOptions { maxlen: Some(1), ..PriorityQueueOptions::default() };
//! let q = store.priority_queue_with("jobs", &options).unwrap();
//! q.push(b"1", b"a").unwrap();
//! let e = q.push(b"2", b"b").unwrap_err();
//! assert!(matches!(e, PriorityQueueError::Full { maxlen: 1 }));
//! assert_eq!(e.kind(), ErrorKind::Full);
//! let too_long = vec![0u8; shmkit::collections::priority_queue::MAX_KEY_LEN as usize + 1];
//! assert_eq!(q.push(&too_long, b"").unwrap_err().kind(), ErrorKind::InvalidArgument);
//! Store::remove(&name).unwrap();
//! ```

use crate::raw::OutOfBounds;
use crate::store::error::{AllocError, DirectoryError};

/// Why a priority queue operation failed. A failed operation changed nothing, except a batch
/// push that failed part way ([`PriorityQueueError::PushedPartly`] says how many items went
/// in).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PriorityQueueError {
    /// Finding or creating the queue in the store's directory failed.
    #[error(transparent)]
    Directory(#[from] DirectoryError),
    /// The store could not provide memory for a record or a larger array.
    #[error(transparent)]
    Alloc(#[from] AllocError),
    /// The queue's lock could not be taken (this process has no registry slot, or a
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
    /// A push on a queue holding `maxlen` items, after waiting as long as the caller
    /// allowed.
    #[error("priority queue is full ({maxlen} items)")]
    Full {
        /// The queue's limit.
        maxlen: u64,
    },
    /// A batch push failed after `pushed` of its items went in (they stay, and are the
    /// batch's first): `source` says why the next one did not.
    #[error("pushed {pushed} items, then: {source}")]
    PushedPartly {
        /// Items of the batch that are in the queue.
        pushed: usize,
        /// Why the next item was not pushed.
        source: Box<PriorityQueueError>,
    },
    /// Options that cannot be used (a `maxlen` of 0, an initial capacity past the maximum).
    #[error("invalid priority queue options: {0}")]
    InvalidOptions(String),
    /// The queue's shared state is damaged.
    #[error("priority queue corrupt at offset {offset}: {reason}")]
    Corrupt {
        /// Where.
        offset: u64,
        /// What.
        reason: String,
    },
}

impl From<OutOfBounds> for PriorityQueueError {
    fn from(e: OutOfBounds) -> PriorityQueueError {
        PriorityQueueError::Corrupt {
            offset: e.offset,
            reason: e.to_string(),
        }
    }
}

impl PriorityQueueError {
    pub(crate) fn corrupt(offset: u64, reason: impl Into<String>) -> PriorityQueueError {
        PriorityQueueError::Corrupt {
            offset,
            reason: reason.into(),
        }
    }
}
