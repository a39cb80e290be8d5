//! `shmkit stat STORE OBJECT`: one object's statistics.
//!
//! Invariants: read-only; kinds this build cannot open show their directory entry only.
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
use crate::json::Json;
use crate::objects::ObjectListing;
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
    if obj.object_kind == ObjectKind::HashMap {
        let map = store
            .open_hash_map(&obj.name)
            .map_err(|e| CliError::map(store_arg, e))?;
        let st = map.stats().map_err(|e| CliError::map(store_arg, e))?;
        fields.extend([
            ("entries", Json::from(st.entries), st.entries.to_string()),
            ("shards", Json::from(st.shards), st.shards.to_string()),
            ("buckets", Json::from(st.buckets), st.buckets.to_string()),
            (
                "load_factor",
                Json::from(st.load_factor),
                format!("{:.3}", st.load_factor),
            ),
            (
                "bytes_used",
                Json::from(st.bytes_used),
                crate::format::bytes(st.bytes_used),
            ),
            ("resizes", Json::from(st.resizes), st.resizes.to_string()),
            (
                "resizing_shards",
                Json::from(st.resizing_shards),
                st.resizing_shards.to_string(),
            ),
        ]);
    } else if let Some(n) = obj.entries {
        fields.push(("entries", Json::from(n), n.to_string()));
    }
    if json {
        let mut j = Json::obj([
            ("name", Json::from(obj.name.clone())),
            ("kind", Json::from(obj.kind.clone())),
        ]);
        for (k, v, _) in fields {
            j.push(k, v);
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
