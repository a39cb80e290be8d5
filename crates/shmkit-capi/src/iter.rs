//! Iteration over a hash map: a cursor handle that copies one shard at a time (so memory is
//! bounded by a shard) and hands entries out into the caller's buffers.
//!
//! Weakly consistent, as the core's iterator: an entry present for the whole iteration is
//! returned exactly once; entries added or removed meanwhile may or may not be; each shard
//! is copied at one consistent moment.
#![allow(unsafe_code)] // `#[unsafe(no_mangle)]`, and each function's one argument conversion

use crate::ffi_ptr::{self, into_handle};
use crate::hash_map::shmkit_hash_map;
use crate::status::{CError, Status, entry};
use shmkit::HashMap;
use shmkit::collections::hash_map::Entry;
use shmkit::value::{ValueRef, decode_ref};
use std::sync::{Mutex, TryLockError};

/// An iterator over a map's entries (opaque). Made by `shmkit_hash_map_iter_new`, freed by
/// `shmkit_hash_map_iter_free`. It keeps its map (and store) attached. One cursor: meant for
/// one thread at a time; a call while another thread is inside a call on the same iterator
/// returns `SHMKIT_STATUS_BUSY` (no entry is lost: call again).
pub struct shmkit_hash_map_iter {
    map: HashMap,
    str_keys: bool,
    /// The cursor, which each `shmkit_hash_map_iter_next` changes: behind a lock so that
    /// calls from two threads at once are an error code, not a data race.
    cursor: Mutex<Cursor>,
}

/// Where an iteration is.
struct Cursor {
    next_shard: u32,
    entries: std::vec::IntoIter<Entry>,
    /// The entry the caller's buffers were too small for, kept for the next call.
    pending: Option<Entry>,
}

impl Cursor {
    /// The next entry of `map`, copying the next shard when the current one is used up.
    fn next_entry(&mut self, map: &HashMap) -> Result<Option<Entry>, CError> {
        if let Some(e) = self.pending.take() {
            return Ok(Some(e));
        }
        loop {
            if let Some(e) = self.entries.next() {
                return Ok(Some(e));
            }
            if self.next_shard >= map.shard_count() {
                return Ok(None);
            }
            let shard = map.shard_entries(self.next_shard, false)?;
            self.next_shard += 1;
            self.entries = shard.into_iter();
        }
    }
}

/// Starts an iteration over `map`'s entries; `*out` is a new iterator handle. On failure
/// `*out` is set to NULL (unless `out` itself is NULL).
///
/// # Safety
/// `map` is NULL or a live map handle; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_hash_map_iter_new(
    map: *const shmkit_hash_map,
    out: *mut *mut shmkit_hash_map_iter,
) -> Status {
    entry(|| {
        // SAFETY: this function's contract is that of `out_handle` (no inputs: the map
        // handle is the library's memory, not the caller's) and `handle`.
        let (out, map) = unsafe {
            (
                ffi_ptr::out_handle(out, "the iterator out-parameter")?,
                ffi_ptr::handle(map, "the map")?,
            )
        };
        out.write(into_handle(shmkit_hash_map_iter {
            map: map.map.clone(),
            str_keys: map.str_keys,
            cursor: Mutex::new(Cursor {
                next_shard: 0,
                entries: Vec::new().into_iter(),
                pending: None,
            }),
        }));
        Ok(Status::Ok)
    })
}

