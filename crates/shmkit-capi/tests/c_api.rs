//! The C functions called from Rust as a C program would: typed values, buffers that are too
//! small, iteration, and every kind of bad input (null pointers, names that are not UTF-8,
//! the wrong kind of object, a store of another user or with a wider mode) answered with an
//! error code and a message, never a crash.

mod common;

use common::*;
use shmkit_c::*;
use std::ffi::{CStr, CString};
use std::ptr::{null, null_mut};

fn open_map(store: *const shmkit_store, flags: u32) -> *mut shmkit_hash_map {
    let mut map = null_mut();
    let options = shmkit_map_options {
        flags,
        ..Default::default()
    };
    // SAFETY: a live store, a valid name, options and out-pointer.
    let s = unsafe { shmkit_hash_map_open(store, c"m".as_ptr(), &options, &mut map) };
    assert_eq!(s, Status::Ok, "{}", last_error());
    map
}

#[test]
fn typed_values_round_trip_and_python_encoding_is_used() {
    let name = Name::new("capi-typed");
    let store = store_of(&name);
    let map = open_map(store, SHMKIT_MAP_STR_KEYS);
    let k = |s: &'static str| (s.as_ptr(), s.len());
    // SAFETY: live handles; keys and values valid for their lengths; out-pointers valid.
    unsafe {
        let (p, n) = k("int");
        assert_eq!(shmkit_hash_map_set_i64(map, p, n, -42), Status::Ok);
        let mut i = 0;
        assert_eq!(shmkit_hash_map_get_i64(map, p, n, &mut i), Status::Ok);
        assert_eq!(i, -42);
        let mut f = 0.0;
        assert_eq!(
            shmkit_hash_map_get_f64(map, p, n, &mut f),
            Status::WrongType
        );
        assert!(last_error().contains("an int"), "{}", last_error());

        let (p, n) = k("float");
        assert_eq!(shmkit_hash_map_set_f64(map, p, n, 2.5), Status::Ok);
        assert_eq!(shmkit_hash_map_get_f64(map, p, n, &mut f), Status::Ok);
        assert_eq!(f, 2.5);

        let (p, n) = k("bool");
        assert_eq!(shmkit_hash_map_set_bool(map, p, n, true), Status::Ok);
        let mut b = false;
        assert_eq!(shmkit_hash_map_get_bool(map, p, n, &mut b), Status::Ok);
        assert!(b);

        let (p, n) = k("none");
        assert_eq!(shmkit_hash_map_set_null(map, p, n), Status::Ok);

        let (p, n) = k("str");
        let text = "héllo";
        assert_eq!(
            shmkit_hash_map_set_str(map, p, n, text.as_ptr().cast(), text.len()),
            Status::Ok
        );
        let mut buf = [0u8; 3];
        let mut len = 0;
        assert_eq!(
            shmkit_hash_map_get_str(map, p, n, buf.as_mut_ptr().cast(), buf.len(), &mut len),
            Status::BufferTooSmall
        );
        assert_eq!(len, text.len(), "the needed length is reported");
        assert!(last_error().contains("needs 6 bytes"), "{}", last_error());
        let mut big = [0u8; 16];
        assert_eq!(
            shmkit_hash_map_get_str(map, p, n, big.as_mut_ptr().cast(), big.len(), &mut len),
            Status::Ok
        );
        assert_eq!(&big[..len], text.as_bytes());
        // A length query: NULL buffer, capacity 0.
        assert_eq!(
            shmkit_hash_map_get_str(map, p, n, null_mut(), 0, &mut len),
            Status::BufferTooSmall
        );
        assert_eq!(len, 6);
        let bad = [0xffu8, 0xfe];
        assert_eq!(
            shmkit_hash_map_set_str(map, p, n, bad.as_ptr().cast(), bad.len()),
            Status::InvalidArgument
        );

        let (p, n) = k("bytes");
        assert_eq!(
            shmkit_hash_map_set_bytes(map, p, n, [0u8, 1, 255].as_ptr(), 3),
            Status::Ok
        );
        assert_eq!(
            shmkit_hash_map_get_bytes(map, p, n, big.as_mut_ptr(), big.len(), &mut len),
            Status::Ok
        );
        assert_eq!(&big[..len], &[0, 1, 255]);
        let mut v = std::mem::zeroed::<shmkit_value>();
        assert_eq!(
            shmkit_hash_map_get_value(map, p, n, big.as_mut_ptr(), big.len(), &mut len, &mut v),
            Status::Ok
        );
        assert_eq!(v.kind, shmkit_type::Bytes);
        assert_eq!(std::slice::from_raw_parts(v.data, v.len), &[0, 1, 255]);
        assert_eq!(
            v.data,
            big.as_ptr().add(1),
            "data points into the caller's buffer"
        );

        let (p, n) = k("absent");
        assert_eq!(shmkit_hash_map_get_i64(map, p, n, &mut i), Status::NotFound);
        assert_eq!(
            shmkit_hash_map_get(map, p, n, big.as_mut_ptr(), big.len(), &mut len),
            Status::NotFound
        );

        let mut count = 0;
        assert_eq!(shmkit_hash_map_len(map, &mut count), Status::Ok);
        assert_eq!(count, 6);
        shmkit_hash_map_close(map);
        shmkit_store_close(store);
    }

    // What Rust (and so Python) sees: str keys, typed values.
    let store = shmkit::Store::open(name.0.to_str().unwrap()).unwrap();
    let map = store.open_hash_map("m").unwrap();
    let get = |key: &str| {
        let key = shmkit::value::encode(&shmkit::value::Value::Str(key.into()));
        shmkit::value::decode(&map.get(&key).unwrap().unwrap()).unwrap()
    };
    use shmkit::value::Value;
    assert_eq!(get("int"), Value::Int(-42));
    assert_eq!(get("float"), Value::Float(2.5));
    assert_eq!(get("bool"), Value::Bool(true));
    assert_eq!(get("none"), Value::Null);
    assert_eq!(get("str"), Value::Str("héllo".into()));
    assert_eq!(get("bytes"), Value::Bytes(vec![0, 1, 255]));
}

#[test]
fn conditional_writes_counters_and_removal() {
    let name = Name::new("capi-writes");
    let store = store_of(&name);
    let map = open_map(store, 0);
    // SAFETY: live handles; keys and values valid for their lengths; out-pointers valid.
    unsafe {
        let mut done = false;
        assert_eq!(
            shmkit_hash_map_insert_if_absent(map, b"k".as_ptr(), 1, b"v1".as_ptr(), 2, &mut done),
            Status::Ok
        );
        assert!(done);
        assert_eq!(
            shmkit_hash_map_insert_if_absent(map, b"k".as_ptr(), 1, b"v2".as_ptr(), 2, &mut done),
            Status::Ok
        );
        assert!(!done);
        // Expected value wrong: no swap.
        assert_eq!(
            shmkit_hash_map_compare_and_set(
                map,
                b"k".as_ptr(),
                1,
                b"zz".as_ptr(),
                2,
                b"v3".as_ptr(),
                2,
                &mut done
            ),
            Status::Ok
        );
        assert!(!done);
        assert_eq!(
            shmkit_hash_map_compare_and_set(
                map,
                b"k".as_ptr(),
                1,
                b"v1".as_ptr(),
                2,
                b"v3".as_ptr(),
                2,
                &mut done
            ),
            Status::Ok
        );
        assert!(done);
        // NULL expected: "must be absent"; NULL new value: delete.
        assert_eq!(
            shmkit_hash_map_compare_and_set(
                map,
                b"new".as_ptr(),
                3,
                null(),
                0,
                b"x".as_ptr(),
                1,
                &mut done
            ),
            Status::Ok
        );
        assert!(done);
        assert_eq!(
            shmkit_hash_map_compare_and_set(
                map,
                b"new".as_ptr(),
                3,
                b"x".as_ptr(),
                1,
                null(),
                0,
                &mut done
            ),
            Status::Ok
        );
        assert!(done);
        let mut buf = [0u8; 8];
        let mut len = 0;
        assert_eq!(
            shmkit_hash_map_get(map, b"k".as_ptr(), 1, buf.as_mut_ptr(), 8, &mut len),
            Status::Ok
        );
        assert_eq!(&buf[..len], b"v3");
        assert_eq!(
            shmkit_hash_map_remove(map, b"k".as_ptr(), 1, &mut done),
            Status::Ok
        );
        assert!(done);
        assert_eq!(
            shmkit_hash_map_remove(map, b"k".as_ptr(), 1, null_mut()),
            Status::Ok
        );

        // Raw counters: 8-byte little-endian.
        let mut n = 0i64;
        assert_eq!(
            shmkit_hash_map_incr_i64(map, b"c".as_ptr(), 1, 5, &mut n),
            Status::Ok
        );
        assert_eq!(
            shmkit_hash_map_incr_i64(map, b"c".as_ptr(), 1, -2, &mut n),
            Status::Ok
        );
        assert_eq!(n, 3);
        assert_eq!(
            shmkit_hash_map_incr_i64(map, b"new".as_ptr(), 3, 1, null_mut()),
            Status::Ok
        );
        assert_eq!(
            shmkit_hash_map_set(map, b"s".as_ptr(), 1, b"abc".as_ptr(), 3),
            Status::Ok
        );
        assert_eq!(
            shmkit_hash_map_incr_i64(map, b"s".as_ptr(), 1, 1, &mut n),
            Status::WrongType
        );

        // Typed counters: Python's ints and floats.
        assert_eq!(
            shmkit_hash_map_incr_int(map, b"t".as_ptr(), 1, 7, &mut n),
            Status::Ok
        );
        assert_eq!(
            shmkit_hash_map_incr_int(map, b"t".as_ptr(), 1, 1, &mut n),
            Status::Ok
        );
        assert_eq!(n, 8);
        // Past int64_t the counter keeps counting, as a big int (Python's rules).
        assert_eq!(
            shmkit_hash_map_incr_int(map, b"t".as_ptr(), 1, i64::MAX, &mut n),
            Status::BigInt
        );
        assert_eq!(n, 8, "*out is not written for a big int");
        assert_eq!(
            shmkit_hash_map_get_i64(map, b"t".as_ptr(), 1, &mut n),
            Status::WrongType
        );
        let mut buf = [0u8; 16];
        let mut len = 0;
        let mut v = std::mem::zeroed::<shmkit_value>();
        assert_eq!(
            shmkit_hash_map_get_value(
                map,
                b"t".as_ptr(),
                1,
                buf.as_mut_ptr(),
                16,
                &mut len,
                &mut v
            ),
            Status::Ok
        );
        let big = (i64::MAX as i128 + 8).to_le_bytes();
        assert_eq!(v.kind, shmkit_type::BigInt);
        assert_eq!(std::slice::from_raw_parts(v.data, v.len), &big[..9]);
        assert_eq!(
            shmkit_hash_map_incr_int(map, b"t".as_ptr(), 1, i64::MAX, null_mut()),
            Status::BigInt,
            "a big int counter keeps counting"
        );
        assert_eq!(
            shmkit_hash_map_incr_int(map, b"t".as_ptr(), 1, i64::MIN, &mut n),
            Status::BigInt
        );
        assert_eq!(
            shmkit_hash_map_incr_int(map, b"t".as_ptr(), 1, -i64::MAX, &mut n),
            Status::Ok
        );
        assert_eq!(n, 7, "back in int64_t: an int again");
        assert_eq!(
            shmkit_hash_map_get_value(
                map,
                b"t".as_ptr(),
                1,
                buf.as_mut_ptr(),
                16,
                &mut len,
                &mut v
            ),
            Status::Ok
        );
        assert_eq!((v.kind, len), (shmkit_type::Int, 9), "stored canonically");
        assert_eq!(
            shmkit_hash_map_incr_int(map, b"t".as_ptr(), 1, 1, &mut n),
            Status::Ok
        );
        assert_eq!(n, 8);
        assert_eq!(
            shmkit_hash_map_incr_int(map, b"u".as_ptr(), 1, i64::MIN, &mut n),
            Status::Ok
        );
        assert_eq!(
            shmkit_hash_map_incr_int(map, b"u".as_ptr(), 1, -1, &mut n),
            Status::BigInt,
            "past int64_t downwards too"
        );
        let mut f = 0.0;
        assert_eq!(
            shmkit_hash_map_incr_float(map, b"u".as_ptr(), 1, 0.5, &mut f),
            Status::Ok
        );
        assert_eq!(f, -9223372036854775808.0 + 0.5, "a big int becomes a float");
        let mut encoded = vec![0x07; 1]; // 2**1024, a big int
        encoded.extend_from_slice(&[0; 128]);
        encoded.push(1);
        assert_eq!(
            shmkit_hash_map_set(map, b"h".as_ptr(), 1, encoded.as_ptr(), encoded.len()),
            Status::Ok
        );
        assert_eq!(
            shmkit_hash_map_incr_float(map, b"h".as_ptr(), 1, 0.5, &mut f),
            Status::Overflow,
            "2**1024 has no double"
        );
        assert_eq!(
            shmkit_hash_map_incr_int(map, b"h".as_ptr(), 1, 1, &mut n),
            Status::BigInt
        );
        assert_eq!(
            shmkit_hash_map_incr_float(map, b"t".as_ptr(), 1, 0.5, &mut f),
            Status::Ok
        );
        assert_eq!(f, 8.5, "int + float is a float, as in Python");
        assert_eq!(
            shmkit_hash_map_incr_int(map, b"t".as_ptr(), 1, 1, &mut n),
            Status::WrongType
        );
        assert_eq!(
            shmkit_hash_map_incr_int(map, b"s".as_ptr(), 1, 1, &mut n),
            Status::InvalidValue,
            "raw bytes that are not a typed value"
        );
        shmkit_hash_map_close(map);
        shmkit_store_close(store);
    }
}

