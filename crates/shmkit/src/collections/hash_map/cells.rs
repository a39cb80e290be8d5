//! Stable key handles: a key given a handle keeps its record offset (and a copy of a short
//! value) in a **cell** of its shard's cell table too, and its slot's tag names the cell
//! (`layout::handled_tag`); the slot keeps the record as well, so reads by key never touch
//! the cell.
//!
//! A [`KeyHandle`] is 64 bits: the cell's generation (high 32) and, in the low 32, the cell's
//! index in its shard shifted past the shard bits, or'ed with the shard's index. Reading by
//! handle goes straight to the shard, the cell and the record: no hashing, no probing. The
//! handle stays valid while its key exists: growth and shrinking move slots, never cells; an
//! overwrite stores the new record into the cell.
//!
//! Invariants:
//! - a live cell is named by exactly one live slot of its shard, and holds that key's record
//!   and hash; a cell is freed only together with its key (removal, `clear`, or a repair that
//!   finds it named by no slot), and **the store that frees it also changes its generation**
//!   (one atomic store of `state`), so a handle of an earlier generation never reads the
//!   cell's next key: it reads "no such key";
//! - generations start at a value mixed from the store's seed, the map's root, the shard,
//!   the cell and the shard's `cell_epoch` (so a handle of another map is very unlikely to
//!   name a live cell of this one: about 2^-31 per try) and only grow; a cell whose
//!   generation would wrap is retired for good. Every repair of the shard moves the epoch
//!   on: damage can lose a cell's generation (a table the repair must drop, a `high_water`
//!   made smaller), and the cells it hid then start from new values, not the ones their
//!   earlier handles had;
//! - every change happens under the shard lock with the shard's sequence odd, so readers
//!   validate a cell exactly as they validate a slot; a cell table is replaced (when full) by
//!   a larger copy published with one store, the old block freed after the lock is released;
//! - a writer killed at any instruction leaves at worst a live cell no slot names, or a free
//!   cell missing from the free list, or a cell table nothing publishes (a leaked block);
//!   the shard's repair frees the first, rebuilds the list, and the store's leak sweep takes
//!   the block.
//!
//! ```
//! use shmkit::{Store, StoreOptions};
//! let name = format!("doc-map-handles-{}", std::process::id()); // unique to this process
//! let store = Store::create(&name, &StoreOptions::default()).unwrap();
//! let map = store.hash_map("m").unwrap();
//! let h = map.set_with_handle(b"user:1", b"ada").unwrap();
//! assert_eq!(map.get_by_handle(h).unwrap().as_deref(), Some(&b"ada"[..]));
//! map.set(b"user:1", b"ada lovelace").unwrap(); // overwrites keep the handle
//! assert_eq!(map.get_by_handle(h).unwrap().as_deref(), Some(&b"ada lovelace"[..]));
//! assert_eq!(map.handle(b"user:1").unwrap(), Some(h));
//! assert!(map.remove_by_handle(h).unwrap());
//! map.set(b"user:1", b"back").unwrap();
//! assert_eq!(map.get_by_handle(h).unwrap(), None); // a stale handle never finds the new key
//! Store::remove(&name).unwrap();
//! ```

use super::layout::{
    CELL_COPY_MAX, CELL_FREE, CELL_LEN, CELL_LIVE, CELL_MAGIC, CELL_RETIRED, COPY_VALID, Cell,
    CellTableHeader, MIN_CELLS, ShardHeader, cell_state, cell_table_len, first_cell, handled_tag,
};
use super::lookup::{Hit, Watch, checked_copy, copy_value};
use super::write::{PutMode, Writer};
use super::{Fault, MapError, MapInner};
use crate::sync::atomic::Ordering;
use std::collections::HashSet;

/// A stable handle to a key of a hash map (see the module docs). Any 64-bit value may be
/// turned into one: a handle that names no live key of the map reads as "no such key".
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyHandle(u64);

impl KeyHandle {
    /// The handle with these 64 bits (as [`KeyHandle::to_raw`] gave them).
    pub const fn from_raw(raw: u64) -> KeyHandle {
        KeyHandle(raw)
    }

    /// The handle's 64 bits (never 0 for a handle the map gave out).
    pub const fn to_raw(self) -> u64 {
        self.0
    }
}

/// A shard's cell table, bounds-checked once.
pub(crate) struct CellTable<'a> {
    pub(crate) offset: u64,
    pub(crate) header: &'a CellTableHeader,
    /// The cells in use so far (`0..high_water`).
    pub(crate) cells: &'a [Cell],
    pub(crate) capacity: u64,
}

/// Where a handle points: shard, cell index, generation.
#[derive(Clone, Copy, Debug)]
struct Decoded {
    shard: u64,
    index: u64,
    generation: u32,
}

