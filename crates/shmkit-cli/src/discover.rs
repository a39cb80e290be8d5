//! Finding stores: the files `shmkit.*` in the store directory (`$SHMKIT_DIR`, default
//! `/dev/shm`, exactly as the library resolves names), leftover temporary files of store
//! creation (`.shmkit-tmp.*`), and store arguments given on the command line (a plain name
//! or a path containing `/`).
//!
//! Invariants: discovery only lists directory entries and `stat`s them; it never opens a
//! store. A file name that is not valid UTF-8 or not a valid store name is still listed,
//! addressed by its full path.
//!
//! ```text
//! /dev/shm/shmkit.cache                           -> store "cache"
//! /dev/shm/.shmkit-tmp.shmkit.cache.4242.17e18    -> temporary file of pid 4242
//! ```

pub use shmkit::store::files::TempFile;
use shmkit::store::name::{FILE_PREFIX, store_dir, validate};
use std::path::{Path, PathBuf};

/// A store file (or a file that claims to be one by its name).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreFile {
    /// What to show: the store name, or the path for files outside the store directory.
    pub display: String,
    /// What to pass to `Store::open`: the name, or the path as text.
    pub arg: String,
    /// The file.
    pub path: PathBuf,
}

fn path_arg(path: &Path) -> Option<String> {
    let text = path.to_str()?;
    // A path the library treats as a path: it must contain a '/'.
    if text.contains('/') {
        Some(text.to_string())
    } else {
        Some(format!("./{text}"))
    }
}

/// The store a command-line argument names: a plain name resolves in the store directory,
/// anything with a `/` is a path.
pub fn from_arg(arg: &str) -> StoreFile {
    match shmkit::store::name::resolve(arg) {
        Ok(path) => StoreFile {
            display: arg.to_string(),
            arg: arg.to_string(),
            path,
        },
        Err(_) => StoreFile {
            display: arg.to_string(),
            arg: arg.to_string(),
            path: PathBuf::from(arg),
        },
    }
}

/// A store file found at `path` in a directory listing.
pub fn from_path(path: PathBuf, in_store_dir: bool) -> StoreFile {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.strip_prefix(FILE_PREFIX))
        .filter(|n| validate(n).is_ok())
        .map(str::to_string);
    match name {
        Some(name) if in_store_dir => StoreFile {
            display: name.clone(),
            arg: name,
            path,
        },
        _ => {
            let arg = path_arg(&path).unwrap_or_default();
            StoreFile {
                display: path.display().to_string(),
                arg,
                path,
            }
        }
    }
}

/// Store files and temporary files in `dir`, sorted by name (the core's listing,
/// [`shmkit::store::files::scan`], with each store named for the command line).
pub fn scan(dir: &Path, in_store_dir: bool) -> std::io::Result<(Vec<StoreFile>, Vec<TempFile>)> {
    let listing = shmkit::store::files::scan(dir)?;
    let stores = listing
        .stores
        .into_iter()
        .map(|p| from_path(p, in_store_dir))
        .collect();
    Ok((stores, listing.temps))
}

/// Opens the store `arg` for maintenance or inspection: any owner, any mode (an
/// administrator's `shmkit gc` must reach every user's stores; nothing read is executed).
pub fn open_for_maintenance(arg: &str) -> Result<shmkit::Store, shmkit::OpenError> {
    shmkit::Store::open_with(
        arg,
        &shmkit::OpenOptions {
            allow_foreign_owner: true,
            mode: None,
        },
    )
}

/// The default store directory.
pub fn default_dir() -> PathBuf {
    store_dir()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_paths() {
        let f = from_path(PathBuf::from("/dev/shm/shmkit.cache"), true);
        assert_eq!((f.display.as_str(), f.arg.as_str()), ("cache", "cache"));
        let f = from_path(PathBuf::from("/dev/shm/shmkit.a b"), true);
        assert_eq!(f.arg, "/dev/shm/shmkit.a b");
        let f = from_path(PathBuf::from("/data/shmkit.x"), false);
        assert_eq!(f.arg, "/data/shmkit.x");
    }
}
