//! Optimistic reads: point lookups, range counts and the [`Range`] iterator.
//!
//! Invariants: a reader writes no shared memory. It reads the published root, then each
//! node by `(offset, generation)`, and uses what it read from a node only after checking
//! the node still has that generation (so it read one immutable version of it); a value or
//! key copied from a record is kept only if its leaf is still valid after the copy (a
//! replaced leaf is retired before its dropped records are freed). Anything stale restarts
//! the operation from the root; after [`OPTIMISTIC_TRIES`] restarts the reader takes the
//! map's lock (no commit can then happen, and a dead writer's intent is settled first).
//! Errors found in stale data are retries, not reports: only data that validated is
//! damage.
//!
//! ```
//! use shmkit::{Store, StoreOptions};
//! use std::ops::Bound;
//! let name = format!("doc-om-read-{}", std::process::id()); // unique to this process
//! let store = Store::create(&name, &StoreOptions::default()).unwrap();
//! let map = store.ordered_map("m").unwrap();
//! for i in 0u32..1000 {
//!     map.set(&i.to_be_bytes(), b"v").unwrap();
//! }
//! let c = map.count(Bound::Included(&10u32.to_be_bytes()[..]), Bound::Excluded(&20u32.to_be_bytes()[..])).unwrap();
//! assert_eq!((c.count, c.bytes), (10, 50));
//! let back: Vec<_> = map.iter().rev().take(2).map(|r| r.unwrap().0).collect();
//! assert_eq!(back, vec![999u32.to_be_bytes().to_vec(), 998u32.to_be_bytes().to_vec()]);
//! Store::remove(&name).unwrap();
//! ```

use super::error::OrderedMapError;
use super::inner::{OmInner, Snapshot};
use super::layout::{LeafNode, MAX_DEPTH};
use super::node::{self, Entry, Key, Node, Open, Opened, compare, entry, slot};
use super::record;
use super::{Item, OrderedMap, RangeCount};
use std::cmp::Ordering as Cmp;
use std::collections::VecDeque;
use std::ops::Bound;

/// Entries copied by one refill of a scan: keys and values back to back in one buffer.
#[derive(Debug, Default)]
pub(crate) struct Batch {
    data: Vec<u8>,
    /// (start in `data`, key length, value length) per entry.
    spans: Vec<(usize, usize, usize)>,
}

impl Batch {
    fn clear(&mut self) {
        self.data.clear();
        self.spans.clear();
    }

    pub(crate) fn len(&self) -> usize {
        self.spans.len()
    }

    /// Entry `i`'s key and value.
    pub(crate) fn get(&self, i: usize) -> (&[u8], &[u8]) {
        let (at, k, v) = self.spans[i];
        (&self.data[at..at + k], &self.data[at + k..at + k + v])
    }
}

/// Optimistic attempts before a reader takes the lock.
pub(crate) const OPTIMISTIC_TRIES: u32 = 64;

/// The outcome of one optimistic attempt: `None` means "stale, retry".
type Attempt<T> = Result<Option<T>, OrderedMapError>;

/// `r`, unless it failed on data that is no longer valid (then a retry).
fn settle<T>(n: &Opened<'_>, r: Result<T, OrderedMapError>) -> Attempt<T> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(_) if !n.still_valid() => Ok(None),
        Err(e) => Err(e),
    }
}

/// Where a descent goes.
#[derive(Clone, Copy)]
enum Seek<'k> {
    /// The first entry.
    First,
    /// Past the last entry.
    Last,
    /// The first entry `>= key` (`after`: `> key`).
    Key(Key<'k>, bool),
}

/// A position in a leaf, with the path of inner nodes above it (child index at each).
struct Position<'a> {
    path: Vec<(Opened<'a>, usize, usize)>,
    leaf: Opened<'a>,
    leaf_node: &'a LeafNode,
    len: usize,
    pos: usize,
    /// Entries and bytes before `pos` in the whole tree (only with `rank`).
    before: RangeCount,
}

