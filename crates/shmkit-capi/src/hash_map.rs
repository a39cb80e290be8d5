//! Hash maps: open, close, raw byte get/set, typed values, conditional writes, counters,
//! length. Iteration is in `iter.rs`.
//!
//! Keys are bytes; a map handle opened with `SHMKIT_MAP_STR_KEYS` takes them as UTF-8 text
//! stored as typed strings, the keys Python's `m["name"]` uses. Values are bytes
//! (`shmkit_hash_map_get`/`_set`) or typed values of the shared encoding
//! (`shmkit_hash_map_set_i64`, `_get_value`, ...), which Python reads and writes as `int`,
//! `float`, `str`, `bytes`, `bool` and `None`.
#![allow(unsafe_code)] // `#[unsafe(no_mangle)]`, and each function's one argument conversion

use crate::ffi_ptr::{self, Input, OutBuf, into_handle};
use crate::status::{CError, Status, entry};
use crate::store::shmkit_store;
use crate::value::shmkit_value;
use shmkit::value::arith::{AddError, Addend, add_to};
use shmkit::value::{ValueRef, decode_ref, int};
use shmkit::{FixedSize, HashMap, HashMapOptions, UpdateAction};
use std::borrow::Cow;
use std::cell::Cell;
use std::ffi::c_char;

/// A hash map handle (opaque). Made by `shmkit_hash_map_open`, freed by
/// `shmkit_hash_map_close`. It keeps its store attached, so the store handle may be closed
/// first. Usable from any thread, also from several at once.
pub struct shmkit_hash_map {
    pub(crate) map: HashMap,
    pub(crate) str_keys: bool,
}

/// Flag of `shmkit_map_options.flags`: open an existing map only
/// (`SHMKIT_STATUS_OBJECT_NOT_FOUND` if there is none); without it a missing map is created.
pub const SHMKIT_MAP_OPEN_EXISTING: u32 = 1;
/// Flag of `shmkit_map_options.flags`: keys passed to and returned by this handle are UTF-8
/// text, stored as typed strings (as Python stores `str` keys). Without it keys are stored
/// as the bytes given (Python's `hash_map(name, raw=True)`, Rust's `HashMap`).
pub const SHMKIT_MAP_STR_KEYS: u32 = 2;

/// Options of `shmkit_hash_map_open`. All zero (or a NULL pointer) means: create if missing,
/// byte keys, default shape, keys and values of any length.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct shmkit_map_options {
    /// `SHMKIT_MAP_OPEN_EXISTING`, `SHMKIT_MAP_STR_KEYS`, or'ed.
    pub flags: u32,
    /// Shards of a new map: a power of two up to 65536 (0: 64). An existing map keeps its own.
    pub shards: u32,
    /// Entries a new map should hold before its first resize (0: a small start).
    pub initial_capacity: u64,
    /// With `value_len`: both 0 (the default) for a map whose keys and values may have any
    /// length; otherwise a **fixed-size map**, whose every key is `key_len` bytes (at
    /// least one) and every value `value_len` bytes (0 makes it a set of keys); a record
    /// (8 bytes, then the key and the value each rounded up to 8 bytes) is at most 64 KiB.
    /// Its records carry no lengths and an overwrite or a removal never allocates. A key
    /// or value of another length is `SHMKIT_STATUS_INVALID_ARGUMENT` in every call, with
    /// nothing changed. An existing map keeps the sizes it was created with: opening it
    /// with other nonzero sizes (or sizes for a map of any length) is
    /// `SHMKIT_STATUS_INVALID_ARGUMENT`; 0 and 0 open any map. A fixed-size map takes byte
    /// keys only (`SHMKIT_MAP_STR_KEYS` is `SHMKIT_STATUS_INVALID_ARGUMENT`, also for an
    /// existing one); the sizes are those of the stored bytes, so the typed setters write
    /// their encoding (an `int64_t` in 9 bytes, see `shmkit_value_encode`).
    pub key_len: u32,
    /// See `key_len`.
    pub value_len: u32,
}

const KNOWN_MAP_FLAGS: u32 = SHMKIT_MAP_OPEN_EXISTING | SHMKIT_MAP_STR_KEYS;

impl shmkit_hash_map {
    /// The stored form of a key given by C.
    pub(crate) fn key<'a>(&self, key: &'a [u8]) -> Result<Cow<'a, [u8]>, CError> {
        if !self.str_keys {
            return Ok(Cow::Borrowed(key));
        }
        let text = std::str::from_utf8(key).map_err(|_| {
            CError::new(
                Status::InvalidArgument,
                "a key of a map opened with SHMKIT_MAP_STR_KEYS is not valid UTF-8",
            )
        })?;
        let mut encoded = Vec::with_capacity(1 + key.len());
        ValueRef::Str(text).encode_into(&mut encoded);
        Ok(Cow::Owned(encoded))
    }

    /// Copies the value of `key` into this thread's scratch buffer and hands it to `f`;
    /// `Status::NotFound` if the key is absent.
    fn with_value<T>(
        &self,
        key: &[u8],
        f: impl FnOnce(&[u8]) -> Result<T, CError>,
    ) -> Result<Option<T>, CError> {
        let key = self.key(key)?;
        self.with_read(|map, buf| map.get_into(&key, buf), f)
    }

    /// Copies a value with `read` (which fills the buffer it is given and says whether it
    /// found one) into this thread's scratch buffer and hands it to `f`.
    pub(crate) fn with_read<T>(
        &self,
        read: impl FnOnce(&HashMap, &mut Vec<u8>) -> Result<bool, shmkit::MapError>,
        f: impl FnOnce(&[u8]) -> Result<T, CError>,
    ) -> Result<Option<T>, CError> {
        // Taken out of the thread's slot for the call and put back after; during thread
        // teardown (a call from a thread-local destructor) the slot may be gone, and the
        // call uses a buffer of its own.
        let mut buf = SCRATCH.try_with(Cell::take).unwrap_or_default();
        let result = match read(&self.map, &mut buf) {
            Ok(true) => f(&buf).map(Some),
            Ok(false) => Ok(None),
            Err(e) => Err(e.into()),
        };
        // A large value's copy is not kept for the thread's lifetime, also on errors (a
        // caller buffer too small for it).
        if buf.capacity() <= SCRATCH_KEEP {
            let _ = SCRATCH.try_with(|slot| slot.set(buf));
        }
        result
    }

    fn set_typed(&self, key: &[u8], value: ValueRef<'_>) -> Result<Status, CError> {
        let key = self.key(key)?;
        let mut encoded = Vec::new();
        value.encode_into(&mut encoded);
        self.map.set(&key, &encoded)?;
        Ok(Status::Ok)
    }
}

