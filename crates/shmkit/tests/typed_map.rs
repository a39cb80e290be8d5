//! TypedMap: a proptest model test against `std::collections::HashMap` (single and batch
//! operations, `incr`), keys matched in Python's dict form across key types, entries of
//! other types reported (never a panic), `incr` refusing sums the value type cannot hold,
//! tuples and JSON values, and two processes sharing one typed map.

mod common;

use common::{TestStore, fork_child, watchdog};
use proptest::prelude::*;
use shmkit::value::codec::{CodecError, Encode, Json};
use shmkit::value::{Value, arith::AddError, decode};
use shmkit::{ErrorKind, TypedMap, TypedMapError};
use std::collections::HashMap as StdMap;

#[derive(Clone, Debug)]
enum Op {
    Set(u8, i64),
    Insert(u8, i64),
    IfAbsent(u8, i64),
    Remove(u8),
    Delete(u8),
    Cas(u8, Option<i64>, Option<i64>),
    Incr(u8, i64),
    SetMany(Vec<(u8, i64)>),
    GetMany(Vec<u8>),
    RemoveMany(Vec<u8>),
}

fn key(k: u8) -> String {
    format!("k{}", k % 24)
}

fn op() -> impl Strategy<Value = Op> {
    let k = any::<u8>();
    let v = prop_oneof![any::<i64>(), -3i64..3];
    prop_oneof![
        3 => (k, v.clone()).prop_map(|(k, v)| Op::Set(k, v)),
        2 => (k, v.clone()).prop_map(|(k, v)| Op::Insert(k, v)),
        1 => (k, v.clone()).prop_map(|(k, v)| Op::IfAbsent(k, v)),
        1 => k.prop_map(Op::Remove),
        1 => k.prop_map(Op::Delete),
        2 => (k, proptest::option::of(-3i64..3), proptest::option::of(v.clone()))
            .prop_map(|(k, e, n)| Op::Cas(k, e, n)),
        2 => (k, v.clone()).prop_map(|(k, d)| Op::Incr(k, d)),
        1 => proptest::collection::vec((k, v), 0..12).prop_map(Op::SetMany),
        2 => proptest::collection::vec(k, 0..12).prop_map(Op::GetMany),
        1 => proptest::collection::vec(k, 0..12).prop_map(Op::RemoveMany),
    ]
}

