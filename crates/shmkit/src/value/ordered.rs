//! Order-preserving keys: typed values (null, numbers, bytes, text, tuples of them) encoded
//! so that comparing the bytes (`memcmp`, `<` on `[u8]`) compares the values as Python
//! compares them. What a priority queue and an ordered map sort by (see `docs/FORMAT.md`,
//! "Ordered keys"). This is a different encoding from the value encoding of
//! [`super`], which is not ordered.
//!
//! Invariants:
//! - **order**: for keys `a` and `b`, `encode(a) < encode(b)` exactly when `a < b`, where
//!   the types rank null < numbers < bytes < str < tuple, numbers compare by value (ints of
//!   any size and floats in one exact order: `1 < 1.5 < 2`, `-inf` lowest, `+inf` then NaN
//!   highest), bytes bytewise, text by code point, tuples element by element with a tuple
//!   before its extensions;
//! - **equality**: equal values encode identically. An integral float is the int it equals
//!   (`2.0` and `2`, `-0.0` and `0`; a front end writes `bool` as the int 0 or 1), so it
//!   decodes as an int, as in the map keys' normalisation ([`super::codec`]); every NaN is
//!   one NaN;
//! - **self-delimiting**: an element's encoding ends where the decoder finds its end, so
//!   tuples concatenate their elements. No type byte is `0x00` (the tuple terminator) or
//!   `0xff` (what follows an escaped `0x00` in a string), so whatever follows an element is
//!   below `0xff`: where one element's encoding is a byte prefix of another's (`b""` and
//!   `b"\0"`, whose `0x00` is escaped as `0x00 0xff`), the longer one still sorts after
//!   anything the shorter can be followed by;
//! - **prefix scans**: [`OrderedKey::encode_prefix_into`] of a tuple, `P`, is a byte prefix
//!   of the encoding of every tuple that starts with its elements, and these are exactly the
//!   keys `k` with `P <= k < P ‖ 0xff` (the keys that start with `P` and whose next byte is
//!   not `0xff`, [`has_prefix`]: `(b"\0",)` starts with the bytes of `(b"",)`'s prefix, then
//!   `0xff`); the prefix of the strings (byte strings) that start with some text (bytes),
//!   [`encode_str_prefix_into`] ([`encode_bytes_prefix_into`]), is a byte prefix of exactly
//!   their keys;
//! - **strict decoding**: [`OrderedKey::decode`] accepts exactly what the encoder writes
//!   (anything else, truncated, with trailing bytes or in a form the encoder never writes,
//!   is an [`OrderedKeyError`]), never panics, and nests at most [`MAX_DEPTH`] tuples;
//! - ints have at most [`MAX_INT_BITS`] bits, so a short input never decodes into a huge
//!   number; both directions refuse larger ones.
//!
//! The borrowed encoders ([`encode_i64_into`], [`encode_f64_into`], [`encode_int_le_into`],
//! [`encode_bytes_into`], [`encode_str_into`], [`begin_tuple`] / [`end_tuple`], and the
//! string prefixes [`encode_str_prefix_into`], [`encode_bytes_prefix_into`]) write the same
//! bytes without building an [`OrderedKey`], for a front end that walks its own objects;
//! [`prefix_upper_bound_into`] turns a prefix into the end of the range of keys extending it.
//!
//! ```
//! use shmkit::value::ordered::{self, OrderedKey};
//!
//! let key = |k: OrderedKey| k.encode().unwrap();
//! // Numbers: one exact order across ints and floats.
//! assert!(key(OrderedKey::Int(-3)) < key(OrderedKey::Float(-2.5)));
//! assert!(key(OrderedKey::Float(1.5)) < key(OrderedKey::Int(2)));
//! assert_eq!(key(OrderedKey::Float(2.0)), key(OrderedKey::Int(2)));
//! // Tuples: element by element, a tuple before its extensions.
//! let task = |p: i64, name: &str| {
//!     OrderedKey::Tuple(vec![OrderedKey::Int(p), OrderedKey::Str(name.into())])
//! };
//! assert!(key(task(1, "b")) < key(task(2, "a")));
//! assert!(key(OrderedKey::Tuple(vec![OrderedKey::Int(1)])) < key(task(1, "")));
//! // A prefix: every (1, ...) key starts with it.
//! let mut prefix = Vec::new();
//! OrderedKey::Tuple(vec![OrderedKey::Int(1)]).encode_prefix_into(&mut prefix).unwrap();
//! assert!(key(task(1, "x")).starts_with(&prefix));
//! // The borrowed encoders write the same bytes.
//! let mut out = Vec::new();
//! ordered::begin_tuple(&mut out);
//! ordered::encode_i64_into(1, &mut out);
//! ordered::encode_str_into("x", &mut out);
//! ordered::end_tuple(&mut out);
//! assert_eq!(out, key(task(1, "x")));
//! // Decoding gives the canonical value back: an integral float is an int.
//! assert_eq!(OrderedKey::decode(&key(OrderedKey::Float(2.0))).unwrap(), OrderedKey::Int(2));
//! assert!(OrderedKey::decode(&out[..out.len() - 1]).is_err());
//! ```

use super::int;

/// Tuples nest at most this deep (a tuple directly in a tuple is depth 2); deeper ones are
/// refused by the encoder ([`OrderedKeyError::TooDeep`]) and the decoder.
pub const MAX_DEPTH: usize = 64;

/// Ints have at most this many bits (of magnitude, so `|n| < 2^MAX_INT_BITS`); larger ones
/// are refused by the encoder ([`OrderedKeyError::IntTooLarge`]) and the decoder. The limit
/// keeps a few bytes of input from decoding into a huge number.
pub const MAX_INT_BITS: u64 = 1 << 20;

/// Type byte of null.
pub const TYPE_NULL: u8 = 0x01;
/// Type byte of negative infinity.
pub const TYPE_NEG_INF: u8 = 0x10;
/// Type byte of a finite negative number (its magnitude follows, every byte inverted).
pub const TYPE_NEG: u8 = 0x11;
/// Type byte of zero (`0`, `0.0` and `-0.0`).
pub const TYPE_ZERO: u8 = 0x12;
/// Type byte of a finite positive number (its magnitude follows).
pub const TYPE_POS: u8 = 0x13;
/// Type byte of positive infinity.
pub const TYPE_POS_INF: u8 = 0x14;
/// Type byte of NaN (one NaN, sorting after `+inf`).
pub const TYPE_NAN: u8 = 0x15;
/// Type byte of a byte string (escaped bytes follow, then [`END`]).
pub const TYPE_BYTES: u8 = 0x20;
/// Type byte of a UTF-8 string (escaped bytes follow, then [`END`]).
pub const TYPE_STR: u8 = 0x21;
/// Type byte of a tuple (its elements follow, then [`END`]).
pub const TYPE_TUPLE: u8 = 0x30;
/// The terminator of a tuple, of a byte or text string and of a magnitude's fraction.
pub const END: u8 = 0x00;
/// Follows a `0x00` that belongs to a byte or text string (`0x00 0xff`).
const ESCAPE: u8 = 0xff;

/// Exponent bytes: `0x80 + h` for `h` in `-64..64`.
const EXP_SMALL_BIAS: i64 = 0x80;
/// Exponent `h >= 64`: byte `0xbf + n`, then `h - 64` in `n` big-endian bytes (minimal).
const EXP_LARGE: u8 = 0xbf;
/// Exponent `h < -64`: byte `0x40 - n`, then `-65 - h` in `n` big-endian bytes (minimal),
/// each inverted.
const EXP_TINY: u8 = 0x40;
/// The smallest exponent of a nonzero f64 (the lowest subnormal is 2^-1074).
const MIN_EXPONENT: i64 = -1074;

