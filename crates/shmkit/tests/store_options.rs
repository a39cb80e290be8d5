//! Store options: file permissions applied exactly whatever the umask, and a full file
//! system reported as `StoreFull` (creation and growth) without damaging the store.

mod common;

use common::{Exit, StoreGuard, TempDir, cannot_run_here, fork_child};
use shmkit::{AllocError, CreateError, Store, StoreOptions};
use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

#[test]
fn modes_are_applied_exactly_whatever_the_umask() {
    for umask in [0o077, 0o000, 0o022] {
        let mut child = fork_child(move || {
            // SAFETY: setting this (child) process's umask.
            unsafe { libc::umask(umask) };
            for (mode, expected) in [(None, 0o600), (Some(0o640), 0o640), (Some(0o666), 0o666)] {
                let guard = StoreGuard::new("options-mode");
                let mut opts = StoreOptions::default();
                if let Some(m) = mode {
                    opts.mode = m;
                }
                let store = Store::create(guard.name(), &opts).unwrap();
                let got = std::fs::metadata(store.path())
                    .unwrap()
                    .permissions()
                    .mode()
                    & 0o777;
                if got != expected {
                    eprintln!("umask {umask:o}: mode {mode:?} gave {got:o}, expected {expected:o}");
                    return 1;
                }
            }
            0
        });
        assert_eq!(
            child.wait_timeout(Duration::from_secs(30)),
            Exit::Code(0),
            "umask {umask:o}"
        );
    }
    let guard = StoreGuard::new("options-bad-mode");
    let opts = StoreOptions {
        mode: 0o4755,
        ..StoreOptions::default()
    };
    assert!(matches!(
        Store::create(guard.name(), &opts),
        Err(CreateError::InvalidOptions(_))
    ));
}

#[test]
fn invalid_options_are_refused() {
    let guard = StoreGuard::new("options-invalid");
    for opts in [
        StoreOptions {
            max_processes: 0,
            ..StoreOptions::default()
        },
        StoreOptions {
            max_processes: 5000,
            ..StoreOptions::default()
        },
        StoreOptions {
            reserve: 1 << 20,
            initial_len: 8 << 20,
            ..StoreOptions::default()
        },
    ] {
        assert!(
            matches!(
                Store::create(guard.name(), &opts),
                Err(CreateError::InvalidOptions(_))
            ),
            "{opts:?}"
        );
    }
    assert!(matches!(
        Store::open(guard.name()),
        Err(shmkit::OpenError::NotFound { .. })
    ));
}

#[test]
fn sizes_past_the_largest_file_are_invalid_options_not_an_overflow() {
    // Near `u64::MAX` rounding up to a whole page overflows: this was a panic in debug
    // builds and a wrong error ("reserve (0 bytes) is smaller ...") in release builds.
    let guard = StoreGuard::new("options-huge");
    let huge = [
        u64::MAX,
        u64::MAX - 1,
        u64::MAX - 4095,
        1 << 63,
        i64::MAX as u64,
    ];
    let mut cases = Vec::new();
    for len in huge {
        cases.push((
            "reserve",
            StoreOptions {
                reserve: len,
                ..StoreOptions::default()
            },
        ));
        cases.push((
            "initial_len",
            StoreOptions {
                initial_len: len,
                ..StoreOptions::default()
            },
        ));
        cases.push((
            "initial_len",
            StoreOptions {
                initial_len: len,
                reserve: len,
                ..StoreOptions::default()
            },
        ));
    }
    for (what, opts) in cases {
        for result in [
            Store::create(guard.name(), &opts),
            Store::open_or_create(guard.name(), &opts),
        ] {
            match result {
                Err(CreateError::InvalidOptions(message)) => {
                    assert!(
                        message.contains(what) && message.contains("larger than a store can be"),
                        "{opts:?}: {message}"
                    );
                }
                other => panic!("{opts:?}: {other:?}"),
            }
        }
    }
    assert!(matches!(
        Store::open(guard.name()),
        Err(shmkit::OpenError::NotFound { .. })
    ));
}

/// Moves this (forked, single-threaded) process into a mount namespace of its own. Without
/// CAP_SYS_ADMIN (not root), it first enters a user namespace of its own, which gives it that
/// capability there, where the kernel allows unprivileged user namespaces; the user and group
/// ids are mapped to themselves, so files keep their owner.
fn enter_private_mount_namespace() -> bool {
    // SAFETY: unshare has no memory preconditions; it changes only this process.
    if unsafe { libc::unshare(libc::CLONE_NEWNS) } == 0 {
        return true;
    }
    // SAFETY: the id getters have no preconditions.
    let (uid, gid) = unsafe { (libc::geteuid(), libc::getegid()) };
    // SAFETY: as above; a single-threaded process may enter a new user namespace.
    if unsafe { libc::unshare(libc::CLONE_NEWUSER | libc::CLONE_NEWNS) } != 0 {
        return false;
    }
    std::fs::write("/proc/self/setgroups", "deny").is_ok()
        && std::fs::write("/proc/self/uid_map", format!("{uid} {uid} 1")).is_ok()
        && std::fs::write("/proc/self/gid_map", format!("{gid} {gid} 1")).is_ok()
}

