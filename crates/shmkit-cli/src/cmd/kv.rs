//! `shmkit get/set/del STORE OBJECT KEY [VALUE]`: one key of a hash map or of an ordered map,
//! or one element of an atomic vector ([`super::element`]) or of an array
//! ([`super::array`]), for shell scripts.
//!
//! Invariants: the command follows the kind of the object the store's directory names; for
//! anything but an ordered map, an atomic vector or an array it works on a hash map exactly
//! as before the other kinds existed (the same checks in the same order, the same errors).
//! Keys and values are encoded exactly as [`crate::typed`] documents (default: a typed str,
//! so Python sees `str`); an ordered map's keys are the ordered keys of those typed values
//! ([`crate::typed::ordered_key_arg`], what Python's `OrderedMap` keys the same object by),
//! its values typed as a hash map's. `get` and `del` exit with 1 when the key is absent
//! (like `grep`), with nothing on stdout; `set` never creates a store or map unless
//! `--create`, and `--create` creates a hash map (an existing ordered map, vector or array
//! of that name is set as what it is).
//!
//! ```text
//! $ shmkit set cache counters hits 41 --type int
//! $ shmkit get cache counters hits
//! 41
//! $ shmkit del cache counters hits; echo $?
//! 0
//! ```

use crate::cli::{Access, DelArgs, GetArgs, SetArgs, Typing};
use crate::cmd::{array, element};
use crate::error::{CliError, CliResult, exit};
use crate::typed::{ArgType, Plain, encode_arg, ordered_key_arg, to_json, to_plain};
use shmkit::{HashMap, ObjectKind, OpenOptions, OrderedMap, Store, StoreOptions};
use std::ffi::{OsStr, OsString};
use std::io::{Read, Write};
use std::os::unix::ffi::OsStringExt;

fn key_type(typing: &Typing) -> ArgType {
    if typing.raw {
        ArgType::Raw
    } else {
        typing.key_type
    }
}

fn key_bytes(key: &OsStr, typing: &Typing) -> Result<Vec<u8>, CliError> {
    encode_arg(key, key_type(typing), typing.hex, "key")
}

/// The existing ordered map `name` of `store` and the stored form of the key `key`.
fn ordered(
    store: &Store,
    store_arg: &str,
    name: &str,
    key: &OsStr,
    typing: &Typing,
) -> Result<(OrderedMap, Vec<u8>), CliError> {
    let map = store
        .open_ordered_map(name)
        .map_err(|e| ordered_error(store_arg, e))?;
    let key = ordered_key_arg(key, key_type(typing), typing.hex, "key")?;
    Ok((map, key))
}

fn ordered_error(store_arg: &str, e: shmkit::OrderedMapError) -> CliError {
    CliError::object(store_arg, e.into())
}

/// Prints a value as `get` prints it.
fn print_value(value: &[u8], json: bool, raw: bool, out: &mut impl Write) -> CliResult {
    if json {
        writeln!(out, "{}", to_json(value, false))?;
    } else if raw {
        out.write_all(value)?;
    } else {
        match to_plain(value) {
            Plain::Line(text) => writeln!(out, "{text}")?,
            Plain::Bytes(bytes) => out.write_all(&bytes)?,
        }
    }
    Ok(exit::OK)
}

/// Opens an existing store for a data command: another user's only with
/// `--allow-foreign-owner`.
pub fn open_store(store_arg: &str, access: &Access) -> Result<Store, CliError> {
    let options = OpenOptions {
        allow_foreign_owner: access.allow_foreign_owner,
        mode: None,
    };
    Store::open_with(store_arg, &options).map_err(|e| CliError::open(store_arg, e))
}

/// Opens an existing map: of `store` if the probe opened it, else of the store `store_arg`
/// (which reports why it cannot be opened).
fn open_map(
    store: Option<Store>,
    store_arg: &str,
    map: &str,
    access: &Access,
) -> Result<HashMap, CliError> {
    let store = match store {
        Some(store) => store,
        None => open_store(store_arg, access)?,
    };
    store
        .open_hash_map(map)
        .map_err(|e| CliError::map(store_arg, e))
}

/// The kind of the object `name` of `store` (`None` if the store has none of that name).
fn kind_of(store: &Store, store_arg: &str, name: &str) -> Result<Option<ObjectKind>, CliError> {
    Ok(store
        .find_object(name)
        .map_err(|e| CliError::corrupt(store_arg, e))?
        .map(|o| o.kind))
}

/// What the commands learn before they choose their path: the store, if it opens, and
/// the kind of `object` in it.
struct Probe {
    store: Option<Store>,
    kind: Option<ObjectKind>,
}

impl Probe {
    /// The store, when `object` is of `kind` (an element path).
    fn of_kind(&self, kind: ObjectKind) -> Option<&Store> {
        self.store.as_ref().filter(|_| self.kind == Some(kind))
    }
}

/// Opens the store to look up the kind of `object`. A failure is not an error here: the
/// hash-map path then opens the store itself and reports every failure (a missing store, a
/// bad key) as it always has, in its own order. With `create` the store is opened as
/// `--create` opens an existing one (the same mode check), never created. The store opened
/// here is the one the command goes on to use (opening it a second time could find it
/// removed in between: a store that removes itself when unused goes at the probe's detach).
fn probe(store_arg: &str, object: &str, access: &Access, create: bool) -> Probe {
    let options = OpenOptions {
        allow_foreign_owner: access.allow_foreign_owner,
        mode: create.then_some(StoreOptions::default().mode),
    };
    let store = Store::open_with(store_arg, &options).ok();
    let kind = store
        .as_ref()
        .and_then(|s| kind_of(s, store_arg, object).ok().flatten())
        .filter(|k| {
            matches!(
                k,
                ObjectKind::AtomicVector | ObjectKind::Array | ObjectKind::OrderedMap
            )
        });
    Probe { store, kind }
}

