//! Shared helpers of the CLI tests, built on `shmkit_testkit` (forked children, watchdogs,
//! waits; re-exported here): a per-test store directory (`SHMKIT_DIR`) so tests never see
//! each other's stores or the real ones in /dev/shm, running the `shmkit` binary, children
//! attached to a store, and reading and writing store files' bytes.
#![allow(dead_code)]

#[allow(unused_imports)] // each test file uses some of them
pub use shmkit_testkit::{Child, cannot_run_here, fork_child, wait_for, watchdog};
use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

/// A name unique to this test, this process and this call: `cli-<test>-<pid>-<n>` (the form
/// scripts/clean-test-stores.sh recognises).
pub fn unique_name(test: &str) -> String {
    shmkit_testkit::unique_name("cli", test)
}

/// A private store directory (on tmpfs, like /dev/shm), removed with everything in it when
/// dropped — also when the test fails.
pub struct StoreDir {
    /// The directory (`/dev/shm/.cli-<test>-<pid>-<n>`); dereferences to its path.
    pub dir: shmkit_testkit::TempDir,
}

impl StoreDir {
    pub fn new(test: &str) -> StoreDir {
        let dir = Path::new("/dev/shm").join(format!(".{}", unique_name(test)));
        StoreDir {
            dir: shmkit_testkit::TempDir::at(dir),
        }
    }

    /// The path of store `name` in this directory, as the library takes it (contains '/').
    pub fn store(&self, name: &str) -> String {
        self.path(name).to_string_lossy().into_owned()
    }

    /// The file of store `name`.
    pub fn path(&self, name: &str) -> std::path::PathBuf {
        self.dir.join(format!("shmkit.{name}"))
    }

    /// Runs `shmkit args...` with `SHMKIT_DIR` set to this directory.
    pub fn shmkit(&self, args: &[&str]) -> Run {
        run_shmkit(args, Some(&self.dir))
    }

    /// Creates a store with default options and returns it.
    pub fn create(&self, name: &str) -> shmkit::Store {
        shmkit::Store::create(&self.store(name), &shmkit::StoreOptions::default())
            .expect("create store")
    }
}

/// The outcome of one run of the binary.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub raw_stdout: Vec<u8>,
}

impl Run {
    /// Panics with the whole output unless the exit code is `code`.
    #[track_caller]
    pub fn expect_code(&self, code: i32) -> &Run {
        assert_eq!(
            self.code, code,
            "unexpected exit code\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }

    /// The stdout parsed as one JSON document.
    #[track_caller]
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}", self.stdout))
    }
}

impl From<Output> for Run {
    fn from(o: Output) -> Run {
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
            raw_stdout: o.stdout,
        }
    }
}

/// The `shmkit` command, with `SHMKIT_DIR` set to `dir` (or removed for the default).
pub fn command(dir: Option<&Path>) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_shmkit"));
    match dir {
        Some(d) => cmd.env("SHMKIT_DIR", d),
        None => cmd.env_remove("SHMKIT_DIR"),
    };
    cmd
}

/// Runs `shmkit args...`.
pub fn run_shmkit(args: &[&str], dir: Option<&Path>) -> Run {
    command(dir).args(args).output().expect("run shmkit").into()
}

/// Forks a child that attaches to the store at `path` and stays attached until killed.
/// Returns once the child is attached.
pub fn attached_child(path: &str) -> Child {
    let p = path.to_string();
    let child = fork_child(move || {
        let _store = match shmkit::Store::open(&p) {
            Ok(s) => s,
            Err(_) => return 3,
        };
        loop {
            std::thread::park(); // until SIGKILLed
        }
    });
    wait_for("child to attach", Duration::from_secs(60), || {
        shmkit::Store::is_in_use(path).unwrap_or(false)
    });
    child
}

/// Overwrites bytes of a file at `offset`.
pub fn poke(path: &Path, offset: u64, bytes: &[u8]) {
    use std::os::unix::fs::FileExt;
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .expect("open for poke");
    f.write_all_at(bytes, offset).expect("poke");
}

/// Reads bytes of a file at `offset`.
pub fn peek(path: &Path, offset: u64, len: usize) -> Vec<u8> {
    use std::os::unix::fs::FileExt;
    let f = std::fs::File::open(path).expect("open for peek");
    let mut buf = vec![0u8; len];
    f.read_exact_at(&mut buf, offset).expect("peek");
    buf
}
