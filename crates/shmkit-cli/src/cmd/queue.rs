//! `shmkit push/pop STORE DEQUE ...` and `shmkit len STORE OBJECT`: a deque's items from the
//! shell, and any object's item count.
//!
//! Invariants: values are typed exactly as `set` types them ([`crate::typed`]) and printed
//! as `get` prints them; `push` never creates a store or deque unless `--create`; neither
//! command waits unless `--timeout` says so; `pop` exits with 1 (nothing printed) when no
//! item came, `push` with 1 when a bounded deque stayed full (the values pushed before stay
//! pushed, and the message says how many). The name of another kind of object is the
//! library's wrong-kind error.
//!
//! ```text
//! $ shmkit push app jobs a b --create
//! $ shmkit pop app jobs --count 5
//! a
//! b
//! ```

use crate::cli::{LenArgs, PopArgs, PushArgs};
use crate::cmd::kv::open_store;
use crate::error::{CliError, CliResult, exit};
use crate::typed::{Plain, encode_arg, to_json, to_plain};
use shmkit::collections::any::open_any;
use shmkit::{Deque, DequeError, End, Store, StoreOptions};
use std::ffi::OsString;
use std::io::{Read, Write};
use std::os::unix::ffi::OsStringExt;
use std::time::Duration;

/// `--timeout` as a duration (absent: do not wait).
fn timeout(seconds: Option<f64>) -> Result<Duration, CliError> {
    match seconds {
        None => Ok(Duration::ZERO),
        Some(s) => Duration::try_from_secs_f64(s).map_err(|_| {
            CliError::usage(format!(
                "--timeout {s} is not a non-negative number of seconds"
            ))
        }),
    }
}

fn deque_error(store: &str, e: DequeError) -> CliError {
    CliError::object(store, e.into())
}

/// Runs `shmkit push`.
pub fn push(args: &PushArgs, _out: &mut impl Write) -> CliResult {
    let wait = timeout(args.timeout)?;
    let values = if args.stdin {
        let mut data = Vec::new();
        std::io::stdin().lock().read_to_end(&mut data)?;
        vec![OsString::from_vec(data)]
    } else {
        args.values.clone()
    };
    let items = values
        .iter()
        .map(|v| encode_arg(v, args.value_type, args.hex, "value"))
        .collect::<Result<Vec<_>, _>>()?;
    let deque = if args.create {
        let store = Store::open_or_create(&args.store, &StoreOptions::default())
            .map_err(|e| CliError::object(&args.store, e.into()))?;
        store.deque(&args.object)
    } else {
        open_store(&args.store, &args.access)?.open_deque(&args.object)
    }
    .map_err(|e| deque_error(&args.store, e))?;
    let pushed = if args.front {
        deque.push_front_many(&items, Some(wait))
    } else {
        deque.push_back_many(&items, Some(wait))
    }
    .map_err(|e| deque_error(&args.store, e))?;
    if pushed < items.len() {
        return Err(CliError::new(
            exit::NEGATIVE,
            format!(
                "deque {:?} is full ({} items): pushed {pushed} of {} values",
                args.object,
                deque.maxlen().unwrap_or(0),
                items.len()
            ),
        ));
    }
    Ok(exit::OK)
}

/// Runs `shmkit pop`.
pub fn pop(args: &PopArgs, out: &mut impl Write) -> CliResult {
    let wait = timeout(args.timeout)?;
    let deque: Deque = open_store(&args.store, &args.access)?
        .open_deque(&args.object)
        .map_err(|e| deque_error(&args.store, e))?;
    let end = if args.back { End::Back } else { End::Front };
    let items = deque
        .pop_many(end, args.count, Some(wait))
        .map_err(|e| deque_error(&args.store, e))?;
    if items.is_empty() {
        return Ok(exit::NEGATIVE);
    }
    for item in &items {
        if args.json {
            writeln!(out, "{}", to_json(item, false))?;
        } else if args.raw {
            out.write_all(item)?;
        } else {
            match to_plain(item) {
                Plain::Line(text) => writeln!(out, "{text}")?,
                Plain::Bytes(bytes) => out.write_all(&bytes)?,
            }
        }
    }
    Ok(exit::OK)
}

/// Runs `shmkit len`: the object's item count, whatever its kind.
pub fn len(args: &LenArgs, out: &mut impl Write) -> CliResult {
    let store = open_store(&args.store, &args.access)?;
    let info = store
        .find_object(&args.object)
        .map_err(|e| CliError::corrupt(&args.store, e))?
        .ok_or_else(|| {
            CliError::new(
                exit::NOT_FOUND,
                format!("no object {:?} in store {}", args.object, args.store),
            )
        })?;
    let object = open_any(&store, &info)
        .map_err(|e| CliError::object(&args.store, e))?
        .ok_or_else(|| {
            CliError::failure(format!(
                "object {:?} is a {}, which this build cannot open",
                args.object,
                info.kind.name()
            ))
        })?;
    match object.item_count() {
        Some(n) => writeln!(out, "{n}")?,
        None => {
            return Err(CliError::failure(format!(
                "a {} has no item count",
                info.kind.name()
            )));
        }
    }
    Ok(exit::OK)
}
