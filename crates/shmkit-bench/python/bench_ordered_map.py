#!/usr/bin/env python3
"""Python ordered map benchmark: shmkit.OrderedMap against a dict, a sorted list with bisect,
and LMDB, the sorted key-value store Python programs share between processes.

    pip install -r crates/shmkit-bench/python/requirements-bench.txt   # lmdb (optional)
    python crates/shmkit-bench/python/bench_ordered_map.py [--keys 1000000] [--scan 100]

Data: --keys random 16-byte ``bytes`` keys (seeded) with 32-byte ``bytes`` values, loaded
into every backend before the clock starts (LMDB: one environment in /dev/shm, sync off,
writemap, map_size 4 GiB).

get (hit): every key once, in a shuffled order, ``m[k]`` per call; LMDB opens one read
transaction per call (``with env.begin() as txn: txn.get(k)``), as a program sharing it
between processes does for each independent read.

range scan: --scans scans of --scan consecutive keys each, from random keys of the set to
the key --scan places further (``m.items(lo, hi)``); LMDB iterates a cursor from
``set_range(lo)`` until ``hi`` inside one read transaction per scan; the in-process baseline
slices a sorted key list between two ``bisect`` positions and reads the values from a dict.
Reported per entry returned.

Timing: chunks of --chunk calls (gets) or --chunk/10 scans run on each backend in turn,
each chunk timed --repeats times keeping the fastest, so load on a shared machine hits all
sides alike and one preemption does not count; every ratio is to a side measured in the same
run. Every get must return its key's value and every scan exactly --scan entries in order
(checked in the timed loop for the count, after it for the contents); the script exits 1 if
any did not.
"""

from __future__ import annotations

import argparse
import bisect
import os
import platform
import random
import shutil
import sys
import tempfile
import time
import uuid

import shmkit


def lmdb_or_none():
    try:
        import lmdb
    except ImportError:
        return None
    return lmdb


# --- gets ---------------------------------------------------------------------------------


def get_dict(d, keys):
    for k in keys:
        d[k]


def get_shmkit(m, keys):
    for k in keys:
        m[k]


def get_lmdb(env, keys):
    begin = env.begin
    for k in keys:
        with begin() as txn:
            txn.get(k)


# --- scans: each returns the number of entries it read ------------------------------------


def scan_sorted(state, bounds):
    keys, d = state
    n = 0
    for lo, hi in bounds:
        for k in keys[bisect.bisect_left(keys, lo):bisect.bisect_left(keys, hi)]:
            d[k]
            n += 1
    return n


def scan_shmkit(m, bounds):
    n = 0
    items = m.items
    for lo, hi in bounds:
        for _k, _v in items(lo, hi):
            n += 1
    return n


def scan_lmdb(env, bounds):
    n = 0
    begin = env.begin
    for lo, hi in bounds:
        with begin() as txn:
            cur = txn.cursor()
            if cur.set_range(lo):
                for k, _v in cur:
                    if k >= hi:
                        break
                    n += 1
    return n


def timed(fn, handle, part, repeats):
    """The fastest of `repeats` runs of fn(handle, part), and its result."""
    best, result = float("inf"), None
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = fn(handle, part)
        best = min(best, time.perf_counter() - t0)
    return best, result


