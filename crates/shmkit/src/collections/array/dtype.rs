//! Element types of arrays: PEP 3118 buffer format strings (what Python's buffer protocol,
//! `memoryview` and NumPy speak), parsed into a flat list of typed fields at fixed offsets.
//!
//! An array stores the format string it was created with; every process (Rust, Python, C,
//! the CLI) parses it with [`ElementType::parse`] and gets the same item size and field
//! offsets NumPy computes for it. Two formats describe the same element when their parsed
//! forms are equal ([`ElementType::same_layout`]): `"<q"`, `"=q"`, `"q"` and NumPy's `"l"`
//! are all a little-endian 8-byte integer here.
//!
//! Accepted: the byte-order marks `@ = < > ! ^` (stateful across the string, as NumPy reads
//! it; `@` aligns fields to their natural alignment and pads a structure to its alignment);
//! `x` padding; `?` `c` `b` `B` `h` `H` `i` `I` `l` `L` `q` `Q` `n` `N` `e` `f` `d` `g`,
//! complex `Zf` `Zd` `Zg`, byte strings `Ns`, UCS-4 strings `Nw`; repeat counts and
//! `(d1,d2,..)` sub-array shapes; structures `T{...}` with `:name:` field names (nested
//! structures are flattened to dotted names). Also a NumPy type string of one scalar
//! (`"<f8"`, `"i4"`, `"u1"`, `"S10"`, `"c16"`, `"?"`) for callers without NumPy.
//!
//! Refused with [`DtypeError`]: object fields (`O`: a pointer into one process means nothing
//! in another), pointers (`&`), Pascal strings (`p`), an element of zero bytes, more than
//! [`MAX_FIELDS`] fields after flattening, formats longer than [`MAX_FORMAT_LEN`] bytes.
//!
//! ```
//! use shmkit::collections::array::dtype::{ElementType, ScalarKind};
//! let point = ElementType::parse("T{<d:x:<d:y:<i:id:}").unwrap();
//! assert_eq!(point.itemsize(), 20);
//! let names: Vec<_> = point.fields().iter().map(|f| f.name.as_deref().unwrap()).collect();
//! assert_eq!(names, ["x", "y", "id"]);
//! assert_eq!(point.fields()[2].offset, 16);
//! // NumPy's spelling of an aligned structure: '@' pads `b` to 8 and the whole to 16.
//! let aligned = ElementType::parse("T{b:a:xxxxxxxl:b:}").unwrap();
//! assert_eq!((aligned.itemsize(), aligned.fields()[1].offset), (16, 8));
//! assert!(ElementType::parse("<i8").unwrap().same_layout(&ElementType::parse("q").unwrap()));
//! assert_eq!(ElementType::parse("f8").unwrap().fields()[0].scalar.kind, ScalarKind::Float);
//! assert!(ElementType::parse("O").is_err());
//! ```

use std::fmt;

/// Longest format string accepted.
pub const MAX_FORMAT_LEN: usize = 4096;
/// Most fields an element may have after nested structures and structure arrays are
/// flattened.
pub const MAX_FIELDS: usize = 4096;
/// Largest element (bytes).
pub const MAX_ITEMSIZE: u64 = 1 << 30;

/// What a format string is refused for.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("element type {format:?}: {reason}")]
pub struct DtypeError {
    /// The format string (cut to 80 characters).
    pub format: String,
    /// Why.
    pub reason: String,
}

/// The kind of value a scalar field holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ScalarKind {
    /// `?`: one byte, 0 or 1.
    Bool,
    /// Signed two's complement integer.
    Int,
    /// Unsigned integer.
    UInt,
    /// IEEE 754 binary float (2, 4 or 8 bytes; 16 is x87 extended, read as bytes).
    Float,
    /// Complex: two floats of half the size.
    Complex,
    /// A byte string of `size` bytes (`s`, `c`), NUL-padded.
    Bytes,
    /// A UCS-4 string of `size / 4` code points (`w`), NUL-padded.
    Ucs4,
    /// Named padding (`Nx:name:`): `size` opaque bytes (NumPy's void fields).
    Void,
}

