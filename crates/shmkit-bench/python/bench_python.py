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
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import random
import shutil
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
    args = p.parse_args()
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
