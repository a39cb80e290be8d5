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

/// How many store descriptors [`register_store_fd`] can track.
pub const MAX_STORE_FDS: usize = 256;
static STORE_FDS: [std::sync::atomic::AtomicI32; MAX_STORE_FDS] =
    [const { std::sync::atomic::AtomicI32::new(-1) }; MAX_STORE_FDS];

/// Gives the inherited descriptor `fd` a fresh open file description in a forked child, so
/// the child does not share (and keep alive) the parent's OFD locks. Async-signal-safe: only
/// `open`, `dup3` and `close`, on a path built by hand on the stack.
fn reopen_fresh(fd: i32) {
    let mut path = [0u8; 32];
    let prefix = b"/proc/self/fd/";
    path[..prefix.len()].copy_from_slice(prefix);
    let mut digits = [0u8; 10];
    let mut n = fd as u32;
    let mut len = 0;
    loop {
        digits[len] = b'0' + (n % 10) as u8;
        len += 1;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for i in 0..len {
        path[prefix.len() + i] = digits[len - 1 - i];
    }
    // path[prefix.len() + len] is already 0: NUL-terminated.
    // SAFETY: `path` is a NUL-terminated buffer on the stack that outlives the call.
    let fresh = unsafe { libc::open(path.as_ptr().cast(), libc::O_RDWR | libc::O_CLOEXEC) };
    if fresh >= 0 {
        // SAFETY: `fd` and `fresh` are open descriptors of this process; dup3 atomically
        // makes `fd` refer to the fresh description (dropping the inherited one).
        unsafe {
            libc::dup3(fresh, fd, libc::O_CLOEXEC);
            libc::close(fresh);
        }
    }
}

extern "C" fn on_fork_child() {
    // Runs in the child right after fork: only async-signal-safe work.
    for slot in &STORE_FDS {
        let fd = slot.load(std::sync::atomic::Ordering::Relaxed);
        if fd >= 0 {
            reopen_fresh(fd);
        }
    }
    FORK_GENERATION.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
}

fn ensure_atfork() {
    ATFORK_ONCE.call_once(|| {
        // SAFETY: the handler is an `extern "C" fn()` doing only async-signal-safe work,
        // which is what a child handler may do.
        unsafe {
            libc::pthread_atfork(None, None, Some(on_fork_child));
        }
    });
}

/// A counter that increases in a child process each time it is created by `fork`.
///
/// Comparing it with a value saved earlier tells, with one relaxed load, whether the current
/// process is a forked copy of the one that saved it.
pub fn fork_generation() -> u64 {
    ensure_atfork();
    FORK_GENERATION.load(std::sync::atomic::Ordering::Relaxed)
}

/// Registers a store's descriptor so that a forked child gets its own open file description
/// for it (see [`fork_generation`]). Returns false if the table is full (the child then
/// shares the parent's description until it re-attaches).
pub fn register_store_fd(fd: &std::os::fd::OwnedFd) -> bool {
    use std::os::fd::AsRawFd;
    ensure_atfork();
    let raw = fd.as_raw_fd();
    STORE_FDS.iter().any(|slot| {
        slot.compare_exchange(
            -1,
            raw,
            std::sync::atomic::Ordering::AcqRel,
            std::sync::atomic::Ordering::Relaxed,
        )
        .is_ok()
    })
}

/// Forgets a descriptor registered with [`register_store_fd`] (before closing it).
pub fn unregister_store_fd(fd: &std::os::fd::OwnedFd) {
    use std::os::fd::AsRawFd;
    let raw = fd.as_raw_fd();
    for slot in &STORE_FDS {
        let _ = slot.compare_exchange(
            raw,
            -1,
            std::sync::atomic::Ordering::AcqRel,
            std::sync::atomic::Ordering::Relaxed,
        );
    }
}
