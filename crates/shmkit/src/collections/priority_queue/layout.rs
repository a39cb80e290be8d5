//! The shared layout of a priority queue (a wire format: `#[repr(C)]`, fixed-width atomics
//! only).
//!
//! ```text
//! root block:   PqRoot (256 bytes): settings (64), state under the lock (128), counters (64)
//! array block:  ArrayHeader (16 bytes), then `capacity` entries of 24 bytes: the heap
//! entry:        key_prefix u64, seq u64, rec u64
//! record block: RecordHeader (24 bytes: key_len u32, val_len u32, checksum u32, 0 u32,
//!               seq u64), the key, the value
//! ```
//!
//! Invariants (under the queue's lock; see `locked` for the order of the stores):
//! - the items are the records named by the `rec` words of entries `[0, len)`, each once,
//!   and the entries form a [`ARITY`]-ary min-heap by `(key, seq)`: `key_prefix` is the
//!   first 8 key bytes big-endian, zero padded, so comparing prefixes orders keys unless
//!   they tie, and only then are the full keys read from the records;
//! - a record is complete and sealed (its `seq` and checksum written) before an entry names
//!   it and `len` counts it, and is never changed afterwards; `seq` comes from `next_seq`,
//!   so equal keys pop in the order they were pushed (a push with `next_seq` at `u64::MAX`
//!   is refused as damage);
//! - a record's checksum covers its queue's root offset: a record is one of this queue's
//!   only if it is an allocated block large enough for the lengths its header gives and
//!   matches its checksum with this queue's root;
//! - `intent_op != INTENT_NONE` while a push, pop or clear changes the heap: it names the
//!   record moving in or out (`intent_rec`) and the length before (`intent_old_len`), which
//!   is all a repair needs to rebuild the heap after a holder died at any instruction
//!   (`verify::rebuild`).
//!
//! ```
//! use shmkit::collections::priority_queue::layout::{key_prefix, record_len};
//! assert_eq!(key_prefix(b"ab"), u64::from_be_bytes(*b"ab\0\0\0\0\0\0"));
//! assert_eq!(key_prefix(b"0123456789"), u64::from_be_bytes(*b"01234567"));
//! assert_eq!(record_len(3, 5), 24 + 8);
//! ```

use crate::sync::RobustMutex;
use crate::sync::atomic::{AtomicU32, AtomicU64};
use crate::sync::eventcount::EventCount;
use zerocopy::{FromBytes, KnownLayout};

/// `PqRoot::magic`.
pub const PQ_MAGIC: u64 = u64::from_le_bytes(*b"SHMKPQ\0\0");
/// Layout version this build reads and writes (2: record checksums are tied to their queue;
/// a queue of version 1 is refused on open rather than having every record fail its check).
pub const PQ_VERSION: u32 = 2;
/// `ArrayHeader::magic`.
pub const ARRAY_MAGIC: u64 = u64::from_le_bytes(*b"SHMKPQA\0");
/// Bytes of [`PqRoot`].
pub const ROOT_LEN: u64 = 256;
/// Bytes of [`ArrayHeader`] before the entries.
pub const ARRAY_HEADER_LEN: u64 = 16;
/// Bytes of one [`Entry`].
pub const ENTRY_LEN: u64 = 24;
/// Bytes of [`RecordHeader`] before the key.
pub const RECORD_HEADER_LEN: u64 = 24;
/// Longest key (keys are compared under the lock when their first 8 bytes tie).
pub const MAX_KEY_LEN: u64 = 1 << 20;
/// Longest value.
pub const MAX_VALUE_LEN: u64 = 1 << 30;
/// Smallest array (entries).
pub const MIN_CAPACITY: u64 = 16;
/// Largest array (entries).
pub const MAX_CAPACITY: u64 = 1 << 40;
/// Children per heap node.
pub const ARITY: u64 = 4;

/// `PqRoot::intent_op`: no change in progress.
pub const INTENT_NONE: u32 = 0;
/// `PqRoot::intent_op`: pushing `intent_rec`; committed once `len == intent_old_len + 1`.
pub const INTENT_PUSH: u32 = 1;
/// `PqRoot::intent_op`: popping `intent_rec` (the top); committed once
/// `len == intent_old_len - 1`.
pub const INTENT_POP: u32 = 2;
/// `PqRoot::intent_op`: removing every item; committed once `len == 0`.
pub const INTENT_CLEAR: u32 = 3;

