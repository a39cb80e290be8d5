//! The read path: probing a table, and optimistic (seqlock-validated) lookups that fall back
//! to the shard lock after a bounded number of failed tries.
//!
//! Invariants: a reader never writes shared memory; it trusts nothing it read until the
//! shard's sequence validates, and it validates before it sizes a buffer from a length it
//! read, so a racing read of reused memory costs at most a retry. Once the sequence has
//! validated the copy, the value is checked against the record's checksum (read in the same
//! window): a mismatch then is damage, not a race, and the read fails with
//! [`MapError::Corrupt`] instead of returning the bytes.
//!
//! ```
//! use shmkit::{Store, StoreOptions};
//! let name = format!("doc-map-lookup-{}", std::process::id()); // unique to this process
//! let store = Store::create(&name, &StoreOptions::default()).unwrap();
//! let map = store.hash_map("m").unwrap();
//! map.set(b"k", b"value").unwrap();
//! let mut buf = Vec::with_capacity(64);
//! assert!(map.get_into(b"k", &mut buf).unwrap());
//! assert_eq!(buf, b"value");
//! assert!(!map.get_into(b"missing", &mut buf).unwrap());
//! Store::remove(&name).unwrap();
//! ```

use super::layout::{
    CTRL_EMPTY, Cell, EMPTY, GROUP_SLOTS, Group, ShardHeader, Slot, TABLE_HEADER_LEN, TABLE_MAGIC,
    TOMBSTONE, TableHeader, ctrl_of, record_checksum, slot_offset, table_len, tag_cell,
    tag_matches, tag_of,
};
use super::{Fault, MapError, MapInner};
use crate::sync::atomic::{AtomicU64, Ordering, spin_hint, yield_now};
use crate::sync::{MutexGuard, SeqLock};

/// Optimistic tries before a reader takes the shard lock (fewer in a loom model, where every
/// try multiplies the executions to explore).
const OPTIMISTIC_TRIES: u32 = if cfg!(loom) { 3 } else { 24 };
/// Values at least this long get only two optimistic copies before the lock. (In a loom
/// model, 4 bytes, so a model can take this path with a small value: see
/// tests/loom_hash_map.rs.)
const LARGE_VALUE: u64 = if cfg!(loom) { 4 } else { 1 << 20 };
/// Probes between sequence checks while reading optimistically (bounds work on garbage).
/// (In a loom model, 2, so the check runs in the models' short probe chains.)
const PROBE_CHECK_EVERY: u64 = if cfg!(loom) { 2 } else { 256 };

/// A bucket table, bounds-checked once.
pub(crate) struct TableView<'a> {
    pub(crate) offset: u64,
    /// The groups of 16 slots with their control bytes.
    pub(crate) groups: &'a [Group],
    pub(crate) mask: u64,
}

impl<'a> TableView<'a> {
    pub(crate) fn buckets(&self) -> u64 {
        self.mask + 1
    }

    #[inline]
    pub(crate) fn slot(&self, index: u64) -> &'a Slot {
        let i = index & self.mask;
        &self.groups[(i / GROUP_SLOTS) as usize].slots[(i % GROUP_SLOTS) as usize]
    }

    /// Every slot, in order.
    pub(crate) fn slots(&self) -> impl Iterator<Item = &'a Slot> + 'a {
        self.groups.iter().flat_map(|g| g.slots.iter())
    }

    /// The control word holding slot `index`'s byte.
    #[inline(always)]
    fn ctrl_word(&self, index: u64) -> (&'a AtomicU64, u64) {
        let i = index & self.mask;
        let group = &self.groups[(i / GROUP_SLOTS) as usize];
        (&group.ctrl[((i % GROUP_SLOTS) / 8) as usize], (i % 8) * 8)
    }

    /// Offset of slot `index` (for error messages).
    pub(crate) fn slot_offset(&self, index: u64) -> u64 {
        slot_offset(self.offset, index & self.mask)
    }

    /// The control byte of slot `index`.
    #[inline(always)]
    pub(crate) fn ctrl_byte(&self, index: u64) -> u8 {
        let (word, shift) = self.ctrl_word(index);
        (word.load(Ordering::Relaxed) >> shift) as u8
    }

    /// Sets the control byte of slot `index` (the shard's lock holder only, with the
    /// sequence odd: no other process writes this word meanwhile).
    #[inline]
    pub(crate) fn set_ctrl(&self, index: u64, byte: u8) {
        let (word, shift) = self.ctrl_word(index);
        let old = word.load(Ordering::Relaxed);
        let new = (old & !(0xFF << shift)) | (u64::from(byte) << shift);
        if new != old {
            word.store(new, Ordering::Release);
        }
    }
}