/// A cell's state as read: its generation and what it holds.
#[inline]
fn split_state(state: u64) -> (u32, u64) {
    ((state >> 32) as u32, state & 0xFFFF_FFFF)
}

impl MapInner {
    fn shard_bits(&self) -> u32 {
        self.shard_mask.count_ones()
    }

    /// The index of `shard`, a header of this map.
    fn shard_index_of(&self, shard: &ShardHeader) -> u64 {
        let first = self
            .shard_at(0)
            .map_or(0, |s| s as *const ShardHeader as usize);
        let at = (shard as *const ShardHeader as usize).wrapping_sub(first) as u64;
        (at / super::layout::SHARD_STRIDE) & self.shard_mask
    }

    /// Most cells one shard can have (the cell index and the shard share 32 bits).
    pub(crate) fn max_cells(&self) -> u64 {
        (1u64 << (32 - self.shard_bits())).min(super::layout::MAX_SHARD_CELLS)
    }

    fn encode_handle(&self, shard: u64, index: u64, generation: u32) -> KeyHandle {
        let id = (index << self.shard_bits()) | shard;
        KeyHandle(((generation as u64) << 32) | id)
    }

    fn decode_handle(&self, handle: KeyHandle) -> Decoded {
        let id = handle.0 & 0xFFFF_FFFF;
        Decoded {
            shard: id & self.shard_mask,
            index: id >> self.shard_bits(),
            generation: (handle.0 >> 32) as u32,
        }
    }

    /// The first generation of cell `index` of shard `shard` (at `header`): odd, below 2^31,
    /// mixed from the store's seed and the map's root so that maps do not share handle
    /// values, and from the shard's cell epoch so that a repair starts cells over afresh.
    fn first_generation(&self, header: &ShardHeader, shard: u64, index: u64) -> u32 {
        let epoch = header.cell_epoch.load(Ordering::Relaxed);
        let mut words = [0u8; 40];
        for (i, w) in [self.seed, self.root, shard, index, epoch]
            .iter()
            .enumerate()
        {
            words[i * 8..i * 8 + 8].copy_from_slice(&w.to_le_bytes());
        }
        ((xxhash_rust::xxh3::xxh3_64(&words) >> 33) as u32) | 1
    }

