//! The typed value encoding shared by Rust, Python and C (see `docs/FORMAT.md`, "Values").
//!
//! A value is one tag byte followed by its payload; the payload runs to the end of the
//! buffer (the container stores the length). Keys of typed maps use the same encoding, so
//! the key `1` (int), `"1"` (str) and `b"1"` (bytes) are three different keys.
//!
//! | tag | type | payload |
//! |---|---|---|
//! | `0x00` | null | none |
//! | `0x01` / `0x02` | false / true | none |
//! | `0x03` | int (i64) | 8 bytes little-endian |
//! | `0x04` | float (f64) | 8 bytes little-endian IEEE-754 |
//! | `0x05` | bytes | the bytes |
//! | `0x06` | str | UTF-8 |
//! | `0x07` | big int | two's complement little-endian, minimal length, > 8 bytes |
//! | `0x08` | language-specific | 1 byte language id (`1` = Python pickle, `2` = a Rust tuple: [`codec::LANG_RUST_TUPLE`]), then the data |
//!
//! ```
//! use shmkit::value::{Value, decode, encode};
//! let bytes = encode(&Value::Str("héllo".into()));
//! assert_eq!(bytes[0], 0x06);
//! assert_eq!(decode(&bytes).unwrap(), Value::Str("héllo".into()));
//! assert_eq!(encode(&Value::Int(-2)), [3, 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
//! ```
//!
//! Submodules: [`int`] (the canonical form of integers of any size, two's complement
//! arithmetic), [`arith`] (adding a number to an encoded value, for atomic `incr`), [`codec`]
//! (Rust types ↔ this encoding: what typed maps use), [`ordered`] (a second encoding, of
//! keys whose byte order is their value order: what sorted structures use).

pub mod arith;
pub mod codec;
pub mod int;
pub mod ordered;

/// Tag of null.
pub const TAG_NULL: u8 = 0x00;
/// Tag of false.
pub const TAG_FALSE: u8 = 0x01;
/// Tag of true.
pub const TAG_TRUE: u8 = 0x02;
/// Tag of a 64-bit signed integer.
pub const TAG_INT: u8 = 0x03;
/// Tag of a 64-bit float.
pub const TAG_FLOAT: u8 = 0x04;
/// Tag of a byte string.
pub const TAG_BYTES: u8 = 0x05;
/// Tag of a UTF-8 string.
pub const TAG_STR: u8 = 0x06;
/// Tag of an integer that does not fit in 64 bits.
pub const TAG_BIG_INT: u8 = 0x07;
/// Tag of a language-specific object.
pub const TAG_FOREIGN: u8 = 0x08;
/// Language id of Python pickles inside [`TAG_FOREIGN`].
pub const LANG_PYTHON_PICKLE: u8 = 1;

/// A decoded value.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// null / None.
    Null,
    /// A boolean.
    Bool(bool),
    /// A 64-bit signed integer.
    Int(i64),
    /// A 64-bit float.
    Float(f64),
    /// Bytes.
    Bytes(Vec<u8>),
    /// Text.
    Str(String),
    /// An integer beyond 64 bits: two's complement, little-endian.
    BigInt(Vec<u8>),
    /// A language-specific object (for example a Python pickle).
    Foreign {
        /// Language id ([`LANG_PYTHON_PICKLE`]).
        lang: u8,
        /// The serialized object.
        data: Vec<u8>,
    },
}

/// Bytes that are not a valid encoded value.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// No bytes at all.
    #[error("empty value: no type tag")]
    Empty,
    /// A tag this build does not know.
    #[error("unknown value tag {0:#04x}")]
    UnknownTag(u8),
    /// The payload length does not fit the tag.
    #[error("value with tag {tag:#04x} has a {len}-byte payload")]
    BadLength {
        /// The tag.
        tag: u8,
        /// Payload length found.
        len: usize,
    },
    /// A string that is not UTF-8.
    #[error("string value is not valid UTF-8")]
    BadUtf8,
}

/// Appends the encoding of `value` to `out`. A [`Value::BigInt`] is written in the one
/// canonical form of integers ([`int::encode_le_into`]: an int if it fits in i64, else its
/// minimal bytes), so equal integers always encode (and match as keys) alike.
pub fn encode_into(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Null => out.push(TAG_NULL),
        Value::Bool(false) => out.push(TAG_FALSE),
        Value::Bool(true) => out.push(TAG_TRUE),
        Value::Int(i) => {
            out.push(TAG_INT);
            out.extend_from_slice(&i.to_le_bytes());
        }
        Value::Float(f) => {
            out.push(TAG_FLOAT);
            out.extend_from_slice(&f.to_le_bytes());
        }
        Value::Bytes(b) => {
            out.push(TAG_BYTES);
            out.extend_from_slice(b);
        }
        Value::Str(s) => {
            out.push(TAG_STR);
            out.extend_from_slice(s.as_bytes());
        }
        Value::BigInt(b) => int::encode_le_into(b, out),
        Value::Foreign { lang, data } => {
            out.push(TAG_FOREIGN);
            out.push(*lang);
            out.extend_from_slice(data);
        }
    }
}

