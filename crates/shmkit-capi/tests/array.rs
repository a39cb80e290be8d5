//! The array functions called from Rust as a C program would: create, adopt, mismatches with
//! their own codes, the element pointer shared with the core's view, copies by flat index,
//! buffers too small, and bad input answered with a code and a message, never a crash.

mod common;

use common::*;
use shmkit_c::*;
use std::ffi::CStr;
use std::ptr::{null, null_mut};

/// `shmkit_array_open` with Rust arguments; the handle on success.
fn open(
    store: *const shmkit_store,
    name: &CStr,
    format: Option<&CStr>,
    shape: Option<&[u64]>,
    flags: u32,
) -> Result<*mut shmkit_array, Status> {
    let mut out = std::ptr::dangling_mut::<shmkit_array>();
    let (shape_ptr, ndim) = shape.map_or((null(), 0), |s| (s.as_ptr(), s.len()));
    let format = format.map_or(null(), CStr::as_ptr);
    // SAFETY: a live store, valid strings, a shape of `ndim` numbers, a valid out-pointer.
    let s = unsafe {
        shmkit_array_open(
            store,
            name.as_ptr(),
            format,
            shape_ptr,
            ndim,
            flags,
            &mut out,
        )
    };
    if s == Status::Ok {
        Ok(out)
    } else {
        assert!(out.is_null(), "a failed open leaves NULL");
        Err(s)
    }
}

#[test]
fn a_created_array_is_the_cores_array_and_its_pointer_is_element_zero() {
    let name = Name::new("capi-array");
    let store = store_of(&name);
    let a = open(store, c"grid", Some(c"<f8"), Some(&[100, 3]), 0).unwrap();
    // SAFETY: live handles, valid out-pointers and buffers of the sizes given.
    unsafe {
        shmkit_store_close(store); // the array keeps the store attached
        let (mut len, mut itemsize, mut ndim) = (0u64, 0u64, 0usize);
        assert_eq!(shmkit_array_len(a, &mut len), Status::Ok);
        assert_eq!(shmkit_array_itemsize(a, &mut itemsize), Status::Ok);
        assert_eq!(shmkit_array_ndim(a, &mut ndim), Status::Ok);
        assert_eq!((len, itemsize, ndim), (300, 8, 2));
        let mut dims = [0u64; 4];
        assert_eq!(
            shmkit_array_shape(a, dims.as_mut_ptr(), 4, &mut ndim),
            Status::Ok
        );
        assert_eq!((&dims[..2], ndim), (&[100u64, 3][..], 2));
        assert_eq!(
            shmkit_array_shape(a, dims.as_mut_ptr(), 1, &mut ndim),
            Status::BufferTooSmall
        );
        assert_eq!(ndim, 2);
        assert_eq!(
            shmkit_array_shape(a, null_mut(), 0, &mut ndim),
            Status::BufferTooSmall
        );

        let mut format = [0 as std::ffi::c_char; 16];
        let mut flen = 0usize;
        assert_eq!(
            shmkit_array_format(a, format.as_mut_ptr(), 16, &mut flen),
            Status::Ok
        );
        let text: Vec<u8> = format[..flen].iter().map(|c| *c as u8).collect();
        assert_eq!(text, b"d", "the stored PEP 3118 form of <f8");
        assert_eq!(
            shmkit_array_format(a, null_mut(), 0, &mut flen),
            Status::BufferTooSmall
        );
        assert_eq!(flen, 1);

        let mut data = null_mut();
        let mut nbytes = 0u64;
        assert_eq!(shmkit_array_data(a, &mut data, &mut nbytes), Status::Ok);
        assert_eq!(nbytes, 2400);
        assert_eq!(data as usize % 64, 0, "64-byte aligned");
        let elements = data.cast::<f64>();
        *elements.add(5) = 7.5; // element (1, 2): 1 * 3 + 2

        // The core's own handle in this process sees it, and sees C's copies.
        let rust = shmkit::Store::open(name.0.to_str().unwrap()).unwrap();
        let grid = rust.open_array("grid").unwrap().typed::<f64>().unwrap();
        assert_eq!(grid.get(5).unwrap(), 7.5);
        grid.set(299, -1.25).unwrap();
        let mut buf = [0u8; 8];
        let mut got = 0usize;
        assert_eq!(
            shmkit_array_read(a, 299, buf.as_mut_ptr(), 8, &mut got),
            Status::Ok
        );
        assert_eq!((f64::from_le_bytes(buf), got), (-1.25, 8));
        assert_eq!(
            shmkit_array_write(a, 0, 3.0f64.to_le_bytes().as_ptr(), 8),
            Status::Ok
        );
        assert_eq!(grid.get(0).unwrap(), 3.0);
        assert_eq!(*elements, 3.0);
        // The array's own memory as the source of a write is refused, nothing written.
        assert_eq!(
            shmkit_array_write(a, 0, data.cast::<u8>().add(8), 8),
            Status::InvalidArgument
        );
        assert!(last_error().contains("overlaps"), "{}", last_error());
        assert_eq!(grid.get(0).unwrap(), 3.0);
        // A misaligned out-parameter is refused, not written through.
        let mut words = [0u64; 2];
        let misaligned = words.as_mut_ptr().cast::<u8>().add(1).cast::<u64>();
        assert_eq!(shmkit_array_len(a, misaligned), Status::InvalidArgument);
        assert_eq!(words, [0, 0]);
        // A size query copies nothing and says how much room an element needs.
        let mut need = 0usize;
        assert_eq!(
            shmkit_array_read(a, 0, null_mut(), 0, &mut need),
            Status::BufferTooSmall
        );
        assert_eq!(need, 8);

        // Adopting: no format, no shape.
        let b = open(store_of(&name), c"grid", None, None, 0).unwrap();
        let mut blen = 0;
        assert_eq!(shmkit_array_len(b, &mut blen), Status::Ok);
        assert_eq!(blen, 300);
        let mut bdata = null_mut();
        assert_eq!(shmkit_array_data(b, &mut bdata, null_mut()), Status::Ok);
        assert_eq!(bdata, data, "one mapping per process");
        shmkit_array_close(b);
        shmkit_array_close(a);
        // The pointer stays valid while any handle to the store lives (`rust` here).
        assert_eq!(*elements, 3.0);
        shmkit_array_close(null_mut());
    }
}

