//! The write path: every change to a shard happens under its robust lock, with the shard's
//! sequence odd while slots change.
//!
//! Publication order (what a repair relies on, see `verify`):
//! - a new entry: its record is built completely first; then the slot's `tag`, then its
//!   `rec` (a live tag with `rec == 0` is an unfinished insert and is dropped by repair);
//! - an overwrite: one atomic store of `rec` (readers see the old or the new record);
//! - a removal: `rec = 0`, then the tag becomes a tombstone (or empty when the next slot is
//!   empty, which keeps probe sequences short);
//! - an unlinked record goes onto the shard's spare list (small ones, see `spare`) or back
//!   to the allocator after the lock is released, a replaced table back to the allocator;
//!   either way only after the sequence moved on, so a reader still copying it fails its
//!   validation and retries.
//!
//! A small record is built under the lock (in a spare block when the shard has one); a large
//! one before the lock is taken, so copying a big value never holds up the shard. Either way
//! [`MapInner::write_record`] is the one place a record is built, and it seals the record
//! with its checksum before anything can publish it.
//!
//! A value a write hands back or decides on (the old value of `insert`/`remove`, what
//! `update`'s closure sees, a counter's old value, the value `compare_and_set` matches) is
//! checked against its checksum first; on a mismatch the write changes nothing and fails
//! with [`MapError::Corrupt`] (`repair` then drops the entry; a plain `set` or `delete`
//! replaces or removes it without looking).
//!
//! A counter (`incr_*`) is the one value rewritten in place: with the sequence odd, the shard's
//! `counter_intent` is set to the record, the 8-byte value stored, the checksum resealed, the
//! intent cleared. A writer killed between the two stores leaves the intent set and the
//! sequence odd; the repair that follows reseals that one record.
//!
//! ```
//! use shmkit::{Store, StoreOptions};
//! let name = format!("doc-map-write-{}", std::process::id()); // unique to this process
//! let store = Store::create(&name, &StoreOptions::default()).unwrap();
//! let map = store.hash_map("m").unwrap();
//! assert!(map.insert_if_absent(b"k", b"1").unwrap());
//! assert!(!map.insert_if_absent(b"k", b"2").unwrap());
//! assert_eq!(map.remove(b"k").unwrap().as_deref(), Some(&b"1"[..]));
//! assert!(!map.delete(b"k").unwrap());
//! Store::remove(&name).unwrap();
//! ```

use super::layout::{
    CTRL_EMPTY, CTRL_TOMBSTONE, EMPTY, LIVE_BIT, SPARE_MAX_BYTES, ShardHeader, TOMBSTONE,
    ctrl_for_tag, record_checksum, record_len, tag_of,
};
use super::lookup::{Hit, TableView, check_checksum, is_free};
use super::resize::alloc_table;
use super::{MapError, MapInner, UpdateAction};
use crate::sync::atomic::{AtomicU64, Ordering};

/// What `put` does with an existing entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PutMode {
    /// Overwrite; return nothing.
    Overwrite,
    /// Overwrite; return the previous value.
    ReturnOld,
    /// Leave an existing entry alone; `Some(empty)` if inserted, `None` if present.
    IfAbsent,
}

/// A record built in free memory, not yet reachable from any slot.
#[derive(Clone, Copy, Debug)]
pub(crate) struct NewRecord {
    pub(crate) offset: u64,
    pub(crate) len: u64,
}

/// Where a write's new record comes from (see [`MapInner::prepare`]).
pub(crate) enum Source<'v> {
    /// Built before the lock was taken.
    Built(NewRecord),
    /// To be built under the lock from this value.
    Later(&'v [u8]),
}

/// Blocks to free once the shard lock is released (at most a few per operation).
#[derive(Default)]
pub(crate) struct Deferred {
    blocks: [u64; 4],
    count: usize,
}

