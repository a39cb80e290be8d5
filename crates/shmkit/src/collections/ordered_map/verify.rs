//! Checking, repairing and measuring an ordered map, and naming the blocks it owns.
//!
//! Invariants: every walk runs under the map's lock (taken with
//! [`MAINTENANCE_LOCK_WAIT`]; a live holder past it makes the check report the map busy),
//! after the lock settled any half-done write. The check visits every node of the tree
//! once (a node named twice is damage, not walked again) and every record once:
//! generations, owners, levels, entry order (full keys), record lengths and checksums, inner
//! keys equal to their child's smallest key, subtree counts and byte totals, the published
//! totals; and the free list (owner, odd generation, no cycle, its count). A repair rebuilds a damaged tree from the entries
//! whose records check, in key order (dropping damaged and duplicate entries), publishes it
//! with one commit, and returns the nodes of the old tree it walked to the free list; a
//! damaged free list is forgotten. Records it drops are not freed (a damaged entry may name
//! another object's block): the store's leak sweep frees what no object owns.
//!
//! ```
//! use shmkit::{Store, StoreOptions};
//! let name = format!("doc-om-verify-{}", std::process::id()); // unique to this process
//! let store = Store::create(&name, &StoreOptions::default()).unwrap();
//! let map = store.ordered_map("m").unwrap();
//! for i in 0u32..500 {
//!     map.set(&i.to_be_bytes(), b"v").unwrap();
//! }
//! let report = map.verify().unwrap();
//! assert!(report.problems.is_empty() && report.busy.is_empty());
//! assert_eq!(report.len, 500);
//! let stats = map.stats().unwrap();
//! assert_eq!(stats.len, 500);
//! assert!(stats.depth >= 2 && stats.leaves >= 500 / 41);
//! Store::remove(&name).unwrap();
//! ```

use super::error::OrderedMapError;
use super::inner::OmInner;
use super::layout::{INNER_CAP, LEAF_CAP, MAX_DEPTH, NODE_LEN, NodeHeader, OmRoot, key_prefix};
use super::node::{Entry, Node, Open, Slot, entry, slot};
use super::record;
use crate::store::verify::{MAINTENANCE_LOCK_WAIT, Problem};
use crate::sync::LockError;
use crate::sync::atomic::{Ordering, fence};
use std::collections::HashSet;

/// What [`super::OrderedMap::verify`] and [`super::OrderedMap::repair`] found and did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OrderedMapReport {
    /// Damage found (after any repair); empty when clean.
    pub problems: Vec<Problem>,
    /// What was repaired (or settled after a dead writer).
    pub repaired: Vec<String>,
    /// Parts not checked because a live process held the lock too long.
    pub busy: Vec<String>,
    /// Entries in the map.
    pub len: u64,
}

/// Counts and sizes of an ordered map.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OrderedMapStats {
    /// Entries.
    pub len: u64,
    /// Sum of the entries' key and value lengths.
    pub entry_bytes: u64,
    /// Levels of the tree (0: empty, 1: one leaf).
    pub depth: u64,
    /// Leaf nodes.
    pub leaves: u64,
    /// Inner nodes.
    pub inner_nodes: u64,
    /// Nodes on the free list.
    pub free_nodes: u64,
    /// Bytes of all node blocks (tree and free list).
    pub node_bytes: u64,
    /// Writes committed over the map's life.
    pub writes: u64,
    /// Node splits.
    pub splits: u64,
    /// Merges and redistributions.
    pub merges: u64,
    /// Writes settled by a later lock holder (after a dead or failed one).
    pub recoveries: u64,
}

/// What a walk of the tree collected.
#[derive(Default)]
struct Walk {
    problems: Vec<Problem>,
    /// Every node visited (in the tree, with this map as owner).
    nodes: Vec<u64>,
    /// Entries whose records checked, with their keys.
    good: Vec<(Vec<u8>, Entry)>,
    leaves: u64,
    inner: u64,
    depth: u64,
    /// Records met (each once), for `owned_blocks`.
    records: Vec<u64>,
    /// Nodes named so far: a node named twice is damage, walked once (a node naming
    /// itself or an ancestor would otherwise make the walk exponential).
    named: HashSet<u64>,
}

/// A subtree's totals and smallest entry, as its parent should name them.
struct Summary {
    count: u64,
    bytes: u64,
    first_rec: u64,
    first_len: u64,
    first_prefix: u64,
}