    /// The cell table at `offset`, after checking its header.
    pub(crate) fn cell_table(&self, offset: u64) -> Result<CellTable<'_>, Fault> {
        self.cell_table_of(offset, true)
    }

    /// [`MapInner::cell_table`]; `inside_block` also checks that the cells lie inside the
    /// table's own allocator block (every path that may write the cells does; a read by
    /// handle, which writes nothing and is validated, does not).
    fn cell_table_of(&self, offset: u64, inside_block: bool) -> Result<CellTable<'_>, Fault> {
        let region = self.region();
        let header: &CellTableHeader = region.get(offset)?;
        let capacity = header.capacity.load(Ordering::Relaxed);
        let high_water = header.high_water.load(Ordering::Relaxed);
        if header.magic.load(Ordering::Relaxed) != CELL_MAGIC
            || high_water > capacity
            || capacity > self.max_cells()
        {
            return Err(Fault {
                offset,
                reason: "not a handle-cell table",
            });
        }
        // The cells must lie inside the table's own block (a damaged `capacity` or
        // `high_water` must not make cells of another object's memory, which a writer or a
        // repair would then write).
        let block_end = || {
            self.store
                .block_capacity(offset)
                .map_or(0, |c| offset.saturating_add(c))
        };
        if inside_block
            && first_cell(offset).saturating_add(capacity.saturating_mul(CELL_LEN)) > block_end()
        {
            return Err(Fault {
                offset,
                reason: "handle-cell table runs past its block",
            });
        }
        let cells = region.get_slice::<Cell>(first_cell(offset), high_water)?;
        Ok(CellTable {
            offset,
            header,
            cells,
            capacity,
        })
    }

    /// The shard's cell table, if it has one.
    pub(crate) fn cells_of<'a>(
        &'a self,
        shard: &'a ShardHeader,
    ) -> Result<Option<CellTable<'a>>, Fault> {
        match shard.cells.load(Ordering::Acquire) {
            0 => Ok(None),
            offset => self.cell_table(offset).map(Some),
        }
    }

    /// The live cell `index` of `shard`, which a live slot names.
    #[inline]
    pub(crate) fn live_cell<'a>(
        &'a self,
        shard: &'a ShardHeader,
        index: u64,
    ) -> Result<&'a Cell, Fault> {
        let offset = shard.cells.load(Ordering::Acquire);
        let table = self.cell_table(offset)?;
        let cell = table.cells.get(index as usize).ok_or(Fault {
            offset,
            reason: "a slot names a cell past its table",
        })?;
        let (generation, what) = split_state(cell.state.load(Ordering::Acquire));
        if what != CELL_LIVE || generation == 0 {
            // (Generation 0 is never given out: a cell that has it is damaged.)
            return Err(Fault {
                offset,
                reason: "a slot names a handle cell that is not live",
            });
        }
        Ok(cell)
    }

    /// Finds the entry `handle` names, reading it as `find` reads a key.
    /// With `use_copy`, a cell that holds a copy of its value is all that is read (the hit
    /// then names the copy, and its `key_len` is 0: not read).
    fn find_by_handle<'a>(
        &'a self,
        shard: &'a ShardHeader,
        at: Decoded,
        use_copy: bool,
    ) -> Result<Option<Hit<'a>>, Fault> {
        let table = match shard.cells.load(Ordering::Acquire) {
            0 => return Ok(None),
            offset => self.cell_table_of(offset, false)?,
        };
        let Some(cell) = table.cells.get(at.index as usize) else {
            return Ok(None);
        };
        if cell.state.load(Ordering::Acquire) != cell_state(at.generation, CELL_LIVE) {
            return Ok(None);
        }
        let rec = cell.rec.load(Ordering::Acquire);
        let hash = cell.hash.load(Ordering::Relaxed);
        if use_copy {
            let meta = cell.next_free.load(Ordering::Acquire);
            if meta & COPY_VALID != 0 {
                return Ok(Some(Hit {
                    slot: None,
                    cell: Some(at.index),
                    copy: Some(cell),
                    index: at.index,
                    table: table.offset,
                    hash,
                    rec,
                    key_len: 0,
                    val_len: ((meta >> 32) & 0x7F).min(CELL_COPY_MAX),
                    value_at: 0,
                    checksum: meta as u32,
                }));
            }
        }
        let region = self.region();
        let view = self.record_view(rec)?;
        // Bounds any buffer sized from `val_len` (and the key's), as `probe` does.
        if region
            .check_range(view.key_at, view.key_len)
            .and_then(|()| region.check_range(view.value_at, view.val_len))
            .is_err()
        {
            return Err(Fault {
                offset: rec,
                reason: "record runs past the store",
            });
        }
        Ok(Some(Hit {
            slot: None,
            cell: Some(at.index),
            copy: None,
            index: at.index,
            table: table.offset,
            hash,
            rec,
            key_len: view.key_len,
            val_len: view.val_len,
            value_at: view.value_at,
            checksum: view.checksum,
        }))
    }

    /// The shard a handle names, if the map has it.
    fn handle_shard(&self, at: Decoded) -> Result<Option<&ShardHeader>, MapError> {
        if at.generation == 0 || at.index >= self.max_cells() {
            return Ok(None);
        }
        self.shard_at(at.shard).map(Some)
    }

    /// Copies the value of the key `handle` names into `buf`: false if it names none.
    pub(crate) fn get_by_handle_into(
        &self,
        handle: KeyHandle,
        buf: &mut Vec<u8>,
    ) -> Result<bool, MapError> {
        let at = self.decode_handle(handle);
        let Some(shard) = self.handle_shard(at)? else {
            buf.clear();
            return Ok(false);
        };
        let copied = self.read_located(
            shard,
            |_| self.find_by_handle(shard, at, true),
            |map, hit| copy_value(map, hit, buf),
        )?;
        Ok(checked_copy(copied, buf)?)
    }

    /// The key `handle` names, if any.
    pub(crate) fn key_by_handle(&self, handle: KeyHandle) -> Result<Option<Vec<u8>>, MapError> {
        let at = self.decode_handle(handle);
        let Some(shard) = self.handle_shard(at)? else {
            return Ok(None);
        };
        let mut key = Vec::new();
        let found = self.read_located(
            shard,
            |_| self.find_by_handle(shard, at, false),
            |map, hit| {
                let Some(hit) = hit else { return Ok(None) };
                key.resize(hit.key_len as usize, 0);
                map.region()
                    .read_bytes(map.record_view(hit.rec)?.key_at, &mut key)?;
                Ok(Some(hit.hash))
            },
        )?;
        match found {
            // A key that does not hash to its cell's hash is damage (or a torn copy, which
            // the validated read excludes).
            Some(hash) if self.hash(&key) != hash => Err(MapError::corrupt(
                0,
                "a handle cell's key does not hash to the cell's hash",
            )),
            Some(_) => Ok(Some(key)),
            None => Ok(None),
        }
    }

    /// The handle of `key`, giving it one if it has none yet; `None` if the key is absent.
    pub(crate) fn handle(&self, key: &[u8]) -> Result<Option<KeyHandle>, MapError> {
        let hash = self.hash(key);
        let shard = self.shard(hash)?;
        // A key that has a handle already: read it without the lock.
        let locate = |watch: Watch<'_>| self.find(shard, hash, key, watch);
        let known = self.read_optimistic(shard, &locate, &mut |map, hit| {
            Ok(match hit {
                None => Some(None),
                Some(h) => match h.cell {
                    Some(index) => {
                        let state = map.live_cell(shard, index)?.state.load(Ordering::Acquire);
                        let generation = split_state(state).0;
                        Some(Some(map.encode_handle(
                            map.shard_index(hash),
                            index,
                            generation,
                        )))
                    }
                    None => None,
                },
            })
        });
        if let Some(Ok(Some(known))) = known {
            return Ok(known);
        }
        self.write_with(hash, |w| match w.find(hash, key)? {
            None => Ok(None),
            Some(hit) => w.handle_of(&hit).map(Some),
        })
    }

    /// Sets `key` to `value` (as `set`, or `insert_if_absent` with `if_absent`) and returns
    /// the key's handle and whether the value was stored.
    pub(crate) fn put_with_handle(
        &self,
        key: &[u8],
        value: &[u8],
        if_absent: bool,
    ) -> Result<(KeyHandle, bool), MapError> {
        let hash = self.hash(key);
        let source = self.prepare(hash, key, value)?;
        let mode = if if_absent {
            PutMode::IfAbsent
        } else {
            PutMode::Overwrite
        };
        let result = self.write_with(hash, |w| {
            let (out, used) = w.put_one(hash, key, &source, mode)?;
            let stored = !if_absent || out.is_some();
            // From here on the record may be published: a failure to give the key a handle
            // must not free it, so it travels separately.
            let handle = match w.find(hash, key) {
                Ok(Some(hit)) => w.handle_of(&hit),
                Ok(None) => Err(MapError::corrupt(0, "an entry just written is missing")),
                Err(e) => Err(e),
            };
            Ok((handle, stored, used))
        });
        match result {
            Ok((handle, stored, used)) => {
                if !used {
                    self.unused(&source);
                }
                Ok((handle?, stored))
            }
            Err(e) => {
                self.unused(&source);
                Err(e)
            }
        }
    }

    /// Runs `f` under the shard lock on the entry the key `handle` names (found through its
    /// cell, then its slot by the cell's hash: no hashing of the key) with the entry's key;
    /// false if the handle names no live key.
    fn write_by_handle(
        &self,
        handle: KeyHandle,
        f: impl FnOnce(&mut Writer<'_>, &Hit<'_>, &[u8]) -> Result<(), MapError>,
    ) -> Result<bool, MapError> {
        let at = self.decode_handle(handle);
        let Some(shard) = self.handle_shard(at)? else {
            return Ok(false);
        };
        self.write_locked(shard, |w| {
            w.step(|w| {
                let Some(by_handle) = w.map.find_by_handle(shard, at, false)? else {
                    return Ok(false);
                };
                let key = w.map.read_key(by_handle.rec)?;
                match w.find(by_handle.hash, &key)? {
                    Some(hit) if hit.cell == Some(at.index) => {
                        f(w, &hit, &key)?;
                        Ok(true)
                    }
                    _ => Err(MapError::corrupt(
                        by_handle.table,
                        "a live handle cell that no slot names",
                    )),
                }
            })
        })
    }

    /// Replaces the value of the key `handle` names: false if it names none.
    pub(crate) fn set_by_handle(&self, handle: KeyHandle, value: &[u8]) -> Result<bool, MapError> {
        self.write_by_handle(handle, |w, hit, key| {
            w.map.check_entry(key, value)?;
            let record = w.new_record(hit.hash, key, value)?;
            w.replace(hit, record)
        })
    }

    /// Removes the key `handle` names: false if it names none.
    pub(crate) fn remove_by_handle(&self, handle: KeyHandle) -> Result<bool, MapError> {
        self.write_by_handle(handle, |w, hit, _| w.remove_hit(hit))
    }
}

