//! Adding a number to an encoded value: what an atomic `incr` of a typed value computes
//! inside the container's lock, where no front-end code may run. Python, C and the CLI all
//! call this, so a counter gives the same result whichever language bumps it.
//!
//! The rules are Python's (the language with the most demanding numbers):
//! - int + int is exact: a sum beyond i64 becomes a big int, one back in range an i64
//!   ([`super::int`] keeps every integer in its one canonical form);
//! - float + float, and int + float in either order, give a float: the int is rounded to
//!   the nearest f64 first (ties to even), and one too large for a float is
//!   [`AddError::FloatOverflow`] (Python's `OverflowError`);
//! - a missing value counts as 0, so the result is the addend itself (canonically encoded);
//! - any other stored type is [`AddError::NotANumber`], and the stored value stays as it was.
//!
//! ```
//! use shmkit::value::arith::{add_to, Addend};
//! use shmkit::value::{decode, encode, Value};
//!
//! let counter = encode(&Value::Int(i64::MAX));
//! let sum = add_to(Some(&counter), Addend::Int(&[1])).unwrap();
//! assert_eq!(decode(&sum).unwrap(), Value::BigInt(vec![0, 0, 0, 0, 0, 0, 0, 0x80, 0]));
//! let sum = add_to(Some(&sum), Addend::Int(&(-1i64).to_le_bytes())).unwrap();
//! assert_eq!(decode(&sum).unwrap(), Value::Int(i64::MAX));
//!
//! let half = add_to(None, Addend::Float(0.5)).unwrap();
//! let one_and_half = add_to(Some(&half), Addend::Int(&[1])).unwrap();
//! assert_eq!(decode(&one_and_half).unwrap(), Value::Float(1.5));
//! ```

use super::int;
use super::{TAG_BIG_INT, TAG_FLOAT, TAG_INT};

/// A number to add.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Addend<'a> {
    /// An integer: two's complement, little-endian, any length (empty is 0).
    Int(&'a [u8]),
    /// A float.
    Float(f64),
}

/// Why [`add_to`] computed nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AddError {
    /// The stored value is not a number (or not a well-formed one); `tag` is its type tag
    /// (`None` for an empty value).
    #[error("the value is not a number (tag {tag:?})")]
    NotANumber {
        /// The type tag of the stored value.
        tag: Option<u8>,
    },
    /// An int too large for a float was to be added to a float.
    #[error("int too large to convert to float")]
    FloatOverflow,
}

/// An encoded number, borrowed.
enum Number<'a> {
    Int(&'a [u8]),
    Float(f64),
}

fn number(encoded: &[u8]) -> Result<Number<'_>, AddError> {
    let tag = encoded.first().copied();
    if let Some(n) = int::decode_le(encoded) {
        return Ok(Number::Int(n));
    }
    match encoded.split_first() {
        Some((&TAG_FLOAT, payload)) => payload
            .try_into()
            .map(|b| Number::Float(f64::from_le_bytes(b)))
            .map_err(|_| AddError::NotANumber { tag }),
        _ => Err(AddError::NotANumber { tag }),
    }
}

fn float(f: f64) -> Vec<u8> {
    let mut out = Vec::with_capacity(9);
    out.push(TAG_FLOAT);
    out.extend_from_slice(&f.to_le_bytes());
    out
}

/// The encoded sum of the encoded value `current` (`None`: missing, counts as 0) and
/// `addend`, following the rules of the module documentation.
pub fn add_to(current: Option<&[u8]>, addend: Addend<'_>) -> Result<Vec<u8>, AddError> {
    let Some(current) = current else {
        return Ok(match addend {
            Addend::Int(d) => int::encode_le(d),
            Addend::Float(f) => float(f),
        });
    };
    let as_float = |n: &[u8]| int::to_f64(n).ok_or(AddError::FloatOverflow);
    match (number(current)?, addend) {
        (Number::Int(a), Addend::Int(b)) => {
            // The common case, an i64 counter and a small delta, without allocating twice.
            if let (Some(a), Some(b)) = (int::to_i64(a), int::to_i64(b))
                && let Some(sum) = a.checked_add(b)
            {
                let mut out = Vec::with_capacity(9);
                int::encode_i64_into(sum, &mut out);
                return Ok(out);
            }
            Ok(int::encode_le(&int::add(a, b)))
        }
        (Number::Int(a), Addend::Float(f)) => Ok(float(as_float(a)? + f)),
        (Number::Float(x), Addend::Int(b)) => Ok(float(x + as_float(b)?)),
        (Number::Float(x), Addend::Float(f)) => Ok(float(x + f)),
    }
}

