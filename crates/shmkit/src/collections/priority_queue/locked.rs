//! What the holder of a priority queue's lock does: push into and pop from the heap, grow
//! and shrink its array, clear it.
//!
//! Order of the stores (whole words; those a rebuild reads, the entries' `rec` words, the
//! intent, `len` and `array`, with release ordering, so a process killed at any instruction
//! leaves a prefix of them):
//! - **push** (record built, hashed and allocated before the lock): `next_seq`; the record's
//!   `seq` and checksum; the intent (`intent_rec` = the record, `intent_old_len` = `len`,
//!   then `intent_op` = push); entry `len` = the record; **`len` + 1: the commit**; `bytes`;
//!   sift up (a hole moves up: parents are copied down, the record is written last, so until
//!   then it is named by the intent alone); `intent_op` = none.
//! - **pop**: the top record is copied out and checked against its checksum and its entry's
//!   sequence number; the intent (the top record, `len`, pop); **`len` − 1: the commit**;
//!   `bytes`; sift down (the last entry, still in place at `len`, fills the hole at the top);
//!   `intent_op` = none. The record is freed after the lock is released.
//! - **clear**: the intent (`len`, clear); **`len` = 0: the commit**; `intent_op` = none;
//!   the records are freed after the lock is released.
//! - **resize**: a new array holding the entries `[0, len)` is published by one store of
//!   `array`, with no intent set; the old array is freed after the lock is released.
//!
//! Every entry in `[0, max(len, intent_old_len))` names a live record or a copy of one
//! (sifts copy an entry before overwriting its old place), except the popped record of a
//! committed pop; the record moving in a sift is also named by the intent. That is what
//! `verify::rebuild` relies on after a holder died (it reads only what the intent says is
//! in: `[0, len)`, or `[0, old_len)` after a committed pop). A popped record is freed only
//! after the lock is released; a process killed in between leaks it to the leak sweep,
//! never frees a block twice.
//!
//! ```
//! use shmkit::{Store, StoreOptions};
//! let name = format!("doc-pq-locked-{}", std::process::id()); // unique to this process
//! let store = Store::create(&name, &StoreOptions::default()).unwrap();
//! let q = store.priority_queue("q").unwrap();
//! for i in (0..1000u32).rev() {
//!     q.push(&i.to_be_bytes(), b"").unwrap(); // the array grows on the way
//! }
//! assert_eq!(q.pop().unwrap().unwrap().0, 0u32.to_be_bytes());
//! Store::remove(&name).unwrap();
//! ```

use super::PqInner;
use super::error::PriorityQueueError;
use super::layout::{
    ARITY, ARRAY_HEADER_LEN, ARRAY_MAGIC, ArrayHeader, ENTRY_LEN, Entry, INTENT_CLEAR, INTENT_NONE,
    INTENT_POP, INTENT_PUSH, MAX_CAPACITY, MIN_CAPACITY, PqRoot,
};
use super::record::{self, Built};
use crate::raw::Region;
use crate::store::Store;
use crate::store::sweep_gate::WriteGuard;
use crate::sync::MutexGuard;
use crate::sync::atomic::Ordering;

/// A validated array block.
#[derive(Clone, Copy, Debug)]
pub(crate) struct HeapArray<'a> {
    /// Offset of the block.
    pub(crate) block: u64,
    /// Entries it holds.
    pub(crate) capacity: u64,
    /// The entries.
    pub(crate) entries: &'a [Entry],
}

