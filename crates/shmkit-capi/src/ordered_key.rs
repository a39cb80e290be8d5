//! Ordered keys for C: the order-preserving key encoding of `shmkit::value::ordered`
//! (`docs/FORMAT.md`, "Ordered keys"), which Python's `OrderedMap` and `PriorityQueue` key
//! their entries by, written element by element into a caller's buffer and decoded into an
//! array of items.
//!
//! Invariants: the bytes are the core's (its borrowed encoders, `OrderedKey::decode`); this
//! file holds no knowledge of the format. Encoding appends to a caller's buffer at a running
//! length, as `snprintf` does: every call advances `*len` by its element's length, and
//! copies the element only if the key so far fits in the buffer, so after the last call
//! `*len` is the whole key's length and the buffer holds it exactly when `*len <= cap`.
#![allow(unsafe_code)] // `#[unsafe(no_mangle)]`, and each function's one argument conversion

use crate::ffi_ptr::{self, Input, Out, OutBuf};
use crate::status::{CError, Status, entry};
use shmkit::value::ordered::{self, OrderedKey, OrderedKeyError};

/// The type of an item of a decoded ordered key.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum shmkit_ordered_key_type {
    /// null (Python's None).
    Null = 0,
    /// An integer within 64 bits: `int64`. (A bool was stored as the int 0 or 1, and an
    /// integral float as the int it equals.)
    Int = 1,
    /// An integer beyond 64 bits: two's complement little-endian in `data`, `len` (its
    /// shortest form).
    BigInt = 2,
    /// A float that is not an integer (or an infinity, or NaN): `float64`.
    Float = 3,
    /// Bytes: `data`, `len`.
    Bytes = 4,
    /// UTF-8 text, not NUL-terminated: `data`, `len`.
    Str = 5,
    /// A tuple of `len` elements: the items that follow it (each element one item, a tuple
    /// element with its own elements after it).
    Tuple = 6,
}

/// One item of a decoded ordered key (see `shmkit_ordered_key_decode`). Which fields mean
/// something depends on `kind`; the others are 0 (and `data` NULL).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct shmkit_ordered_key_item {
    /// The type.
    pub kind: shmkit_ordered_key_type,
    /// `SHMKIT_ORDERED_KEY_TYPE_INT`: the value.
    pub int64: i64,
    /// `SHMKIT_ORDERED_KEY_TYPE_FLOAT`: the value.
    pub float64: f64,
    /// `_BIG_INT`, `_BYTES`, `_STR`: the payload, inside the caller's payload buffer (NULL
    /// only when that buffer is NULL, and then `len` is 0).
    pub data: *const u8,
    /// `_BIG_INT`, `_BYTES`, `_STR`: the payload's length in bytes; `_TUPLE`: the number of
    /// elements.
    pub len: usize,
}

/// Appends `encoded` to the caller's key at `at`, as the module says: `*len` becomes
/// `at + encoded.len()`; the bytes are copied only if that fits in the buffer, else
/// `BufferTooSmall`.
fn append(
    buf: &mut OutBuf<'_>,
    at: usize,
    len: Out<'_, usize>,
    encoded: &[u8],
) -> Result<Status, CError> {
    let end = at.checked_add(encoded.len()).ok_or_else(|| {
        CError::new(
            Status::InvalidArgument,
            format!("*len ({at}) is past any buffer"),
        )
    })?;
    len.write(end);
    if buf.fill_at(at, encoded) {
        Ok(Status::Ok)
    } else {
        Err(CError::new(
            Status::BufferTooSmall,
            format!(
                "the key needs {end} bytes, the buffer holds {}",
                buf.capacity()
            ),
        ))
    }
}

/// The body of an encoder whose element needs no pointer: `encode` appends it.
///
/// # Safety
/// `buf` is valid for writes of `cap` bytes (or NULL with 0); `len` is NULL or points to an
/// initialised, writable `size_t`.
unsafe fn append_fixed(
    buf: *mut u8,
    cap: usize,
    len: *mut usize,
    encode: impl FnOnce(&mut Vec<u8>),
) -> Status {
    entry(|| {
        // SAFETY: the caller's contract is that of `out_buf` and `in_out`; the length is
        // checked against the buffer (no other inputs).
        let (mut buf, (at, len)) = unsafe {
            let buf = ffi_ptr::out_buf(buf, cap, &[])?;
            let region = buf.region();
            (
                buf,
                ffi_ptr::in_out(len, "the key length in-out parameter", &[region])?,
            )
        };
        let mut encoded = Vec::with_capacity(16);
        encode(&mut encoded);
        append(&mut buf, at, len, &encoded)
    })
}