/// A shard held under its lock by one writer.
pub(crate) struct Writer<'a> {
    pub(crate) map: &'a MapInner,
    pub(crate) shard: &'a ShardHeader,
    writing: bool,
    /// An entry was removed since the last shrink check (see [`Writer::step`]).
    removed: bool,
    deferred: Deferred,
}

impl MapInner {
    /// Builds a record for `key` (hash `hash`) → `value` in newly allocated memory.
    pub(crate) fn build_record(
        &self,
        hash: u64,
        key: &[u8],
        value: &[u8],
    ) -> Result<NewRecord, MapError> {
        let len = record_len(key.len() as u64, value.len() as u64);
        let offset = self.store.alloc(len)?;
        let written = self.write_record(offset, hash, key, value);
        if written.is_err() {
            self.free_quietly(offset);
        }
        written.map(|()| NewRecord { offset, len })
    }

    /// Runs `f` on the key's shard under its lock (migrating a batch first), then releases
    /// the lock and frees what the operation unlinked.
    #[inline]
    pub(crate) fn write_with<R>(
        &self,
        hash: u64,
        f: impl FnOnce(&mut Writer<'_>) -> Result<R, MapError>,
    ) -> Result<R, MapError> {
        self.write_locked(self.shard(hash)?, |w| w.step(f))
    }

    /// Runs `f` on `shard` under its lock, then releases the lock and frees what was
    /// unlinked. `f` makes each change through [`Writer::step`] (one operation of a batch
    /// per step, all under this one lock hold).
    #[inline]
    pub(crate) fn write_locked<R>(
        &self,
        shard: &ShardHeader,
        f: impl FnOnce(&mut Writer<'_>) -> Result<R, MapError>,
    ) -> Result<R, MapError> {
        let guard = self.lock_shard(shard)?;
        let mut w = Writer {
            map: self,
            shard,
            writing: false,
            removed: false,
            deferred: Deferred::default(),
        };
        let result = f(&mut w);
        w.end();
        drop(guard);
        w.release();
        result
    }

    /// Where a write's new record comes from: a large one is built before the lock is taken
    /// (its copy does not hold up the shard), a small one under the lock, in a spare block of
    /// the shard when there is one.
    pub(crate) fn prepare<'v>(
        &self,
        hash: u64,
        key: &[u8],
        value: &'v [u8],
    ) -> Result<Source<'v>, MapError> {
        // A fixed-size map's records are small and come from its slab: always under the lock.
        if self.fixed.is_none()
            && record_len(key.len() as u64, value.len() as u64) > SPARE_MAX_BYTES
        {
            Ok(Source::Built(self.build_record(hash, key, value)?))
        } else {
            Ok(Source::Later(value))
        }
    }

    /// Frees a record built by [`MapInner::prepare`] that no slot received.
    pub(crate) fn unused(&self, source: &Source<'_>) {
        if let Source::Built(r) = source {
            self.free_quietly(r.offset);
        }
    }

    pub(crate) fn put(
        &self,
        key: &[u8],
        value: &[u8],
        mode: PutMode,
    ) -> Result<Option<Vec<u8>>, MapError> {
        let hash = self.hash(key);
        let source = self.prepare(hash, key, value)?;
        let result = self.write_with(hash, |w| w.put_one(hash, key, &source, mode));
        match result {
            Ok((out, true)) => Ok(out),
            Ok((out, false)) => {
                self.unused(&source);
                Ok(out)
            }
            Err(e) => {
                self.unused(&source);
                Err(e)
            }
        }
    }

    pub(crate) fn remove(&self, key: &[u8], want_value: bool) -> Result<Option<Vec<u8>>, MapError> {
        let hash = self.hash(key);
        self.write_with(hash, |w| w.remove_one(hash, key, want_value))
    }

