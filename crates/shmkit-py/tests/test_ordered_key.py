"""Ordered keys (``shmkit.encode_key``/``decode_key``): bytes that sort as Python sorts.

Random values (fixed seeds) of every type are sorted by Python and by their encoded bytes,
within groups Python can compare (ints, floats and bools mixed; bytes; str; tuples whose
positions hold one such group each), and the two orders must agree pair by pair, equality
included.
"""

from __future__ import annotations

import collections
import enum
import fractions
import math
import random
import struct

import pytest

import shmkit

MAX_DEPTH = 64
MAX_INT_BITS = 1 << 20


# ---- random values ----


def rand_int(rng: random.Random) -> int:
    kind = rng.randrange(7)
    if kind == 0:
        return rng.randint(-5, 5)
    if kind == 1:
        return rng.randint(-(2**63), 2**63 - 1)
    if kind == 2:  # around the i64 / u64 / 2^53 boundaries
        return rng.choice([1, -1]) * (2 ** rng.choice([53, 63, 64])) + rng.randint(-3, 3)
    if kind == 3:
        return rng.randint(-(2**200), 2**200)
    if kind == 4:  # a big int with few bits set: long runs of zeros
        return rng.choice([1, -1]) * (rng.randint(1, 2**20) << rng.randint(0, 1100))
    if kind == 5:
        return rng.randint(-1000, 1000)
    return rng.randint(-(2**70), 2**70)


def rand_float(rng: random.Random) -> float:
    kind = rng.randrange(9)
    if kind == 0:
        return rng.choice([math.inf, -math.inf, 0.0, -0.0, 5e-324, -5e-324, 2.2250738585072014e-308])
    if kind == 1:  # subnormal
        return rng.choice([1, -1]) * math.ldexp(rng.randint(1, 2**52 - 1), -1074)
    if kind == 2:  # anywhere in the exponent range
        return rng.choice([1, -1]) * math.ldexp(rng.random() + 0.5, rng.randint(-1074, 1023))
    if kind == 3:  # integral
        return float(rng.randint(-(2**60), 2**60))
    if kind == 4:  # near 2^53, 2^63, 2^64, integral or not
        base = 2.0 ** rng.choice([52, 53, 63, 64])
        return rng.choice([1, -1]) * (base + rng.randint(-4, 4) * base * 2.0**-52)
    if kind == 5:
        return rng.uniform(-10, 10)
    if kind == 6:  # halves and quarters near small ints
        return rng.randint(-20, 20) / 4
    if kind == 7:  # any bit pattern but NaN
        f = struct.unpack("<d", rng.getrandbits(64).to_bytes(8, "little"))[0]
        return 0.0 if math.isnan(f) else f
    return math.ldexp(rng.randint(-(2**53), 2**53), rng.randint(-80, 80))


def rand_number(rng: random.Random):
    kind = rng.randrange(5)
    if kind in (0, 1):
        return rand_int(rng)
    if kind in (2, 3):
        return rand_float(rng)
    return rng.choice([True, False])


def rand_bytes(rng: random.Random) -> bytes:
    return bytes(rng.choice([0, 0, 0xFF, 1, rng.randrange(256)]) for _ in range(rng.randrange(6)))


def rand_char(rng: random.Random) -> str:
    kind = rng.randrange(5)
    if kind == 0:
        return rng.choice(["\0", "a", "b", "\x7f", "\x80", "\uffff", "\U00010000", "\U0010ffff"])
    if kind == 1:
        return chr(rng.randint(0, 0x7F))
    if kind == 2:
        return chr(rng.randint(0x10000, 0x10FFFF))  # not in the BMP
    cp = rng.randint(0, 0xFFFF)
    return chr(cp) if not 0xD800 <= cp <= 0xDFFF else "z"


def rand_str(rng: random.Random) -> str:
    return "".join(rand_char(rng) for _ in range(rng.randrange(5)))


