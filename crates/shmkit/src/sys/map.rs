//! Reserving a large shared mapping of a store file once per process.

use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::ptr::NonNull;

/// A `MAP_SHARED | MAP_NORESERVE` mapping of a file, unmapped on drop.
///
/// The mapping may be far longer than the file: pages past the end of the file must not be
/// touched (that raises SIGBUS), which [`crate::raw::Region`] enforces with bounds checks
/// against the store's committed length, itself checked against [`SharedMapping::file_len`]
/// before it is trusted.
///
/// It keeps a duplicate of the descriptor it was made from, to ask the file's length. That
/// open file description is the mapped one, which the mapping keeps alive anyway (also in
/// forked children); no lock is ever taken on it.
#[derive(Debug)]
pub struct SharedMapping {
    base: NonNull<u8>,
    len: usize,
    file: OwnedFd,
    /// Its entry in the SIGBUS table (see [`super::fault`]); taken out before unmapping.
    fault: Option<super::fault::Registration>,
}

// SAFETY: the mapping is plain shared memory; all access to it goes through `raw::Region`,
// which hands out only atomics and racy byte copies, so it may be used from any thread.
unsafe impl Send for SharedMapping {}
// SAFETY: as above.
unsafe impl Sync for SharedMapping {}

impl SharedMapping {
    /// Maps `len` bytes of `fd` from offset 0, read-write (or read-only), shared, without
    /// reserving swap.
    pub fn new(fd: &OwnedFd, len: u64, writable: bool) -> io::Result<SharedMapping> {
        let len = usize::try_from(len)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "mapping too large"))?;
        let file = fd.try_clone()?;
        if len == 0 {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "empty mapping"));
        }
        let prot = if writable {
            libc::PROT_READ | libc::PROT_WRITE
        } else {
            libc::PROT_READ
        };
        // SAFETY: a fresh mapping at a kernel-chosen address; no existing memory is affected.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                prot,
                libc::MAP_SHARED | libc::MAP_NORESERVE,
                fd.as_raw_fd(),
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let base =
            NonNull::new(ptr.cast::<u8>()).ok_or_else(|| io::Error::other("mmap returned null"))?;
        let fault = Some(super::fault::register(base.as_ptr() as usize, len));
        Ok(SharedMapping {
            base,
            len,
            file,
            fault,
        })
    }

    /// The offset of the first page of this mapping that faulted because the file shrank
    /// under it (see [`super::fault`]); `None` while the file is whole.
    pub fn faulted_at(&self) -> Option<u64> {
        self.fault.as_ref().and_then(super::fault::fault_offset)
    }

    /// The current length of the mapped file (`fstat`): pages below it may be touched.
    pub fn file_len(&self) -> io::Result<u64> {
        super::fstat(&self.file).map(|st| st.len)
    }

    /// First byte of the mapping.
    pub fn base(&self) -> NonNull<u8> {
        self.base
    }

    /// Length of the reserved range in bytes.
    pub fn len(&self) -> u64 {
        self.len as u64
    }

    /// True if the mapping is empty (never, by construction).
    #[cfg(any(test, feature = "internals"))]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl Drop for SharedMapping {
    fn drop(&mut self) {
        // No longer ours to patch once it is gone: unregister first.
        drop(self.fault.take());
        // SAFETY: `base`/`len` describe a mapping created by `new` and not yet unmapped;
        // no reference into it outlives the owning `Region` (it borrows from it).
        unsafe {
            libc::munmap(self.base.as_ptr().cast(), self.len);
        }
    }
}