/// A value that can be an ordered key. Encodings compare as the values do (see the module
/// documentation); equality here is structural, with floats compared by their bits (so a
/// NaN equals itself, and `Float(2.0)` differs from `Int(2)` although both encode alike:
/// compare [`OrderedKey::canonical`] forms, which [`OrderedKey::decode`] returns).
#[derive(Clone, Debug)]
pub enum OrderedKey {
    /// null / None.
    Null,
    /// An integer that fits in 64 bits.
    Int(i64),
    /// An integer of any size (up to [`MAX_INT_BITS`]): two's complement, little-endian, as
    /// [`super::int`] holds them (redundant sign bytes allowed on input).
    BigInt(Vec<u8>),
    /// A float; an integral one encodes as the int it equals.
    Float(f64),
    /// Bytes.
    Bytes(Vec<u8>),
    /// Text.
    Str(String),
    /// A tuple of keys.
    Tuple(Vec<OrderedKey>),
}

impl PartialEq for OrderedKey {
    fn eq(&self, other: &Self) -> bool {
        use OrderedKey as K;
        match (self, other) {
            (K::Null, K::Null) => true,
            (K::Int(a), K::Int(b)) => a == b,
            (K::BigInt(a), K::BigInt(b)) => a == b,
            (K::Float(a), K::Float(b)) => a.to_bits() == b.to_bits(),
            (K::Bytes(a), K::Bytes(b)) => a == b,
            (K::Str(a), K::Str(b)) => a == b,
            (K::Tuple(a), K::Tuple(b)) => a == b,
            _ => false,
        }
    }
}

impl Eq for OrderedKey {}

/// Why a key could not be encoded, or bytes are not an encoded key.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OrderedKeyError {
    /// Encoding: tuples nested deeper than [`MAX_DEPTH`].
    #[error("tuples nested deeper than {MAX_DEPTH} levels cannot be an ordered key")]
    TooDeep,
    /// Encoding: an int with more than [`MAX_INT_BITS`] bits.
    #[error("an int of {bits} bits is too large for an ordered key (at most {MAX_INT_BITS})")]
    IntTooLarge {
        /// Its bit length.
        bits: u64,
    },
    /// Decoding: the bytes end inside a key (or are empty).
    #[error("ordered key truncated at byte {offset}")]
    Truncated {
        /// Where more bytes were needed (the input's length).
        offset: usize,
    },
    /// Decoding: bytes after a complete key.
    #[error("ordered key followed by trailing bytes at byte {offset}")]
    TrailingBytes {
        /// Where the trailing bytes start.
        offset: usize,
    },
    /// Decoding: a byte where an element must start that is no type byte.
    #[error("unknown ordered key type byte {byte:#04x} at byte {offset}")]
    UnknownType {
        /// Where.
        offset: usize,
        /// The byte.
        byte: u8,
    },
    /// Decoding: a form the encoder never writes (a number's redundant byte or fraction
    /// group, a fraction that no f64 holds, a number beyond [`MAX_INT_BITS`], tuples nested
    /// deeper than [`MAX_DEPTH`]).
    #[error("invalid ordered key at byte {offset}: {reason}")]
    Invalid {
        /// Where the element in question starts.
        offset: usize,
        /// What is wrong.
        reason: &'static str,
    },
    /// Decoding: a string that is not UTF-8.
    #[error("ordered key string at byte {offset} is not valid UTF-8")]
    BadUtf8 {
        /// Where the string's bytes start.
        offset: usize,
    },
}

// ---- encoding ----

/// Appends the encoding of null.
pub fn encode_null_into(out: &mut Vec<u8>) {
    out.push(TYPE_NULL);
}

/// Appends the encoding of the int `i` (a `bool` is the int 0 or 1).
pub fn encode_i64_into(i: i64, out: &mut Vec<u8>) {
    match i {
        0 => out.push(TYPE_ZERO),
        i => {
            out.push(if i < 0 { TYPE_NEG } else { TYPE_POS });
            let start = out.len();
            push_magnitude_u64(i.unsigned_abs(), 0, out);
            if i < 0 {
                invert(&mut out[start..]);
            }
        }
    }
}

/// Appends the encoding of the float `f`: an integral one as the int it equals (`-0.0` as
/// 0), infinities and NaN as their own type bytes, any other as its exact binary value.
pub fn encode_f64_into(f: f64, out: &mut Vec<u8>) {
    if f.is_nan() {
        return out.push(TYPE_NAN);
    }
    if f == 0.0 {
        return out.push(TYPE_ZERO);
    }
    if f.is_infinite() {
        return out.push(if f < 0.0 { TYPE_NEG_INF } else { TYPE_POS_INF });
    }
    let bits = f.to_bits();
    let biased = ((bits >> 52) & 0x7ff) as i64;
    let fraction = bits & ((1 << 52) - 1);
    // |f| = m * 2^e exactly.
    let (m, e) = if biased == 0 {
        (fraction, MIN_EXPONENT)
    } else {
        (fraction | (1 << 52), biased - 1075)
    };
    let negative = f < 0.0;
    out.push(if negative { TYPE_NEG } else { TYPE_POS });
    let start = out.len();
    push_magnitude_u64(m, e, out);
    if negative {
        invert(&mut out[start..]);
    }
}

/// Appends the encoding of the int `n`, two's complement little-endian of any length (the
/// empty slice is 0; redundant sign bytes are allowed), as [`super::int`] holds ints.
/// [`OrderedKeyError::IntTooLarge`] beyond [`MAX_INT_BITS`] bits (then `out` is unchanged).
pub fn encode_int_le_into(n: &[u8], out: &mut Vec<u8>) -> Result<(), OrderedKeyError> {
    let n = &n[..int::minimal_len(n)];
    if let Some(i) = int::to_i64(n) {
        encode_i64_into(i, out);
        return Ok(());
    }
    let negative = n.last().is_some_and(|b| b & 0x80 != 0);
    let mut magnitude = if negative {
        let inverted: Vec<u8> = n.iter().map(|b| !b).collect();
        int::add(&inverted, &[1])
    } else {
        n.to_vec()
    };
    while magnitude.last() == Some(&0) {
        magnitude.pop();
    }
    let bits = bit_len(&magnitude);
    if bits > MAX_INT_BITS {
        return Err(OrderedKeyError::IntTooLarge { bits });
    }
    out.push(if negative { TYPE_NEG } else { TYPE_POS });
    let start = out.len();
    push_magnitude_big(&magnitude, bits, out);
    if negative {
        invert(&mut out[start..]);
    }
    Ok(())
}

/// Appends the encoding of the byte string `b`.
pub fn encode_bytes_into(b: &[u8], out: &mut Vec<u8>) {
    out.push(TYPE_BYTES);
    push_escaped(b, out);
}

/// Appends the encoding of the string `s` (its UTF-8, whose byte order is code point order).
pub fn encode_str_into(s: &str, out: &mut Vec<u8>) {
    out.push(TYPE_STR);
    push_escaped(s.as_bytes(), out);
}

/// Appends the prefix of the byte strings that start with `b`: the encoding of `b` without
/// its terminator. The encoded keys that start with these bytes are exactly the byte
/// strings (not inside a tuple) that start with `b`, so a prefix scan of a sorted map over
/// them (every key from these bytes up to the next byte sequence they do not begin) lists
/// those strings in order. Unlike a tuple's prefix ([`has_prefix`]) a `0xff` may follow:
/// `b"a\xff"` starts with `b"a"`.
///
/// ```
/// use shmkit::value::ordered::{self, OrderedKey};
/// let key = |b: &[u8]| OrderedKey::Bytes(b.to_vec()).encode().unwrap();
/// let mut p = Vec::new();
/// ordered::encode_bytes_prefix_into(b"a\0", &mut p);
/// for extension in [&b"a\0"[..], b"a\0\0", b"a\0\xff", b"a\0z"] {
///     assert!(key(extension).starts_with(&p));
/// }
/// for other in [&b"a"[..], b"a\x01", b"b"] {
///     assert!(!key(other).starts_with(&p));
/// }
/// ```
pub fn encode_bytes_prefix_into(b: &[u8], out: &mut Vec<u8>) {
    out.push(TYPE_BYTES);
    push_escaped_unterminated(b, out);
}

