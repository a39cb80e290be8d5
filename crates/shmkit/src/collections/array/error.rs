//! Errors of [`super::Array`] operations.
//!
//! ```
//! use shmkit::{ArrayError, ErrorKind, Store, StoreOptions};
//! let name = format!("doc-array-error-{}", std::process::id()); // unique to this process
//! let store = Store::create(&name, &StoreOptions::default()).unwrap();
//! let a = store.array("a", "<d", &[4]).unwrap();
//! let e = a.read(4, &mut [0; 8]).unwrap_err();
//! assert!(matches!(e, ArrayError::IndexOutOfRange { index: 4, len: 4 }));
//! assert_eq!(e.kind(), ErrorKind::InvalidArgument);
//! let e = store.array("a", "<f", &[4]).unwrap_err();
//! assert_eq!(e.kind(), ErrorKind::WrongType);
//! Store::remove(&name).unwrap();
//! ```

use super::dtype::DtypeError;
use crate::raw::OutOfBounds;
use crate::store::error::{AllocError, DirectoryError};

/// Why an array operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ArrayError {
    /// Finding or creating the array in the store's directory failed.
    #[error(transparent)]
    Directory(#[from] DirectoryError),
    /// The store could not provide memory for the elements; nothing was created.
    #[error(transparent)]
    Alloc(#[from] AllocError),
    /// The element type is not one an array can hold.
    #[error(transparent)]
    Dtype(#[from] DtypeError),
    /// A shape with too many dimensions, or elements too many to address.
    #[error("bad shape {shape:?}: {reason}")]
    BadShape {
        /// The shape.
        shape: Vec<u64>,
        /// Why.
        reason: String,
    },
    /// The array exists with another element type than the one asked for.
    #[error("array {name:?} holds elements of type {found:?}, not {asked:?}")]
    TypeMismatch {
        /// The array.
        name: String,
        /// Its element type (format string).
        found: String,
        /// What the caller asked for.
        asked: String,
    },
    /// The array exists with another shape than the one asked for.
    #[error("array {name:?} has shape {found:?}, not {asked:?}")]
    ShapeMismatch {
        /// The array.
        name: String,
        /// Its shape.
        found: Vec<u64>,
        /// What the caller asked for.
        asked: Vec<u64>,
    },
    /// Creating an array needs its element type and shape.
    #[error("array {0:?} does not exist; creating it needs an element type and a shape")]
    NeedsType(String),
    /// An element index at or past the number of elements (or a multi-index outside the
    /// shape: `index` is then the flat index it would have).
    #[error("index {index} out of range for an array of {len} elements")]
    IndexOutOfRange {
        /// The index.
        index: u64,
        /// Elements in the array.
        len: u64,
    },
    /// A buffer whose length is not what the operation needs.
    #[error("a buffer of {given} bytes where {needed} are needed")]
    BufferLength {
        /// Its length.
        given: usize,
        /// The length needed.
        needed: u64,
    },
    /// The array's shared state is damaged.
    #[error("array corrupt at offset {offset}: {reason}")]
    Corrupt {
        /// Where.
        offset: u64,
        /// What.
        reason: String,
    },
}

impl From<OutOfBounds> for ArrayError {
    fn from(e: OutOfBounds) -> ArrayError {
        ArrayError::Corrupt {
            offset: e.offset,
            reason: e.to_string(),
        }
    }
}

impl ArrayError {
    pub(crate) fn corrupt(offset: u64, reason: impl Into<String>) -> ArrayError {
        ArrayError::Corrupt {
            offset,
            reason: reason.into(),
        }
    }
}