thread_local! {
    /// Where lookups copy a value before it goes to the caller's buffer.
    static SCRATCH: Cell<Vec<u8>> = const { Cell::new(Vec::new()) };
}

/// Largest scratch buffer a thread keeps between calls.
const SCRATCH_KEEP: usize = 1 << 20;

/// Copies `data` into `buf` and reports its length in `len`; `BufferTooSmall` (with the
/// needed length reported, nothing copied) if it does not fit.
pub(crate) fn deliver(
    data: &[u8],
    buf: &mut OutBuf<'_>,
    len: ffi_ptr::Out<'_, usize>,
) -> Result<(), CError> {
    len.write(data.len());
    if buf.fill(data) {
        Ok(())
    } else {
        Err(too_small(data.len(), buf.capacity()))
    }
}

fn too_small(needed: usize, capacity: usize) -> CError {
    CError::new(
        Status::BufferTooSmall,
        format!("the value needs {needed} bytes, the buffer holds {capacity}"),
    )
}

fn wrong_type(want: &str, found: ValueRef<'_>) -> CError {
    let found = match found {
        ValueRef::Null => "null",
        ValueRef::Bool(_) => "a bool",
        ValueRef::Int(_) => "an int",
        ValueRef::Float(_) => "a float",
        ValueRef::Bytes(_) => "bytes",
        ValueRef::Str(_) => "a str",
        ValueRef::BigInt(_) => "an int beyond int64_t",
        ValueRef::Foreign { .. } => "a language-specific object",
    };
    CError::new(
        Status::WrongType,
        format!("the value is {found}, not {want}"),
    )
}

pub(crate) fn found(v: Option<()>) -> Status {
    match v {
        Some(()) => Status::Ok,
        None => Status::NotFound,
    }
}

/// Opens the hash map `name` of `store`, creating it unless `SHMKIT_MAP_OPEN_EXISTING`.
/// `options` may be NULL. `SHMKIT_STATUS_WRONG_KIND` if the name belongs to another kind of
/// object. On success `*out` is a new handle, to free with `shmkit_hash_map_close`; on
/// failure `*out` is set to NULL (unless `out` itself is NULL).
///
/// # Safety
/// `store` is NULL or a live store handle; `name` is NULL or a NUL-terminated string;
/// `options` is NULL or points to a `shmkit_map_options`; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_hash_map_open(
    store: *const shmkit_store,
    name: *const c_char,
    options: *const shmkit_map_options,
    out: *mut *mut shmkit_hash_map,
) -> Status {
    entry(|| {
        // SAFETY: this function's contract is that of `out_handle`, `handle`, `c_str` and
        // `input`; the name and the options are checked against the out-parameter.
        let (out, store, name, options) = unsafe {
            let out = ffi_ptr::out_handle(out, "the map handle out-parameter")?;
            let store = ffi_ptr::handle(store, "the store")?;
            let name = ffi_ptr::c_str(name, "the map name")?;
            let options = ffi_ptr::input(options);
            let inputs = [Input::of(name), options.map(Input::of).unwrap_or_default()];
            (out.disjoint_from(&inputs)?, store, name, options)
        };
        let o = options.copied().unwrap_or_default();
        if o.flags & !KNOWN_MAP_FLAGS != 0 {
            return Err(CError::new(
                Status::InvalidArgument,
                format!("unknown map flags {:#x}", o.flags & !KNOWN_MAP_FLAGS),
            ));
        }
        let fixed_size = match (o.key_len, o.value_len) {
            (0, 0) => None,
            (key_len, value_len) => Some(FixedSize { key_len, value_len }),
        };
        if fixed_size.is_some() && o.flags & SHMKIT_MAP_STR_KEYS != 0 {
            return Err(str_keys_on_fixed(name));
        }
        let map = if o.flags & SHMKIT_MAP_OPEN_EXISTING != 0 {
            store.store.open_hash_map(name)?
        } else {
            let create = HashMapOptions {
                shards: o.shards,
                initial_capacity: o.initial_capacity,
                fixed_size,
            };
            store.store.hash_map_with(name, &create)?
        };
        check_fixed_size(&map, fixed_size, o.flags)?;
        out.write(into_handle(shmkit_hash_map {
            map,
            str_keys: o.flags & SHMKIT_MAP_STR_KEYS != 0,
        }));
        Ok(Status::Ok)
    })
}

/// `InvalidArgument` if the opened `map` is not what the options asked for: other fixed
/// sizes than `asked` (when sizes were given), or string keys on a fixed-size map.
fn check_fixed_size(map: &HashMap, asked: Option<FixedSize>, flags: u32) -> Result<(), CError> {
    let actual = map.fixed_size();
    if asked.is_some() && asked != actual {
        let has = match actual {
            Some(f) => format!("keys of {} and values of {} bytes", f.key_len, f.value_len),
            None => "keys and values of any length".to_string(),
        };
        return Err(CError::new(
            Status::InvalidArgument,
            format!("the hash map {:?} exists with {has}", map.name()),
        ));
    }
    if actual.is_some() && flags & SHMKIT_MAP_STR_KEYS != 0 {
        return Err(str_keys_on_fixed(map.name()));
    }
    Ok(())
}