/// Appends the prefix of the strings that start with `s` (as [`encode_bytes_prefix_into`]
/// does for byte strings): the encoded keys that start with these bytes are exactly the
/// strings (not inside a tuple) that start with `s`.
///
/// ```
/// use shmkit::value::ordered::{self, OrderedKey};
/// let key = |s: &str| OrderedKey::Str(s.into()).encode().unwrap();
/// let mut p = Vec::new();
/// ordered::encode_str_prefix_into("user:", &mut p);
/// for extension in ["user:", "user:ada", "user:\0", "user:\u{10ffff}"] {
///     assert!(key(extension).starts_with(&p));
/// }
/// for other in ["user", "users", "v"] {
///     assert!(!key(other).starts_with(&p));
/// }
/// // A tuple holding such a string is another type.
/// let tuple = OrderedKey::Tuple(vec![OrderedKey::Str("user:ada".into())]);
/// assert!(!tuple.encode().unwrap().starts_with(&p));
/// ```
pub fn encode_str_prefix_into(s: &str, out: &mut Vec<u8>) {
    out.push(TYPE_STR);
    push_escaped_unterminated(s.as_bytes(), out);
}

/// Whether `key` (an encoded key) extends the prefix `prefix`
/// ([`OrderedKey::encode_prefix_into`], or [`begin_tuple`] and elements): it starts with
/// `prefix` and the byte after it is not `0xff` (which would continue an escaped `0x00` of
/// the prefix's last string, not start another element). In byte order these keys are
/// exactly the range from `prefix` (inclusive) to `prefix ‖ 0xff` (exclusive).
pub fn has_prefix(key: &[u8], prefix: &[u8]) -> bool {
    key.starts_with(prefix) && key.get(prefix.len()) != Some(&ESCAPE)
}

/// Appends to a prefix `P` in `out` ([`OrderedKey::encode_prefix_into`], or [`begin_tuple`]
/// and elements) the byte that makes it `P ‖ 0xff`: the exclusive upper bound of the keys
/// that extend `P`, so a range scan or count of a sorted map from `P` (inclusive) to it
/// gives exactly the keys [`has_prefix`] accepts.
///
/// ```
/// use shmkit::value::ordered::{self, OrderedKey, has_prefix};
/// let mut start = Vec::new();
/// ordered::begin_tuple(&mut start);
/// ordered::encode_str_into("user", &mut start);
/// let mut end = start.clone();
/// ordered::prefix_upper_bound_into(&mut end);
/// let key = |items: Vec<OrderedKey>| OrderedKey::Tuple(items).encode().unwrap();
/// let user_7 = key(vec![OrderedKey::Str("user".into()), OrderedKey::Int(7)]);
/// let other = key(vec![OrderedKey::Str("user\0".into()), OrderedKey::Int(7)]);
/// assert!(start <= user_7 && user_7 < end && has_prefix(&user_7, &start));
/// // Starts with the same bytes, extends the str instead: outside the range.
/// assert!(other.starts_with(&start) && other >= end && !has_prefix(&other, &start));
/// ```
pub fn prefix_upper_bound_into(out: &mut Vec<u8>) {
    out.push(ESCAPE);
}

/// Starts a tuple: append its elements' encodings, then [`end_tuple`]. The bytes before
/// [`end_tuple`] are the tuple's prefix (see [`OrderedKey::encode_prefix_into`]). The caller
/// keeps the nesting within [`MAX_DEPTH`] (the decoder refuses deeper keys).
pub fn begin_tuple(out: &mut Vec<u8>) {
    out.push(TYPE_TUPLE);
}

/// Ends the tuple [`begin_tuple`] started.
pub fn end_tuple(out: &mut Vec<u8>) {
    out.push(END);
}

fn push_escaped(b: &[u8], out: &mut Vec<u8>) {
    out.reserve(b.len() + 1);
    push_escaped_unterminated(b, out);
    out.push(END);
}

/// The bytes of `b` with every `0x00` escaped as `0x00 0xff`, without the terminator.
fn push_escaped_unterminated(b: &[u8], out: &mut Vec<u8>) {
    let mut parts = b.split(|&x| x == 0);
    if let Some(first) = parts.next() {
        out.extend_from_slice(first);
    }
    for part in parts {
        out.extend_from_slice(&[0, ESCAPE]);
        out.extend_from_slice(part);
    }
}

fn invert(bytes: &mut [u8]) {
    for b in bytes {
        *b = !*b;
    }
}

/// Bit length of the unsigned little-endian `magnitude` whose top byte is nonzero.
fn bit_len(magnitude: &[u8]) -> u64 {
    match magnitude.last() {
        Some(&top) => (magnitude.len() as u64 - 1) * 8 + u64::from(8 - top.leading_zeros()),
        None => 0,
    }
}

/// Appends the exponent `h` (order-preserving, self-delimiting; see the constants).
fn push_exponent(h: i64, out: &mut Vec<u8>) {
    let be_len = |v: u64| (v.checked_ilog2().unwrap_or(0) / 8 + 1) as usize;
    if (-64..64).contains(&h) {
        out.push((EXP_SMALL_BIAS + h) as u8);
    } else if h >= 64 {
        let v = (h - 64) as u64;
        let n = be_len(v);
        out.push(EXP_LARGE + n as u8);
        out.extend_from_slice(&v.to_be_bytes()[8 - n..]);
    } else {
        let u = (-65 - h) as u64;
        let n = be_len(u);
        out.push(EXP_TINY - n as u8);
        out.extend(u.to_be_bytes()[8 - n..].iter().map(|b| !b));
    }
}

/// Appends the magnitude `m * 2^e` (`m > 0`): the exponent of its leading 1, the bits after
/// it in groups of 7 (`0x80 | group`, trailing zero bits dropped), then [`END`].
fn push_magnitude_u64(m: u64, e: i64, out: &mut Vec<u8>) {
    let top = 63 - m.leading_zeros();
    push_exponent(i64::from(top) + e, out);
    // The bits below the leading 1, left-aligned (shifting by 64 leaves none).
    let mut fraction = m.checked_shl(64 - top).unwrap_or(0);
    while fraction != 0 {
        out.push(0x80 | (fraction >> 57) as u8);
        fraction <<= 7;
    }
    out.push(END);
}

/// [`push_magnitude_u64`] for an int of `bits` bits, unsigned little-endian.
fn push_magnitude_big(magnitude: &[u8], bits: u64, out: &mut Vec<u8>) {
    let top = bits - 1;
    push_exponent(top as i64, out);
    let bit = |i: u64| (magnitude[(i / 8) as usize] >> (i % 8)) & 1;
    let lowest = (0..top).find(|&i| bit(i) == 1).unwrap_or(top);
    // Fraction bits top-1 down to `lowest`, 7 to a group, the last group padded with zeros.
    let mut next = top;
    while next > lowest {
        let mut group = 0u8;
        for _ in 0..7 {
            group <<= 1;
            if next > lowest {
                next -= 1;
                group |= bit(next);
            }
        }
        out.push(0x80 | group);
    }
    out.push(END);
}

impl OrderedKey {
    /// Appends the key's encoding to `out`. [`OrderedKeyError::TooDeep`] for tuples nested
    /// deeper than [`MAX_DEPTH`], [`OrderedKeyError::IntTooLarge`] for an int beyond
    /// [`MAX_INT_BITS`]; `out` is then as it was.
    pub fn encode_into(&self, out: &mut Vec<u8>) -> Result<(), OrderedKeyError> {
        let start = out.len();
        self.encode_at(0, true, out)
            .inspect_err(|_| out.truncate(start))
    }

