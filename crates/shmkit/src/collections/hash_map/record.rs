//! Records in their two formats: where a key, its value and the value's checksum are, and
//! how a record is written. Everything else reads and writes records through this module,
//! so the rest of the map does not care which format a map uses.
//!
//! - **Default maps** (layout version 4): a record is an allocator block of its own,
//!   [`RecordHeader`] (key length, checksum, value length), the key, zero pad to 8, the value.
//! - **Fixed-size maps** (layout version 5, [`FixedSize`] chosen at creation): every key has
//!   the same length and every value the same length, so a record carries no lengths: a
//!   reserved word (0), the checksum, the key, zero pad to 8, the value, zero pad to 8
//!   ([`fixed_record_len`] bytes). Records live in the shard's slab (see `slab`).
//!
//! Invariants: in both formats the checksum is the 32-bit word at offset 4 and the value is
//! 8-aligned (a counter's value is an atomic word); a record is sealed with its checksum
//! before anything can publish it; a view's lengths are what the record says (default) or
//! what the map says (fixed), and nothing sized from them is trusted before the read that
//! produced them validates.
//!
//! ```
//! use shmkit::{FixedSize, HashMapOptions, Store, StoreOptions};
//! let name = format!("doc-map-record-{}", std::process::id()); // unique to this process
//! let store = Store::create(&name, &StoreOptions::default()).unwrap();
//! let options = HashMapOptions {
//!     fixed_size: Some(FixedSize { key_len: 8, value_len: 16 }),
//!     ..HashMapOptions::default()
//! };
//! let map = store.hash_map_with("ids", &options).unwrap();
//! map.set(&7u64.to_le_bytes(), &[1u8; 16]).unwrap();
//! assert_eq!(map.get(&7u64.to_le_bytes()).unwrap(), Some(vec![1u8; 16]));
//! // A key or value of another size is refused with a typed error.
//! assert!(map.set(b"short", &[1u8; 16]).is_err());
//! assert!(map.set(&8u64.to_le_bytes(), b"short").is_err());
//! Store::remove(&name).unwrap();
//! ```

use super::layout::{
    FIXED_RECORD_HEADER_LEN, MAX_FIXED_RECORD, RECORD_HEADER_LEN, RecordHeader, fixed_record_len,
    record_checksum, record_len, value_offset,
};
use super::{Fault, MapError, MapInner};
use crate::sync::atomic::{AtomicU32, Ordering};

/// The sizes of a fixed-size map's keys and values (chosen at creation, kept for life).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FixedSize {
    /// Length of every key, at least 1.
    pub key_len: u32,
    /// Length of every value (0 makes the map a set of keys).
    pub value_len: u32,
}

impl FixedSize {
    /// Bytes of one record of these sizes, or an error if the sizes cannot make a map.
    pub fn record_len(&self) -> Result<u64, MapError> {
        let len = fixed_record_len(u64::from(self.key_len), u64::from(self.value_len));
        if self.key_len == 0 || len > MAX_FIXED_RECORD {
            return Err(MapError::InvalidOptions(format!(
                "fixed sizes need a key of at least 1 byte and a record of at most \
                 {MAX_FIXED_RECORD} bytes; keys of {} and values of {} bytes make {len}",
                self.key_len, self.value_len
            )));
        }
        Ok(len)
    }
}

/// A fixed-size map's record shape, as a process uses it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct FixedShape {
    pub(crate) key_len: u64,
    pub(crate) value_len: u64,
    /// Bytes of one record ([`fixed_record_len`]).
    pub(crate) stride: u64,
    /// Division by `stride` (locating a record in its slab chunk).
    pub(crate) divide: super::slab::ExactDivision,
}

impl FixedShape {
    pub(crate) fn new(size: FixedSize) -> Result<FixedShape, MapError> {
        let stride = size.record_len()?;
        Ok(FixedShape {
            key_len: u64::from(size.key_len),
            value_len: u64::from(size.value_len),
            stride,
            divide: super::slab::ExactDivision::new(stride),
        })
    }

    /// Offset of the value inside a record.
    #[inline]
    pub(crate) fn value_in_record(&self) -> u64 {
        FIXED_RECORD_HEADER_LEN + self.key_len.next_multiple_of(8)
    }
}

/// Where one record's parts are (as read: trust it only as far as the read it is part of).
#[derive(Clone, Copy, Debug)]
pub(crate) struct RecordView {
    pub(crate) key_at: u64,
    pub(crate) key_len: u64,
    pub(crate) value_at: u64,
    pub(crate) val_len: u64,
    pub(crate) checksum: u32,
}

