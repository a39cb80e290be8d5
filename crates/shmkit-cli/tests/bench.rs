//! `shmkit bench` with tiny parameters: it runs every phase of each kind's section for each
//! process count and the std baseline, checks every value, reports, and removes its store —
//! also when interrupted.

mod common;

use common::{StoreDir, command, wait_for, watchdog};
use std::time::Duration;

#[test]
fn bench_runs_every_phase_and_cleans_up() {
    let _w = watchdog(120);
    let d = StoreDir::new("bench-json");
    let run = d.shmkit(&[
        "bench",
        "--kind",
        "hash_map",
        "--keys",
        "3000",
        "--value-size",
        "24",
        "--processes",
        "2",
        "--duration",
        "0.2",
        "--json",
    ]);
    run.expect_code(0);
    let doc = run.json();
    assert_eq!(doc["ok"], true);
    assert_eq!(doc["wrong_values"], 0);
    assert_eq!(doc["processes"], serde_json::json!([1, 2]));
    assert_eq!(doc["kinds"], serde_json::json!(["hash_map"]));
    let section = &doc["sections"][0];
    assert_eq!(section["kind"], "hash_map");
    assert_eq!(section["key_size"], 16);
    assert_eq!(section["values_checked"], doc["values_checked"]);
    assert!(section["seconds"].as_f64().unwrap() > 0.0, "{section}");
    let rows = doc["results"].as_array().unwrap();
    assert_eq!(rows.len(), 12, "{rows:?}");
    for phase in ["load", "read", "mixed", "delete"] {
        for procs in [serde_json::json!("std"), 1.into(), 2.into()] {
            let row = rows
                .iter()
                .find(|r| r["phase"] == phase && r["processes"] == procs)
                .unwrap_or_else(|| panic!("no row {phase}/{procs}"));
            assert_eq!(row["kind"], "hash_map");
            assert!(row["ops"].as_u64().unwrap() > 0, "{row}");
            assert!(row["ops_per_sec"].as_f64().unwrap() > 0.0, "{row}");
            assert!(row["vs_std"].as_f64().unwrap() > 0.0, "{row}");
        }
    }
    let load = rows
        .iter()
        .find(|r| r["phase"] == "load" && r["processes"] == 2)
        .unwrap();
    assert_eq!(load["ops"], 3000);
    // Three verifications of 3000 keys, plus the reads.
    assert!(doc["values_checked"].as_u64().unwrap() > 9000);
    let left: Vec<_> = std::fs::read_dir(&d.dir).unwrap().collect();
    assert!(left.is_empty(), "bench left files behind: {left:?}");
}

