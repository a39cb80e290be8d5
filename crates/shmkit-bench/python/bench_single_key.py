#!/usr/bin/env python3
"""Single-key calls on shmkit.HashMap against the same loops over a dict (issue 15).

    python crates/shmkit-bench/python/bench_single_key.py [--keys 100000] [--rounds 5]

Workload: --keys keys of 10 characters (str); values of 32 characters (str), then, in a
separate run, int values (between 10**9 and 10**9 + keys, so none is one of CPython's cached
small ints). Operations, each over every key:

    set       for k, v in zip(keys, values): m[k] = v     (into an empty map)
    get       [m[k] for k in order]
    contains  [k in m for k in order]
    delete    for k in order: del m[k]

`order` is the keys shuffled (fixed seed). Every round times each operation over the whole
key set on the shmkit map and on a dict, one right after the other (which side goes first
alternates between rounds), so load on a shared machine hits both alike; a round is
set, get, contains, delete, leaving both empty. Reported: the median of --rounds rounds in ns
per operation for each side, and the ratio of the two medians ("x dict"). Results are
checked (gets equal the dict's, contains all true, both empty after deletes).

--cpu-time times with this thread's CPU time instead of the wall clock: on a machine shared
with other work the time this process spends descheduled then does not count (cache
pollution by the other work still does).

--json prints one JSON object per value kind as well (for comparing two builds: run the
script under each build in turn). The store lives in /dev/shm (the default) and is removed at
the end, also after an error.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import time
import uuid

import shmkit

OPS = ("set", "get", "contains", "delete")


def op_set(t, keys, values):
    for k, v in zip(keys, values):
        t[k] = v


def op_get(t, order):
    return [t[k] for k in order]


def op_contains(t, order):
    return [k in t for k in order]


def op_delete(t, order):
    for k in order:
        del t[k]


CLOCK = time.perf_counter


def timed(f, *args):
    t0 = CLOCK()
    r = f(*args)
    return CLOCK() - t0, r


def run_kind(m, keys, values, order, rounds):
    """Median ns per op for {side: {op: ns}} over `rounds` alternating rounds."""
    n = len(keys)
    samples = {side: {op: [] for op in OPS} for side in ("dict", "shmkit")}
    expected = dict(zip(keys, values))
    want = [expected[k] for k in order]
    for r in range(rounds):
        d = {}
        sides = [("dict", d), ("shmkit", m)]
        if r % 2:
            sides.reverse()
        for op in OPS:
            for side, t in sides:
                if op == "set":
                    dt, _ = timed(op_set, t, keys, values)
                elif op == "get":
                    dt, got = timed(op_get, t, order)
                    if got != want:
                        raise AssertionError(f"{side}: get returned other values")
                elif op == "contains":
                    dt, got = timed(op_contains, t, order)
                    if not all(got):
                        raise AssertionError(f"{side}: a key is missing")
                else:
                    dt, _ = timed(op_delete, t, order)
                    if len(t):
                        raise AssertionError(f"{side}: not empty after deletes")
                samples[side][op].append(dt / n * 1e9)
    return {side: {op: statistics.median(v) for op, v in ops.items()} for side, ops in samples.items()}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--keys", type=int, default=100_000)
    p.add_argument("--rounds", type=int, default=5, help="rounds (the median is reported)")
    p.add_argument("--values", choices=("str", "int", "both"), default="both")
    p.add_argument("--json", action="store_true", help="also print the medians as JSON lines")
    p.add_argument("--cpu-time", action="store_true", help="time with the thread's CPU time, not the wall clock")
    args = p.parse_args()
    global CLOCK
    if args.cpu_time:
        CLOCK = time.thread_time

    n = args.keys
    keys = [f"k{i:09d}" for i in range(n)]
    order = keys[:]
    random.Random(7).shuffle(order)
    kinds = {
        "str": [f"v{i:031d}" for i in range(n)],
        "int": [10**9 + i for i in range(n)],
    }
    if args.values != "both":
        kinds = {args.values: kinds[args.values]}

    print(f"# Python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.1f}; shmkit from {os.path.dirname(shmkit.__file__)}")
    clock = "thread CPU time" if args.cpu_time else "wall clock"
    print(f"# {n:,} keys (10-char str), median of {args.rounds} rounds, ns per operation ({clock})")
    name = f"bench-single-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    store = shmkit.Store(name)
    try:
        m = store.hash_map("m")
        results = {}
        for kind, values in kinds.items():
            results[kind] = run_kind(m, keys, values, order, args.rounds)
        m.close()
    finally:
        store.close()
        shmkit.remove(name)

    print()
    print("| values | operation | dict | shmkit | x dict |")
    print("|---|---|---:|---:|---:|")
    for kind, res in results.items():
        for op in OPS:
            a, b = res["dict"][op], res["shmkit"][op]
            print(f"| {kind} | {op} | {a:.0f} ns | {b:.0f} ns | {b / a:.2f}x |")
    if args.json:
        for kind, res in results.items():
            print(json.dumps({"values": kind, **res}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
