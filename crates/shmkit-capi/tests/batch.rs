//! The batched hash-map functions called from Rust as a C program would: results in key
//! order compared with the single calls, buffers too small (only the needed size written),
//! empty batches, str keys, all-or-nothing validation of batch writes, and bad input (NULL
//! and misaligned arrays, outputs overlapping inputs) answered with a code, never a crash.

mod common;

use common::*;
use shmkit_c::*;
use std::ptr::{null, null_mut};

/// Keys (or values) as C passes them: an array of pointers and an array of lengths.
struct Batch {
    ptrs: Vec<*const u8>,
    lens: Vec<usize>,
}

impl Batch {
    fn of<T: AsRef<[u8]>>(items: &[T]) -> Batch {
        Batch {
            ptrs: items.iter().map(|k| k.as_ref().as_ptr()).collect(),
            lens: items.iter().map(|k| k.as_ref().len()).collect(),
        }
    }
}

/// What `shmkit_hash_map_get_many` gave: the status, the values (None: not found), and
/// `needed`.
struct Got {
    status: Status,
    values: Vec<Option<Vec<u8>>>,
    needed: usize,
}

fn get_many<T: AsRef<[u8]>>(map: *const shmkit_hash_map, keys: &[T], cap: usize) -> Got {
    let k = Batch::of(keys);
    let n = keys.len();
    let mut buf = vec![0u8; cap];
    let mut offsets = vec![usize::MAX; n + 1];
    let mut found = vec![false; n];
    let mut needed = usize::MAX;
    // SAFETY: a live map; arrays of `n` keys valid for their lengths; a buffer of `cap`
    // bytes, `n + 1` offsets, `n` flags and a writable `needed`.
    let status = unsafe {
        shmkit_hash_map_get_many(
            map,
            n,
            k.ptrs.as_ptr(),
            k.lens.as_ptr(),
            buf.as_mut_ptr(),
            cap,
            offsets.as_mut_ptr(),
            found.as_mut_ptr(),
            &mut needed,
        )
    };
    let values = if status == Status::Ok {
        assert_eq!(offsets[0], 0);
        assert_eq!(offsets[n], needed, "offsets[n] is the bytes used");
        (0..n)
            .map(|i| {
                let value = buf[offsets[i]..offsets[i + 1]].to_vec();
                assert!(found[i] || value.is_empty(), "an absent key has no bytes");
                found[i].then_some(value)
            })
            .collect()
    } else {
        assert!(
            offsets.iter().all(|&o| o == usize::MAX),
            "offsets untouched"
        );
        assert!(found.iter().all(|&f| !f), "found untouched");
        assert!(buf.iter().all(|&b| b == 0), "buffer untouched");
        Vec::new()
    };
    Got {
        status,
        values,
        needed,
    }
}

fn single_get(map: *const shmkit_hash_map, key: &[u8]) -> Option<Vec<u8>> {
    let mut buf = vec![0u8; 256];
    let mut len = 0;
    // SAFETY: a live map, a key valid for its length, a buffer of its length, a writable len.
    let s = unsafe {
        shmkit_hash_map_get(
            map,
            key.as_ptr(),
            key.len(),
            buf.as_mut_ptr(),
            buf.len(),
            &mut len,
        )
    };
    match s {
        Status::Ok => Some(buf[..len].to_vec()),
        Status::NotFound => None,
        other => panic!("get: {other:?}: {}", last_error()),
    }
}

fn set_many<K: AsRef<[u8]>, V: AsRef<[u8]>>(
    map: *const shmkit_hash_map,
    keys: &[K],
    values: &[V],
) -> Status {
    assert_eq!(keys.len(), values.len());
    let (k, v) = (Batch::of(keys), Batch::of(values));
    // SAFETY: a live map; arrays of `n` keys and `n` values valid for their lengths.
    unsafe {
        shmkit_hash_map_set_many(
            map,
            keys.len(),
            k.ptrs.as_ptr(),
            k.lens.as_ptr(),
            v.ptrs.as_ptr(),
            v.lens.as_ptr(),
        )
    }
}

