//! What the element commands (`get`/`set` on an atomic vector or an array) share: refusing
//! the hash-map typing options, which mean nothing for an element, and taking an argument
//! as text.
//!
//! ```text
//! $ shmkit get app counters 0 --raw
//! error: --raw does not apply to "counters": an atomic_vector's elements are int64 numbers, addressed by index
//! ```

use crate::cli::Typing;
use crate::error::CliError;
use crate::typed::ArgType;
use std::ffi::OsStr;

/// Refuses `--raw`, `--hex`, a `--key-type` other than str or int, and a `--type` not in
/// `value_types`; `elements` ends the message (what the object's elements are).
pub fn refuse_map_typing(
    object: &str,
    typing: &Typing,
    value_type: Option<ArgType>,
    value_types: &[ArgType],
    elements: &str,
) -> Result<(), CliError> {
    let refused = if typing.raw {
        Some("--raw")
    } else if typing.hex {
        Some("--hex")
    } else if !matches!(typing.key_type, ArgType::Str | ArgType::Int) {
        Some("--key-type")
    } else if value_type.is_some_and(|t| !value_types.contains(&t)) {
        Some("--type")
    } else {
        None
    };
    match refused {
        Some(option) => Err(CliError::usage(format!(
            "{option} does not apply to {object:?}: {elements}"
        ))),
        None => Ok(()),
    }
}

/// The text of an argument (`what` names it in the error).
pub fn text<'a>(arg: &'a OsStr, what: &str) -> Result<&'a str, CliError> {
    arg.to_str()
        .ok_or_else(|| CliError::usage(format!("{what} is not valid UTF-8")))
}
