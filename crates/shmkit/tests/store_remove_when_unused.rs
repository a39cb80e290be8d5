//! `StoreOptions::remove_when_unused`: the last process to detach removes the store's name —
//! never while another process is attached, and a process killed while attached leaves no
//! count behind (the next last detach removes the store). A process that exits without
//! dropping its handles (a forked child leaving with `_exit`) does not detach: its store
//! stays until a later last detach or `shmkit gc`.

mod common;

use common::{Pipe, StoreGuard, fork_child, watchdog};
use shmkit::{Store, StoreOptions};
use std::path::PathBuf;

fn options() -> StoreOptions {
    StoreOptions {
        remove_when_unused: true,
        ..StoreOptions::default()
    }
}

/// A child forked before the store exists (so it holds no handle inherited from this
/// process), attached to `name` from when `attach` is called until `release` is closed (or
/// it is killed).
struct AttachedChild {
    child: common::Child,
    go: Pipe,
    attached: Pipe,
}

fn attached_child(name: &str, release: &mut Pipe) -> AttachedChild {
    let mut go = Pipe::new();
    let mut attached = Pipe::new();
    let name = name.to_string();
    let child = fork_child(|| {
        go.close_write();
        attached.close_read();
        release.close_write();
        if go.read_exact(1) != b"g" {
            return 3;
        }
        let Ok(store) = Store::open(&name) else {
            return 1;
        };
        if store.owner_id() == 0 {
            return 2;
        }
        attached.send(b"a");
        release.wait_closed();
        drop(store);
        0
    });
    go.close_read();
    attached.close_write();
    release.close_read();
    AttachedChild {
        child,
        go,
        attached,
    }
}

impl AttachedChild {
    /// Lets the child attach; returns once it is attached.
    fn attach(self) -> common::Child {
        self.go.send(b"g");
        assert_eq!(self.attached.read_exact(1), b"a", "the child attached");
        self.child
    }
}

fn path_of(name: &str) -> PathBuf {
    shmkit::store::name::resolve(name).unwrap()
}

#[test]
fn the_last_process_to_detach_removes_the_store() {
    let _dog = watchdog(120);
    let guard = StoreGuard::new("remove-when-unused");
    let mut release = Pipe::new();
    let child = attached_child(guard.name(), &mut release);
    let store = Store::create(guard.name(), &options()).unwrap();
    assert!(store.removes_when_unused());
    store.hash_map("m").unwrap().set(b"k", b"v").unwrap();
    let child = child.attach();
    drop(store);
    assert!(
        path_of(guard.name()).exists(),
        "removed while another process was attached"
    );
    release.close_write();
    child.expect_success();
    assert!(
        !path_of(guard.name()).exists(),
        "the last process detached and the store stayed"
    );
}

#[test]
fn a_killed_last_process_leaves_no_count_behind() {
    let _dog = watchdog(120);
    let guard = StoreGuard::new("remove-when-unused-kill");
    let mut release = Pipe::new();
    let child = attached_child(guard.name(), &mut release);
    let store = Store::create(guard.name(), &options()).unwrap();
    let child = child.attach();
    drop(store);
    child.kill_and_wait();
    // Nobody detached cleanly last: the store stays, unused.
    assert!(path_of(guard.name()).exists());
    assert!(!Store::is_in_use(guard.name()).unwrap());
    // The next process to attach and detach removes it (the option is in the header).
    let again = Store::open(guard.name()).unwrap();
    assert!(again.removes_when_unused());
    drop(again);
    assert!(!path_of(guard.name()).exists());
}

#[test]
fn without_the_option_the_store_stays() {
    let guard = StoreGuard::new("remove-when-unused-off");
    let store = Store::create(guard.name(), &StoreOptions::default()).unwrap();
    assert!(!store.removes_when_unused());
    drop(store);
    assert!(path_of(guard.name()).exists());
}
