//! Shared helpers of the integration tests: forking children that end with `_exit`,
//! waiting for them with a timeout, SIGKILL, unique store names, cleanup guards and a
//! watchdog that aborts a wedged test.
#![allow(dead_code)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A store name unique to this test, this process and this call.
pub fn unique_name(test: &str) -> String {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("test-{test}-{}-{n}", std::process::id())
}

/// Removes a store (by name or path) when dropped, also when the test fails.
pub struct StoreGuard(pub String);

impl StoreGuard {
    /// A guard for a fresh unique name.
    pub fn new(test: &str) -> StoreGuard {
        StoreGuard(unique_name(test))
    }

    /// The store name.
    pub fn name(&self) -> &str {
        &self.0
    }
}

impl Drop for StoreGuard {
    fn drop(&mut self) {
        let _ = shmkit::Store::remove(&self.0);
    }
}

/// A temporary directory removed (recursively) when dropped.
pub struct TempDir(pub std::path::PathBuf);

impl TempDir {
    pub fn new(test: &str) -> TempDir {
        let dir = std::env::temp_dir().join(unique_name(test));
        std::fs::create_dir_all(&dir).expect("create temp dir");
        TempDir(dir)
    }

    /// A path inside the directory, as a store name (it contains a '/').
    pub fn store_path(&self, file: &str) -> String {
        self.0.join(file).to_string_lossy().into_owned()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Aborts the whole test process if it is still running after `secs` seconds, so a
/// deadlock fails the test instead of hanging the run. Dropping the guard disarms it.
pub struct Watchdog {
    armed: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

pub fn watchdog(secs: u64) -> Watchdog {
    let armed = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
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

/// How a child ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// Exited with this code.
    Code(i32),
    /// Killed by this signal.
    Signal(i32),
}

/// A forked child process.
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
    /// Waits at most `timeout` for the child to end; kills it (and fails) if it does not.
    pub fn wait_timeout(&mut self, timeout: Duration) -> Exit {
        let deadline = Instant::now() + timeout;
        loop {
            let mut status = 0;
            // SAFETY: plain waitpid on our own child.
            let r = unsafe { libc::waitpid(self.pid, &mut status, libc::WNOHANG) };
            if r == self.pid {
                self.reaped = true;
                if libc::WIFEXITED(status) {
                    return Exit::Code(libc::WEXITSTATUS(status));
                }
                return Exit::Signal(libc::WTERMSIG(status));
            }
            assert!(r == 0, "waitpid: {}", std::io::Error::last_os_error());
            if Instant::now() > deadline {
                self.kill();
                let _ = self.wait_timeout(Duration::from_secs(10));
                panic!("child {} did not finish within {timeout:?}", self.pid);
            }
            std::thread::sleep(Duration::from_micros(200));
        }
    }

    /// Waits (with a generous timeout) and asserts the child exited with code 0.
    pub fn expect_success(mut self) {
        let exit = self.wait_timeout(Duration::from_secs(60));
        assert_eq!(exit, Exit::Code(0), "child {} failed", self.pid);
    }

    /// Sends SIGKILL.
    pub fn kill(&self) {
        // SAFETY: plain kill on our own (possibly already dead, not yet reaped) child.
        unsafe { libc::kill(self.pid, libc::SIGKILL) };
    }

    /// SIGKILLs the child and reaps it.
    pub fn kill_and_wait(mut self) -> Exit {
        self.kill();
        self.wait_timeout(Duration::from_secs(30))
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        if !self.reaped {
            self.kill();
            let mut status = 0;
            // SAFETY: reaping our own child.
            unsafe { libc::waitpid(self.pid, &mut status, 0) };
        }
    }
}

/// Polls `cond` until it holds or `timeout` passes; returns whether it held.
pub fn wait_until(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_micros(100));
    }
}

/// A pipe for passing bytes from children to the parent, or as a start gate.
pub struct Pipe {
    pub read: libc::c_int,
    pub write: libc::c_int,
}

impl Pipe {
    pub fn new() -> Pipe {
        let mut fds = [0; 2];
        // SAFETY: `fds` is a writable array of two ints.
        let r = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) };
        assert_eq!(r, 0, "pipe2: {}", std::io::Error::last_os_error());
        Pipe {
            read: fds[0],
            write: fds[1],
        }
    }

    /// Writes all of `data` to the write end (atomic for <= PIPE_BUF bytes).
    pub fn send(&self, data: &[u8]) {
        let mut done = 0;
        while done < data.len() {
            // SAFETY: the pointer and length describe a live slice.
            let n =
                unsafe { libc::write(self.write, data[done..].as_ptr().cast(), data.len() - done) };
            assert!(n > 0, "pipe write: {}", std::io::Error::last_os_error());
            done += n as usize;
        }
    }

    /// Closes the write end (in this process).
    pub fn close_write(&mut self) {
        if self.write >= 0 {
            // SAFETY: closing our own descriptor once.
            unsafe { libc::close(self.write) };
            self.write = -1;
        }
    }

    /// Closes the read end (in this process).
    pub fn close_read(&mut self) {
        if self.read >= 0 {
            // SAFETY: closing our own descriptor once.
            unsafe { libc::close(self.read) };
            self.read = -1;
        }
    }

    /// In a child: closes its inherited copy of the write end, then blocks until the parent
    /// closes its own (a start gate that opens for all children at once).
    pub fn wait_closed(&self) {
        // SAFETY: closing this process's copy of the descriptor; the struct is not used to
        // write afterwards in this process.
        unsafe { libc::close(self.write) };
        let mut b = [0u8; 1];
        loop {
            // SAFETY: reading into a one-byte local buffer.
            let n = unsafe { libc::read(self.read, b.as_mut_ptr().cast(), 1) };
            if n == 0
                || (n < 0 && std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR))
            {
                return;
            }
        }
    }

    /// Reads exactly `n` bytes (blocking until they arrive).
    pub fn read_all_available(&self, n: usize) -> Vec<u8> {
        let mut out = vec![0u8; n];
        let mut done = 0;
        while done < n {
            // SAFETY: reading into the unfilled tail of a local buffer.
            let r = unsafe { libc::read(self.read, out[done..].as_mut_ptr().cast(), n - done) };
            assert!(r > 0, "pipe read: {}", std::io::Error::last_os_error());
            done += r as usize;
        }
        out
    }

    /// Reads until every writer has closed its end (call `close_write` first).
    pub fn read_all(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            // SAFETY: reading into a local buffer of the given length.
            let n = unsafe { libc::read(self.read, buf.as_mut_ptr().cast(), buf.len()) };
            if n == 0 {
                return out;
            }
            if n < 0 {
                if std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
                    continue;
                }
                panic!("pipe read: {}", std::io::Error::last_os_error());
            }
            out.extend_from_slice(&buf[..n as usize]);
        }
    }
}

impl Drop for Pipe {
    fn drop(&mut self) {
        self.close_write();
        self.close_read();
    }
}

/// True when a process with this pid exists.
pub fn pid_alive(pid: libc::pid_t) -> bool {
    // SAFETY: signal 0 only checks for existence.
    unsafe { libc::kill(pid, 0) == 0 }
}

/// A pid that belongs to no process right now (a reaped child's).
pub fn dead_pid() -> u32 {
    let mut c = fork_child(|| 0);
    c.wait_timeout(Duration::from_secs(10));
    c.pid as u32
}

/// A uniform random number in `0..n` from a simple generator seeded by `seed`.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        // xorshift64*
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}
