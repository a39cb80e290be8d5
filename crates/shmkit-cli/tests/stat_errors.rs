//! `shmkit stat`, and clear messages with the documented exit codes for bad input: unknown
//! store, invalid name, not a store, permission denied, corrupt store, bad command line.

mod common;

use common::{StoreDir, attached_child, command, watchdog};
use shmkit::ObjectKind;
use std::os::unix::process::CommandExt;

#[test]
fn stat_shows_header_allocator_processes_and_objects() {
    let _w = watchdog(60);
    let d = StoreDir::new("stat-text");
    let s = d.create("st");
    s.object_or_create("blob", ObjectKind::Raw, |s| s.alloc(300))
        .unwrap();
    for _ in 0..10 {
        s.alloc(1000).unwrap();
    }
    drop(s);
    let holder = attached_child(&d.store("st"));
    let run = d.shmkit(&["stat", "st"]);
    run.expect_code(0);
    let out = &run.stdout;
    for needle in [
        "format version",
        "xxh3-64, seed 0x",
        "64.0 GiB",
        "registry",
        "1024 slots",
        "allocator size classes in use",
        "CAPACITY",
        "attached processes",
        &holder.pid.to_string(),
        "objects",
        "blob",
        "raw",
    ] {
        assert!(out.contains(needle), "missing {needle:?} in:\n{out}");
    }
}

#[test]
fn stat_json_and_object_stats() {
    let _w = watchdog(60);
    let d = StoreDir::new("stat-json");
    let s = d.create("sj");
    let root = s
        .object_or_create("blob", ObjectKind::Raw, |s| s.alloc(300))
        .unwrap();
    drop(s);
    let doc = d.shmkit(&["stat", "--json", "sj"]).expect_code(0).json();
    assert_eq!(doc["format_version"], 1);
    assert_eq!(doc["committed_bytes"], 1 << 20);
    assert!(doc["allocator"]["classes"].as_array().unwrap().len() >= 2);
    assert!(doc["allocator"]["used_bytes"].as_u64().unwrap() >= 300);
    assert_eq!(doc["objects"][0]["name"], "blob");

    let obj = d
        .shmkit(&["stat", "--json", "sj", "blob"])
        .expect_code(0)
        .json();
    assert_eq!(obj["kind"], "raw");
    assert_eq!(obj["root_offset"], root);
    assert!(obj["root_block_capacity"].as_u64().unwrap() >= 300);
    let text = d.shmkit(&["stat", "sj", "blob"]);
    text.expect_code(0);
    assert!(text.stdout.contains("object blob (raw)"), "{}", text.stdout);

    let missing = d.shmkit(&["stat", "sj", "nothing"]);
    missing.expect_code(3);
    assert!(
        missing.stderr.contains("has no object named \"nothing\""),
        "{}",
        missing.stderr
    );
}