fn contains_many<K: AsRef<[u8]>>(map: *const shmkit_hash_map, keys: &[K]) -> Vec<bool> {
    let k = Batch::of(keys);
    let mut found = vec![false; keys.len()];
    // SAFETY: a live map; arrays of `n` keys; `n` writable flags.
    let s = unsafe {
        shmkit_hash_map_contains_many(
            map,
            keys.len(),
            k.ptrs.as_ptr(),
            k.lens.as_ptr(),
            found.as_mut_ptr(),
        )
    };
    assert_eq!(s, Status::Ok, "{}", last_error());
    found
}

fn remove_many<K: AsRef<[u8]>>(map: *const shmkit_hash_map, keys: &[K]) -> u64 {
    let k = Batch::of(keys);
    let mut removed = u64::MAX;
    // SAFETY: a live map; arrays of `n` keys; a writable count.
    let s = unsafe {
        shmkit_hash_map_remove_many(
            map,
            keys.len(),
            k.ptrs.as_ptr(),
            k.lens.as_ptr(),
            &mut removed,
        )
    };
    assert_eq!(s, Status::Ok, "{}", last_error());
    removed
}

fn len(map: *const shmkit_hash_map) -> u64 {
    let mut n = 0;
    // SAFETY: a live map and a writable out-parameter.
    assert_eq!(unsafe { shmkit_hash_map_len(map, &mut n) }, Status::Ok);
    n
}

#[test]
fn get_many_returns_values_in_key_order_as_single_gets_do() {
    let name = Name::new("capi-batch-get");
    let map = map_in(&name, 0);
    let keys: Vec<Vec<u8>> = (0..300).map(|i| format!("key-{i}").into_bytes()).collect();
    let values: Vec<Vec<u8>> = (0..300).map(|i| vec![i as u8; i % 37]).collect();
    // Every other key, and an empty key with an empty value (present, 0 bytes).
    let (set_k, set_v): (Vec<_>, Vec<_>) = keys
        .iter()
        .zip(&values)
        .step_by(2)
        .map(|(k, v)| (k.clone(), v.clone()))
        .chain([(Vec::new(), Vec::new())])
        .unzip();
    assert_eq!(
        set_many(map, &set_k, &set_v),
        Status::Ok,
        "{}",
        last_error()
    );
    assert_eq!(len(map), 151);

    let mut asked: Vec<Vec<u8>> = keys.clone();
    asked.extend([Vec::new(), b"key-0".to_vec(), b"nope".to_vec()]); // duplicates too
    for round in 0..2 {
        // The second round reuses the thread's scratch.
        let got = get_many(map, &asked, 64 << 10);
        assert_eq!(got.status, Status::Ok, "round {round}: {}", last_error());
        let singles: Vec<_> = asked.iter().map(|k| single_get(map, k)).collect();
        assert_eq!(got.values, singles, "round {round}");
    }
    let got = get_many(map, &asked, 64 << 10);
    assert_eq!(
        got.values[0],
        Some(Vec::new()),
        "key-0 holds 0 bytes: present, empty"
    );
    assert_eq!(got.values[1], None);
    assert_eq!(got.values[300], Some(Vec::new()), "the empty key");
    assert_eq!(got.values[302], None);
    // SAFETY: the handle is live and closed once.
    unsafe { shmkit_hash_map_close(map) };
}

