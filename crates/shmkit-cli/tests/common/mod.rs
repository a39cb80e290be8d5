//! Shared helpers of the CLI tests: a per-test store directory (`SHMKIT_DIR`) so tests never
//! see each other's stores or the real ones in /dev/shm, running the `shmkit` binary, forking
//! children that end with `_exit`, SIGKILL, and a watchdog that aborts a wedged test.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A name unique to this test, this process and this call.
pub fn unique_name(test: &str) -> String {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("cli-{test}-{}-{n}", std::process::id())
}

/// A private store directory (on tmpfs, like /dev/shm), removed with everything in it when
/// dropped — also when the test fails.
pub struct StoreDir {
    pub dir: PathBuf,
}

impl StoreDir {
    pub fn new(test: &str) -> StoreDir {
        let dir = PathBuf::from("/dev/shm").join(format!(".{}", unique_name(test)));
        std::fs::create_dir_all(&dir).expect("create store dir");
        StoreDir { dir }
    }

    /// The path of store `name` in this directory, as the library takes it (contains '/').
    pub fn store(&self, name: &str) -> String {
        self.path(name).to_string_lossy().into_owned()
    }

    /// The file of store `name`.
    pub fn path(&self, name: &str) -> PathBuf {
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

impl Drop for StoreDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
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

/// Aborts the whole test process if it is still running after `secs` seconds, so a deadlock
/// fails the test instead of hanging the run. Dropping the guard disarms it.
pub struct Watchdog {
    armed: Arc<AtomicBool>,
}

pub fn watchdog(secs: u64) -> Watchdog {
    let armed = Arc::new(AtomicBool::new(true));
    let flag = armed.clone();
    let parent = std::process::id();
    std::thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(secs);
        while Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
            if !flag.load(Ordering::Relaxed) {
                return;
            }
        }
        if flag.load(Ordering::Relaxed) && std::process::id() == parent {
            eprintln!("watchdog: test still running after {secs} s, aborting");
            std::process::abort();
        }
    });
    Watchdog { armed }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        self.armed.store(false, Ordering::Relaxed);
    }
}

/// A forked child; SIGKILLed and reaped on drop if still running.
#[derive(Debug)]
pub struct Child {
    pub pid: libc::pid_t,
    reaped: bool,
}

/// Forks; the child runs `f` and leaves with `libc::_exit(f())` (101 if `f` panics), never
/// returning into the test harness.
pub fn fork_child(f: impl FnOnce() -> i32) -> Child {
    // SAFETY: fork has no memory preconditions; the child only runs `f` and `_exit`s.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed: {}", std::io::Error::last_os_error());
    if pid == 0 {
        let code = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or(101);
        // SAFETY: leaving the child without running the harness's destructors.
        unsafe { libc::_exit(code) };
    }
    Child { pid, reaped: false }
}

impl Child {
    /// SIGKILLs the child and reaps it.
    pub fn kill(&mut self) {
        if self.reaped {
            return;
        }
        // SAFETY: plain system calls on our own child's pid.
        unsafe {
            libc::kill(self.pid, libc::SIGKILL);
            let mut status = 0;
            libc::waitpid(self.pid, &mut status, 0);
        }
        self.reaped = true;
    }

    /// Waits for the child to exit by itself (up to `timeout`); returns its exit code.
    pub fn wait(&mut self, timeout: Duration) -> Option<i32> {
        let deadline = Instant::now() + timeout;
        loop {
            let mut status = 0;
            // SAFETY: plain system call on our own child's pid.
            let r = unsafe { libc::waitpid(self.pid, &mut status, libc::WNOHANG) };
            if r == self.pid {
                self.reaped = true;
                return libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status));
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Polls `cond` every few milliseconds until it holds; panics after `timeout`.
#[track_caller]
pub fn wait_until(what: &str, timeout: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
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
    wait_until("child to attach", Duration::from_secs(60), || {
        shmkit::Store::is_in_use(path).unwrap_or(false)
    });
    child
}

/// Reports a check this environment cannot run: fails the test when the environment
/// variable `CI` is `true` (a CI run must run everything), otherwise says so and returns.
#[track_caller]
pub fn cannot_run_here(why: &str) {
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("this test cannot run here, and CI=true: {why}");
    }
    eprintln!("SKIPPED (an error under CI=true): {why}");
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