#[test]
fn records_and_mismatches_have_their_own_codes() {
    let name = Name::new("capi-array-mismatch");
    let store = store_of(&name);
    let record = c"T{<d:x:<d:y:<I:id:B:flag:3x}";
    let a = open(store, c"points", Some(record), Some(&[10]), 0).unwrap();
    // SAFETY: live handles, valid buffers.
    unsafe {
        let mut itemsize = 0;
        assert_eq!(shmkit_array_itemsize(a, &mut itemsize), Status::Ok);
        assert_eq!(itemsize, 24);
        let mut element = [0u8; 24];
        element[16..20].copy_from_slice(&7u32.to_le_bytes());
        assert_eq!(shmkit_array_write(a, 9, element.as_ptr(), 24), Status::Ok);
        let mut back = [0xffu8; 32];
        assert_eq!(
            shmkit_array_read(a, 9, back.as_mut_ptr(), 32, null_mut()),
            Status::Ok
        );
        assert_eq!(back[..24], element);
        assert_eq!(back[24..], [0xff; 8], "only itemsize bytes are written");

        // Out of range, wrong sizes: nothing written.
        assert_eq!(
            shmkit_array_write(a, 10, element.as_ptr(), 24),
            Status::IndexOutOfRange
        );
        assert!(last_error().contains("out of range"), "{}", last_error());
        assert_eq!(
            shmkit_array_write(a, 0, element.as_ptr(), 23),
            Status::InvalidArgument
        );
        let mut len = 0usize;
        assert_eq!(
            shmkit_array_read(a, 10, back.as_mut_ptr(), 32, &mut len),
            Status::IndexOutOfRange
        );
        assert_eq!(
            shmkit_array_read(a, 0, back.as_mut_ptr(), 8, &mut len),
            Status::BufferTooSmall
        );
        assert_eq!(len, 24);
        assert_eq!(
            shmkit_array_read(a, u64::MAX, back.as_mut_ptr(), 32, &mut len),
            Status::IndexOutOfRange
        );
        shmkit_array_close(a);
    }

    // The same layout spelled otherwise opens; another type, shape or kind does not.
    let same = open(
        store,
        c"points",
        Some(c"T{<d:x:<d:y:<I:id:B:flag:xxx}"),
        Some(&[10]),
        0,
    );
    // SAFETY: a live handle, closed once.
    unsafe { shmkit_array_close(same.unwrap()) };
    assert_eq!(
        open(store, c"points", Some(c"<f8"), Some(&[10]), 0),
        Err(Status::WrongType)
    );
    assert!(
        last_error().contains("holds elements of type"),
        "{}",
        last_error()
    );
    assert_eq!(
        open(store, c"points", Some(record), Some(&[11]), 0),
        Err(Status::ShapeMismatch)
    );
    assert_eq!(
        open(store, c"points", None, Some(&[2, 5]), 0),
        Err(Status::ShapeMismatch)
    );
    // SAFETY: a status name is a static string.
    let shape_name = unsafe { CStr::from_ptr(shmkit_status_name(Status::ShapeMismatch as i32)) };
    assert_eq!(shape_name, c"shape_mismatch");
    let a = open(
        store,
        c"points",
        None,
        Some(&[10]),
        SHMKIT_ARRAY_OPEN_EXISTING,
    )
    .unwrap();
    // SAFETY: a live handle, closed once.
    unsafe { shmkit_array_close(a) };

    // Missing arrays: created only with a format and without OPEN_EXISTING.
    assert_eq!(
        open(store, c"nope", None, None, 0),
        Err(Status::ObjectNotFound)
    );
    assert_eq!(
        open(
            store,
            c"nope",
            Some(c"<i4"),
            Some(&[3]),
            SHMKIT_ARRAY_OPEN_EXISTING
        ),
        Err(Status::ObjectNotFound)
    );
    // A scalar array of zero dimensions: one element.
    let one = open(store, c"one", Some(c"<i4"), None, 0).unwrap();
    // SAFETY: live handle, valid out-pointers.
    unsafe {
        let (mut len, mut ndim) = (0, 9);
        assert_eq!(shmkit_array_len(one, &mut len), Status::Ok);
        assert_eq!(shmkit_array_ndim(one, &mut ndim), Status::Ok);
        assert_eq!((len, ndim), (1, 0));
        shmkit_array_close(one);
    }

    // Bad formats, flags, kinds, pointers.
    assert_eq!(
        open(store, c"bad", Some(c"O"), Some(&[3]), 0),
        Err(Status::InvalidArgument)
    );
    assert!(last_error().contains("object"), "{}", last_error());
    assert_eq!(
        open(store, c"bad", Some(c"<d"), Some(&[3]), 0x10),
        Err(Status::InvalidArgument)
    );
    assert_eq!(
        open(store, c"bad", Some(c"<d"), Some(&[1 << 40, 1 << 40]), 0),
        Err(Status::InvalidArgument)
    );
    let mut map = null_mut();
    // SAFETY: a live store, a valid name and out-pointer.
    unsafe {
        assert_eq!(
            shmkit_hash_map_open(store, c"m".as_ptr(), null(), &mut map),
            Status::Ok
        );
        shmkit_hash_map_close(map);
    }
    assert_eq!(
        open(store, c"m", Some(c"<d"), Some(&[3]), 0),
        Err(Status::WrongKind)
    );
    assert_eq!(open(store, c"m", None, None, 0), Err(Status::WrongKind));
    // Nothing was created by the failures.
    let rust = shmkit::Store::open(name.0.to_str().unwrap()).unwrap();
    let mut names: Vec<String> = rust
        .objects()
        .unwrap()
        .into_iter()
        .map(|o| o.name)
        .collect();
    names.sort();
    assert_eq!(names, ["m", "one", "points"]);

    // SAFETY: deliberately bad pointers the library must refuse: NULLs, a misaligned shape,
    // a format that is not UTF-8.
    unsafe {
        let mut out = null_mut();
        assert_eq!(
            shmkit_array_open(null(), c"x".as_ptr(), null(), null(), 0, 0, &mut out),
            Status::NullPointer
        );
        assert_eq!(
            shmkit_array_open(store, c"x".as_ptr(), c"<d".as_ptr(), null(), 2, 0, &mut out),
            Status::NullPointer
        );
        assert_eq!(
            shmkit_array_open(
                store,
                c"x".as_ptr(),
                c"<d".as_ptr(),
                null(),
                0,
                0,
                null_mut()
            ),
            Status::NullPointer
        );
        let words = [0u64; 3];
        let misaligned = words.as_ptr().cast::<u8>().add(1).cast::<u64>();
        assert_eq!(
            shmkit_array_open(
                store,
                c"x".as_ptr(),
                c"<d".as_ptr(),
                misaligned,
                1,
                0,
                &mut out
            ),
            Status::InvalidArgument
        );
        assert_eq!(
            shmkit_array_open(
                store,
                c"x".as_ptr(),
                c"\xff".as_ptr(),
                null(),
                0,
                0,
                &mut out
            ),
            Status::InvalidArgument
        );
        assert!(out.is_null());
        let mut len = 0;
        assert_eq!(shmkit_array_len(null(), &mut len), Status::NullPointer);
        let a = open(store, c"points", None, None, 0).unwrap();
        assert_eq!(shmkit_array_len(a, null_mut()), Status::NullPointer);
        assert_eq!(
            shmkit_array_data(a, null_mut(), null_mut()),
            Status::NullPointer
        );
        assert_eq!(
            shmkit_array_read(a, 0, null_mut(), 24, null_mut()),
            Status::NullPointer
        );
        assert_eq!(shmkit_array_write(a, 0, null(), 24), Status::NullPointer);
        shmkit_array_close(a);
        shmkit_store_close(store);
    }
}

