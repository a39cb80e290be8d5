//! The shared layout of a hash map (a wire format: `#[repr(C)]`, fixed-width atomics only).
//!
//! ```text
//! root block:   MapRoot (64 bytes) .. pad to 128 .. shard_count × Line<ShardHeader> (128 each)
//! table block:  TableHeader (16 bytes), then `buckets / 16` × Group (272 bytes each: 16
//!               control bytes as two u64 words, then 16 × Slot of 16 bytes)
//! record block: RecordHeader (16 bytes), key, zero pad to 8, value
//! cell block:   CellTableHeader (64 bytes), padding to 64, then `capacity` × Cell (64 bytes each)
//! fixed-size maps only (layout version 5):
//! slab block:   SlabHeader (64 bytes), then MAX_SLAB_CHUNKS chunk offsets (8 bytes each)
//! chunk block:  SlabChunkHeader (16 bytes: naming its slab and index), then
//!               `first_capacity << i` fixed records of `stride` bytes (chunk i of the slab)
//! fixed record: reserved u32 (0), checksum u32, key, zero pad to 8, value, zero pad to 8;
//!               while free: the next free record's offset in its first 8 bytes
//! ```
//!
//! Invariants:
//! - a slot's `tag` is [`EMPTY`], [`TOMBSTONE`], [`tag_of`] the hash of the key its record
//!   holds, or that key's [`handled_tag`]; a live slot's `rec` is the offset of an immutable
//!   record block (only the 8-byte
//!   value of a counter is ever changed in place, atomically); a non-live slot's `rec` is 0;
//! - a record is never changed after it is published (except that counter value and its
//!   checksum, both rewritten with the shard's sequence odd and the shard's
//!   `counter_intent` naming the record); a new value is a new record, published by one
//!   atomic store of `rec`;
//! - a record's `checksum` is [`record_checksum`] of its key's hash and its value, so a value
//!   that a stray write changed is noticed by readers and `verify` instead of returned;
//! - a key with a handle has a **handled tag** ([`handled_tag`]): [`HANDLED_BIT`] set, its
//!   **handle cell**'s index in bits 39..62, and only the hash's low 39 bits (home bucket and
//!   control byte); other tags never have [`HANDLED_BIT`] set. The slot's `rec` is the record
//!   either way, and the live cell's `rec` is the same record (a writer stores the slot's
//!   first, the cell's second; a repair copies the slot's into the cell). A cell is named by
//!   exactly one live slot while its state is live; its generation changes in the same store
//!   that frees it, so a handle naming an older generation never reads the cell's next key;
//! - slot `i` is slot `i % 16` of group `i / 16`; its **control byte** (byte `i % 8`, least
//!   significant first, of control word `(i % 16) / 8` of its group) is derived from its tag: [`CTRL_EMPTY`], [`CTRL_TOMBSTONE`], or [`ctrl_of`] the
//!   key's hash for a live slot. Written with the tag, under the lock with the sequence odd;
//!   a repair recomputes them all. Probes scan the control bytes and read a slot only where
//!   the byte matches: a miss usually reads one 16-byte group header and no slot; a group's
//!   bytes and slots share a page (and often a line), so a hit costs no extra page walk;
//! - keys are found by linear probing from `hash & (buckets - 1)`; the shard is chosen by
//!   bits 48.. of the hash, so bucket and shard bits are independent.
//!
//! ```
//! use shmkit::collections::hash_map::layout::{record_len, value_offset};
//! assert_eq!(record_len(3, 5), 16 + 8 + 5);
//! assert_eq!(value_offset(1024, 3), 1024 + 16 + 8);
//! ```
//!
//! The record checksum binds a value to its key (through the key's hash):
//!
//! ```
//! use shmkit::collections::hash_map::layout::record_checksum;
//! assert_ne!(record_checksum(1, b"value"), record_checksum(1, b"valuf"));
//! assert_ne!(record_checksum(1, b"value"), record_checksum(2, b"value"));
//! ```

