//! The shared layout of an ordered map (a wire format: `#[repr(C)]`, fixed-width atomics
//! only).
//!
//! ```text
//! root block:   OmRoot (1152 bytes): settings (64), lock + published root (96),
//!               state under the lock (64), intent (928)
//! node block:   NodeHeader (32 bytes), then entries: a leaf holds up to LEAF_CAP
//!               LeafEntry (24 bytes), an inner node up to INNER_CAP InnerSlot (56 bytes)
//! record block: RecordHeader (16 bytes: key_len u32, val_len u32, checksum u32, 0 u32),
//!               the key, the value
//! ```
//!
//! Invariants:
//! - **Published root.** `roots[version & 1]` is the tree readers use: `{node, generation, count,
//!   bytes}` (`node == 0`: the map is empty). A writer fills the other slot and then stores
//!   `version + 1`: that one store commits every change. Readers read the version, the slot
//!   and the version again, and accept the slot only if the version did not move.
//! - **Immutable nodes, unique generations.** A node is written only while it is not
//!   reachable: popped from the map's free list (or allocated) with an odd `generation`, filled,
//!   then sealed with a fresh even `generation` from `next_gen` before it is published. A node
//!   replaced by a commit is retired (`generation | 1`) before its block is reused, and records
//!   dropped by the commit are freed only after that. Every reference to a node is an
//!   `(offset, generation)` pair; a reader checks the node's `generation` before and after reading it, so
//!   a stale or reused node is never taken for the one it names.
//! - **Type-stable nodes.** Node blocks are never returned to the store's allocator while
//!   the map exists: retired nodes go to the map's free list (`free_head`, linked through
//!   `NodeHeader::next_free`), from which the next writes take their nodes.
//! - **Ordered entries.** Leaf entries are sorted by key (bytewise), unique; an inner slot's
//!   key is the smallest key of its child's subtree (the first slot's too), its `count` and
//!   `bytes` the number of entries and the sum of their key and value lengths in that
//!   subtree. Every non-root node holds at least one entry; every leaf is at the same depth.
//! - **Intent.** `intent_op != INTENT_NONE` while a write is between its first change to the
//!   free list and its end: it lists the nodes taken for the write (`new_nodes`), the nodes
//!   the commit replaces (`old_nodes`), the record it publishes and the records it drops
//!   (entries `[drop_from, drop_to)` of the old leaf `drop_leaf`), and the version it
//!   commits. The next lock holder finishes a committed write (retire, free, return nodes)
//!   or undoes one that did not commit (return its nodes, free its record), in O(depth).
//!
//! ```
//! use shmkit::collections::ordered_map::layout::{INNER_CAP, LEAF_CAP, NODE_LEN, key_prefix};
//! assert_eq!(NODE_LEN, 1024);
//! assert_eq!((LEAF_CAP, INNER_CAP), (41, 17));
//! assert_eq!(key_prefix(b"ab"), u64::from_be_bytes(*b"ab\0\0\0\0\0\0"));
//! ```

use crate::sync::RobustMutex;
use crate::sync::atomic::{AtomicU32, AtomicU64};
use zerocopy::{FromBytes, KnownLayout};

/// `OmRoot::magic`.
pub const OM_MAGIC: u64 = u64::from_le_bytes(*b"SHMKOM\0\0");
/// Layout version this build reads and writes.
pub const OM_VERSION: u32 = 1;
/// Bytes of [`OmRoot`].
pub const ROOT_LEN: u64 = 1152;
/// Bytes of a node block (requested from the allocator).
pub const NODE_LEN: u64 = 1024;
/// Bytes of [`NodeHeader`].
pub const NODE_HEADER_LEN: u64 = 32;
/// Bytes of one [`LeafEntry`].
pub const LEAF_ENTRY_LEN: u64 = 24;
/// Bytes of one [`InnerSlot`].
pub const INNER_SLOT_LEN: u64 = 56;
/// Entries of a full leaf.
pub const LEAF_CAP: usize = ((NODE_LEN - NODE_HEADER_LEN) / LEAF_ENTRY_LEN) as usize;
/// Children of a full inner node.
pub const INNER_CAP: usize = ((NODE_LEN - NODE_HEADER_LEN) / INNER_SLOT_LEN) as usize;
/// Bytes of [`RecordHeader`] before the key.
pub const RECORD_HEADER_LEN: u64 = 16;
/// Longest key.
pub const MAX_KEY_LEN: u64 = 65_535;
/// Longest value.
pub const MAX_VALUE_LEN: u64 = 1 << 30;
/// Most levels a tree may have (a leaf is level 0). With at least two children per inner
/// node this allows 2^20 leaves; in practice nodes hold far more and trees stay under 8.
pub const MAX_DEPTH: usize = 24;
/// Most nodes one write takes or replaces (two per level, plus a new root).
pub const MAX_INTENT_NODES: usize = 2 * MAX_DEPTH + 2;

