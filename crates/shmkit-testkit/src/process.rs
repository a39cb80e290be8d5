//! Facts about processes and threads, and the policy for checks an environment cannot run.

/// True when a process with this pid exists (an unreaped zombie too: see
/// [`process_running`]).
pub fn pid_alive(pid: libc::pid_t) -> bool {
    // SAFETY: signal 0 only checks for existence.
    unsafe { libc::kill(pid, 0) == 0 }
}

/// True while process `pid` exists and has not exited (not a zombie), read from
/// `/proc/<pid>/stat`: unlike [`pid_alive`] it also says "dead" for an unreaped zombie.
pub fn process_running(pid: libc::pid_t) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    // The state follows the command name, which ends at the last ')'.
    let state = stat
        .rfind(')')
        .and_then(|i| stat[i + 1..].split_whitespace().next());
    !matches!(state, None | Some("Z" | "X" | "x"))
}

/// This process's pid (in a forked child: the child's own).
pub fn getpid() -> libc::pid_t {
    // SAFETY: getpid has no preconditions.
    unsafe { libc::getpid() }
}

/// The calling thread's kernel id.
pub fn gettid() -> libc::pid_t {
    // SAFETY: gettid has no preconditions.
    unsafe { libc::gettid() }
}

/// How many times thread `tid` (of any process; a single-threaded process's pid) has
/// blocked so far: `voluntary_ctxt_switches` from `/proc/<tid>/status`. Each futex sleep of
/// a lock waiter counts one. `None` once the thread is gone (or is a zombie's).
pub fn voluntary_switches(tid: libc::pid_t) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{tid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("voluntary_ctxt_switches:"))
        .and_then(|v| v.trim().parse().ok())
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