/// The encoding of `value`.
pub fn encode(value: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    encode_into(value, &mut out);
    out
}

/// Decodes one value occupying all of `bytes`.
pub fn decode(bytes: &[u8]) -> Result<Value, DecodeError> {
    let (&tag, payload) = bytes.split_first().ok_or(DecodeError::Empty)?;
    let fixed = |n: usize| {
        if payload.len() == n {
            Ok(())
        } else {
            Err(DecodeError::BadLength {
                tag,
                len: payload.len(),
            })
        }
    };
    Ok(match tag {
        TAG_NULL => fixed(0).map(|_| Value::Null)?,
        TAG_FALSE => fixed(0).map(|_| Value::Bool(false))?,
        TAG_TRUE => fixed(0).map(|_| Value::Bool(true))?,
        TAG_INT => {
            fixed(8)?;
            Value::Int(i64::from_le_bytes(payload.try_into().unwrap_or_default()))
        }
        TAG_FLOAT => {
            fixed(8)?;
            Value::Float(f64::from_le_bytes(payload.try_into().unwrap_or_default()))
        }
        TAG_BYTES => Value::Bytes(payload.to_vec()),
        TAG_STR => {
            Value::Str(String::from_utf8(payload.to_vec()).map_err(|_| DecodeError::BadUtf8)?)
        }
        TAG_BIG_INT => {
            if payload.is_empty() {
                return Err(DecodeError::BadLength { tag, len: 0 });
            }
            Value::BigInt(payload.to_vec())
        }
        TAG_FOREIGN => {
            let (&lang, data) = payload
                .split_first()
                .ok_or(DecodeError::BadLength { tag, len: 0 })?;
            Value::Foreign {
                lang,
                data: data.to_vec(),
            }
        }
        other => return Err(DecodeError::UnknownTag(other)),
    })
}

/// A value borrowing its payload from the bytes it was decoded from ([`decode_ref`]), or
/// from the caller ([`ValueRef::encode_into`]): what a binding that hands out views into its
/// caller's buffers (the C API) uses instead of copying into a [`Value`]. The same encoding as
/// [`decode`] and [`encode_into`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ValueRef<'a> {
    /// null / None.
    Null,
    /// A boolean.
    Bool(bool),
    /// A 64-bit signed integer.
    Int(i64),
    /// A 64-bit float.
    Float(f64),
    /// Bytes.
    Bytes(&'a [u8]),
    /// Text.
    Str(&'a str),
    /// An integer beyond 64 bits: two's complement, little-endian.
    BigInt(&'a [u8]),
    /// A language-specific object.
    Foreign {
        /// Language id ([`LANG_PYTHON_PICKLE`]).
        lang: u8,
        /// The serialized object.
        data: &'a [u8],
    },
}

impl ValueRef<'_> {
    /// Appends the encoding of the value to `out` (the bytes [`encode_into`] writes for the
    /// owned value; a big int in its canonical form, so one that fits in i64 is an int).
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        let (tag, payload): (u8, &[u8]) = match *self {
            ValueRef::Null => (TAG_NULL, &[]),
            ValueRef::Bool(false) => (TAG_FALSE, &[]),
            ValueRef::Bool(true) => (TAG_TRUE, &[]),
            ValueRef::Int(i) => return encode_fixed(TAG_INT, i.to_le_bytes(), out),
            ValueRef::Float(f) => return encode_fixed(TAG_FLOAT, f.to_le_bytes(), out),
            ValueRef::Bytes(b) => (TAG_BYTES, b),
            ValueRef::Str(s) => (TAG_STR, s.as_bytes()),
            ValueRef::BigInt(b) => return int::encode_le_into(b, out),
            ValueRef::Foreign { lang, data } => {
                out.reserve(2 + data.len());
                out.extend_from_slice(&[TAG_FOREIGN, lang]);
                out.extend_from_slice(data);
                return;
            }
        };
        out.reserve(1 + payload.len());
        out.push(tag);
        out.extend_from_slice(payload);
    }

    /// Writes the same bytes as [`ValueRef::encode_into`] to the start of `out` and returns
    /// their length, or `None` when they do not fit (then `out` holds nothing useful): for a
    /// caller that encodes short keys into a buffer on its stack (the Python binding's
    /// single-key calls).
    ///
    /// ```
    /// use shmkit::value::ValueRef;
    /// let mut buf = [0u8; 16];
    /// let n = ValueRef::Str("key").encode_to_slice(&mut buf).unwrap();
    /// let mut owned = Vec::new();
    /// ValueRef::Str("key").encode_into(&mut owned);
    /// assert_eq!(&buf[..n], &owned[..]);
    /// assert_eq!(ValueRef::Str("a longer key than 16 bytes").encode_to_slice(&mut buf), None);
    /// ```
    #[inline]
    pub fn encode_to_slice(&self, out: &mut [u8]) -> Option<usize> {
        let (head, payload): (&[u8], &[u8]) = match *self {
            ValueRef::Null => (&[TAG_NULL], &[]),
            ValueRef::Bool(false) => (&[TAG_FALSE], &[]),
            ValueRef::Bool(true) => (&[TAG_TRUE], &[]),
            ValueRef::Int(i) => return fixed_to_slice(TAG_INT, i.to_le_bytes(), out),
            ValueRef::Float(f) => return fixed_to_slice(TAG_FLOAT, f.to_le_bytes(), out),
            ValueRef::Bytes(b) => (&[TAG_BYTES], b),
            ValueRef::Str(s) => (&[TAG_STR], s.as_bytes()),
            ValueRef::BigInt(b) => match int::to_i64(b) {
                Some(i) => return fixed_to_slice(TAG_INT, i.to_le_bytes(), out),
                None => (&[TAG_BIG_INT], &b[..int::minimal_len(b)]),
            },
            ValueRef::Foreign { lang, data } => {
                let n = 2 + data.len();
                let dest = out.get_mut(..n)?;
                dest[0] = TAG_FOREIGN;
                dest[1] = lang;
                dest[2..].copy_from_slice(data);
                return Some(n);
            }
        };
        let n = head.len() + payload.len();
        let dest = out.get_mut(..n)?;
        let (tag, rest) = dest.split_at_mut(head.len());
        tag.copy_from_slice(head);
        rest.copy_from_slice(payload);
        Some(n)
    }
}

