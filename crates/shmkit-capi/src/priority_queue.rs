//! Priority queues: open, close, length, push a (key, value) item, pop the smallest (waiting
//! with a timeout), clear.
//!
//! Items pop in ascending bytewise order of their keys, equal keys in push order. Python's
//! `PriorityQueue` stores each item with the key `shmkit.encode_key` gives it (the ordered
//! encoding, see `docs/FORMAT.md`) and the item itself as a typed value
//! (`shmkit_value_decode` reads it). A pop whose key or value does not fit the caller's
//! buffers leaves the item in the queue and reports both lengths. Timeouts are in
//! milliseconds: negative waits for ever, 0 not at all.
#![allow(unsafe_code)] // `#[unsafe(no_mangle)]`, and each function's one argument conversion

use crate::deque::timeout_of;
use crate::ffi_ptr::{self, Input, into_handle};
use crate::status::{CError, Status, entry};
use crate::store::shmkit_store;
use shmkit::{PqPopped, PriorityQueue, PriorityQueueOptions};
use std::ffi::c_char;

/// A priority queue handle (opaque). Made by `shmkit_priority_queue_open`, freed by
/// `shmkit_priority_queue_close`. It keeps its store attached. Usable from any thread, also
/// from several at once.
pub struct shmkit_priority_queue {
    pub(crate) queue: PriorityQueue,
}

/// Flag of `shmkit_priority_queue_open`: open an existing queue only
/// (`SHMKIT_STATUS_OBJECT_NOT_FOUND` if there is none); without it a missing one is created.
pub const SHMKIT_PRIORITY_QUEUE_OPEN_EXISTING: u32 = 1;

/// Opens the priority queue `name` of `store`, creating it (with room for `maxlen` items, 0
/// for no limit) unless `flags` has `SHMKIT_PRIORITY_QUEUE_OPEN_EXISTING`. An existing queue
/// keeps its own limit. `SHMKIT_STATUS_WRONG_KIND` if the name belongs to another kind of
/// object; `SHMKIT_STATUS_INVALID_ARGUMENT` for unknown flags. On success `*out` is a new
/// handle, to free with `shmkit_priority_queue_close`; on failure `*out` is set to NULL
/// (unless `out` itself is NULL).
///
/// # Safety
/// `store` is NULL or a live store handle; `name` is NULL or a NUL-terminated string; `out`
/// is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_priority_queue_open(
    store: *const shmkit_store,
    name: *const c_char,
    maxlen: u64,
    flags: u32,
    out: *mut *mut shmkit_priority_queue,
) -> Status {
    entry(|| {
        // SAFETY: this function's contract is that of `out_handle`, `handle` and `c_str`; the
        // name is checked against the out-parameter.
        let (out, store, name) = unsafe {
            let out = ffi_ptr::out_handle(out, "the queue handle out-parameter")?;
            let store = ffi_ptr::handle(store, "the store")?;
            let name = ffi_ptr::c_str(name, "the queue name")?;
            (out.disjoint_from(&[Input::of(name)])?, store, name)
        };
        if flags & !SHMKIT_PRIORITY_QUEUE_OPEN_EXISTING != 0 {
            return Err(CError::new(
                Status::InvalidArgument,
                format!(
                    "unknown priority queue flags {:#x}",
                    flags & !SHMKIT_PRIORITY_QUEUE_OPEN_EXISTING
                ),
            ));
        }
        let queue = if flags & SHMKIT_PRIORITY_QUEUE_OPEN_EXISTING != 0 {
            store.store.open_priority_queue(name)?
        } else {
            let options = PriorityQueueOptions {
                maxlen: (maxlen > 0).then_some(maxlen),
                ..PriorityQueueOptions::default()
            };
            store.store.priority_queue_with(name, &options)?
        };
        out.write(into_handle(shmkit_priority_queue { queue }));
        Ok(Status::Ok)
    })
}

/// Frees a priority queue handle; NULL is a no-op.
///
/// # Safety
/// `queue` is NULL or a handle not yet closed; it is not used again.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_priority_queue_close(queue: *mut shmkit_priority_queue) {
    let _ = entry(|| {
        // SAFETY: this function's contract is `free_handle`'s.
        unsafe { ffi_ptr::free_handle(queue) };
        Ok(Status::Ok)
    });
}

/// Sets `*out` to the number of items now.
///
/// # Safety
/// `queue` is NULL or a live handle; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_priority_queue_len(
    queue: *const shmkit_priority_queue,
    out: *mut u64,
) -> Status {
    entry(|| {
        // SAFETY: this function's contract is that of `handle` and `out` (no inputs).
        let (queue, out) = unsafe {
            (
                ffi_ptr::handle(queue, "the priority queue")?,
                ffi_ptr::out(out, "the length out-parameter", &[])?,
            )
        };
        out.write(queue.queue.len());
        Ok(Status::Ok)
    })
}

