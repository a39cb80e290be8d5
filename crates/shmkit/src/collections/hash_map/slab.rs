//! Per-shard slabs of fixed records (fixed-size maps only): where a fixed-size map's records
//! live, so that an insert, an overwrite or a removal never calls the store's allocator.
//!
//! A slab is one small block ([`SlabHeader`] and the offsets of up to [`MAX_SLAB_CHUNKS`]
//! chunks) and its chunks, chunk `i` an allocator block of a 16-byte header (naming the slab
//! and `i`) and `first_capacity << i` records of `stride` bytes. A write takes a record from the free list, else carves the next one from
//! the newest chunk, else allocates a chunk twice the size of the last (the only allocator
//! call, once per doubling); a record a write unlinks goes onto the free list.
//!
//! Invariants:
//! - every carved record (all of the older chunks, `carved` of the newest) is live (named by
//!   one slot of the shard), free (on the list, exactly once), or, after a writer died
//!   between taking a record and publishing it (or between unlinking one and listing it),
//!   neither; the repair that follows the death rebuilds the list from the slots, so no
//!   record is ever lost for good;
//! - a record goes onto the list only after the write that unlinked it made the shard's
//!   sequence odd (readers still copying it fail their validation, as with a freed block);
//!   readers never follow the list;
//! - nothing is taken from or put on the list unless it lies in one of the slab's chunks, at
//!   a record boundary, inside the chunk's allocator block, and nothing is taken unless its
//!   link names such a record too (a live record's first word names none): a damaged
//!   offset, or a list damaged into a cycle or onto a live record, makes the write fail (or,
//!   when giving back, leaks the record) instead of writing foreign memory or a live record.
//!   A chunk is checked to be an allocated block of its size whose header names this slab
//!   and the chunk's position in it, so a chunk offset damaged to name another object's
//!   block (or another chunk) is told apart;
//! - order of a chunk's birth: block allocated, its header written, its offset stored,
//!   `chunk_count`, then
//!   `carved = 1` (the record being taken); a writer killed before `carved` leaves it too
//!   large, which only makes unwritten records count as carved (the repair frees them);
//!   `carved` is never too small (a damaged one is raised past the live records before the
//!   repair judges the slots).
//!
//! ```
//! use shmkit::{FixedSize, HashMapOptions, Store, StoreOptions};
//! let name = format!("doc-map-slab-{}", std::process::id()); // unique to this process
//! let store = Store::create(&name, &StoreOptions::default()).unwrap();
//! let options = HashMapOptions {
//!     shards: 1,
//!     fixed_size: Some(FixedSize { key_len: 4, value_len: 8 }),
//!     ..HashMapOptions::default()
//! };
//! let map = store.hash_map_with("m", &options).unwrap();
//! map.set(b"key1", &1u64.to_le_bytes()).unwrap();
//! let used = store.alloc_stats().unwrap().used_bytes;
//! for i in 0..1000u64 {
//!     map.set(b"key1", &i.to_le_bytes()).unwrap(); // reuses the record it unlinked last
//!     map.delete(b"key2").unwrap();
//!     map.set(b"key2", &i.to_le_bytes()).unwrap();
//! }
//! assert_eq!(store.alloc_stats().unwrap().used_bytes, used); // no allocator traffic
//! assert!(map.verify().unwrap().is_clean());
//! Store::remove(&name).unwrap();
//! ```

use super::layout::{
    CHUNK_HEADER_LEN, CHUNK_MAGIC, MAX_SLAB_CHUNKS, MIN_SLAB_CHUNK, SLAB_BLOCK_LEN,
    SLAB_HEADER_LEN, SLAB_MAGIC, ShardHeader, SlabChunkHeader, SlabHeader,
};
use super::write::Writer;
use super::{Fault, MapError, MapInner};
use crate::store::Store;
use crate::store::error::AllocError;
use crate::sync::atomic::{AtomicU64, Ordering};
use std::collections::HashSet;

