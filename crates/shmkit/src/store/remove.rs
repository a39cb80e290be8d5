//! Removing a store's name safely, the one protocol behind [`Store::remove`],
//! [`Store::remove_if_unused`], Python's `shmkit.remove` and `shmkit rm`/`gc`.
//!
//! Invariants:
//! - only a regular file that starts with the store magic is ever unlinked (a damaged or
//!   truncated store can be removed; a file of another program cannot);
//! - the name is unlinked only while it still names the file that was checked (a file put
//!   in its place meanwhile is left alone);
//! - [`RemoveWhen::Unused`] unlinks only while holding the exclusive lock on the "attached"
//!   byte, which every attached process holds shared and which attaching waits on, so no
//!   other process is attached at that moment. The caller's own attachment does not count:
//!   its shared lock is converted to exclusive and back on the caller's own description. A
//!   process that opened the file just before and waits to attach may still attach to the
//!   unlinked file; it then works on a store no one else can find, as if it had attached
//!   just before the removal.
//! - Processes attached when a store is removed keep working on it; its memory is freed
//!   when the last one detaches.
//! - A forked child counts as attached once it has opened the store itself or taken a
//!   store lock (any write); one that only reads through handles inherited from its parent
//!   holds no "attached" lock of its own and is not seen.
//!
//! ```
//! use shmkit::store::remove::Removed;
//! use shmkit::{Store, StoreOptions};
//! let name = format!("doc-remove-{}", std::process::id()); // unique to this process
//! let store = Store::create(&name, &StoreOptions::default()).unwrap();
//! // Only this process is attached: that does not count as "in use".
//! assert_eq!(Store::remove_if_unused(&name).unwrap(), Removed::Yes);
//! drop(store);
//! ```
//!
//! [`Store::remove`]: super::Store::remove
//! [`Store::remove_if_unused`]: super::Store::remove_if_unused

use super::attach::{find_attached, io_err, starts_with_magic};
use super::error::OpenError;
use super::registry::ATTACH_LOCK_BYTE;
use crate::sys::{self, ByteLock, OpenMode};
use std::io::ErrorKind;
use std::os::fd::OwnedFd;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// When [`remove`] may unlink a store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RemoveWhen {
    /// Only if no other process is attached.
    Unused,
    /// Even if processes are attached (they keep working on the unlinked store).
    EvenIfInUse,
}

/// What [`remove`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Removed {
    /// The name is gone.
    Yes,
    /// Another process is attached; nothing was done.
    InUse,
}

/// Removes the store file at `path` (see the module docs).
///
/// Errors: [`OpenError::NotFound`], [`OpenError::PermissionDenied`],
/// [`OpenError::NotAStore`] or [`OpenError::Empty`] for a file that is not a store, and
/// [`OpenError::Io`] when another file took the name while it was being removed.
pub fn remove(path: &Path, when: RemoveWhen) -> Result<Removed, OpenError> {
    let fd = open_store_file(path)?;
    let st = sys::fstat(&fd).map_err(|e| io_err(path, e))?;
    let dev_ino = (st.dev, st.ino);
    if when == RemoveWhen::EvenIfInUse {
        unlink_if_same(path, dev_ino)?;
        return Ok(Removed::Yes);
    }
    // Attached ourselves: convert our shared lock to exclusive (granted only if no other
    // description holds the byte), and back once the name is gone.
    // Only through a description this process opened itself: a forked child still sharing
    // its parent's would see the parent's shared lock as its own and remove a store the
    // parent uses. Such a child goes the way of an unattached process below.
    let attachment = find_attached(dev_ino);
    let own_result = attachment.as_ref().and_then(|a| {
        a.with_own_fd(|own| {
            // A leak sweep of this process holds the byte exclusively through this same
            // description: converting it again and back would end the sweep's exclusivity.
            if a.gate.is_sweeping() {
                return Ok(Removed::InUse);
            }
            if !sys::try_lock_byte(own, ATTACH_LOCK_BYTE, ByteLock::Exclusive)
                .map_err(|e| io_err(path, e))?
            {
                return Ok(Removed::InUse);
            }
            let unlinked = unlink_if_same(path, dev_ino);
            // Back to shared (no conflict is possible: we hold the byte alone). If that
            // failed, attaching would wait on us for as long as we live: say so.
            let restored = sys::try_lock_byte(own, ATTACH_LOCK_BYTE, ByteLock::Shared);
            match (unlinked, restored) {
                (Err(e), _) => Err(e),
                (Ok(()), Ok(true)) => Ok(Removed::Yes),
                (Ok(()), Ok(false)) => Err(io_err(
                    path,
                    std::io::Error::other("could not take the attached lock back after removal"),
                )),
                (Ok(()), Err(e)) => Err(io_err(path, e)),
            }
        })
    });
    if let Some(result) = own_result {
        return result;
    }
    let writable = match sys::open_file(path, OpenMode::Existing, 0) {
        Ok(fd) => fd,
        // Read-only access (the directory may still allow unlinking): ask whether anyone
        // holds the byte. Without a write lock this cannot keep an attacher out meanwhile.
        Err(e) if e.kind() == ErrorKind::PermissionDenied => {
            let in_use = sys::byte_is_locked_by_other(&fd, ATTACH_LOCK_BYTE, ByteLock::Exclusive)
                .map_err(|e| io_err(path, e))?;
            if in_use {
                return Ok(Removed::InUse);
            }
            unlink_if_same(path, dev_ino)?;
            return Ok(Removed::Yes);
        }
        Err(e) => return Err(io_err(path, e)),
    };
    if !sys::try_lock_byte(&writable, ATTACH_LOCK_BYTE, ByteLock::Exclusive)
        .map_err(|e| io_err(path, e))?
    {
        return Ok(Removed::InUse);
    }
    // The lock is held until `writable` is closed, after the unlink.
    unlink_if_same(path, dev_ino)?;
    drop(writable);
    Ok(Removed::Yes)
}

/// Opens `path` read-only and checks that it is a regular file starting with the magic.
fn open_store_file(path: &Path) -> Result<OwnedFd, OpenError> {
    let fd = sys::open_file(path, OpenMode::ReadOnly, 0).map_err(|e| io_err(path, e))?;
    let st = sys::fstat(&fd).map_err(|e| io_err(path, e))?;
    let not_a_store = || OpenError::NotAStore {
        path: path.to_path_buf(),
    };
    if !st.is_file {
        return Err(not_a_store());
    }
    if st.len == 0 {
        return Err(OpenError::Empty {
            path: path.to_path_buf(),
        });
    }
    if !starts_with_magic(&fd, st.len) {
        return Err(not_a_store());
    }
    Ok(fd)
}

/// Unlinks `path` if it still names the file `dev_ino`.
pub(crate) fn unlink_if_same(path: &Path, dev_ino: (u64, u64)) -> Result<(), OpenError> {
    let now = std::fs::symlink_metadata(path).map_err(|e| io_err(path, e))?;
    if (now.dev(), now.ino()) != dev_ino {
        return Err(OpenError::Io {
            path: path.to_path_buf(),
            source: std::io::Error::other(
                "another file took the name while it was being removed; left alone",
            ),
        });
    }
    std::fs::remove_file(path).map_err(|e| io_err(path, e))
}
