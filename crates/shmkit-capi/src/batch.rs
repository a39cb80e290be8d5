//! Batched hash-map operations: `shmkit_hash_map_get_many`, `_contains_many`, `_set_many`,
//! `_remove_many`, many keys in one call, each the core's batch call
//! (`shmkit::HashMap::get_many_into` and the others; their guarantees are the core's).
//!
//! Invariants:
//! - keys (and values) come as C's arrays of pointers and lengths, turned into slices only
//!   by [`ffi_ptr::byte_arrays`]; every key, the arrays, and every output are checked
//!   (NULL, alignment, overlap) before anything is read from the map or written to it;
//! - through a `SHMKIT_MAP_STR_KEYS` handle every key is encoded as the single calls encode
//!   it, all before the core is called, so a key that is not UTF-8 fails the batch before
//!   any read or write;
//! - `get_many` and `contains_many` write their outputs only after the whole batch was read:
//!   an error, or a buffer too small (`SHMKIT_STATUS_BUFFER_TOO_SMALL`, only the needed
//!   length written), leaves the caller's buffer and arrays as they were;
//! - reads allocate nothing once a thread's scratch buffers have grown to the batch
//!   (`Scratch`): the key list, the encoded keys, the values and their ranges are kept
//!   per thread between calls (up to 1 MiB of them).
//!
//! ```
//! use shmkit_c::*;
//! let name = std::ffi::CString::new(format!("doc-capi-batch-{}", std::process::id())).unwrap();
//! let (mut store, mut map) = (std::ptr::null_mut(), std::ptr::null_mut());
//! let keys: [*const u8; 3] = [b"a".as_ptr(), b"zz".as_ptr(), b"b".as_ptr()];
//! let key_lens = [1usize, 2, 1];
//! let values: [*const u8; 2] = [b"1".as_ptr(), b"22".as_ptr()];
//! let (mut buf, mut offsets, mut found, mut needed) = ([0u8; 8], [0usize; 4], [false; 3], 0);
//! // SAFETY: valid C strings, arrays of the counts given, and out-pointers; handles are used
//! // while live and freed once.
//! unsafe {
//!     assert_eq!(shmkit_store_open_or_create(name.as_ptr(), std::ptr::null(), &mut store), Status::Ok);
//!     assert_eq!(shmkit_hash_map_open(store, c"m".as_ptr(), std::ptr::null(), &mut map), Status::Ok);
//!     // a = "1", b = "22" (the keys at 0 and 2 of `keys`, the values in that order).
//!     let set_keys = [keys[0], keys[2]];
//!     assert_eq!(shmkit_hash_map_set_many(map, 2, set_keys.as_ptr(), [1, 1].as_ptr(),
//!                                         values.as_ptr(), [1, 2].as_ptr()), Status::Ok);
//!     assert_eq!(shmkit_hash_map_get_many(map, 3, keys.as_ptr(), key_lens.as_ptr(),
//!                                         buf.as_mut_ptr(), buf.len(), offsets.as_mut_ptr(),
//!                                         found.as_mut_ptr(), &mut needed), Status::Ok);
//!     shmkit_hash_map_close(map);
//!     shmkit_store_close(store);
//!     assert_eq!(shmkit_store_remove(name.as_ptr()), Status::Ok);
//! }
//! assert_eq!((found, offsets, needed), ([true, false, true], [0, 1, 1, 3], 3));
//! assert_eq!(&buf[..3], b"122");
//! ```
#![allow(unsafe_code)] // `#[unsafe(no_mangle)]`, and each function's one argument conversion

use crate::ffi_ptr::{self, ByteArrays};
use crate::hash_map::shmkit_hash_map;
use crate::status::{CError, Status, entry};
use shmkit::value::ValueRef;
use std::cell::Cell;
use std::ops::Range;

