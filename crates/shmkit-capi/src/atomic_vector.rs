//! Atomic vectors: open, close, length, expand, element operations (load, store, swap,
//! compare-exchange, fetch-add/sub/and/or/xor), bits, wait and notify.
//!
//! Every element operation is one atomic instruction of the core's [`AtomicVector`] on the
//! element in place (sequentially consistent; no lock), so C, Rust and Python processes
//! count on the same `int64_t` elements. An index at or past the length is
//! `SHMKIT_STATUS_INDEX_OUT_OF_RANGE` (for elements and for bits alike), never a wild read.
//! Arithmetic wraps, as C's unsigned arithmetic does.
#![allow(unsafe_code)] // `#[unsafe(no_mangle)]`, and each function's one argument conversion

use crate::ffi_ptr::{self, Input, into_handle};
use crate::status::{CError, Status, entry};
use crate::store::shmkit_store;
use shmkit::{AtomicVector, VectorError};
use std::ffi::c_char;
use std::time::Duration;

/// An atomic vector handle (opaque). Made by `shmkit_atomic_vector_open`, freed by
/// `shmkit_atomic_vector_close`. It keeps its store attached, so the store handle may be
/// closed first. Usable from any thread, also from several at once.
pub struct shmkit_atomic_vector {
    pub(crate) vec: AtomicVector,
}

/// Flag of `shmkit_atomic_vector_open`: open an existing vector only
/// (`SHMKIT_STATUS_OBJECT_NOT_FOUND` if there is none); without it a missing vector is
/// created.
pub const SHMKIT_VECTOR_OPEN_EXISTING: u32 = 1;

const KNOWN_VECTOR_FLAGS: u32 = SHMKIT_VECTOR_OPEN_EXISTING;

/// Opens the atomic vector `name` of `store`, creating it with `len` elements (all 0) unless
/// `flags` has `SHMKIT_VECTOR_OPEN_EXISTING`. `len` is a minimum in both cases: an existing
/// vector shorter than `len` is expanded to it (its new elements read 0), a longer one is
/// left as it is; pass 0 to open one as it is. `SHMKIT_STATUS_WRONG_KIND` if the name
/// belongs to another kind of object; `SHMKIT_STATUS_INVALID_ARGUMENT` for unknown flags or a
/// length past the largest vector. On success `*out` is a new handle, to free with
/// `shmkit_atomic_vector_close`; on failure `*out` is set to NULL (unless `out` itself is
/// NULL).
///
/// # Safety
/// `store` is NULL or a live store handle; `name` is NULL or a NUL-terminated string; `out`
/// is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_atomic_vector_open(
    store: *const shmkit_store,
    name: *const c_char,
    len: u64,
    flags: u32,
    out: *mut *mut shmkit_atomic_vector,
) -> Status {
    entry(|| {
        // SAFETY: this function's contract is that of `out_handle`, `handle` and `c_str`; the
        // name is checked against the out-parameter.
        let (out, store, name) = unsafe {
            let out = ffi_ptr::out_handle(out, "the vector handle out-parameter")?;
            let store = ffi_ptr::handle(store, "the store")?;
            let name = ffi_ptr::c_str(name, "the vector name")?;
            (out.disjoint_from(&[Input::of(name)])?, store, name)
        };
        if flags & !KNOWN_VECTOR_FLAGS != 0 {
            return Err(CError::new(
                Status::InvalidArgument,
                format!("unknown vector flags {:#x}", flags & !KNOWN_VECTOR_FLAGS),
            ));
        }
        let vec = if flags & SHMKIT_VECTOR_OPEN_EXISTING != 0 {
            let vec = store.store.open_atomic_vector(name)?;
            vec.expand(len)?;
            vec
        } else {
            store.store.atomic_vector(name, len)?
        };
        out.write(into_handle(shmkit_atomic_vector { vec }));
        Ok(Status::Ok)
    })
}

/// Frees a vector handle; NULL is a no-op.
///
/// # Safety
/// `vec` is NULL or a vector handle not yet closed; it is not used again.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_atomic_vector_close(vec: *mut shmkit_atomic_vector) {
    let _ = entry(|| {
        // SAFETY: this function's contract is `free_handle`'s.
        unsafe { ffi_ptr::free_handle(vec) };
        Ok(Status::Ok)
    });
}

