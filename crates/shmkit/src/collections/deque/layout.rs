//! The shared layout of a deque (a wire format: `#[repr(C)]`, fixed-width atomics only).
//!
//! ```text
//! root block:  DequeRoot (192 bytes): settings (64), state under the lock (64), counters (64)
//! ring block:  RingHeader (16 bytes), then `capacity` bytes of entries (a power of two)
//! entry:       header (8: length u32, checksum u32), the item, zero pad to 8, footer (= header)
//! ```
//!
//! Invariants:
//! - `head` and `tail` are logical byte positions (8-aligned, starting at [`START_POS`]);
//!   the items are the entries laid end to end in `[head, tail)`, `tail - head <= capacity`,
//!   and position `p` lives at byte `p mod capacity` of the ring's data, so an entry may wrap
//!   around the end (its 8-byte header and footer never do);
//! - an entry is written completely before the position store that makes it part of
//!   `[head, tail)` (`tail` for a push at the back, `head` for one at the front); a pop's
//!   position store is its commit; the ring's offset changes by one store, after the new
//!   ring holds every entry at the same positions. So every published state is a whole
//!   deque, and a dead lock holder leaves only `count`/`bytes` (recomputed by the repair) and
//!   unreachable blocks (freed by the leak sweep) behind;
//! - header and footer hold the item's length and [`entry_checksum`], so a walk from either
//!   end finds entry boundaries and damage is detected instead of returned.
//!
//! ```
//! use shmkit::collections::deque::layout::{entry_len, ENTRY_OVERHEAD};
//! assert_eq!(entry_len(0), ENTRY_OVERHEAD);
//! assert_eq!(entry_len(1), ENTRY_OVERHEAD + 8);
//! assert_eq!(entry_len(64), ENTRY_OVERHEAD + 64);
//! ```

use crate::sync::RobustMutex;
use crate::sync::atomic::{AtomicU32, AtomicU64};
use crate::sync::eventcount::EventCount;
use zerocopy::{FromBytes, KnownLayout};

/// `DequeRoot::magic`.
pub const DEQUE_MAGIC: u64 = u64::from_le_bytes(*b"SHMKDEQ\0");
/// Layout version this build reads and writes.
pub const DEQUE_VERSION: u32 = 1;
/// `RingHeader::magic`.
pub const RING_MAGIC: u64 = u64::from_le_bytes(*b"SHMKRNG\0");
/// Bytes of [`DequeRoot`].
pub const ROOT_LEN: u64 = 192;
/// Bytes of [`RingHeader`] before the ring's data.
pub const RING_HEADER_LEN: u64 = 16;
/// Bytes of an entry besides its item and padding (header and footer).
pub const ENTRY_OVERHEAD: u64 = 16;
/// Longest item.
pub const MAX_ITEM_LEN: u64 = 1 << 30;
/// Smallest ring (bytes of data).
pub const MIN_RING: u64 = 1024;
/// Largest ring (bytes of data).
pub const MAX_RING: u64 = 1 << 46;
/// The position of an empty deque's `head` and `tail` at creation: far from both ends of
/// the `u64` range, so pushes at the front and at the back never wrap it.
pub const START_POS: u64 = 1 << 62;
/// `DequeRoot::overflow`: a push on a full deque waits (or fails).
pub const OVERFLOW_BLOCK: u32 = 0;
/// `DequeRoot::overflow`: a push on a full deque drops the item at the other end.
pub const OVERFLOW_OVERWRITE: u32 = 1;

/// Bytes of the entry holding an item of `item_len` bytes.
#[inline]
pub const fn entry_len(item_len: u64) -> u64 {
    ENTRY_OVERHEAD + item_len.next_multiple_of(8)
}

/// The checksum in an entry's header and footer: the low 32 bits of XXH3-64 of the item
/// (XXH3 mixes in the length, so it covers that too).
#[inline]
pub fn entry_checksum(item: &[u8]) -> u32 {
    xxhash_rust::xxh3::xxh3_64(item) as u32
}