impl OmInner {
    /// Runs `attempt` optimistically, then under the lock.
    fn optimistic<T>(
        &self,
        mut attempt: impl FnMut(&OmInner) -> Attempt<T>,
    ) -> Result<T, OrderedMapError> {
        for _ in 0..OPTIMISTIC_TRIES {
            if let Some(v) = attempt(self)? {
                return Ok(v);
            }
            std::hint::spin_loop();
        }
        let locked = self.lock()?;
        let result = attempt(self);
        drop(locked);
        result?.ok_or_else(|| {
            OrderedMapError::corrupt(self.root, "a node changed while the map was locked")
        })
    }

    pub(crate) fn get_into(&self, key: &[u8], buf: &mut Vec<u8>) -> Result<bool, OrderedMapError> {
        let k = Key::new(key);
        self.optimistic(|m| m.try_get(k, Some(&mut *buf)))
    }

    /// [`OmInner::get_into`] without the fallback to the lock: `None` if every optimistic
    /// attempt met a write.
    pub(crate) fn try_get_lock_free(
        &self,
        key: &[u8],
        buf: &mut Vec<u8>,
    ) -> Result<Option<bool>, OrderedMapError> {
        let k = Key::new(key);
        for _ in 0..OPTIMISTIC_TRIES {
            if let Some(found) = self.try_get(k, Some(&mut *buf))? {
                return Ok(Some(found));
            }
        }
        Ok(None)
    }

    pub(crate) fn contains(&self, key: &[u8]) -> Result<bool, OrderedMapError> {
        let k = Key::new(key);
        self.optimistic(|m| m.try_get(k, None))
    }

    fn try_get(&self, k: Key<'_>, buf: Option<&mut Vec<u8>>) -> Attempt<bool> {
        let snap = self.snapshot()?;
        if snap.node == 0 {
            return Ok(Some(false));
        }
        let Some(p) = self.seek(&snap, Seek::Key(k, false), false)? else {
            return Ok(None);
        };
        if p.pos == p.len {
            return Ok(p.leaf.still_valid().then_some(false));
        }
        let e = entry(p.leaf_node, p.pos);
        let c = settle(
            &p.leaf,
            compare(self.region(), e.prefix, e.key_len.into(), e.rec, k),
        )?;
        let Some(c) = c else { return Ok(None) };
        if !p.leaf.still_valid() {
            return Ok(None);
        }
        if c != Cmp::Equal {
            return Ok(Some(false));
        }
        let Some(buf) = buf else {
            return Ok(Some(true));
        };
        let copied = record::copy_header(self.region(), &e)
            .and_then(|h| record::copy_value(&self.store, &e, buf).map(|()| h));
        let Some(sealed) = settle(&p.leaf, copied)? else {
            return Ok(None);
        };
        if !p.leaf.still_valid() {
            return Ok(None);
        }
        // The copy, header included, is of a record the leaf named throughout: a record
        // freed and reused after the validation cannot make it look damaged.
        record::verify_copy(self.root, &e, &sealed, k.bytes, buf)?;
        Ok(Some(true))
    }

    /// Descends from `snap` to the leaf position `seek` names; `None` if a node was stale.
    fn seek<'a>(&'a self, snap: &Snapshot, seek: Seek<'_>, rank: bool) -> Attempt<Position<'a>> {
        let region = self.region();
        if snap.node == 0 {
            // Callers look at an empty map before seeking in it.
            return Err(OrderedMapError::corrupt(self.root, "seek in an empty map"));
        }
        let (mut off, mut generation) = (snap.node, snap.generation);
        let mut path = Vec::with_capacity(8);
        let mut before = RangeCount::default();
        loop {
            let n = match node::open(region, self.root, off, generation)? {
                Open::Stale => return Ok(None),
                Open::Node(n) => n,
            };
            match n.node {
                Node::Inner(inner, len, _) => {
                    if len == 0 || path.len() >= MAX_DEPTH {
                        return match n.still_valid() {
                            false => Ok(None),
                            true => Err(OrderedMapError::corrupt(
                                off,
                                "inner node without children, or a tree too deep",
                            )),
                        };
                    }
                    let idx = match seek {
                        Seek::First => 0,
                        Seek::Last => len - 1,
                        Seek::Key(k, _) => {
                            match settle(&n, node::inner_search(region, inner, len, k, false))? {
                                Some(i) => i,
                                None => return Ok(None),
                            }
                        }
                    };
                    if rank {
                        for j in 0..idx {
                            let s = slot(inner, j);
                            before.count = before.count.wrapping_add(s.count);
                            before.bytes = before.bytes.wrapping_add(s.bytes);
                        }
                    }
                    let s = slot(inner, idx);
                    if !n.still_valid() {
                        return Ok(None);
                    }
                    path.push((n, idx, len));
                    (off, generation) = (s.child, s.child_gen);
                }
                Node::Leaf(leaf, len) => {
                    let pos = match seek {
                        Seek::First => 0,
                        Seek::Last => len,
                        Seek::Key(k, after) => {
                            match settle(&n, node::leaf_search(region, leaf, len, k, after))? {
                                Some((p, _)) => p,
                                None => return Ok(None),
                            }
                        }
                    };
                    if rank {
                        before.count = before.count.wrapping_add(pos as u64);
                        for i in 0..pos {
                            before.bytes = before.bytes.wrapping_add(entry(leaf, i).bytes());
                        }
                    }
                    if !n.still_valid() {
                        return Ok(None);
                    }
                    return Ok(Some(Position {
                        path,
                        leaf: n,
                        leaf_node: leaf,
                        len,
                        pos,
                        before,
                    }));
                }
            }
        }
    }

