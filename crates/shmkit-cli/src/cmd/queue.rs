//! `shmkit push/pop STORE QUEUE ...` and `shmkit len STORE OBJECT`: a deque's or a priority
//! queue's items from the shell, and any object's item count.
//!
//! On a priority queue, `push` keys each value by its ordered encoding (the core's
//! `OrderedKey::of_value`: what Python's `PriorityQueue` gives the same object, so numbers
//! order numerically across int and float), or by its bytes with `--type raw`; `pop` takes
//! the smallest (`--back` and `--front` do not apply).
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
use crate::typed::{Plain, encode_arg, ordered_key, to_json, to_plain};
use shmkit::collections::any::open_any;
use shmkit::{Deque, DequeError, End, ObjectKind, PriorityQueueError, Store, StoreOptions};
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

fn pq_error(store: &str, e: PriorityQueueError) -> CliError {
    CliError::object(store, e.into())
}

/// True when `object` of `store` is a priority queue.
fn is_priority_queue(store: &Store, store_arg: &str, object: &str) -> Result<bool, CliError> {
    Ok(store
        .find_object(object)
        .map_err(|e| CliError::corrupt(store_arg, e))?
        .is_some_and(|o| o.kind == ObjectKind::PriorityQueue))
}

/// The priority key of a value `set`-typed as `ty` (raw bytes order as they are).
fn priority_key(item: &[u8], raw: bool) -> Result<Vec<u8>, CliError> {
    if raw {
        return Ok(item.to_vec());
    }
    let value = shmkit::value::decode(item).map_err(|e| CliError::usage(format!("value: {e}")))?;
    ordered_key(&value)
}

/// `push` onto a priority queue.
fn push_priority(args: &PushArgs, store: &Store, items: &[Vec<u8>], wait: Duration) -> CliResult {
    if args.front {
        return Err(CliError::usage(
            "--front does not apply to a priority queue (items go where their order puts them)",
        ));
    }
    let raw = args.value_type == crate::typed::ArgType::Raw;
    let pairs = items
        .iter()
        .map(|item| Ok((priority_key(item, raw)?, item.clone())))
        .collect::<Result<Vec<_>, CliError>>()?;
    let queue = store
        .open_priority_queue(&args.object)
        .map_err(|e| pq_error(&args.store, e))?;
    let pushed = queue
        .push_many_timeout(&pairs, Some(wait))
        .map_err(|e| pq_error(&args.store, e))?;
    if pushed < pairs.len() {
        return Err(CliError::new(
            exit::NEGATIVE,
            format!(
                "priority queue {:?} is full ({} items): pushed {pushed} of {} values",
                args.object,
                queue.maxlen().unwrap_or(0),
                pairs.len()
            ),
        ));
    }
    Ok(exit::OK)
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
    let store = if args.create {
        Store::open_or_create(&args.store, &StoreOptions::default())
            .map_err(|e| CliError::object(&args.store, e.into()))?
    } else {
        open_store(&args.store, &args.access)?
    };
    if is_priority_queue(&store, &args.store, &args.object)? {
        return push_priority(args, &store, &items, wait);
    }
    let deque = if args.create {
        store.deque(&args.object)
    } else {
        store.open_deque(&args.object)
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
    let store = open_store(&args.store, &args.access)?;
    let items = if is_priority_queue(&store, &args.store, &args.object)? {
        if args.back {
            return Err(CliError::usage(
                "--back does not apply to a priority queue (pop takes the smallest item)",
            ));
        }
        store
            .open_priority_queue(&args.object)
            .and_then(|q| q.pop_many_timeout(args.count, Some(wait)))
            .map_err(|e| pq_error(&args.store, e))?
            .into_iter()
            .map(|(_key, value)| value)
            .collect()
    } else {
        let deque: Deque = store
            .open_deque(&args.object)
            .map_err(|e| deque_error(&args.store, e))?;
        let end = if args.back { End::Back } else { End::Front };
        deque
            .pop_many(end, args.count, Some(wait))
            .map_err(|e| deque_error(&args.store, e))?
    };
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