/// Str keys are text of any length: a fixed-size map takes byte keys only.
fn str_keys_on_fixed(name: &str) -> CError {
    CError::new(
        Status::InvalidArgument,
        format!("the hash map {name:?} has fixed-size keys: open it without SHMKIT_MAP_STR_KEYS"),
    )
}

/// The sizes of a fixed-size map's keys and values in `*key_len` and `*value_len`; both 0
/// for a map whose keys and values may have any length.
///
/// # Safety
/// `map` is NULL or a live map handle; `key_len` and `value_len` are NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_hash_map_fixed_size(
    map: *const shmkit_hash_map,
    key_len: *mut u32,
    value_len: *mut u32,
) -> Status {
    entry(|| {
        // SAFETY: this function's contract is that of `handle` and `out` (no inputs: the map
        // handle is the library's memory); the second out-parameter must not overlap the
        // first.
        let (map, key_len, value_len) = unsafe {
            let map = ffi_ptr::handle(map, "the map")?;
            let key_len = ffi_ptr::out(key_len, "the key length out-parameter", &[])?;
            let value_len = ffi_ptr::out(
                value_len,
                "the value length out-parameter",
                &[key_len.region()],
            )?;
            (map, key_len, value_len)
        };
        let size = map.map.fixed_size().unwrap_or(FixedSize {
            key_len: 0,
            value_len: 0,
        });
        key_len.write(size.key_len);
        value_len.write(size.value_len);
        Ok(Status::Ok)
    })
}

/// Frees a map handle; NULL is a no-op.
///
/// # Safety
/// `map` is NULL or a map handle not yet closed; it is not used again (iterators made from
/// it stay valid).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_hash_map_close(map: *mut shmkit_hash_map) {
    let _ = entry(|| {
        // SAFETY: this function's contract is `free_handle`'s.
        unsafe { ffi_ptr::free_handle(map) };
        Ok(Status::Ok)
    });
}

/// Copies the value of `key` (the stored bytes; for a map of typed values their encoding,
/// see `shmkit_value_decode`) into `buf` and sets `*len` to its length.
/// `SHMKIT_STATUS_NOT_FOUND` if the key is absent. `SHMKIT_STATUS_BUFFER_TOO_SMALL` if the
/// value is longer than `cap`: `*len` is the length needed and nothing is copied (the value
/// may change before the next call). `buf` may be NULL with `cap` 0 to ask for the length.
/// The outputs must not overlap the key: `buf` and `len` overlapping it are
/// `SHMKIT_STATUS_INVALID_ARGUMENT` (nothing written), never undefined behaviour.
///
/// # Safety
/// `map` is NULL or a live map handle; `key` is valid for `key_len` bytes (or NULL with 0);
/// `buf` is valid for writes of `cap` bytes (or NULL with 0); `len` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_hash_map_get(
    map: *const shmkit_hash_map,
    key: *const u8,
    key_len: usize,
    buf: *mut u8,
    cap: usize,
    len: *mut usize,
) -> Status {
    entry(|| {
        // SAFETY: this function's contract is that of `handle`, `bytes`, `out_buf` and `out`;
        // the key is the only input.
        let (map, key, mut buf, len) = unsafe {
            let key = ffi_ptr::bytes(key, key_len)?;
            let inputs = [Input::of(key)];
            (
                ffi_ptr::handle(map, "the map")?,
                key,
                ffi_ptr::out_buf(buf, cap, &inputs)?,
                ffi_ptr::out(len, "the length out-parameter", &inputs)?,
            )
        };
        Ok(found(map.with_value(key, |v| deliver(v, &mut buf, len))?))
    })
}

/// Like `shmkit_hash_map_get`, and decodes the value into `*value`, whose `data` points
/// into `buf`. `SHMKIT_STATUS_INVALID_VALUE` if the stored bytes are not a typed value.
/// `buf`, `len` and `value` must not overlap the key (`SHMKIT_STATUS_INVALID_ARGUMENT`).
///
/// # Safety
/// As `shmkit_hash_map_get`; `value` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_hash_map_get_value(
    map: *const shmkit_hash_map,
    key: *const u8,
    key_len: usize,
    buf: *mut u8,
    cap: usize,
    len: *mut usize,
    value: *mut shmkit_value,
) -> Status {
    entry(|| {
        // SAFETY: this function's contract is that of `handle`, `bytes`, `out_buf` and `out`
        // (twice); the key is the only input.
        let (map, key, mut out_buf, len, value) = unsafe {
            let key = ffi_ptr::bytes(key, key_len)?;
            let inputs = [Input::of(key)];
            (
                ffi_ptr::handle(map, "the map")?,
                key,
                ffi_ptr::out_buf(buf, cap, &inputs)?,
                ffi_ptr::out(len, "the length out-parameter", &inputs)?,
                ffi_ptr::out(value, "the value out-parameter", &inputs)?,
            )
        };
        let got = map.with_value(key, |v| {
            let decoded = decode_ref(v)?;
            deliver(v, &mut out_buf, len)?;
            value.write(shmkit_value::of(decoded, v, out_buf.ptr_at(0)));
            Ok(())
        })?;
        Ok(found(got))
    })
}

