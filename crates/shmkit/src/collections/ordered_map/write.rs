//! Writes: what the holder of the map's lock does, in commit order, and how the next holder
//! finishes or undoes a write whose process died.
//!
//! A write, under the lock:
//! 1. finds the leaf and copies the path of inner nodes above it;
//! 2. (writes that add an entry) fills the free list with enough nodes for this write and
//!    a later remove, so a remove never needs new memory;
//! 3. starts the intent: the version it will commit, the record it publishes;
//! 4. takes nodes for the new leaf and each new ancestor (recording each in the intent
//!    *before* unlinking it from the free list), fills them with the changed copies —
//!    splitting a node past its capacity, merging or redistributing one that fell under a
//!    quarter with a sibling — and seals each with a fresh even generation;
//! 5. records the nodes it replaces and the records it drops (a range of the old leaf);
//! 6. **commits**: fills the unused root slot, then stores `root_version + 1`;
//! 7. finishes: retires the replaced nodes (odd generation), frees the dropped records
//!    (zeroing each record word first), pushes the replaced nodes on the free list
//!    (counting them in the intent), and clears the intent.
//!
//! A holder killed before step 6 changed nothing readers see: the next holder returns the
//! intent's new nodes to the free list and frees its record. Killed after it, the next
//! holder runs step 7 again; each part of it is idempotent (a node already at the head of
//! the free list is not pushed twice, a zeroed record word is not freed twice). At most one
//! node (taken from the allocator, not yet recorded) or one record can leak, for the leak
//! sweep. Settling trusts the intent only as far as it names this map's blocks: a dropped
//! leaf must be one of the replaced nodes, and a record is freed by an undo only if it
//! checks as this map's; anything else is left to the leak sweep.
//!
//! ```
//! use shmkit::{Store, StoreOptions, UpdateAction};
//! let name = format!("doc-om-write-{}", std::process::id()); // unique to this process
//! let store = Store::create(&name, &StoreOptions::default()).unwrap();
//! let map = store.ordered_map("m").unwrap();
//! assert!(map.insert_if_absent(b"k", b"1").unwrap());
//! assert!(!map.insert_if_absent(b"k", b"2").unwrap());
//! assert!(map.compare_and_set(b"k", Some(b"1"), Some(b"3")).unwrap());
//! let after = map.update(b"k", |v| UpdateAction::Set([v.unwrap(), b"!"].concat())).unwrap();
//! assert_eq!(after.as_deref(), Some(&b"3!"[..]));
//! assert_eq!(map.remove(b"k").unwrap().as_deref(), Some(&b"3!"[..]));
//! assert!(map.is_empty());
//! Store::remove(&name).unwrap();
//! ```

use super::error::OrderedMapError;
use super::inner::{OmInner, Snapshot};
use super::layout::{
    INNER_CAP, INTENT_NONE, INTENT_WRITE, InnerNode, LEAF_CAP, LEAF_LEVEL, LeafNode, MAX_DEPTH,
    MAX_INTENT_NODES, NODE_LEN, NodeHeader, OmRoot,
};
use super::node::{self, Entry, Key, Node, Open, Slot, entry, slot};
use super::record;
use super::{Item, MAX_VALUE_LEN};
use crate::collections::hash_map::UpdateAction;
use crate::sync::MutexGuard;
use crate::sync::atomic::{Ordering, fence};
use crate::value::arith::{Addend, add_to};
use std::time::Duration;

/// A leaf under this many entries merges with (or takes entries from) a sibling.
const LEAF_MIN: usize = LEAF_CAP / 4;
/// An inner node under this many children merges with (or takes from) a sibling.
const INNER_MIN: usize = INNER_CAP / 4;
/// Leaves a `clear` drops per lock hold.
const CLEAR_STEPS_PER_HOLD: usize = 64;

/// What a write does when the key is present or absent.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Mode<'a> {
    /// Set or remove unconditionally.
    Set,
    /// Like `Set`, returning the old value.
    SetReturning,
    /// Set only if absent.
    IfAbsent,
    /// Only if the current value is this (`None`: absent).
    IfEquals(Option<&'a [u8]>),
}

/// What a write did.
#[derive(Debug, Default)]
pub(crate) struct Outcome {
    /// Sets: the entry was written; removes: it was present; `IfEquals`: the condition
    /// held.
    pub(crate) changed: bool,
    /// The old value (`SetReturning` only).
    pub(crate) old: Option<Vec<u8>>,
    /// The caller's record is now in the tree (else the caller frees it).
    published: bool,
}

/// A copy of one inner node on the path to a leaf.
struct PathNode {
    off: u64,
    idx: usize,
    slots: Vec<Slot>,
}

/// A leaf found under the lock, with copies of its entries and of the path above it.
struct Found {
    path: Vec<PathNode>,
    leaf: u64,
    entries: Vec<Entry>,
    pos: usize,
    exact: bool,
}

/// Where [`Locked::find`] goes.
#[derive(Clone, Copy)]
enum Target<'k> {
    Key(Key<'k>),
    First,
    Last,
}