/// Runs `f` in a child with a private 4 MiB tmpfs mounted at `dir` (in its own mount
/// namespace, so nothing outlives it). Where mounting is not allowed (not root, and no
/// unprivileged user namespaces), see [`cannot_run_here`].
fn with_small_tmpfs(dir: &TempDir, f: impl FnOnce(&str) -> i32) {
    let path = dir.path().to_string_lossy().into_owned();
    let mut child = fork_child(move || {
        let target = std::ffi::CString::new(path.clone()).unwrap();
        // SAFETY: mount calls with valid NUL-terminated strings; they only affect this
        // child, which is in its own mount namespace.
        let mounted = enter_private_mount_namespace()
            && unsafe {
                libc::mount(
                    c"none".as_ptr(),
                    c"/".as_ptr(),
                    std::ptr::null(),
                    libc::MS_REC | libc::MS_PRIVATE,
                    std::ptr::null(),
                ) == 0
                    && libc::mount(
                        c"tmpfs".as_ptr(),
                        target.as_ptr(),
                        c"tmpfs".as_ptr(),
                        0,
                        c"size=4m".as_ptr().cast(),
                    ) == 0
            };
        if !mounted {
            eprintln!(
                "cannot mount a small tmpfs: {}",
                std::io::Error::last_os_error()
            );
            return 77;
        }
        f(&path)
    });
    match child.wait_timeout(Duration::from_secs(60)) {
        Exit::Code(0) => {}
        Exit::Code(77) => {
            cannot_run_here("mounting a small tmpfs needs root, or unprivileged user namespaces")
        }
        other => panic!("child: {other:?}"),
    }
}

#[test]
fn a_full_file_system_is_store_full() {
    let dir = TempDir::new("options-full");
    with_small_tmpfs(&dir, |mnt| {
        // Creation that does not fit.
        let too_big = StoreOptions {
            initial_len: 8 << 20,
            ..StoreOptions::default()
        };
        match Store::create(&format!("{mnt}/big"), &too_big) {
            Err(CreateError::StoreFull { needed, available }) => {
                if needed < 8 << 20 || available > 4 << 20 {
                    eprintln!("StoreFull numbers: needed {needed}, available {available}");
                    return 1;
                }
            }
            other => {
                eprintln!("create: expected StoreFull, got {other:?}");
                return 2;
            }
        }
        if std::fs::read_dir(mnt).unwrap().count() != 0 {
            eprintln!("a failed creation left files behind");
            return 3;
        }
        // Growth that does not fit: allocate until the file system is full.
        let store = Store::create(&format!("{mnt}/small"), &StoreOptions::default()).unwrap();
        let mut blocks = Vec::new();
        let err = loop {
            match store.alloc(200_000) {
                Ok(off) => {
                    store.write_bytes(off, &[1u8; 200_000]).unwrap();
                    blocks.push(off);
                }
                Err(e) => break e,
            }
        };
        match err {
            AllocError::StoreFull { needed, available } => {
                if needed == 0 || available >= needed {
                    eprintln!("StoreFull numbers: needed {needed}, available {available}");
                    return 4;
                }
            }
            other => {
                eprintln!("alloc: expected StoreFull, got {other:?}");
                return 5;
            }
        }
        // The store still works: memory freed is reused, the check is clean.
        let n = blocks.len();
        for off in blocks.drain(..) {
            store.free(off).unwrap();
        }
        for _ in 0..n {
            blocks.push(store.alloc(200_000).unwrap());
        }
        if !store.verify_allocator().unwrap().is_clean() || n < 5 {
            return 6;
        }
        0
    });
}

#[test]
fn a_reservation_that_cannot_be_mapped_fails_creation_cleanly() {
    // More address space than a 47-bit user address space has: mapping it must fail, and
    // then no store may be left behind under the name.
    let guard = StoreGuard::new("options-huge-reserve");
    let opts = StoreOptions {
        reserve: 1 << 50,
        ..StoreOptions::default()
    };
    let err = Store::create(guard.name(), &opts).expect_err("a 1 PiB reservation cannot be mapped");
    eprintln!("create with a 1 PiB reservation: {err}");
    assert!(
        matches!(
            Store::open(guard.name()),
            Err(shmkit::OpenError::NotFound { .. })
        ),
        "a failed creation published a store nobody can map"
    );
}

#[test]
fn a_growth_refused_for_another_reason_than_a_full_disk_is_not_store_full() {
    // A process under a file-size limit (RLIMIT_FSIZE) cannot grow the store: fallocate
    // fails with EFBIG. That is an I/O error with its errno, not "store full" (which says
    // the file system ran out of space and how much is left).
    let guard = StoreGuard::new("options-fsize");
    let store = Store::create(guard.name(), &StoreOptions::default()).unwrap();
    let len = store.committed_len();
    let mut child = fork_child(move || {
        // SAFETY: plain system calls in the forked child: ignore the signal the limit
        // raises, then cap this process's file size at the store's current length.
        unsafe {
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            let cap = libc::rlimit {
                rlim_cur: len,
                rlim_max: len,
            };
            if libc::setrlimit(libc::RLIMIT_FSIZE, &cap) != 0 {
                return 2;
            }
        }
        match store.alloc(4 * len) {
            Err(AllocError::Io(e)) if e.raw_os_error() == Some(libc::EFBIG) => 0,
            Err(AllocError::StoreFull { .. }) => 3,
            Ok(_) => 4,
            Err(_) => 5,
        }
    });
    assert_eq!(
        child.wait_timeout(Duration::from_secs(30)),
        Exit::Code(0),
        "3: reported as StoreFull; 4: grew past the limit; 5: another error"
    );
}
