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
//! ([`out`], [`out_opt`], [`out_handle`], [`out_buf`], [`out_array`], and the `_among` forms
//! that also take a batch's arrays of keys and values, [`ByteArrays`]) takes the call's
//! inputs ([`Input`]) and refuses an output that overlaps one with
//! [`Status::InvalidArgument`], before anything is written. Checking is cheaper than copying every key, and an overlap is a caller's
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
    disjoint_among(what, start, len, inputs, &[])
}

/// [`disjoint`] for a call that also reads arrays of byte strings (a batch's keys and
/// values): the output must overlap neither the fixed inputs nor any array or string of
/// `arrays`. Linear in the number of strings.
fn disjoint_among(
    what: &str,
    start: usize,
    len: usize,
    inputs: &[Input],
    arrays: &[&ByteArrays<'_>],
) -> Result<(), CError> {
    let end = start.saturating_add(len);
    let overlaps =
        |i: Input| len != 0 && i.len != 0 && start < i.start.saturating_add(i.len) && i.start < end;
    let hit =
        inputs.iter().copied().any(overlaps) || arrays.iter().any(|a| a.inputs().any(overlaps));
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
    /// The caller's memory this out-parameter covers, to keep later outputs of the same call
    /// off it.
    pub fn region(&self) -> Input {
        Input {
            start: self.ptr.as_ptr() as usize,
            len: size_of::<T>(),
        }
    }

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
    // SAFETY: this function's contract is `out_among`'s with no arrays.
    unsafe { out_among(ptr, what, inputs, &[]) }
}

/// [`out`] for a call that also reads arrays of byte strings (a batch): one that overlaps an
/// input, an array or a string of `arrays` is an error.
///
/// # Safety
/// As [`out`]; `inputs` and `arrays` together must list every reference to the caller's
/// memory that the call holds while it may write the out-parameter.
pub unsafe fn out_among<'a, T>(
    ptr: *mut T,
    what: &str,
    inputs: &[Input],
    arrays: &[&ByteArrays<'_>],
) -> Result<Out<'a, T>, CError> {
    let ptr = NonNull::new(ptr).ok_or_else(|| CError::null(what))?;
    if !ptr.as_ptr().is_aligned() {
        // `Out::write` is an aligned write: a misaligned out-parameter is refused, not used.
        return Err(CError::new(
            Status::InvalidArgument,
            format!("{what} is not aligned for its type"),
        ));
    }
    disjoint_among(what, ptr.as_ptr() as usize, size_of::<T>(), inputs, arrays)?;
    Ok(Out {
        ptr,
        _life: PhantomData,
    })
}

/// An in-out parameter (C's `size_t *len` that a call reads and advances): the value the
/// caller put there, and the place to write the new one. Null is an error naming `what`,
/// and so are a misaligned pointer and one that overlaps an input
/// ([`Status::InvalidArgument`]).
///
/// # Safety
/// As [`out`], and if `ptr` is not null, the `T` it points to must be initialised (it is
/// read).
pub unsafe fn in_out<'a, T: Copy>(
    ptr: *mut T,
    what: &str,
    inputs: &[Input],
) -> Result<(T, Out<'a, T>), CError> {
    // SAFETY: this function's contract includes `out`'s.
    let slot = unsafe { out(ptr, what, inputs) }?;
    // SAFETY: `out` checked the pointer to be non-null and aligned; by this function's
    // contract it points to an initialised `T` valid for reads and used by no one else
    // during `'a`; `T: Copy`, so reading it leaves it valid.
    let value = unsafe { slot.ptr.as_ptr().read() };
    Ok((value, slot))
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

/// [`out_opt`] for a call that also reads arrays of byte strings (a batch).
///
/// # Safety
/// As [`out_among`].
pub unsafe fn out_opt_among<'a, T>(
    ptr: *mut T,
    inputs: &[Input],
    arrays: &[&ByteArrays<'_>],
) -> Result<Option<Out<'a, T>>, CError> {
    if ptr.is_null() {
        return Ok(None);
    }
    // SAFETY: this function's contract is `out_among`'s.
    unsafe { out_among(ptr, "an optional out-parameter", inputs, arrays) }.map(Some)
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

    /// Copies `data` to byte `offset` of the buffer if it fits there; false (and nothing
    /// written) if `offset + data.len()` is past the capacity.
    pub fn fill_at(&mut self, offset: usize, data: &[u8]) -> bool {
        match offset.checked_add(data.len()) {
            Some(end) if end <= self.cap => {}
            _ => return false,
        }
        if !data.is_empty() {
            // SAFETY: `offset + data.len() <= cap` (checked), and a non-empty copy means
            // `cap > 0`, so `ptr` is not null and valid for `cap` bytes of writes (the
            // maker's contract), of which these are a part; `data` is Rust's own memory (an
            // encoding made by the call), which cannot overlap a buffer the caller lent us for
            // writing, and the maker checked that the buffer overlaps none of the caller's
            // inputs the call still reads.
            unsafe {
                std::ptr::copy_nonoverlapping(data.as_ptr(), self.ptr.add(offset), data.len())
            }
        }
        true
    }

    /// A pointer to byte `offset` of the buffer (for views into what [`OutBuf::fill`] wrote).
    pub fn ptr_at(&self, offset: usize) -> *const u8 {
        self.ptr.wrapping_add(offset)
    }

    /// The caller's memory this buffer covers, to keep later outputs of the same call off it.
    pub fn region(&self) -> Input {
        Input {
            start: self.ptr as usize,
            len: self.cap,
        }
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
    // SAFETY: this function's contract is `out_buf_among`'s with no arrays.
    unsafe { out_buf_among(ptr, cap, inputs, &[]) }
}

/// [`out_buf`] for a call that also reads arrays of byte strings (a batch): a buffer that
/// overlaps an input, an array or a string of `arrays` is an error.
///
/// # Safety
/// As [`out_buf`]; `inputs` and `arrays` together must list every reference to the
/// caller's memory that the call holds while it may write the buffer.
pub unsafe fn out_buf_among<'a>(
    ptr: *mut u8,
    cap: usize,
    inputs: &[Input],
    arrays: &[&ByteArrays<'_>],
) -> Result<OutBuf<'a>, CError> {
    if ptr.is_null() && cap != 0 {
        return Err(CError::null("a buffer pointer with a nonzero capacity"));
    }
    disjoint_among("an output buffer", ptr as usize, cap, inputs, arrays)?;
    Ok(OutBuf {
        ptr,
        cap,
        _life: PhantomData,
    })
}