#[test]
fn a_buffer_too_small_reports_the_size_and_writes_nothing_else() {
    let name = Name::new("capi-batch-small");
    let map = map_in(&name, 0);
    assert_eq!(
        set_many(map, &[b"a", b"b"], &[&b"12345"[..], b"678"]),
        Status::Ok
    );
    let keys: [&[u8]; 3] = [b"b", b"x", b"a"];
    let got = get_many(map, &keys, 7);
    assert_eq!(got.status, Status::BufferTooSmall);
    assert_eq!(got.needed, 8);
    assert!(last_error().contains("need 8 bytes"), "{}", last_error());
    // A size query: NULL buffer, capacity 0 (the helper checks the outputs untouched).
    let got = get_many(map, &keys, 0);
    assert_eq!((got.status, got.needed), (Status::BufferTooSmall, 8));
    let got = get_many(map, &keys, 8);
    assert_eq!(got.status, Status::Ok);
    assert_eq!(
        got.values,
        [Some(b"678".to_vec()), None, Some(b"12345".to_vec())]
    );
    // Only absent keys: nothing is needed, any buffer fits.
    let got = get_many(map, &[b"x", b"y"], 0);
    assert_eq!((got.status, got.needed), (Status::Ok, 0));
    assert_eq!(got.values, [None, None]);
    let mut needed = 0;
    let mut offsets = [7usize; 4];
    let mut found = [true; 3];
    let k = Batch::of(&keys);
    // SAFETY: a live map, three keys, a NULL buffer with capacity 0, and arrays of the
    // sizes the call needs.
    let s = unsafe {
        shmkit_hash_map_get_many(
            map,
            3,
            k.ptrs.as_ptr(),
            k.lens.as_ptr(),
            null_mut(),
            0,
            offsets.as_mut_ptr(),
            found.as_mut_ptr(),
            &mut needed,
        )
    };
    assert_eq!((s, needed), (Status::BufferTooSmall, 8));
    assert_eq!((offsets, found), ([7; 4], [true; 3]), "nothing but needed");
    // SAFETY: the handle is live and closed once.
    unsafe { shmkit_hash_map_close(map) };
}

#[test]
fn an_empty_batch_needs_no_arrays() {
    let name = Name::new("capi-batch-empty");
    let map = map_in(&name, 0);
    let mut offsets = [99usize];
    let mut needed = 99;
    let mut removed = 99;
    // SAFETY: a live map; n = 0 with NULL arrays, the one offset and the out-parameters
    // writable.
    unsafe {
        let s = shmkit_hash_map_get_many(
            map,
            0,
            null(),
            null(),
            null_mut(),
            0,
            offsets.as_mut_ptr(),
            null_mut(),
            &mut needed,
        );
        assert_eq!(s, Status::Ok, "{}", last_error());
        assert_eq!((offsets, needed), ([0], 0));
        let s = shmkit_hash_map_get_many(
            map,
            0,
            null(),
            null(),
            null_mut(),
            0,
            null_mut(),
            null_mut(),
            &mut needed,
        );
        assert_eq!(s, Status::NullPointer, "offsets has n + 1 entries, so one");
        assert!(last_error().contains("offsets"), "{}", last_error());
        let s = shmkit_hash_map_contains_many(map, 0, null(), null(), null_mut());
        assert_eq!(s, Status::Ok);
        let s = shmkit_hash_map_set_many(map, 0, null(), null(), null(), null());
        assert_eq!(s, Status::Ok);
        let s = shmkit_hash_map_remove_many(map, 0, null(), null(), &mut removed);
        assert_eq!((s, removed), (Status::Ok, 0));
        let s = shmkit_hash_map_remove_many(map, 0, null(), null(), null_mut());
        assert_eq!(s, Status::Ok);
        shmkit_hash_map_close(map);
    }
}