/// Allocates and initialises an empty slab for records of `stride` bytes, sized for a
/// first table of `buckets` (its first chunk holds what that table holds before growing).
pub(crate) fn create_slab(store: &Store, stride: u64, buckets: u64) -> Result<u64, AllocError> {
    let offset = store.alloc(SLAB_BLOCK_LEN)?;
    let region = &store.inner.region;
    region.fill_bytes(offset, SLAB_BLOCK_LEN, 0)?;
    let slab: &SlabHeader = region.get(offset)?;
    let first = (buckets / 4 * 3)
        .next_power_of_two()
        .clamp(MIN_SLAB_CHUNK, 1 << 20);
    slab.first_capacity.store(first, Ordering::Relaxed);
    slab.stride.store(stride as u32, Ordering::Relaxed);
    slab.magic.store(SLAB_MAGIC, Ordering::Release);
    Ok(offset)
}

/// A shard's slab, its header checked.
pub(crate) struct SlabView<'a> {
    pub(crate) offset: u64,
    pub(crate) header: &'a SlabHeader,
    chunks: &'a [AtomicU64],
    stride: u64,
    divide: ExactDivision,
    first: u64,
    count: u64,
}

/// Division by a record stride without a divide instruction, for offsets that must be a
/// whole number of records (the slab checks one on every write). `stride = odd << shift`;
/// `n` is a multiple of `stride` exactly when its low `shift` bits are zero and
/// `(n >> shift) * inverse` (mod 2^64, `inverse` the multiplicative inverse of `odd`) is at
/// most `u64::MAX / odd`, and that product is then `n / stride`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ExactDivision {
    shift: u32,
    odd: u64,
    inverse: u64,
}

impl ExactDivision {
    pub(crate) fn new(stride: u64) -> ExactDivision {
        let shift = stride.trailing_zeros();
        let odd = (stride >> shift).max(1);
        // Newton's iteration: `odd` is its own inverse mod 8 (3 bits); each step doubles the
        // correct bits (3, 6, 12, 24, 48, 96).
        let mut inverse = odd;
        for _ in 0..5 {
            inverse = inverse.wrapping_mul(2u64.wrapping_sub(odd.wrapping_mul(inverse)));
        }
        ExactDivision {
            shift,
            odd,
            inverse,
        }
    }

    /// `n / stride` if `n` is a multiple of `stride`.
    #[inline]
    pub(crate) fn quotient(&self, n: u64) -> Option<u64> {
        if n & ((1u64 << self.shift) - 1) != 0 {
            return None;
        }
        let q = (n >> self.shift).wrapping_mul(self.inverse);
        (q <= u64::MAX / self.odd).then_some(q)
    }
}

/// Where a record lies in a slab.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Place {
    pub(crate) chunk: u64,
    pub(crate) index: u64,
}

impl SlabView<'_> {
    /// Records chunk `i` holds.
    pub(crate) fn capacity_of(&self, i: u64) -> u64 {
        self.first << i
    }

    /// Offset of chunk `i` (as stored: check it with [`MapInner::chunk_checked`]).
    pub(crate) fn chunk(&self, i: u64) -> u64 {
        self.chunks[i as usize].load(Ordering::Relaxed)
    }

    /// Records carved so far from chunk `i`.
    pub(crate) fn carved_of(&self, i: u64) -> u64 {
        if i + 1 == self.count {
            self.header
                .carved
                .load(Ordering::Relaxed)
                .min(self.capacity_of(i))
        } else {
            self.capacity_of(i)
        }
    }

    /// Records carved so far from all chunks.
    pub(crate) fn carved_total(&self) -> u64 {
        (0..self.count).map(|i| self.carved_of(i)).sum()
    }

    /// Offset of chunk `i`'s first record (after its header).
    pub(crate) fn records_of(&self, i: u64) -> u64 {
        self.chunk(i).saturating_add(CHUNK_HEADER_LEN)
    }

    /// Offset of record `index` of chunk `chunk`.
    pub(crate) fn record_at(&self, chunk: u64, index: u64) -> u64 {
        self.records_of(chunk) + index * self.stride
    }

    /// Bytes chunk `i` takes: its header and its records.
    pub(crate) fn chunk_len(&self, i: u64) -> u64 {
        self.capacity_of(i)
            .saturating_mul(self.stride)
            .saturating_add(CHUNK_HEADER_LEN)
    }

    /// Bytes of the slab: its block and its chunks.
    pub(crate) fn bytes(&self) -> u64 {
        (0..self.count).fold(SLAB_BLOCK_LEN, |total, i| {
            total.saturating_add(self.chunk_len(i))
        })
    }

    /// The carved record at `rec`, by its position alone (the chunk's block is not checked).
    /// Newest chunk first (it holds half the records).
    pub(crate) fn locate(&self, rec: u64) -> Option<Place> {
        (0..self.count).rev().find_map(|chunk| {
            let at = rec.checked_sub(self.records_of(chunk))?;
            if at >= self.carved_of(chunk).saturating_mul(self.stride) {
                return None;
            }
            let index = self.divide.quotient(at)?;
            Some(Place { chunk, index })
        })
    }
}

