"""incr: typed, atomic, overflow into big ints, type errors leave the value unchanged."""

from __future__ import annotations

import struct

import pytest

import shmkit


def test_incr_int(m):
    assert m.incr("n") == 1
    assert m.incr("n", 10) == 11
    assert m.incr("n", -20) == -9
    assert m["n"] == -9 and type(m["n"]) is int


def test_incr_float(m):
    assert m.incr("f", 0.5) == 0.5
    assert m.incr("f", 0.25) == 0.75
    assert m.incr("f", 1) == 1.75
    assert type(m["f"]) is float
    m["i"] = 1
    assert m.incr("i", 0.5) == 1.5 and type(m["i"]) is float


def test_incr_overflow_promotes_to_big_int(m):
    m["n"] = 2**63 - 1
    assert m.incr("n") == 2**63
    assert m["n"] == 2**63
    assert m.incr("n", 2**100) == 2**63 + 2**100
    assert m.incr("n", -(2**100) - 2**63 + 5) == 5
    m["neg"] = -(2**63)
    assert m.incr("neg", -1) == -(2**63) - 1


def test_incr_big_int_plus_float(m):
    m["n"] = 2**70
    assert m.incr("n", 0.5) == float(2**70) + 0.5
    m["f"] = 1.0
    assert m.incr("f", 2**70) == 1.0 + 2**70
    # Rounded like Python's int + float: 2**53 + 1 is a tie, even wins.
    m["t"] = 2**80 + 2**27 + 1
    assert m.incr("t", 0.0) == float(2**80 + 2**27 + 1)


def test_incr_big_int_too_large_for_a_float_is_overflow_and_changes_nothing(m):
    m["n"] = 2**1024
    with pytest.raises(OverflowError):
        m.incr("n", 1.0)
    assert m["n"] == 2**1024
    m["f"] = 0.5
    with pytest.raises(OverflowError):
        m.incr("f", 2**1024)
    assert m["f"] == 0.5
    # Just below 2**1024, but rounding up to it: an overflow in Python too.
    with pytest.raises(OverflowError):
        0.5 + (2**1024 - 1)
    with pytest.raises(OverflowError):
        m.incr("f", 2**1024 - 1)


@pytest.mark.parametrize("value", ["text", b"bytes", None, [1], True])
def test_incr_wrong_type_raises_and_keeps_value(m, value):
    m["k"] = value
    with pytest.raises(TypeError) as e:
        m.incr("k")
    assert isinstance(e.value, shmkit.NotAnIntegerError)
    assert m["k"] == value and type(m["k"]) is type(value)


@pytest.mark.parametrize("delta", ["1", None, True, [1]])
def test_incr_bad_delta_raises_and_creates_nothing(m, delta):
    with pytest.raises(TypeError):
        m.incr("k", delta)
    assert "k" not in m


def test_raw_incr_is_8_byte_little_endian(store):
    raw = store.hash_map("r", raw=True)
    assert raw.incr(b"i", 5) == 5
    assert raw[b"i"] == struct.pack("<q", 5)
    assert raw.incr(b"f", 0.5) == 0.5
    assert raw[b"f"] == struct.pack("<d", 0.5)
    raw[b"x"] = b"abc"
    with pytest.raises(shmkit.NotAnIntegerError):
        raw.incr(b"x")
    with pytest.raises(OverflowError):
        raw.incr(b"i", 2**64)