#[test]
fn iteration_returns_every_entry_once_and_reports_needed_lengths() {
    let name = Name::new("capi-iter");
    let store = store_of(&name);
    let map = open_map(store, 0);
    // SAFETY: live handles; buffers valid for their capacities; out-pointers valid.
    unsafe {
        for i in 0..100u32 {
            let key = format!("key-{i}");
            let value = vec![b'v'; i as usize];
            assert_eq!(
                shmkit_hash_map_set(map, key.as_ptr(), key.len(), value.as_ptr(), value.len()),
                Status::Ok
            );
        }
        let mut it = null_mut();
        assert_eq!(shmkit_hash_map_iter_new(map, &mut it), Status::Ok);
        // The iterator keeps the map and store attached.
        shmkit_hash_map_close(map);
        shmkit_store_close(store);
        let mut seen = std::collections::BTreeMap::new();
        let mut kbuf = vec![0u8; 4];
        let mut vbuf = vec![0u8; 4];
        let (mut klen, mut vlen) = (0, 0);
        let mut too_small = 0;
        loop {
            let s = shmkit_hash_map_iter_next(
                it,
                kbuf.as_mut_ptr(),
                kbuf.len(),
                &mut klen,
                vbuf.as_mut_ptr(),
                vbuf.len(),
                &mut vlen,
            );
            match s {
                Status::End => break,
                Status::BufferTooSmall => {
                    too_small += 1;
                    kbuf.resize(klen, 0);
                    vbuf.resize(vlen, 0);
                }
                Status::Ok => {
                    let key = String::from_utf8(kbuf[..klen].to_vec()).unwrap();
                    let value = vbuf[..vlen].to_vec();
                    assert!(seen.insert(key, value).is_none(), "an entry came twice");
                }
                other => panic!("{other:?}: {}", last_error()),
            }
        }
        assert!(too_small > 0);
        assert_eq!(seen.len(), 100);
        for (k, value) in seen {
            let i: usize = k.strip_prefix("key-").unwrap().parse().unwrap();
            assert_eq!(value, vec![b'v'; i], "the value of {k}");
        }
        assert_eq!(
            shmkit_hash_map_iter_next(it, null_mut(), 0, &mut klen, null_mut(), 0, &mut vlen),
            Status::End
        );
        shmkit_hash_map_iter_free(it);
    }
}

#[test]
fn bad_input_is_an_error_code_never_a_crash() {
    let name = Name::new("capi-bad");
    let store = store_of(&name);
    let map = open_map(store, 0);
    let mut out_store = null_mut();
    let mut out_map = null_mut();
    let mut len = 0usize;
    let mut n = 0i64;
    // SAFETY: every pointer is either null or valid; the functions must reject the nulls.
    unsafe {
        assert_eq!(
            shmkit_store_open(null(), null(), &mut out_store),
            Status::NullPointer
        );
        assert!(
            last_error().contains("null pointer for the store name"),
            "{}",
            last_error()
        );
        assert_eq!(
            shmkit_store_open(name.0.as_ptr(), null(), null_mut()),
            Status::NullPointer
        );
        assert_eq!(
            shmkit_hash_map_get_i64(null(), b"k".as_ptr(), 1, &mut n),
            Status::NullPointer
        );
        assert_eq!(
            shmkit_hash_map_get_i64(map, null(), 1, &mut n),
            Status::NullPointer
        );
        assert_eq!(
            shmkit_hash_map_get_i64(map, b"k".as_ptr(), 1, null_mut()),
            Status::NullPointer
        );
        assert_eq!(
            shmkit_hash_map_get(map, b"k".as_ptr(), 1, null_mut(), 5, &mut len),
            Status::NullPointer
        );
        assert_eq!(
            shmkit_hash_map_set(map, b"k".as_ptr(), 1, null(), 3),
            Status::NullPointer
        );
        // NULL with length 0 is the empty key and the empty value.
        assert_eq!(shmkit_hash_map_set(map, null(), 0, null(), 0), Status::Ok);
        assert_eq!(
            shmkit_hash_map_get(map, null(), 0, null_mut(), 0, &mut len),
            Status::Ok
        );
        assert_eq!(len, 0);
        assert_eq!(shmkit_hash_map_len(null(), null_mut()), Status::NullPointer);
        assert_eq!(
            shmkit_hash_map_iter_new(null(), null_mut()),
            Status::NullPointer
        );
        assert_eq!(
            shmkit_hash_map_iter_next(null_mut(), null_mut(), 0, &mut len, null_mut(), 0, &mut len),
            Status::NullPointer
        );
        assert_eq!(
            shmkit_value_decode(null(), 3, null_mut()),
            Status::NullPointer
        );
        let mut v = std::mem::zeroed::<shmkit_value>();
        assert_eq!(
            shmkit_value_decode([0x99u8].as_ptr(), 1, &mut v),
            Status::InvalidValue
        );
        assert_eq!(shmkit_value_decode(null(), 0, &mut v), Status::InvalidValue);
        // Freeing NULL is a no-op.
        shmkit_store_close(null_mut());
        shmkit_hash_map_close(null_mut());
        shmkit_hash_map_iter_free(null_mut());

        // Names: not UTF-8, not a valid store name, unknown flags.
        let not_utf8 = CString::new(vec![b'a', 0xff]).unwrap();
        assert_eq!(
            shmkit_store_open(not_utf8.as_ptr(), null(), &mut out_store),
            Status::InvalidName
        );
        assert_eq!(
            shmkit_store_open_or_create(c"a b".as_ptr(), null(), &mut out_store),
            Status::InvalidName
        );
        assert_eq!(
            shmkit_hash_map_open(store, not_utf8.as_ptr(), null(), &mut out_map),
            Status::InvalidName
        );
        let weird = shmkit_store_options {
            flags: 0x80,
            ..Default::default()
        };
        assert_eq!(
            shmkit_store_open_or_create(name.0.as_ptr(), &weird, &mut out_store),
            Status::InvalidArgument
        );
        let bad_shards = shmkit_map_options {
            shards: 3,
            ..Default::default()
        };
        assert_eq!(
            shmkit_hash_map_open(store, c"other".as_ptr(), &bad_shards, &mut out_map),
            Status::InvalidArgument
        );

        // Missing things.
        let missing = Name::new("capi-missing");
        assert_eq!(
            shmkit_store_open(missing.0.as_ptr(), null(), &mut out_store),
            Status::StoreNotFound
        );
        assert_eq!(
            shmkit_store_remove(missing.0.as_ptr()),
            Status::StoreNotFound
        );
        let existing_only = shmkit_map_options {
            flags: SHMKIT_MAP_OPEN_EXISTING,
            ..Default::default()
        };
        assert_eq!(
            shmkit_hash_map_open(store, c"nope".as_ptr(), &existing_only, &mut out_map),
            Status::ObjectNotFound
        );
        assert_eq!(
            shmkit_store_create(name.0.as_ptr(), null(), &mut out_store),
            Status::StoreExists
        );

        // A key of the wrong type through a str-keys handle: skipped with WRONG_TYPE.
        let str_map = open_map(store, SHMKIT_MAP_STR_KEYS);
        let mut it = null_mut();
        assert_eq!(shmkit_hash_map_iter_new(str_map, &mut it), Status::Ok);
        let mut buf = [0u8; 64];
        assert_eq!(
            shmkit_hash_map_iter_next(
                it,
                buf.as_mut_ptr(),
                64,
                &mut len,
                buf.as_mut_ptr(),
                64,
                &mut len
            ),
            Status::WrongType
        );
        assert_eq!(
            shmkit_hash_map_iter_next(
                it,
                buf.as_mut_ptr(),
                64,
                &mut len,
                buf.as_mut_ptr(),
                64,
                &mut len
            ),
            Status::End
        );
        shmkit_hash_map_iter_free(it);
        let key = [0xffu8];
        assert_eq!(
            shmkit_hash_map_set_i64(str_map, key.as_ptr(), 1, 1),
            Status::InvalidArgument
        );
        shmkit_hash_map_close(str_map);
        shmkit_hash_map_close(map);
        shmkit_store_close(store);
    }
}

#[test]
fn an_object_of_another_kind_is_wrong_kind() {
    let name = Name::new("capi-kind");
    let store =
        shmkit::Store::open_or_create(name.0.to_str().unwrap(), &Default::default()).unwrap();
    // A name taken by another kind of object (a bare block registered as a deque).
    store
        .object_or_create("thing", shmkit::ObjectKind::Deque, |s| s.alloc(64))
        .unwrap();
    let c_store = store_of(&name);
    let mut map = null_mut();
    // SAFETY: live store, valid name and out-pointer.
    let s = unsafe { shmkit_hash_map_open(c_store, c"thing".as_ptr(), null(), &mut map) };
    assert_eq!(s, Status::WrongKind, "{}", last_error());
    // SAFETY: closed once.
    unsafe { shmkit_store_close(c_store) };
}

#[test]
fn stores_of_another_user_or_a_wider_mode_are_refused_with_their_own_codes() {
    let name = Name::new("capi-owner");
    let wide = shmkit_store_options {
        mode: 0o644,
        ..Default::default()
    };
    let mut store = null_mut();
    // SAFETY: valid name, options and out-pointers; handles closed once.
    unsafe {
        assert_eq!(
            shmkit_store_create(name.0.as_ptr(), &wide, &mut store),
            Status::Ok
        );
        shmkit_store_close(store);
        // Asked for 0600 (the default), found 0644.
        assert_eq!(
            shmkit_store_open_or_create(name.0.as_ptr(), null(), &mut store),
            Status::ModeTooWide
        );
        assert!(last_error().contains("0o644"), "{}", last_error());
        let strict_open = shmkit_store_options {
            mode: 0o600,
            ..Default::default()
        };
        assert_eq!(
            shmkit_store_open(name.0.as_ptr(), &strict_open, &mut store),
            Status::ModeTooWide
        );
        // Open without a mode: the mode is not checked.
        assert_eq!(
            shmkit_store_open(name.0.as_ptr(), null(), &mut store),
            Status::Ok
        );
        shmkit_store_close(store);
    }

    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        shmkit_testkit::cannot_run_here("giving a store to another user needs root");
        return;
    }
    let path = shmkit::store::name::resolve(name.0.to_str().unwrap()).unwrap();
    std::os::unix::fs::chown(&path, Some(65534), Some(65534)).unwrap();
    // SAFETY: as above.
    unsafe {
        assert_eq!(
            shmkit_store_open(name.0.as_ptr(), null(), &mut store),
            Status::ForeignOwner
        );
        assert!(
            last_error().contains("owned by uid 65534"),
            "{}",
            last_error()
        );
        assert_eq!(
            shmkit_store_open_or_create(name.0.as_ptr(), &wide, &mut store),
            Status::ForeignOwner
        );
        let allow = shmkit_store_options {
            flags: SHMKIT_ALLOW_FOREIGN_OWNER,
            mode: 0o644,
            ..Default::default()
        };
        assert_eq!(
            shmkit_store_open_or_create(name.0.as_ptr(), &allow, &mut store),
            Status::Ok,
            "{}",
            last_error()
        );
        shmkit_store_close(store);
    }
}

#[test]
fn check_and_repair_summaries() {
    let name = Name::new("capi-check");
    let store = store_of(&name);
    let map = open_map(store, 0);
    let mut summary = shmkit_check_summary::default();
    let mut repair = shmkit_repair_summary::default();
    // SAFETY: live handles and valid out-pointers.
    unsafe {
        assert_eq!(
            shmkit_hash_map_set(map, b"a".as_ptr(), 1, b"b".as_ptr(), 1),
            Status::Ok
        );
        assert_eq!(shmkit_store_check(store, &mut summary), Status::Ok);
        assert!(summary.clean, "{summary:?}");
        assert_eq!(summary.problems + summary.needs_repair + summary.busy, 0);
        assert_eq!(shmkit_store_repair(store, &mut repair), Status::Ok);
        assert!(repair.after.clean, "{repair:?}");
        assert_eq!(
            shmkit_store_check(null(), &mut summary),
            Status::NullPointer
        );
        assert_eq!(shmkit_store_check(store, null_mut()), Status::NullPointer);
        shmkit_hash_map_close(map);
        shmkit_store_close(store);
        let mut removed = false;
        assert_eq!(
            shmkit_store_remove_if_unused(name.0.as_ptr(), &mut removed),
            Status::Ok
        );
        assert!(removed);
    }
}

#[test]
fn every_code_has_the_name_of_its_kind_and_unknown_numbers_are_named_unknown() {
    use shmkit::ErrorKind;
    // Every kind the core has (a kind added later is in `ErrorKind::ALL`, and fails here
    // until it has a code of its own instead of falling into `Unknown`).
    let mut codes = std::collections::HashSet::new();
    assert!(!ErrorKind::ALL.is_empty());
    for &kind in ErrorKind::ALL {
        let status = Status::of_kind(kind);
        assert_ne!(
            status,
            Status::Unknown,
            "{kind:?} has no status code of its own"
        );
        assert!((status as i32) < 0, "{kind:?} is an error");
        assert!(
            codes.insert(status as i32),
            "{kind:?} has a code of its own"
        );
        // SAFETY: status names are static C strings.
        let name = unsafe { CStr::from_ptr(shmkit_status_name(status as i32)) };
        assert_eq!(name.to_str().unwrap(), kind.name());
    }
    let all: std::collections::HashSet<i32> = shmkit_c::status::ALL_STATUSES
        .iter()
        .map(|s| *s as i32)
        .collect();
    assert_eq!(
        all.len(),
        shmkit_c::status::ALL_STATUSES.len(),
        "codes are distinct"
    );
    // SAFETY: as above.
    let unknown = unsafe { CStr::from_ptr(shmkit_status_name(12345)) };
    assert_eq!(unknown, c"unknown");
    // SAFETY: a static string.
    let version = unsafe { CStr::from_ptr(shmkit_version()) };
    assert_eq!(version.to_str().unwrap(), env!("CARGO_PKG_VERSION"));
}

#[test]
fn a_panic_inside_is_a_status_not_an_abort() {
    let s = shmkit_c::status::entry(|| panic!("boom"));
    assert_eq!(s, Status::Panic);
    assert!(last_error().contains("boom"), "{}", last_error());
}

