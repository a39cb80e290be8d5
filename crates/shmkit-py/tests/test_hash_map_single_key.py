"""HashMap single-key calls (`m[k] = v`, `m[k]`, `k in m`, `del m[k]`, `discard`): short
`str` and `int` keys and values are encoded on the stack, everything else through the general
encoder. Both must give the same bytes: each key written one way is found the other way
(the batched calls always use the general encoder), at and around the size limits and for
the keys that look like the common ones but are not."""

from __future__ import annotations

import enum

import pytest

import shmkit


class S(str):
    pass


class I(int):
    pass


class Color(enum.IntEnum):
    RED = 1


# Keys around the limits of the stack buffers (64 bytes for a key, 128 for a value, one of
# them the tag byte), non-ASCII text, ints at and beyond the i64 range, and look-alikes.
KEYS = [
    "",
    "k",
    "k" * 62,
    "k" * 63,
    "k" * 64,
    "é" * 31,
    "é" * 32,
    "\ud800",  # a lone surrogate: no UTF-8 form, pickled
    0,
    -1,
    2**63 - 1,
    -(2**63),
    2**63,
    -(2**63) - 1,
    2**200,
    True,
    1.0,
    2.5,
    b"bytes",
    None,
    (1, "x"),
    S("sub"),
    I(7),
]
VALUES = [
    "",
    "v",
    "v" * 126,
    "v" * 127,
    "v" * 128,
    "ü" * 64,
    "\udfff",
    0,
    2**63 - 1,
    2**63,
    -(2**70),
    True,
    None,
    1.5,
    b"raw",
    [1, 2],
    S("sub"),
    I(3),
    Color.RED,
]


def test_single_and_batched_calls_agree_on_every_key(m):
    expected = [_last_index(k) for k in KEYS]
    for i, k in enumerate(KEYS):
        m[k] = i
    assert m.get_many(KEYS) == expected
    assert m.contains_many(KEYS) == [True] * len(KEYS)
    m.clear()
    m.set_many((k, i) for i, k in enumerate(KEYS))
    for k, want in zip(KEYS, expected):
        assert k in m, k
        assert m[k] == m.get(k) == want, k
    for k in KEYS:
        if k in m:
            del m[k]
    assert len(m) == 0
    m.set_many((k, 0) for k in KEYS)
    for k in KEYS:
        m.discard(k)
        assert k not in m, k
    assert m.get_many(KEYS) == [None] * len(KEYS)
    assert len(m) == 0


def _last_index(k):
    """Index of the last key of KEYS equal to `k` as a dict sees it (True == 1 == 1.0)."""
    return max(i for i, other in enumerate(KEYS) if other == k)


def test_keys_equal_in_a_dict_are_one_key(m):
    d = {}
    for i, k in enumerate(KEYS):
        m[k] = i
        d[k] = i
    assert len(m) == len(d)
    for k in d:
        assert m[k] == d[k], k


def test_values_round_trip_through_both_paths(m):
    for i, v in enumerate(VALUES):
        m[f"k{i}"] = v
    assert m.get_many(f"k{i}" for i in range(len(VALUES))) == VALUES
    for i, v in enumerate(VALUES):
        got = m[f"k{i}"]
        assert got == v and type(got) is type(v), (v, got)
    m.clear()
    m.set_many((f"k{i}", v) for i, v in enumerate(VALUES))
    for i, v in enumerate(VALUES):
        got = m[f"k{i}"]
        assert got == v and type(got) is type(v), (v, got)


def test_exact_keys_and_raw_maps(store):
    e = store.hash_map("e", exact_keys=True)
    e[1] = "int"
    e[True] = "bool"
    e["1"] = "str"
    assert e.get_many([1, True, "1", 1.0]) == ["int", "bool", "str", None]
    del e[1]
    assert 1 not in e and True in e
    r = store.hash_map("r", raw=True)
    r[b"k"] = b"v"
    r[bytearray(b"k2")] = bytearray(b"v2")
    r[b"x" * 200] = b"y" * 300
    assert r.get_many([b"k", b"k2", b"x" * 200]) == [b"v", b"v2", b"y" * 300]
    assert r[bytearray(b"k")] == b"v" and b"k2" in r
    del r[b"k"]
    assert b"k" not in r
    with pytest.raises(TypeError):
        r["str"] = b"v"
    with pytest.raises(TypeError):
        r[b"k"] = "str"


def test_errors_keep_their_types(m):
    with pytest.raises(KeyError):
        m["absent"]
    with pytest.raises(KeyError):
        del m[10**30]
    with pytest.raises(TypeError):
        m[["unhashable"]] = 1
    with pytest.raises(TypeError):
        ["unhashable"] in m  # noqa: B015
    assert m.discard("absent") is False
    m.close()
    with pytest.raises(shmkit.ClosedError):
        m["k"] = 1
    with pytest.raises(shmkit.ClosedError):
        "k" in m  # noqa: B015