    pub(crate) fn compare_and_set(
        &self,
        key: &[u8],
        expected: Option<&[u8]>,
        new: Option<&[u8]>,
    ) -> Result<bool, MapError> {
        let hash = self.hash(key);
        let source = new.map(|v| self.prepare(hash, key, v)).transpose()?;
        let result = self.write_with(hash, |w| {
            let hit = w.find(hash, key)?;
            let holds = match (&hit, expected) {
                (None, None) => true,
                (Some(h), Some(v)) => {
                    let equal = h.val_len == v.len() as u64
                        && w.map.region().bytes_equal(h.value_offset(), v)?;
                    // The stored bytes equal `v`: check them (as `v`) against the checksum.
                    if equal {
                        h.check_value(hash, v)?;
                    }
                    equal
                }
                _ => false,
            };
            if !holds {
                return Ok(false);
            }
            match (hit, &source) {
                (Some(h), Some(src)) => {
                    let record = w.take(hash, key, src)?;
                    w.replace(&h, record)?;
                }
                (None, Some(src)) => {
                    let record = w.take(hash, key, src)?;
                    w.insert_new_or_discard(hash, record, src)?;
                }
                (Some(h), None) => w.remove_hit(&h)?,
                (None, None) => {}
            }
            Ok(true)
        });
        if !matches!(result, Ok(true))
            && let Some(src) = &source
        {
            self.unused(src);
        }
        result
    }

    pub(crate) fn update(
        &self,
        key: &[u8],
        f: impl FnOnce(Option<&[u8]>) -> UpdateAction,
    ) -> Result<Option<Vec<u8>>, MapError> {
        let hash = self.hash(key);
        self.write_with(hash, |w| {
            let hit = w.find(hash, key)?;
            let current = hit
                .as_ref()
                .map(|h| w.map.read_value(h, hash))
                .transpose()?;
            match f(current.as_deref()) {
                UpdateAction::Keep => Ok(current),
                UpdateAction::Remove => {
                    if let Some(h) = &hit {
                        w.remove_hit(h)?;
                    }
                    Ok(None)
                }
                UpdateAction::Set(value) => {
                    w.map.check_entry(key, &value)?;
                    let record = w.new_record(hash, key, &value)?;
                    match &hit {
                        Some(h) => w.replace(h, record)?,
                        None => w.insert_new_or_discard(hash, record, &Source::Later(&value))?,
                    }
                    Ok(Some(value))
                }
            }
        })
    }

    /// Read-modify-write of an 8-byte value: `f(old bits)` (or `f(None)` when absent).
    pub(crate) fn incr(
        &self,
        key: &[u8],
        f: impl FnOnce(Option<u64>) -> u64,
    ) -> Result<u64, MapError> {
        let hash = self.hash(key);
        self.write_with(hash, |w| match w.find(hash, key)? {
            Some(hit) => {
                if hit.val_len != 8 {
                    return Err(MapError::NotAnInteger { len: hit.val_len });
                }
                let region = w.map.region();
                let cell: &AtomicU64 = region.get(hit.value_offset())?;
                let checksum = w.map.checksum_word(hit.rec)?;
                let old = cell.load(Ordering::Relaxed);
                check_checksum(hit.rec, hit.checksum, hash, &old.to_ne_bytes())?;
                let new = f(Some(u64::from_le(old)));
                let sealed = record_checksum(hash, &new.to_le_bytes());
                // In place, so crash-safe by intent: a writer killed between the value and
                // the checksum store leaves `counter_intent` naming the record (and the
                // sequence odd), and the repair reseals it. Readers see neither store: they
                // validate against the odd sequence.
                w.begin();
                let shard = w.shard;
                shard.counter_intent.store(hit.rec, Ordering::Relaxed);
                cell.store(new.to_le(), Ordering::Release);
                checksum.store(sealed, Ordering::Release);
                if let Some(index) = hit.cell {
                    w.map.refresh_copy_of(shard, index);
                }
                shard.counter_intent.store(0, Ordering::Release);
                Ok(new)
            }
            None => {
                let new = f(None);
                let bytes = new.to_le_bytes();
                let record = w.new_record(hash, key, &bytes)?;
                w.insert_new_or_discard(hash, record, &Source::Later(&bytes))?;
                Ok(new)
            }
        })
    }