impl<'a> Writer<'a> {
    /// The handle of the entry `hit` (found under the lock), giving its key a cell first if
    /// it has none.
    pub(crate) fn handle_of(&mut self, hit: &Hit<'_>) -> Result<KeyHandle, MapError> {
        let map = self.map;
        let shard_index = map.shard_index(hit.hash);
        if let Some(index) = hit.cell {
            let state = map
                .live_cell(self.shard, index)?
                .state
                .load(Ordering::Acquire);
            return Ok(map.encode_handle(shard_index, index, split_state(state).0));
        }
        let Some(slot) = hit.slot else {
            return Err(MapError::corrupt(hit.rec, "an entry without a slot"));
        };
        let (index, generation) = self.take_cell(shard_index)?;
        let table = map
            .cells_of(self.shard)?
            .ok_or_else(|| MapError::corrupt(0, "cell table vanished"))?;
        let cell = &table.cells[index as usize];
        self.begin();
        cell.hash.store(hit.hash, Ordering::Relaxed);
        cell.rec.store(hit.rec, Ordering::Relaxed);
        map.refresh_copy(cell)?;
        cell.state
            .store(cell_state(generation, CELL_LIVE), Ordering::Release);
        let live = &table.header.live;
        live.store(
            live.load(Ordering::Relaxed).wrapping_add(1),
            Ordering::Relaxed,
        );
        // The slot names the cell last (its tag: same home bucket, same control byte): a
        // writer killed before this leaves a live cell no slot names, which the repair frees.
        slot.tag
            .store(handled_tag(hit.hash, index), Ordering::Release);
        Ok(map.encode_handle(shard_index, index, generation))
    }

