//! Incremental growth and shrinking of one shard.
//!
//! When a shard's table would pass 3/4 load, a new table sized from the live entries (see
//! [`grown_buckets`]) is allocated and zeroed (before the sequence turns odd, so readers are
//! not held up), then published beside the old one: `migrate_cursor = 0`, `old_table =
//! current`, `table = new`. From then on every write to the shard first moves
//! [`MIGRATE_BATCH`] positions of the old table into the new one, so no operation ever waits
//! for a whole rehash. Moved slots become tombstones in the old table (probe sequences through
//! them stay intact); tombstones are not carried over, which is how deleted space is
//! reclaimed. When the cursor reaches the end the old table is unlinked and freed.
//!
//! **Shrinking** is the same migration into a smaller table. A write that removed an entry
//! and left the shard's live entries below 1/4 of its buckets (no migration running, the
//! table above the map's initial size) asks [`shrunk_buckets`] for a table with room for the
//! live entries plus one insert per batch at no more than 1/2 load; if that is smaller than
//! the current one, it starts the migration and moves the first batch. The reserve for
//! inserts is 1/32 of the old table, so one shrink divides a table by at most 8, and a
//! shard starts shrinking once its live entries are below about 7/32 of its buckets; a shard
//! emptied from millions of entries shrinks through several migrations in a row, each
//! started by the removals that follow the previous one. Only writes move a migration on: a
//! shard that is only read keeps whatever tables it has (two while a migration is pending).
//!
//! Hysteresis: a shrunk table ends its migration at most half full, so it grows again only
//! after its live entries grew by half (3/4 load); a grown table is sized for at most 5/8
//! load with the migration's reserve and at most 1/2 for the live entries alone, so it
//! starts above 1/4 load, clear of the shrink trigger (unless the reserve dominates: a nearly
//! empty shard rebuilt for its tombstones, which a shrink then rightly follows). A rebuild forced by tombstones is
//! sized like a growth, so churn at a steady size neither alternates between a larger and
//! a smaller table nor rebuilds often (a quarter of the table stays free for tombstones).
//!
//! Crash states a repair recognises (the same in both directions: the repair never looks at
//! which table is larger): `old_table == table` (a
//! resize published halfway: undo it); a slot live in both tables with the same record (a
//! move interrupted after the new slot was written: drop the old slot); a live tag with
//! `rec == 0` (an interrupted insert or move: drop it). The new table is sized so the
//! migration always finishes before the new table fills: it has room for the live entries
//! plus one insert per batch.
//!
//! ```
//! use shmkit::{HashMapOptions, Store, StoreOptions};
//! let name = format!("doc-map-resize-{}", std::process::id()); // unique to this process
//! let store = Store::create(&name, &StoreOptions::default()).unwrap();
//! let map = store.hash_map_with("m", &HashMapOptions { shards: 1, initial_capacity: 0, fixed_size: None }).unwrap();
//! for i in 0..1000u32 {
//!     map.set(&i.to_le_bytes(), b"v").unwrap();
//! }
//! let stats = map.stats().unwrap();
//! assert!(stats.resizes >= 5 && stats.buckets >= 1024);
//! // Removals shrink it again, migration by migration.
//! for i in 10..1000u32 {
//!     map.delete(&i.to_le_bytes()).unwrap();
//! }
//! let emptied = map.stats().unwrap();
//! assert!(emptied.shrinks >= 2 && emptied.table_bytes * 8 <= stats.table_bytes);
//! assert!(map.verify().unwrap().is_clean());
//! Store::remove(&name).unwrap();
//! ```

use super::MapError;
use super::layout::{
    CTRL_TOMBSTONE, MIN_BUCKETS, TABLE_HEADER_LEN, TABLE_MAGIC, TOMBSTONE, TableHeader, is_live,
    table_len,
};
use super::write::{Writer, place};
use crate::store::Store;
use crate::store::error::AllocError;
use crate::sync::atomic::Ordering;

/// Old-table positions moved by each write while a shard migrates.
pub(crate) const MIGRATE_BATCH: u64 = 32;

/// A removal that leaves fewer than `buckets / SHRINK_BELOW` live entries in a shard
/// considers shrinking its table (1/4 load; growth starts at 3/4).
pub(crate) const SHRINK_BELOW: u64 = 4;

/// Entries a new table must have room for when a shard of `live` entries starts migrating
/// out of a table of `old_buckets`: every live entry plus one insert per batch until the
/// move is done (so the migration always completes before the new table fills).
fn migration_need(live: u64, old_buckets: u64) -> u64 {
    live.saturating_add(old_buckets / MIGRATE_BATCH + 2)
}