#[test]
fn store_sizes_past_the_largest_file_are_invalid_argument_not_a_panic() {
    let name = Name::new("capi-huge");
    // SAFETY: a valid name, options and out-pointer; nothing is opened.
    unsafe {
        for (reserve, initial_len) in [(u64::MAX, 0), (0, u64::MAX), (u64::MAX, u64::MAX)] {
            let options = shmkit_store_options {
                reserve,
                initial_len,
                ..Default::default()
            };
            for f in [shmkit_store_create, shmkit_store_open_or_create] {
                let mut store = std::ptr::dangling_mut::<shmkit_store>();
                assert_eq!(
                    f(name.0.as_ptr(), &options, &mut store),
                    Status::InvalidArgument,
                    "{options:?}: {}",
                    last_error()
                );
                assert!(
                    last_error().contains("larger than a store can be"),
                    "{}",
                    last_error()
                );
                assert!(store.is_null());
            }
        }
        // `reserved` must be 0, so that it can get a meaning later.
        let reserved = shmkit_store_options {
            reserved: 1,
            ..Default::default()
        };
        let mut store = null_mut();
        for f in [
            shmkit_store_create,
            shmkit_store_open_or_create,
            shmkit_store_open,
        ] {
            assert_eq!(
                f(name.0.as_ptr(), &reserved, &mut store),
                Status::InvalidArgument
            );
            assert!(last_error().contains("reserved"), "{}", last_error());
        }
    }
}

#[test]
fn a_failed_open_sets_the_handle_out_parameter_to_null() {
    let name = Name::new("capi-null-out");
    let missing = Name::new("capi-null-out-missing");
    // A non-null value the caller might otherwise take for a handle (never dereferenced).
    fn garbage<T>() -> *mut T {
        std::ptr::dangling_mut()
    }
    // SAFETY: valid names, options and out-pointers; handles closed once.
    unsafe {
        let mut store = garbage();
        assert_eq!(
            shmkit_store_open(missing.0.as_ptr(), null(), &mut store),
            Status::StoreNotFound
        );
        assert!(store.is_null(), "NULL after STORE_NOT_FOUND");
        store = garbage();
        assert_eq!(
            shmkit_store_open(null(), null(), &mut store),
            Status::NullPointer
        );
        assert!(store.is_null(), "NULL after a NULL name");
        store = garbage();
        assert_eq!(
            shmkit_store_open_or_create(c"a b".as_ptr(), null(), &mut store),
            Status::InvalidName
        );
        assert!(store.is_null());

        let real = store_of(&name);
        store = garbage();
        assert_eq!(
            shmkit_store_create(name.0.as_ptr(), null(), &mut store),
            Status::StoreExists
        );
        assert!(store.is_null(), "NULL after STORE_EXISTS");

        let existing_only = shmkit_map_options {
            flags: SHMKIT_MAP_OPEN_EXISTING,
            ..Default::default()
        };
        let mut map = garbage();
        assert_eq!(
            shmkit_hash_map_open(real, c"nope".as_ptr(), &existing_only, &mut map),
            Status::ObjectNotFound
        );
        assert!(map.is_null(), "NULL after OBJECT_NOT_FOUND");
        map = garbage();
        assert_eq!(
            shmkit_hash_map_open(null(), c"m".as_ptr(), null(), &mut map),
            Status::NullPointer
        );
        assert!(map.is_null(), "NULL after a NULL store");

        let mut it = garbage();
        assert_eq!(
            shmkit_hash_map_iter_new(null(), &mut it),
            Status::NullPointer
        );
        assert!(it.is_null(), "NULL after a NULL map");
        shmkit_store_close(real);
    }
}

#[test]
fn outputs_overlapping_inputs_are_invalid_argument() {
    let name = Name::new("capi-overlap");
    let store = store_of(&name);
    let map = open_map(store, 0);
    // SAFETY: live handles; every pointer is valid for its length (the overlaps are what the
    // functions must refuse, before writing anything).
    unsafe {
        assert_eq!(
            shmkit_hash_map_set(map, b"key1".as_ptr(), 4, b"value".as_ptr(), 5),
            Status::Ok
        );
        assert_eq!(
            shmkit_hash_map_set_i64(map, b"int1".as_ptr(), 4, 7),
            Status::Ok
        );
        // The common C pattern: the key in the buffer the value is read into.
        let mut buf = *b"key1\0\0\0\0\0\0\0\0\0\0\0\0";
        let p = buf.as_mut_ptr();
        let mut len = 99usize;
        assert_eq!(
            shmkit_hash_map_get(map, p, 4, p, buf.len(), &mut len),
            Status::InvalidArgument
        );
        assert!(last_error().contains("overlaps"), "{}", last_error());
        assert_eq!(std::slice::from_raw_parts(p, 4), b"key1", "nothing written");
        assert_eq!(len, 99, "nothing written");
        // Overlapping by one byte only.
        assert_eq!(
            shmkit_hash_map_get(map, p, 4, p.add(3), 8, &mut len),
            Status::InvalidArgument
        );
        assert_eq!(
            shmkit_hash_map_get_str(map, p, 4, p.add(2).cast(), 8, &mut len),
            Status::InvalidArgument
        );
        assert_eq!(
            shmkit_hash_map_get_bytes(map, p, 4, p.add(2), 8, &mut len),
            Status::InvalidArgument
        );
        let mut v = std::mem::zeroed::<shmkit_value>();
        assert_eq!(
            shmkit_hash_map_get_value(map, p, 4, p, buf.len(), &mut len, &mut v),
            Status::InvalidArgument
        );
        // Adjacent is not overlapping: the key in bytes 0..4, the value from byte 4.
        assert_eq!(
            shmkit_hash_map_get(map, p, 4, p.add(4), 12, &mut len),
            Status::Ok,
            "{}",
            last_error()
        );
        assert_eq!(std::slice::from_raw_parts(p, 9), b"key1value");

        // A length or scalar out-parameter inside the key.
        let mut words = [u64::from_ne_bytes(*b"int1\0\0\0\0"), 0];
        // One pointer for every use below, so that each is derived from the same borrow.
        let w = words.as_mut_ptr();
        let key = w.cast::<u8>();
        let mut big = [0u8; 16];
        assert_eq!(
            shmkit_hash_map_get(map, key, 4, big.as_mut_ptr(), 16, w.cast()),
            Status::InvalidArgument
        );
        assert_eq!(
            shmkit_hash_map_get_i64(map, key, 4, w.cast()),
            Status::InvalidArgument
        );
        assert_eq!(
            shmkit_hash_map_incr_int(map, key, 4, 1, w.cast()),
            Status::InvalidArgument
        );
        let mut n = 0i64;
        assert_eq!(shmkit_hash_map_get_i64(map, key, 4, &mut n), Status::Ok);
        assert_eq!(n, 7, "the refused incr changed nothing");
        assert_eq!(
            shmkit_hash_map_get_i64(map, key, 4, w.add(1).cast()),
            Status::Ok,
            "the word after the key is not the key"
        );
        assert_eq!(*w.add(1), 7);
        let flag = w.cast::<bool>();
        assert_eq!(
            shmkit_hash_map_remove(map, key, 4, flag),
            Status::InvalidArgument
        );
        assert_eq!(
            shmkit_hash_map_insert_if_absent(map, b"k".as_ptr(), 1, key, 4, flag),
            Status::InvalidArgument,
            "inside the value"
        );
        assert_eq!(
            shmkit_hash_map_compare_and_set(map, b"k".as_ptr(), 1, null(), 0, key, 4, flag),
            Status::InvalidArgument,
            "inside the new value"
        );
        assert_eq!(
            shmkit_hash_map_get_i64(map, b"k".as_ptr(), 1, &mut n),
            Status::NotFound
        );

        // A decoded value's out-parameter over the bytes it decodes.
        let mut encoded = [std::mem::zeroed::<shmkit_value>(); 2];
        let bytes = encoded.as_mut_ptr().cast::<u8>();
        *bytes = 0x03; // an int, then 8 bytes
        assert_eq!(
            shmkit_value_decode(bytes, 9, encoded.as_mut_ptr()),
            Status::InvalidArgument
        );

        // A store handle out-parameter over the options.
        let mut options = shmkit_store_options::default();
        let o = &raw mut options;
        let out = o.cast::<*mut shmkit_store>();
        assert_eq!(
            shmkit_store_open_or_create(name.0.as_ptr(), o, out),
            Status::InvalidArgument
        );
        assert!((*out).is_null(), "the out-parameter was set to NULL first");
        shmkit_hash_map_close(map);
        shmkit_store_close(store);
    }
}

#[test]
fn a_decoded_empty_payload_points_into_the_buffer() {
    let name = Name::new("capi-empty");
    let store = store_of(&name);
    let map = open_map(store, 0);
    // SAFETY: live handles; buffers valid for their capacities; out-pointers valid.
    unsafe {
        assert_eq!(
            shmkit_hash_map_set_str(map, b"s".as_ptr(), 1, c"".as_ptr(), 0),
            Status::Ok
        );
        assert_eq!(
            shmkit_hash_map_set_bytes(map, b"b".as_ptr(), 1, null(), 0),
            Status::Ok
        );
        assert_eq!(
            shmkit_hash_map_set_i64(map, b"i".as_ptr(), 1, 1),
            Status::Ok
        );
        let mut buf = [0u8; 16];
        let mut len = 0;
        let mut v = std::mem::zeroed::<shmkit_value>();
        for (key, kind) in [(b"s", shmkit_type::Str), (b"b", shmkit_type::Bytes)] {
            assert_eq!(
                shmkit_hash_map_get_value(
                    map,
                    key.as_ptr(),
                    1,
                    buf.as_mut_ptr(),
                    16,
                    &mut len,
                    &mut v
                ),
                Status::Ok
            );
            assert_eq!((v.kind, v.len, len), (kind, 0, 1));
            assert_eq!(
                v.data,
                buf.as_ptr().add(1),
                "not NULL: just past the type byte"
            );
        }
        assert_eq!(
            shmkit_hash_map_get_value(
                map,
                b"i".as_ptr(),
                1,
                buf.as_mut_ptr(),
                16,
                &mut len,
                &mut v
            ),
            Status::Ok
        );
        assert!(v.data.is_null(), "no payload: NULL");
        shmkit_hash_map_close(map);
        shmkit_store_close(store);
    }
}

/// An iterator handle as a number, to hand to other threads (C hands out the pointer).
#[derive(Clone, Copy)]
struct IterAddr(usize);

#[test]
fn an_iterator_used_from_several_threads_at_once_is_busy_never_a_race() {
    let name = Name::new("capi-iter-threads");
    let store = store_of(&name);
    let map = open_map(store, 0);
    let mut it = null_mut();
    // SAFETY: live handles; keys and values valid for their lengths; out-pointer valid.
    unsafe {
        for i in 0..2000u32 {
            let key = format!("k{i}");
            assert_eq!(
                shmkit_hash_map_set(map, key.as_ptr(), key.len(), key.as_ptr(), key.len()),
                Status::Ok
            );
        }
        assert_eq!(shmkit_hash_map_iter_new(map, &mut it), Status::Ok);
        shmkit_hash_map_close(map);
        shmkit_store_close(store);
    }
    let addr = IterAddr(it as usize);
    let threads: Vec<_> = (0..4)
        .map(|_| {
            std::thread::spawn(move || {
                let it = addr.0 as *const shmkit_hash_map_iter;
                let (mut got, mut busy) = (Vec::new(), 0u64);
                let (mut kbuf, mut vbuf) = ([0u8; 16], [0u8; 16]);
                let (mut klen, mut vlen) = (0, 0);
                loop {
                    // SAFETY: the iterator is live until every thread is joined; buffers and
                    // out-pointers are this thread's own.
                    let s = unsafe {
                        shmkit_hash_map_iter_next(
                            it,
                            kbuf.as_mut_ptr(),
                            16,
                            &mut klen,
                            vbuf.as_mut_ptr(),
                            16,
                            &mut vlen,
                        )
                    };
                    match s {
                        Status::Ok => {
                            assert_eq!(kbuf[..klen], vbuf[..vlen]);
                            got.push(String::from_utf8(kbuf[..klen].to_vec()).unwrap());
                        }
                        Status::Busy => {
                            busy += 1;
                            std::thread::yield_now();
                        }
                        Status::End => return (got, busy),
                        other => panic!("{other:?}: {}", last_error()),
                    }
                }
            })
        })
        .collect();
    let mut all = std::collections::HashSet::new();
    let mut busy = 0;
    for t in threads {
        let (got, b) = t.join().unwrap();
        busy += b;
        for key in got {
            assert!(all.insert(key), "an entry came twice");
        }
    }
    assert_eq!(all.len(), 2000, "every entry once ({busy} busy answers)");
    // SAFETY: freed once, after every thread is done with it.
    unsafe { shmkit_hash_map_iter_free(it) };
}

#[test]
fn a_lookup_from_a_thread_local_destructor_still_works() {
    use std::sync::atomic::{AtomicI32, AtomicI64, AtomicUsize, Ordering};
    static MAP: AtomicUsize = AtomicUsize::new(0);
    static STATUS: AtomicI32 = AtomicI32::new(i32::MIN);
    static VALUE: AtomicI64 = AtomicI64::new(0);
    struct LookUpOnExit;
    impl Drop for LookUpOnExit {
        fn drop(&mut self) {
            let map = MAP.load(Ordering::SeqCst) as *const shmkit_hash_map;
            let mut n = 0i64;
            // SAFETY: the map is live until the test closes it after the join; valid key and
            // out-pointer.
            let s = unsafe { shmkit_hash_map_get_i64(map, b"n".as_ptr(), 1, &mut n) };
            VALUE.store(n, Ordering::SeqCst);
            STATUS.store(s as i32, Ordering::SeqCst);
        }
    }
    thread_local! {
        static GUARD: LookUpOnExit = const { LookUpOnExit };
    }
    let name = Name::new("capi-tls");
    let store = store_of(&name);
    let map = open_map(store, 0);
    // SAFETY: a live map; valid key.
    let s = unsafe { shmkit_hash_map_set_i64(map, b"n".as_ptr(), 1, 41) };
    assert_eq!(s, Status::Ok);
    MAP.store(map as usize, Ordering::SeqCst);
    std::thread::spawn(|| {
        // The guard's destructor is registered before the library's scratch buffer's, so
        // it runs after that buffer is gone (destructors run in reverse order).
        GUARD.with(|_| ());
        let mut n = 0i64;
        // SAFETY: as in the destructor.
        let s = unsafe { shmkit_hash_map_get_i64(map_of(), b"n".as_ptr(), 1, &mut n) };
        assert_eq!((s, n), (Status::Ok, 41));
    })
    .join()
    .unwrap();
    assert_eq!(
        STATUS.load(Ordering::SeqCst),
        Status::Ok as i32,
        "not a panic"
    );
    assert_eq!(VALUE.load(Ordering::SeqCst), 41);
    // SAFETY: closed once, after the thread is done.
    unsafe {
        shmkit_hash_map_close(map);
        shmkit_store_close(store);
    }

    fn map_of() -> *const shmkit_hash_map {
        MAP.load(std::sync::atomic::Ordering::SeqCst) as *const shmkit_hash_map
    }
}

