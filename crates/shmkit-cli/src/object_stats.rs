//! `shmkit stat STORE OBJECT`: one object's statistics.
//!
//! Invariants: read-only; the statistics are the object's own (`SharedObject::stats`), shown
//! field by field whatever the kind; an array adds its element type and shape (the format
//! string and dimensions it was created with), a fixed-size hash map the size of its keys
//! and of its values; kinds this build cannot open show their directory entry only.
//!
//! ```text
//! $ shmkit stat cache users
//! object users (hash_map) in store cache
//!   root offset          69648
//!   entries              1200
//!   shards               64
//!   load factor          0.293
//! ```

use crate::error::{CliError, CliResult, exit};
use crate::format::{Align, Table};
use crate::json::{self, Json};
use crate::objects::ObjectListing;
use shmkit::collections::any::open_any;
use shmkit::collections::object::StatValue;
use shmkit::{ObjectKind, Store};
use std::io::Write;

/// Prints the statistics of `obj`.
pub fn run(
    store: &Store,
    store_arg: &str,
    obj: &ObjectListing,
    json: bool,
    out: &mut impl Write,
) -> CliResult {
    let root = store.object(&obj.name, obj.object_kind).ok();
    let capacity = root.and_then(|r| store.block_capacity(r).ok());
    let mut fields: Vec<(&str, Json, String)> = vec![
        (
            "root_offset",
            Json::from(root),
            root.map(|r| r.to_string()).unwrap_or_default(),
        ),
        (
            "root_block_capacity",
            Json::from(capacity),
            capacity.map(crate::format::bytes).unwrap_or_default(),
        ),
    ];
    let object = store
        .objects()
        .map_err(|e| CliError::corrupt(store_arg, e))?
        .into_iter()
        .find(|o| o.name == obj.name && o.kind == obj.object_kind)
        .map(|info| open_any(store, &info))
        .transpose()
        .map_err(|e| CliError::object(store_arg, e))?
        .flatten();
    if let Some(object) = object {
        let stats = object.stats().map_err(|e| CliError::object(store_arg, e))?;
        for (name, value) in stats.fields {
            let (j, text) = match value {
                StatValue::Count(n) => (Json::from(n), n.to_string()),
                StatValue::Bytes(n) => (Json::from(n), crate::format::bytes(n)),
                StatValue::Ratio(r) => (Json::from(r), format!("{r:.3}")),
            };
            fields.push((name, j, text));
        }
    } else if let Some(n) = obj.entries {
        fields.push(("entries", Json::from(n), n.to_string()));
    }
    if obj.object_kind == ObjectKind::Array {
        if let Ok(array) = store.open_array(&obj.name) {
            fields.push((
                "format",
                Json::from(array.format()),
                array.format().to_string(),
            ));
            fields.push((
                "shape",
                Json::from(array.shape().to_vec()),
                crate::cmd::array::shape_text(array.shape()),
            ));
        }
    }
    if obj.object_kind == ObjectKind::HashMap {
        if let Some(size) = store
            .open_hash_map(&obj.name)
            .ok()
            .and_then(|m| m.fixed_size())
        {
            for (name, n) in [("key_size", size.key_len), ("value_size", size.value_len)] {
                let n = u64::from(n);
                fields.push((name, Json::from(n), crate::format::bytes(n)));
            }
        }
    }
    if json {
        let mut j = json::obj([
            ("name", Json::from(obj.name.clone())),
            ("kind", Json::from(obj.kind.clone())),
        ]);
        for (k, v, _) in fields {
            json::push(&mut j, k, v);
        }
        writeln!(out, "{j}")?;
        return Ok(exit::OK);
    }
    writeln!(
        out,
        "object {} ({}) in store {store_arg}",
        obj.name, obj.kind
    )?;
    let mut t = Table::new(&[("", Align::Left), ("", Align::Left)]);
    for (k, _, text) in fields {
        t.row(vec![k.replace('_', " "), text]);
    }
    for line in t.render("  ").lines().skip(1) {
        writeln!(out, "{line}")?;
    }
    Ok(exit::OK)
}
