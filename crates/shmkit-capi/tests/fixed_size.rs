//! Fixed-size hash maps called from Rust as a C program would: `key_len`/`value_len` of
//! `shmkit_map_options` make one, `shmkit_hash_map_fixed_size` reports its sizes; keys and
//! values of another length are `INVALID_ARGUMENT` in single calls, batches, handles and
//! counters, with nothing changed; an existing map is opened with 0/0 or its own sizes only,
//! and never with `SHMKIT_MAP_STR_KEYS`; the Rust API sees what C wrote.

mod common;

use common::*;
use shmkit_c::*;
use std::ffi::CStr;
use std::ptr::{null, null_mut};

/// Opens the map `map_name` of `store` with these options: the handle, or the status and
/// the message of the failure (the out-parameter then NULL).
fn open(
    store: *const shmkit_store,
    map_name: &CStr,
    flags: u32,
    key_len: u32,
    value_len: u32,
) -> Result<*mut shmkit_hash_map, (Status, String)> {
    let options = shmkit_map_options {
        flags,
        key_len,
        value_len,
        ..Default::default()
    };
    let mut map = null_mut();
    // SAFETY: a live store, a valid name, options and out-pointer.
    let s = unsafe { shmkit_hash_map_open(store, map_name.as_ptr(), &options, &mut map) };
    if s == Status::Ok {
        Ok(map)
    } else {
        assert!(map.is_null(), "NULL after a failed open");
        Err((s, last_error()))
    }
}

fn sizes(map: *const shmkit_hash_map) -> (u32, u32) {
    let (mut k, mut v) = (7u32, 7u32);
    // SAFETY: a live map handle and two distinct out-parameters.
    let s = unsafe { shmkit_hash_map_fixed_size(map, &mut k, &mut v) };
    assert_eq!(s, Status::Ok, "{}", last_error());
    (k, v)
}

fn len(map: *const shmkit_hash_map) -> u64 {
    let mut n = u64::MAX;
    // SAFETY: a live map handle and an out-parameter.
    assert_eq!(unsafe { shmkit_hash_map_len(map, &mut n) }, Status::Ok);
    n
}

/// The value of `key`: Ok(None) when absent, Err with the status of a failure.
fn get(map: *const shmkit_hash_map, key: &[u8]) -> Result<Option<Vec<u8>>, Status> {
    let mut buf = [0u8; 64];
    let mut n = 0usize;
    // SAFETY: a live map handle, the key's bytes, a buffer of its length, an out-parameter.
    let s = unsafe {
        shmkit_hash_map_get(
            map,
            key.as_ptr(),
            key.len(),
            buf.as_mut_ptr(),
            buf.len(),
            &mut n,
        )
    };
    match s {
        Status::Ok => Ok(Some(buf[..n].to_vec())),
        Status::NotFound => Ok(None),
        other => Err(other),
    }
}

fn set(map: *const shmkit_hash_map, key: &[u8], value: &[u8]) -> Status {
    // SAFETY: a live map handle and valid key and value bytes.
    unsafe { shmkit_hash_map_set(map, key.as_ptr(), key.len(), value.as_ptr(), value.len()) }
}