/// What a batch read needs besides the caller's memory, kept per thread between calls so
/// that a read allocates nothing once these have grown to its batch. Empty between calls.
struct Scratch {
    /// The keys of the call in their stored form; `'static` only while unused (see
    /// [`unborrow`]).
    keys: Vec<&'static [u8]>,
    /// The encodings of the keys of a `SHMKIT_MAP_STR_KEYS` handle, one after the other.
    encoded: Vec<u8>,
    /// Where each encoded key ends in `encoded`.
    ends: Vec<usize>,
    /// The values found, one after the other (`get_many_into`'s `out`).
    values: Vec<u8>,
    /// Each key's value range in `values` (`get_many_into`'s `spans`).
    spans: Vec<Option<Range<usize>>>,
    /// `contains_many_into`'s answers.
    present: Vec<bool>,
}

impl Scratch {
    const EMPTY: Scratch = Scratch {
        keys: Vec::new(),
        encoded: Vec::new(),
        ends: Vec::new(),
        values: Vec::new(),
        spans: Vec::new(),
        present: Vec::new(),
    };

    /// This thread's scratch, taken out of its slot for one call (a fresh one during
    /// thread teardown, when the slot may be gone).
    fn take() -> Scratch {
        SCRATCH
            .try_with(|slot| slot.replace(Scratch::EMPTY))
            .unwrap_or(Scratch::EMPTY)
    }

    /// Puts the scratch back for the thread's next call, unless a large batch made it larger
    /// than a thread should keep.
    fn give_back(self) {
        if self.bytes() <= SCRATCH_KEEP {
            let _ = SCRATCH.try_with(|slot| slot.set(self));
        }
    }

    /// The memory the scratch holds.
    fn bytes(&self) -> usize {
        fn of<T>(v: &Vec<T>) -> usize {
            v.capacity() * size_of::<T>()
        }
        of(&self.keys)
            + of(&self.encoded)
            + of(&self.ends)
            + of(&self.values)
            + of(&self.spans)
            + of(&self.present)
    }
}

thread_local! {
    static SCRATCH: Cell<Scratch> = const { Cell::new(Scratch::EMPTY) };
}

/// Largest scratch a thread keeps between calls, in bytes (values, keys and their lists).
const SCRATCH_KEEP: usize = 1 << 20;

/// An empty list of keys that borrows nothing, keeping `keys`'s allocation: the list of one
/// call's borrowed keys becomes the (empty) list the thread keeps for its next call. The
/// `collect` of a `Vec`'s own iterator into a `Vec` of an element of the same size and
/// alignment reuses the allocation (std's in-place collection; a test checks it).
fn unborrow(mut keys: Vec<&[u8]>) -> Vec<&'static [u8]> {
    keys.clear();
    keys.into_iter().map(|_| -> &'static [u8] { &[] }).collect()
}

/// Puts the stored form of every key of `given` into `keys` (cleared first): the given
/// bytes, or for a `SHMKIT_MAP_STR_KEYS` handle their encoding as a typed str, written into
/// `encoded` with `ends`, as `shmkit_hash_map_key` encodes a single key. A key that is not
/// UTF-8 fails before anything is read or written, naming its index.
fn stored_keys<'k>(
    map: &shmkit_hash_map,
    given: &ByteArrays<'k>,
    encoded: &'k mut Vec<u8>,
    ends: &mut Vec<usize>,
    keys: &mut Vec<&'k [u8]>,
) -> Result<(), CError> {
    keys.clear();
    if !map.str_keys {
        keys.extend(given.iter());
        return Ok(());
    }
    encoded.clear();
    ends.clear();
    for (i, key) in given.iter().enumerate() {
        let text = std::str::from_utf8(key).map_err(|_| {
            CError::new(
                Status::InvalidArgument,
                format!("key {i} of a map opened with SHMKIT_MAP_STR_KEYS is not valid UTF-8"),
            )
        })?;
        ValueRef::Str(text).encode_into(encoded);
        ends.push(encoded.len());
    }
    let encoded: &'k [u8] = encoded;
    let mut start = 0;
    for &end in ends.iter() {
        keys.push(&encoded[start..end]);
        start = end;
    }
    Ok(())
}

