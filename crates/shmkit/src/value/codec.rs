//! Rust types ↔ the shared value encoding: the [`Encode`] and [`Decode`] traits a
//! [`TypedMap`](crate::collections::hash_map::TypedMap) uses for its keys and values.
//!
//! The built-in types write exactly what Python and C write for the same value, so a
//! `TypedMap<String, i64>` reads a map Python filled with `str` keys and `int` values, and
//! Python reads back what Rust wrote with the types it expects:
//!
//! | Rust | encoded as | decodes from |
//! |---|---|---|
//! | `i8` … `i128`, `u8` … `u128`, `isize`, `usize` | int (`0x03`), or big int (`0x07`) beyond i64 (Python's `int`) | int or big int in range, else [`CodecError::OutOfRange`] |
//! | `f64`, `f32` | float (`0x04`) | float; an int only if the float holds it exactly; `f32` only if exact |
//! | `bool` | false / true (`0x01`/`0x02`) | false / true |
//! | `String`, `str` | str (`0x06`) | str |
//! | `Vec<u8>`, `[u8]` | bytes (`0x05`) | bytes |
//! | `Option<T>` | null (`0x00`) for `None`, else `T` | null is `None`, else `T` |
//! | `()` | null | null |
//! | [`Value`] | itself | any well-formed value |
//! | tuples of up to 6 | **Rust only**: language-specific (`0x08`), language [`LANG_RUST_TUPLE`] | the same |
//! | `Json<T>` (feature `serde`) | str holding the JSON text of `T` | str holding JSON |
//!
//! **Keys** follow Python's `dict` equality, as the Python binding stores them
//! ([`Encode::encode_key_into`]): a `bool` key is the int 0 or 1, and an integral float key
//! (`1.0`, `-0.0`, `2.0**70`) is the int it equals, so `TypedMap<f64, _>` finds Python's key
//! `1` with `1.0`, `TypedMap<i64, _>` finds the key Python wrote as `True` or `1.0`, and every
//! float key that is not integral (`0.5`, NaN, infinities) is a float. Decoding a key
//! ([`Decode::decode_key`]) accepts those forms back (`bool` from the ints 0 and 1).
//!
//! **Tuples** have no form in the shared encoding (Python pickles its tuples, and a pickle is
//! not something Rust can read honestly), so tuples here are a Rust-side encoding under their
//! own language id: each element's encoding after its length (LEB128). Python's typed maps
//! refuse to decode them (its `DecodeError` names the language), and a pickled Python tuple
//! is refused here the same way: neither side misreads the other.
//!
//! Invariants: encoding is deterministic (equal keys encode to equal bytes, which is what a
//! lookup matches); a value never decodes to a different number than it holds (out of range
//! and inexact conversions are errors, never truncations or roundings).
//!
//! ```
//! use shmkit::value::codec::{Decode, Encode};
//! use shmkit::value::{Value, decode};
//!
//! assert_eq!(decode(&42u8.encode().unwrap()).unwrap(), Value::Int(42));
//! // u64 beyond i64 is the big int Python's int would store.
//! let big = u64::MAX.encode().unwrap();
//! assert_eq!(decode(&big).unwrap(), Value::BigInt(vec![0xff; 8].into_iter().chain([0]).collect()));
//! assert_eq!(u64::decode(&big).unwrap(), u64::MAX);
//! assert!(i64::decode(&big).is_err());
//! // Keys: 2.0 is the int 2 (as in a Python dict), 2.5 stays a float.
//! assert_eq!(2.0f64.encode_key().unwrap(), 2i64.encode().unwrap());
//! assert_eq!(f64::decode_key(&2i64.encode().unwrap()).unwrap(), 2.0);
//! assert_eq!(decode(&2.5f64.encode_key().unwrap()).unwrap(), Value::Float(2.5));
//! assert_eq!(<(String, u8)>::decode(&("a".to_string(), 1u8).encode().unwrap()).unwrap(), ("a".into(), 1));
//! ```

use super::{DecodeError, TAG_FOREIGN, Value, ValueRef, decode_ref, int};

/// Language id (inside [`super::TAG_FOREIGN`]) of a tuple written by this module: the
/// elements' encodings, each after its length as an LEB128 number. Only Rust reads it.
pub const LANG_RUST_TUPLE: u8 = 2;