/// An array of `n` `T`s at `ptr` the caller passes (C's `const T *`, `n` elements), as a
/// slice. NULL with `n == 0` is the empty slice; NULL with elements is a
/// [`Status::NullPointer`] error naming it (`the {what} {part}`: "the key length array"),
/// and a length no slice can have or a pointer not aligned for `T` are
/// [`Status::InvalidArgument`] errors. Nothing is allocated unless it fails. Private: used
/// only for pointers and integers, for which every initialised bit pattern is a valid value.
///
/// # Safety
/// If `ptr` is not null, it must point to `n` initialised `T`s that stay valid and unchanged
/// by others for `'a`.
unsafe fn plain_array<'a, T: Copy>(
    ptr: *const T,
    n: usize,
    what: &str,
    part: &str,
) -> Result<&'a [T], CError> {
    if ptr.is_null() {
        return if n == 0 {
            Ok(&[])
        } else {
            Err(CError::null(&format!("the {what} {part} ({n} elements)")))
        };
    }
    if n > isize::MAX as usize / size_of::<T>().max(1) {
        return Err(CError::new(
            Status::InvalidArgument,
            format!("the {what} {part}: {n} elements are more than any array holds"),
        ));
    }
    if !ptr.is_aligned() {
        return Err(CError::new(
            Status::InvalidArgument,
            format!("the {what} {part} is at an address not aligned for its elements"),
        ));
    }
    // SAFETY: 1. `ptr` is not null and aligned (both checked) and, by this function's
    // contract, points to `n` initialised `T`s valid and unchanged for `'a`; 2. `n *
    // size_of::<T>() <= isize::MAX` (checked).
    Ok(unsafe { std::slice::from_raw_parts(ptr, n) })
}

/// `n` byte strings the caller passes as two arrays, the C idiom `const uint8_t *const
/// *ptrs, const size_t *lens` (a batch's keys or values): string `i` is the `lens[i]` bytes
/// at `ptrs[i]`. Every string was checked when this was made (by [`byte_arrays`]), so
/// reading one is safe.
pub struct ByteArrays<'a> {
    ptrs: &'a [*const u8],
    lens: &'a [usize],
}

impl<'a> ByteArrays<'a> {
    /// How many strings.
    pub fn len(&self) -> usize {
        self.lens.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.lens.is_empty()
    }

    /// String `i` (panics past the end, a bug of the caller in this crate).
    pub fn get(&self, i: usize) -> &'a [u8] {
        let (ptr, len) = (self.ptrs[i], self.lens[i]);
        if ptr.is_null() {
            // `byte_arrays` refused a NULL string with a length.
            return &[];
        }
        // SAFETY: `byte_arrays` checked that this non-null pointer has a length of at most
        // `isize::MAX`, and its contract makes it point to `len` initialised bytes that stay
        // valid and unchanged for `'a` (the arrays themselves are shared slices for `'a`, so
        // the pointer and length read now are those checked); u8 has alignment 1.
        unsafe { std::slice::from_raw_parts(ptr, len) }
    }

    /// The strings in order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &'a [u8]> + '_ {
        (0..self.len()).map(|i| self.get(i))
    }

    /// The caller's memory these cover, for the overlap checks of outputs: the two arrays and
    /// every string.
    pub fn inputs(&self) -> impl Iterator<Item = Input> + '_ {
        [Input::of(self.ptrs), Input::of(self.lens)]
            .into_iter()
            .chain(self.iter().map(Input::of))
    }
}