/// A live entry found by a probe (or through a handle).
pub(crate) struct Hit<'a> {
    /// The entry's slot; `None` when it was reached through its handle cell.
    pub(crate) slot: Option<&'a Slot>,
    /// The key's handle cell (index in the shard's cell table), if it has one.
    pub(crate) cell: Option<u64>,
    /// The cell whose copy of the value this hit reads instead of the record (reads by
    /// handle only).
    pub(crate) copy: Option<&'a Cell>,
    /// Position in its table (of the slot), or the cell's index when `slot` is `None`.
    pub(crate) index: u64,
    /// Offset of the table the slot is in (the current one, or the one being migrated).
    pub(crate) table: u64,
    /// The key's hash (seeds the record's checksum).
    pub(crate) hash: u64,
    pub(crate) rec: u64,
    pub(crate) key_len: u64,
    pub(crate) val_len: u64,
    /// Offset of the value in the record.
    pub(crate) value_at: u64,
    /// The record's stored checksum (trust it only as far as the rest of the hit).
    pub(crate) checksum: u32,
}

impl Hit<'_> {
    pub(crate) fn value_offset(&self) -> u64 {
        self.value_at
    }

    /// Checks `value` (this hit's value, copied under the lock or in a validated read)
    /// against the record's checksum; `hash` is the key's hash.
    #[inline]
    pub(crate) fn check_value(&self, hash: u64, value: &[u8]) -> Result<(), Fault> {
        check_checksum(self.rec, self.checksum, hash, value)
    }
}

/// Checks a value copied from the record at `rec` against the checksum `stored` there.
#[inline]
pub(crate) fn check_checksum(rec: u64, stored: u32, hash: u64, value: &[u8]) -> Result<(), Fault> {
    if record_checksum(hash, value) == stored {
        Ok(())
    } else {
        Err(checksum_mismatch(rec))
    }
}

#[cold]
fn checksum_mismatch(rec: u64) -> Fault {
    Fault {
        offset: rec,
        reason: "record checksum mismatch (the value was damaged)",
    }
}

/// A seqlock read in progress: the lock and the value `read_begin` returned.
pub(crate) type Watch<'a> = Option<(&'a SeqLock, u64)>;

#[inline]
fn still_valid(watch: Watch<'_>) -> bool {
    watch.is_none_or(|(seq, start)| seq.read_validate(start))
}