/// The first 8 bytes of `key`, zero padded, as a big-endian number: comparing two prefixes
/// orders their keys bytewise, unless the prefixes are equal.
#[inline]
pub fn key_prefix(key: &[u8]) -> u64 {
    let mut b = [0u8; 8];
    let n = key.len().min(8);
    b[..n].copy_from_slice(&key[..n]);
    u64::from_be_bytes(b)
}

/// Bytes of the record of a key and value of these lengths.
#[inline]
pub const fn record_len(key_len: u64, val_len: u64) -> u64 {
    RECORD_HEADER_LEN + key_len + val_len
}

/// XXH3-64 of the value seeded with XXH3-64 of the key seeded with `queue` (the offset of the
/// queue's root block): covers both and both lengths (XXH3 mixes in its input's length), and
/// ties the record to its queue, so a record of another queue never checks as one of this
/// queue's (a stale entry naming a block another queue reused is refused). Computed before
/// the lock is taken.
#[inline]
pub fn content_hash(queue: u64, key: &[u8], value: &[u8]) -> u64 {
    use xxhash_rust::xxh3::xxh3_64_with_seed;
    xxh3_64_with_seed(value, xxh3_64_with_seed(key, queue))
}

/// A record's checksum: [`content_hash`] combined with the record's sequence number (known
/// only under the lock, so sealing costs O(1) there), folded to 32 bits.
#[inline]
pub fn seal(content_hash: u64, seq: u64) -> u32 {
    // splitmix64's finaliser: every bit of `seq` reaches every bit of the checksum.
    let mut z = seq.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    let x = content_hash ^ z ^ (z >> 31);
    (x ^ (x >> 32)) as u32
}

/// A priority queue's root block.
#[repr(C)]
#[derive(Debug, Default, FromBytes, KnownLayout)]
pub struct PqRoot {
    /// [`PQ_MAGIC`] (written last at creation).
    pub magic: AtomicU64,
    /// [`PQ_VERSION`].
    pub version: AtomicU32,
    /// Zero.
    pub flags: AtomicU32,
    /// Most items held at once; 0 for no limit.
    pub maxlen: AtomicU64,
    /// Entries of the first array (the array never shrinks below it).
    pub initial_capacity: AtomicU64,
    /// Creation time, ns since the Unix epoch.
    pub created_unix_ns: AtomicU64,
    /// Reserved, zero.
    pub _reserved0: [AtomicU64; 3],

    /// Serialises every operation on the items.
    pub lock: RobustMutex,
    /// Bumped when items arrive (pop waiters sleep on it).
    pub not_empty: EventCount,
    /// Bumped when items leave a bounded queue (push waiters sleep on it).
    pub not_full: EventCount,
    /// Offset of the array block.
    pub array: AtomicU64,
    /// Entries in the heap: the commit word of every push and pop.
    pub len: AtomicU64,
    /// Sum of the items' key and value lengths (after the commit; recomputed by a repair).
    pub bytes: AtomicU64,
    /// The sequence number of the next push.
    pub next_seq: AtomicU64,
    /// [`INTENT_NONE`], [`INTENT_PUSH`], [`INTENT_POP`] or [`INTENT_CLEAR`].
    pub intent_op: AtomicU32,
    /// Reserved, zero.
    pub _pad: AtomicU32,
    /// The record an intent moves in or out.
    pub intent_rec: AtomicU64,
    /// `len` before the intent's change.
    pub intent_old_len: AtomicU64,
    /// Reserved, zero.
    pub _reserved1: [AtomicU64; 6],

    /// Items pushed over the queue's life.
    pub pushes: AtomicU64,
    /// Items popped over the queue's life (a clear counts its items).
    pub pops: AtomicU64,
    /// Arrays replaced by a larger one.
    pub grows: AtomicU64,
    /// Arrays replaced by a smaller one.
    pub shrinks: AtomicU64,
    /// Heap rebuilds (after a dead lock holder, a change that failed half way, or a
    /// repair that found damage).
    pub recoveries: AtomicU64,
    /// Reserved, zero.
    pub _reserved2: [AtomicU64; 3],
}