/// An entry's header (and footer) word.
#[inline]
pub const fn frame(item_len: u64, checksum: u32) -> u64 {
    (checksum as u64) << 32 | (item_len & 0xFFFF_FFFF)
}

/// Appends the whole entry of `item` (header, item, zero padding, footer) to `out`: what
/// a batch push frames before it takes the lock.
pub fn append_entry(item: &[u8], out: &mut Vec<u8>) {
    let word = frame(item.len() as u64, entry_checksum(item)).to_le_bytes();
    out.extend_from_slice(&word);
    out.extend_from_slice(item);
    out.resize(out.len() + (item.len().next_multiple_of(8) - item.len()), 0);
    out.extend_from_slice(&word);
}

/// The item length a header word gives.
#[inline]
pub const fn framed_len(word: u64) -> u64 {
    word & 0xFFFF_FFFF
}

/// The checksum a header word gives.
#[inline]
pub const fn framed_checksum(word: u64) -> u32 {
    (word >> 32) as u32
}

/// A deque's root block.
#[repr(C)]
#[derive(Debug, Default, FromBytes, KnownLayout)]
pub struct DequeRoot {
    /// [`DEQUE_MAGIC`] (written last at creation).
    pub magic: AtomicU64,
    /// [`DEQUE_VERSION`].
    pub version: AtomicU32,
    /// [`OVERFLOW_BLOCK`] or [`OVERFLOW_OVERWRITE`].
    pub overflow: AtomicU32,
    /// Most items held at once; 0 for no limit.
    pub maxlen: AtomicU64,
    /// Bytes of data of the first ring (the ring never shrinks below it).
    pub initial_ring: AtomicU64,
    /// Creation time, ns since the Unix epoch.
    pub created_unix_ns: AtomicU64,
    /// Reserved, zero.
    pub _reserved0: [AtomicU64; 3],

    /// Serialises every operation on the items.
    pub lock: RobustMutex,
    /// Bumped when items arrive (pop waiters sleep on it).
    pub not_empty: EventCount,
    /// Bumped when items leave a bounded deque (push waiters sleep on it).
    pub not_full: EventCount,
    /// Offset of the ring block.
    pub ring: AtomicU64,
    /// Position of the first entry.
    pub head: AtomicU64,
    /// Position after the last entry.
    pub tail: AtomicU64,
    /// Items in `[head, tail)` (updated after the position store; recomputed by a repair).
    pub count: AtomicU64,
    /// Sum of the items' lengths (as `count`).
    pub bytes: AtomicU64,

    /// Items pushed over the deque's life.
    pub pushes: AtomicU64,
    /// Items popped over the deque's life.
    pub pops: AtomicU64,
    /// Items dropped by pushes on a full deque created with [`OVERFLOW_OVERWRITE`].
    pub evicted: AtomicU64,
    /// Rings replaced by a larger one.
    pub grows: AtomicU64,
    /// Rings replaced by a smaller one.
    pub shrinks: AtomicU64,
    /// Repairs after a dead lock holder.
    pub recoveries: AtomicU64,
    /// Reserved, zero.
    pub _reserved2: [AtomicU64; 2],
}

const _: () = assert!(size_of::<DequeRoot>() as u64 == ROOT_LEN);
const _: () = assert!(std::mem::offset_of!(DequeRoot, lock) == 64);
const _: () = assert!(std::mem::offset_of!(DequeRoot, pushes) == 128);

/// Header of a ring block.
#[repr(C)]
#[derive(Debug, Default, FromBytes, KnownLayout)]
pub struct RingHeader {
    /// [`RING_MAGIC`].
    pub magic: AtomicU64,
    /// Bytes of data, a power of two in `MIN_RING..=MAX_RING`.
    pub capacity: AtomicU64,
}

const _: () = assert!(size_of::<RingHeader>() as u64 == RING_HEADER_LEN);
