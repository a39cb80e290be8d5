//! Every raw pointer the C API receives is turned into a reference, a slice or a write
//! here, and only here: null pointers become [`Status::NullPointer`] errors, never UB.
//!
//! Each function is `unsafe` and says in `# Safety` what it relies on; those are the
//! promises each public C function's own `# Safety` section asks of its caller, so a call
//! site's `// SAFETY:` only has to point at its contract. Checked here (and so not required
//! of the caller): null pointers, a null buffer with a zero length (an empty slice), lengths
//! beyond `isize::MAX`, names that are not UTF-8.
//!
//! ```ignore
//! // SAFETY: `key` is valid for `key_len` bytes (this function's contract).
//! let key = unsafe { ffi_ptr::bytes(key, key_len) }?;
//! ```
#![allow(unsafe_code)]

use crate::status::{CError, Status};
use std::ffi::{CStr, c_char};
use std::marker::PhantomData;
use std::ptr::NonNull;

/// `len` bytes at `ptr` as a slice. Null with `len == 0` is the empty slice; null with a
/// length is an error, and so is a length no Rust slice can have.
///
/// # Safety
/// If `ptr` is not null, it must point to `len` initialised bytes that stay valid and
/// unchanged by others for `'a`.
pub unsafe fn bytes<'a>(ptr: *const u8, len: usize) -> Result<&'a [u8], CError> {
    if ptr.is_null() {
        return if len == 0 {
            Ok(&[])
        } else {
            Err(CError::null("a buffer pointer with a nonzero length"))
        };
    }
    if len > isize::MAX as usize {
        return Err(CError::new(
            Status::InvalidArgument,
            format!("buffer length {len} is larger than any buffer"),
        ));
    }
    // SAFETY: 1. `ptr` is not null (checked) and, by this function's contract, points to
    // `len` initialised bytes valid for `'a`; 2. `len <= isize::MAX` (checked); 3. u8 has
    // alignment 1.
    Ok(unsafe { std::slice::from_raw_parts(ptr, len) })
}

/// The NUL-terminated name at `ptr` (a store or object name) as UTF-8 text; `what` says
/// which in errors. A name that is not UTF-8 is an [`Status::InvalidName`] error.
///
/// # Safety
/// If `ptr` is not null, it must point to a NUL-terminated string valid for `'a`.
pub unsafe fn c_str<'a>(ptr: *const c_char, what: &str) -> Result<&'a str, CError> {
    if ptr.is_null() {
        return Err(CError::null(what));
    }
    // SAFETY: `ptr` is not null (checked) and, by this function's contract, points to a
    // NUL-terminated string valid for `'a`.
    let s = unsafe { CStr::from_ptr(ptr) };
    s.to_str().map_err(|_| {
        CError::new(
            Status::InvalidName,
            format!("{what} is not valid UTF-8: {}", s.to_string_lossy()),
        )
    })
}

/// An input struct the caller passes by pointer; NULL means "none" (the defaults). Only
/// used for `#[repr(C)]` structs of integers, for which every bit pattern is valid.
///
/// # Safety
/// If `ptr` is not null, it must point to an initialised, aligned `T` that stays valid and
/// unchanged for `'a`.
pub unsafe fn input<'a, T>(ptr: *const T) -> Option<&'a T> {
    // SAFETY: a non-null `ptr` points to a valid `T` for `'a` by the contract.
    unsafe { ptr.as_ref() }
}

/// A handle the library gave out, borrowed for `'a`.
///
/// # Safety
/// If `ptr` is not null, it must be a handle returned by this library (`Box::into_raw`
/// through [`into_handle`]) and not yet freed, and it must not be freed during `'a`.
pub unsafe fn handle<'a, T>(ptr: *const T, what: &str) -> Result<&'a T, CError> {
    // SAFETY: a non-null `ptr` is a live `Box<T>` allocation by the contract, so it is
    // aligned, initialised and valid for `'a`; only shared references are made from it.
    unsafe { ptr.as_ref() }.ok_or_else(|| CError::null(what))
}

/// A handle the library gave out, borrowed mutably for `'a` (the iterator, which C code
/// must not use from two threads at once).
///
/// # Safety
/// As [`handle`], and no other reference to the handle may exist during `'a` (the handle is
/// not used by another thread at the same time).
pub unsafe fn handle_mut<'a, T>(ptr: *mut T, what: &str) -> Result<&'a mut T, CError> {
    // SAFETY: a non-null `ptr` is a live `Box<T>` allocation by the contract, used by no one
    // else during `'a`, so a unique reference is sound.
    unsafe { ptr.as_mut() }.ok_or_else(|| CError::null(what))
}

