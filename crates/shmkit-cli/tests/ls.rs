//! `shmkit ls`: stores with sizes, objects, processes and stale state; foreign files listed
//! as such without breaking the listing; `--json`; the real /dev/shm default directory.

mod common;

use common::{StoreDir, attached_child, run_shmkit, unique_name};
use shmkit::{ObjectKind, Store, StoreOptions};
use std::time::{Duration, SystemTime};

#[test]
fn lists_stores_objects_processes_and_foreign_files() {
    let _w = common::watchdog(60);
    let d = StoreDir::new("ls-mixed");
    let store = d.create("alpha");
    store
        .object_or_create("blob", ObjectKind::Raw, |s| s.alloc(64))
        .unwrap();
    drop(store);
    std::fs::write(
        d.path("junk"),
        b"this is not a store at all, just some text",
    )
    .unwrap();
    std::fs::write(d.path("empty"), b"").unwrap();
    let _holder = attached_child(&d.store("alpha"));

    let run = d.shmkit(&["ls"]);
    run.expect_code(0);
    let line = |name: &str| {
        run.stdout
            .lines()
            .find(|l| l.split_whitespace().next() == Some(name))
            .unwrap_or_else(|| panic!("no line for {name}:\n{}", run.stdout))
            .to_string()
    };
    let alpha = line("alpha");
    assert!(alpha.contains("store") && alpha.contains("ok"), "{alpha}");
    assert!(
        alpha.contains(&_holder.pid.to_string()),
        "holder pid missing: {alpha}"
    );
    assert!(alpha.contains("1.0 MiB"), "{alpha}");
    let blob = line("blob");
    assert!(blob.contains("raw"), "{blob}");
    assert!(line("junk").contains("not a shmkit store"));
    assert!(line("empty").contains("not a shmkit store (empty file)"));
}

#[test]
fn json_output_describes_everything() {
    let _w = common::watchdog(60);
    let d = StoreDir::new("ls-json");
    let store = d.create("beta");
    store
        .object_or_create("blob", ObjectKind::Raw, |s| s.alloc(64))
        .unwrap();
    drop(store);
    std::fs::write(d.path("junk"), b"not a store").unwrap();
    let holder = attached_child(&d.store("beta"));

    let doc = d.shmkit(&["ls", "--json"]).expect_code(0).json();
    assert_eq!(doc["directory"], d.dir.to_string_lossy().as_ref());
    let stores = doc["stores"].as_array().unwrap();
    assert_eq!(stores.len(), 2);
    let beta = stores.iter().find(|s| s["name"] == "beta").unwrap();
    assert_eq!(beta["kind"], "store");
    assert_eq!(beta["committed_bytes"], 1 << 20);
    assert!(beta["disk_bytes"].as_u64().unwrap() > 0);
    assert_eq!(beta["objects"][0]["name"], "blob");
    assert_eq!(beta["objects"][0]["kind"], "raw");
    assert_eq!(beta["processes"][0]["pid"], holder.pid as i64);
    assert_eq!(beta["in_use"], true);
    assert_eq!(beta["stale"], false);
    let junk = stores.iter().find(|s| s["name"] == "junk").unwrap();
    assert_eq!(junk["kind"], "not_a_store");
}

#[test]
fn reports_dead_processes_and_leftover_temp_files_as_stale() {
    let _w = common::watchdog(60);
    let d = StoreDir::new("ls-stale");
    drop(d.create("gamma"));
    let path = d.store("gamma");
    // A child attaches and is SIGKILLed: its registry slot stays marked until swept.
    let child = attached_child(&path);
    let pid = child.pid;
    child.kill_and_wait();
    // A temporary file of an interrupted creation, two minutes old.
    let tmp = d
        .dir
        .join(".shmkit-tmp.shmkit.delta.999999.1700000000000000000");
    let f = std::fs::File::create(&tmp).unwrap();
    f.set_modified(SystemTime::now() - Duration::from_secs(120))
        .unwrap();
    drop(f);

    let doc = d.shmkit(&["ls", "--json"]).expect_code(0).json();
    let gamma = &doc["stores"][0];
    assert_eq!(gamma["stale"], true, "{gamma}");
    assert_eq!(gamma["dead_process_pids"][0], pid as i64);
    assert!(
        gamma["stale_reasons"][0]
            .as_str()
            .unwrap()
            .contains("dead process slot")
    );
    let t = &doc["temp_files"][0];
    assert_eq!(t["stale"], true);
    assert_eq!(t["creator_pid"], 999999);
    assert!(t["age_seconds"].as_u64().unwrap() >= 119);

    // The text form says the same.
    drop(d.create("epsilon"));
    let c2 = attached_child(&d.store("epsilon"));
    c2.kill_and_wait();
    let run = d.shmkit(&["ls"]).expect_code(0).stdout.clone();
    assert!(run.contains("stale: 1 dead process slot"), "{run}");
    assert!(
        run.contains("leftover of an interrupted store creation"),
        "{run}"
    );
}