impl MapInner {
    /// `shard`'s slab, after checking its header against the map.
    pub(crate) fn slab(&self, shard: &ShardHeader) -> Result<SlabView<'_>, Fault> {
        let offset = shard.slab.load(Ordering::Acquire);
        let bad = |reason| Fault { offset, reason };
        let Some(fixed) = self.fixed else {
            return Err(bad("no record slab"));
        };
        let stride = fixed.stride;
        if offset == 0 {
            return Err(bad("no record slab"));
        }
        let region = self.region();
        let header: &SlabHeader = region.get(offset)?;
        let first = header.first_capacity.load(Ordering::Relaxed);
        let count = header.chunk_count.load(Ordering::Relaxed);
        if header.magic.load(Ordering::Acquire) != SLAB_MAGIC
            || u64::from(header.stride.load(Ordering::Relaxed)) != stride
            || !first.is_power_of_two()
            || !(MIN_SLAB_CHUNK..=1 << 20).contains(&first)
            || count > MAX_SLAB_CHUNKS
        {
            return Err(bad("not a record slab"));
        }
        let chunks = region.get_slice::<AtomicU64>(offset + SLAB_HEADER_LEN, MAX_SLAB_CHUNKS)?;
        Ok(SlabView {
            offset,
            header,
            chunks,
            stride,
            divide: fixed.divide,
            first,
            count,
        })
    }

    /// Chunk `i`'s offset, if it is an allocated block large enough for its records whose
    /// header names this slab and position.
    pub(crate) fn chunk_checked(&self, slab: &SlabView<'_>, i: u64) -> Result<u64, Fault> {
        let chunk = slab.chunk(i);
        let len = slab.chunk_len(i);
        let ours = self.region().get::<SlabChunkHeader>(chunk).is_ok_and(|h| {
            h.magic.load(Ordering::Acquire) == CHUNK_MAGIC
                && u64::from(h.index.load(Ordering::Relaxed)) == i
                && h.slab.load(Ordering::Relaxed) == slab.offset
        });
        if !ours {
            return Err(Fault {
                offset: slab.offset,
                reason: "a slab chunk is not one of this slab's",
            });
        }
        // Allocated (inside the heap, not a free block, nor bytes that merely parse as a
        // block's class) and large enough: one read of the block's header.
        let fits = self
            .store
            .inner
            .used_capacity(chunk)
            .is_ok_and(|capacity| capacity >= len);
        if fits && chunk % 8 == 0 {
            Ok(chunk)
        } else {
            Err(Fault {
                offset: slab.offset,
                reason: "a slab chunk is not a block of its size",
            })
        }
    }

    /// Where the record `rec` lies in `slab`: a carved record of a chunk that is a block of
    /// its size; `None` otherwise.
    pub(crate) fn slab_place(&self, slab: &SlabView<'_>, rec: u64) -> Option<Place> {
        let place = slab.locate(rec)?;
        self.chunk_checked(slab, place.chunk).ok()?;
        Some(place)
    }

    /// Bytes of `shard`'s slab (0 if it has none, or a damaged one).
    pub(crate) fn slab_bytes(&self, shard: &ShardHeader) -> u64 {
        self.slab(shard).map_or(0, |s| s.bytes())
    }

    /// The blocks `shard`'s slab owns: its own and its chunks'.
    pub(crate) fn slab_blocks(&self, shard: &ShardHeader, f: &mut dyn FnMut(u64)) {
        if let Ok(slab) = self.slab(shard) {
            f(slab.offset);
            (0..slab.count)
                .filter_map(|i| self.chunk_checked(&slab, i).ok())
                .for_each(f);
        }
    }

    /// The records on `slab`'s free list, walking at most as many links as there are
    /// carved records; `Err` names the first problem (a record outside the slab, one listed
    /// twice, a list longer than the slab).
    pub(crate) fn slab_free_list(&self, slab: &SlabView<'_>) -> Result<Vec<u64>, String> {
        let carved = slab.carved_total();
        let mut out = Vec::new();
        let mut seen = HashSet::new();
        let mut rec = slab.header.free_head.load(Ordering::Acquire);
        while rec != 0 {
            if out.len() as u64 >= carved {
                return Err("the slab's free list is longer than the slab".into());
            }
            if self.slab_place(slab, rec).is_none() {
                return Err(format!("the slab's free list holds {rec}, not a record"));
            }
            if !seen.insert(rec) {
                return Err(format!("the slab's free list holds {rec} twice"));
            }
            out.push(rec);
            rec = self
                .region()
                .get::<AtomicU64>(rec)
                .map_err(|e| e.to_string())?
                .load(Ordering::Relaxed);
        }
        Ok(out)
    }

    /// Checks `shard`'s slab against `live` (the records its live slots name): the header,
    /// the chunks, the free list, and that every carved record is live or free. Adds what
    /// is wrong to `problems`.
    pub(crate) fn check_slab(
        &self,
        shard: &ShardHeader,
        live: &HashSet<u64>,
        problems: &mut dyn FnMut(u64, String),
    ) {
        let slab = match self.slab(shard) {
            Ok(s) => s,
            Err(e) => return problems(e.offset, format!("record slab: {e}")),
        };
        for i in 0..slab.count {
            if let Err(e) = self.chunk_checked(&slab, i) {
                problems(slab.offset, format!("slab chunk {i}: {e}"));
                return;
            }
        }
        let free = match self.slab_free_list(&slab) {
            Ok(free) => free,
            Err(why) => return problems(slab.offset, why),
        };
        let stored = slab.header.free_count.load(Ordering::Relaxed);
        if stored != free.len() as u64 {
            problems(
                slab.offset,
                format!("slab free_count is {stored}, counted {}", free.len()),
            );
        }
        if let Some(rec) = free.iter().find(|r| live.contains(r)) {
            problems(*rec, "a live record is on the slab's free list".into());
        }
        let carved = slab.carved_total();
        let accounted = free.len() as u64 + live.len() as u64;
        if carved != accounted {
            problems(
                slab.offset,
                format!("{carved} records carved, {accounted} live or free"),
            );
        }
    }

    /// After a crash (lock held, sequence odd): makes `shard`'s slab usable before its
    /// slots are judged against it. A slab header that is gone is replaced by an empty one
    /// (the records of the old one can no longer be told from garbage: their slots are then
    /// dropped as invalid); chunks after the first that is not a block of its size are
    /// dropped.
    pub(crate) fn repair_slab_chunks(
        &self,
        shard: &ShardHeader,
        notes: &mut Vec<String>,
    ) -> Result<(), MapError> {
        let slab = match self.slab(shard) {
            Ok(slab) => slab,
            Err(e) => {
                let stride = self.fixed.map_or(0, |f| f.stride);
                let fresh = create_slab(&self.store, stride, self.initial_buckets)?;
                shard.slab.store(fresh, Ordering::Release);
                notes.push(format!(
                    "replaced a damaged record slab ({e}); its records are lost"
                ));
                return Ok(());
            }
        };
        if let Some(bad) = (0..slab.count).find(|&i| self.chunk_checked(&slab, i).is_err()) {
            slab.header.chunk_count.store(bad, Ordering::Release);
            slab.header.carved.store(
                if bad == 0 {
                    0
                } else {
                    slab.capacity_of(bad - 1)
                },
                Ordering::Relaxed,
            );
            notes.push(format!("dropped slab chunks from {bad} on (not blocks)"));
        }
        Ok(())
    }

    /// After a crash (lock held, sequence odd), before the slots are judged against the
    /// slab: `carved` at most the newest chunk's capacity and at least past every record a
    /// live slot names in it (`named`: the records of the live slots, not yet judged). A
    /// count below a live record would make its entry look invalid and be dropped; one
    /// raised over records never written only makes them free records.
    pub(crate) fn repair_slab_carved(
        &self,
        shard: &ShardHeader,
        named: &mut dyn Iterator<Item = u64>,
        notes: &mut Vec<String>,
    ) -> Result<(), MapError> {
        let slab = self.slab(shard)?;
        if slab.count > 0 {
            let newest = slab.count - 1;
            let start = slab.records_of(newest);
            let need = named
                .filter_map(|rec| {
                    let index = slab.divide.quotient(rec.checked_sub(start)?)?;
                    (index < slab.capacity_of(newest)).then_some(index + 1)
                })
                .max()
                .unwrap_or(0);
            let carved = slab.header.carved.load(Ordering::Relaxed);
            if carved > slab.capacity_of(newest) || carved < need {
                let fixed = carved.clamp(need, slab.capacity_of(newest));
                slab.header.carved.store(fixed, Ordering::Relaxed);
                notes.push(format!("set the slab's carved count to {fixed}"));
            }
        } else if slab.header.carved.load(Ordering::Relaxed) != 0 {
            slab.header.carved.store(0, Ordering::Relaxed);
        }
        Ok(())
    }

    /// After a crash, once the slots are settled (lock held, sequence odd): every carved
    /// record no live slot names goes onto the free list. `live` holds the records the
    /// shard's live slots name. Leaves an intact list alone.
    pub(crate) fn repair_slab_free_list(
        &self,
        shard: &ShardHeader,
        live: &HashSet<u64>,
        notes: &mut Vec<String>,
    ) -> Result<(), MapError> {
        let slab = self.slab(shard)?;
        let mut want = Vec::new();
        for chunk in 0..slab.count {
            for index in 0..slab.carved_of(chunk) {
                let rec = slab.record_at(chunk, index);
                if !live.contains(&rec) {
                    want.push(rec);
                }
            }
        }
        let intact = self
            .slab_free_list(&slab)
            .is_ok_and(|free| free.len() == want.len() && free.iter().all(|r| !live.contains(r)))
            && slab.header.free_count.load(Ordering::Relaxed) == want.len() as u64;
        if intact {
            return Ok(());
        }
        let region = self.region();
        let mut next = 0u64;
        for &rec in want.iter().rev() {
            region.get::<AtomicU64>(rec)?.store(next, Ordering::Relaxed);
            next = rec;
        }
        slab.header.free_head.store(next, Ordering::Release);
        slab.header
            .free_count
            .store(want.len() as u64, Ordering::Relaxed);
        notes.push(format!(
            "rebuilt the slab's free list ({} records)",
            want.len()
        ));
        Ok(())
    }

    /// Empties `shard`'s slab (the shard was just emptied: no slot names a record); returns
    /// the chunk blocks to free once the lock is released. Lock held, sequence odd.
    pub(crate) fn reset_slab(&self, shard: &ShardHeader) -> Result<Vec<u64>, MapError> {
        let slab = self.slab(shard)?;
        let chunks: Vec<u64> = (0..slab.count)
            .filter_map(|i| self.chunk_checked(&slab, i).ok())
            .collect();
        // Count first: a writer killed part way leaves fewer chunks, never a record of a
        // dropped chunk on the list (the repair rebuilds the list from the chunks left).
        slab.header.chunk_count.store(0, Ordering::Release);
        slab.header.carved.store(0, Ordering::Relaxed);
        slab.header.free_head.store(0, Ordering::Release);
        slab.header.free_count.store(0, Ordering::Relaxed);
        Ok(chunks)
    }
}

