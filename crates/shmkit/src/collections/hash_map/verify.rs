//! Consistency check, crash repair, statistics and block ownership of a hash map.
//!
//! `repair_shard` runs under the shard lock whenever the lock was taken over from a dead
//! writer (or the sequence was left odd). It understands exactly the intermediate states the
//! write path can leave (see `write` and `resize`):
//! - `old_table == table`: a resize published halfway; undone (the new table leaks);
//! - a live tag with `rec == 0`: an unfinished insert or move; the slot becomes a tombstone;
//! - a non-live tag with `rec != 0`: cleared (never produced by this version);
//! - `counter_intent` set (an `incr_*` killed between its value and checksum stores): that
//!   record's checksum is recomputed from its current value (only if the sequence was left
//!   odd, as such a writer leaves it; a stray intent is just cleared);
//! - a live slot whose record is not a valid record for its tag (outside the store, not an
//!   allocated block, too small, key not hashing to the tag, value not matching the record's
//!   checksum): dropped (reported);
//! - an entry live in the old table that is also in the new one: the old slot is dropped
//!   (a move interrupted between its two stores; both point at the same record);
//! - an old table with nothing left to move: unlinked and freed;
//! - a live slot naming a handle cell that is not live (or past the cell table, or whose
//!   hash is not the slot's): dropped; a second slot naming the same cell: dropped;
//! - a live handle cell no slot names (a writer died between making it live and naming it,
//!   or between unlinking its key and freeing it): freed, its generation moved on; the free
//!   cell list rebuilt, the live cells recounted (see `cells`);
//! - `len`, `used`, `bytes` recounted; the sequence forced even.
//!
//! `verify` checks every live record's checksum; `repair` drops the entries that fail, so
//! what survives a repair is what was written (up to the 2^-32 chance that damage matches a
//! 32-bit checksum).
//!
//! ```
//! use shmkit::{Store, StoreOptions};
//! let name = format!("doc-map-verify-{}", std::process::id()); // unique to this process
//! let store = Store::create(&name, &StoreOptions::default()).unwrap();
//! let map = store.hash_map("m").unwrap();
//! map.set(b"k", b"v").unwrap();
//! let report = map.verify().unwrap();
//! assert!(report.is_clean(), "{report:?}");
//! assert_eq!(report.entries, 1);
//! let mut blocks = 0;
//! map.owned_blocks(&mut |_| blocks += 1).unwrap();
//! assert_eq!(blocks, 1 + 64 + 1); // root, one table per shard, one record
//! Store::remove(&name).unwrap();
//! ```

use super::layout::{
    EMPTY, RECORD_HEADER_LEN, ROOT_LEN, SHARD_STRIDE, ShardHeader, TOMBSTONE, ctrl_for_tag,
    is_live, record_checksum, record_len, table_len, tag_cell, tag_matches,
};
use super::lookup::TableView;
use super::{MapError, MapInner};
use crate::store::alloc::{BlockHeader, TAG_USED};
use crate::store::alloc_classes::BLOCK_HEADER_LEN;
use crate::store::verify::{MAINTENANCE_LOCK_WAIT, Problem};
use crate::sync::LockError;
use crate::sync::atomic::Ordering;
use std::collections::HashSet;

/// The result of [`super::HashMap::verify`] and [`super::HashMap::repair`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MapReport {
    /// Damage found (after any repair); empty when clean.
    pub problems: Vec<Problem>,
    /// Live entries counted.
    pub entries: u64,
    /// What was repaired.
    pub repaired: Vec<String>,
    /// Shards not checked because a live process held their lock for longer than
    /// [`MAINTENANCE_LOCK_WAIT`] (their entries are not counted).
    pub busy: Vec<String>,
}

impl MapReport {
    /// True when every shard was checked and no problems were found.
    pub fn is_clean(&self) -> bool {
        self.problems.is_empty() && self.busy.is_empty()
    }
}

