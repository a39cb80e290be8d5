//! Ordered maps: open, close, raw byte get/set/insert-if-absent/remove/compare-and-set,
//! length, clear, the count and byte total of a key range, the entry at or around a key
//! (first, last, floor, ceiling, lower, higher), and a cursor over a key range in either
//! direction.
//!
//! Keys are bytes compared bytewise (`memcmp` order). Python's `OrderedMap` keys its entries
//! by their ordered encoding (`docs/FORMAT.md`, "Ordered keys"), which the
//! `shmkit_ordered_key_*` functions (`ordered_key.rs`) write and read, and stores its values
//! in the typed encoding (`shmkit_value_encode`, `shmkit_value_decode`).
//!
//! Invariants: a read that copies an entry into the caller's buffers copies nothing unless
//! both the key and the value fit, and then reports both lengths; the cursor keeps such an
//! entry for its next call, and after an error resumes after the last entry it handed out,
//! so no entry is lost to a small buffer or a failed call. A range bound is NULL (with
//! length 0) for "unbounded", else the bytes given, inclusive or not.
#![allow(unsafe_code)] // `#[unsafe(no_mangle)]`, and each function's one argument conversion

use crate::ffi_ptr::{self, Input, Out, OutBuf, into_handle};
use crate::hash_map::deliver;
use crate::status::{CError, Status, entry};
use crate::store::shmkit_store;
use shmkit::collections::ordered_map::{Item, MAX_KEY_LEN, Range};
use shmkit::{OrderedMap, OrderedMapError};
use std::ffi::c_char;
use std::ops::Bound;
use std::sync::{Mutex, TryLockError};

/// An ordered map handle (opaque). Made by `shmkit_ordered_map_open`, freed by
/// `shmkit_ordered_map_close`. It keeps its store attached, so the store handle may be
/// closed first. Usable from any thread, also from several at once.
pub struct shmkit_ordered_map {
    pub(crate) map: OrderedMap,
}

/// Flag of `shmkit_ordered_map_open`: open an existing map only
/// (`SHMKIT_STATUS_OBJECT_NOT_FOUND` if there is none); without it a missing map is created.
pub const SHMKIT_ORDERED_MAP_OPEN_EXISTING: u32 = 1;

/// A range bound C passed: NULL (with length 0) is unbounded, otherwise the `len` bytes at
/// `ptr`, included in the range or not. A NULL pointer with a nonzero length is an error
/// naming `what`, and so is a key longer than an ordered map's keys can be.
///
/// # Safety
/// `ptr` is NULL or valid for `len` bytes for `'a`: the contract of `ffi_ptr::bytes`.
unsafe fn bound<'a>(
    ptr: *const u8,
    len: usize,
    inclusive: bool,
    what: &str,
) -> Result<Bound<&'a [u8]>, CError> {
    if ptr.is_null() {
        if len != 0 {
            return Err(CError::null(&format!(
                "{what} with a nonzero length ({len}); NULL with 0 means unbounded"
            )));
        }
        return Ok(Bound::Unbounded);
    }
    // SAFETY: this function's contract is that of `bytes`.
    let key = unsafe { ffi_ptr::bytes(ptr, len) }?;
    if key.len() as u64 > MAX_KEY_LEN {
        return Err(OrderedMapError::KeyTooLarge {
            len: key.len() as u64,
            max: MAX_KEY_LEN,
        }
        .into());
    }
    Ok(if inclusive {
        Bound::Included(key)
    } else {
        Bound::Excluded(key)
    })
}

/// The caller's memory a bound covers (none when unbounded).
fn input_of(b: Bound<&[u8]>) -> Input {
    match b {
        Bound::Included(k) | Bound::Excluded(k) => Input::of(k),
        Bound::Unbounded => Input::default(),
    }
}

/// Copies an entry into the caller's buffers and reports both lengths; if either does not
/// fit, copies nothing and returns `BufferTooSmall` (with both lengths reported).
fn deliver_entry(
    (key, value): &Item,
    key_buf: &mut OutBuf<'_>,
    key_len: Out<'_, usize>,
    value_buf: &mut OutBuf<'_>,
    value_len: Out<'_, usize>,
) -> Result<(), CError> {
    key_len.write(key.len());
    value_len.write(value.len());
    if key.len() > key_buf.capacity() || value.len() > value_buf.capacity() {
        return Err(CError::new(
            Status::BufferTooSmall,
            format!(
                "the entry needs {} key bytes and {} value bytes, the buffers hold {} and {}",
                key.len(),
                value.len(),
                key_buf.capacity(),
                value_buf.capacity()
            ),
        ));
    }
    key_buf.fill(key);
    value_buf.fill(value);
    Ok(())
}

