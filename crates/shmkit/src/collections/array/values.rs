//! One element's bytes as typed field values, and back: the knowledge of what the bytes of
//! an [`ElementType`] mean, so front ends (the CLI, C, tools) only format values, never
//! byte orders, float widths or string padding.
//!
//! Invariants:
//! - [`decode_element`] never fails on the bytes themselves: any bit pattern of a field is a
//!   value (a bool byte other than 0 is true; a UCS-4 field holding a code point that is not
//!   a Unicode scalar value, and a 16-byte `g` float, are [`FieldValue::Raw`] bytes).
//! - [`encode_element`] either returns the whole element's bytes or an [`ElementValueError`]
//!   that names the field and says what is wrong (a wrong number of values or fields, a value
//!   of the wrong type, an integer out of the field's range, a finite float beyond the
//!   field's width, a string longer than the field, a sub-array list of the wrong length).
//!   Padding bytes are zero.
//! - Decoding what was encoded gives the values back, up to the field's precision (a float
//!   rounded to 2 or 4 bytes, round to nearest even; byte strings lose trailing NULs).
//!
//! Field values: `?` is [`FieldValue::Bool`]; signed integers [`FieldValue::Int`], unsigned
//! [`FieldValue::UInt`] (either is accepted for any integer field when in range); floats of
//! 2, 4 and 8 bytes [`FieldValue::Float`] (integers are accepted); complex numbers
//! [`FieldValue::Complex`] (a float or an integer is accepted as a real number); byte strings
//! (`s`, `c`) [`FieldValue::Bytes`] without the trailing NUL padding (text is accepted as its
//! UTF-8 bytes); UCS-4 strings (`w`) [`FieldValue::Str`]; 16-byte floats (x87 extended,
//! which no Rust type holds) [`FieldValue::Raw`], written back only as raw bytes of their
//! size; a sub-array field is a [`FieldValue::List`], nested one level per dimension (as
//! NumPy's `tolist`).
//!
//! ```
//! use shmkit::collections::array::dtype::ElementType;
//! use shmkit::collections::array::values::{FieldValue, decode_element, encode_element};
//! let ty = ElementType::parse("T{<d:x:<I:id:4s:tag:}").unwrap();
//! let bytes = encode_element(
//!     &ty,
//!     &[FieldValue::Float(1.5), FieldValue::Int(7), FieldValue::from("ab")],
//! )
//! .unwrap();
//! assert_eq!(bytes.len(), 16);
//! let fields = decode_element(&ty, &bytes).unwrap();
//! assert_eq!(fields[1], (Some("id".to_string()), FieldValue::UInt(7)));
//! assert_eq!(fields[2].1, FieldValue::Bytes(b"ab".to_vec()));
//! // Out of range for a 4-byte unsigned field: an error naming the field.
//! let e = encode_element(
//!     &ty,
//!     &[FieldValue::Float(0.0), FieldValue::Int(-1), FieldValue::from("")],
//! )
//! .unwrap_err();
//! assert!(e.to_string().contains("\"id\""), "{e}");
//! ```

use super::dtype::{ElementType, Field, Scalar, ScalarKind};

/// The value of one field (or of one scalar of a sub-array field).
#[derive(Clone, Debug, PartialEq)]
pub enum FieldValue {
    /// A `?` field.
    Bool(bool),
    /// A signed integer field (1, 2, 4 or 8 bytes).
    Int(i64),
    /// An unsigned integer field.
    UInt(u64),
    /// A float field of 2, 4 or 8 bytes, widened to `f64` (exactly).
    Float(f64),
    /// A complex field: real and imaginary parts, widened to `f64`.
    Complex(f64, f64),
    /// A byte string field (`s`, `c`) without its trailing NUL padding.
    Bytes(Vec<u8>),
    /// A UCS-4 string field (`w`) without its trailing NUL padding.
    Str(String),
    /// Bytes with no other representation: a 16-byte float (or complex of two), a UCS-4
    /// field holding something that is not text.
    Raw(Vec<u8>),
    /// A sub-array field: one list per dimension, scalars at the innermost level.
    List(Vec<FieldValue>),
}

impl From<&str> for FieldValue {
    fn from(s: &str) -> FieldValue {
        FieldValue::Str(s.to_string())
    }
}

impl FieldValue {
    /// A word for the value's type, for error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            FieldValue::Bool(_) => "bool",
            FieldValue::Int(_) | FieldValue::UInt(_) => "int",
            FieldValue::Float(_) => "float",
            FieldValue::Complex(..) => "complex",
            FieldValue::Bytes(_) => "bytes",
            FieldValue::Str(_) => "str",
            FieldValue::Raw(_) => "raw bytes",
            FieldValue::List(_) => "list",
        }
    }
}

