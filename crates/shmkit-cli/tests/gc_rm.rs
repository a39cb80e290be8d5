//! `shmkit gc` and `shmkit rm`: dead processes' state is cleaned, unused stores removed on
//! request, a store a live process holds is never removed (unless `rm --force`), foreign
//! files are never touched, stale temporary files go.

mod common;

use common::{StoreDir, attached_child, fork_child, wait_for, watchdog};
use shmkit::Store;
use shmkit::store::header::StoreHeader;
use std::time::{Duration, SystemTime};

fn old_temp(d: &StoreDir, name: &str, age: Duration) -> std::path::PathBuf {
    let tmp = d.dir.join(name);
    let f = std::fs::File::create(&tmp).unwrap();
    f.set_modified(SystemTime::now() - age).unwrap();
    tmp
}

#[test]
fn gc_removes_unused_stores_but_never_one_in_use() {
    let _w = watchdog(60);
    let d = StoreDir::new("gc-unused");
    drop(d.create("unused"));
    drop(d.create("held"));
    std::fs::write(d.path("foreign"), b"someone else's file").unwrap();
    let stale_tmp = old_temp(
        &d,
        ".shmkit-tmp.shmkit.x.999999.1",
        Duration::from_secs(300),
    );
    let fresh_tmp = old_temp(
        &d,
        &format!(".shmkit-tmp.shmkit.y.{}.2", std::process::id()),
        Duration::ZERO,
    );
    let holder = attached_child(&d.store("held"));

    let run = d.shmkit(&["gc", "--remove-unused"]);
    run.expect_code(0);
    assert!(
        run.stdout.contains("unused: removed (no process attached)"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("held: in use by 1 process; kept"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("removed (leftover temporary file"),
        "{}",
        run.stdout
    );
    assert!(!d.path("unused").exists());
    assert!(d.path("held").exists(), "a store in use was removed");
    assert!(d.path("foreign").exists(), "a foreign file was removed");
    assert!(!stale_tmp.exists());
    assert!(fresh_tmp.exists());

    // The holder still works on its store, and it is the same file.
    assert!(Store::is_in_use(&d.store("held")).unwrap());
    drop(holder); // SIGKILL
    let run = d.shmkit(&["gc", "--remove-unused"]);
    run.expect_code(0);
    assert!(run.stdout.contains("held: removed"), "{}", run.stdout);
    assert!(!d.path("held").exists());
}

#[test]
fn gc_cleans_dead_processes_state() {
    let _w = watchdog(60);
    let d = StoreDir::new("gc-dead");
    drop(d.create("crashy"));
    let path = d.store("crashy");
    let p = path.clone();
    let child = fork_child(move || {
        let store = Store::open(&p).unwrap();
        let heap = &store.get::<StoreHeader>(0).unwrap().heap.0.lock;
        let _guard = store.lock(heap);
        loop {
            std::thread::park(); // until SIGKILLed
        }
    });
    wait_for(
        "child to hold the heap lock",
        Duration::from_secs(60),
        || {
            let s = Store::open(&path).unwrap();
            s.get::<StoreHeader>(0)
                .unwrap()
                .heap
                .0
                .lock
                .owner()
                .is_some()
        },
    );
    child.kill_and_wait();

    let dry = d.shmkit(&["gc", "--dry-run"]);
    dry.expect_code(0);
    assert!(
        dry.stdout
            .contains("crashy: would reclaim 1 dead process slot"),
        "{}",
        dry.stdout
    );
    let before = d.shmkit(&["ls", "--json"]).json();
    assert_eq!(before["stores"][0]["stale"], true);

    let run = d.shmkit(&["gc"]);
    run.expect_code(0);
    assert!(run.stdout.contains("crashy: "), "{}", run.stdout);
    assert!(
        run.stdout
            .contains("cleared the heap lock left by a dead process"),
        "{}",
        run.stdout
    );
    assert!(
        d.path("crashy").exists(),
        "gc without --remove-unused removed a store"
    );
    let after = d.shmkit(&["ls", "--json"]).json();
    assert_eq!(after["stores"][0]["stale"], false, "{}", after);
    d.shmkit(&["check", "crashy"]).expect_code(0);

    let idle = d.shmkit(&["gc"]);
    idle.expect_code(0);
    assert!(
        idle.stdout.starts_with("nothing to clean"),
        "{}",
        idle.stdout
    );
}

#[test]
fn gc_dry_run_changes_nothing() {
    let d = StoreDir::new("gc-dry");
    drop(d.create("idle"));
    let tmp = old_temp(
        &d,
        ".shmkit-tmp.shmkit.z.999999.3",
        Duration::from_secs(600),
    );
    let run = d.shmkit(&["gc", "--remove-unused", "--dry-run"]);
    run.expect_code(0);
    assert!(run.stdout.contains("idle: would remove"), "{}", run.stdout);
    assert!(
        run.stdout.contains("would remove (leftover temporary file"),
        "{}",
        run.stdout
    );
    assert!(d.path("idle").exists());
    assert!(tmp.exists());
}

#[test]
fn rm_refuses_a_store_in_use_unless_forced() {
    let _w = watchdog(60);
    let d = StoreDir::new("rm-in-use");
    drop(d.create("busy"));
    let _holder = attached_child(&d.store("busy"));
    let run = d.shmkit(&["rm", "busy"]);
    run.expect_code(6);
    assert!(
        run.stderr
            .contains("store busy is in use by another process; not removed"),
        "{}",
        run.stderr
    );
    assert!(d.path("busy").exists());
    let run = d.shmkit(&["rm", "--force", "busy"]);
    run.expect_code(0);
    assert_eq!(run.stdout, "removed busy\n");
    assert!(!d.path("busy").exists());
}

#[test]
fn rm_removes_unused_stores_and_never_foreign_files() {
    let d = StoreDir::new("rm-plain");
    drop(d.create("a"));
    drop(d.create("b"));
    std::fs::write(d.path("notmine"), b"precious data, not a store").unwrap();
    let run = d.shmkit(&["rm", "a", "notmine", "missing", "b"]);
    // Every store was tried; the code is the last failure's: "missing" (3, not found), not
    // "notmine" (4, not a store) before it.
    run.expect_code(3);
    assert!(
        run.stdout.contains("removed a") && run.stdout.contains("removed b"),
        "{}",
        run.stdout
    );
    assert!(
        run.stderr.contains("is not a shmkit store; not removed"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("no store named missing"),
        "{}",
        run.stderr
    );
    assert!(!d.path("a").exists() && !d.path("b").exists());
    assert!(d.path("notmine").exists());
    let forced = d.shmkit(&["rm", "--force", "notmine"]);
    forced.expect_code(4);
    assert!(d.path("notmine").exists());
    // The other order: the last failure is now "notmine".
    drop(d.create("c"));
    let run = d.shmkit(&["rm", "missing", "c", "notmine"]);
    run.expect_code(4);
    assert_eq!(run.stdout, "removed c\n");
    assert!(!d.path("c").exists() && d.path("notmine").exists());
}

#[test]
fn gc_leaves_a_damaged_store_alone() {
    let d = StoreDir::new("gc-damaged");
    drop(d.create("broken"));
    let byte = common::peek(&d.path("broken"), 20, 1)[0];
    common::poke(&d.path("broken"), 20, &[byte ^ 1]); // inside the checksummed header
    let run = d.shmkit(&["gc", "--remove-unused"]);
    run.expect_code(0);
    assert!(
        run.stdout
            .contains("broken: left alone: its header is damaged"),
        "{}",
        run.stdout
    );
    assert!(d.path("broken").exists());
}

#[test]
fn gc_removes_a_remove_when_unused_store_whose_last_process_died() {
    let _w = watchdog(60);
    let d = StoreDir::new("gc-rwu");
    let options = shmkit::StoreOptions {
        remove_when_unused: true,
        ..shmkit::StoreOptions::default()
    };
    drop(Store::create(&d.store("flagged"), &options).unwrap()); // its last detach removes it
    assert!(!d.path("flagged").exists());
    // Created by a process that was killed while attached: nobody detached last.
    let path = d.store("orphan");
    let creator = fork_child(move || {
        let _store = match Store::create(&path, &options) {
            Ok(s) => s,
            Err(_) => return 3,
        };
        loop {
            std::thread::park(); // until SIGKILLed
        }
    });
    wait_for("the creator to attach", Duration::from_secs(60), || {
        Store::is_in_use(&d.store("orphan")).unwrap_or(false)
    });
    let run = d.shmkit(&["gc"]);
    run.expect_code(0);
    assert!(d.path("orphan").exists(), "removed while its creator lived");
    creator.kill_and_wait();
    drop(d.create("plain")); // unused, but not created to be removed
    let run = d.shmkit(&["gc", "--dry-run"]);
    assert!(
        run.stdout.contains(
            "orphan: would remove (no process attached; created to be removed when unused)"
        ),
        "{}",
        run.stdout
    );
    assert!(d.path("orphan").exists());
    let run = d.shmkit(&["gc"]);
    run.expect_code(0);
    assert!(
        run.stdout
            .contains("orphan: removed (no process attached; created to be removed when unused)"),
        "{}",
        run.stdout
    );
    assert!(!d.path("orphan").exists());
    assert!(
        d.path("plain").exists(),
        "gc removed an unused store without --remove-unused"
    );
}