/// Opens the ordered map `name` of `store`, creating it unless `flags` has
/// `SHMKIT_ORDERED_MAP_OPEN_EXISTING`. `SHMKIT_STATUS_WRONG_KIND` if the name belongs to
/// another kind of object; `SHMKIT_STATUS_INVALID_ARGUMENT` for unknown flags. On success
/// `*out` is a new handle, to free with `shmkit_ordered_map_close`; on failure `*out` is set
/// to NULL (unless `out` itself is NULL).
///
/// # Safety
/// `store` is NULL or a live store handle; `name` is NULL or a NUL-terminated string; `out`
/// is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_ordered_map_open(
    store: *const shmkit_store,
    name: *const c_char,
    flags: u32,
    out: *mut *mut shmkit_ordered_map,
) -> Status {
    entry(|| {
        // SAFETY: this function's contract is that of `out_handle`, `handle` and `c_str`; the
        // name is checked against the out-parameter.
        let (out, store, name) = unsafe {
            let out = ffi_ptr::out_handle(out, "the map handle out-parameter")?;
            let store = ffi_ptr::handle(store, "the store")?;
            let name = ffi_ptr::c_str(name, "the map name")?;
            (out.disjoint_from(&[Input::of(name)])?, store, name)
        };
        if flags & !SHMKIT_ORDERED_MAP_OPEN_EXISTING != 0 {
            return Err(CError::new(
                Status::InvalidArgument,
                format!(
                    "unknown ordered map flags {:#x}",
                    flags & !SHMKIT_ORDERED_MAP_OPEN_EXISTING
                ),
            ));
        }
        let map = if flags & SHMKIT_ORDERED_MAP_OPEN_EXISTING != 0 {
            store.store.open_ordered_map(name)?
        } else {
            store.store.ordered_map(name)?
        };
        out.write(into_handle(shmkit_ordered_map { map }));
        Ok(Status::Ok)
    })
}

/// Frees an ordered map handle; NULL is a no-op.
///
/// # Safety
/// `map` is NULL or a handle not yet closed; it is not used again (cursors made from it
/// stay valid).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_ordered_map_close(map: *mut shmkit_ordered_map) {
    let _ = entry(|| {
        // SAFETY: this function's contract is `free_handle`'s.
        unsafe { ffi_ptr::free_handle(map) };
        Ok(Status::Ok)
    });
}

/// Copies the value of `key` into `buf` and sets `*len` to its length, as
/// `shmkit_hash_map_get` does: `SHMKIT_STATUS_NOT_FOUND` if the key is absent (nothing
/// written); `SHMKIT_STATUS_BUFFER_TOO_SMALL` if the value is longer than `cap`, with `*len`
/// the length needed and nothing copied (`buf` may be NULL with `cap` 0 to ask). `buf` and
/// `len` must not overlap the key (`SHMKIT_STATUS_INVALID_ARGUMENT`);
/// `SHMKIT_STATUS_INVALID_ARGUMENT` for a key past 65535 bytes.
///
/// # Safety
/// `map` is NULL or a live handle; `key` is valid for `key_len` bytes (or NULL with 0);
/// `buf` is valid for writes of `cap` bytes (or NULL with 0); `len` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_ordered_map_get(
    map: *const shmkit_ordered_map,
    key: *const u8,
    key_len: usize,
    buf: *mut u8,
    cap: usize,
    len: *mut usize,
) -> Status {
    entry(|| {
        // SAFETY: this function's contract is that of `handle`, `bytes`, `out_buf` and `out`;
        // the key is the only input.
        let (map, key, mut buf, len) = unsafe {
            let key = ffi_ptr::bytes(key, key_len)?;
            let inputs = [Input::of(key)];
            (
                ffi_ptr::handle(map, "the ordered map")?,
                key,
                ffi_ptr::out_buf(buf, cap, &inputs)?,
                ffi_ptr::out(len, "the length out-parameter", &inputs)?,
            )
        };
        let mut value = Vec::new();
        if !map.map.get_into(key, &mut value)? {
            return Ok(Status::NotFound);
        }
        deliver(&value, &mut buf, len)?;
        Ok(Status::Ok)
    })
}

