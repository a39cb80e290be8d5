//! `get`/`set`/`del`/`dump` on hash maps, the typing of keys and values on the command
//! line, and map statistics in `ls` and `stat`.

mod common;

use common::{StoreDir, watchdog};
use shmkit::value::{LANG_PYTHON_PICKLE, Value, decode, encode};

fn str_val(s: &str) -> Vec<u8> {
    encode(&Value::Str(s.into()))
}

#[test]
fn set_get_del_round_trip_typed_values() {
    let _w = watchdog(60);
    let d = StoreDir::new("kv-typed");
    drop(d.create("kv"));
    let s = |args: &[&str]| d.shmkit(args);

    // The map must exist unless --create.
    let run = s(&["set", "kv", "users", "alice", "Alice"]);
    run.expect_code(3);
    assert!(
        run.stderr.contains("no object named \"users\""),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("--create"), "{}", run.stderr);

    s(&["set", "--create", "kv", "users", "alice", "Alice Smith"]).expect_code(0);
    s(&["set", "kv", "users", "n", "41", "--type", "int"]).expect_code(0);
    s(&["set", "kv", "users", "f", "2.5", "-t", "float"]).expect_code(0);
    s(&["set", "kv", "users", "yes", "true", "-t", "bool"]).expect_code(0);
    s(&["set", "kv", "users", "nothing", "-t", "null"]).expect_code(0);
    s(&[
        "set", "kv", "users", "blob", "00ff10", "-t", "bytes", "--hex",
    ])
    .expect_code(0);
    s(&["set", "kv", "users", "r", "plain", "--raw"]).expect_code(0);

    // What a Python program would see: typed values in the shared encoding.
    let store = shmkit::Store::open(&d.store("kv")).unwrap();
    let map = store.open_hash_map("users").unwrap();
    let get = |k: &[u8]| map.get(k).unwrap().unwrap();
    assert_eq!(
        decode(&get(&str_val("alice"))).unwrap(),
        Value::Str("Alice Smith".into())
    );
    assert_eq!(decode(&get(&str_val("n"))).unwrap(), Value::Int(41));
    assert_eq!(decode(&get(&str_val("f"))).unwrap(), Value::Float(2.5));
    assert_eq!(decode(&get(&str_val("yes"))).unwrap(), Value::Bool(true));
    assert_eq!(decode(&get(&str_val("nothing"))).unwrap(), Value::Null);
    assert_eq!(
        decode(&get(&str_val("blob"))).unwrap(),
        Value::Bytes(vec![0, 255, 16])
    );
    assert_eq!(get(b"r"), b"plain");
    drop(map);
    drop(store);

    assert_eq!(
        s(&["get", "kv", "users", "alice"]).expect_code(0).stdout,
        "Alice Smith\n"
    );
    assert_eq!(
        s(&["get", "kv", "users", "n"]).expect_code(0).stdout,
        "41\n"
    );
    assert_eq!(
        s(&["get", "kv", "users", "f"]).expect_code(0).stdout,
        "2.5\n"
    );
    assert_eq!(
        s(&["get", "kv", "users", "yes"]).expect_code(0).stdout,
        "true\n"
    );
    assert_eq!(
        s(&["get", "kv", "users", "nothing"]).expect_code(0).stdout,
        "null\n"
    );
    assert_eq!(
        s(&["get", "kv", "users", "blob"]).expect_code(0).raw_stdout,
        vec![0, 255, 16]
    );
    assert_eq!(
        s(&["get", "kv", "users", "r", "--raw"])
            .expect_code(0)
            .stdout,
        "plain"
    );
    assert_eq!(
        s(&["get", "kv", "users", "blob", "--json"])
            .expect_code(0)
            .stdout,
        "{\"bytes\":\"AP8Q\"}\n"
    );
    assert_eq!(
        s(&["get", "kv", "users", "n", "--json"])
            .expect_code(0)
            .stdout,
        "41\n"
    );

    // Absent keys: exit 1, nothing on stdout.
    let miss = s(&["get", "kv", "users", "zed"]);
    miss.expect_code(1);
    assert_eq!(miss.stdout, "");
    assert!(miss.stderr.contains("no such key"), "{}", miss.stderr);
    s(&["get", "kv", "users", "alice", "--raw"]).expect_code(1); // raw key "alice" is another key

    s(&["del", "kv", "users", "alice"]).expect_code(0);
    s(&["del", "kv", "users", "alice"]).expect_code(1);
    s(&["get", "kv", "users", "alice"]).expect_code(1);
}