#[inline]
fn fixed_to_slice(tag: u8, payload: [u8; 8], out: &mut [u8]) -> Option<usize> {
    let dest = out.get_mut(..9)?;
    dest[0] = tag;
    dest[1..].copy_from_slice(&payload);
    Some(9)
}

fn encode_fixed(tag: u8, payload: [u8; 8], out: &mut Vec<u8>) {
    out.push(tag);
    out.extend_from_slice(&payload);
}

/// The payload of an encoded `str`, its UTF-8 **not yet validated**: for a front end whose
/// own string constructor validates as it decodes (Python's does), so the bytes are checked
/// once, not twice. `None` when `bytes` is not a `str` (then use [`decode_ref`]). A caller
/// that needs a `&str` must validate it (or use [`decode_ref`], which does).
///
/// ```
/// use shmkit::value::{encode, str_payload_unvalidated, Value};
/// assert_eq!(str_payload_unvalidated(&encode(&Value::Str("hé".into()))), Some("hé".as_bytes()));
/// assert_eq!(str_payload_unvalidated(&encode(&Value::Int(1))), None);
/// ```
#[inline]
pub fn str_payload_unvalidated(bytes: &[u8]) -> Option<&[u8]> {
    match bytes.split_first() {
        Some((&TAG_STR, payload)) => Some(payload),
        _ => None,
    }
}