    /// A cell of the shard ready to become live (off the free list, or a new one below the
    /// high-water mark, written as free first), with the generation it will have.
    fn take_cell(&mut self, shard_index: u64) -> Result<(u64, u32), MapError> {
        let map = self.map;
        let table = match map.cells_of(self.shard)? {
            Some(t)
                if t.header.free_head.load(Ordering::Relaxed) != 0
                    || (t.cells.len() as u64) < t.capacity =>
            {
                t
            }
            current => self.grow_cells(current, shard_index)?,
        };
        let header = table.header;
        let head = header.free_head.load(Ordering::Relaxed);
        if head != 0 {
            let index = head - 1;
            let cell = table.cells.get(index as usize).ok_or_else(|| {
                MapError::corrupt(table.offset, "free cell list points past the table")
            })?;
            let (generation, what) = split_state(cell.state.load(Ordering::Relaxed));
            if what != CELL_FREE || generation == 0 {
                return Err(MapError::corrupt(
                    table.offset,
                    "free cell list holds a cell in use (or of generation 0)",
                ));
            }
            self.begin();
            header
                .free_head
                .store(cell.next_free.load(Ordering::Relaxed), Ordering::Relaxed);
            return Ok((index, generation));
        }
        let index = table.cells.len() as u64;
        let generation = map.first_generation(self.shard, shard_index, index);
        // Inside the block: `cell_table` checked `capacity` against it.
        let cell: &Cell = map
            .region()
            .get(first_cell(table.offset) + index * CELL_LEN)?;
        self.begin();
        cell.rec.store(0, Ordering::Relaxed);
        cell.next_free.store(0, Ordering::Relaxed);
        cell.state
            .store(cell_state(generation, CELL_FREE), Ordering::Release);
        header.high_water.store(index + 1, Ordering::Release);
        Ok((index, generation))
    }