/// Why values could not be encoded as an element. `field` is the field's name, or
/// `"the element"` for a plain scalar element; an item of a sub-array is `name[i][j]`.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ElementValueError {
    /// Not one value per field.
    #[error("{given} values for an element of {expected} fields")]
    FieldCount {
        /// Fields of the element.
        expected: usize,
        /// Values given.
        given: usize,
    },
    /// A named value for a field the element does not have.
    #[error("the element has no field {name:?} (its fields: {known})")]
    UnknownField {
        /// The name given.
        name: String,
        /// The element's field names, comma-separated.
        known: String,
    },
    /// A field without a value.
    #[error("no value for field {0:?}")]
    MissingField(String),
    /// A field given twice.
    #[error("two values for field {0:?}")]
    DuplicateField(String),
    /// A value of a type the field cannot hold.
    #[error("{field}: a {given} value for a field of {expected}")]
    WrongType {
        /// The field.
        field: String,
        /// What the field holds (`4-byte unsigned int`, ...).
        expected: String,
        /// The value's type.
        given: &'static str,
    },
    /// A number outside what the field can hold.
    #[error("{field}: {value} is outside the range of a {expected} ({range})")]
    OutOfRange {
        /// The field.
        field: String,
        /// The value.
        value: String,
        /// What the field holds.
        expected: String,
        /// Its range.
        range: String,
    },
    /// A string longer than the field.
    #[error("{field}: a string of {len} {unit} is longer than the field's {max}")]
    TooLong {
        /// The field.
        field: String,
        /// The string's length.
        len: usize,
        /// Its capacity.
        max: u64,
        /// `bytes` or `characters`.
        unit: &'static str,
    },
    /// A sub-array list of another length than the field's dimension.
    #[error("{field}: a list of {given} items where the sub-array has {expected}")]
    ListLength {
        /// The field (or item of it).
        field: String,
        /// The dimension.
        expected: u64,
        /// Items given.
        given: usize,
    },
    /// Bytes of another length than the element's item size (decoding).
    #[error("{given} bytes for an element of {expected} bytes")]
    ByteLength {
        /// The element's item size.
        expected: u64,
        /// Bytes given.
        given: usize,
    },
}

/// The name errors use for `field`.
fn label(field: &Field) -> String {
    match &field.name {
        Some(n) => format!("field {n:?}"),
        None => "the element".to_string(),
    }
}

/// What a scalar holds, in words (`4-byte unsigned int`, `big-endian 8-byte float`).
pub fn describe(scalar: &Scalar) -> String {
    let order = if scalar.big_endian { "big-endian " } else { "" };
    let size = scalar.size;
    match scalar.kind {
        ScalarKind::Bool => "bool".into(),
        ScalarKind::Int => format!("{order}{size}-byte int"),
        ScalarKind::UInt => format!("{order}{size}-byte unsigned int"),
        ScalarKind::Float => format!("{order}{size}-byte float"),
        ScalarKind::Complex => format!("{order}{size}-byte complex"),
        ScalarKind::Bytes => format!("{size}-byte string"),
        ScalarKind::Ucs4 => format!("{order}{}-character UCS-4 string", size / 4),
        ScalarKind::Void => format!("{size} opaque bytes"),
    }
}

/// The values of the element in `bytes` (exactly one element), field by field in format
/// order, each with its name (`None` for a plain scalar element).
pub fn decode_element(
    ty: &ElementType,
    bytes: &[u8],
) -> Result<Vec<(Option<String>, FieldValue)>, ElementValueError> {
    if bytes.len() as u64 != ty.itemsize() {
        return Err(ElementValueError::ByteLength {
            expected: ty.itemsize(),
            given: bytes.len(),
        });
    }
    Ok(ty
        .fields()
        .iter()
        .map(|f| {
            let start = f.offset as usize;
            let field_bytes = &bytes[start..start + f.len() as usize];
            (
                f.name.clone(),
                decode_shaped(&f.scalar, &f.shape, field_bytes),
            )
        })
        .collect())
}

/// The bytes of an element holding `values`, one per field in format order (padding zero).
pub fn encode_element(
    ty: &ElementType,
    values: &[FieldValue],
) -> Result<Vec<u8>, ElementValueError> {
    if values.len() != ty.fields().len() {
        return Err(ElementValueError::FieldCount {
            expected: ty.fields().len(),
            given: values.len(),
        });
    }
    let mut out = vec![0u8; ty.itemsize() as usize];
    for (field, value) in ty.fields().iter().zip(values) {
        let start = field.offset as usize;
        let end = start + field.len() as usize;
        encode_shaped(
            &label(field),
            &field.scalar,
            &field.shape,
            value,
            &mut out[start..end],
        )?;
    }
    Ok(out)
}

