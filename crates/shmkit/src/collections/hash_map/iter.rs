//! Weakly consistent iteration: shard by shard, each shard copied at one consistent moment
//! (an optimistic copy validated by the shard's sequence, or a copy under its lock when
//! writers keep interfering).
//!
//! Invariant: a key lives in exactly one shard and appears once in a consistent copy of it,
//! so an entry present for the whole iteration is yielded exactly once.
//!
//! Once a copy is known consistent, every entry in it is checked before it is handed out: its
//! key must hash to its slot's tag, and (when values are copied) its value must match the
//! record's checksum. A mismatch is damage; the shard's copy fails with
//! [`MapError::Corrupt`] (and the iterator ends) rather than yield the entry.
//!
//! ```
//! use shmkit::{Store, StoreOptions};
//! let name = format!("doc-map-iter-{}", std::process::id()); // unique to this process
//! let store = Store::create(&name, &StoreOptions::default()).unwrap();
//! let map = store.hash_map("m").unwrap();
//! map.set(b"a", b"1").unwrap();
//! map.set(b"b", b"2").unwrap();
//! let mut items: Vec<_> = map.iter().map(|r| r.unwrap()).collect();
//! items.sort();
//! assert_eq!(items, vec![(b"a".to_vec(), b"1".to_vec()), (b"b".to_vec(), b"2".to_vec())]);
//! assert_eq!(map.keys().count(), 2);
//! Store::remove(&name).unwrap();
//! ```

use super::layout::{ShardHeader, is_live, record_checksum, tag_matches};
use super::lookup::Watch;
use super::{MapError, MapInner};
use crate::sync::atomic::Ordering;

/// Optimistic copies of a shard before taking its lock.
const SNAPSHOT_TRIES: u32 = 3;

/// What to copy out of each entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Want {
    Keys,
    Values,
    Both,
}

type Entry = (Vec<u8>, Vec<u8>);

/// An entry as copied, with what it is checked against once the copy is known consistent.
struct Copied {
    key: Vec<u8>,
    value: Vec<u8>,
    rec: u64,
    tag: u64,
    checksum: u32,
}

/// Iterator over `(key, value)` pairs; see [`super::HashMap::iter`].
pub struct Iter<'a> {
    map: &'a MapInner,
    want: Want,
    next_shard: u64,
    pending: std::vec::IntoIter<Entry>,
    failed: bool,
}

/// Iterator over keys; see [`super::HashMap::keys`].
pub struct Keys<'a>(pub(crate) Iter<'a>);

/// Iterator over values; see [`super::HashMap::values`].
pub struct Values<'a>(pub(crate) Iter<'a>);

impl<'a> Iter<'a> {
    pub(crate) fn new(map: &'a MapInner, want: Want) -> Iter<'a> {
        Iter {
            map,
            want,
            next_shard: 0,
            pending: Vec::new().into_iter(),
            failed: false,
        }
    }
}

impl Iterator for Iter<'_> {
    type Item = Result<(Vec<u8>, Vec<u8>), MapError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(entry) = self.pending.next() {
                return Some(Ok(entry));
            }
            if self.failed || self.next_shard > self.map.shard_mask {
                return None;
            }
            let index = self.next_shard;
            self.next_shard += 1;
            match self
                .map
                .unfaulted(self.map.snapshot_shard(index, self.want))
            {
                Ok(entries) => self.pending = entries.into_iter(),
                Err(e) => {
                    self.failed = true;
                    return Some(Err(e));
                }
            }
        }
    }
}

impl Iterator for Keys<'_> {
    type Item = Result<Vec<u8>, MapError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.0.next().map(|r| r.map(|(k, _)| k))
    }
}

impl Iterator for Values<'_> {
    type Item = Result<Vec<u8>, MapError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.0.next().map(|r| r.map(|(_, v)| v))
    }
}

impl MapInner {
    /// A consistent copy of one shard's entries.
    pub(crate) fn snapshot_shard(&self, index: u64, want: Want) -> Result<Vec<Entry>, MapError> {
        let shard = self.shard_at(index)?;
        for _ in 0..SNAPSHOT_TRIES {
            let Some(start) = shard.seq.read_begin() else {
                std::thread::yield_now();
                continue;
            };
            let watch = Some((&shard.seq, start));
            let copy = self.copy_shard(shard, want, watch);
            if shard.seq.read_validate(start) {
                return self.checked_entries(copy?, want);
            }
        }
        let copy = {
            let _guard = self.lock_shard(shard)?;
            self.copy_shard(shard, want, None)?
        };
        self.checked_entries(copy, want)
    }

    /// The entries of a consistent copy, each checked against its slot's tag and (if values
    /// were copied) its record's checksum.
    fn checked_entries(&self, copy: Vec<Copied>, want: Want) -> Result<Vec<Entry>, MapError> {
        let mut out = Vec::with_capacity(copy.len());
        for c in copy {
            let hash = self.hash(&c.key);
            if !tag_matches(c.tag, hash) {
                return Err(MapError::corrupt(
                    c.rec,
                    "record key does not hash to its slot's tag",
                ));
            }
            if want != Want::Keys && record_checksum(hash, &c.value) != c.checksum {
                return Err(MapError::corrupt(
                    c.rec,
                    "record checksum mismatch (the value was damaged)",
                ));
            }
            let key = if want == Want::Values {
                Vec::new()
            } else {
                c.key
            };
            out.push((key, c.value));
        }
        Ok(out)
    }

    /// Copies the shard's live entries (keys always: the checks need them; values unless
    /// `want` is keys only).
    fn copy_shard(
        &self,
        shard: &ShardHeader,
        want: Want,
        watch: Watch<'_>,
    ) -> Result<Vec<Copied>, MapError> {
        let valid = || watch.is_none_or(|(seq, start)| seq.read_validate(start));
        let changed = || MapError::corrupt(0, "shard changed while being copied");
        let mut out = Vec::new();
        let current = shard.table.load(Ordering::Acquire);
        let old = shard.old_table.load(Ordering::Acquire);
        for table in [current, old] {
            if table == 0 {
                continue;
            }
            let table = self.table(table)?;
            if !valid() {
                return Err(changed());
            }
            for slot in table.slots() {
                let tag = slot.tag.load(Ordering::Acquire);
                if !is_live(tag) {
                    continue;
                }
                let rec = slot.rec.load(Ordering::Acquire);
                if rec == 0 {
                    continue; // an insert a dead writer left unfinished (repair drops it)
                }
                let view = self.record_view(rec)?;
                let (key_len, val_len, checksum) = (view.key_len, view.val_len, view.checksum);
                // The lengths size buffers: trust them only once the sequence says so (and
                // never beyond what the store could hold, in case it is damaged).
                if !valid() {
                    return Err(changed());
                }
                self.region().check_range(view.key_at, key_len)?;
                self.region().check_range(view.value_at, val_len)?;
                let mut key = vec![0u8; key_len as usize];
                self.region().read_bytes(view.key_at, &mut key)?;
                let mut value = Vec::new();
                if want != Want::Keys {
                    value.resize(val_len as usize, 0);
                    self.region().read_bytes(view.value_at, &mut value)?;
                }
                out.push(Copied {
                    key,
                    value,
                    rec,
                    tag,
                    checksum,
                });
            }
        }
        Ok(out)
    }
}
