//! How keys and values are typed on the command line and shown in output.
//!
//! Stored bytes are shown through the shared value encoding (`shmkit::value`): bytes that
//! decode as a typed value are shown as that value, anything else as raw bytes. In JSON:
//!
//! | stored | JSON |
//! |---|---|
//! | str | `"text"` |
//! | int | `42` |
//! | float | `1.5` (`{"float":"nan"}`, `{"float":"inf"}`, `{"float":"-inf"}`) |
//! | bool, null | `true`, `false`, `null` |
//! | bytes | `{"bytes":"<base64>"}` |
//! | big int | `{"int":"<decimal>"}` |
//! | Python pickle | `{"pickle":"<base64>"}` |
//! | other language object | `{"foreign":<lang>,"data":"<base64>"}` |
//! | not a typed value (or `--raw`) | `{"raw":"<base64>"}` |
//!
//! On the command line a key or value is a UTF-8 string stored as a typed `str` unless a type
//! is given (see [`ArgType`]), so a Python program using the same map sees `str`. An ordered
//! map's keys are the ordered keys of those values ([`ordered_key_arg`]) and are shown by
//! what their ordered keys decode to ([`ordered_key_json`]): the one place the command
//! translates ordered keys.
//!
//! ```text
//! shmkit set s users alice '{"age": 3}'        # key and value are str
//! shmkit set s counters hits 5 --type int      # value is an int (incr-able from Python)
//! shmkit set s blobs k 00ff --type raw --hex   # untyped bytes 0x00 0xff
//! ```

use crate::bytes_text::{base64_encode, bigint_decimal, hex_decode};
use crate::error::CliError;
use crate::json::{self, Json};
use shmkit::value::ordered::OrderedKey;
use shmkit::value::{LANG_PYTHON_PICKLE, Value, decode, encode};
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;

/// How a command-line argument becomes stored bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ArgType {
    /// A UTF-8 string, stored as a typed str (the default).
    Str,
    /// A 64-bit signed integer (decimal), stored as a typed int.
    Int,
    /// A 64-bit float (`1.5`, `-2e3`, `nan`, `inf`), stored as a typed float.
    Float,
    /// `true` or `false`, stored as a typed bool.
    Bool,
    /// No value (the argument is ignored and may be omitted), stored as typed null.
    Null,
    /// The argument's bytes, stored as typed bytes.
    Bytes,
    /// The argument's bytes, stored as they are (no type tag).
    Raw,
}

/// A command-line argument as [`parse_arg`] reads it.
#[derive(Clone, Debug, PartialEq)]
pub enum Arg {
    /// A typed value (every [`ArgType`] but `raw`).
    Typed(Value),
    /// Bytes to store as they are (`raw`).
    Raw(Vec<u8>),
}

/// Encodes a command-line argument as `ty`. With `hex`, `bytes` and `raw` arguments are
/// given as hex digits.
pub fn encode_arg(arg: &OsStr, ty: ArgType, hex: bool, what: &str) -> Result<Vec<u8>, CliError> {
    Ok(match parse_arg(arg, ty, hex, what)? {
        Arg::Typed(v) => encode(&v),
        Arg::Raw(bytes) => bytes,
    })
}

/// The ordered key (`shmkit::value::ordered`, what sorted structures sort by) of a typed
/// value, as Python keys the same object: numbers by value across int and float, then
/// bytes, then str. Errors for a value that has no order (a pickle) or cannot be a key.
pub fn ordered_key(value: &Value) -> Result<Vec<u8>, CliError> {
    OrderedKey::of_value(value)
        .ok_or_else(|| CliError::usage("this value has no order (it cannot be an ordered key)"))?
        .encode()
        .map_err(|e| CliError::usage(format!("key: {e}")))
}

/// A command-line key of an ordered map: a typed argument as its ordered key
/// ([`ordered_key`]), a raw one as its bytes.
pub fn ordered_key_arg(
    arg: &OsStr,
    ty: ArgType,
    hex: bool,
    what: &str,
) -> Result<Vec<u8>, CliError> {
    match parse_arg(arg, ty, hex, what)? {
        Arg::Typed(v) => ordered_key(&v),
        Arg::Raw(bytes) => Ok(bytes),
    }
}