/// Counts and sizes of a map ([`super::HashMap::stats`]).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MapStats {
    /// Live entries.
    pub entries: u64,
    /// Shards.
    pub shards: u32,
    /// Buckets of the current tables of all shards.
    pub buckets: u64,
    /// `entries / buckets`.
    pub load_factor: f64,
    /// Bytes of store memory the map uses: root, tables, records (payload sizes).
    pub bytes_used: u64,
    /// Resizes started over the map's life.
    pub resizes: u64,
    /// Those of `resizes` whose new table was smaller than the old one (shrinks after
    /// removals, or a resize that dropped many tombstones).
    pub shrinks: u64,
    /// Keys that have a stable handle ([`super::KeyHandle`]).
    pub handles: u64,
    /// Bytes of the shards' handle-cell tables (counted in `bytes_used`).
    pub handle_bytes: u64,
    /// Shards migrating to a new table right now.
    pub resizing_shards: u32,
    /// Bytes of the bucket tables (current and, while migrating, old; headers included):
    /// the part of `bytes_used` that shrinking gives back.
    pub table_bytes: u64,
    /// A fixed-size map: bytes of its record slabs (slab blocks and chunks, free records
    /// included), counted in `bytes_used` instead of the records' own sizes; 0 otherwise.
    pub slab_bytes: u64,
    /// `bytes_used / entries` (0 when empty): what one entry costs, its share of the
    /// tables, slabs and handle cells included. (In a map of any sizes, records count
    /// their payload sizes, not the allocator's rounding of them.)
    pub bytes_per_entry: f64,
}

/// Record blocks seen so far in a check, by the shard that referenced them.
#[derive(Default)]
struct SeenRecords {
    owner: std::collections::HashMap<u64, u64>,
    across_shards: Vec<CrossShard>,
}

/// A block seen in two shards (to be confirmed: see `confirm_shared_records`).
struct CrossShard {
    rec: u64,
    first_shard: u64,
    shard: u64,
    offset: u64,
}

impl SeenRecords {
    /// Notes that shard `shard` references `rec` (at `offset`); a problem if it already did,
    /// a suspect to confirm if another shard did.
    fn see(&mut self, rec: u64, shard: u64, offset: u64) -> Option<String> {
        use std::collections::hash_map::Entry;
        match self.owner.entry(rec) {
            Entry::Vacant(v) => {
                v.insert(shard);
                None
            }
            Entry::Occupied(o) if *o.get() == shard => {
                Some(format!("record {rec} used by two slots"))
            }
            Entry::Occupied(o) => {
                self.across_shards.push(CrossShard {
                    rec,
                    first_shard: *o.get(),
                    shard,
                    offset,
                });
                None
            }
        }
    }
}

/// Live-slot facts gathered while walking a shard.
#[derive(Default)]
struct Tally {
    len: u64,
    used: u64,
    bytes: u64,
}

impl MapInner {
    /// The record at `rec` if it is a valid record for a slot tagged `tag`: an allocated
    /// block inside the store that holds it, its key hashing to `tag`, its value matching its
    /// checksum. Returns `(key, val_len, hash)`.
    fn checked_record(
        &self,
        shard: &ShardHeader,
        rec: u64,
        tag: u64,
    ) -> Result<(Vec<u8>, u64, u64), String> {
        if rec == 0 || rec % 8 != 0 {
            return Err(format!("record offset {rec}"));
        }
        let key = self.read_key(rec).map_err(|e| e.to_string())?;
        let view = self.record_view(rec).map_err(|e| e.to_string())?;
        let val_len = view.val_len;
        if self.fixed.is_some() {
            // A fixed record is a carved record of the shard's own slab.
            let slab = self.slab(shard).map_err(|e| e.to_string())?;
            if self.slab_place(&slab, rec).is_none() {
                return Err(format!("record {rec} is not a record of the shard's slab"));
            }
        } else {
            let len = record_len(key.len() as u64, 0)
                .checked_add(val_len)
                .ok_or_else(|| format!("value length {val_len}"))?;
            let block: &BlockHeader = self
                .region()
                .get(rec.saturating_sub(BLOCK_HEADER_LEN))
                .map_err(|e| e.to_string())?;
            if block.tag.load(Ordering::Acquire) != TAG_USED {
                return Err(format!("record {rec} is not an allocated block"));
            }
            match self.store.block_capacity(rec) {
                Ok(cap) if cap >= len => {}
                Ok(cap) => return Err(format!("record of {len} bytes in a block of {cap}")),
                Err(e) => return Err(e.to_string()),
            }
        }
        let hash = self.hash(&key);
        if !tag_matches(tag, hash) {
            return Err("key does not hash to its slot's tag".into());
        }
        // Hashed in chunks straight from the mapping: no copy of a value of any size.
        let sealed = streamed_checksum(self.region(), hash, view.value_at, val_len)
            .map_err(|e| e.to_string())?;
        if sealed != view.checksum {
            return Err(format!(
                "record {rec}: checksum mismatch (the value was damaged)"
            ));
        }
        Ok((key, val_len, hash))
    }

