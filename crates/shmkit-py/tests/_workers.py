"""Functions run in child processes by the tests (importable by `spawn` children)."""

from __future__ import annotations

import os
import time

import shmkit


def write_range(m, prefix: str, count: int) -> int:
    """Writes prefix-i -> i for i < count through a pickled handle; returns the pid."""
    for i in range(count):
        m[f"{prefix}-{i}"] = i
    return os.getpid()


def incr_many(m, key: str, times: int) -> None:
    for _ in range(times):
        m.incr(key)


def read_value(m, key):
    return m[key]


def attach_and_exit(store_name: str) -> str:
    """Attaches to a store and a map, reads, and exits without cleaning up anything."""
    store = shmkit.Store(store_name, create=False)
    return store.hash_map("m")["hello"]


def write_forever(m, prefix: str, ready) -> None:
    """Writes until killed; sets `ready` once it has written a while."""
    i = 0
    while True:
        m[f"{prefix}-{i}"] = i
        m.incr("total")
        i += 1
        if i == 2000:
            ready.set()
        if i > 50_000_000:  # never reached in the tests; bounds the loop anyway
            time.sleep(1)


def compat_worker(name: str, start: int, count: int) -> int:
    from shmkit.compat.shared_hashmap import SharedHashMap

    hm = SharedHashMap(name, create=False)
    for i in range(start, start + count):
        hm.set(f"key-{i}", {"i": i})
    hm.close()
    return count