/// The body of an encoder of a payload (bytes, text, a big int): `encode` appends it, or
/// refuses it.
///
/// # Safety
/// `data` is valid for `data_len` bytes (or NULL with 0); otherwise as [`append_fixed`].
unsafe fn append_payload(
    buf: *mut u8,
    cap: usize,
    len: *mut usize,
    data: *const u8,
    data_len: usize,
    encode: impl FnOnce(&[u8], &mut Vec<u8>) -> Result<(), CError>,
) -> Status {
    entry(|| {
        // SAFETY: the caller's contract is that of `bytes`, `out_buf` and `in_out`; the
        // payload is the input, and the length is also checked against the buffer.
        let (data, mut buf, (at, len)) = unsafe {
            let data = ffi_ptr::bytes(data, data_len)?;
            let buf = ffi_ptr::out_buf(buf, cap, &[Input::of(data)])?;
            let region = buf.region();
            (
                data,
                buf,
                ffi_ptr::in_out(
                    len,
                    "the key length in-out parameter",
                    &[Input::of(data), region],
                )?,
            )
        };
        let mut encoded = Vec::with_capacity(data.len() + 2);
        encode(data, &mut encoded)?;
        append(&mut buf, at, len, &encoded)
    })
}

/// Appends null (Python's None) to the key being written in `buf` (capacity `cap`) at
/// `*len`, and advances `*len` by its length. Every `shmkit_ordered_key_encode_*` and
/// `_begin_tuple`/`_end_tuple` works so: start with `*len` = 0, call one per element, and
/// the key is the first `*len` bytes of `buf`. An element that does not fit returns
/// `SHMKIT_STATUS_BUFFER_TOO_SMALL` and copies nothing, but `*len` still advances (and
/// later calls copy nothing either), so after the last call `*len` is the length the
/// whole key needs: grow the buffer to it and write the key again. `len` must not overlap
/// `buf` (`SHMKIT_STATUS_INVALID_ARGUMENT`).
///
/// # Safety
/// `buf` is valid for writes of `cap` bytes (or NULL with 0); `len` is NULL or points to an
/// initialised, writable `size_t`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_ordered_key_encode_null(
    buf: *mut u8,
    cap: usize,
    len: *mut usize,
) -> Status {
    // SAFETY: this function's contract is `append_fixed`'s.
    unsafe { append_fixed(buf, cap, len, ordered::encode_null_into) }
}

/// Appends the int `value` (a bool is the int 0 or 1), as `shmkit_ordered_key_encode_null`
/// appends. Ints and floats share one numeric order (`-1 < 0.5 < 1`), and an integral float
/// is the int it equals.
///
/// # Safety
/// As `shmkit_ordered_key_encode_null`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_ordered_key_encode_i64(
    buf: *mut u8,
    cap: usize,
    len: *mut usize,
    value: i64,
) -> Status {
    // SAFETY: this function's contract is `append_fixed`'s.
    unsafe { append_fixed(buf, cap, len, |out| ordered::encode_i64_into(value, out)) }
}

/// Appends the float `value`, as `shmkit_ordered_key_encode_null` appends: an integral one
/// as the int it equals (`-0.0` as 0), infinities and NaN in their places (`-inf` lowest,
/// then every number, `+inf`, NaN).
///
/// # Safety
/// As `shmkit_ordered_key_encode_null`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_ordered_key_encode_f64(
    buf: *mut u8,
    cap: usize,
    len: *mut usize,
    value: f64,
) -> Status {
    // SAFETY: this function's contract is `append_fixed`'s.
    unsafe { append_fixed(buf, cap, len, |out| ordered::encode_f64_into(value, out)) }
}

/// Appends an int of any size (Python's ints beyond `int64_t`): two's complement,
/// little-endian, the `data_len` bytes at `data` (any length; 0 bytes is 0), as
/// `shmkit_ordered_key_encode_null` appends. `SHMKIT_STATUS_OVERFLOW` for an int of more
/// than 2^20 bits (nothing appended, `*len` unchanged). `data` must not overlap `buf` or
/// `len` (`SHMKIT_STATUS_INVALID_ARGUMENT`).
///
/// # Safety
/// As `shmkit_ordered_key_encode_null`; `data` is valid for `data_len` bytes (or NULL with
/// 0).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_ordered_key_encode_big_int(
    buf: *mut u8,
    cap: usize,
    len: *mut usize,
    data: *const u8,
    data_len: usize,
) -> Status {
    // SAFETY: this function's contract is `append_payload`'s.
    unsafe {
        append_payload(buf, cap, len, data, data_len, |n, out| {
            ordered::encode_int_le_into(n, out).map_err(|e| match e {
                OrderedKeyError::IntTooLarge { .. } => CError::new(Status::Overflow, e.to_string()),
                e => CError::new(Status::InvalidArgument, e.to_string()),
            })
        })
    }
}