/// The `n` byte strings of `ptrs` and `lens` ([`ByteArrays`]); `what` names them in errors
/// (`"key"`). Both arrays may be NULL when `n == 0`. Checked before anything is read through
/// them, each as [`bytes`] checks one buffer: a NULL array with `n > 0` and a NULL string
/// with a nonzero length are [`Status::NullPointer`] errors (naming the string's index); a
/// misaligned array, a length no buffer can have and a count no array can have are
/// [`Status::InvalidArgument`] errors. A NULL string with length 0 is empty.
///
/// # Safety
/// - If `ptrs` is not null, it must point to `n` initialised pointers (aligned), and if
///   `lens` is not null, to `n` initialised `size_t`s (aligned), both valid and unchanged by
///   others for `'a`.
/// - Each non-null `ptrs[i]` must point to `lens[i]` initialised bytes that stay valid and
///   unchanged by others for `'a`.
pub unsafe fn byte_arrays<'a>(
    ptrs: *const *const u8,
    lens: *const usize,
    n: usize,
    what: &str,
) -> Result<ByteArrays<'a>, CError> {
    // SAFETY: this function's contract covers the two arrays as `plain_array`'s.
    let (ptrs, lens) = unsafe {
        (
            plain_array(ptrs, n, what, "pointer array")?,
            plain_array(lens, n, what, "length array")?,
        )
    };
    for (i, (&ptr, &len)) in ptrs.iter().zip(lens).enumerate() {
        if ptr.is_null() && len != 0 {
            return Err(CError::null(&format!("{what} {i} (length {len})")));
        }
        if len > isize::MAX as usize {
            return Err(CError::new(
                Status::InvalidArgument,
                format!("{what} {i}: length {len} is larger than any buffer"),
            ));
        }
    }
    Ok(ByteArrays { ptrs, lens })
}

/// A caller's array to write `n` `T`s into (a batch's per-key results). Made only by
/// [`out_array`], which checks it; writing is then safe.
pub struct OutArray<'a, T> {
    ptr: *mut T,
    len: usize,
    _life: PhantomData<&'a mut [T]>,
}

impl<T: Copy> OutArray<'_, T> {
    /// Stores `value` as element `i` (panics past the end, a bug of the caller in this
    /// crate; the old contents, possibly uninitialised, are not read or dropped).
    pub fn set(&mut self, i: usize, value: T) {
        assert!(
            i < self.len,
            "OutArray index {i} past its length {}",
            self.len
        );
        // SAFETY: `i < len` (checked), so `len > 0` and `out_array` checked the pointer to be
        // non-null and aligned; its caller promised it valid for writes of `len` `T`s for
        // `'a` and not used by others, and it was checked to overlap no input the call reads
        // through references; `T: Copy`, so nothing is dropped.
        unsafe { self.ptr.add(i).write(value) }
    }

    /// The caller's memory this array covers, to keep later outputs of the same call off it.
    pub fn region(&self) -> Input {
        Input {
            start: self.ptr as usize,
            len: self.len * size_of::<T>(),
        }
    }
}

/// An output array of `n` `T`s (C's `T *`, `n` elements). NULL with `n == 0` is an empty
/// array; NULL with elements is a [`Status::NullPointer`] error naming `what`; a pointer not
/// aligned for `T`, a count no array can have, and an array that overlaps an input, an
/// array or a string of `arrays` are [`Status::InvalidArgument`] errors.
///
/// # Safety
/// - If `ptr` is not null, it must be valid for writes of `n` `T`s for `'a` (they need not
///   be initialised) and not be read or written by others during `'a`.
/// - `inputs` and `arrays` together must list every reference to the caller's memory that
///   the call holds while it may write the array.
pub unsafe fn out_array<'a, T: Copy>(
    ptr: *mut T,
    n: usize,
    what: &str,
    inputs: &[Input],
    arrays: &[&ByteArrays<'_>],
) -> Result<OutArray<'a, T>, CError> {
    if ptr.is_null() {
        return if n == 0 {
            Ok(OutArray {
                ptr,
                len: 0,
                _life: PhantomData,
            })
        } else {
            Err(CError::null(&format!("{what} ({n} elements)")))
        };
    }
    if n > isize::MAX as usize / size_of::<T>().max(1) {
        return Err(CError::new(
            Status::InvalidArgument,
            format!("{what}: {n} elements are more than any array holds"),
        ));
    }
    if !ptr.is_aligned() {
        return Err(CError::new(
            Status::InvalidArgument,
            format!("{what} is at an address not aligned for its elements"),
        ));
    }
    disjoint_among(what, ptr as usize, n * size_of::<T>(), inputs, arrays)?;
    Ok(OutArray {
        ptr,
        len: n,
        _life: PhantomData,
    })
}