impl OmInner {
    fn walk(&self, check_records: bool) -> Result<Walk, OrderedMapError> {
        let snap = self.snapshot()?;
        let mut w = Walk::default();
        if snap.node != 0 {
            let mut leaf_level = None;
            let summary = self.walk_node(
                snap.node,
                snap.generation,
                0,
                &mut leaf_level,
                check_records,
                &mut w,
            )?;
            if let Some(s) = summary
                && (s.count != snap.count || s.bytes != snap.bytes)
            {
                w.problems.push(Problem {
                    offset: self.root,
                    what: format!(
                        "published totals ({}, {}) differ from the tree's ({}, {})",
                        snap.count, snap.bytes, s.count, s.bytes
                    ),
                });
            }
            w.depth = leaf_level.map_or(0, |d| d + 1);
        } else if snap.count != 0 || snap.bytes != 0 {
            w.problems.push(Problem {
                offset: self.root,
                what: format!("an empty tree with totals ({}, {})", snap.count, snap.bytes),
            });
        }
        // Entries in strictly increasing key order across the whole tree.
        for pair in w.good.windows(2) {
            if pair[0].0 >= pair[1].0 {
                w.problems.push(Problem {
                    offset: pair[1].1.rec,
                    what: "entries out of key order".into(),
                });
                break;
            }
        }
        Ok(w)
    }

    #[allow(clippy::too_many_arguments)]
    fn walk_node(
        &self,
        off: u64,
        generation: u64,
        depth: u64,
        leaf_level: &mut Option<u64>,
        check_records: bool,
        w: &mut Walk,
    ) -> Result<Option<Summary>, OrderedMapError> {
        let region = self.region();
        let problem = |w: &mut Walk, what: String| {
            w.problems.push(Problem { offset: off, what });
            Ok(None)
        };
        if depth as usize >= MAX_DEPTH {
            return problem(w, "tree deeper than the maximum".into());
        }
        if !w.named.insert(off) {
            return problem(w, "node named twice in the tree".into());
        }
        let n = match super::node::open(region, self.root, off, generation) {
            Ok(Open::Node(n)) => n,
            Ok(Open::Stale) => {
                return problem(w, format!("node does not have generation {generation}"));
            }
            Err(e) => return problem(w, e.to_string()),
        };
        w.nodes.push(off);
        match n.node {
            Node::Leaf(leaf, len) => {
                w.leaves += 1;
                match *leaf_level {
                    None => *leaf_level = Some(depth),
                    Some(d) if d != depth => {
                        return problem(w, format!("leaf at depth {depth}, others at {d}"));
                    }
                    Some(_) => {}
                }
                if len == 0 {
                    return problem(w, "empty leaf".into());
                }
                let mut s = Summary {
                    count: len as u64,
                    bytes: 0,
                    first_rec: 0,
                    first_len: 0,
                    first_prefix: 0,
                };
                for i in 0..len {
                    let e = entry(leaf, i);
                    s.bytes += e.bytes();
                    if i == 0 {
                        (s.first_rec, s.first_len, s.first_prefix) =
                            (e.rec, e.key_len.into(), e.prefix);
                    }
                    w.records.push(e.rec);
                    if !check_records {
                        continue;
                    }
                    let (mut key, mut value) = (Vec::new(), Vec::new());
                    let ok = record::copy_header(region, &e)
                        .and_then(|h| {
                            record::copy_key(&self.store, &e, &mut key)?;
                            record::copy_value(&self.store, &e, &mut value)?;
                            record::verify_copy(self.root, &e, &h, &key, &value)
                        })
                        .and_then(|()| {
                            if key_prefix(&key) == e.prefix {
                                Ok(())
                            } else {
                                Err(OrderedMapError::corrupt(
                                    e.rec,
                                    "entry prefix differs from its key",
                                ))
                            }
                        });
                    match ok {
                        Ok(()) => w.good.push((key, e)),
                        Err(err) => w.problems.push(Problem {
                            offset: e.rec,
                            what: format!("entry {i} of leaf {off}: {err}"),
                        }),
                    }
                }
                Ok(Some(s))
            }
            Node::Inner(inner, len, level) => {
                w.inner += 1;
                if len == 0 || len > INNER_CAP {
                    return problem(w, format!("inner node with {len} children"));
                }
                let mut total = Summary {
                    count: 0,
                    bytes: 0,
                    first_rec: 0,
                    first_len: 0,
                    first_prefix: 0,
                };
                for i in 0..len {
                    let sl: Slot = slot(inner, i);
                    let Some(sub) = self.walk_node(
                        sl.child,
                        sl.child_gen,
                        depth + 1,
                        leaf_level,
                        check_records,
                        w,
                    )?
                    else {
                        continue;
                    };
                    if let Some(d) = *leaf_level
                        && d != depth + u64::from(level)
                    {
                        w.problems.push(Problem {
                            offset: off,
                            what: format!("node of level {level} at depth {depth}, leaves at {d}"),
                        });
                    }
                    if sub.count != sl.count || sub.bytes != sl.bytes {
                        w.problems.push(Problem {
                            offset: off,
                            what: format!(
                                "child {i} claims ({}, {}) entries and bytes, holds ({}, {})",
                                sl.count, sl.bytes, sub.count, sub.bytes
                            ),
                        });
                    }
                    if (sub.first_rec, sub.first_len, sub.first_prefix)
                        != (sl.key_rec, sl.key_len, sl.prefix)
                    {
                        w.problems.push(Problem {
                            offset: off,
                            what: format!("child {i}'s key is not its smallest key"),
                        });
                    }
                    total.count = total.count.wrapping_add(sl.count);
                    total.bytes = total.bytes.wrapping_add(sl.bytes);
                    if i == 0 {
                        (total.first_rec, total.first_len, total.first_prefix) =
                            (sl.key_rec, sl.key_len, sl.prefix);
                    }
                }
                Ok(Some(total))
            }
        }
    }

