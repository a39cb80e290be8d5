//! `shmkit dump STORE OBJECT`: every item of an object of any kind as one JSON line — a
//! map's entries as `{"key": K, "value": V}`, a sequence's items as `{"value": V}` — keys and
//! values shown as [`crate::typed::to_json`] documents, except an atomic vector's elements,
//! which are `i64` numbers (`{"value": -3}`), and an array's, decoded by their element type
//! (`{"value": 2.5}`, `{"value": {"x": 1.5, "id": 7}}`; see [`crate::cmd::array`]), in index
//! order, and an ordered map's keys, shown as the typed values their ordered keys decode to
//! ([`crate::typed::ordered_key_json`]: `{"key": ["user", 7], ...}`), in key order.
//!
//! Invariants: generic over the object's kind (the core's `open_any` and
//! `SharedObject::for_each_item`); the kind from the store's directory only chooses how an
//! item's bytes are shown (an atomic vector's item is its element's 8 little-endian bytes, an
//! array's the bytes of one element, an ordered map's key an ordered key); only a key range
//! (`--start`/`--stop`, ordered maps only) reads the object through its own kind;
//! output is valid JSON lines whatever the bytes are (undecodable bytes are base64 with a
//! `raw` marker, as is every item with `--raw`); the iteration is the object's weakly
//! consistent one (an item present for the whole dump appears exactly once), streamed, unless
//! `--sort` is given (by key bytes; a vector's elements by their numbers).
//!
//! ```text
//! $ shmkit dump cache users
//! {"key":"alice","value":"Alice Smith"}
//! {"key":"bob","value":{"bytes":"AAEC"}}
//! $ shmkit dump app counters
//! {"value":42}
//! {"value":-1}
//! ```

use crate::cli::DumpArgs;
use crate::error::{CliError, CliResult, exit};
use crate::json::{self, Json};
use crate::typed::{ordered_key_arg, ordered_key_json, to_json};
use shmkit::collections::any::open_any;
use shmkit::collections::array::dtype::ElementType;
use shmkit::collections::object::Item;
use shmkit::{DirectoryError, ObjectKind, Store};
use std::io::Write;
use std::ops::Bound;

/// How the items of one object are shown: chosen from its kind, once.
struct Shape {
    /// Items are the 8 little-endian bytes of an `i64` element (an atomic vector).
    elements: bool,
    /// Items are elements of this type (an array).
    array: Option<ElementType>,
    /// Keys are ordered keys (an ordered map).
    ordered_keys: bool,
    /// `--raw`: bytes as they are, never decoded.
    raw: bool,
}

impl Shape {
    fn of(kind: ObjectKind, array: Option<ElementType>, raw: bool) -> Shape {
        Shape {
            elements: kind == ObjectKind::AtomicVector,
            array,
            ordered_keys: kind == ObjectKind::OrderedMap,
            raw,
        }
    }

    /// The number of an element's bytes (`None` for other objects, with `--raw`, or bytes
    /// that are not 8 long).
    fn element(&self, value: &[u8]) -> Option<i64> {
        match (self.elements && !self.raw, <[u8; 8]>::try_from(value)) {
            (true, Ok(bytes)) => Some(i64::from_le_bytes(bytes)),
            _ => None,
        }
    }

    fn value(&self, value: &[u8]) -> Json {
        if let (Some(ty), false) = (&self.array, self.raw) {
            if let Some(j) = crate::cmd::array::element_json(ty, value) {
                return j;
            }
        }
        match self.element(value) {
            Some(n) => Json::from(n),
            None => to_json(value, self.raw),
        }
    }

    fn line(&self, item: &Item) -> Json {
        match item {
            Item::Entry { key, value } => json::obj([
                (
                    "key",
                    match self.ordered_keys {
                        true => ordered_key_json(key, self.raw),
                        false => to_json(key, self.raw),
                    },
                ),
                ("value", to_json(value, self.raw)),
            ]),
            Item::Value(value) => json::obj([("value", self.value(value))]),
            _ => json::obj([("unknown_item", Json::Null)]),
        }
    }

    /// Sorts items: by key bytes, else by value bytes, except elements, by their numbers.
    fn sort(&self, items: &mut [Item]) {
        fn bytes(item: &Item) -> &[u8] {
            match item {
                Item::Entry { key, .. } => key,
                Item::Value(value) => value,
                _ => &[],
            }
        }
        items.sort_by(|a, b| {
            let (x, y) = (bytes(a), bytes(b));
            match (self.element(x), self.element(y)) {
                (Some(x), Some(y)) => x.cmp(&y),
                _ => x.cmp(y),
            }
        });
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
    let array = match info.kind {
        ObjectKind::Array => Some(
            store
                .open_array(&info.name)
                .map_err(|e| CliError::object(&args.store, e.into()))?
                .element_type()
                .clone(),
        ),
        _ => None,
    };
    let shape = Shape::of(info.kind, array, args.raw);
    if args.start.is_some() || args.stop.is_some() {
        return dump_range(args, &store, info.kind, &shape, out);
    }
    let mut write_error: Option<std::io::Error> = None;
    let mut sorted = Vec::new();
    object
        .for_each_item(&mut |item| {
            if args.sort {
                sorted.push(item);
                return true;
            }
            match writeln!(out, "{}", shape.line(&item)) {
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
    shape.sort(&mut sorted);
    for item in &sorted {
        writeln!(out, "{}", shape.line(item))?;
    }
    Ok(exit::OK)
}

/// `--start`/`--stop`: the entries of an ordered map from `--start` (inclusive) to `--stop`
/// (exclusive), in key order (streamed, or sorted with `--sort`: the same order).
fn dump_range(
    args: &DumpArgs,
    store: &Store,
    kind: ObjectKind,
    shape: &Shape,
    out: &mut impl Write,
) -> CliResult {
    if kind != ObjectKind::OrderedMap {
        return Err(CliError::usage(format!(
            "--start and --stop apply to an ordered map; {:?} is a {}",
            args.object,
            kind.name()
        )));
    }
    let bound = |arg: &Option<std::ffi::OsString>, what| {
        arg.as_deref()
            .map(|a| ordered_key_arg(a, args.key_type, args.hex, what))
            .transpose()
    };
    let (start, stop) = (bound(&args.start, "--start")?, bound(&args.stop, "--stop")?);
    let map = store
        .open_ordered_map(&args.object)
        .map_err(|e| CliError::object(&args.store, e.into()))?;
    let range = map.range(
        start.as_deref().map_or(Bound::Unbounded, Bound::Included),
        stop.as_deref().map_or(Bound::Unbounded, Bound::Excluded),
    );
    for entry in range {
        let (key, value) = entry.map_err(|e| CliError::object(&args.store, e.into()))?;
        writeln!(out, "{}", shape.line(&Item::Entry { key, value }))?;
    }
    Ok(exit::OK)
}
