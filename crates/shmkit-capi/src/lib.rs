//! The C API of shmkit: stores, hash maps, ordered maps, atomic vectors, arrays, deques and
//! priority queues in named shared memory for C programs (and anything that calls C),
//! sharing the same stores, objects, typed values and ordered keys as Rust and Python. The header is `include/shmkit.h` (generated from this crate by cbindgen and
//! checked in); C programs link `libshmkit_c.so` or `libshmkit_c.a`. See `docs/C.md`.
//!
//! Invariants:
//! - **Status codes.** Every function returns a `shmkit_status` (`SHMKIT_STATUS_OK` = 0;
//!   negative codes are errors, one per [`shmkit::ErrorKind`] plus the C API's own), and
//!   the message of an error stays readable through `shmkit_last_error_message()` on the
//!   calling thread. The codes are chosen in one place ([`Status::of_kind`]).
//! - **No panic crosses the boundary**: every function body runs in `catch_unwind`
//!   ([`status::entry`]); a panic is `SHMKIT_STATUS_PANIC`. This needs `panic = "unwind"`
//!   (a build with `panic = "abort"` does not compile). Rust's default panic hook still
//!   prints the panic's message to stderr; the library does not replace the process's hook.
//! - **No UB on bad input**: null pointers, null buffers with lengths, names and text that
//!   are not UTF-8 are errors, and so are outputs that overlap inputs. Raw pointers are
//!   turned into references and slices only in [`ffi_ptr`]; each C function converts its
//!   arguments in one `unsafe` block that relies on its own `# Safety` contract (valid
//!   pointers for the lengths given, live handles).
//! - **Opaque handles** (`shmkit_store`, `shmkit_hash_map`, `shmkit_hash_map_iter`,
//!   `shmkit_ordered_map`, `shmkit_ordered_map_iter`, `shmkit_atomic_vector`, `shmkit_array`,
//!   `shmkit_deque`, `shmkit_priority_queue`) own clones of the core's handles, so closing
//!   them in any order is safe: a map or vector keeps its store attached, an iterator its
//!   map. All are `Send + Sync` (checked at compile time below): store, map and vector
//!   handles are for any number of threads at once, and an iterator's cursor is behind a
//!   lock, so a second thread gets `SHMKIT_STATUS_BUSY`, not a data race. A handle
//!   out-parameter is set to NULL when its call fails.
//! - **Typed values** are the shared encoding of [`shmkit::value`]; this crate encodes and
//!   decodes only through it.
//!
//! ```
//! use shmkit_c::*;
//! let name = std::ffi::CString::new(format!("doc-capi-{}", std::process::id())).unwrap();
//! let mut store = std::ptr::null_mut();
//! let mut map = std::ptr::null_mut();
//! let mut n = 0i64;
//! // SAFETY: valid C strings and out-pointers; handles are used while live and freed once.
//! unsafe {
//!     assert_eq!(shmkit_store_open_or_create(name.as_ptr(), std::ptr::null(), &mut store), Status::Ok);
//!     assert_eq!(shmkit_hash_map_open(store, c"counters".as_ptr(), std::ptr::null(), &mut map), Status::Ok);
//!     assert_eq!(shmkit_hash_map_incr_int(map, b"hits".as_ptr(), 4, 2, &mut n), Status::Ok);
//!     shmkit_store_close(store); // the map keeps the store attached
//!     assert_eq!(shmkit_hash_map_get_i64(map, b"hits".as_ptr(), 4, &mut n), Status::Ok);
//!     shmkit_hash_map_close(map);
//!     assert_eq!(shmkit_store_remove(name.as_ptr()), Status::Ok);
//! }
//! assert_eq!(n, 2);
//! ```
#![deny(unsafe_code)]
#![allow(non_camel_case_types)] // C type names: `shmkit_store`, ...
#![warn(missing_docs)]

pub mod array;
pub mod atomic_vector;
pub mod batch;
pub mod deque;
pub mod ffi_ptr;
pub mod hash_map;
pub mod hash_map_handles;
pub mod iter;
pub mod ordered_key;
pub mod ordered_map;
pub mod priority_queue;
pub mod status;
pub mod store;
pub mod value;

pub use array::*;
pub use atomic_vector::*;
pub use batch::*;
pub use deque::*;
pub use hash_map::*;
pub use hash_map_handles::*;
pub use iter::*;
pub use ordered_key::*;
pub use ordered_map::*;
pub use priority_queue::*;
pub use status::Status;
pub use store::*;
pub use value::*;

use std::ffi::c_char;

#[cfg(panic = "abort")]
compile_error!(
    "shmkit-capi must be built with panic=unwind: every C function catches panics at the \
     boundary and returns SHMKIT_STATUS_PANIC, which an aborting build cannot do"
);

/// What C may do with handles from several threads, checked at compile time: store, map and
/// vector handles are used from any number of threads at once; an iterator may be used and freed
/// from any thread, and two threads calling it at once is an error code, not a data race.
const _: () = {
    const fn send_sync<T: Send + Sync>() {}
    send_sync::<shmkit_store>();
    send_sync::<shmkit_hash_map>();
    send_sync::<shmkit_hash_map_iter>();
    send_sync::<shmkit_atomic_vector>();
    send_sync::<shmkit_array>();
    send_sync::<shmkit_deque>();
    send_sync::<shmkit_priority_queue>();
    send_sync::<shmkit_ordered_map>();
    send_sync::<shmkit_ordered_map_iter>();
};

/// The message of this thread's last error (an empty string if there was none). The text
/// stays valid until this thread's next shmkit call that fails; copy it to keep it. Never
/// NULL.
#[unsafe(no_mangle)]
#[allow(unsafe_code)] // `no_mangle`
pub extern "C" fn shmkit_last_error_message() -> *const c_char {
    status::last_error_message()
}

/// The stable snake_case name of a status code (`"store_not_found"`, ...; the names of
/// `shmkit::ErrorKind` and of the other front ends), or `"unknown"` for a number that is
/// not a code. A static string; never NULL.
#[unsafe(no_mangle)]
#[allow(unsafe_code)] // `no_mangle`
pub extern "C" fn shmkit_status_name(code: i32) -> *const c_char {
    Status::from_code(code)
        .unwrap_or(Status::Unknown)
        .name()
        .as_ptr()
}

/// The version of the library (`"0.1.0"`), a static string.
#[unsafe(no_mangle)]
#[allow(unsafe_code)] // `no_mangle`
pub extern "C" fn shmkit_version() -> *const c_char {
    static VERSION: &std::ffi::CStr = match std::ffi::CStr::from_bytes_with_nul(
        concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes(),
    ) {
        Ok(v) => v,
        Err(_) => c"unknown",
    };
    VERSION.as_ptr()
}
