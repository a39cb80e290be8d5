//! Every raw pointer the C API receives is turned into a reference, a slice or a write
//! here, and only here: null pointers become [`Status::NullPointer`] errors, never UB.
//!
//! Each function is `unsafe` and says in `# Safety` what it relies on; those are the
//! promises each public C function's own `# Safety` section asks of its caller, so a call
//! site's `// SAFETY:` only has to point at its contract. Checked here (and so not required
//! of the caller): null pointers, a null buffer with a zero length (an empty slice), lengths
//! beyond `isize::MAX`, names that are not UTF-8, and outputs that overlap inputs.
//!
//! **Outputs never overlap inputs.** A key, value or name the caller passes is read through
//! a shared reference while the call writes its outputs; were an output buffer or
//! out-parameter the same memory (`get(map, buf, klen, buf, cap, &len)`), that write would
//! change memory behind a shared reference: undefined behaviour. So every maker of an output
//! ([`out`], [`out_opt`], [`out_handle`], [`out_buf`]) takes the call's inputs ([`Input`])
//! and refuses an output that overlaps one with [`Status::InvalidArgument`], before anything
//! is written. Checking is cheaper than copying every key, and an overlap is a caller's
//! mistake either way (the key would be overwritten by the value). Handles are not inputs
//! in this sense: they are the library's memory, which no output may point into (outputs
//! must be the caller's own writable memory, each function's contract).
//!
//! ```ignore
//! // SAFETY: `key` is valid for `key_len` bytes and `len` for writes (this function's
//! // contract); the key is the only input.
//! let (key, len) = unsafe {
//!     let key = ffi_ptr::bytes(key, key_len)?;
//!     (key, ffi_ptr::out(len, "the length out-parameter", &[Input::of(key)])?)
//! };
//! ```
#![allow(unsafe_code)]

use crate::status::{CError, Status};
use crate::value::{shmkit_type, shmkit_value};
use shmkit::value::ValueRef;
use std::ffi::{CStr, c_char};
use std::marker::PhantomData;
use std::ptr::NonNull;

/// `len` bytes at `ptr` as a slice. Null with `len == 0` is the empty slice; null with a
/// length is an error, and so is a length no Rust slice can have.
///
/// # Safety
/// If `ptr` is not null, it must point to `len` initialised bytes that stay valid and
/// unchanged by others for `'a`. (Outputs of the same call are checked not to overlap it
/// when their makers are given [`Input::of`] the slice.)
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

