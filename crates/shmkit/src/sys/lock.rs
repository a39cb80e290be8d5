//! Open-file-description byte-range locks (`F_OFD_SETLK` / `F_OFD_GETLK`).
//!
//! shmkit uses one byte per lock: byte 0 is held shared by every attached process, and byte
//! `1 + slot` is held exclusively by the process in registry slot `slot`. The kernel drops
//! them when the process dies, which is how liveness is told without trusting PIDs.

use std::io;
use std::os::fd::{AsRawFd, OwnedFd};

/// Kind of byte lock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ByteLock {
    /// Shared lock.
    Shared,
    /// Exclusive lock.
    Exclusive,
    /// Release.
    Unlock,
}

fn flock_for(byte: u64, kind: ByteLock) -> libc::flock {
    // SAFETY: `flock` is a plain C struct for which all-zero is a valid value.
    let mut fl: libc::flock = unsafe { std::mem::zeroed() };
    fl.l_type = match kind {
        ByteLock::Shared => libc::F_RDLCK,
        ByteLock::Exclusive => libc::F_WRLCK,
        ByteLock::Unlock => libc::F_UNLCK,
    } as libc::c_short;
    fl.l_whence = libc::SEEK_SET as libc::c_short;
    fl.l_start = byte as libc::off_t;
    fl.l_len = 1;
    fl.l_pid = 0; // must be 0 for OFD locks
    fl
}

/// Takes (or releases) a lock on one byte without waiting. Returns `Ok(false)` when another
/// open file description holds a conflicting lock.
pub fn try_lock_byte(fd: &OwnedFd, byte: u64, kind: ByteLock) -> io::Result<bool> {
    let mut fl = flock_for(byte, kind);
    loop {
        // SAFETY: `fl` is a valid flock for the duration of the call; the fd is valid.
        let ret = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_OFD_SETLK, &mut fl) };
        if ret == 0 {
            return Ok(true);
        }
        let err = io::Error::last_os_error();
        match err.raw_os_error() {
            Some(libc::EAGAIN) | Some(libc::EACCES) => return Ok(false),
            Some(libc::EINTR) => continue,
            _ => return Err(err),
        }
    }
}

/// True when another open file description holds a lock on `byte` that conflicts with
/// `kind`. Locks held through `fd` itself never count.
pub fn byte_is_locked_by_other(fd: &OwnedFd, byte: u64, kind: ByteLock) -> io::Result<bool> {
    let mut fl = flock_for(byte, kind);
    // SAFETY: `fl` is a valid flock for the duration of the call; the fd is valid.
    let ret = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_OFD_GETLK, &mut fl) };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(fl.l_type != libc::F_UNLCK as libc::c_short)
}
