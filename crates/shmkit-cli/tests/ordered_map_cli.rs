//! `get`/`set`/`del`/`dump` on ordered maps: keys typed as for a hash map and stored as
//! their ordered keys (what Python's `OrderedMap` keys the same values by), values typed as
//! for a hash map, entries dumped in key order with their keys decoded.

mod common;

use common::{StoreDir, watchdog};
use shmkit::value::ordered::OrderedKey;
use shmkit::value::{Value, encode};

fn key(k: OrderedKey) -> Vec<u8> {
    k.encode().unwrap()
}

fn str_val(s: &str) -> Vec<u8> {
    encode(&Value::Str(s.into()))
}

#[test]
fn set_get_del_round_trip_with_ordered_keys() {
    let _w = watchdog(60);
    let d = StoreDir::new("om-cli");
    let store = d.create("s");
    let om = store.ordered_map("om").unwrap();
    let s = |args: &[&str]| d.shmkit(args);

    s(&["set", "s", "om", "alice", "Alice"]).expect_code(0);
    s(&[
        "set",
        "s",
        "om",
        "-5",
        "41",
        "--key-type",
        "int",
        "--type",
        "int",
    ])
    .expect_code(0);
    s(&["set", "s", "om", "6b", "6b", "--raw", "--hex"]).expect_code(0);
    // What the library (and Python) sees: ordered keys, typed values.
    assert_eq!(
        om.get(&key(OrderedKey::Str("alice".into()))).unwrap(),
        Some(str_val("Alice"))
    );
    assert_eq!(
        om.get(&key(OrderedKey::Int(-5))).unwrap(),
        Some(encode(&Value::Int(41)))
    );
    assert_eq!(om.get(b"k").unwrap(), Some(b"k".to_vec()));
    // A key written by a program is read by the command, and the other way round; an
    // integral float and a bool are the int they equal, as in Python.
    om.set(&key(OrderedKey::Int(1)), &str_val("one")).unwrap();
    assert_eq!(
        s(&["get", "s", "om", "1.0", "--key-type", "float"])
            .expect_code(0)
            .stdout,
        "one\n"
    );
    assert_eq!(
        s(&["get", "s", "om", "true", "--key-type", "bool"])
            .expect_code(0)
            .stdout,
        "one\n"
    );
    assert_eq!(
        s(&["get", "s", "om", "alice"]).expect_code(0).stdout,
        "Alice\n"
    );
    assert_eq!(
        s(&["get", "s", "om", "-5", "--key-type", "int", "--json"])
            .expect_code(0)
            .json(),
        serde_json::json!(41)
    );
    assert_eq!(
        s(&["get", "s", "om", "k", "--raw"]).expect_code(0).stdout,
        "k"
    );
    // The str "-5" is another key than the int -5.
    assert_eq!(s(&["get", "s", "om", "-5"]).expect_code(1).stdout, "");
    s(&["del", "s", "om", "alice"]).expect_code(0);
    s(&["del", "s", "om", "alice"]).expect_code(1);
    s(&["get", "s", "om", "alice"]).expect_code(1);
    assert_eq!(om.len(), 3);
    assert_eq!(s(&["len", "s", "om"]).expect_code(0).stdout, "3\n");
}

