//! `shmkit check [--repair]`: clean stores pass; a writer SIGKILLed inside its critical
//! sections leaves locks and leaked blocks that check reports (exit 1) and --repair fixes
//! (exit 0, and a clean check after); damaged headers and heaps are reported precisely.

mod common;

use common::{StoreDir, attached_child, fork_child, poke, wait_for, watchdog};
use shmkit::Store;
use shmkit::store::alloc::SizeClass;
use shmkit::store::alloc_classes::class_for;
use shmkit::store::header::StoreHeader;
use std::time::Duration;

#[test]
fn a_fresh_store_is_clean() {
    let _w = watchdog(60);
    let d = StoreDir::new("check-clean");
    let s = d.create("clean");
    let a = s.alloc(100).unwrap();
    s.free(a).unwrap();
    drop(s);
    let run = d.shmkit(&["check", "clean"]);
    run.expect_code(0);
    assert!(run.stdout.contains("result: clean"), "{}", run.stdout);
    assert!(run.stdout.contains("allocator:"), "{}", run.stdout);
}

/// A child takes the heap lock, a size-class lock and the test mutex, allocates five blocks
/// it never publishes, and is SIGKILLed.
fn killed_writer(d: &StoreDir, name: &str) {
    drop(d.create(name));
    let path = d.store(name);
    let p = path.clone();
    let child = fork_child(move || {
        let store = Store::open(&p).unwrap();
        for _ in 0..5 {
            store.alloc(100).unwrap();
        }
        let fixed = store.header();
        let class = class_for(100).unwrap() as u64;
        let entry = store
            .get::<SizeClass>(fixed.class_table_offset + class * 64)
            .unwrap();
        let _class_guard = store.lock(&entry.lock);
        let heap = &store.get::<StoreHeader>(0).unwrap().heap.0.lock;
        let _heap_guard = store.lock(heap);
        let test = store.test_mutex().unwrap();
        let _test_guard = test.lock().unwrap();
        loop {
            std::thread::park(); // until SIGKILLed
        }
    });
    {
        let observer = Store::open(&path).unwrap();
        let test = observer.test_mutex().unwrap();
        wait_for("child to take its locks", Duration::from_secs(60), || {
            test.raw().owner().is_some()
        });
    }
    child.kill_and_wait();
}

#[test]
fn repairs_what_a_killed_writer_left() {
    let _w = watchdog(120);
    let d = StoreDir::new("check-killed");
    killed_writer(&d, "victim");

    let run = d.shmkit(&["check", "victim"]);
    run.expect_code(1);
    let out = &run.stdout;
    assert!(
        out.contains("needs repair: heap lock held by a dead process"),
        "{out}"
    );
    assert!(
        out.contains("needs repair: test mutex held by a dead process"),
        "{out}"
    );
    assert!(
        out.contains("needs repair: 1 allocator lock taken over from a dead process"),
        "{out}"
    );
    assert!(out.contains("needs repair: 5 allocated blocks"), "{out}");
    assert!(out.contains("reachable from no structure"), "{out}");
    assert!(out.contains("run `shmkit check --repair victim`"), "{out}");
    assert!(
        out.contains("registry slot of dead processes reclaimed"),
        "{out}"
    );

    // A second plain check still reports the damage (checking changes nothing).
    let again = d.shmkit(&["check", "victim"]);
    again.expect_code(1);
    assert!(
        again.stdout.contains("5 allocated blocks"),
        "{}",
        again.stdout
    );
    assert!(
        again
            .stdout
            .contains("heap lock was taken over from a dead process and needs repair"),
        "{}",
        again.stdout
    );

    let fix = d.shmkit(&["check", "--repair", "victim"]);
    fix.expect_code(0);
    let out = &fix.stdout;
    assert!(
        out.contains("repaired: cleared the heap lock left by a dead process"),
        "{out}"
    );
    assert!(
        out.contains("repaired: cleared the test mutex left by a dead process"),
        "{out}"
    );
    assert!(
        out.contains("repaired: cleared a dead owner's allocator lock"),
        "{out}"
    );
    assert!(out.contains("repaired: freed 5 leaked blocks"), "{out}");
    assert!(out.ends_with("result: clean\n"), "{out}");

    d.shmkit(&["check", "victim"]).expect_code(0);
    // The store works afterwards, and the freed blocks are reused.
    let s = Store::open(&d.store("victim")).unwrap();
    let before = s.alloc_stats().unwrap();
    s.alloc(100).unwrap();
    assert_eq!(s.alloc_stats().unwrap().heap_bytes, before.heap_bytes);
}

