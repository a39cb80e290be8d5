#!/usr/bin/env python3
"""Python queue benchmark: shmkit.Queue between two processes against the queues Python
programs use for the same job.

    pip install -r crates/shmkit-bench/python/requirements-bench.txt   # optional competitors
    python crates/shmkit-bench/python/bench_queue.py [--items 200000] [--size 64] [--rounds 3]

One producer process puts --items items of --size bytes (``bytes``), one consumer process
gets them; both are forked before the clock starts and wait at a barrier. The time runs from
the barrier until the consumer has the last item; items/s = items / that time, best of
--rounds. Every backend is timed one item per call, and the ones with a batch interface also
with batches of 100 (shmkit ``put_many``/``get_many``, faster-fifo ``put_many``/``get_many``).
The consumer keeps what it received and checks afterwards (untimed) that it got every item
exactly once, in order.

Backends (skipped, and said so, when not installed): shmkit.Queue, multiprocessing.Queue,
multiprocessing.SimpleQueue, faster_fifo.Queue, posix_ipc.MessageQueue (the system's limit
on queued messages, /proc/sys/fs/mqueue/msg_max, applies; items must fit its message size).
Ratios are to multiprocessing.Queue measured in the same run.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import sys
import time
import uuid

import shmkit

BATCH = 100
CTX = multiprocessing.get_context("fork")


def make_items(n: int, size: int) -> list[bytes]:
    pad = b"x" * (size - 8)
    return [i.to_bytes(8, "little") + pad for i in range(n)]


class Backend:
    name = ""
    batch = False

    def make(self, n):
        """Creates the queue (before forking)."""

    def put(self, q, item):
        raise NotImplementedError

    def get(self, q):
        raise NotImplementedError

    def put_many(self, q, items):
        raise NotImplementedError

    def get_many(self, q, max_items):
        raise NotImplementedError

    def close(self, q):
        """Removes the queue (after the round)."""


class Shmkit(Backend):
    name = "shmkit.Queue"
    batch = True

    def make(self, n):
        self.store_name = f"bench-queue-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.store = shmkit.Store(self.store_name)
        return self.store.queue("q", maxsize=10_000)

    def put(self, q, item):
        q.put(item)

    def get(self, q):
        return q.get()

    def put_many(self, q, items):
        q.put_many(items)

    def get_many(self, q, max_items):
        return q.get_many(max_items)

    def close(self, q):
        q.close()
        self.store.close()
        shmkit.remove(self.store_name)


class MpQueue(Backend):
    name = "multiprocessing.Queue"

    def make(self, n):
        return CTX.Queue(10_000)

    def put(self, q, item):
        q.put(item)

    def get(self, q):
        return q.get()


class MpSimpleQueue(Backend):
    name = "multiprocessing.SimpleQueue"

    def make(self, n):
        return CTX.SimpleQueue()

    def put(self, q, item):
        q.put(item)

    def get(self, q):
        return q.get()


class FasterFifo(Backend):
    name = "faster_fifo.Queue"
    batch = True

    def make(self, n):
        import faster_fifo

        return faster_fifo.Queue(max_size_bytes=64 * 1024 * 1024)

    def put(self, q, item):
        q.put(item)

    def get(self, q):
        return q.get()

    def put_many(self, q, items):
        q.put_many(items)

    def get_many(self, q, max_items):
        return q.get_many(max_messages_to_get=max_items)


class PosixIpc(Backend):
    name = "posix_ipc.MessageQueue"

    def make(self, n):
        import posix_ipc

        self.name_ = f"/bench-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        return posix_ipc.MessageQueue(self.name_, posix_ipc.O_CREX)

    def put(self, q, item):
        q.send(item)

    def get(self, q):
        return q.receive()[0]

    def close(self, q):
        q.close()
        q.unlink()


def installed(backend) -> bool:
    try:
        q = backend.make(1)
    except ImportError:
        return False
    backend.close(q)
    return True


def producer(backend, q, items, batched, barrier):
    barrier.wait()
    if batched:
        for i in range(0, len(items), BATCH):
            backend.put_many(q, items[i : i + BATCH])
    else:
        put = backend.put
        for item in items:
            put(q, item)


def consumer(backend, q, n, batched, barrier, conn):
    got = []
    barrier.wait()
    start = time.perf_counter()
    if batched:
        while len(got) < n:
            got.extend(backend.get_many(q, BATCH))
    else:
        get = backend.get
        for _ in range(n):
            got.append(get(q))
    elapsed = time.perf_counter() - start
    wrong = sum(1 for i, item in enumerate(got) if int.from_bytes(item[:8], "little") != i) + abs(len(got) - n)
    conn.send((elapsed, wrong))


def one_round(backend, items, batched):
    q = backend.make(len(items))
    try:
        barrier = CTX.Barrier(3)
        parent, child = CTX.Pipe()
        c = CTX.Process(target=consumer, args=(backend, q, len(items), batched, barrier, child))
        p = CTX.Process(target=producer, args=(backend, q, items, batched, barrier))
        c.start()
        p.start()
        barrier.wait()
        elapsed, wrong = parent.recv()
        p.join()
        c.join()
        return elapsed, wrong
    finally:
        backend.close(q)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--items", type=int, default=200_000)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    items = make_items(args.items, args.size)
    print(f"# Python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.1f}; {args.items:,} items of {args.size} bytes, "
          f"producer process -> consumer process, best of {args.rounds}")
    backends = [MpQueue(), Shmkit(), MpSimpleQueue(), FasterFifo(), PosixIpc()]
    results = {}
    wrong_total = 0
    for b in backends:
        if not installed(b):
            print(f"# skipped (not installed): {b.name}")
            continue
        for batched in ([False, True] if b.batch else [False]):
            n = args.items
            if isinstance(b, PosixIpc):
                n = min(n, 50_000)  # a syscall per item: keep the round short
            best = float("inf")
            for _ in range(args.rounds):
                elapsed, wrong = one_round(b, items[:n], batched)
                wrong_total += wrong
                best = min(best, elapsed)
            label = b.name + (f" (batches of {BATCH})" if batched else "")
            results[label] = n / best
    base = results.get(MpQueue.name)
    print()
    print("| queue | items/s | x multiprocessing.Queue |")
    print("|---|---:|---:|")
    for label, rate in results.items():
        ratio = f"{rate / base:.1f}x" if base else "-"
        print(f"| {label} | {rate:,.0f} | {ratio} |")
    print()
    print("targets: shmkit.Queue >= 1M items/s one by one (>= 7x multiprocessing.Queue), "
          ">= 5M items/s in batches")
    print(f"checked every item of every round (each exactly once, in order): {wrong_total} wrong")
    return 1 if wrong_total else 0


if __name__ == "__main__":
    sys.exit(main())