#[test]
fn null_and_misaligned_arrays_are_errors_not_crashes() {
    let name = Name::new("capi-batch-null");
    let map = map_in(&name, 0);
    let keys = Batch::of(&[b"a", b"b"]);
    let (mut buf, mut offsets, mut found, mut needed) = ([0u8; 16], [0usize; 3], [false; 2], 0);
    // SAFETY: every non-NULL pointer is valid for what the call reads or writes through it
    // (the misaligned arrays are inside larger ones); the NULL ones are what is tested.
    unsafe {
        let mut get = |keys: *const *const u8, lens: *const usize, offsets: *mut usize| {
            shmkit_hash_map_get_many(
                map,
                2,
                keys,
                lens,
                buf.as_mut_ptr(),
                16,
                offsets,
                found.as_mut_ptr(),
                &mut needed,
            )
        };
        let o = offsets.as_mut_ptr();
        assert_eq!(get(null(), keys.lens.as_ptr(), o), Status::NullPointer);
        assert!(
            last_error().contains("key pointer array"),
            "{}",
            last_error()
        );
        assert_eq!(get(keys.ptrs.as_ptr(), null(), o), Status::NullPointer);
        assert!(
            last_error().contains("key length array"),
            "{}",
            last_error()
        );
        assert_eq!(
            get(keys.ptrs.as_ptr(), keys.lens.as_ptr(), null_mut()),
            Status::NullPointer
        );
        // A NULL key with a length, in the middle of the batch.
        let ptrs = [keys.ptrs[0], null()];
        assert_eq!(
            get(ptrs.as_ptr(), keys.lens.as_ptr(), o),
            Status::NullPointer
        );
        assert!(last_error().contains("key 1"), "{}", last_error());
        // A NULL key with length 0 is the empty key.
        let lens = [1usize, 0];
        assert_eq!(get(ptrs.as_ptr(), lens.as_ptr(), o), Status::Ok);
        // Misaligned arrays: the lengths, the offsets.
        let mut raw = [0u8; 64];
        let lens_at = raw.as_mut_ptr().wrapping_add(1).cast::<usize>();
        lens_at.write_unaligned(1);
        lens_at.wrapping_add(1).write_unaligned(1);
        assert_eq!(get(keys.ptrs.as_ptr(), lens_at, o), Status::InvalidArgument);
        assert!(last_error().contains("aligned"), "{}", last_error());
        assert_eq!(
            get(keys.ptrs.as_ptr(), keys.lens.as_ptr(), lens_at.cast()),
            Status::InvalidArgument
        );
        // NULL found, NULL needed, NULL map.
        let s = shmkit_hash_map_get_many(
            map,
            2,
            keys.ptrs.as_ptr(),
            keys.lens.as_ptr(),
            buf.as_mut_ptr(),
            16,
            o,
            null_mut(),
            &mut needed,
        );
        assert_eq!(s, Status::NullPointer);
        let s = shmkit_hash_map_get_many(
            map,
            2,
            keys.ptrs.as_ptr(),
            keys.lens.as_ptr(),
            buf.as_mut_ptr(),
            16,
            o,
            found.as_mut_ptr(),
            null_mut(),
        );
        assert_eq!(s, Status::NullPointer);
        let s = shmkit_hash_map_get_many(
            null(),
            2,
            keys.ptrs.as_ptr(),
            keys.lens.as_ptr(),
            buf.as_mut_ptr(),
            16,
            o,
            found.as_mut_ptr(),
            &mut needed,
        );
        assert_eq!(s, Status::NullPointer);
        // The other three.
        assert_eq!(
            shmkit_hash_map_contains_many(map, 2, null(), keys.lens.as_ptr(), found.as_mut_ptr()),
            Status::NullPointer
        );
        assert_eq!(
            shmkit_hash_map_contains_many(
                map,
                2,
                keys.ptrs.as_ptr(),
                keys.lens.as_ptr(),
                null_mut()
            ),
            Status::NullPointer
        );
        assert_eq!(
            shmkit_hash_map_set_many(
                map,
                2,
                keys.ptrs.as_ptr(),
                keys.lens.as_ptr(),
                null(),
                keys.lens.as_ptr()
            ),
            Status::NullPointer
        );
        assert!(
            last_error().contains("value pointer array"),
            "{}",
            last_error()
        );
        assert_eq!(
            shmkit_hash_map_remove_many(map, 2, keys.ptrs.as_ptr(), null(), null_mut()),
            Status::NullPointer
        );
        assert_eq!(len(map), 0, "nothing was written");
        shmkit_hash_map_close(map);
    }
}