impl<'a> HeapArray<'a> {
    /// The array at `block`, after checking its header and that its entries lie inside the
    /// block (`block_capacity`: the usable bytes of the allocator block; `u64::MAX` when the
    /// caller checked this block before).
    pub(crate) fn open(
        region: &'a Region,
        block: u64,
        block_capacity: u64,
    ) -> Result<HeapArray<'a>, PriorityQueueError> {
        let header: &ArrayHeader = region.get(block)?;
        if header.magic.load(Ordering::Acquire) != ARRAY_MAGIC {
            return Err(PriorityQueueError::corrupt(
                block,
                "not a priority queue array (bad magic)",
            ));
        }
        let capacity = header.capacity.load(Ordering::Relaxed);
        if !capacity.is_power_of_two() || !(MIN_CAPACITY..=MAX_CAPACITY).contains(&capacity) {
            return Err(PriorityQueueError::corrupt(
                block,
                format!("array capacity {capacity} is not a power of two in range"),
            ));
        }
        if block_capacity < ARRAY_HEADER_LEN + capacity * ENTRY_LEN {
            return Err(PriorityQueueError::corrupt(
                block,
                format!("array of {capacity} entries in a block of {block_capacity} bytes"),
            ));
        }
        let entries = region.get_slice(block + ARRAY_HEADER_LEN, capacity)?;
        Ok(HeapArray {
            block,
            capacity,
            entries,
        })
    }

    /// Writes an array header for `capacity` entries into a fresh block large enough.
    pub(crate) fn init(
        region: &'a Region,
        block: u64,
        capacity: u64,
    ) -> Result<HeapArray<'a>, PriorityQueueError> {
        let header: &ArrayHeader = region.get(block)?;
        header.capacity.store(capacity, Ordering::Relaxed);
        header.magic.store(ARRAY_MAGIC, Ordering::Release);
        HeapArray::open(region, block, u64::MAX)
    }

    /// Bytes of the block an array of `capacity` entries needs.
    pub(crate) const fn block_len(capacity: u64) -> u64 {
        ARRAY_HEADER_LEN + capacity * ENTRY_LEN
    }

    /// Offset of entry `i`.
    pub(crate) fn entry_offset(&self, i: u64) -> u64 {
        self.block + ARRAY_HEADER_LEN + i * ENTRY_LEN
    }
}

/// An item with its sequence number, as copied out under the lock.
pub(crate) type SeqItem = (u64, Vec<u8>, Vec<u8>);

/// One entry's words, read or to be written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Slot {
    pub(crate) prefix: u64,
    pub(crate) seq: u64,
    pub(crate) rec: u64,
}

/// The full key of one record, read on demand (comparisons read keys only when prefixes
/// tie) and kept while the same record is compared again.
#[derive(Default)]
struct KeyCache {
    rec: u64,
    key: Vec<u8>,
}

impl KeyCache {
    fn get(&mut self, store: &Store, rec: u64) -> Result<&[u8], PriorityQueueError> {
        if self.rec != rec || rec == 0 {
            self.rec = 0;
            record::read_key(store, rec, &mut self.key)?;
            self.rec = rec;
        }
        Ok(&self.key)
    }
}

/// True if `a` sorts before `b`: by prefix, then (on a tie) full key, then seq.
fn less(
    store: &Store,
    a: &Slot,
    a_key: &mut KeyCache,
    b: &Slot,
    b_key: &mut KeyCache,
) -> Result<bool, PriorityQueueError> {
    if a.prefix != b.prefix {
        return Ok(a.prefix < b.prefix);
    }
    let ka = a_key.get(store, a.rec)?;
    let kb = b_key.get(store, b.rec)?;
    Ok((ka, a.seq) < (kb, b.seq))
}

/// The queue under its lock: the validated array and length.
pub(crate) struct Locked<'a> {
    pub(crate) inner: &'a PqInner,
    pub(crate) root: &'a PqRoot,
    pub(crate) guard: MutexGuard<'a>,
    pub(crate) array: HeapArray<'a>,
    /// `root.len` as this holder last stored or read it.
    pub(crate) len: u64,
    /// Blocks unlinked under the lock (checked), to free after it is released.
    pub(crate) unlinked: Vec<u64>,
    /// Records a clear unlinked, with the sequence numbers their entries gave (not checked
    /// yet): each is checked, then freed, after the lock is released.
    pub(crate) cleared: Vec<Slot>,
    /// Held from before the first allocation or unlink until the blocks are published or
    /// freed (keeps this process's leak sweep away from them).
    pub(crate) writing: Option<WriteGuard<'a>>,
    /// Set when a change failed after its commit and the rebuild that should have followed
    /// failed too: the heap may be mid-sift (the intent is still set, so the next holder
    /// rebuilds); no further change in this hold.
    pub(crate) broken: Option<String>,
}