/// The change a commit makes to one leaf.
enum Change {
    /// Put `entry` at `pos` (replacing the entry there if `exact`).
    Put {
        pos: usize,
        exact: bool,
        entry: Entry,
    },
    /// Drop entries `[from, to)`.
    Drop { from: usize, to: usize },
}

/// The nodes (at most two) a level of a write produced, as their parent's slots.
#[derive(Clone, Copy, Default)]
struct Kids {
    slots: [Slot; 2],
    len: usize,
}

impl Kids {
    fn one(s: Slot) -> Kids {
        Kids {
            slots: [s, Slot::default()],
            len: 1,
        }
    }

    fn as_slice(&self) -> &[Slot] {
        &self.slots[..self.len]
    }
}

/// The holder of a map's lock.
pub(crate) struct Locked<'a> {
    inner: &'a OmInner,
    root: &'a OmRoot,
    /// Held until the `Locked` is dropped.
    _guard: MutexGuard<'a>,
    snap: Snapshot,
}

impl OmInner {
    /// Takes the lock (waiting at most `wait`, for maintenance); settles a write a dead or
    /// failed holder left half done. Returns what that did.
    pub(crate) fn lock_within(
        &self,
        wait: Option<Duration>,
    ) -> Result<(Locked<'_>, Vec<String>), OrderedMapError> {
        let root = self.root_ref()?;
        let mut guard = match wait {
            None => self.store.lock(&root.lock)?,
            Some(wait) => self.store.lock_timeout(&root.lock, wait)?,
        };
        let mut repaired = Vec::new();
        let recovered = guard.recovered();
        if recovered {
            repaired.push("recovered the lock of a dead process".to_string());
        }
        if root.intent_op.load(Ordering::Acquire) != INTENT_NONE {
            let committed = root.root_version.load(Ordering::Acquire)
                == root.intent_version.load(Ordering::Relaxed);
            // During this process's leak sweep (which asks the map for its blocks under
            // this lock) settling goes on without the gate: waiting for the sweep to end
            // would wait for itself. The records it drops are then left to the sweep.
            let _gate = (!self.store.inner.is_sweeping()).then(|| self.store.inner.enter_write());
            let result = if committed {
                finish(self, root)
            } else {
                undo(self, root, true)
            };
            root.recoveries.fetch_add(1, Ordering::Relaxed);
            repaired.push(if committed {
                "finished a write that had committed".to_string()
            } else {
                "undid a write that had not committed".to_string()
            });
            if let Err(e) = result {
                repaired.push(format!("(leaking what it could not settle: {e})"));
            }
        }
        if recovered {
            // A holder killed between a free-list push or pop and its count leaves the
            // count one off: recount (the list is walked only after a dead holder).
            match self.free_list(root) {
                Ok(list) => root.free_count.store(list.len() as u64, Ordering::Relaxed),
                Err(reason) => {
                    root.free_head.store(0, Ordering::Release);
                    root.free_count.store(0, Ordering::Relaxed);
                    repaired.push(format!(
                        "{reason}: free list dropped (its nodes go to the leak sweep)"
                    ));
                }
            }
            guard.mark_consistent();
        }
        let snap = self.snapshot()?;
        Ok((
            Locked {
                inner: self,
                root,
                _guard: guard,
                snap,
            },
            repaired,
        ))
    }

