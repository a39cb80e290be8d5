//! Offset → reference translation for a store's mapping, with bounds checks. Together with
//! [`crate::sys`], the only place in the crate that contains `unsafe`.
//!
//! Invariants:
//! - shared memory is addressed by `u64` offsets from the start of the store file; an offset
//!   read from shared memory is never trusted: [`Region::get`] and friends check alignment and
//!   that the whole object lies below the store's committed length before making a reference;
//! - references into shared memory are only ever to types implementing [`Shared`] (zerocopy's
//!   `FromBytes` and `KnownLayout`, derived beside each layout): plain integers and their
//!   atomics, and `#[repr(C)]` structs made of them, for which every bit pattern is valid — so a corrupt or concurrently written store cannot produce an invalid
//!   value, only wrong numbers that later checks reject;
//! - byte payloads (keys, values) are copied in and out with [`Region::read_bytes`] and
//!   [`Region::write_bytes`], never borrowed as `&[u8]`, because another process may write
//!   them at any time; callers validate what they copied (seqlock, checksum or lock).
//! - under `cfg(loom)`, inside a model execution, those copies go word by word through loom
//!   shadows of the mapping (`shadow`), so a model sees their races; otherwise they are the
//!   plain copies below.
//!
//! ```
//! use shmkit::{Store, StoreOptions};
//! let name = format!("doc-raw-{}", std::process::id()); // unique to this process
//! let store = Store::create(&name, &StoreOptions::default()).unwrap();
//! assert!(store.committed_len() > 0);
//! Store::remove(&name).unwrap();
//! ```
#![allow(unsafe_code)]

#[cfg(loom)]
pub(crate) mod shadow;

use crate::sys::SharedMapping;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU64, Ordering};
use zerocopy::{FromBytes, KnownLayout};

/// Types that may be viewed in shared memory: a blanket rule, not a list, so this module
/// knows nothing of the layouts above it. A type qualifies when
/// - every bit pattern is a valid value and it holds no pointers or references: zerocopy's
///   `FromBytes`, which its derive proves field by field beside each layout's definition
///   (integers, their atomics, byte arrays and `#[repr(C)]` structs of them);
/// - its size and alignment are known (`KnownLayout`), for the bounds and alignment checks;
/// - it may be shared between threads (`Sync`).
///
/// What zerocopy cannot see is the convention each layout's module states and keeps: a field
/// that changes after its object is published is an atomic; plain fields (the immutable
/// header, a record's bytes behind its length) are written only before publication or
/// copied racily with [`Region::read_bytes`] and validated. The blanket rule also admits
/// plain types (`u64`, byte arrays): viewing one where another process may write is a data
/// race, so [`Region::get`] is called only with the layouts (and their atomics), and the
/// store's raw `get` is a test hook behind the `internals` feature, not public API.
pub trait Shared: FromBytes + KnownLayout + Sync + Sized {}

impl<T: FromBytes + KnownLayout + Sync> Shared for T {}

/// An offset or length that does not lie inside the committed part of the store.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "offset {offset} (+{len} bytes) is outside the store's {committed} committed bytes or misaligned"
)]
pub struct OutOfBounds {
    /// The offending offset.
    pub offset: u64,
    /// The length requested at that offset.
    pub len: u64,
    /// The committed length at the time of the check.
    pub committed: u64,
}

/// The mapped store of one process: a base address, the reserved length, and a source of
/// truth for how much of it is committed (backed by the file).
#[derive(Debug)]
pub struct Region {
    mapping: SharedMapping,
    /// The committed length this process has verified: the shared value as last seen, once
    /// the file was found to be at least that long. Only grows; every bounds check is
    /// against it, so no access touches a page past the end of the file as it was then.
    local_committed: AtomicU64,
    /// Offset of the shared `committed_len` field in the header.
    committed_field: u64,
}

impl Region {
    /// Wraps a mapping. `committed_field` is the offset of the shared committed-length
    /// `AtomicU64` in the header; `initial_committed` must be a length the file is known to
    /// have (at least the header).
    pub fn new(mapping: SharedMapping, committed_field: u64, initial_committed: u64) -> Region {
        let initial = initial_committed.min(mapping.len());
        assert!(committed_field % 8 == 0 && committed_field + 8 <= initial);
        #[cfg(loom)]
        shadow::register_mapping(mapping.base().as_ptr() as usize, mapping.len() as usize);
        Region {
            mapping,
            local_committed: AtomicU64::new(initial),
            committed_field,
        }
    }

    /// The offset of the first page that faulted because the store file shrank under this
    /// process (its content is gone for this process: every operation must fail).
    #[inline]
    pub fn faulted_at(&self) -> Option<u64> {
        self.mapping.faulted_at()
    }