use crate::store::header::Line;
use crate::sync::atomic::{AtomicU32, AtomicU64};
use crate::sync::{RobustMutex, SeqLock};
use zerocopy::{FromBytes, KnownLayout};

/// `MapRoot::magic`.
pub const MAP_MAGIC: u64 = u64::from_le_bytes(*b"SHMKMAP\0");
/// Layout version of a map with keys and values of any size, which this build reads and
/// writes (4: a key's handle cell is named by its slot's tag, and plain tags have bit 62
/// clear; version 3 named it in the slot's `rec`).
pub const MAP_VERSION: u32 = 4;
/// Layout version of a fixed-size map: version 4, except that records have no length
/// fields (every key and every value has the size `MapRoot` records) and live in per-shard
/// slabs ([`SlabHeader`]) instead of allocator blocks of their own. A build that reads only
/// version 4 refuses such a map instead of misreading its records.
pub const MAP_VERSION_FIXED: u32 = 5;
/// `TableHeader::magic`.
pub const TABLE_MAGIC: u32 = 0x7AB1_E5E7;
/// Tag of a never-used slot (ends a probe sequence).
pub const EMPTY: u64 = 0;
/// Tag of a slot whose entry was removed (probe sequences continue past it).
pub const TOMBSTONE: u64 = 1;
/// Set in the tag of every live slot.
pub const LIVE_BIT: u64 = 1 << 63;
/// Bytes of [`TableHeader`] before the first slot.
pub const TABLE_HEADER_LEN: u64 = 16;
/// Bytes of [`RecordHeader`] before the key.
pub const RECORD_HEADER_LEN: u64 = 16;
/// Bytes of one shard header.
pub const SHARD_STRIDE: u64 = 128;
/// Bytes of [`MapRoot`].
pub const ROOT_LEN: u64 = 64;
/// Largest shard count.
pub const MAX_SHARDS: u32 = 1 << 16;
/// Shard count when the options say 0.
pub const DEFAULT_SHARDS: u32 = 64;
/// Most blocks a shard keeps on its spare-record list.
pub const SPARE_LIMIT: u64 = 8;
/// Largest record block (capacity) a shard keeps as a spare.
pub const SPARE_MAX_BYTES: u64 = 512;
/// Smallest table (buckets per shard).
pub const MIN_BUCKETS: u64 = 16;

/// Set in the tag of a live slot whose key has a handle cell (see [`handled_tag`]).
pub const HANDLED_BIT: u64 = 1 << 62;
/// First bit of the cell index in a handled tag.
pub const TAG_CELL_SHIFT: u32 = 39;
/// Most cells a shard can have (the index has bits 39..62 of a handled tag).
pub const MAX_SHARD_CELLS: u64 = 1 << 23;
/// The hash bits a handled tag keeps (home bucket and control byte).
pub const TAG_HASH_MASK: u64 = (1 << TAG_CELL_SHIFT) - 1;
/// `CellTableHeader::magic`.
pub const CELL_MAGIC: u32 = 0xCE11_7AB1;
/// Bytes of [`CellTableHeader`] before the first cell.
pub const CELL_TABLE_HEADER_LEN: u64 = 64;
/// Bytes of one [`Cell`].
pub const CELL_LEN: u64 = 64;
/// Alignment of the first cell in a cell table block (a cell is one cache line).
pub const CELL_ALIGN: u64 = 64;
/// Longest value a live cell keeps a copy of ([`Cell::copy`]).
pub const CELL_COPY_MAX: u64 = 32;
/// Set in [`Cell::next_free`] of a live cell whose `copy` holds its value.
pub const COPY_VALID: u64 = 1 << 63;

/// The offset of the first cell of the cell table block at `table`.
#[inline]
pub const fn first_cell(table: u64) -> u64 {
    (table + CELL_TABLE_HEADER_LEN).next_multiple_of(CELL_ALIGN)
}

