//! Deques: open, close, length, push and pop at either end (waiting with a timeout), clear.
//!
//! Items are byte strings; Python's `Deque` and `Queue` store typed values, whose encoding
//! `shmkit_value_decode` reads (and `shmkit_value_encode` writes). A pop whose item does not
//! fit the caller's buffer leaves the item in the deque and reports the length needed, so
//! no item is ever lost to a small buffer. Timeouts are in milliseconds: negative waits for
//! ever, 0 not at all.
#![allow(unsafe_code)] // `#[unsafe(no_mangle)]`, and each function's one argument conversion

use crate::ffi_ptr::{self, Input, into_handle};
use crate::status::{CError, Status, entry};
use crate::store::shmkit_store;
use shmkit::{Deque, DequeOptions, End, Overflow, Popped};
use std::ffi::c_char;
use std::time::Duration;

/// A deque handle (opaque). Made by `shmkit_deque_open`, freed by `shmkit_deque_close`. It
/// keeps its store attached, so the store handle may be closed first. Usable from any
/// thread, also from several at once.
pub struct shmkit_deque {
    pub(crate) deque: Deque,
}

/// Flag of `shmkit_deque_open`: open an existing deque only (`SHMKIT_STATUS_OBJECT_NOT_FOUND`
/// if there is none); without it a missing deque is created.
pub const SHMKIT_DEQUE_OPEN_EXISTING: u32 = 1;
/// Flag of `shmkit_deque_open`: a deque created with a `maxlen` drops the item at the other
/// end when a push finds it full (as Python's `collections.deque`); without it such a push
/// waits for room or fails with `SHMKIT_STATUS_FULL`.
pub const SHMKIT_DEQUE_OVERWRITE: u32 = 2;
/// `end` of `shmkit_deque_push`/`_pop`: the back (append, pop).
pub const SHMKIT_DEQUE_BACK: u32 = 0;
/// `end` of `shmkit_deque_push`/`_pop`: the front (appendleft, popleft).
pub const SHMKIT_DEQUE_FRONT: u32 = 1;

const KNOWN_DEQUE_FLAGS: u32 = SHMKIT_DEQUE_OPEN_EXISTING | SHMKIT_DEQUE_OVERWRITE;

fn end_of(end: u32) -> Result<End, CError> {
    match end {
        SHMKIT_DEQUE_BACK => Ok(End::Back),
        SHMKIT_DEQUE_FRONT => Ok(End::Front),
        other => Err(CError::new(
            Status::InvalidArgument,
            format!("end must be SHMKIT_DEQUE_BACK or SHMKIT_DEQUE_FRONT, not {other}"),
        )),
    }
}

/// A timeout in milliseconds as the C functions take it: negative for ever (`None`), 0 not
/// at all (also what the priority queue's functions take).
pub(crate) fn timeout_of(ms: i64) -> Option<Duration> {
    u64::try_from(ms).ok().map(Duration::from_millis)
}

/// Opens the deque `name` of `store`, creating it unless `flags` has
/// `SHMKIT_DEQUE_OPEN_EXISTING`, with at most `maxlen` items (0: no limit) and, with
/// `SHMKIT_DEQUE_OVERWRITE`, overwriting when full. An existing deque keeps its own limit and
/// policy. `SHMKIT_STATUS_WRONG_KIND` if the name belongs to another kind of object;
/// `SHMKIT_STATUS_INVALID_ARGUMENT` for unknown flags. On success `*out` is a new handle, to
/// free with `shmkit_deque_close`; on failure `*out` is set to NULL (unless `out` itself is
/// NULL).
///
/// # Safety
/// `store` is NULL or a live store handle; `name` is NULL or a NUL-terminated string; `out`
/// is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_deque_open(
    store: *const shmkit_store,
    name: *const c_char,
    maxlen: u64,
    flags: u32,
    out: *mut *mut shmkit_deque,
) -> Status {
    entry(|| {
        // SAFETY: this function's contract is that of `out_handle`, `handle` and `c_str`; the
        // name is checked against the out-parameter.
        let (out, store, name) = unsafe {
            let out = ffi_ptr::out_handle(out, "the deque handle out-parameter")?;
            let store = ffi_ptr::handle(store, "the store")?;
            let name = ffi_ptr::c_str(name, "the deque name")?;
            (out.disjoint_from(&[Input::of(name)])?, store, name)
        };
        if flags & !KNOWN_DEQUE_FLAGS != 0 {
            return Err(CError::new(
                Status::InvalidArgument,
                format!("unknown deque flags {:#x}", flags & !KNOWN_DEQUE_FLAGS),
            ));
        }
        let deque = if flags & SHMKIT_DEQUE_OPEN_EXISTING != 0 {
            store.store.open_deque(name)?
        } else {
            let options = DequeOptions {
                maxlen: (maxlen > 0).then_some(maxlen),
                overflow: if flags & SHMKIT_DEQUE_OVERWRITE != 0 {
                    Overflow::Overwrite
                } else {
                    Overflow::Block
                },
                ..DequeOptions::default()
            };
            store.store.deque_with(name, &options)?
        };
        out.write(into_handle(shmkit_deque { deque }));
        Ok(Status::Ok)
    })
}

