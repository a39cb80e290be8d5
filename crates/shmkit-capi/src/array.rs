//! Arrays: open (create, or adopt the stored element type and shape), close, the address of
//! the elements, length, item size, dimensions, shape, element type, and copies of one
//! element by flat index.
//!
//! The array is the core's [`Array`]: a fixed-size array of plain records (a PEP 3118 element
//! type and a shape, stored in the object), the memory NumPy sees through Python's
//! `store.array(...)`. C reads and writes it in place through `shmkit_array_data`, or copies
//! one element with `shmkit_array_read`/`_write`. Neither locks: like any shared memory, a
//! copy that overlaps another process's write of the same element may mix old and new bytes.
//! An index at or past the length is `SHMKIT_STATUS_INDEX_OUT_OF_RANGE`, never a wild read;
//! an existing array of another element type is `SHMKIT_STATUS_WRONG_TYPE`, of another shape
//! `SHMKIT_STATUS_SHAPE_MISMATCH`.
#![allow(unsafe_code)] // `#[unsafe(no_mangle)]`, and each function's one argument conversion

use crate::ffi_ptr::{self, Input, into_handle};
use crate::status::{CError, Status, entry};
use crate::store::shmkit_store;
use shmkit::{Array, ArrayOptions};
use std::ffi::{c_char, c_void};

/// An array handle (opaque). Made by `shmkit_array_open`, freed by `shmkit_array_close`. It
/// keeps its store attached (so the store handle may be closed first) and with it the memory
/// `shmkit_array_data` points to. Usable from any thread, also from several at once.
pub struct shmkit_array {
    pub(crate) array: Array,
}

/// Flag of `shmkit_array_open`: open an existing array only (`SHMKIT_STATUS_OBJECT_NOT_FOUND`
/// if there is none); without it a missing array is created (which needs a format).
pub const SHMKIT_ARRAY_OPEN_EXISTING: u32 = 1;

const KNOWN_ARRAY_FLAGS: u32 = SHMKIT_ARRAY_OPEN_EXISTING;

/// Opens the array `name` of `store`.
///
/// - With a `format` (a PEP 3118 format string such as `"<d"` or `"T{<d:x:<d:y:<I:id:B:flag:3x}"`,
///   or a NumPy type string of one scalar such as `"<f8"`), the array has elements of that
///   type and the shape `shape[0..ndim]` (`ndim` 0: one element; `shape` may then be NULL).
///   A missing array is created with all bytes zero, unless `flags` has
///   `SHMKIT_ARRAY_OPEN_EXISTING` (`SHMKIT_STATUS_OBJECT_NOT_FOUND` then). An existing array
///   must have that element type (`SHMKIT_STATUS_WRONG_TYPE`; spellings of one layout such as
///   `"<q"` and `"q"` are the same type) and that shape (`SHMKIT_STATUS_SHAPE_MISMATCH`).
/// - With `format` NULL the array must exist (`SHMKIT_STATUS_OBJECT_NOT_FOUND`) and the
///   handle adopts its stored element type and shape. If `shape` is not NULL the array must
///   also have the shape `shape[0..ndim]`.
///
/// A format that is not a valid element type (`"O"`: pointers cannot be shared), a shape of
/// too many dimensions or elements, and unknown flags are `SHMKIT_STATUS_INVALID_ARGUMENT`;
/// a name that belongs to another kind of object is `SHMKIT_STATUS_WRONG_KIND`. On success
/// `*out` is a new handle, to free with `shmkit_array_close`; on failure `*out` is set to
/// NULL (unless `out` itself is NULL).
///
/// # Safety
/// `store` is NULL or a live store handle; `name` and `format` are NULL or NUL-terminated
/// strings; `shape` is NULL with `ndim` 0, or points to `ndim` `uint64_t`s; `out` is NULL or
/// writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_array_open(
    store: *const shmkit_store,
    name: *const c_char,
    format: *const c_char,
    shape: *const u64,
    ndim: usize,
    flags: u32,
    out: *mut *mut shmkit_array,
) -> Status {
    entry(|| {
        // SAFETY: this function's contract is that of `out_handle`, `handle`, `c_str` and
        // `u64s`; the name, format and shape are checked against the out-parameter.
        let (out, store, name, format, shape) = unsafe {
            let out = ffi_ptr::out_handle(out, "the array handle out-parameter")?;
            let store = ffi_ptr::handle(store, "the store")?;
            let name = ffi_ptr::c_str(name, "the array name")?;
            let format = match format.is_null() {
                true => None,
                false => Some(
                    ffi_ptr::c_str(format, "the element format")
                        .map_err(|e| CError::new(Status::InvalidArgument, e.message))?,
                ),
            };
            let given_shape = !shape.is_null();
            let shape = ffi_ptr::u64s(shape, ndim)?;
            let inputs = [
                Input::of(name),
                format.map(Input::of).unwrap_or_default(),
                Input::of(shape),
            ];
            let shape = (format.is_some() || given_shape).then_some(shape);
            (out.disjoint_from(&inputs)?, store, name, format, shape)
        };
        if flags & !KNOWN_ARRAY_FLAGS != 0 {
            return Err(CError::new(
                Status::InvalidArgument,
                format!("unknown array flags {:#x}", flags & !KNOWN_ARRAY_FLAGS),
            ));
        }
        let options = ArrayOptions {
            format: format.map(str::to_string),
            shape: shape.map(<[u64]>::to_vec),
        };
        let array = match (format, shape) {
            (Some(format), Some(shape)) if flags & SHMKIT_ARRAY_OPEN_EXISTING == 0 => {
                store.store.array(name, format, shape)?
            }
            _ => {
                let array = store.store.open_array(name)?;
                array.check_options(&options)?;
                array
            }
        };
        out.write(into_handle(shmkit_array { array }));
        Ok(Status::Ok)
    })
}