    /// [`MapInner::checked_record`] for a live slot; for a key with a handle also its cell,
    /// which must be live, hold the key's hash and the slot's record (with `fix`, a cell left
    /// holding the previous record by a writer killed between its two stores is given the
    /// slot's). Returns the key, value length and the key's hash.
    fn checked_slot(
        &self,
        shard: &ShardHeader,
        rec: u64,
        tag: u64,
        fix: bool,
    ) -> Result<(Vec<u8>, u64, u64), String> {
        let (key, val_len, hash) = self.checked_record(shard, rec, tag)?;
        if let Some(index) = tag_cell(tag) {
            let cell = self.live_cell(shard, index).map_err(|e| e.to_string())?;
            if cell.hash.load(Ordering::Relaxed) != hash {
                return Err(format!("handle cell {index} holds another key's hash"));
            }
            let in_cell = cell.rec.load(Ordering::Relaxed);
            if in_cell != rec {
                if !fix {
                    return Err(format!(
                        "handle cell {index} names record {in_cell}, its slot {rec}"
                    ));
                }
                cell.rec.store(rec, Ordering::Release);
            }
        }
        Ok((key, val_len, hash))
    }

    /// After an `incr_*` was interrupted between its value and checksum stores: recomputes
    /// the checksum of the counter record at `rec`, if that is the live record of its key in
    /// `shard` (the caller holds the lock). O(1): one key lookup.
    fn reseal_counter(&self, shard: &ShardHeader, rec: u64) -> Result<(), String> {
        let key = self.read_key(rec).map_err(|e| e.to_string())?;
        let hash = self.hash(&key);
        let hit = match self.find(shard, hash, &key, None) {
            Ok(Some(hit)) if hit.rec == rec && hit.val_len == 8 => hit,
            Ok(_) => return Err(format!("{rec} is not a live counter of this shard")),
            Err(e) => return Err(e.to_string()),
        };
        let mut value = [0u8; 8];
        self.region()
            .read_bytes(hit.value_offset(), &mut value)
            .map_err(|e| e.to_string())?;
        self.checksum_word(rec)
            .map_err(|e| e.to_string())?
            .store(record_checksum(hash, &value), Ordering::Release);
        Ok(())
    }

    /// Repairs what a dead writer left in `shard` (the caller holds its lock), then forces
    /// the sequence even. Notes what it changed.
    pub(crate) fn repair_shard(
        &self,
        shard: &ShardHeader,
        notes: &mut Vec<String>,
    ) -> Result<(), MapError> {
        let left_odd = shard.seq.is_writing();
        shard.seq.write_begin();
        let result = self.repair_shard_inner(shard, left_odd, notes);
        shard.seq.force_even();
        result
    }

