"""shmkit.OrderedMap: a model test against a dict kept sorted (random operations, ranges
with every inclusivity both ways, prefixes, counts, neighbours, popitem at both ends, incr,
compare_and_set), typed keys sorted as Python sorts them, the MutableMapping interface,
errors, scans in processes while others write, pickling into a Pool worker."""

from __future__ import annotations

import math
import multiprocessing
import pickle
import random
from collections.abc import MutableMapping

import pytest

import shmkit

import _workers

# --- the model --------------------------------------------------------------------------


def canon(k):
    """The key as the map returns it: bools and integral floats are ints (as dict keys
    compare), -0.0 is 0, tuples element by element."""
    if isinstance(k, tuple):
        return tuple(canon(e) for e in k)
    if isinstance(k, bool):
        return int(k)
    if isinstance(k, float) and k.is_integer():
        return int(k)
    return k


def rank(k):
    """Python's order within a type; across types None < numbers < bytes < str < tuple (the
    order the keys need where Python would raise)."""
    if k is None:
        return (0,)
    if isinstance(k, (int, float)):
        return (1, k)
    if isinstance(k, bytes):
        return (2, k)
    if isinstance(k, str):
        return (3, k)
    return (4, tuple(rank(e) for e in k))


def extends(k, prefix) -> bool:
    """Whether `k` is under `prefix`: a tuple starting with its elements, or a str (bytes)
    starting with it."""
    if isinstance(prefix, tuple):
        return isinstance(k, tuple) and len(k) >= len(prefix) and canon(k[: len(prefix)]) == canon(prefix)
    return type(k) is type(prefix) and k.startswith(prefix)


def value_len(v) -> int:
    """Bytes of a value as stored (the shared typed encoding, docs/FORMAT.md)."""
    if isinstance(v, bytes):
        return 1 + len(v)
    if isinstance(v, str):
        return 1 + len(v.encode())
    if v is None or isinstance(v, bool):
        return 1
    if isinstance(v, float) or (isinstance(v, int) and -(2**63) <= v < 2**63):
        return 9
    if isinstance(v, int):  # minimal two's complement
        return 1 + (v if v >= 0 else ~v).bit_length() // 8 + 1
    return 2 + len(pickle.dumps(v, protocol=5))


def selected(model, start=None, stop=None, prefix=None, reverse=False, inclusive=(True, False)):
    keys = sorted(model, key=rank)
    if prefix is not None:
        keys = [k for k in keys if extends(k, prefix)]
    if start is not None:
        lo = rank(canon(start))
        keys = [k for k in keys if rank(k) > lo or (inclusive[0] and rank(k) == lo)]
    if stop is not None:
        hi = rank(canon(stop))
        keys = [k for k in keys if rank(k) < hi or (inclusive[1] and rank(k) == hi)]
    return keys[::-1] if reverse else keys


KEYS = [
    None, False, True, 0, -1, 1, 2, 1.0, 2.5, -0.25, -3.75, 2**70, -(2**70), 2**64 - 1, -(2**100),
    1e300, -1e300, math.inf, -math.inf, 5e-324,
    b"", b"\0", b"a", b"a\0", b"a\xff", b"ab", b"b", b"\xff",
    "", "\0", "a", "a\0", "ab", "abc", "b", "é", "\U0010ffff", "user:", "user:ada", "user:bob", "usex",
    (), (None,), (1,), (1.0, "a"), (1, "a", None), (1, "b"), (1, ("x", 2)), (1, ("x", 2), 3), (1, ("x",)),
    (2,), (2.5, b"z"), ("user", 1), ("user", 2), ("user", 2, "x"), ("usex",), (b"",), (b"\0",), ((),), (((1,),),),
]
PREFIXES = [(), (1,), (1, ("x", 2)), ("user",), (b"",), (2.5,), "", "a", "a\0", "user:", "u", b"", b"a", b"a\0"]
VALUES = [0, 1, -5, 2.5, "text", b"raw", [1, 2], None]


def check_against(m, model):
    want = sorted(model, key=rank)
    assert list(m) == want
    assert list(reversed(m)) == want[::-1]
    assert list(m.items()) == [(k, model[k]) for k in want]
    assert len(m) == len(model)
    assert m.bytes_in() == sum(len(shmkit.encode_key(k)) + value_len(v) for k, v in model.items())


