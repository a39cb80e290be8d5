"""Model test: random operations on a HashMap and a dict side by side must agree."""

from __future__ import annotations

import random

import pytest

import shmkit

KEYS = [0, 1, 2, -5, 2**70, "a", "b", "ü", b"a", b"", None, (1, "x"), 1.5, True, 0.0]
VALUES = [None, 0, -1, 2**65, 1.25, "", "text", b"\x00", [1, 2], {"k": (1,)}, False]


@pytest.mark.parametrize("seed", range(5))
def test_random_operations_agree_with_dict(store, seed):
    rng = random.Random(seed)
    m = store.hash_map(f"model-{seed}")
    d = {}
    for step in range(3000):
        op = rng.randrange(11)
        k = rng.choice(KEYS)
        v = rng.choice(VALUES)
        where = f"seed {seed} step {step} op {op} key {k!r}"
        if op <= 2:
            m[k] = v
            d[k] = v
        elif op == 3:
            assert m.get(k, "dflt") == d.get(k, "dflt"), where
        elif op == 4:
            assert (k in m) == (k in d), where
        elif op == 5:
            assert m.pop(k, "dflt") == d.pop(k, "dflt"), where
        elif op == 6:
            assert m.setdefault(k, v) == d.setdefault(k, v), where
        elif op == 7:
            if k in d:
                del d[k]
                del m[k]
            else:
                with pytest.raises(KeyError):
                    del m[k]
        elif op == 8:
            if isinstance(d.get(k, 0), int) and not isinstance(d.get(k, 0), bool):
                delta = rng.choice([1, -3, 2**64])
                d[k] = d.get(k, 0) + delta
                assert m.incr(k, delta) == d[k], where
        elif op == 9:
            expected = d.get(k, shmkit.MISSING)
            if rng.random() < 0.5:
                expected = v  # usually wrong
            # compare_and_set compares encodings; the dict model compares by type and value.
            holds = (k not in d) if expected is shmkit.MISSING else (
                k in d and type(d[k]) is type(expected) and d[k] == expected)
            assert m.compare_and_set(k, expected, v) == holds, where
            if holds:
                d[k] = v
        else:
            assert len(m) == len(d), where
            assert m == d, where
    assert m == d
    assert m.verify()["clean"]
