//! A sorted map of byte keys to byte values in shared memory: point reads, range and
//! prefix scans in either direction, floor/ceiling, exact counts and byte totals of any
//! range in O(log n), conditional writes and atomic increments. Readers take no lock and
//! write no shared memory; a writer never blocks them; a writer killed at any instruction
//! is finished or undone by the next one in O(depth).
//!
//! Design (see `layout` for the bytes, `write` for the order of the stores):
//! - **Copy-on-write B+tree.** Nodes are 1 KiB blocks: leaves hold up to
//!   [`layout::LEAF_CAP`] entries `(key prefix, record, lengths)` sorted by key, inner nodes
//!   up to [`layout::INNER_CAP`] children with their smallest key and their subtree's entry
//!   count and byte total. Keys and values live in immutable records (one allocator block
//!   each, with a checksum tied to the map). A write, under the map's one robust lock,
//!   copies the path from the leaf to the root (splitting, merging or redistributing
//!   nodes in the copies), then publishes the new root with one store of the root version.
//! - **Optimistic readers.** Every node reference is an `(offset, generation)` pair;
//!   generations are unique, a node is immutable while its generation is even, and a
//!   replaced node's generation changes before its block or the records it alone named are
//!   reused. A reader checks each node's generation before and after reading it and
//!   retries from the root if one moved; after many retries it reads under the lock (which
//!   also repairs after a dead writer). Nodes are reused only as nodes (a free list per
//!   map), so a stale reference never lands in other data.
//! - **Crash repair in O(depth).** Before a write takes its first node it writes an intent
//!   (the nodes it takes, the nodes it replaces, the records it publishes and drops, the
//!   version it commits). The next lock holder finishes a committed write or undoes an
//!   uncommitted one from the intent alone.
//! - **Removes never need new memory.** Writes that add entries first fill the free list
//!   with enough nodes for the write and a later remove; a remove only reuses nodes.
//!
//! Iteration is weakly consistent and restartable: each step seeks the first key after the
//! last one returned (or before, in reverse) in the current tree, so an entry present
//! throughout is returned exactly once and in order while others write, and a scan resumes
//! after any key.
//!
//! ```
//! use shmkit::{Store, StoreOptions};
//! use std::ops::Bound;
//! let name = format!("doc-om-{}", std::process::id()); // unique to this process
//! let store = Store::create(&name, &StoreOptions::default()).unwrap();
//! let map = store.ordered_map("users").unwrap();
//! for (k, v) in [(&b"user:ada"[..], &b"1"[..]), (b"user:bob", b"2"), (b"zone:eu", b"3")] {
//!     map.set(k, v).unwrap();
//! }
//! assert_eq!(map.get(b"user:bob").unwrap().as_deref(), Some(&b"2"[..]));
//! let users: Vec<_> = map.prefix(b"user:").map(|r| r.unwrap().0).collect();
//! assert_eq!(users, vec![b"user:ada".to_vec(), b"user:bob".to_vec()]);
//! assert_eq!(map.count_prefix(b"user:").unwrap().count, 2);
//! let last = map.range(Bound::Unbounded, Bound::Unbounded).rev().next().unwrap().unwrap();
//! assert_eq!(last.0, b"zone:eu");
//! assert_eq!(map.floor(b"user:c").unwrap().unwrap().0, b"user:bob");
//! Store::remove(&name).unwrap();
//! ```

mod error;
mod inner;
internal! { mod layout; }
mod node;
mod object;
mod read;
mod record;
mod verify;
mod write;

pub use error::OrderedMapError;
pub use layout::{MAX_KEY_LEN, MAX_VALUE_LEN};
pub use read::Range;
pub use verify::{OrderedMapReport, OrderedMapStats};

pub(crate) use inner::OmInner;

use crate::collections::hash_map::UpdateAction;
use crate::store::Store;
use crate::value::arith::Addend;
use std::ops::Bound;
use std::sync::Arc;

/// A key and its value.
pub type Item = (Vec<u8>, Vec<u8>);

/// Options for creating an ordered map (an existing map keeps its own). None yet: the map
/// sizes itself.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct OrderedMapOptions {}

/// The number of entries in a range and the sum of their key and value lengths.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RangeCount {
    /// Entries.
    pub count: u64,
    /// Sum of their key and value lengths.
    pub bytes: u64,
}