/// The smallest table (a power of two, at least [`MIN_BUCKETS`]) that holds `need` entries
/// at no more than `num / den` load; `None` if that many buckets cannot be counted.
fn table_for(need: u64, num: u64, den: u64) -> Option<u64> {
    need.checked_mul(den)?
        .div_ceil(num)
        .checked_next_power_of_two()
        .map(|b| b.max(MIN_BUCKETS))
}

/// Buckets of the table a full shard (3/4 of its slots used) of `live` entries migrates into
/// from a table of `old_buckets`: room for [`migration_need`] at no more than 5/8 load, and
/// the live entries alone at no more than 1/2. A growth from live entries near 3/4 doubles
/// the table; one forced by tombstones rebuilds it at the same size (or smaller). Either
/// way the new table starts above 1/4 load unless the reserve dominates (a nearly empty
/// shard), clear of the shrink trigger (see
/// [`shrunk_buckets`]), so a grown shard is not shrunk right back.
pub(crate) fn grown_buckets(live: u64, old_buckets: u64) -> Option<u64> {
    // Also at most 1/2 load for the live entries alone: a rebuild forced by tombstones must
    // leave a quarter of the table for new tombstones, or a shard under steady churn
    // (insert new keys, delete old ones) rebuilds ten times as often.
    Some(table_for(migration_need(live, old_buckets), 5, 8)?.max(table_for(live, 1, 2)?))
}

/// Buckets of the table a sparse shard (live entries below 1/4 of its buckets) of `live`
/// entries would shrink into from a table of `old_buckets`: room for [`migration_need`] at
/// no more than 1/2 load, so a shrunk table ends its migration well below the 3/4 growth
/// trigger (it grows again only after its entries grew by half).
pub(crate) fn shrunk_buckets(live: u64, old_buckets: u64) -> Option<u64> {
    table_for(migration_need(live, old_buckets), 1, 2)
}

/// Allocates a zeroed table of `buckets` slots (a power of two); returns its offset.
pub(crate) fn alloc_table(store: &Store, buckets: u64) -> Result<u64, AllocError> {
    let size = table_len(buckets).ok_or(AllocError::TooLarge { size: u64::MAX })?;
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
        let old = self.map.table_checked(old_offset)?;
        let new = self
            .map
            .table_checked(shard.table.load(Ordering::Acquire))?;
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
            old.set_ctrl(i, CTRL_TOMBSTONE);
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
            let table = self
                .map
                .table_checked(shard.table.load(Ordering::Acquire))?;
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
            let live = shard.len.load(Ordering::Relaxed);
            let new_buckets = grown_buckets(live, buckets)
                .ok_or(AllocError::TooLarge { size: u64::MAX })?
                .max(self.map.initial_buckets);
            self.start_resize(new_buckets, buckets, table.offset)?;
            self.migrate(MIGRATE_BATCH)?;
        }
    }

    /// After a removal: starts migrating into a smaller table if the shard's live entries
    /// fell below 1/4 of its buckets and [`shrunk_buckets`] (floored at the map's initial
    /// size) gives a smaller table. Moves the first batch at once.
    pub(crate) fn shrink_if_sparse(&mut self) -> Result<(), MapError> {
        let shard = self.shard;
        if shard.old_table.load(Ordering::Acquire) != 0 {
            return Ok(());
        }
        let floor = self.map.initial_buckets;
        let live = shard.len.load(Ordering::Relaxed);
        let table = self
            .map
            .table_checked(shard.table.load(Ordering::Acquire))?;
        let buckets = table.buckets();
        if buckets <= floor || live >= buckets / SHRINK_BELOW {
            return Ok(());
        }
        match shrunk_buckets(live, buckets) {
            Some(new_buckets) if new_buckets.max(floor) < buckets => {
                self.start_resize(new_buckets.max(floor), buckets, table.offset)?;
                self.migrate(MIGRATE_BATCH)
            }
            _ => Ok(()),
        }
    }

    /// Publishes a new table of `buckets` beside the current one (`old_offset`, of
    /// `old_buckets`) and starts migrating into it.
    fn start_resize(
        &mut self,
        buckets: u64,
        old_buckets: u64,
        old_offset: u64,
    ) -> Result<(), MapError> {
        let shard = self.shard;
        let new_offset = alloc_table(&self.map.store, buckets)?;
        self.begin();
        shard.migrate_cursor.store(0, Ordering::Relaxed);
        shard.used.store(0, Ordering::Relaxed);
        shard.old_table.store(old_offset, Ordering::Release);
        shard.table.store(new_offset, Ordering::Release);
        shard.resizes.fetch_add(1, Ordering::Relaxed);
        if buckets < old_buckets {
            shard.shrinks.fetch_add(1, Ordering::Relaxed);
        }
        Ok(())
    }
}