/// [`encode_element`] with the values named: every field exactly once, by its name (a plain
/// scalar element has no named field: use [`encode_element`]).
pub fn encode_named<S: AsRef<str>>(
    ty: &ElementType,
    values: impl IntoIterator<Item = (S, FieldValue)>,
) -> Result<Vec<u8>, ElementValueError> {
    let fields = ty.fields();
    let mut ordered: Vec<Option<FieldValue>> = vec![None; fields.len()];
    for (name, value) in values {
        let name = name.as_ref();
        let Some(i) = fields.iter().position(|f| f.name.as_deref() == Some(name)) else {
            return Err(ElementValueError::UnknownField {
                name: name.to_string(),
                known: field_names(ty),
            });
        };
        if ordered[i].replace(value).is_some() {
            return Err(ElementValueError::DuplicateField(name.to_string()));
        }
    }
    let mut complete = Vec::with_capacity(fields.len());
    for (field, value) in fields.iter().zip(ordered) {
        match value {
            Some(v) => complete.push(v),
            None => {
                return Err(ElementValueError::MissingField(
                    field.name.clone().unwrap_or_default(),
                ));
            }
        }
    }
    encode_element(ty, &complete)
}

fn field_names(ty: &ElementType) -> String {
    let names: Vec<&str> = ty
        .fields()
        .iter()
        .filter_map(|f| f.name.as_deref())
        .collect();
    if names.is_empty() {
        "none: a plain scalar".into()
    } else {
        names.join(", ")
    }
}

fn decode_shaped(scalar: &Scalar, shape: &[u64], bytes: &[u8]) -> FieldValue {
    match shape.split_first() {
        None => decode_scalar(scalar, bytes),
        Some((&n, inner)) => {
            let per = bytes.len().checked_div(n as usize).unwrap_or(0);
            FieldValue::List(
                (0..n as usize)
                    .map(|i| decode_shaped(scalar, inner, &bytes[i * per..(i + 1) * per]))
                    .collect(),
            )
        }
    }
}

fn encode_shaped(
    field: &str,
    scalar: &Scalar,
    shape: &[u64],
    value: &FieldValue,
    out: &mut [u8],
) -> Result<(), ElementValueError> {
    let Some((&n, inner)) = shape.split_first() else {
        return encode_scalar(field, scalar, value, out);
    };
    let FieldValue::List(items) = value else {
        return Err(ElementValueError::WrongType {
            field: field.to_string(),
            expected: format!("a sub-array of {}", describe(scalar)),
            given: value.type_name(),
        });
    };
    if items.len() as u64 != n {
        return Err(ElementValueError::ListLength {
            field: field.to_string(),
            expected: n,
            given: items.len(),
        });
    }
    let per = out.len().checked_div(n as usize).unwrap_or(0);
    for (i, (item, chunk)) in items.iter().zip(out.chunks_mut(per.max(1))).enumerate() {
        encode_shaped(&format!("{field}[{i}]"), scalar, inner, item, chunk)?;
    }
    Ok(())
}

/// `N` bytes of `bytes` in the scalar's byte order, as little-endian.
fn le<const N: usize>(bytes: &[u8], big_endian: bool) -> [u8; N] {
    let mut a = [0u8; N];
    a.copy_from_slice(&bytes[..N]);
    if big_endian {
        a.reverse();
    }
    a
}

/// Stores little-endian `a` into `out` in the scalar's byte order.
fn put(out: &mut [u8], mut a: Vec<u8>, big_endian: bool) {
    if big_endian {
        a.reverse();
    }
    out[..a.len()].copy_from_slice(&a);
}

fn decode_float(bytes: &[u8], big_endian: bool) -> Option<f64> {
    match bytes.len() {
        2 => Some(f16_to_f64(u16::from_le_bytes(le(bytes, big_endian)))),
        4 => Some(f64::from(f32::from_le_bytes(le(bytes, big_endian)))),
        8 => Some(f64::from_le_bytes(le(bytes, big_endian))),
        _ => None,
    }
}

fn decode_scalar(scalar: &Scalar, bytes: &[u8]) -> FieldValue {
    let be = scalar.big_endian;
    match scalar.kind {
        ScalarKind::Bool => FieldValue::Bool(bytes[0] != 0),
        ScalarKind::Int => {
            let mut a = [0u8; 8];
            let n = bytes.len();
            let src = le::<8>(&pad8(bytes, be), be);
            a[..n].copy_from_slice(&src[..n]);
            // Sign-extend from the top bit of the field.
            let fill = if a[n - 1] & 0x80 != 0 { 0xff } else { 0 };
            a[n..].fill(fill);
            FieldValue::Int(i64::from_le_bytes(a))
        }
        ScalarKind::UInt => {
            let n = bytes.len();
            let src = le::<8>(&pad8(bytes, be), be);
            let mut a = [0u8; 8];
            a[..n].copy_from_slice(&src[..n]);
            FieldValue::UInt(u64::from_le_bytes(a))
        }
        ScalarKind::Float => match decode_float(bytes, be) {
            Some(f) => FieldValue::Float(f),
            None => FieldValue::Raw(bytes.to_vec()),
        },
        ScalarKind::Complex => {
            let half = bytes.len() / 2;
            match (
                decode_float(&bytes[..half], be),
                decode_float(&bytes[half..], be),
            ) {
                (Some(re), Some(im)) => FieldValue::Complex(re, im),
                _ => FieldValue::Raw(bytes.to_vec()),
            }
        }
        ScalarKind::Bytes => {
            let end = bytes.iter().rposition(|b| *b != 0).map_or(0, |i| i + 1);
            FieldValue::Bytes(bytes[..end].to_vec())
        }
        ScalarKind::Ucs4 => {
            let mut chars: Vec<u32> = bytes
                .chunks_exact(4)
                .map(|c| u32::from_le_bytes(le(c, be)))
                .collect();
            while chars.last() == Some(&0) {
                chars.pop();
            }
            match chars.iter().map(|c| char::from_u32(*c)).collect() {
                Some(text) => FieldValue::Str(text),
                None => FieldValue::Raw(bytes.to_vec()),
            }
        }
        // Named padding: bytes without a meaning.
        ScalarKind::Void => FieldValue::Raw(bytes.to_vec()),
    }
}