def lockstep(sides, work, chunk, repeats):
    """{side name: (seconds in total, results)} over `work` cut into chunks, each chunk run
    on every side in turn."""
    spent = {name: 0.0 for name, _, _ in sides}
    results = {name: [] for name, _, _ in sides}
    for start in range(0, len(work), chunk):
        part = work[start:start + chunk]
        for name, fn, handle in sides:
            t, r = timed(fn, handle, part, repeats)
            spent[name] += t
            results[name].append(r)
    return {name: (spent[name], results[name]) for name in spent}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--keys", type=int, default=1_000_000, help="keys in the map (about 15 s for 1M; fewer for a quick run)")
    ap.add_argument("--scan", type=int, default=100, help="entries per range scan")
    ap.add_argument("--scans", type=int, default=5_000, help="range scans timed")
    ap.add_argument("--chunk", type=int, default=1_000, help="gets per chunk (scans: a tenth)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()

    rng = random.Random(args.seed)
    n = args.keys
    keys = list({rng.randbytes(16) for _ in range(n)})
    n = len(keys)
    values = [k + k for k in keys]  # 32 bytes, tells which key it belongs to
    print(f"# Python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.1f}; {n:,} keys of 16 bytes, values of 32 bytes, "
          f"best of {args.repeats} per chunk")

    d = dict(zip(keys, values))
    ordered = sorted(keys)
    store_name = f"bench-om-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    store = shmkit.Store(store_name)
    lmdb = lmdb_or_none()
    env, env_dir = None, None
    try:
        m = store.ordered_map("bench")
        t0 = time.perf_counter()
        for k, v in zip(keys, values):
            m[k] = v
        load = time.perf_counter() - t0
        print(f"# loaded shmkit.OrderedMap in {load:.1f} s ({load / n * 1e9:,.0f} ns per insert, random order)")
        if lmdb is None:
            print("# skipped (not installed): lmdb")
        else:
            env_dir = tempfile.mkdtemp(prefix="bench-om-lmdb-", dir="/dev/shm" if os.path.isdir("/dev/shm") else None)
            env = lmdb.open(env_dir, map_size=4 << 30, sync=False, metasync=False, writemap=True)
            with env.begin(write=True) as txn:
                for k, v in zip(keys, values):
                    txn.put(k, v)

        wrong = 0
        # Correctness of what is timed (untimed): every get returns its value.
        sample = rng.sample(keys, min(n, 10_000))
        wrong += sum(m[k] != d[k] for k in sample)
        if env is not None:
            with env.begin() as txn:
                wrong += sum(txn.get(k) != d[k] for k in sample)

        order = keys[:]
        rng.shuffle(order)
        sides = [("dict", get_dict, d), ("shmkit.OrderedMap", get_shmkit, m)]
        if env is not None:
            sides.append(("lmdb (txn per get)", get_lmdb, env))
        gets = lockstep(sides, order, args.chunk, args.repeats)
        get_ns = {name: t / n * 1e9 for name, (t, _) in gets.items()}

        starts = [rng.randrange(n - args.scan) for _ in range(args.scans)]
        bounds = [(ordered[i], ordered[i + args.scan]) for i in starts]
        sides = [("sorted list + bisect", scan_sorted, (ordered, d)), ("shmkit.OrderedMap", scan_shmkit, m)]
        if env is not None:
            sides.append(("lmdb (cursor, txn per scan)", scan_lmdb, env))
        scans = lockstep(sides, bounds, max(1, args.chunk // 10), args.repeats)
        expected = [min(len(bounds) - i, max(1, args.chunk // 10)) * args.scan
                    for i in range(0, len(bounds), max(1, args.chunk // 10))]
        for name, (_, counts) in scans.items():
            if counts != expected:
                print(f"# WRONG: {name} returned {sum(counts)} entries, expected {sum(expected)}")
                wrong += 1
        entries = len(bounds) * args.scan
        scan_ns = {name: t / entries * 1e9 for name, (t, _) in scans.items()}
        # Contents of some scans (untimed): the keys in order with their values.
        for lo, hi in bounds[:200]:
            want = [(k, d[k]) for k in ordered[bisect.bisect_left(ordered, lo):bisect.bisect_left(ordered, hi)]]
            wrong += list(m.items(lo, hi)) != want
            wrong += list(m.items(lo, hi, reverse=True)) != want[::-1]

        print()
        print("| get (hit) | ns/op | ops/s | x dict | x lmdb's rate |")
        print("|---|---:|---:|---:|---:|")
        lm = get_ns.get("lmdb (txn per get)")
        for name, ns in get_ns.items():
            vs_lmdb = f"{lm / ns:.1f}x" if lm else "-"
            print(f"| {name} | {ns:,.0f} | {1e9 / ns:,.0f} | {ns / get_ns['dict']:.1f}x | {vs_lmdb} |")
        print()
        print(f"| range scan of {args.scan} | ns/entry | entries/s | x sorted list | x lmdb's rate |")
        print("|---|---:|---:|---:|---:|")
        lm = scan_ns.get("lmdb (cursor, txn per scan)")
        base = scan_ns["sorted list + bisect"]
        for name, ns in scan_ns.items():
            vs_lmdb = f"{lm / ns:.1f}x" if lm else "-"
            print(f"| {name} | {ns:,.1f} | {1e9 / ns:,.0f} | {ns / base:.1f}x | {vs_lmdb} |")
        print()
        if lm:
            get_ok = get_ns["lmdb (txn per get)"] / get_ns["shmkit.OrderedMap"]
            scan_ok = lm / scan_ns["shmkit.OrderedMap"]
            print(f"targets: get >= 3x lmdb's rate ({get_ok:.1f}x: {'met' if get_ok >= 3 else 'MISSED'}), "
                  f"scans >= lmdb's rate per entry ({scan_ok:.1f}x: {'met' if scan_ok >= 1 else 'MISSED'})")
        print(f"checked: every scan's count, 10,000 gets and 200 scans' contents both ways: {wrong} wrong")
        return 1 if wrong else 0
    finally:
        if env is not None:
            env.close()
        if env_dir:
            shutil.rmtree(env_dir, ignore_errors=True)
        store.close()
        shmkit.remove(store_name)


if __name__ == "__main__":
    sys.exit(main())