/// Reads a command-line argument as `ty` (see [`encode_arg`]).
pub fn parse_arg(arg: &OsStr, ty: ArgType, hex: bool, what: &str) -> Result<Arg, CliError> {
    let text = || {
        arg.to_str().ok_or_else(|| {
            CliError::usage(format!(
                "{what} is not valid UTF-8; use --type raw or bytes"
            ))
        })
    };
    let bytes = || -> Result<Vec<u8>, CliError> {
        if hex {
            hex_decode(text()?).map_err(|e| CliError::usage(format!("{what}: {e}")))
        } else {
            Ok(arg.as_bytes().to_vec())
        }
    };
    Ok(Arg::Typed(match ty {
        ArgType::Str => Value::Str(text()?.to_string()),
        ArgType::Int => {
            let t = text()?;
            let i = t
                .trim()
                .parse::<i64>()
                .map_err(|_| CliError::usage(format!("{what} {t:?} is not a 64-bit integer")))?;
            Value::Int(i)
        }
        ArgType::Float => {
            let t = text()?;
            let f = t
                .trim()
                .parse::<f64>()
                .map_err(|_| CliError::usage(format!("{what} {t:?} is not a number")))?;
            Value::Float(f)
        }
        ArgType::Bool => match text()?.trim() {
            "true" | "1" => Value::Bool(true),
            "false" | "0" => Value::Bool(false),
            t => {
                return Err(CliError::usage(format!(
                    "{what} {t:?} is not true or false"
                )));
            }
        },
        ArgType::Null => Value::Null,
        ArgType::Bytes => Value::Bytes(bytes()?),
        ArgType::Raw => return Ok(Arg::Raw(bytes()?)),
    }))
}

fn float_json(f: f64) -> Json {
    if f.is_finite() {
        Json::from(f)
    } else {
        let name = if f.is_nan() {
            "nan"
        } else if f > 0.0 {
            "inf"
        } else {
            "-inf"
        };
        json::obj([("float", Json::from(name))])
    }
}

/// The JSON form of stored bytes (see the module table). `raw` skips decoding.
pub fn to_json(stored: &[u8], raw: bool) -> Json {
    let raw_json = || json::obj([("raw", Json::from(base64_encode(stored)))]);
    if raw {
        return raw_json();
    }
    match decode(stored) {
        Ok(Value::Null) => Json::Null,
        Ok(Value::Bool(b)) => Json::Bool(b),
        Ok(Value::Int(i)) => Json::from(i),
        Ok(Value::Float(f)) => float_json(f),
        Ok(Value::Str(s)) => Json::String(s),
        Ok(Value::Bytes(b)) => json::obj([("bytes", Json::from(base64_encode(&b)))]),
        Ok(Value::BigInt(b)) => json::obj([("int", Json::from(bigint_decimal(&b)))]),
        Ok(Value::Foreign { lang, data }) if lang == LANG_PYTHON_PICKLE => {
            json::obj([("pickle", Json::from(base64_encode(&data)))])
        }
        Ok(Value::Foreign { lang, data }) => json::obj([
            ("foreign", Json::from(lang as u64)),
            ("data", Json::from(base64_encode(&data))),
        ]),
        Err(_) => raw_json(),
    }
}

/// The JSON form of an ordered map's stored key: the value its ordered key decodes to, as
/// [`to_json`] shows values (a tuple as a JSON list of its elements); bytes that are not an
/// ordered key (or every key, with `raw`) as `{"raw":"<base64>"}`.
pub fn ordered_key_json(stored: &[u8], raw: bool) -> Json {
    fn of(key: &OrderedKey) -> Json {
        match key {
            OrderedKey::Null => Json::Null,
            OrderedKey::Int(i) => Json::from(*i),
            OrderedKey::BigInt(b) => json::obj([("int", Json::from(bigint_decimal(b)))]),
            OrderedKey::Float(f) => float_json(*f),
            OrderedKey::Bytes(b) => json::obj([("bytes", Json::from(base64_encode(b)))]),
            OrderedKey::Str(s) => Json::String(s.clone()),
            OrderedKey::Tuple(items) => Json::Array(items.iter().map(of).collect()),
        }
    }
    match OrderedKey::decode(stored) {
        Ok(key) if !raw => of(&key),
        _ => json::obj([("raw", Json::from(base64_encode(stored)))]),
    }
}

/// What `get` prints for stored bytes: text (a line) for scalars and strings, the bytes
/// themselves for byte strings and undecodable values.
pub enum Plain {
    /// Print this text and a newline.
    Line(String),
    /// Write these bytes exactly.
    Bytes(Vec<u8>),
}

