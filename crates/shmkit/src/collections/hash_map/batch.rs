//! Batched operations: many keys in one call (`get_many`, `contains_many`, `set_many`,
//! `remove_many`, and the zero-allocation `get_many_into`).
//!
//! Reads hash a window of keys first and ask the CPU to fetch each key's shard table slot,
//! then each slot's record (prefetch hints only: nothing read through a hint is trusted or
//! even used), and then look every key up with the same optimistic, seqlock-validated read a
//! single `get` uses. The cache misses of the keys in a window overlap instead of following
//! one another.
//!
//! Writes are grouped by shard: the batch is sorted by (shard, hash), each shard's lock is
//! taken once, and under it every item is one [`Writer::step`](super::write::Writer::step),
//! exactly what a single write does after taking the lock (its own migration batch, its own
//! odd sequence window, the same publication order), so crash safety and what readers can
//! see are those of single writes. Only one shard lock is held at a time.
//!
//! Guarantees:
//! - each key's result is one a single `get`/`contains_key` of that key could have returned
//!   at some moment during the call; there is no atomicity across keys (two keys of a batch
//!   may be read at different moments, a batch write is seen key by key);
//! - results are in the order of the keys, duplicates included;
//! - a batch write with a key given more than once ends with the last value given for it,
//!   as the same sets one after the other would (the earlier values are skipped);
//! - a key or value too large fails the whole batch before anything is written; an error
//!   met while writing (store full, a lock error, damage) stops the batch there: the items
//!   of the shards before it, and the items of its shard before the failing one, are written,
//!   the rest are not.
//!
//! ```
//! use shmkit::{Store, StoreOptions};
//! let name = format!("doc-map-batch-{}", std::process::id()); // unique to this process
//! let store = Store::create(&name, &StoreOptions::default()).unwrap();
//! let map = store.hash_map("m").unwrap();
//! map.set_many(&[(&b"a"[..], &b"1"[..]), (b"b", b"2"), (b"a", b"3")]).unwrap();
//! assert_eq!(
//!     map.get_many(&[&b"a"[..], b"zz", b"b"]).unwrap(),
//!     vec![Some(b"3".to_vec()), None, Some(b"2".to_vec())]
//! );
//! assert_eq!(map.contains_many(&[b"b", b"c"]).unwrap(), vec![true, false]);
//! // Zero allocations once the buffers have grown: values land in one buffer.
//! let (mut out, mut spans) = (Vec::new(), Vec::new());
//! map.get_many_into(&[b"b", b"a"], &mut out, &mut spans).unwrap();
//! assert_eq!(spans.iter().map(|s| &out[s.clone().unwrap()]).collect::<Vec<_>>(), [b"2", b"3"]);
//! assert_eq!(map.remove_many(&[&b"a"[..], b"a", b"nope"]).unwrap(), 1);
//! Store::remove(&name).unwrap();
//! ```

use super::layout::{GROUP_LEN, GROUP_SLOTS, Slot, TableHeader, ctrl_word_offset, slot_offset};
use super::lookup::check_checksum;
use super::write::{PutMode, Writer};
use super::{HashMap, MapError, MapInner};
use crate::sync::atomic::Ordering;
use std::ops::Range;

/// Keys whose slots and records are fetched ahead before the first of them is read.
const WINDOW: usize = 16;

/// One item of a batch write, placed: its shard, hash and position in the caller's batch.
#[derive(Clone, Copy)]
struct Planned {
    shard: u64,
    hash: u64,
    index: usize,
}

/// Items of one shard written under one hold of its lock, at most: a batch never keeps a
/// shard's readers (those that fell back to the lock) and writers waiting longer than this
/// many single writes would.
const MAX_ITEMS_PER_HOLD: usize = 64;
/// Bytes of values built before one hold of a lock, at most (a single value larger than
/// this goes alone): a batch needs little more free store than the same writes one by one.
const MAX_BYTES_PER_HOLD: u64 = 4 << 20;

/// `plan` (sorted by shard) cut into runs of one shard, each within the limits above;
/// `weight` is the bytes an item builds before the lock.
fn lock_holds(
    plan: &[Planned],
    weight: impl Fn(&Planned) -> u64,
) -> impl Iterator<Item = &[Planned]> {
    let mut rest = plan;
    std::iter::from_fn(move || {
        let first = rest.first()?;
        let mut bytes = 0u64;
        let mut end = 0;
        while let Some(p) = rest.get(end) {
            let w = weight(p);
            let full = end == MAX_ITEMS_PER_HOLD || (end > 0 && bytes + w > MAX_BYTES_PER_HOLD);
            if p.shard != first.shard || full {
                break;
            }
            bytes += w;
            end += 1;
        }
        let (hold, after) = rest.split_at(end);
        rest = after;
        Some(hold)
    })
}