/// Bytes of a cell table block of `capacity` cells (room to align the first cell).
#[inline]
pub const fn cell_table_len(capacity: u64) -> u64 {
    CELL_TABLE_HEADER_LEN + (CELL_ALIGN - 16) + capacity * CELL_LEN
}
/// Cells of a shard's first cell table.
pub const MIN_CELLS: u64 = 16;
/// Low 32 bits of a cell's `state`: the cell holds a key's record.
pub const CELL_LIVE: u64 = 1;
/// Low 32 bits of a cell's `state`: free, on the shard's free list (or about to be).
pub const CELL_FREE: u64 = 0;
/// Low 32 bits of a cell's `state`: its generations are used up; never used again.
pub const CELL_RETIRED: u64 = 2;

/// The `state` word of a cell: its generation (high 32 bits) and what it holds (low 32).
#[inline]
pub const fn cell_state(generation: u32, what: u64) -> u64 {
    ((generation as u64) << 32) | what
}

/// The tag of a live slot whose key (hash `hash`) has handle cell `index`
/// (`index < MAX_SHARD_CELLS`).
#[inline]
pub const fn handled_tag(hash: u64, index: u64) -> u64 {
    LIVE_BIT | HANDLED_BIT | (index << TAG_CELL_SHIFT) | (hash & TAG_HASH_MASK)
}

/// The handle cell a live slot's tag names, if its key has one.
#[inline]
pub const fn tag_cell(tag: u64) -> Option<u64> {
    if tag & (LIVE_BIT | HANDLED_BIT) == LIVE_BIT | HANDLED_BIT {
        Some((tag >> TAG_CELL_SHIFT) & (MAX_SHARD_CELLS - 1))
    } else {
        None
    }
}

/// True if a live slot's tag `tag` may hold the key with hash `hash` (its plain tag, or a
/// handled tag with the same low hash bits; the key itself decides).
#[inline(always)]
pub const fn tag_matches(tag: u64, hash: u64) -> bool {
    tag == tag_of(hash)
        || (tag & (LIVE_BIT | HANDLED_BIT) == LIVE_BIT | HANDLED_BIT
            && tag & TAG_HASH_MASK == hash & TAG_HASH_MASK)
}

/// `SlabHeader::magic`.
pub const SLAB_MAGIC: u32 = 0x51AB_F1ED;
/// Bytes of [`SlabHeader`] before the chunk offsets.
pub const SLAB_HEADER_LEN: u64 = 64;
/// Most chunks a slab has (chunk `i` holds `first_capacity << i` records, so a slab of this
/// many chunks holds far more than any store).
pub const MAX_SLAB_CHUNKS: u64 = 40;
/// Bytes of a slab block: its header and the chunk offsets.
pub const SLAB_BLOCK_LEN: u64 = SLAB_HEADER_LEN + MAX_SLAB_CHUNKS * 8;
/// `SlabChunkHeader::magic`.
pub const CHUNK_MAGIC: u32 = 0xC4E1_51AB;
/// Bytes of [`SlabChunkHeader`] before a chunk's first record.
pub const CHUNK_HEADER_LEN: u64 = 16;
/// Bytes of a fixed record before its key (a reserved word and the checksum).
pub const FIXED_RECORD_HEADER_LEN: u64 = 8;
/// Longest fixed record (header, key and value, each padded to 8): fixed-size mode is for
/// small records; a larger one is refused when the map is created.
pub const MAX_FIXED_RECORD: u64 = 1 << 16;
/// Records of a slab's first chunk, at least.
pub const MIN_SLAB_CHUNK: u64 = 16;

/// Bytes of one fixed record with keys of `key_len` and values of `value_len` bytes (the
/// slab's stride; a multiple of 8, so every record and its value are 8-aligned).
#[inline]
pub const fn fixed_record_len(key_len: u64, value_len: u64) -> u64 {
    FIXED_RECORD_HEADER_LEN + key_len.next_multiple_of(8) + value_len.next_multiple_of(8)
}

