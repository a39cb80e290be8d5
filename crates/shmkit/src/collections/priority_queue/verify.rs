//! The rebuild after a crash, consistency check, repair, statistics and block ownership of a
//! priority queue.
//!
//! The rebuild (run by the next holder after a dead one, or after a change that failed half
//! way, and by a repair that found problems) follows `locked`'s invariant: the candidates
//! are the records named by entries `[0, len)`, plus the intent's record if its push
//! committed (`len == old_len + 1`); if its pop committed (`len == old_len - 1`), the
//! entries `[0, old_len)` minus the popped record; none if a clear committed (`len == 0`).
//! An intent that committed nothing reads `[0, len)`, and so does one that is unknown or
//! whose old length fits none of these (damage: the old length is not trusted). Entries
//! past what the array holds are never read. Entries past these ranges are stale (they may
//! name records freed long ago, or popped and leaked by a killed holder), so they are never
//! candidates. The candidates are deduped and each is checked (an allocated block, lengths
//! within the block, a checksum made with this queue's root, so no other queue's record
//! passes); damaged ones are dropped and reported. The survivors are heapified in O(n) into
//! a fresh array, zeroed past them, which is published with one store; then the intent is
//! cleared and `len` stored. A rebuild killed before its publication leaves the old state
//! (rebuilt again next time); one killed after it leaves the new array with the old intent
//! and length, from which the next rebuild takes the same decision and finds the same
//! records (the zeroed tail names none).
//!
//! ```
//! use shmkit::{Store, StoreOptions};
//! let name = format!("doc-pq-verify-{}", std::process::id()); // unique to this process
//! let store = Store::create(&name, &StoreOptions::default()).unwrap();
//! let q = store.priority_queue("q").unwrap();
//! q.push(b"k", b"v").unwrap();
//! let report = q.verify().unwrap();
//! assert!(report.is_clean(), "{report:?}");
//! assert_eq!(report.len, 1);
//! Store::remove(&name).unwrap();
//! ```

use super::layout::{
    ARITY, INTENT_CLEAR, INTENT_NONE, INTENT_POP, INTENT_PUSH, MAX_CAPACITY, PqRoot, key_prefix,
};
use super::locked::{HeapArray, Locked};
use super::record;
use super::{PqInner, PriorityQueueError};
use crate::store::sweep_gate::WriteGuard;
use crate::store::verify::{MAINTENANCE_LOCK_WAIT, Problem};
use crate::sync::LockError;
use crate::sync::atomic::Ordering;
use std::collections::HashSet;

/// The result of [`super::PriorityQueue::verify`] and [`super::PriorityQueue::repair`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PriorityQueueReport {
    /// Damage found (after any repair); empty when clean.
    pub problems: Vec<Problem>,
    /// Items (after any repair).
    pub len: u64,
    /// What was repaired (or rebuilt after a dead lock holder).
    pub repaired: Vec<String>,
    /// Not checked because a live process held the lock longer than
    /// [`MAINTENANCE_LOCK_WAIT`].
    pub busy: Vec<String>,
}

impl PriorityQueueReport {
    /// True when the queue was checked and no problems were found.
    pub fn is_clean(&self) -> bool {
        self.problems.is_empty() && self.busy.is_empty()
    }
}

/// Counts and sizes of a priority queue ([`super::PriorityQueue::stats`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PriorityQueueStats {
    /// Items.
    pub len: u64,
    /// Bytes of the items' keys and values.
    pub item_bytes: u64,
    /// Entries the heap array holds.
    pub capacity: u64,
    /// The limit on items, 0 for none.
    pub maxlen: u64,
    /// Items pushed over the queue's life.
    pub pushes: u64,
    /// Items popped (or cleared) over the queue's life.
    pub pops: u64,
    /// Arrays replaced by a larger one.
    pub grows: u64,
    /// Arrays replaced by a smaller one.
    pub shrinks: u64,
    /// Heap rebuilds (after a dead lock holder, a change that failed half way, or a
    /// repair that found damage).
    pub recoveries: u64,
    /// Processes waiting for items now.
    pub pop_waiters: u64,
    /// Processes waiting for room now.
    pub push_waiters: u64,
}