/// An integer field's bytes (1 to 8 of them) placed so that [`le`] reads them as the low
/// bytes of an 8-byte little-endian number.
fn pad8(bytes: &[u8], big_endian: bool) -> [u8; 8] {
    let mut a = [0u8; 8];
    let n = bytes.len().min(8);
    if big_endian {
        a[8 - n..].copy_from_slice(&bytes[..n]);
    } else {
        a[..n].copy_from_slice(&bytes[..n]);
    }
    a
}

fn encode_scalar(
    field: &str,
    scalar: &Scalar,
    value: &FieldValue,
    out: &mut [u8],
) -> Result<(), ElementValueError> {
    let be = scalar.big_endian;
    let wrong = || ElementValueError::WrongType {
        field: field.to_string(),
        expected: describe(scalar),
        given: value.type_name(),
    };
    match scalar.kind {
        // Named padding: written only as raw bytes of its size.
        ScalarKind::Void => match value {
            FieldValue::Raw(b) if b.len() == out.len() => out.copy_from_slice(b),
            _ => return Err(wrong()),
        },
        ScalarKind::Bool => match value {
            FieldValue::Bool(b) => out[0] = u8::from(*b),
            _ => return Err(wrong()),
        },
        ScalarKind::Int | ScalarKind::UInt => {
            let n: i128 = match value {
                FieldValue::Int(i) => i128::from(*i),
                FieldValue::UInt(u) => i128::from(*u),
                _ => return Err(wrong()),
            };
            let bits = scalar.size as u32 * 8;
            let (lo, hi) = if scalar.kind == ScalarKind::Int {
                (-(1i128 << (bits - 1)), (1i128 << (bits - 1)) - 1)
            } else {
                (0, (1i128 << bits) - 1)
            };
            if n < lo || n > hi {
                return Err(ElementValueError::OutOfRange {
                    field: field.to_string(),
                    value: n.to_string(),
                    expected: describe(scalar),
                    range: format!("{lo} to {hi}"),
                });
            }
            let size = scalar.size as usize;
            put(out, n.to_le_bytes()[..size].to_vec(), be);
        }
        ScalarKind::Float => {
            if scalar.size == 16 {
                return encode_raw(field, scalar, value, out);
            }
            let f = number(value).ok_or_else(wrong)?;
            put(out, float_bytes(field, scalar, scalar.size, f)?, be);
        }
        ScalarKind::Complex => {
            if scalar.size == 32 {
                return encode_raw(field, scalar, value, out);
            }
            let (re, im) = match value {
                FieldValue::Complex(re, im) => (*re, *im),
                v => (number(v).ok_or_else(wrong)?, 0.0),
            };
            let half = scalar.size / 2;
            let h = half as usize;
            put(&mut out[..h], float_bytes(field, scalar, half, re)?, be);
            put(&mut out[h..], float_bytes(field, scalar, half, im)?, be);
        }
        ScalarKind::Bytes => {
            let data: &[u8] = match value {
                FieldValue::Bytes(b) => b,
                FieldValue::Str(s) => s.as_bytes(),
                _ => return Err(wrong()),
            };
            if data.len() as u64 > scalar.size {
                return Err(ElementValueError::TooLong {
                    field: field.to_string(),
                    len: data.len(),
                    max: scalar.size,
                    unit: "bytes",
                });
            }
            out[..data.len()].copy_from_slice(data);
            out[data.len()..].fill(0);
        }
        ScalarKind::Ucs4 => {
            let FieldValue::Str(text) = value else {
                return Err(wrong());
            };
            let max = scalar.size / 4;
            let len = text.chars().count();
            if len as u64 > max {
                return Err(ElementValueError::TooLong {
                    field: field.to_string(),
                    len,
                    max,
                    unit: "characters",
                });
            }
            out.fill(0);
            for (c, slot) in text.chars().zip(out.chunks_exact_mut(4)) {
                put(slot, (c as u32).to_le_bytes().to_vec(), be);
            }
        }
    }
    Ok(())
}

/// A 16-byte float (or complex of two): only its raw bytes are accepted.
fn encode_raw(
    field: &str,
    scalar: &Scalar,
    value: &FieldValue,
    out: &mut [u8],
) -> Result<(), ElementValueError> {
    match value {
        FieldValue::Raw(b) if b.len() == out.len() => {
            out.copy_from_slice(b);
            Ok(())
        }
        _ => Err(ElementValueError::WrongType {
            field: field.to_string(),
            expected: format!(
                "{} (x87 extended precision: only raw bytes of its size are written)",
                describe(scalar)
            ),
            given: value.type_name(),
        }),
    }
}

