//! A hash map with binary keys and values in shared memory, used by many processes at once.
//!
//! Design (see `layout` for the bytes):
//! - **Sharded.** The map is `shard_count` (a power of two, default 64) independent shards,
//!   each with its own robust lock, sequence counter and open-addressing table (linear
//!   probing, 16-byte slots holding a hash tag and a record offset). Writers of keys in
//!   different shards never touch the same cache line.
//! - **Lock-free reads.** A lookup reads the shard's sequence, probes, copies the value and
//!   validates the sequence; it never writes shared memory. After a bounded number of failed
//!   tries it takes the shard lock instead, so it cannot livelock. Every offset it follows is
//!   bounds-checked, so a racing read of freed memory is harmless and discarded.
//! - **Immutable records.** A value change builds a new record block and publishes it with
//!   one atomic store of the slot; the old block goes back to the store allocator. (A counter
//!   updated by `incr_*` is the one value changed in place, by one atomic store, its checksum
//!   resealed in the same critical section.)
//! - **Checksummed values.** Every record carries a 32-bit checksum of its key's hash and its
//!   value. Reads check it once their copy is known consistent, `verify` checks every record,
//!   `repair` drops the entries that fail: a value returned is one that was written. A value
//!   damaged in place (a stray or hostile write) makes reads of that key fail with
//!   [`MapError::Corrupt`] until `repair` drops it or a `set` replaces it.
//! - **Incremental growth and shrinking.** When a shard's table passes 3/4 load, a table of
//!   about twice the size is published beside it with a migration cursor; every later write
//!   to the shard moves a bounded batch of old buckets, and lookups check the new table, then
//!   the old. No operation waits for more than one batch; tombstones are dropped by the move.
//!   A removal that leaves the live entries below 1/4 of the buckets starts the same
//!   migration into a smaller table (never below the map's initial size), so a map that
//!   was emptied gives its tables back to the store's allocator; the sizes leave room on
//!   both sides, so a shard does not go back and forth (see `resize`).
//! - **Crash safety.** Every step leaves the shard in a state a repair understands: a writer
//!   killed at any instruction leaves each key either with its old or its new value, never
//!   torn, never duplicated; the next process to take the shard lock sees
//!   `MutexGuard::recovered()`, repairs the shard (finishes half-published slots, removes
//!   duplicates left by a half-moved bucket, recounts) and goes on. Memory a killed writer
//!   had allocated but not published is leaked, never visible.
//!
//! Invariants: every live key is in exactly one slot of its shard (in `table`, or in
//! `old_table` at a position `>= migrate_cursor`); `len` counts them; readers only accept
//! what they read when the shard's sequence was even and unchanged around the read.
//!
//! Keys may be up to [`MAX_KEY_LEN`] bytes (about 4 GiB); values up to what one store block
//! holds (2^46 bytes) and the store's reservation allows. Both may be empty.
//!
//! ```
//! use shmkit::{Store, StoreOptions, UpdateAction};
//! let name = format!("doc-hash-map-{}", std::process::id()); // unique to this process
//! let store = Store::create(&name, &StoreOptions::default()).unwrap();
//! let map = store.hash_map("sessions").unwrap();
//! assert_eq!(map.insert(b"alice", b"1").unwrap(), None);
//! assert_eq!(map.insert(b"alice", b"2").unwrap().as_deref(), Some(&b"1"[..]));
//! assert_eq!(map.incr_i64(b"hits", 5).unwrap(), 5);
//! assert!(map.compare_and_set(b"alice", Some(b"2"), Some(b"3")).unwrap());
//! map.update(b"alice", |v| UpdateAction::Set([v.unwrap(), b"!"].concat())).unwrap();
//! assert_eq!(map.get(b"alice").unwrap().as_deref(), Some(&b"3!"[..]));
//! assert_eq!(map.len(), 2);
//! // Another process (or handle) finds it by name.
//! let again = store.open_hash_map("sessions").unwrap();
//! assert!(again.contains_key(b"hits").unwrap());
//! Store::remove(&name).unwrap();
//! ```

mod batch;
mod cells;
mod error;
mod iter;
internal! { mod layout; }
mod lookup;
mod object;
mod record;
mod resize;
mod slab;
mod spare;
pub mod typed;
mod verify;
mod write;