impl MapInner {
    /// The parts of the record at `rec` (its header bounds-checked; the key and value are
    /// not: the caller checks what it reads).
    #[inline(always)]
    pub(crate) fn record_view(&self, rec: u64) -> Result<RecordView, Fault> {
        let region = self.region();
        match &self.fixed {
            None => {
                let header: &RecordHeader = region.get(rec)?;
                let key_len = u64::from(header.key_len.load(Ordering::Relaxed));
                Ok(RecordView {
                    key_at: rec + RECORD_HEADER_LEN,
                    key_len,
                    value_at: value_offset(rec, key_len),
                    val_len: header.val_len.load(Ordering::Relaxed),
                    checksum: header.checksum.load(Ordering::Relaxed),
                })
            }
            Some(fixed) => {
                let checksum: &AtomicU32 = region.get(rec + 4)?;
                Ok(RecordView {
                    key_at: rec + FIXED_RECORD_HEADER_LEN,
                    key_len: fixed.key_len,
                    value_at: rec + fixed.value_in_record(),
                    val_len: fixed.value_len,
                    checksum: checksum.load(Ordering::Relaxed),
                })
            }
        }
    }

    /// The checksum word of the record at `rec` (offset 4 in both formats).
    pub(crate) fn checksum_word(&self, rec: u64) -> Result<&AtomicU32, Fault> {
        Ok(self.region().get(rec + 4)?)
    }

    /// Bytes a record of this map with a key of `key_len` and a value of `val_len` takes
    /// (what a shard's `bytes` counts).
    #[inline]
    pub(crate) fn record_bytes(&self, key_len: u64, val_len: u64) -> u64 {
        match &self.fixed {
            None => record_len(key_len, val_len),
            Some(fixed) => fixed.stride,
        }
    }

    /// Checks a key's length against the map's (any length up to [`super::MAX_KEY_LEN`]
    /// in a default map, exactly the fixed length in a fixed-size one).
    #[inline]
    pub(crate) fn check_key(&self, key: &[u8]) -> Result<(), MapError> {
        match &self.fixed {
            None => super::check_key(key),
            Some(fixed) if key.len() as u64 == fixed.key_len => Ok(()),
            Some(fixed) => Err(MapError::WrongKeySize {
                len: key.len() as u64,
                expected: fixed.key_len,
            }),
        }
    }

    /// Checks a key and a value for a write ([`MapInner::check_key`], and the value's
    /// length likewise).
    #[inline]
    pub(crate) fn check_entry(&self, key: &[u8], value: &[u8]) -> Result<(), MapError> {
        match &self.fixed {
            None => super::check_value(key, value),
            Some(fixed) => {
                self.check_key(key)?;
                if value.len() as u64 != fixed.value_len {
                    return Err(MapError::WrongValueSize {
                        len: value.len() as u64,
                        expected: fixed.value_len,
                    });
                }
                Ok(())
            }
        }
    }

    /// Checks that the map can hold counters (`incr_*`): any map of any sizes, a fixed-size
    /// map only if its values are 8 bytes.
    pub(crate) fn check_counter(&self) -> Result<(), MapError> {
        match &self.fixed {
            Some(fixed) if fixed.value_len != 8 => Err(MapError::WrongValueSize {
                len: 8,
                expected: fixed.value_len,
            }),
            _ => Ok(()),
        }
    }

    /// Writes the record for `key` (hash `hash`) → `value` into the unpublished memory at
    /// `offset`, sealed with its checksum. (The caller checked the lengths against the map.)
    pub(crate) fn write_record(
        &self,
        offset: u64,
        hash: u64,
        key: &[u8],
        value: &[u8],
    ) -> Result<(), MapError> {
        let region = self.region();
        let checksum = record_checksum(hash, value);
        let key_at = match &self.fixed {
            None => {
                let header: &RecordHeader = region.get(offset)?;
                header.key_len.store(key.len() as u32, Ordering::Relaxed);
                header.checksum.store(checksum, Ordering::Relaxed);
                header.val_len.store(value.len() as u64, Ordering::Relaxed);
                offset + RECORD_HEADER_LEN
            }
            Some(_) => {
                // The first 8 bytes held the free-list link: overwritten whole.
                region.write_bytes(offset, &[0u8; 4])?;
                self.checksum_word(offset)?
                    .store(checksum, Ordering::Relaxed);
                offset + FIXED_RECORD_HEADER_LEN
            }
        };
        region.write_bytes(key_at, key)?;
        let pad = key.len().next_multiple_of(8) - key.len();
        if pad > 0 {
            region.write_bytes(key_at + key.len() as u64, &[0u8; 8][..pad])?;
        }
        let value_at = key_at + (key.len() as u64).next_multiple_of(8);
        region.write_bytes(value_at, value)?;
        if self.fixed.is_some() {
            let pad = value.len().next_multiple_of(8) - value.len();
            if pad > 0 {
                region.write_bytes(value_at + value.len() as u64, &[0u8; 8][..pad])?;
            }
        }
        Ok(())
    }

    /// The key of the record at `rec` (under the lock, or inside a validated read).
    pub(crate) fn read_key(&self, rec: u64) -> Result<Vec<u8>, MapError> {
        let view = self.record_view(rec)?;
        if view.key_at.saturating_add(view.key_len) > self.region().committed_len() {
            return Err(MapError::corrupt(rec, "record key runs past the store"));
        }
        let mut out = vec![0u8; view.key_len as usize];
        self.region().read_bytes(view.key_at, &mut out)?;
        Ok(out)
    }
}
