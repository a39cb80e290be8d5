"""shmkit.AtomicVector: element and bit operations, Python indexing, errors, pickling and
processes sharing a vector (spawn children)."""

from __future__ import annotations

import multiprocessing
import pickle

import pytest

import shmkit

import _workers
from _support import wait_until

I64_MAX = 2**63 - 1
I64_MIN = -(2**63)


@pytest.fixture
def v(store):
    return store.atomic_vector("v", 4)


def test_basic_operations(v):
    assert len(v) == 4 and v.kind == "atomic_vector" and v.name == "v"
    assert list(v[:]) == [0, 0, 0, 0]
    v[0] = 5
    assert v[0] == 5 and v.load(0) == 5
    v.store(1, 7)
    assert v.exchange(1, 8) == 7 and v[1] == 8
    assert v.compare_exchange(1, 8, 9) == (True, 8)
    assert v.compare_exchange(1, 8, 10) == (False, 9)
    assert v.add(2, 10) == 0 and v.sub(2, 3) == 10 and v[2] == 7
    assert v.and_(2, 6) == 7 and v[2] == 6
    assert v.or_(2, 1) == 6 and v[2] == 7
    assert v.xor(2, 5) == 7 and v[2] == 2
    assert v.add(3, I64_MAX) == 0 and v.add(3, 1) == I64_MAX and v[3] == I64_MIN  # wraps
    v[3] = -1
    assert v[3] == -1


def test_bits(v):
    assert v.bit_len() == 256
    assert v.set_bit(65) is False and v.set_bit(65) is True
    assert v[1] == 2 and v.get_bit(65) is True
    assert v.flip_bit(0) is False and v[0] == 1
    assert v.clear_bit(0) is True and v[0] == 0
    assert v.set_bit(-1) is False and v[3] == I64_MIN  # the last bit
    with pytest.raises(IndexError):
        v.get_bit(256)
    with pytest.raises(shmkit.IndexOutOfRangeError):
        v.set_bit(-257)


def test_negative_indices_and_slices(v):
    for i in range(4):
        v[i] = i * 10
    assert v[-1] == 30 and v[-4] == 0 and v.load(-2) == 20
    v[-1] = 31
    assert v.add(-1, 1) == 31 and v[3] == 32
    assert v[1:3] == [10, 20]
    assert v[::2] == [0, 20] and v[::-1] == [32, 20, 10, 0]
    assert v[-2:] == [20, 32] and v[10:] == [] and v[3:1] == []
    assert list(v) == [0, 10, 20, 32]


def test_index_errors(v):
    for bad in (4, 100, -5):
        with pytest.raises(IndexError) as e:
            v[bad]
        assert isinstance(e.value, shmkit.IndexOutOfRangeError)
        assert isinstance(e.value, shmkit.Error)
        with pytest.raises(IndexError):
            v[bad] = 1
        with pytest.raises(IndexError):
            v.add(bad, 1)
    with pytest.raises(TypeError):
        v["0"]


def test_overflow_errors(v):
    for bad in (I64_MAX + 1, I64_MIN - 1, 2**100):
        with pytest.raises(OverflowError):
            v[0] = bad
        with pytest.raises(OverflowError):
            v.add(0, bad)
        with pytest.raises(OverflowError):
            v.compare_exchange(0, 0, bad)
    assert v[0] == 0
    v[0] = I64_MIN
    assert v[0] == I64_MIN


def test_expand_and_minimum_length(store, v):
    v[3] = 3
    v.expand(1000)
    assert len(v) == 1000 and v[999] == 0 and v[3] == 3 and v[-1] == 0
    v.expand(10)  # never shrinks
    assert len(v) == 1000
    assert len(store.atomic_vector("v", 2000)) == 2000 and len(v) == 2000
    assert len(store.atomic_vector("v", 5)) == 2000
    with pytest.raises(OverflowError):
        v.expand(-1)


def test_open_only_and_wrong_kind(store):
    with pytest.raises(shmkit.ObjectNotFoundError):
        store.atomic_vector("nothing", create=False)
    store.hash_map("m")
    with pytest.raises(shmkit.WrongKindError):
        store.atomic_vector("m", 4)
    store.atomic_vector("v", 4)
    with pytest.raises(shmkit.WrongKindError):
        store.hash_map("v")
    assert len(store.atomic_vector("v", create=False)) == 4
    assert ("v", "atomic_vector") in store.objects()


def test_base_class_operations(store, v):
    assert isinstance(v, shmkit.SharedObject)
    assert repr(v).startswith('shmkit.AtomicVector("v"')
    report = v.verify()
    assert report["clean"] and report["elements"] == 4
    assert v.repair()["clean"]
    assert v.stats()["elements"] == 4
    with v as same:
        same[0] = 1
    assert v.closed
    with pytest.raises(shmkit.ClosedError):
        v[0]
    with pytest.raises(shmkit.ClosedError):
        v.add(0, 1)
    assert store.atomic_vector("v")[0] == 1


def test_handles_pickle_by_name(store, v):
    v[2] = 42
    v2 = pickle.loads(pickle.dumps(v))
    assert type(v2) is shmkit.AtomicVector and v2[2] == 42 and len(v2) == 4
    v2.add(2, 1)
    assert v[2] == 43


def test_wait_returns(v):
    v[0] = 3
    assert v.wait(0, 1) == "not_equal"
    assert v.wait(0, 3, timeout=0.01) == "timed_out"
    assert v.wait(0, 3, 0) == "timed_out"
    with pytest.raises(ValueError):
        v.wait(0, 3, -1)
    v.notify(0)


def test_pickled_handle_in_spawn_child(v):
    v[1] = 11
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(1) as pool:
        assert pool.apply(_workers.vector_read, (v, 1)) == (4, 11)


def test_two_processes_add_exactly(v):
    per_process = 20_000
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(2) as pool:
        results = [pool.apply_async(_workers.vector_add_many, (v, 0, per_process)) for _ in range(2)]
        for r in results:
            r.get(timeout=120)
    assert v[0] == 2 * per_process


def test_wait_woken_by_another_process(v):
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(1) as pool:
        result = pool.apply_async(_workers.vector_wait, (v, 0, 0, 60.0))
        wait_until(lambda: v[1] == 1, "the child is about to wait")
        v.store(0, 7)
        outcome, seen = result.get(timeout=120)
    # The child may have started waiting after the store ("not_equal") or before it.
    assert outcome in ("changed", "not_equal") and seen == 7