/// Sets `*out` to the number of elements (a vector only grows, so another process may have
/// made it longer by the time the caller looks).
///
/// # Safety
/// `vec` is NULL or a live vector handle; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_atomic_vector_len(
    vec: *const shmkit_atomic_vector,
    out: *mut u64,
) -> Status {
    entry(|| {
        // SAFETY: this function's contract is that of `handle` and `out` (no inputs: the
        // vector handle is the library's memory).
        let (vec, out) = unsafe {
            (
                ffi_ptr::handle(vec, "the vector")?,
                ffi_ptr::out(out, "the length out-parameter", &[])?,
            )
        };
        out.write(vec.vec.len());
        Ok(Status::Ok)
    })
}

/// Grows the vector to `new_len` elements (nothing if it is that long already); the new
/// elements read 0. No element moves: other processes keep using the vector meanwhile.
/// `SHMKIT_STATUS_INVALID_ARGUMENT` past the largest vector, `SHMKIT_STATUS_STORE_FULL` if
/// the store cannot provide the memory (the length is then unchanged).
///
/// # Safety
/// `vec` is NULL or a live vector handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_atomic_vector_expand(
    vec: *const shmkit_atomic_vector,
    new_len: u64,
) -> Status {
    entry(|| {
        // SAFETY: this function's contract is `handle`'s.
        let vec = unsafe { ffi_ptr::handle(vec, "the vector")? };
        vec.vec.expand(new_len)?;
        Ok(Status::Ok)
    })
}

/// Sets `*out` to the value of element `index`.
///
/// # Safety
/// `vec` is NULL or a live vector handle; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_atomic_vector_load(
    vec: *const shmkit_atomic_vector,
    index: u64,
    out: *mut i64,
) -> Status {
    entry(|| {
        // SAFETY: this function's contract is that of `handle` and `out` (no inputs).
        let (vec, out) = unsafe {
            (
                ffi_ptr::handle(vec, "the vector")?,
                ffi_ptr::out(out, "the value out-parameter", &[])?,
            )
        };
        out.write(vec.vec.load(index)?);
        Ok(Status::Ok)
    })
}

/// Stores `value` in element `index`.
///
/// # Safety
/// `vec` is NULL or a live vector handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_atomic_vector_store(
    vec: *const shmkit_atomic_vector,
    index: u64,
    value: i64,
) -> Status {
    entry(|| {
        // SAFETY: this function's contract is `handle`'s.
        let vec = unsafe { ffi_ptr::handle(vec, "the vector")? };
        vec.vec.store(index, value)?;
        Ok(Status::Ok)
    })
}

/// Stores `desired` in element `index` if it holds `expected`, as one atomic step.
/// Returns `SHMKIT_STATUS_OK` if it did (the element held `expected` and now holds
/// `desired`), `SHMKIT_STATUS_MISMATCH` (an outcome, not an error) if the element held
/// another value and nothing was stored. In both cases `*found` (may be NULL) is the value
/// the element held at that moment: `expected` after `SHMKIT_STATUS_OK`, the differing value
/// after `SHMKIT_STATUS_MISMATCH` (the next `expected` of a retry loop). After an error
/// `*found` is not written.
///
/// # Safety
/// `vec` is NULL or a live vector handle; `found` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_atomic_vector_compare_exchange(
    vec: *const shmkit_atomic_vector,
    index: u64,
    expected: i64,
    desired: i64,
    found: *mut i64,
) -> Status {
    entry(|| {
        // SAFETY: this function's contract is that of `handle` and `out_opt` (no inputs).
        let (vec, found) = unsafe {
            (
                ffi_ptr::handle(vec, "the vector")?,
                ffi_ptr::out_opt(found, &[])?,
            )
        };
        let (status, value) = match vec.vec.compare_exchange(index, expected, desired)? {
            Ok(v) => (Status::Ok, v),
            Err(v) => (Status::Mismatch, v),
        };
        if let Some(out) = found {
            out.write(value);
        }
        Ok(status)
    })
}

/// The body shared by the operations that change one element and return its previous value
/// (swap and the fetch operations): converts the handle and the out-parameter, runs `op`.
///
/// # Safety
/// `vec` is NULL or a live vector handle; `previous` is NULL or writable: the contracts of
/// `handle` and `out_opt`.
unsafe fn rmw(
    vec: *const shmkit_atomic_vector,
    index: u64,
    operand: i64,
    previous: *mut i64,
    op: fn(&AtomicVector, u64, i64) -> Result<i64, VectorError>,
) -> Status {
    entry(|| {
        // SAFETY: the caller's contract is that of `handle` and `out_opt` (no inputs).
        let (vec, previous) = unsafe {
            (
                ffi_ptr::handle(vec, "the vector")?,
                ffi_ptr::out_opt(previous, &[])?,
            )
        };
        let old = op(&vec.vec, index, operand)?;
        if let Some(out) = previous {
            out.write(old);
        }
        Ok(Status::Ok)
    })
}