    /// Takes the lock.
    pub(crate) fn lock(&self) -> Result<Locked<'_>, OrderedMapError> {
        Ok(self.lock_within(None)?.0)
    }

    /// Sets, inserts, removes or conditionally writes one key.
    pub(crate) fn write(
        &self,
        key: &[u8],
        value: Option<&[u8]>,
        mode: Mode<'_>,
    ) -> Result<Outcome, OrderedMapError> {
        let gate = self.store.inner.enter_write();
        let built = match value {
            Some(v) => Some(record::build(&self.store, self.root, key, v)?),
            None => None,
        };
        let result = self
            .lock()
            .and_then(|mut locked| locked.write(Key::new(key), built, mode));
        if !matches!(
            result,
            Ok(Outcome {
                published: true,
                ..
            })
        ) && let Some(b) = built
        {
            let _ = self.store.free(b.rec);
        }
        drop(gate);
        result
    }

    /// Read-modify-write under the lock; returns the value after it.
    pub(crate) fn update(
        &self,
        key: &[u8],
        f: impl FnOnce(Option<&[u8]>) -> UpdateAction,
    ) -> Result<Option<Vec<u8>>, OrderedMapError> {
        self.update_with(key, |current| Ok(f(current)))
    }

    /// Adds `delta` to the typed number at `key`; returns the encoded sum.
    pub(crate) fn incr(&self, key: &[u8], delta: Addend<'_>) -> Result<Vec<u8>, OrderedMapError> {
        let after = self.update_with(key, |current| {
            Ok(UpdateAction::Set(add_to(current, delta)?))
        })?;
        after.ok_or_else(|| OrderedMapError::corrupt(self.root, "incr stored no value"))
    }

    fn update_with(
        &self,
        key: &[u8],
        f: impl FnOnce(Option<&[u8]>) -> Result<UpdateAction, OrderedMapError>,
    ) -> Result<Option<Vec<u8>>, OrderedMapError> {
        let _gate = self.store.inner.enter_write();
        let mut locked = self.lock()?;
        let k = Key::new(key);
        let found = locked.find(Target::Key(k))?;
        let current = if found.exact {
            Some(locked.read_value(&found.entries[found.pos], key)?)
        } else {
            None
        };
        match f(current.as_deref())? {
            UpdateAction::Keep => Ok(current),
            UpdateAction::Remove => {
                if found.exact {
                    let pos = found.pos;
                    locked.commit(
                        found,
                        Change::Drop {
                            from: pos,
                            to: pos + 1,
                        },
                        0,
                    )?;
                }
                Ok(None)
            }
            UpdateAction::Set(v) => {
                if v.len() as u64 > MAX_VALUE_LEN {
                    return Err(OrderedMapError::ValueTooLarge {
                        len: v.len() as u64,
                        max: MAX_VALUE_LEN,
                    });
                }
                let e = record::build(&self.store, self.root, key, &v)?;
                let (pos, exact) = (found.pos, found.exact);
                if let Err(err) = locked.commit(
                    found,
                    Change::Put {
                        pos,
                        exact,
                        entry: e,
                    },
                    e.rec,
                ) {
                    let _ = self.store.free(e.rec);
                    return Err(err);
                }
                Ok(Some(v))
            }
        }
    }

    /// Removes and returns the first (`last`: the last) entry.
    pub(crate) fn pop_end(&self, last: bool) -> Result<Option<Item>, OrderedMapError> {
        let _gate = self.store.inner.enter_write();
        let mut locked = self.lock()?;
        if locked.snap.node == 0 {
            return Ok(None);
        }
        let mut found = locked.find(if last { Target::Last } else { Target::First })?;
        if found.entries.is_empty() {
            return Err(OrderedMapError::corrupt(found.leaf, "empty leaf in a tree"));
        }
        if last {
            found.pos = found.entries.len() - 1;
        }
        let e = found.entries[found.pos];
        let mut key = Vec::new();
        record::copy_key(&self.store, &e, &mut key)?;
        let value = locked.read_value(&e, &key)?;
        let pos = found.pos;
        locked.commit(
            found,
            Change::Drop {
                from: pos,
                to: pos + 1,
            },
            0,
        )?;
        Ok(Some((key, value)))
    }

    /// Removes every entry, one leaf per commit.
    pub(crate) fn clear(&self) -> Result<(), OrderedMapError> {
        let _gate = self.store.inner.enter_write();
        loop {
            let mut locked = self.lock()?;
            for _ in 0..CLEAR_STEPS_PER_HOLD {
                if locked.snap.node == 0 {
                    return Ok(());
                }
                let found = locked.find(Target::First)?;
                let to = found.entries.len();
                locked.commit(found, Change::Drop { from: 0, to }, 0)?;
            }
        }
    }
}

