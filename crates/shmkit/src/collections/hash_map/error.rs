//! Errors of [`super::HashMap`] operations.
//!
//! ```
//! use shmkit::{MapError, Store, StoreOptions};
//! let name = format!("doc-map-error-{}", std::process::id()); // unique to this process
//! let store = Store::create(&name, &StoreOptions::default()).unwrap();
//! let map = store.hash_map("m").unwrap();
//! map.set(b"k", b"not eight").unwrap();
//! assert!(matches!(map.incr_i64(b"k", 1), Err(MapError::NotAnInteger { len: 9 })));
//! Store::remove(&name).unwrap();
//! ```

use crate::raw::OutOfBounds;
use crate::store::error::{AllocError, DirectoryError};

/// Why a hash map operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MapError {
    /// Finding or creating the map in the store's directory failed (for example
    /// `DirectoryError::NotFound` from [`crate::Store::open_hash_map`]).
    #[error(transparent)]
    Directory(#[from] DirectoryError),
    /// The store could not provide memory (`StoreFull`, `ReservationExceeded`, ...); the map
    /// is unchanged and stays usable.
    #[error(transparent)]
    Alloc(#[from] AllocError),
    /// A shard lock could not be taken (this process has no registry slot).
    #[error(transparent)]
    Lock(#[from] crate::sync::LockError),
    /// The key is longer than [`super::MAX_KEY_LEN`].
    #[error("key of {len} bytes is longer than the maximum of {max}")]
    KeyTooLarge {
        /// Length of the key.
        len: u64,
        /// The limit.
        max: u64,
    },
    /// The value is longer than a single store block can hold.
    #[error("value of {len} bytes is longer than the maximum of {max}")]
    ValueTooLarge {
        /// Length of the value.
        len: u64,
        /// The limit for this key.
        max: u64,
    },
    /// A key of another length than a fixed-size map's keys.
    #[error("key of {len} bytes in a map whose keys are {expected} bytes")]
    WrongKeySize {
        /// Length of the key.
        len: u64,
        /// The map's key length.
        expected: u64,
    },
    /// A value of another length than a fixed-size map's values (also `incr_*` on a map
    /// whose values are not 8 bytes).
    #[error("value of {len} bytes in a map whose values are {expected} bytes")]
    WrongValueSize {
        /// Length of the value.
        len: u64,
        /// The map's value length.
        expected: u64,
    },
    /// `incr_*` on a value that is not 8 bytes long.
    #[error("value of {len} bytes is not an 8-byte number")]
    NotAnInteger {
        /// Length of the stored value.
        len: u64,
    },
    /// A shard has handed out as many key handles as a handle can address (2^32 across
    /// the map's shards); remove keys with handles to free some.
    #[error("shard {shard} has {max} keys with handles, the most a handle can address")]
    TooManyHandles {
        /// The shard.
        shard: u64,
        /// Its limit.
        max: u64,
    },
    /// The options are not valid (for example a shard count that is not a power of two).
    #[error("invalid hash map options: {0}")]
    InvalidOptions(String),
    /// The map's shared state is damaged.
    #[error("hash map corrupt at offset {offset}: {reason}")]
    Corrupt {
        /// Where.
        offset: u64,
        /// What.
        reason: String,
    },
}

impl From<OutOfBounds> for MapError {
    fn from(e: OutOfBounds) -> MapError {
        MapError::Corrupt {
            offset: e.offset,
            reason: e.to_string(),
        }
    }
}

impl MapError {
    pub(crate) fn corrupt(offset: u64, reason: impl Into<String>) -> MapError {
        MapError::Corrupt {
            offset,
            reason: reason.into(),
        }
    }
}

/// The compact error of the lookup hot path: a damaged (or, in an optimistic read, a
/// concurrently reused) offset. Small and `Copy`, so the common path moves no `String`s;
/// it becomes [`MapError::Corrupt`] at the API boundary.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Fault {
    pub(crate) offset: u64,
    pub(crate) reason: &'static str,
}

impl std::fmt::Display for Fault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (at offset {})", self.reason, self.offset)
    }
}

impl From<OutOfBounds> for Fault {
    #[cold]
    fn from(e: OutOfBounds) -> Fault {
        Fault {
            offset: e.offset,
            reason: "offset outside the store or misaligned",
        }
    }
}

impl From<Fault> for MapError {
    #[cold]
    fn from(f: Fault) -> MapError {
        MapError::Corrupt {
            offset: f.offset,
            reason: f.reason.to_string(),
        }
    }
}