/// Frees an array handle; NULL is a no-op. Pointers from `shmkit_array_data` stay valid
/// while another handle to the array or its store lives in this process.
///
/// # Safety
/// `array` is NULL or an array handle not yet closed; it is not used again.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_array_close(array: *mut shmkit_array) {
    let _ = entry(|| {
        // SAFETY: this function's contract is `free_handle`'s.
        unsafe { ffi_ptr::free_handle(array) };
        Ok(Status::Ok)
    });
}

/// Sets `*data` to the address of element 0 in this process and `*nbytes` (may be NULL) to
/// the bytes of all elements (`len × itemsize`): the elements in C order, 64-byte aligned.
///
/// The pointer stays valid while this handle, or another handle to the array or its store,
/// lives in this process (the store's mapping never moves). Reading and writing through it is
/// the caller's, racing with other processes and threads like any shared memory: a read may
/// see a write of another process half done. Use C11 atomics on naturally aligned integer
/// elements for updates many processes make at once.
///
/// # Safety
/// `array` is NULL or a live array handle; `data` is NULL or writable; `nbytes` is NULL or
/// writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_array_data(
    array: *const shmkit_array,
    data: *mut *mut c_void,
    nbytes: *mut u64,
) -> Status {
    entry(|| {
        // SAFETY: this function's contract is that of `handle`, `out` and `out_opt` (no
        // inputs: the handle is the library's memory).
        let (array, data, nbytes) = unsafe {
            (
                ffi_ptr::handle(array, "the array")?,
                ffi_ptr::out(data, "the data out-parameter", &[])?,
                ffi_ptr::out_opt(nbytes, &[])?,
            )
        };
        data.write(array.array.data_ptr().as_ptr().cast());
        if let Some(nbytes) = nbytes {
            nbytes.write(array.array.nbytes());
        }
        Ok(Status::Ok)
    })
}

/// Sets `*out` to the number of elements (the product of the shape; it never changes).
///
/// # Safety
/// `array` is NULL or a live array handle; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_array_len(array: *const shmkit_array, out: *mut u64) -> Status {
    // SAFETY: this function's contract is `property`'s.
    unsafe { property(array, out, |a| a.len()) }
}

