//! Per-shard spare record blocks: a write that unlinks a small record keeps its block on the
//! shard's spare list (under the shard lock) and the next write to the shard builds its
//! record in it, so steady overwrites never touch the store allocator, whose size-class
//! locks are shared by every process.
//!
//! Invariants:
//! - a block on the list is allocated (tagged used), reachable from no slot, and at most
//!   [`SPARE_MAX_BYTES`] long; the list holds at most [`SPARE_LIMIT`] blocks;
//! - a block goes on the list only after the write that unlinked it made the shard's sequence
//!   odd, so a reader still copying the old record fails its validation, exactly as if the
//!   block had been freed and reused; readers never follow the list;
//! - push is "link, then head", pop is one store of the head: a writer killed in between
//!   leaks one block, never lists a block twice. Repair walks the list and cuts it at the
//!   first block that is not a plausible spare.
//!
//! ```
//! use shmkit::{HashMapOptions, Store, StoreOptions};
//! let name = format!("doc-map-spare-{}", std::process::id()); // unique to this process
//! let store = Store::create(&name, &StoreOptions::default()).unwrap();
//! let map = store.hash_map_with("m", &HashMapOptions { shards: 1, initial_capacity: 0, fixed_size: None }).unwrap();
//! map.set(b"k", b"one").unwrap();
//! map.set(b"k", b"two").unwrap(); // "one"'s block becomes the shard's spare
//! let used = store.alloc_stats().unwrap().used_bytes;
//! for i in 0..1000u32 {
//!     map.set(b"k", &i.to_le_bytes()).unwrap(); // each write reuses the previous block
//! }
//! assert_eq!(store.alloc_stats().unwrap().used_bytes, used);
//! assert!(map.verify().unwrap().is_clean());
//! Store::remove(&name).unwrap();
//! ```

use super::layout::{SPARE_LIMIT, SPARE_MAX_BYTES, ShardHeader};
use super::write::{NewRecord, Writer};
use super::{MapError, MapInner};
use crate::sync::atomic::{AtomicU64, Ordering};
use std::collections::HashSet;

impl MapInner {
    /// Capacity of `block` if it is an allocated block small enough to keep as a spare.
    fn spare_capacity(&self, block: u64) -> Option<u64> {
        let cap = self.store.inner.used_capacity(block).ok()?;
        (cap <= SPARE_MAX_BYTES).then_some(cap)
    }

    /// The blocks on `shard`'s spare list, walking at most [`SPARE_LIMIT`] + 1 links; the
    /// second value is false if the list is damaged (a bad block, a cycle, too long).
    pub(crate) fn spare_blocks(&self, shard: &ShardHeader) -> (Vec<u64>, bool) {
        let mut out = Vec::new();
        let mut seen = HashSet::new();
        let mut block = shard.spare_head.load(Ordering::Acquire);
        while block != 0 {
            if out.len() as u64 >= SPARE_LIMIT
                || !seen.insert(block)
                || self.spare_capacity(block).is_none()
            {
                return (out, false);
            }
            out.push(block);
            match self.region().get::<AtomicU64>(block) {
                Ok(link) => block = link.load(Ordering::Relaxed),
                Err(_) => return (out, false),
            }
        }
        (out, true)
    }

    /// After a crash: keeps the valid prefix of the spare list (the rest leaks) and recounts.
    /// `live` holds the records live slots point at; no spare may be one of them.
    pub(crate) fn repair_spares(
        &self,
        shard: &ShardHeader,
        live: &HashSet<u64>,
        notes: &mut Vec<String>,
    ) {
        let (mut blocks, mut intact) = self.spare_blocks(shard);
        if let Some(i) = blocks.iter().position(|b| live.contains(b)) {
            blocks.truncate(i);
            intact = false;
        }
        if !intact {
            match blocks.last() {
                Some(&last) => {
                    if let Ok(link) = self.region().get::<AtomicU64>(last) {
                        link.store(0, Ordering::Relaxed);
                    }
                }
                None => shard.spare_head.store(0, Ordering::Release),
            }
            notes.push(format!(
                "cut a damaged spare-record list after {} blocks",
                blocks.len()
            ));
        }
        let count = blocks.len() as u64;
        if shard.spare_count.load(Ordering::Relaxed) != count {
            shard.spare_count.store(count, Ordering::Relaxed);
            notes.push("recounted spare records".into());
        }
    }
}

impl Writer<'_> {
    /// Disposes of a record block this write just unlinked: onto the spare list if it is
    /// small and the list has room, else back to the allocator once the lock is released.
    /// The caller has made the sequence odd.
    pub(crate) fn recycle(&mut self, block: u64) {
        if self.map.fixed.is_some() {
            // A fixed-size map's records live in the shard's slab, not in blocks.
            return self.slab_give(block);
        }
        let shard = self.shard;
        let count = shard.spare_count.load(Ordering::Relaxed);
        let link = self.map.region().get::<AtomicU64>(block);
        match (self.map.spare_capacity(block), link) {
            (Some(_), Ok(link)) if count < SPARE_LIMIT => {
                link.store(shard.spare_head.load(Ordering::Relaxed), Ordering::Relaxed);
                shard.spare_head.store(block, Ordering::Release);
                shard.spare_count.store(count + 1, Ordering::Relaxed);
            }
            _ => self.defer_free(block),
        }
    }

    /// A record for `key` (hash `hash`) → `value` built in a spare block of this shard if one
    /// fits, else in a newly allocated block. Not yet reachable from any slot.
    pub(crate) fn new_record(
        &mut self,
        hash: u64,
        key: &[u8],
        value: &[u8],
    ) -> Result<NewRecord, MapError> {
        if let Some(fixed) = self.map.fixed {
            let rec = self.slab_take()?;
            return match self.map.write_record(rec, hash, key, value) {
                Ok(()) => Ok(NewRecord {
                    offset: rec,
                    len: fixed.stride,
                }),
                Err(e) => {
                    self.slab_give(rec);
                    Err(e)
                }
            };
        }
        let shard = self.shard;
        let len = super::layout::record_len(key.len() as u64, value.len() as u64);
        let head = shard.spare_head.load(Ordering::Acquire);
        if head != 0
            && let Some(cap) = self.map.spare_capacity(head)
            && cap >= len
            && let Ok(link) = self.map.region().get::<AtomicU64>(head)
        {
            // Readers that could still see this block started before the write that
            // unlinked it, so they fail validation whatever is written here now.
            shard
                .spare_head
                .store(link.load(Ordering::Relaxed), Ordering::Release);
            let count = shard.spare_count.load(Ordering::Relaxed);
            shard
                .spare_count
                .store(count.saturating_sub(1), Ordering::Relaxed);
            return match self.map.write_record(head, hash, key, value) {
                Ok(()) => Ok(NewRecord { offset: head, len }),
                Err(e) => {
                    self.defer_free(head);
                    Err(e)
                }
            };
        }
        self.map.build_record(hash, key, value)
    }

    /// Gives back a record built by [`Writer::new_record`] that was not published.
    pub(crate) fn discard(&mut self, record: NewRecord) {
        if self.map.fixed.is_some() {
            return self.slab_give(record.offset);
        }
        self.defer_free(record.offset);
    }
}
