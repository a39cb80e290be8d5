//! Integer arithmetic on the shared encoding, for `incr` running under a shard lock (where no
//! Python code may run): two's complement little-endian byte strings of any length.
//!
//! Invariants: results are minimal (no redundant sign byte); a result that fits in i64 is
//! encoded with `TAG_INT`, anything larger with `TAG_BIG_INT` (so it is > 8 bytes).
//!
//! ```ignore
//! assert_eq!(add(&[0xff], &[0x01]), vec![0x00]);        // -1 + 1 = 0
//! assert_eq!(encode_int(&i64::MAX.to_le_bytes())[0], TAG_INT);
//! ```

use shmkit::value::{TAG_BIG_INT, TAG_INT};

/// Removes redundant sign bytes from the two's complement number in `buf[start..]`, keeping
/// at least one byte.
pub fn trim(buf: &mut Vec<u8>, start: usize) {
    while buf.len() > start + 1 {
        let last = buf[buf.len() - 1];
        let next_high_bit = buf[buf.len() - 2] & 0x80;
        if (last == 0x00 && next_high_bit == 0) || (last == 0xff && next_high_bit != 0) {
            buf.pop();
        } else {
            break;
        }
    }
}

fn sign_byte(n: &[u8]) -> u8 {
    match n.last() {
        Some(&b) if b & 0x80 != 0 => 0xff,
        _ => 0x00,
    }
}

/// `a + b` for two's complement little-endian numbers (empty means 0); minimal result.
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

/// The i64 value of a two's complement number, if it fits.
pub fn to_i64(n: &[u8]) -> Option<i64> {
    if n.len() > 8 {
        return None;
    }
    let mut bytes = [sign_byte(n); 8];
    bytes[..n.len()].copy_from_slice(n);
    Some(i64::from_le_bytes(bytes))
}

/// The typed encoding of a two's complement number: `TAG_INT` if it fits in i64, else
/// `TAG_BIG_INT` with the minimal bytes.
pub fn encode_int(n: &[u8]) -> Vec<u8> {
    match to_i64(n) {
        Some(i) => {
            let mut out = Vec::with_capacity(9);
            out.push(TAG_INT);
            out.extend_from_slice(&i.to_le_bytes());
            out
        }
        None => {
            let mut out = Vec::with_capacity(n.len() + 1);
            out.push(TAG_BIG_INT);
            out.extend_from_slice(n);
            trim(&mut out, 1);
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    }

    #[test]
    fn encodes_small_results_as_i64() {
        assert_eq!(
            encode_int(&num(5)),
            [&[TAG_INT][..], &5i64.to_le_bytes()].concat()
        );
        let big = encode_int(&num(i64::MAX as i128 + 1));
        assert_eq!(big[0], TAG_BIG_INT);
        assert_eq!(big.len(), 1 + 9);
        assert_eq!(to_i64(&num(-5)), Some(-5));
    }
}