    fn repair_shard_inner(
        &self,
        shard: &ShardHeader,
        left_odd: bool,
        notes: &mut Vec<String>,
    ) -> Result<(), MapError> {
        // First, before any record is judged by its checksum: a counter update cut short.
        // (Its lookup probes before the control bytes are rewritten below; that is sound
        // because an intent is acted on only when the sequence was left odd, i.e. the writer
        // died inside `incr`'s own window, which changes no tag, so no byte is stale.)
        let intent = shard.counter_intent.load(Ordering::Acquire);
        if intent != 0 {
            if !left_odd {
                notes.push(format!(
                    "cleared a counter intent ({intent}) no writer left in flight"
                ));
            } else {
                match self.reseal_counter(shard, intent) {
                    Ok(()) => notes.push(format!(
                        "resealed the counter at {intent} (its update was interrupted)"
                    )),
                    Err(why) => notes.push(format!("ignored a counter intent: {why}")),
                }
            }
            shard.counter_intent.store(0, Ordering::Release);
        }
        if self.fixed.is_some() {
            // The slots are judged against the slab: it must be usable first.
            self.repair_slab_chunks(shard, notes)?;
        }
        let current_offset = shard.table.load(Ordering::Acquire);
        let current = self.table_checked(current_offset)?;
        let mut old_offset = shard.old_table.load(Ordering::Acquire);
        if old_offset == current_offset {
            shard.old_table.store(0, Ordering::Release);
            old_offset = 0;
            notes.push("undid a half-published resize".into());
        }
        let old = if old_offset != 0 {
            Some(self.table_checked(old_offset)?)
        } else {
            None
        };
        if self.fixed.is_some() {
            // A record past `carved` is not the slab's: the count first, then the slots.
            let mut named = std::iter::once(&current)
                .chain(old.as_ref())
                .flat_map(|t| t.slots())
                .filter(|s| is_live(s.tag.load(Ordering::Relaxed)))
                .map(|s| s.rec.load(Ordering::Relaxed));
            self.repair_slab_carved(shard, &mut named, notes)?;
        }
        let mut fixed = 0u64;
        let mut dropped = Vec::new();
        for table in std::iter::once(&current).chain(old.as_ref()) {
            for (i, slot) in table.slots().enumerate() {
                let tag = slot.tag.load(Ordering::Relaxed);
                let rec = slot.rec.load(Ordering::Relaxed);
                if is_live(tag) && rec == 0 {
                    slot.tag.store(TOMBSTONE, Ordering::Release);
                    fixed += 1;
                } else if !is_live(tag) && (rec != 0 || tag > TOMBSTONE) {
                    // Never produced by a writer: a damaged slot. Make it a plain tombstone.
                    slot.rec.store(0, Ordering::Release);
                    if tag != EMPTY {
                        slot.tag.store(TOMBSTONE, Ordering::Release);
                    }
                    fixed += 1;
                } else if is_live(tag)
                    && let Err(why) = self.checked_slot(shard, rec, tag, true)
                {
                    slot.rec.store(0, Ordering::Release);
                    slot.tag.store(TOMBSTONE, Ordering::Release);
                    dropped.push(format!("slot {}: {why}", table.slot_offset(i as u64)));
                }
            }
        }
        if fixed > 0 {
            notes.push(format!("dropped {fixed} half-written slots"));
        }
        // Control bytes are derived from the tags: rewritten from them before anything
        // probes (a writer killed between a slot's tag and its control byte leaves them
        // apart, and the search for entries left behind by a move probes the new table).
        let ctrl_fixed = std::iter::once(&current)
            .chain(old.as_ref())
            .map(rewrite_ctrl)
            .sum::<u64>();
        if ctrl_fixed > 0 {
            notes.push(format!("rewrote {ctrl_fixed} control bytes"));
        }
        notes.extend(
            dropped
                .into_iter()
                .map(|d| format!("dropped an invalid entry at {d}")),
        );
        if let Some(old) = &old {
            // Entries both moved and still in the old table; and where migration resumes.
            let mut dups = 0u64;
            let mut first_live = old.buckets();
            for (i, slot) in old.slots().enumerate() {
                let tag = slot.tag.load(Ordering::Relaxed);
                if !is_live(tag) {
                    continue;
                }
                let rec = slot.rec.load(Ordering::Relaxed);
                let key = self.read_key(rec)?;
                if let Some(hit) = self.probe(&current, tag, &key, None)? {
                    if hit.rec != rec {
                        notes.push(format!(
                            "two records for one key; kept the newer at {}",
                            hit.rec
                        ));
                    }
                    slot.rec.store(0, Ordering::Release);
                    slot.tag.store(TOMBSTONE, Ordering::Release);
                    dups += 1;
                } else {
                    first_live = first_live.min(i as u64);
                }
            }
            if dups > 0 {
                notes.push(format!(
                    "dropped {dups} entries left behind by an interrupted move"
                ));
            }
            let cursor = shard.migrate_cursor.load(Ordering::Relaxed);
            if cursor > first_live {
                shard.migrate_cursor.store(first_live, Ordering::Relaxed);
                notes.push(format!("moved the migration cursor back to {first_live}"));
            }
            if first_live == old.buckets() {
                shard.old_table.store(0, Ordering::Release);
                // Timed: repair runs under maintenance too, which must not hang behind a
                // live holder of the class lock. A block left behind is a leak for the sweep.
                if self
                    .store
                    .free_within(old.offset, MAINTENANCE_LOCK_WAIT)
                    .is_err()
                {
                    notes.push("left the old table's block to the leaked-block sweep".into());
                }
                notes.push("finished an interrupted migration".into());
            }
        }
        let old = match shard.old_table.load(Ordering::Acquire) {
            0 => None,
            offset => Some(self.table_checked(offset)?),
        };
        // Cells: each named by one live slot at most (a second slot naming one is damage and
        // is dropped), then the cells no slot names are freed.
        let mut cells = HashSet::new();
        let mut twice = 0u64;
        for slot in std::iter::once(&current)
            .chain(old.as_ref())
            .flat_map(|t| t.slots())
        {
            if let Some(index) = tag_cell(slot.tag.load(Ordering::Relaxed))
                && !cells.insert(index)
            {
                slot.rec.store(0, Ordering::Release);
                slot.tag.store(TOMBSTONE, Ordering::Release);
                twice += 1;
            }
        }
        if twice > 0 {
            notes.push(format!(
                "dropped {twice} slots naming a handle cell already named"
            ));
        }
        self.repair_cells(shard, &cells, notes)?;
        // The slots dropped since the first pass: their control bytes too.
        let refixed = rewrite_ctrl(&current) + old.as_ref().map_or(0, rewrite_ctrl);
        if refixed > 0 {
            notes.push(format!("rewrote {refixed} control bytes of dropped slots"));
        }
        let live: HashSet<u64> = std::iter::once(&current)
            .chain(old.as_ref())
            .flat_map(|t| t.slots())
            .filter(|s| is_live(s.tag.load(Ordering::Relaxed)))
            .map(|s| s.rec.load(Ordering::Relaxed))
            .collect();
        self.repair_spares(shard, &live, notes);
        if self.fixed.is_some() {
            self.repair_slab_free_list(shard, &live, notes)?;
        }
        let tally = tally(&current, old.as_ref(), self);
        for (field, value, name) in [
            (&shard.len, tally.len, "len"),
            (&shard.used, tally.used, "used"),
            (&shard.bytes, tally.bytes, "bytes"),
        ] {
            if field.load(Ordering::Relaxed) != value {
                field.store(value, Ordering::Relaxed);
                notes.push(format!("recounted {name}"));
            }
        }
        Ok(())
    }