/// Why bytes did not decode as the requested type, or a value could not be encoded.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CodecError {
    /// The bytes are not a well-formed value at all.
    #[error(transparent)]
    Malformed(#[from] DecodeError),
    /// A well-formed value of another type.
    #[error("expected {expected}, found {found}")]
    WrongType {
        /// The Rust type asked for.
        expected: &'static str,
        /// What the value is (`"str"`, `"int"`, `"Python pickle"`, ...).
        found: &'static str,
    },
    /// A number the type cannot hold exactly (too large, negative for an unsigned type,
    /// a float that is not exactly an `f32`).
    #[error("number out of range for {expected}")]
    OutOfRange {
        /// The Rust type asked for.
        expected: &'static str,
    },
    /// A value of the right type whose content is not what the codec wrote (a tuple with a
    /// bad length prefix or element count, text that is not the JSON of the type).
    #[error("invalid {expected}: {reason}")]
    Invalid {
        /// The Rust type asked for.
        expected: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// A value this codec cannot encode (a serde `Serialize` impl that failed).
    #[error("cannot encode {type_name}: {reason}")]
    Unencodable {
        /// The Rust type.
        type_name: &'static str,
        /// Why.
        reason: String,
    },
}

/// A Rust value that can be written in the shared encoding.
pub trait Encode {
    /// Appends the encoding of `self` as a value to `out`.
    fn encode_into(&self, out: &mut Vec<u8>) -> Result<(), CodecError>;

    /// Appends the encoding of `self` as a key to `out`: the canonical form a Python `dict`
    /// key of the same value takes (see the module documentation). The default is
    /// [`Encode::encode_into`]; numbers and `bool` override it.
    fn encode_key_into(&self, out: &mut Vec<u8>) -> Result<(), CodecError> {
        self.encode_into(out)
    }

    /// The encoding of `self` as a value.
    fn encode(&self) -> Result<Vec<u8>, CodecError> {
        let mut out = Vec::new();
        self.encode_into(&mut out)?;
        Ok(out)
    }

    /// The encoding of `self` as a key.
    fn encode_key(&self) -> Result<Vec<u8>, CodecError> {
        let mut out = Vec::new();
        self.encode_key_into(&mut out)?;
        Ok(out)
    }
}

/// A Rust value that can be read from the shared encoding.
pub trait Decode: Sized {
    /// Decodes a value occupying all of `bytes`.
    fn decode(bytes: &[u8]) -> Result<Self, CodecError>;

    /// Decodes a key written by [`Encode::encode_key_into`] (or by Python as a `dict` key).
    /// The default is [`Decode::decode`].
    fn decode_key(bytes: &[u8]) -> Result<Self, CodecError> {
        Self::decode(bytes)
    }
}

/// A type that both encodes and decodes: what a typed map's keys and values are.
pub trait Codec: Encode + Decode {}

impl<T: Encode + Decode> Codec for T {}

impl<T: Encode + ?Sized> Encode for &T {
    fn encode_into(&self, out: &mut Vec<u8>) -> Result<(), CodecError> {
        (**self).encode_into(out)
    }
    fn encode_key_into(&self, out: &mut Vec<u8>) -> Result<(), CodecError> {
        (**self).encode_key_into(out)
    }
}

/// What a decoded value is, for error messages.
fn type_name(v: &ValueRef<'_>) -> &'static str {
    match v {
        ValueRef::Null => "null",
        ValueRef::Bool(_) => "bool",
        ValueRef::Int(_) | ValueRef::BigInt(_) => "int",
        ValueRef::Float(_) => "float",
        ValueRef::Bytes(_) => "bytes",
        ValueRef::Str(_) => "str",
        ValueRef::Foreign {
            lang: super::LANG_PYTHON_PICKLE,
            ..
        } => "Python pickle",
        ValueRef::Foreign {
            lang: LANG_RUST_TUPLE,
            ..
        } => "tuple",
        ValueRef::Foreign { .. } => "language-specific value",
    }
}

fn wrong(expected: &'static str, found: &ValueRef<'_>) -> CodecError {
    CodecError::WrongType {
        expected,
        found: type_name(found),
    }
}

// ---- integers ----

/// The value of the two's complement little-endian `n` as an i128, if it fits.
fn le_to_i128(n: &[u8]) -> Option<i128> {
    let n = &n[..int::minimal_len(n)];
    if n.len() > 16 {
        return None;
    }
    let fill = if n.last().is_some_and(|b| b & 0x80 != 0) {
        0xff
    } else {
        0
    };
    let mut bytes = [fill; 16];
    bytes[..n.len()].copy_from_slice(n);
    Some(i128::from_le_bytes(bytes))
}

/// The value of the two's complement little-endian `n` as a u128, if it fits.
fn le_to_u128(n: &[u8]) -> Option<u128> {
    let n = &n[..int::minimal_len(n)];
    if n.last().is_some_and(|b| b & 0x80 != 0) {
        return None; // negative
    }
    match n.len() {
        0..=16 => {
            let mut bytes = [0u8; 16];
            bytes[..n.len()].copy_from_slice(n);
            Some(u128::from_le_bytes(bytes))
        }
        // 2^127 ..= u128::MAX: 16 bytes of magnitude and a zero sign byte.
        17 if n[16] == 0 => Some(u128::from_le_bytes(n[..16].try_into().ok()?)),
        _ => None,
    }
}

/// The two's complement bytes of an encoded int, or the error for anything else.
fn int_le<'a>(bytes: &'a [u8], expected: &'static str) -> Result<&'a [u8], CodecError> {
    match decode_ref(bytes)? {
        ValueRef::Int(_) | ValueRef::BigInt(_) => {
            // Well-formed, so `decode_le` sees the same payload.
            int::decode_le(bytes).ok_or(CodecError::Malformed(DecodeError::Empty))
        }
        other => Err(wrong(expected, &other)),
    }
}

fn encode_i128(i: i128, out: &mut Vec<u8>) {
    match i64::try_from(i) {
        Ok(i) => int::encode_i64_into(i, out),
        Err(_) => int::encode_le_into(&i.to_le_bytes(), out),
    }
}

macro_rules! signed_codec {
    ($($t:ty),*) => {$(
        impl Encode for $t {
            fn encode_into(&self, out: &mut Vec<u8>) -> Result<(), CodecError> {
                encode_i128(*self as i128, out);
                Ok(())
            }
        }
        impl Decode for $t {
            fn decode(bytes: &[u8]) -> Result<Self, CodecError> {
                const NAME: &str = stringify!($t);
                le_to_i128(int_le(bytes, NAME)?)
                    .and_then(|i| <$t>::try_from(i).ok())
                    .ok_or(CodecError::OutOfRange { expected: NAME })
            }
        }
    )*};
}

macro_rules! unsigned_codec {
    ($($t:ty),*) => {$(
        impl Encode for $t {
            fn encode_into(&self, out: &mut Vec<u8>) -> Result<(), CodecError> {
                encode_u128(*self as u128, out);
                Ok(())
            }
        }
        impl Decode for $t {
            fn decode(bytes: &[u8]) -> Result<Self, CodecError> {
                const NAME: &str = stringify!($t);
                le_to_u128(int_le(bytes, NAME)?)
                    .and_then(|i| <$t>::try_from(i).ok())
                    .ok_or(CodecError::OutOfRange { expected: NAME })
            }
        }
    )*};
}

fn encode_u128(u: u128, out: &mut Vec<u8>) {
    match i64::try_from(u) {
        Ok(i) => int::encode_i64_into(i, out),
        Err(_) => {
            // A zero byte on top keeps the number positive; `encode_le_into` trims it when
            // it is redundant.
            let mut le = [0u8; 17];
            le[..16].copy_from_slice(&u.to_le_bytes());
            int::encode_le_into(&le, out);
        }
    }
}

signed_codec!(i8, i16, i32, i64, i128, isize);
unsigned_codec!(u8, u16, u32, u64, u128, usize);

// ---- floats ----

/// Appends the key form of `f`: the int it equals if it is integral, else the float.
fn encode_float_key(f: f64, out: &mut Vec<u8>) {
    match int::from_integral_f64(f) {
        Some(n) => int::encode_le_into(&n, out),
        None => ValueRef::Float(f).encode_into(out),
    }
}

/// An encoded float, or an encoded int the f64 holds exactly.
fn decode_f64(bytes: &[u8], expected: &'static str) -> Result<f64, CodecError> {
    match decode_ref(bytes)? {
        ValueRef::Float(f) => Ok(f),
        ValueRef::Int(_) | ValueRef::BigInt(_) => {
            let n = int_le(bytes, expected)?;
            let f = int::to_f64(n).ok_or(CodecError::OutOfRange { expected })?;
            // Exact only if converting back gives the same integer.
            match int::from_integral_f64(f) {
                Some(back) if back == n[..int::minimal_len(n)] => Ok(f),
                _ => Err(CodecError::OutOfRange { expected }),
            }
        }
        other => Err(wrong(expected, &other)),
    }
}

impl Encode for f64 {
    fn encode_into(&self, out: &mut Vec<u8>) -> Result<(), CodecError> {
        ValueRef::Float(*self).encode_into(out);
        Ok(())
    }
    fn encode_key_into(&self, out: &mut Vec<u8>) -> Result<(), CodecError> {
        encode_float_key(*self, out);
        Ok(())
    }
}

impl Decode for f64 {
    fn decode(bytes: &[u8]) -> Result<Self, CodecError> {
        decode_f64(bytes, "f64")
    }
}

impl Encode for f32 {
    fn encode_into(&self, out: &mut Vec<u8>) -> Result<(), CodecError> {
        f64::from(*self).encode_into(out)
    }
    fn encode_key_into(&self, out: &mut Vec<u8>) -> Result<(), CodecError> {
        f64::from(*self).encode_key_into(out)
    }
}

impl Decode for f32 {
    fn decode(bytes: &[u8]) -> Result<Self, CodecError> {
        let f = decode_f64(bytes, "f32")?;
        let narrow = f as f32;
        if f64::from(narrow) == f || f.is_nan() {
            Ok(narrow)
        } else {
            Err(CodecError::OutOfRange { expected: "f32" })
        }
    }
}

// ---- bool, unit, Option ----

impl Encode for bool {
    fn encode_into(&self, out: &mut Vec<u8>) -> Result<(), CodecError> {
        ValueRef::Bool(*self).encode_into(out);
        Ok(())
    }
    /// A bool key is the int 0 or 1 (`True == 1` in a Python dict).
    fn encode_key_into(&self, out: &mut Vec<u8>) -> Result<(), CodecError> {
        int::encode_i64_into(i64::from(*self), out);
        Ok(())
    }
}

impl Decode for bool {
    fn decode(bytes: &[u8]) -> Result<Self, CodecError> {
        match decode_ref(bytes)? {
            ValueRef::Bool(b) => Ok(b),
            other => Err(wrong("bool", &other)),
        }
    }
    fn decode_key(bytes: &[u8]) -> Result<Self, CodecError> {
        match decode_ref(bytes)? {
            ValueRef::Bool(b) => Ok(b),
            ValueRef::Int(0) => Ok(false),
            ValueRef::Int(1) => Ok(true),
            ValueRef::Int(_) | ValueRef::BigInt(_) => {
                Err(CodecError::OutOfRange { expected: "bool" })
            }
            other => Err(wrong("bool", &other)),
        }
    }
}

impl Encode for () {
    fn encode_into(&self, out: &mut Vec<u8>) -> Result<(), CodecError> {
        ValueRef::Null.encode_into(out);
        Ok(())
    }
}

impl Decode for () {
    fn decode(bytes: &[u8]) -> Result<Self, CodecError> {
        match decode_ref(bytes)? {
            ValueRef::Null => Ok(()),
            other => Err(wrong("()", &other)),
        }
    }
}

/// `None` is null; `Some(v)` is `v`'s own encoding, so an `Option<Option<T>>` (or an
/// `Option<()>`) reads `Some(None)` back as `None`.
impl<T: Encode> Encode for Option<T> {
    fn encode_into(&self, out: &mut Vec<u8>) -> Result<(), CodecError> {
        match self {
            None => {
                ValueRef::Null.encode_into(out);
                Ok(())
            }
            Some(v) => v.encode_into(out),
        }
    }
    fn encode_key_into(&self, out: &mut Vec<u8>) -> Result<(), CodecError> {
        match self {
            None => self.encode_into(out),
            Some(v) => v.encode_key_into(out),
        }
    }
}

impl<T: Decode> Decode for Option<T> {
    fn decode(bytes: &[u8]) -> Result<Self, CodecError> {
        match bytes.first() {
            Some(&super::TAG_NULL) => <()>::decode(bytes).map(|()| None),
            _ => T::decode(bytes).map(Some),
        }
    }
    fn decode_key(bytes: &[u8]) -> Result<Self, CodecError> {
        match bytes.first() {
            Some(&super::TAG_NULL) => <()>::decode(bytes).map(|()| None),
            _ => T::decode_key(bytes).map(Some),
        }
    }
}

// ---- text and bytes ----

impl Encode for str {
    fn encode_into(&self, out: &mut Vec<u8>) -> Result<(), CodecError> {
        ValueRef::Str(self).encode_into(out);
        Ok(())
    }
}

impl Encode for String {
    fn encode_into(&self, out: &mut Vec<u8>) -> Result<(), CodecError> {
        self.as_str().encode_into(out)
    }
}

impl Decode for String {
    fn decode(bytes: &[u8]) -> Result<Self, CodecError> {
        match decode_ref(bytes)? {
            ValueRef::Str(s) => Ok(s.to_owned()),
            other => Err(wrong("String", &other)),
        }
    }
}

impl Encode for [u8] {
    fn encode_into(&self, out: &mut Vec<u8>) -> Result<(), CodecError> {
        ValueRef::Bytes(self).encode_into(out);
        Ok(())
    }
}

impl Encode for Vec<u8> {
    fn encode_into(&self, out: &mut Vec<u8>) -> Result<(), CodecError> {
        self.as_slice().encode_into(out)
    }
}

impl Decode for Vec<u8> {
    fn decode(bytes: &[u8]) -> Result<Self, CodecError> {
        match decode_ref(bytes)? {
            ValueRef::Bytes(b) => Ok(b.to_vec()),
            other => Err(wrong("Vec<u8>", &other)),
        }
    }
}

// ---- any value ----

/// Any value, as it is stored. As a key, a `Bool` or an integral `Float` takes the int form
/// (as Python stores it), so a `TypedMap<Value, _>` finds what Python's dict-like maps wrote.
impl Encode for Value {
    fn encode_into(&self, out: &mut Vec<u8>) -> Result<(), CodecError> {
        super::encode_into(self, out);
        Ok(())
    }
    fn encode_key_into(&self, out: &mut Vec<u8>) -> Result<(), CodecError> {
        match self {
            Value::Bool(b) => b.encode_key_into(out),
            Value::Float(f) => f.encode_key_into(out),
            other => other.encode_into(out),
        }
    }
}

impl Decode for Value {
    fn decode(bytes: &[u8]) -> Result<Self, CodecError> {
        Ok(super::decode(bytes)?)
    }
}

// ---- tuples (Rust only) ----

fn push_leb128(mut n: u64, out: &mut Vec<u8>) {
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// Reads a minimal LEB128 number from the front of `bytes`.
fn take_leb128(bytes: &mut &[u8]) -> Option<u64> {
    let mut n = 0u64;
    for (i, &byte) in bytes.iter().enumerate().take(10) {
        let bits = u64::from(byte & 0x7f);
        if i == 9 && bits > 1 {
            return None; // beyond 64 bits
        }
        n |= bits << (7 * i);
        if byte & 0x80 == 0 {
            if byte == 0 && i > 0 {
                return None; // not minimal: two encodings would name one length
            }
            *bytes = &bytes[i + 1..];
            return Some(n);
        }
    }
    None
}

/// Writes one tuple element (its length, then its encoding) at the end of `out`.
fn push_element(
    out: &mut Vec<u8>,
    encode: impl FnOnce(&mut Vec<u8>) -> Result<(), CodecError>,
) -> Result<(), CodecError> {
    let mut element = Vec::new();
    encode(&mut element)?;
    push_leb128(element.len() as u64, out);
    out.extend_from_slice(&element);
    Ok(())
}

/// Splits the next element off a tuple payload.
fn take_element<'a>(
    payload: &mut &'a [u8],
    expected: &'static str,
) -> Result<&'a [u8], CodecError> {
    let invalid = |reason: &str| CodecError::Invalid {
        expected,
        reason: reason.to_string(),
    };
    let len = take_leb128(payload).ok_or_else(|| invalid("bad element length"))?;
    let len = usize::try_from(len)
        .ok()
        .filter(|&l| l <= payload.len())
        .ok_or_else(|| invalid("element longer than the tuple"))?;
    let (element, rest) = payload.split_at(len);
    *payload = rest;
    Ok(element)
}

/// The element bytes of an encoded tuple.
fn tuple_payload<'a>(bytes: &'a [u8], expected: &'static str) -> Result<&'a [u8], CodecError> {
    match decode_ref(bytes)? {
        ValueRef::Foreign {
            lang: LANG_RUST_TUPLE,
            data,
        } => Ok(data),
        other => Err(wrong(expected, &other)),
    }
}

macro_rules! tuple_codec {
    ($($name:ident $index:tt),+) => {
        impl<$($name: Encode),+> Encode for ($($name,)+) {
            fn encode_into(&self, out: &mut Vec<u8>) -> Result<(), CodecError> {
                out.extend_from_slice(&[TAG_FOREIGN, LANG_RUST_TUPLE]);
                $(push_element(out, |e| self.$index.encode_into(e))?;)+
                Ok(())
            }
            /// Each element in its key form.
            fn encode_key_into(&self, out: &mut Vec<u8>) -> Result<(), CodecError> {
                out.extend_from_slice(&[TAG_FOREIGN, LANG_RUST_TUPLE]);
                $(push_element(out, |e| self.$index.encode_key_into(e))?;)+
                Ok(())
            }
        }
        impl<$($name: Decode),+> Decode for ($($name,)+) {
            fn decode(bytes: &[u8]) -> Result<Self, CodecError> {
                decode_tuple(bytes, false)
            }
            fn decode_key(bytes: &[u8]) -> Result<Self, CodecError> {
                decode_tuple(bytes, true)
            }
        }
        impl<$($name: Decode),+> DecodeTuple for ($($name,)+) {
            fn decode_elements(payload: &mut &[u8], key: bool) -> Result<Self, CodecError> {
                Ok(($(
                    {
                        let element = take_element(payload, "tuple")?;
                        if key { $name::decode_key(element)? } else { $name::decode(element)? }
                    },
                )+))
            }
        }
    };
}

/// The elements of a tuple, in order.
trait DecodeTuple: Sized {
    fn decode_elements(payload: &mut &[u8], key: bool) -> Result<Self, CodecError>;
}

fn decode_tuple<T: DecodeTuple>(bytes: &[u8], key: bool) -> Result<T, CodecError> {
    let mut payload = tuple_payload(bytes, "tuple")?;
    let tuple = T::decode_elements(&mut payload, key)?;
    if !payload.is_empty() {
        return Err(CodecError::Invalid {
            expected: "tuple",
            reason: "more elements than the tuple type has".into(),
        });
    }
    Ok(tuple)
}

tuple_codec!(A 0);
tuple_codec!(A 0, B 1);
tuple_codec!(A 0, B 1, C 2);
tuple_codec!(A 0, B 1, C 2, D 3);
tuple_codec!(A 0, B 1, C 2, D 3, E 4);
tuple_codec!(A 0, B 1, C 2, D 3, E 4, F 5);

// ---- numbers for incr ----

mod sealed {
    pub trait Sealed {}
}

/// A number a typed map can add to atomically
/// ([`TypedMap::incr`](crate::collections::hash_map::TypedMap::incr)): the integers and
/// floats above. Sealed: its decoding runs under a shard lock, so only this crate's own
/// codecs may implement it.
pub trait Number: Codec + Copy + sealed::Sealed {
    /// Calls `f` with `self` as the addend of [`super::arith::add_to`].
    #[doc(hidden)]
    fn with_addend<R>(&self, f: impl FnOnce(super::arith::Addend<'_>) -> R) -> R;
}

macro_rules! int_number {
    ($signed:literal; $($t:ty),*) => {$(
        impl sealed::Sealed for $t {}
        impl Number for $t {
            fn with_addend<R>(&self, f: impl FnOnce(super::arith::Addend<'_>) -> R) -> R {
                // Two's complement, one byte wider than any of these types, so the top
                // byte is always the sign (u128 included).
                let fill = if $signed && (*self as i128) < 0 { 0xff } else { 0 };
                let mut le = [fill; 17];
                le[..16].copy_from_slice(&(*self as i128).to_le_bytes());
                f(super::arith::Addend::Int(&le))
            }
        }
    )*};
}

int_number!(true; i8, i16, i32, i64, i128, isize);
int_number!(false; u8, u16, u32, u64, u128, usize);

impl sealed::Sealed for f64 {}
impl Number for f64 {
    fn with_addend<R>(&self, f: impl FnOnce(super::arith::Addend<'_>) -> R) -> R {
        f(super::arith::Addend::Float(*self))
    }
}

impl sealed::Sealed for f32 {}
impl Number for f32 {
    fn with_addend<R>(&self, f: impl FnOnce(super::arith::Addend<'_>) -> R) -> R {
        f(super::arith::Addend::Float(f64::from(*self)))
    }
}

// ---- serde ----

/// A serde type stored as the JSON text of it in a `str` value (feature `serde`): Python and
/// C read a `str` they can parse as JSON (`json.loads`), and a `str` of JSON written by any
/// of them decodes here. As a key, `T` must serialize deterministically (no `HashMap`
/// fields: their order varies), since a lookup matches the bytes.
///
/// ```
/// # #[cfg(feature = "serde")] {
/// use shmkit::value::codec::{Decode, Encode, Json};
/// use shmkit::value::{Value, decode};
/// let point = Json((1, "a".to_string()));
/// let bytes = point.encode().unwrap();
/// assert_eq!(decode(&bytes).unwrap(), Value::Str(r#"[1,"a"]"#.into()));
/// assert_eq!(Json::<(i32, String)>::decode(&bytes).unwrap(), point);
/// # }
/// ```
#[cfg(feature = "serde")]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Json<T>(pub T);

#[cfg(feature = "serde")]
impl<T: serde::Serialize> Encode for Json<T> {
    fn encode_into(&self, out: &mut Vec<u8>) -> Result<(), CodecError> {
        let start = out.len();
        out.push(super::TAG_STR);
        serde_json::to_writer(&mut *out, &self.0).map_err(|e| {
            out.truncate(start);
            CodecError::Unencodable {
                type_name: std::any::type_name::<T>(),
                reason: e.to_string(),
            }
        })
    }
}

#[cfg(feature = "serde")]
impl<T: serde::de::DeserializeOwned> Decode for Json<T> {
    fn decode(bytes: &[u8]) -> Result<Self, CodecError> {
        match decode_ref(bytes)? {
            ValueRef::Str(s) => {
                serde_json::from_str(s)
                    .map(Json)
                    .map_err(|e| CodecError::Invalid {
                        expected: std::any::type_name::<T>(),
                        reason: format!("not its JSON: {e}"),
                    })
            }
            other => Err(wrong("JSON text (str)", &other)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::{LANG_PYTHON_PICKLE, TAG_BIG_INT, TAG_INT, decode, encode};
    use proptest::prelude::*;

    fn round_trip<T: Codec + PartialEq + std::fmt::Debug>(v: T) {
        let bytes = v.encode().unwrap();
        assert_eq!(T::decode(&bytes).unwrap(), v, "value {bytes:?}");
        let key = v.encode_key().unwrap();
        assert_eq!(T::decode_key(&key).unwrap(), v, "key {key:?}");
    }

    #[test]
    fn integers_take_python_s_one_form() {
        assert_eq!(5u8.encode().unwrap(), encode(&Value::Int(5)));
        assert_eq!((-5i8).encode().unwrap(), encode(&Value::Int(-5)));
        assert_eq!(i64::MIN.encode().unwrap(), encode(&Value::Int(i64::MIN)));
        // 2^63 is one byte past i64: 8 bytes and a zero sign byte, as int.to_bytes writes it.
        let two63 = (1u64 << 63).encode().unwrap();
        assert_eq!(two63, [TAG_BIG_INT, 0, 0, 0, 0, 0, 0, 0, 0x80, 0]);
        assert_eq!(((1i128 << 63) as u64).encode().unwrap(), two63);
        assert_eq!((1i128 << 63).encode().unwrap(), two63);
        assert_eq!((1u128 << 63).encode().unwrap(), two63);
        let min = i128::MIN.encode().unwrap();
        assert_eq!(min[0], TAG_BIG_INT);
        assert_eq!(min.len(), 17);
        let max = u128::MAX.encode().unwrap();
        assert_eq!(max.len(), 18);
        assert_eq!(u128::decode(&max).unwrap(), u128::MAX);
        assert_eq!(
            i128::decode(&max),
            Err(CodecError::OutOfRange { expected: "i128" })
        );
        // A redundant (non-canonical) big int still reads as its number.
        assert_eq!(i32::decode(&[TAG_BIG_INT, 7, 0, 0]).unwrap(), 7);
    }

    #[test]
    fn integers_refuse_what_they_cannot_hold() {
        assert_eq!(
            u8::decode(&300i64.encode().unwrap()),
            Err(CodecError::OutOfRange { expected: "u8" })
        );
        assert_eq!(
            u64::decode(&(-1i64).encode().unwrap()),
            Err(CodecError::OutOfRange { expected: "u64" })
        );
        assert_eq!(
            i64::decode(&1.0f64.encode().unwrap()),
            Err(CodecError::WrongType {
                expected: "i64",
                found: "float"
            })
        );
        assert_eq!(
            i64::decode(&true.encode().unwrap()),
            Err(CodecError::WrongType {
                expected: "i64",
                found: "bool"
            })
        );
        assert!(matches!(
            i64::decode(&[TAG_INT, 1]),
            Err(CodecError::Malformed(_))
        ));
    }

    #[test]
    fn floats_read_exact_ints_only() {
        assert_eq!(f64::decode(&3i64.encode().unwrap()).unwrap(), 3.0);
        assert_eq!(
            f64::decode(&(1i128 << 100).encode().unwrap()).unwrap(),
            2f64.powi(100)
        );
        assert_eq!(
            f64::decode(&((1i64 << 53) + 1).encode().unwrap()),
            Err(CodecError::OutOfRange { expected: "f64" })
        );
        assert_eq!(
            f64::decode(&i64::MAX.encode().unwrap()),
            Err(CodecError::OutOfRange { expected: "f64" })
        );
        assert_eq!(f32::decode(&0.5f64.encode().unwrap()).unwrap(), 0.5);
        assert_eq!(
            f32::decode(&0.1f64.encode().unwrap()),
            Err(CodecError::OutOfRange { expected: "f32" })
        );
        assert!(f32::decode(&f64::NAN.encode().unwrap()).unwrap().is_nan());
    }

    #[test]
    fn keys_follow_dict_equality() {
        let one = 1i64.encode().unwrap();
        assert_eq!(true.encode_key().unwrap(), one);
        assert_eq!(1.0f64.encode_key().unwrap(), one);
        assert_eq!(1.0f32.encode_key().unwrap(), one);
        assert_eq!((-0.0f64).encode_key().unwrap(), 0i64.encode().unwrap());
        assert_eq!(
            2f64.powi(70).encode_key().unwrap(),
            (1i128 << 70).encode().unwrap()
        );
        assert_eq!(Value::Bool(true).encode_key().unwrap(), one);
        assert_eq!(Value::Float(1.0).encode_key().unwrap(), one);
        assert_eq!(Some(1.0f64).encode_key().unwrap(), one);
        assert_eq!(
            decode(&0.5f64.encode_key().unwrap()).unwrap(),
            Value::Float(0.5)
        );
        assert_eq!(
            decode(&f64::INFINITY.encode_key().unwrap()).unwrap(),
            Value::Float(f64::INFINITY)
        );
        // Values keep their type.
        assert_eq!(decode(&true.encode().unwrap()).unwrap(), Value::Bool(true));
        assert_eq!(
            decode(&1.0f64.encode().unwrap()).unwrap(),
            Value::Float(1.0)
        );
        assert!(bool::decode_key(&one).unwrap());
        assert!(bool::decode(&one).is_err());
        assert_eq!(
            bool::decode_key(&2i64.encode().unwrap()),
            Err(CodecError::OutOfRange { expected: "bool" })
        );
    }

    #[test]
    fn text_bytes_null_and_values() {
        assert_eq!("hé".encode().unwrap(), encode(&Value::Str("hé".into())));
        assert_eq!("hé".to_string().encode().unwrap(), "hé".encode().unwrap());
        assert_eq!(
            b"\x00\xff"[..].encode().unwrap(),
            encode(&Value::Bytes(vec![0, 255]))
        );
        assert_eq!(None::<i64>.encode().unwrap(), encode(&Value::Null));
        assert_eq!(Option::<i64>::decode(&encode(&Value::Null)).unwrap(), None);
        assert_eq!(
            Option::<i64>::decode(&encode(&Value::Int(3))).unwrap(),
            Some(3)
        );
        assert!(String::decode(&b"x"[..].encode().unwrap()).is_err());
        assert!(Vec::<u8>::decode(&"x".encode().unwrap()).is_err());
        assert_eq!(().encode().unwrap(), encode(&Value::Null));
        let pickle = encode(&Value::Foreign {
            lang: LANG_PYTHON_PICKLE,
            data: vec![0x80, 5],
        });
        assert_eq!(
            Value::decode(&pickle).unwrap(),
            super::super::decode(&pickle).unwrap()
        );
        assert_eq!(
            <(i64, i64)>::decode(&pickle),
            Err(CodecError::WrongType {
                expected: "tuple",
                found: "Python pickle"
            })
        );
    }

    #[test]
    fn tuples_are_length_prefixed_elements() {
        let bytes = (1u8, "ab").encode().unwrap();
        let mut want = vec![TAG_FOREIGN, LANG_RUST_TUPLE, 9];
        want.extend(1u8.encode().unwrap());
        want.push(3);
        want.extend("ab".encode().unwrap());
        assert_eq!(bytes, want);
        // Keys of tuples take their elements' key forms.
        assert_eq!(
            (1.0f64, true).encode_key().unwrap(),
            (1i64, 1i64).encode().unwrap()
        );
        // More or fewer elements than the type: refused.
        assert!(<(u8,)>::decode(&bytes).is_err());
        assert!(<(u8, String, u8)>::decode(&bytes).is_err());
        // A long length prefix (and a non-minimal one) is refused, never a panic.
        assert!(<(u8,)>::decode(&[TAG_FOREIGN, LANG_RUST_TUPLE, 0xff, 0xff, 0x7f]).is_err());
        assert!(<(u8,)>::decode(&[TAG_FOREIGN, LANG_RUST_TUPLE, 0x89, 0x00]).is_err());
        let mut nested = Vec::new();
        ((1u8, 2u8), "x").encode_into(&mut nested).unwrap();
        assert_eq!(
            <((u8, u8), String)>::decode(&nested).unwrap(),
            ((1, 2), "x".to_string())
        );
    }

    #[test]
    fn leb128_round_trips() {
        for n in [0, 1, 127, 128, 300, u32::MAX as u64, u64::MAX] {
            let mut out = Vec::new();
            push_leb128(n, &mut out);
            let mut s = &out[..];
            assert_eq!(take_leb128(&mut s), Some(n));
            assert!(s.is_empty());
        }
        assert_eq!(take_leb128(&mut &[0x80u8; 11][..]), None);
        assert_eq!(
            take_leb128(&mut &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02][..]),
            None
        );
    }

    #[cfg(feature = "serde")]
    #[test]
    fn json_is_a_str_of_json() {
        #[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
        struct Point {
            x: i32,
            label: String,
        }
        let p = Json(Point {
            x: -3,
            label: "é".into(),
        });
        let bytes = p.encode().unwrap();
        assert_eq!(
            decode(&bytes).unwrap(),
            Value::Str(r#"{"x":-3,"label":"é"}"#.into())
        );
        assert_eq!(Json::<Point>::decode(&bytes).unwrap(), p);
        assert!(matches!(
            Json::<Point>::decode(&"not json".encode().unwrap()),
            Err(CodecError::Invalid { .. })
        ));
        assert!(matches!(
            Json::<Point>::decode(&3i64.encode().unwrap()),
            Err(CodecError::WrongType { .. })
        ));
        // A map with non-string keys has no JSON: an error, and nothing left in the buffer.
        let mut out = vec![1];
        let bad = Json(std::collections::BTreeMap::from([((1, 2), 3)]));
        assert!(matches!(
            bad.encode_into(&mut out),
            Err(CodecError::Unencodable { .. })
        ));
        assert_eq!(out, [1]);
    }

    proptest! {
        #[test]
        fn every_integer_round_trips(a in any::<i8>(), b in any::<i16>(), c in any::<i32>(),
            d in any::<i64>(), e in any::<i128>(), f in any::<u8>(), g in any::<u16>(),
            h in any::<u32>(), i in any::<u64>(), j in any::<u128>()) {
            round_trip(a); round_trip(b); round_trip(c); round_trip(d); round_trip(e);
            round_trip(f); round_trip(g); round_trip(h); round_trip(i); round_trip(j);
            round_trip(d as isize); round_trip(i as usize);
        }

        #[test]
        fn integers_encode_as_the_core_s_canonical_int(e in any::<i128>(), j in any::<u128>()) {
            prop_assert_eq!(e.encode().unwrap(), int::encode_le(&e.to_le_bytes()));
            let mut wide = j.to_le_bytes().to_vec();
            wide.push(0);
            prop_assert_eq!(j.encode().unwrap(), int::encode_le(&wide));
            // Across types, equal numbers are equal bytes (so equal keys).
            prop_assert_eq!((e as i64).encode().unwrap(), i128::from(e as i64).encode().unwrap());
            prop_assert_eq!((j as u64).encode().unwrap(), u128::from(j as u64).encode().unwrap());
        }

        #[test]
        fn floats_round_trip(x in any::<f64>(), y in any::<f32>()) {
            let xb = x.encode().unwrap();
            let back = f64::decode(&xb).unwrap();
            prop_assert!(back.to_bits() == x.to_bits());
            let back = f32::decode(&y.encode().unwrap()).unwrap();
            prop_assert!(back.to_bits() == y.to_bits() || (y.is_nan() && back.is_nan()));
            // Keys: the same number back (the sign of a zero is lost, as in a dict).
            let k = f64::decode_key(&x.encode_key().unwrap()).unwrap();
            prop_assert!(k == x || (x.is_nan() && k.is_nan()));
            let k = f32::decode_key(&y.encode_key().unwrap()).unwrap();
            prop_assert!(k == y || (y.is_nan() && k.is_nan()));
        }

        #[test]
        fn integral_float_keys_equal_int_keys(i in -(1i64 << 53)..(1i64 << 53), shift in 0u32..900) {
            prop_assert_eq!((i as f64).encode_key().unwrap(), i.encode().unwrap());
            let big = 2f64.powi(shift as i32);
            let f = f64::decode_key(&big.encode_key().unwrap()).unwrap();
            prop_assert_eq!(f, big);
        }

        #[test]
        fn text_bytes_options_tuples_round_trip(s in ".*", b in proptest::collection::vec(any::<u8>(), 0..64),
            o in proptest::option::of(any::<i64>()), flag in any::<bool>(), f in any::<f64>()) {
            round_trip(s.clone());
            round_trip(b.clone());
            round_trip(o);
            round_trip(flag);
            round_trip(());
            round_trip((s.clone(),));
            round_trip((s.clone(), b.clone(), o, flag));
            round_trip((1u8, 2i16, 3u32, (s.clone(), 4i64), b.clone(), Some(flag)));
            if !f.is_nan() && f != 0.0 {
                round_trip((f, s.clone()));
            }
            prop_assert_eq!(String::decode(&s.as_str().encode().unwrap()).unwrap(), s);
            prop_assert_eq!(Vec::<u8>::decode(&b.as_slice().encode().unwrap()).unwrap(), b);
        }

        #[test]
        fn values_round_trip(v in any_value()) {
            let bytes = v.encode().unwrap();
            prop_assert_eq!(bytes.clone(), encode(&v));
            let back = Value::decode(&bytes).unwrap();
            // Big ints come back in their canonical form.
            prop_assert_eq!(encode(&back), bytes);
        }

        #[test]
        fn decoding_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..40)) {
            let _ = i64::decode(&bytes);
            let _ = u128::decode(&bytes);
            let _ = f32::decode_key(&bytes);
            let _ = bool::decode_key(&bytes);
            let _ = String::decode(&bytes);
            let _ = Option::<Vec<u8>>::decode(&bytes);
            let _ = <(u8, String, (i64, f64))>::decode(&bytes);
            let _ = Value::decode(&bytes);
        }
    }

    #[cfg(feature = "serde")]
    proptest! {
        #[test]
        fn json_round_trips(s in ".*", n in any::<i64>(), v in proptest::collection::vec(any::<u32>(), 0..8)) {
            let j = Json((s, n, v));
            prop_assert_eq!(Json::decode(&j.encode().unwrap()).unwrap(), j);
        }
    }

    fn any_value() -> impl Strategy<Value = Value> {
        prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::Int),
            any::<f64>().prop_map(Value::Float),
            proptest::collection::vec(any::<u8>(), 0..16).prop_map(Value::Bytes),
            ".*".prop_map(Value::Str),
            any::<i128>().prop_map(|i| Value::BigInt(i.to_le_bytes().to_vec())),
        ]
    }
}