    /// The ordered key of a typed value (`super::Value`), as Python's `PriorityQueue` keys
    /// the same object: `bool` is the int 0 or 1, a big int keeps its bytes; `None` for a
    /// language-specific value (a pickle), which has no order.
    pub fn of_value(value: &super::Value) -> Option<OrderedKey> {
        use super::Value as V;
        Some(match value {
            V::Null => OrderedKey::Null,
            V::Bool(b) => OrderedKey::Int(i64::from(*b)),
            V::Int(i) => OrderedKey::Int(*i),
            V::Float(f) => OrderedKey::Float(*f),
            V::Bytes(b) => OrderedKey::Bytes(b.clone()),
            V::Str(s) => OrderedKey::Str(s.clone()),
            V::BigInt(le) => OrderedKey::BigInt(le.clone()),
            V::Foreign { .. } => return None,
        })
    }

    /// The key's encoding.
    pub fn encode(&self) -> Result<Vec<u8>, OrderedKeyError> {
        let mut out = Vec::new();
        self.encode_into(&mut out)?;
        Ok(out)
    }

    /// Appends the key's prefix `P`: for a tuple, its encoding without the terminating
    /// [`END`], which begins the encoding of every tuple that starts with these elements (the
    /// tuple itself included); for any other key, its encoding. The keys that extend the
    /// tuple are exactly those from `P` (inclusive) to `P ‖ 0xff` (exclusive): see
    /// [`has_prefix`]. Errors as [`OrderedKey::encode_into`].
    pub fn encode_prefix_into(&self, out: &mut Vec<u8>) -> Result<(), OrderedKeyError> {
        let start = out.len();
        self.encode_at(0, false, out)
            .inspect_err(|_| out.truncate(start))
    }

    fn encode_at(
        &self,
        depth: usize,
        terminate: bool,
        out: &mut Vec<u8>,
    ) -> Result<(), OrderedKeyError> {
        match self {
            OrderedKey::Null => encode_null_into(out),
            OrderedKey::Int(i) => encode_i64_into(*i, out),
            OrderedKey::BigInt(n) => encode_int_le_into(n, out)?,
            OrderedKey::Float(f) => encode_f64_into(*f, out),
            OrderedKey::Bytes(b) => encode_bytes_into(b, out),
            OrderedKey::Str(s) => encode_str_into(s, out),
            OrderedKey::Tuple(items) => {
                if depth >= MAX_DEPTH {
                    return Err(OrderedKeyError::TooDeep);
                }
                begin_tuple(out);
                for item in items {
                    item.encode_at(depth + 1, true, out)?;
                }
                if terminate {
                    end_tuple(out);
                }
            }
        }
        Ok(())
    }

    /// The form [`OrderedKey::decode`] returns for this key's encoding: an integral float as
    /// the int it equals (`-0.0` as 0), every NaN as [`f64::NAN`], an int as [`OrderedKey::Int`]
    /// when it fits in i64 and as a minimal [`OrderedKey::BigInt`] otherwise. Two keys encode
    /// alike exactly when their canonical forms are equal.
    pub fn canonical(&self) -> OrderedKey {
        match self {
            OrderedKey::BigInt(n) => match int::to_i64(n) {
                Some(i) => OrderedKey::Int(i),
                None => OrderedKey::BigInt(n[..int::minimal_len(n)].to_vec()),
            },
            OrderedKey::Float(f) if f.is_nan() => OrderedKey::Float(f64::NAN),
            OrderedKey::Float(f) => match int::from_integral_f64(*f) {
                Some(n) => OrderedKey::BigInt(n).canonical(),
                None => OrderedKey::Float(*f),
            },
            OrderedKey::Tuple(items) => {
                OrderedKey::Tuple(items.iter().map(OrderedKey::canonical).collect())
            }
            other => other.clone(),
        }
    }

    /// Decodes one key occupying all of `bytes`, in its canonical form
    /// ([`OrderedKey::canonical`]). Accepts exactly the encoder's output: anything else is
    /// an error, never a panic.
    pub fn decode(bytes: &[u8]) -> Result<OrderedKey, OrderedKeyError> {
        let mut reader = Reader { bytes, pos: 0 };
        let key = reader.element(0)?;
        if reader.pos != bytes.len() {
            return Err(OrderedKeyError::TrailingBytes { offset: reader.pos });
        }
        Ok(key)
    }
}

