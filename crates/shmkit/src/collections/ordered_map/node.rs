//! Nodes as the code sees them: plain copies of leaf entries and inner slots, the checked
//! opening of a node block by `(offset, generation)`, and key comparisons against entries.
//!
//! Invariants: a node is opened only through [`open`], which bounds-checks the block once
//! and returns `None` when its generation is not the expected one (the reference is stale:
//! the caller retries from the root); lengths read from a node are clamped by the checks
//! here before they index anything, so a torn or damaged node yields a retry or an error,
//! never an out-of-range access. Comparisons read key bytes past the 8-byte prefix from the
//! record in bounded chunks, without allocating.
//!
//! ```
//! use shmkit::collections::ordered_map::layout::key_prefix;
//! // Keys of at most 8 bytes compare by (prefix, length): "a" < "a\0".
//! assert_eq!(key_prefix(b"a"), key_prefix(b"a\0"));
//! ```

use super::error::OrderedMapError;
use super::layout::{
    INNER_CAP, InnerNode, LEAF_CAP, LEAF_LEVEL, LeafNode, MAX_DEPTH, NodeHeader, RECORD_HEADER_LEN,
    key_prefix,
};
use crate::raw::Region;
use crate::sync::atomic::{Ordering, fence};
use std::cmp::Ordering as Cmp;

/// A copy of a leaf entry.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Entry {
    pub(crate) prefix: u64,
    pub(crate) rec: u64,
    pub(crate) key_len: u32,
    pub(crate) val_len: u32,
}

impl Entry {
    #[inline]
    pub(crate) fn bytes(&self) -> u64 {
        u64::from(self.key_len) + u64::from(self.val_len)
    }

    #[inline]
    pub(crate) fn lens(&self) -> u64 {
        (u64::from(self.key_len) << 32) | u64::from(self.val_len)
    }
}

/// A copy of an inner slot.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Slot {
    pub(crate) prefix: u64,
    pub(crate) key_rec: u64,
    pub(crate) key_len: u64,
    pub(crate) child: u64,
    pub(crate) child_gen: u64,
    pub(crate) count: u64,
    pub(crate) bytes: u64,
}

/// An opened node: its block and what its header said.
#[derive(Clone, Copy)]
pub(crate) enum Node<'a> {
    Leaf(&'a LeafNode, usize),
    Inner(&'a InnerNode, usize, u32),
}

/// A node's reference and its block, for validation after use.
#[derive(Clone, Copy)]
pub(crate) struct Opened<'a> {
    pub(crate) off: u64,
    pub(crate) generation: u64,
    pub(crate) header: &'a NodeHeader,
    pub(crate) node: Node<'a>,
}

impl Opened<'_> {
    /// True if the node still has the generation it was opened with: everything read from
    /// it before this call is one consistent version of it.
    #[inline]
    pub(crate) fn still_valid(&self) -> bool {
        fence(Ordering::Acquire);
        self.header.generation.load(Ordering::Relaxed) == self.generation
    }
}

/// What opening a node found.
pub(crate) enum Open<'a> {
    /// The node, with the expected generation when opened.
    Node(Opened<'a>),
    /// The reference is stale (the node was replaced): retry from the root.
    Stale,
}

/// Opens the node at `off` expected to have generation `generation` and belong to the map at
/// `map`. A header that is inconsistent while the generation still matches is damage.
pub(crate) fn open(
    region: &Region,
    map: u64,
    off: u64,
    generation: u64,
) -> Result<Open<'_>, OrderedMapError> {
    let header: &NodeHeader = region.get(off)?;
    if header.generation.load(Ordering::Acquire) != generation || generation & 1 == 1 {
        return Ok(Open::Stale);
    }
    let level = header.level.load(Ordering::Relaxed);
    let len = header.len.load(Ordering::Relaxed) as usize;
    let owner = header.map.load(Ordering::Relaxed);
    let bad = if owner != map {
        Some(format!("node of another map ({owner})"))
    } else if level as usize >= MAX_DEPTH {
        Some(format!("node level {level}"))
    } else if level == LEAF_LEVEL && len > LEAF_CAP || level != LEAF_LEVEL && len > INNER_CAP {
        Some(format!("node of level {level} claims {len} entries"))
    } else {
        None
    };
    if let Some(reason) = bad {
        fence(Ordering::Acquire);
        if header.generation.load(Ordering::Relaxed) != generation {
            return Ok(Open::Stale);
        }
        return Err(OrderedMapError::corrupt(off, reason));
    }
    let node = if level == LEAF_LEVEL {
        Node::Leaf(region.get::<LeafNode>(off)?, len)
    } else {
        Node::Inner(region.get::<InnerNode>(off)?, len, level)
    };
    Ok(Open::Node(Opened {
        off,
        generation,
        header,
        node,
    }))
}