/// Appends the `text_len` bytes of UTF-8 text at `text` (a str, ordered by code point), as
/// `shmkit_ordered_key_encode_null` appends. `SHMKIT_STATUS_INVALID_ARGUMENT` for text that
/// is not UTF-8 (nothing appended), or that overlaps `buf` or `len`.
///
/// # Safety
/// As `shmkit_ordered_key_encode_null`; `text` is valid for `text_len` bytes (or NULL with
/// 0).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_ordered_key_encode_str(
    buf: *mut u8,
    cap: usize,
    len: *mut usize,
    text: *const u8,
    text_len: usize,
) -> Status {
    // SAFETY: this function's contract is `append_payload`'s.
    unsafe {
        append_payload(buf, cap, len, text, text_len, |t, out| {
            let t = std::str::from_utf8(t).map_err(|_| {
                CError::new(Status::InvalidArgument, "the key's str is not valid UTF-8")
            })?;
            ordered::encode_str_into(t, out);
            Ok(())
        })
    }
}

/// Appends the `data_len` bytes at `data` (bytes, ordered bytewise), as
/// `shmkit_ordered_key_encode_null` appends. `data` must not overlap `buf` or `len`
/// (`SHMKIT_STATUS_INVALID_ARGUMENT`).
///
/// # Safety
/// As `shmkit_ordered_key_encode_null`; `data` is valid for `data_len` bytes (or NULL with
/// 0).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_ordered_key_encode_bytes(
    buf: *mut u8,
    cap: usize,
    len: *mut usize,
    data: *const u8,
    data_len: usize,
) -> Status {
    // SAFETY: this function's contract is `append_payload`'s.
    unsafe {
        append_payload(buf, cap, len, data, data_len, |b, out| {
            ordered::encode_bytes_into(b, out);
            Ok(())
        })
    }
}

/// Starts a tuple, as `shmkit_ordered_key_encode_null` appends: append its elements, then
/// `shmkit_ordered_key_end_tuple`. Tuples compare element by element, a tuple before its
/// extensions (`("user",) < ("user", 0)`). Nesting is at most 64 deep (deeper keys are not
/// keys: `shmkit_ordered_key_decode` refuses them). The bytes before the `_end_tuple` are
/// the tuple's prefix: see `shmkit_ordered_key_prefix_upper_bound`.
///
/// # Safety
/// As `shmkit_ordered_key_encode_null`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_ordered_key_begin_tuple(
    buf: *mut u8,
    cap: usize,
    len: *mut usize,
) -> Status {
    // SAFETY: this function's contract is `append_fixed`'s.
    unsafe { append_fixed(buf, cap, len, ordered::begin_tuple) }
}

/// Ends the tuple `shmkit_ordered_key_begin_tuple` started, as
/// `shmkit_ordered_key_encode_null` appends.
///
/// # Safety
/// As `shmkit_ordered_key_encode_null`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_ordered_key_end_tuple(
    buf: *mut u8,
    cap: usize,
    len: *mut usize,
) -> Status {
    // SAFETY: this function's contract is `append_fixed`'s.
    unsafe { append_fixed(buf, cap, len, ordered::end_tuple) }
}

/// Turns a tuple prefix `P` (`shmkit_ordered_key_begin_tuple` and some elements, without
/// the `_end_tuple`; a copy of it, since `P` itself is the range's start) into the exclusive
/// upper bound of the keys that extend it, appending as `shmkit_ordered_key_encode_null`
/// does: the keys from `P` (inclusive) to this bound (exclusive) are exactly the tuples that
/// start with those elements, the range to pass to `shmkit_ordered_map_count` or
/// `_iter_open` for a prefix count or scan. (Keys that merely start with the bytes of `P`
/// include others: `("user\0x", 1)` starts with the bytes of `("user",`'s prefix.)
///
/// # Safety
/// As `shmkit_ordered_key_encode_null`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_ordered_key_prefix_upper_bound(
    buf: *mut u8,
    cap: usize,
    len: *mut usize,
) -> Status {
    // SAFETY: this function's contract is `append_fixed`'s.
    unsafe { append_fixed(buf, cap, len, ordered::prefix_upper_bound_into) }
}

/// A decoded key's items before they are written to C: payloads as ranges of one buffer.
struct Flat {
    items: Vec<(shmkit_ordered_key_type, i64, f64, Option<usize>, usize)>,
    payload: Vec<u8>,
}

