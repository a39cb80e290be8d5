//! Helpers shared by the C API's tests: unique store names removed when dropped, the
//! thread's last error message, and opening a store or a map as a C program would.
#![allow(dead_code)] // each test file uses some of them

use shmkit_c::*;
use shmkit_testkit::unique_name;
use std::ffi::{CStr, CString};
use std::ptr::{null, null_mut};

/// A unique store name, removed when dropped.
pub struct Name(pub CString);

impl Name {
    pub fn new(test: &str) -> Name {
        Name(CString::new(unique_name("test", test)).unwrap())
    }
}

impl Drop for Name {
    fn drop(&mut self) {
        let _ = shmkit::Store::remove(self.0.to_str().unwrap());
    }
}

/// The message of this thread's last failing call.
pub fn last_error() -> String {
    // SAFETY: the message is a valid C string until this thread's next failing call.
    unsafe { CStr::from_ptr(shmkit_last_error_message()) }
        .to_string_lossy()
        .into_owned()
}

/// A new handle of the store `name`, created if missing (closed by the caller or leaked for
/// the test's length).
pub fn store_of(name: &Name) -> *mut shmkit_store {
    let mut store = null_mut();
    // SAFETY: a valid name and out-pointer.
    let s = unsafe { shmkit_store_open_or_create(name.0.as_ptr(), null(), &mut store) };
    assert_eq!(s, Status::Ok, "{}", last_error());
    store
}

pub fn map_in(name: &Name, flags: u32) -> *mut shmkit_hash_map {
    let (mut store, mut map) = (null_mut(), null_mut());
    let options = shmkit_map_options {
        flags,
        ..Default::default()
    };
    // SAFETY: valid names, options and out-pointers; the store handle is closed once.
    unsafe {
        let s = shmkit_store_open_or_create(name.0.as_ptr(), null(), &mut store);
        assert_eq!(s, Status::Ok, "{}", last_error());
        let s = shmkit_hash_map_open(store, c"m".as_ptr(), &options, &mut map);
        assert_eq!(s, Status::Ok, "{}", last_error());
        shmkit_store_close(store);
    }
    map
}