/// One scalar: kind, size in bytes, byte order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Scalar {
    /// The kind.
    pub kind: ScalarKind,
    /// Bytes of one value.
    pub size: u64,
    /// Stored big-endian (only `>`/`!`; native order here is little-endian).
    pub big_endian: bool,
}

/// One field of an element: a scalar or a sub-array of scalars at a fixed offset.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Field {
    /// The field's name; `None` for the one field of a plain scalar element. Fields of
    /// nested structures are `outer.inner`, of structure arrays `outer[i].inner`; unnamed
    /// fields of a structure are `f0`, `f1`, ... (NumPy's names).
    pub name: Option<String>,
    /// Byte offset within the element.
    pub offset: u64,
    /// Its scalar.
    pub scalar: Scalar,
    /// Sub-array shape (empty for one scalar).
    pub shape: Vec<u64>,
}

impl Field {
    /// Scalars in the field (the product of its shape).
    pub fn count(&self) -> u64 {
        self.shape.iter().product()
    }

    /// Bytes of the field.
    pub fn len(&self) -> u64 {
        self.count() * self.scalar.size
    }

    /// True when the field has no bytes (a zero-size sub-array).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A parsed element type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ElementType {
    format: String,
    itemsize: u64,
    fields: Vec<Field>,
}

impl fmt::Display for ElementType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.format)
    }
}

impl ElementType {
    /// Parses a PEP 3118 format string, or a NumPy type string of one scalar.
    pub fn parse(format: &str) -> Result<ElementType, DtypeError> {
        let error = |reason: String| DtypeError {
            format: format.chars().take(80).collect(),
            reason,
        };
        if format.len() > MAX_FORMAT_LEN {
            return Err(error(format!("longer than {MAX_FORMAT_LEN} bytes")));
        }
        if format.trim().is_empty() {
            return Err(error("empty".into()));
        }
        let pep3118 = numpy_typestr(format).unwrap_or_else(|| format.to_string());
        let mut parser = Parser {
            text: pep3118.as_bytes(),
            pos: 0,
            order: Order::Native,
        };
        let parsed = parser.structure(false).map_err(error)?;
        if parsed.itemsize == 0 {
            return Err(error("an element of zero bytes".into()));
        }
        if parsed.itemsize > MAX_ITEMSIZE {
            return Err(error(format!(
                "an element of more than {MAX_ITEMSIZE} bytes"
            )));
        }
        let mut fields = Vec::new();
        let itemsize = parsed.itemsize;
        let mut members = parsed.members;
        // One unnamed member at offset 0 filling the element is the element itself (NumPy
        // unwraps it too): a plain scalar, or the structure's own fields.
        let lone = matches!(members.as_slice(), [m] if m.name.is_none() && m.offset == 0);
        match members.pop() {
            Some(Member {
                kind: MemberKind::Struct(inner, _),
                shape,
                ..
            }) if lone && shape.is_empty() && inner.itemsize == itemsize => {
                flatten(inner.members, "", 0, &mut fields);
            }
            Some(Member {
                kind: MemberKind::Scalar(scalar),
                shape,
                ..
            }) if lone && scalar.size * shape.iter().product::<u64>() == itemsize => {
                fields.push(Field {
                    name: None,
                    offset: 0,
                    scalar,
                    shape,
                });
            }
            last => {
                members.extend(last);
                flatten(members, "", 0, &mut fields);
            }
        }
        Ok(ElementType {
            format: pep3118,
            itemsize,
            fields,
        })
    }

    /// The format string: as given, or the PEP 3118 form of a NumPy type string.
    pub fn format(&self) -> &str {
        &self.format
    }

    /// Bytes of one element.
    pub fn itemsize(&self) -> u64 {
        self.itemsize
    }

    /// The fields, in format order (padding is not a field).
    pub fn fields(&self) -> &[Field] {
        &self.fields
    }