/// Looks up `n` keys in one call and copies their values, in key order, one after the other
/// into the caller's buffer `buf` (capacity `cap`): the core's batched read, in which the
/// memory fetches of neighbouring keys overlap. Key `i` is the `key_lens[i]` bytes at
/// `keys[i]`; through a `SHMKIT_MAP_STR_KEYS` handle keys are UTF-8 text, as in the single
/// calls.
///
/// On `SHMKIT_STATUS_OK`, for each key `i` (duplicates included):
/// - `found[i]` says whether the key was present;
/// - its value is the `offsets[i + 1] - offsets[i]` bytes at `buf + offsets[i]` (the raw
///   bytes; for a map of typed values their encoding, see `shmkit_value_decode`): none for
///   an absent key (an empty value is present with 0 bytes: tell them apart by `found`).
///   `offsets` has `n + 1` entries: `offsets[0]` is 0 and `offsets[n]` the bytes used;
/// - `*needed` is the bytes used (`offsets[n]`).
///
/// `SHMKIT_STATUS_BUFFER_TOO_SMALL` if the values together are longer than `cap`: `*needed`
/// is the bytes they need, and nothing else is written: `buf`, `offsets` and `found` keep
/// what they held, so no earlier contents can pass for results of this call. Grow the buffer
/// and call again (the values may have changed meanwhile, so loop). `buf` may be NULL with
/// `cap` 0 to ask for the size. After an error nothing at all is written.
///
/// Each key's value is one a single `shmkit_hash_map_get` could have returned at some
/// moment during the call; the keys are not read atomically together. With `n` 0, the
/// arrays may be NULL (`offsets` may not: it gets its one entry, 0). `keys` and `key_lens`
/// may be NULL only with `n` 0, a key pointer only with length 0 (an empty key). The arrays
/// must be aligned for their types (`SHMKIT_STATUS_INVALID_ARGUMENT` otherwise). No output
/// (`buf`, `offsets`, `found`, `needed`) may overlap a key, the key arrays or another output
/// (`SHMKIT_STATUS_INVALID_ARGUMENT`, nothing written). A key longer than a map's keys may be
/// is `SHMKIT_STATUS_INVALID_ARGUMENT`, before anything is read. Once a thread's scratch has
/// grown to the batch, the call allocates nothing.
///
/// # Safety
/// `map` is NULL or a live map handle; `keys` and `key_lens` are NULL or point to `n`
/// pointers and `n` `size_t`s; each `keys[i]` is valid for `key_lens[i]` bytes (or NULL with
/// 0); `buf` is valid for writes of `cap` bytes (or NULL with 0); `offsets` is NULL or valid
/// for writes of `n + 1` `size_t`s; `found` is NULL or valid for writes of `n` `bool`s;
/// `needed` is NULL or writable. None of the inputs changes during the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_hash_map_get_many(
    map: *const shmkit_hash_map,
    n: usize,
    keys: *const *const u8,
    key_lens: *const usize,
    buf: *mut u8,
    cap: usize,
    offsets: *mut usize,
    found: *mut bool,
    needed: *mut usize,
) -> Status {
    entry(|| {
        // SAFETY: this function's contract is that of `handle`, `byte_arrays`,
        // `out_buf_among`, `out_array` (twice) and `out_among`; the keys and their arrays are
        // the inputs, and each output is also kept off the outputs made before it.
        let (map, given, mut buf, mut offsets, mut found, needed) = unsafe {
            let map = ffi_ptr::handle(map, "the map")?;
            let given = ffi_ptr::byte_arrays(keys, key_lens, n, "key")?;
            let arrays = [&given];
            let buf = ffi_ptr::out_buf_among(buf, cap, &[], &arrays)?;
            let count = n.checked_add(1).ok_or_else(|| {
                CError::new(Status::InvalidArgument, "n + 1 offsets do not fit a size_t")
            })?;
            let offsets = ffi_ptr::out_array(
                offsets,
                count,
                "the offsets array",
                &[buf.region()],
                &arrays,
            )?;
            let found = ffi_ptr::out_array(
                found,
                n,
                "the found array",
                &[buf.region(), offsets.region()],
                &arrays,
            )?;
            let needed = ffi_ptr::out_among(
                needed,
                "the needed-length out-parameter",
                &[buf.region(), offsets.region(), found.region()],
                &arrays,
            )?;
            (map, given, buf, offsets, found, needed)
        };
        let mut scratch = Scratch::take();
        let mut keys: Vec<&[u8]> = std::mem::take(&mut scratch.keys);
        let read = stored_keys(
            map,
            &given,
            &mut scratch.encoded,
            &mut scratch.ends,
            &mut keys,
        )
        .and_then(|()| {
            map.map
                .get_many_into(&keys, &mut scratch.values, &mut scratch.spans)
                .map_err(CError::from)
        });
        scratch.keys = unborrow(keys);
        let result = read.and_then(|()| {
            let total = scratch.values.len();
            needed.write(total);
            if !buf.fill(&scratch.values) {
                return Err(CError::new(
                    Status::BufferTooSmall,
                    format!(
                        "the {n} values need {total} bytes, the buffer holds {}",
                        buf.capacity()
                    ),
                ));
            }
            let mut at = 0;
            for (i, span) in scratch.spans.iter().enumerate() {
                offsets.set(i, at);
                found.set(i, span.is_some());
                if let Some(span) = span {
                    at = span.end;
                }
            }
            offsets.set(n, at);
            Ok(Status::Ok)
        });
        scratch.values.clear();
        scratch.spans.clear();
        scratch.give_back();
        result
    })
}