/// A `shmkit_value` of `kind` with everything else zero.
fn typed(kind: shmkit_type) -> shmkit_value {
    shmkit_value {
        kind,
        lang: 0,
        boolean: false,
        int64: 0,
        float64: 0.0,
        data: null(),
        len: 0,
    }
}

fn int(i: i64) -> shmkit_value {
    shmkit_value {
        int64: i,
        ..typed(shmkit_type::Int)
    }
}

fn with_payload(kind: shmkit_type, payload: &[u8]) -> shmkit_value {
    shmkit_value {
        data: payload.as_ptr(),
        len: payload.len(),
        ..typed(kind)
    }
}

/// `shmkit_value_encode` into a fresh buffer, asking for the length first.
fn encode(v: &shmkit_value) -> Vec<u8> {
    let mut len = 0;
    // SAFETY: a valid value; a length query (NULL, 0) and a buffer of the length reported.
    unsafe {
        assert_eq!(
            shmkit_value_encode(v, null_mut(), 0, &mut len),
            Status::BufferTooSmall
        );
        let mut buf = vec![0u8; len];
        assert_eq!(
            shmkit_value_encode(v, buf.as_mut_ptr(), len, &mut len),
            Status::Ok,
            "{}",
            last_error()
        );
        assert_eq!(len, buf.len());
        buf
    }
}

#[test]
fn encoded_values_are_the_shared_encoding() {
    use shmkit::value::Value;
    let cases: [(shmkit_value, Value); 9] = [
        (typed(shmkit_type::Null), Value::Null),
        (
            shmkit_value {
                boolean: true,
                ..typed(shmkit_type::Bool)
            },
            Value::Bool(true),
        ),
        (int(-7), Value::Int(-7)),
        (
            shmkit_value {
                float64: 2.5,
                ..typed(shmkit_type::Float)
            },
            Value::Float(2.5),
        ),
        (
            with_payload(shmkit_type::Bytes, b"\0k"),
            Value::Bytes(b"\0k".to_vec()),
        ),
        (
            with_payload(shmkit_type::Str, "é".as_bytes()),
            Value::Str("é".into()),
        ),
        (typed(shmkit_type::Str), Value::Str(String::new())),
        // A big int that fits in int64_t is written as the int Python would write.
        (
            with_payload(shmkit_type::BigInt, &[0xfe, 0xff, 0xff]),
            Value::Int(-2),
        ),
        (
            shmkit_value {
                lang: 1,
                ..with_payload(shmkit_type::Foreign, &[0x80, 5])
            },
            Value::Foreign {
                lang: 1,
                data: vec![0x80, 5],
            },
        ),
    ];
    for (v, want) in cases {
        assert_eq!(encode(&v), shmkit::value::encode(&want), "{want:?}");
    }
    let big = [0, 0, 0, 0, 0, 0, 0, 0x80, 0, 0];
    assert_eq!(
        encode(&with_payload(shmkit_type::BigInt, &big)),
        [7, 0, 0, 0, 0, 0, 0, 0, 0x80, 0],
        "a big int in its minimal form"
    );

    // SAFETY: values and buffers valid for their lengths, except where a test says.
    unsafe {
        let seven = int(7);
        let mut buf = [0u8; 4];
        let mut len = 0;
        assert_eq!(
            shmkit_value_encode(&seven, buf.as_mut_ptr(), buf.len(), &mut len),
            Status::BufferTooSmall
        );
        assert_eq!(len, 9, "the needed length, nothing copied");
        assert_eq!(buf, [0; 4]);
        assert_eq!(
            shmkit_value_encode(null(), buf.as_mut_ptr(), 4, &mut len),
            Status::NullPointer
        );
        assert_eq!(
            shmkit_value_encode(&seven, buf.as_mut_ptr(), 4, null_mut()),
            Status::NullPointer
        );
        let not_utf8 = with_payload(shmkit_type::Str, &[0xff]);
        assert_eq!(
            shmkit_value_encode(&not_utf8, null_mut(), 0, &mut len),
            Status::InvalidArgument
        );
        assert!(last_error().contains("UTF-8"), "{}", last_error());
        let dangling = shmkit_value {
            len: 3,
            ..typed(shmkit_type::Bytes)
        };
        assert_eq!(
            shmkit_value_encode(&dangling, null_mut(), 0, &mut len),
            Status::NullPointer
        );
        // A kind C may write that names no type: refused, never read as a Rust enum.
        let mut bad = std::mem::MaybeUninit::<shmkit_value>::zeroed();
        (&raw mut (*bad.as_mut_ptr()).kind).cast::<u32>().write(99);
        assert_eq!(
            shmkit_value_encode(bad.as_ptr(), null_mut(), 0, &mut len),
            Status::InvalidArgument
        );
        assert!(last_error().contains("99"), "{}", last_error());

        // Outputs overlapping the value or its payload.
        let mut payload = [0u8; 16];
        let in_place = with_payload(shmkit_type::Bytes, &payload[..4]);
        assert_eq!(
            shmkit_value_encode(&in_place, payload.as_mut_ptr().add(2), 8, &mut len),
            Status::InvalidArgument
        );
        // Touching is fine: the payload is bytes 0..4, the encoding goes to 4..9.
        assert_eq!(
            shmkit_value_encode(&in_place, payload.as_mut_ptr().add(4), 8, &mut len),
            Status::Ok
        );
        assert_eq!(&payload[4..9], [5, 0, 0, 0, 0]);
        let mut holder = [int(1)];
        let len_in_value = (&raw mut holder[0].int64).cast::<usize>();
        assert_eq!(
            shmkit_value_encode(holder.as_ptr(), null_mut(), 0, len_in_value),
            Status::InvalidArgument
        );
    }
}