#[test]
fn leaked_blocks_are_not_freed_while_others_are_attached() {
    let _w = watchdog(120);
    let d = StoreDir::new("check-attached");
    killed_writer(&d, "busy");
    let _holder = attached_child(&d.store("busy"));

    let run = d.shmkit(&["check", "busy"]);
    run.expect_code(1); // the locks still need repair
    assert!(
        run.stdout
            .contains("other processes are attached, so these may be allocations"),
        "{}",
        run.stdout
    );

    let fix = d.shmkit(&["check", "--repair", "busy"]);
    // The locks get repaired; the blocks are left alone, and only noted.
    fix.expect_code(0);
    assert!(
        fix.stdout
            .contains("skipped freeing unreachable blocks: other processes are attached"),
        "{}",
        fix.stdout
    );
    assert!(!fix.stdout.contains("freed 5"), "{}", fix.stdout);
}

#[test]
fn a_damaged_header_is_reported_and_cannot_be_opened() {
    let _w = watchdog(60);
    let d = StoreDir::new("check-header");
    drop(d.create("flipped"));
    let path = d.path("flipped");
    let byte = common::peek(&path, 16, 1)[0];
    poke(&path, 16, &[byte ^ 0xff]); // the hash seed: covered by the header checksum

    let run = d.shmkit(&["check", "flipped"]);
    run.expect_code(1);
    assert!(
        run.stdout.contains("problem:") && run.stdout.contains("header checksum mismatch"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("cannot be opened or repaired"),
        "{}",
        run.stdout
    );

    let stat = d.shmkit(&["stat", "flipped"]);
    stat.expect_code(4);
    assert!(
        stat.stderr.contains("header checksum mismatch"),
        "{}",
        stat.stderr
    );
    assert!(
        stat.stderr.contains("shmkit check flipped"),
        "{}",
        stat.stderr
    );
    assert!(!stat.stderr.contains("panicked"), "{}", stat.stderr);

    let ls = d.shmkit(&["ls"]);
    ls.expect_code(0);
    assert!(
        ls.stdout.contains("header checksum mismatch"),
        "{}",
        ls.stdout
    );
    // Still recognisably a store file: rm may remove it.
    d.shmkit(&["rm", "flipped"]).expect_code(0);
    assert!(!path.exists());
}

#[test]
fn a_damaged_block_is_a_problem_repair_cannot_fix() {
    let _w = watchdog(60);
    let d = StoreDir::new("check-heap");
    let s = d.create("torn");
    let block = s.alloc(40).unwrap();
    let heap_offset = s.header().heap_offset;
    drop(s);
    assert_eq!(block, heap_offset + 16, "the first block starts the heap");
    poke(
        &d.path("torn"),
        heap_offset + 4,
        &0xdead_beef_u32.to_le_bytes(),
    ); // its tag

    let run = d.shmkit(&["check", "torn"]);
    run.expect_code(1);
    assert!(
        run.stdout.contains(&format!(
            "problem: offset {heap_offset}: block tag 0xdeadbeef"
        )),
        "{}",
        run.stdout
    );
    let fix = d.shmkit(&["check", "--repair", "torn"]);
    fix.expect_code(1);
    assert!(fix.stdout.contains("remain after repair"), "{}", fix.stdout);
}

#[test]
fn not_a_store_and_missing_store() {
    let d = StoreDir::new("check-foreign");
    std::fs::write(d.path("text"), b"hello, this is text").unwrap();
    let run = d.shmkit(&["check", "text"]);
    run.expect_code(4);
    assert!(
        run.stderr.contains("is not a shmkit store"),
        "{}",
        run.stderr
    );
    let run = d.shmkit(&["check", "absent"]);
    run.expect_code(3);
    assert!(
        run.stderr.contains("no store named absent"),
        "{}",
        run.stderr
    );
}

/// Creates store `name` in `d` holding hash map "m" with keys 0..n (u32 little-endian, value
/// the big-endian bytes); returns its path.
fn store_with_map(d: &StoreDir, name: &str, n: u32) -> String {
    let store = d.create(name);
    let map = store.hash_map("m").unwrap();
    for i in 0..n {
        map.set(&i.to_le_bytes(), &i.to_be_bytes()).unwrap();
    }
    d.store(name)
}

/// Forks a process that opens the store at `path` (allocating a block it never publishes
/// when `leak`), enters `update` of key 7 in map "m" — holding that shard's lock — and
/// stays there until killed. Returns once it is inside.
fn holder_inside_update(d: &StoreDir, path: &str, leak: bool) -> common::Child {
    let ready = d.dir.join("ready");
    let (p, r) = (path.to_string(), ready.clone());
    let child = fork_child(move || {
        let store = Store::open(&p).unwrap();
        let map = store.open_hash_map("m").unwrap();
        let _leak = leak.then(|| store.alloc(200).unwrap());
        let _ = map.update(&7u32.to_le_bytes(), |_| {
            std::fs::write(&r, b"in the critical section").unwrap();
            loop {
                std::thread::park(); // until SIGKILLed
            }
        });
        0
    });
    wait_for("child inside update", Duration::from_secs(60), || {
        ready.exists()
    });
    child
}

/// A writer SIGKILLed inside a hash-map shard's critical section (in `update`, holding the
/// shard lock) right after allocating a block it never publishes.
#[test]
fn a_writer_killed_inside_a_map_shard_is_recovered_and_its_leak_freed() {
    let _w = watchdog(120);
    let d = StoreDir::new("check-map-kill");
    let path = store_with_map(&d, "mapkill", 500);
    let child = holder_inside_update(&d, &path, true);
    child.kill_and_wait();

    // ls reports the dead writer's shard lock (it only reads lock words).
    let ls = d.shmkit(&["ls", "--json"]).expect_code(0).json();
    let reasons = ls["stores"][0]["stale_reasons"].to_string();
    assert!(
        reasons.contains("hash_map \\\"m\\\" shard") && reasons.contains("held by a dead process"),
        "{reasons}"
    );

    let run = d.shmkit(&["check", "mapkill"]);
    run.expect_code(1);
    let out = &run.stdout;
    assert!(
        out.contains("hash_map \"m\": 500 entries, consistent"),
        "{out}"
    );
    assert!(out.contains("note: hash_map \"m\" shard"), "{out}");
    assert!(out.contains("lock held by a dead process"), "{out}");
    assert!(out.contains("recovered by this check"), "{out}");
    assert!(out.contains("needs repair: 1 allocated block"), "{out}");
    let fix = d.shmkit(&["check", "--repair", "mapkill"]);
    fix.expect_code(0);
    assert!(
        fix.stdout.contains("freed 1 leaked block"),
        "{}",
        fix.stdout
    );
    d.shmkit(&["check", "mapkill"]).expect_code(0);
    let store = Store::open(&path).unwrap();
    let map = store.open_hash_map("m").unwrap();
    assert_eq!(map.len(), 500);
    assert_eq!(
        map.get(&7u32.to_le_bytes()).unwrap().unwrap(),
        7u32.to_be_bytes()
    );
    map.set(&7u32.to_le_bytes(), b"writable again").unwrap();
}

/// A writer SIGKILLed at an arbitrary moment of a stream of inserts: the first check reports
/// exactly what the kill left (never damage), `check --repair` repairs exactly when the check
/// said so, the store is clean afterwards, and every key inserted before the kill survives
/// whole (its value matches its key).
#[test]
fn a_writer_killed_mid_insert_leaves_a_repairable_store() {
    let _w = watchdog(120);
    let d = StoreDir::new("check-mid-insert");
    let store = d.create("midins");
    drop(store.hash_map("m").unwrap());
    drop(store);
    let path = d.store("midins");
    let p = path.clone();
    let value = |i: u64| vec![(i % 251) as u8; 100 + (i % 300) as usize];
    let child = fork_child(move || {
        let store = Store::open(&p).unwrap();
        let map = store.open_hash_map("m").unwrap();
        for i in 0u64.. {
            map.set(&i.to_le_bytes(), &value(i)).unwrap();
        }
        0
    });
    // Keys go in one after another, so a length seen before the kill means every key below
    // it had been published.
    let seen = {
        let store = Store::open(&path).unwrap();
        let map = store.open_hash_map("m").unwrap();
        wait_for("child to insert", Duration::from_secs(60), || {
            map.len() >= 20_000
        });
        map.len()
    };
    child.kill_and_wait();

    // Where the kill landed decides what there is to repair: inside an allocator lock, or
    // between allocating a record and publishing it, it leaves a lock or a leaked block
    // ("needs repair", exit 1); between two inserts, or inside a shard lock before any
    // allocation (the check itself recovers the shard and notes it), nothing (exit 0).
    // Never damage.
    let first = d.shmkit(&["check", "midins"]);
    let out = &first.stdout;
    assert!(!out.contains("problem:"), "{out}");
    let to_repair = out.lines().any(|l| l.starts_with("needs repair:"));
    first.expect_code(if to_repair { 1 } else { 0 });
    assert_eq!(out.ends_with("result: clean\n"), !to_repair, "{out}");
    let fix = d.shmkit(&["check", "--repair", "midins"]);
    fix.expect_code(0);
    assert_eq!(
        fix.stdout
            .lines()
            .any(|l| l.starts_with("repaired: ") && l != "repaired: nothing needed repair"),
        to_repair,
        "the repair did not match the check\nfirst check:\n{out}\nrepair:\n{}",
        fix.stdout
    );
    assert!(fix.stdout.ends_with("result: clean\n"), "{}", fix.stdout);
    d.shmkit(&["check", "midins"]).expect_code(0);

    let run = d.shmkit(&["dump", "--raw", "midins", "m"]);
    run.expect_code(0);
    let store = Store::open(&path).unwrap();
    let map = store.open_hash_map("m").unwrap();
    let mut keys = Vec::new();
    for entry in map.iter() {
        let (k, v) = entry.unwrap();
        let i = u64::from_le_bytes(k.try_into().unwrap());
        assert_eq!(v, value(i), "torn value for key {i}");
        keys.push(i);
    }
    keys.sort_unstable();
    let n = keys.len() as u64;
    assert_eq!(n, map.len());
    // The survivors are the keys inserted before the kill: 0, 1, 2, ... with none missing
    // (the one being inserted at the kill may or may not be among them), and at least as
    // many as were seen before it.
    assert!(
        n >= seen,
        "{n} entries survived, {seen} had been seen before the kill"
    );
    assert!(
        keys.iter().copied().eq(0..n),
        "keys missing below {n}: {:?}",
        (0..n)
            .filter(|k| keys.binary_search(k).is_err())
            .take(10)
            .collect::<Vec<_>>()
    );
    assert_eq!(run.stdout.lines().count() as u64, n);
}

/// A live process stopped while it holds a shard lock (SIGSTOP inside `update`): `check`,
/// `check --repair` and `gc` each finish (the watchdog would fail a hang), name the shard
/// as busy and leave it alone; once the holder is gone everything repairs clean.
#[test]
fn a_shard_held_by_a_stopped_process_is_reported_busy_not_waited_for() {
    let _w = watchdog(120);
    let d = StoreDir::new("check-busy");
    let path = store_with_map(&d, "busy", 200);
    let holder = holder_inside_update(&d, &path, false);
    // SAFETY: a plain system call on our own child's pid.
    assert_eq!(unsafe { libc::kill(holder.pid, libc::SIGSTOP) }, 0);
    // A process that died attached, so that gc repairs this store (and meets the lock).
    let attached = d.dir.join("attached");
    let (p, a) = (path.clone(), attached.clone());
    let dies_attached = fork_child(move || {
        let _store = Store::open(&p).unwrap();
        std::fs::write(&a, b"attached").unwrap();
        loop {
            std::thread::park(); // until SIGKILLed
        }
    });
    wait_for("second child attached", Duration::from_secs(60), || {
        attached.exists()
    });
    dies_attached.kill_and_wait();

    // gc first: the dead process's slot makes it repair the store (a check would reclaim
    // the slot on attach).
    let gc = d.shmkit(&["gc"]);
    gc.expect_code(0);
    assert!(
        gc.stdout.contains("busy, skipped: hash_map \"m\": shard"),
        "{}",
        gc.stdout
    );
    let run = d.shmkit(&["check", "busy"]);
    run.expect_code(6);
    assert!(
        run.stdout.contains("busy: hash_map \"m\": shard")
            && run
                .stdout
                .contains("is locked by a live process; not checked"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("result: not fully checked"),
        "{}",
        run.stdout
    );
    let fix = d.shmkit(&["check", "--repair", "busy"]);
    fix.expect_code(6);
    assert!(fix.stdout.contains("; not repaired"), "{}", fix.stdout);
    assert!(
        fix.stdout
            .contains("skipped freeing unreachable blocks: some locks are busy"),
        "{}",
        fix.stdout
    );

    holder.kill_and_wait(); // SIGKILL ends a stopped process too
    d.shmkit(&["check", "--repair", "busy"]).expect_code(0);
    let store = Store::open(&path).unwrap();
    let map = store.open_hash_map("m").unwrap();
    assert_eq!(map.len(), 200);
    map.set(&7u32.to_le_bytes(), b"writable again").unwrap();
}
