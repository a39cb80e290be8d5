"""Functions run in child processes by the tests (importable by `spawn` children)."""

from __future__ import annotations

import os
import time

import shmkit

# How long a child waits for its parent's signal before giving up (a watchdog, never reached
# in a passing run).
PATIENCE = 60


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


def write_forever(m, prefix: str) -> None:
    """Writes until killed (or until its parent is gone). Signals nothing: the parent watches
    its keys appear (a multiprocessing Event would not do: a parent killed while holding the
    Event's lock would leave this process blocked forever)."""
    parent = os.getppid()
    i = 0
    while os.getppid() == parent:
        m[f"{prefix}-{i}"] = i
        m.incr("total")
        i += 1


def incr_forever(m, key: str, signals) -> None:
    """Increments `key` until killed (or until its parent is gone); after the first increment
    it writes its pid to `signals["started"]` (a map, not an Event: see write_forever)."""
    parent = os.getppid()
    m.incr(key)
    signals["started"] = os.getpid()
    while os.getppid() == parent:
        m.incr(key)


def hold_attachment(path: str, release) -> None:
    """Attaches to the store (taking one registry slot; the parent sees its pid among the
    attached) and stays until something arrives on the connection `release` or it closes
    (also when the parent dies)."""
    store = shmkit.Store(path, create=False)
    release.poll(PATIENCE)
    store.close()


def try_attach_and_read(path: str, key: str):
    """Attaches to the store and reads `key` of map "m": ("ok", value), or the exception's
    class name and whether it is a shmkit.Error."""
    try:
        store = shmkit.Store(path, create=False)
        value = store.hash_map("m", create=False)[key]
        store.close()
        return ("ok", value)
    except Exception as e:
        return (type(e).__name__, isinstance(e, shmkit.Error), str(e))


def compat_worker(name: str, start: int, count: int) -> int:
    from shmkit.compat.shared_hashmap import SharedHashMap

    hm = SharedHashMap(name, create=False)
    for i in range(start, start + count):
        hm.set(f"key-{i}", {"i": i})
    hm.close()
    return count


def write_versions(m, keys: int) -> int:
    """Sets key k to (k, v) for ever growing v, with `set_many` (repeated keys included) and
    single sets, until "stop" appears (or the parent is gone); returns the last version."""
    parent = os.getppid()
    v = 1
    while "stop" not in m and os.getppid() == parent:
        v += 1
        batch = [(k, (k, v)) for k in range((v * 7) % keys, keys, 3)]
        batch += batch[:5]
        if v % 4 == 0:
            for k, value in batch[:20]:
                m[k] = value
        else:
            m.set_many(batch)
    return v


def vector_add_many(v, index: int, times: int) -> int:
    """Adds 1 to element `index` of an atomic vector `times` times; returns the last
    previous value seen."""
    last = 0
    for _ in range(times):
        last = v.add(index, 1)
    return last


def vector_read(v, index: int) -> tuple[int, int]:
    """(len(v), v[index]) through a pickled atomic vector handle."""
    return (len(v), v[index])


def vector_wait(v, index: int, expected: int, timeout: float) -> tuple[str, int]:
    """Announces itself by setting element `index + 1` to 1, then waits on element `index`
    while it holds `expected`; returns the outcome and the value seen after."""
    v.store(index + 1, 1)
    outcome = v.wait(index, expected, timeout)
    return (outcome, v.load(index))


def array_write(store_name: str, name: str) -> list:
    """Opens the array `name` (adopting its dtype and shape), writes element by element and
    with a vectorised operation; returns what it sees afterwards."""
    import numpy as np

    with shmkit.Store(store_name) as store:
        arr = store.array(name)
        arr[0] = 42
        arr[1:] += np.arange(1, len(arr), dtype=arr.dtype)
        return arr.tolist()


def array_read(handle) -> tuple:
    """Reads a pickled Array handle's elements through NumPy: (shape, values)."""
    import numpy as np

    arr = np.asarray(handle)
    return arr.shape, arr.tolist()


def queue_produce(q, producer: int, count: int) -> int:
    """Puts (producer, seq) for seq in range(count), in batches now and then."""
    seq = 0
    while seq < count:
        if seq % 7 == 0:
            batch = [(producer, s) for s in range(seq, min(seq + 20, count))]
            q.put_many(batch, timeout=120)
            seq += len(batch)
        else:
            q.put((producer, seq), timeout=120)
            seq += 1
    return seq