/// Sets `key` to the `value_len` bytes at `value`. `SHMKIT_STATUS_INVALID_ARGUMENT` for a
/// key past 65535 bytes or a value past 1 GiB.
///
/// # Safety
/// `map` is NULL or a live handle; `key` and `value` are valid for their lengths (or NULL
/// with 0).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_ordered_map_set(
    map: *const shmkit_ordered_map,
    key: *const u8,
    key_len: usize,
    value: *const u8,
    value_len: usize,
) -> Status {
    entry(|| {
        // SAFETY: this function's contract is that of `handle` and `bytes` (twice).
        let (map, key, value) = unsafe {
            (
                ffi_ptr::handle(map, "the ordered map")?,
                ffi_ptr::bytes(key, key_len)?,
                ffi_ptr::bytes(value, value_len)?,
            )
        };
        map.map.set(key, value)?;
        Ok(Status::Ok)
    })
}

/// Sets `key` to `value` only if it is absent; `*inserted` (may be NULL) says whether it
/// was. `inserted` must not overlap the key or the value (`SHMKIT_STATUS_INVALID_ARGUMENT`).
///
/// # Safety
/// As `shmkit_ordered_map_set`; `inserted` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_ordered_map_insert_if_absent(
    map: *const shmkit_ordered_map,
    key: *const u8,
    key_len: usize,
    value: *const u8,
    value_len: usize,
    inserted: *mut bool,
) -> Status {
    entry(|| {
        // SAFETY: this function's contract is that of `handle`, `bytes` (twice) and
        // `out_opt`; the key and the value are the inputs.
        let (map, key, value, inserted) = unsafe {
            let key = ffi_ptr::bytes(key, key_len)?;
            let value = ffi_ptr::bytes(value, value_len)?;
            (
                ffi_ptr::handle(map, "the ordered map")?,
                key,
                value,
                ffi_ptr::out_opt(inserted, &[Input::of(key), Input::of(value)])?,
            )
        };
        let done = map.map.insert_if_absent(key, value)?;
        if let Some(out) = inserted {
            out.write(done);
        }
        Ok(Status::Ok)
    })
}

/// Removes `key`; `*removed` (may be NULL) says whether it was present. `removed` must not
/// overlap the key (`SHMKIT_STATUS_INVALID_ARGUMENT`).
///
/// # Safety
/// `map` is NULL or a live handle; `key` is valid for `key_len` bytes (or NULL with 0);
/// `removed` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_ordered_map_remove(
    map: *const shmkit_ordered_map,
    key: *const u8,
    key_len: usize,
    removed: *mut bool,
) -> Status {
    entry(|| {
        // SAFETY: this function's contract is that of `handle`, `bytes` and `out_opt`; the
        // key is the only input.
        let (map, key, removed) = unsafe {
            let key = ffi_ptr::bytes(key, key_len)?;
            (
                ffi_ptr::handle(map, "the ordered map")?,
                key,
                ffi_ptr::out_opt(removed, &[Input::of(key)])?,
            )
        };
        let was = map.map.delete(key)?;
        if let Some(out) = removed {
            out.write(was);
        }
        Ok(Status::Ok)
    })
}

/// One conditional write, atomic across processes, as `shmkit_hash_map_compare_and_set`: if
/// the value of `key` is `expected` (NULL: the key is absent; a non-NULL pointer with length
/// 0: the empty value), it becomes `new_value` (NULL: the key is removed) and `*swapped`
/// (may be NULL) is true; otherwise nothing changes and `*swapped` is false. `swapped` must
/// not overlap the key, `expected` or `new_value` (`SHMKIT_STATUS_INVALID_ARGUMENT`).
///
/// # Safety
/// `map` is NULL or a live handle; `key`, `expected` and `new_value` are each NULL or valid
/// for their lengths; `swapped` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_ordered_map_compare_and_set(
    map: *const shmkit_ordered_map,
    key: *const u8,
    key_len: usize,
    expected: *const u8,
    expected_len: usize,
    new_value: *const u8,
    new_len: usize,
    swapped: *mut bool,
) -> Status {
    entry(|| {
        // SAFETY: this function's contract is that of `handle`, `bytes` (three times, only
        // for non-NULL `expected` and `new_value`) and `out_opt`; the key, `expected` and
        // `new_value` are the inputs.
        let (map, key, expected, new_value, swapped) = unsafe {
            let key = ffi_ptr::bytes(key, key_len)?;
            let expected = match expected.is_null() {
                true => None,
                false => Some(ffi_ptr::bytes(expected, expected_len)?),
            };
            let new_value = match new_value.is_null() {
                true => None,
                false => Some(ffi_ptr::bytes(new_value, new_len)?),
            };
            let inputs = [
                Input::of(key),
                expected.map(Input::of).unwrap_or_default(),
                new_value.map(Input::of).unwrap_or_default(),
            ];
            (
                ffi_ptr::handle(map, "the ordered map")?,
                key,
                expected,
                new_value,
                ffi_ptr::out_opt(swapped, &inputs)?,
            )
        };
        let done = map.map.compare_and_set(key, expected, new_value)?;
        if let Some(out) = swapped {
            out.write(done);
        }
        Ok(Status::Ok)
    })
}