/// A handle to an ordered map in a store. Cheap to clone; keeps its store attached.
#[derive(Clone)]
pub struct OrderedMap {
    pub(crate) inner: Arc<OmInner>,
}

impl std::fmt::Debug for OrderedMap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OrderedMap")
            .field("name", &self.inner.name)
            .field("root", &self.inner.root)
            .field("len", &self.len())
            .finish()
    }
}

/// The smallest key greater than every key starting with `prefix` (`None`: there is none,
/// the prefix is empty or all `0xff`): a prefix scan is the range `[prefix, end)`.
pub fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let keep = prefix.iter().rposition(|&b| b != 0xff)?;
    let mut end = prefix[..=keep].to_vec();
    end[keep] += 1;
    Some(end)
}

fn check_key(key: &[u8]) -> Result<(), OrderedMapError> {
    if key.len() as u64 > MAX_KEY_LEN {
        return Err(OrderedMapError::KeyTooLarge {
            len: key.len() as u64,
            max: MAX_KEY_LEN,
        });
    }
    Ok(())
}

fn check_value(value: &[u8]) -> Result<(), OrderedMapError> {
    if value.len() as u64 > MAX_VALUE_LEN {
        return Err(OrderedMapError::ValueTooLarge {
            len: value.len() as u64,
            max: MAX_VALUE_LEN,
        });
    }
    Ok(())
}

fn check_bound(b: Bound<&[u8]>) -> Result<(), OrderedMapError> {
    match b {
        Bound::Included(k) | Bound::Excluded(k) => check_key(k),
        Bound::Unbounded => Ok(()),
    }
}

impl OrderedMap {
    /// Its name in the store's directory.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The store it lives in.
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// Offset of its root block.
    pub fn root_offset(&self) -> u64 {
        self.inner.root
    }

    /// The value of `key`, if present.
    pub fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, OrderedMapError> {
        let mut buf = Vec::new();
        Ok(self.get_into(key, &mut buf)?.then_some(buf))
    }

    /// Copies the value of `key` into `buf` (replacing its contents); false if absent.
    pub fn get_into(&self, key: &[u8], buf: &mut Vec<u8>) -> Result<bool, OrderedMapError> {
        check_key(key)?;
        self.inner.unfaulted(self.inner.get_into(key, buf))
    }

    /// [`OrderedMap::get_into`] without waiting for the lock: `Ok(None)` if the optimistic
    /// reads kept meeting commits (then call `get_into`, which may wait). For callers that
    /// must not block where they are (a binding holding an interpreter lock).
    pub fn try_get_into_lock_free(
        &self,
        key: &[u8],
        buf: &mut Vec<u8>,
    ) -> Result<Option<bool>, OrderedMapError> {
        check_key(key)?;
        self.inner.unfaulted(self.inner.try_get_lock_free(key, buf))
    }

    /// True if `key` is present.
    pub fn contains_key(&self, key: &[u8]) -> Result<bool, OrderedMapError> {
        check_key(key)?;
        self.inner.unfaulted(self.inner.contains(key))
    }

    /// Sets `key` to `value`.
    pub fn set(&self, key: &[u8], value: &[u8]) -> Result<(), OrderedMapError> {
        self.write(key, Some(value), write::Mode::Set).map(|_| ())
    }

    /// Sets `key` to `value`; returns the value it replaced.
    pub fn insert(&self, key: &[u8], value: &[u8]) -> Result<Option<Vec<u8>>, OrderedMapError> {
        self.write(key, Some(value), write::Mode::SetReturning)
            .map(|o| o.old)
    }

    /// Sets `key` to `value` only if `key` is absent; true if it was set.
    pub fn insert_if_absent(&self, key: &[u8], value: &[u8]) -> Result<bool, OrderedMapError> {
        self.write(key, Some(value), write::Mode::IfAbsent)
            .map(|o| o.changed)
    }

    /// Removes `key`; returns its value.
    pub fn remove(&self, key: &[u8]) -> Result<Option<Vec<u8>>, OrderedMapError> {
        self.write(key, None, write::Mode::SetReturning)
            .map(|o| o.old)
    }

    /// Removes `key`; true if it was present.
    pub fn delete(&self, key: &[u8]) -> Result<bool, OrderedMapError> {
        self.write(key, None, write::Mode::Set).map(|o| o.changed)
    }