    /// Moves `p` to the first entry of the next leaf (`back`: past the last entry of the
    /// previous leaf). `Some(false)`: there is none.
    fn step_leaf<'a>(&'a self, p: &mut Position<'a>, back: bool) -> Attempt<bool> {
        let region = self.region();
        // Climb to the first ancestor with a sibling in that direction.
        loop {
            let Some(&(_, idx, len)) = p.path.last() else {
                return Ok(Some(false));
            };
            let has = if back { idx > 0 } else { idx + 1 < len };
            if has {
                break;
            }
            p.path.pop();
        }
        let depth = p.path.len();
        let (n, idx, _) = p.path[depth - 1];
        let Node::Inner(inner, _, _) = n.node else {
            return Ok(None);
        };
        let idx = if back { idx - 1 } else { idx + 1 };
        let s = slot(inner, idx);
        if !n.still_valid() {
            return Ok(None);
        }
        p.path[depth - 1].1 = idx;
        let (mut off, mut generation) = (s.child, s.child_gen);
        loop {
            let c = match node::open(region, self.root, off, generation)? {
                Open::Stale => return Ok(None),
                Open::Node(c) => c,
            };
            match c.node {
                Node::Inner(inner, len, _) => {
                    if len == 0 || p.path.len() >= MAX_DEPTH {
                        return match c.still_valid() {
                            false => Ok(None),
                            true => {
                                Err(OrderedMapError::corrupt(off, "inner node without children"))
                            }
                        };
                    }
                    let i = if back { len - 1 } else { 0 };
                    let s = slot(inner, i);
                    if !c.still_valid() {
                        return Ok(None);
                    }
                    p.path.push((c, i, len));
                    (off, generation) = (s.child, s.child_gen);
                }
                Node::Leaf(leaf, len) => {
                    if !c.still_valid() {
                        return Ok(None);
                    }
                    p.leaf = c;
                    p.leaf_node = leaf;
                    p.len = len;
                    p.pos = if back { len } else { 0 };
                    return Ok(Some(true));
                }
            }
        }
    }

    /// Calls `f` with each entry in `(start, end)` (descending with `back`) until it returns
    /// false, copying them batch by batch into one reused buffer; returns how many it saw.
    /// Weakly consistent as [`Range`] is.
    pub(crate) fn scan_with(
        &self,
        start: Bound<&[u8]>,
        end: Bound<&[u8]>,
        back: bool,
        f: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<u64, OrderedMapError> {
        let mut batch = Batch::default();
        let mut resume: Option<Vec<u8>> = None;
        let mut seen = 0u64;
        let mut max = 16;
        loop {
            let (from, to) = match (&resume, back) {
                (None, false) => (start, end),
                (None, true) => (end, start),
                (Some(k), false) => (Bound::Excluded(&k[..]), end),
                (Some(k), true) => (Bound::Excluded(&k[..]), start),
            };
            self.optimistic(|m| m.try_fill(from, to, back, max, &mut batch))?;
            if batch.len() == 0 {
                return Ok(seen);
            }
            for i in 0..batch.len() {
                let (k, v) = batch.get(i);
                // Each batch starts past the last key handed out, and keys within one are
                // in order: a key that is not onward is damage (a tree out of order), which
                // would otherwise make the scan go back and repeat itself forever.
                let previous = if i > 0 {
                    Some(batch.get(i - 1).0)
                } else {
                    resume.as_deref()
                };
                if let Some(p) = previous
                    && (if back { k >= p } else { k <= p })
                {
                    return Err(OrderedMapError::corrupt(
                        self.root,
                        "a scan met keys out of order",
                    ));
                }
                seen += 1;
                if !f(k, v) {
                    return Ok(seen);
                }
            }
            let last = batch.get(batch.len() - 1).0;
            let r = resume.get_or_insert_with(Vec::new);
            r.clear();
            r.extend_from_slice(last);
            max = MAX_BATCH;
        }
    }

    /// The count and bytes of the entries in `(start, end)` of one version of the map.
    pub(crate) fn count(
        &self,
        start: Bound<&[u8]>,
        end: Bound<&[u8]>,
    ) -> Result<RangeCount, OrderedMapError> {
        self.optimistic(|m| {
            let snap = m.snapshot()?;
            if snap.node == 0 {
                return Ok(Some(RangeCount::default()));
            }
            let rank = |b: Bound<&[u8]>, is_end: bool| -> Attempt<RangeCount> {
                let seek = match (b, is_end) {
                    (Bound::Unbounded, false) => return Ok(Some(RangeCount::default())),
                    (Bound::Unbounded, true) => {
                        return Ok(Some(RangeCount {
                            count: snap.count,
                            bytes: snap.bytes,
                        }));
                    }
                    (Bound::Included(k), false) | (Bound::Excluded(k), true) => {
                        Seek::Key(Key::new(k), false)
                    }
                    (Bound::Excluded(k), false) | (Bound::Included(k), true) => {
                        Seek::Key(Key::new(k), true)
                    }
                };
                Ok(m.seek(&snap, seek, true)?.map(|p| p.before))
            };
            let Some(lo) = rank(start, false)? else {
                return Ok(None);
            };
            let Some(hi) = rank(end, true)? else {
                return Ok(None);
            };
            // Both descents read only nodes of `snap`'s tree, each while it was unchanged:
            // the two ranks are of one version of the map.
            Ok(Some(RangeCount {
                count: hi.count.saturating_sub(lo.count),
                bytes: hi.bytes.saturating_sub(lo.bytes),
            }))
        })
    }

    /// Reads up to `max` entries from the bound `from` (`back`: downwards from it) that lie
    /// within the bound `to`, into `out`: leaf after leaf, each copied and then validated
    /// on its own (a key present throughout is in one of the leaves the walk reads: moving
    /// it between leaves replaces both, and their parent, which the step to the next leaf
    /// validates).
    fn try_fill(
        &self,
        from: Bound<&[u8]>,
        to: Bound<&[u8]>,
        back: bool,
        max: usize,
        out: &mut Batch,
    ) -> Attempt<()> {
        out.clear();
        let region = self.region();
        let snap = self.snapshot()?;
        if snap.node == 0 {
            return Ok(Some(()));
        }
        let seek = match (from, back) {
            (Bound::Unbounded, false) => Seek::First,
            (Bound::Unbounded, true) => Seek::Last,
            (Bound::Included(k), false) | (Bound::Excluded(k), true) => {
                Seek::Key(Key::new(k), false)
            }
            (Bound::Excluded(k), false) | (Bound::Included(k), true) => {
                Seek::Key(Key::new(k), true)
            }
        };
        let Some(mut p) = self.seek(&snap, seek, false)? else {
            return Ok(None);
        };
        let stop_key = match to {
            Bound::Unbounded => None,
            Bound::Included(k) => Some((Key::new(k), true)),
            Bound::Excluded(k) => Some((Key::new(k), false)),
        };
        let mut picked: Vec<Entry> = Vec::with_capacity(max.min(super::layout::LEAF_CAP));
        let mut headers = Vec::with_capacity(picked.capacity());
        loop {
            let at_edge = if back { p.pos == 0 } else { p.pos == p.len };
            if at_edge {
                match self.step_leaf(&mut p, back)? {
                    None => return Ok(None),
                    Some(false) => return Ok(Some(())),
                    Some(true) => {}
                }
            }
            // The entries of this leaf in order, up to what is still wanted, within `to`.
            picked.clear();
            let mut i = p.pos;
            let mut reached_to = false;
            while out.len() + picked.len() < max {
                let e = if back {
                    if i == 0 {
                        break;
                    }
                    i -= 1;
                    entry(p.leaf_node, i)
                } else {
                    if i >= p.len {
                        break;
                    }
                    i += 1;
                    entry(p.leaf_node, i - 1)
                };
                if let Some((k, inclusive)) = stop_key {
                    let Some(c) = settle(
                        &p.leaf,
                        compare(region, e.prefix, e.key_len.into(), e.rec, k),
                    )?
                    else {
                        return Ok(None);
                    };
                    let beyond = match (back, c) {
                        (_, Cmp::Equal) => !inclusive,
                        (false, c) => c == Cmp::Greater,
                        (true, c) => c == Cmp::Less,
                    };
                    if beyond {
                        reached_to = true;
                        break;
                    }
                }
                picked.push(e);
            }
            if !p.leaf.still_valid() {
                return Ok(None);
            }
            // The records are scattered allocator blocks: start every miss before the
            // first copy.
            for e in &picked {
                region.prefetch(e.rec);
            }
            headers.clear();
            let first = out.len();
            for e in &picked {
                let at = out.data.len();
                let copied = record::copy_header(region, e).and_then(|h| {
                    record::copy_entry_into(&self.store, e, &mut out.data).map(|()| h)
                });
                let Some(h) = settle(&p.leaf, copied)? else {
                    return Ok(None);
                };
                headers.push(h);
                out.spans.push((at, e.key_len as usize, e.val_len as usize));
            }
            if !p.leaf.still_valid() {
                return Ok(None);
            }
            for (i, (e, h)) in picked.iter().zip(&headers).enumerate() {
                let (key, value) = out.get(first + i);
                record::verify_copy(self.root, e, h, key, value)?;
            }
            if reached_to || out.len() >= max {
                return Ok(Some(()));
            }
            p.pos = if back { 0 } else { p.len };
        }
    }
}