def queue_consume(q, count: int) -> list:
    """Gets until the queue's `count` items per consumer are taken (four consumers share
    4 * count items: each takes its share, in batches now and then)."""
    got = []
    while len(got) < count:
        if len(got) % 5 == 0:
            got.extend(q.get_many(min(10, count - len(got)), timeout=120))
        else:
            got.append(q.get(timeout=120))
    return got


def _wait_for(condition, what: str) -> None:
    """Polls `condition` until it holds; raises after PATIENCE seconds (a watchdog)."""
    deadline = time.monotonic() + PATIENCE
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"gave up waiting until {what}")
        time.sleep(0.001)


def ordered_map_churn(m, ctl, writer: int, span: int, ops: int, scanners: int) -> list:
    """One writer of the ordered map scan test: once every scanner has started (element 1
    of the atomic vector `ctl`), sets and deletes keys of its own range
    [writer * span, (writer + 1) * span) that are not multiples of 10 (those belong to
    nobody and stay), so leaves split and then merge under the scans. Adds 1 to element 0 when
    done; returns its keys left in the map."""
    import random

    _wait_for(lambda: ctl[1] >= scanners, "the scanners started")
    rng = random.Random(writer)
    mine = set()
    for i in range(ops):
        # Mostly inserts in the first half (leaves split), mostly deletes in the second
        # (leaves merge).
        if mine and rng.random() < (0.2 if i < ops // 2 else 0.8):
            del m[mine.pop()]
            continue
        k = writer * span + rng.randrange(span)
        if k % 10 != 0:
            m[k] = (writer, i)
            mine.add(k)
    ctl.add(0, 1)
    return sorted(mine)


def ordered_map_scan(m, ctl, writers: int, stable_end: int, reverse: bool) -> int:
    """One scanner of the ordered map scan test: scans the whole map (and windows of it)
    until every writer is done, checking each scan: keys strictly in order (so no key
    twice) and every multiple of 10 below `stable_end` (keys nobody writes) present.
    Returns the number of full scans; raises AssertionError on the first bad scan."""
    import random

    rng = random.Random(stable_end + reverse)
    stable = set(range(0, stable_end, 10))
    ctl.add(1, 1)
    scans = 0
    while ctl[0] < writers or scans < 3:
        keys = list(m.keys(reverse=reverse))
        ordered = keys[::-1] if reverse else keys
        assert all(a < b for a, b in zip(ordered, ordered[1:])), f"scan {scans} out of order"
        missing = stable - set(keys)
        assert not missing, f"scan {scans} missed {len(missing)} stable keys, e.g. {min(missing)}"
        scans += 1
        # A window between two stable keys, both bounds included.
        lo = rng.randrange(0, stable_end - 1000, 10)
        window = [k for k, _ in m.items(lo, lo + 1000, reverse=reverse, inclusive=(True, True))]
        ordered = window[::-1] if reverse else window
        assert all(a < b for a, b in zip(ordered, ordered[1:])), "window out of order"
        assert ordered[0] == lo and ordered[-1] == lo + 1000, "window bounds"
        assert set(range(lo, lo + 1001, 10)) <= set(window), "window missed stable keys"
    return scans


def read_and_write_by_handle(m, handles: list) -> list:
    """In another process: the values the given handles read, then each key's value set to
    ("child", value) through its handle; returns what was read."""
    read = [m.get_by_handle(h, "missing") for h in handles]
    for h, value in zip(handles, read):
        if value != "missing":
            assert m.set_by_handle(h, ("child", value))
    return read


def fixed_map_read_and_write(m, keys: list, new_key: bytes, new_value: bytes) -> tuple:
    """Through a pickled handle on a fixed-size map: its sizes, the values of `keys`, then
    one write of `new_key` and one of a key a byte short (the exception's class name)."""
    values = [m[k] for k in keys]
    m[new_key] = new_value
    try:
        m[new_key[:-1]] = new_value
        refused = None
    except shmkit.WrongSizeError as e:
        refused = type(e).__name__
    return (m.fixed_size, m.raw, values, refused)


def fixed_map_open_by_name(store_name: str, name: str) -> tuple:
    """Attaches to the store by name and opens the map `name` without sizes: its sizes, its
    entries, and how a typed open and an open with other sizes are refused."""
    with shmkit.Store(store_name, create=False) as store:
        m = store.hash_map(name, raw=True, create=False)
        refusals = []
        for kwargs in ({}, {"raw": True, "key_size": 8, "value_size": 8}):
            try:
                store.hash_map(name, create=False, **kwargs)
                refusals.append(None)
            except shmkit.InvalidOptionsError as e:
                refusals.append(str(e))
        return (m.fixed_size, dict(m.items()), refusals)
