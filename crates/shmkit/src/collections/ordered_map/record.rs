//! Entry records: one allocator block per entry (header, key, value), written and
//! checksummed before the map's lock is taken (or under it, for `update` and `incr`),
//! immutable once a leaf names it.
//!
//! Invariants: a record is read at the lengths its leaf entry gives (the entry is part of a
//! validated node), each bounded by [`MAX_KEY_LEN`]/[`MAX_VALUE_LEN`] and both by the
//! record's block before a buffer is sized from them; a value handed out matched the record's checksum, which covers the map's
//! root offset, so a record of another map or a damaged one is an error, never a value.
//! Optimistic readers copy first and check after validating the leaf (a copy of a record
//! freed meanwhile is discarded, not reported as damage).
//!
//! ```
//! use shmkit::collections::ordered_map::layout::record_checksum;
//! assert_ne!(record_checksum(64, b"k", b"v"), record_checksum(128, b"k", b"v"));
//! ```

use super::error::OrderedMapError;
use super::layout::{
    MAX_KEY_LEN, MAX_VALUE_LEN, RECORD_HEADER_LEN, RecordHeader, key_prefix, record_checksum,
    record_len,
};
use super::node::Entry;
use crate::raw::Region;
use crate::store::Store;
use crate::sync::atomic::Ordering;

/// Allocates and writes the record of `key` and `value` for the map whose root is at `map`;
/// returns the entry that names it. The caller holds the sweep gate until the record is
/// published or freed.
pub(crate) fn build(
    store: &Store,
    map: u64,
    key: &[u8],
    value: &[u8],
) -> Result<Entry, OrderedMapError> {
    let (k, v) = (key.len() as u64, value.len() as u64);
    let rec = store.alloc(record_len(k, v))?;
    let region = &store.inner.region;
    let write = || -> Result<(), crate::raw::OutOfBounds> {
        let header: &RecordHeader = region.get(rec)?;
        header.key_len.store(k as u32, Ordering::Relaxed);
        header.val_len.store(v as u32, Ordering::Relaxed);
        header
            .checksum
            .store(record_checksum(map, key, value), Ordering::Relaxed);
        header.reserved.store(0, Ordering::Relaxed);
        region.write_bytes(rec + RECORD_HEADER_LEN, key)?;
        region.write_bytes(rec + RECORD_HEADER_LEN + k, value)
    };
    if let Err(e) = write() {
        let _ = store.free(rec);
        return Err(e.into());
    }
    Ok(Entry {
        prefix: key_prefix(key),
        rec,
        key_len: k as u32,
        val_len: v as u32,
    })
}

/// The lengths entry `e` gives its record, after checking they are within the limits and
/// fit the record's block: no buffer is sized from lengths that fail this.
fn lengths(store: &Store, e: &Entry) -> Result<(u64, u64), OrderedMapError> {
    let (k, v) = (u64::from(e.key_len), u64::from(e.val_len));
    let capacity = store.block_capacity(e.rec).unwrap_or(0);
    if k > MAX_KEY_LEN || v > MAX_VALUE_LEN || record_len(k, v) > capacity {
        return Err(OrderedMapError::corrupt(
            e.rec,
            format!("entry claims a key of {k} and a value of {v} bytes in a block of {capacity}"),
        ));
    }
    Ok((k, v))
}

/// Copies the value of the record `e` names into `out` (no check: the caller validates its
/// leaf and then calls [`verify_copy`]).
pub(crate) fn copy_value(
    store: &Store,
    e: &Entry,
    out: &mut Vec<u8>,
) -> Result<(), OrderedMapError> {
    let (k, v) = lengths(store, e)?;
    out.clear();
    out.resize(v as usize, 0);
    store
        .inner
        .region
        .read_bytes(e.rec + RECORD_HEADER_LEN + k, out)?;
    Ok(())
}

/// Copies the key of the record `e` names into `out`.
pub(crate) fn copy_key(store: &Store, e: &Entry, out: &mut Vec<u8>) -> Result<(), OrderedMapError> {
    let (k, _) = lengths(store, e)?;
    out.clear();
    out.resize(k as usize, 0);
    store
        .inner
        .region
        .read_bytes(e.rec + RECORD_HEADER_LEN, out)?;
    Ok(())
}

/// Appends the key and then the value of the record `e` names to `data` (one copy: they are
/// adjacent in the record).
pub(crate) fn copy_entry_into(
    store: &Store,
    e: &Entry,
    data: &mut Vec<u8>,
) -> Result<(), OrderedMapError> {
    let (k, v) = lengths(store, e)?;
    let at = data.len();
    data.resize(at + (k + v) as usize, 0);
    store
        .inner
        .region
        .read_bytes(e.rec + RECORD_HEADER_LEN, &mut data[at..])?;
    Ok(())
}

/// A record's header as copied with its key and value (before the copy is validated).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Sealed {
    key_len: u32,
    val_len: u32,
    checksum: u32,
}

/// Copies the header of the record `e` names (part of a copy the caller validates).
pub(crate) fn copy_header(region: &Region, e: &Entry) -> Result<Sealed, OrderedMapError> {
    let header: &RecordHeader = region.get(e.rec)?;
    Ok(Sealed {
        key_len: header.key_len.load(Ordering::Relaxed),
        val_len: header.val_len.load(Ordering::Relaxed),
        checksum: header.checksum.load(Ordering::Relaxed),
    })
}

/// True if `rec` holds a whole record of the map at `map` (lengths that fit its block, a
/// matching checksum): checked before freeing a record only an intent names, so a damaged
/// intent never frees another object's block.
pub(crate) fn is_record_of(store: &Store, map: u64, rec: u64) -> bool {
    let check = || -> Result<(), OrderedMapError> {
        let header: &RecordHeader = store.inner.region.get(rec)?;
        let e = Entry {
            prefix: 0,
            rec,
            key_len: header.key_len.load(Ordering::Relaxed),
            val_len: header.val_len.load(Ordering::Relaxed),
        };
        let sealed = copy_header(&store.inner.region, &e)?;
        let (mut key, mut value) = (Vec::new(), Vec::new());
        copy_key(store, &e, &mut key)?;
        copy_value(store, &e, &mut value)?;
        verify_copy(map, &e, &sealed, &key, &value)
    };
    check().is_ok()
}

/// Checks a validated copy of a record (its header, key and value) against its entry and
/// its checksum as a record of the map at `map`.
pub(crate) fn verify_copy(
    map: u64,
    e: &Entry,
    sealed: &Sealed,
    key: &[u8],
    value: &[u8],
) -> Result<(), OrderedMapError> {
    let (k, v) = (sealed.key_len, sealed.val_len);
    if k != e.key_len || v != e.val_len {
        return Err(OrderedMapError::corrupt(
            e.rec,
            format!(
                "record lengths ({k}, {v}) differ from its entry's ({}, {})",
                e.key_len, e.val_len
            ),
        ));
    }
    if sealed.checksum != record_checksum(map, key, value) {
        return Err(OrderedMapError::corrupt(
            e.rec,
            "record does not match its checksum (damaged, or not this map's)",
        ));
    }
    Ok(())
}