    /// Checks one shard (lock held, already recovered). Returns its live entries.
    fn check_shard(
        &self,
        index: u64,
        shard: &ShardHeader,
        records: &mut SeenRecords,
        problems: &mut Vec<Problem>,
    ) -> Result<u64, MapError> {
        let at = self.shards_offset + index * SHARD_STRIDE;
        let mut problem = |offset: u64, what: String| problems.push(Problem { offset, what });
        if shard.seq.is_writing() {
            problem(at, format!("shard {index}: sequence left odd"));
        }
        let intent = shard.counter_intent.load(Ordering::Relaxed);
        if intent != 0 {
            problem(
                at,
                format!("shard {index}: counter intent {intent} left set"),
            );
        }
        let current = match self.table_checked(shard.table.load(Ordering::Acquire)) {
            Ok(t) => t,
            Err(e) => {
                problem(at, format!("shard {index}: current table: {e}"));
                return Ok(0);
            }
        };
        let old_offset = shard.old_table.load(Ordering::Acquire);
        let old = match old_offset {
            0 => None,
            o if o == current.offset => {
                problem(at, format!("shard {index}: old table is the current table"));
                None
            }
            o => match self.table_checked(o) {
                Ok(t) => Some(t),
                Err(e) => {
                    problem(at, format!("shard {index}: old table: {e}"));
                    None
                }
            },
        };
        let cursor = shard.migrate_cursor.load(Ordering::Relaxed);
        let mut keys: HashSet<Vec<u8>> = HashSet::new();
        let mut cells: HashSet<u64> = HashSet::new();
        let mut live: HashSet<u64> = HashSet::new();
        let mut tally = Tally::default();
        for (is_old, table) in [(false, Some(&current)), (true, old.as_ref())] {
            let Some(table) = table else { continue };
            let mut empties_seen = 0u64;
            for (i, slot) in table.slots().enumerate() {
                let i = i as u64;
                let offset = table.slot_offset(i);
                let tag = slot.tag.load(Ordering::Relaxed);
                let rec = slot.rec.load(Ordering::Relaxed);
                if tag == EMPTY {
                    empties_seen += 1;
                }
                let ctrl = table.ctrl_byte(i);
                if ctrl != ctrl_for_tag(tag) {
                    problem(offset, format!("control byte {ctrl:#x} for tag {tag:#x}"));
                }
                if !is_live(tag) {
                    if !is_old && tag != EMPTY {
                        tally.used += 1;
                    }
                    if rec != 0 {
                        problem(offset, format!("dead slot (tag {tag}) with record {rec}"));
                    }
                    if tag != EMPTY && tag != TOMBSTONE {
                        problem(offset, format!("slot tag {tag:#x}"));
                    }
                    continue;
                }
                if !is_old {
                    tally.used += 1;
                }
                live.insert(rec);
                if is_old && i < cursor {
                    problem(offset, "live entry behind the migration cursor".into());
                }
                if let Some(cell) = tag_cell(tag)
                    && !cells.insert(cell)
                {
                    problem(offset, format!("handle cell {cell} named by two slots"));
                }
                let (key, val_len, hash) = match self.checked_slot(shard, rec, tag, false) {
                    Ok(r) => r,
                    Err(why) => {
                        problem(offset, why);
                        continue;
                    }
                };
                // The shard from the key's hash, never from the tag: the shard index may
                // take hash bits 62 and 63 (2^15 shards and more), which no tag keeps (bit
                // 63 is the live bit, bit 62 marks handled tags), and a handled tag keeps
                // only the low 39 bits.
                if self.shard_index(hash) != index {
                    problem(offset, "entry in the wrong shard".into());
                }
                // Reachable: no empty slot between the key's home and its position.
                let home = tag & table.mask;
                let mut j = home;
                while j != i {
                    if table.slot(j).tag.load(Ordering::Relaxed) == EMPTY {
                        problem(offset, "entry unreachable (empty slot before it)".into());
                        break;
                    }
                    j = (j + 1) & table.mask;
                }
                tally.len += 1;
                tally.bytes = tally
                    .bytes
                    .saturating_add(self.record_bytes(key.len() as u64, val_len));
                if let Some(why) = records.see(rec, index, offset) {
                    problem(offset, why);
                }
                if !keys.insert(key) {
                    problem(offset, "duplicate key".into());
                }
            }
            if empties_seen == 0 {
                problem(table.offset, "table has no empty slot".into());
            }
        }
        self.check_cells(shard, &cells, &mut problem);
        if self.fixed.is_some() {
            self.check_slab(shard, &live, &mut problem);
        }
        let (spares, intact) = self.spare_blocks(shard);
        if !intact {
            problem(at, format!("shard {index}: damaged spare-record list"));
        }
        for &block in &spares {
            if records.see(block, index, at).is_some() {
                problem(
                    block,
                    format!("shard {index}: spare record block also in use"),
                );
            }
        }
        let spare_count = shard.spare_count.load(Ordering::Relaxed);
        if spare_count != spares.len() as u64 {
            problem(
                at,
                format!(
                    "shard {index}: spare_count is {spare_count}, counted {}",
                    spares.len()
                ),
            );
        }
        for (field, value, name) in [
            (&shard.len, tally.len, "len"),
            (&shard.used, tally.used, "used"),
            (&shard.bytes, tally.bytes, "bytes"),
        ] {
            let stored = field.load(Ordering::Relaxed);
            if stored != value {
                problem(
                    at,
                    format!("shard {index}: {name} is {stored}, counted {value}"),
                );
            }
        }
        Ok(tally.len)
    }

