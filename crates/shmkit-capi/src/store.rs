//! Stores: open, create, close, remove, check, repair.
#![allow(unsafe_code)] // `#[unsafe(no_mangle)]`, and each function's one argument conversion

use crate::ffi_ptr::{self, Input, into_handle};
use crate::status::{CError, Status, entry};
use shmkit::maintenance::check::{Severity, StoreReport};
use shmkit::store::remove::Removed;
use shmkit::{OpenOptions, Store, StoreOptions};
use std::ffi::c_char;

/// An open store (opaque). Made by `shmkit_store_open`, `shmkit_store_create` or
/// `shmkit_store_open_or_create`; freed by `shmkit_store_close`. Usable from any thread.
pub struct shmkit_store {
    pub(crate) store: Store,
}

/// Flag of `shmkit_store_options.flags`: accept an existing store owned by another user.
/// Without it such a store is refused with `SHMKIT_STATUS_FOREIGN_OWNER`.
pub const SHMKIT_ALLOW_FOREIGN_OWNER: u32 = 1;
/// Flag of `shmkit_store_options.flags`: a new store removes its name when the last process
/// detaches cleanly.
pub const SHMKIT_REMOVE_WHEN_UNUSED: u32 = 2;

/// Options of opening and creating a store. All zero (`{0}`) means the defaults; a NULL
/// pointer to options means the same.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct shmkit_store_options {
    /// `SHMKIT_ALLOW_FOREIGN_OWNER`, `SHMKIT_REMOVE_WHEN_UNUSED`, or'ed.
    pub flags: u32,
    /// Permission bits. Creating: the new file's mode (0: 0600). Opening an existing store
    /// (`shmkit_store_open_or_create`, or `shmkit_store_open` with a nonzero mode): a store
    /// whose mode grants more is refused with `SHMKIT_STATUS_MODE_TOO_WIDE`.
    pub mode: u32,
    /// Most processes attached at once, 1..=1024 (0: 1024). Creating only.
    pub max_processes: u32,
    /// Unused; must be 0 (anything else is `SHMKIT_STATUS_INVALID_ARGUMENT`, so that a
    /// later version can give it a meaning).
    pub reserved: u32,
    /// Largest size the store may grow to, in bytes (0: 64 GiB of address space), rounded up
    /// to whole pages; once rounded at most `INT64_MAX` (a file's largest size), else
    /// `SHMKIT_STATUS_INVALID_ARGUMENT`. Creating only.
    pub reserve: u64,
    /// Initial file length in bytes (0: 1 MiB), rounded up to whole pages; at most
    /// `reserve`. Creating only.
    pub initial_len: u64,
}

const KNOWN_STORE_FLAGS: u32 = SHMKIT_ALLOW_FOREIGN_OWNER | SHMKIT_REMOVE_WHEN_UNUSED;

fn checked(o: Option<&shmkit_store_options>) -> Result<shmkit_store_options, CError> {
    let o = o.copied().unwrap_or_default();
    if o.reserved != 0 {
        return Err(CError::new(
            Status::InvalidArgument,
            format!(
                "shmkit_store_options.reserved must be 0, not {}",
                o.reserved
            ),
        ));
    }
    if o.flags & !KNOWN_STORE_FLAGS != 0 {
        return Err(CError::new(
            Status::InvalidArgument,
            format!("unknown store flags {:#x}", o.flags & !KNOWN_STORE_FLAGS),
        ));
    }
    Ok(o)
}

fn open_options(o: Option<&shmkit_store_options>) -> Result<OpenOptions, CError> {
    let o = checked(o)?;
    Ok(OpenOptions {
        allow_foreign_owner: o.flags & SHMKIT_ALLOW_FOREIGN_OWNER != 0,
        mode: (o.mode != 0).then_some(o.mode),
    })
}

fn store_options(o: Option<&shmkit_store_options>) -> Result<StoreOptions, CError> {
    let o = checked(o)?;
    let d = StoreOptions::default();
    let or = |v: u64, default: u64| if v == 0 { default } else { v };
    Ok(StoreOptions {
        reserve: or(o.reserve, d.reserve),
        mode: if o.mode == 0 { d.mode } else { o.mode },
        initial_len: or(o.initial_len, d.initial_len),
        max_processes: if o.max_processes == 0 {
            d.max_processes
        } else {
            o.max_processes
        },
        remove_when_unused: o.flags & SHMKIT_REMOVE_WHEN_UNUSED != 0,
        allow_foreign_owner: o.flags & SHMKIT_ALLOW_FOREIGN_OWNER != 0,
        ..d
    })
}

