//! Store names and where their files live.
//!
//! A plain name (`[A-Za-z0-9._-]`, 1..=200 bytes, not `.` or `..`, not starting with `.`)
//! means `/dev/shm/shmkit.<name>` (the directory can be changed with `SHMKIT_DIR`). Anything
//! containing a `/` is a file path, for stores on disk that persist across reboots.
//!
//! ```
//! use shmkit::store::name::{resolve, NameError};
//! assert!(resolve("cache").unwrap().ends_with("shmkit.cache"));
//! assert_eq!(resolve("a b"), Err(NameError::BadCharacter(' ')));
//! assert!(resolve("/tmp/x.store").is_ok());
//! ```

use std::path::PathBuf;

/// Longest plain store name.
pub const MAX_NAME_LEN: usize = 200;
/// File name prefix of stores in the shared-memory directory.
pub const FILE_PREFIX: &str = "shmkit.";

/// A store name that cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NameError {
    /// Empty name.
    #[error("store name is empty")]
    Empty,
    /// Longer than [`MAX_NAME_LEN`].
    #[error("store name is {0} bytes long; the limit is {MAX_NAME_LEN}")]
    TooLong(usize),
    /// A character outside `[A-Za-z0-9._-]`.
    #[error("store name contains {0:?}; use letters, digits, '.', '_' and '-', or a path with '/'")]
    BadCharacter(char),
    /// `.`/`..` or a leading dot.
    #[error("store name may not start with '.'")]
    LeadingDot,
    /// A path with a NUL byte, or ending in `/`.
    #[error("store path {0:?} is not a file path")]
    BadPath(String),
}

/// The directory holding named stores: `$SHMKIT_DIR` or `/dev/shm`.
pub fn store_dir() -> PathBuf {
    std::env::var_os("SHMKIT_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/dev/shm"))
}

/// Checks a plain store name.
pub fn validate(name: &str) -> Result<(), NameError> {
    if name.is_empty() {
        return Err(NameError::Empty);
    }
    if name.len() > MAX_NAME_LEN {
        return Err(NameError::TooLong(name.len()));
    }
    if name.starts_with('.') {
        return Err(NameError::LeadingDot);
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        return Err(NameError::BadCharacter(c));
    }
    Ok(())
}

/// The file path for a store name or path.
pub fn resolve(name: &str) -> Result<PathBuf, NameError> {
    if name.contains('/') {
        if name.contains('\0') || name.ends_with('/') {
            return Err(NameError::BadPath(name.to_string()));
        }
        return Ok(PathBuf::from(name));
    }
    validate(name)?;
    Ok(store_dir().join(format!("{FILE_PREFIX}{name}")))
}