#[test]
fn bad_typed_arguments_are_usage_errors() {
    let d = StoreDir::new("kv-usage");
    drop(d.create("kv"));
    d.shmkit(&["set", "--create", "kv", "m", "k", "v"])
        .expect_code(0);
    for args in [
        &["set", "kv", "m", "k", "forty", "--type", "int"][..],
        &["set", "kv", "m", "k", "x", "--type", "float"],
        &["set", "kv", "m", "k", "maybe", "--type", "bool"],
        &["set", "kv", "m", "k", "0g", "--type", "raw", "--hex"],
        &["set", "kv", "m", "k"],
        &["set", "kv", "m", "k", "v", "--raw", "--type", "int"],
        &["get", "kv", "m", "k", "--raw", "--json"],
        &["set", "kv", "m", "k", "v", "--type", "complex"],
    ] {
        let run = d.shmkit(args);
        run.expect_code(2);
        assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    }
    // A store object of another kind.
    let s = shmkit::Store::open(&d.store("kv")).unwrap();
    s.object_or_create("blob", shmkit::ObjectKind::Raw, |s| s.alloc(8))
        .unwrap();
    drop(s);
    let run = d.shmkit(&["get", "kv", "blob", "k"]);
    run.expect_code(2);
    assert!(
        run.stderr.contains("is a raw, not a hash_map"),
        "{}",
        run.stderr
    );
}

#[test]
fn dump_prints_json_lines_for_any_bytes() {
    let _w = watchdog(60);
    let d = StoreDir::new("kv-dump");
    let store = d.create("dm");
    let map = store.hash_map("m").unwrap();
    map.set(&str_val("s"), &str_val("tab\there \"quoted\" é"))
        .unwrap();
    map.set(&str_val("i"), &encode(&Value::Int(-7))).unwrap();
    map.set(
        &encode(&Value::Int(3)),
        &encode(&Value::Float(f64::INFINITY)),
    )
    .unwrap();
    map.set(b"\xff\x00raw", b"\x01\x02").unwrap();
    map.set(
        &str_val("p"),
        &encode(&Value::Foreign {
            lang: LANG_PYTHON_PICKLE,
            data: vec![0x80, 4],
        }),
    )
    .unwrap();
    map.set(&str_val("empty"), b"").unwrap();
    drop(map);
    drop(store);

    let run = d.shmkit(&["dump", "dm", "m", "--sort"]);
    run.expect_code(0);
    let lines: Vec<serde_json::Value> = run
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("valid JSON line"))
        .collect();
    assert_eq!(lines.len(), 6);
    let find = |key: serde_json::Value| {
        lines
            .iter()
            .find(|l| l["key"] == key)
            .unwrap_or_else(|| panic!("no {key} in {}", run.stdout))["value"]
            .clone()
    };
    assert_eq!(find("s".into()), "tab\there \"quoted\" é");
    assert_eq!(find("i".into()), -7);
    assert_eq!(find(3.into()), serde_json::json!({"float": "inf"}));
    assert_eq!(
        find(serde_json::json!({"raw": "/wByYXc="})),
        serde_json::json!({"raw": "AQI="})
    );
    assert_eq!(find("p".into()), serde_json::json!({"pickle": "gAQ="}));
    assert_eq!(find("empty".into()), serde_json::json!({"raw": ""}));

    // --raw shows everything as bytes; unsorted output has the same lines.
    let raw = d
        .shmkit(&["dump", "dm", "m", "--raw"])
        .expect_code(0)
        .stdout
        .clone();
    assert_eq!(raw.lines().count(), 6);
    assert!(
        raw.contains("{\"key\":{\"raw\":\"Bmk=\"},\"value\":{\"raw\":\"A/n/////////\"}}"),
        "{raw}"
    );
    let mut unsorted: Vec<&str> = d
        .shmkit(&["dump", "dm", "m"])
        .stdout
        .leak()
        .lines()
        .collect();
    let mut sorted: Vec<&str> = run.stdout.lines().collect();
    unsorted.sort();
    sorted.sort();
    assert_eq!(unsorted, sorted);

    d.shmkit(&["dump", "dm", "nomap"]).expect_code(3);
}