/// For each of `n` keys in order, whether it is present: `found[i]` for key `i` (the
/// `key_lens[i]` bytes at `keys[i]`; text through a `SHMKIT_MAP_STR_KEYS` handle). Each
/// answer is one a single lookup could have given during the call. The key arrays and
/// `found` are as in `shmkit_hash_map_get_many` (NULL with `n` 0; aligned; `found` must not
/// overlap a key or the key arrays). On an error `found` is left as it was.
///
/// # Safety
/// `map` is NULL or a live map handle; `keys`, `key_lens` and the keys as in
/// `shmkit_hash_map_get_many`; `found` is NULL or valid for writes of `n` `bool`s.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_hash_map_contains_many(
    map: *const shmkit_hash_map,
    n: usize,
    keys: *const *const u8,
    key_lens: *const usize,
    found: *mut bool,
) -> Status {
    entry(|| {
        // SAFETY: this function's contract is that of `handle`, `byte_arrays` and
        // `out_array`; the keys and their arrays are the inputs.
        let (map, given, mut found) = unsafe {
            let map = ffi_ptr::handle(map, "the map")?;
            let given = ffi_ptr::byte_arrays(keys, key_lens, n, "key")?;
            let found = ffi_ptr::out_array(found, n, "the found array", &[], &[&given])?;
            (map, given, found)
        };
        let mut scratch = Scratch::take();
        let mut keys: Vec<&[u8]> = std::mem::take(&mut scratch.keys);
        let read = stored_keys(
            map,
            &given,
            &mut scratch.encoded,
            &mut scratch.ends,
            &mut keys,
        )
        .and_then(|()| {
            map.map
                .contains_many_into(&keys, &mut scratch.present)
                .map_err(CError::from)
        });
        scratch.keys = unborrow(keys);
        let result = read.map(|()| {
            for (i, &present) in scratch.present.iter().enumerate() {
                found.set(i, present);
            }
            Status::Ok
        });
        scratch.present.clear();
        scratch.give_back();
        result
    })
}