pub use cells::KeyHandle;
pub(crate) use error::Fault;
pub use error::MapError;
pub use iter::{Iter, Keys, Values};
pub use record::FixedSize;
pub use typed::{TypedMap, TypedMapError};
pub use verify::{MapReport, MapStats};

/// A key and its value, as copied out of the map.
pub type Entry = (Vec<u8>, Vec<u8>);

use self::layout::{
    DEFAULT_SHARDS, MAP_MAGIC, MAP_VERSION, MAP_VERSION_FIXED, MAX_SHARDS, MIN_BUCKETS, MapRoot,
    ROOT_LEN, SHARD_STRIDE, ShardHeader, record_len,
};
use self::record::FixedShape;
use crate::raw::Region;
use crate::store::Store;
use crate::store::alloc_classes::MAX_CAPACITY;
use crate::store::directory::ObjectKind;
use crate::store::error::AllocError;
use crate::store::header::Line;
use crate::sync::atomic::Ordering;
use std::sync::Arc;

/// Longest key in bytes (keys are stored with a 32-bit length).
pub const MAX_KEY_LEN: u64 = u32::MAX as u64 - 7;

/// Options for creating a hash map. An existing map keeps the options it was created with.
#[derive(Clone, Debug, Default)]
pub struct HashMapOptions {
    /// Number of shards, a power of two up to 65536; 0 means 64.
    pub shards: u32,
    /// Entries the map should hold before its first resize (0: a small start; it grows).
    pub initial_capacity: u64,
    /// `Some`: a **fixed-size map**, whose keys all have `key_len` bytes and values all
    /// `value_len` bytes. Its records carry no lengths and live in per-shard slabs, so an
    /// overwrite or a removal never calls the store's allocator (a removed record's slot in
    /// the slab is reused by the next write), and an entry of a large map takes less memory
    /// (no lengths, no allocator header or rounding; but every shard's slab starts with a
    /// block and a chunk of 16 records, so a map of a few entries per shard takes more).
    /// A key or value
    /// of another length is refused with [`MapError::WrongKeySize`] /
    /// [`MapError::WrongValueSize`]. `None` (the default): keys and values of any length.
    pub fixed_size: Option<FixedSize>,
}

/// What [`HashMap::update`]'s closure decides.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UpdateAction {
    /// Leave the entry as it is.
    Keep,
    /// Store this value.
    Set(Vec<u8>),
    /// Remove the entry.
    Remove,
}

/// A handle to a hash map in a store. Cheap to clone; keeps its store attached.
#[derive(Clone)]
pub struct HashMap {
    inner: Arc<MapInner>,
}

impl std::fmt::Debug for HashMap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HashMap")
            .field("name", &self.inner.name)
            .field("root", &self.inner.root)
            .field("shards", &self.inner.shard_count())
            .finish()
    }
}

/// The per-process view of one map: where its shards are, and how keys are hashed.
pub(crate) struct MapInner {
    pub(crate) store: Store,
    pub(crate) name: String,
    pub(crate) root: u64,
    pub(crate) shards_offset: u64,
    pub(crate) shard_mask: u64,
    pub(crate) seed: u64,
    pub(crate) initial_buckets: u64,
    /// The record shape of a fixed-size map; `None` for a map of any sizes.
    pub(crate) fixed: Option<FixedShape>,
}

impl MapInner {
    #[inline]
    pub(crate) fn region(&self) -> &Region {
        &self.store.inner.region
    }

    #[inline]
    pub(crate) fn hash(&self, key: &[u8]) -> u64 {
        layout::key_hash(self.seed, key)
    }

    pub(crate) fn shard_count(&self) -> u32 {
        (self.shard_mask + 1) as u32
    }

    #[inline]
    pub(crate) fn shard_index(&self, hash: u64) -> u64 {
        (hash >> 48) & self.shard_mask
    }

    #[inline]
    pub(crate) fn shard_at(&self, index: u64) -> Result<&ShardHeader, MapError> {
        let line: &Line<ShardHeader> = self
            .region()
            .get(self.shards_offset + index * SHARD_STRIDE)?;
        Ok(&line.0)
    }

    /// `result`, unless the store file shrank under this process meanwhile: then what the
    /// operation read was the zero pages that stand in for the lost ones (see
    /// `sys::fault`), and it fails instead.
    #[inline]
    pub(crate) fn unfaulted<T>(&self, result: Result<T, MapError>) -> Result<T, MapError> {
        match self.region().faulted_at() {
            None => result,
            Some(offset) => Err(MapError::corrupt(offset, crate::store::SHRUNK)),
        }
    }