/// `len` `uint64_t`s at `ptr` as a slice (an array's shape). Null with `len == 0` is the
/// empty slice; null with a length is an error, and so are a length no Rust slice can have
/// and a pointer not aligned for `uint64_t` ([`Status::InvalidArgument`]).
///
/// # Safety
/// If `ptr` is not null, it must point to `len` initialised `uint64_t`s that stay valid and
/// unchanged by others for `'a`.
pub unsafe fn u64s<'a>(ptr: *const u64, len: usize) -> Result<&'a [u64], CError> {
    if ptr.is_null() {
        return if len == 0 {
            Ok(&[])
        } else {
            Err(CError::null("an array pointer with a nonzero length"))
        };
    }
    if len > isize::MAX as usize / size_of::<u64>() {
        return Err(CError::new(
            Status::InvalidArgument,
            format!("array length {len} is larger than any array"),
        ));
    }
    if !ptr.is_aligned() {
        return Err(CError::new(
            Status::InvalidArgument,
            "an array of uint64_t at an address not aligned for uint64_t",
        ));
    }
    // SAFETY: 1. `ptr` is not null and aligned (both checked) and, by this function's
    // contract, points to `len` initialised `u64`s valid for `'a`; 2. `len * 8 <=
    // isize::MAX` (checked).
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

/// A typed value the caller passes by pointer (`const shmkit_value *`), as a [`ValueRef`]
/// borrowing its payload from the caller, with the caller's memory it covers (the struct
/// and the payload, for the overlap checks of outputs). NULL is `None`: no value (for the
/// functions where NULL means "absent"). The struct is read field by field as plain
/// integers, never as a `shmkit_value` reference: a `kind` that names no type is an
/// [`Status::InvalidArgument`] error and any nonzero `boolean` is true, never undefined
/// behaviour; only `kind` and the fields that kind uses are read. A str payload that is not
/// UTF-8 is an [`Status::InvalidArgument`] error; a payload pointer is checked as [`bytes`]
/// checks it (NULL with `len` 0 is empty).
///
/// # Safety
/// If `ptr` is not null, it must point to an aligned `shmkit_value` whose `kind` and the
/// fields that kind uses are initialised and stay unchanged for `'a`; for bytes, str, big
/// int and foreign values its `data` must be NULL with `len` 0 or point to `len`
/// initialised bytes that stay valid and unchanged by others for `'a`.
pub unsafe fn value<'a>(ptr: *const shmkit_value) -> Result<Option<ValueIn<'a>>, CError> {
    if ptr.is_null() {
        return Ok(None);
    }
    // SAFETY: `ptr` is not null (checked) and, by this function's contract, points to an
    // aligned `shmkit_value` whose `kind` is initialised; the field is read through a raw
    // place (`&raw const`, no reference to the whole struct) as a `u32`, the type
    // `shmkit_type` is `repr` of, so any bit pattern is a valid read.
    let code = unsafe { (&raw const (*ptr).kind).cast::<u32>().read() };
    let kind = shmkit_type::from_code(code).ok_or_else(|| {
        CError::new(
            Status::InvalidArgument,
            format!("shmkit_value.kind {code} is not a shmkit_type"),
        )
    })?;
    // Each field below is read as in the block above: `ptr` is a non-null aligned
    // `shmkit_value`, the contract makes the fields `kind` uses initialised, and each is read
    // through a raw place as a type every bit pattern of which is valid (a `bool` as its
    // `u8`; pointers, integers and floats as themselves).
    let payload = || -> Result<&'a [u8], CError> {
        // SAFETY: as said above; `data` and `len` are the fields of the payload kinds.
        let (data, len) = unsafe {
            (
                (&raw const (*ptr).data).read(),
                (&raw const (*ptr).len).read(),
            )
        };
        // SAFETY: the contract makes `data` NULL with `len` 0 or valid for `len` bytes for
        // `'a`, which is `bytes`'s contract.
        unsafe { bytes(data, len) }
    };
    let value = match kind {
        shmkit_type::Null => ValueRef::Null,
        shmkit_type::Bool => {
            // SAFETY: as said above; `boolean` is the field of a bool, read as a `u8`.
            let byte = unsafe { (&raw const (*ptr).boolean).cast::<u8>().read() };
            ValueRef::Bool(byte != 0)
        }
        shmkit_type::Int => {
            // SAFETY: as said above; `int64` is the field of an int.
            ValueRef::Int(unsafe { (&raw const (*ptr).int64).read() })
        }
        shmkit_type::Float => {
            // SAFETY: as said above; `float64` is the field of a float.
            ValueRef::Float(unsafe { (&raw const (*ptr).float64).read() })
        }
        shmkit_type::Bytes => ValueRef::Bytes(payload()?),
        shmkit_type::Str => ValueRef::Str(std::str::from_utf8(payload()?).map_err(|_| {
            CError::new(Status::InvalidArgument, "the str value is not valid UTF-8")
        })?),
        shmkit_type::BigInt => ValueRef::BigInt(payload()?),
        shmkit_type::Foreign => ValueRef::Foreign {
            // SAFETY: as said above; `lang` is a field of a foreign value.
            lang: unsafe { (&raw const (*ptr).lang).read() },
            data: payload()?,
        },
    };
    let payload = match value {
        ValueRef::Bytes(b) | ValueRef::BigInt(b) | ValueRef::Foreign { data: b, .. } => {
            Input::of(b)
        }
        ValueRef::Str(s) => Input::of(s),
        _ => Input::default(),
    };
    Ok(Some(ValueIn {
        value,
        inputs: [
            Input {
                start: ptr as usize,
                len: size_of::<shmkit_value>(),
            },
            payload,
        ],
    }))
}

/// A value read by [`value`]: the value, and the caller's memory it covers.
#[derive(Clone, Copy, Debug)]
pub struct ValueIn<'a> {
    /// The value, borrowing its payload from the caller.
    pub value: ValueRef<'a>,
    /// The `shmkit_value` struct and the payload it points to.
    pub inputs: [Input; 2],
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

/// The caller's memory an input covers (a slice from [`bytes`], a name from [`c_str`], a
/// struct from [`input`]): what the makers of outputs check for overlap.
/// The default covers no memory (for an absent input, such as NULL options).
#[derive(Clone, Copy, Debug, Default)]
pub struct Input {
    start: usize,
    len: usize,
}

impl Input {
    /// The bytes `r` covers.
    pub fn of<T: ?Sized>(r: &T) -> Input {
        Input {
            start: (r as *const T).cast::<u8>() as usize,
            len: size_of_val(r),
        }
    }
}

/// An [`Status::InvalidArgument`] error if the `len` bytes at `start` overlap an input.
/// Empty ranges overlap nothing. Pure address arithmetic: nothing is read.
fn disjoint(what: &str, start: usize, len: usize, inputs: &[Input]) -> Result<(), CError> {
    let end = start.saturating_add(len);
    let hit = inputs
        .iter()
        .any(|i| len != 0 && i.len != 0 && start < i.start.saturating_add(i.len) && i.start < end);
    if hit {
        return Err(CError::new(
            Status::InvalidArgument,
            format!("{what} overlaps an input of the same call (a key, value or name)"),
        ));
    }
    Ok(())
}