    /// The free list's nodes; `Err` with a reason if it is damaged.
    pub(crate) fn free_list(&self, root: &OmRoot) -> Result<Vec<u64>, String> {
        let region = self.region();
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        let mut at = root.free_head.load(Ordering::Acquire);
        let limit = self.region().committed_len() / NODE_LEN + 1;
        while at != 0 {
            if !seen.insert(at) || out.len() as u64 > limit {
                return Err(format!("the free list loops at {at}"));
            }
            let h: &NodeHeader = region.get(at).map_err(|e| e.to_string())?;
            if h.map.load(Ordering::Relaxed) != self.root
                || h.generation.load(Ordering::Relaxed) & 1 == 0
            {
                return Err(format!(
                    "free list node {at} is not a free node of this map"
                ));
            }
            out.push(at);
            at = h.next_free.load(Ordering::Relaxed);
        }
        Ok(out)
    }

    pub(crate) fn check(&self, repair: bool) -> Result<OrderedMapReport, OrderedMapError> {
        let mut report = OrderedMapReport::default();
        let _gate = self.store.inner.enter_write();
        let (mut locked, repaired) = match self.lock_within(Some(MAINTENANCE_LOCK_WAIT)) {
            Ok(l) => l,
            Err(OrderedMapError::Lock(LockError::Timeout(_))) => {
                report.busy.push("ordered map lock".into());
                report.len = self.snapshot()?.count;
                return Ok(report);
            }
            Err(e) => return Err(e),
        };
        report.repaired = repaired;
        let root = self.root_ref()?;
        let mut walk = self.walk(true)?;
        if repair && !walk.problems.is_empty() {
            let found: Vec<String> = walk.problems.iter().map(|p| p.what.clone()).collect();
            report.repaired.push(format!("found: {}", found.join("; ")));
            report
                .repaired
                .push(self.rebuild(&mut locked, root, &mut walk)?);
            walk = self.walk(true)?;
        }
        // After the rebuild, which took nodes from the list and returned the old tree's.
        let free = self.free_list(root);
        match free {
            Ok(list) => {
                let count = root.free_count.load(Ordering::Relaxed);
                if count != list.len() as u64 {
                    if repair {
                        root.free_count.store(list.len() as u64, Ordering::Relaxed);
                        report.repaired.push(format!(
                            "free node count {count} corrected to {}",
                            list.len()
                        ));
                    } else {
                        walk.problems.push(Problem {
                            offset: self.root,
                            what: format!("free node count {count}, the list holds {}", list.len()),
                        });
                    }
                }
            }
            Err(reason) => {
                if repair {
                    root.free_head.store(0, Ordering::Release);
                    root.free_count.store(0, Ordering::Relaxed);
                    report.repaired.push(format!(
                        "{reason}: free list dropped (its nodes go to the leak sweep)"
                    ));
                } else {
                    walk.problems.push(Problem {
                        offset: self.root,
                        what: reason,
                    });
                }
            }
        }
        report.problems = walk.problems;
        report.len = self.snapshot()?.count;
        drop(locked);
        Ok(report)
    }