impl<'a> Locked<'a> {
    fn region(&self) -> &'a crate::raw::Region {
        self.inner.region()
    }

    /// Opens a node the tree names; a mismatched generation under the lock is damage.
    fn open(&self, off: u64, generation: u64) -> Result<node::Opened<'a>, OrderedMapError> {
        match node::open(self.region(), self.inner.root, off, generation)? {
            Open::Node(n) => Ok(n),
            Open::Stale => Err(OrderedMapError::corrupt(
                off,
                format!(
                    "the tree names this node with generation {generation}, which it does not have"
                ),
            )),
        }
    }

    /// Copies of a leaf's entries, with room for one more (an insert).
    fn leaf_entries(leaf: &LeafNode, len: usize) -> Vec<Entry> {
        let mut out = Vec::with_capacity(LEAF_CAP + 1);
        out.extend((0..len).map(|i| entry(leaf, i)));
        out
    }

    /// Copies of an inner node's slots, with room for one more (a child's split).
    fn inner_slots(inner: &InnerNode, len: usize) -> Vec<Slot> {
        let mut out = Vec::with_capacity(INNER_CAP + 1);
        out.extend((0..len).map(|i| slot(inner, i)));
        out
    }

    /// Finds the leaf for `target` and copies it and the path above it.
    fn find(&self, target: Target<'_>) -> Result<Found, OrderedMapError> {
        let region = self.region();
        if self.snap.node == 0 {
            return Ok(Found {
                path: Vec::new(),
                leaf: 0,
                entries: Vec::new(),
                pos: 0,
                exact: false,
            });
        }
        let (mut off, mut generation) = (self.snap.node, self.snap.generation);
        let mut path = Vec::new();
        loop {
            let n = self.open(off, generation)?;
            match n.node {
                Node::Inner(inner, len, _) => {
                    if len == 0 || path.len() >= MAX_DEPTH {
                        return Err(OrderedMapError::corrupt(
                            off,
                            "inner node without children, or a tree too deep",
                        ));
                    }
                    let idx = match target {
                        Target::First => 0,
                        Target::Last => len - 1,
                        Target::Key(k) => node::inner_search(region, inner, len, k, false)?,
                    };
                    let slots = Self::inner_slots(inner, len);
                    (off, generation) = (slots[idx].child, slots[idx].child_gen);
                    path.push(PathNode {
                        off: n.off,
                        idx,
                        slots,
                    });
                }
                Node::Leaf(leaf, len) => {
                    let (pos, exact) = match target {
                        Target::First => (0, false),
                        Target::Last => (len, false),
                        Target::Key(k) => node::leaf_search(region, leaf, len, k, false)?,
                    };
                    return Ok(Found {
                        path,
                        leaf: n.off,
                        entries: Self::leaf_entries(leaf, len),
                        pos,
                        exact,
                    });
                }
            }
        }
    }

    /// The value of entry `e` (whose key is `key`), checked against its checksum.
    fn read_value(&self, e: &Entry, key: &[u8]) -> Result<Vec<u8>, OrderedMapError> {
        let mut value = Vec::new();
        let sealed = record::copy_header(self.region(), e)?;
        record::copy_value(&self.inner.store, e, &mut value)?;
        record::verify_copy(self.inner.root, e, &sealed, key, &value)?;
        Ok(value)
    }

    /// One key's write under the lock.
    fn write(
        &mut self,
        key: Key<'_>,
        built: Option<Entry>,
        mode: Mode<'_>,
    ) -> Result<Outcome, OrderedMapError> {
        let found = self.find(Target::Key(key))?;
        let old = found.exact.then(|| found.entries[found.pos]);
        let wants_old = matches!(mode, Mode::SetReturning | Mode::IfEquals(Some(_)));
        let old_value = match (old, wants_old) {
            (Some(e), true) => Some(self.read_value(&e, key.bytes)?),
            _ => None,
        };
        let condition = match mode {
            Mode::Set | Mode::SetReturning => true,
            Mode::IfAbsent => old.is_none(),
            Mode::IfEquals(None) => old.is_none(),
            Mode::IfEquals(Some(expected)) => old_value.as_deref() == Some(expected),
        };
        let returned = match mode {
            Mode::SetReturning => old_value,
            _ => None,
        };
        if !condition {
            return Ok(Outcome {
                changed: false,
                old: returned,
                published: false,
            });
        }
        let (pos, exact) = (found.pos, found.exact);
        match built {
            Some(e) => {
                self.commit(
                    found,
                    Change::Put {
                        pos,
                        exact,
                        entry: e,
                    },
                    e.rec,
                )?;
                Ok(Outcome {
                    changed: true,
                    old: returned,
                    published: true,
                })
            }
            None => {
                if exact {
                    self.commit(
                        found,
                        Change::Drop {
                            from: pos,
                            to: pos + 1,
                        },
                        0,
                    )?;
                }
                Ok(Outcome {
                    changed: exact || matches!(mode, Mode::IfEquals(_)),
                    old: returned,
                    published: false,
                })
            }
        }
    }

    /// Makes sure the free list holds at least `want` nodes (allocating the rest).
    fn fill_free_list(&self, want: u64) -> Result<(), OrderedMapError> {
        let root = self.root;
        while root.free_count.load(Ordering::Relaxed) < want {
            let off = self.inner.store.alloc(NODE_LEN)?;
            let h: &NodeHeader = self.region().get(off)?;
            h.generation.store(1, Ordering::Relaxed);
            h.map.store(self.inner.root, Ordering::Relaxed);
            h.level.store(0, Ordering::Relaxed);
            h.len.store(0, Ordering::Relaxed);
            h.next_free
                .store(root.free_head.load(Ordering::Relaxed), Ordering::Relaxed);
            root.free_head.store(off, Ordering::Release);
            root.free_count.fetch_add(1, Ordering::Relaxed);
        }
        Ok(())
    }

    /// Takes a node for this write (from the free list, else the allocator), recording it
    /// in the intent first. The node's generation is odd.
    fn take_node(&self, tracked: bool) -> Result<u64, OrderedMapError> {
        let root = self.root;
        let n = root.intent_new_len.load(Ordering::Relaxed) as usize;
        if tracked && n >= MAX_INTENT_NODES {
            return Err(OrderedMapError::corrupt(
                self.inner.root,
                "a write needs too many nodes",
            ));
        }
        let head = root.free_head.load(Ordering::Relaxed);
        if head != 0 {
            let free = self.region().get::<NodeHeader>(head).ok().filter(|h| {
                h.map.load(Ordering::Relaxed) == self.inner.root
                    && h.generation.load(Ordering::Relaxed) & 1 == 1
            });
            if let Some(h) = free {
                let next = h.next_free.load(Ordering::Relaxed);
                if tracked {
                    root.new_nodes[n].store(head, Ordering::Relaxed);
                    root.intent_new_len.store(n as u32 + 1, Ordering::Release);
                }
                root.free_head.store(next, Ordering::Release);
                let c = root.free_count.load(Ordering::Relaxed);
                root.free_count
                    .store(c.saturating_sub(1), Ordering::Relaxed);
                // The node was retired (and a release fence issued) by whoever freed it,
                // maybe another process: this fence orders that retirement before the
                // stores that refill the node, so a reader that sees any of them and then
                // fences sees the node's generation changed (the seqlock argument needs the
                // fence in the thread that overwrites).
                fence(Ordering::Release);
                return Ok(head);
            }
            // A damaged free list: forget it (its nodes are left to the leak sweep).
            root.free_head.store(0, Ordering::Release);
            root.free_count.store(0, Ordering::Relaxed);
        }
        let off = self.inner.store.alloc(NODE_LEN)?;
        let h: &NodeHeader = self.region().get(off)?;
        h.generation.store(1, Ordering::Relaxed);
        h.map.store(self.inner.root, Ordering::Relaxed);
        if tracked {
            root.new_nodes[n].store(off, Ordering::Relaxed);
            root.intent_new_len.store(n as u32 + 1, Ordering::Release);
        }
        Ok(off)
    }

    /// A fresh generation for a sealed node.
    fn next_gen(&self) -> Result<u64, OrderedMapError> {
        let g = self.root.next_gen.load(Ordering::Relaxed) & !1;
        let g = g.max(2);
        let next = g.checked_add(2).ok_or_else(|| {
            OrderedMapError::corrupt(self.inner.root, "the node generation counter is at its end")
        })?;
        self.root.next_gen.store(next, Ordering::Relaxed);
        Ok(g)
    }

    /// Writes a leaf of `entries` into a taken node and seals it; returns its slot.
    fn write_leaf(&self, entries: &[Entry]) -> Result<Slot, OrderedMapError> {
        self.write_leaf_with(entries, true)
    }

    /// [`Locked::write_leaf`] without recording the node in the intent (a repair's).
    pub(crate) fn write_leaf_untracked(&self, entries: &[Entry]) -> Result<Slot, OrderedMapError> {
        self.write_leaf_with(entries, false)
    }

    fn write_leaf_with(&self, entries: &[Entry], tracked: bool) -> Result<Slot, OrderedMapError> {
        let off = self.take_node(tracked)?;
        let leaf: &LeafNode = self.region().get(off)?;
        let h = &leaf.header;
        h.map.store(self.inner.root, Ordering::Relaxed);
        h.level.store(LEAF_LEVEL, Ordering::Relaxed);
        h.len.store(entries.len() as u32, Ordering::Relaxed);
        h.next_free.store(0, Ordering::Relaxed);
        let mut bytes = 0u64;
        for (i, e) in entries.iter().enumerate() {
            let d = &leaf.entries[i];
            d.prefix.store(e.prefix, Ordering::Relaxed);
            d.rec.store(e.rec, Ordering::Relaxed);
            d.lens.store(e.lens(), Ordering::Relaxed);
            bytes += e.bytes();
        }
        let generation = self.next_gen()?;
        h.generation.store(generation, Ordering::Release);
        let first = entries[0];
        Ok(Slot {
            prefix: first.prefix,
            key_rec: first.rec,
            key_len: u64::from(first.key_len),
            child: off,
            child_gen: generation,
            count: entries.len() as u64,
            bytes,
        })
    }

    /// Writes an inner node of `slots` at `level` into a taken node and seals it; returns
    /// its slot.
    fn write_inner(&self, slots: &[Slot], level: u32) -> Result<Slot, OrderedMapError> {
        self.write_inner_with(slots, level, true)
    }

    /// [`Locked::write_inner`] without recording the node in the intent (a repair's).
    pub(crate) fn write_inner_untracked(
        &self,
        slots: &[Slot],
        level: u32,
    ) -> Result<Slot, OrderedMapError> {
        self.write_inner_with(slots, level, false)
    }

    fn write_inner_with(
        &self,
        slots: &[Slot],
        level: u32,
        tracked: bool,
    ) -> Result<Slot, OrderedMapError> {
        let off = self.take_node(tracked)?;
        let inner: &InnerNode = self.region().get(off)?;
        let h = &inner.header;
        h.map.store(self.inner.root, Ordering::Relaxed);
        h.level.store(level, Ordering::Relaxed);
        h.len.store(slots.len() as u32, Ordering::Relaxed);
        h.next_free.store(0, Ordering::Relaxed);
        let (mut count, mut bytes) = (0u64, 0u64);
        for (i, s) in slots.iter().enumerate() {
            let d = &inner.slots[i];
            d.prefix.store(s.prefix, Ordering::Relaxed);
            d.key_rec.store(s.key_rec, Ordering::Relaxed);
            d.key_len.store(s.key_len, Ordering::Relaxed);
            d.child.store(s.child, Ordering::Relaxed);
            d.child_gen.store(s.child_gen, Ordering::Relaxed);
            d.count.store(s.count, Ordering::Relaxed);
            d.bytes.store(s.bytes, Ordering::Relaxed);
            count = count.wrapping_add(s.count);
            bytes = bytes.wrapping_add(s.bytes);
        }
        let generation = self.next_gen()?;
        h.generation.store(generation, Ordering::Release);
        let first = slots[0];
        Ok(Slot {
            prefix: first.prefix,
            key_rec: first.key_rec,
            key_len: first.key_len,
            child: off,
            child_gen: generation,
            count,
            bytes,
        })
    }

    /// Writes `items` as one node, or two halves if they do not fit in one.
    fn pack<T: Copy>(
        &self,
        items: &[T],
        cap: usize,
        write: impl Fn(&Self, &[T]) -> Result<Slot, OrderedMapError>,
    ) -> Result<Kids, OrderedMapError> {
        if items.is_empty() {
            return Ok(Kids::default());
        }
        if items.len() <= cap {
            return Ok(Kids::one(write(self, items)?));
        }
        if items.len() > 2 * cap {
            return Err(OrderedMapError::corrupt(
                self.inner.root,
                "a node overflowed twice",
            ));
        }
        self.root.splits.fetch_add(1, Ordering::Relaxed);
        let mid = items.len() / 2;
        Ok(Kids {
            slots: [write(self, &items[..mid])?, write(self, &items[mid..])?],
            len: 2,
        })
    }

    /// Applies `change` to a copy of the found leaf and the path above it, and commits the
    /// new root (see the module docs). `new_rec` is the record the change publishes (0:
    /// none). On an error before the commit nothing changed (taken nodes went back to the
    /// free list); the caller still owns `new_rec`.
    fn commit(
        &mut self,
        mut found: Found,
        change: Change,
        new_rec: u64,
    ) -> Result<(), OrderedMapError> {
        let root = self.root;
        let depth = found.path.len() + 1;
        if let Change::Put { exact: false, .. } = change {
            // This write (two nodes per level and a root) plus a later remove's.
            self.fill_free_list(4 * depth as u64 + 4)?;
        }
        // Start the intent.
        root.intent_new_len.store(0, Ordering::Relaxed);
        root.intent_old_len.store(0, Ordering::Relaxed);
        root.intent_done.store(0, Ordering::Relaxed);
        root.intent_version
            .store(self.snap.version.wrapping_add(1), Ordering::Relaxed);
        root.intent_rec.store(new_rec, Ordering::Relaxed);
        root.drop_leaf.store(0, Ordering::Relaxed);
        root.drop_from.store(0, Ordering::Relaxed);
        root.drop_to.store(0, Ordering::Relaxed);
        root.intent_op.store(INTENT_WRITE, Ordering::Release);
        match self.build_and_publish(&mut found, &change) {
            Ok(()) => {
                root.writes.fetch_add(1, Ordering::Relaxed);
                // Committed: a failure to finish (damage) leaks, the write stands.
                let _ = finish(self.inner, root);
                Ok(())
            }
            Err(e) => {
                // Nothing was published: give the taken nodes back; the record stays the
                // caller's.
                root.intent_rec.store(0, Ordering::Relaxed);
                let _ = undo(self.inner, root, false);
                Err(e)
            }
        }
    }

    /// Builds the new nodes from `found` (whose copies it changes in place) and publishes
    /// them.
    fn build_and_publish(
        &mut self,
        found: &mut Found,
        change: &Change,
    ) -> Result<(), OrderedMapError> {
        let root = self.root;
        // The nodes the commit replaces, recorded straight into the intent.
        let mut n_old = 0usize;
        let mut replaces = |off: u64| -> Result<(), OrderedMapError> {
            if n_old >= MAX_INTENT_NODES {
                return Err(OrderedMapError::corrupt(
                    off,
                    "a write replaces too many nodes",
                ));
            }
            root.old_nodes[n_old].store(off, Ordering::Relaxed);
            n_old += 1;
            Ok(())
        };
        // The leaf.
        let entries = &mut found.entries;
        let (drop_from, drop_to) = match *change {
            Change::Put { pos, exact, entry } => {
                if exact {
                    entries[pos] = entry;
                    (pos, pos + 1)
                } else {
                    entries.insert(pos, entry);
                    (0, 0)
                }
            }
            Change::Drop { from, to } => {
                entries.drain(from..to);
                (from, to)
            }
        };
        if found.leaf != 0 {
            replaces(found.leaf)?;
        }
        let mut kids: Kids;
        // The range of the parent's children the new nodes replace.
        let mut replaced: (usize, usize);
        match found.path.last() {
            None => {
                kids = self.pack(entries, LEAF_CAP, Self::write_leaf)?;
                replaced = (0, 0);
            }
            Some(parent) => {
                let i = parent.idx;
                if !entries.is_empty() && entries.len() < LEAF_MIN && parent.slots.len() > 1 {
                    let j = if i + 1 < parent.slots.len() {
                        i + 1
                    } else {
                        i - 1
                    };
                    let sib = parent.slots[j];
                    let n = self.open(sib.child, sib.child_gen)?;
                    let Node::Leaf(leaf, len) = n.node else {
                        return Err(OrderedMapError::corrupt(
                            sib.child,
                            "sibling of a leaf is not a leaf",
                        ));
                    };
                    let theirs = Self::leaf_entries(leaf, len);
                    replaces(sib.child)?;
                    let combined = if j > i {
                        [&entries[..], &theirs[..]].concat()
                    } else {
                        [&theirs[..], &entries[..]].concat()
                    };
                    root.merges.fetch_add(1, Ordering::Relaxed);
                    kids = self.pack(&combined, LEAF_CAP, Self::write_leaf)?;
                    replaced = (i.min(j), i.max(j) + 1);
                } else {
                    kids = self.pack(entries, LEAF_CAP, Self::write_leaf)?;
                    replaced = (i, i + 1);
                }
            }
        }
        // The inner nodes, bottom up.
        let depth = found.path.len();
        for level in (0..depth).rev() {
            let (above, rest) = found.path.split_at_mut(level);
            let p = &mut rest[0];
            let node_level = (depth - level) as u32;
            let slots = &mut p.slots;
            slots.splice(replaced.0..replaced.1, kids.as_slice().iter().copied());
            replaces(p.off)?;
            match above.last() {
                None => {
                    kids = if slots.len() == 1 {
                        // A root with one child: the child becomes the root.
                        Kids::one(slots[0])
                    } else {
                        self.pack(slots, INNER_CAP, |s, items| {
                            s.write_inner(items, node_level)
                        })?
                    };
                    replaced = (0, 0);
                }
                Some(gp) => {
                    let i = gp.idx;
                    if !slots.is_empty() && slots.len() < INNER_MIN && gp.slots.len() > 1 {
                        let j = if i + 1 < gp.slots.len() { i + 1 } else { i - 1 };
                        let sib = gp.slots[j];
                        let n = self.open(sib.child, sib.child_gen)?;
                        let Node::Inner(inner, len, lvl) = n.node else {
                            return Err(OrderedMapError::corrupt(
                                sib.child,
                                "sibling of an inner node is a leaf",
                            ));
                        };
                        if lvl != node_level {
                            return Err(OrderedMapError::corrupt(
                                sib.child,
                                "siblings at different levels",
                            ));
                        }
                        let theirs = Self::inner_slots(inner, len);
                        replaces(sib.child)?;
                        let combined = if j > i {
                            [&slots[..], &theirs[..]].concat()
                        } else {
                            [&theirs[..], &slots[..]].concat()
                        };
                        root.merges.fetch_add(1, Ordering::Relaxed);
                        kids = self.pack(&combined, INNER_CAP, |s, items| {
                            s.write_inner(items, node_level)
                        })?;
                        replaced = (i.min(j), i.max(j) + 1);
                    } else {
                        kids = self.pack(slots, INNER_CAP, |s, items| {
                            s.write_inner(items, node_level)
                        })?;
                        replaced = (i, i + 1);
                    }
                }
            }
        }
        // The new root.
        let top_level = depth as u32;
        let new_root = match kids.len {
            0 => Slot::default(),
            1 => kids.slots[0],
            _ => {
                if depth_after(depth) > MAX_DEPTH {
                    return Err(OrderedMapError::corrupt(self.inner.root, "tree too deep"));
                }
                self.write_inner(kids.as_slice(), top_level + 1)?
            }
        };
        // What the commit replaces (recorded above) and drops.
        root.intent_old_len.store(n_old as u32, Ordering::Relaxed);
        if drop_to > drop_from {
            root.drop_leaf.store(found.leaf, Ordering::Relaxed);
            root.drop_from.store(drop_from as u32, Ordering::Relaxed);
            root.drop_to.store(drop_to as u32, Ordering::Relaxed);
        }
        self.publish(new_root);
        Ok(())
    }

    /// The commit: fills the unused root slot with `top` (the new root node's slot; all
    /// zero for an empty map), then stores the next version.
    pub(crate) fn publish(&mut self, top: Slot) {
        let root = self.root;
        let version = self.snap.version.wrapping_add(1);
        let slot = &root.roots[(version & 1) as usize];
        fence(Ordering::Release);
        slot.node.store(top.child, Ordering::Relaxed);
        slot.generation.store(top.child_gen, Ordering::Relaxed);
        slot.count.store(top.count, Ordering::Relaxed);
        slot.bytes.store(top.bytes, Ordering::Relaxed);
        root.root_version.store(version, Ordering::Release);
        self.snap = Snapshot {
            version,
            node: top.child,
            generation: top.child_gen,
            count: top.count,
            bytes: top.bytes,
        };
    }
}