    /// Publishes a cell table twice the size of `current` (or the first one), holding the
    /// same cells; the old block is freed after the lock is released.
    fn grow_cells(
        &mut self,
        current: Option<CellTable<'a>>,
        shard_index: u64,
    ) -> Result<CellTable<'a>, MapError> {
        let map: &'a MapInner = self.map;
        let old_capacity = current.as_ref().map_or(0, |t| t.capacity);
        let capacity = (old_capacity * 2).max(MIN_CELLS).min(map.max_cells());
        if capacity <= old_capacity {
            return Err(MapError::TooManyHandles {
                shard: shard_index,
                max: map.max_cells(),
            });
        }
        let offset = map.store.alloc(cell_table_len(capacity))?;
        let header: &CellTableHeader = map.region().get(offset)?;
        header.magic.store(CELL_MAGIC, Ordering::Relaxed);
        header._pad.store(0, Ordering::Relaxed);
        header.capacity.store(capacity, Ordering::Relaxed);
        for r in &header._reserved {
            r.store(0, Ordering::Relaxed);
        }
        let (high_water, free_head, live) = match &current {
            Some(t) => (
                t.cells.len() as u64,
                t.header.free_head.load(Ordering::Relaxed),
                t.header.live.load(Ordering::Relaxed),
            ),
            None => (0, 0, 0),
        };
        header.high_water.store(high_water, Ordering::Relaxed);
        header.free_head.store(free_head, Ordering::Relaxed);
        header.live.store(live, Ordering::Relaxed);
        if let Some(t) = &current {
            let new_cells = map
                .region()
                .get_slice::<Cell>(first_cell(offset), high_water)?;
            for (from, to) in t.cells.iter().zip(new_cells) {
                to.rec
                    .store(from.rec.load(Ordering::Relaxed), Ordering::Relaxed);
                to.hash
                    .store(from.hash.load(Ordering::Relaxed), Ordering::Relaxed);
                to.next_free
                    .store(from.next_free.load(Ordering::Relaxed), Ordering::Relaxed);
                for (a, b) in from.copy.iter().zip(&to.copy) {
                    b.store(a.load(Ordering::Relaxed), Ordering::Relaxed);
                }
                to.state
                    .store(from.state.load(Ordering::Relaxed), Ordering::Relaxed);
            }
        }
        self.begin();
        self.shard.cells.store(offset, Ordering::Release);
        if let Some(t) = current {
            self.defer_free(t.offset);
        }
        map.cell_table(offset).map_err(MapError::from)
    }

    /// Frees the live cell `index` (its key was just unlinked): the generation moves on in
    /// the same store, and the cell goes onto the free list (or is retired for good when its
    /// generations are used up). The sequence is odd.
    pub(crate) fn free_cell(&mut self, index: u64) -> Result<(), MapError> {
        let table = self
            .map
            .cells_of(self.shard)?
            .ok_or_else(|| MapError::corrupt(0, "a cell reference without a cell table"))?;
        let cell = table
            .cells
            .get(index as usize)
            .ok_or_else(|| MapError::corrupt(table.offset, "a slot names a cell past its table"))?;
        self.begin();
        release_cell(&table, index, cell);
        let live = &table.header.live;
        live.store(
            live.load(Ordering::Relaxed).saturating_sub(1),
            Ordering::Relaxed,
        );
        Ok(())
    }
}

/// Frees `cell` (index `index` of `table`): next generation and onto the free list in one
/// store, or retired when the generation cannot grow.
fn release_cell(table: &CellTable<'_>, index: u64, cell: &Cell) {
    let (generation, _) = split_state(cell.state.load(Ordering::Relaxed));
    cell.rec.store(0, Ordering::Relaxed);
    cell.hash.store(0, Ordering::Relaxed);
    if generation == u32::MAX {
        cell.state
            .store(cell_state(generation, CELL_RETIRED), Ordering::Release);
        return;
    }
    let header = table.header;
    cell.next_free
        .store(header.free_head.load(Ordering::Relaxed), Ordering::Relaxed);
    cell.state
        .store(cell_state(generation + 1, CELL_FREE), Ordering::Release);
    header.free_head.store(index + 1, Ordering::Relaxed);
}

impl MapInner {
    /// Repair of a shard's cells (lock held, sequence odd, slots already repaired): every
    /// live cell that no slot in `referenced` names is freed (a writer died between making
    /// it live and naming it, or between unlinking its key and freeing it); every free cell
    /// goes back onto a rebuilt free list; `live` is recounted. Cells are never dropped from
    /// under a slot here: the slot pass already dropped slots naming cells that are not live.
    pub(crate) fn repair_cells(
        &self,
        shard: &ShardHeader,
        referenced: &HashSet<u64>,
        notes: &mut Vec<String>,
    ) -> Result<(), MapError> {
        // Cells not used before start from new generations after any repair (see the
        // module docs): harmless when nothing was damaged, since only cells no handle ever
        // named take a first generation.
        let epoch = &shard.cell_epoch;
        epoch.store(
            epoch.load(Ordering::Relaxed).wrapping_add(1),
            Ordering::Relaxed,
        );
        let table = match self.cells_of(shard) {
            Ok(Some(t)) => t,
            Ok(None) => return Ok(()),
            Err(e) => {
                // An unreadable table: no slot can name a cell of it (the slot pass dropped
                // them), so the shard starts over without one (the block is the sweep's).
                shard.cells.store(0, Ordering::Release);
                notes.push(format!("dropped an unreadable handle-cell table ({e})"));
                return Ok(());
            }
        };
        let mut freed = 0u64;
        let mut fresh = 0u64;
        let mut live = 0u64;
        let mut copies = 0u64;
        let header = table.header;
        header.free_head.store(0, Ordering::Relaxed);
        for (i, cell) in table.cells.iter().enumerate().rev() {
            let i = i as u64;
            let (generation, what) = split_state(cell.state.load(Ordering::Relaxed));
            match what {
                CELL_LIVE if referenced.contains(&i) => {
                    live += 1;
                    // Whatever a writer left in the copy: rewritten from the record (which
                    // the slot pass checked).
                    let before = cell.next_free.load(Ordering::Relaxed);
                    self.refresh_copy_of_cell(cell);
                    if cell.next_free.load(Ordering::Relaxed) != before {
                        copies += 1;
                    }
                }
                CELL_RETIRED => {}
                CELL_LIVE | CELL_FREE => {
                    if what == CELL_LIVE {
                        freed += 1;
                        release_cell(&table, i, cell);
                    } else {
                        if generation == 0 {
                            // Never given out (cells start at a first generation): the cell
                            // was never written, its table's `high_water` was damaged.
                            let first = self.first_generation(shard, self.shard_index_of(shard), i);
                            cell.state
                                .store(cell_state(first, CELL_FREE), Ordering::Release);
                            fresh += 1;
                        }
                        cell.rec.store(0, Ordering::Relaxed);
                        cell.next_free
                            .store(header.free_head.load(Ordering::Relaxed), Ordering::Relaxed);
                        header.free_head.store(i + 1, Ordering::Relaxed);
                    }
                }
                _ => {
                    // A damaged state: the generation moves on (so no handle of the cell
                    // can read anything) and the cell is free.
                    let next = generation.checked_add(1);
                    match next {
                        Some(g) => {
                            cell.rec.store(0, Ordering::Relaxed);
                            cell.next_free
                                .store(header.free_head.load(Ordering::Relaxed), Ordering::Relaxed);
                            cell.state
                                .store(cell_state(g, CELL_FREE), Ordering::Release);
                            header.free_head.store(i + 1, Ordering::Relaxed);
                        }
                        None => cell
                            .state
                            .store(cell_state(generation, CELL_RETIRED), Ordering::Release),
                    }
                    freed += 1;
                }
            }
        }
        if freed > 0 {
            notes.push(format!("freed {freed} handle cells no key named"));
        }
        if copies > 0 {
            notes.push(format!(
                "rewrote {copies} handle cells' copies of their values"
            ));
        }
        if fresh > 0 {
            notes.push(format!(
                "gave {fresh} free handle cells of generation 0 a first generation"
            ));
        }
        if header.live.load(Ordering::Relaxed) != live {
            header.live.store(live, Ordering::Relaxed);
            notes.push("recounted live handle cells".into());
        }
        Ok(())
    }