#[test]
fn ls_and_stat_show_map_entries_and_statistics() {
    let _w = watchdog(60);
    let d = StoreDir::new("kv-stats");
    let store = d.create("ms");
    let map = store.hash_map("users").unwrap();
    for i in 0..1000u32 {
        map.set(&i.to_le_bytes(), b"value").unwrap();
    }
    drop(map);
    drop(store);
    let ls = d.shmkit(&["ls", "--json"]).expect_code(0).json();
    assert_eq!(ls["stores"][0]["objects"][0]["kind"], "hash_map");
    assert_eq!(ls["stores"][0]["objects"][0]["entries"], 1000);
    let text = d.shmkit(&["ls"]).expect_code(0).stdout.clone();
    let users = text
        .lines()
        .find(|l| l.trim_start().starts_with("users"))
        .unwrap();
    assert!(
        users.contains("hash_map") && users.contains("1000"),
        "{users}"
    );

    let st = d
        .shmkit(&["stat", "--json", "ms", "users"])
        .expect_code(0)
        .json();
    assert_eq!(st["entries"], 1000);
    assert_eq!(st["shards"], 64);
    assert!(st["buckets"].as_u64().unwrap() >= 1000);
    let lf = st["load_factor"].as_f64().unwrap();
    assert!(lf > 0.0 && lf <= 1.0, "{lf}");
    assert!(st["bytes_used"].as_u64().unwrap() > 1000 * 9);
    let text = d
        .shmkit(&["stat", "ms", "users"])
        .expect_code(0)
        .stdout
        .clone();
    for needle in [
        "object users (hash_map)",
        "entries",
        "1000",
        "shards",
        "load factor",
        "bytes used",
    ] {
        assert!(text.contains(needle), "missing {needle}:\n{text}");
    }
    let st = d.shmkit(&["stat", "ms"]).expect_code(0).stdout.clone();
    assert!(st.contains("users") && st.contains("1000"), "{st}");
}