/// Pushes the item (`key_len` bytes at `key`, `value_len` bytes at `value`). On a full
/// bounded queue waits up to `timeout_ms` milliseconds for room (negative: for ever; 0: not
/// at all), then returns `SHMKIT_STATUS_FULL` with nothing pushed.
/// `SHMKIT_STATUS_INVALID_ARGUMENT` for a key past 1 MiB or a value past 1 GiB.
///
/// # Safety
/// `queue` is NULL or a live handle; `key` is valid for `key_len` bytes and `value` for
/// `value_len` bytes (each may be NULL with length 0).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_priority_queue_push(
    queue: *const shmkit_priority_queue,
    key: *const u8,
    key_len: usize,
    value: *const u8,
    value_len: usize,
    timeout_ms: i64,
) -> Status {
    entry(|| {
        // SAFETY: this function's contract is that of `handle` and `bytes`.
        let (queue, key, value) = unsafe {
            (
                ffi_ptr::handle(queue, "the priority queue")?,
                ffi_ptr::bytes(key, key_len)?,
                ffi_ptr::bytes(value, value_len)?,
            )
        };
        queue
            .queue
            .push_timeout(key, value, timeout_of(timeout_ms))?;
        Ok(Status::Ok)
    })
}

/// Pops the smallest item: its key into `key_buf` (`*key_len` set to its length) and its
/// value into `value_buf` (`*value_len`), waiting up to `timeout_ms` milliseconds for one
/// (negative: for ever; 0: not at all). `SHMKIT_STATUS_NOT_FOUND` if no item came.
/// `SHMKIT_STATUS_BUFFER_TOO_SMALL` if the key or the value does not fit: both lengths are
/// set and the item stays in the queue (NULL buffers with capacity 0 ask for them).
/// `key_buf` may be NULL with `key_cap` 0 when the key is not wanted and is empty. No two
/// outputs may overlap (`SHMKIT_STATUS_INVALID_ARGUMENT`).
///
/// # Safety
/// `queue` is NULL or a live handle; each buffer is valid for writes of its capacity (or
/// NULL with 0); `key_len` and `value_len` are NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_priority_queue_pop(
    queue: *const shmkit_priority_queue,
    timeout_ms: i64,
    key_buf: *mut u8,
    key_cap: usize,
    key_len: *mut usize,
    value_buf: *mut u8,
    value_cap: usize,
    value_len: *mut usize,
) -> Status {
    entry(|| {
        // SAFETY: this function's contract is that of `handle`, `out_buf` and `out`; each
        // output is checked against the ones before it.
        let (queue, mut key_buf, key_len, mut value_buf, value_len) = unsafe {
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
                ffi_ptr::handle(queue, "the priority queue")?,
                key_buf,
                key_len,
                value_buf,
                value_len,
            )
        };
        let (mut key, mut value) = (Vec::new(), Vec::new());
        match queue.queue.pop_into_bounded(
            &mut key,
            &mut value,
            key_cap as u64,
            value_cap as u64,
            timeout_of(timeout_ms),
        )? {
            PqPopped::Item => {
                key_len.write(key.len());
                value_len.write(value.len());
                // Both fit: the core checked the lengths against the capacities.
                if !(key_buf.fill(&key) && value_buf.fill(&value)) {
                    return Err(CError::new(
                        Status::Panic,
                        "the popped item did not fit the buffers its lengths were checked against",
                    ));
                }
                Ok(Status::Ok)
            }
            PqPopped::TooLarge {
                key_len: k,
                value_len: v,
            } => {
                key_len.write(k as usize);
                value_len.write(v as usize);
                Err(CError::new(
                    Status::BufferTooSmall,
                    format!(
                        "the item needs {k} key bytes and {v} value bytes, the buffers hold \
                         {key_cap} and {value_cap}; it stays in the queue"
                    ),
                ))
            }
            PqPopped::Empty => Ok(Status::NotFound),
        }
    })
}

/// Removes every item; sets `*removed` (if not NULL) to how many there were.
///
/// # Safety
/// `queue` is NULL or a live handle; `removed` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_priority_queue_clear(
    queue: *const shmkit_priority_queue,
    removed: *mut u64,
) -> Status {
    entry(|| {
        // SAFETY: this function's contract is that of `handle` and `out_opt` (no inputs).
        let (queue, removed) = unsafe {
            (
                ffi_ptr::handle(queue, "the priority queue")?,
                ffi_ptr::out_opt(removed, &[])?,
            )
        };
        let n = queue.queue.clear()?;
        if let Some(removed) = removed {
            removed.write(n);
        }
        Ok(Status::Ok)
    })
}