/// Control byte of an empty slot.
pub const CTRL_EMPTY: u8 = 0;
/// Control byte of a tombstone.
pub const CTRL_TOMBSTONE: u8 = 1;

/// Control byte of a live slot holding a key with hash `hash`: the high bit and 7 bits of
/// the hash that pick neither the shard nor the home bucket (bits 32..39).
#[inline]
pub const fn ctrl_of(hash: u64) -> u8 {
    0x80 | ((hash >> 32) as u8 & 0x7F)
}

/// The control byte a slot with tag `tag` must have.
#[inline]
pub const fn ctrl_for_tag(tag: u64) -> u8 {
    match tag {
        EMPTY => CTRL_EMPTY,
        TOMBSTONE => CTRL_TOMBSTONE,
        t if is_live(t) => ctrl_of(t),
        _ => CTRL_TOMBSTONE,
    }
}

/// Slots per [`Group`].
pub const GROUP_SLOTS: u64 = 16;
/// Bytes of one [`Group`].
pub const GROUP_LEN: u64 = 272;

/// Bytes of a bucket table of `buckets` slots (a power of two, at least [`GROUP_SLOTS`]):
/// header and groups; `None` if it overflows.
#[inline]
pub const fn table_len(buckets: u64) -> Option<u64> {
    match (buckets / GROUP_SLOTS).checked_mul(GROUP_LEN) {
        Some(n) => n.checked_add(TABLE_HEADER_LEN),
        None => None,
    }
}

/// Offset of slot `index` of the table at `table`.
#[inline]
pub const fn slot_offset(table: u64, index: u64) -> u64 {
    table
        + TABLE_HEADER_LEN
        + (index / GROUP_SLOTS) * GROUP_LEN
        + 16
        + (index % GROUP_SLOTS) * 16
}

/// Offset of the control word holding slot `index`'s control byte, in the table at `table`.
#[inline]
pub const fn ctrl_word_offset(table: u64, index: u64) -> u64 {
    table + TABLE_HEADER_LEN + (index / GROUP_SLOTS) * GROUP_LEN + (index % GROUP_SLOTS) / 8 * 8
}

/// True for the tag of a live slot.
#[inline]
pub const fn is_live(tag: u64) -> bool {
    tag & LIVE_BIT != 0
}

/// The tag stored for a key with hash `hash` and no handle (bit 62 is left clear: it marks
/// handled tags).
#[inline]
pub const fn tag_of(hash: u64) -> u64 {
    (hash & !HANDLED_BIT) | LIVE_BIT
}

/// Bytes of a record holding a key of `key_len` and a value of `val_len` bytes.
#[inline]
pub const fn record_len(key_len: u64, val_len: u64) -> u64 {
    // Saturating: lengths read from a damaged store must not overflow.
    RECORD_HEADER_LEN
        .saturating_add(key_len.next_multiple_of(8))
        .saturating_add(val_len)
}

/// The hash of a key: XXH3-64 of its bytes seeded with the store's hash seed. The shard
/// (bits 48..), the home bucket (low bits) and the slot tag ([`tag_of`]) all come from it.
#[inline]
pub fn key_hash(seed: u64, key: &[u8]) -> u64 {
    xxhash_rust::xxh3::xxh3_64_with_seed(key, seed)
}

/// The checksum stored in a record ([`RecordHeader::checksum`]): the low 32 bits of
/// XXH3-64 of the value, seeded with the key's [`key_hash`] (which every operation computes
/// anyway to find the key). It covers the key (through its hash), the value, and both
/// lengths (XXH3 mixes the input length into its result), so a read pays for one hash over
/// the value only.
#[inline]
pub fn record_checksum(key_hash: u64, value: &[u8]) -> u32 {
    xxhash_rust::xxh3::xxh3_64_with_seed(value, key_hash) as u32
}

/// Offset of the value in the record at `rec` (8-aligned, so counters are atomics).
#[inline]
pub const fn value_offset(rec: u64, key_len: u64) -> u64 {
    rec + RECORD_HEADER_LEN + key_len.next_multiple_of(8)
}

