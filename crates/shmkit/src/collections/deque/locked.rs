//! What the holder of a deque's lock does: push and pop entries at either end, grow and
//! shrink the ring, and the repair that runs when the lock was taken over from a dead
//! holder.
//!
//! Invariants (see `layout` for the bytes): every change of the items is one store of
//! `head`, `tail` or `ring` (the commit), made after everything it publishes is written;
//! `count` and `bytes` follow it and are recomputed by [`Locked::recount`] after a dead
//! holder. Blocks a change unlinks (an old ring) are collected in `unlinked` and freed by the
//! caller after the lock is released; a process killed in between leaks them to the leak
//! sweep, never frees a block twice.
//!
//! ```
//! use shmkit::{Store, StoreOptions};
//! let name = format!("doc-deque-locked-{}", std::process::id()); // unique to this process
//! let store = Store::create(&name, &StoreOptions::default()).unwrap();
//! let d = store.deque("d").unwrap();
//! for i in 0..1000u32 {
//!     d.push_back(&i.to_le_bytes()).unwrap(); // the ring grows on the way
//! }
//! assert_eq!(d.pop_front().unwrap().unwrap(), 0u32.to_le_bytes());
//! Store::remove(&name).unwrap();
//! ```

use super::error::DequeError;
use super::layout::{DequeRoot, ENTRY_OVERHEAD, MAX_RING, RING_HEADER_LEN, entry_len};
use super::ring::{EntryAt, Ring};
use super::{DequeInner, End};
use crate::raw::Region;
use crate::store::sweep_gate::WriteGuard;
use crate::sync::MutexGuard;
use crate::sync::atomic::Ordering;

/// The deque under its lock: the validated ring and positions.
pub(crate) struct Locked<'a> {
    pub(crate) inner: &'a DequeInner,
    pub(crate) root: &'a DequeRoot,
    pub(crate) guard: MutexGuard<'a>,
    pub(crate) ring: Ring,
    pub(crate) head: u64,
    pub(crate) tail: u64,
    /// Blocks unlinked under the lock, to free after it is released.
    pub(crate) unlinked: Vec<u64>,
    /// Held from the first allocation or unlink until the blocks are published or freed
    /// (keeps this process's leak sweep away from them).
    pub(crate) writing: Option<WriteGuard<'a>>,
    /// The largest entry popped in this hold: a shrink keeps room for one more like it, so
    /// a large item pushed and popped over and over does not resize the ring every time.
    pub(crate) largest_popped: u64,
}

/// What a repair after a dead holder (or a check) found by walking the entries.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Walk {
    /// Entries from `head` up to the first damaged one (or `tail`).
    pub(crate) count: u64,
    /// Their items' bytes.
    pub(crate) bytes: u64,
    /// Position after the last good entry.
    pub(crate) good_end: u64,
    /// The damage that ended the walk before `tail`, if any.
    pub(crate) damage: Option<String>,
}