#[test]
fn unknown_store_invalid_name_and_bad_usage() {
    let d = StoreDir::new("errors-usage");
    let run = d.shmkit(&["stat", "nope"]);
    run.expect_code(3);
    assert!(
        run.stderr.starts_with("shmkit: no store named nope"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("hint: `shmkit ls` lists the stores"),
        "{}",
        run.stderr
    );
    let run = d.shmkit(&["stat", "bad name"]);
    run.expect_code(2);
    assert!(
        run.stderr.contains("store name contains ' '"),
        "{}",
        run.stderr
    );
    d.shmkit(&["frobnicate"]).expect_code(2);
    d.shmkit(&["stat"]).expect_code(2);
    let help = d.shmkit(&["--help"]);
    help.expect_code(0);
    assert!(help.stdout.contains("Exit codes:"), "{}", help.stdout);
}

#[test]
fn not_a_store_and_truncated_files() {
    let d = StoreDir::new("errors-foreign");
    std::fs::write(
        d.path("text"),
        b"plain text, long enough to have eight bytes",
    )
    .unwrap();
    let run = d.shmkit(&["stat", "text"]);
    run.expect_code(4);
    assert!(
        run.stderr.contains("is not a shmkit store"),
        "{}",
        run.stderr
    );
    std::fs::write(d.path("empty"), b"").unwrap();
    let run = d.shmkit(&["stat", "empty"]);
    run.expect_code(4);
    assert!(run.stderr.contains("is empty"), "{}", run.stderr);
    // A store cut short: the header promises more than the file has.
    drop(d.create("cut"));
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(d.path("cut"))
        .unwrap();
    f.set_len(4096 * 2).unwrap();
    drop(f);
    let run = d.shmkit(&["stat", "cut"]);
    run.expect_code(4);
    assert!(run.stderr.contains("truncated"), "{}", run.stderr);
    assert!(run.stderr.contains("shmkit check cut"), "{}", run.stderr);
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
}

/// Stores are created 0600; another user gets a clear "permission denied" (exit 5).
#[test]
fn permission_denied_for_another_user() {
    // SAFETY: getuid has no preconditions.
    if unsafe { libc::getuid() } != 0 {
        // Only root can run the command as another user; as a normal user the store below
        // is our own and readable, so there is nothing to test.
        common::cannot_run_here("running the command as another user needs root");
        return;
    }
    let d = StoreDir::new("errors-perm");
    std::fs::set_permissions(&d.dir, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    drop(d.create("private"));
    let out = command(Some(&d.dir))
        .args(["stat", "private"])
        .uid(65534)
        .gid(65534)
        .output()
        .unwrap();
    let run = common::Run::from(out);
    run.expect_code(5);
    assert!(run.stderr.contains("permission denied"), "{}", run.stderr);
    let out = command(Some(&d.dir))
        .args(["ls"])
        .uid(65534)
        .gid(65534)
        .output()
        .unwrap();
    let run = common::Run::from(out);
    run.expect_code(0);
    assert!(run.stdout.contains("permission denied"), "{}", run.stdout);
}

#[test]
fn closed_stdout_ends_quietly() {
    let d = StoreDir::new("errors-pipe");
    for i in 0..50 {
        drop(d.create(&format!("s{i}")));
    }
    // `shmkit ls | head -1`: the reader goes away; no panic, no error message.
    let mut child = command(Some(&d.dir))
        .arg("ls")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("panicked") && !stderr.contains("internal error"),
        "{stderr}"
    );
    assert!(
        out.status.code().is_some(),
        "killed by a signal: {:?}",
        out.status
    );
}

#[test]
fn data_commands_refuse_another_users_store_unless_allowed() {
    // SAFETY: getuid has no preconditions.
    if unsafe { libc::getuid() } != 0 {
        common::cannot_run_here("creating a store as another user needs root");
        return;
    }
    let d = StoreDir::new("errors-foreign");
    std::fs::set_permissions(&d.dir, std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
    // User `nobody` creates a store everyone may write, with one key in it.
    let out = command(Some(&d.dir))
        .args(["set", "theirs", "m", "k", "planted", "--create"])
        .uid(65534)
        .gid(65534)
        .output()
        .unwrap();
    common::Run::from(out).expect_code(0);
    std::fs::set_permissions(
        d.path("theirs"),
        std::os::unix::fs::PermissionsExt::from_mode(0o666),
    )
    .unwrap();
    let run = d.shmkit(&["get", "theirs", "m", "k"]);
    run.expect_code(5);
    assert!(run.stderr.contains("owned by uid 65534"), "{}", run.stderr);
    assert!(
        run.stderr.contains("--allow-foreign-owner"),
        "{}",
        run.stderr
    );
    d.shmkit(&["dump", "theirs", "m"]).expect_code(5);
    let run = d.shmkit(&["get", "theirs", "m", "k", "--allow-foreign-owner"]);
    run.expect_code(0);
    assert_eq!(run.stdout, "planted\n");
    // Maintenance looks at every user's stores.
    d.shmkit(&["stat", "theirs"]).expect_code(0);
    d.shmkit(&["check", "theirs"]).expect_code(0);
}
