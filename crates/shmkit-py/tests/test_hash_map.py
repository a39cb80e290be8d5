"""HashMap behaves like a dict: every method, views, equality, closed handles."""

from __future__ import annotations

import collections.abc
import pickle

import pytest

import shmkit


def test_is_a_mutable_mapping(m):
    assert isinstance(m, collections.abc.MutableMapping)
    assert isinstance(m, collections.abc.Mapping)


def test_item_access(m):
    m["a"] = 1
    assert m["a"] == 1
    m["a"] = 2
    assert m["a"] == 2
    del m["a"]
    with pytest.raises(KeyError) as e:
        m["a"]
    assert isinstance(e.value, shmkit.KeyNotFoundError)
    assert e.value.args == ("a",)
    with pytest.raises(KeyError):
        del m["a"]


def test_get_contains_len(m):
    assert len(m) == 0
    assert m.get("x") is None
    assert m.get("x", 7) == 7
    m["x"] = None
    assert m.get("x", 7) is None
    assert "x" in m
    assert "y" not in m
    assert len(m) == 1


def test_iteration_and_views(m):
    data = {"a": 1, "b": b"2", 3: "c", None: [4]}
    m.update(data)
    assert sorted(map(repr, m)) == sorted(map(repr, data))
    assert len(m.keys()) == 4
    assert set(m.keys()) == {"a", "b", 3, None}
    assert sorted(map(repr, m.values())) == sorted(map(repr, data.values()))
    assert dict(m.items()) == data
    assert ("a", 1) in m.items()
    assert ("a", 2) not in m.items()
    assert "b" in m.keys()
    assert list(iter(m)) and all(k in data for k in m)


def test_iteration_tolerates_concurrent_changes(m):
    for i in range(100):
        m[i] = i
    seen = []
    for k in m:
        seen.append(k)
        m.pop(k)  # changing the map while iterating never raises
        m[k + 1000] = 0
    # Weakly consistent, like the core iterator: every key present for the whole iteration
    # is seen exactly once; keys inserted meanwhile may or may not be seen (the iterator
    # copies one shard at a time, so memory stays bounded by a shard, not the map).
    original = [k for k in seen if k < 1000]
    assert sorted(original) == list(range(100))
    assert len(set(seen)) == len(seen)


def test_popitem_drains_every_item_once(m):
    for i in range(500):
        m[i] = str(i)
    popped = [m.popitem() for _ in range(500)]
    assert sorted(popped) == sorted((i, str(i)) for i in range(500))
    assert len(m) == 0
    with pytest.raises(KeyError):
        m.popitem()


def test_pop(m):
    m["k"] = "v"
    assert m.pop("k") == "v"
    assert m.pop("k", "default") == "default"
    assert m.pop("k", None) is None
    with pytest.raises(KeyError):
        m.pop("k")
    with pytest.raises(TypeError):
        m.pop("k", 1, 2)


def test_popitem(m):
    m["only"] = 1
    assert m.popitem() == ("only", 1)
    with pytest.raises(KeyError):
        m.popitem()


def test_setdefault(m):
    assert m.setdefault("k", [1]) == [1]
    assert m.setdefault("k", [2]) == [1]
    assert m.setdefault("n") is None
    assert "n" in m and m["n"] is None


def test_update_forms(m):
    m.update({"a": 1})
    m.update([("b", 2)])
    m.update(c=3)
    m.update({"d": 4}, e=5)
    m.update(collections.OrderedDict(f=6))
    assert m.to_dict() == {"a": 1, "b": 2, "c": 3, "d": 4, "e": 5, "f": 6}
    with pytest.raises(ValueError):
        m.update([("x", 1, 2)])
    with pytest.raises(TypeError):
        m.update({}, {})


def test_clear(m):
    m.update({i: i for i in range(50)})
    m.clear()
    assert len(m) == 0
    assert list(m) == []


def test_equality_with_dict(m, store):
    m.update({"a": 1, 2: "b"})
    assert m == {"a": 1, 2: "b"}
    assert {"a": 1, 2: "b"} == m
    assert m != {"a": 1}
    assert m != [("a", 1)]
    assert m == store.hash_map("m")
    other = store.hash_map("other")
    other.update({"a": 1, 2: "b"})
    assert m == other
    with pytest.raises(TypeError):
        hash(m)


def test_discard(m):
    m["k"] = 1
    assert m.discard("k") is True
    assert m.discard("k") is False


def test_compare_and_set(m):
    assert m.compare_and_set("k", shmkit.MISSING, "v1") is True
    assert m.compare_and_set("k", shmkit.MISSING, "v2") is False
    assert m["k"] == "v1"
    assert m.compare_and_set("k", "nope", "v2") is False
    assert m.compare_and_set("k", "v1", "v2") is True
    assert m["k"] == "v2"
    # Compared by encoding: 1 and 1.0 are different values.
    m["n"] = 1
    assert m.compare_and_set("n", 1.0, 2) is False
    assert m.compare_and_set("n", 1, 2) is True
    # new=MISSING deletes.
    assert m.compare_and_set("k", "v2", shmkit.MISSING) is True
    assert "k" not in m
    assert m.compare_and_set("k", shmkit.MISSING, shmkit.MISSING) is True
    assert repr(shmkit.MISSING) == "shmkit.MISSING"


def test_stats_and_verify(m):
    m.update({i: str(i) for i in range(1000)})
    stats = m.stats()
    assert stats["entries"] == 1000
    report = m.verify()
    assert report["clean"] is True and report["problems"] == []
    assert report["entries"] == 1000


def test_closed_handle(store):
    m = store.hash_map("m")
    m["k"] = 1
    m.close()
    assert m.closed
    for op in (lambda: m["k"], lambda: m.get("k"), lambda: len(m), lambda: m.__setitem__("k", 2)):
        with pytest.raises(shmkit.ClosedError):
            op()
    assert store.hash_map("m")["k"] == 1


def test_context_manager_closes_map(store):
    with store.hash_map("m") as m:
        m["k"] = 1
    assert m.closed


def test_repr_and_attributes(m, store_name):
    assert m.name == "m"
    assert m.store_name == store_name
    assert m.raw is False and m.exact_keys is False
    assert "HashMap" in repr(m)


def test_many_keys_grow(m):
    n = 20_000
    for i in range(n):
        m[f"key-{i}"] = i
    assert len(m) == n
    assert all(m[f"key-{i}"] == i for i in range(0, n, 97))
    assert m.verify()["clean"]


def test_every_object_class_shares_the_handle_base(store):
    m = store.hash_map("base", raw=True, exact_keys=True)
    assert isinstance(m, shmkit.SharedObject)
    assert m.kind == "hash_map" and m.name == "base" and m.store_name == store.name
    assert repr(m) == f'shmkit.HashMap("base", store="{store.name}", raw=True, exact_keys=True)'
    again = pickle.loads(pickle.dumps(m))
    assert (again.raw, again.exact_keys, again.name) == (True, True, "base")
    m.close()
    for op in (m.verify, m.repair, m.stats, lambda: len(m), lambda: m[b"k"]):
        with pytest.raises(shmkit.ClosedError):
            op()