fn depth_after(inner_levels: usize) -> usize {
    inner_levels + 2
}

/// Frees a record a settled write dropped or never published; while this process sweeps
/// leaks, leaves it to the sweep (which took the used blocks before asking the map for its
/// own, so it frees it; freeing it here too would be a double free there).
fn free_record(m: &OmInner, rec: u64) {
    if !m.store.inner.is_sweeping() {
        let _ = m.store.free(rec);
    }
}

/// Retires a node (odd generation) unless it already is.
fn retire(h: &NodeHeader) {
    let g = h.generation.load(Ordering::Relaxed);
    if g & 1 == 0 {
        h.generation.store(g | 1, Ordering::Relaxed);
    }
}

/// Pushes `node` on the free list unless it is already its head (a push a dead holder
/// made before it could count it). Retires it first.
fn push_free(m: &OmInner, root: &OmRoot, node: u64) -> Result<(), OrderedMapError> {
    if node == 0 || root.free_head.load(Ordering::Relaxed) == node {
        return Ok(());
    }
    let h: &NodeHeader = m.region().get(node)?;
    if h.map.load(Ordering::Relaxed) != m.root {
        return Err(OrderedMapError::corrupt(
            node,
            "node of another map in an intent",
        ));
    }
    retire(h);
    fence(Ordering::Release);
    h.next_free
        .store(root.free_head.load(Ordering::Relaxed), Ordering::Relaxed);
    root.free_head.store(node, Ordering::Release);
    root.free_count.fetch_add(1, Ordering::Relaxed);
    Ok(())
}