/// Reads a typed scalar: `want` names it in errors, `pick` takes it out of the value.
fn get_scalar<T>(
    map: &shmkit_hash_map,
    key: &[u8],
    want: &str,
    pick: impl FnOnce(ValueRef<'_>) -> Option<T>,
    out: ffi_ptr::Out<'_, T>,
) -> Result<Status, CError>
where
    T: Copy,
{
    let got = map.with_value(key, |v| {
        let decoded = decode_ref(v)?;
        pick(decoded).ok_or_else(|| wrong_type(want, decoded))
    })?;
    Ok(match got {
        Some(v) => {
            out.write(v);
            Status::Ok
        }
        None => Status::NotFound,
    })
}

/// Reads a typed int (Python `int` within `int64_t`). `SHMKIT_STATUS_NOT_FOUND` if the key is absent,
/// `SHMKIT_STATUS_WRONG_TYPE` if the value has another type. `out` must not overlap the
/// key (`SHMKIT_STATUS_INVALID_ARGUMENT`).
///
/// # Safety
/// `map` is NULL or a live map handle; `key` is valid for `key_len` bytes (or NULL with 0);
/// `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_hash_map_get_i64(
    map: *const shmkit_hash_map,
    key: *const u8,
    key_len: usize,
    out: *mut i64,
) -> Status {
    entry(|| {
        // SAFETY: this function's contract is that of `handle`, `bytes` and `out`; the key is
        // the only input.
        let (map, key, out) = unsafe {
            let key = ffi_ptr::bytes(key, key_len)?;
            (
                ffi_ptr::handle(map, "the map")?,
                key,
                ffi_ptr::out(out, "the value out-parameter", &[Input::of(key)])?,
            )
        };
        let pick = |v: ValueRef<'_>| match v {
            ValueRef::Int(v) => Some(v),
            _ => None,
        };
        get_scalar(map, key, "an int", pick, out)
    })
}

/// Reads a typed float (Python `float`). `SHMKIT_STATUS_NOT_FOUND` if the key is absent,
/// `SHMKIT_STATUS_WRONG_TYPE` if the value has another type. `out` must not overlap the
/// key (`SHMKIT_STATUS_INVALID_ARGUMENT`).
///
/// # Safety
/// `map` is NULL or a live map handle; `key` is valid for `key_len` bytes (or NULL with 0);
/// `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_hash_map_get_f64(
    map: *const shmkit_hash_map,
    key: *const u8,
    key_len: usize,
    out: *mut f64,
) -> Status {
    entry(|| {
        // SAFETY: this function's contract is that of `handle`, `bytes` and `out`; the key is
        // the only input.
        let (map, key, out) = unsafe {
            let key = ffi_ptr::bytes(key, key_len)?;
            (
                ffi_ptr::handle(map, "the map")?,
                key,
                ffi_ptr::out(out, "the value out-parameter", &[Input::of(key)])?,
            )
        };
        let pick = |v: ValueRef<'_>| match v {
            ValueRef::Float(v) => Some(v),
            _ => None,
        };
        get_scalar(map, key, "a float", pick, out)
    })
}

/// Reads a typed bool (Python `bool`). `SHMKIT_STATUS_NOT_FOUND` if the key is absent,
/// `SHMKIT_STATUS_WRONG_TYPE` if the value has another type. `out` must not overlap the
/// key (`SHMKIT_STATUS_INVALID_ARGUMENT`).
///
/// # Safety
/// `map` is NULL or a live map handle; `key` is valid for `key_len` bytes (or NULL with 0);
/// `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_hash_map_get_bool(
    map: *const shmkit_hash_map,
    key: *const u8,
    key_len: usize,
    out: *mut bool,
) -> Status {
    entry(|| {
        // SAFETY: this function's contract is that of `handle`, `bytes` and `out`; the key is
        // the only input.
        let (map, key, out) = unsafe {
            let key = ffi_ptr::bytes(key, key_len)?;
            (
                ffi_ptr::handle(map, "the map")?,
                key,
                ffi_ptr::out(out, "the value out-parameter", &[Input::of(key)])?,
            )
        };
        let pick = |v: ValueRef<'_>| match v {
            ValueRef::Bool(v) => Some(v),
            _ => None,
        };
        get_scalar(map, key, "a bool", pick, out)
    })
}

/// Reads a typed payload (str or bytes) into `buf`, as `shmkit_hash_map_get` does.
fn get_payload(
    map: &shmkit_hash_map,
    key: &[u8],
    want: &str,
    pick: for<'v> fn(ValueRef<'v>) -> Option<&'v [u8]>,
    buf: &mut OutBuf<'_>,
    len: ffi_ptr::Out<'_, usize>,
) -> Result<Status, CError> {
    let got = map.with_value(key, |v| {
        let decoded = decode_ref(v)?;
        let payload = pick(decoded).ok_or_else(|| wrong_type(want, decoded))?;
        deliver(payload, buf, len)
    })?;
    Ok(found(got))
}

fn str_payload(v: ValueRef<'_>) -> Option<&[u8]> {
    match v {
        ValueRef::Str(s) => Some(s.as_bytes()),
        _ => None,
    }
}

fn bytes_payload(v: ValueRef<'_>) -> Option<&[u8]> {
    match v {
        ValueRef::Bytes(b) => Some(b),
        _ => None,
    }
}

/// Reads a typed str (Python `str`) into `buf` as UTF-8, not NUL-terminated; `*len` is its
/// length in bytes. Buffers as `shmkit_hash_map_get` (to use the text as a C string, pass
/// a buffer of at least `*len + 1` bytes and set `buf[*len] = 0`; the text itself may
/// contain NUL bytes); `SHMKIT_STATUS_WRONG_TYPE` if the value is not a str. `buf` and
/// `len` must not overlap the key (`SHMKIT_STATUS_INVALID_ARGUMENT`).
///
/// # Safety
/// As `shmkit_hash_map_get`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_hash_map_get_str(
    map: *const shmkit_hash_map,
    key: *const u8,
    key_len: usize,
    buf: *mut c_char,
    cap: usize,
    len: *mut usize,
) -> Status {
    entry(|| {
        // SAFETY: this function's contract is that of `handle`, `bytes`, `out_buf` and `out`;
        // the key is the only input.
        let (map, key, mut buf, len) = unsafe {
            let key = ffi_ptr::bytes(key, key_len)?;
            let inputs = [Input::of(key)];
            (
                ffi_ptr::handle(map, "the map")?,
                key,
                ffi_ptr::out_buf(buf.cast(), cap, &inputs)?,
                ffi_ptr::out(len, "the length out-parameter", &inputs)?,
            )
        };
        get_payload(map, key, "a str", str_payload, &mut buf, len)
    })
}