/// The body shared by the three store openers: converts the arguments (the name and the
/// options checked against the out-parameter, which is NULL from the start), runs `open` and
/// hands out the new store.
///
/// # Safety
/// `name` is NULL or a NUL-terminated string; `options` is NULL or points to a
/// `shmkit_store_options`; `out` is NULL or writable (the contracts of `c_str`, `input` and
/// `out_handle`).
unsafe fn open_handle(
    name: *const c_char,
    options: *const shmkit_store_options,
    out: *mut *mut shmkit_store,
    open: impl FnOnce(&str, Option<&shmkit_store_options>) -> Result<Store, CError>,
) -> Status {
    entry(|| {
        // SAFETY: the caller's contract is that of `out_handle`, `c_str` and `input`; the
        // name and the options are checked against the out-parameter.
        let (out, name, options) = unsafe {
            let out = ffi_ptr::out_handle(out, "the store handle out-parameter")?;
            let name = ffi_ptr::c_str(name, "the store name")?;
            let options = ffi_ptr::input(options);
            let inputs = [Input::of(name), options.map(Input::of).unwrap_or_default()];
            (out.disjoint_from(&inputs)?, name, options)
        };
        let store = open(name, options)?;
        out.write(into_handle(shmkit_store { store }));
        Ok(Status::Ok)
    })
}

/// What `shmkit_store_check` found, counted by severity.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct shmkit_check_summary {
    /// True when everything was checked and nothing needs a repair (only notes).
    pub clean: bool,
    /// Damage: part of the store is unusable or wrong.
    pub problems: u64,
    /// State a killed process left, which `shmkit_store_repair` fixes.
    pub needs_repair: u64,
    /// Parts not checked because a live process held a lock too long.
    pub busy: u64,
    /// Worth knowing, not wrong.
    pub notes: u64,
}

impl shmkit_check_summary {
    fn of(report: &StoreReport) -> shmkit_check_summary {
        let count = |s| report.count(s) as u64;
        shmkit_check_summary {
            clean: report.is_clean(),
            problems: count(Severity::Problem),
            needs_repair: count(Severity::NeedsRepair),
            busy: count(Severity::Busy),
            notes: count(Severity::Note),
        }
    }
}

/// What `shmkit_store_repair` did.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct shmkit_repair_summary {
    /// Parts repaired.
    pub repaired: u64,
    /// Parts left as they were (busy, in use by others, or beyond repair).
    pub not_repaired: u64,
    /// The check after the repair.
    pub after: shmkit_check_summary,
}

/// Opens an existing store. `options` may be NULL; only its `SHMKIT_ALLOW_FOREIGN_OWNER`
/// flag and `mode` (when nonzero: refuse a store whose mode grants more) are used; its
/// `reserved` field must be 0. On success `*out` is a new handle, to free with
/// `shmkit_store_close`; on failure `*out` is set to NULL (unless `out` itself is NULL).
///
/// Errors: `SHMKIT_STATUS_STORE_NOT_FOUND`, `SHMKIT_STATUS_FOREIGN_OWNER`,
/// `SHMKIT_STATUS_MODE_TOO_WIDE`, `SHMKIT_STATUS_INVALID_NAME`, `SHMKIT_STATUS_NOT_A_STORE`,
/// ...
///
/// # Safety
/// `name` is NULL or a NUL-terminated string; `options` is NULL or points to a
/// `shmkit_store_options`; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_store_open(
    name: *const c_char,
    options: *const shmkit_store_options,
    out: *mut *mut shmkit_store,
) -> Status {
    // SAFETY: this function's contract is `open_handle`'s.
    unsafe {
        open_handle(name, options, out, |name, options| {
            Ok(Store::open_with(name, &open_options(options)?)?)
        })
    }
}

/// Creates a new store; `SHMKIT_STATUS_STORE_EXISTS` if the name is taken. `options` may
/// be NULL (defaults). On success `*out` is a new handle; on failure `*out` is set to NULL
/// (unless `out` itself is NULL). Sizes past what a store can be (`reserve` or `initial_len`
/// that round up to whole pages beyond `INT64_MAX` bytes) are
/// `SHMKIT_STATUS_INVALID_ARGUMENT`.
///
/// # Safety
/// As `shmkit_store_open`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_store_create(
    name: *const c_char,
    options: *const shmkit_store_options,
    out: *mut *mut shmkit_store,
) -> Status {
    // SAFETY: this function's contract is `open_handle`'s.
    unsafe {
        open_handle(name, options, out, |name, options| {
            Ok(Store::create(name, &store_options(options)?)?)
        })
    }
}

