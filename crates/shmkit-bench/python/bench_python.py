#!/usr/bin/env python3
"""Python benchmark: shmkit.HashMap against a dict and the libraries users migrate from.

    pip install -r crates/shmkit-bench/python/requirements-bench.txt   # optional competitors
    python crates/shmkit-bench/python/bench_python.py

Workload (defaults): 100,000 keys of 10 characters (str), values of 32 characters (str);
set (insert), get, contains and delete of every key, each in its own Python loop, keys read
back in a shuffled order. Reported: operations per second, and the ratio to a plain dict
measured alongside: every chunk of 1,000 keys runs on each backend in turn, and each chunk is
timed three times keeping the fastest (restoring the chunk in between, untimed), so load on
a shared machine hits all sides alike and a preemption does not count.

Competitors are skipped (and the output says so) when not installed: shared-hashmap 0.2.0,
lmdb (one transaction per operation, sync off, writemap, in /dev/shm), UltraDict
(shared_lock=True, so it is process-safe), multiprocessing.Manager().dict(). Slow backends
run each chunk once, on as many keys as fit in a time budget (10 s) per operation (column "keys"),
in lockstep with a dict of their own.

    python crates/shmkit-bench/python/bench_python.py --batch 200

compares batched reads instead: for each chunk of N shuffled keys, a dict comprehension
`[d[k] for k in chunk]`, the same over shmkit (N single gets) and one `m.get_many(chunk)`,
in turn, each timed --repeats times keeping the fastest; prints ns per key and the ratios.

    python crates/shmkit-bench/python/bench_python.py --atomic-vector

compares shmkit.AtomicVector with multiprocessing.Value('q') instead: `v.add(0, 1)` against
`with val.get_lock(): val.value += 1`, and reads `v[0]` against `val.value` (which takes the
value's lock too), with a process-local list element (`c[0] += 1`, `c[0]`) as the floor of
the interpreter loop. Chunks of --chunk calls run on each side in turn, each timed --repeats
times keeping the fastest; prints ns per call, calls per second and the ratios. After every
timed add loop each counter must hold exactly the number of adds made so far, and every read
loop's last value must be that count.

    python crates/shmkit-bench/python/bench_python.py --array

compares a shmkit.Array of 100M float64 (`store.array(name, "f8", n)`, a NumPy array on the
store's shared memory; --elements to change) with a private NumPy array of the same size in
the same process: first touch (creation, first write), then --rounds warm rounds of
`x.sum()`, `x[:] = 1.0` and `x += 1`, each operation on one side right after the other
(the side going first alternating); every round's sums must be exact. Then the cost of
`store.array(name)` (adopting the array) beside `np.ndarray(..., buffer=...)` and
`np.empty`, and two spawned processes: the first touch of a process that opens the array
(reading, writing), and one process reducing the whole array against two reducing a half
each, with private arrays as the machine's reference. The store is removed at the end.

    python crates/shmkit-bench/python/bench_python.py --array-profile shared   # or private

only sums one side for --seconds (to run under `perf stat`); `private-4k` is a private array
with NumPy's huge-page advice (MADV_HUGEPAGE on large allocations) turned off, which the
--array comparison also times as a third side: with transparent huge pages in "madvise"
mode it lives on 4 KiB pages, as the shared array does.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import random
import shutil
import signal
import sys
import tempfile
import time
import uuid

import shmkit


def loop_set(t, keys, values):
    for k, v in zip(keys, values):
        t[k] = v


def loop_get(t, keys):
    for k in keys:
        t[k]


def loop_contains(t, keys):
    for k in keys:
        k in t  # noqa: B015


def loop_delete(t, keys):
    for k in keys:
        del t[k]


class Mapping:
    """A backend used through the dict protocol (``t[k] = v``, ``t[k]``, ``in``, ``del``)."""

    name = "?"
    slow = False

    def open(self):
        raise NotImplementedError

    def convert(self, keys, values):
        """Keys and values in the form this backend is fed (not timed)."""
        return keys, values

    def close(self):
        pass

    def run(self, t, op, keys, values, order):
        if op == "set":
            loop_set(t, keys, values)
        elif op == "get":
            loop_get(t, order)
        elif op == "contains":
            loop_contains(t, order)
        else:
            loop_delete(t, order)


class Dict(Mapping):
    name = "dict (baseline)"

    def open(self):
        return {}


class Shmkit(Mapping):
    name = "shmkit.HashMap"

    def open(self):
        self.store_name = f"bench-{uuid.uuid4().hex[:12]}"
        self.store = shmkit.Store(self.store_name)
        return self.store.hash_map("bench")

    def close(self):
        self.store.close()
        shmkit.remove(self.store_name)


class ShmkitRaw(Shmkit):
    name = "shmkit.HashMap raw=True (bytes keys/values)"

    def convert(self, keys, values):
        return [k.encode() for k in keys], [v.encode() for v in values]

    def open(self):
        super().open()
        return self.store.hash_map("bench-raw", raw=True)


class Compat(Mapping):
    name = "shmkit.compat SharedHashMap"

    def open(self):
        from shmkit.compat.shared_hashmap import SharedHashMap

        self.h = SharedHashMap(f"bench_{uuid.uuid4().hex[:12]}", capacity=1024, max_key_size=16, max_value_size=48)
        return self.h

    def run(self, t, op, keys, values, order):
        if op == "set":
            s = t.set
            for k, v in zip(keys, values):
                s(k, v)
        elif op == "get":
            g = t.get
            for k in order:
                g(k)
        elif op == "contains":
            loop_contains(t, order)
        else:
            d = t.delete
            for k in order:
                d(k)

    def close(self):
        self.h.close()
        self.h.unlink()


class OriginalSharedHashMap(Compat):
    name = "shared-hashmap 0.2.0"
    slow = True
    module = "shared_hashmap"

    def open(self):
        from shared_hashmap import SharedHashMap

        # Fixed capacity: room for every key at a 50% load.
        self.h = SharedHashMap(f"bench_{uuid.uuid4().hex[:12]}", capacity=2 * self.capacity,
                               max_key_size=16, max_value_size=48)
        return self.h


class Lmdb(Mapping):
    name = "lmdb (txn per op)"
    module = "lmdb"

    def open(self):
        import lmdb

        self.dir = tempfile.mkdtemp(prefix="bench-lmdb-", dir="/dev/shm" if os.path.isdir("/dev/shm") else None)
        self.env = lmdb.open(self.dir, map_size=4 << 30, sync=False, metasync=False, writemap=True)
        return self.env

    def run(self, env, op, keys, values, order):
        begin = env.begin
        if op == "set":
            for k, v in zip(keys, values):
                with begin(write=True) as txn:
                    txn.put(k.encode(), v.encode())
        elif op == "get":
            for k in order:
                with begin() as txn:
                    v = txn.get(k.encode())
                    v.decode()
        elif op == "contains":
            for k in order:
                with begin() as txn:
                    txn.get(k.encode()) is not None  # noqa: B015
        else:
            for k in order:
                with begin(write=True) as txn:
                    txn.delete(k.encode())

    def close(self):
        self.env.close()
        shutil.rmtree(self.dir, ignore_errors=True)


class Ultra(Mapping):
    name = "UltraDict (shared_lock=True)"
    module = "UltraDict"
    slow = True

    def open(self):
        from UltraDict import UltraDict

        self.u = UltraDict(name=f"bench_{uuid.uuid4().hex[:12]}", create=True, shared_lock=True,
                           buffer_size=200_000_000, full_dump_size=200_000_000)
        return self.u

    def close(self):
        self.u.unlink()


class Manager(Mapping):
    name = "multiprocessing.Manager().dict()"
    slow = True

    def open(self):
        self.manager = multiprocessing.Manager()
        return self.manager.dict()

    def close(self):
        self.manager.shutdown()


OPS = ("set", "get", "contains", "delete")


def installed(backend) -> bool:
    module = getattr(backend, "module", None)
    if module is None:
        return True
    try:
        __import__(module)
        return True
    except ImportError:
        return False


def lockstep(backends, keys, values, order, chunk, repeats):
    """Seconds per op of each backend for each operation, measured chunk by chunk in turn.

    Every chunk of keys is run on each backend right after the other, so a load change on a
    shared machine hits them alike, and each chunk is timed `repeats` times (slow backends:
    once) keeping the fastest, so one preemption does not count. Between repeats the chunk is restored (its
    keys removed again before a timed insert, put back before a timed delete), untimed.
    Returns {backend name: {op: seconds per op}}.
    """
    handles = [b.open() for b in backends]
    try:
        spent = {b.name: dict.fromkeys(OPS, 0.0) for b in backends}
        value_of = dict(zip(keys, values))
        for op in OPS:
            source = keys if op == "set" else order
            for start in range(0, len(source), chunk):
                part = source[start:start + chunk]
                vals = [value_of[k] for k in part]
                for b, h in zip(backends, handles):
                    k, v = b.convert(part, vals)
                    best = float("inf")
                    for i in range(1 if b.slow else repeats):
                        if i and op == "set":
                            b.run(h, "delete", k, v, k)
                        if i and op == "delete":
                            b.run(h, "set", k, v, k)
                        t0 = time.perf_counter()
                        b.run(h, op, k, v, k)
                        best = min(best, time.perf_counter() - t0)
                    spent[b.name][op] += best
        return {name: {op: t / len(keys) for op, t in ops.items()} for name, ops in spent.items()}
    finally:
        for b in backends:
            b.close()


def keys_within_budget(backend, keys, values, budget):
    """How many keys a slow backend can take per operation within `budget` seconds."""
    probe = min(500, len(keys))
    backend.capacity = probe
    per_op = lockstep([backend], keys[:probe], values[:probe], keys[:probe], probe, 1)[backend.name]
    return max(probe, min(len(keys), int(budget / max(per_op.values()))))


def batch_comparison(keys, values, order, batch, repeats) -> None:
    """Per-key cost of `get_many` against single gets and a dict (see the module docstring)."""
    d = dict(zip(keys, values))
    name = f"bench-batch-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    store = shmkit.Store(name)
    try:
        m = store.hash_map("m")
        m.set_many(d)
        chunks = [order[i : i + batch] for i in range(0, len(order) - batch + 1, batch)]
        total = {"dict": 0.0, "single": 0.0, "get_many": 0.0}
        for chunk in chunks:
            best = dict.fromkeys(total, float("inf"))
            for _ in range(repeats):
                t = time.perf_counter()
                a = [d[k] for k in chunk]
                best["dict"] = min(best["dict"], time.perf_counter() - t)
                t = time.perf_counter()
                b = [m[k] for k in chunk]
                best["single"] = min(best["single"], time.perf_counter() - t)
                t = time.perf_counter()
                c = m.get_many(chunk)
                best["get_many"] = min(best["get_many"], time.perf_counter() - t)
                assert a == b == c
            for k in total:
                total[k] += best[k]
        n = len(chunks) * batch
        ns = {k: v / n * 1e9 for k, v in total.items()}
        print(f"| keys per call | dict comprehension | shmkit single gets | get_many | single / get_many | get_many / dict |")
        print("|---:|---:|---:|---:|---:|---:|")
        print(f"| {batch:,} | {ns['dict']:.0f} ns | {ns['single']:.0f} ns | {ns['get_many']:.0f} ns | "
              f"{ns['single'] / ns['get_many']:.2f}x | {ns['get_many'] / ns['dict']:.2f}x |")
        m.close()
    finally:
        store.close()
        shmkit.remove(name)


def vector_add(v, n):
    for _ in range(n):
        v.add(0, 1)


def vector_read(v, n):
    x = None
    for _ in range(n):
        x = v[0]
    return x


def value_add(val, n):
    for _ in range(n):
        with val.get_lock():
            val.value += 1


def value_read(val, n):
    x = None
    for _ in range(n):
        x = val.value
    return x


def list_add(c, n):
    for _ in range(n):
        c[0] += 1


def list_read(c, n):
    x = None
    for _ in range(n):
        x = c[0]
    return x


def counter_comparison(calls, chunk, repeats) -> int:
    """shmkit.AtomicVector against multiprocessing.Value (see the module docstring)."""
    name = f"bench-vector-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    store = shmkit.Store(name)
    try:
        v = store.atomic_vector("v", 1)
        val = multiprocessing.Value("q", 0)
        c = [0]
        # side: (object, timed add loop, timed read loop, its value now)
        sides = {
            "shmkit.AtomicVector": (v, vector_add, vector_read, lambda: v[0]),
            "multiprocessing.Value('q')": (val, value_add, value_read, lambda: val.value),
            "list element (process-local)": (c, list_add, list_read, lambda: c[0]),
        }
        best_total = {side: {"add": 0.0, "read": 0.0} for side in sides}
        count = {side: 0 for side in sides}
        wrong = 0
        chunks = max(1, calls // chunk)
        for _ in range(chunks):
            for side, (obj, add, read, current) in sides.items():
                best = {"add": float("inf"), "read": float("inf")}
                for _ in range(repeats):
                    t = time.perf_counter()
                    add(obj, chunk)
                    best["add"] = min(best["add"], time.perf_counter() - t)
                    count[side] += chunk
                    wrong += current() != count[side]
                    t = time.perf_counter()
                    last = read(obj, chunk)
                    best["read"] = min(best["read"], time.perf_counter() - t)
                    wrong += last != count[side]
                for op in best:
                    best_total[side][op] += best[op]
        n = chunks * chunk
        ns = {side: {op: t / n * 1e9 for op, t in ops.items()} for side, ops in best_total.items()}
        shm, mpv = ns["shmkit.AtomicVector"], ns["multiprocessing.Value('q')"]
        print(f"# {n:,} calls per operation and side, chunks of {chunk:,}, fastest of {repeats} per chunk")
        print()
        print("| side | add: ns per call | add: calls/s | read: ns per call | read: calls/s |")
        print("|---|---:|---:|---:|---:|")
        for side, o in ns.items():
            print(f"| {side} | {o['add']:.1f} | {1e9 / o['add']:,.0f} | {o['read']:.1f} | {1e9 / o['read']:,.0f} |")
        print()
        print(f"shmkit over multiprocessing.Value: add {mpv['add'] / shm['add']:.1f}x the calls/s "
              f"(target: at least 10x), read {mpv['read'] / shm['read']:.1f}x")
        lst = ns["list element (process-local)"]
        print(f"shmkit over a list element: add {shm['add'] / lst['add']:.2f}x the time, "
              f"read {shm['read'] / lst['read']:.2f}x")
        print(f"checked {2 * len(sides) * chunks * repeats} counts (after every timed loop): {wrong} wrong")
        v.close()
        return 1 if wrong else 0
    finally:
        store.close()
        shmkit.remove(name)


# --- Array (NumPy) mode -------------------------------------------------------------------

PATTERN_LEN = 1000  # the array holds 0, 1, ..., 999, 0, 1, ... (integers: every sum is exact)


def fill_pattern(np, x):
    """Writes the repeating 0..999 pattern into `x` (a broadcast copy, no temporary)."""
    x.reshape(-1, PATTERN_LEN)[:] = np.arange(PATTERN_LEN, dtype=x.dtype)


def pattern_sum(n):
    return float(n // PATTERN_LEN * (PATTERN_LEN * (PATTERN_LEN - 1) // 2))


def mappings_of(arr):
    """The /proc/self/smaps entries overlapping `arr`'s memory (one array may span several: NumPy
    advises huge pages on the aligned part of a large allocation, which splits it): their
    total size and counters in kB, and their page sizes."""
    lo_arr = arr.__array_interface__["data"][0]
    hi_arr = lo_arr + arr.nbytes
    info = {"count": 0, "size": 0, "KernelPageSize": set()}
    try:
        with open("/proc/self/smaps") as f:
            inside = False
            for line in f:
                head = line.split()[0]
                if "-" in head and not head.endswith(":"):
                    lo, hi = (int(v, 16) for v in head.split("-"))
                    inside = lo < hi_arr and lo_arr < hi
                    if inside:
                        info["count"] += 1
                        info["size"] += (hi - lo) >> 10
                elif inside and head == "KernelPageSize:":
                    info["KernelPageSize"].add(int(line.split()[1]))
                elif inside and head in ("Rss:", "AnonHugePages:", "ShmemPmdMapped:", "FilePmdMapped:"):
                    info[head[:-1]] = info.get(head[:-1], 0) + int(line.split()[1])
    except OSError:
        return None
    return info


def describe_mapping(label, arr):
    m = mappings_of(arr)
    if not m or not m["count"]:
        return f"- {label}: /proc/self/smaps unreadable"
    huge = m.get("AnonHugePages", 0) + m.get("ShmemPmdMapped", 0) + m.get("FilePmdMapped", 0)
    pages = "/".join(str(k) for k in sorted(m["KernelPageSize"]))
    return (f"- {label} array: {m['count']} mapping(s) of {m['size'] >> 10:,} MiB in all, kernel page "
            f"{pages} kB, resident {m.get('Rss', 0) >> 10:,} MiB, of which mapped as 2 MiB pages "
            f"{huge >> 10:,} MiB")


def system_file(path):
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return "unreadable"


def private_4k(np, n):
    """np.zeros(n) without NumPy's MADV_HUGEPAGE on large allocations, so that (with THP in
    "madvise" mode) the array lives on 4 KiB pages like the shared one; None when this NumPy
    has no such switch."""
    try:
        from numpy._core.multiarray import _set_madvise_hugepage
    except ImportError:
        return None
    before = _set_madvise_hugepage(False)
    try:
        return np.zeros(n)
    finally:
        _set_madvise_hugepage(before)


def timed(f):
    t = time.perf_counter()
    r = f()
    return time.perf_counter() - t, r


def array_worker(store_name, n, index, commands, results, barrier):
    """One process of the fresh-process and scaling measurements (spawned, so it maps the store
    itself): reports its first touch, then serves ("sum", side, lo, hi) / ("idle",) commands,
    each started at a barrier shared with the other worker."""
    import numpy as np

    out = {}
    out["open"], store = timed(lambda: shmkit.Store(store_name, create=False))
    t, a = timed(lambda: store.array("a"))
    out["open"] += t
    n = a.shape[0]
    if index == 0:
        # First touch by reading: the pages exist (the creator wrote them), this process maps them.
        out["first"], s1 = timed(a.sum)
        out["warm"], s2 = timed(a.sum)
        out["ok"] = s1 == s2 == pattern_sum(n)
    else:
        # First touch by writing (the same values again, so the content does not change).
        out["first"], _ = timed(lambda: fill_pattern(np, a))
        out["warm"], _ = timed(lambda: fill_pattern(np, a))
        out["ok"] = a.sum() == pattern_sum(n)
    # The private reference: a fresh np.empty is faulted in by its first write.
    p = np.empty(n)
    out["private_first"], _ = timed(lambda: fill_pattern(np, p))
    out["private_warm"], _ = timed(lambda: fill_pattern(np, p))
    out["ok"] = out["ok"] and p.sum() == pattern_sum(n)
    out["shared_mapping"] = describe_mapping("shared", a)
    out["private_mapping"] = describe_mapping("private", p)
    results.put((index, out))
    sides = {"shared": a, "private": p}
    while True:
        cmd = commands.get()
        if cmd[0] == "stop":
            break
        barrier.wait()
        if cmd[0] == "idle":
            results.put((index, None))
            continue
        _, side, lo, hi = cmd
        c0 = time.thread_time()
        t0 = time.perf_counter()
        s = sides[side][lo:hi].sum()
        t1 = time.perf_counter()
        results.put((index, (t0, t1, time.thread_time() - c0, s == pattern_sum(hi - lo))))
    del a
    store.close()


def array_comparison(n, repeats, opens) -> int:
    """shmkit.Array against a private NumPy array (see the module docstring)."""
    import numpy as np

    if n % (2 * PATTERN_LEN):
        raise SystemExit(f"--elements must be a multiple of {2 * PATTERN_LEN}")
    gb = n * 8 / 1e9
    print(f"# NumPy {np.__version__}; {n:,} float64 elements ({gb * 1e3:,.0f} MB) per array; "
          f"THP enabled: {system_file('/sys/kernel/mm/transparent_hugepage/enabled')}, "
          f"shmem_enabled: {system_file('/sys/kernel/mm/transparent_hugepage/shmem_enabled')}")
    name = f"bench-array-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    wrong = 0
    checks = 0

    def check(ok):
        nonlocal wrong, checks
        checks += 1
        wrong += not ok

    store = shmkit.Store(name)  # default reserve (64 GiB of address space): room for the array
    workers = []
    try:
        # First touch in this process. Creation fallocates the store file and zeroes the array,
        # so every page is faulted in here; np.zeros only maps, its first write faults.
        t_create, a = timed(lambda: store.array("a", "f8", n))
        t_zeros, p = timed(lambda: np.zeros(n))
        t_pfirst, _ = timed(lambda: p.fill(1.0))
        t_pwarm, _ = timed(lambda: p.fill(1.0))
        t_sfirst, _ = timed(lambda: a.fill(1.0))
        check(a.sum() == p.sum() == n)
        # The two parts of creation apart: a store created with room for the array (its file
        # fallocated up front), then the array in it (zeroed by writing, faulting it in).
        name2 = name + "-sized"
        try:
            t_store2, store2 = timed(lambda: shmkit.Store(name2, initial_size=(n * 8 + (64 << 20)) // 4096 * 4096))
            t_create2, a2 = timed(lambda: store2.array("a", "f8", n))
            check(a2.sum() == 0.0)
            del a2
            store2.close()
        finally:
            shmkit.remove(name2)
        print()
        print("## First touch, this process (one measurement each)")
        print()
        print("| step | seconds |")
        print("|---|---:|")
        print(f"| `store.array(name, 'f8', n)` (create: fallocate + zero every page) | {t_create:.3f} |")
        print(f"| in two steps, 1: `shmkit.Store(other, initial_size=n * 8 + 64 MiB)` (fallocate only) | {t_store2:.3f} |")
        print(f"| in two steps, 2: `store.array(...)` in that store (zero every page, no growth) | {t_create2:.3f} |")
        print(f"| `np.zeros(n)` (maps only) | {t_zeros:.6f} |")
        print(f"| private `p.fill(1.0)`, first (faults every page in) | {t_pfirst:.3f} |")
        print(f"| private `p.fill(1.0)`, again (warm) | {t_pwarm:.3f} |")
        print(f"| shared `a.fill(1.0)` after creation (already warm) | {t_sfirst:.3f} |")
        print()
        print(describe_mapping("shared", a))
        print(describe_mapping("private", p))
        p4 = private_4k(np, n)
        if p4 is not None:
            p4.fill(1.0)
            print(describe_mapping("private 4k (NumPy's huge-page advice off)", p4))

        # Warm rounds, in lockstep: each operation on one side right after the other, the
        # side that goes first alternating between rounds.
        ops = {
            "`x.sum()`": lambda x: x.sum(),
            "`x[:] = 1.0`": lambda x: x.__setitem__(slice(None), 1.0),
            "`x += 1`": lambda x: np.add(x, 1.0, out=x),
        }
        sides = {"shared": a, "private": p}
        if p4 is not None:
            sides["private 4k"] = p4
        times = {op: {side: [] for side in sides} for op in ops}
        for r in range(repeats + 1):  # round 0 warms up, untimed
            order = tuple(sides) if r % 2 else tuple(reversed(sides))
            for op, f in ops.items():
                for side in order:
                    t, _ = timed(lambda: f(sides[side]))
                    if r:
                        times[op][side].append(t)
            # After a fill and an increment every element is 2.0: the sums must be exact.
            for side in order:
                check(sides[side].sum() == 2.0 * n)
        print()
        print(f"## Warm, this process: {repeats} rounds (after one untimed), sides in turn, the order "
              f"reversed every round")
        print()
        print("| operation | side | best | GB/s (best) | shared / side: best | median of per-round ratios | range |")
        print("|---|---|---:|---:|---:|---:|---:|")
        for op, t in times.items():
            s = t["shared"]
            for side, q in t.items():
                ratios = sorted(x / y for x, y in zip(s, q))
                cells = ("", "", "") if side == "shared" else (
                    f"{min(s) / min(q):.3f}x", f"{ratios[len(ratios) // 2]:.3f}x",
                    f"{ratios[0]:.2f}-{ratios[-1]:.2f}x")
                print(f"| {op} | {side} | {min(q) * 1e3:.1f} ms | {gb / min(q):.1f} | " + " | ".join(cells) + " |")
        print()
        print("target: the shared reduction within 1.1x of the private one")

        # Opening (adopting) the array against making NumPy arrays, in lockstep chunks.
        variants = {
            "`store.array(name)` (adopt)": lambda: store.array("a"),
            "`store.array(name, 'f8', n)` (checked)": lambda: store.array("a", "f8", n),
            "`store.array(name, numpy=False)` (handle)": lambda: store.array("a", numpy=False),
            "`np.ndarray((n,), 'f8', buffer=p)` (view of existing memory)":
                lambda: np.ndarray((n,), "f8", buffer=p),
            "`np.empty(n)` (new private array, not touched)": lambda: np.empty(n),
        }
        for v in list(variants.values())[:2]:
            x = v()
            check(x.shape == (n,) and x.dtype == np.float64
                  and x.__array_interface__["data"][0] == a.__array_interface__["data"][0])
            del x
        chunk = 20
        best = dict.fromkeys(variants, float("inf"))
        total = dict.fromkeys(variants, 0.0)
        for _ in range(max(1, opens // chunk)):
            for label, v in variants.items():
                t = time.perf_counter()
                for _ in range(chunk):
                    v()
                t = (time.perf_counter() - t) / chunk
                best[label] = min(best[label], t)
                total[label] += t
        rounds = max(1, opens // chunk)
        print()
        print(f"## Open against array creation: {rounds * chunk} calls each, in chunks of {chunk}")
        print()
        print("| call | best chunk, us per call | mean, us per call |")
        print("|---|---:|---:|")
        for label in variants:
            print(f"| {label} | {best[label] * 1e6:.1f} | {total[label] / rounds * 1e6:.1f} |")

        # Other processes: the pattern, then two spawned workers (each maps the store itself).
        fill_pattern(np, a)
        fill_pattern(np, p)
        check(a.sum() == p.sum() == pattern_sum(n))
        ctx = multiprocessing.get_context("spawn")
        barrier = ctx.Barrier(2)
        results = ctx.Queue()
        queues = []
        first = {}
        for i in range(2):  # one after the other, so their first touches do not overlap
            q = ctx.Queue()
            w = ctx.Process(target=array_worker, args=(name, n, i, q, results, barrier))
            w.start()
            workers.append(w)
            queues.append(q)
            index, out = results.get(timeout=600)
            first[index] = out
            check(out["ok"])
        print()
        print("## First touch in a fresh process (spawned; one measurement each)")
        print()
        print("| process | open store + `store.array(name)` | first pass | warm pass | first / warm | "
              "private `np.empty(n)` first write / warm |")
        print("|---|---:|---:|---:|---:|---:|")
        for i, what in ((0, "reader: `a.sum()`"), (1, "writer: the pattern again")):
            o = first[i]
            print(f"| {what} | {o['open'] * 1e3:.1f} ms | {o['first']:.3f} s | {o['warm']:.3f} s | "
                  f"{o['first'] / o['warm']:.1f}x | {o['private_first']:.3f} s / {o['private_warm']:.3f} s |")
        print()
        print(first[0]["shared_mapping"] + " (worker 0)")
        print(first[0]["private_mapping"] + " (worker 0)")

        half = n // 2
        configs = {
            ("shared", 1): [("sum", "shared", 0, n), ("idle",)],
            ("shared", 2): [("sum", "shared", 0, half), ("sum", "shared", half, n)],
            ("private", 1): [("sum", "private", 0, n), ("idle",)],
            ("private", 2): [("sum", "private", 0, half), ("sum", "private", half, n)],
        }
        wall = {c: [] for c in configs}
        cpu = {c: [] for c in configs}
        for r in range(repeats + 1):  # round 0 warms up
            for c, cmds in (configs.items() if r % 2 else reversed(configs.items())):
                for q, cmd in zip(queues, cmds):
                    q.put(cmd)
                got = [results.get(timeout=600)[1] for _ in cmds]
                busy = [g for g in got if g is not None]
                for g in busy:
                    check(g[3])
                if r:
                    wall[c].append(max(g[1] for g in busy) - min(g[0] for g in busy))
                    cpu[c].append(sum(g[2] for g in busy))
        print()
        print(f"## Scaling: one process reduces the whole array, or two reduce a half each "
              f"(spawned workers, started together at a barrier; best of {repeats} rounds)")
        print()
        print("| array | processes | wall | GB/s | vs 1 process (best) | median of per-round ratios | "
              "GB per CPU-second |")
        print("|---|---:|---:|---:|---:|---:|---:|")
        for side in ("shared", "private"):
            for k in (1, 2):
                w, c = wall[(side, k)], cpu[(side, k)]
                one = wall[(side, 1)]
                ratios = sorted(x / y for x, y in zip(one, w))
                print(f"| {side} | {k} | {min(w) * 1e3:.1f} ms | {gb / min(w):.1f} | {min(one) / min(w):.2f}x | "
                      f"{ratios[len(ratios) // 2]:.2f}x | {gb / min(c):.1f} |")
        print()
        print("target (aggregate scaling): none set; the private rows are the machine's reference")
        for q in queues:
            q.put(("stop",))
        for w in workers:
            w.join(timeout=60)
        print()
        print(f"checked {checks} results (sums exact, opened views on the same memory): {wrong} wrong")
        del a, p, p4
        return 1 if wrong else 0
    finally:
        for w in workers:
            if w.is_alive():
                w.terminate()
                w.join()
        store.close()
        shmkit.remove(name)


def array_profile(n, side, seconds) -> int:
    """Warm reductions of one side only, for `perf stat` (see the module docstring)."""
    import numpy as np

    name = f"bench-array-profile-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    store = shmkit.Store(name)
    try:
        if side == "shared":
            x = store.array("a", "f8", n)
        elif side == "private":
            x = np.zeros(n)
        else:
            x = private_4k(np, n)
        x.fill(1.0)
        x.sum()
        passes = 0
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            if x.sum() != n:
                print("wrong sum")
                return 1
            passes += 1
        dt = time.perf_counter() - t0
        print(f"{side}: {passes} passes of x.sum() in {dt:.2f} s, {passes * n * 8 / 1e9 / dt:.1f} GB/s")
        print(describe_mapping(side, x))
        del x
        return 0
    finally:
        store.close()
        shmkit.remove(name)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--keys", type=int, default=100_000)
    p.add_argument("--repeats", type=int, default=3, help="timings of each chunk (fastest kept)")
    p.add_argument("--chunk", type=int, default=1000, help="keys per lockstep chunk")
    p.add_argument("--budget", type=float, default=10.0, help="seconds per operation for slow backends")
    p.add_argument("--batch", type=int, default=0, help="compare get_many of this many keys per call instead")
    p.add_argument("--atomic-vector", action="store_true",
                   help="compare AtomicVector add and reads with multiprocessing.Value instead")
    p.add_argument("--calls", type=int, default=1_000_000, help="calls per operation with --atomic-vector")
    p.add_argument("--array", action="store_true",
                   help="compare a shmkit.Array (NumPy) with a private NumPy array instead")
    p.add_argument("--elements", type=int, default=100_000_000, help="float64 elements with --array")
    p.add_argument("--rounds", type=int, default=7, help="timed rounds with --array (best and median kept)")
    p.add_argument("--opens", type=int, default=400, help="calls per variant in the --array open comparison")
    p.add_argument("--array-profile", choices=("shared", "private", "private-4k"),
                   help="only warm reductions of one side, for perf stat")
    p.add_argument("--seconds", type=float, default=10.0, help="duration of --array-profile")
    args = p.parse_args()
    if args.array or args.array_profile:
        # A SIGTERM (a timeout, say) unwinds, so the store and the workers are cleaned up.
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
        print(f"# Python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} CPUs, "
              f"load average {os.getloadavg()[0]:.1f}")
        if args.array_profile:
            return array_profile(args.elements, args.array_profile, args.seconds)
        return array_comparison(args.elements, args.rounds, args.opens)
    if args.atomic_vector:
        print(f"# Python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} CPUs, "
              f"load average {os.getloadavg()[0]:.1f}")
        return counter_comparison(args.calls, args.chunk, args.repeats)

    n = args.keys
    keys = [f"k{i:09d}" for i in range(n)]
    values = [f"v{i:031d}" for i in range(n)]
    order = keys[:]
    random.Random(7).shuffle(order)

    print(f"# Python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.1f}; {n:,} keys (10-char str), 32-char str values")
    if args.batch:
        batch_comparison(keys, values, order, args.batch, args.repeats)
        return 0
    competitors = [OriginalSharedHashMap(), Lmdb(), Ultra(), Manager()]
    skipped = [b.name for b in competitors if not installed(b)]
    for name in skipped:
        print(f"# skipped (not installed): {name}")

    # The fast group, in lockstep; ratios to the dict measured alongside.
    fast = [Dict(), Shmkit(), ShmkitRaw(), Compat()]
    if "lmdb (txn per op)" not in skipped:
        fast.append(Lmdb())
    rows = {}  # name -> (keys, {op: seconds per op}, {op: ratio to dict})
    r = lockstep(fast, keys, values, order, args.chunk, args.repeats)
    for name, ops in r.items():
        rows[name] = (n, ops, {op: ops[op] / r[Dict.name][op] for op in OPS})
    # Slow competitors: one round on the keys that fit the budget, in lockstep with a dict.
    for b in competitors:
        if b.name in skipped or not b.slow:
            continue
        count = keys_within_budget(b, keys, values, args.budget)
        sub_order = [k for k in order if k < f"k{count:09d}"]
        b.capacity = count
        r = lockstep([Dict(), b], keys[:count], values[:count], sub_order, args.chunk, args.repeats)
        rows[b.name] = (count, r[b.name], {op: r[b.name][op] / r[Dict.name][op] for op in OPS})

    print()
    print("| backend | keys | " + " | ".join(f"{op} ops/s (x dict)" for op in OPS) + " |")
    print("|---|---:|" + "---:|" * len(OPS))
    for name, (count, sec, ratio) in rows.items():
        cells = [f"{1 / sec[op]:,.0f} ({ratio[op]:.1f}x)" for op in OPS]
        print(f"| {name} | {count:,} | " + " | ".join(cells) + " |")
    print()
    print("Speed-up of shmkit.HashMap over each library: ops/s ratio, and in brackets the ratio")
    print("of their dict-relative costs (each normalised by a dict timed alongside it):")
    shm_sec, shm_ratio = rows["shmkit.HashMap"][1], rows["shmkit.HashMap"][2]
    for other in ("shared-hashmap 0.2.0", "lmdb (txn per op)", "UltraDict (shared_lock=True)",
                  "multiprocessing.Manager().dict()"):
        if other in rows:
            _, sec, ratio = rows[other]
            cells = ", ".join(f"{op} {sec[op] / shm_sec[op]:,.1f}x ({ratio[op] / shm_ratio[op]:,.1f}x)" for op in OPS)
            print(f"- vs {other}: {cells}")
    print()
    print("targets: get within 4x of dict, set within 5x; >= 100x shared-hashmap, >= 4x lmdb")
    return 0


if __name__ == "__main__":
    sys.exit(main())