/// Stores `value` in element `index` and sets `*previous` (may be NULL) to the value it
/// replaced.
///
/// # Safety
/// `vec` is NULL or a live vector handle; `previous` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_atomic_vector_swap(
    vec: *const shmkit_atomic_vector,
    index: u64,
    value: i64,
    previous: *mut i64,
) -> Status {
    // SAFETY: this function's contract is `rmw`'s.
    unsafe { rmw(vec, index, value, previous, AtomicVector::swap) }
}

/// Adds `delta` to element `index` (wrapping on overflow) and sets `*previous` (may be
/// NULL) to the value before the addition.
///
/// # Safety
/// `vec` is NULL or a live vector handle; `previous` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_atomic_vector_fetch_add(
    vec: *const shmkit_atomic_vector,
    index: u64,
    delta: i64,
    previous: *mut i64,
) -> Status {
    // SAFETY: this function's contract is `rmw`'s.
    unsafe { rmw(vec, index, delta, previous, AtomicVector::fetch_add) }
}

/// Subtracts `delta` from element `index` (wrapping on overflow) and sets `*previous` (may
/// be NULL) to the value before the subtraction.
///
/// # Safety
/// `vec` is NULL or a live vector handle; `previous` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_atomic_vector_fetch_sub(
    vec: *const shmkit_atomic_vector,
    index: u64,
    delta: i64,
    previous: *mut i64,
) -> Status {
    // SAFETY: this function's contract is `rmw`'s.
    unsafe { rmw(vec, index, delta, previous, AtomicVector::fetch_sub) }
}

/// Bitwise and of element `index` with `bits`; `*previous` (may be NULL) is the value
/// before.
///
/// # Safety
/// `vec` is NULL or a live vector handle; `previous` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_atomic_vector_fetch_and(
    vec: *const shmkit_atomic_vector,
    index: u64,
    bits: i64,
    previous: *mut i64,
) -> Status {
    // SAFETY: this function's contract is `rmw`'s.
    unsafe { rmw(vec, index, bits, previous, AtomicVector::fetch_and) }
}

/// Bitwise or of element `index` with `bits`; `*previous` (may be NULL) is the value
/// before.
///
/// # Safety
/// `vec` is NULL or a live vector handle; `previous` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_atomic_vector_fetch_or(
    vec: *const shmkit_atomic_vector,
    index: u64,
    bits: i64,
    previous: *mut i64,
) -> Status {
    // SAFETY: this function's contract is `rmw`'s.
    unsafe { rmw(vec, index, bits, previous, AtomicVector::fetch_or) }
}

/// Bitwise exclusive or of element `index` with `bits`; `*previous` (may be NULL) is the
/// value before.
///
/// # Safety
/// `vec` is NULL or a live vector handle; `previous` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_atomic_vector_fetch_xor(
    vec: *const shmkit_atomic_vector,
    index: u64,
    bits: i64,
    previous: *mut i64,
) -> Status {
    // SAFETY: this function's contract is `rmw`'s.
    unsafe { rmw(vec, index, bits, previous, AtomicVector::fetch_xor) }
}

/// Sets `*out` to bit `bit` of the vector: bit `bit % 64` of element `bit / 64` (the vector
/// holds `64 × len` bits). `SHMKIT_STATUS_INDEX_OUT_OF_RANGE` at or past `64 × len`.
///
/// # Safety
/// `vec` is NULL or a live vector handle; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_atomic_vector_get_bit(
    vec: *const shmkit_atomic_vector,
    bit: u64,
    out: *mut bool,
) -> Status {
    entry(|| {
        // SAFETY: this function's contract is that of `handle` and `out` (no inputs).
        let (vec, out) = unsafe {
            (
                ffi_ptr::handle(vec, "the vector")?,
                ffi_ptr::out(out, "the bit out-parameter", &[])?,
            )
        };
        out.write(vec.vec.get_bit(bit)?);
        Ok(Status::Ok)
    })
}