/// `NodeHeader::level` of a leaf.
pub const LEAF_LEVEL: u32 = 0;

/// `OmRoot::intent_op`: no write in progress.
pub const INTENT_NONE: u32 = 0;
/// `OmRoot::intent_op`: a write (set, insert, remove, a step of a clear).
pub const INTENT_WRITE: u32 = 1;

/// The first 8 bytes of `key`, zero padded, as a big-endian number: comparing two prefixes
/// orders their keys bytewise unless the prefixes are equal; with equal prefixes, two keys
/// of at most 8 bytes are ordered by their lengths.
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

/// A record's checksum: XXH3-64 of the value seeded with XXH3-64 of the key seeded with the
/// map's root offset, folded to 32 bits. It covers key, value, both lengths and the map, so
/// a record of another map never checks as one of this map's.
#[inline]
pub fn record_checksum(map: u64, key: &[u8], value: &[u8]) -> u32 {
    use xxhash_rust::xxh3::xxh3_64_with_seed;
    let x = xxh3_64_with_seed(value, xxh3_64_with_seed(key, map));
    (x ^ (x >> 32)) as u32
}

/// One of the two published roots.
#[repr(C)]
#[derive(Debug, Default, FromBytes, KnownLayout)]
pub struct RootSlot {
    /// Offset of the root node; 0 for an empty map.
    pub node: AtomicU64,
    /// The root node's generation.
    pub generation: AtomicU64,
    /// Entries in the map.
    pub count: AtomicU64,
    /// Sum of the entries' key and value lengths.
    pub bytes: AtomicU64,
}

const _: () = assert!(size_of::<RootSlot>() == 32);

/// An ordered map's root block.
#[repr(C)]
#[derive(Debug, FromBytes, KnownLayout)]
pub struct OmRoot {
    /// [`OM_MAGIC`] (written last at creation).
    pub magic: AtomicU64,
    /// [`OM_VERSION`].
    pub version: AtomicU32,
    /// Zero.
    pub flags: AtomicU32,
    /// Creation time, ns since the Unix epoch.
    pub created_unix_ns: AtomicU64,
    /// Reserved, zero.
    pub _reserved0: [AtomicU64; 5],

    /// Serialises every write.
    pub lock: RobustMutex,
    /// Reserved, zero.
    pub _pad0: AtomicU64,
    /// The commit word: `roots[root_version & 1]` is the published tree.
    pub root_version: AtomicU64,
    /// Reserved, zero.
    pub _pad1: AtomicU64,
    /// The two root slots (see the module docs).
    pub roots: [RootSlot; 2],

    /// The generation the next sealed node gets (even, only grows).
    pub next_gen: AtomicU64,
    /// First node of the free list (0: empty).
    pub free_head: AtomicU64,
    /// Nodes on the free list.
    pub free_count: AtomicU64,
    /// Writes committed over the map's life.
    pub writes: AtomicU64,
    /// Node splits.
    pub splits: AtomicU64,
    /// Node merges and redistributions.
    pub merges: AtomicU64,
    /// Writes finished or undone by a later lock holder.
    pub recoveries: AtomicU64,
    /// Reserved, zero.
    pub _reserved1: AtomicU64,

    /// [`INTENT_NONE`] or [`INTENT_WRITE`].
    pub intent_op: AtomicU32,
    /// Entries of `new_nodes` in use.
    pub intent_new_len: AtomicU32,
    /// Entries of `old_nodes` in use.
    pub intent_old_len: AtomicU32,
    /// Nodes already put back on the free list by the finishing (or undoing) step.
    pub intent_done: AtomicU32,
    /// The version the write commits (`root_version + 1` when it started).
    pub intent_version: AtomicU64,
    /// The record the write publishes (0: none).
    pub intent_rec: AtomicU64,
    /// The old leaf whose entries `[drop_from, drop_to)` the write drops (0: none).
    pub drop_leaf: AtomicU64,
    /// First dropped entry.
    pub drop_from: AtomicU32,
    /// End of the dropped entries.
    pub drop_to: AtomicU32,
    /// Nodes taken for the write.
    pub new_nodes: [AtomicU64; MAX_INTENT_NODES],
    /// Nodes the write replaces.
    pub old_nodes: [AtomicU64; MAX_INTENT_NODES],
    /// Reserved, zero.
    pub _reserved2: [AtomicU64; 10],
}

const _: () = assert!(size_of::<OmRoot>() as u64 == ROOT_LEN);
const _: () = assert!(std::mem::offset_of!(OmRoot, lock) == 64);
const _: () = assert!(std::mem::offset_of!(OmRoot, root_version) == 80);
const _: () = assert!(std::mem::offset_of!(OmRoot, roots) == 96);
const _: () = assert!(std::mem::offset_of!(OmRoot, next_gen) == 160);
const _: () = assert!(std::mem::offset_of!(OmRoot, intent_op) == 224);
const _: () = assert!(std::mem::offset_of!(OmRoot, new_nodes) == 272);

