//! `shmkit get/set/del STORE MAP KEY [VALUE]`: one key of a hash map, for shell scripts.
//!
//! Invariants: keys and values are encoded exactly as [`crate::typed`] documents (default: a
//! typed str, so Python sees `str`); `get` and `del` exit with 1 when the key is absent (like
//! `grep`), with nothing on stdout; `set` never creates a store or map unless `--create`.
//!
//! ```text
//! $ shmkit set cache counters hits 41 --type int
//! $ shmkit get cache counters hits
//! 41
//! $ shmkit del cache counters hits; echo $?
//! 0
//! ```

use crate::cli::{Access, DelArgs, GetArgs, SetArgs, Typing};
use crate::error::{CliError, CliResult, exit};
use crate::typed::{ArgType, Plain, encode_arg, to_json, to_plain};
use shmkit::{HashMap, OpenOptions, Store, StoreOptions};
use std::ffi::{OsStr, OsString};
use std::io::{Read, Write};
use std::os::unix::ffi::OsStringExt;

fn key_bytes(key: &OsStr, typing: &Typing) -> Result<Vec<u8>, CliError> {
    let ty = if typing.raw {
        ArgType::Raw
    } else {
        typing.key_type
    };
    encode_arg(key, ty, typing.hex, "key")
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

/// Opens an existing map of an existing store.
fn open_map(store_arg: &str, map: &str, access: &Access) -> Result<HashMap, CliError> {
    let store = open_store(store_arg, access)?;
    store
        .open_hash_map(map)
        .map_err(|e| CliError::map(store_arg, e))
}

/// Runs `shmkit get`.
pub fn get(args: &GetArgs, out: &mut impl Write) -> CliResult {
    let key = key_bytes(&args.key, &args.typing)?;
    let map = open_map(&args.store, &args.object, &args.access)?;
    let Some(value) = map.get(&key).map_err(|e| CliError::map(&args.store, e))? else {
        return Err(CliError::new(exit::NEGATIVE, "no such key"));
    };
    if args.json {
        writeln!(out, "{}", to_json(&value, false))?;
    } else if args.typing.raw {
        out.write_all(&value)?;
    } else {
        match to_plain(&value) {
            Plain::Line(text) => writeln!(out, "{text}")?,
            Plain::Bytes(bytes) => out.write_all(&bytes)?,
        }
    }
    Ok(exit::OK)
}

/// Runs `shmkit set`.
pub fn set(args: &SetArgs, out: &mut impl Write) -> CliResult {
    let key = key_bytes(&args.key, &args.typing)?;
    let ty = if args.typing.raw {
        ArgType::Raw
    } else {
        args.value_type
    };
    let piped = if args.stdin {
        let mut data = Vec::new();
        std::io::stdin().lock().read_to_end(&mut data)?;
        Some(OsString::from_vec(data))
    } else {
        None
    };
    let value = match (piped.as_ref().or(args.value.as_ref()), ty) {
        (Some(v), _) => encode_arg(v, ty, args.typing.hex, "value")?,
        (None, ArgType::Null) => encode_arg(OsStr::new(""), ty, false, "value")?,
        (None, _) => {
            return Err(CliError::usage(
                "VALUE is required (only --type null may omit it)",
            ));
        }
    };
    let map = if args.create {
        let options = StoreOptions {
            allow_foreign_owner: args.access.allow_foreign_owner,
            ..StoreOptions::default()
        };
        let store = Store::open_or_create(&args.store, &options)
            .map_err(|e| CliError::create(&args.store, e))?;
        store
            .hash_map(&args.object)
            .map_err(|e| CliError::map(&args.store, e))?
    } else {
        open_map(&args.store, &args.object, &args.access).map_err(|e| match e.code {
            exit::NOT_FOUND => e.hint("add --create to create the store and the map"),
            _ => e,
        })?
    };
    map.set(&key, &value)
        .map_err(|e| CliError::map(&args.store, e))?;
    out.flush()?;
    Ok(exit::OK)
}

/// Runs `shmkit del`.
pub fn del(args: &DelArgs, _out: &mut impl Write) -> CliResult {
    let key = key_bytes(&args.key, &args.typing)?;
    let map = open_map(&args.store, &args.object, &args.access)?;
    if map
        .delete(&key)
        .map_err(|e| CliError::map(&args.store, e))?
    {
        Ok(exit::OK)
    } else {
        Err(CliError::new(exit::NEGATIVE, "no such key"))
    }
}
