//! Forked children: [`fork_child`], [`Child`], [`KillOnDrop`].

use std::time::{Duration, Instant};

/// How long [`Child::wait`] and [`Child::expect_success`] wait before they kill the child
/// and fail: a deadlock guard, generous for a slow shared machine.
pub const CHILD_TIMEOUT: Duration = Duration::from_secs(180);

/// How a child ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// Exited with this code.
    Code(i32),
    /// Killed by this signal.
    Signal(i32),
}

/// A forked child process: killed and reaped when dropped unless it was waited for.
#[derive(Debug)]
pub struct Child {
    /// The child's process id.
    pub pid: libc::pid_t,
    reaped: bool,
}

/// Forks; the child runs `f` and leaves with `libc::_exit(f())` (101 if `f` panics), never
/// returning into the test harness. The child is SIGKILLed if the forking thread dies (a
/// failed test), so it never runs on after its test.
///
/// The child of a multi-threaded process has only the forking thread: `f` must not wait for
/// anything another thread of the parent would have done.
pub fn fork_child(f: impl FnOnce() -> i32) -> Child {
    fork_with(true, f)
}

/// Like [`fork_child`], but the child lives on when its parent dies: for a grandchild that
/// must outlive the child that forked it. Kill it with [`KillOnDrop`] (after [`Child::forget`]).
pub fn fork_orphanable(f: impl FnOnce() -> i32) -> Child {
    fork_with(false, f)
}

fn fork_with(die_with_parent: bool, f: impl FnOnce() -> i32) -> Child {
    // SAFETY: getpid has no preconditions.
    let parent = unsafe { libc::getpid() };
    // SAFETY: fork has no memory preconditions; the child only runs `f` and `_exit`s.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed: {}", std::io::Error::last_os_error());
    if pid == 0 {
        if die_with_parent {
            // SAFETY: prctl with PR_SET_PDEATHSIG only sets a flag of this process; getppid
            // has no preconditions. A parent that died before the flag was set is caught by
            // the check after it.
            unsafe {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                if libc::getppid() != parent {
                    libc::_exit(102);
                }
            }
        }
        let code = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or(101);
        // SAFETY: leaving the child without running the harness's destructors.
        unsafe { libc::_exit(code) };
    }
    Child { pid, reaped: false }
}

impl Child {
    /// Waits at most `timeout` for the child to end; `None` (the child still running) if it
    /// has not.
    pub fn try_wait(&mut self, timeout: Duration) -> Option<Exit> {
        let deadline = Instant::now() + timeout;
        loop {
            let mut status = 0;
            // SAFETY: plain waitpid on our own child, writing to a local.
            let r = unsafe { libc::waitpid(self.pid, &mut status, libc::WNOHANG) };
            if r == self.pid {
                self.reaped = true;
                if libc::WIFEXITED(status) {
                    return Some(Exit::Code(libc::WEXITSTATUS(status)));
                }
                return Some(Exit::Signal(libc::WTERMSIG(status)));
            }
            assert!(r == 0, "waitpid: {}", std::io::Error::last_os_error());
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_micros(200));
        }
    }

    /// Waits at most `timeout` for the child to end; kills it (and fails) if it does not.
    pub fn wait_timeout(&mut self, timeout: Duration) -> Exit {
        match self.try_wait(timeout) {
            Some(exit) => exit,
            None => {
                self.kill();
                let _ = self.try_wait(Duration::from_secs(10));
                panic!("child {} did not finish within {timeout:?}", self.pid);
            }
        }
    }

    /// Waits (at most [`CHILD_TIMEOUT`]) for the child to end.
    pub fn wait(&mut self) -> Exit {
        self.wait_timeout(CHILD_TIMEOUT)
    }

    /// Waits (at most [`CHILD_TIMEOUT`]) and asserts the child exited with code 0.
    pub fn expect_success(mut self) {
        let exit = self.wait();
        assert_eq!(exit, Exit::Code(0), "child {} failed", self.pid);
    }

    /// Sends SIGKILL (the child is still to be reaped: see [`Child::kill_and_wait`]).
    pub fn kill(&self) {
        // SAFETY: plain kill on our own (possibly already dead, not yet reaped) child.
        unsafe { libc::kill(self.pid, libc::SIGKILL) };
    }

    /// SIGKILLs the child and reaps it (fails if it is not gone within 30 s).
    pub fn kill_and_wait(mut self) -> Exit {
        self.kill();
        self.wait_timeout(Duration::from_secs(30))
    }

    /// Stops managing the child (it is neither killed nor reaped on drop); returns its pid.
    pub fn forget(self) -> libc::pid_t {
        let pid = self.pid;
        std::mem::forget(self);
        pid
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        if !self.reaped {
            self.kill();
            let mut status = 0;
            // SAFETY: reaping our own child, writing to a local.
            unsafe { libc::waitpid(self.pid, &mut status, 0) };
        }
    }
}

/// SIGKILLs a process that is not our child (an orphaned grandchild) when dropped.
#[derive(Debug)]
pub struct KillOnDrop(pub libc::pid_t);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if self.0 > 0 {
            // SAFETY: plain kill of a process this test started.
            unsafe { libc::kill(self.0, libc::SIGKILL) };
        }
    }
}

/// A pid that belongs to no process right now (a reaped child's).
pub fn dead_pid() -> u32 {
    let mut c = fork_child(|| 0);
    c.wait_timeout(Duration::from_secs(10));
    c.pid as u32
}