/// One record kept by a rebuild.
struct Kept {
    key: Vec<u8>,
    seq: u64,
    rec: u64,
}

fn kept_less(a: &Kept, b: &Kept) -> bool {
    (&a.key, a.seq) < (&b.key, b.seq)
}

/// Floyd's bottom-up heap construction for an [`ARITY`]-ary min-heap: O(n).
fn heapify(v: &mut [Kept]) {
    let n = v.len();
    if n < 2 {
        return;
    }
    let d = ARITY as usize;
    for start in (0..=(n - 2) / d).rev() {
        let mut i = start;
        loop {
            let first = i * d + 1;
            if first >= n {
                break;
            }
            let mut best = first;
            for c in first + 1..(first + d).min(n) {
                if kept_less(&v[c], &v[best]) {
                    best = c;
                }
            }
            if !kept_less(&v[best], &v[i]) {
                break;
            }
            v.swap(i, best);
            i = best;
        }
    }
}

/// What the intent in the root says the rebuild must do.
enum Decision {
    /// Take entries `[0, end)`, plus `pushed` (a committed push's record, 0 for none), minus
    /// `popped` (a committed pop's record, 0 for none).
    Entries { end: u64, pushed: u64, popped: u64 },
    /// Take nothing (a committed clear).
    Nothing,
}

/// The decision for the intent `op` with old length `old_len` and record `moving`, at length
/// `len`, and a note on it.
fn decide(op: u32, old_len: u64, moving: u64, len: u64) -> (Decision, Option<String>) {
    let entries = |end| Decision::Entries {
        end,
        pushed: 0,
        popped: 0,
    };
    let (decision, note) = match op {
        INTENT_NONE => return (entries(len), None),
        INTENT_PUSH if old_len.checked_add(1) == Some(len) => (
            Decision::Entries {
                end: len,
                pushed: moving,
                popped: 0,
            },
            "completed a push that had committed".to_string(),
        ),
        INTENT_PUSH if old_len == len => (
            entries(len),
            "rolled back a push that had not committed (its record is left to the leak sweep)"
                .into(),
        ),
        INTENT_POP if len.checked_add(1) == Some(old_len) => (
            // The last entry, at the new length, fills the popped top's place in the sift.
            Decision::Entries {
                end: old_len,
                pushed: 0,
                popped: moving,
            },
            "completed a pop that had committed".into(),
        ),
        INTENT_POP if old_len == len => (
            entries(len),
            "rolled back a pop that had not committed".into(),
        ),
        INTENT_CLEAR if len == 0 => (
            Decision::Nothing,
            "completed a clear that had committed".into(),
        ),
        INTENT_CLEAR if old_len == len => (
            entries(len),
            "rolled back a clear that had not committed".into(),
        ),
        INTENT_PUSH | INTENT_POP | INTENT_CLEAR => (
            entries(len),
            format!(
                "ignored a damaged intent ({op}, old length {old_len} at length {len}): kept \
                 the entries the length counts"
            ),
        ),
        other => (
            entries(len),
            format!("ignored an unknown intent ({other}): kept the entries the length counts"),
        ),
    };
    (decision, Some(note))
}

/// The records the entries and the intent name as items (see the module docs), deduped;
/// notes on what the intent said.
pub(crate) fn candidates(root: &PqRoot, array: &HeapArray<'_>) -> (Vec<u64>, Vec<String>) {
    let op = root.intent_op.load(Ordering::Acquire);
    let old_len = root.intent_old_len.load(Ordering::Acquire);
    let moving = root.intent_rec.load(Ordering::Acquire);
    let len = root.len.load(Ordering::Acquire);
    let (decision, note) = decide(op, old_len, moving, len);
    let mut notes: Vec<String> = note.into_iter().collect();
    let Decision::Entries {
        mut end,
        pushed,
        popped,
    } = decision
    else {
        return (Vec::new(), notes);
    };
    if end > array.capacity {
        notes.push(format!(
            "the length ({end}) was past the array's {} entries: read those",
            array.capacity
        ));
        end = array.capacity;
    }
    let mut recs: Vec<u64> = array.entries[..end as usize]
        .iter()
        .map(|e| e.rec.load(Ordering::Acquire))
        .collect();
    recs.push(pushed);
    recs.retain(|r| *r != 0 && *r != popped);
    recs.sort_unstable();
    recs.dedup();
    (recs, notes)
}