    #[inline]
    pub(crate) fn shard(&self, hash: u64) -> Result<&ShardHeader, MapError> {
        self.shard_at(self.shard_index(hash))
    }
}

fn check_key(key: &[u8]) -> Result<(), MapError> {
    if key.len() as u64 > MAX_KEY_LEN {
        return Err(MapError::KeyTooLarge {
            len: key.len() as u64,
            max: MAX_KEY_LEN,
        });
    }
    Ok(())
}

fn check_value(key: &[u8], value: &[u8]) -> Result<(), MapError> {
    check_key(key)?;
    let max = MAX_CAPACITY - record_len(key.len() as u64, 0);
    if value.len() as u64 > max {
        return Err(MapError::ValueTooLarge {
            len: value.len() as u64,
            max,
        });
    }
    Ok(())
}

/// Buckets of each shard's first table for `options`.
fn initial_buckets(options: &HashMapOptions, shards: u32) -> u64 {
    let per_shard = options.initial_capacity.div_ceil(shards as u64);
    // Room for `per_shard` entries below the 3/4 load limit.
    let want = per_shard.saturating_mul(4).div_ceil(3).saturating_add(1);
    want.checked_next_power_of_two()
        .unwrap_or(1 << 40)
        .clamp(MIN_BUCKETS, 1 << 40)
}

fn create_root(
    store: &Store,
    shards: u32,
    buckets: u64,
    fixed: Option<FixedSize>,
) -> Result<u64, AllocError> {
    let size = ROOT_LEN + SHARD_STRIDE + shards as u64 * SHARD_STRIDE;
    let root = store.alloc(size)?;
    let region = &store.inner.region;
    region.fill_bytes(root, size, 0)?;
    let shards_offset = (root + ROOT_LEN).next_multiple_of(SHARD_STRIDE);
    for i in 0..shards as u64 {
        let table = resize::alloc_table(store, buckets)?;
        let line: &Line<ShardHeader> = region.get(shards_offset + i * SHARD_STRIDE)?;
        line.0.table.store(table, Ordering::Relaxed);
        if let Some(size) = fixed {
            // Checked by the caller: the sizes make a record.
            let stride = size.record_len().unwrap_or(0);
            let slab = slab::create_slab(store, stride, buckets)?;
            line.0.slab.store(slab, Ordering::Relaxed);
        }
    }
    let r: &MapRoot = region.get(root)?;
    let version = match fixed {
        None => MAP_VERSION,
        Some(size) => {
            r.fixed_key_len.store(size.key_len, Ordering::Relaxed);
            r.fixed_value_len.store(size.value_len, Ordering::Relaxed);
            MAP_VERSION_FIXED
        }
    };
    r.version.store(version, Ordering::Relaxed);
    r.shard_count.store(shards, Ordering::Relaxed);
    r.shards_offset.store(shards_offset, Ordering::Relaxed);
    r.initial_buckets.store(buckets, Ordering::Relaxed);
    r.created_unix_ns
        .store(crate::sys::unix_time_ns(), Ordering::Relaxed);
    r.magic.store(MAP_MAGIC, Ordering::Release);
    Ok(root)
}

/// The initial table size recorded in a map's root, if it is one a map can have (a power of
/// two from [`MIN_BUCKETS`] to 2^40); otherwise [`MIN_BUCKETS`]. It is only a floor for
/// `clear` and for shrinking, so a damaged word must not become a table size: a table whose
/// header is not a power of two would make its shard unreadable.
fn sane_initial_buckets(recorded: u64) -> u64 {
    if recorded.is_power_of_two() && (MIN_BUCKETS..=1 << 40).contains(&recorded) {
        recorded
    } else {
        MIN_BUCKETS
    }
}

