//! What the fuzz targets share: a scratch directory on `/dev/shm` for the store files they
//! write (removed by `scripts/fuzz.sh` after a run, since a fuzzer is stopped by a signal),
//! and writing one file there for an input.

use shmkit_testkit::TempDir;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::sync::OnceLock;

/// The scratch directory of this fuzzing process.
pub fn scratch() -> &'static TempDir {
    static DIR: OnceLock<TempDir> = OnceLock::new();
    DIR.get_or_init(|| TempDir::at(format!("/dev/shm/shmkit-fuzz-{}", std::process::id()).into()))
}

/// Writes `bytes` as the file `name` in the scratch directory, with a store's mode
/// (replacing an earlier one), and returns its path as a store name.
pub fn write_case(name: &str, bytes: &[u8]) -> String {
    let path = scratch().store_path(name);
    let _ = std::fs::remove_file(&path);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .expect("create the case file");
    file.write_all(bytes).expect("write the case file");
    path
}
