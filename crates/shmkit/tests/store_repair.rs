//! `Store::repair` frees leaked blocks only under exclusive use of the store: while another
//! process is attached nothing is freed (it may hold a block it has not published yet), and
//! once it is gone the same repair frees the leak. Attaching waits while a repair's sweep
//! holds the store exclusively, and works once the sweep is over.

mod common;

use common::{Pipe, TestStore, fork_child, watchdog};
use shmkit::Store;
use shmkit::maintenance::check::NotRepairedBecause;

#[test]
fn leaked_blocks_are_freed_only_when_no_other_process_is_attached() {
    let _dog = watchdog(120);
    let t = TestStore::new("repair-exclusive");
    t.hash_map("m").unwrap().set(b"k", b"v").unwrap();
    let stray = t.alloc(100).unwrap();
    let mut attached = Pipe::new();
    let mut release = Pipe::new();
    let name = t.name().to_string();
    let child = fork_child(|| {
        attached.close_read();
        release.close_write();
        // A process of its own: its own attachment, its own "attached" lock.
        let Ok(store) = Store::open(&name) else {
            return 1;
        };
        store.owner_id();
        attached.send(b"a");
        release.wait_closed();
        drop(store);
        0
    });
    attached.close_write();
    release.close_read();
    assert_eq!(attached.read_exact(1), b"a");
    let r = t.repair();
    assert!(
        r.not_repaired
            .iter()
            .any(|n| n.because == NotRepairedBecause::Skipped
                && n.what.contains("other processes are attached")),
        "{r:?}"
    );
    assert!(!r.repaired.iter().any(|s| s.contains("leaked")), "{r:?}");
    assert_eq!(t.find_unreachable().unwrap().unreachable, vec![stray]);
    release.close_write();
    child.expect_success();
    let r = t.repair();
    assert!(
        r.repaired
            .iter()
            .any(|s| s.contains("freed 1 leaked block")),
        "{r:?}"
    );
    assert!(r.after.is_clean(), "{r:?}");
    // The attached lock is shared again: another process can attach.
    let name = t.name().to_string();
    // (A forked child attaches for itself on its first use: it gets an owner id only once
    // it holds the shared "attached" lock.)
    fork_child(move || i32::from(Store::open(&name).map_or(true, |s| s.owner_id() == 0)))
        .expect_success();
}