impl HashMap {
    pub(super) fn attach(store: &Store, name: &str, root: u64) -> Result<HashMap, MapError> {
        let region = &store.inner.region;
        let r: &MapRoot = region.get(root)?;
        if r.magic.load(Ordering::Acquire) != MAP_MAGIC {
            return Err(MapError::corrupt(root, "not a hash map root (bad magic)"));
        }
        let version = r.version.load(Ordering::Relaxed);
        let fixed = match version {
            MAP_VERSION => None,
            MAP_VERSION_FIXED => {
                let size = FixedSize {
                    key_len: r.fixed_key_len.load(Ordering::Relaxed),
                    value_len: r.fixed_value_len.load(Ordering::Relaxed),
                };
                match FixedShape::new(size) {
                    Ok(shape) => Some(shape),
                    Err(_) => {
                        return Err(MapError::corrupt(
                            root,
                            format!(
                                "fixed-size hash map with keys of {} and values of {} bytes",
                                size.key_len, size.value_len
                            ),
                        ));
                    }
                }
            }
            _ => {
                return Err(MapError::corrupt(
                    root,
                    format!(
                        "hash map layout version {version} (this build reads versions \
                         {MAP_VERSION} and {MAP_VERSION_FIXED})"
                    ),
                ));
            }
        };
        let shards = r.shard_count.load(Ordering::Relaxed);
        let shards_offset = r.shards_offset.load(Ordering::Relaxed);
        if !shards.is_power_of_two()
            || shards > MAX_SHARDS
            || shards_offset != (root + ROOT_LEN).next_multiple_of(SHARD_STRIDE)
        {
            return Err(MapError::corrupt(
                root,
                format!("hash map with {shards} shards"),
            ));
        }
        // The shard array must be inside the store (checked once here, and on every access).
        region.get::<Line<ShardHeader>>(shards_offset + (shards as u64 - 1) * SHARD_STRIDE)?;
        Ok(HashMap {
            inner: Arc::new(MapInner {
                store: store.clone(),
                name: name.to_string(),
                root,
                shards_offset,
                shard_mask: shards as u64 - 1,
                seed: store.hash_seed(),
                initial_buckets: sane_initial_buckets(r.initial_buckets.load(Ordering::Relaxed)),
                fixed,
            }),
        })
    }

    pub(super) fn open_or_create_map(
        store: &Store,
        name: &str,
        options: &HashMapOptions,
    ) -> Result<HashMap, MapError> {
        let shards = if options.shards == 0 {
            DEFAULT_SHARDS
        } else {
            options.shards
        };
        if !shards.is_power_of_two() || shards > MAX_SHARDS {
            return Err(MapError::InvalidOptions(format!(
                "shards must be a power of two up to {MAX_SHARDS}, not {shards}"
            )));
        }
        if let Some(size) = options.fixed_size {
            size.record_len()?;
        }
        let buckets = initial_buckets(options, shards);
        let root = store.object_or_create(name, ObjectKind::HashMap, |s| {
            create_root(s, shards, buckets, options.fixed_size)
        })?;
        HashMap::attach(store, name, root)
    }

    /// The sizes of every key and value if this is a fixed-size map (see
    /// [`HashMapOptions::fixed_size`]); `None` if keys and values may have any length.
    pub fn fixed_size(&self) -> Option<FixedSize> {
        self.inner.fixed.map(|f| FixedSize {
            key_len: f.key_len as u32,
            value_len: f.value_len as u32,
        })
    }

    /// The map's name in its store's directory.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The store the map lives in.
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// Offset of the map's root block in the store.
    pub fn root_offset(&self) -> u64 {
        self.inner.root
    }

    /// Number of shards.
    pub fn shard_count(&self) -> u32 {
        self.inner.shard_count()
    }

    /// The value of `key`, if present.
    pub fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, MapError> {
        let mut buf = Vec::new();
        Ok(self.get_into(key, &mut buf)?.then_some(buf))
    }

    /// Zero-allocation read: clears `buf` and copies the value into it; false if absent.
    /// (`buf` grows only when the value is longer than its capacity.)
    pub fn get_into(&self, key: &[u8], buf: &mut Vec<u8>) -> Result<bool, MapError> {
        self.inner.check_key(key)?;
        self.inner.unfaulted(self.inner.get_into(key, buf))
    }

    /// Like [`HashMap::get_into`], but never waits for a lock: `Ok(None)` when writers of the
    /// key's shard kept interfering with the lock-free read (call `get_into` then). Lets a
    /// caller that holds something precious (Python's GIL) read without ever blocking on it.
    pub fn try_get_into_lock_free(
        &self,
        key: &[u8],
        buf: &mut Vec<u8>,
    ) -> Result<Option<bool>, MapError> {
        self.inner.check_key(key)?;
        self.inner
            .unfaulted(self.inner.try_get_into_lock_free(key, buf))
    }