#[test]
fn outputs_overlapping_keys_or_each_other_are_refused_before_anything_is_written() {
    let name = Name::new("capi-batch-overlap");
    let map = map_in(&name, 0);
    assert_eq!(set_many(map, &[b"ab"], &[b"xyz"]), Status::Ok);
    let mut mem = [0u8; 64];
    mem[..2].copy_from_slice(b"ab");
    let base = mem.as_mut_ptr();
    let mut lens = [2usize];
    let mut offsets = [5usize; 2];
    let mut found = [false];
    let mut needed = 0;
    let ptrs = [base.cast_const()];
    // SAFETY: all pointers are valid for the calls' reads and writes; the overlaps are what
    // is tested (the library refuses them before it writes anything).
    unsafe {
        // The buffer holds the key (the common mistake).
        let s = shmkit_hash_map_get_many(
            map,
            1,
            ptrs.as_ptr(),
            lens.as_ptr(),
            base,
            64,
            offsets.as_mut_ptr(),
            found.as_mut_ptr(),
            &mut needed,
        );
        assert_eq!(s, Status::InvalidArgument);
        assert!(last_error().contains("overlaps"), "{}", last_error());
        assert_eq!(&mem[..2], b"ab");
        assert_eq!(offsets, [5, 5]);
        // `found` on the length array.
        let s = shmkit_hash_map_contains_many(
            map,
            1,
            ptrs.as_ptr(),
            lens.as_ptr(),
            lens.as_mut_ptr().cast(),
        );
        assert_eq!(s, Status::InvalidArgument);
        assert_eq!(lens, [2]);
        // Offsets inside the buffer.
        let s = shmkit_hash_map_get_many(
            map,
            1,
            ptrs.as_ptr(),
            lens.as_ptr(),
            base.add(8),
            56,
            base.add(16).cast(),
            found.as_mut_ptr(),
            &mut needed,
        );
        assert_eq!(s, Status::InvalidArgument);
        // `removed` on the key.
        let s = shmkit_hash_map_remove_many(map, 1, ptrs.as_ptr(), lens.as_ptr(), base.cast());
        assert_eq!(s, Status::InvalidArgument);
        assert_eq!(len(map), 1, "nothing removed");
        // Touching is fine: the key in bytes 0..2, the buffer from byte 2.
        let s = shmkit_hash_map_get_many(
            map,
            1,
            ptrs.as_ptr(),
            lens.as_ptr(),
            base.add(2),
            62,
            offsets.as_mut_ptr(),
            found.as_mut_ptr(),
            &mut needed,
        );
        assert_eq!(s, Status::Ok, "{}", last_error());
        assert_eq!(&mem[2..5], b"xyz");
        shmkit_hash_map_close(map);
    }
}

#[test]
fn str_keys_are_encoded_as_the_single_calls_encode_them() {
    let name = Name::new("capi-batch-str");
    let map = map_in(&name, SHMKIT_MAP_STR_KEYS);
    let raw = map_in(&name, 0);
    // SAFETY: a live map and keys valid for their lengths.
    unsafe {
        assert_eq!(
            shmkit_hash_map_set_i64(map, "one".as_ptr(), 3, 1),
            Status::Ok
        );
    }
    let encoded_two = shmkit::value::encode(&shmkit::value::Value::Int(2));
    assert_eq!(
        set_many(map, &["twö", "drei"], &[encoded_two.as_slice(), b"raw"]),
        Status::Ok
    );
    let got = get_many(map, &["one", "twö", "zero", "drei"], 1024);
    assert_eq!(got.status, Status::Ok, "{}", last_error());
    let singles: Vec<_> = ["one", "twö", "zero", "drei"]
        .iter()
        .map(|k| single_get(map, k.as_bytes()))
        .collect();
    assert_eq!(got.values, singles);
    assert_eq!(got.values[1].as_deref(), Some(encoded_two.as_slice()));
    let mut v = shmkit_value {
        kind: shmkit_type::Null,
        lang: 0,
        boolean: false,
        int64: 0,
        float64: 0.0,
        data: null(),
        len: 0,
    };
    let one = got.values[0].as_ref().unwrap();
    // SAFETY: the bytes are valid for their length and `v` is writable.
    let s = unsafe { shmkit_value_decode(one.as_ptr(), one.len(), &mut v) };
    assert_eq!(s, Status::Ok);
    assert_eq!((v.kind, v.int64), (shmkit_type::Int, 1));
    // Through the raw handle the keys are typed strs: "twö" is not found as plain bytes.
    assert_eq!(contains_many(raw, &["twö"]), [false]);
    let typed_key = shmkit::value::encode(&shmkit::value::Value::Str("twö".into()));
    assert_eq!(contains_many(raw, &[typed_key]), [true]);
    assert_eq!(
        contains_many(map, &["drei", "vier", "one"]),
        [true, false, true]
    );

    // A key that is not UTF-8 fails the whole batch before any read or write.
    let bad: [&[u8]; 3] = [b"neu", b"\xff\xfe", b"auch"];
    assert_eq!(
        set_many(map, &bad, &[b"1", b"2", b"3"]),
        Status::InvalidArgument
    );
    assert!(last_error().contains("key 1"), "{}", last_error());
    assert_eq!(len(map), 3, "nothing was written");
    let got = get_many(map, &bad, 64);
    assert_eq!(
        got.status,
        Status::InvalidArgument,
        "the helper checks nothing was written"
    );
    let k = Batch::of(&bad);
    // SAFETY: a live map; arrays of three keys.
    let s = unsafe {
        shmkit_hash_map_remove_many(map, 3, k.ptrs.as_ptr(), k.lens.as_ptr(), null_mut())
    };
    assert_eq!(s, Status::InvalidArgument);

    assert_eq!(remove_many(map, &["one", "one", "zero", "drei"]), 2);
    assert_eq!(len(map), 1);
    // SAFETY: both handles are live and closed once.
    unsafe {
        shmkit_hash_map_close(map);
        shmkit_hash_map_close(raw);
    }
}