#[test]
fn dump_shows_entries_in_key_order_with_decoded_keys() {
    let _w = watchdog(60);
    let d = StoreDir::new("om-cli-dump");
    let store = d.create("s");
    let om = store.ordered_map("om").unwrap();
    let s = |args: &[&str]| d.shmkit(args);

    for k in ["10", "-5", "3"] {
        s(&["set", "s", "om", k, k, "--key-type", "int", "--type", "int"]).expect_code(0);
    }
    s(&["set", "s", "om", "2.5", "x", "--key-type", "float"]).expect_code(0);
    s(&["set", "s", "om", "b", "B"]).expect_code(0);
    s(&["set", "s", "om", "a", "A"]).expect_code(0);
    let tuple = OrderedKey::Tuple(vec![OrderedKey::Str("user".into()), OrderedKey::Int(7)]);
    om.set(&key(tuple), &encode(&Value::Int(7))).unwrap();
    om.set(b"\xfe raw", b"v").unwrap();

    let lines = |run: &common::Run| -> Vec<serde_json::Value> {
        run.stdout
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };
    use serde_json::json;
    // Numbers numerically (not as text), then str, then tuples; bytes that are no ordered
    // key last (their first byte is above every type byte), shown raw.
    let all = vec![
        json!({"key": -5, "value": -5}),
        json!({"key": 2.5, "value": "x"}),
        json!({"key": 3, "value": 3}),
        json!({"key": 10, "value": 10}),
        json!({"key": "a", "value": "A"}),
        json!({"key": "b", "value": "B"}),
        json!({"key": ["user", 7], "value": 7}),
        json!({"key": {"raw": "/iByYXc="}, "value": {"raw": "dg=="}}),
    ];
    assert_eq!(lines(s(&["dump", "s", "om"]).expect_code(0)), all);
    assert_eq!(lines(s(&["dump", "s", "om", "--sort"]).expect_code(0)), all);
    // A key range: --start inclusive, --stop exclusive, typed by --key-type.
    assert_eq!(
        lines(
            s(&[
                "dump",
                "s",
                "om",
                "--start",
                "-5",
                "--stop",
                "10",
                "--key-type",
                "int"
            ])
            .expect_code(0)
        ),
        all[..3]
    );
    assert_eq!(
        lines(s(&["dump", "s", "om", "--start", "a"]).expect_code(0)),
        all[4..]
    );
    assert_eq!(
        lines(s(&["dump", "s", "om", "--stop", "2.6", "--key-type", "float"]).expect_code(0)),
        all[..2]
    );
    // --raw shows every key as its bytes.
    let raw = lines(s(&["dump", "s", "om", "--raw"]).expect_code(0));
    assert!(raw[0]["key"]["raw"].is_string(), "{raw:?}");
}

#[test]
fn wrong_kinds_missing_maps_and_bad_keys_are_errors() {
    let _w = watchdog(60);
    let d = StoreDir::new("om-cli-bad");
    let store = d.create("s");
    let om = store.ordered_map("om").unwrap();
    store.deque("q").unwrap();
    store.hash_map("m").unwrap();
    let s = |args: &[&str]| d.shmkit(args);

    // Another kind under the name: the library's wrong-kind error.
    s(&["push", "s", "om", "x"]).expect_code(2);
    s(&["pop", "s", "om"]).expect_code(2);
    s(&["get", "s", "q", "k"]).expect_code(2);
    // A missing map or store.
    let run = s(&["get", "s", "missing", "k"]);
    run.expect_code(3);
    assert!(run.stderr.contains("missing"), "{}", run.stderr);
    s(&["del", "s", "missing", "k"]).expect_code(3);
    s(&["get", "nosuchstore", "om", "k"]).expect_code(3);
    // Keys that do not parse as their type, a key past the limit, a value without --type null.
    s(&["set", "s", "om", "x", "v", "--key-type", "int"]).expect_code(2);
    s(&["del", "s", "om", "1.5", "--key-type", "int"]).expect_code(2);
    let long = "k".repeat(70_000);
    s(&["set", "s", "om", &long, "v"]).expect_code(2);
    s(&["set", "s", "om", "k"]).expect_code(2);
    // --start/--stop only on an ordered map, and typed as their --key-type says.
    s(&["dump", "s", "m", "--start", "a"]).expect_code(2);
    s(&["dump", "s", "om", "--start", "x", "--key-type", "int"]).expect_code(2);
    assert!(om.is_empty(), "nothing was written");
    // --create on an existing ordered map sets it as an ordered map.
    s(&["set", "s", "om", "k", "v", "--create"]).expect_code(0);
    assert_eq!(
        om.get(&key(OrderedKey::Str("k".into()))).unwrap(),
        Some(str_val("v"))
    );
}