    /// Like [`HashMap::contains_key`], but never waits for a lock (`Ok(None)`: call
    /// `contains_key`).
    pub fn try_contains_key_lock_free(&self, key: &[u8]) -> Result<Option<bool>, MapError> {
        self.inner.check_key(key)?;
        self.inner.unfaulted(self.inner.try_contains_lock_free(key))
    }

    /// True if `key` is present.
    pub fn contains_key(&self, key: &[u8]) -> Result<bool, MapError> {
        self.inner.check_key(key)?;
        self.inner.unfaulted(self.inner.contains(key))
    }

    /// Inserts or overwrites; returns the previous value.
    pub fn insert(&self, key: &[u8], value: &[u8]) -> Result<Option<Vec<u8>>, MapError> {
        let _writing = self.inner.store.inner.enter_write();
        self.inner.check_entry(key, value)?;
        self.inner
            .unfaulted(self.inner.put(key, value, write::PutMode::ReturnOld))
    }

    /// Inserts or overwrites without reading the previous value back (faster).
    pub fn set(&self, key: &[u8], value: &[u8]) -> Result<(), MapError> {
        let _writing = self.inner.store.inner.enter_write();
        self.inner.check_entry(key, value)?;
        self.inner
            .unfaulted(self.inner.put(key, value, write::PutMode::Overwrite))
            .map(|_| ())
    }

    /// Inserts only if the key is absent; true if inserted.
    pub fn insert_if_absent(&self, key: &[u8], value: &[u8]) -> Result<bool, MapError> {
        let _writing = self.inner.store.inner.enter_write();
        self.inner.check_entry(key, value)?;
        self.inner
            .unfaulted(self.inner.put(key, value, write::PutMode::IfAbsent))
            .map(|r| r.is_some())
    }

    /// Removes `key`; returns its value if it was present.
    pub fn remove(&self, key: &[u8]) -> Result<Option<Vec<u8>>, MapError> {
        let _writing = self.inner.store.inner.enter_write();
        self.inner.check_key(key)?;
        self.inner.unfaulted(self.inner.remove(key, true))
    }

    /// Removes `key`; true if it was present.
    pub fn delete(&self, key: &[u8]) -> Result<bool, MapError> {
        let _writing = self.inner.store.inner.enter_write();
        self.inner.check_key(key)?;
        self.inner
            .unfaulted(self.inner.remove(key, false))
            .map(|r| r.is_some())
    }

    /// The stable handle of `key` (see [`KeyHandle`]), giving the key one if it has none;
    /// `None` if the key is absent. A key that has a handle keeps it until it is removed:
    /// every call returns the same handle. Giving a key its first handle is a write (the
    /// shard lock, 64 bytes of cell); later calls read without the lock.
    pub fn handle(&self, key: &[u8]) -> Result<Option<KeyHandle>, MapError> {
        let _writing = self.inner.store.inner.enter_write();
        self.inner.check_key(key)?;
        self.inner.unfaulted(self.inner.handle(key))
    }

    /// [`HashMap::set`], returning the key's handle (the one it had, or a new one).
    ///
    /// The value is stored first: if the key then cannot be given a handle (the store is
    /// full, [`MapError::TooManyHandles`]), the error comes back with the value stored.
    pub fn set_with_handle(&self, key: &[u8], value: &[u8]) -> Result<KeyHandle, MapError> {
        let _writing = self.inner.store.inner.enter_write();
        self.inner.check_entry(key, value)?;
        self.inner
            .unfaulted(self.inner.put_with_handle(key, value, false))
            .map(|(h, _)| h)
    }

    /// [`HashMap::insert_if_absent`], returning the key's handle (of the entry inserted or
    /// of the one already there) and whether `value` was inserted.
    /// As with [`HashMap::set_with_handle`], an error in giving the key its handle comes
    /// back after the value was inserted.
    pub fn insert_if_absent_with_handle(
        &self,
        key: &[u8],
        value: &[u8],
    ) -> Result<(KeyHandle, bool), MapError> {
        let _writing = self.inner.store.inner.enter_write();
        self.inner.check_entry(key, value)?;
        self.inner
            .unfaulted(self.inner.put_with_handle(key, value, true))
    }