def test_model_against_a_sorted_dict(store):
    rng = random.Random(20240611)
    m = store.ordered_map("om")
    model = {}
    pick = lambda seq: seq[rng.randrange(len(seq))]  # noqa: E731
    for step in range(3000):
        k = pick(KEYS)
        c = canon(k)
        op = rng.randrange(14)
        if op < 4:
            v = pick(VALUES)
            m[k] = v
            model[c] = v
        elif op == 4:
            if c in model:
                del m[k]
                del model[c]
            else:
                with pytest.raises(KeyError):
                    del m[k]
        elif op == 5:
            assert (k in m) == (c in model)
            assert m.get(k, "absent") == model.get(c, "absent")
        elif op == 6:
            assert m.pop(k, "absent") == model.pop(c, "absent")
        elif op == 7:
            last = rng.random() < 0.5
            if model:
                want = sorted(model, key=rank)[-1 if last else 0]
                assert m.popitem(last=last) == (want, model.pop(want))
            else:
                with pytest.raises(KeyError):
                    m.popitem(last=last)
        elif op == 8:
            delta = pick([1, -2, 2**65, 0.5])
            cur = model.get(c, 0)
            if isinstance(cur, (int, float)) and not isinstance(cur, bool) and cur is not None:
                assert m.incr(k, delta) == cur + delta
                model[c] = cur + delta
            else:
                with pytest.raises(shmkit.NotAnIntegerError):
                    m.incr(k, delta)
        elif op == 9:
            expected = pick([shmkit.MISSING, model.get(c, shmkit.MISSING), pick(VALUES)])
            new = pick([shmkit.MISSING, pick(VALUES)])
            cur = model.get(c, shmkit.MISSING)
            holds = (expected is shmkit.MISSING and cur is shmkit.MISSING) or (
                cur is not shmkit.MISSING and expected is not shmkit.MISSING
                and type(cur) is type(expected) and cur == expected)
            assert m.compare_and_set(k, expected, new) == holds
            if holds:
                if new is shmkit.MISSING:
                    model.pop(c, None)
                else:
                    model[c] = new
        elif op == 10:
            v = pick(VALUES)
            assert m.setdefault(k, v) == model.setdefault(c, v)
        elif op == 11:
            start, stop = pick(KEYS + [None]), pick(KEYS + [None])
            inclusive = (rng.random() < 0.5, rng.random() < 0.5)
            reverse = rng.random() < 0.5
            want = selected(model, start, stop, reverse=reverse, inclusive=inclusive)
            kw = dict(reverse=reverse, inclusive=inclusive)
            assert list(m.keys(start, stop, **kw)) == want
            assert list(m.items(start, stop, **kw)) == [(x, model[x]) for x in want]
            assert list(m.values(start, stop, **kw)) == [model[x] for x in want]
            kw.pop("reverse")
            assert m.count(start, stop, **kw) == len(want)
            assert m.bytes_in(start, stop, **kw) == sum(
                len(shmkit.encode_key(x)) + value_len(model[x]) for x in want)
        elif op == 12:
            p = pick(PREFIXES)
            reverse = rng.random() < 0.5
            want = selected(model, prefix=p, reverse=reverse)
            assert list(m.items(prefix=p, reverse=reverse)) == [(x, model[x]) for x in want]
            assert m.count(prefix=p) == len(want)
        else:
            want = sorted(model, key=rank)
            r = rank(c)
            below = [x for x in want if rank(x) < r]
            above = [x for x in want if rank(x) > r]
            at = [x for x in want if rank(x) == r]
            item = lambda x: (x, model[x])  # noqa: E731
            assert m.floor(k) == (item((below + at)[-1]) if below + at else None)
            assert m.lower(k) == (item(below[-1]) if below else None)
            assert m.ceiling(k) == (item((at + above)[0]) if at + above else None)
            assert m.higher(k) == (item(above[0]) if above else None)
            assert m.first() == (item(want[0]) if want else None)
            assert m.last() == (item(want[-1]) if want else None)
            for i in (0, 1, -1, -2):
                if -len(want) <= i < len(want):
                    assert m.peekitem(i) == item(want[i])
                else:
                    with pytest.raises(IndexError):
                        m.peekitem(i)
        if step % 250 == 0:
            check_against(m, model)
    check_against(m, model)
    assert m.verify()["clean"]
    m.clear()
    assert len(m) == 0 and m.first() is None and list(m) == []


def test_keys_sort_as_python_sorts_them_within_a_type(store):
    rng = random.Random(3)
    m = store.ordered_map("om")
    ints = {rng.choice([rng.randint(-10**40, 10**40), rng.randint(-300, 300), rng.randint(-2**64, 2**64)])
            for _ in range(400)}
    floats = {rng.uniform(-1e6, 1e6) for _ in range(200)} | {0.5, -0.5, 1e-300, 2.0**60 + 0.5 * 2**8}
    numbers = ints | floats
    strs = {"".join(rng.choice("ab\0é\U0001f600") for _ in range(rng.randrange(5))) for _ in range(200)}
    byts = {bytes(rng.choice([0, 1, 97, 255]) for _ in range(rng.randrange(5))) for _ in range(200)}
    tuples = {(rng.randint(-2, 2), rng.choice(["", "a", "ab"]), (rng.random() < 0.5, rng.choice([b"", b"x"])))[
        : rng.randrange(4)] for _ in range(300)}
    for group in (numbers, strs, byts, tuples):
        for k in group:
            m[k] = 0
    assert list(m.keys(stop=b"")) == sorted(canon(k) for k in numbers)
    assert list(m.keys(b"", "")) == sorted(byts)
    assert list(m.keys("", ())) == sorted(strs)
    assert list(m.keys(())) == sorted({canon(t) for t in tuples})
    # Ints beyond floats' precision keep their exact place among floats.
    m.clear()
    big = 2**53
    for k in (big, big + 1, float(big), float(big + 2), big + 3):
        m[k] = k
    assert list(m.items()) == [(big, float(big)), (big + 1, big + 1), (big + 2, float(big + 2)), (big + 3, big + 3)]