/// Reads typed bytes (Python `bytes`) into `buf`. Buffers as `shmkit_hash_map_get`;
/// `SHMKIT_STATUS_WRONG_TYPE` if the value is not bytes. `buf` and `len` must not overlap
/// the key (`SHMKIT_STATUS_INVALID_ARGUMENT`).
///
/// # Safety
/// As `shmkit_hash_map_get`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_hash_map_get_bytes(
    map: *const shmkit_hash_map,
    key: *const u8,
    key_len: usize,
    buf: *mut u8,
    cap: usize,
    len: *mut usize,
) -> Status {
    entry(|| {
        // SAFETY: this function's contract is that of `handle`, `bytes`, `out_buf` and `out`;
        // the key is the only input.
        let (map, key, mut buf, len) = unsafe {
            let key = ffi_ptr::bytes(key, key_len)?;
            let inputs = [Input::of(key)];
            (
                ffi_ptr::handle(map, "the map")?,
                key,
                ffi_ptr::out_buf(buf, cap, &inputs)?,
                ffi_ptr::out(len, "the length out-parameter", &inputs)?,
            )
        };
        get_payload(map, key, "bytes", bytes_payload, &mut buf, len)
    })
}

/// Sets `key` to the `value_len` bytes at `value`, stored as given (raw).
///
/// # Safety
/// `map` is NULL or a live map handle; `key` and `value` are valid for their lengths (or
/// NULL with 0).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_hash_map_set(
    map: *const shmkit_hash_map,
    key: *const u8,
    key_len: usize,
    value: *const u8,
    value_len: usize,
) -> Status {
    entry(|| {
        // SAFETY: this function's contract is that of `handle` and `bytes` (twice).
        let (map, key, value) = unsafe {
            (
                ffi_ptr::handle(map, "the map")?,
                ffi_ptr::bytes(key, key_len)?,
                ffi_ptr::bytes(value, value_len)?,
            )
        };
        map.map.set(&map.key(key)?, value)?;
        Ok(Status::Ok)
    })
}

/// The body shared by the typed setters whose value needs no pointer (null, bool, int,
/// float): converts the map and the key, then stores `value` in the typed encoding.
///
/// # Safety
/// `map` is NULL or a live map handle; `key` is valid for `key_len` bytes (or NULL with 0):
/// the contracts of `handle` and `bytes`.
unsafe fn set_fixed(
    map: *const shmkit_hash_map,
    key: *const u8,
    key_len: usize,
    value: ValueRef<'static>,
) -> Status {
    entry(|| {
        // SAFETY: the caller's contract is that of `handle` and `bytes`.
        let (map, key) = unsafe {
            (
                ffi_ptr::handle(map, "the map")?,
                ffi_ptr::bytes(key, key_len)?,
            )
        };
        map.set_typed(key, value)
    })
}

/// Sets `key` to null (Python `None`).
///
/// # Safety
/// `map` is NULL or a live map handle; `key` is valid for `key_len` bytes (or NULL with 0).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_hash_map_set_null(
    map: *const shmkit_hash_map,
    key: *const u8,
    key_len: usize,
) -> Status {
    // SAFETY: this function's contract is `set_fixed`'s.
    unsafe { set_fixed(map, key, key_len, ValueRef::Null) }
}

/// Sets `key` to a typed bool (Python `bool`).
///
/// # Safety
/// `map` is NULL or a live map handle; `key` is valid for `key_len` bytes (or NULL with 0).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_hash_map_set_bool(
    map: *const shmkit_hash_map,
    key: *const u8,
    key_len: usize,
    value: bool,
) -> Status {
    // SAFETY: this function's contract is `set_fixed`'s.
    unsafe { set_fixed(map, key, key_len, ValueRef::Bool(value)) }
}

/// Sets `key` to a typed int (Python `int`).
///
/// # Safety
/// `map` is NULL or a live map handle; `key` is valid for `key_len` bytes (or NULL with 0).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_hash_map_set_i64(
    map: *const shmkit_hash_map,
    key: *const u8,
    key_len: usize,
    value: i64,
) -> Status {
    // SAFETY: this function's contract is `set_fixed`'s.
    unsafe { set_fixed(map, key, key_len, ValueRef::Int(value)) }
}

/// Sets `key` to a typed float (Python `float`).
///
/// # Safety
/// `map` is NULL or a live map handle; `key` is valid for `key_len` bytes (or NULL with 0).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_hash_map_set_f64(
    map: *const shmkit_hash_map,
    key: *const u8,
    key_len: usize,
    value: f64,
) -> Status {
    // SAFETY: this function's contract is `set_fixed`'s.
    unsafe { set_fixed(map, key, key_len, ValueRef::Float(value)) }
}

/// Sets `key` to a typed str (Python `str`): the `len` bytes of UTF-8 at `text` (no NUL
/// needed). `SHMKIT_STATUS_INVALID_ARGUMENT` if they are not UTF-8.
///
/// # Safety
/// `map` is NULL or a live map handle; `key` and `text` are valid for their lengths (or
/// NULL with 0).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_hash_map_set_str(
    map: *const shmkit_hash_map,
    key: *const u8,
    key_len: usize,
    text: *const c_char,
    len: usize,
) -> Status {
    entry(|| {
        // SAFETY: this function's contract is that of `handle` and `bytes` (twice).
        let (map, key, text) = unsafe {
            (
                ffi_ptr::handle(map, "the map")?,
                ffi_ptr::bytes(key, key_len)?,
                ffi_ptr::bytes(text.cast(), len)?,
            )
        };
        let text = std::str::from_utf8(text).map_err(|_| {
            CError::new(Status::InvalidArgument, "the str value is not valid UTF-8")
        })?;
        map.set_typed(key, ValueRef::Str(text))
    })
}