impl MapInner {
    /// Prefetch hint for the home slot of `hash`; returns that slot's offset (0 if the
    /// shard or table looks wrong: the real lookup will say why).
    #[inline]
    fn prefetch_slot(&self, hash: u64) -> u64 {
        let Ok(shard) = self.shard(hash) else {
            return 0;
        };
        let table = shard.table.load(Ordering::Relaxed);
        let Ok(header) = self.region().get::<TableHeader>(table) else {
            return 0;
        };
        let buckets = header.buckets.load(Ordering::Relaxed);
        if !buckets.is_power_of_two() {
            return 0;
        }
        // Unvalidated numbers (a table freed and reused, or damage): bounded first, so a
        // glance at garbage costs nothing and never overflows.
        if buckets < GROUP_SLOTS || table > u64::MAX / 2 || buckets > u64::MAX / (2 * GROUP_LEN) {
            return 0;
        }
        let index = hash & (buckets - 1);
        // The control word the probe reads first, and the home slot (same page).
        self.region().prefetch(ctrl_word_offset(table, index));
        let slot = slot_offset(table, index);
        self.region().prefetch(slot);
        slot
    }

    /// Prefetch hint for the record the slot at `slot` points at now (an unvalidated
    /// glance: the offset is only handed to the CPU as a hint).
    #[inline]
    fn prefetch_record(&self, slot: u64) {
        if slot == 0 {
            return;
        }
        if let Ok(s) = self.region().get::<Slot>(slot) {
            let rec = s.rec.load(Ordering::Relaxed);
            if rec != 0 {
                self.region().prefetch(rec);
                self.region().prefetch(rec.wrapping_add(64));
            }
        }
    }

    /// Calls `each(i, hash, key)` for every key in order, a window at a time: the window's
    /// keys are hashed and their slots and records prefetched before the first is read.
    #[inline]
    fn for_each_prefetched<K: AsRef<[u8]>>(
        &self,
        keys: &[K],
        mut each: impl FnMut(usize, u64, &[u8]) -> Result<(), MapError>,
    ) -> Result<(), MapError> {
        let mut hashes = [0u64; WINDOW];
        let mut slots = [0u64; WINDOW];
        for (w, window) in keys.chunks(WINDOW).enumerate() {
            for (i, key) in window.iter().enumerate() {
                hashes[i] = self.hash(key.as_ref());
                slots[i] = self.prefetch_slot(hashes[i]);
            }
            for &slot in &slots[..window.len()] {
                self.prefetch_record(slot);
            }
            for (i, key) in window.iter().enumerate() {
                each(w * WINDOW + i, hashes[i], key.as_ref())?;
            }
        }
        Ok(())
    }

    /// Appends the value of `key` (hash `hash`) to `out`; its range there, `None` if
    /// absent. On an error `out` is left as it was.
    #[inline]
    fn read_appending(
        &self,
        hash: u64,
        key: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<Option<Range<usize>>, MapError> {
        let start = out.len();
        let copied = self.read_with(hash, key, |map, hit| {
            out.truncate(start);
            let Some(hit) = hit else {
                return Ok(None);
            };
            // `read_with` validated the hit before this runs, and `probe` bounded the length
            // by the store, so the buffer is never sized from garbage.
            out.resize(start + hit.val_len as usize, 0);
            map.region()
                .read_bytes(hit.value_offset(), &mut out[start..])?;
            Ok(Some((hit.rec, hit.checksum)))
        });
        let copied = match copied {
            Ok(c) => c,
            Err(e) => {
                out.truncate(start);
                return Err(e);
            }
        };
        let Some((rec, stored)) = copied else {
            out.truncate(start);
            return Ok(None);
        };
        if let Err(e) = check_checksum(rec, stored, hash, &out[start..]) {
            out.truncate(start);
            return Err(e.into());
        }
        Ok(Some(start..out.len()))
    }

    /// The batch's keys in (shard, hash) order, each key once (its last occurrence).
    fn plan<'k>(&self, n: usize, key: impl Fn(usize) -> &'k [u8]) -> Vec<Planned> {
        let mut plan: Vec<Planned> = (0..n)
            .map(|index| {
                let hash = self.hash(key(index));
                Planned {
                    shard: self.shard_index(hash),
                    hash,
                    index,
                }
            })
            .collect();
        // Stable: equal keys stay in the caller's order (keys are compared only when their
        // hashes are equal).
        plan.sort_by(|a, b| {
            (a.shard, a.hash)
                .cmp(&(b.shard, b.hash))
                .then_with(|| key(a.index).cmp(key(b.index)))
        });
        let mut keep = Vec::with_capacity(plan.len());
        for (i, p) in plan.iter().enumerate() {
            let superseded = plan
                .get(i + 1)
                .is_some_and(|next| next.hash == p.hash && key(next.index) == key(p.index));
            if !superseded {
                keep.push(*p);
            }
        }
        keep
    }

