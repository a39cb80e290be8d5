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

pub mod fault;
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

/// The calling process's effective user id.
pub fn effective_uid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
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

/// Descriptors whose open file description a forked child must not share (see
/// [`renew_after_fork`]); `-1` marks a free entry.
static RENEW_AFTER_FORK: [std::sync::atomic::AtomicI32; 256] =
    [const { std::sync::atomic::AtomicI32::new(-1) }; 256];

extern "C" fn on_fork_child() {
    // Only async-signal-safe work, as a child handler of a possibly multi-threaded parent
    // requires: atomics, open, dup3, close.
    FORK_GENERATION.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    // Only the forking thread exists here, and it was not inside a gated section.
    FORK_GATE.store(0, std::sync::atomic::Ordering::Release);
    for entry in &RENEW_AFTER_FORK {
        let fd = entry.load(std::sync::atomic::Ordering::Acquire);
        if fd >= 0 {
            reopen_in_place(fd);
        }
    }
}

/// Replaces descriptor `fd` with a new open file description of the same file (opened
/// read-write through `/proc/self/fd`), so the OFD locks of the old one are no longer held
/// through this process. Leaves `fd` alone if that fails. Async-signal-safe.
fn reopen_in_place(fd: libc::c_int) {
    const PREFIX: &[u8] = b"/proc/self/fd/";
    let mut path = [0u8; 32];
    path[..PREFIX.len()].copy_from_slice(PREFIX);
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
        path[PREFIX.len() + i] = digits[len - 1 - i];
    }
    // `path` is NUL-terminated: it was zeroed and at most 14 + 10 bytes are written.
    // SAFETY: `path` is a valid NUL-terminated string on the stack.
    let new = unsafe { libc::open(path.as_ptr().cast(), libc::O_RDWR | libc::O_CLOEXEC) };
    if new < 0 {
        return;
    }
    // SAFETY: `new` and `fd` are open descriptors of this process; dup3 atomically makes
    // `fd` refer to the new description (closing this process's reference to the old one),
    // then the extra descriptor is closed.
    unsafe {
        libc::dup3(new, fd, libc::O_CLOEXEC);
        libc::close(new);
    }
}

/// Registers `fd` to be given a fresh open file description in every child forked from
/// now on, so a child that never uses the store does not keep this process's OFD locks
/// (its liveness lock) alive after this process dies. Returns false when the table of
/// 256 descriptors is full (the child then shares the description, as without this).
/// Call [`forget_after_fork`] *before* closing `fd`.
pub fn renew_after_fork(fd: &std::os::fd::OwnedFd) -> bool {
    use std::os::fd::AsRawFd;
    let _ = fork_generation(); // installs the handler
    let fd = fd.as_raw_fd();
    RENEW_AFTER_FORK.iter().any(|e| {
        e.compare_exchange(
            -1,
            fd,
            std::sync::atomic::Ordering::AcqRel,
            std::sync::atomic::Ordering::Relaxed,
        )
        .is_ok()
    })
}

/// Undoes [`renew_after_fork`] for `fd` (call before closing it, so a later descriptor
/// with the same number is never touched).
pub fn forget_after_fork(fd: &std::os::fd::OwnedFd) {
    use std::os::fd::AsRawFd;
    let fd = fd.as_raw_fd();
    for e in &RENEW_AFTER_FORK {
        let _ = e.compare_exchange(
            fd,
            -1,
            std::sync::atomic::Ordering::AcqRel,
            std::sync::atomic::Ordering::Relaxed,
        );
    }
}

/// Bit of [`FORK_GATE`] set while a `fork` is being prepared; the low bits count threads
/// inside a gated section.
const FORKING: u32 = 1 << 31;
static FORK_GATE: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

thread_local! {
    /// How many gated sections the current thread is inside (sections may nest).
    static GATE_DEPTH: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

/// Keeps `fork` out while held: see [`fork_gate`].
#[derive(Debug)]
#[must_use = "the section ends when the guard is dropped"]
pub struct ForkGate(());

/// Enters a section during which this process does not fork.
///
/// A process-local lock held by another thread at the moment of `fork` stays locked for ever
/// in the child (that thread does not exist there). Taking such a lock only inside a gated
/// section makes it safe: the `pthread_atfork` prepare handler closes the gate and waits
/// until no thread is inside a section, so no gated lock is held when the process forks.
/// Sections must be short and must not fork themselves; they may nest.
pub fn fork_gate() -> ForkGate {
    let _ = fork_generation(); // installs the handlers
    let outer = GATE_DEPTH.with(|d| {
        let depth = d.get();
        d.set(depth + 1);
        depth == 0
    });
    if outer {
        use std::sync::atomic::Ordering;
        loop {
            let cur = FORK_GATE.load(Ordering::Acquire);
            if cur & FORKING == 0
                && FORK_GATE
                    .compare_exchange_weak(cur, cur + 1, Ordering::Acquire, Ordering::Relaxed)
                    .is_ok()
            {
                break;
            }
            std::thread::yield_now();
        }
    }
    ForkGate(())
}

impl Drop for ForkGate {
    fn drop(&mut self) {
        let outer = GATE_DEPTH.with(|d| {
            let depth = d.get() - 1;
            d.set(depth);
            depth == 0
        });
        if outer {
            FORK_GATE.fetch_sub(1, std::sync::atomic::Ordering::Release);
        }
    }
}

extern "C" fn on_fork_prepare() {
    use std::sync::atomic::Ordering;
    // Close the gate (one fork at a time), then wait for the sections in flight. A thread
    // that forks from inside a section (it must not) would count itself: allow for it.
    let mine = GATE_DEPTH.with(|d| u32::from(d.get() > 0));
    loop {
        let cur = FORK_GATE.load(Ordering::Acquire);
        if cur & FORKING == 0
            && FORK_GATE
                .compare_exchange_weak(cur, cur | FORKING, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
        {
            break;
        }
        std::thread::yield_now();
    }
    while FORK_GATE.load(Ordering::Acquire) & !FORKING > mine {
        std::thread::yield_now();
    }
}

extern "C" fn on_fork_parent() {
    FORK_GATE.fetch_and(!FORKING, std::sync::atomic::Ordering::Release);
}

/// A counter that increases in a child process each time it is created by `fork`.
///
/// Comparing it with a value saved earlier tells, with one relaxed load, whether the current
/// process is a forked copy of the one that saved it.
pub fn fork_generation() -> u64 {
    ATFORK_ONCE.call_once(|| {
        // SAFETY: the handlers are `extern "C" fn()`s. The child handler only uses atomics
        // and the async-signal-safe calls open, dup3 and close, as is required in the child
        // of a multi-threaded process; prepare and parent run in ordinary context.
        unsafe {
            libc::pthread_atfork(
                Some(on_fork_prepare),
                Some(on_fork_parent),
                Some(on_fork_child),
            );
        }
    });
    FORK_GENERATION.load(std::sync::atomic::Ordering::Relaxed)
}
