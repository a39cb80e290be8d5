//! Keys, values and random numbers every section draws from, so a value read back tells
//! exactly which key and which write it came from.
//!
//! Keys are 16 bytes (`key:` and 12 decimal digits of the key index); the value of key `i`
//! in variant `v` is `size` bytes: `i` little-endian, then `v`, then a fill byte.
//!
//! ```
//! use shmkit_bench::data::{KEY_LEN, fill_value, key_of};
//! let mut k = [0u8; KEY_LEN];
//! key_of(42, &mut k);
//! assert_eq!(&k, b"key:000000000042");
//! let mut v = Vec::new();
//! fill_value(&mut v, 42, 1, 12);
//! assert_eq!(&v[..9], &[42, 0, 0, 0, 0, 0, 0, 0, 1]);
//! ```

/// Length of every key.
pub const KEY_LEN: usize = 16;

/// Writes the key of index `i`.
#[inline]
pub fn key_of(i: u64, out: &mut [u8; KEY_LEN]) {
    out[..4].copy_from_slice(b"key:");
    let mut n = i;
    for d in out[4..].iter_mut().rev() {
        *d = b'0' + (n % 10) as u8;
        n /= 10;
    }
}

/// Fills `buf` with the value of key `i` in `variant`.
#[inline]
pub fn fill_value(buf: &mut Vec<u8>, i: u64, variant: u8, size: usize) {
    buf.clear();
    buf.resize(size, (i as u8) ^ variant.wrapping_mul(0x5b) ^ 0xa5);
    let head = i.to_le_bytes();
    let n = size.min(8);
    buf[..n].copy_from_slice(&head[..n]);
    if size > 8 {
        buf[8] = variant;
    }
}

/// xorshift64*: a fast, good-enough generator for picking keys.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed (any value).
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// The next number.
    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number below `n` (> 0).
    #[inline]
    pub fn below(&mut self, n: u64) -> u64 {
        ((self.next_u64() as u128 * n as u128) >> 64) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_values_identify_themselves() {
        let mut k = [0u8; KEY_LEN];
        key_of(42, &mut k);
        assert_eq!(&k, b"key:000000000042");
        let mut v = Vec::new();
        fill_value(&mut v, 42, 1, 12);
        assert_eq!(&v[..9], &[42, 0, 0, 0, 0, 0, 0, 0, 1]);
        fill_value(&mut v, 42, 0, 3);
        assert_eq!(v, vec![42, 0, 0]);
    }

    #[test]
    fn below_stays_below() {
        let mut r = Rng::new(7);
        assert!((0..1000).all(|_| r.below(10) < 10));
    }
}
