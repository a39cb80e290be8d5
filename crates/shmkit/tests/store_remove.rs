//! Removing a store: never a file that is not a store; with `remove_if_unused`, never a
//! store another process is attached to (the caller's own attachment does not count);
//! processes attached when a store is removed keep working on it.

mod common;

use common::{Exit, Pipe, StoreGuard, TempDir, fork_child, watchdog};
use shmkit::store::remove::Removed;
use shmkit::{OpenError, Store, StoreOptions};
use std::path::Path;
use std::time::Duration;

fn exists(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok()
}

#[test]
fn files_that_are_not_stores_are_never_removed() {
    let _dog = watchdog(60);
    let dir = TempDir::new("remove-foreign");
    let foreign = dir.store_path("notes.txt");
    std::fs::write(&foreign, b"someone else's file, longer than a magic").unwrap();
    let empty = dir.store_path("empty");
    std::fs::write(&empty, b"").unwrap();
    let sub = dir.store_path("subdir");
    std::fs::create_dir(&sub).unwrap();
    let link = dir.store_path("link");
    let real = dir.store_path("real");
    drop(Store::create(&real, &StoreOptions::default()).unwrap());
    std::os::unix::fs::symlink(&real, &link).unwrap();
    // A FIFO: opening one for reading would wait for a writer for ever.
    let fifo = dir.store_path("fifo");
    let c = std::ffi::CString::new(fifo.clone()).unwrap();
    // SAFETY: `c` is a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    for path in [&foreign, &sub, &link, &fifo] {
        for result in [
            Store::remove(path).map(|()| Removed::Yes),
            Store::remove_if_unused(path),
        ] {
            assert!(
                matches!(result, Err(OpenError::NotAStore { .. })),
                "{path}: {result:?}"
            );
            assert!(exists(Path::new(path)), "{path} was removed");
        }
    }
    assert!(matches!(
        Store::remove(&empty),
        Err(OpenError::Empty { .. })
    ));
    assert!(exists(Path::new(&empty)));
    // The store the link points to is untouched, and removable by its own name.
    assert!(exists(Path::new(&real)));
    Store::remove(&real).unwrap();
    assert!(!exists(Path::new(&real)));
    assert!(matches!(
        Store::remove(&real),
        Err(OpenError::NotFound { .. })
    ));
}

#[test]
fn a_damaged_store_can_still_be_removed() {
    let dir = TempDir::new("remove-damaged");
    let path = dir.store_path("damaged");
    drop(Store::create(&path, &StoreOptions::default()).unwrap());
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..100]).unwrap(); // magic intact, header cut short
    assert!(matches!(
        Store::open(&path),
        Err(OpenError::Truncated { .. })
    ));
    assert_eq!(Store::remove_if_unused(&path).unwrap(), Removed::Yes);
    assert!(!exists(Path::new(&path)));
}

#[test]
fn remove_if_unused_refuses_while_another_process_is_attached() {
    let _dog = watchdog(60);
    let guard = StoreGuard::new("remove-in-use");
    let store = Store::create(guard.name(), &StoreOptions::default()).unwrap();
    let map = store.hash_map("m").unwrap();
    map.set(b"k", b"before").unwrap();
    let path = store.path().to_path_buf();
    // Our own attachment does not count: an attached child's does.
    let (ready, mut go) = (Pipe::new(), Pipe::new());
    let name = guard.name().to_string();
    let mut child = fork_child(|| {
        let store = Store::open(&name).unwrap();
        let map = store.hash_map("m").unwrap();
        ready.send(b"A");
        go.wait_closed();
        // The name is gone by now; the store still works for those attached.
        let ok = map.get(b"k").unwrap().as_deref() == Some(&b"before"[..])
            && map.set(b"k", b"after").is_ok();
        if ok { 0 } else { 1 }
    });
    ready.read_exact(1);
    assert_eq!(
        Store::remove_if_unused(guard.name()).unwrap(),
        Removed::InUse
    );
    assert!(exists(&path), "removed while another process was attached");
    assert!(Store::is_in_use(guard.name()).unwrap());
    // Removed anyway (Store::remove does not wait for the child).
    Store::remove(guard.name()).unwrap();
    assert!(!exists(&path));
    go.close_write();
    assert_eq!(child.wait_timeout(Duration::from_secs(20)), Exit::Code(0));
    assert_eq!(map.get(b"k").unwrap().as_deref(), Some(&b"after"[..]));
}

#[test]
fn remove_if_unused_removes_once_the_others_are_gone() {
    let _dog = watchdog(60);
    let guard = StoreGuard::new("remove-unused");
    let store = Store::create(guard.name(), &StoreOptions::default()).unwrap();
    let path = store.path().to_path_buf();
    let name = guard.name().to_string();
    let mut child = fork_child(move || {
        let s = Store::open(&name).unwrap();
        drop(s);
        0
    });
    assert_eq!(child.wait_timeout(Duration::from_secs(20)), Exit::Code(0));
    // Still attached ourselves, and that is fine.
    assert_eq!(Store::remove_if_unused(guard.name()).unwrap(), Removed::Yes);
    assert!(!exists(&path));
    // Our attachment is intact.
    store.hash_map("m").unwrap().set(b"k", b"v").unwrap();
}
