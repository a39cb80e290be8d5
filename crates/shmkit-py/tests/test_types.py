"""Type round-trips, the shared encoding, and key equality rules."""

from __future__ import annotations

import enum
import fractions
import math
import struct

import pytest

import shmkit


class Color(enum.IntEnum):
    RED = 1


class Point:
    def __init__(self, x, y):
        self.x, self.y = x, y

    def __eq__(self, other):
        return isinstance(other, Point) and (self.x, self.y) == (other.x, other.y)

    def __hash__(self):
        return hash((self.x, self.y))


VALUES = [
    None, True, False, 0, 1, -1, 2**63 - 1, -(2**63), 2**63, -(2**63) - 1, 2**200, -(2**200),
    0.0, -0.0, 1.5, float("inf"), float("-inf"), 1e300,
    b"", b"\x00\xff" * 10, "", "text", "ünïcödé ☃", "a" * 100_000,
    [1, "two", 3.0], {"a": {"b": None}}, (1, 2), {1, 2}, frozenset({3}), bytearray(b"xy"),
    Point(1, 2), Color.RED, fractions.Fraction(1, 3), "\ud800",  # lone surrogate: pickled
]


@pytest.mark.parametrize("value", VALUES, ids=lambda v: type(v).__name__ + ":" + repr(v)[:20])
def test_value_round_trip_keeps_type(m, value):
    m["k"] = value
    got = m["k"]
    assert type(got) is type(value)
    assert got == value  # (NaN, which equals nothing, is test_nan_value)
    if isinstance(value, float):
        assert math.copysign(1, got) == math.copysign(1, value)


def test_nan_value(m):
    m["k"] = float("nan")
    assert math.isnan(m["k"])


def test_native_types_use_the_shared_encoding(store):
    """A raw handle on the same map sees the documented tag bytes (what Rust and C read)."""
    typed = store.hash_map("m")
    raw = store.hash_map("m", raw=True)
    typed["s"] = 5
    typed["f"] = 0.5
    typed["b"] = b"xy"
    typed["t"] = True
    typed["n"] = None
    typed["big"] = 2**64
    typed[7] = "seven"
    typed["obj"] = [1]
    assert raw[b"\x06s"] == b"\x03" + struct.pack("<q", 5)
    assert raw[b"\x06f"] == b"\x04" + struct.pack("<d", 0.5)
    assert raw[b"\x06b"] == b"\x05xy"
    assert raw[b"\x06t"] == b"\x02"
    assert raw[b"\x06n"] == b"\x00"
    assert raw[b"\x06big"] == b"\x07" + (2**64).to_bytes(9, "little", signed=True)
    assert raw[b"\x03" + struct.pack("<q", 7)] == b"\x06seven"
    assert raw[b"\x06obj"][:2] == b"\x08\x01"
    # And the other way round: bytes written raw in the encoding read back typed.
    raw[b"\x06from-c"] = b"\x03" + struct.pack("<q", -3)
    assert typed["from-c"] == -3


def test_big_int_encoding_is_minimal(store):
    typed, raw = store.hash_map("m"), store.hash_map("m", raw=True)
    for n in [2**63, -(2**63) - 1, -(2**71), 2**71 - 1, 2**1000]:
        typed["n"] = n
        payload = raw[b"\x06n"][1:]
        assert int.from_bytes(payload, "little", signed=True) == n
        assert len(payload) > 8
        assert len(payload) == min(k for k in range(9, 200) if -(2 ** (8 * k - 1)) <= n < 2 ** (8 * k - 1))


def test_keys_are_typed(m):
    m[1] = "int"
    m["1"] = "str"
    m[b"1"] = "bytes"
    assert (m[1], m["1"], m[b"1"]) == ("int", "str", "bytes")
    assert len(m) == 3


def test_numeric_keys_follow_dict_equality(m):
    d = {}
    for container in (m, d):
        container[1] = "one"
        container[True] = "true"
        container[1.0] = "float"
    assert d == {1: "float"}
    assert len(m) == 1
    assert m[1] == m[True] == m[1.0] == "float"
    assert list(m) == [1] and type(next(iter(m))) is int  # stored as int
    m[0] = "zero"
    assert m[False] == m[-0.0] == m[0.0] == "zero"
    m[1.5] = "half"
    assert m[1.5] == "half" and 1 in m
    m[1e20] = "big float"
    assert m[int(1e20)] == "big float"
    m[Color.RED] = "enum key"  # an IntEnum equals its int in a dict
    assert m[1] == "enum key"


def test_exact_keys_option(store):
    m = store.hash_map("exact", exact_keys=True)
    m[1] = "int"
    m[True] = "bool"
    m[1.0] = "float"
    assert len(m) == 3
    assert (m[1], m[True], m[1.0]) == ("int", "bool", "float")


def test_hashable_object_keys(m):
    m[(1, "a")] = "tuple"
    m[Point(1, 2)] = "point"
    m[frozenset({1})] = "fs"
    assert m[(1, "a")] == "tuple"
    assert m[Point(1, 2)] == "point"
    assert (1, "a") in m and (1, "b") not in m


def test_unhashable_keys_are_refused_like_dict(m):
    for key in ([1], {"a": 1}, {1}):
        with pytest.raises(TypeError):
            m[key] = 1
        with pytest.raises(TypeError):
            key in m  # noqa: B015


def test_str_subclass_key_equals_str(m):
    class S(str):
        pass

    m[S("k")] = 1
    assert m["k"] == 1


def test_raw_handles_take_and_return_bytes(store):
    raw = store.hash_map("r", raw=True)
    raw[b"k"] = b"v"
    raw[bytearray(b"k2")] = bytearray(b"v2")
    assert raw[b"k"] == b"v"
    assert raw[b"k2"] == b"v2" and type(raw[b"k2"]) is bytes
    assert sorted(raw) == [b"k", b"k2"]
    assert dict(raw.items()) == {b"k": b"v", b"k2": b"v2"}
    with pytest.raises(TypeError):
        raw["str"] = b"v"
    with pytest.raises(TypeError):
        raw[b"k"] = 1


def test_undecodable_bytes_raise_decode_error(store):
    raw = store.hash_map("m", raw=True)
    typed = store.hash_map("m")
    raw[b"\x06bad-tag"] = b"\x99"
    raw[b"\x06bad-utf8"] = b"\x06\xff"
    raw[b"\x06empty"] = b""
    raw[b"\x06c-lang"] = b"\x08\x02xyz"
    for key in ("bad-tag", "bad-utf8", "empty", "c-lang"):
        with pytest.raises(shmkit.DecodeError):
            typed[key]
        with pytest.raises(ValueError):
            typed[key]
