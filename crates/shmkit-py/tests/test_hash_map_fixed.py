"""Fixed-size hash maps (`store.hash_map(name, raw=True, key_size=..., value_size=...)`):
records of one size; keys and values of another length raise `WrongKeySizeError` /
`WrongValueSizeError` in every call and change nothing (batches included); the options are
checked (both sizes, raw only, an existing map's own sizes); stats show the slabs; pickled
handles and other processes (`spawn` and `fork`) see the same map and its sizes."""

from __future__ import annotations

import multiprocessing
import pickle
import struct

import pytest

import shmkit

import _workers

JOIN_TIMEOUT = 60


def key(i: int) -> bytes:
    return i.to_bytes(8, "little")


def point(i: int) -> bytes:
    return struct.pack("<dd", i, i / 2)


@pytest.fixture
def fm(store):
    return store.hash_map("points", raw=True, key_size=8, value_size=16)


def test_set_get_delete(fm):
    assert fm.fixed_size == (8, 16) and fm.raw
    for i in range(100):
        fm[key(i)] = point(i)
    assert len(fm) == 100
    assert fm[key(42)] == point(42)
    fm[key(42)] = point(-1)  # an overwrite
    assert fm[key(42)] == point(-1)
    del fm[key(42)]
    assert key(42) not in fm and fm.get(key(42)) is None
    with pytest.raises(shmkit.KeyNotFoundError):
        fm[key(42)]
    assert fm.pop(key(1)) == point(1)
    fm[key(1)] = bytearray(point(1))  # bytearray as raw maps take it
    assert fm[key(1)] == point(1)
    assert fm.setdefault(key(42), point(7)) == point(7)
    assert fm.compare_and_set(key(42), point(7), point(8))
    assert fm.to_dict() == {key(i): point(8 if i == 42 else i) for i in range(100)}
    assert fm.verify()["clean"]
    assert repr(fm).endswith(f'store="{fm.store_name}", raw=True, key_size=8, value_size=16)')


def test_a_set_of_keys_has_values_of_zero_bytes(store):
    s = store.hash_map("set", raw=True, key_size=4, value_size=0)
    assert s.fixed_size == (4, 0)
    s[b"abcd"] = b""
    assert s[b"abcd"] == b"" and len(s) == 1
    assert "key_size=4, value_size=0" in repr(s)
    with pytest.raises(shmkit.WrongValueSizeError):
        s[b"efgh"] = b"x"


def test_maps_of_any_size_have_none(store):
    assert store.hash_map("raw", raw=True).fixed_size is None
    assert store.hash_map("typed").fixed_size is None


def test_wrong_sizes_raise_the_typed_exception_and_change_nothing(fm):
    for i in range(10):
        fm[key(i)] = point(i)
    h = fm.set_with_handle(key(3), point(3))
    before = fm.to_dict()
    short, long_key = b"short", b"\0" * 9
    key_cases = [
        lambda: fm.__setitem__(short, point(1)),
        lambda: fm[short],
        lambda: short in fm,
        lambda: fm.get(short, "default"),
        lambda: fm.__delitem__(long_key),
        lambda: fm.pop(b"", None),
        lambda: fm.discard(long_key),
        lambda: fm.setdefault(short, point(1)),
        lambda: fm.compare_and_set(short, shmkit.MISSING, point(1)),
        lambda: fm.handle(short),
        lambda: fm.set_with_handle(short, point(1)),
        lambda: fm.update({short: point(1)}),
    ]
    value_cases = [
        lambda: fm.__setitem__(key(1), b"short"),
        lambda: fm.__setitem__(key(11), point(11) + b"x"),
        lambda: fm.setdefault(key(12), b""),
        lambda: fm.compare_and_set(key(1), point(1), b"bad"),
        lambda: fm.insert_if_absent_with_handle(key(13), b"bad"),
        lambda: fm.set_by_handle(h, b"bad"),
        lambda: fm.update([(key(14), b"bad")]),
        lambda: fm.incr(key(1)),  # a counter is 8 bytes; these values are 16
    ]
    for cases, cls in ((key_cases, shmkit.WrongKeySizeError), (value_cases, shmkit.WrongValueSizeError)):
        for i, call in enumerate(cases):
            with pytest.raises(cls) as e:
                call()
            err = e.value
            assert isinstance(err, shmkit.WrongSizeError), (cls, i)
            assert isinstance(err, ValueError) and isinstance(err, shmkit.Error)
    assert fm.to_dict() == before
    assert fm.get_by_handle(h) == point(3)
    with pytest.raises(shmkit.WrongKeySizeError, match="key of 5 bytes in a map whose keys are 8 bytes"):
        fm[short] = point(1)
    with pytest.raises(shmkit.WrongValueSizeError, match="value of 3 bytes in a map whose values are 16"):
        fm[key(1)] = b"bad"
    # Raw maps take bytes only, whatever the size.
    with pytest.raises(TypeError):
        fm["12345678"] = point(1)


def test_error_classes():
    assert issubclass(shmkit.WrongKeySizeError, shmkit.WrongSizeError)
    assert issubclass(shmkit.WrongValueSizeError, shmkit.WrongSizeError)
    assert issubclass(shmkit.WrongSizeError, shmkit.Error)
    assert issubclass(shmkit.WrongSizeError, ValueError)
    for name in ("WrongSizeError", "WrongKeySizeError", "WrongValueSizeError"):
        cls = getattr(shmkit.errors, name)
        assert name in shmkit.errors.__all__ and getattr(shmkit, name) is cls
        assert cls.__module__ == "shmkit.errors" and cls.__doc__