def test_bools_and_integral_floats_are_the_ints_they_equal(store):
    m = store.ordered_map("om")
    m[True] = "t"
    m[1.0] = "f"
    m[(2.0, False)] = "tuple"
    m[-0.0] = "zero"
    assert len(m) == 3
    assert m[1] == "f" and m[True] == "f" and m[(2, 0)] == "tuple" and m[0] == "zero"
    assert list(m) == [0, 1, (2, 0)]
    assert all(type(k) is int for k in list(m)[:2])
    assert m.incr(1.5, 1) == 1 and m[1.5] == 1  # 1.5 is not integral: its own key


def test_dict_interface(store):
    m = store.ordered_map("om")
    assert isinstance(m, MutableMapping)
    m.update({"b": 2}, a=1)
    m.update([("c", 3)])
    assert m == {"a": 1, "b": 2, "c": 3} and m != {"a": 1}
    assert dict(m) == {"a": 1, "b": 2, "c": 3}
    assert m.setdefault("a", 9) == 1 and m.setdefault("d") is None and m["d"] is None
    assert m.pop("d") is None and m.pop("d", "gone") == "gone"
    with pytest.raises(KeyError):
        m.pop("d")
    with pytest.raises(KeyError):
        m["zz"]
    assert m.get("zz") is None and m.get("zz", 5) == 5
    with pytest.raises(TypeError):
        hash(m)
    it = m.items()
    assert iter(it) is it and next(it) == ("a", 1)
    assert list(it) == [("b", 2), ("c", 3)]
    assert m.kind == "ordered_map" and m.name == "om"
    assert m.stats()["entries"] == 3 and m.verify()["entries"] == 3
    assert m.popitem(last=False) == ("a", 1) and m.popitem() == ("c", 3)
    assert m.peekitem() == ("b", 2) and m.peekitem(0) == ("b", 2)
    with pytest.raises(IndexError):
        m.peekitem(1)
    m.clear()
    with pytest.raises(KeyError):
        m.popitem()
    with pytest.raises(IndexError):
        m.peekitem()
    assert m.first() is None and m.last() is None and m.floor(5) is None


def test_ranges_inclusivity_and_prefixes(store):
    m = store.ordered_map("om")
    for i in range(10):
        m[i] = i * i
    both = [(True, True), (True, False), (False, True), (False, False)]
    expect = {(True, True): [3, 4, 5, 6], (True, False): [3, 4, 5], (False, True): [4, 5, 6], (False, False): [4, 5]}
    for inc in both:
        assert list(m.keys(3, 6, inclusive=inc)) == expect[inc]
        assert list(m.keys(3, 6, inclusive=inc, reverse=True)) == expect[inc][::-1]
        assert m.count(3, 6, inclusive=inc) == len(expect[inc])
        # Bounds that are not keys, and of another type, work alike.
        assert list(m.keys(2.5, 6.5, inclusive=inc)) == [3, 4, 5, 6]
    assert list(m.keys(stop=3)) == [0, 1, 2] and list(m.keys(7)) == [7, 8, 9]
    assert list(m.values(8, reverse=True)) == [81, 64]
    assert list(m.keys(6, 3)) == [] and m.count(6, 3) == 0

    m.clear()
    for k in [("user", 1), ("user", 1, "x"), ("user", 2), ("users", 1), ("user",), "user:ada", "user:bob",
              "user", "users", b"user:1", b"us", ("user", b"", 1), ("user", b"\0", 1)]:
        m[k] = 1
    assert list(m.keys(prefix=("user",))) == [("user",), ("user", 1), ("user", 1, "x"), ("user", 2),
                                              ("user", b"", 1), ("user", b"\0", 1)]
    assert list(m.keys(prefix=("user", 1))) == [("user", 1), ("user", 1, "x")]
    # A tuple prefix's elements are whole: ("user", b"") is not extended by ("user", b"\0").
    assert list(m.keys(prefix=("user", b""))) == [("user", b"", 1)]
    assert list(m.keys(prefix="user")) == ["user", "user:ada", "user:bob", "users"]
    assert list(m.keys(prefix="user:", reverse=True)) == ["user:bob", "user:ada"]
    assert list(m.keys(prefix=b"us")) == [b"us", b"user:1"]
    assert list(m.keys(prefix="")) == ["user", "user:ada", "user:bob", "users"]
    assert m.count(prefix=("user",)) == 6 and m.count(prefix="user:") == 2
    assert m.bytes_in(prefix="user:") == sum(len(shmkit.encode_key(k)) + 9 for k in ("user:ada", "user:bob"))
    assert m.bytes_in() == m.stats()["entry_bytes"]