/// Sets `*out` to the bytes of one element.
///
/// # Safety
/// `array` is NULL or a live array handle; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_array_itemsize(
    array: *const shmkit_array,
    out: *mut u64,
) -> Status {
    // SAFETY: this function's contract is `property`'s.
    unsafe { property(array, out, |a| a.itemsize()) }
}

/// Sets `*out` to the number of dimensions (0 for an array of one element, at most 32).
///
/// # Safety
/// `array` is NULL or a live array handle; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_array_ndim(array: *const shmkit_array, out: *mut usize) -> Status {
    // SAFETY: this function's contract is `property`'s.
    unsafe { property(array, out, |a| a.shape().len()) }
}

/// Writes `value(array)` to `*out`.
///
/// # Safety
/// `array` is NULL or a live array handle; `out` is NULL or writable.
unsafe fn property<T: Copy>(
    array: *const shmkit_array,
    out: *mut T,
    value: impl FnOnce(&Array) -> T,
) -> Status {
    entry(|| {
        // SAFETY: this function's contract is that of `handle` and `out` (no inputs).
        let (array, out) = unsafe {
            (
                ffi_ptr::handle(array, "the array")?,
                ffi_ptr::out(out, "the out-parameter", &[])?,
            )
        };
        out.write(value(&array.array));
        Ok(Status::Ok)
    })
}

/// Copies the shape into `dims` (room for `cap` numbers) and sets `*ndim` to the number of
/// dimensions. `SHMKIT_STATUS_BUFFER_TOO_SMALL` if `cap` is less: `*ndim` is the number
/// needed and nothing is copied (`dims` may be NULL with `cap` 0 to ask).
///
/// # Safety
/// `array` is NULL or a live array handle; `dims` is valid for writes of `cap` `uint64_t`s
/// (or NULL with 0); `ndim` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_array_shape(
    array: *const shmkit_array,
    dims: *mut u64,
    cap: usize,
    ndim: *mut usize,
) -> Status {
    entry(|| {
        let bytes = cap.checked_mul(size_of::<u64>()).ok_or_else(|| {
            CError::new(
                Status::InvalidArgument,
                format!("capacity {cap} is too large"),
            )
        })?;
        // SAFETY: this function's contract is that of `handle`, `out_buf` (`cap` u64s are
        // `bytes` bytes; u64s are written as their bytes, so the buffer's alignment does not
        // matter) and `out` (no inputs).
        let (array, mut dims, ndim) = unsafe {
            (
                ffi_ptr::handle(array, "the array")?,
                ffi_ptr::out_buf(dims.cast(), bytes, &[])?,
                ffi_ptr::out(ndim, "the ndim out-parameter", &[])?,
            )
        };
        let shape = array.array.shape();
        let data: Vec<u8> = shape.iter().flat_map(|d| d.to_ne_bytes()).collect();
        ndim.write(shape.len());
        if !dims.fill(&data) {
            return Err(CError::new(
                Status::BufferTooSmall,
                format!("the shape has {} dimensions, room for {cap}", shape.len()),
            ));
        }
        Ok(Status::Ok)
    })
}

/// Copies the element type's format string (PEP 3118, as stored: `"<d"`,
/// `"T{<d:x:<d:y:}"`; not NUL-terminated) into `buf` and sets `*len` to its length.
/// `SHMKIT_STATUS_BUFFER_TOO_SMALL` if it is longer than `cap`: `*len` is the length needed
/// and nothing is copied (`buf` may be NULL with `cap` 0 to ask). Give `len + 1` bytes and
/// set `buf[len] = 0` to use it as a C string.
///
/// # Safety
/// `array` is NULL or a live array handle; `buf` is valid for writes of `cap` bytes (or NULL
/// with 0); `len` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_array_format(
    array: *const shmkit_array,
    buf: *mut c_char,
    cap: usize,
    len: *mut usize,
) -> Status {
    entry(|| {
        // SAFETY: this function's contract is that of `handle`, `out_buf` and `out` (no
        // inputs).
        let (array, mut buf, len) = unsafe {
            (
                ffi_ptr::handle(array, "the array")?,
                ffi_ptr::out_buf(buf.cast(), cap, &[])?,
                ffi_ptr::out(len, "the length out-parameter", &[])?,
            )
        };
        let format = array.array.format().as_bytes();
        len.write(format.len());
        if !buf.fill(format) {
            return Err(CError::new(
                Status::BufferTooSmall,
                format!("the format is {} bytes, room for {cap}", format.len()),
            ));
        }
        Ok(Status::Ok)
    })
}