/// `len` zero bytes of address space only (a private mapping that commits no memory), for a
/// key too large to allocate, refused by its length alone. Leaked on purpose.
fn address_space(len: usize) -> &'static [u8] {
    // SAFETY: a fresh anonymous private read-only mapping, zero-filled on first touch and
    // never unmapped, so the 'static slice stays valid.
    unsafe {
        let p = libc::mmap(
            null_mut(),
            len,
            libc::PROT_READ,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
            -1,
            0,
        );
        assert_ne!(p, libc::MAP_FAILED, "mmap of {len} bytes");
        std::slice::from_raw_parts(p.cast::<u8>(), len)
    }
}

#[test]
fn an_oversized_key_fails_a_batch_write_before_anything_is_written() {
    let name = Name::new("capi-batch-oversize");
    let map = map_in(&name, 0);
    let huge = address_space(shmkit::collections::hash_map::MAX_KEY_LEN as usize + 1);
    let keys: [&[u8]; 3] = [b"first", huge, b"last"];
    assert_eq!(
        set_many(map, &keys, &[b"1", b"2", b"3"]),
        Status::InvalidArgument
    );
    assert_eq!(len(map), 0, "not even the keys before it were written");
    assert_eq!(set_many(map, &[b"first"], &[b"1"]), Status::Ok);
    let k = Batch::of(&keys);
    let mut removed = 7;
    // SAFETY: a live map; arrays of three keys valid for their lengths; writable outputs.
    unsafe {
        let s = shmkit_hash_map_remove_many(map, 3, k.ptrs.as_ptr(), k.lens.as_ptr(), &mut removed);
        assert_eq!((s, removed), (Status::InvalidArgument, 7));
        let mut found = [false; 3];
        let s = shmkit_hash_map_contains_many(
            map,
            3,
            k.ptrs.as_ptr(),
            k.lens.as_ptr(),
            found.as_mut_ptr(),
        );
        assert_eq!((s, found), (Status::InvalidArgument, [false; 3]));
    }
    assert_eq!(len(map), 1, "nothing removed");
    let got = get_many(map, &keys, 64);
    assert_eq!(got.status, Status::InvalidArgument);
    // SAFETY: the handle is live and closed once.
    unsafe { shmkit_hash_map_close(map) };
}