/// True if `tag` is the tag of a number [`add_to`] adds to.
pub fn is_number_tag(tag: u8) -> bool {
    matches!(tag, TAG_INT | TAG_BIG_INT | TAG_FLOAT)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::{Value, decode, encode};
    use proptest::prelude::*;

    fn le(i: i128) -> Vec<u8> {
        i.to_le_bytes().to_vec()
    }

    #[test]
    fn int_sums_promote_and_demote() {
        let max = encode(&Value::Int(i64::MAX));
        let big = add_to(Some(&max), Addend::Int(&le(1))).unwrap();
        assert_eq!(big[0], TAG_BIG_INT);
        let back = add_to(Some(&big), Addend::Int(&le(-1))).unwrap();
        assert_eq!(back, max);
        let min = encode(&Value::Int(i64::MIN));
        assert_eq!(
            add_to(Some(&min), Addend::Int(&le(-1))).unwrap()[0],
            TAG_BIG_INT
        );
    }

    #[test]
    fn mixed_sums_are_floats() {
        let three = encode(&Value::Int(3));
        let sum = add_to(Some(&three), Addend::Float(0.25)).unwrap();
        assert_eq!(decode(&sum).unwrap(), Value::Float(3.25));
        let half = encode(&Value::Float(0.5));
        let big = le(1 << 100);
        let sum = add_to(Some(&half), Addend::Int(&big)).unwrap();
        assert_eq!(decode(&sum).unwrap(), Value::Float(2f64.powi(100) + 0.5));
        let huge: Vec<u8> = std::iter::repeat_n(0u8, 200).chain([1]).collect();
        assert_eq!(
            add_to(Some(&half), Addend::Int(&huge)),
            Err(AddError::FloatOverflow)
        );
        let stored_huge = int::encode_le(&huge);
        assert_eq!(
            add_to(Some(&stored_huge), Addend::Float(1.0)),
            Err(AddError::FloatOverflow)
        );
    }

    #[test]
    fn missing_is_zero_and_others_are_refused() {
        assert_eq!(
            add_to(None, Addend::Int(&[7, 0, 0])).unwrap(),
            encode(&Value::Int(7))
        );
        assert_eq!(
            add_to(None, Addend::Float(-0.0)).unwrap(),
            encode(&Value::Float(-0.0))
        );
        for v in [
            Value::Str("1".into()),
            Value::Null,
            Value::Bool(true),
            Value::Bytes(vec![1]),
        ] {
            let tag = encode(&v)[0];
            assert_eq!(
                add_to(Some(&encode(&v)), Addend::Int(&[1])),
                Err(AddError::NotANumber { tag: Some(tag) })
            );
        }
        assert_eq!(
            add_to(Some(&[]), Addend::Int(&[1])),
            Err(AddError::NotANumber { tag: None })
        );
        assert_eq!(
            add_to(Some(&[TAG_INT, 1]), Addend::Int(&[1])),
            Err(AddError::NotANumber { tag: Some(TAG_INT) })
        );
    }

    proptest! {
        #[test]
        fn int_sums_are_exact(a in any::<i64>(), b in any::<i64>()) {
            let sum = add_to(Some(&encode(&Value::Int(a))), Addend::Int(&b.to_le_bytes())).unwrap();
            let exact = i128::from(a) + i128::from(b);
            prop_assert_eq!(sum, int::encode_le(&le(exact)));
        }

        #[test]
        fn int_float_sums_round_like_python(a in any::<i128>(), f in any::<f64>()) {
            let stored = int::encode_le(&le(a));
            let sum = add_to(Some(&stored), Addend::Float(f)).unwrap();
            let expected = Value::Float(a as f64 + f);
            let got = decode(&sum).unwrap();
            match (got, expected) {
                (Value::Float(x), Value::Float(y)) => prop_assert!(x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan())),
                _ => prop_assert!(false),
            }
        }
    }
}