#[test]
fn a_fixed_size_map_stores_records_of_its_sizes_only() {
    let name = Name::new("c-fixed");
    let store = store_of(&name);
    let map = open(store, c"ids", 0, 8, 16).unwrap();
    assert_eq!(sizes(map), (8, 16));
    let key = 42u64.to_le_bytes();
    assert_eq!(set(map, &key, &[1; 16]), Status::Ok, "{}", last_error());
    assert_eq!(get(map, &key), Ok(Some(vec![1; 16])));
    assert_eq!(set(map, &key, &[2; 16]), Status::Ok, "an overwrite");
    assert_eq!(get(map, &key), Ok(Some(vec![2; 16])));

    // Keys and values of another length: INVALID_ARGUMENT, naming both lengths; nothing
    // changes.
    assert_eq!(set(map, b"short", &[3; 16]), Status::InvalidArgument);
    assert!(
        last_error().contains("key of 5 bytes") && last_error().contains("8 bytes"),
        "{}",
        last_error()
    );
    assert_eq!(set(map, &key, &[3; 15]), Status::InvalidArgument);
    assert!(
        last_error().contains("value of 15 bytes"),
        "{}",
        last_error()
    );
    assert_eq!(set(map, &key, &[3; 17]), Status::InvalidArgument);
    assert_eq!(set(map, &[0; 9], &[3; 16]), Status::InvalidArgument);
    assert_eq!(set(map, &[], &[3; 16]), Status::InvalidArgument);
    assert_eq!(get(map, b"short"), Err(Status::InvalidArgument));
    assert_eq!(get(map, &key), Ok(Some(vec![2; 16])), "unchanged");
    assert_eq!(len(map), 1);

    let other = 7u64.to_le_bytes();
    let mut flag = true;
    // SAFETY: a live map handle, valid bytes and out-parameters.
    unsafe {
        assert_eq!(
            shmkit_hash_map_insert_if_absent(
                map,
                other.as_ptr(),
                8,
                [4u8; 3].as_ptr(),
                3,
                &mut flag
            ),
            Status::InvalidArgument
        );
        assert_eq!(
            shmkit_hash_map_remove(map, b"abc".as_ptr(), 3, &mut flag),
            Status::InvalidArgument
        );
        let mut h = 0u64;
        assert_eq!(
            shmkit_hash_map_set_with_handle(map, other.as_ptr(), 8, [4u8; 3].as_ptr(), 3, &mut h),
            Status::InvalidArgument
        );
        assert_eq!(
            shmkit_hash_map_handle(map, b"abc".as_ptr(), 3, &mut h),
            Status::InvalidArgument
        );
        // A handle of a key of the right size: its value must be 16 bytes too.
        assert_eq!(
            shmkit_hash_map_set_with_handle(map, other.as_ptr(), 8, [4u8; 16].as_ptr(), 16, &mut h),
            Status::Ok,
            "{}",
            last_error()
        );
        assert_eq!(
            shmkit_hash_map_set_by_handle(map, h, [5u8; 4].as_ptr(), 4),
            Status::InvalidArgument
        );
        // A counter needs 8-byte values.
        let mut n = 0i64;
        assert_eq!(
            shmkit_hash_map_incr_i64(map, other.as_ptr(), 8, 1, &mut n),
            Status::InvalidArgument
        );
        assert!(last_error().contains("16 bytes"), "{}", last_error());
        assert_eq!(
            shmkit_hash_map_remove(map, other.as_ptr(), 8, &mut flag),
            Status::Ok
        );
        assert!(flag);
    }
    assert_eq!(get(map, &other), Ok(None));
    assert_eq!(len(map), 1);

    // The Rust API sees what C wrote, and the sizes.
    let rust = shmkit::Store::open(name.0.to_str().unwrap())
        .unwrap()
        .open_hash_map("ids")
        .unwrap();
    assert_eq!(
        rust.fixed_size(),
        Some(shmkit::FixedSize {
            key_len: 8,
            value_len: 16
        })
    );
    assert_eq!(rust.get(&key).unwrap(), Some(vec![2; 16]));
    // SAFETY: live handles, each closed once.
    unsafe {
        shmkit_hash_map_close(map);
        shmkit_store_close(store);
    }
}