/// Sets `*out` to the number of entries.
///
/// # Safety
/// `map` is NULL or a live handle; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_ordered_map_len(
    map: *const shmkit_ordered_map,
    out: *mut u64,
) -> Status {
    entry(|| {
        // SAFETY: this function's contract is that of `handle` and `out` (no inputs).
        let (map, out) = unsafe {
            (
                ffi_ptr::handle(map, "the ordered map")?,
                ffi_ptr::out(out, "the length out-parameter", &[])?,
            )
        };
        out.write(map.map.len());
        Ok(Status::Ok)
    })
}

/// Removes every entry. Other processes may see the map part-way cleared (it is emptied a
/// leaf at a time), never a damaged one.
///
/// # Safety
/// `map` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_ordered_map_clear(map: *const shmkit_ordered_map) -> Status {
    entry(|| {
        // SAFETY: this function's contract is `handle`'s.
        let map = unsafe { ffi_ptr::handle(map, "the ordered map")? };
        map.map.clear()?;
        Ok(Status::Ok)
    })
}

/// Counts the entries whose keys lie between `start` and `end`, exactly, for one version
/// of the map, in O(log n): `*count` is their number and `*bytes` (may be NULL) the sum of
/// their key and value lengths. A bound is NULL with length 0 for "unbounded", else its
/// bytes (a non-NULL pointer with length 0 is the empty key), included when its `_inclusive`
/// flag is true. A start after the end counts nothing. `SHMKIT_STATUS_INVALID_ARGUMENT` for
/// a bound past 65535 bytes; the outputs must not overlap a bound or each other.
///
/// # Safety
/// `map` is NULL or a live handle; `start` and `end` are each NULL or valid for their
/// lengths; `count` and `bytes` are NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_ordered_map_count(
    map: *const shmkit_ordered_map,
    start: *const u8,
    start_len: usize,
    start_inclusive: bool,
    end: *const u8,
    end_len: usize,
    end_inclusive: bool,
    count: *mut u64,
    bytes: *mut u64,
) -> Status {
    entry(|| {
        // SAFETY: this function's contract is that of `handle`, `bound` (twice), `out` and
        // `out_opt`; the bounds are the inputs, and the second output is checked against the
        // first.
        let (map, start, end, count, bytes) = unsafe {
            let start = bound(start, start_len, start_inclusive, "the start")?;
            let end = bound(end, end_len, end_inclusive, "the end")?;
            let inputs = [input_of(start), input_of(end)];
            let count = ffi_ptr::out(count, "the count out-parameter", &inputs)?;
            let bytes = ffi_ptr::out_opt(bytes, &[inputs[0], inputs[1], count.region()])?;
            (
                ffi_ptr::handle(map, "the ordered map")?,
                start,
                end,
                count,
                bytes,
            )
        };
        let n = map.map.count(start, end)?;
        count.write(n.count);
        if let Some(bytes) = bytes {
            bytes.write(n.bytes);
        }
        Ok(Status::Ok)
    })
}

/// Which entry a lookup around a key wants.
#[derive(Clone, Copy)]
enum Around {
    First,
    Last,
    Floor,
    Ceiling,
    Lower,
    Higher,
}