/// Step 7 of a committed write (see the module docs); idempotent.
fn finish(m: &OmInner, root: &OmRoot) -> Result<(), OrderedMapError> {
    let region = m.region();
    let result = (|| {
        let n_old = (root.intent_old_len.load(Ordering::Relaxed) as usize).min(MAX_INTENT_NODES);
        // Retire every replaced node before any record it named is freed.
        for k in 0..n_old {
            let off = root.old_nodes[k].load(Ordering::Relaxed);
            let h: &NodeHeader = region.get(off)?;
            if h.map.load(Ordering::Relaxed) == m.root {
                retire(h);
            }
        }
        fence(Ordering::Release);
        let leaf = root.drop_leaf.load(Ordering::Relaxed);
        if leaf != 0 {
            let node: &LeafNode = region.get(leaf)?;
            // Only a leaf of this map that the write replaced names records it may free.
            let replaced = (0..n_old).any(|k| root.old_nodes[k].load(Ordering::Relaxed) == leaf);
            if !replaced
                || node.header.map.load(Ordering::Relaxed) != m.root
                || node.header.level.load(Ordering::Relaxed) != LEAF_LEVEL
            {
                return Err(OrderedMapError::corrupt(
                    leaf,
                    "the intent drops entries of a node that is not a leaf the write replaced",
                ));
            }
            let from = (root.drop_from.load(Ordering::Relaxed) as usize).min(LEAF_CAP);
            let to = (root.drop_to.load(Ordering::Relaxed) as usize).min(LEAF_CAP);
            for i in from..to {
                let rec = node.entries[i].rec.swap(0, Ordering::AcqRel);
                if rec != 0 {
                    free_record(m, rec);
                }
            }
        }
        let done = root.intent_done.load(Ordering::Relaxed) as usize;
        for k in done..n_old {
            push_free(m, root, root.old_nodes[k].load(Ordering::Relaxed))?;
            root.intent_done.store(k as u32 + 1, Ordering::Relaxed);
        }
        Ok(())
    })();
    root.intent_op.store(INTENT_NONE, Ordering::Release);
    result
}