SCALARS = {"number": rand_number, "bytes": rand_bytes, "str": rand_str}


def rand_schema(rng: random.Random, depth: int):
    """A type per tuple position (a nested schema for a nested tuple), so the tuples made
    from one schema are comparable by Python."""
    if depth < 4 and rng.random() < 0.3:
        return [rand_schema(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    return rng.choice(list(SCALARS))


def from_schema(rng: random.Random, schema, pool: dict):
    if isinstance(schema, list):
        # Any prefix of the positions: a tuple sorts before its extensions.
        n = rng.randint(0, len(schema))
        return tuple(from_schema(rng, s, pool) for s in schema[:n])
    # Draw repeats often, so ties that move the comparison to later elements are common.
    seen = pool.setdefault(schema, [])
    if seen and rng.random() < 0.5:
        return rng.choice(seen)
    value = SCALARS[schema](rng)
    seen.append(value)
    return value


def groups(seed: int):
    """Groups of mutually comparable values: numbers, bytes, str, and tuples by schema."""
    rng = random.Random(seed)
    yield [rand_number(rng) for _ in range(3000)]
    yield [rand_bytes(rng) for _ in range(1500)]
    yield [rand_str(rng) for _ in range(1500)]
    for _ in range(12):
        schema = [rand_schema(rng, 1) for _ in range(rng.randint(1, 4))]
        pool: dict = {}
        yield [from_schema(rng, schema, pool) for _ in range(400)]


def canonical(v):
    """What ``decode_key(encode_key(v))`` must give: bools and integral floats as ints."""
    if isinstance(v, tuple):
        return tuple(canonical(x) for x in v)
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, float) and math.isfinite(v) and v == int(v):
        return int(v)
    return v


def same(a, b) -> bool:
    """Equal and of the same types, all the way down (``1 == 1.0`` hides a type)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, tuple):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    return a == b


# ---- ordering ----


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_ordered_key_bytes_sort_as_python_sorts(seed):
    for group in groups(seed):
        keyed = sorted((v, shmkit.encode_key(v)) for v in group)  # Python's order (stable)
        for (a, ka), (b, kb) in zip(keyed, keyed[1:]):
            assert (a < b) == (ka < kb), (a, b, ka, kb)
            assert (a == b) == (ka == kb), (a, b, ka, kb)
        # Sorting by the bytes alone gives Python's order.
        by_bytes = sorted(group, key=shmkit.encode_key)
        assert all(x == y for x, y in zip(by_bytes, [v for v, _ in keyed]))


@pytest.mark.parametrize("seed", [4, 5])
def test_ordered_key_random_pairs_compare_alike(seed):
    rng = random.Random(seed)
    for group in groups(seed):
        for _ in range(2000):
            a, b = rng.choice(group), rng.choice(group)
            ka, kb = shmkit.encode_key(a), shmkit.encode_key(b)
            assert (a < b) == (ka < kb) and (a == b) == (ka == kb), (a, b)


def test_ordered_key_numbers_share_one_exact_order():
    chain = [
        -math.inf, -(2**1024), -1.7976931348623157e308, -(2**64), -(2**63) - 1, -(2**63),
        -3, -2.5, -2, -1, -5e-324, 0, 5e-324, 0.5, 1, 1.5, 2, 2**53, 2**53 + 1,
        2**63 - 1, 2**63, 2**64 - 1, 2**64, 1.7976931348623157e308, 2**1024, math.inf,
    ]
    assert chain == sorted(chain) and len(set(chain)) == len(chain)
    keys = [shmkit.encode_key(v) for v in chain]
    assert keys == sorted(keys) and len(set(keys)) == len(keys)
    # Equal numbers are one key, as in a dict.
    for a, b in [(2.0, 2), (-0.0, 0), (0.0, False), (True, 1), (1.0, True), (2.0**70, 2**70)]:
        assert shmkit.encode_key(a) == shmkit.encode_key(b)
    # One NaN, after +inf and before every non-number.
    nans = {shmkit.encode_key(x) for x in [math.nan, -math.nan, float("nan")]}
    assert len(nans) == 1
    (nan,) = nans
    assert shmkit.encode_key(math.inf) < nan < shmkit.encode_key(b"")
    assert math.isnan(shmkit.decode_key(nan))


def test_ordered_key_types_rank_in_a_fixed_order():
    ranks = [None, -math.inf, 10**100, math.nan, b"", b"\xff", "", "\U0010ffff", (), ((),)]
    keys = [shmkit.encode_key(v) for v in ranks]
    assert keys == sorted(keys)


# ---- round trip, prefixes ----


@pytest.mark.parametrize("seed", [6, 7])
def test_ordered_key_round_trips_to_the_canonical_value(seed):
    rng = random.Random(seed)
    values = [v for group in groups(seed) for v in group]
    values += [math.nan, -0.0, True, False, None, (None, (True, 2.0, -0.0)), ((((),),),)]
    for v in values:
        back = shmkit.decode_key(shmkit.encode_key(v))
        assert same(back, canonical(v)), (v, back)
        assert shmkit.encode_key(back) == shmkit.encode_key(v)
    # Non-integral floats stay floats, bit for bit.
    for _ in range(2000):
        f = rand_float(rng)
        back = shmkit.decode_key(shmkit.encode_key(f))
        if not math.isfinite(f) or f != int(f):
            assert type(back) is float and struct.pack("<d", back) == struct.pack("<d", f)


@pytest.mark.parametrize("seed", [8])
def test_ordered_key_tuple_prefix_starts_its_extensions(seed):
    rng = random.Random(seed)
    for group in groups(seed):
        for t in group:
            if not isinstance(t, tuple):
                continue
            k = rng.randint(0, len(t))
            prefix = shmkit.encode_key(t[:k])[:-1]  # without the terminator
            assert shmkit.encode_key(t).startswith(prefix)
            # The tuples that start with t[:k] are exactly the keys from the prefix to the
            # prefix followed by 0xff (a longer string's escaped 0x00 continues with 0xff).
            for other in [rng.choice(group), sibling(t, k)]:
                key = shmkit.encode_key(other)
                assert (prefix <= key < prefix + b"\xff") == (other[:k] == t[:k]), (t, k, other)


def sibling(t: tuple, k: int) -> tuple:
    """``t`` with element ``k - 1`` one NUL longer if it is a string (so its encoding
    starts with the prefix of ``t[:k]``), else ``t``."""
    if k and isinstance(t[k - 1], (bytes, str)):
        nul = b"\0" if isinstance(t[k - 1], bytes) else "\0"
        return t[: k - 1] + (t[k - 1] + nul,) + t[k:]
    return t


# ---- types, errors ----


class Color(enum.IntEnum):
    RED = 3


class Text(str):
    def encode(self, *args, **kwargs):  # never used: the base type's UTF-8 is
        raise AssertionError


class Big(int):
    def to_bytes(self, *args, **kwargs):  # never used: the base type's method is
        raise AssertionError

    def bit_length(self):
        raise AssertionError


Pair = collections.namedtuple("Pair", "a b")


def test_ordered_key_subclasses_encode_as_their_base_type():
    cases = [
        (Color.RED, 3),
        (Text("hé"), "hé"),
        (Big(2**100), 2**100),
        (Big(-5), -5),
        (type("F", (float,), {})(1.5), 1.5),
        (type("B", (bytes,), {})(b"a\0"), b"a\0"),
        (Pair(1, "x"), (1, "x")),
    ]
    for obj, base in cases:
        assert shmkit.encode_key(obj) == shmkit.encode_key(base)
        assert same(shmkit.decode_key(shmkit.encode_key(obj)), base)


@pytest.mark.parametrize(
    "obj, name",
    [
        ([1], "list"),
        ({}, "dict"),
        ({1}, "set"),
        (object(), "object"),
        (bytearray(b"x"), "bytearray"),
        (1j, "complex"),
        (fractions.Fraction(1, 3), "Fraction"),
        ((1, (2, [3])), "list"),
    ],
)
def test_ordered_key_refuses_other_types(obj, name):
    with pytest.raises(TypeError, match=f"'{name}'"):
        shmkit.encode_key(obj)


def test_ordered_key_limits():
    def nest(depth):
        t = 1
        for _ in range(depth):
            t = (t,)
        return t

    assert shmkit.decode_key(shmkit.encode_key(nest(MAX_DEPTH))) == nest(MAX_DEPTH)
    with pytest.raises(ValueError, match="deeper"):
        shmkit.encode_key(nest(MAX_DEPTH + 1))
    # Deeper bytes (made by hand) are refused by the decoder too.
    too_deep = b"\x30" + shmkit.encode_key(nest(MAX_DEPTH)) + b"\x00"
    with pytest.raises(shmkit.DecodeError):
        shmkit.decode_key(too_deep)
    largest = 2**MAX_INT_BITS - 1
    assert shmkit.decode_key(shmkit.encode_key(-largest)) == -largest
    with pytest.raises(OverflowError):
        shmkit.encode_key(2**MAX_INT_BITS)
    with pytest.raises(UnicodeEncodeError):
        shmkit.encode_key("\ud800")


def test_ordered_key_decode_refuses_malformed_bytes():
    for bad in [b"", b"\x00", b"\xff", b"\x01\x00", b"\x13", b"\x13\x81\x80\x00", b"\x21\xff\x00", b"\x30"]:
        with pytest.raises(shmkit.DecodeError):
            shmkit.decode_key(bad)
    with pytest.raises(TypeError):
        shmkit.decode_key("not bytes")
    rng = random.Random(9)
    valid = [shmkit.encode_key(v) for group in groups(9) for v in group[:200]]
    decoded = 0
    for i in range(20000):
        if i % 2:
            data = rng.randbytes(rng.randrange(12))
        else:  # a valid key cut, flipped or extended
            data = bytearray(rng.choice(valid))
            at = rng.randrange(len(data) + 1)
            how = rng.randrange(3)
            if how == 0 and at < len(data):
                data[at] ^= rng.randint(1, 255)
            elif how == 1:
                del data[at:]
            else:
                data.insert(at, rng.randrange(256))
            data = bytes(data)
        try:
            obj = shmkit.decode_key(data)
        except shmkit.DecodeError:
            continue
        decoded += 1
        assert shmkit.encode_key(obj) == data  # strict: only the encoder's own bytes decode
    assert decoded > 100


def test_ordered_key_lenient_keeps_the_encodable_prefix():
    lenient = shmkit._shmkit._encode_key_lenient
    obj = object()
    assert lenient((1, obj)) == shmkit.encode_key((1,))
    assert lenient((1, (2, obj, 3), 4)) == shmkit.encode_key((1, (2,)))
    assert lenient((1, "\ud800", 2)) == shmkit.encode_key((1,))
    assert lenient((1, 2**MAX_INT_BITS)) == shmkit.encode_key((1,))
    deep = (1,)
    for _ in range(MAX_DEPTH):
        deep = (deep,)
    assert shmkit.decode_key(lenient((0, deep)))[0] == 0
    for v in [(1, "a"), (), (None, (b"x", 2.5))]:
        assert lenient(v) == shmkit.encode_key(v)
    assert lenient(5) == shmkit.encode_key(5)
    with pytest.raises(TypeError, match="'object'"):
        lenient(obj)
    # Where Python could compare, the lenient order is Python's.
    assert lenient((1, obj)) < lenient((2, obj)) < lenient((2, "a", obj))
