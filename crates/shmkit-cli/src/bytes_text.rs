//! Bytes as text: base64 out (standard alphabet, padded, RFC 4648), hex in, and
//! two's-complement little-endian big integers as decimal.
//!
//! Invariants: the hex decoder rejects malformed input with a message instead of guessing.
//!
//! ```text
//! base64_encode(b"hi!") == "aGkh";  hex_decode("00ff") == [0, 255]
//! bigint_decimal(&[0, 0, 0, 0, 0, 0, 0, 0, 1]) == "18446744073709551616"
//! ```

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 with `=` padding.
pub fn base64_encode(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(B64[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Decodes hex (either case, even length).
pub fn hex_decode(text: &str) -> Result<Vec<u8>, String> {
    if text.len() % 2 != 0 {
        return Err(format!(
            "hex text has an odd number of digits ({})",
            text.len()
        ));
    }
    (0..text.len())
        .step_by(2)
        .map(|i| {
            text.get(i..i + 2)
                .and_then(|d| u8::from_str_radix(d, 16).ok())
                .ok_or_else(|| format!("{:?} is not hex", &text[i..]))
        })
        .collect()
}

/// A two's-complement little-endian integer of any length as decimal text.
pub fn bigint_decimal(le: &[u8]) -> String {
    if le.is_empty() {
        return "0".into();
    }
    let negative = le[le.len() - 1] & 0x80 != 0;
    // Magnitude, little-endian.
    let mut mag: Vec<u8> = le.to_vec();
    if negative {
        let mut carry = 1u16;
        for b in &mut mag {
            let v = (!*b) as u16 + carry;
            *b = v as u8;
            carry = v >> 8;
        }
    }
    // Repeated division by 10^9 of the big-endian magnitude.
    let mut be: Vec<u32> = mag.iter().rev().map(|&b| b as u32).collect();
    let mut groups = Vec::new();
    while be.iter().any(|&d| d != 0) {
        let mut rem = 0u64;
        for d in &mut be {
            let cur = rem << 8 | *d as u64;
            *d = (cur / 1_000_000_000) as u32;
            rem = cur % 1_000_000_000;
        }
        groups.push(rem as u32);
    }
    let mut out = String::new();
    if negative {
        out.push('-');
    }
    match groups.split_last() {
        None => out.push('0'),
        Some((first, rest)) => {
            out.push_str(&first.to_string());
            for g in rest.iter().rev() {
                out.push_str(&format!("{g:09}"));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648_vectors() {
        let vectors = [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ];
        for (plain, encoded) in vectors {
            assert_eq!(base64_encode(plain.as_bytes()), encoded);
        }
        assert_eq!(base64_encode(&[0xff, 0xfe]), "//4=");
    }

    #[test]
    fn hex_decodes_and_rejects() {
        assert_eq!(hex_decode("00FF10").unwrap(), vec![0, 255, 16]);
        assert!(hex_decode("abc").is_err());
        assert!(hex_decode("zz").is_err());
    }

    #[test]
    fn bigints_print_in_decimal() {
        assert_eq!(
            bigint_decimal(&[0, 0, 0, 0, 0, 0, 0, 0, 1]),
            "18446744073709551616"
        );
        assert_eq!(bigint_decimal(&[0xff; 9]), "-1");
        assert_eq!(
            bigint_decimal(&[0, 0, 0, 0, 0, 0, 0, 0, 0xff]),
            "-18446744073709551616"
        );
        assert_eq!(bigint_decimal(&[5]), "5");
        assert_eq!(bigint_decimal(&[0]), "0");
    }
}