/// The header of a node block.
#[repr(C)]
#[derive(Debug, Default, FromBytes, KnownLayout)]
pub struct NodeHeader {
    /// Even and unique while the node is sealed and may be published; odd while it is
    /// being built, retired or free.
    pub generation: AtomicU64,
    /// The root offset of the map the node belongs to.
    pub map: AtomicU64,
    /// [`LEAF_LEVEL`] for a leaf, the height above the leaves for an inner node.
    pub level: AtomicU32,
    /// Entries (leaf) or children (inner node) in use.
    pub len: AtomicU32,
    /// Next node of the free list (only while the node is free).
    pub next_free: AtomicU64,
}

const _: () = assert!(size_of::<NodeHeader>() as u64 == NODE_HEADER_LEN);

/// One leaf entry.
#[repr(C)]
#[derive(Debug, Default, FromBytes, KnownLayout)]
pub struct LeafEntry {
    /// [`key_prefix`] of the key.
    pub prefix: AtomicU64,
    /// Offset of the record (an allocator block).
    pub rec: AtomicU64,
    /// `key_len << 32 | val_len`.
    pub lens: AtomicU64,
}

const _: () = assert!(size_of::<LeafEntry>() as u64 == LEAF_ENTRY_LEN);

/// One child of an inner node.
#[repr(C)]
#[derive(Debug, Default, FromBytes, KnownLayout)]
pub struct InnerSlot {
    /// [`key_prefix`] of the smallest key of the child's subtree.
    pub prefix: AtomicU64,
    /// The record holding that key.
    pub key_rec: AtomicU64,
    /// That key's length.
    pub key_len: AtomicU64,
    /// Offset of the child node.
    pub child: AtomicU64,
    /// The child's generation.
    pub child_gen: AtomicU64,
    /// Entries in the child's subtree.
    pub count: AtomicU64,
    /// Sum of their key and value lengths.
    pub bytes: AtomicU64,
}

const _: () = assert!(size_of::<InnerSlot>() as u64 == INNER_SLOT_LEN);
const _: () = assert!(NODE_HEADER_LEN + LEAF_CAP as u64 * LEAF_ENTRY_LEN <= NODE_LEN);
const _: () = assert!(NODE_HEADER_LEN + INNER_CAP as u64 * INNER_SLOT_LEN <= NODE_LEN);

/// A leaf node block as one struct (one bounds check per node).
#[repr(C)]
#[derive(Debug, FromBytes, KnownLayout)]
pub struct LeafNode {
    /// The header.
    pub header: NodeHeader,
    /// `header.len` entries in use, sorted by key.
    pub entries: [LeafEntry; LEAF_CAP],
}

/// An inner node block as one struct.
#[repr(C)]
#[derive(Debug, FromBytes, KnownLayout)]
pub struct InnerNode {
    /// The header.
    pub header: NodeHeader,
    /// `header.len` children in use, sorted by their smallest key.
    pub slots: [InnerSlot; INNER_CAP],
}

const _: () = assert!(size_of::<LeafNode>() as u64 <= NODE_LEN);
const _: () = assert!(size_of::<InnerNode>() as u64 <= NODE_LEN);

/// The header of a record block, followed by the key and then the value.
#[repr(C)]
#[derive(Debug, Default, FromBytes, KnownLayout)]
pub struct RecordHeader {
    /// Bytes of the key (at most [`MAX_KEY_LEN`]).
    pub key_len: AtomicU32,
    /// Bytes of the value (at most [`MAX_VALUE_LEN`]).
    pub val_len: AtomicU32,
    /// [`record_checksum`] of the map's root, the key and the value.
    pub checksum: AtomicU32,
    /// Zero.
    pub reserved: AtomicU32,
}

const _: () = assert!(size_of::<RecordHeader>() as u64 == RECORD_HEADER_LEN);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_checksum_differs_between_maps_and_splits() {
        let c = |map, k: &[u8], v: &[u8]| record_checksum(map, k, v);
        assert_ne!(c(4096, b"key", b"value"), c(8192, b"key", b"value"));
        assert_ne!(c(4096, b"key", b"value"), c(4096, b"keyv", b"alue"));
    }

    #[test]
    fn prefixes_order_keys_unless_they_tie() {
        let keys: [&[u8]; 6] = [b"", b"\0", b"a", b"a\0", b"ab", b"abcdefghZ"];
        for w in keys.windows(2) {
            assert!(key_prefix(w[0]) <= key_prefix(w[1]), "{w:?}");
        }
        assert_eq!(key_prefix(b"a"), key_prefix(b"a\0"));
    }
}