/// Opens the store, creating it if it does not exist (race-free: processes calling this at
/// once end up on one store). An existing store must belong to the caller (unless
/// `SHMKIT_ALLOW_FOREIGN_OWNER`) and grant no permission beyond `options.mode` (0: 0600).
/// On success `*out` is a new handle; on failure `*out` is set to NULL (unless `out` itself
/// is NULL).
///
/// # Safety
/// As `shmkit_store_open`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_store_open_or_create(
    name: *const c_char,
    options: *const shmkit_store_options,
    out: *mut *mut shmkit_store,
) -> Status {
    // SAFETY: this function's contract is `open_handle`'s.
    unsafe {
        open_handle(name, options, out, |name, options| {
            Ok(Store::open_or_create(name, &store_options(options)?)?)
        })
    }
}

/// Frees a store handle; NULL is a no-op. Map handles made from it stay valid (each keeps
/// the store attached); the process detaches when the last handle is gone.
///
/// # Safety
/// `store` is NULL or a handle from this library not yet closed; it is not used again.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_store_close(store: *mut shmkit_store) {
    let _ = entry(|| {
        // SAFETY: this function's contract is `free_handle`'s.
        unsafe { ffi_ptr::free_handle(store) };
        Ok(Status::Ok)
    });
}

/// Removes a store's name, even while other processes are attached (they keep working on
/// it). `SHMKIT_STATUS_NOT_A_STORE` for a file that is not a store.
///
/// # Safety
/// `name` is NULL or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_store_remove(name: *const c_char) -> Status {
    entry(|| {
        // SAFETY: this function's contract is `c_str`'s.
        let name = unsafe { ffi_ptr::c_str(name, "the store name")? };
        Store::remove(name)?;
        Ok(Status::Ok)
    })
}

/// Removes a store's name only if no other process is attached; `*removed` (may be NULL)
/// says whether it was.
///
/// # Safety
/// `name` is NULL or a NUL-terminated string; `removed` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_store_remove_if_unused(
    name: *const c_char,
    removed: *mut bool,
) -> Status {
    entry(|| {
        // SAFETY: this function's contract is that of `c_str` and `out_opt`; the name is
        // the only input.
        let (name, removed) = unsafe {
            let name = ffi_ptr::c_str(name, "the store name")?;
            (name, ffi_ptr::out_opt(removed, &[Input::of(name)])?)
        };
        let r = Store::remove_if_unused(name)?;
        if let Some(out) = removed {
            out.write(r == Removed::Yes);
        }
        Ok(Status::Ok)
    })
}

/// Checks the whole store (allocator, every object, leaked blocks) and counts what it found
/// into `*out`. A store that is not clean is still `SHMKIT_STATUS_OK`: read `out->clean`.
///
/// # Safety
/// `store` is NULL or a live store handle; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_store_check(
    store: *const shmkit_store,
    out: *mut shmkit_check_summary,
) -> Status {
    entry(|| {
        // SAFETY: this function's contract is that of `handle` and `out` (no inputs: the
        // store handle is the library's memory).
        let (store, out) = unsafe {
            (
                ffi_ptr::handle(store, "the store")?,
                ffi_ptr::out(out, "the summary out-parameter", &[])?,
            )
        };
        out.write(shmkit_check_summary::of(&store.store.check()));
        Ok(Status::Ok)
    })
}

/// Repairs what killed processes left (locks, half-done writes, leaked blocks when no other
/// process is attached) and checks again; `*out` (may be NULL) says what was done.
///
/// # Safety
/// `store` is NULL or a live store handle; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_store_repair(
    store: *const shmkit_store,
    out: *mut shmkit_repair_summary,
) -> Status {
    entry(|| {
        // SAFETY: this function's contract is that of `handle` and `out_opt` (no inputs: the
        // store handle is the library's memory).
        let (store, out) = unsafe {
            (
                ffi_ptr::handle(store, "the store")?,
                ffi_ptr::out_opt(out, &[])?,
            )
        };
        let report = store.store.repair();
        if let Some(out) = out {
            out.write(shmkit_repair_summary {
                repaired: report.repaired.len() as u64,
                not_repaired: report.not_repaired.len() as u64,
                after: shmkit_check_summary::of(&report.after),
            });
        }
        Ok(Status::Ok)
    })
}