/// The body shared by the bit operations that change one bit and return its previous value.
///
/// # Safety
/// `vec` is NULL or a live vector handle; `previous` is NULL or writable: the contracts of
/// `handle` and `out_opt`.
unsafe fn bit_rmw(
    vec: *const shmkit_atomic_vector,
    bit: u64,
    previous: *mut bool,
    op: fn(&AtomicVector, u64) -> Result<bool, VectorError>,
) -> Status {
    entry(|| {
        // SAFETY: the caller's contract is that of `handle` and `out_opt` (no inputs).
        let (vec, previous) = unsafe {
            (
                ffi_ptr::handle(vec, "the vector")?,
                ffi_ptr::out_opt(previous, &[])?,
            )
        };
        let old = op(&vec.vec, bit)?;
        if let Some(out) = previous {
            out.write(old);
        }
        Ok(Status::Ok)
    })
}

/// Sets bit `bit` (see `shmkit_atomic_vector_get_bit`) and sets `*previous` (may be NULL)
/// to its value before: a test-and-set across processes. Bits of one element set at once by
/// different processes are never lost.
///
/// # Safety
/// `vec` is NULL or a live vector handle; `previous` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_atomic_vector_set_bit(
    vec: *const shmkit_atomic_vector,
    bit: u64,
    previous: *mut bool,
) -> Status {
    // SAFETY: this function's contract is `bit_rmw`'s.
    unsafe { bit_rmw(vec, bit, previous, AtomicVector::set_bit) }
}

/// Clears bit `bit`; `*previous` (may be NULL) is its value before.
///
/// # Safety
/// `vec` is NULL or a live vector handle; `previous` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_atomic_vector_clear_bit(
    vec: *const shmkit_atomic_vector,
    bit: u64,
    previous: *mut bool,
) -> Status {
    // SAFETY: this function's contract is `bit_rmw`'s.
    unsafe { bit_rmw(vec, bit, previous, AtomicVector::clear_bit) }
}

/// Flips bit `bit`; `*previous` (may be NULL) is its value before.
///
/// # Safety
/// `vec` is NULL or a live vector handle; `previous` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_atomic_vector_flip_bit(
    vec: *const shmkit_atomic_vector,
    bit: u64,
    previous: *mut bool,
) -> Status {
    // SAFETY: this function's contract is `bit_rmw`'s.
    unsafe { bit_rmw(vec, bit, previous, AtomicVector::flip_bit) }
}

/// Sleeps until element `index` holds something other than `expected`, for at most
/// `timeout_ms` milliseconds (a negative `timeout_ms`: no limit; 0: only look). Any write
/// to the element from any process wakes it, and so does `shmkit_atomic_vector_notify`.
/// `*changed` (may be NULL) is true if the element differed from `expected` (at once or
/// after sleeping), false if the timeout passed while it still held `expected`; a timeout
/// is `SHMKIT_STATUS_OK` too. Read the new value with `shmkit_atomic_vector_load`.
///
/// # Safety
/// `vec` is NULL or a live vector handle; `changed` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_atomic_vector_wait(
    vec: *const shmkit_atomic_vector,
    index: u64,
    expected: i64,
    timeout_ms: i64,
    changed: *mut bool,
) -> Status {
    entry(|| {
        // SAFETY: this function's contract is that of `handle` and `out_opt` (no inputs).
        let (vec, changed) = unsafe {
            (
                ffi_ptr::handle(vec, "the vector")?,
                ffi_ptr::out_opt(changed, &[])?,
            )
        };
        // A negative timeout is "no limit"; every other value fits a `u64`.
        let timeout = u64::try_from(timeout_ms).ok().map(Duration::from_millis);
        let outcome = vec.vec.wait(index, expected, timeout)?;
        if let Some(out) = changed {
            out.write(outcome.changed());
        }
        Ok(Status::Ok)
    })
}

/// Wakes every process and thread sleeping in `shmkit_atomic_vector_wait` on element
/// `index` (each re-reads the element and sleeps on if it still holds its expected value).
/// Every write to the element (from C, Rust or Python) wakes them already, so a program
/// that only changes elements through shmkit does not need this.
///
/// # Safety
/// `vec` is NULL or a live vector handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_atomic_vector_notify(
    vec: *const shmkit_atomic_vector,
    index: u64,
) -> Status {
    entry(|| {
        // SAFETY: this function's contract is `handle`'s.
        let vec = unsafe { ffi_ptr::handle(vec, "the vector")? };
        vec.vec.notify(index)?;
        Ok(Status::Ok)
    })
}