def test_iteration_while_the_map_changes(store):
    m = store.ordered_map("om")
    for i in range(0, 3000, 3):
        m[i] = i
    seen = []
    for k in m:
        seen.append(k)
        if k % 2 == 0:
            m[k + 1] = "new"        # after the cursor: may or may not be seen
            m.pop(k + 3, None)      # a key not yet reached goes away
    stable = [k for k in range(0, 3000, 3) if (k - 3) % 2 != 0 or k < 3]
    assert seen == sorted(set(seen))
    assert set(stable) <= set(seen)


def test_errors(store):
    m = store.ordered_map("om")
    for bad in ([1], {1: 2}, {1}, bytearray(b"x"), (1, [2]), object()):
        with pytest.raises(TypeError):
            m[bad] = 1
        with pytest.raises(TypeError):
            m[bad]
        with pytest.raises(TypeError):
            bad in m  # noqa: B015
        with pytest.raises(TypeError):
            m.items(bad)
    with pytest.raises(TypeError):
        m.items(prefix=5)
    with pytest.raises(ValueError):
        m.items(1, prefix=(1,))
    with pytest.raises(shmkit.KeyTooLargeError) as e:
        m["x" * 70_000] = 1
    assert isinstance(e.value, ValueError)
    with pytest.raises(shmkit.KeyTooLargeError):
        m["x" * 70_000]
    with pytest.raises(shmkit.KeyTooLargeError):
        list(m.items("x" * 70_000))
    with pytest.raises(OverflowError):
        m[2 ** (2**20)] = 1
    m["s"] = "text"
    with pytest.raises(shmkit.NotAnIntegerError):
        m.incr("s")
    assert m["s"] == "text"
    with pytest.raises(TypeError):
        m.incr("n", True)
    with pytest.raises(TypeError):
        m.incr("n", "1")
    assert m.incr("n") == 1 and m.incr("n", 2**70) == 2**70 + 1 and m.incr("n", 0.5) == float(2**70 + 1) + 0.5
    with pytest.raises(shmkit.KeyNotFoundError):
        del m["missing"]
    store.hash_map("h")
    with pytest.raises(shmkit.WrongKindError):
        store.ordered_map("h")
    with pytest.raises(shmkit.WrongKindError):
        store.hash_map("om")
    with pytest.raises(shmkit.ObjectNotFoundError):
        store.ordered_map("absent", create=False)
    m.close()
    with pytest.raises(shmkit.ClosedError):
        m["s"]
    with pytest.raises(shmkit.ClosedError):
        m.items()


def test_a_handle_pickles_into_a_pool_worker(store):
    m = store.ordered_map("om")
    m["p-0"] = "before"
    assert pickle.loads(pickle.dumps(m))["p-0"] == "before"
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        pool.apply(_workers.write_range, (m, "p", 50))
        assert pool.apply(_workers.read_value, (m, "p-7")) == 7
    assert list(m.keys(prefix="p-")) == sorted(f"p-{i}" for i in range(50))
    assert m.verify()["clean"]


@pytest.mark.slow
def test_scans_in_two_processes_while_four_write(store):
    """4 writers set and delete keys of disjoint ranges while 2 processes scan the whole map
    (one forwards, one backwards) and windows of it: every scan is in order, has no key
    twice and has every key that was there throughout (the multiples of 10, which nobody
    writes)."""
    writers, span = 4, 10_000
    m = store.ordered_map("om")
    ctl = store.atomic_vector("ctl", 2)
    for k in range(0, writers * span, 10):
        m[k] = "stable"
    with multiprocessing.get_context("spawn").Pool(6) as pool:
        scans = [pool.apply_async(_workers.ordered_map_scan, (m, ctl, writers, writers * span, rev))
                 for rev in (False, True)]
        churn = [pool.apply_async(_workers.ordered_map_churn, (m, ctl, w, span, 40_000, 2))
                 for w in range(writers)]
        left = [c.get(timeout=300) for c in churn]
        counts = [s.get(timeout=300) for s in scans]
    assert all(c >= 3 for c in counts)
    expected = set(range(0, writers * span, 10)).union(*map(set, left))
    assert list(m) == sorted(expected)
    assert m.verify()["clean"]