/// The body of the lookups around a key: the entry `which` names, copied as
/// [`deliver_entry`] copies it, or `Status::NotFound`.
///
/// # Safety
/// `map` is NULL or a live handle; `key` is valid for `key_len` bytes (or NULL with 0);
/// each buffer is valid for writes of its capacity (or NULL with 0); `key_len_out` and
/// `value_len` are NULL or writable.
#[allow(clippy::too_many_arguments)] // the C signature's parts
unsafe fn around(
    which: Around,
    map: *const shmkit_ordered_map,
    key: *const u8,
    key_len: usize,
    key_buf: *mut u8,
    key_cap: usize,
    key_len_out: *mut usize,
    value_buf: *mut u8,
    value_cap: usize,
    value_len: *mut usize,
) -> Status {
    entry(|| {
        // SAFETY: the caller's contract is that of `handle`, `bytes`, `out_buf` (twice) and
        // `out` (twice); each output is checked against the key and the outputs before it.
        let (map, key, mut key_buf, key_len_out, mut value_buf, value_len) = unsafe {
            let key = ffi_ptr::bytes(key, key_len)?;
            let key_in = Input::of(key);
            let key_buf = ffi_ptr::out_buf(key_buf, key_cap, &[key_in])?;
            let value_buf = ffi_ptr::out_buf(value_buf, value_cap, &[key_in, key_buf.region()])?;
            let key_len_out = ffi_ptr::out(
                key_len_out,
                "the key length out-parameter",
                &[key_in, key_buf.region(), value_buf.region()],
            )?;
            let value_len = ffi_ptr::out(
                value_len,
                "the value length out-parameter",
                &[
                    key_in,
                    key_buf.region(),
                    value_buf.region(),
                    key_len_out.region(),
                ],
            )?;
            (
                ffi_ptr::handle(map, "the ordered map")?,
                key,
                key_buf,
                key_len_out,
                value_buf,
                value_len,
            )
        };
        let m = &map.map;
        let found = match which {
            Around::First => m.first(),
            Around::Last => m.last(),
            Around::Floor => m.floor(key),
            Around::Ceiling => m.ceiling(key),
            Around::Lower => m.lower(key),
            Around::Higher => m.higher(key),
        }?;
        let Some(item) = found else {
            return Ok(Status::NotFound);
        };
        deliver_entry(&item, &mut key_buf, key_len_out, &mut value_buf, value_len)?;
        Ok(Status::Ok)
    })
}

/// Copies the entry with the smallest key: its key into `key_buf` (`*key_len` set to its
/// length) and its value into `value_buf` (`*value_len`). `SHMKIT_STATUS_NOT_FOUND` if the
/// map is empty. `SHMKIT_STATUS_BUFFER_TOO_SMALL` if the key or the value does not fit:
/// both lengths are set and nothing is copied (NULL buffers with capacity 0 ask for them).
/// No two outputs may overlap (`SHMKIT_STATUS_INVALID_ARGUMENT`).
///
/// # Safety
/// `map` is NULL or a live handle; each buffer is valid for writes of its capacity (or NULL
/// with 0); `key_len` and `value_len` are NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_ordered_map_first(
    map: *const shmkit_ordered_map,
    key_buf: *mut u8,
    key_cap: usize,
    key_len: *mut usize,
    value_buf: *mut u8,
    value_cap: usize,
    value_len: *mut usize,
) -> Status {
    // SAFETY: this function's contract is `around`'s with no key.
    unsafe {
        around(
            Around::First,
            map,
            std::ptr::null(),
            0,
            key_buf,
            key_cap,
            key_len,
            value_buf,
            value_cap,
            value_len,
        )
    }
}

/// The entry with the largest key, as `shmkit_ordered_map_first`.
///
/// # Safety
/// As `shmkit_ordered_map_first`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_ordered_map_last(
    map: *const shmkit_ordered_map,
    key_buf: *mut u8,
    key_cap: usize,
    key_len: *mut usize,
    value_buf: *mut u8,
    value_cap: usize,
    value_len: *mut usize,
) -> Status {
    // SAFETY: this function's contract is `around`'s with no key.
    unsafe {
        around(
            Around::Last,
            map,
            std::ptr::null(),
            0,
            key_buf,
            key_cap,
            key_len,
            value_buf,
            value_cap,
            value_len,
        )
    }
}

