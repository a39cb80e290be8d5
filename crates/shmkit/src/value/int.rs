//! Integers of any size in the shared value encoding: the one canonical form, and the
//! two's complement arithmetic every front end (Python, C, the CLI) uses instead of its own.
//!
//! A number here is two's complement bytes of any length, little-endian unless a function
//! says otherwise; the empty slice is 0, and redundant sign bytes are allowed on input.
//!
//! Invariants of what this module writes:
//! - an integer that fits in i64 is always [`TAG_INT`] with 8 bytes, never [`TAG_BIG_INT`];
//! - a [`TAG_BIG_INT`] payload is minimal (no redundant sign byte), so longer than 8 bytes;
//! - so every integer has exactly one encoding, and equal integers are equal keys.
//!
//! ```
//! use shmkit::value::{decode, Value, TAG_BIG_INT, TAG_INT};
//! use shmkit::value::int::{add, encode_be_into, encode_le_into, to_i64};
//!
//! // -1 + 1 = 0, minimal.
//! assert_eq!(add(&[0xff], &[0x01]), vec![0x00]);
//! // i64::MAX + 1 no longer fits: it becomes a big int.
//! let sum = add(&i64::MAX.to_le_bytes(), &[1]);
//! assert_eq!(to_i64(&sum), None);
//! let mut out = Vec::new();
//! encode_le_into(&sum, &mut out);
//! assert_eq!(out[0], TAG_BIG_INT);
//! // Padded input still gets the one canonical form.
//! out.clear();
//! encode_be_into(&[0xff, 0xff, 0xff, 0xfe], &mut out);
//! assert_eq!(decode(&out).unwrap(), Value::Int(-2));
//! assert_eq!(out[0], TAG_INT);
//! ```

use super::{TAG_BIG_INT, TAG_INT};

/// The sign extension byte of a two's complement number (`0xff` if negative, else `0`).
fn sign_byte(n: &[u8]) -> u8 {
    match n.last() {
        Some(&b) if b & 0x80 != 0 => 0xff,
        _ => 0x00,
    }
}

/// Length of `n` without its redundant high sign bytes (at least 1 for a non-empty `n`).
pub fn minimal_len(n: &[u8]) -> usize {
    let mut len = n.len();
    while len > 1 {
        let last = n[len - 1];
        let next_high_bit = n[len - 2] & 0x80;
        if (last == 0x00 && next_high_bit == 0) || (last == 0xff && next_high_bit != 0) {
            len -= 1;
        } else {
            break;
        }
    }
    len
}

/// Removes redundant sign bytes from the number in `buf[start..]`, keeping at least one.
pub fn trim(buf: &mut Vec<u8>, start: usize) {
    let len = minimal_len(&buf[start.min(buf.len())..]);
    buf.truncate(start + len);
}

/// `a + b`, exact (the result is one byte longer than the longer input at most); minimal.
pub fn add(a: &[u8], b: &[u8]) -> Vec<u8> {
    let len = a.len().max(b.len()) + 1;
    let (sa, sb) = (sign_byte(a), sign_byte(b));
    let mut out = Vec::with_capacity(len);
    let mut carry = 0u16;
    for i in 0..len {
        let x = u16::from(*a.get(i).unwrap_or(&sa));
        let y = u16::from(*b.get(i).unwrap_or(&sb));
        let s = x + y + carry;
        out.push(s as u8);
        carry = s >> 8;
    }
    trim(&mut out, 0);
    out
}

/// The value of `n` as an i64, if it fits.
pub fn to_i64(n: &[u8]) -> Option<i64> {
    let n = &n[..minimal_len(n)];
    if n.len() > 8 {
        return None;
    }
    let mut bytes = [sign_byte(n); 8];
    bytes[..n.len()].copy_from_slice(n);
    Some(i64::from_le_bytes(bytes))
}