    /// Problems of a shard's cells (lock held, recovered): `referenced` are the cells live
    /// slots name (each once).
    pub(crate) fn check_cells(
        &self,
        shard: &ShardHeader,
        referenced: &HashSet<u64>,
        problem: &mut dyn FnMut(u64, String),
    ) {
        let table = match self.cells_of(shard) {
            Ok(Some(t)) => t,
            Ok(None) => {
                if !referenced.is_empty() {
                    problem(
                        0,
                        "slots name handle cells but the shard has no cell table".into(),
                    );
                }
                return;
            }
            Err(e) => {
                problem(e.offset, format!("handle-cell table: {e}"));
                return;
            }
        };
        let mut live = 0u64;
        let mut free = 0u64;
        for (i, cell) in table.cells.iter().enumerate() {
            let (generation, what) = split_state(cell.state.load(Ordering::Relaxed));
            let named = referenced.contains(&(i as u64));
            if generation == 0 && what != CELL_RETIRED {
                problem(table.offset, format!("handle cell {i} has generation 0"));
            }
            match what {
                CELL_LIVE => {
                    live += 1;
                    if !named {
                        problem(
                            table.offset,
                            format!("live handle cell {i} that no slot names"),
                        );
                    }
                    if !self.copy_matches_record(cell) {
                        problem(
                            table.offset,
                            format!("handle cell {i}: its copy of the value is not the record's"),
                        );
                    }
                }
                CELL_FREE | CELL_RETIRED => {
                    free += u64::from(what == CELL_FREE);
                    if named {
                        problem(
                            table.offset,
                            format!("a slot names handle cell {i}, not live"),
                        );
                    }
                }
                other => problem(table.offset, format!("handle cell {i} in state {other}")),
            }
        }
        let stored = table.header.live.load(Ordering::Relaxed);
        if stored != live {
            problem(
                table.offset,
                format!("handle cells: live is {stored}, counted {live}"),
            );
        }
        // The free list: only free cells, no cycle, every free cell on it.
        let mut on_list = 0u64;
        let mut next = table.header.free_head.load(Ordering::Relaxed);
        while next != 0 {
            let Some(cell) = table.cells.get((next - 1) as usize) else {
                problem(table.offset, "free cell list points past the table".into());
                return;
            };
            if split_state(cell.state.load(Ordering::Relaxed)).1 != CELL_FREE {
                problem(table.offset, "free cell list holds a cell in use".into());
                return;
            }
            on_list += 1;
            if on_list > free {
                problem(table.offset, "free cell list has a cycle".into());
                return;
            }
            next = cell.next_free.load(Ordering::Relaxed);
        }
        if on_list != free {
            problem(
                table.offset,
                format!("free cell list holds {on_list} of {free} free cells"),
            );
        }
    }