/// The entries of a range, in ascending order (descending from the back: `.rev()`).
///
/// Weakly consistent and restartable: each refill seeks the first key after the last one
/// returned from that end (the last before, from the back) in the map as it is then, so an
/// entry present throughout is returned exactly once, in order, while others write; an
/// entry added or removed meanwhile may or may not be seen. To resume a scan later, start a
/// new range at `Bound::Excluded(last_key)`. A tree found out of order (damage) ends the scan
/// with an error.
pub struct Range {
    map: OrderedMap,
    /// Entries not yet returned from the front are after this bound.
    lo: Bound<Vec<u8>>,
    /// Entries not yet returned from the back are before this bound.
    hi: Bound<Vec<u8>>,
    front: VecDeque<Item>,
    back: VecDeque<Item>,
    front_batch: usize,
    back_batch: usize,
    done: bool,
    error: Option<OrderedMapError>,
}

impl std::fmt::Debug for Range {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Range")
            .field("map", &self.map.name())
            .field("lo", &self.lo)
            .field("hi", &self.hi)
            .field("done", &self.done)
            .finish()
    }
}

fn owned(b: Bound<&[u8]>) -> Bound<Vec<u8>> {
    match b {
        Bound::Included(k) => Bound::Included(k.to_vec()),
        Bound::Excluded(k) => Bound::Excluded(k.to_vec()),
        Bound::Unbounded => Bound::Unbounded,
    }
}

