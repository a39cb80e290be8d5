//! Removing a store file safely: never a file that is not a store, never a store in use
//! (unless forced), and never a *different* file that took the name meanwhile.
//!
//! Protocol: open the file read-write, take the exclusive lock on the "attached" byte (every
//! attached process holds it shared, and attaching waits while someone holds it
//! exclusively), check the name still refers to the same inode, unlink, release. A process
//! that opened the file just before and is waiting to attach may still attach to the
//! unlinked file afterwards; it then works on a store nobody else can find (the same as
//! attaching just before the removal).
//!
//! ```text
//! match remove_store(&file, false)? { Removed::Yes => .., Removed::InUse => .. }
//! ```

use crate::discover::StoreFile;
use crate::error::{CliError, exit};
use crate::probe::probe;
use shmkit::store::registry::ATTACH_LOCK_BYTE;
use shmkit::sys::{self, ByteLock, OpenMode};
use std::io::ErrorKind;
use std::os::unix::fs::MetadataExt;

/// Outcome of [`remove_store`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Removed {
    /// The name is gone.
    Yes,
    /// Another process is attached; nothing was done.
    InUse,
}

fn io_error(file: &StoreFile, e: std::io::Error) -> CliError {
    match e.kind() {
        ErrorKind::NotFound => CliError::new(
            exit::NOT_FOUND,
            format!(
                "no store named {} ({} does not exist)",
                file.display,
                file.path.display()
            ),
        ),
        ErrorKind::PermissionDenied => CliError::new(
            exit::PERMISSION,
            format!("permission denied removing {}", file.path.display()),
        ),
        _ => CliError::failure(format!("{}: {e}", file.path.display())),
    }
}

/// Removes the store `file` (see the module docs). With `force`, removes it even if
/// processes are attached.
pub fn remove_store(file: &StoreFile, force: bool) -> Result<Removed, CliError> {
    let p = probe(&file.path);
    if let Some(e) = p.open_error {
        return Err(io_error(file, e));
    }
    if !p.is_file || !p.has_magic {
        return Err(CliError::new(
            exit::BAD_STORE,
            format!("{} is not a shmkit store; not removed", file.path.display()),
        ));
    }
    if force {
        std::fs::remove_file(&file.path).map_err(|e| io_error(file, e))?;
        return Ok(Removed::Yes);
    }
    let fd = match sys::open_file(&file.path, OpenMode::Existing, 0) {
        Ok(fd) => fd,
        // Read-only access: fall back to asking whether anyone holds the attached byte.
        Err(e) if e.kind() == ErrorKind::PermissionDenied => {
            if p.in_use {
                return Ok(Removed::InUse);
            }
            std::fs::remove_file(&file.path).map_err(|e| io_error(file, e))?;
            return Ok(Removed::Yes);
        }
        Err(e) => return Err(io_error(file, e)),
    };
    if !sys::try_lock_byte(&fd, ATTACH_LOCK_BYTE, ByteLock::Exclusive)
        .map_err(|e| io_error(file, e))?
    {
        return Ok(Removed::InUse);
    }
    let st = sys::fstat(&fd).map_err(|e| io_error(file, e))?;
    let now = std::fs::symlink_metadata(&file.path).map_err(|e| io_error(file, e))?;
    if now.ino() != st.ino || now.dev() != st.dev {
        return Err(CliError::failure(format!(
            "{} was replaced while being removed; left alone",
            file.path.display()
        )));
    }
    std::fs::remove_file(&file.path).map_err(|e| io_error(file, e))?;
    drop(fd); // releases the lock
    Ok(Removed::Yes)
}