    fn shared_committed(&self) -> &AtomicU64 {
        // SAFETY: `committed_field` was checked in `new` to be 8-aligned and inside the
        // initial committed length, which never shrinks; the base is page aligned, so the
        // address is aligned for AtomicU64, and the bytes are backed by the file.
        unsafe {
            &*(self
                .mapping
                .base()
                .as_ptr()
                .add(self.committed_field as usize) as *const AtomicU64)
        }
    }

    /// The store's committed length as published by the last growth (acquire load), once
    /// verified: a shared value beyond the file's length (a stray or hostile write; a growth
    /// publishes only after the file was extended) is not accepted, and this stays at the
    /// last verified length, so accesses past it fail their bounds check instead of raising
    /// SIGBUS. The `fstat` is paid only when the shared value moved (growth is rare).
    pub fn committed_len(&self) -> u64 {
        let shared = self
            .shared_committed()
            .load(Ordering::Acquire)
            .min(self.mapping.len());
        let local = self.local_committed.load(Ordering::Relaxed);
        if shared <= local {
            return local;
        }
        self.verify_committed(shared)
    }

    #[cold]
    fn verify_committed(&self, shared: u64) -> u64 {
        match self.mapping.file_len() {
            Ok(file_len) if file_len >= shared => {
                self.local_committed.fetch_max(shared, Ordering::Relaxed);
                shared
            }
            _ => self.local_committed.load(Ordering::Relaxed),
        }
    }

    /// Publishes a new committed length after the file has been grown to at least `len`.
    pub fn publish_committed(&self, len: u64) {
        let len = len.min(self.mapping.len());
        self.shared_committed().fetch_max(len, Ordering::Release);
        self.local_committed.fetch_max(len, Ordering::Relaxed);
    }

    /// Checks that `[offset, offset + len)` lies inside the committed store, without touching
    /// it: for sizing a buffer from a length read in shared memory before copying.
    #[inline]
    pub fn check_range(&self, offset: u64, len: u64) -> Result<(), OutOfBounds> {
        self.check(offset, len, 1)
    }

    #[inline]
    fn check(&self, offset: u64, len: u64, align: u64) -> Result<(), OutOfBounds> {
        let end = offset.checked_add(len);
        let ok_align = offset % align == 0;
        if let Some(end) = end {
            if ok_align && end <= self.local_committed.load(Ordering::Relaxed) {
                return Ok(());
            }
            if ok_align && end <= self.committed_len() {
                return Ok(());
            }
        }
        Err(OutOfBounds {
            offset,
            len,
            committed: self.local_committed.load(Ordering::Relaxed),
        })
    }

    /// A reference to the `T` at `offset`, after checking alignment and bounds.
    #[inline]
    pub fn get<T: Shared>(&self, offset: u64) -> Result<&T, OutOfBounds> {
        self.check(offset, size_of::<T>() as u64, align_of::<T>() as u64)?;
        // SAFETY: `check` proved `[offset, offset + size_of T)` lies inside the committed
        // (file-backed) part of the mapping and is aligned for `T`; the base is page aligned.
        // `T: Shared` (zerocopy's `FromBytes`) makes every bit pattern valid, and the layouts
        // change only through atomics once published (the convention `Shared` states), so a
        // shared reference is sound even while other processes write. The reference borrows
        // `self`, so it cannot outlive the mapping; the committed length never shrinks.
        Ok(unsafe { &*(self.mapping.base().as_ptr().add(offset as usize) as *const T) })
    }

    /// A slice of `count` consecutive `T`s starting at `offset`, bounds-checked.
    pub fn get_slice<T: Shared>(&self, offset: u64, count: u64) -> Result<&[T], OutOfBounds> {
        let len = count
            .checked_mul(size_of::<T>() as u64)
            .ok_or(OutOfBounds {
                offset,
                len: u64::MAX,
                committed: 0,
            })?;
        self.check(offset, len, align_of::<T>() as u64)?;
        // SAFETY: as in `get`, for `count` elements.
        Ok(unsafe {
            std::slice::from_raw_parts(
                self.mapping.base().as_ptr().add(offset as usize) as *const T,
                count as usize,
            )
        })
    }

    /// Copies `out.len()` bytes starting at `offset` into `out`. Other processes may be
    /// writing the same bytes: the copy may be torn, and the caller must validate it.
    #[inline]
    pub fn read_bytes(&self, offset: u64, out: &mut [u8]) -> Result<(), OutOfBounds> {
        self.check(offset, out.len() as u64, 1)?;
        #[cfg(loom)]
        if shadow::copies_routed(self.addr(offset), out.len(), false) {
            shadow::read_bytes(self.addr(offset), out);
            return Ok(());
        }
        // SAFETY: the source range is inside the committed mapping (checked above); `out` is
        // a distinct, writable buffer of the same length. A concurrent writer can only make
        // the bytes wrong, never invalid (u8 has no invalid values); callers validate.
        unsafe {
            std::ptr::copy_nonoverlapping(
                self.mapping.base().as_ptr().add(offset as usize),
                out.as_mut_ptr(),
                out.len(),
            );
        }
        Ok(())
    }