    /// Runs `op` for each planned item, one shard at a time, under one hold of its lock.
    fn write_planned(
        &self,
        plan: &[Planned],
        mut op: impl FnMut(&mut Writer<'_>, &Planned) -> Result<(), MapError>,
    ) -> Result<(), MapError> {
        for group in lock_holds(plan, |_| 0) {
            let shard = self.shard_at(group[0].shard)?;
            self.write_locked(shard, |w| {
                for p in group {
                    w.step(|w| op(w, p))?;
                }
                Ok(())
            })?;
        }
        Ok(())
    }

    fn set_many(&self, items: &[(&[u8], &[u8])]) -> Result<(), MapError> {
        let plan = self.plan(items.len(), |i| items[i].0);
        for group in lock_holds(&plan, |p| items[p.index].1.len() as u64) {
            // Large records are built before the lock, as a single write does.
            let mut sources = Vec::with_capacity(group.len());
            for p in group {
                let (k, v) = items[p.index];
                match self.prepare(p.hash, k, v) {
                    Ok(s) => sources.push(s),
                    Err(e) => {
                        sources.iter().for_each(|s| self.unused(s));
                        return Err(e);
                    }
                }
            }
            let mut published = 0;
            let result = self.write_planned(group, |w, p| {
                let key = items[p.index].0;
                w.put_one(p.hash, key, &sources[published], PutMode::Overwrite)?;
                published += 1;
                Ok(())
            });
            if let Err(e) = result {
                sources[published..].iter().for_each(|s| self.unused(s));
                return Err(e);
            }
        }
        Ok(())
    }

    fn remove_many(&self, keys: &[&[u8]]) -> Result<u64, MapError> {
        let plan = self.plan(keys.len(), |i| keys[i]);
        let mut removed = 0;
        self.write_planned(&plan, |w, p| {
            if w.remove_one(p.hash, keys[p.index], false)?.is_some() {
                removed += 1;
            }
            Ok(())
        })?;
        Ok(removed)
    }
}

/// Fails with the first key that is too long, or of the wrong size for a fixed-size map
/// (before anything is read or written).
fn check_keys<K: AsRef<[u8]>>(map: &MapInner, keys: &[K]) -> Result<(), MapError> {
    keys.iter().try_for_each(|k| map.check_key(k.as_ref()))
}

impl HashMap {
    /// The values of `keys`, in order (`None` for a missing key). Each result is one that a
    /// single [`HashMap::get`] could have returned at some moment during the call; keys are
    /// not read atomically together (see the module documentation of `batch`).
    pub fn get_many<K: AsRef<[u8]>>(&self, keys: &[K]) -> Result<Vec<Option<Vec<u8>>>, MapError> {
        check_keys(&self.inner, keys)?;
        let inner = &self.inner;
        let mut values = Vec::with_capacity(keys.len());
        let read = inner.for_each_prefetched(keys, |_, hash, key| {
            let mut value = Vec::new();
            let found = inner.read_appending(hash, key, &mut value)?;
            values.push(found.map(|_| value));
            Ok(())
        });
        inner.unfaulted(read)?;
        Ok(values)
    }

    /// Zero-allocation [`HashMap::get_many`]: clears `out` and `spans`, appends every found
    /// value to `out` and pushes, for each key in order, its value's range in `out` (`None`
    /// if missing). Once the two buffers are large enough, nothing is allocated. On an error
    /// (a damaged record for one key) the call stops there: `out` and `spans` then hold the
    /// keys before it.
    pub fn get_many_into<K: AsRef<[u8]>>(
        &self,
        keys: &[K],
        out: &mut Vec<u8>,
        spans: &mut Vec<Option<Range<usize>>>,
    ) -> Result<(), MapError> {
        out.clear();
        spans.clear();
        check_keys(&self.inner, keys)?;
        let inner = &self.inner;
        let read = inner.for_each_prefetched(keys, |_, hash, key| {
            spans.push(inner.read_appending(hash, key, out)?);
            Ok(())
        });
        inner.unfaulted(read)
    }