    /// True for a plain scalar element (one unnamed field without sub-array).
    pub fn is_scalar(&self) -> bool {
        matches!(self.fields.as_slice(), [f] if f.name.is_none() && f.shape.is_empty())
    }

    /// True when both describe the same bytes: same size, same fields (names, offsets,
    /// scalars, shapes), whatever the spelling.
    pub fn same_layout(&self, other: &ElementType) -> bool {
        self.itemsize == other.itemsize && self.fields == other.fields
    }
}

/// A NumPy type string of one scalar (`[<>|=]?` kind letter, size) as PEP 3118, or `None`.
fn numpy_typestr(s: &str) -> Option<String> {
    let (order, rest) = match s.as_bytes().first()? {
        b'<' | b'>' | b'=' | b'|' => (&s[..1], &s[1..]),
        _ => ("", s),
    };
    let mut chars = rest.chars();
    let kind = chars.next()?;
    let digits = chars.as_str();
    if digits.is_empty() {
        return (rest == "?" && !order.is_empty()).then(|| "?".into());
    }
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: u64 = digits.parse().ok()?;
    // Native order is little-endian on every platform shmkit runs on: '<' is written as
    // native, which Python's `memoryview` can index (it refuses '<d').
    let order = match order {
        ">" => ">",
        _ => "",
    };
    let code = match (kind, n) {
        ('i', 1) => "b",
        ('i', 2) => "h",
        ('i', 4) => "i",
        ('i', 8) => "q",
        ('u', 1) => "B",
        ('u', 2) => "H",
        ('u', 4) => "I",
        ('u', 8) => "Q",
        ('f', 2) => "e",
        ('f', 4) => "f",
        ('f', 8) => "d",
        ('c', 8) => "Zf",
        ('c', 16) => "Zd",
        ('b', 1) => "?",
        ('S', n) if n > 0 => return Some(format!("{n}s")),
        ('U', n) if n > 0 => return Some(format!("{order}{n}w")),
        _ => return None,
    };
    Some(format!("{order}{code}"))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Order {
    /// `@`: native order, native sizes and alignment.
    Native,
    /// `^`: native order and sizes, no alignment.
    NativeUnaligned,
    /// `=`, `<`: standard sizes, little-endian, no alignment.
    Little,
    /// `>`, `!`: standard sizes, big-endian, no alignment.
    Big,
}

impl Order {
    fn aligned(self) -> bool {
        self == Order::Native
    }
    fn native_sizes(self) -> bool {
        matches!(self, Order::Native | Order::NativeUnaligned)
    }
}

/// One member of a structure as parsed, before names are fixed and structures flattened.
struct Member {
    name: Option<String>,
    offset: u64,
    kind: MemberKind,
    /// Sub-array shape (a repeat count is its last dimension).
    shape: Vec<u64>,
}

enum MemberKind {
    Scalar(Scalar),
    /// A structure; `unit` is the bytes of one (its item size plus any padding NumPy adds
    /// to each element of a repeated structure).
    Struct(Parsed, u64),
}

struct Parsed {
    itemsize: u64,
    members: Vec<Member>,
    /// Alignment of the structure: the lcm of the alignments of members placed in '@'
    /// mode (1 if none).
    align: u64,
    /// Fields it flattens to (bounded by [`MAX_FIELDS`] while parsing).
    flat: u64,
}

struct Parser<'a> {
    text: &'a [u8],
    pos: usize,
    order: Order,
}

