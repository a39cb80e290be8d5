//! The C functions called from Rust as a C program would: typed values, buffers that are too
//! small, iteration, and every kind of bad input (null pointers, names that are not UTF-8,
//! the wrong kind of object, a store of another user or with a wider mode) answered with an
//! error code and a message, never a crash.

use shmkit_c::*;
use shmkit_testkit::unique_name;
use std::ffi::{CStr, CString};
use std::ptr::{null, null_mut};

/// A unique store name, removed when dropped.
struct Name(CString);

impl Name {
    fn new(test: &str) -> Name {
        Name(CString::new(unique_name("test", test)).unwrap())
    }
}

impl Drop for Name {
    fn drop(&mut self) {
        let _ = shmkit::Store::remove(self.0.to_str().unwrap());
    }
}

fn last_error() -> String {
    // SAFETY: the message is a valid C string until this thread's next failing call.
    unsafe { CStr::from_ptr(shmkit_last_error_message()) }
        .to_string_lossy()
        .into_owned()
}

fn open_or_create(name: &Name) -> *mut shmkit_store {
    let mut store = null_mut();
    // SAFETY: a valid name and out-pointer.
    let s = unsafe { shmkit_store_open_or_create(name.0.as_ptr(), null(), &mut store) };
    assert_eq!(s, Status::Ok, "{}", last_error());
    store
}

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
    let store = open_or_create(&name);
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
    let store = open_or_create(&name);
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
        assert_eq!(
            shmkit_hash_map_incr_int(map, b"t".as_ptr(), 1, i64::MAX, &mut n),
            Status::Overflow
        );
        assert_eq!(
            shmkit_hash_map_get_i64(map, b"t".as_ptr(), 1, &mut n),
            Status::Ok
        );
        assert_eq!(n, 8, "an overflowing incr changes nothing");
        let mut f = 0.0;
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
    let store = open_or_create(&name);
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
                    assert!(seen.insert(key, vlen).is_none(), "an entry came twice");
                }
                other => panic!("{other:?}: {}", last_error()),
            }
        }
        assert!(too_small > 0);
        assert_eq!(seen.len(), 100);
        for (k, len) in seen {
            assert_eq!(format!("key-{len}"), k);
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
    let store = open_or_create(&name);
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
    let c_store = open_or_create(&name);
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
    let store = open_or_create(&name);
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
    let kinds = [
        ErrorKind::StoreNotFound,
        ErrorKind::ObjectNotFound,
        ErrorKind::StoreExists,
        ErrorKind::PermissionDenied,
        ErrorKind::InvalidName,
        ErrorKind::InvalidArgument,
        ErrorKind::WrongType,
        ErrorKind::WrongKind,
        ErrorKind::InvalidValue,
        ErrorKind::NotAStore,
        ErrorKind::UnsupportedVersion,
        ErrorKind::Corrupt,
        ErrorKind::StoreFull,
        ErrorKind::RegistryFull,
        ErrorKind::Busy,
        ErrorKind::Io,
    ];
    let mut codes = std::collections::HashSet::new();
    for kind in kinds {
        let status = Status::of_kind(kind);
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