    /// For each of `keys` in order, whether it is present (each answer as a single
    /// [`HashMap::contains_key`] could have given it during the call).
    pub fn contains_many<K: AsRef<[u8]>>(&self, keys: &[K]) -> Result<Vec<bool>, MapError> {
        let mut out = Vec::with_capacity(keys.len());
        self.contains_many_into(keys, &mut out)?;
        Ok(out)
    }

    /// Zero-allocation [`HashMap::contains_many`]: clears `out`, then pushes one answer per
    /// key.
    pub fn contains_many_into<K: AsRef<[u8]>>(
        &self,
        keys: &[K],
        out: &mut Vec<bool>,
    ) -> Result<(), MapError> {
        out.clear();
        check_keys(&self.inner, keys)?;
        let inner = &self.inner;
        let read = inner.for_each_prefetched(keys, |_, hash, key| {
            out.push(inner.read_with(hash, key, |_, hit| Ok(hit.is_some()))?);
            Ok(())
        });
        inner.unfaulted(read)
    }

    /// Sets every `(key, value)` of `items`, taking each shard's lock once. A key given more
    /// than once ends with its last value. A key or value too large fails the batch before
    /// anything is written; other errors stop it part way (see the module documentation of
    /// `batch`). Not atomic: other processes see the items land one by one.
    pub fn set_many<K: AsRef<[u8]>, V: AsRef<[u8]>>(
        &self,
        items: &[(K, V)],
    ) -> Result<(), MapError> {
        // The caller's `as_ref` is asked once: every later step (size check, hash, sort,
        // build, publish) works on the same bytes.
        let items: Vec<(&[u8], &[u8])> = items
            .iter()
            .map(|(k, v)| (k.as_ref(), v.as_ref()))
            .collect();
        let _writing = self.inner.store.inner.enter_write();
        items
            .iter()
            .try_for_each(|(k, v)| self.inner.check_entry(k, v))?;
        self.inner.unfaulted(self.inner.set_many(&items))
    }

    /// Removes every key of `keys`, taking each shard's lock once; returns how many were
    /// present (a key given twice counts once, as two removals one after the other would).
    pub fn remove_many<K: AsRef<[u8]>>(&self, keys: &[K]) -> Result<u64, MapError> {
        let keys: Vec<&[u8]> = keys.iter().map(|k| k.as_ref()).collect();
        let _writing = self.inner.store.inner.enter_write();
        check_keys(&self.inner, &keys)?;
        self.inner.unfaulted(self.inner.remove_many(&keys))
    }
}

#[cfg(test)]
mod tests {
    use super::{MAX_BYTES_PER_HOLD, MAX_ITEMS_PER_HOLD, Planned, lock_holds};

    fn plan(shards: &[u64]) -> Vec<Planned> {
        shards
            .iter()
            .enumerate()
            .map(|(index, &shard)| Planned {
                shard,
                hash: index as u64,
                index,
            })
            .collect()
    }

    fn sizes<'p>(holds: impl Iterator<Item = &'p [Planned]>) -> Vec<usize> {
        holds.map(<[Planned]>::len).collect()
    }

    #[test]
    fn a_hold_is_one_shard_and_within_the_limits() {
        let mut shards = vec![0; 2 * MAX_ITEMS_PER_HOLD + 8];
        shards.extend([1, 1, 2]);
        let p = plan(&shards);
        assert_eq!(
            sizes(lock_holds(&p, |_| 0)),
            vec![MAX_ITEMS_PER_HOLD, MAX_ITEMS_PER_HOLD, 8, 2, 1]
        );
        // Large values: as many as fit the byte limit, and a value over it alone.
        let p = plan(&[0, 0, 0, 0]);
        let half = MAX_BYTES_PER_HOLD / 2;
        assert_eq!(sizes(lock_holds(&p, |_| half)), vec![2, 2]);
        assert_eq!(
            sizes(lock_holds(&p, |_| 2 * MAX_BYTES_PER_HOLD)),
            vec![1, 1, 1, 1]
        );
        assert_eq!(sizes(lock_holds(&[], |_| 0)), Vec::<usize>::new());
    }
}