    /// Empties shard `index` with one published switch to a fresh table.
    pub(crate) fn clear_shard(&self, index: u64) -> Result<(), MapError> {
        let shard = self.shard_at(index)?;
        let guard = self.lock_shard(shard)?;
        let mut w = Writer {
            map: self,
            shard,
            writing: false,
            removed: false,
            deferred: Deferred::default(),
        };
        let result = (|| -> Result<Vec<u64>, MapError> {
            w.migrate(u64::MAX)?; // a cleared shard has no migration left over
            let table = self.table_checked(shard.table.load(Ordering::Acquire))?;
            if shard.len.load(Ordering::Relaxed) == 0 && table.buckets() <= self.initial_buckets {
                return Ok(Vec::new());
            }
            let mut records = Vec::new();
            if self.fixed.is_none() {
                for slot in table.slots() {
                    let rec = slot.rec.load(Ordering::Relaxed);
                    if slot.tag.load(Ordering::Relaxed) & LIVE_BIT != 0 && rec != 0 {
                        records.push(rec);
                    }
                }
            }
            let fresh = alloc_table(&self.store, self.initial_buckets)?;
            w.begin();
            shard.table.store(fresh, Ordering::Release);
            // Every key goes, so every handle does (each cell's generation moves on).
            self.free_all_cells(shard)?;
            if self.fixed.is_some() {
                // ... and every record: the slab's chunks go back to the allocator.
                records.extend(self.reset_slab(shard)?);
            }
            shard.used.store(0, Ordering::Relaxed);
            shard.len.store(0, Ordering::Relaxed);
            shard.bytes.store(0, Ordering::Relaxed);
            records.push(table.offset);
            Ok(records)
        })();
        w.end();
        drop(guard);
        w.release();
        for block in result? {
            self.free_quietly(block);
        }
        Ok(())
    }

    /// Frees a block this process unlinked or never published. A failure means the block
    /// was not ours to free (a damaged map); leaking it is the safe answer.
    pub(crate) fn free_quietly(&self, block: u64) {
        let _ = self.store.free(block);
    }
}