/// Sets `n` keys to `n` raw values in one call, taking each shard's lock once: key `i` (the
/// `key_lens[i]` bytes at `keys[i]`; text through a `SHMKIT_MAP_STR_KEYS` handle) gets the
/// `value_lens[i]` bytes at `values[i]`, stored as given (for a map of typed values, give
/// encodings: `shmkit_value_encode`). A key given more than once ends with its last value.
///
/// All or nothing before the first write: NULL or misaligned arrays, a NULL key or value with
/// a length, a key that is not UTF-8 (str keys), and a key or value too large for the map
/// fail the whole batch, and nothing is written. An error met while writing (the store full,
/// a lock held too long by a live process, damage) stops the batch part way: some items are
/// written, the others not. Not atomic: other processes see the items land one by one.
///
/// # Safety
/// `map` is NULL or a live map handle; `keys`, `key_lens` and the keys as in
/// `shmkit_hash_map_get_many`; `values` and `value_lens` are NULL or point to `n` pointers
/// and `n` `size_t`s, each `values[i]` valid for `value_lens[i]` bytes (or NULL with 0).
/// None of them changes during the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_hash_map_set_many(
    map: *const shmkit_hash_map,
    n: usize,
    keys: *const *const u8,
    key_lens: *const usize,
    values: *const *const u8,
    value_lens: *const usize,
) -> Status {
    entry(|| {
        // SAFETY: this function's contract is that of `handle` and `byte_arrays` (twice);
        // nothing is written to the caller's memory.
        let (map, given, values) = unsafe {
            (
                ffi_ptr::handle(map, "the map")?,
                ffi_ptr::byte_arrays(keys, key_lens, n, "key")?,
                ffi_ptr::byte_arrays(values, value_lens, n, "value")?,
            )
        };
        let (mut encoded, mut ends, mut keys) = (Vec::new(), Vec::new(), Vec::new());
        stored_keys(map, &given, &mut encoded, &mut ends, &mut keys)?;
        let items: Vec<(&[u8], &[u8])> = keys.into_iter().zip(values.iter()).collect();
        map.map.set_many(&items)?;
        Ok(Status::Ok)
    })
}

/// Removes `n` keys in one call, taking each shard's lock once; `*removed` (may be NULL) is
/// how many were present (a key given twice counts once, as two removals one after the other
/// would). The key arrays as in `shmkit_hash_map_get_many`; `removed` must not overlap a key
/// or the key arrays (`SHMKIT_STATUS_INVALID_ARGUMENT`). A key that is too large or not UTF-8
/// (str keys) fails the batch before anything is removed; an error met while removing stops
/// it part way, and `*removed` is not written then.
///
/// # Safety
/// `map` is NULL or a live map handle; `keys`, `key_lens` and the keys as in
/// `shmkit_hash_map_get_many`; `removed` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_hash_map_remove_many(
    map: *const shmkit_hash_map,
    n: usize,
    keys: *const *const u8,
    key_lens: *const usize,
    removed: *mut u64,
) -> Status {
    entry(|| {
        // SAFETY: this function's contract is that of `handle`, `byte_arrays` and
        // `out_opt_among`; the keys and their arrays are the inputs.
        let (map, given, removed) = unsafe {
            let map = ffi_ptr::handle(map, "the map")?;
            let given = ffi_ptr::byte_arrays(keys, key_lens, n, "key")?;
            let removed = ffi_ptr::out_opt_among(removed, &[], &[&given])?;
            (map, given, removed)
        };
        let (mut encoded, mut ends, mut keys) = (Vec::new(), Vec::new(), Vec::new());
        stored_keys(map, &given, &mut encoded, &mut ends, &mut keys)?;
        let count = map.map.remove_many(&keys)?;
        if let Some(out) = removed {
            out.write(count);
        }
        Ok(Status::Ok)
    })
}

#[cfg(test)]
mod tests {
    use super::unborrow;

    #[test]
    fn the_key_list_keeps_its_allocation_between_calls() {
        let data = vec![1u8, 2, 3];
        let mut keys: Vec<&[u8]> = Vec::with_capacity(100);
        keys.push(&data);
        let ptr = keys.as_ptr() as usize;
        let kept = unborrow(keys);
        assert!(kept.is_empty());
        assert!(kept.capacity() >= 100);
        assert_eq!(kept.as_ptr() as usize, ptr, "the allocation is reused");
    }
}
