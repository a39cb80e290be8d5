//! Incremental growth of one shard.
//!
//! When a shard's table would pass 3/4 load, a new table of about twice the live entries'
//! need is allocated and zeroed (before the sequence turns odd, so readers are not held up),
//! then published beside the old one: `migrate_cursor = 0`, `old_table = current`,
//! `table = new`. From then on every write to the shard first moves [`MIGRATE_BATCH`]
//! positions of the old table into the new one, so no operation ever waits for a whole
//! rehash. Moved slots become tombstones in the old table (probe sequences through them
//! stay intact); tombstones are not carried over, which is how deleted space is reclaimed.
//! When the cursor reaches the end the old table is unlinked and freed.
//!
//! Crash states a repair recognises: `old_table == table` (a resize published halfway: undo
//! it); a slot live in both tables with the same record (a move interrupted after the new
//! slot was written: drop the old slot); a live tag with `rec == 0` (an interrupted insert
//! or move: drop it). The new table is sized so the migration always finishes before the
//! new table fills: it has room for the live entries plus one insert per batch.
//!
//! ```
//! use shmkit::{HashMapOptions, Store, StoreOptions};
//! let name = format!("doc-map-resize-{}", std::process::id()); // unique to this process
//! let store = Store::create(&name, &StoreOptions::default()).unwrap();
//! let map = store.hash_map_with("m", &HashMapOptions { shards: 1, initial_capacity: 0 }).unwrap();
//! for i in 0..1000u32 {
//!     map.set(&i.to_le_bytes(), b"v").unwrap();
//! }
//! let stats = map.stats().unwrap();
//! assert!(stats.resizes >= 5 && stats.buckets >= 1024);
//! assert!(map.verify().unwrap().is_clean());
//! Store::remove(&name).unwrap();
//! ```

use super::MapError;
use super::layout::{MIN_BUCKETS, TABLE_HEADER_LEN, TABLE_MAGIC, TOMBSTONE, TableHeader, is_live};
use super::write::{Writer, place};
use crate::store::Store;
use crate::store::error::AllocError;
use crate::sync::atomic::Ordering;

/// Old-table positions moved by each write while a shard migrates.
pub(crate) const MIGRATE_BATCH: u64 = 32;

/// Allocates a zeroed table of `buckets` slots (a power of two); returns its offset.
pub(crate) fn alloc_table(store: &Store, buckets: u64) -> Result<u64, AllocError> {
    let size = buckets
        .checked_mul(16)
        .and_then(|b| b.checked_add(TABLE_HEADER_LEN))
        .ok_or(AllocError::TooLarge { size: u64::MAX })?;
    let offset = store.alloc(size)?;
    let region = &store.inner.region;
    region.fill_bytes(offset + TABLE_HEADER_LEN, size - TABLE_HEADER_LEN, 0)?;
    let header: &TableHeader = region.get(offset)?;
    header.buckets.store(buckets, Ordering::Relaxed);
    header._pad.store(0, Ordering::Relaxed);
    header.magic.store(TABLE_MAGIC, Ordering::Release);
    Ok(offset)
}

impl Writer<'_> {
    /// Moves up to `max` positions of the old table (if the shard is migrating), finishing
    /// the migration when the cursor reaches the end.
    pub(crate) fn migrate(&mut self, max: u64) -> Result<(), MapError> {
        let shard = self.shard;
        let old_offset = shard.old_table.load(Ordering::Acquire);
        if old_offset == 0 {
            return Ok(());
        }
        let old = self.map.table(old_offset)?;
        let new = self.map.table(shard.table.load(Ordering::Acquire))?;
        let start = shard
            .migrate_cursor
            .load(Ordering::Relaxed)
            .min(old.buckets());
        let end = start.saturating_add(max).min(old.buckets());
        self.begin();
        let mut used = shard.used.load(Ordering::Relaxed);
        for i in start..end {
            let slot = old.slot(i);
            let tag = slot.tag.load(Ordering::Relaxed);
            if !is_live(tag) {
                continue;
            }
            let rec = slot.rec.load(Ordering::Relaxed);
            if rec != 0 && place(&new, tag, rec)? {
                used = used.wrapping_add(1);
            }
            slot.rec.store(0, Ordering::Release);
            slot.tag.store(TOMBSTONE, Ordering::Release);
        }
        shard.used.store(used, Ordering::Relaxed);
        shard.migrate_cursor.store(end, Ordering::Relaxed);
        if end == old.buckets() {
            shard.old_table.store(0, Ordering::Release);
            self.defer_free(old_offset);
        }
        Ok(())
    }

    /// Makes sure the current table can take one more entry, starting a resize if needed.
    pub(crate) fn ensure_room(&mut self) -> Result<(), MapError> {
        let shard = self.shard;
        loop {
            let table = self.map.table(shard.table.load(Ordering::Acquire))?;
            let buckets = table.buckets();
            let used = shard.used.load(Ordering::Relaxed);
            let migrating = shard.old_table.load(Ordering::Acquire) != 0;
            let limit = if migrating {
                buckets - buckets / 8
            } else {
                buckets - buckets / 4
            };
            if used < limit {
                return Ok(());
            }
            if migrating {
                // Cannot happen with the sizing below; finishing the move keeps us correct
                // if a damaged counter ever says otherwise.
                self.migrate(u64::MAX)?;
                continue;
            }
            self.start_resize(buckets, table.offset)?;
            self.migrate(MIGRATE_BATCH)?;
        }
    }

    /// Publishes a new table beside the current one and starts migrating into it.
    fn start_resize(&mut self, old_buckets: u64, old_offset: u64) -> Result<(), MapError> {
        let shard = self.shard;
        let live = shard.len.load(Ordering::Relaxed);
        // Room for every live entry plus one insert per batch until the move is done,
        // below 1/2 load: the migration always completes before the table fills.
        let need = live.saturating_add(old_buckets / MIGRATE_BATCH + 2);
        let buckets = need
            .saturating_mul(2)
            .checked_next_power_of_two()
            .ok_or(AllocError::TooLarge { size: u64::MAX })?
            .max(MIN_BUCKETS);
        let new_offset = alloc_table(&self.map.store, buckets)?;
        self.begin();
        shard.migrate_cursor.store(0, Ordering::Relaxed);
        shard.used.store(0, Ordering::Relaxed);
        shard.old_table.store(old_offset, Ordering::Release);
        shard.table.store(new_offset, Ordering::Release);
        shard.resizes.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}