    /// Compares the bytes at `offset` with `expected` (racy, like [`Region::read_bytes`]).
    #[inline]
    pub fn bytes_equal(&self, offset: u64, expected: &[u8]) -> Result<bool, OutOfBounds> {
        self.check(offset, expected.len() as u64, 1)?;
        #[cfg(loom)]
        if shadow::copies_routed(self.addr(offset), expected.len(), false) {
            return Ok(shadow::bytes_equal(self.addr(offset), expected));
        }
        // SAFETY: the range is committed (checked above). The bytes are viewed through a
        // raw-pointer slice only for the comparison and not kept; a concurrent writer can make
        // the answer wrong (callers validate with a seqlock), never undefined for plain u8.
        let found = unsafe {
            std::slice::from_raw_parts(
                self.mapping.base().as_ptr().add(offset as usize),
                expected.len(),
            )
        };
        Ok(found == expected)
    }

    /// Copies `data` into shared memory at `offset`. Callers write only memory they own
    /// (freshly allocated and unpublished, or under the lock that guards it).
    #[inline]
    pub fn write_bytes(&self, offset: u64, data: &[u8]) -> Result<(), OutOfBounds> {
        self.check(offset, data.len() as u64, 1)?;
        #[cfg(loom)]
        if shadow::copies_routed(self.addr(offset), data.len(), true) {
            shadow::write_bytes(self.addr(offset), data);
            return Ok(());
        }
        // SAFETY: the destination range is inside the committed, writable mapping (checked
        // above) and cannot overlap `data`, which is process-private memory.
        unsafe {
            std::ptr::copy_nonoverlapping(
                data.as_ptr(),
                self.mapping.base().as_ptr().add(offset as usize),
                data.len(),
            );
        }
        Ok(())
    }

    /// Fills `len` bytes at `offset` with `value`.
    pub fn fill_bytes(&self, offset: u64, len: u64, value: u8) -> Result<(), OutOfBounds> {
        self.check(offset, len, 1)?;
        #[cfg(loom)]
        if shadow::copies_routed(self.addr(offset), len as usize, true) {
            shadow::fill_bytes(self.addr(offset), len as usize, value);
            return Ok(());
        }
        // SAFETY: the destination range is inside the committed, writable mapping.
        unsafe {
            std::ptr::write_bytes(
                self.mapping.base().as_ptr().add(offset as usize),
                value,
                len as usize,
            );
        }
        Ok(())
    }

    /// The address in this process of `[offset, offset + len)`, after checking that it lies
    /// inside the committed store: for front ends that hand shared memory to foreign code (a
    /// NumPy array, a C pointer). Nothing is read or written here; the address stays valid
    /// while this region lives (the mapping never moves).
    pub fn address(&self, offset: u64, len: u64) -> Result<NonNull<u8>, OutOfBounds> {
        self.check(offset, len, 1)?;
        // SAFETY: `check` proved `offset` lies inside the mapping (at most at its end), so
        // the result is inside (or one past) the same allocation and is not null.
        Ok(unsafe { NonNull::new_unchecked(self.mapping.base().as_ptr().add(offset as usize)) })
    }

    /// Asks the CPU to start loading the cache line at `offset` (a hint: nothing is read,
    /// and an offset outside the committed length is ignored). Batched lookups issue these
    /// for several keys before reading any, so the cache misses overlap.
    #[inline]
    pub fn prefetch(&self, offset: u64) {
        if self.check(offset, 1, 1).is_err() {
            return;
        }
        #[cfg(all(target_arch = "x86_64", not(loom)))]
        {
            use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
            let p = self.mapping.base().as_ptr().wrapping_add(offset as usize);
            // SAFETY: `_mm_prefetch` needs only SSE, which every x86_64 CPU has (it is in
            // the target's baseline). It never dereferences `p` in the language's sense: a
            // prefetch cannot fault and has no effect a program can observe besides timing.
            // (`p` is inside the committed mapping anyway, checked above.)
            unsafe { _mm_prefetch::<_MM_HINT_T0>(p as *const i8) };
        }
    }

    /// The address of `offset` in this process (for the shadow memory of loom builds).
    #[cfg(loom)]
    fn addr(&self, offset: u64) -> usize {
        self.mapping.base().as_ptr() as usize + offset as usize
    }
}

#[cfg(loom)]
impl Drop for Region {
    fn drop(&mut self) {
        shadow::unregister_mapping(self.mapping.base().as_ptr() as usize);
    }
}