/// The entry with the largest key at or below `key`. Copied as `shmkit_ordered_map_first` copies (`SHMKIT_STATUS_NOT_FOUND` if there
/// is no such entry; `SHMKIT_STATUS_BUFFER_TOO_SMALL` with both lengths set and nothing
/// copied): its key into `key_buf` (`*found_key_len` set to its length), its value into
/// `value_buf` (`*value_len`). No output may overlap `key` or another output
/// (`SHMKIT_STATUS_INVALID_ARGUMENT`); `SHMKIT_STATUS_INVALID_ARGUMENT` for a key past 65535
/// bytes. `key` itself need not be in the map.
///
/// # Safety
/// `map` is NULL or a live handle; `key` is valid for `key_len` bytes (or NULL with 0); each
/// buffer is valid for writes of its capacity (or NULL with 0); `found_key_len` and
/// `value_len` are NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_ordered_map_floor(
    map: *const shmkit_ordered_map,
    key: *const u8,
    key_len: usize,
    key_buf: *mut u8,
    key_cap: usize,
    found_key_len: *mut usize,
    value_buf: *mut u8,
    value_cap: usize,
    value_len: *mut usize,
) -> Status {
    // SAFETY: this function's contract is `around`'s.
    unsafe {
        around(
            Around::Floor,
            map,
            key,
            key_len,
            key_buf,
            key_cap,
            found_key_len,
            value_buf,
            value_cap,
            value_len,
        )
    }
}

/// The entry with the smallest key at or above `key`. As `shmkit_ordered_map_floor`.
///
/// # Safety
/// As `shmkit_ordered_map_floor`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_ordered_map_ceiling(
    map: *const shmkit_ordered_map,
    key: *const u8,
    key_len: usize,
    key_buf: *mut u8,
    key_cap: usize,
    found_key_len: *mut usize,
    value_buf: *mut u8,
    value_cap: usize,
    value_len: *mut usize,
) -> Status {
    // SAFETY: this function's contract is `around`'s.
    unsafe {
        around(
            Around::Ceiling,
            map,
            key,
            key_len,
            key_buf,
            key_cap,
            found_key_len,
            value_buf,
            value_cap,
            value_len,
        )
    }
}

/// The entry with the largest key strictly below `key`. As `shmkit_ordered_map_floor`.
///
/// # Safety
/// As `shmkit_ordered_map_floor`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_ordered_map_lower(
    map: *const shmkit_ordered_map,
    key: *const u8,
    key_len: usize,
    key_buf: *mut u8,
    key_cap: usize,
    found_key_len: *mut usize,
    value_buf: *mut u8,
    value_cap: usize,
    value_len: *mut usize,
) -> Status {
    // SAFETY: this function's contract is `around`'s.
    unsafe {
        around(
            Around::Lower,
            map,
            key,
            key_len,
            key_buf,
            key_cap,
            found_key_len,
            value_buf,
            value_cap,
            value_len,
        )
    }
}

/// The entry with the smallest key strictly above `key`. As `shmkit_ordered_map_floor`.
///
/// # Safety
/// As `shmkit_ordered_map_floor`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_ordered_map_higher(
    map: *const shmkit_ordered_map,
    key: *const u8,
    key_len: usize,
    key_buf: *mut u8,
    key_cap: usize,
    found_key_len: *mut usize,
    value_buf: *mut u8,
    value_cap: usize,
    value_len: *mut usize,
) -> Status {
    // SAFETY: this function's contract is `around`'s.
    unsafe {
        around(
            Around::Higher,
            map,
            key,
            key_len,
            key_buf,
            key_cap,
            found_key_len,
            value_buf,
            value_cap,
            value_len,
        )
    }
}

/// A cursor over a key range of an ordered map (opaque). Made by
/// `shmkit_ordered_map_iter_open`, freed by `shmkit_ordered_map_iter_close`. It keeps its map
/// (and store) attached. One cursor: meant for one thread at a time; a call while another
/// thread is inside a call on the same cursor returns `SHMKIT_STATUS_BUSY` (no entry is
/// lost: call again).
pub struct shmkit_ordered_map_iter {
    /// Behind a lock so that calls from two threads at once are an error code, not a data
    /// race.
    cursor: Mutex<Cursor>,
}

/// Where a scan is.
struct Cursor {
    map: OrderedMap,
    /// The bound the scan moves away from (the start, or the end of a reverse scan),
    /// advanced past each entry handed out.
    from: Bound<Vec<u8>>,
    /// The bound the scan moves towards.
    to: Bound<Vec<u8>>,
    reverse: bool,
    /// The core's scan from `from` to `to`.
    range: Range,
    /// The entry the caller's buffers were too small for, kept for the next call.
    pending: Option<Item>,
}

fn as_ref(b: &Bound<Vec<u8>>) -> Bound<&[u8]> {
    match b {
        Bound::Included(k) => Bound::Included(k),
        Bound::Excluded(k) => Bound::Excluded(k),
        Bound::Unbounded => Bound::Unbounded,
    }
}