#[test]
fn batch_writes_take_the_last_value_of_a_key_and_count_removals_once() {
    let name = Name::new("capi-batch-write");
    let map = map_in(&name, 0);
    assert_eq!(
        set_many(map, &[b"k", b"j", b"k"], &[&b"1"[..], b"2", b"3"]),
        Status::Ok
    );
    let got = get_many(map, &[b"k", b"j"], 16);
    assert_eq!(got.values, [Some(b"3".to_vec()), Some(b"2".to_vec())]);
    // A NULL value with length 0 is the empty value.
    let k = Batch::of(&[b"e"]);
    let (vp, vl) = ([null::<u8>()], [0usize]);
    // SAFETY: a live map; one key; one NULL value with length 0.
    let s = unsafe {
        shmkit_hash_map_set_many(
            map,
            1,
            k.ptrs.as_ptr(),
            k.lens.as_ptr(),
            vp.as_ptr(),
            vl.as_ptr(),
        )
    };
    assert_eq!(s, Status::Ok, "{}", last_error());
    assert_eq!(single_get(map, b"e"), Some(Vec::new()));
    assert_eq!(
        contains_many(map, &[b"e", b"k", b"x", b"k"]),
        [true, true, false, true]
    );
    assert_eq!(remove_many(map, &[b"k", b"k", b"x", b"e"]), 2);
    assert_eq!(
        contains_many(map, &[b"e", b"k", b"j"]),
        [false, false, true]
    );
    // `removed` may be NULL.
    let k = Batch::of(&[b"j"]);
    // SAFETY: a live map; one key; no count wanted.
    let s = unsafe {
        shmkit_hash_map_remove_many(map, 1, k.ptrs.as_ptr(), k.lens.as_ptr(), null_mut())
    };
    assert_eq!(s, Status::Ok);
    assert_eq!(len(map), 0);
    // SAFETY: the handle is live and closed once.
    unsafe { shmkit_hash_map_close(map) };
}

/// Counts this thread's allocations, to check that a warm batch read allocates nothing.
struct Counting;

thread_local! {
    static ALLOCATIONS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

// SAFETY: every method forwards to `System` unchanged; counting touches only a const
// thread-local `Cell` (no allocation, no destructor), and `try_with` tolerates teardown.
unsafe impl std::alloc::GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
        // SAFETY: the caller's contract is `System.alloc`'s.
        unsafe { std::alloc::System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: std::alloc::Layout) {
        // SAFETY: the caller's contract is `System.dealloc`'s.
        unsafe { std::alloc::System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: std::alloc::Layout, size: usize) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
        // SAFETY: the caller's contract is `System.realloc`'s.
        unsafe { std::alloc::System.realloc(ptr, layout, size) }
    }
}

#[global_allocator]
static COUNTING: Counting = Counting;

#[test]
fn a_warm_batch_read_allocates_nothing() {
    let name = Name::new("capi-batch-alloc");
    for flags in [0, SHMKIT_MAP_STR_KEYS] {
        let map = map_in(&name, flags);
        let keys: Vec<String> = (0..100).map(|i| format!("k{i}")).collect();
        let values: Vec<String> = (0..50).map(|i| format!("value {i}")).collect();
        assert_eq!(set_many(map, &keys[..50], &values), Status::Ok);
        let k = Batch::of(&keys);
        let mut buf = vec![0u8; 4096];
        let mut offsets = vec![0usize; 101];
        let mut found = vec![false; 100];
        let mut needed = 0;
        let mut counts = Vec::with_capacity(4);
        for _ in 0..4 {
            let before = ALLOCATIONS.with(std::cell::Cell::get);
            // SAFETY: a live map; arrays of 100 keys; a buffer of its length, 101 offsets,
            // 100 flags and a writable `needed`.
            let s = unsafe {
                shmkit_hash_map_get_many(
                    map,
                    100,
                    k.ptrs.as_ptr(),
                    k.lens.as_ptr(),
                    buf.as_mut_ptr(),
                    buf.len(),
                    offsets.as_mut_ptr(),
                    found.as_mut_ptr(),
                    &mut needed,
                )
            };
            // SAFETY: as above, with 100 writable flags.
            let c = unsafe {
                shmkit_hash_map_contains_many(
                    map,
                    100,
                    k.ptrs.as_ptr(),
                    k.lens.as_ptr(),
                    found.as_mut_ptr(),
                )
            };
            counts.push(ALLOCATIONS.with(std::cell::Cell::get) - before);
            assert_eq!((s, c), (Status::Ok, Status::Ok), "{}", last_error());
        }
        assert_eq!(found.iter().filter(|&&f| f).count(), 50);
        assert!(
            counts[0] > 0,
            "the first call grows the scratch (the count works)"
        );
        assert_eq!(
            &counts[1..],
            [0, 0, 0],
            "flags {flags}: allocations per call {counts:?}"
        );
        // SAFETY: the handle is live and closed once.
        unsafe { shmkit_hash_map_close(map) };
    }
}