#[test]
fn typed_conditional_writes_and_typed_keys() {
    let name = Name::new("capi-typed-cas");
    let store = store_of(&name);
    let map = open_map(store, SHMKIT_MAP_STR_KEYS);
    let raw = open_map(store, 0);
    // SAFETY: live handles; keys, values and out-pointers valid.
    unsafe {
        let (k, n) = (b"n".as_ptr(), 1);
        let mut done = false;
        let one = int(1);
        let word = with_payload(shmkit_type::Str, b"one");
        assert_eq!(
            shmkit_hash_map_insert_if_absent_value(map, k, n, &one, &mut done),
            Status::Ok
        );
        assert!(done);
        assert_eq!(
            shmkit_hash_map_insert_if_absent_value(map, k, n, &word, &mut done),
            Status::Ok
        );
        assert!(!done, "present: nothing inserted");
        assert_eq!(
            shmkit_hash_map_insert_if_absent_value(map, k, n, null(), &mut done),
            Status::NullPointer
        );
        let mut i = 0;
        assert_eq!(shmkit_hash_map_get_i64(map, k, n, &mut i), Status::Ok);
        assert_eq!(i, 1);

        // The type counts: the float 1.0 is not the int 1.
        let one_float = shmkit_value {
            float64: 1.0,
            ..typed(shmkit_type::Float)
        };
        assert_eq!(
            shmkit_hash_map_compare_and_set_value(map, k, n, &one_float, &word, &mut done),
            Status::Ok
        );
        assert!(!done);
        // An int written as a big int is the same int.
        let one_big = with_payload(shmkit_type::BigInt, &[1, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(
            shmkit_hash_map_compare_and_set_value(map, k, n, &one_big, &word, &mut done),
            Status::Ok
        );
        assert!(done);
        let mut buf = [0u8; 8];
        let mut len = 0;
        assert_eq!(
            shmkit_hash_map_get_str(map, k, n, buf.as_mut_ptr().cast(), 8, &mut len),
            Status::Ok
        );
        assert_eq!(&buf[..len], b"one");
        // NULL new value: remove; NULL expected: only if absent.
        assert_eq!(
            shmkit_hash_map_compare_and_set_value(map, k, n, &word, null(), &mut done),
            Status::Ok
        );
        assert!(done);
        assert_eq!(shmkit_hash_map_get_i64(map, k, n, &mut i), Status::NotFound);
        assert_eq!(
            shmkit_hash_map_compare_and_set_value(map, k, n, null(), &one, null_mut()),
            Status::Ok
        );
        assert_eq!(shmkit_hash_map_get_i64(map, k, n, &mut i), Status::Ok);
        // An out-parameter inside an input is refused before anything is written.
        let mut holder = [int(1)];
        let inside = (&raw mut holder[0].int64).cast::<bool>();
        assert_eq!(
            shmkit_hash_map_compare_and_set_value(map, k, n, holder.as_ptr(), &word, inside),
            Status::InvalidArgument
        );
        assert_eq!(shmkit_hash_map_get_i64(map, k, n, &mut i), Status::Ok);

        // An int key, as Python's m[5], through a handle that takes keys as given.
        let key = encode(&int(5));
        assert_eq!(
            shmkit_hash_map_insert_if_absent_value(raw, key.as_ptr(), key.len(), &word, null_mut()),
            Status::Ok
        );
        let mut it = null_mut();
        assert_eq!(shmkit_hash_map_iter_new(raw, &mut it), Status::Ok);
        let mut keys = Vec::new();
        loop {
            let (mut kb, mut vb) = ([0u8; 32], [0u8; 32]);
            let (mut kl, mut vl) = (0, 0);
            let s = shmkit_hash_map_iter_next(
                it,
                kb.as_mut_ptr(),
                32,
                &mut kl,
                vb.as_mut_ptr(),
                32,
                &mut vl,
            );
            if s == Status::End {
                break;
            }
            assert_eq!(s, Status::Ok);
            keys.push(shmkit::value::decode(&kb[..kl]).unwrap());
        }
        shmkit_hash_map_iter_free(it);
        keys.sort_by_key(|k| format!("{k:?}"));
        use shmkit::value::Value;
        assert_eq!(keys, [Value::Int(5), Value::Str("n".into())]);
        shmkit_hash_map_close(raw);
        shmkit_hash_map_close(map);
        shmkit_store_close(store);
    }
}

fn open_vector(store: *const shmkit_store, name: &CStr, len: u64) -> *mut shmkit_atomic_vector {
    let mut vec = null_mut();
    // SAFETY: a live store, a valid name and out-pointer.
    let s = unsafe { shmkit_atomic_vector_open(store, name.as_ptr(), len, 0, &mut vec) };
    assert_eq!(s, Status::Ok, "{}", last_error());
    vec
}

#[test]
fn atomic_vector_element_operations_return_previous_values() {
    let name = Name::new("capi-vec-ops");
    let store = store_of(&name);
    let vec = open_vector(store, c"v", 4);
    // The vector keeps the store attached.
    // SAFETY: closed once.
    unsafe { shmkit_store_close(store) };
    // SAFETY: a live vector handle; out-pointers valid.
    unsafe {
        let mut len = 0;
        assert_eq!(shmkit_atomic_vector_len(vec, &mut len), Status::Ok);
        assert_eq!(len, 4);
        let mut v = -1;
        assert_eq!(shmkit_atomic_vector_load(vec, 3, &mut v), Status::Ok);
        assert_eq!(v, 0, "new elements read 0");
        assert_eq!(shmkit_atomic_vector_store(vec, 0, -7), Status::Ok);
        assert_eq!(shmkit_atomic_vector_load(vec, 0, &mut v), Status::Ok);
        assert_eq!(v, -7);

        let mut prev = 0;
        assert_eq!(shmkit_atomic_vector_swap(vec, 0, 10, &mut prev), Status::Ok);
        assert_eq!(prev, -7);
        assert_eq!(
            shmkit_atomic_vector_fetch_add(vec, 0, 5, &mut prev),
            Status::Ok
        );
        assert_eq!(prev, 10);
        assert_eq!(
            shmkit_atomic_vector_fetch_sub(vec, 0, 20, &mut prev),
            Status::Ok
        );
        assert_eq!(prev, 15);
        assert_eq!(shmkit_atomic_vector_load(vec, 0, &mut v), Status::Ok);
        assert_eq!(v, -5);
        // Wrapping, as C's unsigned arithmetic.
        assert_eq!(shmkit_atomic_vector_store(vec, 1, i64::MAX), Status::Ok);
        assert_eq!(
            shmkit_atomic_vector_fetch_add(vec, 1, 1, null_mut()),
            Status::Ok
        );
        assert_eq!(shmkit_atomic_vector_load(vec, 1, &mut v), Status::Ok);
        assert_eq!(v, i64::MIN);

        assert_eq!(shmkit_atomic_vector_store(vec, 2, 0b1100), Status::Ok);
        assert_eq!(
            shmkit_atomic_vector_fetch_and(vec, 2, 0b0110, &mut prev),
            Status::Ok
        );
        assert_eq!(prev, 0b1100);
        assert_eq!(
            shmkit_atomic_vector_fetch_or(vec, 2, 0b0001, &mut prev),
            Status::Ok
        );
        assert_eq!(prev, 0b0100);
        assert_eq!(
            shmkit_atomic_vector_fetch_xor(vec, 2, 0b0111, &mut prev),
            Status::Ok
        );
        assert_eq!(prev, 0b0101);
        assert_eq!(shmkit_atomic_vector_load(vec, 2, &mut v), Status::Ok);
        assert_eq!(v, 0b0010);

        // compare_exchange: OK with the expected value found, MISMATCH with the other one.
        let mut found = 0;
        assert_eq!(
            shmkit_atomic_vector_compare_exchange(vec, 3, 0, 42, &mut found),
            Status::Ok
        );
        assert_eq!(found, 0);
        found = 0;
        assert_eq!(
            shmkit_atomic_vector_compare_exchange(vec, 3, 0, 43, &mut found),
            Status::Mismatch
        );
        assert_eq!(found, 42, "the value found");
        assert_eq!(shmkit_atomic_vector_load(vec, 3, &mut v), Status::Ok);
        assert_eq!(v, 42, "a mismatch stores nothing");
        assert_eq!(
            shmkit_atomic_vector_compare_exchange(vec, 3, 42, 44, null_mut()),
            Status::Ok
        );
        assert_eq!(shmkit_atomic_vector_load(vec, 3, &mut v), Status::Ok);
        assert_eq!(v, 44);

        // Bits: bit i is bit i % 64 of element i / 64; each returns the previous bit.
        assert_eq!(shmkit_atomic_vector_store(vec, 1, 0), Status::Ok);
        let mut bit = true;
        assert_eq!(shmkit_atomic_vector_set_bit(vec, 65, &mut bit), Status::Ok);
        assert!(!bit);
        assert_eq!(shmkit_atomic_vector_set_bit(vec, 65, &mut bit), Status::Ok);
        assert!(bit);
        assert_eq!(shmkit_atomic_vector_load(vec, 1, &mut v), Status::Ok);
        assert_eq!(v, 2);
        assert_eq!(shmkit_atomic_vector_flip_bit(vec, 64, &mut bit), Status::Ok);
        assert!(!bit);
        assert_eq!(shmkit_atomic_vector_get_bit(vec, 64, &mut bit), Status::Ok);
        assert!(bit);
        assert_eq!(
            shmkit_atomic_vector_clear_bit(vec, 65, &mut bit),
            Status::Ok
        );
        assert!(bit);
        assert_eq!(
            shmkit_atomic_vector_clear_bit(vec, 65, null_mut()),
            Status::Ok
        );
        assert_eq!(shmkit_atomic_vector_load(vec, 1, &mut v), Status::Ok);
        assert_eq!(v, 1);

        // Grows in place; new elements read 0.
        assert_eq!(shmkit_atomic_vector_expand(vec, 1000), Status::Ok);
        assert_eq!(shmkit_atomic_vector_len(vec, &mut len), Status::Ok);
        assert_eq!(len, 1000);
        assert_eq!(shmkit_atomic_vector_load(vec, 999, &mut v), Status::Ok);
        assert_eq!(v, 0);
        assert_eq!(shmkit_atomic_vector_load(vec, 3, &mut v), Status::Ok);
        assert_eq!(v, 44, "elements keep their values when the vector grows");
        assert_eq!(
            shmkit_atomic_vector_expand(vec, u64::MAX),
            Status::InvalidArgument
        );
        shmkit_atomic_vector_close(vec);
    }
    // Rust sees what C wrote.
    let store = shmkit::Store::open(name.0.to_str().unwrap()).unwrap();
    let v = store.open_atomic_vector("v").unwrap();
    assert_eq!(v.load_range(0, 4).unwrap(), vec![-5, 1, 0b0010, 44]);
}

#[test]
fn atomic_vector_indexes_past_the_end_are_index_out_of_range() {
    let name = Name::new("capi-vec-range");
    let store = store_of(&name);
    let vec = open_vector(store, c"v", 4);
    // SAFETY: a live vector handle; out-pointers valid.
    unsafe {
        let mut v = 99;
        let mut b = false;
        let mut len = 0;
        assert_eq!(shmkit_atomic_vector_len(vec, &mut len), Status::Ok);
        assert_eq!(
            shmkit_atomic_vector_load(vec, len, &mut v),
            Status::IndexOutOfRange
        );
        assert!(
            last_error().contains("index 4 out of range"),
            "{}",
            last_error()
        );
        assert_eq!(v, 99, "nothing written after an error");
        let mut found = 99;
        let cases: [(&str, Status); 12] = [
            ("store", shmkit_atomic_vector_store(vec, 4, 1)),
            ("swap", shmkit_atomic_vector_swap(vec, 4, 1, &mut v)),
            (
                "cas",
                shmkit_atomic_vector_compare_exchange(vec, u64::MAX, 0, 1, &mut found),
            ),
            ("add", shmkit_atomic_vector_fetch_add(vec, 4, 1, &mut v)),
            ("sub", shmkit_atomic_vector_fetch_sub(vec, 4, 1, &mut v)),
            ("and", shmkit_atomic_vector_fetch_and(vec, 4, 1, &mut v)),
            ("or", shmkit_atomic_vector_fetch_or(vec, 4, 1, &mut v)),
            ("xor", shmkit_atomic_vector_fetch_xor(vec, 4, 1, &mut v)),
            ("get_bit", shmkit_atomic_vector_get_bit(vec, 256, &mut b)),
            ("set_bit", shmkit_atomic_vector_set_bit(vec, 256, &mut b)),
            ("wait", shmkit_atomic_vector_wait(vec, 4, 0, 0, &mut b)),
            ("notify", shmkit_atomic_vector_notify(vec, 4)),
        ];
        for (what, s) in cases {
            assert_eq!(s, Status::IndexOutOfRange, "{what}");
        }
        assert_eq!(v, 99);
        assert_eq!(found, 99);
        assert_eq!(
            shmkit_atomic_vector_clear_bit(vec, 256, null_mut()),
            Status::IndexOutOfRange
        );
        assert!(
            last_error().contains("bit 256 out of range"),
            "{}",
            last_error()
        );
        assert_eq!(
            shmkit_atomic_vector_flip_bit(vec, 256, null_mut()),
            Status::IndexOutOfRange
        );
        // The last element and bit are in range; nothing above changed the vector.
        assert_eq!(shmkit_atomic_vector_get_bit(vec, 255, &mut b), Status::Ok);
        assert!(!b);
        let name = shmkit_status_name(Status::IndexOutOfRange as i32);
        assert_eq!(CStr::from_ptr(name), c"index_out_of_range");
        assert_eq!(CStr::from_ptr(shmkit_status_name(4)), c"mismatch");
        shmkit_atomic_vector_close(vec);
        shmkit_store_close(store);
    }
}

#[test]
fn atomic_vector_open_flags_kinds_and_null_pointers() {
    let name = Name::new("capi-vec-open");
    let store = store_of(&name);
    let garbage = std::ptr::dangling_mut::<shmkit_atomic_vector>;
    // SAFETY: a live store; valid names and out-pointers (NULL where a test says so);
    // handles closed once.
    unsafe {
        let mut vec = garbage();
        assert_eq!(
            shmkit_atomic_vector_open(
                store,
                c"v".as_ptr(),
                4,
                SHMKIT_VECTOR_OPEN_EXISTING,
                &mut vec
            ),
            Status::ObjectNotFound
        );
        assert!(vec.is_null(), "NULL after OBJECT_NOT_FOUND");
        vec = garbage();
        assert_eq!(
            shmkit_atomic_vector_open(store, c"v".as_ptr(), 4, 0x80, &mut vec),
            Status::InvalidArgument
        );
        assert!(
            last_error().contains("unknown vector flags 0x80"),
            "{}",
            last_error()
        );
        assert!(vec.is_null());
        vec = garbage();
        assert_eq!(
            shmkit_atomic_vector_open(null(), c"v".as_ptr(), 4, 0, &mut vec),
            Status::NullPointer
        );
        assert!(vec.is_null(), "NULL after a NULL store");
        assert_eq!(
            shmkit_atomic_vector_open(store, null(), 4, 0, &mut vec),
            Status::NullPointer
        );
        assert_eq!(
            shmkit_atomic_vector_open(store, c"v".as_ptr(), 4, 0, null_mut()),
            Status::NullPointer
        );
        vec = garbage();
        assert_eq!(
            shmkit_atomic_vector_open(store, c"v".as_ptr(), u64::MAX, 0, &mut vec),
            Status::InvalidArgument
        );
        assert!(vec.is_null());

        // Created with 4; opening with a larger length expands, a smaller one leaves it.
        let a = open_vector(store, c"v", 4);
        let mut b = null_mut();
        assert_eq!(
            shmkit_atomic_vector_open(store, c"v".as_ptr(), 2, SHMKIT_VECTOR_OPEN_EXISTING, &mut b),
            Status::Ok
        );
        let mut len = 0;
        assert_eq!(shmkit_atomic_vector_len(b, &mut len), Status::Ok);
        assert_eq!(len, 4);
        let c = open_vector(store, c"v", 20);
        assert_eq!(shmkit_atomic_vector_len(a, &mut len), Status::Ok);
        assert_eq!(len, 20, "every handle sees the new length");
        // Two handles, one element.
        assert_eq!(shmkit_atomic_vector_store(a, 19, 5), Status::Ok);
        let mut v = 0;
        assert_eq!(shmkit_atomic_vector_load(b, 19, &mut v), Status::Ok);
        assert_eq!(v, 5);

        // NULL handles and NULL required out-parameters.
        assert_eq!(
            shmkit_atomic_vector_load(null(), 0, &mut v),
            Status::NullPointer
        );
        assert_eq!(
            shmkit_atomic_vector_load(a, 0, null_mut()),
            Status::NullPointer
        );
        assert_eq!(shmkit_atomic_vector_len(a, null_mut()), Status::NullPointer);
        assert_eq!(
            shmkit_atomic_vector_get_bit(a, 0, null_mut()),
            Status::NullPointer
        );
        assert_eq!(
            shmkit_atomic_vector_store(null(), 0, 1),
            Status::NullPointer
        );
        assert_eq!(
            shmkit_atomic_vector_fetch_add(null(), 0, 1, &mut v),
            Status::NullPointer
        );
        assert_eq!(
            shmkit_atomic_vector_set_bit(null(), 0, null_mut()),
            Status::NullPointer
        );
        assert_eq!(
            shmkit_atomic_vector_wait(null(), 0, 0, 0, null_mut()),
            Status::NullPointer
        );
        assert_eq!(shmkit_atomic_vector_expand(null(), 1), Status::NullPointer);
        assert_eq!(shmkit_atomic_vector_notify(null(), 0), Status::NullPointer);
        shmkit_atomic_vector_close(null_mut());

        // A vector's name is not a map, and a map's name is not a vector.
        let mut map = null_mut();
        assert_eq!(
            shmkit_hash_map_open(store, c"v".as_ptr(), null(), &mut map),
            Status::WrongKind
        );
        let m = open_map(store, 0);
        vec = garbage();
        assert_eq!(
            shmkit_atomic_vector_open(store, c"m".as_ptr(), 4, 0, &mut vec),
            Status::WrongKind
        );
        assert!(vec.is_null());
        shmkit_hash_map_close(m);
        for h in [a, b, c] {
            shmkit_atomic_vector_close(h);
        }
        shmkit_store_close(store);
    }
}

/// A vector handle shared by threads (the handle is `Send + Sync`).
#[derive(Clone, Copy)]
struct SharedVec(*mut shmkit_atomic_vector);
// SAFETY: `shmkit_atomic_vector` is `Send + Sync` (checked at compile time in the library);
// the tests close it only after every thread that uses it has been joined.
unsafe impl Send for SharedVec {}

#[test]
fn atomic_vector_fetch_add_from_threads_loses_no_increment() {
    const THREADS: i64 = 4;
    const EACH: i64 = 5_000;
    let name = Name::new("capi-vec-threads");
    let store = store_of(&name);
    let vec = SharedVec(open_vector(store, c"v", 2));
    let threads: Vec<_> = (0..THREADS)
        .map(|_| {
            std::thread::spawn(move || {
                let vec = vec;
                for _ in 0..EACH {
                    // SAFETY: a live handle (closed after the join).
                    let s = unsafe { shmkit_atomic_vector_fetch_add(vec.0, 1, 1, null_mut()) };
                    assert_eq!(s, Status::Ok);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let mut total = 0;
    // SAFETY: a live handle, closed once; the threads are done.
    unsafe {
        assert_eq!(shmkit_atomic_vector_load(vec.0, 1, &mut total), Status::Ok);
        shmkit_atomic_vector_close(vec.0);
        shmkit_store_close(store);
    }
    assert_eq!(total, THREADS * EACH);
}

#[test]
fn atomic_vector_wait_times_out_returns_at_once_or_wakes_on_a_write() {
    let name = Name::new("capi-vec-wait");
    let store = store_of(&name);
    let vec = SharedVec(open_vector(store, c"v", 2));
    // SAFETY: a live handle; out-pointers valid.
    unsafe {
        let mut changed = true;
        assert_eq!(
            shmkit_atomic_vector_wait(vec.0, 0, 0, 0, &mut changed),
            Status::Ok
        );
        assert!(!changed, "a timeout of 0 only looks");
        assert_eq!(
            shmkit_atomic_vector_wait(vec.0, 0, 0, 20, &mut changed),
            Status::Ok
        );
        assert!(!changed, "timed out");
        assert_eq!(
            shmkit_atomic_vector_wait(vec.0, 0, 7, -1, &mut changed),
            Status::Ok
        );
        assert!(changed, "an element not holding the value returns at once");
    }
    // A writer through the core's own handle wakes a C waiter. The waiter keeps waiting
    // while the element still holds 0, so the writer may write before or during the wait.
    let writer = {
        let store = shmkit::Store::open(name.0.to_str().unwrap()).unwrap();
        std::thread::spawn(move || {
            let v = store.open_atomic_vector("v").unwrap();
            std::thread::sleep(std::time::Duration::from_millis(50));
            v.store(1, 3).unwrap();
        })
    };
    let mut changed = false;
    // SAFETY: as above. The 60 s limit is the watchdog: the writer stores long before.
    unsafe {
        assert_eq!(
            shmkit_atomic_vector_wait(vec.0, 1, 0, 60_000, &mut changed),
            Status::Ok
        );
    }
    writer.join().unwrap();
    assert!(changed, "woken by the write, not by the watchdog's timeout");
    let mut v = 0;
    // SAFETY: as above; closed once.
    unsafe {
        assert_eq!(shmkit_atomic_vector_load(vec.0, 1, &mut v), Status::Ok);
        shmkit_atomic_vector_close(vec.0);
        shmkit_store_close(store);
    }
    assert_eq!(v, 3);
}

#[test]
fn deque_push_pop_full_too_small_and_bad_input() {
    let name = Name::new("capi-deque");
    let store = store_of(&name);
    // SAFETY: every pointer is valid (or deliberately NULL) as each call's contract says.
    unsafe {
        let mut d = null_mut();
        assert_eq!(
            shmkit_deque_open(store, c"d".as_ptr(), 2, 0, &mut d),
            Status::Ok,
            "{}",
            last_error()
        );
        assert_eq!(
            shmkit_deque_push(d, SHMKIT_DEQUE_BACK, b"one".as_ptr(), 3, 0),
            Status::Ok
        );
        assert_eq!(
            shmkit_deque_push(d, SHMKIT_DEQUE_FRONT, b"zero".as_ptr(), 4, 0),
            Status::Ok
        );
        // Full: refused at once, and after a short wait.
        assert_eq!(
            shmkit_deque_push(d, SHMKIT_DEQUE_BACK, b"x".as_ptr(), 1, 0),
            Status::Full
        );
        assert_eq!(
            shmkit_deque_push(d, SHMKIT_DEQUE_BACK, b"x".as_ptr(), 1, 20),
            Status::Full
        );
        let mut n = 0u64;
        assert_eq!(shmkit_deque_len(d, &mut n), Status::Ok);
        assert_eq!(n, 2);
        // A length query, then a buffer too small: the item stays.
        let mut len = 0usize;
        assert_eq!(
            shmkit_deque_pop(d, SHMKIT_DEQUE_FRONT, 0, null_mut(), 0, &mut len),
            Status::BufferTooSmall
        );
        assert_eq!(len, 4);
        let mut buf = [0u8; 8];
        assert_eq!(
            shmkit_deque_pop(d, SHMKIT_DEQUE_FRONT, 0, buf.as_mut_ptr(), 3, &mut len),
            Status::BufferTooSmall
        );
        assert_eq!(
            shmkit_deque_pop(
                d,
                SHMKIT_DEQUE_FRONT,
                0,
                buf.as_mut_ptr(),
                buf.len(),
                &mut len
            ),
            Status::Ok
        );
        assert_eq!(&buf[..len], b"zero");
        assert_eq!(
            shmkit_deque_pop(
                d,
                SHMKIT_DEQUE_BACK,
                -1,
                buf.as_mut_ptr(),
                buf.len(),
                &mut len
            ),
            Status::Ok
        );
        assert_eq!(&buf[..len], b"one");
        // Empty: not found at once and after a timeout.
        assert_eq!(
            shmkit_deque_pop(
                d,
                SHMKIT_DEQUE_BACK,
                0,
                buf.as_mut_ptr(),
                buf.len(),
                &mut len
            ),
            Status::NotFound
        );
        assert_eq!(
            shmkit_deque_pop(
                d,
                SHMKIT_DEQUE_BACK,
                10,
                buf.as_mut_ptr(),
                buf.len(),
                &mut len
            ),
            Status::NotFound
        );
        // Bad input.
        assert_eq!(
            shmkit_deque_push(d, 9, b"x".as_ptr(), 1, 0),
            Status::InvalidArgument
        );
        assert_eq!(
            shmkit_deque_push(null(), 0, b"x".as_ptr(), 1, 0),
            Status::NullPointer
        );
        assert_eq!(shmkit_deque_push(d, 0, null(), 1, 0), Status::NullPointer);
        assert_eq!(
            shmkit_deque_pop(d, 0, 0, buf.as_mut_ptr(), buf.len(), null_mut()),
            Status::NullPointer
        );
        // The length out-parameter inside the buffer.
        let mut big = [0usize; 4];
        assert_eq!(
            shmkit_deque_pop(
                d,
                0,
                0,
                big.as_mut_ptr().cast(),
                32,
                big.as_mut_ptr().add(1)
            ),
            Status::InvalidArgument
        );
        assert_eq!(shmkit_deque_len(d, null_mut()), Status::NullPointer);
        let mut other = null_mut();
        assert_eq!(
            shmkit_deque_open(store, c"d".as_ptr(), 0, 0x80, &mut other),
            Status::InvalidArgument
        );
        assert!(other.is_null());
        assert_eq!(
            shmkit_deque_open(
                store,
                c"missing".as_ptr(),
                0,
                SHMKIT_DEQUE_OPEN_EXISTING,
                &mut other
            ),
            Status::ObjectNotFound
        );
        let map = open_map(store, 0);
        assert_eq!(
            shmkit_deque_open(store, c"m".as_ptr(), 0, 0, &mut other),
            Status::WrongKind
        );
        shmkit_hash_map_close(map);
        let mut removed = 7u64;
        assert_eq!(shmkit_deque_clear(d, &mut removed), Status::Ok);
        assert_eq!(removed, 0);
        assert_eq!(shmkit_deque_clear(d, null_mut()), Status::Ok);
        shmkit_deque_close(d);
        shmkit_deque_close(null_mut());
        shmkit_store_close(store);
    }
}

#[test]
fn priority_queue_push_pop_order_buffers_and_bad_input() {
    let name = Name::new("capi-pq");
    let store = store_of(&name);
    // SAFETY: every pointer is valid (or deliberately NULL) as each call's contract says.
    unsafe {
        let mut q = null_mut();
        assert_eq!(
            shmkit_priority_queue_open(store, c"q".as_ptr(), 2, 0, &mut q),
            Status::Ok,
            "{}",
            last_error()
        );
        assert_eq!(
            shmkit_priority_queue_push(q, b"b".as_ptr(), 1, b"2".as_ptr(), 1, 0),
            Status::Ok
        );
        assert_eq!(
            shmkit_priority_queue_push(q, b"a".as_ptr(), 1, b"1".as_ptr(), 1, 0),
            Status::Ok
        );
        assert_eq!(
            shmkit_priority_queue_push(q, b"c".as_ptr(), 1, null(), 0, 0),
            Status::Full
        );
        assert_eq!(
            shmkit_priority_queue_push(q, b"c".as_ptr(), 1, null(), 0, 20),
            Status::Full
        );
        let mut n = 0u64;
        assert_eq!(shmkit_priority_queue_len(q, &mut n), Status::Ok);
        assert_eq!(n, 2);
        let (mut k, mut v) = ([0u8; 4], [0u8; 4]);
        let (mut kl, mut vl) = (0usize, 0usize);
        assert_eq!(
            shmkit_priority_queue_pop(q, 0, null_mut(), 0, &mut kl, null_mut(), 0, &mut vl),
            Status::BufferTooSmall
        );
        assert_eq!((kl, vl), (1, 1));
        assert_eq!(
            shmkit_priority_queue_pop(q, 0, k.as_mut_ptr(), 4, &mut kl, v.as_mut_ptr(), 4, &mut vl),
            Status::Ok
        );
        assert_eq!((&k[..kl], &v[..vl]), (&b"a"[..], &b"1"[..]));
        assert_eq!(
            shmkit_priority_queue_pop(
                q,
                -1,
                k.as_mut_ptr(),
                4,
                &mut kl,
                v.as_mut_ptr(),
                4,
                &mut vl
            ),
            Status::Ok
        );
        assert_eq!(&k[..kl], b"b");
        assert_eq!(
            shmkit_priority_queue_pop(
                q,
                10,
                k.as_mut_ptr(),
                4,
                &mut kl,
                v.as_mut_ptr(),
                4,
                &mut vl
            ),
            Status::NotFound
        );
        // Outputs that overlap each other, null pointers, unknown flags, another kind.
        assert_eq!(
            shmkit_priority_queue_pop(q, 0, k.as_mut_ptr(), 4, &mut kl, k.as_mut_ptr(), 4, &mut vl),
            Status::InvalidArgument
        );
        assert_eq!(
            shmkit_priority_queue_pop(
                q,
                0,
                k.as_mut_ptr(),
                4,
                null_mut(),
                v.as_mut_ptr(),
                4,
                &mut vl
            ),
            Status::NullPointer
        );
        assert_eq!(
            shmkit_priority_queue_push(null(), b"a".as_ptr(), 1, null(), 0, 0),
            Status::NullPointer
        );
        assert_eq!(
            shmkit_priority_queue_len(q, null_mut()),
            Status::NullPointer
        );
        let mut other = null_mut();
        assert_eq!(
            shmkit_priority_queue_open(store, c"q".as_ptr(), 0, 0x40, &mut other),
            Status::InvalidArgument
        );
        let map = open_map(store, 0);
        assert_eq!(
            shmkit_priority_queue_open(store, c"m".as_ptr(), 0, 0, &mut other),
            Status::WrongKind
        );
        assert!(other.is_null());
        shmkit_hash_map_close(map);
        let mut removed = 9u64;
        assert_eq!(shmkit_priority_queue_clear(q, &mut removed), Status::Ok);
        assert_eq!(removed, 0);
        shmkit_priority_queue_close(q);
        shmkit_priority_queue_close(null_mut());
        shmkit_store_close(store);
    }
}

fn open_ordered(store: *const shmkit_store, name: &CStr) -> *mut shmkit_ordered_map {
    let mut map = null_mut();
    // SAFETY: a live store, a valid name and out-pointer.
    let s = unsafe { shmkit_ordered_map_open(store, name.as_ptr(), 0, &mut map) };
    assert_eq!(s, Status::Ok, "{}", last_error());
    map
}

/// An entry as the calls around a key and the cursor copy it: the status, and the key and
/// value when it is `Ok` (their lengths otherwise).
type Copied = (Status, Vec<u8>, Vec<u8>);

/// Calls `f` with buffers of `cap` bytes each and returns what it copied.
fn copied(
    cap: usize,
    f: impl FnOnce(*mut u8, usize, *mut usize, *mut u8, usize, *mut usize) -> Status,
) -> Copied {
    let (mut k, mut v) = (vec![0u8; cap], vec![0u8; cap]);
    let (mut klen, mut vlen) = (usize::MAX, usize::MAX);
    let s = f(
        k.as_mut_ptr(),
        cap,
        &mut klen,
        v.as_mut_ptr(),
        cap,
        &mut vlen,
    );
    match s {
        Status::Ok => (s, k[..klen].to_vec(), v[..vlen].to_vec()),
        _ => (s, vec![0; klen.min(64)], vec![0; vlen.min(64)]),
    }
}

fn ok(k: &[u8], v: &[u8]) -> Copied {
    (Status::Ok, k.to_vec(), v.to_vec())
}

/// The next entry of a cursor, with buffers of `cap` bytes.
fn next_of(it: *const shmkit_ordered_map_iter, cap: usize) -> Copied {
    // SAFETY: a live cursor; buffers and out-pointers valid (from `copied`).
    copied(cap, |kb, kc, kl, vb, vc, vl| unsafe {
        shmkit_ordered_map_iter_next(it, kb, kc, kl, vb, vc, vl)
    })
}

/// Every entry a cursor over `[start, end]` (bounds as the C call takes them) gives.
fn scan(
    map: *const shmkit_ordered_map,
    start: Option<(&[u8], bool)>,
    end: Option<(&[u8], bool)>,
    reverse: bool,
) -> Vec<Vec<u8>> {
    let parts = |b: Option<(&[u8], bool)>| match b {
        Some((k, inclusive)) => (k.as_ptr(), k.len(), inclusive),
        None => (null(), 0, false),
    };
    let ((sp, sl, si), (ep, el, ei)) = (parts(start), parts(end));
    let mut it = null_mut();
    // SAFETY: a live map; bounds valid for their lengths (or NULL with 0); out-pointer valid.
    let s = unsafe { shmkit_ordered_map_iter_open(map, sp, sl, si, ep, el, ei, reverse, &mut it) };
    assert_eq!(s, Status::Ok, "{}", last_error());
    let mut keys = Vec::new();
    loop {
        let (s, k, _) = next_of(it, 64);
        match s {
            Status::Ok => keys.push(k),
            Status::End => break,
            s => panic!("{s:?}: {}", last_error()),
        }
    }
    // SAFETY: freed once.
    unsafe { shmkit_ordered_map_iter_close(it) };
    keys
}

#[test]
fn ordered_map_writes_reads_counts_and_neighbours() {
    let name = Name::new("capi-om");
    let store = store_of(&name);
    let map = open_ordered(store, c"om");
    // SAFETY: every pointer is valid (or deliberately NULL) as each call's contract says.
    unsafe {
        for k in [&b"b"[..], b"d", b"a", b"c", b""] {
            let v = [k, b"!"].concat();
            assert_eq!(
                shmkit_ordered_map_set(map, k.as_ptr(), k.len(), v.as_ptr(), v.len()),
                Status::Ok
            );
        }
        let mut n = 0u64;
        assert_eq!(shmkit_ordered_map_len(map, &mut n), Status::Ok);
        assert_eq!(n, 5);

        // get: found, absent, a length query, a buffer too small (nothing copied).
        let mut buf = [7u8; 8];
        let mut len = 0usize;
        assert_eq!(
            shmkit_ordered_map_get(map, b"c".as_ptr(), 1, buf.as_mut_ptr(), 8, &mut len),
            Status::Ok
        );
        assert_eq!(&buf[..len], b"c!");
        len = 99;
        assert_eq!(
            shmkit_ordered_map_get(map, b"zz".as_ptr(), 2, buf.as_mut_ptr(), 8, &mut len),
            Status::NotFound
        );
        assert_eq!(len, 99, "an absent key writes nothing");
        assert_eq!(
            shmkit_ordered_map_get(map, b"d".as_ptr(), 1, null_mut(), 0, &mut len),
            Status::BufferTooSmall
        );
        assert_eq!(len, 2);
        let mut small = [7u8; 1];
        assert_eq!(
            shmkit_ordered_map_get(map, b"d".as_ptr(), 1, small.as_mut_ptr(), 1, &mut len),
            Status::BufferTooSmall
        );
        assert_eq!((len, small), (2, [7]));
        // The empty key is a key (NULL with length 0).
        assert_eq!(
            shmkit_ordered_map_get(map, null(), 0, buf.as_mut_ptr(), 8, &mut len),
            Status::Ok
        );
        assert_eq!(&buf[..len], b"!");

        // Conditional writes and removal.
        let mut done = false;
        assert_eq!(
            shmkit_ordered_map_insert_if_absent(map, b"a".as_ptr(), 1, b"x".as_ptr(), 1, &mut done),
            Status::Ok
        );
        assert!(!done);
        assert_eq!(
            shmkit_ordered_map_insert_if_absent(
                map,
                b"e".as_ptr(),
                1,
                b"e!".as_ptr(),
                2,
                &mut done
            ),
            Status::Ok
        );
        assert!(done);
        assert_eq!(
            shmkit_ordered_map_compare_and_set(
                map,
                b"e".as_ptr(),
                1,
                b"no".as_ptr(),
                2,
                b"E".as_ptr(),
                1,
                &mut done
            ),
            Status::Ok
        );
        assert!(!done, "another value: nothing changes");
        assert_eq!(
            shmkit_ordered_map_compare_and_set(
                map,
                b"e".as_ptr(),
                1,
                b"e!".as_ptr(),
                2,
                null(),
                0,
                &mut done
            ),
            Status::Ok
        );
        assert!(done, "the expected value: removed");
        assert_eq!(
            shmkit_ordered_map_compare_and_set(
                map,
                b"f".as_ptr(),
                1,
                null(),
                0,
                b"f!".as_ptr(),
                2,
                null_mut()
            ),
            Status::Ok
        );
        assert_eq!(
            shmkit_ordered_map_remove(map, b"f".as_ptr(), 1, &mut done),
            Status::Ok
        );
        assert!(done);
        assert_eq!(
            shmkit_ordered_map_remove(map, b"f".as_ptr(), 1, &mut done),
            Status::Ok
        );
        assert!(!done);

        // Counts: unbounded, inclusive and exclusive bounds, the empty key as a bound, a
        // start after the end.
        let count = |s: Option<(&[u8], bool)>, e: Option<(&[u8], bool)>| {
            let parts = |b: Option<(&[u8], bool)>| match b {
                Some((k, inclusive)) => (k.as_ptr(), k.len(), inclusive),
                None => (null(), 0, false),
            };
            let ((sp, sl, si), (ep, el, ei)) = (parts(s), parts(e));
            let (mut c, mut b) = (u64::MAX, u64::MAX);
            let st = shmkit_ordered_map_count(map, sp, sl, si, ep, el, ei, &mut c, &mut b);
            assert_eq!(st, Status::Ok, "{}", last_error());
            (c, b)
        };
        // Keys "", a, b, c, d with values key + "!": 1 + 3*4 + 1... bytes of each entry.
        assert_eq!(count(None, None), (5, 1 + 4 * 3));
        assert_eq!(count(Some((b"b", true)), Some((b"d", true))), (3, 9));
        assert_eq!(count(Some((b"b", false)), Some((b"d", false))), (1, 3));
        assert_eq!(count(Some((b"", false)), None), (4, 12));
        assert_eq!(count(Some((b"", true)), Some((b"", true))), (1, 1));
        assert_eq!(count(Some((b"d", true)), Some((b"b", true))), (0, 0));
        let mut c = 0u64;
        assert_eq!(
            shmkit_ordered_map_count(map, null(), 0, false, null(), 0, false, &mut c, null_mut()),
            Status::Ok
        );
        assert_eq!(c, 5);

        // Around a key: present and absent keys, the ends, nothing there.
        let around = |f: unsafe extern "C" fn(
            *const shmkit_ordered_map,
            *const u8,
            usize,
            *mut u8,
            usize,
            *mut usize,
            *mut u8,
            usize,
            *mut usize,
        ) -> Status,
                      key: &[u8],
                      cap: usize| {
            copied(cap, |kb, kc, kl, vb, vc, vl| {
                f(map, key.as_ptr(), key.len(), kb, kc, kl, vb, vc, vl)
            })
        };
        assert_eq!(around(shmkit_ordered_map_floor, b"bb", 8), ok(b"b", b"b!"));
        assert_eq!(around(shmkit_ordered_map_floor, b"b", 8), ok(b"b", b"b!"));
        assert_eq!(around(shmkit_ordered_map_lower, b"b", 8), ok(b"a", b"a!"));
        assert_eq!(
            around(shmkit_ordered_map_ceiling, b"bb", 8),
            ok(b"c", b"c!")
        );
        assert_eq!(around(shmkit_ordered_map_higher, b"c", 8), ok(b"d", b"d!"));
        assert_eq!(around(shmkit_ordered_map_lower, b"", 8).0, Status::NotFound);
        assert_eq!(
            around(shmkit_ordered_map_higher, b"d", 8).0,
            Status::NotFound
        );
        // Too small: both lengths, nothing copied.
        let (s, k, v) = around(shmkit_ordered_map_ceiling, b"bb", 1);
        assert_eq!((s, k.len(), v.len()), (Status::BufferTooSmall, 1, 2));
        let first = copied(8, |kb, kc, kl, vb, vc, vl| {
            shmkit_ordered_map_first(map, kb, kc, kl, vb, vc, vl)
        });
        assert_eq!(first, ok(b"", b"!"));
        let last = copied(8, |kb, kc, kl, vb, vc, vl| {
            shmkit_ordered_map_last(map, kb, kc, kl, vb, vc, vl)
        });
        assert_eq!(last, ok(b"d", b"d!"));

        assert_eq!(shmkit_ordered_map_clear(map), Status::Ok);
        assert_eq!(shmkit_ordered_map_len(map, &mut n), Status::Ok);
        assert_eq!(n, 0);
        let first = copied(8, |kb, kc, kl, vb, vc, vl| {
            shmkit_ordered_map_first(map, kb, kc, kl, vb, vc, vl)
        });
        assert_eq!(first.0, Status::NotFound);
        shmkit_ordered_map_close(map);
        shmkit_store_close(store);
    }
    // What C wrote is the core's map.
    let store = shmkit::Store::open(name.0.to_str().unwrap()).unwrap();
    assert!(store.open_ordered_map("om").unwrap().is_empty());
}

#[test]
fn ordered_map_cursors_scan_ranges_both_ways_and_keep_what_does_not_fit() {
    let name = Name::new("capi-om-iter");
    let store = store_of(&name);
    let map = open_ordered(store, c"om");
    let keys: Vec<Vec<u8>> = (0u8..200).map(|i| vec![b'k', i]).collect();
    // SAFETY: every pointer is valid (or deliberately NULL) as each call's contract says.
    unsafe {
        // Set in a scrambled order.
        for i in (0..200).map(|i| (i * 7) % 200) {
            let k = &keys[i];
            assert_eq!(
                shmkit_ordered_map_set(map, k.as_ptr(), 2, k.as_ptr(), 2),
                Status::Ok
            );
        }
        assert_eq!(scan(map, None, None, false), keys);
        let mut reversed = keys.clone();
        reversed.reverse();
        assert_eq!(scan(map, None, None, true), reversed);
        let (lo, hi) = (&keys[10][..], &keys[20][..]);
        assert_eq!(
            scan(map, Some((lo, true)), Some((hi, false)), false),
            keys[10..20]
        );
        assert_eq!(
            scan(map, Some((lo, false)), Some((hi, true)), true),
            keys[11..=20].iter().rev().cloned().collect::<Vec<_>>()
        );
        assert!(scan(map, Some((hi, true)), Some((lo, true)), false).is_empty());

        // A buffer too small keeps the entry for the next call; the bounds are copied at
        // open, so their buffer may change.
        let mut start = keys[100].clone();
        let mut it = null_mut();
        assert_eq!(
            shmkit_ordered_map_iter_open(
                map,
                start.as_ptr(),
                2,
                true,
                null(),
                0,
                false,
                false,
                &mut it
            ),
            Status::Ok
        );
        start.fill(0);
        let (s, k, v) = next_of(it, 1);
        assert_eq!((s, k.len(), v.len()), (Status::BufferTooSmall, 2, 2));
        let (s, k, v) = next_of(it, 0);
        assert_eq!((s, k.len(), v.len()), (Status::BufferTooSmall, 2, 2));
        assert_eq!(next_of(it, 2), ok(&keys[100], &keys[100]));
        // Writes during the scan: an entry present throughout comes once, in order.
        let removed = &keys[150];
        assert_eq!(
            shmkit_ordered_map_remove(map, removed.as_ptr(), 2, null_mut()),
            Status::Ok
        );
        let mut seen = Vec::new();
        loop {
            match next_of(it, 8) {
                (Status::Ok, k, _) => seen.push(k),
                (Status::End, ..) => break,
                (s, ..) => panic!("{s:?}: {}", last_error()),
            }
        }
        let want: Vec<Vec<u8>> = keys[101..]
            .iter()
            .filter(|k| *k != removed)
            .cloned()
            .collect();
        assert_eq!(seen, want);
        assert_eq!(next_of(it, 8).0, Status::End, "the end stays the end");
        shmkit_ordered_map_iter_close(it);
        // The cursor keeps its map: close the map first.
        assert_eq!(
            shmkit_ordered_map_iter_open(map, null(), 0, false, null(), 0, false, true, &mut it),
            Status::Ok
        );
        shmkit_ordered_map_close(map);
        assert_eq!(next_of(it, 8), ok(&keys[199], &keys[199]));
        shmkit_ordered_map_iter_close(it);
        shmkit_ordered_map_iter_close(null_mut());
        shmkit_ordered_map_close(null_mut());
        shmkit_store_close(store);
    }
}

#[test]
fn ordered_map_bad_input_is_an_error_code() {
    let name = Name::new("capi-om-bad");
    let store = store_of(&name);
    let map = open_ordered(store, c"om");
    let long = vec![b'x'; 65_536];
    let mut buf = [0u8; 16];
    let (mut len, mut len2) = (0usize, 0usize);
    let mut n = 0u64;
    // SAFETY: every pointer is valid (or deliberately NULL, or a length deliberately paired
    // with a NULL pointer) as each call's contract says.
    unsafe {
        // NULL handles.
        assert_eq!(
            shmkit_ordered_map_set(null(), b"k".as_ptr(), 1, b"v".as_ptr(), 1),
            Status::NullPointer
        );
        assert_eq!(shmkit_ordered_map_len(null(), &mut n), Status::NullPointer);
        assert_eq!(shmkit_ordered_map_clear(null()), Status::NullPointer);
        assert_eq!(
            shmkit_ordered_map_get(null(), b"k".as_ptr(), 1, buf.as_mut_ptr(), 16, &mut len),
            Status::NullPointer
        );
        assert_eq!(next_of(null(), 8).0, Status::NullPointer);
        let mut it = null_mut();
        assert_eq!(
            shmkit_ordered_map_iter_open(
                null(),
                null(),
                0,
                false,
                null(),
                0,
                false,
                false,
                &mut it
            ),
            Status::NullPointer
        );
        assert!(it.is_null());
        // A NULL key, value or bound with a nonzero length; NULL out-parameters.
        assert_eq!(
            shmkit_ordered_map_set(map, null(), 3, b"v".as_ptr(), 1),
            Status::NullPointer
        );
        assert_eq!(
            shmkit_ordered_map_set(map, b"k".as_ptr(), 1, null(), 1),
            Status::NullPointer
        );
        assert_eq!(
            shmkit_ordered_map_get(map, null(), 2, buf.as_mut_ptr(), 16, &mut len),
            Status::NullPointer
        );
        assert_eq!(
            shmkit_ordered_map_get(map, b"k".as_ptr(), 1, null_mut(), 4, &mut len),
            Status::NullPointer
        );
        assert_eq!(
            shmkit_ordered_map_get(map, b"k".as_ptr(), 1, buf.as_mut_ptr(), 16, null_mut()),
            Status::NullPointer
        );
        assert_eq!(
            shmkit_ordered_map_count(map, null(), 1, true, null(), 0, false, &mut n, null_mut()),
            Status::NullPointer
        );
        assert!(last_error().contains("unbounded"), "{}", last_error());
        assert_eq!(
            shmkit_ordered_map_count(
                map,
                null(),
                0,
                true,
                null(),
                0,
                false,
                null_mut(),
                null_mut()
            ),
            Status::NullPointer
        );
        assert_eq!(
            shmkit_ordered_map_iter_open(map, null(), 0, false, null(), 5, false, false, &mut it),
            Status::NullPointer
        );
        assert!(it.is_null());
        assert_eq!(shmkit_ordered_map_len(map, null_mut()), Status::NullPointer);
        // Oversized keys and bounds.
        assert_eq!(
            shmkit_ordered_map_set(map, long.as_ptr(), long.len(), b"v".as_ptr(), 1),
            Status::InvalidArgument
        );
        assert!(last_error().contains("65535"), "{}", last_error());
        assert_eq!(
            shmkit_ordered_map_get(
                map,
                long.as_ptr(),
                long.len(),
                buf.as_mut_ptr(),
                16,
                &mut len
            ),
            Status::InvalidArgument
        );
        assert_eq!(
            shmkit_ordered_map_count(
                map,
                null(),
                0,
                false,
                long.as_ptr(),
                long.len(),
                false,
                &mut n,
                null_mut()
            ),
            Status::InvalidArgument
        );
        assert_eq!(
            shmkit_ordered_map_iter_open(
                map,
                long.as_ptr(),
                long.len(),
                true,
                null(),
                0,
                false,
                false,
                &mut it
            ),
            Status::InvalidArgument
        );
        assert!(it.is_null());
        assert_eq!(
            shmkit_ordered_map_floor(
                map,
                long.as_ptr(),
                long.len(),
                buf.as_mut_ptr(),
                8,
                &mut len,
                buf[8..].as_mut_ptr(),
                8,
                &mut len2
            ),
            Status::InvalidArgument
        );
        // Outputs overlapping inputs or each other.
        buf[0] = b'k';
        assert_eq!(
            shmkit_ordered_map_get(map, buf.as_ptr(), 1, buf.as_mut_ptr(), 16, &mut len),
            Status::InvalidArgument
        );
        assert_eq!(
            shmkit_ordered_map_first(
                map,
                buf.as_mut_ptr(),
                8,
                &mut len,
                buf[4..].as_mut_ptr(),
                8,
                &mut len2
            ),
            Status::InvalidArgument
        );
        assert_eq!(
            shmkit_ordered_map_first(
                map,
                buf.as_mut_ptr(),
                8,
                &mut len,
                buf[8..].as_mut_ptr(),
                8,
                &mut len
            ),
            Status::InvalidArgument
        );
        // Names and flags: the wrong kind both ways, a missing map, unknown flags.
        let mut hm = null_mut();
        assert_eq!(
            shmkit_hash_map_open(store, c"om".as_ptr(), null(), &mut hm),
            Status::WrongKind
        );
        assert_eq!(
            shmkit_hash_map_open(store, c"hm".as_ptr(), null(), &mut hm),
            Status::Ok
        );
        let mut om = null_mut();
        assert_eq!(
            shmkit_ordered_map_open(store, c"hm".as_ptr(), 0, &mut om),
            Status::WrongKind,
            "{}",
            last_error()
        );
        assert!(om.is_null());
        assert_eq!(
            shmkit_ordered_map_open(
                store,
                c"missing".as_ptr(),
                SHMKIT_ORDERED_MAP_OPEN_EXISTING,
                &mut om
            ),
            Status::ObjectNotFound
        );
        assert!(om.is_null());
        assert_eq!(
            shmkit_ordered_map_open(store, c"om".as_ptr(), 4, &mut om),
            Status::InvalidArgument
        );
        assert_eq!(
            shmkit_ordered_map_open(store, null(), 0, &mut om),
            Status::NullPointer
        );
        assert_eq!(
            shmkit_ordered_map_open(null(), c"om".as_ptr(), 0, &mut om),
            Status::NullPointer
        );
        assert_eq!(
            shmkit_ordered_map_open(
                store,
                c"om".as_ptr(),
                SHMKIT_ORDERED_MAP_OPEN_EXISTING,
                null_mut()
            ),
            Status::NullPointer
        );
        assert_eq!(
            shmkit_ordered_map_open(
                store,
                c"om".as_ptr(),
                SHMKIT_ORDERED_MAP_OPEN_EXISTING,
                &mut om
            ),
            Status::Ok
        );
        // Nothing above wrote anything.
        assert_eq!(shmkit_ordered_map_len(om, &mut n), Status::Ok);
        assert_eq!(n, 0);
        shmkit_ordered_map_close(om);
        shmkit_hash_map_close(hm);
        shmkit_ordered_map_close(map);
        shmkit_store_close(store);
    }
}

/// A key written with the C encoders: `f` calls them on a buffer of `cap` bytes; returns
/// the last status and the bytes (or the length needed).
fn c_key(
    cap: usize,
    f: impl FnOnce(*mut u8, usize, *mut usize) -> Status,
) -> (Status, Vec<u8>, usize) {
    let mut buf = vec![0u8; cap];
    let mut len = 0usize;
    let s = f(buf.as_mut_ptr(), cap, &mut len);
    buf.truncate(len.min(cap));
    (s, buf, len)
}

/// ("user", i) with the C encoders, every status checked.
fn user_key(cap: usize, i: i64) -> (Status, Vec<u8>, usize) {
    c_key(cap, |b, c, l| {
        // SAFETY: a buffer of `c` bytes and a valid length.
        unsafe {
            let mut worst = Status::Ok;
            for s in [
                shmkit_ordered_key_begin_tuple(b, c, l),
                shmkit_ordered_key_encode_str(b, c, l, b"user".as_ptr(), 4),
                shmkit_ordered_key_encode_i64(b, c, l, i),
                shmkit_ordered_key_end_tuple(b, c, l),
            ] {
                if s != Status::Ok {
                    worst = s;
                }
            }
            worst
        }
    })
}

fn decode_key(key: &[u8]) -> (Status, Vec<shmkit_ordered_key_item>, Vec<u8>) {
    let mut items = vec![
        shmkit_ordered_key_item {
            kind: shmkit_ordered_key_type::Null,
            int64: 0,
            float64: 0.0,
            data: null(),
            len: 0,
        };
        8
    ];
    let mut payload = vec![0u8; 64];
    let (mut n, mut p) = (0usize, 0usize);
    // SAFETY: the key is valid for its length; the arrays for their capacities.
    let s = unsafe {
        shmkit_ordered_key_decode(
            key.as_ptr(),
            key.len(),
            items.as_mut_ptr(),
            items.len(),
            &mut n,
            payload.as_mut_ptr(),
            payload.len(),
            &mut p,
        )
    };
    if s == Status::Ok {
        items.truncate(n);
        // Payload views as offsets into the returned copy.
        payload.truncate(p);
    }
    (s, items, payload)
}

#[test]
fn ordered_keys_are_the_core_encoding_and_decode_into_items() {
    use shmkit::value::ordered::OrderedKey as K;
    let user = |i: i64| K::Tuple(vec![K::Str("user".into()), K::Int(i)]);
    for i in [-5, 0, 3, 10, i64::MIN, i64::MAX] {
        let (s, bytes, len) = user_key(64, i);
        assert_eq!(s, Status::Ok, "{}", last_error());
        assert_eq!(bytes, user(i).encode().unwrap(), "{i}");
        assert_eq!(len, bytes.len());
    }
    // Numbers keep their order across ints and floats; an integral float is the int.
    let one = |f: &dyn Fn(*mut u8, usize, *mut usize) -> Status| c_key(32, f).1;
    // SAFETY: the closures get buffers of `c` bytes and valid lengths; payloads are valid.
    let (neg, half, two_f, two_i) = unsafe {
        (
            one(&|b, c, l| shmkit_ordered_key_encode_i64(b, c, l, -1)),
            one(&|b, c, l| shmkit_ordered_key_encode_f64(b, c, l, 0.5)),
            one(&|b, c, l| shmkit_ordered_key_encode_f64(b, c, l, 2.0)),
            one(&|b, c, l| shmkit_ordered_key_encode_i64(b, c, l, 2)),
        )
    };
    assert!(neg < half && half < two_i);
    assert_eq!(two_f, two_i);
    // SAFETY: as above.
    let (null_k, bytes_k, big_k) = unsafe {
        (
            one(&|b, c, l| shmkit_ordered_key_encode_null(b, c, l)),
            one(&|b, c, l| shmkit_ordered_key_encode_bytes(b, c, l, b"a\0b".as_ptr(), 3)),
            // 2^64 as two's complement little-endian.
            one(&|b, c, l| {
                shmkit_ordered_key_encode_big_int(b, c, l, [0, 0, 0, 0, 0, 0, 0, 0, 1].as_ptr(), 9)
            }),
        )
    };
    assert_eq!(null_k, K::Null.encode().unwrap());
    assert_eq!(bytes_k, K::Bytes(b"a\0b".to_vec()).encode().unwrap());
    assert_eq!(
        big_k,
        K::BigInt(vec![0, 0, 0, 0, 0, 0, 0, 0, 1]).encode().unwrap()
    );

    // Too small: every call advances the length, nothing is copied past the first miss.
    let (s, bytes, len) = user_key(3, 7);
    let whole = user(7).encode().unwrap();
    assert_eq!((s, len), (Status::BufferTooSmall, whole.len()));
    assert_eq!(
        bytes,
        [whole[0], 0, 0],
        "the element that fitted; the rest untouched"
    );
    let (s, _, len) = user_key(0, 7);
    assert_eq!((s, len), (Status::BufferTooSmall, whole.len()));

    // Decoding: items in order, payloads in the caller's buffer.
    let (s, items, payload) = decode_key(&whole);
    assert_eq!(s, Status::Ok, "{}", last_error());
    assert_eq!(items.len(), 3);
    assert_eq!(
        (items[0].kind, items[0].len),
        (shmkit_ordered_key_type::Tuple, 2)
    );
    assert_eq!(
        (items[1].kind, items[1].len),
        (shmkit_ordered_key_type::Str, 4)
    );
    assert_eq!(payload, b"user");
    assert_eq!(
        (items[2].kind, items[2].int64),
        (shmkit_ordered_key_type::Int, 7)
    );
    assert!(items[2].data.is_null());
    let nested = K::Tuple(vec![
        K::Float(2.5),
        K::Tuple(vec![K::Bytes(b"\0".to_vec()), K::Null]),
        K::BigInt(vec![0, 0, 0, 0, 0, 0, 0, 0, 1]),
    ])
    .encode()
    .unwrap();
    let (s, items, payload) = decode_key(&nested);
    assert_eq!(s, Status::Ok);
    let kinds: Vec<_> = items.iter().map(|i| (i.kind, i.len)).collect();
    use shmkit_ordered_key_type as T;
    assert_eq!(
        kinds,
        [
            (T::Tuple, 3),
            (T::Float, 0),
            (T::Tuple, 2),
            (T::Bytes, 1),
            (T::Null, 0),
            (T::BigInt, 9)
        ]
    );
    assert_eq!(items[1].float64, 2.5);
    assert_eq!(payload, [&[0u8][..], &[0, 0, 0, 0, 0, 0, 0, 0, 1]].concat());
    // A too-small item array or payload buffer: both counts, nothing else.
    let (mut n, mut p) = (0usize, 0usize);
    // SAFETY: the key is valid; NULL arrays with 0 ask for the counts.
    let s = unsafe {
        shmkit_ordered_key_decode(
            nested.as_ptr(),
            nested.len(),
            null_mut(),
            0,
            &mut n,
            null_mut(),
            0,
            &mut p,
        )
    };
    assert_eq!((s, n, p), (Status::BufferTooSmall, 6, 10));
    // Bytes that are not one key.
    for bad in [
        &whole[..whole.len() - 1],
        &[whole.clone(), vec![0]].concat()[..],
        b"",
        b"\xff",
    ] {
        assert_eq!(decode_key(bad).0, Status::InvalidValue, "{bad:?}");
    }

    // Bad input: text that is not UTF-8, NULL pointers, an int too large, overlaps.
    let mut buf = [0u8; 16];
    let mut len = 0usize;
    // SAFETY: every pointer is valid (or deliberately NULL) as each call's contract says.
    unsafe {
        assert_eq!(
            shmkit_ordered_key_encode_str(buf.as_mut_ptr(), 16, &mut len, b"\xff".as_ptr(), 1),
            Status::InvalidArgument
        );
        assert_eq!(len, 0, "nothing appended");
        assert_eq!(
            shmkit_ordered_key_encode_str(buf.as_mut_ptr(), 16, &mut len, null(), 2),
            Status::NullPointer
        );
        assert_eq!(
            shmkit_ordered_key_encode_i64(buf.as_mut_ptr(), 16, null_mut(), 1),
            Status::NullPointer
        );
        assert_eq!(
            shmkit_ordered_key_encode_i64(null_mut(), 16, &mut len, 1),
            Status::NullPointer
        );
        let huge = vec![0xffu8; (1 << 17) + 1];
        let mut huge_pos = huge.clone();
        *huge_pos.last_mut().unwrap() = 0x7f;
        assert_eq!(
            shmkit_ordered_key_encode_big_int(
                buf.as_mut_ptr(),
                16,
                &mut len,
                huge_pos.as_ptr(),
                huge_pos.len()
            ),
            Status::Overflow
        );
        assert_eq!(len, 0);
        buf[..4].copy_from_slice(b"user");
        assert_eq!(
            shmkit_ordered_key_encode_str(buf.as_mut_ptr(), 16, &mut len, buf.as_ptr(), 4),
            Status::InvalidArgument
        );
        let len_in_buf = buf.as_mut_ptr().cast::<usize>();
        assert_eq!(
            shmkit_ordered_key_encode_null(buf.as_mut_ptr(), 16, len_in_buf),
            Status::InvalidArgument,
            "the length inside the buffer"
        );
        let mut items = [shmkit_ordered_key_item {
            kind: T::Null,
            int64: 0,
            float64: 0.0,
            data: null(),
            len: 0,
        }; 4];
        let (mut n, mut p) = (0usize, 0usize);
        assert_eq!(
            shmkit_ordered_key_decode(
                whole.as_ptr(),
                whole.len(),
                items.as_mut_ptr(),
                4,
                &mut n,
                items.as_mut_ptr().cast(),
                16,
                &mut p
            ),
            Status::InvalidArgument,
            "the payload buffer over the item array"
        );
    }
}

#[test]
fn a_tuple_prefix_and_its_upper_bound_count_exactly_the_tuples_extending_it() {
    let name = Name::new("capi-om-prefix");
    let store = store_of(&name);
    let map = open_ordered(store, c"om");
    use shmkit::value::ordered::OrderedKey as K;
    let put = |k: K| {
        let k = k.encode().unwrap();
        // SAFETY: a live map; the key valid for its length.
        let s = unsafe { shmkit_ordered_map_set(map, k.as_ptr(), k.len(), null(), 0) };
        assert_eq!(s, Status::Ok);
    };
    for i in [-5, 3, 10] {
        put(K::Tuple(vec![K::Str("user".into()), K::Int(i)]));
    }
    put(K::Tuple(vec![K::Str("user".into())]));
    put(K::Tuple(vec![K::Str("user\0x".into()), K::Int(1)]));
    put(K::Tuple(vec![K::Str("users".into()), K::Int(1)]));
    put(K::Str("user".into()));
    // The prefix ("user", ...: begin_tuple and "user"; the bound: the same and 0xff.
    let prefix = |b: *mut u8, c: usize, l: *mut usize| {
        // SAFETY: a buffer of `c` bytes and a valid length.
        unsafe {
            assert_eq!(shmkit_ordered_key_begin_tuple(b, c, l), Status::Ok);
            shmkit_ordered_key_encode_str(b, c, l, b"user".as_ptr(), 4)
        }
    };
    let (_, start, _) = c_key(32, prefix);
    let (s, end, _) = c_key(32, |b, c, l| {
        prefix(b, c, l);
        // SAFETY: as above.
        unsafe { shmkit_ordered_key_prefix_upper_bound(b, c, l) }
    });
    assert_eq!(s, Status::Ok);
    assert_eq!(end, [&start[..], &[0xff]].concat());
    let mut n = 0u64;
    // SAFETY: a live map; bounds valid; out-pointer valid.
    let s = unsafe {
        shmkit_ordered_map_count(
            map,
            start.as_ptr(),
            start.len(),
            true,
            end.as_ptr(),
            end.len(),
            false,
            &mut n,
            null_mut(),
        )
    };
    assert_eq!(s, Status::Ok);
    assert_eq!(n, 4, "(\"user\",) and (\"user\", -5 | 3 | 10)");
    let keys = scan(map, Some((&start, true)), Some((&end, false)), false);
    let decoded: Vec<K> = keys.iter().map(|k| K::decode(k).unwrap()).collect();
    let user = |i: i64| K::Tuple(vec![K::Str("user".into()), K::Int(i)]);
    assert_eq!(
        decoded,
        [
            K::Tuple(vec![K::Str("user".into())]),
            user(-5),
            user(3),
            user(10)
        ]
    );
    // SAFETY: closed once each.
    unsafe {
        shmkit_ordered_map_close(map);
        shmkit_store_close(store);
    }
}