#[test]
fn batches_with_a_key_or_value_of_another_size_fail_whole() {
    let name = Name::new("c-fixed-batch");
    let store = store_of(&name);
    let map = open(store, c"m", 0, 4, 8).unwrap();
    let keys: [&[u8]; 3] = [b"aaaa", b"bbbb", b"ccc"];
    let values: [&[u8]; 3] = [&[1; 8], &[2; 8], &[3; 8]];
    let key_ptrs: Vec<*const u8> = keys.iter().map(|k| k.as_ptr()).collect();
    let key_lens: Vec<usize> = keys.iter().map(|k| k.len()).collect();
    let value_ptrs: Vec<*const u8> = values.iter().map(|v| v.as_ptr()).collect();
    let mut value_lens: Vec<usize> = values.iter().map(|v| v.len()).collect();
    // The first `n` items, with the value lengths `value_lens`.
    let set_many = |n: usize, value_lens: &[usize]| {
        // SAFETY: a live map handle and arrays of at least `n` valid pointers and lengths.
        unsafe {
            shmkit_hash_map_set_many(
                map,
                n,
                key_ptrs.as_ptr(),
                key_lens.as_ptr(),
                value_ptrs.as_ptr(),
                value_lens.as_ptr(),
            )
        }
    };
    // SAFETY: a live map handle and arrays of `n` valid pointers and lengths.
    unsafe {
        // The third key is 3 bytes: nothing is written.
        assert_eq!(set_many(3, &value_lens), Status::InvalidArgument);
        assert_eq!(len(map), 0);
        // The first two alone go in; with a value of 7 bytes nothing does.
        value_lens[1] = 7;
        assert_eq!(set_many(2, &value_lens), Status::InvalidArgument);
        assert_eq!(len(map), 0);
        value_lens[1] = 8;
        assert_eq!(set_many(2, &value_lens), Status::Ok, "{}", last_error());
        assert_eq!(len(map), 2);

        // get_many with the 3-byte key: an error, and nothing written to the outputs.
        let mut buf = [0xEEu8; 64];
        let mut offsets = [usize::MAX; 4];
        let mut found = [false; 3];
        let mut needed = usize::MAX;
        assert_eq!(
            shmkit_hash_map_get_many(
                map,
                3,
                key_ptrs.as_ptr(),
                key_lens.as_ptr(),
                buf.as_mut_ptr(),
                buf.len(),
                offsets.as_mut_ptr(),
                found.as_mut_ptr(),
                &mut needed
            ),
            Status::InvalidArgument
        );
        assert_eq!(offsets, [usize::MAX; 4]);
        assert_eq!(needed, usize::MAX);
        assert!(buf.iter().all(|&b| b == 0xEE));
        assert_eq!(
            shmkit_hash_map_get_many(
                map,
                2,
                key_ptrs.as_ptr(),
                key_lens.as_ptr(),
                buf.as_mut_ptr(),
                buf.len(),
                offsets.as_mut_ptr(),
                found.as_mut_ptr(),
                &mut needed
            ),
            Status::Ok,
            "{}",
            last_error()
        );
        assert_eq!(&offsets[..3], &[0, 8, 16]);
        assert_eq!(&buf[..16], &[[1u8; 8], [2u8; 8]].concat()[..]);
        assert_eq!(found[..2], [true, true]);

        let mut present = [false; 3];
        assert_eq!(
            shmkit_hash_map_contains_many(
                map,
                3,
                key_ptrs.as_ptr(),
                key_lens.as_ptr(),
                present.as_mut_ptr()
            ),
            Status::InvalidArgument
        );
        let mut removed = 9u64;
        assert_eq!(
            shmkit_hash_map_remove_many(map, 3, key_ptrs.as_ptr(), key_lens.as_ptr(), &mut removed),
            Status::InvalidArgument
        );
        assert_eq!(len(map), 2, "nothing removed");
        shmkit_hash_map_close(map);
        shmkit_store_close(store);
    }
}

#[test]
fn counters_of_a_fixed_map_with_8_byte_values() {
    let name = Name::new("c-fixed-counter");
    let store = store_of(&name);
    let map = open(store, c"hits", 0, 2, 8).unwrap();
    let mut n = 0i64;
    // SAFETY: a live map handle, valid key bytes and out-parameter.
    unsafe {
        for _ in 0..3 {
            assert_eq!(
                shmkit_hash_map_incr_i64(map, b"ab".as_ptr(), 2, 5, &mut n),
                Status::Ok,
                "{}",
                last_error()
            );
        }
        assert_eq!(n, 15);
        assert_eq!(
            shmkit_hash_map_incr_i64(map, b"abc".as_ptr(), 3, 1, &mut n),
            Status::InvalidArgument
        );
        assert_eq!(n, 15, "not written on an error");
        shmkit_hash_map_close(map);
        shmkit_store_close(store);
    }
}