fn check_op(map: &TypedMap<String, i64>, model: &mut StdMap<String, i64>, op: Op) {
    match op {
        Op::Set(k, v) => {
            map.set(key(k).as_str(), &v).unwrap();
            model.insert(key(k), v);
        }
        Op::Insert(k, v) => assert_eq!(map.insert(&key(k), &v).unwrap(), model.insert(key(k), v)),
        Op::IfAbsent(k, v) => {
            let absent = !model.contains_key(&key(k));
            assert_eq!(map.insert_if_absent(&key(k), &v).unwrap(), absent);
            model.entry(key(k)).or_insert(v);
        }
        Op::Remove(k) => assert_eq!(map.remove(&key(k)).unwrap(), model.remove(&key(k))),
        Op::Delete(k) => assert_eq!(
            map.delete(&key(k)).unwrap(),
            model.remove(&key(k)).is_some()
        ),
        Op::Cas(k, expected, new) => {
            let holds = model.get(&key(k)).copied() == expected;
            let done = map
                .compare_and_set(key(k).as_str(), expected.as_ref(), new.as_ref())
                .unwrap();
            assert_eq!(done, holds);
            if holds {
                match new {
                    Some(v) => model.insert(key(k), v),
                    None => model.remove(&key(k)),
                };
            }
        }
        Op::Incr(k, d) => {
            let old = model.get(&key(k)).copied().unwrap_or(0);
            match old.checked_add(d) {
                Some(sum) => {
                    assert_eq!(map.incr(&key(k), d).unwrap(), sum);
                    model.insert(key(k), sum);
                }
                // Python would store a big int; an i64 map refuses and changes nothing.
                None => assert!(matches!(
                    map.incr(&key(k), d),
                    Err(TypedMapError::Value(CodecError::OutOfRange { .. }))
                )),
            }
        }
        Op::SetMany(items) => {
            let items: Vec<(String, i64)> = items.into_iter().map(|(k, v)| (key(k), v)).collect();
            map.set_many(items.iter().map(|(k, v)| (k, v))).unwrap();
            model.extend(items);
        }
        Op::GetMany(keys) => {
            let keys: Vec<String> = keys.into_iter().map(key).collect();
            let want: Vec<Option<i64>> = keys.iter().map(|k| model.get(k).copied()).collect();
            assert_eq!(map.get_many(&keys).unwrap(), want);
            let present: Vec<bool> = want.iter().map(Option::is_some).collect();
            assert_eq!(
                map.contains_many(keys.iter().map(String::as_str)).unwrap(),
                present
            );
        }
        Op::RemoveMany(keys) => {
            let keys: Vec<String> = keys.into_iter().map(key).collect();
            let mut removed = 0;
            for k in &keys {
                removed += u64::from(model.remove(k).is_some());
            }
            assert_eq!(map.remove_many(&keys).unwrap(), removed);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    #[test]
    fn model(ops in proptest::collection::vec(op(), 1..80)) {
        let t = TestStore::new("typed-model");
        let map: TypedMap<String, i64> = t.map(2).typed();
        let mut model = StdMap::new();
        for op in ops {
            check_op(&map, &mut model, op);
            prop_assert_eq!(map.len(), model.len() as u64);
        }
        let mut items: Vec<(String, i64)> = map.iter().map(Result::unwrap).collect();
        items.sort();
        let mut want: Vec<(String, i64)> = model.into_iter().collect();
        want.sort();
        prop_assert_eq!(items, want);
    }
}

#[test]
fn keys_match_in_python_s_dict_form() {
    let t = TestStore::new("typed-keys");
    let by_int = t.typed_map::<i64, String>("m").unwrap();
    by_int.set(&1, "one").unwrap();
    by_int.set(&(1 << 60), "big").unwrap();
    // The same map, other key types: 1.0 and true are the key 1, as in a Python dict.
    let by_float = t.typed_map::<f64, String>("m").unwrap();
    assert_eq!(by_float.get(&1.0).unwrap().as_deref(), Some("one"));
    assert_eq!(by_float.get(&-0.0).unwrap(), None);
    assert_eq!(
        by_float.get(&2f64.powi(60)).unwrap().as_deref(),
        Some("big")
    );
    let by_bool = t.typed_map::<bool, String>("m").unwrap();
    assert_eq!(by_bool.get(&true).unwrap().as_deref(), Some("one"));
    let by_u128 = t.typed_map::<u128, String>("m").unwrap();
    assert_eq!(by_u128.get(&1).unwrap().as_deref(), Some("one"));
    // A float key that is not integral stays a float, and the float map reads it back.
    by_float.set(&0.5, "half").unwrap();
    assert_eq!(
        decode(&0.5f64.encode_key().unwrap()).unwrap(),
        Value::Float(0.5)
    );
    let mut keys: Vec<f64> = by_float.keys().map(Result::unwrap).collect();
    keys.sort_by(f64::total_cmp);
    assert_eq!(keys, [0.5, 1.0, 2f64.powi(60)]);
    // The int map meets a key it cannot read: an error item, the rest still come.
    let items: Vec<_> = by_int.iter().collect();
    assert_eq!(items.len(), 3);
    let errors: Vec<_> = items.iter().filter_map(|r| r.as_ref().err()).collect();
    assert!(
        matches!(
            errors[..],
            [TypedMapError::Key(CodecError::WrongType {
                expected: "i64",
                found: "float"
            })]
        ),
        "{errors:?}"
    );
    // Bool keys only read 0 and 1.
    let bad: Vec<_> = by_bool.keys().filter(Result::is_err).collect();
    assert_eq!(bad.len(), 2);
    // String keys by reference: &str, &String.
    let names = t.typed_map::<String, Vec<u8>>("names").unwrap();
    names.set("a", &b"x"[..]).unwrap();
    assert_eq!(names.get(&"a".to_string()).unwrap(), Some(b"x".to_vec()));
    assert!(names.contains_key("a").unwrap());
}

#[test]
fn entries_of_other_types_are_errors_not_panics() {
    let t = TestStore::new("typed-foreign");
    let raw = t.hash_map("m").unwrap();
    raw.set(&"s".encode_key().unwrap(), &"text".encode().unwrap())
        .unwrap();
    raw.set(&"n".encode_key().unwrap(), &7i64.encode().unwrap())
        .unwrap();
    raw.set(&"bad".encode_key().unwrap(), &[0x99, 1]).unwrap();
    raw.set(b"not-a-value", &7i64.encode().unwrap()).unwrap();
    let map: TypedMap<String, i64> = raw.typed();
    assert_eq!(map.get("n").unwrap(), Some(7));
    let e = map.get("s").unwrap_err();
    assert!(matches!(
        e,
        TypedMapError::Value(CodecError::WrongType { .. })
    ));
    assert_eq!(e.kind(), ErrorKind::WrongType);
    let e = map.get("bad").unwrap_err();
    assert!(matches!(e, TypedMapError::Value(CodecError::Malformed(_))));
    assert_eq!(shmkit::Error::from(e).kind(), ErrorKind::InvalidValue);
    let results: Vec<_> = map.iter().collect();
    assert_eq!(results.len(), 4);
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1);
    assert_eq!(
        results
            .iter()
            .filter(|r| matches!(r, Err(TypedMapError::Key(_))))
            .count(),
        1
    );
    // A batch read fails as a whole on one bad value.
    assert!(map.get_many(["n", "s"]).is_err());
    assert_eq!(map.get_many(["n", "zz"]).unwrap(), [Some(7), None]);
    // insert over an undecodable value writes, then reports the old value's error.
    assert!(matches!(map.insert("s", &1), Err(TypedMapError::Value(_))));
    assert_eq!(map.get("s").unwrap(), Some(1));
    // incr on a value that is not a number changes nothing.
    let text = t.typed_map::<String, String>("m").unwrap();
    text.set("t", "x").unwrap();
    assert!(matches!(
        map.incr("t", 1),
        Err(TypedMapError::Incr(AddError::NotANumber { tag: Some(6) }))
    ));
    assert_eq!(text.get("t").unwrap().as_deref(), Some("x"));
}

#[test]
fn incr_follows_the_shared_arithmetic_within_the_type() {
    let t = TestStore::new("typed-incr");
    let small = t.typed_map::<String, u8>("m").unwrap();
    assert_eq!(small.incr("c", 250).unwrap(), 250);
    assert!(matches!(
        small.incr("c", 10),
        Err(TypedMapError::Value(CodecError::OutOfRange {
            expected: "u8"
        }))
    ));
    assert_eq!(small.get("c").unwrap(), Some(250));
    // Past i64 the stored value is Python's big int; a u64 or i128 map reads it.
    let wide = t.typed_map::<String, u64>("m").unwrap();
    wide.set("w", &(i64::MAX as u64)).unwrap();
    assert_eq!(wide.incr("w", 1).unwrap(), 1 << 63);
    assert_eq!(
        decode(&wide.raw().get(&"w".encode_key().unwrap()).unwrap().unwrap()).unwrap(),
        Value::BigInt(vec![0, 0, 0, 0, 0, 0, 0, 0x80, 0])
    );
    let huge = t.typed_map::<String, i128>("m").unwrap();
    assert_eq!(huge.incr("w", -1).unwrap(), i128::from(i64::MAX));
    assert_eq!(
        huge.incr("w", i128::MIN).unwrap(),
        i128::MIN + i128::from(i64::MAX)
    );
    let unsigned = t.typed_map::<String, u128>("m").unwrap();
    unsigned.set("u", &(u128::MAX - 1)).unwrap();
    assert_eq!(unsigned.incr("u", 1).unwrap(), u128::MAX);
    assert!(unsigned.incr("u", 1).is_err());
    assert_eq!(unsigned.get("u").unwrap(), Some(u128::MAX));
    // int + float is a float: stored, but an integer map refuses to store it.
    let floats = t.typed_map::<String, f64>("m").unwrap();
    assert_eq!(floats.incr("c", 0.5).unwrap(), 250.5);
    assert!(matches!(
        small.incr("c", 1),
        Err(TypedMapError::Value(CodecError::WrongType {
            found: "float",
            ..
        }))
    ));
    assert_eq!(floats.incr("new", 1.25).unwrap(), 1.25);
    let f32s = t.typed_map::<String, f32>("m").unwrap();
    assert_eq!(f32s.incr("new", 0.25).unwrap(), 1.5);
    // An f32 map refuses a sum it cannot hold exactly.
    assert!(f32s.incr("new", 0.1).is_err());
    assert_eq!(f32s.get("new").unwrap(), Some(1.5));
}

#[test]
fn options_tuples_and_json() {
    let t = TestStore::new("typed-misc");
    let optional = t.typed_map::<String, Option<i64>>("opt").unwrap();
    optional.set("none", &None).unwrap();
    optional.set("some", &Some(3)).unwrap();
    assert_eq!(optional.get("none").unwrap(), Some(None));
    assert_eq!(optional.get("some").unwrap(), Some(Some(3)));
    assert_eq!(optional.get("missing").unwrap(), None);
    assert_eq!(
        decode(
            &optional
                .raw()
                .get(&"none".encode_key().unwrap())
                .unwrap()
                .unwrap()
        )
        .unwrap(),
        Value::Null
    );

    let pairs = t.typed_map::<(String, u32), (f64, bool)>("pairs").unwrap();
    pairs.set(&("a".to_string(), 1), &(0.5, true)).unwrap();
    assert_eq!(pairs.get(&("a".to_string(), 1)).unwrap(), Some((0.5, true)));
    assert_eq!(pairs.get(&("a".to_string(), 2)).unwrap(), None);
    // Tuple keys take their elements' key forms: (1.0, x) is (1, x).
    let mixed = t.typed_map::<(f64, String), ()>("mixed").unwrap();
    mixed.set(&(1.0, "x".to_string()), &()).unwrap();
    let same = t.typed_map::<(i64, String), ()>("mixed").unwrap();
    assert!(same.contains_key(&(1, "x".to_string())).unwrap());

    #[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug, Clone)]
    struct Session {
        user: String,
        roles: Vec<String>,
    }
    let sessions = t.typed_map::<u64, Json<Session>>("sessions").unwrap();
    let s = Json(Session {
        user: "ada".into(),
        roles: vec!["admin".into()],
    });
    sessions.set(&7, &s).unwrap();
    assert_eq!(sessions.get(&7).unwrap(), Some(s.clone()));
    // Other languages see a str of JSON.
    let as_text = t.typed_map::<u64, String>("sessions").unwrap();
    assert_eq!(
        as_text.get(&7).unwrap().as_deref(),
        Some(r#"{"user":"ada","roles":["admin"]}"#)
    );
    assert!(sessions.compare_and_set(&7, Some(&s), None).unwrap());
    assert!(sessions.is_empty());
}

#[test]
fn two_processes_count_on_one_typed_map() {
    let _watchdog = watchdog(120);
    let t = TestStore::new("typed-procs");
    let map = t.typed_map::<(String, u8), i64>("m").unwrap();
    let children: Vec<_> = (0..2)
        .map(|_| {
            let name = t.name().to_string();
            fork_child(move || {
                let store = shmkit::Store::open(&name).unwrap();
                let map = store.open_typed_map::<(String, u8), i64>("m").unwrap();
                for i in 0..500u32 {
                    map.incr(&("hits".to_string(), (i % 3) as u8), 1).unwrap();
                }
                0
            })
        })
        .collect();
    for child in children {
        child.expect_success();
    }
    let mut total = 0;
    for item in map.iter() {
        total += item.unwrap().1;
    }
    assert_eq!(total, 1000);
    assert_eq!(map.get(&("hits".to_string(), 0)).unwrap(), Some(2 * 167));
}