/// Sets `key` to typed bytes (Python `bytes`).
///
/// # Safety
/// As `shmkit_hash_map_set`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_hash_map_set_bytes(
    map: *const shmkit_hash_map,
    key: *const u8,
    key_len: usize,
    value: *const u8,
    value_len: usize,
) -> Status {
    entry(|| {
        // SAFETY: this function's contract is that of `handle` and `bytes` (twice).
        let (map, key, value) = unsafe {
            (
                ffi_ptr::handle(map, "the map")?,
                ffi_ptr::bytes(key, key_len)?,
                ffi_ptr::bytes(value, value_len)?,
            )
        };
        map.set_typed(key, ValueRef::Bytes(value))
    })
}

/// Sets `key` to the raw bytes `value` only if it is absent; `*inserted` (may be NULL) says
/// whether it was. `inserted` must not overlap the key or the value
/// (`SHMKIT_STATUS_INVALID_ARGUMENT`).
///
/// # Safety
/// As `shmkit_hash_map_set`; `inserted` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_hash_map_insert_if_absent(
    map: *const shmkit_hash_map,
    key: *const u8,
    key_len: usize,
    value: *const u8,
    value_len: usize,
    inserted: *mut bool,
) -> Status {
    entry(|| {
        // SAFETY: this function's contract is that of `handle`, `bytes` (twice) and
        // `out_opt`; the key and the value are the inputs.
        let (map, key, value, inserted) = unsafe {
            let key = ffi_ptr::bytes(key, key_len)?;
            let value = ffi_ptr::bytes(value, value_len)?;
            (
                ffi_ptr::handle(map, "the map")?,
                key,
                value,
                ffi_ptr::out_opt(inserted, &[Input::of(key), Input::of(value)])?,
            )
        };
        let done = map.map.insert_if_absent(&map.key(key)?, value)?;
        if let Some(out) = inserted {
            out.write(done);
        }
        Ok(Status::Ok)
    })
}

/// One conditional write of raw bytes, atomic across processes: if the value of `key` is
/// `expected` (NULL `expected`: if `key` is absent), set it to `new_value` (NULL
/// `new_value`: remove `key`). `*swapped` (may be NULL) says whether the condition held and
/// the write happened. An empty value is a non-NULL pointer with length 0. For a map of
/// typed values, compare with the bytes `shmkit_hash_map_get` returned. `swapped` must not
/// overlap the key, `expected` or `new_value` (`SHMKIT_STATUS_INVALID_ARGUMENT`).
///
/// # Safety
/// `map` is NULL or a live map handle; `key`, `expected` and `new_value` are each NULL or
/// valid for their lengths; `swapped` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_hash_map_compare_and_set(
    map: *const shmkit_hash_map,
    key: *const u8,
    key_len: usize,
    expected: *const u8,
    expected_len: usize,
    new_value: *const u8,
    new_len: usize,
    swapped: *mut bool,
) -> Status {
    entry(|| {
        // SAFETY: this function's contract is that of `handle`, `bytes` (three times, only
        // for non-NULL `expected` and `new_value`) and `out_opt`; the key, `expected` and
        // `new_value` are the inputs.
        let (map, key, expected, new_value, swapped) = unsafe {
            let key = ffi_ptr::bytes(key, key_len)?;
            let expected = match expected.is_null() {
                true => None,
                false => Some(ffi_ptr::bytes(expected, expected_len)?),
            };
            let new_value = match new_value.is_null() {
                true => None,
                false => Some(ffi_ptr::bytes(new_value, new_len)?),
            };
            let inputs = [
                Input::of(key),
                expected.map(Input::of).unwrap_or_default(),
                new_value.map(Input::of).unwrap_or_default(),
            ];
            (
                ffi_ptr::handle(map, "the map")?,
                key,
                expected,
                new_value,
                ffi_ptr::out_opt(swapped, &inputs)?,
            )
        };
        let done = map
            .map
            .compare_and_set(&map.key(key)?, expected, new_value)?;
        if let Some(out) = swapped {
            out.write(done);
        }
        Ok(Status::Ok)
    })
}

/// The encoding of a typed value C passed (`ffi_ptr::value`), `None` for an absent one.
fn encoded(value: Option<ffi_ptr::ValueIn<'_>>) -> Option<Vec<u8>> {
    value.map(|v| {
        let mut out = Vec::new();
        v.value.encode_into(&mut out);
        out
    })
}

/// Sets `key` to the typed value `*value` (encoded as `shmkit_value_encode` does) only if
/// `key` is absent; `*inserted` (may be NULL) says whether it was. `value` may not be NULL.
/// `inserted` must not overlap the key, `*value` or its payload
/// (`SHMKIT_STATUS_INVALID_ARGUMENT`).
///
/// # Safety
/// `map` is NULL or a live map handle; `key` is valid for `key_len` bytes (or NULL with 0);
/// `value` is NULL or as `shmkit_value_encode` needs it; `inserted` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_hash_map_insert_if_absent_value(
    map: *const shmkit_hash_map,
    key: *const u8,
    key_len: usize,
    value: *const shmkit_value,
    inserted: *mut bool,
) -> Status {
    entry(|| {
        // SAFETY: this function's contract is that of `handle`, `bytes`, `value` and
        // `out_opt`; the key, the value and its payload are the inputs.
        let (map, key, value, inserted) = unsafe {
            let key = ffi_ptr::bytes(key, key_len)?;
            let value = ffi_ptr::value(value)?.ok_or_else(|| CError::null("the value"))?;
            let [s, p] = value.inputs;
            (
                ffi_ptr::handle(map, "the map")?,
                key,
                value,
                ffi_ptr::out_opt(inserted, &[Input::of(key), s, p])?,
            )
        };
        let value = encoded(Some(value)).unwrap_or_default();
        let done = map.map.insert_if_absent(&map.key(key)?, &value)?;
        if let Some(out) = inserted {
            out.write(done);
        }
        Ok(Status::Ok)
    })
}