/// The nearest f64 to `n` (ties to even, as Python's `float(int)` and Rust's `as f64`
/// round), or `None` if it rounds beyond the largest finite f64.
pub fn to_f64(n: &[u8]) -> Option<f64> {
    if let Some(i) = to_i64(n) {
        return Some(i as f64);
    }
    let negative = sign_byte(n) == 0xff;
    // The magnitude, little-endian: two's complement negation (invert, add one).
    let mut magnitude: Vec<u8> = if negative {
        let inverted: Vec<u8> = n.iter().map(|b| !b).collect();
        add(&inverted, &[1])
    } else {
        n.to_vec()
    };
    while magnitude.last() == Some(&0) {
        magnitude.pop();
    }
    let top = *magnitude.last()?;
    let bits = (magnitude.len() as u64 - 1) * 8 + u64::from(8 - top.leading_zeros());
    if bits > 1024 {
        return None;
    }
    // The highest 64 bits, with every bit below them folded into the lowest one (a sticky
    // bit): 64 bits hold the 53 kept, the rounding bit and 10 more, so the one rounding of
    // `as f64` sees exactly what it would see on the full number.
    let shift = bits - 64;
    let bit = |i: u64| (magnitude[(i / 8) as usize] >> (i % 8)) & 1;
    let mut high = 0u64;
    for i in (shift..bits).rev() {
        high = high << 1 | u64::from(bit(i));
    }
    let sticky = (0..shift).any(|i| bit(i) != 0);
    high |= u64::from(sticky);
    // 2^shift, exact: shift <= 960 here.
    let scale = f64::from_bits((shift + 1023) << 52);
    let f = high as f64 * scale;
    if !f.is_finite() {
        return None;
    }
    Some(if negative { -f } else { f })
}

/// The integer an integral, finite `f` equals, as minimal two's complement bytes; `None`
/// for a fraction, an infinity or NaN.
pub fn from_integral_f64(f: f64) -> Option<Vec<u8>> {
    if !f.is_finite() || f.fract() != 0.0 {
        return None;
    }
    const TWO_POW_63: f64 = 9_223_372_036_854_775_808.0;
    if (-TWO_POW_63..TWO_POW_63).contains(&f) {
        let mut out = (f as i64).to_le_bytes().to_vec();
        trim(&mut out, 0);
        return Some(out);
    }
    // |f| >= 2^63: f = mantissa * 2^exponent exactly, with exponent >= 11.
    let bits = f.to_bits();
    let exponent = ((bits >> 52) & 0x7ff) as u32 - 1075;
    let mantissa = (bits & ((1 << 52) - 1)) | (1 << 52);
    let (whole, bit) = ((exponent / 8) as usize, exponent % 8);
    let mut magnitude = vec![0u8; whole];
    // The mantissa shifted by the remaining bits, plus a zero byte for the sign.
    let shifted = u128::from(mantissa) << bit;
    magnitude.extend_from_slice(&shifted.to_le_bytes()[..9]);
    magnitude.push(0);
    let mut out = if f < 0.0 {
        let inverted: Vec<u8> = magnitude.iter().map(|b| !b).collect();
        add(&inverted, &[1])
    } else {
        magnitude
    };
    trim(&mut out, 0);
    Some(out)
}

/// Appends the canonical encoding of `i` ([`TAG_INT`]).
pub fn encode_i64_into(i: i64, out: &mut Vec<u8>) {
    out.push(TAG_INT);
    out.extend_from_slice(&i.to_le_bytes());
}

/// Appends the canonical encoding of the little-endian two's complement number `n`:
/// [`TAG_INT`] if it fits in i64, else [`TAG_BIG_INT`] with the minimal bytes.
pub fn encode_le_into(n: &[u8], out: &mut Vec<u8>) {
    match to_i64(n) {
        Some(i) => encode_i64_into(i, out),
        None => {
            out.push(TAG_BIG_INT);
            out.extend_from_slice(&n[..minimal_len(n)]);
        }
    }
}

/// [`encode_le_into`] for a big-endian number.
pub fn encode_be_into(n: &[u8], out: &mut Vec<u8>) {
    let le: Vec<u8> = n.iter().rev().copied().collect();
    encode_le_into(&le, out);
}

/// The canonical encoding of the little-endian number `n` (see [`encode_le_into`]).
pub fn encode_le(n: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(n.len().max(8) + 1);
    encode_le_into(n, &mut out);
    out
}