/// Hands `value` to C as a handle (freed by [`free_handle`]).
pub fn into_handle<T>(value: T) -> *mut T {
    Box::into_raw(Box::new(value))
}

/// Frees a handle; null is a no-op.
///
/// # Safety
/// If `ptr` is not null, it must be a handle returned by [`into_handle`] for this `T`, not
/// yet freed, and not used again after this call (by any thread).
pub unsafe fn free_handle<T>(ptr: *mut T) {
    if !ptr.is_null() {
        // SAFETY: by the contract `ptr` came from `Box::into_raw` for this `T` and is freed
        // once, here.
        drop(unsafe { Box::from_raw(ptr) });
    }
}

/// A place to write one `T` into (an out-parameter). Made only by [`out`] and [`out_opt`],
/// which establish that the pointer is writable; the write itself is then safe.
pub struct Out<'a, T> {
    ptr: NonNull<T>,
    _life: PhantomData<&'a mut T>,
}

impl<T: Copy> Out<'_, T> {
    /// Stores `value` (the old contents, possibly uninitialised, are not read or dropped).
    pub fn write(self, value: T) {
        // SAFETY: `Out` is made only from a pointer its maker's caller promised to be valid
        // for writes of one aligned `T` for `'a`; `T: Copy`, so nothing is dropped.
        unsafe { self.ptr.as_ptr().write(value) }
    }
}

/// A required out-parameter: null is an error naming `what`.
///
/// # Safety
/// If `ptr` is not null, it must be valid for writes of one `T` (aligned) for `'a`.
pub unsafe fn out<'a, T>(ptr: *mut T, what: &str) -> Result<Out<'a, T>, CError> {
    NonNull::new(ptr)
        .map(|ptr| Out {
            ptr,
            _life: PhantomData,
        })
        .ok_or_else(|| CError::null(what))
}

/// An optional out-parameter: null means the caller does not want the value.
///
/// # Safety
/// As [`out`].
pub unsafe fn out_opt<'a, T>(ptr: *mut T) -> Option<Out<'a, T>> {
    NonNull::new(ptr).map(|ptr| Out {
        ptr,
        _life: PhantomData,
    })
}

/// A caller's buffer to copy bytes into: `cap` bytes at `ptr`, possibly uninitialised.
/// Made only by [`out_buf`]; copying is then safe.
pub struct OutBuf<'a> {
    ptr: *mut u8,
    cap: usize,
    _life: PhantomData<&'a mut [u8]>,
}

impl OutBuf<'_> {
    /// The buffer's capacity in bytes.
    pub fn capacity(&self) -> usize {
        self.cap
    }

    /// Copies `data` to the start of the buffer if it fits; false (and nothing written) if
    /// it does not.
    pub fn fill(&mut self, data: &[u8]) -> bool {
        if data.len() > self.cap {
            return false;
        }
        if !data.is_empty() {
            // SAFETY: `data.len() <= cap`, and a non-empty copy means `cap > 0`, so `ptr` is
            // not null and valid for `cap` bytes of writes (the maker's contract); `data` is
            // a Rust slice, which cannot overlap a buffer the caller lent us for writing.
            unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), self.ptr, data.len()) }
        }
        true
    }

    /// A pointer to byte `offset` of the buffer (for views into what [`OutBuf::fill`] wrote).
    pub fn ptr_at(&self, offset: usize) -> *const u8 {
        self.ptr.wrapping_add(offset)
    }
}

/// A buffer to copy into. Null with `cap == 0` is an empty buffer (a length query); null
/// with a capacity is an error.
///
/// # Safety
/// If `ptr` is not null, it must be valid for writes of `cap` bytes for `'a` (the bytes need
/// not be initialised) and not be read or written by others during `'a`.
pub unsafe fn out_buf<'a>(ptr: *mut u8, cap: usize) -> Result<OutBuf<'a>, CError> {
    if ptr.is_null() && cap != 0 {
        return Err(CError::null("a buffer pointer with a nonzero capacity"));
    }
    Ok(OutBuf {
        ptr,
        cap,
        _life: PhantomData,
    })
}