/// The typed form of `shmkit_hash_map_compare_and_set`, atomic across processes: if the
/// value of `key` is `*expected` (NULL `expected`: if `key` is absent), set it to
/// `*new_value` (NULL `new_value`: remove `key`). Both are encoded as
/// `shmkit_value_encode` does, and the stored value matches when its encoding is the same:
/// so the type counts (the int 1, the float 1.0 and the str "1" are three values), and an int
/// matches whether it was written as an int or as a big int. `*swapped` (may be NULL) says
/// whether the condition held and the write happened. `swapped` must not overlap the key or
/// either value (`SHMKIT_STATUS_INVALID_ARGUMENT`).
///
/// # Safety
/// `map` is NULL or a live map handle; `key` is valid for `key_len` bytes (or NULL with 0);
/// `expected` and `new_value` are each NULL or as `shmkit_value_encode` needs them;
/// `swapped` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_hash_map_compare_and_set_value(
    map: *const shmkit_hash_map,
    key: *const u8,
    key_len: usize,
    expected: *const shmkit_value,
    new_value: *const shmkit_value,
    swapped: *mut bool,
) -> Status {
    entry(|| {
        // SAFETY: this function's contract is that of `handle`, `bytes`, `value` (twice) and
        // `out_opt`; the key and both values with their payloads are the inputs.
        let (map, key, expected, new_value, swapped) = unsafe {
            let key = ffi_ptr::bytes(key, key_len)?;
            let expected = ffi_ptr::value(expected)?;
            let new_value = ffi_ptr::value(new_value)?;
            let [es, ep] = expected.map(|v| v.inputs).unwrap_or_default();
            let [ns, np] = new_value.map(|v| v.inputs).unwrap_or_default();
            (
                ffi_ptr::handle(map, "the map")?,
                key,
                expected,
                new_value,
                ffi_ptr::out_opt(swapped, &[Input::of(key), es, ep, ns, np])?,
            )
        };
        let (expected, new_value) = (encoded(expected), encoded(new_value));
        let done =
            map.map
                .compare_and_set(&map.key(key)?, expected.as_deref(), new_value.as_deref())?;
        if let Some(out) = swapped {
            out.write(done);
        }
        Ok(Status::Ok)
    })
}

/// Removes `key`; `*removed` (may be NULL) says whether it was present. `removed` must not
/// overlap the key (`SHMKIT_STATUS_INVALID_ARGUMENT`).
///
/// # Safety
/// `map` is NULL or a live map handle; `key` is valid for `key_len` bytes (or NULL with 0);
/// `removed` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_hash_map_remove(
    map: *const shmkit_hash_map,
    key: *const u8,
    key_len: usize,
    removed: *mut bool,
) -> Status {
    entry(|| {
        // SAFETY: this function's contract is that of `handle`, `bytes` and `out_opt`; the
        // key is the only input.
        let (map, key, removed) = unsafe {
            let key = ffi_ptr::bytes(key, key_len)?;
            (
                ffi_ptr::handle(map, "the map")?,
                key,
                ffi_ptr::out_opt(removed, &[Input::of(key)])?,
            )
        };
        let was = map.map.delete(&map.key(key)?)?;
        if let Some(out) = removed {
            out.write(was);
        }
        Ok(Status::Ok)
    })
}

/// Why a typed `incr` left the stored value `current` alone: `want` names what it needed.
fn not_a_number(current: &[u8], want: &str) -> CError {
    match decode_ref(current) {
        Ok(v) => wrong_type(want, v),
        Err(e) => e.into(),
    }
}

/// Python's `incr` for C: adds `addend` to the typed number at `key` with the core's
/// [`add_to`], inside `HashMap::update` under the shard lock, the path Python's
/// `HashMap.incr` takes, so both compute the same sums (an int past i64 becomes a big int).
/// `accept` says which stored values the C function takes (`want` names them in errors);
/// any other is left unchanged. Returns the encoded value stored.
fn incr_typed(
    map: &shmkit_hash_map,
    key: &[u8],
    addend: Addend<'_>,
    accept: fn(&[u8]) -> bool,
    want: &str,
) -> Result<Vec<u8>, CError> {
    let key = map.key(key)?;
    let mut failure = None;
    let after = map.map.update(&key, |current| {
        let sum = match current {
            Some(c) if !accept(c) => Err(not_a_number(c, want)),
            _ => add_to(current, addend).map_err(|e| match e {
                AddError::NotANumber { .. } => not_a_number(current.unwrap_or_default(), want),
                AddError::FloatOverflow => CError::new(Status::Overflow, e.to_string()),
                other => CError::new(Status::Unknown, format!("incr: {other}")),
            }),
        };
        match sum {
            Ok(sum) => UpdateAction::Set(sum),
            Err(e) => {
                failure = Some(e);
                UpdateAction::Keep
            }
        }
    })?;
    match (failure, after) {
        (Some(e), _) => Err(e),
        (None, Some(sum)) => Ok(sum),
        (None, None) => Err(CError::new(
            Status::Corrupt,
            "incr: the value vanished during the update",
        )),
    }
}

