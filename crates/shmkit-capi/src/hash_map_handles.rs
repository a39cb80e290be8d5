//! Stable key handles of hash maps for C: `shmkit_hash_map_handle`,
//! `shmkit_hash_map_set_with_handle`, `shmkit_hash_map_get_by_handle`,
//! `shmkit_hash_map_set_by_handle`, `shmkit_hash_map_remove_by_handle`.
//!
//! A handle is a `uint64_t` (the core's `KeyHandle`, the same number Python's
//! `HashMap.handle` returns, valid in every process attached to the store). One that names
//! no live key of the map — its key was removed, it came from another map, it was made up —
//! gives `SHMKIT_STATUS_NOT_FOUND` (or `*removed = false`), never another key's value.
//! Keys follow the handle's key mode (`SHMKIT_MAP_STR_KEYS`), values are the bytes given, as
//! `shmkit_hash_map_set`.
//!
//! ```c
//! uint64_t h;
//! shmkit_hash_map_set_with_handle(map, "user:1", 6, "ada", 3, &h);
//! size_t len; char buf[16];
//! shmkit_hash_map_get_by_handle(map, h, buf, sizeof buf, &len);   /* "ada" */
//! ```
#![allow(unsafe_code)] // `#[unsafe(no_mangle)]`, and each function's one argument conversion

use crate::ffi_ptr::{self, Input};
use crate::hash_map::{deliver, found, shmkit_hash_map};
use crate::status::{Status, entry};
use shmkit::KeyHandle;

/// The handle of `key` in `*handle`, giving the key one if it has none;
/// `SHMKIT_STATUS_NOT_FOUND` if the key is absent. A key keeps its handle until it is
/// removed. `handle` must not overlap the key.
///
/// # Safety
/// `map` is NULL or a live map handle; `key` is valid for `key_len` bytes (or NULL with 0);
/// `handle` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_hash_map_handle(
    map: *const shmkit_hash_map,
    key: *const u8,
    key_len: usize,
    handle: *mut u64,
) -> Status {
    entry(|| {
        // SAFETY: this function's contract is that of `handle`, `bytes` and `out`; the key is
        // the only input.
        let (map, key, out) = unsafe {
            let key = ffi_ptr::bytes(key, key_len)?;
            (
                ffi_ptr::handle(map, "the map")?,
                key,
                ffi_ptr::out(handle, "the handle out-parameter", &[Input::of(key)])?,
            )
        };
        match map.map.handle(&map.key(key)?)? {
            Some(h) => {
                out.write(h.to_raw());
                Ok(Status::Ok)
            }
            None => Ok(Status::NotFound),
        }
    })
}

/// Sets `key` to `value` (as `shmkit_hash_map_set`) and writes the key's handle to
/// `*handle`. `handle` must not overlap the key or the value.
///
/// # Safety
/// `map` is NULL or a live map handle; `key` and `value` are valid for their lengths (or
/// NULL with 0); `handle` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_hash_map_set_with_handle(
    map: *const shmkit_hash_map,
    key: *const u8,
    key_len: usize,
    value: *const u8,
    value_len: usize,
    handle: *mut u64,
) -> Status {
    entry(|| {
        // SAFETY: this function's contract is that of `handle`, `bytes` (twice) and `out`;
        // the key and the value are the inputs.
        let (map, key, value, out) = unsafe {
            let key = ffi_ptr::bytes(key, key_len)?;
            let value = ffi_ptr::bytes(value, value_len)?;
            (
                ffi_ptr::handle(map, "the map")?,
                key,
                value,
                ffi_ptr::out(
                    handle,
                    "the handle out-parameter",
                    &[Input::of(key), Input::of(value)],
                )?,
            )
        };
        let h = map.map.set_with_handle(&map.key(key)?, value)?;
        out.write(h.to_raw());
        Ok(Status::Ok)
    })
}

/// Copies the value of the key `handle` names into `buf` (`*len` = its length), without
/// hashing or probing. `SHMKIT_STATUS_NOT_FOUND` if the handle names no live key;
/// `SHMKIT_STATUS_BUFFER_TOO_SMALL` (with `*len` the length needed) if it does not fit.
///
/// # Safety
/// `map` is NULL or a live map handle; `buf` is valid for `cap` writable bytes (or NULL
/// with 0); `len` is NULL or writable and outside `buf`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_hash_map_get_by_handle(
    map: *const shmkit_hash_map,
    handle: u64,
    buf: *mut u8,
    cap: usize,
    len: *mut usize,
) -> Status {
    entry(|| {
        // SAFETY: this function's contract is that of `handle`, `out_buf` and `out`; the
        // buffer must not overlap the length out-parameter.
        let (map, mut buf, len) = unsafe {
            let buf = ffi_ptr::out_buf(buf, cap, &[])?;
            let region = buf.region();
            (
                ffi_ptr::handle(map, "the map")?,
                buf,
                ffi_ptr::out(len, "the length out-parameter", &[region])?,
            )
        };
        let got = map.with_read(
            |m, scratch| m.get_by_handle_into(KeyHandle::from_raw(handle), scratch),
            |v| deliver(v, &mut buf, len),
        )?;
        Ok(found(got))
    })
}

/// Replaces the value of the key `handle` names; `SHMKIT_STATUS_NOT_FOUND` (nothing
/// written) if it names no live key.
///
/// # Safety
/// `map` is NULL or a live map handle; `value` is valid for `value_len` bytes (or NULL with
/// 0).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_hash_map_set_by_handle(
    map: *const shmkit_hash_map,
    handle: u64,
    value: *const u8,
    value_len: usize,
) -> Status {
    entry(|| {
        // SAFETY: this function's contract is that of `handle` and `bytes`.
        let (map, value) = unsafe {
            (
                ffi_ptr::handle(map, "the map")?,
                ffi_ptr::bytes(value, value_len)?,
            )
        };
        Ok(
            if map.map.set_by_handle(KeyHandle::from_raw(handle), value)? {
                Status::Ok
            } else {
                Status::NotFound
            },
        )
    })
}

/// Removes the key `handle` names; `*removed` (may be NULL) says whether it named one.
///
/// # Safety
/// `map` is NULL or a live map handle; `removed` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_hash_map_remove_by_handle(
    map: *const shmkit_hash_map,
    handle: u64,
    removed: *mut bool,
) -> Status {
    entry(|| {
        // SAFETY: this function's contract is that of `handle` and `out_opt` (no inputs).
        let (map, removed) = unsafe {
            (
                ffi_ptr::handle(map, "the map")?,
                ffi_ptr::out_opt(removed, &[])?,
            )
        };
        let was = map.map.remove_by_handle(KeyHandle::from_raw(handle))?;
        if let Some(out) = removed {
            out.write(was);
        }
        Ok(Status::Ok)
    })
}