#[test]
fn opening_checks_the_sizes_of_an_existing_map() {
    let name = Name::new("c-fixed-open");
    let store = store_of(&name);
    let fixed = open(store, c"fixed", 0, 8, 0).unwrap();
    assert_eq!(sizes(fixed), (8, 0), "a set of 8-byte keys");
    assert_eq!(set(fixed, b"12345678", b""), Status::Ok, "{}", last_error());
    assert_eq!(set(fixed, b"12345678", b"x"), Status::InvalidArgument);

    // 0/0 opens it as it is; its own sizes too; other sizes do not.
    let again = open(store, c"fixed", 0, 0, 0).unwrap();
    assert_eq!(sizes(again), (8, 0));
    assert_eq!(get(again, b"12345678"), Ok(Some(Vec::new())));
    let same = open(store, c"fixed", SHMKIT_MAP_OPEN_EXISTING, 8, 0).unwrap();
    let (status, message) = open(store, c"fixed", 0, 8, 8).unwrap_err();
    assert_eq!(status, Status::InvalidArgument);
    assert!(
        message.contains("keys of 8 and values of 0 bytes"),
        "{message}"
    );
    let (status, _) = open(store, c"fixed", SHMKIT_MAP_OPEN_EXISTING, 4, 0).unwrap_err();
    assert_eq!(status, Status::InvalidArgument);
    // Str keys are never fixed-size.
    let (status, message) = open(store, c"fixed", SHMKIT_MAP_STR_KEYS, 0, 0).unwrap_err();
    assert_eq!(status, Status::InvalidArgument);
    assert!(message.contains("SHMKIT_MAP_STR_KEYS"), "{message}");
    let (status, _) = open(store, c"new-str", SHMKIT_MAP_STR_KEYS, 4, 4).unwrap_err();
    assert_eq!(status, Status::InvalidArgument);

    // A map of any length opened with sizes.
    let any = open(store, c"any", 0, 0, 0).unwrap();
    assert_eq!(sizes(any), (0, 0));
    let (status, message) = open(store, c"any", 0, 8, 8).unwrap_err();
    assert_eq!(status, Status::InvalidArgument);
    assert!(message.contains("any length"), "{message}");

    // Sizes no map can have: a key of 0 bytes, a record over 64 KiB.
    let (status, _) = open(store, c"bad", 0, 0, 8).unwrap_err();
    assert_eq!(status, Status::InvalidArgument);
    let (status, _) = open(store, c"bad", 0, 8, 1 << 16).unwrap_err();
    assert_eq!(status, Status::InvalidArgument);
    let (status, _) = open(store, c"bad", 0, u32::MAX, u32::MAX).unwrap_err();
    assert_eq!(status, Status::InvalidArgument);
    let names = shmkit::Store::open(name.0.to_str().unwrap())
        .unwrap()
        .objects()
        .unwrap();
    assert!(
        names.iter().all(|o| o.name != "bad" && o.name != "new-str"),
        "a refused open creates nothing: {names:?}"
    );

    // The size query: NULL and overlapping out-parameters are codes.
    let mut k = 0u32;
    // SAFETY: NULL handles and out-parameters, overlapping outputs: each must be a code.
    unsafe {
        assert_eq!(
            shmkit_hash_map_fixed_size(null(), &mut k, &mut k.clone()),
            Status::NullPointer
        );
        assert_eq!(
            shmkit_hash_map_fixed_size(fixed, null_mut(), &mut k),
            Status::NullPointer
        );
        assert_eq!(
            shmkit_hash_map_fixed_size(fixed, &mut k, null_mut()),
            Status::NullPointer
        );
        let p: *mut u32 = &mut k;
        assert_eq!(
            shmkit_hash_map_fixed_size(fixed, p, p),
            Status::InvalidArgument
        );
        for m in [fixed, again, same, any] {
            shmkit_hash_map_close(m);
        }
        shmkit_store_close(store);
    }
}
