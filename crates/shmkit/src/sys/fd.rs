//! File operations on store files: open, stat, grow, link, read.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

fn cstring(path: &Path) -> io::Result<CString> {
    CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path contains a NUL byte"))
}

fn check(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// How [`open_file`] opens a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpenMode {
    /// Open an existing file for reading and writing.
    Existing,
    /// Create a new file; fail with `AlreadyExists` if the name is taken.
    CreateNew,
    /// Open an existing file read-only (inspection tools).
    ReadOnly,
}

/// Opens `path` with `O_CLOEXEC` (and `O_NOFOLLOW` on the last component, so a symlink
/// planted in a shared directory cannot redirect a store), and `O_NONBLOCK`, so that a FIFO
/// planted under a store's name cannot make the open wait for ever (it has no effect on the
/// regular files stores are; callers refuse anything else after `fstat`).
pub fn open_file(path: &Path, mode: OpenMode, create_mode: u32) -> io::Result<OwnedFd> {
    let c = cstring(path)?;
    let flags = libc::O_CLOEXEC
        | libc::O_NOFOLLOW
        | libc::O_NONBLOCK
        | match mode {
            OpenMode::Existing => libc::O_RDWR,
            OpenMode::CreateNew => libc::O_RDWR | libc::O_CREAT | libc::O_EXCL,
            OpenMode::ReadOnly => libc::O_RDONLY,
        };
    // SAFETY: `c` is a valid NUL-terminated string that outlives the call.
    let fd = check(unsafe { libc::open(c.as_ptr(), flags, create_mode as libc::c_uint) })?;
    // SAFETY: `fd` was just returned by open and is owned by no one else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// What [`fstat`] reports about an open file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileStat {
    /// Device id.
    pub dev: u64,
    /// Inode number.
    pub ino: u64,
    /// Length in bytes.
    pub len: u64,
    /// Permission bits and file type.
    pub mode: u32,
    /// Owner user id.
    pub uid: u32,
    /// Bytes actually allocated on the file system.
    pub allocated: u64,
    /// True for a regular file.
    pub is_file: bool,
}

/// `fstat` of an open descriptor.
pub fn fstat(fd: &OwnedFd) -> io::Result<FileStat> {
    let mut st = std::mem::MaybeUninit::<libc::stat>::zeroed();
    // SAFETY: `st` points to writable memory of the right type; the fd is valid.
    check(unsafe { libc::fstat(fd.as_raw_fd(), st.as_mut_ptr()) })?;
    // SAFETY: fstat succeeded and initialised the structure (it was zeroed beforehand too).
    let st = unsafe { st.assume_init() };
    Ok(FileStat {
        dev: st.st_dev,
        ino: st.st_ino,
        len: st.st_size as u64,
        mode: st.st_mode,
        uid: st.st_uid,
        allocated: (st.st_blocks as u64) * 512,
        is_file: (st.st_mode & libc::S_IFMT) == libc::S_IFREG,
    })
}

/// Sets the permission bits of an open file exactly (the umask does not apply).
pub fn fchmod(fd: &OwnedFd, mode: u32) -> io::Result<()> {
    // SAFETY: plain system call on a valid descriptor.
    check(unsafe { libc::fchmod(fd.as_raw_fd(), mode as libc::mode_t) })?;
    Ok(())
}

/// Allocates file space for `[offset, offset + len)`, extending the file if needed.
///
/// Unlike `ftruncate`, this fails with `ENOSPC` now instead of raising SIGBUS later when
/// the pages are first touched.
pub fn fallocate(fd: &OwnedFd, offset: u64, len: u64) -> io::Result<()> {
    loop {
        // SAFETY: plain system call on a valid descriptor.
        let ret = unsafe { libc::fallocate(fd.as_raw_fd(), 0, offset as i64, len as i64) };
        if ret == 0 {
            return Ok(());
        }
        let err = io::Error::last_os_error();
        if err.kind() == io::ErrorKind::Interrupted {
            continue;
        }
        return Err(err);
    }
}

/// Bytes available to unprivileged users on the file system holding `fd`.
pub fn available_space(fd: &OwnedFd) -> io::Result<u64> {
    let mut st = std::mem::MaybeUninit::<libc::statvfs>::zeroed();
    // SAFETY: `st` is writable memory of the right type; the fd is valid.
    check(unsafe { libc::fstatvfs(fd.as_raw_fd(), st.as_mut_ptr()) })?;
    // SAFETY: fstatvfs succeeded and initialised the structure.
    let st = unsafe { st.assume_init() };
    Ok(st.f_bavail.saturating_mul(st.f_frsize))
}

/// Reads exactly `buf.len()` bytes at `offset`, or fails with `UnexpectedEof`.
pub fn pread_exact(fd: &OwnedFd, offset: u64, buf: &mut [u8]) -> io::Result<()> {
    use std::os::unix::fs::FileExt;
    let file = std::mem::ManuallyDrop::new(
        // SAFETY: the File is wrapped in ManuallyDrop, so it never closes the borrowed fd.
        unsafe { std::fs::File::from_raw_fd(fd.as_raw_fd()) },
    );
    file.read_exact_at(buf, offset)
}

/// Makes `existing` also reachable as `new` (`link(2)`); fails with `AlreadyExists` if
/// `new` exists. This is the atomic publish step of store creation.
pub fn hard_link(existing: &Path, new: &Path) -> io::Result<()> {
    let a = cstring(existing)?;
    let b = cstring(new)?;
    // SAFETY: both are valid NUL-terminated strings.
    check(unsafe { libc::link(a.as_ptr(), b.as_ptr()) })?;
    Ok(())
}

/// Flushes file data to stable storage (used for stores on disk).
pub fn fdatasync(fd: &OwnedFd) -> io::Result<()> {
    // SAFETY: plain system call on a valid descriptor.
    check(unsafe { libc::fdatasync(fd.as_raw_fd()) })?;
    Ok(())
}

/// Opens a second, independent open file description of the file behind `fd` (through
/// `/proc/self/fd`, so it works even after the name was unlinked).
///
/// shmkit keeps its OFD locks on such a description that is never memory-mapped: a mapping
/// holds a reference to the description it was made from, so locks on that one would outlive
/// the process in any forked child that inherited the mapping.
pub fn reopen(fd: &OwnedFd) -> io::Result<OwnedFd> {
    let path = format!("/proc/self/fd/{}", fd.as_raw_fd());
    let c = CString::new(path).map_err(|_| io::Error::other("fd path"))?;
    // SAFETY: `c` is a valid NUL-terminated string that outlives the call.
    let new = check(unsafe { libc::open(c.as_ptr(), libc::O_RDWR | libc::O_CLOEXEC) })?;
    // SAFETY: `new` was just returned by open and is owned by no one else.
    Ok(unsafe { OwnedFd::from_raw_fd(new) })
}
