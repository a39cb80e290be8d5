//! The umbrella error: every per-operation error converts into [`Error`] with `?`.
//!
//! ```
//! fn open() -> Result<(), shmkit::Error> {
//!     shmkit::Store::open("no-such-store-umbrella")?;
//!     Ok(())
//! }
//! assert!(matches!(open(), Err(shmkit::Error::Open(_))));
//! ```

use crate::collections::hash_map::MapError;
use crate::store::error::{
    AllocError, CreateError, DirectoryError, FreeError, OpenError, VerifyError,
};
use crate::store::name::NameError;
use crate::sync::LockError;

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
    /// See [`LockError`].
    #[error(transparent)]
    Lock(#[from] LockError),
    /// See [`NameError`].
    #[error(transparent)]
    Name(#[from] NameError),
    /// An offset outside the store (a corrupt store, or a stale offset).
    #[error(transparent)]
    OutOfBounds(#[from] crate::raw::OutOfBounds),
    /// A system error not covered above.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}