/// Atomically adds `delta` to the typed int at `key` (a missing key counts as 0), as
/// Python's `m.incr(key, delta)` does (the same code in the library), and sets `*out` (may
/// be NULL) to the result. The stored value may be an int or a big int (an int beyond
/// `int64_t`, which Python writes); `SHMKIT_STATUS_WRONG_TYPE` if it is anything else, and
/// the value is unchanged then. The sum is exact: when it no longer fits in `int64_t` it is
/// stored as a big int (Python reads it as its `int`), the function returns
/// `SHMKIT_STATUS_BIG_INT` (an outcome, not an error) and `*out` is not written; read the
/// value with `shmkit_hash_map_get_value`. A later increment that brings it back into
/// `int64_t` stores an int again and returns `SHMKIT_STATUS_OK`. `out` must not overlap the
/// key (`SHMKIT_STATUS_INVALID_ARGUMENT`; the same for the other `incr` functions).
///
/// # Safety
/// `map` is NULL or a live map handle; `key` is valid for `key_len` bytes (or NULL with 0);
/// `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_hash_map_incr_int(
    map: *const shmkit_hash_map,
    key: *const u8,
    key_len: usize,
    delta: i64,
    out: *mut i64,
) -> Status {
    entry(|| {
        // SAFETY: this function's contract is that of `handle`, `bytes` and `out_opt`; the
        // key is the only input.
        let (map, key, out) = unsafe {
            let key = ffi_ptr::bytes(key, key_len)?;
            (
                ffi_ptr::handle(map, "the map")?,
                key,
                ffi_ptr::out_opt(out, &[Input::of(key)])?,
            )
        };
        let is_int = |stored: &[u8]| int::decode_le(stored).is_some();
        let delta = delta.to_le_bytes();
        let sum = incr_typed(map, key, Addend::Int(&delta), is_int, "an int")?;
        match decode_ref(&sum)? {
            ValueRef::Int(sum) => {
                if let Some(out) = out {
                    out.write(sum);
                }
                Ok(Status::Ok)
            }
            ValueRef::BigInt(_) => Ok(Status::BigInt),
            other => Err(wrong_type("an int", other)),
        }
    })
}

/// Atomically adds `delta` to the typed number at `key` (a missing key counts as 0.0) and
/// sets `*out` (may be NULL) to the result, stored as a float: an int (also a big int)
/// becomes a float, as in Python's `m.incr(key, delta)` (the same code in the library).
/// `SHMKIT_STATUS_WRONG_TYPE` if the value is not a number; `SHMKIT_STATUS_OVERFLOW` if it is
/// a big int too large for a `double` (Python's `OverflowError`). The value is unchanged
/// after an error.
///
/// # Safety
/// As `shmkit_hash_map_incr_int`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_hash_map_incr_float(
    map: *const shmkit_hash_map,
    key: *const u8,
    key_len: usize,
    delta: f64,
    out: *mut f64,
) -> Status {
    entry(|| {
        // SAFETY: this function's contract is that of `handle`, `bytes` and `out_opt`; the
        // key is the only input.
        let (map, key, out) = unsafe {
            let key = ffi_ptr::bytes(key, key_len)?;
            (
                ffi_ptr::handle(map, "the map")?,
                key,
                ffi_ptr::out_opt(out, &[Input::of(key)])?,
            )
        };
        let sum = incr_typed(map, key, Addend::Float(delta), |_| true, "a number")?;
        match decode_ref(&sum)? {
            ValueRef::Float(sum) => {
                if let Some(out) = out {
                    out.write(sum);
                }
                Ok(Status::Ok)
            }
            other => Err(wrong_type("a float", other)),
        }
    })
}

/// Atomically adds `delta` to the raw 8-byte little-endian `int64_t` at `key` (created as
/// `delta` if missing; wraps on overflow) and sets `*out` (may be NULL) to the result.
/// `SHMKIT_STATUS_WRONG_TYPE` if the value is not 8 bytes long;
/// `SHMKIT_STATUS_INVALID_ARGUMENT` on a fixed-size map whose values are not 8 bytes. For
/// raw maps (Rust's `incr_i64`, Python's raw maps); typed maps use
/// `shmkit_hash_map_incr_int`.
///
/// # Safety
/// As `shmkit_hash_map_incr_int`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_hash_map_incr_i64(
    map: *const shmkit_hash_map,
    key: *const u8,
    key_len: usize,
    delta: i64,
    out: *mut i64,
) -> Status {
    entry(|| {
        // SAFETY: this function's contract is that of `handle`, `bytes` and `out_opt`; the
        // key is the only input.
        let (map, key, out) = unsafe {
            let key = ffi_ptr::bytes(key, key_len)?;
            (
                ffi_ptr::handle(map, "the map")?,
                key,
                ffi_ptr::out_opt(out, &[Input::of(key)])?,
            )
        };
        let sum = map.map.incr_i64(&map.key(key)?, delta)?;
        if let Some(out) = out {
            out.write(sum);
        }
        Ok(Status::Ok)
    })
}

/// The raw 8-byte little-endian `double` form of `shmkit_hash_map_incr_i64`.
///
/// # Safety
/// As `shmkit_hash_map_incr_int`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_hash_map_incr_f64(
    map: *const shmkit_hash_map,
    key: *const u8,
    key_len: usize,
    delta: f64,
    out: *mut f64,
) -> Status {
    entry(|| {
        // SAFETY: this function's contract is that of `handle`, `bytes` and `out_opt`; the
        // key is the only input.
        let (map, key, out) = unsafe {
            let key = ffi_ptr::bytes(key, key_len)?;
            (
                ffi_ptr::handle(map, "the map")?,
                key,
                ffi_ptr::out_opt(out, &[Input::of(key)])?,
            )
        };
        let sum = map.map.incr_f64(&map.key(key)?, delta)?;
        if let Some(out) = out {
            out.write(sum);
        }
        Ok(Status::Ok)
    })
}

/// Sets `*out` to the number of entries (exact when no write is in flight).
///
/// # Safety
/// `map` is NULL or a live map handle; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_hash_map_len(map: *const shmkit_hash_map, out: *mut u64) -> Status {
    entry(|| {
        // SAFETY: this function's contract is that of `handle` and `out` (no inputs: the map
        // handle is the library's memory).
        let (map, out) = unsafe {
            (
                ffi_ptr::handle(map, "the map")?,
                ffi_ptr::out(out, "the length out-parameter", &[])?,
            )
        };
        out.write(map.map.len());
        Ok(Status::Ok)
    })
}
