//! A forked child that cannot open a file description of its own (descriptor limit reached,
//! so neither the fork handler nor re-attaching could renew the inherited one) still shares
//! its parent's description. When it detaches it must not release the parent's "attached"
//! lock through it, or `Store::is_in_use` (and so `shmkit rm`/`gc`) would see the parent's
//! live store as unused. The other way round, a parent that detaches while such a child
//! lives must release its locks itself (closing its descriptor does not, the child still
//! shares the description), or its registry slot stays unclaimable until the child exits.

mod common;

use common::{Exit, Pipe, StoreGuard, fork_child, watchdog};
use shmkit::store::registry::ATTACH_LOCK_BYTE;
use shmkit::sys::{ByteLock, OpenMode, byte_is_locked_by_other, open_file};
use shmkit::{OpenError, Store, StoreOptions};
use std::os::fd::AsRawFd;
use std::time::Duration;

/// Forks a child that can open no new descriptor: the fork handler cannot give it a
/// description of its own for the store's lock descriptor, so it shares its parent's.
fn fork_without_new_descriptors(f: impl FnOnce() -> i32) -> common::Child {
    // Limit descriptors to those open now, so the child can open no new one.
    let lowest = std::fs::File::open("/dev/null").unwrap().as_raw_fd() as u64;
    let mut old = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit fills the struct we pass.
    assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut old) }, 0);
    let low = libc::rlimit {
        rlim_cur: lowest,
        rlim_max: old.rlim_max,
    };
    // SAFETY: lowering our own soft limit; restored right after the fork.
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &low) }, 0);
    let child = fork_child(f);
    // SAFETY: restoring the limit read above.
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &old) }, 0);
    child
}

/// The store handle the child takes over (a static, so the forked child finds it).
static KEEP: std::sync::Mutex<Option<Store>> = std::sync::Mutex::new(None);

#[test]
fn slotless_child_sharing_the_description_keeps_the_parents_attach_lock() {
    let _watchdog = watchdog(60);
    let guard = StoreGuard::new("fork-no-descriptor");
    let store = Store::create(&guard.0, &StoreOptions::default()).unwrap();
    let path = store.path().to_path_buf();
    *KEEP.lock().unwrap() = Some(store);
    let attached = || {
        let fd = open_file(&path, OpenMode::ReadOnly, 0).unwrap();
        byte_is_locked_by_other(&fd, ATTACH_LOCK_BYTE, ByteLock::Exclusive).unwrap()
    };
    assert!(attached());

    let mut child = fork_without_new_descriptors(|| {
        let store = KEEP.lock().unwrap().take().unwrap();
        let id = store.owner_id(); // re-attach fails: no descriptor, so no slot
        drop(store); // detach through the (shared) inherited description
        if id == 0 { 0 } else { 3 }
    });

    let exit = child.wait_timeout(Duration::from_secs(20));
    assert!(
        matches!(exit, Exit::Code(0)),
        "child: {exit:?} (3: it got a slot after all)"
    );
    assert!(
        attached(),
        "the parent is still attached, but a slotless child's detach released its attach lock"
    );
    drop(KEEP.lock().unwrap().take());
}

#[test]
fn a_detaching_parent_frees_its_slot_though_a_child_shares_its_description() {
    let _watchdog = watchdog(60);
    let guard = StoreGuard::new("fork-no-descriptor-detach");
    let options = StoreOptions {
        max_processes: 1,
        ..StoreOptions::default()
    };
    let store = Store::create(&guard.0, &options).unwrap();
    let _ = store.owner_id();
    // The child never touches the store; it lives until `lifeline` closes.
    let mut lifeline = Pipe::new();
    let mut child = fork_without_new_descriptors(|| {
        lifeline.wait_closed();
        0
    });
    drop(store); // detach: the only slot must be claimable again at once
    let name = guard.0.clone();
    let mut next = fork_child(move || match Store::open(&name).map(|s| s.owner_id()) {
        Ok(id) if id != 0 => 0,
        Ok(_) => 2,
        Err(OpenError::RegistryFull { .. }) => 3,
        Err(_) => 4,
    });
    let exit = next.wait_timeout(Duration::from_secs(20));
    lifeline.close_write();
    assert_eq!(child.wait_timeout(Duration::from_secs(20)), Exit::Code(0));
    assert_eq!(
        exit,
        Exit::Code(0),
        "3: registry full: the detached parent's slot stayed locked through the description \
         its child shares"
    );
}