const _: () = assert!(size_of::<PqRoot>() as u64 == ROOT_LEN);
const _: () = assert!(std::mem::offset_of!(PqRoot, lock) == 64);
const _: () = assert!(std::mem::offset_of!(PqRoot, len) == 96);
const _: () = assert!(std::mem::offset_of!(PqRoot, intent_op) == 120);
const _: () = assert!(std::mem::offset_of!(PqRoot, intent_rec) == 128);
const _: () = assert!(std::mem::offset_of!(PqRoot, pushes) == 192);

/// Header of an array block.
#[repr(C)]
#[derive(Debug, Default, FromBytes, KnownLayout)]
pub struct ArrayHeader {
    /// [`ARRAY_MAGIC`].
    pub magic: AtomicU64,
    /// Entries the block holds, a power of two in `MIN_CAPACITY..=MAX_CAPACITY`.
    pub capacity: AtomicU64,
}

const _: () = assert!(size_of::<ArrayHeader>() as u64 == ARRAY_HEADER_LEN);

/// One heap entry. Only `rec` is trusted by a repair (each word is stored whole, but an
/// entry being overwritten may mix two entries' words); prefix and seq are recomputed.
#[repr(C)]
#[derive(Debug, Default, FromBytes, KnownLayout)]
pub struct Entry {
    /// [`key_prefix`] of the record's key.
    pub key_prefix: AtomicU64,
    /// The record's sequence number.
    pub seq: AtomicU64,
    /// Offset of the record (an allocator block).
    pub rec: AtomicU64,
}

const _: () = assert!(size_of::<Entry>() as u64 == ENTRY_LEN);

/// The header of a record block, followed by the key and then the value.
#[repr(C)]
#[derive(Debug, Default, FromBytes, KnownLayout)]
pub struct RecordHeader {
    /// Bytes of the key (at most [`MAX_KEY_LEN`]).
    pub key_len: AtomicU32,
    /// Bytes of the value (at most [`MAX_VALUE_LEN`]).
    pub val_len: AtomicU32,
    /// [`seal`]`(`[`content_hash`]`(queue root, key, value), seq)`.
    pub checksum: AtomicU32,
    /// Zero.
    pub reserved: AtomicU32,
    /// The push's sequence number (from `PqRoot::next_seq`).
    pub seq: AtomicU64,
}

const _: () = assert!(size_of::<RecordHeader>() as u64 == RECORD_HEADER_LEN);

#[cfg(test)]
mod tests {
    use super::*;

    /// The checksum as `docs/FORMAT.md` spells it, computed independently.
    fn format_md_checksum(root: u64, key: &[u8], value: &[u8], seq: u64) -> u32 {
        use xxhash_rust::xxh3::xxh3_64_with_seed;
        let mut z = seq.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z ^= z >> 30;
        z = z.wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z ^= z >> 27;
        z = z.wrapping_mul(0x94D0_49BB_1331_11EB);
        let mix = z ^ (z >> 31);
        let x = xxh3_64_with_seed(value, xxh3_64_with_seed(key, root)) ^ mix;
        (x ^ (x >> 32)) as u32
    }

    #[test]
    fn the_checksum_is_the_one_the_format_describes() {
        for (root, key, value, seq) in [
            (0u64, &b""[..], &b""[..], 0u64),
            (4096, b"key", b"value", 1),
            (1 << 40, b"aaaaaaaaaaaa", &[0u8; 100][..], u64::MAX),
        ] {
            assert_eq!(
                seal(content_hash(root, key, value), seq),
                format_md_checksum(root, key, value, seq)
            );
        }
    }

    #[test]
    fn the_checksum_differs_between_queues() {
        let h = |root| seal(content_hash(root, b"key", b"value"), 7);
        assert_ne!(h(4096), h(8192));
        assert_ne!(h(4096), h(4104));
    }

    #[test]
    fn prefixes_order_keys_unless_they_tie() {
        let keys: [&[u8]; 6] = [b"", b"\0", b"a", b"a\0", b"ab", b"abcdefghZ"];
        for w in keys.windows(2) {
            assert!(key_prefix(w[0]) <= key_prefix(w[1]), "{w:?}");
        }
        // Ties: a key and the same key with zero bytes appended; keys equal in 8 bytes.
        assert_eq!(key_prefix(b"a"), key_prefix(b"a\0"));
        assert_eq!(key_prefix(b"abcdefghZ"), key_prefix(b"abcdefghA"));
    }
}