/// Copies element `index` (flat, C order: element `(i, j)` of a `rows × cols` array is
/// `i * cols + j`) into `buf`, `itemsize` bytes. `SHMKIT_STATUS_INDEX_OUT_OF_RANGE` at or past
/// the length; `SHMKIT_STATUS_BUFFER_TOO_SMALL` if `cap` is less than `itemsize`. Either way
/// nothing is copied; `*len` (may be NULL) is set to `itemsize` in both this case and success.
/// The copy takes no lock (see `shmkit_array_data`).
///
/// # Safety
/// `array` is NULL or a live array handle; `buf` is valid for writes of `cap` bytes (or NULL
/// with 0); `len` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_array_read(
    array: *const shmkit_array,
    index: u64,
    buf: *mut u8,
    cap: usize,
    len: *mut usize,
) -> Status {
    entry(|| {
        // SAFETY: this function's contract is that of `handle`, `out_buf` and `out_opt` (no
        // inputs).
        let (array, mut buf, len) = unsafe {
            (
                ffi_ptr::handle(array, "the array")?,
                ffi_ptr::out_buf(buf, cap, &[])?,
                ffi_ptr::out_opt(len, &[])?,
            )
        };
        let array = &array.array;
        let size = array.itemsize() as usize;
        if index >= array.len() {
            return Err(shmkit::ArrayError::IndexOutOfRange {
                index,
                len: array.len(),
            }
            .into());
        }
        if let Some(len) = len {
            len.write(size);
        }
        // Checked before anything is copied: a size query copies nothing.
        if buf.capacity() < size {
            return Err(CError::new(
                Status::BufferTooSmall,
                format!("an element is {size} bytes, room for {cap}"),
            ));
        }
        let mut element = vec![0u8; size];
        array.read(index, &mut element)?;
        buf.fill(&element);
        Ok(Status::Ok)
    })
}

/// Stores the `len` bytes at `data` as element `index` (flat, C order); `len` must be the
/// item size (`SHMKIT_STATUS_INVALID_ARGUMENT` otherwise, nothing written).
/// `SHMKIT_STATUS_INDEX_OUT_OF_RANGE` at or past the length. The copy takes no lock (see
/// `shmkit_array_data`).
///
/// # Safety
/// `array` is NULL or a live array handle; `data` is valid for `len` bytes (or NULL with 0)
/// that no one changes during the call (so not the array's own memory from
/// `shmkit_array_data`: copy an element to a local buffer first; such a pointer is refused
/// with `SHMKIT_STATUS_INVALID_ARGUMENT`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_array_write(
    array: *const shmkit_array,
    index: u64,
    data: *const u8,
    len: usize,
) -> Status {
    entry(|| {
        // SAFETY: this function's contract is that of `handle` and `bytes`.
        let (array, data) = unsafe {
            (
                ffi_ptr::handle(array, "the array")?,
                ffi_ptr::bytes(data, len)?,
            )
        };
        // The caller's bytes must not be the array's own memory (from `shmkit_array_data`):
        // the write would change memory behind the slice it reads from.
        let own = array.array.data_ptr().as_ptr() as usize;
        let at = data.as_ptr() as usize;
        let overlaps = !data.is_empty()
            && at < own.saturating_add(array.array.nbytes() as usize)
            && own < at.saturating_add(data.len());
        if overlaps {
            return Err(CError::new(
                Status::InvalidArgument,
                "data overlaps the array's own memory: copy the element to a local buffer first",
            ));
        }
        array.array.write(index, data)?;
        Ok(Status::Ok)
    })
}