/// A real number from a float or an integer (integers beyond 2^53 round).
fn number(value: &FieldValue) -> Option<f64> {
    match value {
        FieldValue::Float(f) => Some(*f),
        FieldValue::Int(i) => Some(*i as f64),
        FieldValue::UInt(u) => Some(*u as f64),
        _ => None,
    }
}

/// Little-endian bytes of `f` as a float of `size` bytes; a finite value beyond its range
/// is an error.
fn float_bytes(
    field: &str,
    scalar: &Scalar,
    size: u64,
    f: f64,
) -> Result<Vec<u8>, ElementValueError> {
    let (bytes, max) = match size {
        2 => (f64_to_f16(f).to_le_bytes().to_vec(), 65504.0),
        4 => ((f as f32).to_le_bytes().to_vec(), f64::from(f32::MAX)),
        _ => (f.to_le_bytes().to_vec(), f64::MAX),
    };
    let back = decode_float(&bytes, false).unwrap_or(f64::NAN);
    if f.is_finite() && back.is_infinite() {
        return Err(ElementValueError::OutOfRange {
            field: field.to_string(),
            value: f.to_string(),
            expected: describe(scalar),
            range: format!("-{max} to {max}"),
        });
    }
    Ok(bytes)
}

/// An IEEE 754 binary16 as an `f64` (exact).
pub fn f16_to_f64(h: u16) -> f64 {
    let sign = if h & 0x8000 != 0 { -1.0 } else { 1.0 };
    let exp = i32::from((h >> 10) & 0x1f);
    let frac = f64::from(h & 0x3ff);
    let magnitude = match exp {
        0 => frac * 2f64.powi(-24),
        31 if frac == 0.0 => f64::INFINITY,
        31 => return f64::NAN.copysign(sign),
        e => (1.0 + frac / 1024.0) * 2f64.powi(e - 15),
    };
    sign * magnitude
}