fn borrowed(b: &Bound<Vec<u8>>) -> Bound<&[u8]> {
    match b {
        Bound::Included(k) => Bound::Included(k),
        Bound::Excluded(k) => Bound::Excluded(k),
        Bound::Unbounded => Bound::Unbounded,
    }
}

/// True if `key` lies before the upper bound `hi`.
fn below(key: &[u8], hi: &Bound<Vec<u8>>) -> bool {
    match hi {
        Bound::Unbounded => true,
        Bound::Included(h) => key <= &h[..],
        Bound::Excluded(h) => key < &h[..],
    }
}

/// True if `key` lies after the lower bound `lo`.
fn above(key: &[u8], lo: &Bound<Vec<u8>>) -> bool {
    match lo {
        Bound::Unbounded => true,
        Bound::Included(l) => key >= &l[..],
        Bound::Excluded(l) => key > &l[..],
    }
}

/// The largest batch a refill reads (several leaves' worth; batches grow 1, 4, 16, 64, 256
/// so that `first` or `floor` read one record and a scan few descents).
const MAX_BATCH: usize = 256;

impl Range {
    pub(crate) fn new(map: OrderedMap, start: Bound<&[u8]>, end: Bound<&[u8]>) -> Range {
        let too_long = [start, end].into_iter().find_map(|b| match b {
            Bound::Included(k) | Bound::Excluded(k) if k.len() as u64 > super::MAX_KEY_LEN => {
                Some(k.len() as u64)
            }
            _ => None,
        });
        Range {
            map,
            lo: owned(start),
            hi: owned(end),
            front: VecDeque::new(),
            back: VecDeque::new(),
            front_batch: 1,
            back_batch: 1,
            done: false,
            error: too_long.map(|len| OrderedMapError::KeyTooLarge {
                len,
                max: super::MAX_KEY_LEN,
            }),
        }
    }