    pub(crate) fn verify(&self, repair: bool) -> Result<MapReport, MapError> {
        let mut report = MapReport::default();
        let mut records = SeenRecords::default();
        for index in 0..=self.shard_mask {
            let shard = self.shard_at(index)?;
            let mut guard = match self.store.lock_timeout(&shard.lock, MAINTENANCE_LOCK_WAIT) {
                Ok(guard) => guard,
                Err(LockError::Timeout(_)) => {
                    report
                        .busy
                        .push(format!("shard {index} is locked by a live process"));
                    continue;
                }
                Err(e) => return Err(e.into()),
            };
            let mut notes = Vec::new();
            if guard.recovered() {
                notes.push("recovered from a writer that died holding the lock".into());
            }
            if repair || guard.recovered() || shard.seq.is_writing() {
                self.repair_shard(shard, &mut notes)?;
                guard.mark_consistent();
            }
            report
                .repaired
                .extend(notes.into_iter().map(|n| format!("shard {index}: {n}")));
            report.entries += self.check_shard(index, shard, &mut records, &mut report.problems)?;
        }
        self.confirm_shared_records(&records.across_shards, &mut report)?;
        Ok(report)
    }

    /// A block seen in two shards, each checked at its own moment, may have been freed by
    /// the first and reused by the second in between (writers run while other shards are
    /// checked). It is damage only if both shards still reference it with both locks held.
    fn confirm_shared_records(
        &self,
        suspects: &[CrossShard],
        report: &mut MapReport,
    ) -> Result<(), MapError> {
        for s in suspects {
            let (a, b) = (s.first_shard.min(s.shard), s.first_shard.max(s.shard));
            let (sa, sb) = (self.shard_at(a)?, self.shard_at(b)?);
            let ga = self.store.lock_timeout(&sa.lock, MAINTENANCE_LOCK_WAIT);
            let gb = self.store.lock_timeout(&sb.lock, MAINTENANCE_LOCK_WAIT);
            match (ga, gb) {
                (Ok(ga), Ok(gb)) => {
                    // A shard whose writer died since the walk is repaired by its next
                    // writer or the next check; its half-done state proves nothing here.
                    let settled = |g: &crate::sync::MutexGuard<'_>, sh: &ShardHeader| {
                        !g.recovered() && !sh.seq.is_writing()
                    };
                    if settled(&ga, sa)
                        && settled(&gb, sb)
                        && self.shard_references(sa, s.rec)
                        && self.shard_references(sb, s.rec)
                    {
                        report.problems.push(Problem {
                            offset: s.offset,
                            what: format!("record {} used by shards {a} and {b}", s.rec),
                        });
                    }
                }
                (Err(LockError::Timeout(_)), _) | (_, Err(LockError::Timeout(_))) => {
                    report.busy.push(format!(
                        "shards {a} and {b} (to confirm a record seen in both) are locked by a live process"
                    ));
                }
                (Err(e), _) | (_, Err(e)) => return Err(e.into()),
            }
        }
        Ok(())
    }

    /// True if `shard` (lock held) references `block` from a live slot or its spare list.
    fn shard_references(&self, shard: &ShardHeader, block: u64) -> bool {
        let in_table = |offset: u64| {
            offset != 0
                && self.table(offset).is_ok_and(|t| {
                    t.slots().any(|slot| {
                        is_live(slot.tag.load(Ordering::Relaxed))
                            && slot.rec.load(Ordering::Relaxed) == block
                    })
                })
        };
        in_table(shard.table.load(Ordering::Acquire))
            || in_table(shard.old_table.load(Ordering::Acquire))
            || self.spare_blocks(shard).0.contains(&block)
    }

    pub(crate) fn owned_blocks(&self, f: &mut dyn FnMut(u64)) -> Result<(), MapError> {
        f(self.root);
        for index in 0..=self.shard_mask {
            let shard = self.shard_at(index)?;
            let _guard = self.lock_shard_within(shard, MAINTENANCE_LOCK_WAIT)?;
            for block in self.spare_blocks(shard).0 {
                f(block);
            }
            let cells = shard.cells.load(Ordering::Acquire);
            if cells != 0 {
                f(cells);
            }
            // A fixed-size map's records are not blocks: its slab and chunks are.
            self.slab_blocks(shard, f);
            let records_are_blocks = self.fixed.is_none();
            for offset in [
                shard.table.load(Ordering::Acquire),
                shard.old_table.load(Ordering::Acquire),
            ] {
                if offset == 0 {
                    continue;
                }
                f(offset);
                for slot in self.table(offset)?.slots() {
                    let rec = slot.rec.load(Ordering::Relaxed);
                    if records_are_blocks && is_live(slot.tag.load(Ordering::Relaxed)) && rec != 0 {
                        f(rec);
                    }
                }
            }
        }
        Ok(())
    }

    pub(crate) fn stats(&self) -> Result<MapStats, MapError> {
        let mut stats = MapStats {
            shards: self.shard_count(),
            ..MapStats::default()
        };
        stats.bytes_used = ROOT_LEN + SHARD_STRIDE * (self.shard_mask + 2);
        for index in 0..=self.shard_mask {
            let shard = self.shard_at(index)?;
            // Saturating: shared counters a damaged store may hold anything in (verify says
            // which are wrong; stats must not panic while showing them).
            let add = |total: &mut u64, counter: &crate::sync::atomic::AtomicU64| {
                *total = total.saturating_add(counter.load(Ordering::Relaxed));
            };
            add(&mut stats.entries, &shard.len);
            if self.fixed.is_some() {
                stats.slab_bytes = stats.slab_bytes.saturating_add(self.slab_bytes(shard));
            } else {
                add(&mut stats.bytes_used, &shard.bytes);
            }
            add(&mut stats.resizes, &shard.resizes);
            add(&mut stats.shrinks, &shard.shrinks);
            let (handles, handle_bytes) = self.cell_counts(shard);
            stats.handles = stats.handles.saturating_add(handles);
            stats.handle_bytes = stats.handle_bytes.saturating_add(handle_bytes);
            // Racy: a table may be replaced while we look; the header check keeps it harmless.
            if let Ok(t) = self.table(shard.table.load(Ordering::Acquire)) {
                stats.buckets = stats.buckets.saturating_add(t.buckets());
                stats.table_bytes = stats
                    .table_bytes
                    .saturating_add(table_len(t.buckets()).unwrap_or(u64::MAX));
            }
            let old = shard.old_table.load(Ordering::Acquire);
            if old != 0 {
                stats.resizing_shards += 1;
                if let Ok(t) = self.table(old) {
                    stats.table_bytes = stats
                        .table_bytes
                        .saturating_add(table_len(t.buckets()).unwrap_or(u64::MAX));
                }
            }
        }
        stats.bytes_used = stats
            .bytes_used
            .saturating_add(stats.table_bytes)
            .saturating_add(stats.handle_bytes)
            .saturating_add(stats.slab_bytes);
        if stats.buckets > 0 {
            stats.load_factor = stats.entries as f64 / stats.buckets as f64;
        }
        if stats.entries > 0 {
            stats.bytes_per_entry = stats.bytes_used as f64 / stats.entries as f64;
        }
        Ok(stats)
    }
}