/// One parsed item before placement: its scalar (or structure), its natural alignment,
/// whether it is padding.
enum Item {
    Scalar(Scalar, u64),
    Struct(Parsed),
    Padding(u64),
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.text.get(self.pos).copied()
    }

    fn skip_space(&mut self) {
        while self.peek().is_some_and(|b| b.is_ascii_whitespace()) {
            self.pos += 1;
        }
    }

    fn eat(&mut self, b: u8) -> bool {
        self.skip_space();
        if self.peek() == Some(b) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn number(&mut self) -> Result<Option<u64>, String> {
        self.skip_space();
        let start = self.pos;
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.pos += 1;
        }
        if start == self.pos {
            return Ok(None);
        }
        let digits = std::str::from_utf8(&self.text[start..self.pos]).unwrap_or("");
        digits
            .parse::<u64>()
            .ok()
            .filter(|n| *n <= MAX_ITEMSIZE)
            .map(Some)
            .ok_or_else(|| format!("count {digits} is too large"))
    }

    fn shape(&mut self) -> Result<Vec<u64>, String> {
        let mut dims = Vec::new();
        loop {
            let Some(n) = self.number()? else {
                return Err("a sub-array shape needs numbers: (2,3)".into());
            };
            if dims.len() == 32 {
                return Err("a sub-array of more than 32 dimensions".into());
            }
            dims.push(n);
            if self.eat(b')') {
                return Ok(dims);
            }
            if !self.eat(b',') {
                return Err("a sub-array shape is (d1,d2,...)".into());
            }
        }
    }

    /// A field name after `:` up to the next `:`.
    fn name(&mut self) -> Result<String, String> {
        let start = self.pos;
        while self.peek().is_some_and(|b| b != b':') {
            self.pos += 1;
        }
        if self.peek() != Some(b':') {
            return Err("a field name is not closed by ':'".into());
        }
        let name = std::str::from_utf8(&self.text[start..self.pos])
            .map_err(|_| "a field name is not UTF-8".to_string())?
            .to_string();
        self.pos += 1;
        if name.is_empty() {
            return Err("an empty field name".into());
        }
        Ok(name)
    }

    /// The scalar of type code `code` (after any `Z`) in the current order, and its
    /// natural alignment (NumPy's, for the '@' mode).
    fn scalar(&self, code: u8, complex: bool) -> Result<(Scalar, u64), String> {
        let native = self.order.native_sizes();
        let (kind, size) = match code {
            b'?' => (ScalarKind::Bool, 1),
            b'c' => (ScalarKind::Bytes, 1),
            b'b' => (ScalarKind::Int, 1),
            b'B' => (ScalarKind::UInt, 1),
            b'h' => (ScalarKind::Int, 2),
            b'H' => (ScalarKind::UInt, 2),
            b'i' => (ScalarKind::Int, 4),
            b'I' => (ScalarKind::UInt, 4),
            b'l' => (ScalarKind::Int, if native { 8 } else { 4 }),
            b'L' => (ScalarKind::UInt, if native { 8 } else { 4 }),
            b'q' => (ScalarKind::Int, 8),
            b'Q' => (ScalarKind::UInt, 8),
            b'e' => (ScalarKind::Float, 2),
            b'f' => (ScalarKind::Float, 4),
            b'd' => (ScalarKind::Float, 8),
            b'g' if native => (ScalarKind::Float, 16),
            b'g' => return Err("'g' exists only in native mode ('@' or '^')".into()),
            b'O' => {
                return Err(
                    "object fields ('O') cannot live in shared memory: a pointer into one \
                     process means nothing in another"
                        .into(),
                );
            }
            b'n' | b'N' | b'&' | b'p' | b'P' | b'u' | b't' | b'X' => {
                return Err(format!("'{}' is not supported", code as char));
            }
            other => {
                return Err(format!(
                    "unknown type code {:?} at byte {}",
                    other as char, self.pos
                ));
            }
        };
        let big_endian = self.order == Order::Big;
        if complex {
            if !(matches!(code, b'f' | b'd') || code == b'g' && native) {
                return Err(format!("'Z{}' is not a complex type here", code as char));
            }
            let scalar = Scalar {
                kind: ScalarKind::Complex,
                size: size * 2,
                big_endian,
            };
            return Ok((scalar, size));
        }
        let scalar = Scalar {
            kind,
            size,
            big_endian: big_endian && size > 1,
        };
        let align = if kind == ScalarKind::Bytes { 1 } else { size };
        Ok((scalar, align))
    }

    /// Parses members until `}` (when `nested`) or the end, placing them as NumPy does.
    fn structure(&mut self, nested: bool) -> Result<Parsed, String> {
        let mut members: Vec<Member> = Vec::new();
        let mut offset = 0u64;
        let mut align = 1u64;
        let mut flat = 0u64;
        loop {
            self.skip_space();
            match self.peek() {
                None if nested => return Err("'T{' is not closed by '}'".into()),
                None => break,
                Some(b'}') if nested => {
                    self.pos += 1;
                    break;
                }
                Some(b'}') => return Err("'}' without 'T{'".into()),
                _ => {}
            }
            let mut shape = if self.eat(b'(') {
                self.shape()?
            } else {
                Vec::new()
            };
            self.skip_space();
            if let Some(mark) = self.peek().filter(|b| b"@=<>!^".contains(b)) {
                self.order = match mark {
                    b'@' => Order::Native,
                    b'^' => Order::NativeUnaligned,
                    b'=' | b'<' => Order::Little,
                    _ => Order::Big,
                };
                self.pos += 1;
                self.skip_space();
                if self.peek().is_none() || (nested && self.peek() == Some(b'}')) {
                    if shape.is_empty() {
                        continue;
                    }
                    return Err("a sub-array shape without a type".into());
                }
            }
            let count = self.number()?;
            self.skip_space();
            let item = match self.peek() {
                Some(b'T') => {
                    self.pos += 1;
                    if !self.eat(b'{') {
                        return Err("'T' must be followed by '{'".into());
                    }
                    Item::Struct(self.structure(true)?)
                }
                Some(b'x') => {
                    self.pos += 1;
                    Item::Padding(count.unwrap_or(1))
                }
                Some(b's') => {
                    self.pos += 1;
                    let s = Scalar {
                        kind: ScalarKind::Bytes,
                        size: count.unwrap_or(1),
                        big_endian: false,
                    };
                    Item::Scalar(s, 1)
                }
                Some(b'w') => {
                    self.pos += 1;
                    let s = Scalar {
                        kind: ScalarKind::Ucs4,
                        size: count.unwrap_or(1) * 4,
                        big_endian: self.order == Order::Big,
                    };
                    Item::Scalar(s, 4)
                }
                Some(b'Z') => {
                    self.pos += 1;
                    let code = self.peek().ok_or("'Z' at the end")?;
                    let (s, a) = self.scalar(code, true)?;
                    self.pos += 1;
                    Item::Scalar(s, a)
                }
                Some(code) => {
                    let (s, a) = self.scalar(code, false)?;
                    self.pos += 1;
                    Item::Scalar(s, a)
                }
                None => return Err("a count without a type".into()),
            };
            // A count is the length of a string ('s', 'w') or of padding ('x'); for anything
            // else (also 'c'), a sub-array.
            let counted = matches!(self.text.get(self.pos - 1), Some(b's' | b'w' | b'x'));
            if !counted {
                if let Some(n) = count.filter(|n| *n != 1) {
                    if shape.len() == 32 {
                        return Err("a sub-array of more than 32 dimensions".into());
                    }
                    shape.push(n);
                }
            }
            let name = if self.eat(b':') {
                Some(self.name()?)
            } else {
                None
            };
            let repeat = shape
                .iter()
                .try_fold(1u64, |a, d| a.checked_mul(*d))
                .filter(|n| *n <= MAX_ITEMSIZE)
                .ok_or("a sub-array too large")?;
            let (mut unit, natural_align) = match &item {
                Item::Scalar(s, a) => (s.size, *a),
                Item::Struct(p) => (p.itemsize, p.align),
                Item::Padding(n) => (*n, 1),
            };
            // NumPy's placement in '@' mode: align the start; pad a repeated item to its
            // alignment, or a single one by an offset after it.
            let mut extra = 0;
            if self.order.aligned() {
                offset = offset
                    .checked_next_multiple_of(natural_align)
                    .ok_or("too large")?;
                let intra = unit.next_multiple_of(natural_align) - unit;
                if intra != 0 {
                    if repeat > 1 {
                        unit += intra;
                    } else {
                        extra = intra;
                    }
                }
                align = lcm(align, natural_align);
            }
            let start = offset;
            let bytes = unit.checked_mul(repeat).ok_or("too large")?;
            offset = offset
                .checked_add(bytes)
                .and_then(|o| o.checked_add(extra))
                .filter(|o| *o <= MAX_ITEMSIZE)
                .ok_or("an element of more than 1 GiB")?;
            let kind = match item {
                Item::Padding(n) => match &name {
                    // Unnamed padding is not a field; named padding is a void field.
                    None => continue,
                    Some(_) => MemberKind::Scalar(Scalar {
                        kind: ScalarKind::Void,
                        size: n,
                        big_endian: false,
                    }),
                },
                Item::Scalar(s, _) => MemberKind::Scalar(s),
                Item::Struct(p) => MemberKind::Struct(p, unit),
            };
            if let Some(n) = &name {
                if members.iter().any(|m| m.name.as_ref() == Some(n)) {
                    return Err(format!("duplicate field name {n:?}"));
                }
            }
            let adds = match &kind {
                MemberKind::Scalar(_) => 1,
                MemberKind::Struct(p, _) => p.flat.saturating_mul(repeat),
            };
            flat = flat.saturating_add(adds);
            if flat > MAX_FIELDS as u64 {
                return Err(format!("more than {MAX_FIELDS} fields"));
            }
            members.push(Member {
                name,
                offset: start,
                kind,
                shape,
            });
        }
        // NumPy pads the end to the structure's alignment only when the order there is '@'.
        let itemsize = if self.order.aligned() {
            offset.checked_next_multiple_of(align).ok_or("too large")?
        } else {
            offset
        };
        Ok(Parsed {
            itemsize,
            members,
            align,
            flat,
        })
    }
}