/// The plain form of stored bytes (see [`Plain`]).
pub fn to_plain(stored: &[u8]) -> Plain {
    match decode(stored) {
        Ok(Value::Null) => Plain::Line("null".into()),
        Ok(Value::Bool(b)) => Plain::Line(b.to_string()),
        Ok(Value::Int(i)) => Plain::Line(i.to_string()),
        Ok(Value::Float(f)) => Plain::Line(format!("{f:?}")),
        Ok(Value::Str(s)) => Plain::Line(s),
        Ok(Value::BigInt(b)) => Plain::Line(bigint_decimal(&b)),
        Ok(Value::Bytes(b)) => Plain::Bytes(b),
        Ok(Value::Foreign { .. }) | Err(_) => Plain::Bytes(stored.to_vec()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arg(s: &str, ty: ArgType) -> Vec<u8> {
        encode_arg(OsStr::new(s), ty, false, "value").unwrap()
    }

    #[test]
    fn arguments_encode_by_type() {
        assert_eq!(arg("hi", ArgType::Str), encode(&Value::Str("hi".into())));
        assert_eq!(arg("-7", ArgType::Int), encode(&Value::Int(-7)));
        assert_eq!(arg("2.5", ArgType::Float), encode(&Value::Float(2.5)));
        assert_eq!(arg("true", ArgType::Bool), encode(&Value::Bool(true)));
        assert_eq!(arg("ignored", ArgType::Null), encode(&Value::Null));
        assert_eq!(
            arg("ab", ArgType::Bytes),
            encode(&Value::Bytes(b"ab".to_vec()))
        );
        assert_eq!(arg("ab", ArgType::Raw), b"ab".to_vec());
        assert_eq!(
            encode_arg(OsStr::new("00ff"), ArgType::Raw, true, "v").unwrap(),
            vec![0, 255]
        );
        assert!(encode_arg(OsStr::new("x"), ArgType::Int, false, "v").is_err());
        assert!(encode_arg(OsStr::new("0f0"), ArgType::Raw, true, "v").is_err());
    }

    #[test]
    fn ordered_keys_are_typed_arguments_and_show_as_json() {
        let key = |s: &str, ty| ordered_key_arg(OsStr::new(s), ty, false, "key").unwrap();
        // Numbers in numeric order across int and float, then bytes, then str.
        let keys = [
            key("-5", ArgType::Int),
            key("2.5", ArgType::Float),
            key("3", ArgType::Int),
            key("10", ArgType::Int),
            key("a", ArgType::Bytes),
            key("10", ArgType::Str),
        ];
        assert!(keys.windows(2).all(|w| w[0] < w[1]), "{keys:?}");
        assert_eq!(key("true", ArgType::Bool), key("1", ArgType::Int));
        assert_eq!(key("4.0", ArgType::Float), key("4", ArgType::Int));
        assert_eq!(key("k", ArgType::Raw), b"k");
        let shown: Vec<String> = keys
            .iter()
            .map(|k| ordered_key_json(k, false).to_string())
            .collect();
        assert_eq!(
            shown,
            ["-5", "2.5", "3", "10", r#"{"bytes":"YQ=="}"#, r#""10""#]
        );
        let tuple = OrderedKey::Tuple(vec![OrderedKey::Str("user".into()), OrderedKey::Int(7)]);
        assert_eq!(
            ordered_key_json(&tuple.encode().unwrap(), false).to_string(),
            r#"["user",7]"#
        );
        assert_eq!(
            ordered_key_json(b"k", false).to_string(),
            r#"{"raw":"aw=="}"#
        );
        assert_eq!(
            ordered_key_json(&keys[0], true).to_string(),
            json::obj([("raw", Json::from(base64_encode(&keys[0])))]).to_string()
        );
    }

    #[test]
    fn stored_bytes_show_as_json() {
        assert_eq!(
            to_json(&arg("hé", ArgType::Str), false).to_string(),
            "\"hé\""
        );
        assert_eq!(to_json(&arg("5", ArgType::Int), false).to_string(), "5");
        assert_eq!(
            to_json(&arg("nan", ArgType::Float), false).to_string(),
            r#"{"float":"nan"}"#
        );
        assert_eq!(
            to_json(&arg("hi!", ArgType::Bytes), false).to_string(),
            r#"{"bytes":"aGkh"}"#
        );
        assert_eq!(to_json(b"hi!", true).to_string(), r#"{"raw":"aGkh"}"#);
        // 'k' (0x6b) is no value tag: shown raw.
        assert_eq!(to_json(b"key", false).to_string(), r#"{"raw":"a2V5"}"#);
        let pickle = encode(&Value::Foreign {
            lang: LANG_PYTHON_PICKLE,
            data: vec![0x80],
        });
        assert_eq!(to_json(&pickle, false).to_string(), r#"{"pickle":"gA=="}"#);
    }
}