impl<'a> Writer<'a> {
    /// One operation under the held lock: a migration batch in its own odd window (so `f`, a
    /// user closure for `update`, never runs while readers of the shard are held off), then
    /// `f` in its own; then, if `f` removed an entry, the shrink check (which may start a
    /// migration into a smaller table and move its first batch). A batch of writes to one
    /// shard is a sequence of steps, each exactly what a single write does after taking the
    /// lock.
    #[inline]
    pub(crate) fn step<R>(
        &mut self,
        f: impl FnOnce(&mut Writer<'a>) -> Result<R, MapError>,
    ) -> Result<R, MapError> {
        let result = self.migrate(super::resize::MIGRATE_BATCH).and_then(|()| {
            self.end();
            f(self)
        });
        self.end();
        if std::mem::take(&mut self.removed) && result.is_ok() {
            // The removal happened whatever this says: a table that cannot be allocated (or
            // read) now is left as it is, to be shrunk by a later removal.
            let _ = self.shrink_if_sparse();
            self.end();
        }
        result
    }

    /// Makes the shard's sequence odd (once per operation) before the first change.
    #[inline]
    pub(crate) fn begin(&mut self) {
        if !self.writing {
            self.shard.seq.write_begin();
            self.writing = true;
        }
    }

    /// Makes the sequence even again.
    #[inline]
    pub(crate) fn end(&mut self) {
        if self.writing {
            self.shard.seq.write_end();
            self.writing = false;
        }
    }

    /// Frees `block` after the lock is released.
    pub(crate) fn defer_free(&mut self, block: u64) {
        if self.deferred.count < self.deferred.blocks.len() {
            self.deferred.blocks[self.deferred.count] = block;
            self.deferred.count += 1;
        } else {
            // Safe now too: it is unlinked and the sequence is odd, so readers will retry.
            self.map.free_quietly(block);
        }
    }

    fn release(&mut self) {
        for &block in &self.deferred.blocks[..self.deferred.count] {
            self.map.free_quietly(block);
        }
        self.deferred.count = 0;
    }

    /// `put`'s work under the lock: `(what the mode returns, whether `source` was used)`.
    /// When it was not used (or on an error) a record built before the lock is the caller's
    /// to free ([`MapInner::unused`]).
    pub(crate) fn put_one(
        &mut self,
        hash: u64,
        key: &[u8],
        source: &Source<'_>,
        mode: PutMode,
    ) -> Result<(Option<Vec<u8>>, bool), MapError> {
        match self.find(hash, key)? {
            Some(hit) => {
                if mode == PutMode::IfAbsent {
                    return Ok((None, false));
                }
                let old = match mode {
                    PutMode::ReturnOld => Some(self.map.read_value(&hit, hash)?),
                    _ => None,
                };
                let record = self.take(hash, key, source)?;
                self.replace(&hit, record)?;
                Ok((old, true))
            }
            None => {
                let record = self.take(hash, key, source)?;
                self.insert_new_or_discard(hash, record, source)?;
                let inserted = (mode == PutMode::IfAbsent).then(Vec::new);
                Ok((inserted, true))
            }
        }
    }

    /// `remove`'s work under the lock: `Some(old value)` (empty unless `want_value`) if the
    /// key was present.
    pub(crate) fn remove_one(
        &mut self,
        hash: u64,
        key: &[u8],
        want_value: bool,
    ) -> Result<Option<Vec<u8>>, MapError> {
        let Some(hit) = self.find(hash, key)? else {
            return Ok(None);
        };
        let old = if want_value {
            self.map.read_value(&hit, hash)?
        } else {
            Vec::new()
        };
        self.remove_hit(&hit)?;
        Ok(Some(old))
    }

    /// Looks `key` up under the lock.
    #[inline(always)]
    pub(crate) fn find(&self, hash: u64, key: &[u8]) -> Result<Option<Hit<'a>>, MapError> {
        Ok(self.map.find(self.shard, hash, key, None)?)
    }

    /// Points `hit`'s slot at `record` (one atomic store; then, if the key has a handle
    /// cell, the cell's `rec` and copy); the old record is freed later.
    pub(crate) fn replace(&mut self, hit: &Hit<'_>, record: NewRecord) -> Result<(), MapError> {
        let Some(slot) = hit.slot else {
            return Err(MapError::corrupt(
                hit.rec,
                "an entry to replace without its slot",
            ));
        };
        self.begin();
        slot.rec.store(record.offset, Ordering::Release);
        if let Some(index) = hit.cell {
            // Slot first, cell second: a repair copies the slot's record into the cell.
            if let Ok(cell) = self.map.live_cell(self.shard, index) {
                cell.rec.store(record.offset, Ordering::Release);
                self.map.refresh_copy_of_cell(cell);
            }
        }
        let old_len = self.map.record_bytes(hit.key_len, hit.val_len);
        update_counter(&self.shard.bytes, |b| {
            b.wrapping_sub(old_len).wrapping_add(record.len)
        });
        self.recycle(hit.rec);
        Ok(())
    }