/// Copies the next entry's key into `key_buf` and its value (the stored bytes, as
/// `shmkit_hash_map_get` returns them) into `value_buf`, and sets `*key_len` and
/// `*value_len`. `SHMKIT_STATUS_END` when there are no more entries.
/// `SHMKIT_STATUS_BUFFER_TOO_SMALL` if either does not fit: both lengths are set to what
/// is needed, nothing is copied, and the next call returns the same entry. Through a
/// handle opened with `SHMKIT_MAP_STR_KEYS` the key is the text of a str key;
/// `SHMKIT_STATUS_WRONG_TYPE` for an entry with a key of another type (that entry is
/// skipped: call again for the next). `SHMKIT_STATUS_BUSY` if another thread is inside a
/// call on the same iterator (nothing happened: call again).
///
/// The key is not NUL-terminated (pass a buffer one byte longer and add the NUL to use it
/// as a C string).
///
/// # Safety
/// `iter` is NULL or a live iterator handle (not being freed by another thread); each
/// buffer is valid for writes of its capacity (or NULL with 0); `key_len` and `value_len`
/// are NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_hash_map_iter_next(
    iter: *const shmkit_hash_map_iter,
    key_buf: *mut u8,
    key_cap: usize,
    key_len: *mut usize,
    value_buf: *mut u8,
    value_cap: usize,
    value_len: *mut usize,
) -> Status {
    entry(|| {
        // SAFETY: this function's contract is that of `handle`, `out_buf` (twice) and `out`
        // (twice); no inputs (what is copied out is the library's own memory).
        let (iter, mut key_buf, key_len, mut value_buf, value_len) = unsafe {
            (
                ffi_ptr::handle(iter, "the iterator")?,
                ffi_ptr::out_buf(key_buf, key_cap, &[])?,
                ffi_ptr::out(key_len, "the key length out-parameter", &[])?,
                ffi_ptr::out_buf(value_buf, value_cap, &[])?,
                ffi_ptr::out(value_len, "the value length out-parameter", &[])?,
            )
        };
        let mut cursor = match iter.cursor.try_lock() {
            Ok(cursor) => cursor,
            // A panic inside an earlier call (caught: `SHMKIT_STATUS_PANIC`) left a valid
            // cursor (each field is changed by one assignment); at worst the entry that call
            // was handing out is skipped.
            Err(TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
            Err(TryLockError::WouldBlock) => {
                return Err(CError::new(
                    Status::Busy,
                    "another thread is inside a call on this iterator; an iterator is for one thread at a time",
                ));
            }
        };
        let Some((key, value)) = cursor.next_entry(&iter.map)? else {
            return Ok(Status::End);
        };
        let shown: &[u8] = if iter.str_keys {
            match decode_ref(&key) {
                Ok(ValueRef::Str(s)) => s.as_bytes(),
                _ => {
                    return Err(CError::new(
                        Status::WrongType,
                        "an entry's key is not a str (skipped; the handle was opened with SHMKIT_MAP_STR_KEYS)",
                    ));
                }
            }
        } else {
            &key
        };
        key_len.write(shown.len());
        value_len.write(value.len());
        if shown.len() > key_buf.capacity() || value.len() > value_buf.capacity() {
            let message = format!(
                "the entry needs {} key bytes and {} value bytes, the buffers hold {} and {}",
                shown.len(),
                value.len(),
                key_buf.capacity(),
                value_buf.capacity()
            );
            cursor.pending = Some((key, value));
            return Err(CError::new(Status::BufferTooSmall, message));
        }
        key_buf.fill(shown);
        value_buf.fill(&value);
        Ok(Status::Ok)
    })
}

/// Frees an iterator; NULL is a no-op.
///
/// # Safety
/// `iter` is NULL or an iterator handle not yet freed; it is not used again.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_hash_map_iter_free(iter: *mut shmkit_hash_map_iter) {
    let _ = entry(|| {
        // SAFETY: this function's contract is `free_handle`'s.
        unsafe { ffi_ptr::free_handle(iter) };
        Ok(Status::Ok)
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_call_while_another_thread_is_inside_is_busy_and_loses_nothing() {
        let name = shmkit_testkit::unique_name("test", "capi-iter-busy");
        let store = shmkit::Store::open_or_create(&name, &Default::default()).unwrap();
        let map = store.hash_map("m").unwrap();
        map.set(b"k", b"v").unwrap();
        let it = shmkit_hash_map_iter {
            map,
            str_keys: false,
            cursor: Mutex::new(Cursor {
                next_shard: 0,
                entries: Vec::new().into_iter(),
                pending: None,
            }),
        };
        let (mut key, mut value) = ([0u8; 4], [0u8; 4]);
        let (mut key_len, mut value_len) = (0, 0);
        let mut next = || {
            // SAFETY: a live iterator; buffers valid for their capacities; out-pointers
            // valid.
            unsafe {
                shmkit_hash_map_iter_next(
                    &it,
                    key.as_mut_ptr(),
                    4,
                    &mut key_len,
                    value.as_mut_ptr(),
                    4,
                    &mut value_len,
                )
            }
        };
        // Another thread inside a call: it holds the cursor.
        std::thread::scope(|s| {
            let inside = it.cursor.lock().unwrap();
            s.spawn(|| assert_eq!(next(), Status::Busy)).join().unwrap();
            drop(inside);
        });
        assert_eq!(next(), Status::Ok, "the entry was not lost");
        assert_eq!(next(), Status::End);
        assert_eq!(
            (&key[..key_len], &value[..value_len]),
            (&b"k"[..], &b"v"[..])
        );
        shmkit::Store::remove(&name).unwrap();
    }
}