    /// The value of the key `handle` names, read without hashing or probing; `None` if the
    /// handle names no live key (its key was removed, it came from another map, or it is
    /// not a handle at all).
    pub fn get_by_handle(&self, handle: KeyHandle) -> Result<Option<Vec<u8>>, MapError> {
        let mut buf = Vec::new();
        Ok(self.get_by_handle_into(handle, &mut buf)?.then_some(buf))
    }

    /// [`HashMap::get_by_handle`] into a caller buffer (cleared; false if no such key).
    pub fn get_by_handle_into(
        &self,
        handle: KeyHandle,
        buf: &mut Vec<u8>,
    ) -> Result<bool, MapError> {
        self.inner
            .unfaulted(self.inner.get_by_handle_into(handle, buf))
    }

    /// The key `handle` names, if it names a live one.
    pub fn key_by_handle(&self, handle: KeyHandle) -> Result<Option<Vec<u8>>, MapError> {
        self.inner.unfaulted(self.inner.key_by_handle(handle))
    }

    /// Replaces the value of the key `handle` names (no hashing or probing); false, and
    /// nothing written, if it names no live key.
    pub fn set_by_handle(&self, handle: KeyHandle, value: &[u8]) -> Result<bool, MapError> {
        let _writing = self.inner.store.inner.enter_write();
        self.inner
            .unfaulted(self.inner.set_by_handle(handle, value))
    }

    /// Removes the key `handle` names; false if it names no live key. (The key's slot is
    /// found by probing with the hash the handle's cell holds: no key hashing.)
    pub fn remove_by_handle(&self, handle: KeyHandle) -> Result<bool, MapError> {
        let _writing = self.inner.store.inner.enter_write();
        self.inner.unfaulted(self.inner.remove_by_handle(handle))
    }

    /// One conditional write: `expected` `None` means "must be absent", `Some(v)` "must equal
    /// v"; `new` `None` deletes, `Some(v)` sets. True if the condition held and the write
    /// happened.
    pub fn compare_and_set(
        &self,
        key: &[u8],
        expected: Option<&[u8]>,
        new: Option<&[u8]>,
    ) -> Result<bool, MapError> {
        let _writing = self.inner.store.inner.enter_write();
        match new {
            Some(v) => self.inner.check_entry(key, v)?,
            None => self.inner.check_key(key)?,
        }
        self.inner
            .unfaulted(self.inner.compare_and_set(key, expected, new))
    }

    /// Atomic read-modify-write under the key's shard lock. `f` sees the current value
    /// (`None` if absent) and must not call into the map (it would wait for itself). Returns
    /// the value after the update.
    pub fn update(
        &self,
        key: &[u8],
        f: impl FnOnce(Option<&[u8]>) -> UpdateAction,
    ) -> Result<Option<Vec<u8>>, MapError> {
        let _writing = self.inner.store.inner.enter_write();
        self.inner.check_key(key)?;
        self.inner.unfaulted(self.inner.update(key, f))
    }

    /// Atomic add on an 8-byte little-endian `i64` value (created as `delta` if missing).
    /// Returns the new value; wraps on overflow. [`MapError::NotAnInteger`] if the value is
    /// not 8 bytes long.
    pub fn incr_i64(&self, key: &[u8], delta: i64) -> Result<i64, MapError> {
        let _writing = self.inner.store.inner.enter_write();
        self.inner.check_key(key)?;
        self.inner.check_counter()?;
        let bits = self.inner.unfaulted(self.inner.incr(key, |old| match old {
            Some(old) => (old as i64).wrapping_add(delta) as u64,
            None => delta as u64,
        }))?;
        Ok(bits as i64)
    }

    /// Atomic add on an 8-byte little-endian `f64` value (created as `delta` if missing).
    pub fn incr_f64(&self, key: &[u8], delta: f64) -> Result<f64, MapError> {
        let _writing = self.inner.store.inner.enter_write();
        self.inner.check_key(key)?;
        self.inner.check_counter()?;
        let bits = self.inner.unfaulted(self.inner.incr(key, |old| match old {
            Some(old) => (f64::from_bits(old) + delta).to_bits(),
            None => delta.to_bits(),
        }))?;
        Ok(f64::from_bits(bits))
    }