    /// Reads the next batch from one end; false when that end has nothing left.
    fn refill(&mut self, back: bool) -> Result<bool, OrderedMapError> {
        let inner = &self.map.inner;
        let max = if back {
            self.back_batch
        } else {
            self.front_batch
        };
        let (from, to) = if back {
            (borrowed(&self.hi), borrowed(&self.lo))
        } else {
            (borrowed(&self.lo), borrowed(&self.hi))
        };
        let mut out = Batch::default();
        inner.unfaulted(inner.optimistic(|m| m.try_fill(from, to, back, max, &mut out)))?;
        let items = (0..out.len()).map(|i| {
            let (k, v) = out.get(i);
            (k.to_vec(), v.to_vec())
        });
        if back {
            self.back_batch = (self.back_batch * 4).min(MAX_BATCH);
            self.back.extend(items);
            Ok(!self.back.is_empty())
        } else {
            self.front_batch = (self.front_batch * 4).min(MAX_BATCH);
            self.front.extend(items);
            Ok(!self.front.is_empty())
        }
    }

    fn next_from(&mut self, back: bool) -> Option<Result<Item, OrderedMapError>> {
        if let Some(e) = self.error.take() {
            self.done = true;
            return Some(Err(e));
        }
        if self.done {
            return None;
        }
        loop {
            let item = if back {
                self.back.pop_front()
            } else {
                self.front.pop_front()
            };
            match item {
                Some(item) => {
                    // Each refill starts past the last item returned from this end: an item
                    // that is not is damage (a tree out of order), which would otherwise make
                    // the scan go back and repeat itself forever.
                    let onward = if back {
                        below(&item.0, &self.hi)
                    } else {
                        above(&item.0, &self.lo)
                    };
                    if !onward {
                        self.done = true;
                        return Some(Err(OrderedMapError::corrupt(
                            self.map.root_offset(),
                            "a scan met keys out of order",
                        )));
                    }
                    // Items fetched earlier may have been returned from the other end since.
                    let inside = if back {
                        above(&item.0, &self.lo)
                    } else {
                        below(&item.0, &self.hi)
                    };
                    if !inside {
                        self.done = true;
                        return None;
                    }
                    if back {
                        self.hi = Bound::Excluded(item.0.clone());
                    } else {
                        self.lo = Bound::Excluded(item.0.clone());
                    }
                    return Some(Ok(item));
                }
                None => match self.refill(back) {
                    Ok(true) => continue,
                    Ok(false) => {
                        self.done = true;
                        return None;
                    }
                    Err(e) => {
                        self.done = true;
                        return Some(Err(e));
                    }
                },
            }
        }
    }
}

impl Iterator for Range {
    type Item = Result<Item, OrderedMapError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_from(false)
    }
}

impl DoubleEndedIterator for Range {
    fn next_back(&mut self) -> Option<Self::Item> {
        self.next_from(true)
    }
}

impl std::iter::FusedIterator for Range {}