impl Locked<'_> {
    /// Rebuilds the heap from the records the entries and the intent name (see the module
    /// docs), in a fresh array published by one store. Returns what it did.
    pub(crate) fn rebuild(&mut self) -> Result<Vec<String>, PriorityQueueError> {
        let root = self.root;
        let store = &self.inner.store;
        let (recs, mut done) = candidates(root, &self.array);
        let mut kept = Vec::with_capacity(recs.len());
        let mut bytes = 0u64;
        let mut max_seq = None::<u64>;
        let mut scratch = Vec::new();
        for rec in recs {
            match record::check(store, self.inner.root, rec, &mut scratch) {
                Ok(c) => {
                    bytes += c.key.len() as u64 + c.val_len;
                    max_seq = max_seq.max(Some(c.seq));
                    kept.push(Kept {
                        key: c.key,
                        seq: c.seq,
                        rec,
                    });
                }
                Err(why) => done.push(format!("dropped a damaged record: {why}")),
            }
        }
        heapify(&mut kept);
        let m = kept.len() as u64;
        let capacity = m
            .max(self.inner.initial_capacity)
            .checked_next_power_of_two()
            .filter(|c| *c <= MAX_CAPACITY)
            .ok_or_else(|| PriorityQueueError::corrupt(self.inner.root, "too many records"))?;
        if self.writing.is_none() {
            self.writing = Some(store.inner.enter_write());
        }
        let region = self.region();
        let block = store.alloc(HeapArray::block_len(capacity))?;
        let written = HeapArray::init(region, block, capacity).and_then(|new| {
            let mut buf = Vec::with_capacity(kept.len() * 24);
            for k in &kept {
                buf.extend_from_slice(&key_prefix(&k.key).to_le_bytes());
                buf.extend_from_slice(&k.seq.to_le_bytes());
                buf.extend_from_slice(&k.rec.to_le_bytes());
            }
            region.write_bytes(new.entry_offset(0), &buf)?;
            region.fill_bytes(
                new.entry_offset(m),
                (capacity - m) * super::layout::ENTRY_LEN,
                0,
            )?;
            Ok(new)
        });
        let new = match written {
            Ok(new) => new,
            Err(e) => {
                let _ = store.free(block);
                return Err(e);
            }
        };
        // The rebuild's commit: from here the new array is the heap (a rebuild killed now is
        // redone from it with the same intent and length).
        root.array.store(block, Ordering::Release);
        root.intent_op.store(INTENT_NONE, Ordering::Release);
        root.len.store(m, Ordering::SeqCst);
        root.bytes.store(bytes, Ordering::Relaxed);
        let next = root.next_seq.load(Ordering::Relaxed);
        match max_seq {
            Some(max_seq) if next <= max_seq => {
                // A record at the largest sequence number (damage: 2^64 pushes cannot
                // happen) leaves the counter there, and pushes are refused as corrupt.
                let past = max_seq.saturating_add(1);
                root.next_seq.store(past, Ordering::Release);
                if past == u64::MAX {
                    done.push(format!(
                        "a record has sequence number {max_seq}: the counter cannot move past \
                         it, so pushes are refused until the items are popped and the queue \
                         is repaired"
                    ));
                }
            }
            // No record to order new ones against (the fresh array names none): the
            // counter starts again.
            None if next == u64::MAX => {
                root.next_seq.store(0, Ordering::Release);
                done.push("restarted the exhausted sequence counter of an empty queue".into());
            }
            _ => {}
        }
        self.unlinked.push(self.array.block);
        self.array = new;
        self.inner.checked(block, capacity);
        self.len = m;
        self.broken = None;
        root.recoveries.fetch_add(1, Ordering::Relaxed);
        done.push(format!("rebuilt the heap: {m} items"));
        Ok(done)
    }

    /// Checks every entry: its record, the entry's copies of its prefix and sequence
    /// number, heap order, that no record is named twice, and the counts.
    pub(crate) fn walk(&self) -> Vec<Problem> {
        let root = self.root;
        let store = &self.inner.store;
        let mut problems = Vec::new();
        let mut seen = HashSet::with_capacity(self.len as usize);
        let mut keys: Vec<Option<(Vec<u8>, u64)>> = Vec::with_capacity(self.len as usize);
        let mut bytes = 0u64;
        let mut max_seq = None::<u64>;
        let mut scratch = Vec::new();
        for i in 0..self.len {
            let s = self.slot(i);
            let at = self.array.entry_offset(i);
            if !seen.insert(s.rec) {
                problems.push(Problem {
                    offset: at,
                    what: format!("entry {i} names record {} a second time", s.rec),
                });
            }
            match record::check(store, self.inner.root, s.rec, &mut scratch) {
                Ok(c) => {
                    if c.seq != s.seq || key_prefix(&c.key) != s.prefix {
                        problems.push(Problem {
                            offset: at,
                            what: format!(
                                "entry {i} disagrees with its record (seq {} vs {}, prefix)",
                                s.seq, c.seq
                            ),
                        });
                    }
                    bytes += c.key.len() as u64 + c.val_len;
                    max_seq = max_seq.max(Some(c.seq));
                    keys.push(Some((c.key, c.seq)));
                }
                Err(why) => {
                    problems.push(Problem {
                        offset: at,
                        what: format!("entry {i}: {why}"),
                    });
                    keys.push(None);
                }
            }
            if i > 0 {
                let p = ((i - 1) / ARITY) as usize;
                if let (Some(parent), Some(child)) = (&keys[p], &keys[i as usize])
                    && child < parent
                {
                    problems.push(Problem {
                        offset: at,
                        what: format!("heap order broken: entry {i} sorts before its parent"),
                    });
                }
            }
        }
        let counted = root.bytes.load(Ordering::Relaxed);
        if problems.is_empty() && counted != bytes {
            problems.push(Problem {
                offset: self.inner.root,
                what: format!("the root says {counted} bytes, the records hold {bytes}"),
            });
        }
        let next = root.next_seq.load(Ordering::Relaxed);
        if next == u64::MAX {
            problems.push(Problem {
                offset: self.inner.root,
                what: "the next sequence number is at its largest value (pushes are refused)"
                    .into(),
            });
        } else if let Some(max_seq) = max_seq
            && next <= max_seq
        {
            problems.push(Problem {
                offset: self.inner.root,
                what: format!("next sequence number {next} is not past the records' {max_seq}"),
            });
        }
        problems
    }
}

