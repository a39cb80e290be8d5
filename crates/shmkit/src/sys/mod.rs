//! Thin, safe wrappers over the system calls shmkit needs. This module and [`crate::raw`]
//! are the only places in the crate that contain `unsafe`.
//!
//! Invariants:
//! - every file descriptor is opened with `O_CLOEXEC`, so an `exec`ed child never inherits
//!   a store (and never keeps a dead parent's liveness locks alive);
//! - locks taken here are *open file description* (OFD) locks: they belong to the open file,
//!   not the process, are released by the kernel when the last descriptor closes (that is,
//!   when the process dies), and do not conflict with other locks of the same descriptor;
//! - futex calls are *shared* (no `FUTEX_PRIVATE_FLAG`), so they work across processes that
//!   map the same file at different addresses.
//!
//! ```
//! use shmkit::sys;
//! let page = sys::page_size();
//! assert!(page.is_power_of_two());
//! ```
#![allow(unsafe_code)]

mod fd;
mod futex;
mod lock;
mod map;

pub use fd::*;
pub use futex::*;
pub use lock::*;
pub use map::*;

/// The kernel's page size in bytes.
pub fn page_size() -> u64 {
    // SAFETY: sysconf has no memory-safety preconditions.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if size <= 0 { 4096 } else { size as u64 }
}

/// The calling process's id (a system call every time, so it is right after `fork`).
pub fn current_pid() -> u32 {
    // SAFETY: getpid has no preconditions and cannot fail.
    unsafe { libc::getpid() as u32 }
}

/// Nanoseconds since the Unix epoch, from the realtime clock.
pub fn unix_time_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

static FORK_GENERATION: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
static ATFORK_ONCE: std::sync::Once = std::sync::Once::new();

extern "C" fn on_fork_child() {
    // Only an atomic increment: async-signal-safe, as the child handler requires.
    FORK_GENERATION.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
}

/// A counter that increases in a child process each time it is created by `fork`.
///
/// Comparing it with a value saved earlier tells, with one relaxed load, whether the current
/// process is a forked copy of the one that saved it.
pub fn fork_generation() -> u64 {
    ATFORK_ONCE.call_once(|| {
        // SAFETY: the handler is an `extern "C" fn()` that only touches an atomic, which is
        // safe to run in the child right after fork.
        unsafe {
            libc::pthread_atfork(None, None, Some(on_fork_child));
        }
    });
    FORK_GENERATION.load(std::sync::atomic::Ordering::Relaxed)
}