/// The map's root block header (64 bytes); written once before the map is published.
#[repr(C)]
#[derive(Debug, Default, FromBytes, KnownLayout)]
pub struct MapRoot {
    /// [`MAP_MAGIC`].
    pub magic: AtomicU64,
    /// [`MAP_VERSION`].
    pub version: AtomicU32,
    /// Number of shards, a power of two.
    pub shard_count: AtomicU32,
    /// Offset of the first shard header (128-aligned, inside the root block).
    pub shards_offset: AtomicU64,
    /// Buckets of each shard's first table.
    pub initial_buckets: AtomicU64,
    /// Creation time, ns since the Unix epoch.
    pub created_unix_ns: AtomicU64,
    /// A fixed-size map (version [`MAP_VERSION_FIXED`]): the size of every key; 0 otherwise.
    pub fixed_key_len: AtomicU32,
    /// A fixed-size map: the size of every value; 0 otherwise.
    pub fixed_value_len: AtomicU32,
    /// Reserved, zero.
    pub _reserved: [AtomicU64; 2],
}

const _: () = assert!(size_of::<MapRoot>() as u64 == ROOT_LEN);

/// One shard's state, alone on its 128-byte line.
///
/// `lock` serialises writers; `seq` is odd while a writer changes the shard (readers
/// validate against it). While `old_table != 0` the shard is migrating: entries at positions
/// `>= migrate_cursor` of the old table may still be live there; lookups check `table` first,
/// then `old_table`.
#[repr(C)]
#[derive(Debug, Default, FromBytes, KnownLayout)]
pub struct ShardHeader {
    /// Writers' robust lock.
    pub lock: RobustMutex,
    /// Readers' sequence.
    pub seq: SeqLock,
    /// Current table (offset of its block).
    pub table: AtomicU64,
    /// Table being migrated from, 0 if none.
    pub old_table: AtomicU64,
    /// Next position of `old_table` to migrate.
    pub migrate_cursor: AtomicU64,
    /// Live entries in the shard (both tables).
    pub len: AtomicU64,
    /// Non-empty slots (live or tombstone) in `table`.
    pub used: AtomicU64,
    /// Sum of [`record_len`] over live entries.
    pub bytes: AtomicU64,
    /// Resizes started over the shard's life.
    pub resizes: AtomicU64,
    /// First block of the shard's spare-record list (small record blocks unlinked by earlier
    /// writes, kept for reuse by the next write instead of going back to the allocator),
    /// linked through their first 8 bytes; 0 if empty.
    pub spare_head: AtomicU64,
    /// Blocks on the spare list (at most [`SPARE_LIMIT`]).
    pub spare_count: AtomicU64,
    /// Offset of the record whose counter value `incr_*` is rewriting in place (set before
    /// the value store, cleared after the checksum store, with the sequence odd); 0 when no
    /// such update is in flight. A repair after a dead writer reseals that one record.
    pub counter_intent: AtomicU64,
    /// Resizes (counted in `resizes` too) whose new table was smaller than the old one.
    pub shrinks: AtomicU64,
    /// Offset of the shard's handle-cell table, 0 until a key of the shard gets a handle.
    pub cells: AtomicU64,
    /// Mixed into the first generation of every cell not used before; every repair of the
    /// shard moves it on, so cells a damaged table header hid (or a dropped table held) never
    /// start again at generations their handles had.
    pub cell_epoch: AtomicU64,
    /// A fixed-size map: offset of the shard's slab block ([`SlabHeader`]), which holds its
    /// records; 0 in other maps.
    pub slab: AtomicU64,
}

const _: () = assert!(size_of::<ShardHeader>() == 128);
const _: () = assert!(size_of::<Line<ShardHeader>>() as u64 == SHARD_STRIDE);

