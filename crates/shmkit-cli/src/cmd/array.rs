//! `shmkit get/set STORE ARRAY INDEX [VALUE]` on an array: one element, decoded into its
//! fields by the core (`shmkit::collections::array::values`); this module only parses indexes
//! and values and formats the result. [`super::kv`] sends the command here when the store's
//! directory says the object is an array; `dump` uses [`element_json`] for every element.
//!
//! Invariants: INDEX is a flat (C order) index, negative counting from the end, or a
//! multi-index `i,j,...` with one number per dimension, each negative counting from the end
//! of its dimension; anything outside the array is a usage error (exit 2) naming the shape,
//! never a wrap or a clamp. VALUE is a number or text for an array of scalars, a JSON object
//! (field → value) or list (values in field order) for a structured one; a value the element
//! cannot hold (wrong type, out of range, too long, missing or unknown fields) is a usage
//! error saying which field and why, and nothing is written. `get` prints a scalar as its
//! number or text and anything else (and everything with `--json`) as JSON.
//!
//! JSON forms: integers and floats are numbers (a 4- or 2-byte float as its shortest
//! decimal at that width); non-finite floats `{"float":"nan"}`; complex numbers
//! `{"real":..,"imag":..}`; byte strings text when UTF-8, else `{"bytes":"<base64>"}`;
//! sub-arrays lists; 16-byte floats `{"raw":"<base64>"}`. `set` reads the same forms (bytes
//! as `{"hex":".."}`).
//!
//! ```text
//! $ shmkit set app grid 1,2 2.5
//! $ shmkit get app grid 5
//! 2.5
//! $ shmkit set app points -1 '{"x":1.5,"y":-2,"id":7,"flag":1}'
//! $ shmkit get app points -1
//! {"x":1.5,"y":-2.0,"id":7,"flag":1}
//! ```

use super::element_args::{refuse_map_typing, text};
use crate::bytes_text::{base64_encode, hex_decode};
use crate::cli::{GetArgs, SetArgs, Typing};
use crate::error::{CliError, CliResult, exit};
use crate::json::{self, Json};
use crate::typed::ArgType;
use shmkit::collections::array::dtype::ElementType;
use shmkit::collections::array::values::{
    FieldValue, decode_element, encode_element, encode_named,
};
use shmkit::{Array, Store};
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
        &[ArgType::Str, ArgType::Int, ArgType::Float],
        "an array's elements have the element type the array was created with, addressed by \
         index",
    )
}

fn open(store: &Store, store_arg: &str, object: &str) -> Result<Array, CliError> {
    store
        .open_array(object)
        .map_err(|e| CliError::object(store_arg, e.into()))
}

/// An integer argument as `i128` (values beyond it saturate: they are out of range anyway).
fn integer(text: &str, whole: &str) -> Result<i128, CliError> {
    match text.trim().parse::<i128>() {
        Ok(i) => Ok(i),
        Err(e) => match e.kind() {
            IntErrorKind::PosOverflow => Ok(i128::MAX),
            IntErrorKind::NegOverflow => Ok(i128::MIN),
            _ => Err(CliError::usage(format!(
                "INDEX {whole:?} is not a decimal integer or a list of them (1,2)"
            ))),
        },
    }
}

/// `i` counted from the end of `len` when negative, if it lies in `0..len`.
fn within(i: i128, len: u64) -> Option<u64> {
    let resolved = if i < 0 { i128::from(len) + i } else { i };
    u64::try_from(resolved).ok().filter(|r| *r < len)
}

/// The flat index of INDEX in an array of `shape`.
fn resolve(object: &str, index: &OsStr, shape: &[u64]) -> Result<u64, CliError> {
    let whole = text(index, "INDEX")?.trim();
    let len: u64 = shape.iter().product();
    let out_of_range = || {
        CliError::usage(format!(
            "index {whole} out of range for array {object:?} of shape {}",
            shape_text(shape)
        ))
        .hint(
            "a flat index runs from 0 to len - 1 (or -len to -1); a multi-index i,j has one \
             number per dimension",
        )
    };
    if !whole.contains(',') {
        return within(integer(whole, whole)?, len).ok_or_else(out_of_range);
    }
    let parts: Vec<&str> = whole.split(',').collect();
    if parts.len() != shape.len() {
        return Err(CliError::usage(format!(
            "index {whole} has {} numbers, array {object:?} has {} dimensions (shape {})",
            parts.len(),
            shape.len(),
            shape_text(shape)
        )));
    }
    let mut flat = 0u64;
    for (part, &d) in parts.iter().zip(shape) {
        let i = within(integer(part, whole)?, d).ok_or_else(out_of_range)?;
        flat = flat * d + i;
    }
    Ok(flat)
}