impl PqInner {
    pub(crate) fn check(&self, repair: bool) -> Result<PriorityQueueReport, PriorityQueueError> {
        let mut report = PriorityQueueReport::default();
        let root = self.root_ref()?;
        let mut writing = Some(self.store.inner.enter_write());
        let (mut locked, recovered) =
            match self.lock_within(Some(MAINTENANCE_LOCK_WAIT), &mut writing) {
                Ok(l) => l,
                Err(PriorityQueueError::Lock(LockError::Timeout(_))) => {
                    report.busy.push("priority queue lock".into());
                    report.len = root.len.load(Ordering::SeqCst);
                    return Ok(report);
                }
                Err(PriorityQueueError::Corrupt { offset, reason }) => {
                    if repair {
                        report.repaired.extend(self.salvage(&reason, writing)?);
                    } else {
                        report.problems.push(Problem {
                            offset,
                            what: reason,
                        });
                    }
                    report.len = root.len.load(Ordering::SeqCst);
                    return Ok(report);
                }
                Err(e) => return Err(e),
            };
        report.repaired = recovered;
        let mut problems = locked.walk();
        if repair && !problems.is_empty() {
            let found: Vec<String> = problems.iter().map(|p| p.what.clone()).collect();
            report.repaired.push(format!("found: {}", found.join("; ")));
            match locked.rebuild() {
                Ok(done) => report.repaired.extend(done),
                Err(e) => {
                    locked.finish();
                    return Err(e);
                }
            }
            problems = locked.walk();
        }
        report.problems = problems;
        report.len = locked.len;
        locked.finish();
        Ok(report)
    }