    /// One conditional write: `expected` `None` means "must be absent", `Some(v)` "must
    /// equal v"; `new` `None` removes, `Some(v)` sets. True if the condition held and the
    /// write happened.
    pub fn compare_and_set(
        &self,
        key: &[u8],
        expected: Option<&[u8]>,
        new: Option<&[u8]>,
    ) -> Result<bool, OrderedMapError> {
        self.write(key, new, write::Mode::IfEquals(expected))
            .map(|o| o.changed)
    }

    /// Atomic read-modify-write under the map's lock: `f` sees the current value (`None`
    /// if absent) and must not call into the map. Returns the value after the update.
    pub fn update(
        &self,
        key: &[u8],
        f: impl FnOnce(Option<&[u8]>) -> UpdateAction,
    ) -> Result<Option<Vec<u8>>, OrderedMapError> {
        check_key(key)?;
        self.inner.unfaulted(self.inner.update(key, f))
    }

    /// Atomically adds `delta` to the typed number (`crate::value`) stored at `key`
    /// (missing counts as 0), with Python's rules (`value::arith::add_to`); returns the
    /// encoded sum. [`OrderedMapError::Incr`] if the value is not a number.
    pub fn incr(&self, key: &[u8], delta: Addend<'_>) -> Result<Vec<u8>, OrderedMapError> {
        check_key(key)?;
        self.inner.unfaulted(self.inner.incr(key, delta))
    }

    /// Removes and returns the entry with the smallest key (`last`: the largest).
    pub fn pop_end(&self, last: bool) -> Result<Option<Item>, OrderedMapError> {
        self.inner.unfaulted(self.inner.pop_end(last))
    }

    /// Number of entries.
    pub fn len(&self) -> u64 {
        self.inner.snapshot().map(|s| s.count).unwrap_or(0)
    }

    /// True if the map holds no entries.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Sum of the entries' key and value lengths.
    pub fn total_bytes(&self) -> u64 {
        self.inner.snapshot().map(|s| s.bytes).unwrap_or(0)
    }

    /// Removes every entry (a series of commits, each dropping one leaf: other processes
    /// may see the map part-way cleared, never a damaged one).
    pub fn clear(&self) -> Result<(), OrderedMapError> {
        self.inner.unfaulted(self.inner.clear())
    }

    /// The entry with the smallest key.
    pub fn first(&self) -> Result<Option<Item>, OrderedMapError> {
        self.range(Bound::Unbounded, Bound::Unbounded)
            .next()
            .transpose()
    }

    /// The entry with the largest key.
    pub fn last(&self) -> Result<Option<Item>, OrderedMapError> {
        self.range(Bound::Unbounded, Bound::Unbounded)
            .next_back()
            .transpose()
    }

    /// The entry with the largest key `<= key`.
    pub fn floor(&self, key: &[u8]) -> Result<Option<Item>, OrderedMapError> {
        check_key(key)?;
        self.range(Bound::Unbounded, Bound::Included(key))
            .next_back()
            .transpose()
    }

    /// The entry with the smallest key `>= key`.
    pub fn ceiling(&self, key: &[u8]) -> Result<Option<Item>, OrderedMapError> {
        check_key(key)?;
        self.range(Bound::Included(key), Bound::Unbounded)
            .next()
            .transpose()
    }

    /// The entry with the largest key `< key`.
    pub fn lower(&self, key: &[u8]) -> Result<Option<Item>, OrderedMapError> {
        check_key(key)?;
        self.range(Bound::Unbounded, Bound::Excluded(key))
            .next_back()
            .transpose()
    }

    /// The entry with the smallest key `> key`.
    pub fn higher(&self, key: &[u8]) -> Result<Option<Item>, OrderedMapError> {
        check_key(key)?;
        self.range(Bound::Excluded(key), Bound::Unbounded)
            .next()
            .transpose()
    }

    /// The entries with keys in `(start, end)`, in ascending order (`.rev()`: descending).
    /// Weakly consistent: see the module docs. A bound longer than [`MAX_KEY_LEN`] makes
    /// the first item an error.
    pub fn range(&self, start: Bound<&[u8]>, end: Bound<&[u8]>) -> Range {
        Range::new(self.clone(), start, end)
    }