    /// Removes the entry `hit`.
    pub(crate) fn remove_hit(&mut self, hit: &Hit<'_>) -> Result<(), MapError> {
        let Some(slot) = hit.slot else {
            return Err(MapError::corrupt(
                hit.rec,
                "an entry to remove without its slot",
            ));
        };
        let table = self.map.table_checked(hit.table)?;
        let in_current = hit.table == self.shard.table.load(Ordering::Relaxed);
        let next_empty = table.slot(hit.index + 1).tag.load(Ordering::Relaxed) == EMPTY;
        self.begin();
        slot.rec.store(0, Ordering::Release);
        let (tag, ctrl) = if next_empty {
            (EMPTY, CTRL_EMPTY)
        } else {
            (TOMBSTONE, CTRL_TOMBSTONE)
        };
        slot.tag.store(tag, Ordering::Release);
        table.set_ctrl(hit.index, ctrl);
        // The key's handle cell after its slot: a writer killed in between leaves a live
        // cell that no slot names, which the repair frees.
        if let Some(cell) = hit.cell {
            self.free_cell(cell)?;
        }
        let shard = self.shard;
        if next_empty && in_current {
            update_counter(&shard.used, |n| n.saturating_sub(1));
        }
        update_counter(&shard.len, |n| n.saturating_sub(1));
        self.removed = true;
        let len = self.map.record_bytes(hit.key_len, hit.val_len);
        update_counter(&shard.bytes, |b| b.wrapping_sub(len));
        self.recycle(hit.rec);
        Ok(())
    }

    /// The record of `source` for `key` (hash `hash`), building it now if it was left for
    /// later.
    pub(crate) fn take(
        &mut self,
        hash: u64,
        key: &[u8],
        source: &Source<'_>,
    ) -> Result<NewRecord, MapError> {
        match source {
            Source::Built(r) => Ok(*r),
            Source::Later(value) => self.new_record(hash, key, value),
        }
    }

    /// [`Writer::insert_new`]; on failure a record built under the lock is given back (one
    /// built before the lock is the caller's to free).
    pub(crate) fn insert_new_or_discard(
        &mut self,
        hash: u64,
        record: NewRecord,
        source: &Source<'_>,
    ) -> Result<(), MapError> {
        let result = self.insert_new(hash, record);
        if result.is_err() && matches!(source, Source::Later(_)) {
            self.discard(record);
        }
        result
    }

    /// Adds a new entry (the caller checked the key is absent), growing the table first if
    /// it is too full.
    pub(crate) fn insert_new(&mut self, hash: u64, record: NewRecord) -> Result<(), MapError> {
        self.ensure_room()?;
        let table = self
            .map
            .table_checked(self.shard.table.load(Ordering::Acquire))?;
        self.begin();
        let was_empty = place(&table, tag_of(hash), record.offset)?;
        let shard = self.shard;
        if was_empty {
            update_counter(&shard.used, |n| n.wrapping_add(1));
        }
        update_counter(&shard.len, |n| n.wrapping_add(1));
        update_counter(&shard.bytes, |b| b.wrapping_add(record.len));
        Ok(())
    }
}

impl Drop for Writer<'_> {
    /// Only reached with the sequence odd if the caller's closure panicked (before it
    /// changed anything): reopen the shard to readers.
    fn drop(&mut self) {
        self.end();
    }
}

/// Rewrites a shard counter. Only the shard's lock holder writes its counters, so a plain
/// load and store suffice (no read-modify-write on a line other processes read).
#[inline]
fn update_counter(counter: &AtomicU64, f: impl FnOnce(u64) -> u64) {
    counter.store(f(counter.load(Ordering::Relaxed)), Ordering::Relaxed);
}

/// Puts `(tag, rec)` into the first free slot of `tag`'s probe sequence (tag first, then
/// rec); returns true if that slot was empty (not a tombstone). The caller holds the lock,
/// has made the sequence odd, and knows the key is not in the table.
pub(crate) fn place(table: &TableView<'_>, tag: u64, rec: u64) -> Result<bool, MapError> {
    let mut index = tag & table.mask;
    for _ in 0..table.buckets() {
        let slot = table.slot(index);
        let t = slot.tag.load(Ordering::Relaxed);
        if is_free(t) {
            slot.tag.store(tag, Ordering::Release);
            slot.rec.store(rec, Ordering::Release);
            table.set_ctrl(index, ctrl_for_tag(tag));
            return Ok(t == EMPTY);
        }
        index = (index + 1) & table.mask;
    }
    Err(MapError::corrupt(
        table.offset,
        "hash table has no free slot",
    ))
}
