//! Reads maps Python wrote and writes maps Python reads, through `TypedMap` and the shared
//! value encoding (`crates/shmkit-py/tests/test_typed_map_cross.py` runs it).
//!
//! ```text
//! typed_map_cross read STORE    # prints one line per entry: "MAP<TAB>KEY<TAB>VALUE" (Debug forms, sorted)
//! typed_map_cross write STORE   # writes the maps named r_* (see `write`)
//! ```

use shmkit::value::codec::{Codec, Json};
use shmkit::{Store, TypedMap};
use std::error::Error;
use std::fmt::Debug;

/// Every entry of `map` as "NAME\tKEY\tVALUE", an entry that does not decode as "NAME\terror\tWHY".
fn lines<K: Codec + Debug, V: Codec + Debug>(
    store: &Store,
    name: &str,
) -> Result<Vec<String>, Box<dyn Error>> {
    let map: TypedMap<K, V> = store.open_typed_map(name)?;
    Ok(map
        .iter()
        .map(|item| match item {
            Ok((k, v)) => format!("{name}\t{k:?}\t{v:?}"),
            Err(e) => format!("{name}\terror\t{e}"),
        })
        .collect())
}

fn read(store: &Store) -> Result<(), Box<dyn Error>> {
    let mut out = Vec::new();
    out.extend(lines::<String, i64>(store, "str_int")?);
    out.extend(lines::<String, f64>(store, "str_float")?);
    out.extend(lines::<i128, String>(store, "int_str")?);
    out.extend(lines::<Vec<u8>, Vec<u8>>(store, "bytes_bytes")?);
    out.extend(lines::<String, Option<i64>>(store, "nones")?);
    out.extend(lines::<String, i128>(store, "big")?);
    out.extend(lines::<String, bool>(store, "flags")?);
    // Lookups in other key types than the ones Python used, in Python's dict form.
    let by_float: TypedMap<f64, String> = store.open_typed_map("int_str")?;
    out.push(format!("lookup\t2.0\t{:?}", by_float.get(&2.0)?));
    let by_bool: TypedMap<bool, String> = store.open_typed_map("int_str")?;
    out.push(format!("lookup\ttrue\t{:?}", by_bool.get(&true)?));
    let by_u64: TypedMap<String, u64> = store.open_typed_map("big")?;
    out.push(format!("lookup\tu64max\t{:?}", by_u64.get("u64max")?));
    out.push(format!(
        "lookup\tneg_as_u64\t{:?}",
        by_u64.get("neg").map_err(|e| e.to_string())
    ));
    let many: TypedMap<String, i64> = store.open_typed_map("str_int")?;
    out.push(format!(
        "lookup\tmany\t{:?}",
        many.get_many(["a", "zz", "b"])?
    ));
    out.sort();
    for line in out {
        println!("{line}");
    }
    Ok(())
}

fn write(store: &Store) -> Result<(), Box<dyn Error>> {
    let ints = store.typed_map::<String, i64>("r_str_int")?;
    ints.set_many([("a", &1), ("min", &i64::MIN)])?;
    ints.incr("counter", 41)?;
    let big = store.typed_map::<String, u64>("r_big")?;
    big.set("u64max", &u64::MAX)?;
    big.set("two63", &(1 << 63))?;
    store
        .typed_map::<String, u128>("r_big")?
        .set("u128max", &u128::MAX)?;
    store
        .typed_map::<String, i128>("r_big")?
        .set("i128min", &i128::MIN)?;
    let floats = store.typed_map::<f64, String>("r_float_keys")?;
    floats.set(&1.0, "one")?;
    floats.set(&0.5, "half")?;
    floats.set(&-0.0, "zero")?;
    let values = store.typed_map::<String, f64>("r_values")?;
    values.set("f64", &-2.25)?;
    store
        .typed_map::<String, f32>("r_values")?
        .set("f32", &0.375)?;
    store
        .typed_map::<String, bool>("r_values")?
        .set("bool", &true)?;
    store
        .typed_map::<String, Vec<u8>>("r_values")?
        .set("bytes", &b"\x00\xffz"[..])?;
    store
        .typed_map::<String, Option<String>>("r_values")?
        .set("none", &None)?;
    store
        .typed_map::<String, String>("r_values")?
        .set("str", "héllo")?;
    store
        .typed_map::<bool, String>("r_bool_keys")?
        .set(&true, "yes")?;
    store
        .typed_map::<String, (i64, String)>("r_tuple")?
        .set("t", &(1, "x".to_string()))?;
    store
        .typed_map::<String, Json<(u8, Vec<String>)>>("r_json")?
        .set("j", &Json((3, vec!["a".into(), "b".into()])))?;
    Ok(())
}

fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [cmd, store] if cmd == "read" => read(&Store::open(store)?),
        [cmd, store] if cmd == "write" => write(&Store::open(store)?),
        _ => Err("usage: typed_map_cross read STORE | write STORE".into()),
    }
}