/// Runs `shmkit get`.
pub fn get(args: &GetArgs, out: &mut impl Write) -> CliResult {
    let probe = probe(&args.store, &args.object, &args.access, false);
    if let Some(store) = probe.of_kind(ObjectKind::AtomicVector) {
        return element::get(store, args, out);
    }
    if let Some(store) = probe.of_kind(ObjectKind::Array) {
        return array::get(store, args, out);
    }
    let value = if let Some(store) = probe.of_kind(ObjectKind::OrderedMap) {
        let (map, key) = ordered(store, &args.store, &args.object, &args.key, &args.typing)?;
        map.get(&key).map_err(|e| ordered_error(&args.store, e))?
    } else {
        let key = key_bytes(&args.key, &args.typing)?;
        let map = open_map(probe.store, &args.store, &args.object, &args.access)?;
        map.get(&key).map_err(|e| CliError::map(&args.store, e))?
    };
    let Some(value) = value else {
        return Err(CliError::new(exit::NEGATIVE, "no such key"));
    };
    print_value(&value, args.json, args.typing.raw, out)
}

/// Runs `shmkit set`.
pub fn set(args: &SetArgs, out: &mut impl Write) -> CliResult {
    let piped = if args.stdin {
        let mut data = Vec::new();
        std::io::stdin().lock().read_to_end(&mut data)?;
        Some(OsString::from_vec(data))
    } else {
        None
    };
    let given = piped.as_ref().or(args.value.as_ref());
    let probe = probe(&args.store, &args.object, &args.access, args.create);
    if let Some(store) = probe.of_kind(ObjectKind::AtomicVector) {
        return element::set(store, args, given.map(OsString::as_os_str), out);
    }
    if let Some(store) = probe.of_kind(ObjectKind::Array) {
        return array::set(store, args, given.map(OsString::as_os_str), out);
    }
    let (ordered_map, key) = match probe.of_kind(ObjectKind::OrderedMap) {
        Some(store) => {
            let (map, key) = ordered(store, &args.store, &args.object, &args.key, &args.typing)?;
            (Some(map), key)
        }
        None => (None, key_bytes(&args.key, &args.typing)?),
    };
    let ty = if args.typing.raw {
        ArgType::Raw
    } else {
        args.value_type
    };
    let value = match (given, ty) {
        (Some(v), _) => encode_arg(v, ty, args.typing.hex, "value")?,
        (None, ArgType::Null) => encode_arg(OsStr::new(""), ty, false, "value")?,
        (None, _) => {
            return Err(CliError::usage(
                "VALUE is required (only --type null may omit it)",
            ));
        }
    };
    if let Some(map) = ordered_map {
        map.set(&key, &value)
            .map_err(|e| ordered_error(&args.store, e))?;
        out.flush()?;
        return Ok(exit::OK);
    }
    let map = if args.create {
        let store = match probe.store {
            Some(store) => store,
            None => {
                let options = StoreOptions {
                    allow_foreign_owner: args.access.allow_foreign_owner,
                    ..StoreOptions::default()
                };
                Store::open_or_create(&args.store, &options)
                    .map_err(|e| CliError::create(&args.store, e))?
            }
        };
        store
            .hash_map(&args.object)
            .map_err(|e| CliError::map(&args.store, e))?
    } else {
        open_map(probe.store, &args.store, &args.object, &args.access).map_err(|e| {
            match e.code {
                exit::NOT_FOUND => e.hint("add --create to create the store and the map"),
                _ => e,
            }
        })?
    };
    map.set(&key, &value)
        .map_err(|e| CliError::map(&args.store, e))?;
    out.flush()?;
    Ok(exit::OK)
}

/// Runs `shmkit del`.
pub fn del(args: &DelArgs, _out: &mut impl Write) -> CliResult {
    let probe = probe(&args.store, &args.object, &args.access, false);
    if let Some(store) = probe.of_kind(ObjectKind::OrderedMap) {
        let (map, key) = ordered(store, &args.store, &args.object, &args.key, &args.typing)?;
        return match map
            .delete(&key)
            .map_err(|e| ordered_error(&args.store, e))?
        {
            true => Ok(exit::OK),
            false => Err(CliError::new(exit::NEGATIVE, "no such key")),
        };
    }
    if let Some(kind) = probe.kind {
        let kind = kind.name();
        return Err(CliError::usage(format!(
            "{:?} is an {kind}: an {kind} has no keys to delete",
            args.object
        ))
        .hint(format!(
            "set an element with `shmkit set {} {} INDEX 0`",
            args.store, args.object
        )));
    }
    let key = key_bytes(&args.key, &args.typing)?;
    let map = open_map(probe.store, &args.store, &args.object, &args.access)?;
    if map
        .delete(&key)
        .map_err(|e| CliError::map(&args.store, e))?
    {
        Ok(exit::OK)
    } else {
        Err(CliError::new(exit::NEGATIVE, "no such key"))
    }
}