/// The IEEE 754 binary16 nearest `f` (ties to even; beyond the largest finite half,
/// infinity; NaN stays NaN).
pub fn f64_to_f16(f: f64) -> u16 {
    let sign: u16 = if f.is_sign_negative() { 0x8000 } else { 0 };
    if f.is_nan() {
        return sign | 0x7e00;
    }
    let a = f.abs();
    // 65520 is halfway between the largest half (65504) and 65536: it and above round up.
    if a >= 65520.0 {
        return sign | 0x7c00;
    }
    if a < 2f64.powi(-14) {
        // Subnormal (or zero): a multiple of 2^-24. A result of 1024 is the smallest
        // normal, whose bits follow on.
        return sign | (a * 2f64.powi(24)).round_ties_even() as u16;
    }
    let e = ((a.to_bits() >> 52) as i32) - 1023;
    let mantissa = a / 2f64.powi(e) - 1.0;
    let frac = (mantissa * 1024.0).round_ties_even() as u16;
    // A fraction rounded up to 1024 carries into the exponent, as it should.
    sign | ((((e + 15) as u16) << 10) + frac)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ty(format: &str) -> ElementType {
        ElementType::parse(format).unwrap()
    }

    fn one(format: &str, value: FieldValue) -> Result<Vec<u8>, ElementValueError> {
        encode_element(&ty(format), &[value])
    }

    fn back(format: &str, value: FieldValue) -> FieldValue {
        let t = ty(format);
        let bytes = encode_element(&t, &[value]).unwrap();
        decode_element(&t, &bytes).unwrap().remove(0).1
    }

    #[test]
    fn integers_of_every_size_and_order() {
        assert_eq!(one("<h", FieldValue::Int(-2)).unwrap(), vec![0xfe, 0xff]);
        assert_eq!(one(">h", FieldValue::Int(-2)).unwrap(), vec![0xff, 0xfe]);
        assert_eq!(one(">I", FieldValue::UInt(1)).unwrap(), vec![0, 0, 0, 1]);
        assert_eq!(back(">i", FieldValue::Int(-5)), FieldValue::Int(-5));
        assert_eq!(back("b", FieldValue::Int(-128)), FieldValue::Int(-128));
        assert_eq!(back("B", FieldValue::Int(255)), FieldValue::UInt(255));
        assert_eq!(
            back(">Q", FieldValue::UInt(u64::MAX)),
            FieldValue::UInt(u64::MAX)
        );
        assert_eq!(
            back(">q", FieldValue::Int(i64::MIN)),
            FieldValue::Int(i64::MIN)
        );
        for (format, bad) in [
            ("b", FieldValue::Int(128)),
            ("b", FieldValue::Int(-129)),
            ("B", FieldValue::Int(-1)),
            ("H", FieldValue::Int(65536)),
            ("i", FieldValue::UInt(1 << 31)),
            ("q", FieldValue::UInt(u64::MAX)),
            ("Q", FieldValue::Int(-1)),
        ] {
            let e = one(format, bad.clone()).unwrap_err();
            assert!(
                matches!(e, ElementValueError::OutOfRange { .. }),
                "{format} {bad:?}: {e}"
            );
        }
        let e = one("B", FieldValue::Int(300)).unwrap_err().to_string();
        assert!(e.contains("300") && e.contains("0 to 255"), "{e}");
    }

    #[test]
    fn floats_of_two_four_and_eight_bytes() {
        assert_eq!(
            one("<d", FieldValue::Float(1.5)).unwrap(),
            1.5f64.to_le_bytes()
        );
        assert_eq!(
            one(">f", FieldValue::Float(1.5)).unwrap(),
            1.5f32.to_be_bytes()
        );
        assert_eq!(one("e", FieldValue::Float(1.0)).unwrap(), vec![0x00, 0x3c]);
        assert_eq!(one("e", FieldValue::Float(-2.0)).unwrap(), vec![0x00, 0xc0]);
        assert_eq!(
            one("e", FieldValue::Float(65504.0)).unwrap(),
            vec![0xff, 0x7b]
        );
        assert_eq!(
            back("e", FieldValue::Float(0.1)),
            FieldValue::Float(f16_to_f64(0x2e66))
        );
        assert_eq!(back("f", FieldValue::Int(3)), FieldValue::Float(3.0));
        assert_eq!(f16_to_f64(0x0001), 2f64.powi(-24));
        assert_eq!(f64_to_f16(2f64.powi(-24)), 0x0001);
        assert_eq!(f64_to_f16(2f64.powi(-25)), 0x0000, "a tie rounds to even");
        assert_eq!(f64_to_f16(f64::INFINITY), 0x7c00);
        assert!(f16_to_f64(f64_to_f16(f64::NAN)).is_nan());
        assert!(matches!(
            one("e", FieldValue::Float(70000.0)),
            Err(ElementValueError::OutOfRange { .. })
        ));
        assert!(matches!(
            one("f", FieldValue::Float(1e300)),
            Err(ElementValueError::OutOfRange { .. })
        ));
        // Infinity is a value, not an overflow.
        assert_eq!(
            back("f", FieldValue::Float(f64::NEG_INFINITY)),
            FieldValue::Float(f64::NEG_INFINITY)
        );
        assert!(matches!(
            one("d", FieldValue::from("1")),
            Err(ElementValueError::WrongType { .. })
        ));
    }

    #[test]
    fn f16_conversion_matches_every_half_exactly() {
        for h in 0..=u16::MAX {
            let f = f16_to_f64(h);
            if f.is_nan() {
                assert!(f16_to_f64(f64_to_f16(f)).is_nan());
            } else {
                assert_eq!(f64_to_f16(f), h, "{h:#x} = {f}");
            }
        }
    }

    #[test]
    fn complex_bool_and_strings() {
        assert_eq!(
            back("Zd", FieldValue::Complex(1.0, -2.0)),
            FieldValue::Complex(1.0, -2.0)
        );
        assert_eq!(
            back(">Zf", FieldValue::Float(0.5)),
            FieldValue::Complex(0.5, 0.0)
        );
        assert_eq!(
            one(">Zf", FieldValue::Complex(1.0, 2.0)).unwrap()[..4],
            1.0f32.to_be_bytes()
        );
        assert_eq!(back("?", FieldValue::Bool(true)), FieldValue::Bool(true));
        assert!(one("?", FieldValue::Int(1)).is_err());
        assert_eq!(
            back("5s", FieldValue::from("ab")),
            FieldValue::Bytes(b"ab".to_vec())
        );
        assert_eq!(
            one("4s", FieldValue::Bytes(b"a\0b".to_vec())).unwrap(),
            b"a\0b\0"
        );
        assert_eq!(
            back("c", FieldValue::Bytes(b"x".to_vec())),
            FieldValue::Bytes(b"x".to_vec())
        );
        let e = one("3s", FieldValue::from("abcd")).unwrap_err();
        assert!(
            matches!(e, ElementValueError::TooLong { len: 4, max: 3, .. }),
            "{e}"
        );
        assert_eq!(back("3w", FieldValue::from("é€")), FieldValue::from("é€"));
        assert_eq!(
            one(">2w", FieldValue::from("A")).unwrap(),
            vec![0, 0, 0, 0x41, 0, 0, 0, 0]
        );
        assert!(matches!(
            one("2w", FieldValue::from("abc")),
            Err(ElementValueError::TooLong { len: 3, max: 2, .. })
        ));
        assert!(one("2w", FieldValue::Bytes(b"a".to_vec())).is_err());
        // A UCS-4 field holding a surrogate is not text: its bytes.
        let t = ty("w");
        let fields = decode_element(&t, &0xd800u32.to_le_bytes()).unwrap();
        assert_eq!(
            fields[0].1,
            FieldValue::Raw(0xd800u32.to_le_bytes().to_vec())
        );
    }

    #[test]
    fn long_doubles_are_raw_bytes() {
        let t = ty("g");
        let raw: Vec<u8> = (0..16).collect();
        let v = decode_element(&t, &raw).unwrap().remove(0).1;
        assert_eq!(v, FieldValue::Raw(raw.clone()));
        assert_eq!(encode_element(&t, &[v]).unwrap(), raw);
        let e = encode_element(&t, &[FieldValue::Float(1.0)]).unwrap_err();
        assert!(e.to_string().contains("x87"), "{e}");
        assert!(encode_element(&t, &[FieldValue::Raw(vec![0; 8])]).is_err());
    }

    #[test]
    fn structures_sub_arrays_and_named_values() {
        let t = ty("T{<d:x:(2,2)<h:m:@B:flag:}");
        let m = FieldValue::List(vec![
            FieldValue::List(vec![FieldValue::Int(1), FieldValue::Int(2)]),
            FieldValue::List(vec![FieldValue::Int(-3), FieldValue::Int(4)]),
        ]);
        let values = [FieldValue::Float(2.5), m.clone(), FieldValue::UInt(1)];
        let bytes = encode_element(&t, &values).unwrap();
        assert_eq!(bytes.len() as u64, t.itemsize());
        let decoded = decode_element(&t, &bytes).unwrap();
        let names: Vec<_> = decoded.iter().map(|(n, _)| n.clone().unwrap()).collect();
        assert_eq!(names, ["x", "m", "flag"]);
        assert_eq!(decoded[1].1, m);
        let named = encode_named(
            &t,
            [
                ("flag", FieldValue::UInt(1)),
                ("m", m.clone()),
                ("x", FieldValue::Float(2.5)),
            ],
        )
        .unwrap();
        assert_eq!(named, bytes);

        let short = FieldValue::List(vec![FieldValue::List(vec![FieldValue::Int(1)])]);
        let e =
            encode_element(&t, &[FieldValue::Float(0.0), short, FieldValue::UInt(0)]).unwrap_err();
        assert!(
            matches!(
                e,
                ElementValueError::ListLength {
                    expected: 2,
                    given: 1,
                    ..
                }
            ),
            "{e}"
        );
        let e = encode_element(&t, &[FieldValue::Float(0.0)]).unwrap_err();
        assert_eq!(
            e,
            ElementValueError::FieldCount {
                expected: 3,
                given: 1
            }
        );
        let bad_item = FieldValue::List(vec![
            FieldValue::List(vec![FieldValue::Int(1), FieldValue::Int(2)]),
            FieldValue::List(vec![FieldValue::Int(1), FieldValue::Int(1 << 20)]),
        ]);
        let e = encode_element(&t, &[FieldValue::Float(0.0), bad_item, FieldValue::UInt(0)])
            .unwrap_err();
        assert!(e.to_string().contains("field \"m\"[1][1]"), "{e}");
        assert!(matches!(
            encode_named(&t, [("x", FieldValue::Float(0.0))]),
            Err(ElementValueError::MissingField(f)) if f == "m"
        ));
        assert!(matches!(
            encode_named(&t, [("y", FieldValue::Float(0.0))]),
            Err(ElementValueError::UnknownField { .. })
        ));
        assert!(matches!(
            encode_named(
                &t,
                [("x", FieldValue::Float(0.0)), ("x", FieldValue::Float(0.0))]
            ),
            Err(ElementValueError::DuplicateField(_))
        ));
        assert!(matches!(
            decode_element(&t, &bytes[1..]),
            Err(ElementValueError::ByteLength { .. })
        ));
    }

    #[test]
    fn numpy_aligned_record_places_fields_as_numpy_does() {
        // np.dtype([("x","<f8"),("y","<f8"),("id","<u4"),("flag","u1")], align=True)
        let t = ty("T{<d:x:<d:y:<I:id:B:flag:3x}");
        assert_eq!(t.itemsize(), 24);
        let bytes = encode_named(
            &t,
            [
                ("x", FieldValue::Float(1.0)),
                ("y", FieldValue::Float(-1.0)),
                ("id", FieldValue::Int(9)),
                ("flag", FieldValue::Int(1)),
            ],
        )
        .unwrap();
        assert_eq!(&bytes[16..20], &9u32.to_le_bytes());
        assert_eq!(bytes[20], 1);
        assert_eq!(&bytes[21..], &[0, 0, 0], "padding is zero");
    }

    /// A value any scalar of `scalar` holds exactly, from random bits.
    fn value_for(scalar: &Scalar, bits: u64, text: &str) -> FieldValue {
        match scalar.kind {
            ScalarKind::Bool => FieldValue::Bool(bits & 1 == 1),
            ScalarKind::Int => {
                let shift = 64 - scalar.size * 8;
                FieldValue::Int(((bits << shift) as i64) >> shift)
            }
            ScalarKind::UInt => FieldValue::UInt(bits >> (64 - scalar.size * 8)),
            ScalarKind::Float => match scalar.size {
                2 => FieldValue::Float(f16_to_f64(bits as u16)),
                4 => FieldValue::Float(f64::from(f32::from_bits(bits as u32))),
                8 => FieldValue::Float(f64::from_bits(bits)),
                _ => FieldValue::Raw(bits.to_le_bytes().repeat(2)),
            },
            ScalarKind::Complex => {
                let h = f64::from(f32::from_bits(bits as u32));
                let l = f64::from(f32::from_bits((bits >> 32) as u32));
                FieldValue::Complex(h, l)
            }
            ScalarKind::Bytes => {
                let b: Vec<u8> = text.bytes().take(scalar.size as usize).collect();
                let end = b.iter().rposition(|c| *c != 0).map_or(0, |i| i + 1);
                FieldValue::Bytes(b[..end].to_vec())
            }
            ScalarKind::Ucs4 => FieldValue::Str(
                text.chars()
                    .take((scalar.size / 4) as usize)
                    .collect::<String>()
                    .trim_end_matches('\0')
                    .to_string(),
            ),
            ScalarKind::Void => FieldValue::Raw(
                bits.to_le_bytes()
                    .iter()
                    .copied()
                    .cycle()
                    .take(scalar.size as usize)
                    .collect(),
            ),
        }
    }

    fn same(a: &FieldValue, b: &FieldValue) -> bool {
        match (a, b) {
            (FieldValue::Float(x), FieldValue::Float(y)) => {
                x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan())
            }
            (FieldValue::Complex(a, b), FieldValue::Complex(c, d)) => {
                same(&FieldValue::Float(*a), &FieldValue::Float(*c))
                    && same(&FieldValue::Float(*b), &FieldValue::Float(*d))
            }
            (FieldValue::List(x), FieldValue::List(y)) => {
                x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b))
            }
            _ => a == b,
        }
    }

    fn shaped(
        scalar: &Scalar,
        shape: &[u64],
        bits: &mut impl Iterator<Item = u64>,
        text: &str,
    ) -> FieldValue {
        match shape.split_first() {
            None => value_for(scalar, bits.next().unwrap_or(0), text),
            Some((&n, inner)) => {
                FieldValue::List((0..n).map(|_| shaped(scalar, inner, bits, text)).collect())
            }
        }
    }

    const FORMATS: &[&str] = &[
        "?",
        "b",
        "B",
        "<h",
        ">H",
        "<i",
        ">I",
        "<q",
        ">Q",
        "e",
        ">e",
        "<f",
        ">f",
        "<d",
        ">d",
        "Zf",
        ">Zf",
        "Zd",
        "g",
        "c",
        "7s",
        "3w",
        ">2w",
        "T{<d:x:<d:y:<I:id:B:flag:3x}",
        "T{(2,3)>h:m:@?:ok:Zf:z:5s:name:2w:u:}",
        "T{T{=f:x:f:y:}:p:@H:id:(2)>q:v:}",
    ];

    proptest! {
        #[test]
        fn encoding_then_decoding_gives_the_values_back(
            which in 0..FORMATS.len(),
            bits in proptest::collection::vec(any::<u64>(), 16),
            text in "[a-zA-Z0-9é€\u{10348}]{0,8}",
        ) {
            let t = ty(FORMATS[which]);
            let mut bits = bits.into_iter().cycle();
            let values: Vec<FieldValue> = t
                .fields()
                .iter()
                .map(|f| shaped(&f.scalar, &f.shape, &mut bits, &text))
                .collect();
            let bytes = encode_element(&t, &values).unwrap();
            prop_assert_eq!(bytes.len() as u64, t.itemsize());
            let decoded = decode_element(&t, &bytes).unwrap();
            for ((name, got), (field, want)) in decoded.iter().zip(t.fields().iter().zip(&values)) {
                prop_assert_eq!(name, &field.name);
                prop_assert!(same(got, want), "{:?}: {:?} != {:?}", name, got, want);
            }
            // And the bytes are a fixed point: decoding any element and encoding it again
            // gives the same bytes back (NaN payloads of floats aside).
            let again = encode_element(&t, &decoded.into_iter().map(|(_, v)| v).collect::<Vec<_>>()).unwrap();
            prop_assert_eq!(again, bytes);
        }

        #[test]
        fn any_bytes_decode_and_integers_reencode_exactly(
            which in 0..FORMATS.len(),
            seed in proptest::collection::vec(any::<u8>(), 64),
        ) {
            let t = ty(FORMATS[which]);
            let bytes: Vec<u8> = seed.iter().cycle().take(t.itemsize() as usize).copied().collect();
            let decoded = decode_element(&t, &bytes).unwrap();
            prop_assert_eq!(decoded.len(), t.fields().len());
            let ints_only = t.fields().iter().all(|f| matches!(f.scalar.kind, ScalarKind::Int | ScalarKind::UInt));
            if ints_only && t.fields().iter().map(|f| f.len()).sum::<u64>() == t.itemsize() {
                let values: Vec<FieldValue> = decoded.into_iter().map(|(_, v)| v).collect();
                prop_assert_eq!(encode_element(&t, &values).unwrap(), bytes);
            }
        }
    }
}
