//! The shared layout of an array (a wire format: `#[repr(C)]`, fixed-width atomics only).
//!
//! ```text
//! root block:  ArrayRoot (320 bytes), then the element type's format string (format_len bytes)
//! data block:  padding to 64, then len × itemsize bytes of elements, C order
//! ```
//!
//! Invariants:
//! - everything in the root is written once, before the array's directory entry is
//!   published, and never changed: a process validates it when it opens the array and keeps
//!   its own copy;
//! - `len` is the product of `shape[..ndim]`, `itemsize` is what the format string parses
//!   to, and `len × itemsize` fits in the data block after `data`;
//! - `data` is `data_block` rounded up to 64 ([`DATA_ALIGN`]): element storage starts on a
//!   cache line.
//!
//! ```
//! use shmkit::collections::array::layout::{DATA_ALIGN, MAX_NDIM, ROOT_LEN};
//! assert_eq!((ROOT_LEN, MAX_NDIM, DATA_ALIGN), (320, 32, 64));
//! ```

use crate::sync::atomic::{AtomicU32, AtomicU64};
use zerocopy::{FromBytes, KnownLayout};

/// `ArrayRoot::magic`.
pub const ARRAY_MAGIC: u64 = u64::from_le_bytes(*b"SHMKARR\0");
/// Layout version this build reads and writes.
pub const ARRAY_VERSION: u32 = 1;
/// Most dimensions (NumPy's historical limit).
pub const MAX_NDIM: usize = 32;
/// Alignment of element storage.
pub const DATA_ALIGN: u64 = 64;
/// Bytes of [`ArrayRoot`]; the format string follows.
pub const ROOT_LEN: u64 = 320;

/// The root block of an array.
#[repr(C)]
#[derive(Debug, FromBytes, KnownLayout)]
pub struct ArrayRoot {
    /// [`ARRAY_MAGIC`], stored last when the root is made.
    pub magic: AtomicU64,
    /// [`ARRAY_VERSION`].
    pub version: AtomicU32,
    /// Dimensions used in `shape` (0 for a single element).
    pub ndim: AtomicU32,
    /// Bytes of one element.
    pub itemsize: AtomicU64,
    /// Elements: the product of the shape.
    pub len: AtomicU64,
    /// Offset of element 0 (a multiple of [`DATA_ALIGN`] inside `data_block`).
    pub data: AtomicU64,
    /// The block holding the elements.
    pub data_block: AtomicU64,
    /// Bytes of the format string after the root.
    pub format_len: AtomicU32,
    /// Reserved (0).
    pub flags: AtomicU32,
    /// Creation time, ns since the Unix epoch (diagnostics).
    pub created_unix_ns: AtomicU64,
    /// The shape; entries past `ndim` are 0.
    pub shape: [AtomicU64; MAX_NDIM],
}

const _: () = assert!(size_of::<ArrayRoot>() as u64 == ROOT_LEN);
