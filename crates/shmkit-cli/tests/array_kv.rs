//! `get`/`set`/`del`/`dump`/`stat` on arrays: elements by flat or multi-index (negative from
//! the end), decoded by the element type into numbers, text or JSON objects of their fields;
//! bad indexes and values are usage errors that write nothing.

mod common;

use common::{StoreDir, watchdog};
use serde_json::json;

/// A store `s` with a 4 x 3 float64 array `grid`, an array `pts` of 5 aligned records, a
/// 4-byte float array `f`, a byte-string array `names` and a uint8 array `u`.
fn setup(d: &StoreDir) -> shmkit::Store {
    let store = d.create("s");
    let grid = store.array("grid", "<f8", &[4, 3]).unwrap();
    for i in 0..12u64 {
        grid.write(i, &(i as f64 + 0.5).to_le_bytes()).unwrap();
    }
    let pts = store
        .array("pts", "T{<d:x:<d:y:<I:id:B:flag:3x}", &[5])
        .unwrap();
    let mut rec = [0u8; 24];
    rec[..8].copy_from_slice(&1.5f64.to_le_bytes());
    rec[8..16].copy_from_slice(&(-2.0f64).to_le_bytes());
    rec[16..20].copy_from_slice(&7u32.to_le_bytes());
    rec[20] = 1;
    pts.write(4, &rec).unwrap();
    store.array("f", "<f4", &[2]).unwrap();
    store.array("names", "6s", &[2]).unwrap();
    store.array("u", "u1", &[3]).unwrap();
    store
}

#[test]
fn get_and_set_decode_elements_by_their_element_type() {
    let _w = watchdog(60);
    let d = StoreDir::new("array-kv");
    let store = setup(&d);
    let s = |args: &[&str]| d.shmkit(args);

    assert_eq!(s(&["get", "s", "grid", "0"]).expect_code(0).stdout, "0.5\n");
    assert_eq!(
        s(&["get", "s", "grid", "-1"]).expect_code(0).stdout,
        "11.5\n"
    );
    assert_eq!(
        s(&["get", "s", "grid", "1,2"]).expect_code(0).stdout,
        "5.5\n"
    );
    assert_eq!(
        s(&["get", "s", "grid", "--", "-1,0"]).expect_code(0).stdout,
        "9.5\n"
    );
    assert_eq!(
        s(&["get", "--json", "s", "grid", "2"])
            .expect_code(0)
            .json(),
        json!(2.5)
    );

    let rec = s(&["get", "s", "pts", "-1"]).expect_code(0).json();
    assert_eq!(rec, json!({"x": 1.5, "y": -2.0, "id": 7, "flag": 1}));
    assert_eq!(
        s(&["get", "s", "pts", "-1"]).expect_code(0).stdout,
        "{\"x\":1.5,\"y\":-2.0,\"id\":7,\"flag\":1}\n",
        "fields in format order"
    );

    // set: a number for scalars, a JSON object (or list) for records; the library sees it.
    s(&["set", "s", "grid", "1,2", "-3.25"]).expect_code(0);
    s(&["set", "s", "grid", "-12", "7"]).expect_code(0);
    let grid = store.open_array("grid").unwrap().typed::<f64>().unwrap();
    assert_eq!(grid.get(5).unwrap(), -3.25);
    assert_eq!(grid.get(0).unwrap(), 7.0);
    s(&[
        "set",
        "s",
        "pts",
        "0",
        r#"{"id": 42, "flag": 0, "y": 1e-3, "x": -1}"#,
    ])
    .expect_code(0);
    s(&["set", "s", "pts", "1", "[0.5, 0.25, 4294967295, 255]"]).expect_code(0);
    let pts = store.open_array("pts").unwrap();
    let mut rec = [0u8; 24];
    pts.read(0, &mut rec).unwrap();
    assert_eq!(f64::from_le_bytes(rec[..8].try_into().unwrap()), -1.0);
    assert_eq!(f64::from_le_bytes(rec[8..16].try_into().unwrap()), 1e-3);
    assert_eq!(u32::from_le_bytes(rec[16..20].try_into().unwrap()), 42);
    assert_eq!(
        s(&["get", "s", "pts", "1"]).expect_code(0).json(),
        json!({"x": 0.5, "y": 0.25, "id": 4294967295u64, "flag": 255})
    );

    // A 4-byte float prints its shortest decimal; text goes into byte strings.
    s(&["set", "s", "f", "0", "0.1"]).expect_code(0);
    assert_eq!(s(&["get", "s", "f", "0"]).expect_code(0).stdout, "0.1\n");
    s(&["set", "s", "names", "1", "ada"]).expect_code(0);
    assert_eq!(
        s(&["get", "s", "names", "1"]).expect_code(0).stdout,
        "ada\n"
    );
    assert_eq!(
        s(&["get", "--json", "s", "names", "1"])
            .expect_code(0)
            .json(),
        json!("ada")
    );

    // dump: one JSON line per element, decoded, in index order.
    let dump = s(&["dump", "s", "pts"]).expect_code(0).stdout.clone();
    let lines: Vec<serde_json::Value> = dump
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 5);
    assert_eq!(
        lines[0],
        json!({"value": {"x": -1.0, "y": 0.001, "id": 42, "flag": 0}})
    );
    assert_eq!(
        lines[2],
        json!({"value": {"x": 0.0, "y": 0.0, "id": 0, "flag": 0}})
    );
    let dump = s(&["dump", "s", "grid"]).expect_code(0).stdout.clone();
    assert_eq!(dump.lines().next(), Some("{\"value\":7.0}"));
    assert_eq!(dump.lines().count(), 12);
}

