//! `get`/`set`/`del`/`dump` on atomic vectors: the command follows the object's kind in the
//! store's directory; indexes count from the end when negative; elements are int64 numbers.

mod common;

use common::{StoreDir, watchdog};

/// A store `s` with an atomic vector `v` of 4 elements [5, 0, 0, -2] and a hash map `m`.
fn setup(d: &StoreDir) -> shmkit::Store {
    let store = d.create("s");
    let v = store.atomic_vector("v", 4).unwrap();
    v.store(0, 5).unwrap();
    v.store(3, -2).unwrap();
    store.hash_map("m").unwrap();
    store
}

#[test]
fn get_and_set_address_elements_by_index_negative_from_the_end() {
    let _w = watchdog(60);
    let d = StoreDir::new("vec-kv");
    let store = setup(&d);
    let v = store.open_atomic_vector("v").unwrap();
    let s = |args: &[&str]| d.shmkit(args);

    assert_eq!(s(&["get", "s", "v", "0"]).expect_code(0).stdout, "5\n");
    assert_eq!(s(&["get", "s", "v", "-1"]).expect_code(0).stdout, "-2\n");
    assert_eq!(s(&["get", "s", "v", "-4"]).expect_code(0).stdout, "5\n");
    assert_eq!(s(&["get", "s", "v", "1"]).expect_code(0).stdout, "0\n");
    let json = s(&["get", "--json", "s", "v", "3"]).expect_code(0).json();
    assert_eq!(json, serde_json::json!(-2), "a JSON number");

    s(&["set", "s", "v", "1", "-7"]).expect_code(0);
    s(&["set", "s", "v", "-2", "9223372036854775807"]).expect_code(0);
    s(&[
        "set",
        "s",
        "v",
        "0",
        "-9223372036854775808",
        "--type",
        "int",
    ])
    .expect_code(0);
    assert_eq!(
        v.load_range(0, 4).unwrap(),
        vec![i64::MIN, -7, i64::MAX, -2]
    );
    assert_eq!(
        s(&["get", "s", "v", "2"]).expect_code(0).stdout,
        "9223372036854775807\n"
    );

    // The vector is the same object other processes use: a change made through the library
    // shows, and one made through the command is seen by the library.
    v.fetch_add(3, 10).unwrap();
    assert_eq!(s(&["get", "s", "v", "3"]).expect_code(0).stdout, "8\n");
    // --create sets an existing vector's element (it creates only what is missing).
    s(&["set", "--create", "s", "v", "3", "1"]).expect_code(0);
    assert_eq!(v.load(3).unwrap(), 1);
    assert_eq!(v.len(), 4, "set never grows the vector");
}

#[test]
fn bad_indexes_and_values_are_errors_and_change_nothing() {
    let _w = watchdog(60);
    let d = StoreDir::new("vec-kv-bad");
    let store = setup(&d);
    let v = store.open_atomic_vector("v").unwrap();
    let s = |args: &[&str]| d.shmkit(args);

    for index in ["4", "-5", "18446744073709551615", "-9223372036854775808"] {
        let run = s(&["get", "s", "v", index]);
        run.expect_code(2);
        assert!(run.stdout.is_empty());
        assert!(
            run.stderr.contains(&format!(
                "index {index} out of range for atomic_vector \"v\" of 4"
            )),
            "{}",
            run.stderr
        );
    }
    let run = s(&["set", "s", "v", "4", "1"]);
    run.expect_code(2);
    assert!(
        run.stderr.contains("index 4 out of range"),
        "{}",
        run.stderr
    );
    let run = s(&["get", "s", "v", "one"]);
    run.expect_code(2);
    assert!(
        run.stderr.contains("not a decimal integer"),
        "{}",
        run.stderr
    );

    for value in [
        "9223372036854775808",
        "-9223372036854775809",
        "99999999999999999999",
    ] {
        let run = s(&["set", "s", "v", "1", value]);
        run.expect_code(2);
        assert!(
            run.stderr.contains("outside the range of an int64"),
            "{value}: {}",
            run.stderr
        );
    }
    let run = s(&["set", "s", "v", "1", "1.5"]);
    run.expect_code(2);
    assert!(
        run.stderr.contains("not a decimal integer"),
        "{}",
        run.stderr
    );
    let run = s(&["set", "s", "v", "1"]);
    run.expect_code(2);
    assert!(run.stderr.contains("VALUE is required"), "{}", run.stderr);
    for option in ["--raw", "--hex"] {
        let run = s(&["set", option, "s", "v", "1", "3"]);
        run.expect_code(2);
        assert!(
            run.stderr.contains(&format!("{option} does not apply")),
            "{}",
            run.stderr
        );
    }
    let run = s(&["set", "s", "v", "1", "3", "--type", "float"]);
    run.expect_code(2);
    assert!(
        run.stderr.contains("--type does not apply"),
        "{}",
        run.stderr
    );

    let run = s(&["del", "s", "v", "0"]);
    run.expect_code(2);
    assert!(
        run.stderr.contains("atomic_vector has no keys to delete"),
        "{}",
        run.stderr
    );
    assert_eq!(
        v.load_range(0, 4).unwrap(),
        vec![5, 0, 0, -2],
        "nothing changed"
    );
}

