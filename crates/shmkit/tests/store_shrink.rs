//! No SIGBUS from a shrunk file: another process truncates a store while a reader loops over
//! its map; the reader gets errors (`Corrupt`, saying the file shrank), its whole-store check
//! reports it, and no signal kills it. The process that truncated (also attached) survives
//! its own later accesses too.

mod common;

use common::{Exit, Pipe, TestStore, fork_child, watchdog};
use shmkit::maintenance::check::Finding;
use shmkit::{ErrorKind, MapError};

#[test]
fn a_store_truncated_under_a_reader_gives_errors_not_sigbus() {
    let _dog = watchdog(120);
    let t = TestStore::new("shrink");
    let map = t.hash_map("m").unwrap();
    for i in 0..20_000u32 {
        map.set(&i.to_le_bytes(), &[7u8; 100]).unwrap();
    }
    let file_len = std::fs::metadata(t.path()).unwrap().len();
    assert!(file_len > 1 << 20, "the store is {file_len} bytes");
    let mut started = Pipe::new();
    let reader_map = map.clone();
    let mut reader = fork_child(|| {
        started.close_read();
        let mut signalled = false;
        for round in 0..u64::MAX {
            for i in 0..20_000u32 {
                match reader_map.get(&i.to_le_bytes()) {
                    Ok(Some(v)) if v == [7u8; 100] => {}
                    Ok(other) => {
                        eprintln!("round {round}, key {i}: read {other:?} instead of an error");
                        return 1;
                    }
                    Err(e @ MapError::Corrupt { .. }) => {
                        let store = reader_map.store();
                        let shrank = e.to_string().contains("shrank")
                            && shmkit::Error::from(e).kind() == ErrorKind::Corrupt
                            && store.faulted_at().is_some()
                            && store
                                .check()
                                .findings
                                .iter()
                                .any(|f| matches!(f, Finding::FileShrank { .. }))
                            && reader_map.set(b"k", b"v").is_err()
                            && store.alloc(64).is_err();
                        return if shrank { 0 } else { 2 };
                    }
                    Err(e) => {
                        eprintln!("round {round}, key {i}: {e}");
                        return 3;
                    }
                }
            }
            if !signalled {
                started.send(b"s");
                signalled = true;
            }
        }
        4
    });
    started.close_write();
    assert_eq!(started.read_exact(1), b"s");
    // Another process (this one, attached too) cuts the file down to its header page.
    std::fs::OpenOptions::new()
        .write(true)
        .open(t.path())
        .unwrap()
        .set_len(4096)
        .unwrap();
    assert_eq!(
        reader.wait(),
        Exit::Code(0),
        "the reader died or was fooled"
    );
    // This process's own accesses fail the same way, without a signal.
    assert!(map.get(&0u32.to_le_bytes()).is_err());
    assert!(t.faulted_at().is_some());
}

/// The handler only handles faults in store mappings: a SIGBUS anywhere else in the process
/// still has its usual effect (here the default: the process dies by the signal).
#[test]
fn a_sigbus_outside_every_store_still_kills() {
    let _dog = watchdog(60);
    let t = TestStore::new("shrink-foreign"); // installs the handler in this process
    let dir = common::TempDir::new("shrink-foreign");
    let path = dir.path().join("empty");
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(&path)
        .unwrap();
    let mut child = fork_child(|| {
        use std::os::fd::AsRawFd;
        // SAFETY: a fresh shared mapping of one page of an empty file; touching it raises
        // SIGBUS, which is the point.
        unsafe {
            let p = libc::mmap(
                std::ptr::null_mut(),
                4096,
                libc::PROT_READ,
                libc::MAP_SHARED,
                file.as_raw_fd(),
                0,
            );
            if p == libc::MAP_FAILED {
                return 2;
            }
            std::ptr::read_volatile(p as *const u8) as i32
        }
    });
    assert_eq!(child.wait(), Exit::Signal(libc::SIGBUS));
    drop(t);
}
