"""shmkit.PriorityQueue: a model test against heapq (with a sequence number for stability),
Python's ordering of mixed numbers and tuples, the queue.PriorityQueue interface, blocking
across processes, 4 producers x 4 consumers, pickling, bad input."""

from __future__ import annotations

import heapq
import itertools
import multiprocessing
import pickle
import queue
import random
import time

import pytest

import shmkit

import _workers
from _support import wait_until


def test_model_against_heapq_with_stable_ties(store):
    rng = random.Random(99)
    pq = store.priority_queue("pq")
    heap = []
    counter = itertools.count()
    for step in range(4000):
        op = rng.randrange(5)
        if op < 3:
            # Few distinct priorities: many ties, which must come out in put order.
            item = (rng.choice([0, 1, 1.5, -2, 10**20, 2.0]), rng.choice(["a", "b", b"c"]), step)
            # The model orders by (priority, kind, step): str and bytes are separate types
            # in the encoding (bytes before str), which Python never compares.
            heapq.heappush(heap, ((item[0], isinstance(item[1], str), item[1], step), next(counter), item))
            pq.put(item)
        elif op == 3:
            if heap:
                assert pq.get_nowait() == heapq.heappop(heap)[2]
            else:
                with pytest.raises(queue.Empty):
                    pq.get_nowait()
        else:
            n = rng.randrange(1, 6)
            if heap:
                expected = [heapq.heappop(heap)[2] for _ in range(min(n, len(heap)))]
                assert pq.get_many(n, block=False) == expected
        assert pq.qsize() == len(heap) == len(pq)
    assert pq.items() == [entry[2] for entry in sorted(heap)]
    assert pq.verify()["clean"]


def test_equal_priorities_come_out_in_put_order_and_objects_are_never_compared(store):
    pq = store.priority_queue("pq")
    tasks = [{"n": i} for i in range(50)]
    for t in tasks:
        pq.put((1, t))
    pq.put((0, {"first": True}))
    assert pq.get() == (0, {"first": True})
    assert [pq.get() for _ in range(50)] == [(1, t) for t in tasks]


def test_items_sort_as_python_sorts_them(store):
    rng = random.Random(5)
    values = [rng.choice([rng.randint(-10**30, 10**30), rng.uniform(-1e6, 1e6), rng.randint(-5, 5)])
              for _ in range(500)]
    pq = store.priority_queue("pq")
    pq.put_many(values)
    assert pq.get_many(1000) == sorted(values)
    tuples = [(rng.randint(0, 3), rng.choice(["x", "y", "xy", ""]), rng.random()) for _ in range(300)]
    pq.put_many(tuples)
    assert pq.get_many(1000) == sorted(tuples)


def test_queue_interface_and_bad_input(store):
    pq = store.priority_queue("pq", maxsize=2)
    assert pq.maxsize == 2 and pq.empty() and not pq.full()
    pq.put(3)
    pq.put_nowait(1)
    assert pq.full() and pq.peek() == 1
    with pytest.raises(queue.Full):
        pq.put_nowait(2)
    with pytest.raises(queue.Full):
        pq.put(2, timeout=0.05)
    assert pq.get() == 1 and pq.get() == 3
    with pytest.raises(queue.Empty):
        pq.get(timeout=0.05)
    with pytest.raises(shmkit.EmptyError):
        pq.peek()
    with pytest.raises(TypeError):
        pq.put({"no": "order"})
    with pytest.raises(TypeError):
        pq.put([1, 2])
    assert pq.empty(), "a refused put stored nothing"
    store.hash_map("m")
    with pytest.raises(shmkit.WrongKindError):
        store.priority_queue("m")
    with pytest.raises(shmkit.ObjectNotFoundError):
        store.priority_queue("missing", create=False)
    pq2 = pickle.loads(pickle.dumps(pq))
    assert type(pq2) is shmkit.PriorityQueue
    pq2.put(7)
    assert pq.get() == 7
    pq.put(1)
    pq.clear()
    assert pq.qsize() == 0


def test_a_get_with_a_timeout_raises_empty_after_about_that_long(store):
    pq = store.priority_queue("pq")
    start = time.monotonic()
    with pytest.raises(queue.Empty):
        pq.get(timeout=0.2)
    assert time.monotonic() - start >= 0.2


def _get_one(pq):
    return pq.get(timeout=60)


def test_a_get_blocked_in_another_process_wakes_when_an_item_is_put(store):
    pq = store.priority_queue("pq")
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        result = pool.apply_async(_get_one, (pq,))
        wait_until(lambda: pq.stats().get("pop_waiters") == 1,
                   "the child blocks in get()")
        pq.put((5, "wake"))
        assert result.get(timeout=60) == (5, "wake")


def test_four_producers_and_four_consumers_get_every_item_once_in_order(store):
    pq = store.priority_queue("pq")
    per = 10_000
    with multiprocessing.get_context("spawn").Pool(8) as pool:
        consumers = [pool.apply_async(_workers.queue_consume, (pq, per)) for _ in range(4)]
        producers = [pool.apply_async(_workers.queue_produce, (pq, p, per)) for p in range(4)]
        for p in producers:
            p.get(timeout=300)
        got = [c.get(timeout=300) for c in consumers]
    seen = set()
    for items in got:
        for item in items:
            assert item not in seen, f"{item} got twice"
            seen.add(item)
    assert seen == {(p, s) for p in range(4) for s in range(per)}
    assert pq.empty()
