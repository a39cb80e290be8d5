"""HashMap batched operations: get_many, contains_many, set_many, remove_many; against a dict,
with every key and value type, and batch reads while a `spawn` process writes."""

from __future__ import annotations

import multiprocessing

import pytest

import shmkit

import _workers
from _support import wait_until

JOIN_TIMEOUT = 60


def test_batches_match_single_calls(m):
    m.set_many({"a": 1, "b": "two", 3: b"three", (4, 5): None, 1.5: [1, 2]})
    keys = ["a", "b", 3, (4, 5), 1.5, "missing"]
    assert m.get_many(keys) == [m.get(k) for k in keys]
    assert m.get_many(keys, default="d")[-1] == "d"
    assert m.get_many(keys, "d")[3] is None  # a stored None is not the default
    assert m.contains_many(keys) == [k in m for k in keys]
    assert m.remove_many(["a", "missing", "a", 3]) == 2
    assert sorted(m.keys(), key=repr) == sorted(["b", (4, 5), 1.5], key=repr)


def test_inputs_are_any_iterable_and_pairs(m):
    m.set_many((f"k{i}", i) for i in range(100))
    m.set_many([("x", 1), ["y", 2]])
    assert m.get_many(iter(["k5", "x", "y"])) == [5, 1, 2]
    assert m.get_many([]) == []
    assert m.contains_many(()) == []
    assert m.remove_many(k for k in ["x", "y"]) == 2
    assert len(m) == 100


def test_last_value_of_a_repeated_key_wins(m):
    m.set_many([("a", 1), ("b", 2), ("a", 3), ("a", 4)])
    assert m.get_many(["a", "b", "a"]) == [4, 2, 4]
    # Keys that compare equal (1 == 1.0 == True) are one key, as in a dict.
    m.set_many([(1, "int"), (1.0, "float"), (True, "bool")])
    assert m[1] == "bool"
    assert len(m) == 3


def test_bad_items_raise_before_anything_is_written(m):
    with pytest.raises(TypeError):
        m.set_many([("ok", 1), (["unhashable"], 2)])
    with pytest.raises(ValueError):
        m.set_many([("ok", 1), ("a", 2, 3)])
    with pytest.raises(Exception):  # a value that cannot be pickled
        m.set_many([("ok", 1), ("bad", lambda: None)])
    assert len(m) == 0
    with pytest.raises(TypeError):
        m.get_many([["unhashable"]])
    with pytest.raises(TypeError):
        m.get_many(5)


def test_raw_map_batches(store):
    raw = store.hash_map("raw", raw=True)
    raw.set_many({b"a": b"1", b"b": b"2"})
    assert raw.get_many([b"a", b"c", b"b"]) == [b"1", None, b"2"]
    raw.close()


def test_closed_handle_raises(store):
    h = store.hash_map("closing")
    h.close()
    with pytest.raises(shmkit.ClosedError):
        h.get_many(["a"])
    with pytest.raises(shmkit.ClosedError):
        h.set_many({"a": 1})


def test_large_batch_equals_a_loop_of_gets(m):
    m.set_many((i, str(i) * (i % 50)) for i in range(20_000))
    keys = list(range(-100, 20_100))
    assert m.get_many(keys) == [m.get(k) for k in keys]
    assert m.verify()["clean"]


def test_batch_reads_see_only_values_each_key_held_while_a_spawned_process_writes(m):
    keys = 300
    m.set_many((k, (k, 1)) for k in range(keys))
    ctx = multiprocessing.get_context("spawn")
    writer = ctx.Process(target=_workers.write_versions, args=(m, keys))
    writer.start()
    try:
        wait_until(lambda: any(v[1] > 3 for v in m.get_many(range(keys))), "the writer has started")
        seen = [1] * keys
        for _ in range(300):
            values = m.get_many(range(keys))
            assert m.contains_many(range(keys)) == [True] * keys
            for k, value in enumerate(values):
                key, version = value
                assert key == k
                assert version >= seen[k], f"key {k} went back from {seen[k]} to {version}"
                seen[k] = version
    finally:
        m["stop"] = True
        writer.join(JOIN_TIMEOUT)
    assert writer.exitcode == 0
    assert m.verify()["clean"]


def test_get_many_over_a_million_keys_equals_a_loop_of_get(m):
    n = 1_000_000
    m.set_many((f"key-{i:010d}", f"{i:032d}") for i in range(n))
    keys = [f"key-{i:010d}" for i in range(n + n // 2)]  # the last half million are absent
    batch = m.get_many(keys)
    assert batch == [m.get(k) for k in keys]
    assert batch.count(None) == n // 2
    assert m.contains_many(keys) == [v is not None for v in batch]


def test_a_million_key_batch_sees_only_values_each_key_held_while_a_spawned_process_writes(m):
    keys = 1_000_000
    m.set_many((k, (k, 1)) for k in range(keys))
    ctx = multiprocessing.get_context("spawn")
    writer = ctx.Process(target=_workers.write_versions, args=(m, keys))
    writer.start()
    try:
        sample = range(0, keys, 997)
        wait_until(lambda: any(v[1] > 2 for v in m.get_many(sample)), "the writer has started")
        seen = [1] * keys
        for _ in range(3):
            for k, (key, version) in enumerate(m.get_many(range(keys))):
                assert key == k, f"key {k} handed out key {key}'s value"
                assert version >= seen[k], f"key {k} went back from {seen[k]} to {version}"
                seen[k] = version
        assert max(seen) > 2
    finally:
        m["stop"] = True
        writer.join(JOIN_TIMEOUT)
    assert writer.exitcode == 0
    assert m.verify()["clean"]
