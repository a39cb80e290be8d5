//! `shmkit get/set STORE VECTOR INDEX [VALUE]` on an atomic vector: one element, an `i64`.
//! [`super::kv`] sends the command here when the store's directory says the object is an
//! atomic vector.
//!
//! Invariants: INDEX is a decimal integer, negative counting from the end as in Python
//! (`-1` is the last element); an index outside the vector is a usage error (exit 2) that
//! names the vector's length, never a wrap or a clamp; VALUE is a decimal `i64`, and a number
//! beyond it is a usage error that says so (nothing is stored). The key and value typing
//! options of hash maps do not apply (`--type int` and `--key-type int` are accepted, as the
//! types the element and index already have). `get` prints the number, also with `--json`
//! (a JSON number). The element operations are the core's `AtomicVector::load`/`store`.
//!
//! ```text
//! $ shmkit set app counters -1 42
//! $ shmkit get app counters -1
//! 42
//! ```

use super::element_args::{refuse_map_typing, text};
use crate::cli::{GetArgs, SetArgs, Typing};
use crate::error::{CliError, CliResult, exit};
use crate::typed::ArgType;
use shmkit::{AtomicVector, Store};
use std::ffi::OsStr;
use std::io::Write;
use std::num::IntErrorKind;

/// Refuses the hash-map typing options, which mean nothing for an element.
fn plain_typing(
    object: &str,
    typing: &Typing,
    value_type: Option<ArgType>,
) -> Result<(), CliError> {
    refuse_map_typing(
        object,
        typing,
        value_type,
        &[ArgType::Str, ArgType::Int],
        "an atomic_vector's elements are int64 numbers, addressed by index",
    )
}

/// Opens the vector (the caller found it in the directory, so a failure here is a real one).
fn open(store: &Store, store_arg: &str, object: &str) -> Result<AtomicVector, CliError> {
    store
        .open_atomic_vector(object)
        .map_err(|e| CliError::object(store_arg, e.into()))
}

/// A decimal `i64`; `what` names it in errors, which say whether the text is no integer or
/// one outside `i64`.
fn parse_i64(text: &str, what: &str) -> Result<i64, CliError> {
    text.trim().parse::<i64>().map_err(|e| match e.kind() {
        IntErrorKind::PosOverflow | IntErrorKind::NegOverflow => CliError::usage(format!(
            "{what} {} is outside the range of an int64 element ({} to {})",
            text.trim(),
            i64::MIN,
            i64::MAX
        )),
        _ => CliError::usage(format!("{what} {text:?} is not a decimal integer")),
    })
}

/// The element index of `index` (negative counts from the end) in the vector `object` of
/// `len` elements. Any integer outside the vector, however large, is "out of range".
fn resolve(object: &str, index: &OsStr, len: u64) -> Result<u64, CliError> {
    let text = text(index, "INDEX")?.trim();
    let i = match text.parse::<i128>() {
        Ok(i) => i,
        Err(e) => match e.kind() {
            IntErrorKind::PosOverflow => i128::MAX,
            IntErrorKind::NegOverflow => i128::MIN,
            _ => {
                return Err(CliError::usage(format!(
                    "INDEX {text:?} is not a decimal integer"
                )));
            }
        },
    };
    let resolved = if i < 0 { i128::from(len) + i } else { i };
    match u64::try_from(resolved) {
        Ok(r) if r < len => Ok(r),
        _ => Err(CliError::usage(format!(
            "index {text} out of range for atomic_vector {object:?} of {len} elements"
        ))
        .hint("indexes run from 0 to len - 1, or from -len to -1 counting from the end")),
    }
}

/// `shmkit get` on an atomic vector: prints the element as a decimal number (also with
/// `--json`, where it is a JSON number).
pub fn get(store: &Store, args: &GetArgs, out: &mut impl Write) -> CliResult {
    plain_typing(&args.object, &args.typing, None)?;
    let vector = open(store, &args.store, &args.object)?;
    let index = resolve(&args.object, &args.key, vector.len())?;
    let value = vector
        .load(index)
        .map_err(|e| CliError::object(&args.store, e.into()))?;
    writeln!(out, "{value}")?;
    Ok(exit::OK)
}

/// `shmkit set` on an atomic vector: stores `value` (the VALUE argument or standard input)
/// in the element.
pub fn set(
    store: &Store,
    args: &SetArgs,
    value: Option<&OsStr>,
    out: &mut impl Write,
) -> CliResult {
    plain_typing(&args.object, &args.typing, Some(args.value_type))?;
    let Some(value) = value else {
        return Err(CliError::usage(
            "VALUE is required: the int64 to store in the element",
        ));
    };
    let value = parse_i64(text(value, "VALUE")?, "VALUE")?;
    let vector = open(store, &args.store, &args.object)?;
    let index = resolve(&args.object, &args.key, vector.len())?;
    vector
        .store(index, value)
        .map_err(|e| CliError::object(&args.store, e.into()))?;
    out.flush()?;
    Ok(exit::OK)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indexes_count_from_the_end_when_negative_and_never_wrap() {
        let r = |i: &str, len| resolve("v", OsStr::new(i), len).map_err(|e| e.message);
        assert_eq!(r("0", 4), Ok(0));
        assert_eq!(r("3", 4), Ok(3));
        assert_eq!(r("-1", 4), Ok(3));
        assert_eq!(r("-4", 4), Ok(0));
        assert!(r("4", 4).unwrap_err().contains("index 4 out of range"));
        assert!(r("-5", 4).unwrap_err().contains("index -5 out of range"));
        assert!(r("-1", 0).is_err());
        assert!(r(&i64::MIN.to_string(), u64::MAX).is_ok());
        assert!(r("1", u64::MAX).is_ok());
        let huge = r("-99999999999999999999999999999999999999999", 4).unwrap_err();
        assert!(huge.contains("out of range"), "{huge}");
        assert!(r("x", 4).unwrap_err().contains("not a decimal integer"));
    }

    #[test]
    fn values_outside_i64_say_so() {
        assert_eq!(
            parse_i64(" -9223372036854775808\n", "VALUE").unwrap(),
            i64::MIN
        );
        let e = parse_i64("9223372036854775808", "VALUE").unwrap_err();
        assert_eq!(e.code, exit::USAGE);
        assert!(e.message.contains("outside the range"), "{}", e.message);
        assert!(parse_i64("-9223372036854775809", "VALUE").is_err());
        assert!(
            parse_i64("1.5", "VALUE")
                .unwrap_err()
                .message
                .contains("not a decimal")
        );
    }
}