    /// Calls `f` with the key and value of each entry in `(start, end)`, ascending
    /// (`reverse`: descending), until it returns false; returns how many entries it saw.
    /// The entries are copied batch by batch into one buffer that is reused, so a scan
    /// allocates nothing per entry (the [`Range`] iterator hands out owned copies). Weakly
    /// consistent as [`Range`] is.
    pub fn scan(
        &self,
        start: Bound<&[u8]>,
        end: Bound<&[u8]>,
        reverse: bool,
        mut f: impl FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<u64, OrderedMapError> {
        check_bound(start)?;
        check_bound(end)?;
        self.inner
            .unfaulted(self.inner.scan_with(start, end, reverse, &mut f))
    }

    /// Every entry, in ascending order.
    pub fn iter(&self) -> Range {
        self.range(Bound::Unbounded, Bound::Unbounded)
    }

    /// The entries whose keys start with `prefix`, in ascending order.
    pub fn prefix(&self, prefix: &[u8]) -> Range {
        let end = prefix_end(prefix);
        self.range(
            Bound::Included(prefix),
            end.as_deref().map_or(Bound::Unbounded, Bound::Excluded),
        )
    }

    /// The number of entries with keys in `(start, end)` and their byte total, exact for one
    /// version of the map, in O(log n).
    pub fn count(
        &self,
        start: Bound<&[u8]>,
        end: Bound<&[u8]>,
    ) -> Result<RangeCount, OrderedMapError> {
        check_bound(start)?;
        check_bound(end)?;
        self.inner.unfaulted(self.inner.count(start, end))
    }

    /// The number of entries whose keys start with `prefix` and their byte total.
    pub fn count_prefix(&self, prefix: &[u8]) -> Result<RangeCount, OrderedMapError> {
        let end = prefix_end(prefix);
        self.count(
            Bound::Included(prefix),
            end.as_deref().map_or(Bound::Unbounded, Bound::Excluded),
        )
    }

    /// Counts and sizes.
    pub fn stats(&self) -> Result<OrderedMapStats, OrderedMapError> {
        self.inner.unfaulted(self.inner.stats())
    }

    /// Checks the map without changing it (beyond finishing a dead writer's write).
    pub fn verify(&self) -> Result<OrderedMapReport, OrderedMapError> {
        self.inner.unfaulted(self.inner.check(false))
    }

    /// Checks the map and repairs what it can.
    pub fn repair(&self) -> Result<OrderedMapReport, OrderedMapError> {
        self.inner.unfaulted(self.inner.check(true))
    }

    fn write(
        &self,
        key: &[u8],
        value: Option<&[u8]>,
        mode: write::Mode<'_>,
    ) -> Result<write::Outcome, OrderedMapError> {
        check_key(key)?;
        if let Some(v) = value {
            check_value(v)?;
        }
        if let write::Mode::IfEquals(Some(e)) = mode {
            check_value(e)?;
        }
        self.inner.unfaulted(self.inner.write(key, value, mode))
    }
}

impl Store {
    /// Opens the ordered map `name`, creating it if missing.
    pub fn ordered_map(&self, name: &str) -> Result<OrderedMap, OrderedMapError> {
        self.ordered_map_with(name, &OrderedMapOptions::default())
    }

    /// Opens the ordered map `name`, creating it with `options` if missing.
    pub fn ordered_map_with(
        &self,
        name: &str,
        options: &OrderedMapOptions,
    ) -> Result<OrderedMap, OrderedMapError> {
        use crate::collections::object::Collection;
        OrderedMap::open_or_create(self, name, options)
    }

    /// Opens the existing ordered map `name`.
    pub fn open_ordered_map(&self, name: &str) -> Result<OrderedMap, OrderedMapError> {
        use crate::collections::object::Collection;
        OrderedMap::open(self, name)
    }
}

#[cfg(test)]
mod tests {
    use super::prefix_end;

    #[test]
    fn prefix_ends_are_the_next_key_after_every_extension() {
        assert_eq!(prefix_end(b"ab"), Some(b"ac".to_vec()));
        assert_eq!(prefix_end(b"a\xff"), Some(b"b".to_vec()));
        assert_eq!(prefix_end(b"\xff\xff"), None);
        assert_eq!(prefix_end(b""), None);
    }
}