/// Replaces missing names by the first unused `f0`, `f1`, ... (NumPy's rule).
fn fix_names(members: &mut [Member]) {
    for i in 0..members.len() {
        if members[i].name.is_some() {
            continue;
        }
        let name = (0..)
            .map(|j| format!("f{j}"))
            .find(|n| !members.iter().any(|m| m.name.as_ref() == Some(n)))
            .expect("fewer members than names");
        members[i].name = Some(name);
    }
}

/// Appends the fields of `members` (of a structure at `base`) to `out`, nested structures
/// flattened to `outer.inner` and structure arrays to `outer[i].inner`.
fn flatten(mut members: Vec<Member>, prefix: &str, base: u64, out: &mut Vec<Field>) {
    fix_names(&mut members);
    for m in members {
        let name = format!("{prefix}{}", m.name.unwrap_or_default());
        match m.kind {
            MemberKind::Scalar(scalar) => out.push(Field {
                name: Some(name),
                offset: base + m.offset,
                scalar,
                shape: m.shape,
            }),
            MemberKind::Struct(inner, unit) => {
                if inner.flat == 0 {
                    continue;
                }
                let repeat: u64 = m.shape.iter().product();
                for i in 0..repeat {
                    let prefix = if m.shape.is_empty() {
                        format!("{name}.")
                    } else {
                        format!("{name}[{i}].")
                    };
                    flatten(
                        inner.members.iter().map(Member::clone_shallow).collect(),
                        &prefix,
                        base + m.offset + i * unit,
                        out,
                    );
                }
            }
        }
    }
}