#[test]
fn named_paths_and_missing_ones() {
    let _w = common::watchdog(60);
    let d = StoreDir::new("ls-paths");
    drop(d.create("one"));
    let elsewhere = d.dir.join("plainfile.bin");
    std::fs::write(&elsewhere, vec![7u8; 5000]).unwrap();
    let run = d.shmkit(&["ls", &d.store("one"), elsewhere.to_str().unwrap()]);
    run.expect_code(0);
    assert!(
        run.stdout.contains("not a shmkit store (no shmkit header)"),
        "{}",
        run.stdout
    );
    // A directory argument is scanned; a missing store is reported with exit code 3.
    let run = d.shmkit(&["ls", d.dir.to_str().unwrap(), "nosuchstore"]);
    run.expect_code(3);
    assert!(run.stdout.contains("one"), "{}", run.stdout);
    assert!(run.stdout.contains("no such file"), "{}", run.stdout);
}

#[test]
fn empty_directory_says_so() {
    let d = StoreDir::new("ls-empty");
    let run = d.shmkit(&["ls"]);
    run.expect_code(0);
    assert!(run.stdout.starts_with("no stores in"), "{}", run.stdout);
    let doc = d.shmkit(&["ls", "--json"]).expect_code(0).json();
    assert_eq!(doc["stores"].as_array().unwrap().len(), 0);
}

/// The default store directory is /dev/shm when SHMKIT_DIR is not set.
#[test]
fn default_directory_is_dev_shm() {
    let _w = common::watchdog(60);
    let name = unique_name("ls-default");
    let store = Store::create(&name, &StoreOptions::default()).unwrap();
    assert!(store.path().starts_with("/dev/shm"));
    struct Cleanup<'a>(&'a str);
    impl Drop for Cleanup<'_> {
        fn drop(&mut self) {
            let _ = Store::remove(self.0);
        }
    }
    let _cleanup = Cleanup(&name);
    drop(store);
    // By name, resolved in /dev/shm.
    let run = run_shmkit(&["ls", "--json", &name], None)
        .expect_code(0)
        .json();
    assert_eq!(run["stores"][0]["path"], format!("/dev/shm/shmkit.{name}"));
    assert_eq!(run["stores"][0]["kind"], "store");
    // And found by the full listing of /dev/shm (other stores may be there too).
    let all = run_shmkit(&["ls", "--json"], None).expect_code(0).json();
    assert_eq!(all["directory"], "/dev/shm");
    assert!(
        all["stores"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["name"] == name.as_str())
    );
    let stat = run_shmkit(&["stat", &name], None);
    stat.expect_code(0);
    assert!(stat.stdout.contains(&format!("/dev/shm/shmkit.{name}")));
    run_shmkit(&["check", &name], None).expect_code(0);
    run_shmkit(&["rm", &name], None).expect_code(0);
    assert!(!std::path::Path::new(&format!("/dev/shm/shmkit.{name}")).exists());
}

#[test]
fn a_store_being_created_is_not_stale() {
    let d = StoreDir::new("ls-fresh-tmp");
    let tmp = d
        .dir
        .join(format!(".shmkit-tmp.shmkit.x.{}.1", std::process::id()));
    std::fs::write(&tmp, b"").unwrap();
    let doc = d.shmkit(&["ls", "--json"]).expect_code(0).json();
    assert_eq!(doc["temp_files"][0]["stale"], false);
}