#[test]
fn a_forked_child_writes_through_the_pointer_and_the_parent_reads() {
    let name = Name::new("capi-array-fork");
    let store = store_of(&name);
    let a = open(store, c"v", Some(c"<i8"), Some(&[1000]), 0).unwrap();
    let mut data = null_mut();
    assert_eq!(
        // SAFETY: a live handle and a valid out-pointer.
        unsafe { shmkit_array_data(a, &mut data, null_mut()) },
        Status::Ok
    );
    let data = data as usize;
    let child = shmkit_testkit::fork_child(move || {
        let p = data as *mut i64;
        for i in 0..1000 {
            // SAFETY: the mapping is inherited at the same address; 1000 elements.
            unsafe { p.add(i).write_volatile(i as i64 * 3) };
        }
        0
    });
    child.expect_success();
    let mut buf = [0u8; 8];
    for i in [0u64, 1, 500, 999] {
        assert_eq!(
            // SAFETY: a live handle, an 8-byte buffer.
            unsafe { shmkit_array_read(a, i, buf.as_mut_ptr(), 8, null_mut()) },
            Status::Ok
        );
        assert_eq!(i64::from_le_bytes(buf), i as i64 * 3);
    }
    // SAFETY: live handles, closed once.
    unsafe {
        shmkit_array_close(a);
        shmkit_store_close(store);
    }
}