    /// After the lock's validation failed: rebuilds from what the array still names if its
    /// header is usable (a length past it, say), or else replaces it by an empty array
    /// (every item lost, reported; the leak sweep frees the old array and the records).
    fn salvage<'a>(
        &'a self,
        reason: &str,
        writing: Option<WriteGuard<'a>>,
    ) -> Result<Vec<String>, PriorityQueueError> {
        let root = self.root_ref()?;
        let writing = writing.unwrap_or_else(|| self.store.inner.enter_write());
        let mut guard = self.store.lock_timeout(&root.lock, MAINTENANCE_LOCK_WAIT)?;
        let block = root.array.load(Ordering::Acquire);
        let usable = self
            .store
            .block_capacity(block)
            .ok()
            .and_then(|cap| HeapArray::open(self.region(), block, cap).ok());
        if let Some(array) = usable {
            let len = root.len.load(Ordering::Acquire);
            let mut locked = Locked::new(self, root, guard, array, len, Some(writing));
            let mut done = locked.rebuild()?;
            done.insert(0, format!("rebuilt the heap after: {reason}"));
            locked.guard.mark_consistent();
            locked.finish();
            return Ok(done);
        }
        let initial = self.initial_capacity;
        let new = self.store.alloc(HeapArray::block_len(initial))?;
        if let Err(e) = HeapArray::init(self.region(), new, initial) {
            let _ = self.store.free(new);
            return Err(e);
        }
        let lost = root.len.load(Ordering::SeqCst);
        // The length and the intent first (an empty queue in any array), then the array.
        root.len.store(0, Ordering::SeqCst);
        root.intent_op.store(INTENT_NONE, Ordering::Release);
        root.array.store(new, Ordering::Release);
        root.bytes.store(0, Ordering::Relaxed);
        guard.mark_consistent();
        drop(guard);
        drop(writing);
        Ok(vec![format!(
            "replaced an unusable heap array ({reason}) by an empty one: about {lost} items \
             lost; the leak sweep frees the old array and its records"
        )])
    }

    /// The root, the array and every record. Never rebuilds (the leak sweep calls this
    /// while it holds this process's writers back): after a dead holder it lists what a
    /// rebuild would keep before checking the records, a superset.
    pub(crate) fn owned_blocks(&self, f: &mut dyn FnMut(u64)) -> Result<(), PriorityQueueError> {
        let root = self.root_ref()?;
        let guard = self.store.lock_timeout(&root.lock, MAINTENANCE_LOCK_WAIT)?;
        let block = root.array.load(Ordering::Acquire);
        let capacity = self
            .store
            .block_capacity(block)
            .map_err(|e| PriorityQueueError::corrupt(block, format!("array block: {e}")))?;
        let array = HeapArray::open(self.region(), block, capacity)?;
        let (recs, _) = candidates(root, &array);
        f(self.root);
        f(array.block);
        for rec in recs {
            f(rec);
        }
        drop(guard);
        Ok(())
    }

    pub(crate) fn stats(&self) -> Result<PriorityQueueStats, PriorityQueueError> {
        let root = self.root_ref()?;
        let array = root.array.load(Ordering::Acquire);
        let capacity = self
            .region()
            .get::<super::layout::ArrayHeader>(array)
            .map(|h| h.capacity.load(Ordering::Relaxed))
            .unwrap_or(0);
        Ok(PriorityQueueStats {
            len: root.len.load(Ordering::SeqCst),
            item_bytes: root.bytes.load(Ordering::Relaxed),
            capacity,
            maxlen: self.maxlen,
            pushes: root.pushes.load(Ordering::Relaxed),
            pops: root.pops.load(Ordering::Relaxed),
            grows: root.grows.load(Ordering::Relaxed),
            shrinks: root.shrinks.load(Ordering::Relaxed),
            recoveries: root.recoveries.load(Ordering::Relaxed),
            pop_waiters: root.not_empty.waiters() as u64,
            push_waiters: root.not_full.waiters() as u64,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heapify_builds_a_heap_for_every_small_input() {
        for n in 0..60u64 {
            let mut v: Vec<Kept> = (0..n)
                .map(|i| Kept {
                    key: vec![((i * 37) % 11) as u8],
                    seq: i,
                    rec: i,
                })
                .collect();
            heapify(&mut v);
            for i in 1..v.len() {
                let p = (i - 1) / ARITY as usize;
                assert!(!kept_less(&v[i], &v[p]), "n {n}, entry {i}");
            }
        }
    }
}
