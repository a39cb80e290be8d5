//! The files of a store directory: store files (`shmkit.NAME`) and the temporary files a
//! store is built in before it is published (`.shmkit-tmp.<file>.<pid>.<nanos>`), with the
//! rule that says when such a temporary file is a leftover of a creator that died.
//!
//! Invariants: listing only reads the directory and `stat`s entries, it never opens a
//! store. A temporary file is *stale* when it is older than [`TEMP_STALE_AFTER`] or its
//! creator is no longer running (creation takes milliseconds, and a temporary file is
//! never visible under a store name, so removing a stale one loses nothing).
//! [`remove_stale_temp_file`] removes only names with the temporary prefix that are stale
//! when it looks.
//!
//! ```
//! use shmkit::store::files::scan;
//! let dir = std::env::temp_dir().join(format!("doc-files-{}", std::process::id()));
//! std::fs::create_dir_all(&dir).unwrap();
//! std::fs::write(dir.join("shmkit.a"), b"").unwrap();
//! std::fs::write(dir.join(".shmkit-tmp.shmkit.b.1.2"), b"").unwrap();
//! let listing = scan(&dir).unwrap();
//! assert_eq!(listing.stores, vec![dir.join("shmkit.a")]);
//! assert_eq!(listing.temps[0].creator_pid, Some(1));
//! std::fs::remove_dir_all(&dir).unwrap();
//! ```

use super::name::FILE_PREFIX;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// File name prefix of temporary files made while a store is created.
pub const TEMP_PREFIX: &str = ".shmkit-tmp.";

/// Age after which a temporary file is a leftover even if a process with its creator's PID
/// still runs (the PID may have been reused).
pub const TEMP_STALE_AFTER: Duration = Duration::from_secs(60);

/// The temporary name a store file `path` is built under by process `pid`.
pub(crate) fn temp_path(path: &Path, pid: u32, nanos: u64) -> PathBuf {
    let file = path
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!("{TEMP_PREFIX}{file}.{pid}.{nanos}"))
}

/// A temporary file of store creation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TempFile {
    /// The file.
    pub path: PathBuf,
    /// Time since it was last modified (`None` if unknown).
    pub age: Option<Duration>,
    /// PID of the process that was creating it, from its name.
    pub creator_pid: Option<u32>,
}

impl TempFile {
    /// Looks at the temporary file `path`.
    pub fn at(path: PathBuf) -> TempFile {
        let age = std::fs::symlink_metadata(&path)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| SystemTime::now().duration_since(t).ok());
        // `.shmkit-tmp.<file>.<pid>.<nanos>`
        let creator_pid = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.rsplit('.').nth(1))
            .and_then(|p| p.parse().ok());
        TempFile {
            path,
            age,
            creator_pid,
        }
    }

    /// True if a process with the creator's PID is visible in `/proc`.
    pub fn creator_visible(&self) -> bool {
        self.creator_pid
            .is_some_and(|pid| Path::new(&format!("/proc/{pid}")).exists())
    }

    /// True if this is a leftover (see the module docs).
    pub fn is_stale(&self) -> bool {
        !(self.age.is_some_and(|a| a < TEMP_STALE_AFTER) && self.creator_visible())
    }
}

/// The store files and temporary files of a directory, each sorted by name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DirListing {
    /// Files named `shmkit.*`.
    pub stores: Vec<PathBuf>,
    /// Temporary files of store creation.
    pub temps: Vec<TempFile>,
}

/// Lists `dir` (see the module docs).
pub fn scan(dir: &Path) -> std::io::Result<DirListing> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .collect();
    entries.sort();
    let mut listing = DirListing::default();
    for path in entries {
        let Some(name) = path.file_name() else {
            continue;
        };
        let name = name.as_encoded_bytes();
        if name.starts_with(FILE_PREFIX.as_bytes()) {
            listing.stores.push(path);
        } else if name.starts_with(TEMP_PREFIX.as_bytes()) {
            listing.temps.push(TempFile::at(path));
        }
    }
    Ok(listing)
}

/// Removes the temporary file `path` if it is one and is stale when looked at now.
/// `Ok(false)` if it is not stale (or already gone).
pub fn remove_stale_temp_file(path: &Path) -> std::io::Result<bool> {
    let is_temp = path
        .file_name()
        .is_some_and(|n| n.as_encoded_bytes().starts_with(TEMP_PREFIX.as_bytes()));
    if !is_temp || !TempFile::at(path.to_path_buf()).is_stale() {
        return Ok(false);
    }
    match std::fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temp_names_round_trip_the_creator() {
        let p = temp_path(Path::new("/dev/shm/shmkit.a.b"), 4242, 1_700_000_000);
        assert_eq!(
            p,
            PathBuf::from("/dev/shm/.shmkit-tmp.shmkit.a.b.4242.1700000000")
        );
        let t = TempFile::at(p);
        assert_eq!(t.creator_pid, Some(4242));
        assert!(t.age.is_none());
        assert!(t.is_stale(), "unknown age and no such file: a leftover");
    }

    #[test]
    fn a_fresh_temp_file_of_a_running_creator_is_kept() {
        let dir = std::env::temp_dir().join(format!("shmkit-files-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mine = temp_path(&dir.join("shmkit.x"), std::process::id(), 1);
        std::fs::write(&mine, b"").unwrap();
        assert!(!TempFile::at(mine.clone()).is_stale());
        assert!(!remove_stale_temp_file(&mine).unwrap());
        assert!(mine.exists());
        // A creator that is not running: stale at once.
        let dead = temp_path(&dir.join("shmkit.y"), u32::MAX - 1, 1);
        std::fs::write(&dead, b"").unwrap();
        assert!(remove_stale_temp_file(&dead).unwrap());
        assert!(!dead.exists());
        // Never a file without the prefix.
        let other = dir.join("shmkit.z");
        std::fs::write(&other, b"").unwrap();
        assert!(!remove_stale_temp_file(&other).unwrap());
        assert!(other.exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
