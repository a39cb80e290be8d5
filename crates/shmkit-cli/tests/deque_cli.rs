//! `push`/`pop`/`len` (and `dump`) on deques: values typed as `set` types them, shared with
//! the library's deque; no wait unless `--timeout`; exit 1 when empty or full.

mod common;

use common::{StoreDir, watchdog};
use shmkit::{DequeOptions, End};
use std::time::{Duration, Instant};

#[test]
fn push_pop_and_len_share_the_deque_with_the_library() {
    let _w = watchdog(60);
    let d = StoreDir::new("deque-cli");
    let store = d.create("s");
    let q = store.deque("q").unwrap();
    let s = |args: &[&str]| d.shmkit(args);

    s(&["push", "s", "q", "a", "b"]).expect_code(0);
    s(&["push", "s", "q", "42", "--type", "int", "--front"]).expect_code(0);
    assert_eq!(s(&["len", "s", "q"]).expect_code(0).stdout, "3\n");
    // What the command pushed is the typed encoding Python's Deque reads.
    assert_eq!(
        q.peek_front().unwrap().unwrap(),
        shmkit::value::encode(&shmkit::value::Value::Int(42))
    );
    assert_eq!(s(&["pop", "s", "q"]).expect_code(0).stdout, "42\n");
    assert_eq!(
        s(&["pop", "s", "q", "--back", "--json"])
            .expect_code(0)
            .json(),
        serde_json::json!("b")
    );
    q.push_back(&shmkit::value::encode(&shmkit::value::Value::Str(
        "c".into(),
    )))
    .unwrap();
    assert_eq!(
        s(&["pop", "s", "q", "--count", "5"]).expect_code(0).stdout,
        "a\nc\n"
    );
    // Empty: exit 1 with nothing printed, at once and after a timeout.
    assert_eq!(s(&["pop", "s", "q"]).expect_code(1).stdout, "");
    let start = Instant::now();
    s(&["pop", "s", "q", "--timeout", "0.2"]).expect_code(1);
    assert!(start.elapsed() >= Duration::from_millis(200));
    // `len` works on any kind with a count.
    store.hash_map("m").unwrap().set(b"k", b"v").unwrap();
    assert_eq!(s(&["len", "s", "m"]).expect_code(0).stdout, "1\n");
    assert_eq!(q.len(), 0);
}

#[test]
fn a_full_deque_bad_names_and_other_kinds_are_errors() {
    let _w = watchdog(60);
    let d = StoreDir::new("deque-cli-bad");
    let store = d.create("s");
    let options = DequeOptions {
        maxlen: Some(2),
        ..DequeOptions::default()
    };
    let q = store.deque_with("q", &options).unwrap();
    store.hash_map("m").unwrap();
    let s = |args: &[&str]| d.shmkit(args);

    let full = s(&["push", "s", "q", "1", "2", "3"])
        .expect_code(1)
        .stderr
        .clone();
    assert!(full.contains("pushed 2 of 3"), "{full}");
    assert_eq!(q.len(), 2);
    s(&["push", "s", "m", "x"]).expect_code(2);
    s(&["pop", "s", "m"]).expect_code(2);
    s(&["pop", "s", "missing"]).expect_code(3);
    s(&["len", "s", "missing"]).expect_code(3);
    s(&["push", "s", "new", "x"]).expect_code(3);
    s(&["push", "s", "new", "x", "--create"]).expect_code(0);
    assert_eq!(store.open_deque("new").unwrap().len(), 1);
    s(&["pop", "s", "q", "--timeout", "-1"]).expect_code(2);
    s(&["push", "s", "q", "x", "--type", "int"]).expect_code(2);
    assert_eq!(
        q.pop_many(End::Front, 5, None).unwrap().len(),
        2,
        "nothing else was pushed"
    );
}

#[test]
fn push_and_pop_on_a_priority_queue_order_values_as_python_does() {
    let _w = watchdog(60);
    let d = StoreDir::new("pq-cli");
    let store = d.create("s");
    let q = store.priority_queue("pq").unwrap();
    let s = |args: &[&str]| d.shmkit(args);

    s(&["push", "s", "pq", "2.5", "--type", "float"]).expect_code(0);
    s(&["push", "s", "pq", "3", "-1", "2", "--type", "int"]).expect_code(0);
    s(&["push", "s", "pq", "b", "a"]).expect_code(0);
    assert_eq!(s(&["len", "s", "pq"]).expect_code(0).stdout, "6\n");
    // Numbers first (int and float in one order), then str.
    assert_eq!(
        s(&["pop", "s", "pq", "--count", "10"])
            .expect_code(0)
            .stdout,
        "-1\n2\n2.5\n3\na\nb\n"
    );
    s(&["pop", "s", "pq"]).expect_code(1);
    s(&["pop", "s", "pq", "--back"]).expect_code(2);
    s(&["push", "s", "pq", "x", "--front"]).expect_code(2);
    assert!(q.is_empty());
    // --create on an existing priority queue pushes onto it.
    s(&["push", "s", "pq", "x", "--create"]).expect_code(0);
    assert_eq!(q.len(), 1);
}
