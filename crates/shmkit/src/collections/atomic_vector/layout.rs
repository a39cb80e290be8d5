//! The shared layout of an atomic vector (a wire format: `#[repr(C)]`, fixed-width atomics
//! only).
//!
//! ```text
//! root block:     VecRoot (384 bytes): header (64 bytes), then SEGMENTS segment offsets
//! segment block:  padding to 64, then 2^(base_shift + i) elements of 8 bytes (segment i)
//! ```
//!
//! Invariants:
//! - segment `i` holds `2^(base_shift + i)` elements; element `index` is in segment
//!   `floor(log2(index + 2^base_shift)) - base_shift` ([`locate`]), so the first `k`
//!   segments hold [`capacity`]`(base_shift, k)` elements and an element's address never
//!   changes once its segment is published;
//! - published segments are a prefix of `segments` (nonzero offsets, then zeros); a segment
//!   is zero-filled before its offset is published (one release store), and `len` is raised
//!   (one release store) only after every segment it covers is published;
//! - `len` only grows, and an element at an index `>= len` is never written, so an element
//!   that `expand` brings into range reads 0;
//! - the element storage of a segment starts at its block offset rounded up to 64
//!   ([`segment_data`]), so elements are 8-aligned and never straddle a cache line.
//!
//! ```
//! use shmkit::collections::atomic_vector::layout::{capacity, locate};
//! // Base 8: segment 0 holds elements 0..8, segment 1 8..24, segment 2 24..56.
//! assert_eq!(locate(3, 0), (0, 0));
//! assert_eq!(locate(3, 7), (0, 7));
//! assert_eq!(locate(3, 8), (1, 0));
//! assert_eq!(locate(3, 23), (1, 15));
//! assert_eq!(locate(3, 24), (2, 0));
//! assert_eq!(capacity(3, 3), 56);
//! ```

use crate::sync::RobustMutex;
use crate::sync::atomic::{AtomicU32, AtomicU64};
use zerocopy::{FromBytes, KnownLayout};

/// `VecRoot::magic`.
pub const VEC_MAGIC: u64 = u64::from_le_bytes(*b"SHMKVEC\0");
/// Layout version this build reads and writes.
pub const VEC_VERSION: u32 = 1;
/// Entries of the segment table.
pub const SEGMENTS: usize = 40;
/// Smallest `base_shift`: segment 0 holds at least 8 elements (one cache line).
pub const MIN_BASE_SHIFT: u32 = 3;
/// Longest vector (elements): 2^40, 8 TiB of elements.
pub const MAX_LEN: u64 = 1 << 40;
/// Alignment of a segment's element storage.
pub const SEGMENT_ALIGN: u64 = 64;
/// Bytes of one element.
pub const ELEMENT_BYTES: u64 = 8;
/// Bytes of [`VecRoot`].
pub const ROOT_LEN: u64 = 384;

/// The segment and the position in it of element `index` (`index < MAX_LEN`,
/// `base_shift <= 40`).
#[inline]
pub const fn locate(base_shift: u32, index: u64) -> (usize, u64) {
    let x = index + (1 << base_shift);
    let top = 63 - x.leading_zeros();
    ((top - base_shift) as usize, x - (1 << top))
}

/// Elements in segment `segment` (`base_shift + segment < 64`; see [`max_segments`]).
#[inline]
pub const fn segment_len(base_shift: u32, segment: usize) -> u64 {
    1 << (base_shift + segment as u32)
}

/// Segments a vector of [`MAX_LEN`] elements uses: entries of the table past them are never
/// published (a nonzero one is damage).
#[inline]
pub const fn max_segments(base_shift: u32) -> usize {
    locate(base_shift, MAX_LEN - 1).0 + 1
}

/// Elements in the first `segments` segments (saturating).
#[inline]
pub const fn capacity(base_shift: u32, segments: usize) -> u64 {
    let total = base_shift + segments as u32;
    if total >= 64 {
        return u64::MAX;
    }
    (1u64 << total) - (1u64 << base_shift)
}

/// Bytes to allocate for segment `segment`: its elements plus room to align them to 64
/// (allocator payloads are 16-aligned). `None` if that overflows (only for a segment past
/// [`max_segments`], which a damaged table can name).
#[inline]
pub const fn segment_block_len(base_shift: u32, segment: usize) -> Option<u64> {
    let Some(elements) = 1u64.checked_shl(base_shift + segment as u32) else {
        return None;
    };
    let Some(bytes) = elements.checked_mul(ELEMENT_BYTES) else {
        return None;
    };
    bytes.checked_add(SEGMENT_ALIGN - 16)
}

