//! Item records: one allocator block per item, built and hashed before the queue's lock is
//! taken, sealed (sequence number and checksum) under it, immutable once an entry names it.
//!
//! Invariants: a record is read only after checking that its offset is an allocated (in-use)
//! block of the store and that the lengths its header gives are within
//! [`MAX_KEY_LEN`]/[`MAX_VALUE_LEN`] and fit that block, so a damaged entry or header yields
//! an error, never a read of a freed block, a wild access or an allocation sized from
//! garbage; a record handed out (popped, peeked, listed) matched its checksum, which covers
//! its queue's root offset, so a record of another queue (a stale entry naming a block that
//! queue reused) is never handed out or freed as this queue's.
//!
//! ```
//! use shmkit::collections::priority_queue::layout::{content_hash, seal};
//! // The checksum depends on the queue, the key, the value, where one ends, and the
//! // sequence number.
//! let h = content_hash(4096, b"key", b"value");
//! assert_ne!(h, content_hash(4096, b"keyv", b"alue"));
//! assert_ne!(h, content_hash(8192, b"key", b"value"));
//! assert_ne!(seal(h, 1), seal(h, 2));
//! ```

use super::error::PriorityQueueError;
use super::layout::{
    MAX_KEY_LEN, MAX_VALUE_LEN, RECORD_HEADER_LEN, RecordHeader, content_hash, key_prefix,
    record_len, seal,
};
use crate::store::Store;
use crate::store::alloc::{BlockHeader, TAG_USED};
use crate::store::alloc_classes::BLOCK_HEADER_LEN;
use crate::sync::atomic::Ordering;

/// A record written outside the lock, not yet sealed or published.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Built {
    /// Offset of the record block.
    pub(crate) rec: u64,
    /// [`content_hash`] of its key and value.
    pub(crate) hash: u64,
    /// [`key_prefix`] of its key.
    pub(crate) prefix: u64,
    /// Key plus value bytes.
    pub(crate) bytes: u64,
}

/// What a full check of a record found.
#[derive(Clone, Debug)]
pub(crate) struct Checked {
    pub(crate) key: Vec<u8>,
    pub(crate) val_len: u64,
    pub(crate) seq: u64,
}

/// Allocates and writes the record of `key` and `value` for the queue whose root is at
/// `queue` (unsealed: seq and checksum zero). The caller holds the sweep gate until the
/// record is published or freed.
pub(crate) fn build(
    store: &Store,
    queue: u64,
    key: &[u8],
    value: &[u8],
) -> Result<Built, PriorityQueueError> {
    let (k, v) = (key.len() as u64, value.len() as u64);
    let rec = store.alloc(record_len(k, v))?;
    let region = &store.inner.region;
    let write = || -> Result<(), crate::raw::OutOfBounds> {
        let header: &RecordHeader = region.get(rec)?;
        header.key_len.store(k as u32, Ordering::Relaxed);
        header.val_len.store(v as u32, Ordering::Relaxed);
        header.checksum.store(0, Ordering::Relaxed);
        header.reserved.store(0, Ordering::Relaxed);
        header.seq.store(0, Ordering::Relaxed);
        region.write_bytes(rec + RECORD_HEADER_LEN, key)?;
        region.write_bytes(rec + RECORD_HEADER_LEN + k, value)
    };
    if let Err(e) = write() {
        let _ = store.free(rec);
        return Err(e.into());
    }
    Ok(Built {
        rec,
        hash: content_hash(queue, key, value),
        prefix: key_prefix(key),
        bytes: k + v,
    })
}

/// Writes the record's sequence number and checksum (under the lock, before it is
/// published).
pub(crate) fn seal_record(
    store: &Store,
    built: &Built,
    seq: u64,
) -> Result<(), PriorityQueueError> {
    let header: &RecordHeader = store.inner.region.get(built.rec)?;
    header.seq.store(seq, Ordering::Release);
    header
        .checksum
        .store(seal(built.hash, seq), Ordering::Release);
    Ok(())
}