/// Loads leaf entry `i`.
#[inline]
pub(crate) fn entry(leaf: &LeafNode, i: usize) -> Entry {
    let e = &leaf.entries[i];
    let lens = e.lens.load(Ordering::Relaxed);
    Entry {
        prefix: e.prefix.load(Ordering::Relaxed),
        rec: e.rec.load(Ordering::Relaxed),
        key_len: (lens >> 32) as u32,
        val_len: lens as u32,
    }
}

/// Loads inner slot `i`.
#[inline]
pub(crate) fn slot(inner: &InnerNode, i: usize) -> Slot {
    let s = &inner.slots[i];
    Slot {
        prefix: s.prefix.load(Ordering::Relaxed),
        key_rec: s.key_rec.load(Ordering::Relaxed),
        key_len: s.key_len.load(Ordering::Relaxed),
        child: s.child.load(Ordering::Relaxed),
        child_gen: s.child_gen.load(Ordering::Relaxed),
        count: s.count.load(Ordering::Relaxed),
        bytes: s.bytes.load(Ordering::Relaxed),
    }
}

/// A search key with its prefix computed once.
#[derive(Clone, Copy)]
pub(crate) struct Key<'k> {
    pub(crate) bytes: &'k [u8],
    pub(crate) prefix: u64,
}

impl<'k> Key<'k> {
    pub(crate) fn new(bytes: &'k [u8]) -> Key<'k> {
        Key {
            bytes,
            prefix: key_prefix(bytes),
        }
    }
}

/// Orders the stored key `(prefix, key_len, rec)` against `key`. Only when the prefixes tie
/// and both keys are longer than 8 bytes are bytes read from the record (in chunks).
#[inline]
pub(crate) fn compare(
    region: &Region,
    prefix: u64,
    key_len: u64,
    rec: u64,
    key: Key<'_>,
) -> Result<Cmp, OrderedMapError> {
    match prefix.cmp(&key.prefix) {
        Cmp::Equal => {}
        other => return Ok(other),
    }
    let klen = key.bytes.len() as u64;
    if key_len <= 8 || klen <= 8 {
        // Equal prefixes: the shorter key is a prefix of the longer (zero padding).
        return Ok(key_len.cmp(&klen));
    }
    let common = key_len.min(klen);
    let mut at = 8u64;
    let mut chunk = [0u8; 64];
    while at < common {
        let n = (common - at).min(chunk.len() as u64) as usize;
        region.read_bytes(rec + RECORD_HEADER_LEN + at, &mut chunk[..n])?;
        match chunk[..n].cmp(&key.bytes[at as usize..at as usize + n]) {
            Cmp::Equal => at += n as u64,
            other => return Ok(other),
        }
    }
    Ok(key_len.cmp(&klen))
}

/// The first index in `0..len` whose entry is not less than `key` (`or_equal`: whose entry
/// is greater than `key`), by binary search; also whether the entry there equals `key`.
pub(crate) fn leaf_search(
    region: &Region,
    leaf: &LeafNode,
    len: usize,
    key: Key<'_>,
    after_equal: bool,
) -> Result<(usize, bool), OrderedMapError> {
    let (mut lo, mut hi) = (0usize, len);
    let mut found = false;
    while lo < hi {
        let mid = (lo + hi) / 2;
        let e = entry(leaf, mid);
        let c = compare(region, e.prefix, u64::from(e.key_len), e.rec, key)?;
        let go_right = match c {
            Cmp::Less => true,
            Cmp::Equal => {
                found = true;
                after_equal
            }
            Cmp::Greater => false,
        };
        if go_right {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    Ok((lo, found))
}

/// The child of an inner node of `len` children to descend into for `key`: the last whose
/// smallest key is `<= key` (`strict`: `< key`), or the first if none is.
pub(crate) fn inner_search(
    region: &Region,
    inner: &InnerNode,
    len: usize,
    key: Key<'_>,
    strict: bool,
) -> Result<usize, OrderedMapError> {
    // Find the first slot in 1..len whose key is > key (>= key when strict); the child is
    // the one before it.
    let (mut lo, mut hi) = (1usize, len.max(1));
    while lo < hi {
        let mid = (lo + hi) / 2;
        let s = slot(inner, mid);
        let c = compare(region, s.prefix, s.key_len, s.key_rec, key)?;
        let go_right = match c {
            Cmp::Less => true,
            Cmp::Equal => !strict,
            Cmp::Greater => false,
        };
        if go_right {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    Ok(lo - 1)
}
