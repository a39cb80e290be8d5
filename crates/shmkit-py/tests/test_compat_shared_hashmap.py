"""The contract of shmkit.compat.shared_hashmap.SharedHashMap (shared-hashmap 0.2.0)."""

from __future__ import annotations

import multiprocessing
import threading

import pytest

import shmkit
from shmkit.compat.shared_hashmap import SharedHashMap, _store_name

import _workers


@pytest.fixture
def hm_name(unique):
    """A unique map name (it carries the run prefix, so its store is swept if a test fails)."""
    name = unique("-compat")
    yield name
    for store in (_store_name(name), _store_name(name + "d")):
        try:
            shmkit.remove(store)
        except FileNotFoundError:
            pass


@pytest.fixture
def hm(hm_name):
    h = SharedHashMap(hm_name, capacity=64)
    yield h
    h.close()


def test_constructor_defaults_and_attach_reads_metadata(hm_name):
    a = SharedHashMap(hm_name, capacity=32, max_key_size=128, max_value_size=256)
    assert (a.name, a.capacity, a.max_key_size, a.max_value_size) == (hm_name, 32, 128, 256)
    b = SharedHashMap(hm_name, create=False)
    assert (b.capacity, b.max_key_size, b.max_value_size) == (32, 128, 256)
    assert b.bucket_size == a.bucket_size and b.total_size == a.total_size
    d = SharedHashMap(hm_name + "d")
    assert (d.capacity, d.max_key_size, d.max_value_size) == (1024, 256, 1024)
    d.close()
    d.unlink()


def test_attach_missing_is_file_not_found(hm_name):
    with pytest.raises(FileNotFoundError) as e:
        SharedHashMap(hm_name, create=False)
    assert str(e.value) == f"[Errno 2] No such file or directory: '/{hm_name}'"


def test_create_existing_is_file_exists(hm, hm_name):
    with pytest.raises(FileExistsError) as e:
        SharedHashMap(hm_name)
    assert str(e.value) == f"[Errno 17] File exists: '/{hm_name}'"


def test_methods(hm):
    hm.set("k", "v")
    assert hm.get("k") == "v"
    assert hm.get("missing") is None
    assert hm.get("missing", "d") == "d"
    assert "k" in hm and "missing" not in hm
    assert hm.size() == 1
    hm.set("k", "v2")
    assert hm.size() == 1
    assert hm.delete("k") is True
    assert hm.delete("k") is False
    assert hm.size() == 0


def test_dict_operators(hm):
    hm["a"] = 1
    assert hm["a"] == 1
    hm["none"] = None
    assert hm["none"] is None
    with pytest.raises(KeyError) as e:
        hm["missing"]
    assert str(e.value) == "'missing'"
    del hm["a"]
    with pytest.raises(KeyError):
        del hm["a"]


@pytest.mark.parametrize(
    "value",
    ["", "text", "ünï ☃", b"", b"\x00\xff", 0, -1, 2**63 - 1, -(2**63), 2**100, None,
     [1, 2], {"a": (1, 2)}, {1, 2}, 1.5, True, False, bytearray(b"x")],
    ids=repr,
)
def test_round_trip_keeps_type(hm, value):
    hm.set("k", value)
    got = hm.get("k")
    assert got == value and type(got) is type(value)


def test_keys_match_by_exact_type_like_the_original(hm):
    for key in (1, "1", b"1", True, 1.0, None, (1, 2)):
        hm.set(key, repr(key))
    assert hm.size() == 7
    for key in (1, "1", b"1", True, 1.0, None, (1, 2)):
        assert hm.get(key) == repr(key)


def test_size_limits_name_the_size(hm_name):
    h = SharedHashMap(hm_name, capacity=8, max_key_size=32, max_value_size=64)
    with pytest.raises(ValueError, match=r"^Serialized key size 100 exceeds maximum 32$"):
        h.set("x" * 100, "v")
    with pytest.raises(ValueError, match=r"^Serialized value size 200 exceeds maximum 64$"):
        h.set("k", "x" * 200)
    # Sizes are measured as the original serializes: UTF-8 bytes, int digits, pickles.
    with pytest.raises(ValueError, match="key size 33 "):
        h.set("é" * 16 + "x", 1)
    h.set("é" * 16, 1)  # 32 bytes: fits
    with pytest.raises(ValueError, match="value size 65 "):
        h.set("k", 10**64)
    h.set("k", 10**63)  # 64 digits: fits
    with pytest.raises(ValueError, match="value size"):
        h.set("k", list(range(100)))
    assert h.size() == 2  # the refused writes changed nothing
    h.close()


def test_capacity_is_not_a_limit(hm_name):
    h = SharedHashMap(hm_name, capacity=2, max_key_size=32, max_value_size=32)
    for i in range(500):
        h.set(f"key{i}", i)
    assert h.size() == 500
    h.close()


def test_close_keeps_data_and_unlink_removes_it(hm_name):
    with SharedHashMap(hm_name, capacity=16) as h:
        h.set("k", "v")
    with pytest.raises(shmkit.ClosedError):
        h.get("k")
    with SharedHashMap(hm_name, create=False) as again:
        assert again.get("k") == "v"
    again.unlink()  # after close, as the original allows
    with pytest.raises(FileNotFoundError):
        SharedHashMap(hm_name, create=False)
    with pytest.raises(FileNotFoundError):
        again.unlink()


def test_threads_overlapping_write_all_keys(hm):
    """The upstream concurrent test, with threads that really overlap (a barrier)."""
    barrier = threading.Barrier(4)

    def worker(t):
        barrier.wait()
        for i in range(250):
            key = f"thread_{t}_{i}"
            hm.set(key, f"value_{i}")
            assert hm.get(key) == f"value_{i}"

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert hm.size() == 1000


@pytest.mark.parametrize("method", ["spawn", "fork"])
def test_processes(hm, hm_name, method):
    ctx = multiprocessing.get_context(method)
    procs = [ctx.Process(target=_workers.compat_worker, args=(hm_name, j * 100, 100)) for j in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    assert hm.size() == 300
    assert all(hm.get(f"key-{i}") == {"i": i} for i in range(300))


def test_unusual_names_map_to_valid_stores(hm_name, track_store):
    # A leading "/" is dropped (POSIX shared-memory style); other names a store name cannot
    # hold are hashed, so those stores cannot carry the run prefix: tracked for removal.
    unusual = {
        "/" + hm_name: "shared_hashmap.n." + hm_name,
        "with space " + hm_name: None,
        "ünï-" + hm_name: None,
        "a/b-" + hm_name: None,
    }
    for name, expected_store in unusual.items():
        store = track_store(_store_name(name))
        if expected_store is None:
            assert store.startswith("shared_hashmap.h."), store
        else:
            assert store == expected_store
        h = SharedHashMap(name)
        h.set("k", 1)
        assert SharedHashMap(name, create=False).get("k") == 1
        h.close()
        h.unlink()
    assert len({_store_name(name) for name in unusual}) == len(unusual)
    assert _store_name("x") != _store_name("y")
    assert _store_name("/x") == _store_name("x")