/// Decodes one value occupying all of `bytes` without copying its payload (what [`decode`]
/// accepts and refuses, as a view).
pub fn decode_ref(bytes: &[u8]) -> Result<ValueRef<'_>, DecodeError> {
    let (&tag, payload) = bytes.split_first().ok_or(DecodeError::Empty)?;
    let bad_length = || DecodeError::BadLength {
        tag,
        len: payload.len(),
    };
    let empty = |v: ValueRef<'static>| {
        if payload.is_empty() {
            Ok(v)
        } else {
            Err(bad_length())
        }
    };
    let eight = || <[u8; 8]>::try_from(payload).map_err(|_| bad_length());
    match tag {
        TAG_NULL => empty(ValueRef::Null),
        TAG_FALSE => empty(ValueRef::Bool(false)),
        TAG_TRUE => empty(ValueRef::Bool(true)),
        TAG_INT => Ok(ValueRef::Int(i64::from_le_bytes(eight()?))),
        TAG_FLOAT => Ok(ValueRef::Float(f64::from_le_bytes(eight()?))),
        TAG_BYTES => Ok(ValueRef::Bytes(payload)),
        TAG_STR => std::str::from_utf8(payload)
            .map(ValueRef::Str)
            .map_err(|_| DecodeError::BadUtf8),
        TAG_BIG_INT if payload.is_empty() => Err(bad_length()),
        TAG_BIG_INT => Ok(ValueRef::BigInt(payload)),
        TAG_FOREIGN => match payload.split_first() {
            Some((&lang, data)) => Ok(ValueRef::Foreign { lang, data }),
            None => Err(bad_length()),
        },
        other => Err(DecodeError::UnknownTag(other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_every_kind() {
        let values = [
            Value::Null,
            Value::Bool(true),
            Value::Bool(false),
            Value::Int(i64::MIN),
            Value::Int(42),
            Value::Float(-0.5),
            Value::Bytes(vec![]),
            Value::Bytes(vec![0, 255]),
            Value::Str(String::new()),
            Value::Str("ünïcode".into()),
            Value::BigInt(vec![1, 2, 3, 4, 5, 6, 7, 8, 9]),
            Value::Foreign {
                lang: LANG_PYTHON_PICKLE,
                data: vec![0x80, 4],
            },
        ];
        for v in values {
            assert_eq!(decode(&encode(&v)).unwrap(), v);
        }
    }

    #[test]
    fn borrowed_forms_agree_with_the_owned_ones() {
        let values = [
            Value::Null,
            Value::Bool(true),
            Value::Bool(false),
            Value::Int(-7),
            Value::Float(2.5),
            Value::Bytes(vec![0, 255]),
            Value::Str("ünïcode".into()),
            Value::BigInt(vec![1, 2, 3, 4, 5, 6, 7, 8, 9]),
            Value::Foreign {
                lang: LANG_PYTHON_PICKLE,
                data: vec![0x80, 4],
            },
        ];
        for v in values {
            let bytes = encode(&v);
            let view = decode_ref(&bytes).unwrap();
            let mut again = Vec::new();
            view.encode_into(&mut again);
            assert_eq!(again, bytes, "{v:?}");
        }
        // Into a slice: the same bytes, and `None` when they do not fit.
        let views = [
            ValueRef::Null,
            ValueRef::Bool(true),
            ValueRef::Bool(false),
            ValueRef::Int(-7),
            ValueRef::Float(2.5),
            ValueRef::Bytes(&[0, 255]),
            ValueRef::Str("ünïcode"),
            ValueRef::BigInt(&[1, 2, 3, 4, 5, 6, 7, 8, 9]),
            ValueRef::BigInt(&[0xfe, 0xff, 0xff]),
            ValueRef::BigInt(&[1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0]),
            ValueRef::Foreign {
                lang: LANG_PYTHON_PICKLE,
                data: &[0x80, 4],
            },
        ];
        for view in views {
            let mut owned = Vec::new();
            view.encode_into(&mut owned);
            let mut buf = [0xaau8; 32];
            let n = view.encode_to_slice(&mut buf).unwrap();
            assert_eq!(&buf[..n], &owned[..], "{view:?}");
            let mut short = vec![0u8; owned.len() - 1];
            assert_eq!(view.encode_to_slice(&mut short), None, "{view:?}");
            let mut exact = vec![0u8; owned.len()];
            assert_eq!(
                view.encode_to_slice(&mut exact),
                Some(owned.len()),
                "{view:?}"
            );
        }
        // Integers have one encoding, whichever form they come in.
        let mut padded = Vec::new();
        ValueRef::BigInt(&[0xfe, 0xff, 0xff]).encode_into(&mut padded);
        assert_eq!(padded, encode(&Value::Int(-2)));
        assert_eq!(encode(&Value::BigInt(vec![0xfe, 0xff, 0xff])), padded);
        let mut wide = Vec::new();
        ValueRef::BigInt(&[1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0]).encode_into(&mut wide);
        assert_eq!(wide, [TAG_BIG_INT, 1, 0, 0, 0, 0, 0, 0, 0, 1]);
        let malformed: [&[u8]; 8] = [
            &[],
            &[0x99],
            &[TAG_INT, 1, 2],
            &[TAG_FLOAT],
            &[TAG_STR, 0xff],
            &[TAG_NULL, 0],
            &[TAG_BIG_INT],
            &[TAG_FOREIGN],
        ];
        for bytes in malformed {
            assert_eq!(decode_ref(bytes).err(), decode(bytes).err(), "{bytes:?}");
            assert!(decode_ref(bytes).is_err());
        }
    }

    #[test]
    fn rejects_malformed() {
        assert_eq!(decode(&[]), Err(DecodeError::Empty));
        assert_eq!(decode(&[0x99]), Err(DecodeError::UnknownTag(0x99)));
        assert_eq!(
            decode(&[TAG_INT, 1, 2]),
            Err(DecodeError::BadLength {
                tag: TAG_INT,
                len: 2
            })
        );
        assert_eq!(decode(&[TAG_STR, 0xff]), Err(DecodeError::BadUtf8));
        assert_eq!(
            decode(&[TAG_NULL, 0]),
            Err(DecodeError::BadLength {
                tag: TAG_NULL,
                len: 1
            })
        );
    }
}