/// The number of an encoded integer ([`TAG_INT`] or [`TAG_BIG_INT`]) as little-endian two's
/// complement bytes; `None` for any other value.
pub fn decode_le(encoded: &[u8]) -> Option<&[u8]> {
    match encoded.split_first() {
        Some((&TAG_INT, payload)) if payload.len() == 8 => Some(payload),
        Some((&TAG_BIG_INT, payload)) if !payload.is_empty() => Some(payload),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn num(i: i128) -> Vec<u8> {
        let mut v = i.to_le_bytes().to_vec();
        trim(&mut v, 0);
        v
    }

    fn val(n: &[u8]) -> i128 {
        let mut b = [sign_byte(n); 16];
        b[..n.len()].copy_from_slice(n);
        i128::from_le_bytes(b)
    }

    #[test]
    fn adds_across_the_i64_boundary() {
        let cases = [
            (i64::MAX as i128, 1),
            (i64::MIN as i128, -1),
            (-1, 1),
            (0, 0),
            (255, 1),
            (-128, -1),
            (1 << 100, -(1 << 100)),
            ((1 << 90) + 7, -(1 << 89)),
        ];
        for (a, b) in cases {
            let sum = add(&num(a), &num(b));
            assert_eq!(val(&sum), a + b, "{a} + {b}");
            assert_eq!(sum, num(a + b), "minimal form of {a} + {b}");
        }
        assert_eq!(add(&[], &[]), vec![0]);
    }

    #[test]
    fn encodes_small_results_as_i64() {
        assert_eq!(
            encode_le(&num(5)),
            [&[TAG_INT][..], &5i64.to_le_bytes()].concat()
        );
        let big = encode_le(&num(i64::MAX as i128 + 1));
        assert_eq!(big[0], TAG_BIG_INT);
        assert_eq!(big.len(), 1 + 9);
        assert_eq!(to_i64(&num(-5)), Some(-5));
        // Redundant sign bytes do not make a big int.
        assert_eq!(
            encode_le(&[0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff])[0],
            TAG_INT
        );
        assert_eq!(
            decode_le(&encode_le(&num(1 << 80))),
            Some(&num(1 << 80)[..])
        );
    }

    #[test]
    fn converts_to_f64_like_python() {
        // 2^53 + 1 is a tie between 2^53 and 2^53 + 2: even wins.
        assert_eq!(to_f64(&num((1 << 53) + 1)), Some(9007199254740992.0));
        // 2^1024 overflows; the largest finite f64 as an integer does not.
        let mut two_pow_1024 = vec![0u8; 128];
        two_pow_1024.extend_from_slice(&[1, 0]);
        assert_eq!(to_f64(&two_pow_1024), None);
        let max = from_integral_f64(f64::MAX).unwrap();
        assert_eq!(to_f64(&max), Some(f64::MAX));
        let min = from_integral_f64(-f64::MAX).unwrap();
        assert_eq!(to_f64(&min), Some(-f64::MAX));
        // Just below 2^1024, rounding up to it: an overflow, as in Python.
        let almost: Vec<u8> = (0..128).map(|_| 0xff).chain([0]).collect();
        assert_eq!(to_f64(&almost), None);
    }

    #[test]
    fn integral_floats_become_ints() {
        assert_eq!(from_integral_f64(1.5), None);
        assert_eq!(from_integral_f64(f64::NAN), None);
        assert_eq!(from_integral_f64(-0.0), Some(vec![0]));
        assert_eq!(from_integral_f64(2f64.powi(63)), Some(num(1 << 63)));
        assert_eq!(from_integral_f64(-(2f64.powi(63))), Some(num(-(1 << 63))));
        assert_eq!(from_integral_f64(2f64.powi(100)), Some(num(1 << 100)));
        assert_eq!(
            from_integral_f64(-(2f64.powi(100)) * 3.0),
            Some(num(-3 << 100))
        );
    }

    proptest! {
        #[test]
        fn add_matches_i128(a in -(1i128 << 125)..(1i128 << 125), b in -(1i128 << 125)..(1i128 << 125)) {
            let sum = add(&num(a), &num(b));
            prop_assert_eq!(&sum, &num(a + b));
            // Padding an input changes nothing.
            let mut padded = num(a);
            padded.extend_from_slice(&[sign_byte(&padded); 3]);
            prop_assert_eq!(add(&padded, &num(b)), num(a + b));
        }

        #[test]
        fn canonical_encoding_matches_value(a in any::<i128>()) {
            let encoded = encode_le(&num(a));
            match i64::try_from(a) {
                Ok(i) => prop_assert_eq!(encoded, super::super::encode(&super::super::Value::Int(i))),
                Err(_) => {
                    prop_assert_eq!(encoded[0], TAG_BIG_INT);
                    prop_assert_eq!(&encoded[1..], &num(a)[..]);
                }
            }
            let mut be = num(a);
            be.reverse();
            let mut out = Vec::new();
            encode_be_into(&be, &mut out);
            prop_assert_eq!(out, encode_le(&num(a)));
        }

        #[test]
        fn to_f64_matches_i128_cast(a in any::<i128>()) {
            prop_assert_eq!(to_f64(&num(a)), Some(a as f64));
        }

        #[test]
        fn integral_floats_round_trip(m in any::<i64>(), e in 0i32..900) {
            let f = m as f64 * 2f64.powi(e);
            prop_assume!(f.is_finite());
            let n = from_integral_f64(f).unwrap();
            prop_assert_eq!(to_f64(&n), Some(f));
            prop_assert_eq!(n.len(), minimal_len(&n));
        }
    }
}