// ---- decoding ----

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn byte(&mut self) -> Result<u8, OrderedKeyError> {
        let b = *self.bytes.get(self.pos).ok_or(OrderedKeyError::Truncated {
            offset: self.bytes.len(),
        })?;
        self.pos += 1;
        Ok(b)
    }

    /// One element starting at `pos`, inside `depth` tuples.
    fn element(&mut self, depth: usize) -> Result<OrderedKey, OrderedKeyError> {
        let offset = self.pos;
        Ok(match self.byte()? {
            TYPE_NULL => OrderedKey::Null,
            TYPE_NEG_INF => OrderedKey::Float(f64::NEG_INFINITY),
            TYPE_NEG => self.number(offset, true)?,
            TYPE_ZERO => OrderedKey::Int(0),
            TYPE_POS => self.number(offset, false)?,
            TYPE_POS_INF => OrderedKey::Float(f64::INFINITY),
            TYPE_NAN => OrderedKey::Float(f64::NAN),
            TYPE_BYTES => OrderedKey::Bytes(self.escaped()?),
            TYPE_STR => {
                let start = self.pos;
                String::from_utf8(self.escaped()?)
                    .map(OrderedKey::Str)
                    .map_err(|_| OrderedKeyError::BadUtf8 { offset: start })?
            }
            TYPE_TUPLE => {
                if depth >= MAX_DEPTH {
                    return Err(OrderedKeyError::Invalid {
                        offset,
                        reason: "tuples nested deeper than MAX_DEPTH",
                    });
                }
                let mut items = Vec::new();
                loop {
                    match self.bytes.get(self.pos) {
                        None => {
                            return Err(OrderedKeyError::Truncated {
                                offset: self.bytes.len(),
                            });
                        }
                        Some(&END) => {
                            self.pos += 1;
                            break;
                        }
                        Some(_) => items.push(self.element(depth + 1)?),
                    }
                }
                OrderedKey::Tuple(items)
            }
            byte => return Err(OrderedKeyError::UnknownType { offset, byte }),
        })
    }

    /// The bytes of an escaped string, through its terminator.
    fn escaped(&mut self) -> Result<Vec<u8>, OrderedKeyError> {
        let mut out = Vec::new();
        loop {
            let rest = &self.bytes[self.pos..];
            let Some(zero) = rest.iter().position(|&b| b == 0) else {
                return Err(OrderedKeyError::Truncated {
                    offset: self.bytes.len(),
                });
            };
            out.extend_from_slice(&rest[..zero]);
            if rest.get(zero + 1) == Some(&ESCAPE) {
                out.push(0);
                self.pos += zero + 2;
            } else {
                self.pos += zero + 1;
                return Ok(out);
            }
        }
    }

    /// The exponent of a magnitude (bytes read through `mask`).
    fn exponent(&mut self, offset: usize, mask: u8) -> Result<i64, OrderedKeyError> {
        let invalid = |reason| OrderedKeyError::Invalid { offset, reason };
        let head = self.byte()? ^ mask;
        let (n, tiny) = match head {
            0x40..=0xbf => return Ok(i64::from(head) - EXP_SMALL_BIAS),
            0xc0..=0xc7 => (usize::from(head - EXP_LARGE), false),
            0x38..=0x3f => (usize::from(EXP_TINY - head), true),
            _ => return Err(invalid("unknown exponent byte")),
        };
        let mut v = 0u64;
        for i in 0..n {
            let mut b = self.byte()? ^ mask;
            if tiny {
                b = !b;
            }
            if i == 0 && b == 0 && n > 1 {
                return Err(invalid("exponent with a redundant byte"));
            }
            v = v << 8 | u64::from(b);
        }
        if tiny {
            // h = -65 - v; nothing encodable is below MIN_EXPONENT.
            if v > (-65 - MIN_EXPONENT) as u64 {
                return Err(invalid("number below the smallest f64"));
            }
            Ok(-65 - v as i64)
        } else {
            if v >= MAX_INT_BITS - 64 {
                return Err(invalid("number beyond MAX_INT_BITS bits"));
            }
            Ok(64 + v as i64)
        }
    }

    /// A finite nonzero number after its type byte at `offset`.
    fn number(&mut self, offset: usize, negative: bool) -> Result<OrderedKey, OrderedKeyError> {
        let invalid = |reason| OrderedKeyError::Invalid { offset, reason };
        let mask = if negative { 0xff } else { 0 };
        let h = self.exponent(offset, mask)?;
        let start = self.pos;
        loop {
            match self.byte()? ^ mask {
                END => break,
                b if b & 0x80 == 0 => return Err(invalid("fraction byte without its high bit")),
                _ => {}
            }
        }
        let groups = &self.bytes[start..self.pos - 1];
        // The number of fraction bits, up to the last 1.
        let fraction_bits = match groups.last() {
            None => 0,
            Some(&last) => {
                let last = (last ^ mask) & 0x7f;
                if last == 0 {
                    return Err(invalid("fraction ending in a zero group"));
                }
                7 * groups.len() as u64 - u64::from(last.trailing_zeros())
            }
        };
        let group = |g: usize| (groups[g] ^ mask) & 0x7f;
        // Fraction bit `i` (0 = just below the leading 1).
        let fraction_bit = |i: u64| (group((i / 7) as usize) >> (6 - i % 7)) & 1;

        if h < 0 || fraction_bits > h as u64 {
            // Not an integer: it must be exactly an f64.
            let lowest = h - fraction_bits as i64;
            if fraction_bits > 52 || lowest < MIN_EXPONENT {
                return Err(invalid("fraction that no f64 holds"));
            }
            let mut m = 1u64;
            for i in 0..fraction_bits {
                m = m << 1 | u64::from(fraction_bit(i));
            }
            let bits = if h >= -1022 {
                (((h + 1023) as u64) << 52) | ((m << (52 - fraction_bits)) & ((1 << 52) - 1))
            } else {
                // Subnormal: m * 2^lowest = (m << (lowest + 1074)) * 2^-1074.
                m << (lowest - MIN_EXPONENT)
            };
            let f = f64::from_bits(bits);
            return Ok(OrderedKey::Float(if negative { -f } else { f }));
        }
        let h = h as u64;
        if h < 64 {
            let mut m = 1u64;
            for i in 0..fraction_bits {
                m = m << 1 | u64::from(fraction_bit(i));
            }
            let magnitude = m << (h - fraction_bits);
            let value = if negative {
                -i128::from(magnitude)
            } else {
                i128::from(magnitude)
            };
            return Ok(match i64::try_from(value) {
                Ok(i) => OrderedKey::Int(i),
                Err(_) => {
                    let mut le = value.to_le_bytes().to_vec();
                    int::trim(&mut le, 0);
                    OrderedKey::BigInt(le)
                }
            });
        }
        // A big int: bit h, then the fraction bits below it; one spare byte for the sign.
        let mut le = vec![0u8; (h / 8) as usize + 2];
        let mut set = |i: u64| le[(i / 8) as usize] |= 1 << (i % 8);
        set(h);
        for i in 0..fraction_bits {
            if fraction_bit(i) == 1 {
                set(h - 1 - i);
            }
        }
        if negative {
            let inverted: Vec<u8> = le.iter().map(|b| !b).collect();
            le = int::add(&inverted, &[1]);
        }
        int::trim(&mut le, 0);
        Ok(OrderedKey::BigInt(le))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::cmp::Ordering;

    fn enc(k: &OrderedKey) -> Vec<u8> {
        k.encode().unwrap()
    }

    fn big(i: i128) -> OrderedKey {
        let mut le = i.to_le_bytes().to_vec();
        int::trim(&mut le, 0);
        OrderedKey::BigInt(le)
    }

    /// `m * 2^shift` as a big int (any size).
    fn shifted(m: i64, shift: u32) -> OrderedKey {
        let mut le = vec![0u8; (shift / 8) as usize];
        let wide = i128::from(m) << (shift % 8);
        le.extend_from_slice(&wide.to_le_bytes());
        int::trim(&mut le, 0);
        OrderedKey::BigInt(le)
    }

    fn t(items: Vec<OrderedKey>) -> OrderedKey {
        OrderedKey::Tuple(items)
    }

    // ---- the reference order: exact, and independent of the encoding ----

    /// A number as an exact value: its class, and for a finite nonzero one the magnitude
    /// `mag * 2^exp` (`mag` unsigned little-endian, nonzero).
    #[derive(Debug)]
    enum Num {
        NegInf,
        Neg(Vec<u8>, i64),
        Zero,
        Pos(Vec<u8>, i64),
        PosInf,
        NaN,
    }

    impl Num {
        fn rank(&self) -> u8 {
            match self {
                Num::NegInf => 0,
                Num::Neg(..) => 1,
                Num::Zero => 2,
                Num::Pos(..) => 3,
                Num::PosInf => 4,
                Num::NaN => 5,
            }
        }
    }

    fn num_of_le(n: &[u8]) -> Num {
        let negative = n.last().is_some_and(|b| b & 0x80 != 0);
        let mut mag = if negative {
            let inverted: Vec<u8> = n.iter().map(|b| !b).collect();
            int::add(&inverted, &[1])
        } else {
            n.to_vec()
        };
        while mag.last() == Some(&0) {
            mag.pop();
        }
        match (mag.is_empty(), negative) {
            (true, _) => Num::Zero,
            (false, true) => Num::Neg(mag, 0),
            (false, false) => Num::Pos(mag, 0),
        }
    }

    fn num_of_f64(f: f64) -> Num {
        if f.is_nan() {
            return Num::NaN;
        }
        if f.is_infinite() {
            return if f < 0.0 { Num::NegInf } else { Num::PosInf };
        }
        if f == 0.0 {
            return Num::Zero;
        }
        let bits = f.to_bits();
        let biased = ((bits >> 52) & 0x7ff) as i64;
        let fraction = bits & ((1 << 52) - 1);
        let (m, e) = if biased == 0 {
            (fraction, -1074)
        } else {
            (fraction | (1 << 52), biased - 1075)
        };
        let mag = m.to_le_bytes().to_vec();
        if f < 0.0 {
            Num::Neg(mag, e)
        } else {
            Num::Pos(mag, e)
        }
    }

    /// Compares `a * 2^ea` with `b * 2^eb` bit by bit, from the highest bit position down.
    fn cmp_magnitudes(a: &[u8], ea: i64, b: &[u8], eb: i64) -> Ordering {
        let bit = |m: &[u8], e: i64, pos: i64| -> u8 {
            let i = pos - e;
            if i < 0 || i >= 8 * m.len() as i64 {
                0
            } else {
                (m[(i / 8) as usize] >> (i % 8)) & 1
            }
        };
        let hi = (8 * a.len() as i64 + ea).max(8 * b.len() as i64 + eb);
        let lo = ea.min(eb);
        for pos in (lo..hi).rev() {
            match bit(a, ea, pos).cmp(&bit(b, eb, pos)) {
                Ordering::Equal => {}
                other => return other,
            }
        }
        Ordering::Equal
    }

    fn cmp_num(a: &Num, b: &Num) -> Ordering {
        match (a, b) {
            (Num::Pos(ma, ea), Num::Pos(mb, eb)) => cmp_magnitudes(ma, *ea, mb, *eb),
            (Num::Neg(ma, ea), Num::Neg(mb, eb)) => cmp_magnitudes(mb, *eb, ma, *ea),
            _ => a.rank().cmp(&b.rank()),
        }
    }

    fn type_rank(k: &OrderedKey) -> u8 {
        match k {
            OrderedKey::Null => 0,
            OrderedKey::Int(_) | OrderedKey::BigInt(_) | OrderedKey::Float(_) => 1,
            OrderedKey::Bytes(_) => 2,
            OrderedKey::Str(_) => 3,
            OrderedKey::Tuple(_) => 4,
        }
    }

    fn num(k: &OrderedKey) -> Num {
        match k {
            OrderedKey::Int(i) => num_of_le(&i.to_le_bytes()),
            OrderedKey::BigInt(n) => num_of_le(n),
            OrderedKey::Float(f) => num_of_f64(*f),
            _ => unreachable!(),
        }
    }

    /// The order keys must have: Python's, with the cross-type ranks of the format.
    fn reference_cmp(a: &OrderedKey, b: &OrderedKey) -> Ordering {
        use OrderedKey as K;
        match (a, b) {
            (K::Bytes(x), K::Bytes(y)) => x.cmp(y),
            (K::Str(x), K::Str(y)) => x.chars().cmp(y.chars()),
            (K::Tuple(x), K::Tuple(y)) => {
                for (p, q) in x.iter().zip(y) {
                    match reference_cmp(p, q) {
                        Ordering::Equal => {}
                        other => return other,
                    }
                }
                x.len().cmp(&y.len())
            }
            _ if type_rank(a) == 1 && type_rank(b) == 1 => cmp_num(&num(a), &num(b)),
            _ => type_rank(a).cmp(&type_rank(b)),
        }
    }

    #[test]
    fn the_reference_agrees_with_native_comparisons() {
        let ints = [
            i128::MIN,
            -(1 << 64),
            i64::MIN.into(),
            -3,
            -1,
            0,
            1,
            2,
            1 << 70,
        ];
        for a in ints {
            for b in ints {
                assert_eq!(reference_cmp(&big(a), &big(b)), a.cmp(&b), "{a} {b}");
            }
        }
        let floats = [
            f64::NEG_INFINITY,
            -1e300,
            -2.5,
            -f64::MIN_POSITIVE,
            -5e-324,
            0.0,
            5e-324,
            1.5,
            2.0,
            9007199254740993.0,
            f64::MAX,
            f64::INFINITY,
        ];
        for a in floats {
            for b in floats {
                let want = a.partial_cmp(&b).unwrap();
                let got = reference_cmp(&OrderedKey::Float(a), &OrderedKey::Float(b));
                assert_eq!(got, want, "{a} {b}");
            }
        }
        // Exact across types: 2^53 + 1 is above the float 2^53, though `as f64` rounds it.
        let two53 = OrderedKey::Float(9007199254740992.0);
        assert_eq!(
            reference_cmp(&big((1 << 53) + 1), &two53),
            Ordering::Greater
        );
        assert_eq!(reference_cmp(&big(1 << 53), &two53), Ordering::Equal);
        assert_eq!(
            reference_cmp(&OrderedKey::Float(-2.5), &OrderedKey::Int(-3)),
            Ordering::Greater
        );
    }

    // ---- the format, pinned ----

    #[test]
    fn encodes_the_documented_bytes() {
        let cases: Vec<(OrderedKey, Vec<u8>)> = vec![
            (OrderedKey::Null, vec![0x01]),
            (OrderedKey::Int(0), vec![0x12]),
            (OrderedKey::Float(-0.0), vec![0x12]),
            (OrderedKey::Int(1), vec![0x13, 0x80, 0x00]),
            (OrderedKey::Int(2), vec![0x13, 0x81, 0x00]),
            (OrderedKey::Int(3), vec![0x13, 0x81, 0xc0, 0x00]),
            (OrderedKey::Float(1.5), vec![0x13, 0x80, 0xc0, 0x00]),
            (OrderedKey::Float(0.5), vec![0x13, 0x7f, 0x00]),
            (OrderedKey::Int(-1), vec![0x11, 0x7f, 0xff]),
            (OrderedKey::Float(-1.5), vec![0x11, 0x7f, 0x3f, 0xff]),
            // 2^64: exponent 64 is 0xc0 then 0x00.
            (shifted(1, 64), vec![0x13, 0xc0, 0x00, 0x00]),
            // 2^-65: exponent -65 is 0x3f then !0x00.
            (
                OrderedKey::Float(2f64.powi(-65)),
                vec![0x13, 0x3f, 0xff, 0x00],
            ),
            (OrderedKey::Float(f64::NEG_INFINITY), vec![0x10]),
            (OrderedKey::Float(f64::INFINITY), vec![0x14]),
            (OrderedKey::Float(f64::NAN), vec![0x15]),
            (
                OrderedKey::Bytes(vec![b'a', 0, b'b']),
                vec![0x20, b'a', 0x00, 0xff, b'b', 0x00],
            ),
            (OrderedKey::Str("é".into()), vec![0x21, 0xc3, 0xa9, 0x00]),
            (t(vec![]), vec![0x30, 0x00]),
            (
                t(vec![OrderedKey::Int(1), t(vec![OrderedKey::Null])]),
                vec![0x30, 0x13, 0x80, 0x00, 0x30, 0x01, 0x00, 0x00],
            ),
        ];
        for (key, bytes) in cases {
            assert_eq!(enc(&key), bytes, "{key:?}");
            assert_eq!(OrderedKey::decode(&bytes).unwrap(), key.canonical());
        }
        // Ints below 2^63 cost the type byte, one exponent byte, ceil(bits/7) and the end.
        assert_eq!(enc(&OrderedKey::Int(i64::MAX)).len(), 3 + 9);
        assert_eq!(enc(&OrderedKey::Int(1001)).len(), 3 + 2);
    }

    #[test]
    fn orders_a_hand_picked_chain() {
        let chain = vec![
            OrderedKey::Null,
            OrderedKey::Float(f64::NEG_INFINITY),
            OrderedKey::Float(-f64::MAX),
            shifted(-1, 64),
            OrderedKey::Int(i64::MIN),
            OrderedKey::Float(-2.5),
            OrderedKey::Int(-2),
            OrderedKey::Int(-1),
            OrderedKey::Float(-5e-324),
            OrderedKey::Int(0),
            OrderedKey::Float(5e-324),
            OrderedKey::Float(f64::MIN_POSITIVE),
            OrderedKey::Float(2f64.powi(-65)),
            OrderedKey::Float(0.5),
            OrderedKey::Int(1),
            OrderedKey::Float(1.5),
            OrderedKey::Int(2),
            big(1 << 53),
            big((1 << 53) + 1),
            OrderedKey::Int(i64::MAX),
            shifted(1, 63),
            big(u64::MAX.into()),
            shifted(1, 64),
            shifted(1, 1000),
            OrderedKey::Float(f64::MAX),
            shifted(1, 1024),
            OrderedKey::Float(f64::INFINITY),
            OrderedKey::Float(f64::NAN),
            OrderedKey::Bytes(vec![]),
            OrderedKey::Bytes(vec![0]),
            OrderedKey::Bytes(vec![0, 0]),
            OrderedKey::Bytes(vec![0, 1]),
            OrderedKey::Bytes(vec![1]),
            OrderedKey::Bytes(vec![0xff]),
            OrderedKey::Str(String::new()),
            OrderedKey::Str("\0".into()),
            OrderedKey::Str("a".into()),
            OrderedKey::Str("\u{ffff}".into()),
            OrderedKey::Str("\u{10000}".into()),
            t(vec![]),
            t(vec![OrderedKey::Null]),
            t(vec![OrderedKey::Int(-1), OrderedKey::Str("z".into())]),
            t(vec![OrderedKey::Int(1)]),
            t(vec![OrderedKey::Int(1), OrderedKey::Null]),
            t(vec![OrderedKey::Int(1), OrderedKey::Int(5)]),
            t(vec![OrderedKey::Int(1), t(vec![])]),
            t(vec![OrderedKey::Float(1.5)]),
            t(vec![t(vec![])]),
        ];
        for pair in chain.windows(2) {
            assert_eq!(
                reference_cmp(&pair[0], &pair[1]),
                Ordering::Less,
                "reference {pair:?}"
            );
            assert!(enc(&pair[0]) < enc(&pair[1]), "{pair:?}");
        }
    }

    #[test]
    fn equal_numbers_encode_alike() {
        let same = [
            (OrderedKey::Float(2.0), OrderedKey::Int(2)),
            (OrderedKey::Float(-0.0), OrderedKey::Int(0)),
            (
                OrderedKey::Float(-(2f64.powi(63))),
                OrderedKey::Int(i64::MIN),
            ),
            (OrderedKey::Float(2f64.powi(64)), shifted(1, 64)),
            (OrderedKey::BigInt(vec![5, 0, 0, 0]), OrderedKey::Int(5)),
            (OrderedKey::BigInt(vec![]), OrderedKey::Int(0)),
            (
                OrderedKey::Float(f64::from_bits(0x7ff8_dead_beef_0001)),
                OrderedKey::Float(f64::NAN),
            ),
        ];
        for (a, b) in same {
            assert_eq!(enc(&a), enc(&b), "{a:?} {b:?}");
            assert_eq!(a.canonical(), b.canonical());
            assert_eq!(OrderedKey::decode(&enc(&a)).unwrap(), b.canonical());
        }
    }

    #[test]
    fn prefixes_and_depth() {
        let prefix_of = |k: &OrderedKey| {
            let mut out = Vec::new();
            k.encode_prefix_into(&mut out).unwrap();
            out
        };
        let p = t(vec![OrderedKey::Int(1), OrderedKey::Str("a".into())]);
        let longer = t(vec![
            OrderedKey::Int(1),
            OrderedKey::Str("a".into()),
            OrderedKey::Null,
        ]);
        assert!(enc(&p).starts_with(&prefix_of(&p)));
        assert!(enc(&longer).starts_with(&prefix_of(&p)));
        assert_eq!(prefix_of(&p).len() + 1, enc(&p).len());
        // "ab" extends the text "a", not the element: no match.
        let other = t(vec![OrderedKey::Int(1), OrderedKey::Str("ab".into())]);
        assert!(!enc(&other).starts_with(&prefix_of(&p)));
        // "a\0" does start with the bytes of "a" (its 0x00 escaped as 0x00 0xff), and is
        // no extension either: the byte after the prefix is 0xff.
        let zero = t(vec![OrderedKey::Int(1), OrderedKey::Str("a\0".into())]);
        assert!(enc(&zero).starts_with(&prefix_of(&p)));
        assert!(!has_prefix(&enc(&zero), &prefix_of(&p)));
        assert!(has_prefix(&enc(&longer), &prefix_of(&p)));
        assert!(has_prefix(&enc(&p), &prefix_of(&p)));
        assert_eq!(prefix_of(&OrderedKey::Int(7)), enc(&OrderedKey::Int(7)));

        let nest = |depth: usize| {
            let mut k = OrderedKey::Int(1);
            for _ in 0..depth {
                k = t(vec![k]);
            }
            k
        };
        let deepest = enc(&nest(MAX_DEPTH));
        assert_eq!(OrderedKey::decode(&deepest).unwrap(), nest(MAX_DEPTH));
        let mut out = vec![9];
        assert_eq!(
            nest(MAX_DEPTH + 1).encode_into(&mut out),
            Err(OrderedKeyError::TooDeep)
        );
        assert_eq!(out, [9], "a failed encoding leaves the buffer as it was");
        let too_deep = [vec![TYPE_TUPLE], deepest, vec![END]].concat();
        assert!(matches!(
            OrderedKey::decode(&too_deep),
            Err(OrderedKeyError::Invalid { offset: 64, .. })
        ));
    }

    #[test]
    fn ints_are_bounded() {
        let limit = shifted(1, (MAX_INT_BITS - 1) as u32);
        let bytes = enc(&limit);
        assert_eq!(OrderedKey::decode(&bytes).unwrap(), limit);
        let negative = shifted(-1, (MAX_INT_BITS - 1) as u32);
        assert_eq!(OrderedKey::decode(&enc(&negative)).unwrap(), negative);
        assert_eq!(
            shifted(1, MAX_INT_BITS as u32).encode(),
            Err(OrderedKeyError::IntTooLarge {
                bits: MAX_INT_BITS + 1
            })
        );
        // -2^MAX_INT_BITS has a magnitude of MAX_INT_BITS + 1 bits too.
        assert!(shifted(-1, MAX_INT_BITS as u32).encode().is_err());
        // The exponent one past the limit, hand-made, is refused before any allocation.
        let v = (MAX_INT_BITS - 64).to_be_bytes();
        let over = [&[TYPE_POS, 0xc2][..], &v[5..], &[END]].concat();
        assert!(matches!(
            OrderedKey::decode(&over),
            Err(OrderedKeyError::Invalid { .. })
        ));
        let huge = [
            TYPE_POS, 0xc7, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0,
        ];
        assert!(OrderedKey::decode(&huge).is_err());
    }

    #[test]
    fn refuses_malformed_input() {
        use OrderedKeyError as E;
        let cases: Vec<(&[u8], E)> = vec![
            (&[], E::Truncated { offset: 0 }),
            (&[0x00], E::UnknownType { offset: 0, byte: 0 }),
            (
                &[0xff],
                E::UnknownType {
                    offset: 0,
                    byte: 0xff,
                },
            ),
            (&[TYPE_NULL, 0], E::TrailingBytes { offset: 1 }),
            (&[TYPE_POS], E::Truncated { offset: 1 }),
            (&[TYPE_POS, 0x80], E::Truncated { offset: 2 }),
            (&[TYPE_BYTES, b'a'], E::Truncated { offset: 2 }),
            (&[TYPE_TUPLE, TYPE_NULL], E::Truncated { offset: 2 }),
            (&[TYPE_STR, 0xff, 0], E::BadUtf8 { offset: 1 }),
            // A zero group last: 2 with a redundant fraction byte.
            (
                &[TYPE_POS, 0x81, 0x80, 0],
                E::Invalid {
                    offset: 0,
                    reason: "fraction ending in a zero group",
                },
            ),
            (
                &[TYPE_POS, 0x81, 0x40, 0],
                E::Invalid {
                    offset: 0,
                    reason: "fraction byte without its high bit",
                },
            ),
            (
                &[TYPE_POS, 0xc1, 0x00, 0x05, 0],
                E::Invalid {
                    offset: 0,
                    reason: "exponent with a redundant byte",
                },
            ),
            (
                &[TYPE_POS, 0xff, 0],
                E::Invalid {
                    offset: 0,
                    reason: "unknown exponent byte",
                },
            ),
            // 1 + 2^-53: a fraction of 53 bits.
            (
                &[
                    TYPE_POS, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x81, 0,
                ],
                E::Invalid {
                    offset: 0,
                    reason: "fraction that no f64 holds",
                },
            ),
            // 2^-1075.
            (
                &[TYPE_POS, 0x3e, !0x03, !0xf2, 0],
                E::Invalid {
                    offset: 0,
                    reason: "number below the smallest f64",
                },
            ),
        ];
        for (bytes, want) in cases {
            assert_eq!(OrderedKey::decode(bytes), Err(want), "{bytes:x?}");
        }
        // The smallest subnormal decodes, one below it does not (above).
        assert_eq!(
            OrderedKey::decode(&[TYPE_POS, 0x3e, !0x03, !0xf1, 0]).unwrap(),
            OrderedKey::Float(5e-324)
        );
    }

    // ---- properties ----

    fn special_f64() -> impl Strategy<Value = f64> {
        prop_oneof![
            Just(0.0),
            Just(-0.0),
            Just(f64::INFINITY),
            Just(f64::NEG_INFINITY),
            Just(f64::NAN),
            Just(f64::MAX),
            Just(f64::MIN_POSITIVE),
            Just(5e-324),
            (1u64..(1 << 52)).prop_map(f64::from_bits),
            (any::<i64>(), -80i32..80).prop_map(|(m, e)| m as f64 * 2f64.powi(e)),
            (-100i64..100, prop_oneof![Just(53), Just(63), Just(64)])
                .prop_map(|(d, e)| 2f64.powi(e) + d as f64 * 2f64.powi(e - 52)),
        ]
    }

    fn number() -> impl Strategy<Value = OrderedKey> {
        prop_oneof![
            any::<i64>().prop_map(OrderedKey::Int),
            (-1000i64..1000).prop_map(OrderedKey::Int),
            any::<i128>().prop_map(big),
            (
                -100i128..100,
                prop_oneof![Just(53), Just(63), Just(64), Just(127)]
            )
                .prop_map(|(d, e)| big((1i128 << e).wrapping_add(d))),
            (-100i128..100).prop_map(|d| big(-(1i128 << 63) + d)),
            (any::<i64>(), 0u32..1100).prop_map(|(m, s)| shifted(m, s)),
            any::<f64>().prop_map(OrderedKey::Float),
            special_f64().prop_map(OrderedKey::Float),
            (any::<i64>(), -60i32..70)
                .prop_map(|(m, e)| OrderedKey::Float((m >> 11) as f64 * 2f64.powi(e))),
        ]
    }

    fn scalar() -> impl Strategy<Value = OrderedKey> {
        prop_oneof![
            Just(OrderedKey::Null),
            number(),
            number(),
            proptest::collection::vec(prop_oneof![Just(0u8), Just(0xff), any::<u8>()], 0..6)
                .prop_map(OrderedKey::Bytes),
            proptest::collection::vec(
                prop_oneof![
                    Just('\0'),
                    Just('a'),
                    Just('\u{7f}'),
                    Just('\u{80}'),
                    Just('\u{ffff}'),
                    Just('\u{10000}'),
                    any::<char>()
                ],
                0..5
            )
            .prop_map(|c| OrderedKey::Str(c.into_iter().collect())),
        ]
    }

    fn key() -> impl Strategy<Value = OrderedKey> {
        scalar().prop_recursive(4, 24, 4, |inner| {
            proptest::collection::vec(inner, 0..4).prop_map(OrderedKey::Tuple)
        })
    }

    /// Keys often equal or close to each other, so the ordering is tested where it matters.
    fn near_pair() -> impl Strategy<Value = (OrderedKey, OrderedKey)> {
        prop_oneof![
            (key(), key()),
            (number(), number()),
            key().prop_map(|k| (k.clone(), k.canonical())),
            (any::<i64>(), -3i64..3).prop_map(|(i, d)| (
                OrderedKey::Int(i),
                OrderedKey::Float(i.saturating_add(d) as f64)
            )),
            (key(), key(), key()).prop_map(|(a, b, c)| (t(vec![a.clone(), b]), t(vec![a, c]))),
        ]
    }

    /// Encodings of keys, mutated: bytes flipped, cut, inserted.
    fn mutated() -> impl Strategy<Value = Vec<u8>> {
        (key(), any::<u64>(), 0usize..3).prop_map(|(k, seed, how)| {
            let mut bytes = enc(&k);
            let at = (seed as usize) % (bytes.len() + 1);
            let byte = (seed >> 32) as u8;
            match how {
                0 if at < bytes.len() => bytes[at] ^= byte | 1,
                1 => bytes.truncate(at),
                _ => bytes.insert(at, byte),
            }
            bytes
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn round_trips_to_the_canonical_form(k in key()) {
            let bytes = enc(&k);
            let back = OrderedKey::decode(&bytes).unwrap();
            prop_assert_eq!(&back, &k.canonical());
            prop_assert_eq!(enc(&back), bytes);
            if let OrderedKey::Float(f) = k {
                if let OrderedKey::Float(g) = back {
                    prop_assert!(g.to_bits() == f.to_bits() || (f.is_nan() && g.is_nan()));
                }
            }
        }

        #[test]
        fn byte_order_is_value_order((a, b) in near_pair()) {
            let want = reference_cmp(&a, &b);
            let got = enc(&a).cmp(&enc(&b));
            prop_assert_eq!(got, want, "{:?} vs {:?}", a, b);
        }

        #[test]
        fn a_tuple_prefix_starts_its_extensions(
            head in proptest::collection::vec(key(), 0..3),
            tail in proptest::collection::vec(key(), 0..3),
            other in key(),
        ) {
            let mut prefix = Vec::new();
            t(head.clone()).encode_prefix_into(&mut prefix).unwrap();
            let extended = t(head.iter().cloned().chain(tail.iter().cloned()).collect());
            prop_assert!(enc(&extended).starts_with(&prefix));
            prop_assert!(has_prefix(&enc(&extended), &prefix));
            // The head with its last string one 0x00 longer: the bytes start alike, but it
            // is not an extension.
            let mut sibling = head.clone();
            match sibling.last_mut() {
                Some(OrderedKey::Bytes(b)) => b.push(0),
                Some(OrderedKey::Str(s)) => s.push('\0'),
                _ => sibling.push(OrderedKey::Null),
            }
            let sibling = t(sibling.into_iter().chain(tail).collect());
            // Whether a key extends the head, decided on the values.
            let extends = |k: &OrderedKey| match k {
                OrderedKey::Tuple(items) => {
                    items.len() >= head.len()
                        && items.iter().zip(&head).all(|(x, y)| x.canonical() == y.canonical())
                }
                _ => false,
            };
            let mut end = prefix.clone();
            end.push(0xff);
            for k in [&extended, &sibling, &other] {
                let bytes = enc(k);
                prop_assert_eq!(has_prefix(&bytes, &prefix), extends(k), "{:?}", k);
                prop_assert_eq!(prefix <= bytes && bytes < end, extends(k), "{:?}", k);
            }
        }

        #[test]
        fn a_string_prefix_starts_exactly_its_extensions(
            head in proptest::collection::vec(
                prop_oneof![Just(0u8), Just(0xff), Just(b'a'), any::<u8>()], 0..5),
            tail in proptest::collection::vec(
                prop_oneof![Just(0u8), Just(0xff), Just(b'a'), any::<u8>()], 0..4),
            cut in 1usize..4,
            other in key(),
        ) {
            let mut prefix = Vec::new();
            encode_bytes_prefix_into(&head, &mut prefix);
            let extended = [&head[..], &tail[..]].concat();
            let shorter = head[..head.len().saturating_sub(cut)].to_vec();
            let mut changed = head.clone();
            if let Some(last) = changed.last_mut() {
                *last ^= 1;
            }
            for t in [&extended, &shorter, &changed] {
                let bytes = enc(&OrderedKey::Bytes(t.clone()));
                prop_assert_eq!(bytes.starts_with(&prefix), t.starts_with(&head), "{:x?}", t);
            }
            let extends = matches!(&other, OrderedKey::Bytes(t) if t.starts_with(&head));
            prop_assert_eq!(enc(&other).starts_with(&prefix), extends, "{:?}", other);

            // The same for text, over the characters these bytes stand for.
            let text = |b: &[u8]| -> String {
                b.iter().map(|&x| match x { 0 => '\0', 0xff => '\u{10ffff}', x => char::from(x) }).collect()
            };
            let (head, extended, shorter, changed) =
                (text(&head), text(&extended), text(&shorter), text(&changed));
            let mut prefix = Vec::new();
            encode_str_prefix_into(&head, &mut prefix);
            for t in [&extended, &shorter, &changed] {
                let bytes = enc(&OrderedKey::Str(t.clone()));
                prop_assert_eq!(bytes.starts_with(&prefix), t.starts_with(&head), "{:?}", t);
            }
            let extends = matches!(&other, OrderedKey::Str(t) if t.starts_with(&head));
            prop_assert_eq!(enc(&other).starts_with(&prefix), extends, "{:?}", other);
        }

        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..48)) {
            if let Ok(k) = OrderedKey::decode(&bytes) {
                prop_assert_eq!(enc(&k), bytes);
            }
        }

        #[test]
        fn damaged_encodings_are_refused_or_canonical(bytes in mutated()) {
            // Strict: whatever decodes is exactly what its value encodes to.
            if let Ok(k) = OrderedKey::decode(&bytes) {
                prop_assert_eq!(enc(&k), bytes);
            }
        }
    }
}