/// The key and value lengths the header of the record at `rec` gives, after checking that
/// `rec` is an allocated block (not a free or bogus one) and that the lengths are within the
/// limits and fit the block: nothing is read or allocated from a header that fails this.
pub(crate) fn lengths(store: &Store, rec: u64) -> Result<(u64, u64), PriorityQueueError> {
    let region = &store.inner.region;
    if rec == 0 || rec % 8 != 0 {
        return Err(PriorityQueueError::corrupt(
            rec,
            format!("record offset {rec}"),
        ));
    }
    let block: &BlockHeader = region.get(rec.saturating_sub(BLOCK_HEADER_LEN))?;
    if block.tag.load(Ordering::Acquire) != TAG_USED {
        return Err(PriorityQueueError::corrupt(
            rec,
            format!("record {rec} is not an allocated block"),
        ));
    }
    let capacity = store
        .block_capacity(rec)
        .map_err(|e| PriorityQueueError::corrupt(rec, format!("record {rec}: {e}")))?;
    let header: &RecordHeader = region.get(rec)?;
    let k = u64::from(header.key_len.load(Ordering::Relaxed));
    let v = u64::from(header.val_len.load(Ordering::Relaxed));
    if k > MAX_KEY_LEN || v > MAX_VALUE_LEN || record_len(k, v) > capacity {
        return Err(PriorityQueueError::corrupt(
            rec,
            format!("record claims a key of {k} and a value of {v} bytes in a block of {capacity}"),
        ));
    }
    Ok((k, v))
}

/// Copies the key of the record at `rec` into `out` (replacing its contents), after the
/// checks of [`lengths`].
pub(crate) fn read_key(
    store: &Store,
    rec: u64,
    out: &mut Vec<u8>,
) -> Result<(), PriorityQueueError> {
    let (k, _) = lengths(store, rec)?;
    out.clear();
    out.resize(k as usize, 0);
    store
        .inner
        .region
        .read_bytes(rec + RECORD_HEADER_LEN, out)?;
    Ok(())
}

/// Copies key and value of the record at `rec` out (after the checks of [`lengths`]) and
/// checks them against its checksum as a record of the queue whose root is at `queue`;
/// returns its sequence number.
pub(crate) fn read(
    store: &Store,
    queue: u64,
    rec: u64,
    key: &mut Vec<u8>,
    value: &mut Vec<u8>,
) -> Result<u64, PriorityQueueError> {
    let region = &store.inner.region;
    let (k, v) = lengths(store, rec)?;
    key.clear();
    key.resize(k as usize, 0);
    value.clear();
    value.resize(v as usize, 0);
    region.read_bytes(rec + RECORD_HEADER_LEN, key)?;
    region.read_bytes(rec + RECORD_HEADER_LEN + k, value)?;
    let header: &RecordHeader = region.get(rec)?;
    let seq = header.seq.load(Ordering::Acquire);
    if seal(content_hash(queue, key, value), seq) != header.checksum.load(Ordering::Acquire) {
        key.clear();
        value.clear();
        return Err(PriorityQueueError::corrupt(
            rec,
            "record does not match its checksum (damaged, or not this queue's)",
        ));
    }
    Ok(seq)
}

/// The full check of a record named by an entry: an allocated block large enough for the
/// lengths its header gives, matching its checksum as a record of the queue whose root is
/// at `queue`. `value` is scratch space.
pub(crate) fn check(
    store: &Store,
    queue: u64,
    rec: u64,
    value: &mut Vec<u8>,
) -> Result<Checked, String> {
    let mut key = Vec::new();
    let seq = read(store, queue, rec, &mut key, value).map_err(|e| e.to_string())?;
    Ok(Checked {
        val_len: value.len() as u64,
        key,
        seq,
    })
}