/// A shape as `(100, 3)`.
pub fn shape_text(shape: &[u64]) -> String {
    match shape {
        [d] => format!("({d},)"),
        _ => format!(
            "({})",
            shape
                .iter()
                .map(u64::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

fn float_json(f: f64, size: u64) -> Json {
    if !f.is_finite() {
        let name = if f.is_nan() {
            "nan"
        } else if f > 0.0 {
            "inf"
        } else {
            "-inf"
        };
        return json::obj([("float", Json::from(name))]);
    }
    // The shortest decimal that reads back as the same value at the field's width: a 4-byte
    // 0.1 prints 0.1, not 0.10000000149011612.
    let shortest = match size {
        2 | 4 => (f as f32).to_string().parse::<f64>().unwrap_or(f),
        _ => f,
    };
    Json::from(shortest)
}

/// The JSON form of one field value (see the module docs); `size` is the scalar's bytes.
fn value_json(v: &FieldValue, size: u64) -> Json {
    match v {
        FieldValue::Bool(b) => Json::from(*b),
        FieldValue::Int(i) => Json::from(*i),
        FieldValue::UInt(u) => Json::from(*u),
        FieldValue::Float(f) => float_json(*f, size),
        FieldValue::Complex(re, im) => json::obj([
            ("real", float_json(*re, size / 2)),
            ("imag", float_json(*im, size / 2)),
        ]),
        FieldValue::Bytes(b) => match std::str::from_utf8(b) {
            Ok(text) => Json::from(text),
            Err(_) => json::obj([("bytes", Json::from(base64_encode(b)))]),
        },
        FieldValue::Str(s) => Json::from(s.as_str()),
        FieldValue::Raw(b) => json::obj([("raw", Json::from(base64_encode(b)))]),
        FieldValue::List(items) => Json::Array(items.iter().map(|i| value_json(i, size)).collect()),
    }
}

/// An element's bytes as JSON: the value of a scalar element, else an object of its fields.
pub fn element_json(ty: &ElementType, bytes: &[u8]) -> Option<Json> {
    let fields = decode_element(ty, bytes).ok()?;
    let jsons = ty
        .fields()
        .iter()
        .zip(fields)
        .map(|(f, (name, v))| (name, value_json(&v, f.scalar.size)));
    if ty.fields().len() == 1 && ty.fields()[0].name.is_none() {
        return jsons.map(|(_, j)| j).next();
    }
    Some(json::obj(
        jsons.map(|(name, j)| (name.unwrap_or_default(), j)),
    ))
}

/// A field value from JSON (nested: a list is a sub-array, an object a complex number or a
/// tagged value).
fn from_json(j: &Json) -> Result<FieldValue, String> {
    Ok(match j {
        Json::Bool(b) => FieldValue::Bool(*b),
        Json::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => FieldValue::Int(i),
            (_, Some(u), _) => FieldValue::UInt(u),
            (_, _, Some(f)) => FieldValue::Float(f),
            _ => return Err(format!("the number {n} cannot be read")),
        },
        Json::String(s) => FieldValue::Str(s.clone()),
        Json::Array(items) => {
            FieldValue::List(items.iter().map(from_json).collect::<Result<_, _>>()?)
        }
        Json::Object(o) => {
            let number = |key: &str| -> Result<f64, String> {
                match o.get(key).map(from_json).transpose()? {
                    Some(FieldValue::Int(i)) => Ok(i as f64),
                    Some(FieldValue::UInt(u)) => Ok(u as f64),
                    Some(FieldValue::Float(f)) => Ok(f),
                    _ => Err(format!("{key:?} of a complex number is not a number")),
                }
            };
            if o.contains_key("real") || o.contains_key("imag") {
                FieldValue::Complex(
                    number("real")?,
                    number("imag").or_else(|_| {
                        if o.contains_key("imag") {
                            Err("\"imag\" of a complex number is not a number".to_string())
                        } else {
                            Ok(0.0)
                        }
                    })?,
                )
            } else if let (1, Some(Json::String(name))) = (o.len(), o.get("float")) {
                FieldValue::Float(
                    name.parse::<f64>()
                        .map_err(|_| format!("{{\"float\":{name:?}}} is not a float"))?,
                )
            } else if let (1, Some(Json::String(hex))) = (o.len(), o.get("hex")) {
                FieldValue::Bytes(hex_decode(hex)?)
            } else {
                return Err(format!(
                    "an object {j} where a value is needed (objects are complex numbers \
                     {{\"real\":..,\"imag\":..}}, {{\"float\":\"nan\"}} or {{\"hex\":\"..\"}})"
                ));
            }
        }
        Json::Null => return Err("null is not a value an element can hold".into()),
    })
}

/// The element bytes VALUE stands for.
fn encode_value(ty: &ElementType, value: &str) -> Result<Vec<u8>, String> {
    let trimmed = value.trim();
    let scalar = ty.fields().len() == 1 && ty.fields()[0].name.is_none();
    if scalar && ty.fields()[0].shape.is_empty() {
        let plain = if let Ok(i) = trimmed.parse::<i64>() {
            Some(FieldValue::Int(i))
        } else if let Ok(u) = trimmed.parse::<u64>() {
            Some(FieldValue::UInt(u))
        } else if let Ok(f) = trimmed.parse::<f64>() {
            Some(FieldValue::Float(f))
        } else {
            None
        };
        let v = match (plain, serde_json::from_str::<Json>(trimmed)) {
            (Some(v), _) => v,
            (None, Ok(j)) => from_json(&j)?,
            // Text that is not JSON is a string (for string arrays: `set s names 0 ada`).
            (None, Err(_)) => FieldValue::Str(value.to_string()),
        };
        return encode_element(ty, &[v]).map_err(|e| e.to_string());
    }
    let j: Json = serde_json::from_str(trimmed).map_err(|e| {
        format!(
            "VALUE is not JSON ({e}): a structured element takes a JSON object of its fields \
             or a list of their values"
        )
    })?;
    if scalar {
        return encode_element(ty, &[from_json(&j)?]).map_err(|e| e.to_string());
    }
    match &j {
        Json::Object(o) => {
            let named = o
                .iter()
                .map(|(k, v)| Ok((k.clone(), from_json(v)?)))
                .collect::<Result<Vec<_>, String>>()?;
            encode_named(ty, named).map_err(|e| e.to_string())
        }
        Json::Array(items) => {
            let values = items.iter().map(from_json).collect::<Result<Vec<_>, _>>()?;
            encode_element(ty, &values).map_err(|e| e.to_string())
        }
        _ => Err(format!(
            "a structured element takes a JSON object of its fields or a list of their values, \
             not {j}"
        )),
    }
}

/// `shmkit get` on an array.
pub fn get(store: &Store, args: &GetArgs, out: &mut impl Write) -> CliResult {
    plain_typing(&args.object, &args.typing, None)?;
    let array = open(store, &args.store, &args.object)?;
    let index = resolve(&args.object, &args.key, array.shape())?;
    let mut bytes = vec![0u8; array.itemsize() as usize];
    array
        .read(index, &mut bytes)
        .map_err(|e| CliError::object(&args.store, e.into()))?;
    let j = element_json(array.element_type(), &bytes)
        .ok_or_else(|| CliError::failure("the element could not be decoded"))?;
    match (&j, args.json) {
        (Json::String(s), false) => writeln!(out, "{s}")?,
        _ => writeln!(out, "{j}")?,
    }
    Ok(exit::OK)
}

/// `shmkit set` on an array: stores VALUE (or standard input) as the element, whole.
pub fn set(
    store: &Store,
    args: &SetArgs,
    value: Option<&OsStr>,
    out: &mut impl Write,
) -> CliResult {
    plain_typing(&args.object, &args.typing, Some(args.value_type))?;
    let Some(value) = value else {
        return Err(CliError::usage(
            "VALUE is required: a number or text for an array of scalars, a JSON object of \
             the fields for a structured one",
        ));
    };
    let value = text(value, "VALUE")?;
    let array = open(store, &args.store, &args.object)?;
    let index = resolve(&args.object, &args.key, array.shape())?;
    let bytes = encode_value(array.element_type(), value).map_err(|e| {
        CliError::usage(format!("VALUE for array {:?}: {e}", args.object)).hint(format!(
            "the element type is {}; `shmkit get {} {} {}` shows an element's form",
            array.format(),
            args.store,
            args.object,
            args.key.to_string_lossy()
        ))
    })?;
    array
        .write(index, &bytes)
        .map_err(|e| CliError::object(&args.store, e.into()))?;
    out.flush()?;
    Ok(exit::OK)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flat_and_multi_indexes_count_from_the_end_and_never_wrap() {
        let r = |i: &str, shape: &[u64]| resolve("a", OsStr::new(i), shape).map_err(|e| e.message);
        assert_eq!(r("0", &[4, 3]), Ok(0));
        assert_eq!(r("-1", &[4, 3]), Ok(11));
        assert_eq!(r("1,2", &[4, 3]), Ok(5));
        assert_eq!(r("-1,-1", &[4, 3]), Ok(11));
        assert_eq!(r(" 3 , 0 ", &[4, 3]), Ok(9));
        assert_eq!(r("0", &[]), Ok(0), "a 0-d array has one element");
        assert!(r("12", &[4, 3]).unwrap_err().contains("out of range"));
        assert!(r("1,3", &[4, 3]).unwrap_err().contains("shape (4, 3)"));
        assert!(r("1,2,0", &[4, 3]).unwrap_err().contains("3 numbers"));
        assert!(r("x", &[4]).unwrap_err().contains("not a decimal"));
        assert!(r("1,", &[4, 3]).unwrap_err().contains("not a decimal"));
        assert!(r("-99999999999999999999999999999999999999999", &[4]).is_err());
    }

    #[test]
    fn values_follow_the_element_type() {
        let t = |f: &str| ElementType::parse(f).unwrap();
        let f4 = t("<f");
        assert_eq!(encode_value(&f4, "0.1").unwrap(), 0.1f32.to_le_bytes());
        assert_eq!(
            element_json(&f4, &0.1f32.to_le_bytes())
                .unwrap()
                .to_string(),
            "0.1"
        );
        assert_eq!(
            element_json(&t("d"), &f64::NAN.to_le_bytes())
                .unwrap()
                .to_string(),
            r#"{"float":"nan"}"#
        );
        assert_eq!(
            encode_value(&t("d"), "nan")
                .map(|b| f64::from_le_bytes(b.try_into().unwrap()).is_nan()),
            Ok(true)
        );
        assert!(
            encode_value(&t("B"), "256")
                .unwrap_err()
                .contains("0 to 255")
        );
        assert!(encode_value(&t("i"), "abc").unwrap_err().contains("str"));
        assert_eq!(encode_value(&t("5s"), "ada").unwrap(), b"ada\0\0");
        assert_eq!(
            element_json(&t("5s"), b"ada\0\0").unwrap(),
            Json::from("ada")
        );
        let rec = t("T{<d:x:<I:id:Zd:z:}");
        let bytes =
            encode_value(&rec, r#"{"id": 7, "x": 1.5, "z": {"real": 1, "imag": -2}}"#).unwrap();
        assert_eq!(
            element_json(&rec, &bytes).unwrap().to_string(),
            r#"{"x":1.5,"id":7,"z":{"real":1.0,"imag":-2.0}}"#
        );
        assert_eq!(
            encode_value(&rec, r#"[1.5, 7, {"real": 1, "imag": -2}]"#).unwrap(),
            bytes
        );
        assert!(
            encode_value(&rec, r#"{"x": 1}"#)
                .unwrap_err()
                .contains("no value for field \"id\"")
        );
        assert!(
            encode_value(&rec, "1.5")
                .unwrap_err()
                .contains("JSON object")
        );
        assert!(encode_value(&rec, "{").unwrap_err().contains("not JSON"));
        let sub = t("(2)<h");
        assert_eq!(encode_value(&sub, "[1, -1]").unwrap(), [1, 0, 0xff, 0xff]);
        assert_eq!(
            element_json(&sub, &[1, 0, 0xff, 0xff]).unwrap().to_string(),
            "[1,-1]"
        );
    }
}