fn to_owned(b: Bound<&[u8]>) -> Bound<Vec<u8>> {
    match b {
        Bound::Included(k) => Bound::Included(k.to_vec()),
        Bound::Excluded(k) => Bound::Excluded(k.to_vec()),
        Bound::Unbounded => Bound::Unbounded,
    }
}

impl Cursor {
    fn new(map: OrderedMap, start: Bound<&[u8]>, end: Bound<&[u8]>, reverse: bool) -> Cursor {
        let (from, to) = if reverse { (end, start) } else { (start, end) };
        let range = map.range(start, end);
        Cursor {
            map,
            from: to_owned(from),
            to: to_owned(to),
            reverse,
            range,
            pending: None,
        }
    }

    /// A new core scan of what is left: from `from` (past the last entry handed out) to `to`.
    fn restart(&mut self) {
        let (from, to) = (as_ref(&self.from), as_ref(&self.to));
        self.range = if self.reverse {
            self.map.range(to, from)
        } else {
            self.map.range(from, to)
        };
    }

    /// The next entry: the one kept from the last call, or the scan's next. After an error
    /// the scan restarts past the last entry handed out, so calling again retries.
    fn next_entry(&mut self) -> Result<Option<Item>, CError> {
        if let Some(item) = self.pending.take() {
            return Ok(Some(item));
        }
        let next = if self.reverse {
            self.range.next_back()
        } else {
            self.range.next()
        };
        match next.transpose() {
            Ok(item) => Ok(item),
            Err(e) => {
                self.restart();
                Err(e.into())
            }
        }
    }
}

/// Starts a scan of the entries of `map` whose keys lie between `start` and `end` (bounds as
/// `shmkit_ordered_map_count` takes them: NULL with length 0 for unbounded, included when
/// their `_inclusive` flag is true), in ascending key order, or descending if `reverse`.
/// `*out` is a new cursor, to free with `shmkit_ordered_map_iter_close`; on failure `*out`
/// is set to NULL (unless `out` itself is NULL). `SHMKIT_STATUS_INVALID_ARGUMENT` for a
/// bound past 65535 bytes. The bounds are copied: their buffers may be reused at once.
///
/// The scan is weakly consistent: each step finds the first key past the last one it
/// returned in the map as it is then, so an entry present for the whole scan comes exactly
/// once and in order while others write; entries added or removed meanwhile may or may not
/// come.
///
/// # Safety
/// `map` is NULL or a live handle; `start` and `end` are each NULL or valid for their
/// lengths; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_ordered_map_iter_open(
    map: *const shmkit_ordered_map,
    start: *const u8,
    start_len: usize,
    start_inclusive: bool,
    end: *const u8,
    end_len: usize,
    end_inclusive: bool,
    reverse: bool,
    out: *mut *mut shmkit_ordered_map_iter,
) -> Status {
    entry(|| {
        // SAFETY: this function's contract is that of `out_handle`, `handle` and `bound`
        // (twice); the bounds are checked against the out-parameter.
        let (out, map, start, end) = unsafe {
            let out = ffi_ptr::out_handle(out, "the cursor out-parameter")?;
            let map = ffi_ptr::handle(map, "the ordered map")?;
            let start = bound(start, start_len, start_inclusive, "the start")?;
            let end = bound(end, end_len, end_inclusive, "the end")?;
            (
                out.disjoint_from(&[input_of(start), input_of(end)])?,
                map,
                start,
                end,
            )
        };
        let cursor = Cursor::new(map.map.clone(), start, end, reverse);
        out.write(into_handle(shmkit_ordered_map_iter {
            cursor: Mutex::new(cursor),
        }));
        Ok(Status::Ok)
    })
}

