//! A child forked while another thread of its parent attaches to a store must not keep the
//! parent's liveness locks. Every forked child gets a fresh open file description for the
//! attachment's lock descriptor, but only once the descriptor is registered with the fork
//! handler (`sys::renew_after_fork`); `Attachment::attach` keeps forks out (the fork gate)
//! from opening the descriptor until it is registered. A child forked in that window would
//! share the parent's open file description, and the locks taken on it.
//!
//! The leak shows only once the parent dies without detaching (a detach unlocks through the
//! shared description, which releases the child's copy too). So here the attaching process
//! is itself a forked child, SIGKILLed while attached, whose idle children (which never use
//! the store) live on: they must not keep it attached.
//!
//! The window is made wide and hit for certain: the test holds the store's removal lock (an
//! exclusive lock on file byte 0, as `shmkit rm` takes it), so the attaching thread waits
//! inside `claim_slot`, after opening its lock descriptor, while the other thread forks. With
//! the fork gate working, that fork waits until the attach gives up ("locked for removal",
//! after about a second of retries) and the attacher attaches again after it.

mod common;

use common::{Pipe, StoreGuard, fork_child, fork_orphanable, getpid, process_running, watchdog};
use shmkit::store::registry::ATTACH_LOCK_BYTE;
use shmkit::sys::{ByteLock, try_lock_byte};
use shmkit::{OpenError, Store};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Descriptors of this process open on the file with this inode.
fn fds_on(ino: u64) -> usize {
    std::fs::read_dir("/proc/self/fd")
        .expect("/proc/self/fd")
        .flatten()
        .filter(|e| std::fs::metadata(e.path()).is_ok_and(|m| m.ino() == ino))
        .count()
}

#[test]
fn children_forked_during_and_after_attach_keep_no_killed_parent_attached() {
    let _watchdog = watchdog(120);
    let guard = StoreGuard::new("fork-attach-window");
    let path = {
        let store = Store::create(guard.name(), &Default::default()).unwrap();
        store.path().to_path_buf()
    };
    let ino = std::fs::metadata(&path).unwrap().ino();
    // The removal lock, which makes an attach wait in `claim_slot`.
    let removal: OwnedFd = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&path)
        .unwrap()
        .into();
    assert!(try_lock_byte(&removal, ATTACH_LOCK_BYTE, ByteLock::Exclusive).unwrap());
    let removal_fd = removal.as_raw_fd();
    // Idle children report their pid once they run, then wait on `lifeline` (they end when
    // the test closes it, also if it fails); the attacher reports on `progress`.
    let (mut started, mut progress, lifeline) = (Pipe::new(), Pipe::new(), Pipe::new());
    let name = guard.name();
    let attacher = fork_child(|| {
        // SAFETY: closing this process's copy of the test's removal-lock descriptor.
        unsafe { libc::close(removal_fd) };
        let base = fds_on(ino);
        let attached = AtomicBool::new(false);
        let idle = || {
            fork_orphanable(|| {
                started.send(&getpid().to_le_bytes());
                lifeline.wait_closed();
                0
            })
            .forget();
        };
        std::thread::scope(|s| {
            s.spawn(|| {
                // The first attempts fail ("locked for removal") while the test holds the
                // lock, if the fork below waits for them to leave their gated section.
                loop {
                    match Store::open(name) {
                        Ok(store) => {
                            let _ = store.owner_id();
                            std::mem::forget(store); // attached until killed
                            break;
                        }
                        Err(OpenError::Io { .. }) => continue,
                        Err(e) => panic!("{e}"),
                    }
                }
                attached.store(true, Ordering::SeqCst);
            });
            // The attaching thread has opened both its descriptors (the one it maps and the
            // one it locks through) and waits for byte 0 in `claim_slot`: fork now.
            while fds_on(ino) < base + 2 {
                std::hint::spin_loop();
            }
            assert!(!attached.load(Ordering::SeqCst));
            idle();
            progress.send(b"f");
            while !attached.load(Ordering::SeqCst) {
                std::hint::spin_loop();
            }
            // And a child forked by an attached process, as a worker pool would be.
            idle();
        });
        progress.send(b"a");
        loop {
            std::thread::sleep(Duration::from_secs(1));
        }
    });
    started.close_write();
    progress.close_write();
    let first = i32::from_le_bytes(started.read_exact(4).try_into().unwrap());
    assert_eq!(progress.read_exact(1), b"f");
    assert!(try_lock_byte(&removal, ATTACH_LOCK_BYTE, ByteLock::Unlock).unwrap());
    drop(removal);
    let second = i32::from_le_bytes(started.read_exact(4).try_into().unwrap());
    assert_eq!(progress.read_exact(1), b"a", "the attacher attached");
    let attached = Store::is_in_use(name).unwrap();
    assert_eq!(
        attacher.kill_and_wait(),
        common::Exit::Signal(libc::SIGKILL)
    );
    // The attacher is dead: nobody is attached, whatever its idle children hold.
    let in_use = Store::is_in_use(name).unwrap();
    let store = Store::open(name).unwrap();
    let listed = store.attached_processes().unwrap();
    let children_live = process_running(first) && process_running(second);
    drop(lifeline);
    assert!(attached, "the attacher was seen attached while it lived");
    assert!(
        children_live,
        "the idle children lived throughout the check"
    );
    assert!(
        !in_use && listed.len() == 1,
        "a killed process stays attached through children forked while (or after) it attached \
         that never used the store: in use {in_use}, listed {listed:?}"
    );
}
