//! `shmkit rm` and `gc --remove-unused` remove stores through the core's one removal
//! protocol ([`shmkit::store::remove`]); this module only words its errors for the command
//! line.
//!
//! ```text
//! match remove_store(&file, false)? { Removed::Yes => .., Removed::InUse => .. }
//! ```

use crate::discover::StoreFile;
use crate::error::{CliError, exit_code_for};
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
    remove(&file.path, when).map_err(|e| {
        let code = exit_code_for(e.kind());
        match e {
            OpenError::NotFound { path } => CliError::new(
                code,
                format!(
                    "no store named {} ({} does not exist)",
                    file.display,
                    path.display()
                ),
            ),
            OpenError::PermissionDenied { path } => CliError::new(
                code,
                format!("permission denied removing {}", path.display()),
            ),
            OpenError::NotAStore { path } | OpenError::Empty { path } => CliError::new(
                code,
                format!("{} is not a shmkit store; not removed", path.display()),
            ),
            e => CliError::new(code, e.to_string()),
        }
    })
}
