"""HashMap stable key handles: a handle (an int) reads its key's value without hashing or
probing while the key exists, through overwrites and resizes; once the key is removed it
names nothing, even after the key comes back. Forged handles read as missing; a handle
works in another process (spawn)."""

from __future__ import annotations

import multiprocessing
import random

import pytest

import _workers

JOIN_TIMEOUT = 60


def test_a_handle_follows_its_key_and_goes_stale_when_it_is_removed(m):
    assert m.handle("absent") is None
    h = m.set_with_handle("user:1", {"name": "ada"})
    assert isinstance(h, int) and h > 0
    assert m.get_by_handle(h) == {"name": "ada"}
    assert m.key_by_handle(h) == "user:1"
    assert m.handle("user:1") == h
    m["user:1"] = 2
    assert m.get_by_handle(h) == 2
    m.incr("user:1", 40)
    assert m.get_by_handle(h) == 42
    assert m.set_by_handle(h, "x") is True
    assert m["user:1"] == "x"
    assert m.insert_if_absent_with_handle("user:1", "y") == (h, False)
    del m["user:1"]
    assert m.get_by_handle(h) is None
    assert m.get_by_handle(h, "gone") == "gone"
    assert m.key_by_handle(h) is None
    assert m.set_by_handle(h, "z") is False
    assert m.remove_by_handle(h) is False
    assert "user:1" not in m
    h2, inserted = m.insert_if_absent_with_handle("user:1", "back")
    assert inserted and h2 != h
    assert m.get_by_handle(h) is None
    assert m.get_by_handle(h2) == "back"
    assert m.remove_by_handle(h2) is True
    assert len(m) == 0


def test_typed_keys_and_raw_maps(store):
    m = store.hash_map("typed")
    keys = [1, "1", b"1", (1, "a"), 2.5, None, True]
    handles = {}
    for i, k in enumerate(keys):
        handles[k] = m.set_with_handle(k, i)
    # True is the key 1, as in a dict: one key, one handle.
    assert handles[True] == handles[1]
    assert m.get_by_handle(handles[1]) == 6
    for k in ["1", b"1", (1, "a"), 2.5, None]:
        assert m.key_by_handle(handles[k]) == k
        assert m.get_by_handle(handles[k]) == m[k]
    raw = store.hash_map("raw", raw=True)
    h = raw.set_with_handle(b"k", b"v")
    assert raw.get_by_handle(h) == b"v"
    assert raw.key_by_handle(h) == b"k"
    assert m.get_by_handle(h) != b"v"  # another map's handle


def test_handles_survive_growth_and_shrinking(m):
    handles = {k: m.set_with_handle(k, k * 2) for k in range(0, 30_000, 3)}
    for k in range(30_000):
        m[k] = k * 2
    stats = m.stats()
    assert stats["resizes"] > 10 and stats["handles"] == len(handles)
    assert all(m.get_by_handle(h) == k * 2 for k, h in handles.items())
    m.remove_many([k for k in range(30_000) if k % 100])
    for k, h in handles.items():
        assert m.get_by_handle(h) == (k * 2 if k % 100 == 0 else None)
    assert m.stats()["shrinks"] > 0
    assert m.verify()["clean"]


def test_forged_handles_read_as_missing(m):
    real = {m.set_with_handle(f"k{i}", i) for i in range(500)}
    rng = random.Random(7)
    for _ in range(20_000):
        h = rng.getrandbits(64)
        if h in real:
            continue
        assert m.get_by_handle(h) is None
        assert m.key_by_handle(h) is None
        assert m.set_by_handle(h, "forged") is False
        assert m.remove_by_handle(h) is False
    for bad in (-1, 1 << 64):
        with pytest.raises(OverflowError):
            m.get_by_handle(bad)
    with pytest.raises(TypeError):
        m.get_by_handle("not a handle")
    assert len(m) == 500 and all(m[f"k{i}"] == i for i in range(500))


def test_a_handle_works_in_another_process(m):
    handles = [m.set_with_handle(f"k{i}", i) for i in range(100)]
    del m["k7"]
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(1) as pool:
        read = pool.apply_async(_workers.read_and_write_by_handle, (m, handles)).get(JOIN_TIMEOUT)
    assert read == [("missing" if i == 7 else i) for i in range(100)]
    assert [m.get_by_handle(h) for h in handles] == [
        (None if i == 7 else ("child", i)) for i in range(100)
    ]