impl<'a> Locked<'a> {
    pub(crate) fn new(
        inner: &'a PqInner,
        root: &'a PqRoot,
        guard: MutexGuard<'a>,
        array: HeapArray<'a>,
        len: u64,
        writing: Option<WriteGuard<'a>>,
    ) -> Locked<'a> {
        Locked {
            inner,
            root,
            guard,
            array,
            len,
            unlinked: Vec::new(),
            cleared: Vec::new(),
            writing,
            broken: None,
        }
    }

    pub(crate) fn region(&self) -> &'a Region {
        self.inner.region()
    }

    /// Releases the lock, then frees the blocks unlinked under it.
    pub(crate) fn finish(self) {
        let Locked {
            inner,
            guard,
            unlinked,
            cleared,
            writing,
            ..
        } = self;
        drop(guard);
        for block in unlinked {
            // A failure leaves the block to the leak sweep.
            let _ = inner.store.free(block);
        }
        free_cleared(inner, cleared);
        drop(writing);
    }

    #[inline]
    pub(crate) fn slot(&self, i: u64) -> Slot {
        let e = &self.array.entries[i as usize];
        Slot {
            prefix: e.key_prefix.load(Ordering::Relaxed),
            seq: e.seq.load(Ordering::Relaxed),
            rec: e.rec.load(Ordering::Relaxed),
        }
    }

    #[inline]
    fn put(&self, i: u64, s: Slot) {
        let e = &self.array.entries[i as usize];
        e.key_prefix.store(s.prefix, Ordering::Relaxed);
        e.seq.store(s.seq, Ordering::Relaxed);
        // Release: no earlier store (a copy elsewhere, the intent, the commit) moves after it.
        e.rec.store(s.rec, Ordering::Release);
    }

    fn broken_error(&self) -> Result<(), PriorityQueueError> {
        match &self.broken {
            None => Ok(()),
            Some(why) => Err(PriorityQueueError::corrupt(
                self.inner.root,
                format!("the heap needs a rebuild that failed: {why}"),
            )),
        }
    }

    /// After a change committed and then failed (a damaged record met while sifting):
    /// rebuilds the heap now, in this hold; if that fails too, leaves the intent for the
    /// next holder and refuses further changes in this hold.
    #[cold]
    #[inline(never)]
    fn after_failed_commit(&mut self, error: PriorityQueueError) {
        if let Err(e) = self.rebuild() {
            self.broken = Some(format!("{error}; then {e}"));
        }
    }

    /// Pushes the sealed-to-be record `built` whose key is `key`, growing the array if
    /// needed. `Ok` once the push committed (the record is published); an error means it
    /// was not (the caller frees the record). Refused as damage when the sequence numbers
    /// ran out (`next_seq` at `u64::MAX`: 2^64 pushes cannot happen, a damaged root can).
    pub(crate) fn push(&mut self, built: &Built, key: &[u8]) -> Result<(), PriorityQueueError> {
        self.broken_error()?;
        let root = self.root;
        let seq = root.next_seq.load(Ordering::Relaxed);
        if seq == u64::MAX {
            return Err(PriorityQueueError::corrupt(
                self.inner.root,
                "the next sequence number is at its largest value (the root is damaged)",
            ));
        }
        if self.len >= self.array.capacity {
            let grown = self.array.capacity.saturating_mul(2);
            if grown > MAX_CAPACITY {
                return Err(PriorityQueueError::Alloc(
                    crate::store::error::AllocError::TooLarge {
                        size: HeapArray::block_len(grown),
                    },
                ));
            }
            self.resize(grown)?;
        }
        root.next_seq.store(seq + 1, Ordering::Release);
        record::seal_record(&self.inner.store, built, seq)?;
        let n = self.len;
        let moving = Slot {
            prefix: built.prefix,
            seq,
            rec: built.rec,
        };
        root.intent_rec.store(built.rec, Ordering::Release);
        root.intent_old_len.store(n, Ordering::Release);
        root.intent_op.store(INTENT_PUSH, Ordering::Release);
        self.put(n, moving);
        self.len = n + 1;
        // The commit: the record is in.
        root.len.store(n + 1, Ordering::SeqCst);
        let bytes = root.bytes.load(Ordering::Relaxed);
        root.bytes
            .store(bytes.wrapping_add(built.bytes), Ordering::Relaxed);
        root.pushes.fetch_add(1, Ordering::Relaxed);
        match self.sift_up(n, moving, key) {
            Ok(()) => root.intent_op.store(INTENT_NONE, Ordering::Release),
            Err(e) => self.after_failed_commit(e),
        }
        Ok(())
    }

    /// Moves the hole at `i` up until `moving` (whose key is `key`) fits, then writes it
    /// there.
    fn sift_up(&mut self, mut i: u64, moving: Slot, key: &[u8]) -> Result<(), PriorityQueueError> {
        let store = &self.inner.store;
        let mut parent_key = KeyCache::default();
        while i > 0 {
            let p = (i - 1) / ARITY;
            let parent = self.slot(p);
            let before = if moving.prefix != parent.prefix {
                moving.prefix < parent.prefix
            } else {
                (key, moving.seq) < (parent_key.get(store, parent.rec)?, parent.seq)
            };
            if !before {
                break;
            }
            self.put(i, parent);
            i = p;
        }
        self.put(i, moving);
        Ok(())
    }

    /// Pops the top item into `key` and `value` (checked against its checksum); false if
    /// the queue is empty. `Ok(true)` once the pop committed; an error means it did not.
    pub(crate) fn pop(
        &mut self,
        key: &mut Vec<u8>,
        value: &mut Vec<u8>,
    ) -> Result<bool, PriorityQueueError> {
        self.broken_error()?;
        if self.len == 0 {
            return Ok(false);
        }
        let top = self.read_entry(0, key, value)?;
        let root = self.root;
        let n = self.len;
        root.intent_rec.store(top.rec, Ordering::Release);
        root.intent_old_len.store(n, Ordering::Release);
        root.intent_op.store(INTENT_POP, Ordering::Release);
        self.len = n - 1;
        // The commit: the caller has the bytes.
        root.len.store(n - 1, Ordering::SeqCst);
        let bytes = root.bytes.load(Ordering::Relaxed);
        root.bytes.store(
            bytes.saturating_sub((key.len() + value.len()) as u64),
            Ordering::Relaxed,
        );
        root.pops.fetch_add(1, Ordering::Relaxed);
        self.unlinked.push(top.rec);
        let sifted = if n > 1 {
            let last = self.slot(n - 1);
            self.sift_down(last)
        } else {
            Ok(())
        };
        match sifted {
            Ok(()) => root.intent_op.store(INTENT_NONE, Ordering::Release),
            Err(e) => self.after_failed_commit(e),
        }
        Ok(true)
    }

    /// Moves the hole at the top down until `last` fits, then writes it there. Keys read on
    /// prefix ties are kept for the next comparison of the same record (the best child
    /// so far, `last`), so each record's key is read at most once per level.
    fn sift_down(&mut self, last: Slot) -> Result<(), PriorityQueueError> {
        let store = &self.inner.store;
        let n = self.len;
        let (mut best_key, mut other_key, mut last_key) = (
            KeyCache::default(),
            KeyCache::default(),
            KeyCache::default(),
        );
        let mut i = 0;
        loop {
            let first = i * ARITY + 1;
            if first >= n {
                break;
            }
            let mut best = first;
            let mut best_slot = self.slot(first);
            for c in first + 1..(first + ARITY).min(n) {
                let s = self.slot(c);
                if less(store, &s, &mut other_key, &best_slot, &mut best_key)? {
                    best = c;
                    best_slot = s;
                    std::mem::swap(&mut best_key, &mut other_key);
                }
            }
            if !less(store, &best_slot, &mut best_key, &last, &mut last_key)? {
                break;
            }
            self.put(i, best_slot);
            i = best;
        }
        self.put(i, last);
        Ok(())
    }

    /// Copies the key and value of the record entry `i` names into `key` and `value`,
    /// checked: an allocated block of this queue's matching its checksum and the entry's
    /// sequence number (a stale entry naming a freed block, one reused by another queue, or
    /// one reused by a later push of this queue is refused). Returns the entry.
    fn read_entry(
        &self,
        i: u64,
        key: &mut Vec<u8>,
        value: &mut Vec<u8>,
    ) -> Result<Slot, PriorityQueueError> {
        let slot = self.slot(i);
        let seq = record::read(&self.inner.store, self.inner.root, slot.rec, key, value)?;
        if seq != slot.seq {
            key.clear();
            value.clear();
            return Err(PriorityQueueError::corrupt(
                self.array.entry_offset(i),
                format!("entry {i} says seq {}, its record {seq}", slot.seq),
            ));
        }
        Ok(slot)
    }

    /// The key and value lengths of the smallest item, if any (checked against its block:
    /// never lengths a damaged header made up).
    pub(crate) fn top_lengths(&self) -> Result<Option<(u64, u64)>, PriorityQueueError> {
        self.broken_error()?;
        if self.len == 0 {
            return Ok(None);
        }
        record::lengths(&self.inner.store, self.slot(0).rec).map(Some)
    }

    /// The top entry's key and value (checked), if any.
    pub(crate) fn peek(
        &self,
        key: &mut Vec<u8>,
        value: &mut Vec<u8>,
    ) -> Result<bool, PriorityQueueError> {
        self.broken_error()?;
        if self.len == 0 {
            return Ok(false);
        }
        self.read_entry(0, key, value)?;
        Ok(true)
    }

    /// Empties the queue (one commit store); the records are freed after the lock is
    /// released. Returns how many items there were.
    pub(crate) fn clear(&mut self) -> Result<u64, PriorityQueueError> {
        self.broken_error()?;
        let n = self.len;
        if n == 0 {
            return Ok(0);
        }
        let root = self.root;
        root.intent_rec.store(0, Ordering::Release);
        root.intent_old_len.store(n, Ordering::Release);
        root.intent_op.store(INTENT_CLEAR, Ordering::Release);
        self.len = 0;
        // The commit: every item is gone.
        root.len.store(0, Ordering::SeqCst);
        let slots: Vec<Slot> = (0..n).map(|i| self.slot(i)).collect();
        self.cleared.extend(slots);
        root.intent_op.store(INTENT_NONE, Ordering::Release);
        root.bytes.store(0, Ordering::Relaxed);
        root.pops.fetch_add(n, Ordering::Relaxed);
        if self.array.capacity > self.inner.initial_capacity && !self.sweeping() {
            // A failed shrink keeps the larger array.
            let _ = self.resize(self.inner.initial_capacity);
        }
        Ok(n)
    }

    /// True while a leak sweep of this process runs: the sweep takes queue locks (for
    /// `owned_blocks`) while it holds writers back, so a shrink, which is never needed,
    /// is skipped rather than stall both.
    fn sweeping(&self) -> bool {
        self.inner.store.inner.is_sweeping()
    }

    /// Halves the array when less than an eighth of it is used (never below the initial
    /// capacity): a queue that was long gives the memory back. Skipped while this process
    /// sweeps leaks.
    pub(crate) fn maybe_shrink(&mut self) -> Result<(), PriorityQueueError> {
        self.broken_error()?;
        let cap = self.array.capacity;
        if cap > self.inner.initial_capacity && self.len < cap / 8 && !self.sweeping() {
            self.resize((cap / 2).max(self.inner.initial_capacity))?;
        }
        Ok(())
    }

    /// Moves the entries `[0, len)` into a new array of `capacity` entries, published by one
    /// store (no intent is set: before the store the old array is the heap, after it the new
    /// one, both whole).
    pub(crate) fn resize(&mut self, capacity: u64) -> Result<(), PriorityQueueError> {
        debug_assert!(capacity >= self.len && capacity.is_power_of_two());
        let store = &self.inner.store;
        if self.writing.is_none() {
            self.writing = Some(store.inner.enter_write());
        }
        let region = self.region();
        let block = store.alloc(HeapArray::block_len(capacity))?;
        let moved = HeapArray::init(region, block, capacity).and_then(|new| {
            copy_entries(region, &self.array, &new, self.len)?;
            Ok(new)
        });
        let new = match moved {
            Ok(new) => new,
            Err(e) => {
                let _ = store.free(block);
                return Err(e);
            }
        };
        let grew = capacity > self.array.capacity;
        // The commit: the new array holds every entry at the same index.
        self.root.array.store(block, Ordering::Release);
        self.unlinked.push(self.array.block);
        self.array = new;
        self.inner.checked(block, capacity);
        let counter = if grew {
            &self.root.grows
        } else {
            &self.root.shrinks
        };
        counter.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Every item's sequence number, key and value (each checked), in heap order.
    pub(crate) fn copy_items(&self) -> Result<Vec<SeqItem>, PriorityQueueError> {
        self.broken_error()?;
        let mut out = Vec::with_capacity(self.len as usize);
        for i in 0..self.len {
            let (mut key, mut value) = (Vec::new(), Vec::new());
            let slot = self.read_entry(i, &mut key, &mut value)?;
            out.push((slot.seq, key, value));
        }
        Ok(out)
    }
}