impl<'a> Locked<'a> {
    pub(crate) fn region(&self) -> &'a Region {
        self.inner.region()
    }

    /// Releases the lock, then frees the blocks unlinked under it.
    pub(crate) fn finish(self) {
        let Locked {
            inner,
            guard,
            unlinked,
            writing,
            ..
        } = self;
        drop(guard);
        for block in unlinked {
            // A failure leaves the block to the leak sweep.
            let _ = inner.store.free(block);
        }
        drop(writing);
    }

    /// Bytes of entries in the deque.
    pub(crate) fn used(&self) -> u64 {
        self.tail.wrapping_sub(self.head)
    }

    pub(crate) fn count(&self) -> u64 {
        self.root.count.load(Ordering::Relaxed)
    }

    /// Stores the item count and bytes (what the entries hold).
    pub(crate) fn set_counts(&self, count: u64, bytes: u64) {
        self.root.count.store(count, Ordering::SeqCst);
        self.root.bytes.store(bytes, Ordering::Relaxed);
    }

    /// Makes room for `need` more bytes of entries (a larger ring if needed).
    pub(crate) fn reserve(&mut self, need: u64) -> Result<(), DequeError> {
        if self.ring.capacity - self.used() < need {
            self.resize(self.used().saturating_add(need))?;
        }
        Ok(())
    }

    /// Pushes the entry of `item` (framed by `word`, computed before locking) at `end`,
    /// growing the ring if needed.
    pub(crate) fn push(&mut self, end: End, item: &[u8]) -> Result<(), DequeError> {
        let need = entry_len(item.len() as u64);
        self.reserve(need)?;
        let region = self.region();
        match end {
            End::Back => {
                self.ring.write_entry(region, self.tail, item)?;
                self.tail = self.tail.wrapping_add(need);
                // The commit: the entry is written.
                self.root.tail.store(self.tail, Ordering::Release);
            }
            End::Front => {
                let start = self.head.wrapping_sub(need);
                self.ring.write_entry(region, start, item)?;
                self.head = start;
                self.root.head.store(self.head, Ordering::Release);
            }
        }
        self.root
            .count
            .store(self.count().saturating_add(1), Ordering::SeqCst);
        let bytes = self.root.bytes.load(Ordering::Relaxed);
        self.root
            .bytes
            .store(bytes.wrapping_add(item.len() as u64), Ordering::Relaxed);
        Ok(())
    }

    /// Pushes `items` whole entries, framed beforehand and laid end to end in `entries`
    /// (for the front: in the order they end up, the last pushed first), holding
    /// `item_bytes` bytes of items: one copy and one position store for the batch.
    pub(crate) fn push_framed(
        &mut self,
        end: End,
        entries: &[u8],
        items: u64,
        item_bytes: u64,
    ) -> Result<(), DequeError> {
        let need = entries.len() as u64;
        self.reserve(need)?;
        let region = self.region();
        match end {
            End::Back => {
                self.ring.write(region, self.tail, entries)?;
                self.tail = self.tail.wrapping_add(need);
                // The commit: every entry of the batch is written.
                self.root.tail.store(self.tail, Ordering::Release);
            }
            End::Front => {
                let start = self.head.wrapping_sub(need);
                self.ring.write(region, start, entries)?;
                self.head = start;
                self.root.head.store(self.head, Ordering::Release);
            }
        }
        self.root
            .count
            .store(self.count().saturating_add(items), Ordering::SeqCst);
        let bytes = self.root.bytes.load(Ordering::Relaxed);
        self.root
            .bytes
            .store(bytes.wrapping_add(item_bytes), Ordering::Relaxed);
        Ok(())
    }

    /// The entry at `end` (the deque must not be empty).
    pub(crate) fn entry(&self, end: End) -> Result<EntryAt, DequeError> {
        let region = self.region();
        match end {
            End::Front => self.ring.entry_from_front(region, self.head, self.tail),
            End::Back => self.ring.entry_from_back(region, self.tail, self.head),
        }
    }

    /// Pops the item at `end` into `out`; false if the deque is empty. With `out` `None`
    /// the item is dropped unread (an eviction).
    pub(crate) fn pop(&mut self, end: End, out: Option<&mut Vec<u8>>) -> Result<bool, DequeError> {
        self.pop_with(end, |ring, region, entry| match out {
            Some(out) => ring.read_item(region, entry, out),
            None => Ok(()),
        })
    }

    /// Pops the item at `end`, appending it to `out`; false if the deque is empty.
    pub(crate) fn pop_append(&mut self, end: End, out: &mut Vec<u8>) -> Result<bool, DequeError> {
        self.pop_with(end, |ring, region, entry| {
            ring.append_item(region, entry, out)
        })
    }

    /// Pops the entry at `end` after `take` (which copies the item out, or not) succeeded.
    fn pop_with(
        &mut self,
        end: End,
        take: impl FnOnce(&Ring, &Region, &EntryAt) -> Result<(), DequeError>,
    ) -> Result<bool, DequeError> {
        if self.head == self.tail {
            return Ok(false);
        }
        let entry = self.entry(end)?;
        take(&self.ring, self.region(), &entry)?;
        self.largest_popped = self.largest_popped.max(entry_len(entry.len));
        match end {
            End::Front => {
                self.head = entry.end();
                // The commit: the caller has the bytes.
                self.root.head.store(self.head, Ordering::Release);
            }
            End::Back => {
                self.tail = entry.start;
                self.root.tail.store(self.tail, Ordering::Release);
            }
        }
        self.root
            .count
            .store(self.count().saturating_sub(1), Ordering::SeqCst);
        let bytes = self.root.bytes.load(Ordering::Relaxed);
        self.root
            .bytes
            .store(bytes.saturating_sub(entry.len), Ordering::Relaxed);
        Ok(true)
    }

    /// Replaces the ring by a smaller one when the entries (or the largest entry popped in
    /// this hold, if larger) use at most an eighth of it, never below the initial size: a
    /// deque that was long gives the memory back. Skipped while this process sweeps leaks
    /// (the sweep takes deque locks, so waiting for it here would stall both).
    pub(crate) fn maybe_shrink(&mut self) -> Result<(), DequeError> {
        let initial = self.inner.initial_ring;
        let keep = self.used().max(self.largest_popped);
        if self.ring.capacity > initial
            && keep <= self.ring.capacity / 8
            && !self.inner.store.inner.is_sweeping()
        {
            self.resize(keep)?;
        }
        Ok(())
    }

    /// Moves the entries into a new ring with room for `need` bytes of entries at no more
    /// than half its capacity (at least the initial size), published by one store.
    pub(crate) fn resize(&mut self, need: u64) -> Result<(), DequeError> {
        let capacity = need
            .saturating_mul(2)
            .max(self.inner.initial_ring)
            .checked_next_power_of_two()
            .filter(|c| *c <= MAX_RING)
            .ok_or(DequeError::ItemTooLarge {
                len: need,
                max: MAX_RING / 2,
            })?;
        if capacity == self.ring.capacity {
            return Ok(());
        }
        let store = &self.inner.store;
        // The new ring is unreachable until published, the old one from then until freed:
        // hold back this process's leak sweep.
        if self.writing.is_none() {
            self.writing = Some(store.inner.enter_write());
        }
        let block = store.alloc(RING_HEADER_LEN + capacity)?;
        let moved = Ring::init(self.region(), block, capacity).and_then(|ring| {
            self.ring
                .copy_range(self.region(), self.head, self.tail, &ring)
                .map(|()| ring)
        });
        let ring = match moved {
            Ok(ring) => ring,
            Err(e) => {
                let _ = store.free(block);
                return Err(e);
            }
        };
        let old = self.ring.block;
        let grew = capacity > self.ring.capacity;
        // The commit: the new ring holds every entry at the same positions.
        self.root.ring.store(block, Ordering::Release);
        self.ring = ring;
        self.unlinked.push(old);
        let counter = if grew {
            &self.root.grows
        } else {
            &self.root.shrinks
        };
        counter.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Walks the entries from `head`, checking each one's framing and checksum.
    pub(crate) fn walk(&self) -> Walk {
        let region = self.region();
        let mut walk = Walk {
            good_end: self.head,
            ..Walk::default()
        };
        let mut item = Vec::new();
        let mut pos = self.head;
        while pos != self.tail {
            let checked = self
                .ring
                .entry_from_front(region, pos, self.tail)
                .and_then(|e| self.ring.read_item(region, &e, &mut item).map(|()| e));
            match checked {
                Ok(e) => {
                    walk.count += 1;
                    walk.bytes += e.len;
                    pos = e.end();
                    walk.good_end = pos;
                }
                Err(e) => {
                    walk.damage = Some(e.to_string());
                    break;
                }
            }
        }
        walk
    }

    /// After a dead holder: recomputes `count` and `bytes` from the entries (the only
    /// fields a holder can leave behind its commit); entries past a damaged one are cut
    /// off. Returns what it did, if anything.
    pub(crate) fn recount(&mut self) -> Vec<String> {
        let walk = self.walk();
        let mut done = Vec::new();
        if let Some(damage) = &walk.damage {
            let lost = self.tail.wrapping_sub(walk.good_end);
            self.tail = walk.good_end;
            self.root.tail.store(self.tail, Ordering::Release);
            done.push(format!(
                "cut {lost} bytes of entries from the back of the deque at a damaged entry ({damage})"
            ));
        }
        let (count, bytes) = (self.count(), self.root.bytes.load(Ordering::Relaxed));
        if (count, bytes) != (walk.count, walk.bytes) {
            self.root.count.store(walk.count, Ordering::SeqCst);
            self.root.bytes.store(walk.bytes, Ordering::Relaxed);
            done.push(format!(
                "recounted the deque: {} items of {} bytes (the header said {count} of {bytes})",
                walk.count, walk.bytes
            ));
        }
        done
    }

    /// Empties the deque (one store of `head`), with a fresh ring of the initial size if the
    /// ring had grown.
    pub(crate) fn clear(&mut self) -> Result<u64, DequeError> {
        let count = self.count();
        self.head = self.tail;
        self.root.head.store(self.head, Ordering::Release);
        self.root.count.store(0, Ordering::SeqCst);
        self.root.bytes.store(0, Ordering::Relaxed);
        self.maybe_shrink()?;
        Ok(count)
    }

    /// A copy of the bytes of every entry (one copy of `[head, tail)`), to parse after the
    /// lock is released.
    pub(crate) fn copy_entries(&self) -> Result<Vec<u8>, DequeError> {
        let mut out = vec![0u8; self.used() as usize];
        self.ring.read(self.region(), self.head, &mut out)?;
        Ok(out)
    }
}

/// The items of a copy made by [`Locked::copy_entries`] (already checked under the lock by
/// the framing of each pop; here each entry's framing is checked again).
pub(crate) fn parse_entries(bytes: &[u8]) -> Result<Vec<Vec<u8>>, DequeError> {
    let mut items = Vec::new();
    let mut pos = 0usize;
    while pos < bytes.len() {
        let corrupt = || DequeError::corrupt(pos as u64, "damaged entry in a deque snapshot");
        let word = u64::from_le_bytes(
            bytes
                .get(pos..pos + 8)
                .ok_or_else(corrupt)?
                .try_into()
                .map_err(|_| corrupt())?,
        );
        let len = super::layout::framed_len(word);
        let total = entry_len(len) as usize;
        if total < ENTRY_OVERHEAD as usize || pos + total > bytes.len() {
            return Err(corrupt());
        }
        let item = &bytes[pos + 8..pos + 8 + len as usize];
        if super::layout::entry_checksum(item) != super::layout::framed_checksum(word) {
            return Err(corrupt());
        }
        items.push(item.to_vec());
        pos += total;
    }
    Ok(items)
}