    /// The live handle cells and bytes of a shard's cell table (for `stats`).
    pub(crate) fn cell_counts(&self, shard: &ShardHeader) -> (u64, u64) {
        match self.cells_of(shard) {
            Ok(Some(t)) => (
                t.header.live.load(Ordering::Relaxed),
                cell_table_len(t.capacity),
            ),
            _ => (0, 0),
        }
    }

    /// Frees every live cell of the shard (`clear`: no key is left). Lock held, sequence odd.
    pub(crate) fn free_all_cells(&self, shard: &ShardHeader) -> Result<(), MapError> {
        let Some(table) = self.cells_of(shard)? else {
            return Ok(());
        };
        for (i, cell) in table.cells.iter().enumerate() {
            if split_state(cell.state.load(Ordering::Relaxed)).1 == CELL_LIVE {
                release_cell(&table, i as u64, cell);
            }
        }
        table.header.live.store(0, Ordering::Relaxed);
        Ok(())
    }
}

impl MapInner {
    /// Rewrites a live cell's copy of its value from its record (lock held, sequence odd):
    /// the value's bytes and a descriptor when it is short enough, else no copy.
    pub(crate) fn refresh_copy(&self, cell: &Cell) -> Result<(), MapError> {
        let rec = cell.rec.load(Ordering::Relaxed);
        let region = self.region();
        let view = self.record_view(rec)?;
        let val_len = view.val_len;
        if val_len > CELL_COPY_MAX {
            cell.next_free.store(0, Ordering::Release);
            return Ok(());
        }
        let mut bytes = [0u8; CELL_COPY_MAX as usize];
        region.read_bytes(view.value_at, &mut bytes[..val_len as usize])?;
        for (word, chunk) in cell.copy.iter().zip(bytes.chunks_exact(8)) {
            let mut w = [0u8; 8];
            w.copy_from_slice(chunk);
            word.store(u64::from_le_bytes(w), Ordering::Relaxed);
        }
        let checksum = u64::from(view.checksum);
        cell.next_free
            .store(COPY_VALID | (val_len << 32) | checksum, Ordering::Release);
        Ok(())
    }

    /// [`MapInner::refresh_copy`] of live cell `index` of `shard`; when that fails (a damaged
    /// record) the cell keeps no copy, so reads by handle go to the record and see what it
    /// holds.
    pub(crate) fn refresh_copy_of(&self, shard: &ShardHeader, index: u64) {
        if let Ok(cell) = self.live_cell(shard, index) {
            self.refresh_copy_of_cell(cell);
        }
    }

    /// [`MapInner::refresh_copy`] of `cell`, dropping the copy when it fails.
    pub(crate) fn refresh_copy_of_cell(&self, cell: &Cell) {
        if self.refresh_copy(cell).is_err() {
            cell.next_free.store(0, Ordering::Release);
        }
    }

    /// True if a live cell's copy (if it has one) is its record's value with the record's
    /// checksum, or it has none and the value is too long for one.
    fn copy_matches_record(&self, cell: &Cell) -> bool {
        let rec = cell.rec.load(Ordering::Relaxed);
        let Ok(view) = self.record_view(rec) else {
            return false;
        };
        let val_len = view.val_len;
        match MapInner::cell_copy(cell) {
            None => val_len > CELL_COPY_MAX,
            Some((bytes, len, checksum)) => {
                let mut value = [0u8; CELL_COPY_MAX as usize];
                len == val_len
                    && checksum == view.checksum
                    && self
                        .region()
                        .read_bytes(view.value_at, &mut value[..len as usize])
                        .is_ok()
                    && value == bytes
            }
        }
    }

    /// The value a live cell's copy holds, if it holds one: its bytes (zero past `len`),
    /// length and the checksum it was copied with. (Trusted only as far as the read it is
    /// part of validates.)
    #[inline]
    pub(crate) fn cell_copy(cell: &Cell) -> Option<([u8; CELL_COPY_MAX as usize], u64, u32)> {
        let meta = cell.next_free.load(Ordering::Acquire);
        if meta & COPY_VALID == 0 {
            return None;
        }
        let len = ((meta >> 32) & 0x7F).min(CELL_COPY_MAX);
        let mut bytes = [0u8; CELL_COPY_MAX as usize];
        for (word, chunk) in cell.copy.iter().zip(bytes.chunks_exact_mut(8)) {
            chunk.copy_from_slice(&word.load(Ordering::Relaxed).to_le_bytes());
        }
        Some((bytes, len, meta as u32))
    }
}