/// Header of a bucket table (16 bytes).
#[repr(C)]
#[derive(Debug, Default, FromBytes, KnownLayout)]
pub struct TableHeader {
    /// [`TABLE_MAGIC`].
    pub magic: AtomicU32,
    /// Reserved, zero.
    pub _pad: AtomicU32,
    /// Number of slots, a power of two.
    pub buckets: AtomicU64,
}

const _: () = assert!(size_of::<TableHeader>() as u64 == TABLE_HEADER_LEN);

/// One bucket (16 bytes, so four share a cache line and none straddles two).
#[repr(C)]
#[derive(Debug, Default, FromBytes, KnownLayout)]
pub struct Slot {
    /// [`EMPTY`], [`TOMBSTONE`] or `hash | LIVE_BIT`.
    pub tag: AtomicU64,
    /// Offset of the record, 0 unless live.
    pub rec: AtomicU64,
}

const _: () = assert!(size_of::<Slot>() == 16);

/// Header of a shard's handle-cell table (64 bytes), followed by `capacity` cells.
///
/// Cells `0..high_water` have been used (live, free or retired); the rest are unwritten.
/// Free cells are linked from `free_head` through their `next_free` (both index + 1, 0 ends
/// the list). Changed only under the shard lock with the sequence odd.
#[repr(C)]
#[derive(Debug, Default, FromBytes, KnownLayout)]
pub struct CellTableHeader {
    /// [`CELL_MAGIC`].
    pub magic: AtomicU32,
    /// Reserved, zero.
    pub _pad: AtomicU32,
    /// Cells the block holds.
    pub capacity: AtomicU64,
    /// Cells used so far (`<= capacity`).
    pub high_water: AtomicU64,
    /// First free cell, index + 1; 0 if none.
    pub free_head: AtomicU64,
    /// Live cells.
    pub live: AtomicU64,
    /// Reserved, zero.
    pub _reserved: [AtomicU64; 3],
}

const _: () = assert!(size_of::<CellTableHeader>() as u64 == CELL_TABLE_HEADER_LEN);

/// One handle cell (64 bytes, one cache line): the stable home of one key's record offset
/// while the key has a handle, and a copy of the value when it is at most
/// [`CELL_COPY_MAX`] bytes, so a read by handle touches this line only. A handle is the
/// cell's position and its generation.
#[repr(C)]
#[derive(Debug, Default, FromBytes, KnownLayout)]
pub struct Cell {
    /// [`cell_state`]: generation (high 32 bits) and [`CELL_LIVE`]/[`CELL_FREE`]/
    /// [`CELL_RETIRED`] (low 32).
    pub state: AtomicU64,
    /// The key's current record while live, 0 otherwise.
    pub rec: AtomicU64,
    /// The key's hash while live (seeds the record's checksum; names the shard).
    pub hash: AtomicU64,
    /// While free: the next free cell, index + 1 (0 ends the list). While live: the copy's
    /// descriptor, [`COPY_VALID`] | value length << 32 | the record's checksum, or 0 when
    /// the cell holds no copy (a longer value).
    pub next_free: AtomicU64,
    /// While live with a valid descriptor: the value's bytes (little-endian words, zero
    /// past its length), always those of the record `rec`.
    pub copy: [AtomicU64; 4],
}

const _: () = assert!(size_of::<Cell>() as u64 == CELL_LEN);

/// Header of a shard's slab of fixed records (fixed-size maps only), followed by the
/// offsets of its chunks (`MAX_SLAB_CHUNKS` words, the first `chunk_count` used).
///
/// Records are carved from the newest chunk in order; a record a write unlinks goes onto
/// the free list (linked through its first 8 bytes) and the next write takes it from there
/// before carving. Every carved record is live (named by one slot), free (on the list) or,
/// after a writer died between the two, neither: the repair that follows rebuilds the list
/// from the slots. Changed only by the shard's lock holder.
#[repr(C)]
#[derive(Debug, Default, FromBytes, KnownLayout)]
pub struct SlabHeader {
    /// [`SLAB_MAGIC`].
    pub magic: AtomicU32,
    /// [`fixed_record_len`] of the map's sizes.
    pub stride: AtomicU32,
    /// Records of chunk 0 (a power of two); chunk `i` holds `first_capacity << i`.
    pub first_capacity: AtomicU64,
    /// Chunks allocated (`<= MAX_SLAB_CHUNKS`).
    pub chunk_count: AtomicU64,
    /// Records carved from the newest chunk (`<=` its capacity).
    pub carved: AtomicU64,
    /// Offset of the first free record; 0 if none.
    pub free_head: AtomicU64,
    /// Records on the free list.
    pub free_count: AtomicU64,
    /// Reserved, zero.
    pub _reserved: [AtomicU64; 2],
}

