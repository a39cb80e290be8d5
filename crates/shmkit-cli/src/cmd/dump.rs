//! `shmkit dump STORE OBJECT`: every item of an object of any kind as one JSON line — a
//! map's entries as `{"key": K, "value": V}`, a sequence's items as `{"value": V}` — keys and
//! values shown as [`crate::typed::to_json`] documents.
//!
//! Invariants: generic over the object's kind (the core's `open_any` and
//! `SharedObject::for_each_item`); output is valid JSON lines whatever the bytes are
//! (undecodable bytes are base64 with a `raw` marker); the iteration is the object's weakly
//! consistent one (an item present for the whole dump appears exactly once), streamed, unless
//! `--sort` is given.
//!
//! ```text
//! $ shmkit dump cache users
//! {"key":"alice","value":"Alice Smith"}
//! {"key":"bob","value":{"bytes":"AAEC"}}
//! ```

use crate::cli::DumpArgs;
use crate::error::{CliError, CliResult, exit};
use crate::json::{self, Json};
use crate::typed::to_json;
use shmkit::DirectoryError;
use shmkit::collections::any::open_any;
use shmkit::collections::object::Item;
use std::io::Write;

fn line(item: &Item, raw: bool) -> Json {
    match item {
        Item::Entry { key, value } => {
            json::obj([("key", to_json(key, raw)), ("value", to_json(value, raw))])
        }
        Item::Value(value) => json::obj([("value", to_json(value, raw))]),
        _ => json::obj([("unknown_item", Json::Null)]),
    }
}

/// The sort key of an item: its key bytes, else its value bytes.
fn sort_key(item: &Item) -> &[u8] {
    match item {
        Item::Entry { key, .. } => key,
        Item::Value(value) => value,
        _ => &[],
    }
}

/// Runs `shmkit dump`.
pub fn run(args: &DumpArgs, out: &mut impl Write) -> CliResult {
    let store = crate::cmd::kv::open_store(&args.store, &args.access)?;
    let info = store
        .objects()
        .map_err(|e| CliError::corrupt(&args.store, e))?
        .into_iter()
        .find(|o| o.name == args.object)
        .ok_or_else(|| {
            CliError::directory(&args.store, DirectoryError::NotFound(args.object.clone()))
        })?;
    let object = open_any(&store, &info)
        .map_err(|e| CliError::object(&args.store, e))?
        .ok_or_else(|| {
            CliError::failure(format!(
                "{} {:?}: this build cannot read objects of this kind",
                info.kind.name(),
                info.name
            ))
        })?;
    let mut write_error: Option<std::io::Error> = None;
    let mut sorted = Vec::new();
    object
        .for_each_item(&mut |item| {
            if args.sort {
                sorted.push(item);
                return true;
            }
            match writeln!(out, "{}", line(&item, args.raw)) {
                Ok(()) => true,
                Err(e) => {
                    write_error = Some(e);
                    false
                }
            }
        })
        .map_err(|e| CliError::object(&args.store, e))?;
    if let Some(e) = write_error {
        return Err(e.into());
    }
    sorted.sort_by(|a, b| sort_key(a).cmp(sort_key(b)));
    for item in &sorted {
        writeln!(out, "{}", line(item, args.raw))?;
    }
    Ok(exit::OK)
}
