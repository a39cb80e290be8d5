//! `shmkit rm` and `gc --remove-unused` remove stores through the core's one removal
//! protocol ([`shmkit::store::remove`]); this module only words its errors for the command
//! line.
//!
//! ```text
//! match remove_store(&file, false)? { Removed::Yes => .., Removed::InUse => .. }
//! ```

use crate::discover::StoreFile;
use crate::error::{CliError, exit};
use shmkit::OpenError;
pub use shmkit::store::remove::Removed;
use shmkit::store::remove::{RemoveWhen, remove};

/// Removes the store `file`: only if no other process is attached, or with `force` even
/// then. Never a file that is not a store.
pub fn remove_store(file: &StoreFile, force: bool) -> Result<Removed, CliError> {
    let when = if force {
        RemoveWhen::EvenIfInUse
    } else {
        RemoveWhen::Unused
    };
    remove(&file.path, when).map_err(|e| match e {
        OpenError::NotFound { path } => CliError::new(
            exit::NOT_FOUND,
            format!(
                "no store named {} ({} does not exist)",
                file.display,
                path.display()
            ),
        ),
        OpenError::PermissionDenied { path } => CliError::new(
            exit::PERMISSION,
            format!("permission denied removing {}", path.display()),
        ),
        OpenError::NotAStore { path } | OpenError::Empty { path } => CliError::new(
            exit::BAD_STORE,
            format!("{} is not a shmkit store; not removed", path.display()),
        ),
        e => CliError::failure(e.to_string()),
    })
}