impl Writer<'_> {
    /// A record of the shard's slab to build a new record in: the first free one, else the
    /// next uncarved one of the newest chunk, else the first of a new chunk. Not reachable
    /// from any slot until published (a writer killed before then leaves it to the repair).
    pub(crate) fn slab_take(&mut self) -> Result<u64, MapError> {
        let map = self.map;
        let slab = map.slab(self.shard)?;
        let head = slab.header.free_head.load(Ordering::Acquire);
        if head != 0 {
            if map.slab_place(&slab, head).is_none() {
                return Err(MapError::corrupt(
                    slab.offset,
                    "the slab's free list names no record",
                ));
            }
            let next = map.region().get::<AtomicU64>(head)?.load(Ordering::Relaxed);
            // The link must name a record too (by its position: its chunk is checked when it
            // is taken in turn). A live record's first word (a zero word,
            // then its checksum) names none unless the checksum is 0 (one in 2^32) or the
            // store is beyond 4 GiB and it hits a record boundary by chance: a list damaged
            // into a cycle or onto a live record stops here, instead of handing out a
            // record a key still uses.
            if next != 0 && slab.locate(next).is_none() {
                return Err(MapError::corrupt(
                    slab.offset,
                    "the slab's free list links to no record",
                ));
            }
            // Readers that could still see this record started before the write that
            // unlinked it, so they fail validation whatever is written here now.
            slab.header.free_head.store(next, Ordering::Release);
            let count = slab.header.free_count.load(Ordering::Relaxed);
            slab.header
                .free_count
                .store(count.saturating_sub(1), Ordering::Relaxed);
            return Ok(head);
        }
        if slab.count > 0 {
            let newest = slab.count - 1;
            let carved = slab.header.carved.load(Ordering::Relaxed);
            if carved < slab.capacity_of(newest) {
                map.chunk_checked(&slab, newest)?;
                slab.header.carved.store(carved + 1, Ordering::Relaxed);
                return Ok(slab.record_at(newest, carved));
            }
        }
        if slab.count == MAX_SLAB_CHUNKS {
            return Err(MapError::corrupt(slab.offset, "the slab has no room left"));
        }
        let records = slab.capacity_of(slab.count);
        let size = records
            .checked_mul(slab.stride)
            .and_then(|n| n.checked_add(CHUNK_HEADER_LEN))
            .ok_or(AllocError::TooLarge { size: u64::MAX })?;
        let chunk = map.store.alloc(size)?;
        // The header first: the chunk is named by the slab only once it names the slab.
        let header: &SlabChunkHeader = map.region().get(chunk)?;
        header.slab.store(slab.offset, Ordering::Relaxed);
        header.index.store(slab.count as u32, Ordering::Relaxed);
        header.magic.store(CHUNK_MAGIC, Ordering::Release);
        slab.chunks[slab.count as usize].store(chunk, Ordering::Release);
        slab.header
            .chunk_count
            .store(slab.count + 1, Ordering::Release);
        slab.header.carved.store(1, Ordering::Relaxed);
        Ok(chunk + CHUNK_HEADER_LEN)
    }

    /// Puts a record this write unlinked (or took and did not publish) onto the shard's
    /// free list. The caller has made the sequence odd if the record was ever published. A
    /// record that is not in the slab (a damaged slot) is left alone: a leak is the safe
    /// answer to damage, and `verify` reports it.
    pub(crate) fn slab_give(&mut self, rec: u64) {
        let map = self.map;
        let Ok(slab) = map.slab(self.shard) else {
            return;
        };
        if map.slab_place(&slab, rec).is_none() {
            return;
        }
        let Ok(link) = map.region().get::<AtomicU64>(rec) else {
            return;
        };
        // Link, then head: a writer killed in between leaves the record off the list (the
        // repair lists it), never on it twice.
        link.store(
            slab.header.free_head.load(Ordering::Relaxed),
            Ordering::Relaxed,
        );
        slab.header.free_head.store(rec, Ordering::Release);
        let count = slab.header.free_count.load(Ordering::Relaxed);
        slab.header.free_count.store(count + 1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::ExactDivision;

    #[test]
    fn exact_division_matches_division() {
        for stride in [16u64, 24, 40, 56, 72, 8 * 7 * 9, 65536, 8 * 8191] {
            let d = ExactDivision::new(stride);
            for n in (0..stride * 300).chain([u64::MAX, u64::MAX - stride + 1, 1 << 40]) {
                let want = (n % stride == 0).then(|| n / stride);
                assert_eq!(d.quotient(n), want, "{n} / {stride}");
            }
        }
    }
}