#[test]
fn bench_atomic_vector_checks_every_count() {
    let _w = watchdog(120);
    let d = StoreDir::new("bench-vector");
    let run = d.shmkit(&[
        "bench",
        "--kind",
        "atomic_vector",
        "--processes",
        "2",
        "--duration",
        "0.2",
        "--json",
    ]);
    run.expect_code(0);
    let doc = run.json();
    assert_eq!(doc["ok"], true);
    assert_eq!(doc["kinds"], serde_json::json!(["atomic_vector"]));
    let section = &doc["sections"][0];
    assert_eq!(section["element_stride_bytes"], 128);
    let notes: Vec<&str> = section["notes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap())
        .collect();
    assert!(
        notes
            .iter()
            .any(|n| n.starts_with("fetch_add: 1 process") && n.contains("std's time")),
        "{notes:?}"
    );
    assert!(
        notes
            .iter()
            .any(|n| n.starts_with("load: 2 processes") && n.contains("the ops/s of 1")),
        "{notes:?}"
    );
    let rows = doc["results"].as_array().unwrap();
    assert_eq!(rows.len(), 12, "{rows:?}");
    let mut ops = 0;
    for phase in ["fetch_add", "load", "fetch_add_ref", "load_ref"] {
        for procs in [serde_json::json!("std"), 1.into(), 2.into()] {
            let row = rows
                .iter()
                .find(|r| r["phase"] == phase && r["processes"] == procs)
                .unwrap_or_else(|| panic!("no row {phase}/{procs}"));
            assert!(row["ops_per_sec"].as_f64().unwrap() > 0.0, "{row}");
            ops += row["ops"].as_u64().unwrap();
        }
    }
    // Every returned value, plus the elements after each phase (16 of the baseline's, 16
    // and 32 of the workers' vectors, once per phase).
    assert_eq!(doc["values_checked"], ops + 4 * (16 + 16 + 32));
    assert!(std::fs::read_dir(&d.dir).unwrap().next().is_none());
}

#[test]
fn bench_deque_moves_every_item_between_processes() {
    let _w = watchdog(120);
    let d = StoreDir::new("bench-deque");
    let run = d.shmkit(&[
        "bench",
        "--kind",
        "deque",
        "--processes",
        "2",
        "--duration",
        "0.2",
        "--json",
    ]);
    run.expect_code(0);
    let doc = run.json();
    assert_eq!(doc["ok"], true);
    assert_eq!(doc["wrong_values"], 0);
    let rows = doc["results"].as_array().unwrap();
    for (phase, procs) in [
        ("push_pop", serde_json::json!("std")),
        ("push_pop", 1.into()),
        ("transfer", "std".into()),
        ("transfer", 2.into()),
        ("transfer_batch", "std".into()),
        ("transfer_batch", 2.into()),
    ] {
        let row = rows
            .iter()
            .find(|r| r["phase"] == phase && r["processes"] == procs)
            .unwrap_or_else(|| panic!("no row {phase}/{procs}: {rows:?}"));
        assert!(row["ops"].as_u64().unwrap() > 0, "{row}");
    }
    let notes = doc["sections"][0]["notes"].as_array().unwrap();
    assert!(
        notes
            .iter()
            .any(|n| n.as_str().unwrap().starts_with("transfer_batch: ")),
        "{notes:?}"
    );
    assert!(std::fs::read_dir(&d.dir).unwrap().next().is_none());
}

#[test]
fn bench_priority_queue_checks_every_popped_value() {
    let _w = watchdog(120);
    let d = StoreDir::new("bench-pq");
    let run = d.shmkit(&[
        "bench",
        "--kind",
        "priority_queue",
        "--keys",
        "2000",
        "--processes",
        "2",
        "--duration",
        "0.2",
        "--json",
    ]);
    run.expect_code(0);
    let doc = run.json();
    assert_eq!(doc["ok"], true);
    assert_eq!(doc["wrong_values"], 0);
    let rows = doc["results"].as_array().unwrap();
    for procs in [serde_json::json!("std"), 1.into(), 2.into()] {
        let row = rows
            .iter()
            .find(|r| r["phase"] == "push_pop" && r["processes"] == procs)
            .unwrap_or_else(|| panic!("no row {procs}: {rows:?}"));
        assert!(row["ops"].as_u64().unwrap() > 0, "{row}");
    }
    assert!(std::fs::read_dir(&d.dir).unwrap().next().is_none());
}

#[test]
fn bench_ordered_map_checks_every_value_and_every_scan() {
    let _w = watchdog(120);
    let d = StoreDir::new("bench-om");
    let run = d.shmkit(&[
        "bench",
        "--kind",
        "ordered_map",
        "--keys",
        "3000",
        "--processes",
        "2",
        "--duration",
        "0.2",
        "--json",
    ]);
    run.expect_code(0);
    let doc = run.json();
    assert_eq!(doc["ok"], true);
    assert_eq!(doc["wrong_values"], 0);
    assert_eq!(doc["kinds"], serde_json::json!(["ordered_map"]));
    let section = &doc["sections"][0];
    assert_eq!(section["range_len"], 1000);
    let rows = doc["results"].as_array().unwrap();
    assert_eq!(rows.len(), 11, "{rows:?}");
    let row = |phase: &str, procs: serde_json::Value| {
        rows.iter()
            .find(|r| r["phase"] == phase && r["processes"] == procs)
            .unwrap_or_else(|| panic!("no row {phase}/{procs}: {rows:?}"))
    };
    let mut ops = 0;
    for phase in ["insert", "get", "scan", "range", "remove"] {
        for procs in [serde_json::json!("std"), 1.into()] {
            let r = row(phase, procs);
            assert!(r["ops_per_sec"].as_f64().unwrap() > 0.0, "{r}");
            assert!(r["vs_std"].as_f64().unwrap() > 0.0, "{r}");
            ops += r["ops"].as_u64().unwrap();
        }
    }
    ops += row("get", 2.into())["ops"].as_u64().unwrap();
    for phase in ["insert", "remove"] {
        assert_eq!(row(phase, 1.into())["ops"], 3000);
    }
    // Full scans return every key, each time.
    assert_eq!(row("scan", 1.into())["ops"].as_u64().unwrap() % 3000, 0);
    // Every operation's value (every scanned entry), plus the entry counts after insert and
    // remove on both maps.
    assert_eq!(doc["values_checked"], ops + 4);
    let notes: Vec<&str> = section["notes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap())
        .collect();
    for start in [
        "insert: ",
        "get: 1 process",
        "scan: ",
        "range: ",
        "remove: ",
    ] {
        assert!(
            notes.iter().any(|n| n.starts_with(start)),
            "{start}: {notes:?}"
        );
    }
    assert!(
        notes
            .iter()
            .any(|n| n.starts_with("get: 2 readers / one reader") && n.contains("target")),
        "{notes:?}"
    );
    assert!(std::fs::read_dir(&d.dir).unwrap().next().is_none());
}

#[test]
fn bench_prints_a_table() {
    let _w = watchdog(120);
    let d = StoreDir::new("bench-table");
    let run = d.shmkit(&[
        "bench",
        "--keys",
        "500",
        "--processes",
        "1",
        "--duration",
        "0.1",
    ]);
    run.expect_code(0);
    let out = &run.stdout;
    assert!(
        out.contains("shmkit bench: 500 keys of 16 bytes, 32-byte values, processes [1]"),
        "{out}"
    );
    assert!(out.contains("VS STD HASHMAP"), "{out}");
    // Every kind's section by default, each under its title line.
    assert!(out.lines().any(|l| l.starts_with("hash_map: ")), "{out}");
    assert!(
        out.lines().any(|l| l.starts_with("atomic_vector: ")),
        "{out}"
    );
    // The ordered map's section runs only when named.
    assert!(
        !out.lines().any(|l| l.starts_with("ordered_map: ")),
        "{out}"
    );
    assert!(
        out.lines()
            .any(|l| l.starts_with("read") && l.contains("std (1 thread)") && l.contains("1.00x")),
        "{out}"
    );
    assert!(
        out.lines()
            .any(|l| l.starts_with("delete") && l.split_whitespace().nth(1) == Some("1")),
        "{out}"
    );
    assert!(out.contains(": 0 wrong"), "{out}");
    // No progress bar drawing when stderr is not a terminal.
    assert!(!run.stderr.contains('['), "{}", run.stderr);
    assert!(std::fs::read_dir(&d.dir).unwrap().next().is_none());
}

#[test]
fn bench_refuses_bad_options() {
    let d = StoreDir::new("bench-usage");
    d.shmkit(&["bench", "--keys", "0"]).expect_code(2);
    d.shmkit(&["bench", "--duration", "-1"]).expect_code(2);
    d.shmkit(&["bench", "--processes", "0"]).expect_code(2);
    let run = d.shmkit(&["bench", "--kind", "nosuch"]);
    run.expect_code(2);
    assert!(run.stderr.contains("hash_map"), "{}", run.stderr);
    drop(d.create("taken"));
    let run = d.shmkit(&[
        "bench",
        "--store",
        "taken",
        "--keys",
        "10",
        "--duration",
        "0.05",
    ]);
    run.expect_code(10);
    assert!(run.stderr.contains("already exists"), "{}", run.stderr);
    assert!(
        d.path("taken").exists(),
        "bench removed a store it did not create"
    );
}

fn children_of(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(child) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{child}/stat")) else {
            continue;
        };
        let Some(rest) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
            continue;
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        // fields[0] is the state; a zombie is already dead.
        if fields.get(1).and_then(|p| p.parse::<u32>().ok()) == Some(pid) && fields[0] != "Z" {
            out.push(child);
        }
    }
    out
}

#[test]
fn ctrl_c_kills_the_workers_and_removes_the_store() {
    let _w = watchdog(120);
    let d = StoreDir::new("bench-sigint");
    let bench = command(Some(&d.dir))
        .args([
            "bench",
            "--keys",
            "2000",
            "--processes",
            "2",
            "--duration",
            "2",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = bench.id();
    // Wait for the worker processes (after the baseline), then interrupt the coordinator only.
    wait_for("bench workers", Duration::from_secs(60), || {
        !children_of(pid).is_empty()
    });
    let workers = children_of(pid);
    assert!(
        std::fs::read_dir(&d.dir).unwrap().next().is_some(),
        "no bench store while running"
    );
    // SAFETY: plain system call on our own child's pid.
    unsafe { libc::kill(pid as i32, libc::SIGINT) };
    let out = bench.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("interrupted"));
    let left: Vec<_> = std::fs::read_dir(&d.dir).unwrap().collect();
    assert!(left.is_empty(), "bench left files behind: {left:?}");
    for w in workers {
        let alive =
            std::fs::read_to_string(format!("/proc/{w}/stat")).is_ok_and(|s| !s.contains(") Z "));
        assert!(!alive, "worker {w} survived");
    }
}