/// Frees the records a clear unlinked (after the lock is released), each once, and only
/// what still checks as the record its entry named: an allocated block of this queue's with
/// the entry's sequence number. Entries past a damaged length may name blocks freed long
/// ago, since reused by another object or by a later push of this queue (a sequence number
/// is never given twice); those are left alone (the leak sweep frees what nothing reaches).
fn free_cleared(inner: &PqInner, mut cleared: Vec<Slot>) {
    cleared.sort_unstable_by_key(|s| (s.rec, s.seq));
    cleared.dedup_by_key(|s| (s.rec, s.seq));
    let mut scratch = Vec::new();
    for slot in cleared {
        match record::check(&inner.store, inner.root, slot.rec, &mut scratch) {
            Ok(c) if c.seq == slot.seq => {
                let _ = inner.store.free(slot.rec);
            }
            _ => {}
        }
    }
}

/// Copies entries `[0, n)` of `from` into `to` (same indices), in chunks.
fn copy_entries(
    region: &Region,
    from: &HeapArray<'_>,
    to: &HeapArray<'_>,
    n: u64,
) -> Result<(), PriorityQueueError> {
    const CHUNK: u64 = 64 * 1024;
    let total = n * ENTRY_LEN;
    let mut buf = vec![0u8; CHUNK.min(total) as usize];
    let mut done = 0;
    while done < total {
        let len = CHUNK.min(total - done) as usize;
        region.read_bytes(from.entry_offset(0) + done, &mut buf[..len])?;
        region.write_bytes(to.entry_offset(0) + done, &buf[..len])?;
        done += len as u64;
    }
    Ok(())
}
