"""Rust's TypedMap and Python's maps on one store: a Rust program
(crates/shmkit/examples/typed_map_cross.rs) reads with typed keys and values what Python
wrote (str→int, str→float, int→str, bytes→bytes, None values, big ints) and writes values
Python reads back with their exact types. Keys meet in Python's dict form (1.0 and True are
the key 1), and what neither side has a form for is an error on both sides, not a misread."""

from __future__ import annotations

import json
import subprocess

import pytest

import shmkit

from _support import rust_example


def _debug(x) -> str:
    """`x` as Rust's Debug prints it, for the values used here."""
    if isinstance(x, bool):
        return "true" if x else "false"
    if isinstance(x, str):
        return json.dumps(x, ensure_ascii=False)
    if isinstance(x, bytes):
        return str(list(x))
    if x is None:
        return "None"
    return repr(x)


def test_rust_reads_what_python_wrote(store, store_name):
    writes = {
        "str_int": {"a": 1, "b": -(2**63), "c": 2**63 - 1},
        "str_float": {"x": 0.5, "y": -2.25, "whole": 3.0, "int": 4},
        "int_str": {1: "one", 2.0: "two", -5: "minus five", 2**70: "huge"},
        "bytes_bytes": {b"": b"empty", b"\x00\xff": b"\x01\x02"},
        "nones": {"n": None, "s": 7},
        "big": {"u64max": 2**64 - 1, "neg": -(2**100), "two63": 2**63},
        "flags": {"t": True, "f": False},
    }
    for name, items in writes.items():
        m = store.hash_map(name)
        for k, v in items.items():
            m[k] = v
    # Entries a typed reader cannot take: errors it reports, not panics or misreads.
    store.hash_map("str_int")["oops"] = 1.5
    store.hash_map("nones")["pickled"] = (1, 2)

    out = subprocess.run(
        [rust_example("typed_map_cross"), "read", store_name],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.splitlines()

    want = []
    for name, items in writes.items():
        for k, v in items.items():
            if name == "int_str":
                k = int(k)  # 2.0 was stored as the key 2, as a dict would
            if name == "str_float":
                v = float(v)  # an int the f64 holds exactly reads as that float
            if name == "nones" and v is not None:
                want.append(f"{name}\t{_debug(k)}\tSome({v})")
                continue
            want.append(f"{name}\t{_debug(k)}\t{_debug(v)}")
    want += [
        "str_int\terror\tvalue: expected i64, found float",
        "nones\terror\tvalue: expected i64, found Python pickle",
        'lookup\t2.0\tSome("two")',
        'lookup\ttrue\tSome("one")',
        f"lookup\tu64max\tSome({2**64 - 1})",
        'lookup\tneg_as_u64\tErr("value: number out of range for u64")',
        "lookup\tmany\t[Some(1), None, Some(-9223372036854775808)]",
    ]
    assert out == sorted(want)


def test_python_reads_what_rust_wrote(store, store_name):
    subprocess.run([rust_example("typed_map_cross"), "write", store_name], check=True)

    ints = store.hash_map("r_str_int")
    assert dict(ints.items()) == {"a": 1, "min": -(2**63), "counter": 41}
    assert all(type(v) is int for v in ints.values())
    assert ints.incr("counter") == 42  # Python's incr on Rust's counter

    big = store.hash_map("r_big")
    assert big["u64max"] == 2**64 - 1 and type(big["u64max"]) is int
    assert big["two63"] == 2**63
    assert big["u128max"] == 2**128 - 1
    assert big["i128min"] == -(2**127)
    assert big.incr("u64max") == 2**64  # the big int Rust wrote is Python's own form

    floats = store.hash_map("r_float_keys")
    assert floats[1] == "one" and floats[1.0] == "one" and floats[True] == "one"
    assert floats[0] == "zero"
    assert floats[0.5] == "half"
    keys = sorted(floats.keys())
    assert keys == [0, 0.5, 1]
    assert [type(k) for k in keys] == [int, float, int]  # integral float keys are ints

    values = store.hash_map("r_values")
    exact = {
        "f64": -2.25,
        "f32": 0.375,
        "bool": True,
        "bytes": b"\x00\xffz",
        "none": None,
        "str": "héllo",
    }
    for k, v in exact.items():
        assert values[k] == v and type(values[k]) is type(v), k

    assert store.hash_map("r_bool_keys")[1] == "yes"

    # A tuple is a Rust-only encoding: Python refuses it instead of guessing.
    with pytest.raises(shmkit.DecodeError, match="language id 2"):
        store.hash_map("r_tuple")["t"]
    # Json<T> is a str of JSON.
    j = store.hash_map("r_json")["j"]
    assert type(j) is str and json.loads(j) == [3, ["a", "b"]]
