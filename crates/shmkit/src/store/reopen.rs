//! A second open file description of an attached store file, for its OFD locks.
//!
//! A process takes its liveness and "attached" byte locks on a description that is never
//! memory-mapped (a mapping keeps the description it was made from alive in forked
//! children, and the locks with it). [`lock_descriptor`] opens one through
//! `/proc/self/fd`, which works even after the name was unlinked; where `/proc` is missing
//! it opens the path again, and accepts the result only if the path still names the same
//! file (device and inode): a store removed and created again under the name in between
//! must not receive this process's locks.
//!
//! ```ignore
//! // crate-internal: `fd` is the store file the mapping was made from
//! let st = sys::fstat(&fd)?;
//! let lock_fd = lock_descriptor(&fd, &path, (st.dev, st.ino))?;
//! ```

use crate::sys::{self, OpenMode};
use std::io;
use std::os::fd::OwnedFd;
use std::path::Path;

/// A new open file description of the file behind `fd`, whose path is `path` and whose
/// (device, inode) is `dev_ino`.
pub(crate) fn lock_descriptor(
    fd: &OwnedFd,
    path: &Path,
    dev_ino: (u64, u64),
) -> io::Result<OwnedFd> {
    sys::reopen(fd).or_else(|_| reopen_by_path(path, dev_ino))
}

/// Opens `path` again, if it still names the file `dev_ino`.
fn reopen_by_path(path: &Path, dev_ino: (u64, u64)) -> io::Result<OwnedFd> {
    let again = sys::open_file(path, OpenMode::Existing, 0)?;
    let st = sys::fstat(&again)?;
    if (st.dev, st.ino) == dev_ino {
        Ok(again)
    } else {
        Err(io::Error::other("store file was replaced while opening"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(test: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("shmkit-reopen-{test}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn dev_ino(fd: &OwnedFd) -> (u64, u64) {
        let st = sys::fstat(fd).unwrap();
        (st.dev, st.ino)
    }

    #[test]
    fn the_same_file_is_reopened_as_a_new_description() {
        let dir = scratch("same");
        let path = dir.join("store");
        std::fs::write(&path, b"store").unwrap();
        let fd = sys::open_file(&path, OpenMode::Existing, 0).unwrap();
        let again = reopen_by_path(&path, dev_ino(&fd)).expect("same file");
        assert_eq!(dev_ino(&again), dev_ino(&fd));
        let through_proc = lock_descriptor(&fd, &path, dev_ino(&fd)).unwrap();
        assert_eq!(dev_ino(&through_proc), dev_ino(&fd));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_replaced_or_removed_file_is_refused() {
        let dir = scratch("replaced");
        let path = dir.join("store");
        std::fs::write(&path, b"old").unwrap();
        let fd = sys::open_file(&path, OpenMode::Existing, 0).unwrap();
        let old = dev_ino(&fd);
        // Another file renamed over the name: same path, other inode.
        let other = dir.join("other");
        std::fs::write(&other, b"new").unwrap();
        std::fs::rename(&other, &path).unwrap();
        let err = reopen_by_path(&path, old).expect_err("a different file under the name");
        assert!(err.to_string().contains("replaced"), "{err}");
        // The old file stays reachable through its descriptor (that is the /proc path).
        assert_eq!(dev_ino(&lock_descriptor(&fd, &path, old).unwrap()), old);
        std::fs::remove_file(&path).unwrap();
        let err = reopen_by_path(&path, old).expect_err("no file under the name");
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