/// A place to write one `T` into (an out-parameter). Made only by [`out`], [`out_opt`] and
/// [`out_handle`], which establish that the pointer is writable and overlaps no input; the
/// write itself is then safe.
pub struct Out<'a, T> {
    ptr: NonNull<T>,
    _life: PhantomData<&'a mut T>,
}

impl<T: Copy> Out<'_, T> {
    /// Stores `value` (the old contents, possibly uninitialised, are not read or dropped).
    pub fn write(self, value: T) {
        // SAFETY: `Out` is made only from a pointer its maker's caller promised to be valid
        // for writes of one aligned `T` for `'a`, and which was checked to overlap none of the
        // inputs the call reads through references (by `out` and `out_opt` against the
        // inputs their contract makes the caller list; after `out_handle`, by
        // `disjoint_from`, as its contract requires); `T: Copy`, so nothing is dropped.
        unsafe { self.ptr.as_ptr().write(value) }
    }
}

impl<'a, T> Out<'a, T> {
    /// The same out-parameter, or an [`Status::InvalidArgument`] error if it overlaps an
    /// input (for [`out_handle`], whose inputs are read after it is made).
    pub fn disjoint_from(self, inputs: &[Input]) -> Result<Out<'a, T>, CError> {
        disjoint(
            "an out-parameter",
            self.ptr.as_ptr() as usize,
            size_of::<T>(),
            inputs,
        )?;
        Ok(self)
    }
}

/// A required out-parameter: null is an error naming `what`, and so is one that overlaps
/// an input ([`Status::InvalidArgument`]).
///
/// # Safety
/// - If `ptr` is not null, it must be valid for writes of one `T` (aligned) for `'a`, and
///   not be read or written by others during `'a`.
/// - `inputs` must list every reference to the caller's memory that the call holds while it
///   may write the out-parameter (its keys, values, names, option structs).
pub unsafe fn out<'a, T>(ptr: *mut T, what: &str, inputs: &[Input]) -> Result<Out<'a, T>, CError> {
    let ptr = NonNull::new(ptr).ok_or_else(|| CError::null(what))?;
    disjoint(what, ptr.as_ptr() as usize, size_of::<T>(), inputs)?;
    Ok(Out {
        ptr,
        _life: PhantomData,
    })
}

/// An optional out-parameter: null means the caller does not want the value. One that
/// overlaps an input is an error.
///
/// # Safety
/// As [`out`].
pub unsafe fn out_opt<'a, T>(ptr: *mut T, inputs: &[Input]) -> Result<Option<Out<'a, T>>, CError> {
    if ptr.is_null() {
        return Ok(None);
    }
    // SAFETY: this function's contract is `out`'s.
    unsafe { out(ptr, "an optional out-parameter", inputs) }.map(Some)
}

/// A required out-parameter for a new handle. Made first, before the call reads its inputs:
/// once it is known to be writable it is set to NULL, so a call that fails afterwards (or
/// panics) leaves NULL there, never a stale value the caller might free. The inputs, read
/// after this, are checked with [`Out::disjoint_from`].
///
/// # Safety
/// - If `ptr` is not null, it must be valid for writes of one pointer (aligned) for `'a`,
///   and not be read or written by others during `'a`.
/// - The caller passes the result through [`Out::disjoint_from`] with every reference to
///   the caller's memory it makes afterwards, before it writes the handle.
pub unsafe fn out_handle<'a, T>(ptr: *mut *mut T, what: &str) -> Result<Out<'a, *mut T>, CError> {
    // SAFETY: this function's contract is `out`'s, with no inputs yet: the call has not made
    // a reference to the caller's memory, and checks the ones it makes later.
    let slot = unsafe { out(ptr, what, &[]) }?;
    let again = Out {
        ptr: slot.ptr,
        _life: PhantomData,
    };
    slot.write(std::ptr::null_mut());
    Ok(again)
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
            // Rust's own memory (a copy out of the map), which cannot overlap a buffer the
            // caller lent us for writing, and the maker checked that the buffer overlaps none
            // of the caller's inputs the call still reads.
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
/// with a capacity is an error, and so is a buffer that overlaps an input
/// ([`Status::InvalidArgument`]).
///
/// # Safety
/// - If `ptr` is not null, it must be valid for writes of `cap` bytes for `'a` (the bytes
///   need not be initialised) and not be read or written by others during `'a`.
/// - `inputs` must list every reference to the caller's memory that the call holds while it
///   may write the buffer (its keys, values, names, option structs).
pub unsafe fn out_buf<'a>(
    ptr: *mut u8,
    cap: usize,
    inputs: &[Input],
) -> Result<OutBuf<'a>, CError> {
    if ptr.is_null() && cap != 0 {
        return Err(CError::null("a buffer pointer with a nonzero capacity"));
    }
    disjoint("an output buffer", ptr as usize, cap, inputs)?;
    Ok(OutBuf {
        ptr,
        cap,
        _life: PhantomData,
    })
}