/// Copies the scan's next entry: its key into `key_buf` (`*key_len` set to its length) and
/// its value into `value_buf` (`*value_len`). `SHMKIT_STATUS_END` when the range holds no
/// more. As `shmkit_hash_map_iter_next`: `SHMKIT_STATUS_BUFFER_TOO_SMALL` if either does not
/// fit, with both lengths set to what is needed, nothing copied, and the same entry returned
/// by the next call; `SHMKIT_STATUS_BUSY` if another thread is inside a call on the same
/// cursor (nothing happened: call again). After any other error the cursor stays where it
/// was: the next call resumes after the last entry returned. No two outputs may overlap
/// (`SHMKIT_STATUS_INVALID_ARGUMENT`).
///
/// # Safety
/// `iter` is NULL or a live cursor (not being freed by another thread); each buffer is
/// valid for writes of its capacity (or NULL with 0); `key_len` and `value_len` are NULL or
/// writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_ordered_map_iter_next(
    iter: *const shmkit_ordered_map_iter,
    key_buf: *mut u8,
    key_cap: usize,
    key_len: *mut usize,
    value_buf: *mut u8,
    value_cap: usize,
    value_len: *mut usize,
) -> Status {
    entry(|| {
        // SAFETY: this function's contract is that of `handle`, `out_buf` (twice) and `out`
        // (twice); each output is checked against the ones before it (what is copied out is
        // the library's own memory).
        let (iter, mut key_buf, key_len, mut value_buf, value_len) = unsafe {
            let key_buf = ffi_ptr::out_buf(key_buf, key_cap, &[])?;
            let value_buf = ffi_ptr::out_buf(value_buf, value_cap, &[key_buf.region()])?;
            let key_len = ffi_ptr::out(
                key_len,
                "the key length out-parameter",
                &[key_buf.region(), value_buf.region()],
            )?;
            let value_len = ffi_ptr::out(
                value_len,
                "the value length out-parameter",
                &[key_buf.region(), value_buf.region(), key_len.region()],
            )?;
            (
                ffi_ptr::handle(iter, "the cursor")?,
                key_buf,
                key_len,
                value_buf,
                value_len,
            )
        };
        let mut cursor = match iter.cursor.try_lock() {
            Ok(cursor) => cursor,
            // A panic inside an earlier call (caught: `SHMKIT_STATUS_PANIC`) left a usable
            // cursor: each field is changed by one assignment.
            Err(TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
            Err(TryLockError::WouldBlock) => {
                return Err(CError::new(
                    Status::Busy,
                    "another thread is inside a call on this cursor; a cursor is for one thread at a time",
                ));
            }
        };
        let Some(item) = cursor.next_entry()? else {
            return Ok(Status::End);
        };
        match deliver_entry(&item, &mut key_buf, key_len, &mut value_buf, value_len) {
            Ok(()) => {
                cursor.from = Bound::Excluded(item.0);
                Ok(Status::Ok)
            }
            Err(e) => {
                cursor.pending = Some(item);
                Err(e)
            }
        }
    })
}

/// Frees a cursor; NULL is a no-op.
///
/// # Safety
/// `iter` is NULL or a cursor not yet freed; it is not used again.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_ordered_map_iter_close(iter: *mut shmkit_ordered_map_iter) {
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
    fn a_cursor_resumes_after_the_last_entry_it_handed_out() {
        let name = shmkit_testkit::unique_name("test", "capi-om-restart");
        let store = shmkit::Store::open_or_create(&name, &Default::default()).unwrap();
        let map = store.ordered_map("m").unwrap();
        for k in [b"a", b"b", b"c", b"d"] {
            map.set(k, b"v").unwrap();
        }
        for reverse in [false, true] {
            let mut c = Cursor::new(map.clone(), Bound::Unbounded, Bound::Unbounded, reverse);
            let first = c.next_entry().unwrap().unwrap();
            c.from = Bound::Excluded(first.0);
            // What an error does: a fresh scan past the last entry handed out.
            c.restart();
            let rest: Vec<Vec<u8>> =
                std::iter::from_fn(|| c.next_entry().unwrap().map(|(k, _)| k)).collect();
            let want: Vec<&[u8]> = if reverse {
                vec![b"c", b"b", b"a"]
            } else {
                vec![b"b", b"c", b"d"]
            };
            assert_eq!(rest, want);
        }
        shmkit::Store::remove(&name).unwrap();
    }

    #[test]
    fn a_call_while_another_thread_is_inside_is_busy_and_loses_nothing() {
        let name = shmkit_testkit::unique_name("test", "capi-om-busy");
        let store = shmkit::Store::open_or_create(&name, &Default::default()).unwrap();
        let map = store.ordered_map("m").unwrap();
        map.set(b"k", b"v").unwrap();
        let it = shmkit_ordered_map_iter {
            cursor: Mutex::new(Cursor::new(map, Bound::Unbounded, Bound::Unbounded, false)),
        };
        let (mut key, mut value) = ([0u8; 4], [0u8; 4]);
        let (mut key_len, mut value_len) = (0, 0);
        let mut next = || {
            // SAFETY: a live cursor; buffers valid for their capacities; out-pointers valid.
            unsafe {
                shmkit_ordered_map_iter_next(
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