const _: () = assert!(size_of::<SlabHeader>() as u64 == SLAB_HEADER_LEN);

/// Header of a slab chunk (16 bytes), followed by its records: names the slab and the
/// position the chunk has in it, so a chunk offset damaged to name another block (another
/// object's, or another chunk) is told from the chunk itself before anything is written.
/// Written before the chunk's offset is stored in the slab; never changed.
#[repr(C)]
#[derive(Debug, Default, FromBytes, KnownLayout)]
pub struct SlabChunkHeader {
    /// [`CHUNK_MAGIC`].
    pub magic: AtomicU32,
    /// The chunk's index in its slab.
    pub index: AtomicU32,
    /// Offset of the slab block the chunk belongs to.
    pub slab: AtomicU64,
}

const _: () = assert!(size_of::<SlabChunkHeader>() as u64 == CHUNK_HEADER_LEN);

/// Sixteen buckets: their control bytes (two words, 8 bytes each, slot `j`'s byte at bits
/// `8 * (j % 8)` of word `j / 8`), then their slots.
#[repr(C)]
#[derive(Debug, Default, FromBytes, KnownLayout)]
pub struct Group {
    /// Control bytes of the group's slots.
    pub ctrl: [AtomicU64; 2],
    /// The slots.
    pub slots: [Slot; GROUP_SLOTS as usize],
}

const _: () = assert!(size_of::<Group>() as u64 == GROUP_LEN);

/// Header of a record block (16 bytes), followed by the key, padding to 8, and the value.
#[repr(C)]
#[derive(Debug, Default, FromBytes, KnownLayout)]
pub struct RecordHeader {
    /// Key length in bytes.
    pub key_len: AtomicU32,
    /// [`record_checksum`] of the key's hash and the value.
    pub checksum: AtomicU32,
    /// Value length in bytes.
    pub val_len: AtomicU64,
}

const _: () = assert!(size_of::<RecordHeader>() as u64 == RECORD_HEADER_LEN);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_keep_values_8_aligned() {
        for key_len in 0..40u64 {
            let rec = 4096 + 16;
            assert_eq!(value_offset(rec, key_len) % 8, 0);
            assert!(value_offset(rec, key_len) >= rec + RECORD_HEADER_LEN + key_len);
            assert_eq!(record_len(key_len, 8), value_offset(0, key_len) + 8);
        }
    }

    #[test]
    fn tags_never_collide_with_empty_or_tombstone() {
        for hash in [0, 1, 2, u64::MAX, LIVE_BIT, HANDLED_BIT, 0x6426_c47b_97b5_c85d] {
            let tag = tag_of(hash);
            assert!(is_live(tag));
            // A key without a handle never looks like one with a handle.
            assert_eq!(tag_cell(tag), None, "{hash:#x}");
            assert!(tag_matches(tag, hash));
            let handled = handled_tag(hash, 12345);
            assert_eq!(tag_cell(handled), Some(12345));
            assert!(tag_matches(handled, hash));
            assert_eq!(ctrl_for_tag(handled), ctrl_of(hash));
            assert_eq!(handled & TAG_HASH_MASK, hash & TAG_HASH_MASK);
            assert_ne!(tag, EMPTY);
            assert_ne!(tag, TOMBSTONE);
        }
        assert!(!is_live(EMPTY) && !is_live(TOMBSTONE));
    }
}
