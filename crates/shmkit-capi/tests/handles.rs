//! Hash-map key handles called from Rust as a C program would: a handle reads, overwrites and
//! removes its key; a removed key's handle and made-up handles give `NOT_FOUND`; buffers too
//! small report the needed length; bad input is a code, never a crash; a handle given by C
//! reads the same entry through the Rust API (the number is the same everywhere).

mod common;

use common::*;
use shmkit_c::*;
use shmkit_testkit::unique_name;
use std::ffi::CString;
use std::ptr::{null, null_mut};

/// The value `handle` reads, None on NOT_FOUND.
fn get(map: *const shmkit_hash_map, handle: u64) -> Option<Vec<u8>> {
    let mut buf = [0u8; 64];
    let mut len = 0usize;
    // SAFETY: a live map handle, a buffer of its length and a length out-parameter.
    let s = unsafe {
        shmkit_hash_map_get_by_handle(map, handle, buf.as_mut_ptr(), buf.len(), &mut len)
    };
    match s {
        Status::Ok => Some(buf[..len].to_vec()),
        Status::NotFound => None,
        other => panic!("{other:?}: {}", last_error()),
    }
}

#[test]
fn a_handle_reads_writes_and_removes_its_key() {
    let name = Name(CString::new(unique_name("test", "c-handles")).unwrap());
    let map = map_in(&name, SHMKIT_MAP_STR_KEYS);
    let (mut h, mut again) = (0u64, 0u64);
    // SAFETY: a live map handle, valid key/value bytes and out-parameters throughout.
    unsafe {
        assert_eq!(
            shmkit_hash_map_handle(map, b"user:1".as_ptr(), 6, &mut h),
            Status::NotFound
        );
        let s =
            shmkit_hash_map_set_with_handle(map, b"user:1".as_ptr(), 6, b"ada".as_ptr(), 3, &mut h);
        assert_eq!(s, Status::Ok, "{}", last_error());
        assert_ne!(h, 0);
        assert_eq!(
            shmkit_hash_map_handle(map, b"user:1".as_ptr(), 6, &mut again),
            Status::Ok
        );
        assert_eq!(again, h);
    }
    assert_eq!(get(map, h).as_deref(), Some(&b"ada"[..]));
    // SAFETY: as above.
    unsafe {
        assert_eq!(
            shmkit_hash_map_set(map, b"user:1".as_ptr(), 6, b"lovelace".as_ptr(), 8),
            Status::Ok
        );
    }
    assert_eq!(get(map, h).as_deref(), Some(&b"lovelace"[..]));
    // A buffer too small: the needed length, nothing else.
    let mut small = [0u8; 3];
    let mut len = 0usize;
    // SAFETY: as above.
    let s =
        unsafe { shmkit_hash_map_get_by_handle(map, h, small.as_mut_ptr(), small.len(), &mut len) };
    assert_eq!(s, Status::BufferTooSmall);
    assert_eq!(len, 8);
    // SAFETY: as above.
    unsafe {
        assert_eq!(
            shmkit_hash_map_set_by_handle(map, h, b"x".as_ptr(), 1),
            Status::Ok
        );
        // The same number through the Rust API: C stored the key as a typed str.
        let store = shmkit::Store::open(name.0.to_str().unwrap()).unwrap();
        let rust = store.open_hash_map("m").unwrap();
        assert_eq!(
            rust.get_by_handle(shmkit::KeyHandle::from_raw(h))
                .unwrap()
                .as_deref(),
            Some(&b"x"[..])
        );
        let mut removed = false;
        assert_eq!(
            shmkit_hash_map_remove_by_handle(map, h, &mut removed),
            Status::Ok
        );
        assert!(removed);
        assert_eq!(
            shmkit_hash_map_remove_by_handle(map, h, &mut removed),
            Status::Ok
        );
        assert!(!removed);
        assert_eq!(
            shmkit_hash_map_set_by_handle(map, h, b"y".as_ptr(), 1),
            Status::NotFound
        );
        assert_eq!(
            shmkit_hash_map_remove_by_handle(map, h, null_mut()),
            Status::Ok
        );
        let mut n = 9u64;
        assert_eq!(shmkit_hash_map_len(map, &mut n), Status::Ok);
        assert_eq!(n, 0, "a stale handle wrote nothing");
    }
    assert_eq!(get(map, h), None);
    // SAFETY: as above.
    unsafe { shmkit_hash_map_close(map) };
}

#[test]
fn made_up_handles_and_bad_input_are_codes() {
    let name = Name(CString::new(unique_name("test", "c-handles-bad")).unwrap());
    let map = map_in(&name, 0);
    let mut real = Vec::new();
    for i in 0..200u32 {
        let mut h = 0u64;
        let key = i.to_le_bytes();
        // SAFETY: a live map handle, valid bytes and out-parameter.
        let s = unsafe {
            shmkit_hash_map_set_with_handle(map, key.as_ptr(), 4, key.as_ptr(), 4, &mut h)
        };
        assert_eq!(s, Status::Ok, "{}", last_error());
        real.push(h);
    }
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    for _ in 0..20_000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        if !real.contains(&x) {
            assert_eq!(get(map, x), None, "made-up handle {x:#x}");
        }
    }
    for h in [0, u64::MAX, 1, 1 << 32] {
        assert_eq!(get(map, h), None);
    }
    let mut buf = [0u8; 8];
    let mut len = 0usize;
    // SAFETY: NULL handles and out-parameters, overlapping outputs: each must be a code.
    unsafe {
        assert_eq!(
            shmkit_hash_map_get_by_handle(null(), real[0], buf.as_mut_ptr(), 8, &mut len),
            Status::NullPointer
        );
        assert_eq!(
            shmkit_hash_map_get_by_handle(map, real[0], buf.as_mut_ptr(), 8, null_mut()),
            Status::NullPointer
        );
        let overlapping = buf.as_mut_ptr().cast::<usize>();
        assert_eq!(
            shmkit_hash_map_get_by_handle(map, real[0], buf.as_mut_ptr(), 8, overlapping),
            Status::InvalidArgument
        );
        assert_eq!(
            shmkit_hash_map_handle(map, b"k".as_ptr(), 1, null_mut()),
            Status::NullPointer
        );
        let key = b"0123456789abcdef";
        assert_eq!(
            shmkit_hash_map_handle(map, key.as_ptr(), 16, key.as_ptr() as *mut u64),
            Status::InvalidArgument
        );
        assert_eq!(
            shmkit_hash_map_set_with_handle(map, null(), 3, b"v".as_ptr(), 1, &mut 0u64),
            Status::NullPointer
        );
        assert_eq!(
            shmkit_hash_map_set_by_handle(null(), real[0], b"v".as_ptr(), 1),
            Status::NullPointer
        );
        assert_eq!(
            shmkit_hash_map_remove_by_handle(null(), real[0], null_mut()),
            Status::NullPointer
        );
    }
    assert_eq!(get(map, real[5]).as_deref(), Some(&5u32.to_le_bytes()[..]));
    // SAFETY: a live map handle.
    unsafe { shmkit_hash_map_close(map) };
}