    /// Rebuilds the tree from the entries of `walk` that checked (see the module docs).
    fn rebuild(
        &self,
        locked: &mut super::write::Locked<'_>,
        root: &OmRoot,
        walk: &mut Walk,
    ) -> Result<String, OrderedMapError> {
        let mut good = std::mem::take(&mut walk.good);
        good.sort_by(|a, b| a.0.cmp(&b.0));
        let before = good.len();
        good.dedup_by(|b, a| a.0 == b.0);
        let entries: Vec<Entry> = good.iter().map(|(_, e)| *e).collect();
        let kept = entries.len();
        locked.bulk_publish(&entries)?;
        // The old tree's nodes (only this map's, as the walk checked; each once, none that
        // is on the free list already) go to the free list.
        let region = self.region();
        let on_list: HashSet<u64> = self
            .free_list(root)
            .unwrap_or_default()
            .into_iter()
            .collect();
        let mut seen = HashSet::new();
        walk.nodes
            .retain(|n| !on_list.contains(n) && seen.insert(*n));
        for &off in &walk.nodes {
            let h: &NodeHeader = region.get(off)?;
            let g = h.generation.load(Ordering::Relaxed);
            if g & 1 == 0 {
                h.generation.store(g | 1, Ordering::Relaxed);
            }
        }
        fence(Ordering::Release);
        for &off in &walk.nodes {
            let h: &NodeHeader = region.get(off)?;
            h.next_free
                .store(root.free_head.load(Ordering::Relaxed), Ordering::Relaxed);
            root.free_head.store(off, Ordering::Release);
            root.free_count.fetch_add(1, Ordering::Relaxed);
        }
        root.recoveries.fetch_add(1, Ordering::Relaxed);
        Ok(format!(
            "rebuilt the tree from {kept} entries ({} duplicates dropped; damaged entries were not \
             kept)",
            before - kept
        ))
    }

    pub(crate) fn stats(&self) -> Result<OrderedMapStats, OrderedMapError> {
        let root = self.root_ref()?;
        let locked = self.lock()?;
        let walk = self.walk(false)?;
        let free = self.free_list(root).map(|l| l.len() as u64).unwrap_or(0);
        let snap = self.snapshot()?;
        drop(locked);
        Ok(OrderedMapStats {
            len: snap.count,
            entry_bytes: snap.bytes,
            depth: walk.depth,
            leaves: walk.leaves,
            inner_nodes: walk.inner,
            free_nodes: free,
            node_bytes: (walk.leaves + walk.inner + free) * NODE_LEN,
            writes: root.writes.load(Ordering::Relaxed),
            splits: root.splits.load(Ordering::Relaxed),
            merges: root.merges.load(Ordering::Relaxed),
            recoveries: root.recoveries.load(Ordering::Relaxed),
        })
    }

    pub(crate) fn owned_blocks(&self, f: &mut dyn FnMut(u64)) -> Result<(), OrderedMapError> {
        let root = self.root_ref()?;
        let (locked, _) = self.lock_within(Some(MAINTENANCE_LOCK_WAIT))?;
        f(self.root);
        let walk = self.walk(false)?;
        for &n in &walk.nodes {
            f(n);
        }
        for &r in &walk.records {
            f(r);
        }
        if let Ok(list) = self.free_list(root) {
            for n in list {
                f(n);
            }
        }
        drop(locked);
        Ok(())
    }
}

impl super::write::Locked<'_> {
    /// Builds a tree of `entries` (sorted, unique) from nodes filled to three quarters and
    /// publishes it with one commit (no intent: a repair killed half way leaks its nodes to
    /// the leak sweep and leaves the old tree published).
    pub(crate) fn bulk_publish(&mut self, entries: &[Entry]) -> Result<(), OrderedMapError> {
        let per_leaf = (LEAF_CAP * 3 / 4).max(1);
        let per_inner = (INNER_CAP * 3 / 4).max(2);
        let mut level: Vec<Slot> = Vec::new();
        for chunk in entries.chunks(per_leaf) {
            level.push(self.write_leaf_untracked(chunk)?);
        }
        let mut height = 0u32;
        while level.len() > 1 {
            height += 1;
            let mut up = Vec::new();
            for chunk in level.chunks(per_inner) {
                up.push(self.write_inner_untracked(chunk, height)?);
            }
            level = up;
        }
        let top = level.first().copied().unwrap_or_default();
        self.publish(top);
        Ok(())
    }
}