/// Offset of the first element of the segment whose block is at `block` (`None` if rounding
/// up overflows: a damaged offset).
#[inline]
pub const fn segment_data(block: u64) -> Option<u64> {
    block.checked_next_multiple_of(SEGMENT_ALIGN)
}

/// The `base_shift` of a vector created with `len` elements: segment 0 holds `len` rounded
/// up to a power of two, at least 8.
pub fn base_shift_for(len: u64) -> u32 {
    len.max(1)
        .next_power_of_two()
        .trailing_zeros()
        .max(MIN_BASE_SHIFT)
}

/// The root block of an atomic vector (384 bytes). `magic`, `version`, `base_shift` and
/// `created_unix_ns` are written once before the vector is published.
#[repr(C)]
#[derive(Debug, FromBytes, KnownLayout)]
pub struct VecRoot {
    /// [`VEC_MAGIC`].
    pub magic: AtomicU64,
    /// [`VEC_VERSION`].
    pub version: AtomicU32,
    /// Segment 0 holds `2^base_shift` elements ([`MIN_BASE_SHIFT`]`..=40`).
    pub base_shift: AtomicU32,
    /// Elements in use (only grows; raised by `expand` after its segments are published).
    pub len: AtomicU64,
    /// Serialises `expand` (robust; nothing to repair after a dead holder).
    pub expand_lock: RobustMutex,
    /// Processes sleeping in `wait` right now (a hint: writers wake waiters when nonzero).
    pub waiters: AtomicU64,
    /// Creation time, ns since the Unix epoch.
    pub created_unix_ns: AtomicU64,
    /// `expand` calls that grew the vector.
    pub expands: AtomicU64,
    /// Reserved, zero.
    pub _reserved: AtomicU64,
    /// Block offset of each segment, 0 while unpublished (a prefix is published).
    pub segments: [AtomicU64; SEGMENTS],
}

const _: () = assert!(size_of::<VecRoot>() as u64 == ROOT_LEN);
const _: () = assert!(std::mem::offset_of!(VecRoot, len) == 16);
const _: () = assert!(std::mem::offset_of!(VecRoot, expand_lock) == 24);
const _: () = assert!(std::mem::offset_of!(VecRoot, waiters) == 32);
const _: () = assert!(std::mem::offset_of!(VecRoot, expands) == 48);
const _: () = assert!(std::mem::offset_of!(VecRoot, segments) == 64);
// The largest vector fits in the segment table with the smallest base.
const _: () = assert!(capacity(MIN_BASE_SHIFT, SEGMENTS) >= MAX_LEN);
const _: () = assert!(max_segments(MIN_BASE_SHIFT) <= SEGMENTS);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locate_agrees_with_a_walk_over_the_segments() {
        for shift in [3u32, 4, 10] {
            let mut index = 0u64;
            for segment in 0..6 {
                for pos in 0..segment_len(shift, segment) {
                    assert_eq!(locate(shift, index), (segment, pos));
                    index += 1;
                }
                assert_eq!(capacity(shift, segment + 1), index);
            }
        }
        assert_eq!(locate(3, MAX_LEN - 1).0, 37);
        assert_eq!(locate(40, MAX_LEN - 1), (0, MAX_LEN - 1));
    }

    #[test]
    fn base_shift_rounds_up_to_a_power_of_two_of_at_least_8() {
        assert_eq!(base_shift_for(0), 3);
        assert_eq!(base_shift_for(8), 3);
        assert_eq!(base_shift_for(9), 4);
        assert_eq!(base_shift_for(MAX_LEN), 40);
        assert_eq!(segment_data(4096 + 16), Some(4096 + 64));
        assert_eq!(segment_data(u64::MAX - 8), None);
        assert!(segment_block_len(3, 0).unwrap() >= 64 + (segment_data(16).unwrap() - 16));
        assert_eq!(max_segments(3), 38);
        assert_eq!(max_segments(40), 1);
        assert!(segment_block_len(3, max_segments(3) - 1).is_some());
        assert_eq!(segment_block_len(3, 58), None);
        assert_eq!(segment_block_len(40, 39), None);
    }
}
