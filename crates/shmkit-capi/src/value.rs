//! Typed values as C sees them: `shmkit_value`, a view of one value of the shared encoding
//! (`shmkit::value`), which Python and Rust read and write too.
#![allow(unsafe_code)] // `#[unsafe(no_mangle)]`, and each function's one argument conversion

use crate::ffi_ptr::{self, Input};
use crate::hash_map::deliver;
use crate::status::{CError, Status, entry};
use shmkit::value::{ValueRef, decode_ref};

/// The type of a `shmkit_value`.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum shmkit_type {
    /// null (Python's None).
    Null = 0,
    /// A boolean: `boolean`.
    Bool = 1,
    /// A 64-bit signed integer: `int64`.
    Int = 2,
    /// A 64-bit float: `float64`.
    Float = 3,
    /// Bytes: `data`, `len`.
    Bytes = 4,
    /// UTF-8 text, not NUL-terminated: `data`, `len`.
    Str = 5,
    /// An integer beyond 64 bits (Python writes them): two's complement little-endian in
    /// `data`, `len`.
    BigInt = 6,
    /// A language-specific object (a Python pickle: `lang` 1): `lang`, `data`, `len`.
    Foreign = 7,
}

impl shmkit_type {
    /// Every type, in code order.
    const ALL: [shmkit_type; 8] = [
        shmkit_type::Null,
        shmkit_type::Bool,
        shmkit_type::Int,
        shmkit_type::Float,
        shmkit_type::Bytes,
        shmkit_type::Str,
        shmkit_type::BigInt,
        shmkit_type::Foreign,
    ];

    /// The type with this code, if there is one (C passes plain integers).
    pub(crate) fn from_code(code: u32) -> Option<shmkit_type> {
        Self::ALL.into_iter().find(|t| *t as u32 == code)
    }
}

/// One decoded value. Which fields mean something depends on `kind`. For bytes, str, big
/// int and foreign values `data` points to the `len` payload bytes inside the buffer the
/// value was decoded from (valid as long as that buffer is); it is never NULL for them, also
/// when `len` is 0 (it then points just past the type byte, still inside that buffer, so
/// it may be passed to `memcpy`). For null, bool, int and float `data` is NULL and `len` 0.
/// A str payload is not NUL-terminated.
///
/// C also passes values in (`shmkit_value_encode`, `shmkit_hash_map_compare_and_set_value`,
/// `_insert_if_absent_value`): set `kind` and the fields it uses (`data` may then be NULL
/// with `len` 0); the other fields are not read.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct shmkit_value {
    /// The type.
    pub kind: shmkit_type,
    /// `SHMKIT_TYPE_FOREIGN`: the language id (1: a Python pickle).
    pub lang: u8,
    /// `SHMKIT_TYPE_BOOL`: the value.
    pub boolean: bool,
    /// `SHMKIT_TYPE_INT`: the value.
    pub int64: i64,
    /// `SHMKIT_TYPE_FLOAT`: the value.
    pub float64: f64,
    /// `SHMKIT_TYPE_BYTES`, `_STR`, `_BIG_INT`, `_FOREIGN`: the payload (not NULL, also when
    /// empty); NULL for the other types.
    pub data: *const u8,
    /// Length of `data` in bytes.
    pub len: usize,
}

