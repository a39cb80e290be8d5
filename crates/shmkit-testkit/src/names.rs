//! Unique names ([`unique_name`]) and temporary directories ([`TempDir`]).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A name unique to this test, this process and this call: `<prefix>-<test>-<pid>-<n>`.
///
/// `scripts/clean-test-stores.sh` recognises the prefixes `test` (the core's tests) and
/// `cli` (the CLI's) and the pid in this position; keep to them for anything created in
/// `/dev/shm` or the temporary directory.
pub fn unique_name(prefix: &str, test: &str) -> String {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{prefix}-{test}-{}-{n}", std::process::id())
}

/// A directory removed (recursively) when dropped, also when the test fails. Dereferences
/// to its path.
#[derive(Debug)]
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    /// A fresh directory `$TMPDIR/test-<test>-<pid>-<n>`. `scripts/clean-test-stores.sh`
    /// removes leftovers only for the `test` names passed literally, as
    /// `TempDir::new("...")`, in `crates/*/tests`.
    pub fn new(test: &str) -> TempDir {
        TempDir::at(std::env::temp_dir().join(unique_name("test", test)))
    }

    /// Creates the directory `path` (and its parents) and takes charge of removing it.
    pub fn at(path: PathBuf) -> TempDir {
        std::fs::create_dir_all(&path).expect("create temp dir");
        TempDir { path }
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A path inside the directory, as a store name (it contains a '/').
    pub fn store_path(&self, file: &str) -> String {
        self.path.join(file).to_string_lossy().into_owned()
    }
}

impl std::ops::Deref for TempDir {
    type Target = Path;

    fn deref(&self) -> &Path {
        &self.path
    }
}

impl AsRef<Path> for TempDir {
    fn as_ref(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}