impl Flat {
    fn push(&mut self, key: &OrderedKey) {
        let mut payload = |kind, bytes: &[u8]| {
            let at = self.payload.len();
            self.payload.extend_from_slice(bytes);
            (kind, 0, 0.0, Some(at), bytes.len())
        };
        let item = match key {
            OrderedKey::Null => (shmkit_ordered_key_type::Null, 0, 0.0, None, 0),
            OrderedKey::Int(i) => (shmkit_ordered_key_type::Int, *i, 0.0, None, 0),
            OrderedKey::Float(f) => (shmkit_ordered_key_type::Float, 0, *f, None, 0),
            OrderedKey::BigInt(n) => payload(shmkit_ordered_key_type::BigInt, n),
            OrderedKey::Bytes(b) => payload(shmkit_ordered_key_type::Bytes, b),
            OrderedKey::Str(s) => payload(shmkit_ordered_key_type::Str, s.as_bytes()),
            OrderedKey::Tuple(items) => {
                self.items
                    .push((shmkit_ordered_key_type::Tuple, 0, 0.0, None, items.len()));
                for item in items {
                    self.push(item);
                }
                return;
            }
        };
        self.items.push(item);
    }
}

/// Decodes the `key_len` bytes at `key` (a key of an ordered map or priority queue, or one
/// the encoders wrote) into items, in order: a scalar is one item; a tuple is one item
/// (`SHMKIT_ORDERED_KEY_TYPE_TUPLE`, `len` its element count) followed by its elements'
/// items. `("user", 7)` is three items: a tuple of 2, the str `user`, the int 7. Str, bytes
/// and big int payloads are copied one after the other into `payload` (capacity
/// `payload_cap`), where the items' `data` point. `*items_len` and `*payload_len` are set
/// to the item count and payload bytes used.
///
/// `SHMKIT_STATUS_BUFFER_TOO_SMALL` if the items do not fit in `items_cap` or the payloads
/// in `payload_cap`: both counts are set to what is needed and nothing else is written
/// (NULL arrays with 0 ask for them). `SHMKIT_STATUS_INVALID_VALUE` for bytes that are not
/// exactly one key (the decoding is strict: truncated keys, trailing bytes and forms the
/// encoder never writes are refused). Decoded keys are canonical: an integral float comes
/// back as an int, a bool as the int 0 or 1. No output may overlap the key or another
/// output (`SHMKIT_STATUS_INVALID_ARGUMENT`).
///
/// # Safety
/// `key` is valid for `key_len` bytes (or NULL with 0); `items` is valid for writes of
/// `items_cap` items (aligned; or NULL with 0); `payload` is valid for writes of
/// `payload_cap` bytes (or NULL with 0); `items_len` and `payload_len` are NULL or
/// writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_ordered_key_decode(
    key: *const u8,
    key_len: usize,
    items: *mut shmkit_ordered_key_item,
    items_cap: usize,
    items_len: *mut usize,
    payload: *mut u8,
    payload_cap: usize,
    payload_len: *mut usize,
) -> Status {
    entry(|| {
        // SAFETY: this function's contract is that of `bytes`, `out_array`, `out_buf` and
        // `out` (twice); the key is the input, and each output is checked against it and
        // the outputs before it.
        let (key, mut items, items_len, mut payload, payload_len) = unsafe {
            let key = ffi_ptr::bytes(key, key_len)?;
            let key_in = Input::of(key);
            let items = ffi_ptr::out_array(items, items_cap, "the item array", &[key_in], &[])?;
            let payload = ffi_ptr::out_buf(payload, payload_cap, &[key_in, items.region()])?;
            let items_len = ffi_ptr::out(
                items_len,
                "the item count out-parameter",
                &[key_in, items.region(), payload.region()],
            )?;
            let payload_len = ffi_ptr::out(
                payload_len,
                "the payload length out-parameter",
                &[key_in, items.region(), payload.region(), items_len.region()],
            )?;
            (key, items, items_len, payload, payload_len)
        };
        let decoded = OrderedKey::decode(key).map_err(|e| {
            CError::new(
                Status::InvalidValue,
                format!("the bytes are not an ordered key: {e}"),
            )
        })?;
        let mut flat = Flat {
            items: Vec::new(),
            payload: Vec::new(),
        };
        flat.push(&decoded);
        items_len.write(flat.items.len());
        payload_len.write(flat.payload.len());
        if flat.items.len() > items_cap || flat.payload.len() > payload_cap {
            return Err(CError::new(
                Status::BufferTooSmall,
                format!(
                    "the key has {} items and {} payload bytes, the buffers hold {items_cap} and {payload_cap}",
                    flat.items.len(),
                    flat.payload.len()
                ),
            ));
        }
        payload.fill(&flat.payload);
        for (i, &(kind, int64, float64, at, len)) in flat.items.iter().enumerate() {
            items.set(
                i,
                shmkit_ordered_key_item {
                    kind,
                    int64,
                    float64,
                    data: at.map_or(std::ptr::null(), |at| payload.ptr_at(at)),
                    len,
                },
            );
        }
        Ok(Status::Ok)
    })
}