impl Member {
    fn clone_shallow(&self) -> Member {
        Member {
            name: self.name.clone(),
            offset: self.offset,
            kind: match &self.kind {
                MemberKind::Scalar(s) => MemberKind::Scalar(*s),
                MemberKind::Struct(p, unit) => MemberKind::Struct(
                    Parsed {
                        itemsize: p.itemsize,
                        members: p.members.iter().map(Member::clone_shallow).collect(),
                        align: p.align,
                        flat: p.flat,
                    },
                    *unit,
                ),
            },
            shape: self.shape.clone(),
        }
    }
}

fn lcm(a: u64, b: u64) -> u64 {
    fn gcd(a: u64, b: u64) -> u64 {
        if b == 0 { a } else { gcd(b, a % b) }
    }
    a / gcd(a, b) * b
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offsets(format: &str) -> (u64, Vec<(String, u64)>) {
        let t = ElementType::parse(format).unwrap();
        let fields = t
            .fields()
            .iter()
            .map(|f| (f.name.clone().unwrap_or_default(), f.offset))
            .collect();
        (t.itemsize(), fields)
    }

    #[test]
    fn numpy_formats_give_numpys_sizes_and_offsets() {
        // Formats and item sizes as NumPy 2 exports them (memoryview(np.zeros(2, dt)).format).
        assert_eq!(offsets("d"), (8, vec![(String::new(), 0)]));
        assert_eq!(offsets("5s").0, 5);
        assert_eq!(offsets("3w").0, 12);
        assert_eq!(offsets("Zd").0, 16);
        assert_eq!(offsets(">i").0, 4);
        assert_eq!(
            offsets("T{b:a:=q:b:}"),
            (9, vec![("a".into(), 0), ("b".into(), 1)])
        );
        assert_eq!(
            offsets("T{b:a:xxxxxxxl:b:}"),
            (16, vec![("a".into(), 0), ("b".into(), 8)])
        );
        assert_eq!(
            offsets("T{l:b:b:a:}"),
            (16, vec![("b".into(), 0), ("a".into(), 8)])
        );
        assert_eq!(
            offsets("T{(3)=d:x:@i:n:}"),
            (28, vec![("x".into(), 0), ("n".into(), 24)])
        );
        assert_eq!(
            offsets("T{T{=f:x:f:y:}:p:@H:id:}"),
            (
                10,
                vec![("p.x".into(), 0), ("p.y".into(), 4), ("id".into(), 8)]
            )
        );
        assert_eq!(offsets("T{3s:s:(2,2)=f:v:}").0, 19);
        assert_eq!(offsets("8x").0, 8);
    }

    #[test]
    fn spellings_of_one_layout_are_the_same_layout() {
        let a = ElementType::parse("<q").unwrap();
        for other in ["q", "=q", "l", "<i8", "i8", "@q"] {
            assert!(
                a.same_layout(&ElementType::parse(other).unwrap()),
                "{other}"
            );
        }
        assert!(!a.same_layout(&ElementType::parse(">q").unwrap()));
        assert!(!a.same_layout(&ElementType::parse("Q").unwrap()));
        assert!(!a.same_layout(&ElementType::parse("d").unwrap()));
        assert!(!a.same_layout(&ElementType::parse("<l").unwrap())); // 4 bytes in '<'
    }

    #[test]
    fn bad_formats_are_refused_with_a_reason() {
        for bad in [
            "",
            "O",
            "T{O:a:}",
            "&d",
            "Zq",
            "T{d:a:",
            "}",
            "(2",
            "2",
            ">n",
            "T{d:a:d:a:}",
            "T{d:a",
            "x0",
            "0d",
            "(100000,100000)d",
            "(70000)T{(70000)d:a:}",
        ] {
            assert!(ElementType::parse(bad).is_err(), "{bad:?} accepted");
        }
        let many = format!("T{{{}}}", "b".repeat(MAX_FIELDS + 1));
        assert!(ElementType::parse(&many).is_err());
        let e = ElementType::parse("O").unwrap_err();
        assert!(e.to_string().contains("object"), "{e}");
    }

    #[test]
    fn numpy_type_strings_of_scalars() {
        for (typestr, format) in [
            ("<f8", "<d"),
            ("i4", "i"),
            ("u1", "B"),
            ("|b1", "?"),
            ("S10", "10s"),
            ("c16", "Zd"),
            (">u2", ">H"),
        ] {
            let a = ElementType::parse(typestr).unwrap();
            assert!(
                a.same_layout(&ElementType::parse(format).unwrap()),
                "{typestr}"
            );
        }
    }
}