/// Undoes a write that did not commit: its taken nodes go back to the free list (the last
/// one only if it left the list) and, with `free_rec`, its record is freed; idempotent.
fn undo(m: &OmInner, root: &OmRoot, free_rec: bool) -> Result<(), OrderedMapError> {
    let result = (|| {
        let mut n_new =
            (root.intent_new_len.load(Ordering::Relaxed) as usize).min(MAX_INTENT_NODES);
        let done = root.intent_done.load(Ordering::Relaxed) as usize;
        if done == 0
            && n_new > 0
            && root.free_head.load(Ordering::Relaxed)
                == root.new_nodes[n_new - 1].load(Ordering::Relaxed)
        {
            // Recorded, never unlinked.
            n_new -= 1;
            root.intent_new_len.store(n_new as u32, Ordering::Relaxed);
        }
        for k in done..n_new {
            push_free(m, root, root.new_nodes[k].load(Ordering::Relaxed))?;
            root.intent_done.store(k as u32 + 1, Ordering::Relaxed);
        }
        if free_rec {
            let rec = root.intent_rec.swap(0, Ordering::AcqRel);
            if rec != 0 {
                if !record::is_record_of(&m.store, m.root, rec) {
                    return Err(OrderedMapError::corrupt(
                        rec,
                        "the intent names a block that is not a record of this map",
                    ));
                }
                free_record(m, rec);
            }
        }
        Ok(())
    })();
    root.intent_op.store(INTENT_NONE, Ordering::Release);
    result
}