#[test]
fn bad_indexes_and_values_are_usage_errors_and_write_nothing() {
    let _w = watchdog(60);
    let d = StoreDir::new("array-kv-bad");
    let store = setup(&d);
    let s = |args: &[&str]| d.shmkit(args);
    let before: Vec<Vec<u8>> = ["grid", "pts", "u", "names"]
        .iter()
        .map(|n| {
            let a = store.open_array(n).unwrap();
            let mut all = vec![0u8; a.nbytes() as usize];
            a.read_range(0, &mut all).unwrap();
            all
        })
        .collect();

    for (args, says) in [
        (
            &["get", "s", "grid", "12"][..],
            "index 12 out of range for array \"grid\" of shape (4, 3)",
        ),
        (&["get", "s", "grid", "-13"], "out of range"),
        (&["get", "s", "grid", "4,0"], "out of range"),
        (&["get", "s", "grid", "1,2,3"], "3 numbers"),
        (&["get", "s", "grid", "x"], "not a decimal integer"),
        (&["set", "s", "grid", "12", "1"], "out of range"),
        (
            &["set", "s", "grid", "0", "abc"],
            "a str value for a field of 8-byte float",
        ),
        (
            &["set", "s", "u", "0", "256"],
            "256 is outside the range of a 1-byte unsigned int (0 to 255)",
        ),
        (&["set", "s", "u", "0", "-1"], "outside the range"),
        (&["set", "s", "u", "0", "1.5"], "a float value"),
        (
            &["set", "s", "names", "0", "toolongname"],
            "longer than the field's 6",
        ),
        (&["set", "s", "pts", "0", "1.5"], "JSON object"),
        (
            &["set", "s", "pts", "0", r#"{"x": 1}"#],
            "no value for field \"y\"",
        ),
        (
            &[
                "set",
                "s",
                "pts",
                "0",
                r#"{"x":1,"y":2,"id":3,"flag":1,"z":0}"#,
            ],
            "no field \"z\"",
        ),
        (
            &["set", "s", "pts", "0", r#"{"x":1,"y":2,"id":-3,"flag":1}"#],
            "field \"id\"",
        ),
        (
            &["set", "s", "pts", "0", "[1, 2]"],
            "2 values for an element of 4 fields",
        ),
        (&["set", "s", "grid", "0"], "VALUE is required"),
        (&["get", "--raw", "s", "grid", "0"], "--raw does not apply"),
        (
            &["set", "s", "grid", "0", "1", "--type", "bytes"],
            "--type does not apply",
        ),
        (&["del", "s", "grid", "0"], "an array has no keys to delete"),
    ] {
        let run = s(args);
        run.expect_code(2);
        assert!(run.stderr.contains(says), "{args:?}: {}", run.stderr);
        assert!(run.stdout.is_empty(), "{args:?}");
    }
    let after: Vec<Vec<u8>> = ["grid", "pts", "u", "names"]
        .iter()
        .map(|n| {
            let a = store.open_array(n).unwrap();
            let mut all = vec![0u8; a.nbytes() as usize];
            a.read_range(0, &mut all).unwrap();
            all
        })
        .collect();
    assert_eq!(before, after, "nothing was written");
}

#[test]
fn stat_shows_the_element_type_and_shape() {
    let _w = watchdog(60);
    let d = StoreDir::new("array-stat");
    let _store = setup(&d);
    let j = d
        .shmkit(&["stat", "--json", "s", "pts"])
        .expect_code(0)
        .json();
    assert_eq!(j["kind"], json!("array"));
    assert_eq!(j["format"], json!("T{<d:x:<d:y:<I:id:B:flag:3x}"));
    assert_eq!(j["shape"], json!([5]));
    assert_eq!(j["elements"], json!(5));
    assert_eq!(j["itemsize"], json!(24));
    let text = d
        .shmkit(&["stat", "s", "grid"])
        .expect_code(0)
        .stdout
        .clone();
    assert!(text.contains("(array)"), "{text}");
    assert!(text.contains("format") && text.contains(" d\n"), "{text}");
    assert!(text.contains("(4, 3)"), "{text}");
}