#[test]
fn a_fixed_size_map_shows_its_sizes_and_refuses_other_lengths() {
    let _w = watchdog(60);
    let d = StoreDir::new("kv-fixed");
    let store = d.create("fx");
    let options = shmkit::HashMapOptions {
        fixed_size: Some(shmkit::FixedSize {
            key_len: 8,
            value_len: 4,
        }),
        ..Default::default()
    };
    let map = store.hash_map_with("ids", &options).unwrap();
    for i in 0..100u64 {
        map.set(&i.to_le_bytes(), b"four").unwrap();
    }
    drop(map);
    store.hash_map("any").unwrap();
    drop(store);

    let st = d
        .shmkit(&["stat", "--json", "fx", "ids"])
        .expect_code(0)
        .json();
    assert_eq!(st["entries"], 100);
    assert_eq!(st["key_size"], 8);
    assert_eq!(st["value_size"], 4);
    let slab = st["slab_bytes"].as_u64().unwrap();
    assert!(slab >= 100 * 24, "{st}");
    assert!(slab <= st["bytes_used"].as_u64().unwrap(), "{st}");
    let per_entry = st["bytes_per_entry"].as_f64().unwrap();
    let used = st["bytes_used"].as_f64().unwrap();
    assert!((per_entry - used / 100.0).abs() < 1e-6, "{st}");
    let text = d
        .shmkit(&["stat", "fx", "ids"])
        .expect_code(0)
        .stdout
        .clone();
    for needle in [
        "slab bytes",
        "bytes per entry",
        "key size",
        "8 B",
        "value size",
        "4 B",
    ] {
        assert!(text.contains(needle), "missing {needle}:\n{text}");
    }
    // A map of any length shows no sizes, and no slab.
    let any = d
        .shmkit(&["stat", "--json", "fx", "any"])
        .expect_code(0)
        .json();
    assert!(any.get("key_size").is_none(), "{any}");
    assert_eq!(any["slab_bytes"], 0);

    // Keys and values of the map's lengths work; others are usage errors (exit 2) that
    // name both lengths and change nothing.
    let key = "0700000000000000";
    d.shmkit(&["set", "--raw", "--hex", "fx", "ids", key, "61626364"])
        .expect_code(0);
    let got = d.shmkit(&["get", "--raw", "--hex", "fx", "ids", key]);
    got.expect_code(0);
    assert_eq!(got.stdout, "abcd");
    let run = d.shmkit(&["set", "fx", "ids", "user", "x"]);
    run.expect_code(2);
    assert!(
        run.stderr
            .contains("key of 5 bytes in a map whose keys are 8 bytes"),
        "{}",
        run.stderr
    );
    let run = d.shmkit(&["set", "--raw", "--hex", "fx", "ids", key, "6162"]);
    run.expect_code(2);
    assert!(run.stderr.contains("value of 2 bytes"), "{}", run.stderr);
    d.shmkit(&["get", "--raw", "--hex", "fx", "ids", "07"])
        .expect_code(2);
    let got = d.shmkit(&["get", "--raw", "--hex", "fx", "ids", key]);
    assert_eq!(got.stdout, "abcd");
}

#[test]
fn a_corrupt_map_is_reported_and_points_to_check() {
    let _w = watchdog(60);
    let d = StoreDir::new("kv-corrupt");
    let store = d.create("cm");
    let map = store.hash_map("m").unwrap();
    map.set(b"k", b"v").unwrap();
    let root = map.root_offset();
    drop(map);
    drop(store);
    common::poke(&d.path("cm"), root, b"garbage!"); // the map's magic

    let run = d.shmkit(&["get", "cm", "m", "k", "--raw"]);
    run.expect_code(4);
    assert!(run.stderr.contains("looks corrupt"), "{}", run.stderr);
    assert!(run.stderr.contains("shmkit check cm"), "{}", run.stderr);
    d.shmkit(&["dump", "cm", "m"]).expect_code(4);
    let ls = d.shmkit(&["ls", "--json"]).expect_code(0).json();
    assert!(ls["stores"][0]["objects"][0]["error"].is_string(), "{ls}");
    let check = d.shmkit(&["check", "cm"]);
    check.expect_code(1);
    assert!(
        check
            .stdout
            .contains("problem: hash_map \"m\": cannot open"),
        "{}",
        check.stdout
    );
}

#[test]
fn set_reads_binary_values_from_stdin() {
    use std::io::Write;
    let d = StoreDir::new("kv-stdin");
    drop(d.create("si"));
    let data: Vec<u8> = (0..=255u8).chain(0..=255u8).collect();
    let mut child = common::command(Some(&d.dir))
        .args([
            "set", "--create", "si", "m", "blob", "--type", "bytes", "--stdin",
        ])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&data).unwrap();
    assert!(child.wait().unwrap().success());
    let got = d
        .shmkit(&["get", "si", "m", "blob"])
        .expect_code(0)
        .raw_stdout
        .clone();
    assert_eq!(got, data);
    // Conflicts with an argument value.
    d.shmkit(&["set", "si", "m", "blob", "x", "--stdin"])
        .expect_code(2);
}