impl MapInner {
    /// The table at `offset`, after checking its header.
    #[inline(always)]
    pub(crate) fn table(&self, offset: u64) -> Result<TableView<'_>, Fault> {
        let region = self.region();
        let header: &TableHeader = region.get(offset)?;
        let buckets = header.buckets.load(Ordering::Relaxed);
        if header.magic.load(Ordering::Relaxed) != TABLE_MAGIC || !buckets.is_power_of_two() {
            return Err(Fault {
                offset,
                reason: "not a hash table",
            });
        }
        // `buckets` is a power of two of at least one group in any table a writer made (a
        // smaller one is damage).
        if buckets < GROUP_SLOTS {
            return Err(Fault {
                offset,
                reason: "not a hash table",
            });
        }
        let groups = region.get_slice::<Group>(offset + TABLE_HEADER_LEN, buckets / GROUP_SLOTS)?;
        Ok(TableView {
            offset,
            groups,
            mask: buckets - 1,
        })
    }

    /// [`MapInner::table`] for a process that holds the shard lock (writers, repairs,
    /// locked reads): also checks that the slots lie inside the table's own allocator block,
    /// so a damaged `buckets` never makes slots of the memory after it, which a write would
    /// then change. (Optimistic readers skip this: they write nothing, and what they read is
    /// validated.)
    pub(crate) fn table_checked(&self, offset: u64) -> Result<TableView<'_>, Fault> {
        let view = self.table(offset)?;
        let buckets = view.buckets();
        // The slots must lie inside the table's own block: a damaged `buckets` must not make
        // slots of another object's memory, which a writer or a repair would then write.
        let inside = self
            .store
            .block_capacity(offset)
            .is_ok_and(|capacity| table_len(buckets).is_some_and(|len| len <= capacity));
        if !inside {
            return Err(Fault {
                offset,
                reason: "hash table runs past its block",
            });
        }
        Ok(view)
    }

    /// Finds `key` (hash `hash`) in one table.
    #[inline(always)]
    pub(crate) fn probe<'a>(
        &'a self,
        table: &TableView<'a>,
        hash: u64,
        key: &[u8],
        watch: Watch<'_>,
    ) -> Result<Option<Hit<'a>>, Fault> {
        let region = self.region();
        let tag = tag_of(hash);
        let want = ctrl_of(hash);
        let mut index = hash & table.mask;
        // The home slot's line is fetched while its group's control bytes are read: a hit
        // needs it, so a hit does not wait for the two one after the other.
        region.prefetch(table.slot_offset(index));
        for n in 0..table.buckets() {
            let c = table.ctrl_byte(index);
            if c == CTRL_EMPTY {
                return Ok(None);
            }
            let slot = table.slot(index);
            if c != want {
                index = (index + 1) & table.mask;
                if n % PROBE_CHECK_EVERY == PROBE_CHECK_EVERY - 1 && !still_valid(watch) {
                    return Err(Fault {
                        offset: table.offset,
                        reason: "changed while probing",
                    });
                }
                continue;
            }
            let t = slot.tag.load(Ordering::Acquire);
            if t == tag || tag_matches(t, hash) {
                let rec = slot.rec.load(Ordering::Acquire);
                let cell = tag_cell(t);
                let view = self.record_view(rec)?;
                if view.key_len == key.len() as u64 && region.bytes_equal(view.key_at, key)? {
                    // The value must lie inside the store: this bounds any buffer sized
                    // from `val_len`, even before a read is validated. (The fast check: a
                    // relaxed load of this process's committed length, no shared access.)
                    if region.check_range(view.value_at, view.val_len).is_err() {
                        return Err(Fault {
                            offset: rec,
                            reason: "record runs past the store",
                        });
                    }
                    return Ok(Some(Hit {
                        slot: Some(slot),
                        cell,
                        copy: None,
                        index,
                        table: table.offset,
                        hash,
                        rec,
                        key_len: view.key_len,
                        val_len: view.val_len,
                        value_at: view.value_at,
                        checksum: view.checksum,
                    }));
                }
            }
            if n % PROBE_CHECK_EVERY == PROBE_CHECK_EVERY - 1 && !still_valid(watch) {
                return Err(Fault {
                    offset: table.offset,
                    reason: "changed while probing",
                });
            }
            index = (index + 1) & table.mask;
        }
        Ok(None)
    }

    /// Finds `key` in its shard: the current table, then the one being migrated from.
    #[inline(always)]
    pub(crate) fn find<'a>(
        &'a self,
        shard: &'a ShardHeader,
        hash: u64,
        key: &[u8],
        watch: Watch<'_>,
    ) -> Result<Option<Hit<'a>>, Fault> {
        if watch.is_none() {
            return self.find_locked(shard, hash, key);
        }
        let current = self.table(shard.table.load(Ordering::Acquire))?;
        if let Some(hit) = self.probe(&current, hash, key, watch)? {
            return Ok(Some(hit));
        }
        let old = shard.old_table.load(Ordering::Acquire);
        if old == 0 {
            return Ok(None);
        }
        let old = self.table(old)?;
        self.probe(&old, hash, key, watch)
    }

    /// [`MapInner::find`] under the shard lock: tables are checked against their blocks,
    /// since a hit found here may be written.
    #[inline(never)]
    fn find_locked<'a>(
        &'a self,
        shard: &'a ShardHeader,
        hash: u64,
        key: &[u8],
    ) -> Result<Option<Hit<'a>>, Fault> {
        let current = self.table_checked(shard.table.load(Ordering::Acquire))?;
        if let Some(hit) = self.probe(&current, hash, key, None)? {
            return Ok(Some(hit));
        }
        let old = shard.old_table.load(Ordering::Acquire);
        if old == 0 {
            return Ok(None);
        }
        let old = self.table_checked(old)?;
        self.probe(&old, hash, key, None)
    }

    /// Takes a shard's lock, repairing the shard first if a writer died holding it.
    pub(crate) fn lock_shard<'a>(
        &'a self,
        shard: &'a ShardHeader,
    ) -> Result<MutexGuard<'a>, MapError> {
        let guard = self.store.lock(&shard.lock)?;
        self.recover_if_needed(shard, guard)
    }

    /// [`MapInner::lock_shard`] for maintenance: gives up with a lock timeout after `wait`
    /// while a live process holds the lock.
    pub(crate) fn lock_shard_within<'a>(
        &'a self,
        shard: &'a ShardHeader,
        wait: std::time::Duration,
    ) -> Result<MutexGuard<'a>, MapError> {
        let guard = self.store.lock_timeout(&shard.lock, wait)?;
        self.recover_if_needed(shard, guard)
    }

    fn recover_if_needed<'a>(
        &'a self,
        shard: &'a ShardHeader,
        mut guard: MutexGuard<'a>,
    ) -> Result<MutexGuard<'a>, MapError> {
        if guard.recovered() || shard.seq.is_writing() {
            let mut notes = Vec::new();
            self.repair_shard(shard, &mut notes)?;
            guard.mark_consistent();
        }
        Ok(guard)
    }

    /// Runs `visit` on the result of looking `key` up, at a moment when the shard was
    /// consistent: optimistically (retrying when a writer interfered), then under the lock.
    /// `visit` may run several times; only the result of a validated run is returned.
    #[inline]
    pub(crate) fn read_with<R>(
        &self,
        hash: u64,
        key: &[u8],
        visit: impl FnMut(&MapInner, Option<&Hit<'_>>) -> Result<R, Fault>,
    ) -> Result<R, MapError> {
        let shard = self.shard(hash)?;
        self.read_located(shard, |watch| self.find(shard, hash, key, watch), visit)
    }

    /// [`MapInner::read_with`] for an entry `locate` finds in `shard` (called with the
    /// read's watch, or `None` under the lock).
    #[inline(always)]
    pub(crate) fn read_located<'a, R>(
        &'a self,
        shard: &'a ShardHeader,
        locate: impl Fn(Watch<'_>) -> Result<Option<Hit<'a>>, Fault>,
        mut visit: impl FnMut(&MapInner, Option<&Hit<'_>>) -> Result<R, Fault>,
    ) -> Result<R, MapError> {
        match self.read_optimistic(shard, &locate, &mut visit) {
            Some(result) => Ok(result?),
            None => {
                let _guard = self.lock_shard(shard)?;
                let hit = locate(None)?;
                Ok(visit(self, hit.as_ref())?)
            }
        }
    }

    /// The optimistic part of [`MapInner::read_located`]: `None` when writers kept
    /// interfering (or a large copy failed), so the caller should take the lock.
    #[inline(always)]
    pub(crate) fn read_optimistic<'a, R>(
        &'a self,
        shard: &'a ShardHeader,
        locate: &impl Fn(Watch<'_>) -> Result<Option<Hit<'a>>, Fault>,
        visit: &mut impl FnMut(&MapInner, Option<&Hit<'_>>) -> Result<R, Fault>,
    ) -> Option<Result<R, Fault>> {
        let seq = &shard.seq;
        let mut tries = 0;
        while tries < OPTIMISTIC_TRIES {
            tries += 1;
            let Some(start) = seq.read_begin() else {
                backoff(tries);
                continue;
            };
            let watch = Some((seq, start));
            let result = match locate(watch) {
                // Validate before `visit` sizes anything from the lengths just read.
                Ok(Some(hit)) if seq.read_validate(start) => {
                    let large = hit.val_len >= LARGE_VALUE;
                    let r = visit(self, Some(&hit));
                    if large && !seq.read_validate(start) {
                        // A big copy lost the race: one more try at most, then the lock.
                        tries = tries.max(OPTIMISTIC_TRIES - 1);
                        continue;
                    }
                    r
                }
                Ok(Some(_)) => continue,
                Ok(None) => visit(self, None),
                Err(e) => Err(e),
            };
            if seq.read_validate(start) {
                return Some(result);
            }
        }
        None
    }

    pub(crate) fn get_into(&self, key: &[u8], buf: &mut Vec<u8>) -> Result<bool, MapError> {
        let hash = self.hash(key);
        let copied = self.read_with(hash, key, |map, hit| copy_value(map, hit, buf))?;
        Ok(checked_copy(copied, buf)?)
    }

    /// [`MapInner::get_into`] without ever waiting for the shard lock: `Ok(None)` when
    /// writers kept interfering and only a locked read would do.
    pub(crate) fn try_get_into_lock_free(
        &self,
        key: &[u8],
        buf: &mut Vec<u8>,
    ) -> Result<Option<bool>, MapError> {
        let hash = self.hash(key);
        let shard = self.shard(hash)?;
        let locate = |watch: Watch<'_>| self.find(shard, hash, key, watch);
        match self.read_optimistic(shard, &locate, &mut |map, hit| copy_value(map, hit, buf)) {
            Some(copied) => Ok(Some(checked_copy(copied?, buf)?)),
            None => Ok(None),
        }
    }

    /// [`MapInner::contains`] without ever waiting for the shard lock (`Ok(None)`: retry
    /// with the locking form).
    pub(crate) fn try_contains_lock_free(&self, key: &[u8]) -> Result<Option<bool>, MapError> {
        let hash = self.hash(key);
        let shard = self.shard(hash)?;
        let locate = |watch: Watch<'_>| self.find(shard, hash, key, watch);
        match self.read_optimistic(shard, &locate, &mut |_, hit| Ok(hit.is_some())) {
            Some(result) => Ok(Some(result?)),
            None => Ok(None),
        }
    }

    pub(crate) fn contains(&self, key: &[u8]) -> Result<bool, MapError> {
        self.read_with(self.hash(key), key, |_, hit| Ok(hit.is_some()))
    }

    /// Copies the value of `hit` under the shard lock and checks it against the record's
    /// checksum (`hash`: the key's hash).
    pub(crate) fn read_value(&self, hit: &Hit<'_>, hash: u64) -> Result<Vec<u8>, MapError> {
        let mut out = vec![0u8; hit.val_len as usize];
        self.region().read_bytes(hit.value_offset(), &mut out)?;
        hit.check_value(hash, &out)?;
        Ok(out)
    }
}

/// Makes `buf` exactly `len` bytes long for a copy that overwrites all of them, filling as
/// little as possible: a retry finds it already sized, and a large new buffer comes zeroed
/// from the allocator (lazily, by the kernel) rather than by a fill loop.
#[inline]
fn size_buffer(buf: &mut Vec<u8>, len: usize) {
    if buf.len() >= len {
        buf.truncate(len);
    } else if buf.capacity() >= len {
        buf.resize(len, 0);
    } else {
        *buf = vec![0u8; len];
    }
}

/// Waiting for a writer to finish: spin briefly, then let others run.
#[inline]
fn backoff(tries: u32) {
    if tries < 8 && !cfg!(loom) {
        for _ in 0..(1u32 << tries) {
            spin_hint();
        }
    } else {
        yield_now();
    }
}

/// True for a tag that ends a search for a free slot (empty or tombstone).
#[inline]
pub(crate) fn is_free(tag: u64) -> bool {
    tag == EMPTY || tag == TOMBSTONE
}

/// What a copy must be checked against once it is known consistent: the record, the
/// checksum it holds, and the key's hash.
pub(crate) type Copied = Option<(u64, u32, u64)>;

/// Copies the value of `hit` into `buf` (cleared when absent). Returns what
/// [`checked_copy`] checks the copy against once it is known consistent.
pub(crate) fn copy_value(
    map: &MapInner,
    hit: Option<&Hit<'_>>,
    buf: &mut Vec<u8>,
) -> Result<Copied, Fault> {
    let Some(hit) = hit else {
        buf.clear();
        return Ok(None);
    };
    if let Some(cell) = hit.copy {
        // The cell's own copy (a short value): the record is not read at all.
        let (bytes, len, _) = MapInner::cell_copy(cell).unwrap_or(([0; 32], 0, 0));
        buf.clear();
        buf.extend_from_slice(&bytes[..len as usize]);
        return Ok(Some((hit.rec, hit.checksum, hit.hash)));
    }
    size_buffer(buf, hit.val_len as usize);
    map.region().read_bytes(hit.value_offset(), buf)?;
    Ok(Some((hit.rec, hit.checksum, hit.hash)))
}

/// After a validated (or locked) [`copy_value`]: true if found, after checking the copy in
/// `buf` against its record's checksum (`buf` is cleared on a mismatch: no damaged bytes are
/// handed out, not even with the error).
#[inline]
pub(crate) fn checked_copy(copied: Copied, buf: &mut Vec<u8>) -> Result<bool, Fault> {
    let Some((rec, stored, hash)) = copied else {
        return Ok(false);
    };
    if let Err(e) = check_checksum(rec, stored, hash, buf) {
        buf.clear();
        return Err(e);
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::size_buffer;

    #[test]
    fn buffers_are_sized_exactly() {
        let mut buf = vec![1u8; 10];
        size_buffer(&mut buf, 4);
        assert_eq!(buf.len(), 4);
        size_buffer(&mut buf, 8); // within capacity
        assert_eq!(buf.len(), 8);
        size_buffer(&mut buf, 100); // new allocation
        assert_eq!(buf.len(), 100);
        size_buffer(&mut buf, 0);
        assert!(buf.is_empty());
    }
}