/// Frees a deque handle; NULL is a no-op.
///
/// # Safety
/// `deque` is NULL or a deque handle not yet closed; it is not used again.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_deque_close(deque: *mut shmkit_deque) {
    let _ = entry(|| {
        // SAFETY: this function's contract is `free_handle`'s.
        unsafe { ffi_ptr::free_handle(deque) };
        Ok(Status::Ok)
    });
}

/// Sets `*out` to the number of items now (other processes may push and pop meanwhile).
///
/// # Safety
/// `deque` is NULL or a live deque handle; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_deque_len(deque: *const shmkit_deque, out: *mut u64) -> Status {
    entry(|| {
        // SAFETY: this function's contract is that of `handle` and `out` (no inputs).
        let (deque, out) = unsafe {
            (
                ffi_ptr::handle(deque, "the deque")?,
                ffi_ptr::out(out, "the length out-parameter", &[])?,
            )
        };
        out.write(deque.deque.len());
        Ok(Status::Ok)
    })
}

/// Pushes the `len` bytes at `item` at `end` (`SHMKIT_DEQUE_BACK` or `SHMKIT_DEQUE_FRONT`).
/// On a full bounded deque (created without `SHMKIT_DEQUE_OVERWRITE`) waits up to
/// `timeout_ms` milliseconds for room (negative: for ever; 0: not at all), then returns
/// `SHMKIT_STATUS_FULL` with nothing pushed. `SHMKIT_STATUS_INVALID_ARGUMENT` for an item
/// past the largest (1 GiB) or an unknown `end`.
///
/// # Safety
/// `deque` is NULL or a live deque handle; `item` is valid for `len` bytes (or NULL with 0).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_deque_push(
    deque: *const shmkit_deque,
    end: u32,
    item: *const u8,
    len: usize,
    timeout_ms: i64,
) -> Status {
    entry(|| {
        // SAFETY: this function's contract is that of `handle` and `bytes`.
        let (deque, item) = unsafe {
            (
                ffi_ptr::handle(deque, "the deque")?,
                ffi_ptr::bytes(item, len)?,
            )
        };
        let timeout = timeout_of(timeout_ms);
        match end_of(end)? {
            End::Back => deque.deque.push_back_timeout(item, timeout)?,
            End::Front => deque.deque.push_front_timeout(item, timeout)?,
        }
        Ok(Status::Ok)
    })
}

/// Pops the item at `end` into `buf` and sets `*len` to its length, waiting up to
/// `timeout_ms` milliseconds for one (negative: for ever; 0: not at all).
/// `SHMKIT_STATUS_NOT_FOUND` if no item came. `SHMKIT_STATUS_BUFFER_TOO_SMALL` if the item
/// is longer than `cap`: `*len` is the length needed and the item stays in the deque (pass
/// NULL with `cap` 0 to learn it). `buf` and `len` must not overlap
/// (`SHMKIT_STATUS_INVALID_ARGUMENT`).
///
/// # Safety
/// `deque` is NULL or a live deque handle; `buf` is valid for writes of `cap` bytes (or NULL
/// with 0); `len` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_deque_pop(
    deque: *const shmkit_deque,
    end: u32,
    timeout_ms: i64,
    buf: *mut u8,
    cap: usize,
    len: *mut usize,
) -> Status {
    entry(|| {
        // SAFETY: this function's contract is that of `handle`, `out_buf` and `out`; the
        // buffer is the only input the length must not overlap.
        let (deque, mut buf, len) = unsafe {
            let buf = ffi_ptr::out_buf(buf, cap, &[])?;
            let region = buf.region();
            (
                ffi_ptr::handle(deque, "the deque")?,
                buf,
                ffi_ptr::out(len, "the length out-parameter", &[region])?,
            )
        };
        let end = end_of(end)?;
        let mut item = Vec::new();
        match deque
            .deque
            .pop_into_bounded(end, &mut item, cap as u64, timeout_of(timeout_ms))?
        {
            Popped::Item => {
                len.write(item.len());
                // Fits: the core checked the length against `cap`.
                if !buf.fill(&item) {
                    return Err(CError::new(
                        Status::Panic,
                        "the popped item did not fit the buffer the length was checked against",
                    ));
                }
                Ok(Status::Ok)
            }
            Popped::TooLarge(needed) => {
                len.write(needed as usize);
                Err(CError::new(
                    Status::BufferTooSmall,
                    format!(
                        "the item needs {needed} bytes, the buffer holds {cap}; it stays in the deque"
                    ),
                ))
            }
            Popped::Empty => Ok(Status::NotFound),
        }
    })
}

/// Removes every item; sets `*removed` (if not NULL) to how many there were.
///
/// # Safety
/// `deque` is NULL or a live deque handle; `removed` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_deque_clear(
    deque: *const shmkit_deque,
    removed: *mut u64,
) -> Status {
    entry(|| {
        // SAFETY: this function's contract is that of `handle` and `out_opt` (no inputs).
        let (deque, removed) = unsafe {
            (
                ffi_ptr::handle(deque, "the deque")?,
                ffi_ptr::out_opt(removed, &[])?,
            )
        };
        let n = deque.deque.clear()?;
        if let Some(removed) = removed {
            removed.write(n);
        }
        Ok(Status::Ok)
    })
}