def test_batches_with_a_wrong_size_fail_whole(fm):
    fm.set_many({key(i): point(i) for i in range(20)})
    assert fm.get_many([key(0), key(19), key(99)], default=b"-") == [point(0), point(19), b"-"]
    before = fm.to_dict()
    with pytest.raises(shmkit.WrongKeySizeError):
        fm.set_many([(key(100), point(100)), (b"1234567", point(101))])
    with pytest.raises(shmkit.WrongValueSizeError):
        fm.set_many({key(100): point(100), key(101): b"\0" * 15})
    assert fm.to_dict() == before, "a refused batch writes nothing"
    with pytest.raises(shmkit.WrongKeySizeError):
        fm.get_many([key(0), b"123456789"])
    with pytest.raises(shmkit.WrongKeySizeError):
        fm.contains_many([b"", key(0)])
    with pytest.raises(shmkit.WrongKeySizeError):
        fm.remove_many([key(0), key(1), b"x"])
    assert fm.to_dict() == before, "a refused removal removes nothing"
    assert fm.remove_many([key(0), key(1), key(99)]) == 2
    assert len(fm) == 18


def test_counters_need_8_byte_values(store):
    c = store.hash_map("counters", raw=True, key_size=4, value_size=8)
    assert c.incr(b"hits") == 1
    assert c.incr(b"hits", 41) == 42
    assert c[b"hits"] == (42).to_bytes(8, "little", signed=True)
    with pytest.raises(shmkit.WrongKeySizeError):
        c.incr(b"hit")
    assert c.to_dict() == {b"hits": (42).to_bytes(8, "little", signed=True)}


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"raw": True, "key_size": 8}, "both or neither"),
        ({"raw": True, "value_size": 8}, "both or neither"),
        ({"key_size": 8, "value_size": 8}, "raw=True"),
        ({"raw": True, "key_size": 0, "value_size": 8}, "at least 1 byte"),
        ({"raw": True, "key_size": 8, "value_size": 1 << 16}, "at most"),
        ({"raw": True, "key_size": -1, "value_size": 8}, "key_size must be between"),
        ({"raw": True, "key_size": 8, "value_size": 1 << 40}, "value_size must be between"),
    ],
)
def test_options_a_map_cannot_have_are_refused_and_create_nothing(store, kwargs, match):
    with pytest.raises(shmkit.InvalidOptionsError, match=match) as e:
        store.hash_map("bad", **kwargs)
    assert isinstance(e.value, ValueError)
    assert "bad" not in store.names()


def test_an_existing_map_opens_with_its_own_sizes_only(store, fm):
    fm[key(1)] = point(1)
    again = store.hash_map("points", raw=True)  # no sizes: any map
    assert again.fixed_size == (8, 16) and again[key(1)] == point(1)
    assert store.hash_map("points", raw=True, key_size=8, value_size=16, create=False).fixed_size == (8, 16)
    with pytest.raises(shmkit.InvalidOptionsError, match="exists with key_size=8 and value_size=16"):
        store.hash_map("points", raw=True, key_size=8, value_size=8)
    with pytest.raises(shmkit.InvalidOptionsError, match="open it with raw=True"):
        store.hash_map("points")
    with pytest.raises(shmkit.InvalidOptionsError, match="open it with raw=True"):
        store.hash_map("points", create=False, exact_keys=True)
    store.hash_map("any", raw=True)
    with pytest.raises(shmkit.InvalidOptionsError, match="exists with keys and values of any length"):
        store.hash_map("any", raw=True, key_size=8, value_size=16)


def test_stats_show_the_slabs(store, fm):
    empty = fm.stats()
    assert empty["entries"] == 0 and empty["bytes_per_entry"] == 0
    for i in range(1000):
        fm[key(i)] = point(i)
    s = fm.stats()
    assert s["entries"] == 1000
    # A record: 8 bytes of checksum and reserve, the key, the value (each a multiple of 8).
    assert s["slab_bytes"] >= 1000 * 32
    assert s["slab_bytes"] <= s["bytes_used"]
    assert s["bytes_per_entry"] == pytest.approx(s["bytes_used"] / 1000)
    assert isinstance(s["slab_bytes"], int) and isinstance(s["bytes_per_entry"], float)
    assert store.hash_map("any", raw=True).stats()["slab_bytes"] == 0


def test_pickled_handle_keeps_the_sizes(fm):
    fm[key(1)] = point(1)
    again = pickle.loads(pickle.dumps(fm))
    assert again.fixed_size == (8, 16) and again.raw and again[key(1)] == point(1)
    with pytest.raises(shmkit.WrongKeySizeError):
        again[b"x"] = point(1)


@pytest.mark.parametrize("method", ["spawn", "fork"])
def test_another_process_reads_what_this_one_wrote(fm, method):
    for i in range(50):
        fm[key(i)] = point(i)
    ctx = multiprocessing.get_context(method)
    with ctx.Pool(1) as pool:
        sizes, raw, values, refused = pool.apply_async(
            _workers.fixed_map_read_and_write, (fm, [key(0), key(49)], key(50), point(50))
        ).get(JOIN_TIMEOUT)
        opened = pool.apply_async(
            _workers.fixed_map_open_by_name, (fm.store_name, "points")
        ).get(JOIN_TIMEOUT)
    assert sizes == (8, 16) and raw
    assert values == [point(0), point(49)]
    assert refused == "WrongKeySizeError"
    assert fm[key(50)] == point(50), "the child's write is seen here"
    child_sizes, child_items, refusals = opened
    assert child_sizes == (8, 16)
    assert child_items == fm.to_dict() and len(child_items) == 51
    assert "open it with raw=True" in refusals[0]
    assert "exists with key_size=8 and value_size=16" in refusals[1]