/// Rewrites every control byte of `table` that does not match its slot's tag; returns how
/// many did not (lock held, sequence odd).
fn rewrite_ctrl(table: &TableView<'_>) -> u64 {
    let mut fixed = 0;
    for (i, slot) in table.slots().enumerate() {
        let want = ctrl_for_tag(slot.tag.load(Ordering::Relaxed));
        if table.ctrl_byte(i as u64) != want {
            table.set_ctrl(i as u64, want);
            fixed += 1;
        }
    }
    fixed
}

/// Recounts a shard's live entries, non-empty current slots, and record bytes.
fn tally(current: &TableView<'_>, old: Option<&TableView<'_>>, map: &MapInner) -> Tally {
    let mut t = Tally::default();
    for (is_old, table) in [(false, Some(current)), (true, old)] {
        let Some(table) = table else { continue };
        for slot in table.slots() {
            let tag = slot.tag.load(Ordering::Relaxed);
            if !is_old && tag != EMPTY {
                t.used += 1;
            }
            if is_live(tag) {
                t.len += 1;
                let rec = slot.rec.load(Ordering::Relaxed);
                if let Ok(view) = map.record_view(rec) {
                    t.bytes = t
                        .bytes
                        .saturating_add(map.record_bytes(view.key_len, view.val_len));
                }
            }
        }
    }
    t
}

const _: () = assert!(RECORD_HEADER_LEN == 16);

/// [`record_checksum`] of the `len` value bytes at `offset`, read in chunks (the same
/// digest as the one-shot hash of the whole value).
fn streamed_checksum(
    region: &crate::raw::Region,
    key_hash: u64,
    offset: u64,
    len: u64,
) -> Result<u32, crate::raw::OutOfBounds> {
    const CHUNK: u64 = 16 * 1024;
    let mut hasher = xxhash_rust::xxh3::Xxh3::with_seed(key_hash);
    let mut buf = [0u8; CHUNK as usize];
    let mut done = 0;
    while done < len {
        let n = (len - done).min(CHUNK);
        let chunk = &mut buf[..n as usize];
        region.read_bytes(offset + done, chunk)?;
        hasher.update(chunk);
        done += n;
    }
    Ok(hasher.digest() as u32)
}