impl shmkit_value {
    /// The C view of a decoded value whose payload lies at `base + (payload - start)`:
    /// `start` is the decoded slice, `base` where the caller sees the same bytes.
    pub(crate) fn of(v: ValueRef<'_>, start: &[u8], base: *const u8) -> shmkit_value {
        let mut out = shmkit_value {
            kind: shmkit_type::Null,
            lang: 0,
            boolean: false,
            int64: 0,
            float64: 0.0,
            data: std::ptr::null(),
            len: 0,
        };
        let payload: &[u8] = match v {
            ValueRef::Null => &[],
            ValueRef::Bool(b) => {
                out.kind = shmkit_type::Bool;
                out.boolean = b;
                &[]
            }
            ValueRef::Int(i) => {
                out.kind = shmkit_type::Int;
                out.int64 = i;
                &[]
            }
            ValueRef::Float(f) => {
                out.kind = shmkit_type::Float;
                out.float64 = f;
                &[]
            }
            ValueRef::Bytes(b) => {
                out.kind = shmkit_type::Bytes;
                b
            }
            ValueRef::Str(s) => {
                out.kind = shmkit_type::Str;
                s.as_bytes()
            }
            ValueRef::BigInt(b) => {
                out.kind = shmkit_type::BigInt;
                b
            }
            ValueRef::Foreign { lang, data } => {
                out.kind = shmkit_type::Foreign;
                out.lang = lang;
                data
            }
        };
        if matches!(
            out.kind,
            shmkit_type::Bytes | shmkit_type::Str | shmkit_type::BigInt | shmkit_type::Foreign
        ) {
            // The payload is a subslice of `start` (decoded from it), so the offset is in
            // range, also for an empty payload (`decode_ref` gives `&start[1..]` or a part of
            // it, not a dangling slice); `base` shows the same bytes to C.
            let offset = payload.as_ptr() as usize - start.as_ptr() as usize;
            out.data = base.wrapping_add(offset);
            out.len = payload.len();
        }
        out
    }
}

/// Decodes the `len` encoded bytes at `bytes` (a value as `shmkit_hash_map_get` or the
/// iterator return it from a map of typed values) into `*out`, whose `data` then points into
/// `bytes`. `SHMKIT_STATUS_INVALID_VALUE` for bytes that are not a value. `out` must not
/// overlap `bytes` (`SHMKIT_STATUS_INVALID_ARGUMENT`).
///
/// # Safety
/// `bytes` is NULL (with `len` 0) or valid for `len` bytes; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_value_decode(
    bytes: *const u8,
    len: usize,
    out: *mut shmkit_value,
) -> Status {
    entry(|| {
        // SAFETY: this function's contract is that of `bytes` and `out`; the encoded bytes
        // are the only input.
        let (data, out) = unsafe {
            let data = ffi_ptr::bytes(bytes, len)?;
            (
                data,
                ffi_ptr::out(out, "the value out-parameter", &[Input::of(data)])?,
            )
        };
        let v = decode_ref(data).map_err(CError::from)?;
        out.write(shmkit_value::of(v, data, bytes));
        Ok(Status::Ok)
    })
}

/// Encodes `*value` into `buf` (capacity `cap`) in the shared encoding and sets `*len` to
/// the length of the encoding: the bytes Python writes for the same value, to pass as a key
/// (to a map handle opened without `SHMKIT_MAP_STR_KEYS`, for an int or bytes key of a map
/// Python uses) or as a value to the raw functions. Buffers as `shmkit_hash_map_get`:
/// `SHMKIT_STATUS_BUFFER_TOO_SMALL` if the encoding is longer than `cap`, with `*len` the
/// length needed and nothing copied; `buf` may be NULL with `cap` 0 to ask for the length.
/// Every type may be given: a big int (`data`/`len`, two's complement little-endian, any
/// length) is written in its one canonical form, so one that fits in `int64_t` becomes an
/// int; a str must be UTF-8 and a `kind` must be a `shmkit_type`
/// (`SHMKIT_STATUS_INVALID_ARGUMENT` otherwise). `buf` and `len` must not overlap `*value`
/// or its payload (`SHMKIT_STATUS_INVALID_ARGUMENT`, nothing written).
///
/// # Safety
/// `value` is NULL or points to a `shmkit_value` whose `kind` and the fields that kind uses
/// are set (its `data` valid for `len` bytes, or NULL with `len` 0); `buf` is valid for
/// writes of `cap` bytes (or NULL with 0); `len` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_value_encode(
    value: *const shmkit_value,
    buf: *mut u8,
    cap: usize,
    len: *mut usize,
) -> Status {
    entry(|| {
        // SAFETY: this function's contract is that of `value`, `out_buf` and `out`; the
        // value and its payload are the inputs.
        let (value, mut buf, len) = unsafe {
            let value = ffi_ptr::value(value)?.ok_or_else(|| CError::null("the value"))?;
            (
                value.value,
                ffi_ptr::out_buf(buf, cap, &value.inputs)?,
                ffi_ptr::out(len, "the length out-parameter", &value.inputs)?,
            )
        };
        let mut encoded = Vec::new();
        value.encode_into(&mut encoded);
        deliver(&encoded, &mut buf, len)?;
        Ok(Status::Ok)
    })
}