#[test]
fn hash_maps_keep_their_behaviour_and_create_makes_a_map() {
    let _w = watchdog(60);
    let d = StoreDir::new("vec-kv-map");
    let store = setup(&d);
    let s = |args: &[&str]| d.shmkit(args);

    // A negative number is a key of a map too (it used to need `--`).
    s(&["set", "s", "m", "-1", "minus one"]).expect_code(0);
    assert_eq!(
        s(&["get", "s", "m", "-1"]).expect_code(0).stdout,
        "minus one\n"
    );
    s(&["get", "s", "m", "0"]).expect_code(1);
    s(&["del", "s", "m", "-1"]).expect_code(0);
    // A missing object: no create without --create, a hash map with it.
    s(&["get", "s", "w", "0"]).expect_code(3);
    s(&["set", "s", "w", "0", "1"]).expect_code(3);
    s(&["set", "--create", "s", "w", "0", "1", "--type", "int"]).expect_code(0);
    let kinds: Vec<_> = store
        .objects()
        .unwrap()
        .into_iter()
        .map(|o| (o.name, o.kind.name()))
        .collect();
    assert!(
        kinds.contains(&("w".to_string(), "hash_map".to_string())),
        "{kinds:?}"
    );
    assert_eq!(s(&["get", "s", "w", "0"]).expect_code(0).stdout, "1\n");
    // A missing store is reported as before.
    let run = s(&["get", "nosuch", "v", "0"]);
    run.expect_code(3);
    assert!(
        run.stderr.contains("no store named nosuch"),
        "{}",
        run.stderr
    );
}

#[test]
fn dump_prints_elements_as_numbers_in_index_order() {
    let _w = watchdog(60);
    let d = StoreDir::new("vec-dump");
    let store = setup(&d);
    let v = store.open_atomic_vector("v").unwrap();
    v.store(1, i64::MAX).unwrap();
    v.store(2, 1 << 40).unwrap();
    let s = |args: &[&str]| d.shmkit(args);

    let run = s(&["dump", "s", "v"]);
    run.expect_code(0);
    assert_eq!(
        run.stdout,
        "{\"value\":5}\n{\"value\":9223372036854775807}\n{\"value\":1099511627776}\n{\"value\":-2}\n"
    );
    let sorted = s(&["dump", "--sort", "s", "v"]);
    sorted.expect_code(0);
    let numbers: Vec<i64> = sorted
        .stdout
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["value"]
                .as_i64()
                .unwrap()
        })
        .collect();
    assert_eq!(numbers, vec![-2, 5, 1 << 40, i64::MAX], "sorted by number");
    // --raw shows the bytes as they are.
    let raw = s(&["dump", "--raw", "s", "v"]);
    raw.expect_code(0);
    assert!(
        raw.stdout
            .starts_with("{\"value\":{\"raw\":\"BQAAAAAAAAA=\"}}\n"),
        "{}",
        raw.stdout
    );
}