    /// Number of entries (the sum of the shards' counts: exact when no write is in flight).
    pub fn len(&self) -> u64 {
        let inner = &self.inner;
        // Saturating: the counters are shared memory, and damage must not panic a reader.
        (0..=inner.shard_mask)
            .filter_map(|i| inner.shard_at(i).ok())
            .map(|s| s.len.load(Ordering::Relaxed))
            .fold(0, u64::saturating_add)
    }

    /// True if the map has no entries.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Removes every entry (shard by shard; each shard is emptied atomically) and shrinks
    /// the tables back to their initial size.
    pub fn clear(&self) -> Result<(), MapError> {
        let _writing = self.inner.store.inner.enter_write();
        for i in 0..=self.inner.shard_mask {
            self.inner.unfaulted(self.inner.clear_shard(i))?;
        }
        Ok(())
    }

    /// Weakly consistent iteration over `(key, value)`: an entry present for the whole
    /// iteration is yielded exactly once; entries added or removed meanwhile may or may not
    /// be. Each shard is copied at one consistent moment.
    pub fn iter(&self) -> Iter<'_> {
        Iter::new(&self.inner, iter::Want::Both)
    }

    /// A consistent copy of the entries of shard `index` (`0..shard_count()`), keys only
    /// (values empty) when `keys_only`. The building block of iterators that must own their
    /// state (a Python iterator, a cursor kept between calls): iterating the shards in turn
    /// has the same guarantee as [`HashMap::iter`], with memory bounded by one shard.
    pub fn shard_entries(&self, index: u32, keys_only: bool) -> Result<Vec<Entry>, MapError> {
        if index >= self.shard_count() {
            return Err(MapError::InvalidOptions(format!(
                "shard {index} of a map with {} shards",
                self.shard_count()
            )));
        }
        let want = if keys_only {
            iter::Want::Keys
        } else {
            iter::Want::Both
        };
        self.inner
            .unfaulted(self.inner.snapshot_shard(index as u64, want))
    }

    /// Weakly consistent iteration over keys (see [`HashMap::iter`]).
    pub fn keys(&self) -> Keys<'_> {
        Keys(Iter::new(&self.inner, iter::Want::Keys))
    }

    /// Weakly consistent iteration over values (see [`HashMap::iter`]).
    pub fn values(&self) -> Values<'_> {
        Values(Iter::new(&self.inner, iter::Want::Values))
    }

    /// Counts and sizes (a racy snapshot while others write).
    pub fn stats(&self) -> Result<MapStats, MapError> {
        self.inner.unfaulted(self.inner.stats())
    }

    /// Full consistency check; takes each shard lock in turn. A shard whose writer died is
    /// recovered first (as every lock taker does), and that is listed in `repaired`.
    pub fn verify(&self) -> Result<MapReport, MapError> {
        self.inner.unfaulted(self.inner.verify(false))
    }

    /// [`HashMap::verify`], and repairs every shard: finishes or undoes what a dead writer
    /// left, drops slots that point at nothing valid, recounts.
    pub fn repair(&self) -> Result<MapReport, MapError> {
        self.inner.unfaulted(self.inner.verify(true))
    }

    /// Calls `f` with the offset of every store block the map owns (root, tables, records),
    /// for store-wide leak detection. Takes the shard locks in turn; `f` must not call into
    /// the map.
    pub fn owned_blocks(&self, f: &mut dyn FnMut(u64)) -> Result<(), MapError> {
        self.inner.unfaulted(self.inner.owned_blocks(f))
    }
}

impl Store {
    /// Opens the hash map `name`, creating it (default options) if missing. Shorthand for
    /// `open_or_create_object::<HashMap>(name, &HashMapOptions::default())`.
    pub fn hash_map(&self, name: &str) -> Result<HashMap, MapError> {
        self.open_or_create_object(name, &HashMapOptions::default())
    }

    /// Opens the hash map `name`, creating it with `options` if missing.
    pub fn hash_map_with(&self, name: &str, options: &HashMapOptions) -> Result<HashMap, MapError> {
        self.open_or_create_object(name, options)
    }

    /// Opens an existing hash map only (`MapError::Directory(DirectoryError::NotFound)` if
    /// missing). Shorthand for `open_object::<HashMap>(name)`.
    pub fn open_hash_map(&self, name: &str) -> Result<HashMap, MapError> {
        self.open_object(name)
    }
}
