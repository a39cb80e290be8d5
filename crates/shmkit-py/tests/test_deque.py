"""shmkit.Deque and shmkit.Queue: a model test against collections.deque, the queue.Queue
interface, timeouts, blocking across processes, Ctrl-C, pickling to multiprocessing.Pool and
concurrent.futures workers, and bad input."""

from __future__ import annotations

import collections
import concurrent.futures
import multiprocessing
import os
import pickle
import queue
import random
import signal
import subprocess
import sys
import textwrap
import time

import pytest

import shmkit

import _workers
from _support import wait_until

VALUES = [None, True, False, 0, -1, 2**70, 1.5, b"", b"\x00bytes", "", "text \u00e9", (1, "a"), {"k": [1]}]


def test_model_against_collections_deque(store):
    rng = random.Random(1234)
    for maxlen in (None, 1, 3, 17):
        d = store.deque(f"model-{maxlen}", maxlen)
        model = collections.deque(maxlen=maxlen)
        for step in range(3000):
            op = rng.randrange(9)
            value = rng.choice(VALUES) if rng.random() < 0.5 else rng.randbytes(rng.randrange(600))
            if op in (0, 1):
                d.append(value)
                model.append(value)
            elif op == 2:
                d.appendleft(value)
                model.appendleft(value)
            elif op == 3:
                items = [rng.choice(VALUES) for _ in range(rng.randrange(4))]
                d.extend(items)
                model.extend(items)
            elif op == 4:
                items = [step, step + 1]
                d.extendleft(items)
                model.extendleft(items)
            elif op in (5, 6):
                left = op == 5
                if model:
                    expected = model.popleft() if left else model.pop()
                    assert (d.popleft() if left else d.pop()) == expected
                else:
                    with pytest.raises(IndexError):
                        d.popleft() if left else d.pop()
            elif op == 7:
                n = rng.randrange(5)
                expected = [model.popleft() for _ in range(min(n, len(model)))]
                assert d.popleft_many(n) == expected
            elif rng.random() < 0.05:
                d.clear()
                model.clear()
            assert len(d) == len(model)
        assert list(d) == list(model)
        if model:
            assert d.peek() == model[-1] and d.peekleft() == model[0]
        assert d.verify()["clean"]


def test_deque_basics_and_properties(store):
    d = store.deque("d")
    assert d.kind == "deque" and d.maxlen is None and d.overflow == "overwrite" and len(d) == 0
    d.append("a")
    d.appendleft(b"b")
    assert list(d) == [b"b", "a"] and d.nbytes > 0
    assert d.pop() == "a" and d.popleft() == b"b"
    with pytest.raises(shmkit.EmptyError) as e:
        d.pop()
    assert isinstance(e.value, IndexError) and isinstance(e.value, queue.Empty)
    with pytest.raises(IndexError):
        d.peek()
    bounded = store.deque("bounded", 2)
    bounded.extend([1, 2, 3])
    assert list(bounded) == [2, 3] and bounded.maxlen == 2
    blocking = store.deque("blocking", 1, overflow="block")
    blocking.append(1)
    with pytest.raises(shmkit.FullError) as e:
        blocking.append(2, timeout=0)
    assert isinstance(e.value, queue.Full)
    assert list(blocking) == [1]


def test_queue_interface(store):
    q = store.queue("q", maxsize=2)
    assert q.maxsize == 2 and q.empty() and not q.full() and q.qsize() == 0
    q.put(1)
    q.put_nowait({"two": 2})
    assert q.full() and q.qsize() == 2
    with pytest.raises(queue.Full):
        q.put_nowait(3)
    with pytest.raises(queue.Full):
        q.put(3, timeout=0.05)
    with pytest.raises(queue.Full):
        q.put(3, block=False)
    assert q.get() == 1 and q.get_nowait() == {"two": 2}
    with pytest.raises(queue.Empty):
        q.get_nowait()
    with pytest.raises(queue.Empty):
        q.get(block=False)
    with pytest.raises(ValueError):
        q.get(timeout=-1)
    unbounded = store.queue("u")
    unbounded.put_many(range(250))
    assert unbounded.get_many(100) == list(range(100))
    assert unbounded.get_many(1000) == list(range(100, 250))
    with pytest.raises(queue.Empty):
        unbounded.get_many(10, timeout=0.01)
    q.join_thread()
    q.cancel_join_thread()


def test_a_get_with_a_timeout_raises_empty_after_about_that_long(store):
    q = store.queue("q")
    start = time.monotonic()
    with pytest.raises(queue.Empty):
        q.get(timeout=0.2)
    assert time.monotonic() - start >= 0.2
    d = store.deque("d")
    start = time.monotonic()
    with pytest.raises(IndexError):
        d.popleft(timeout=0.1)
    assert time.monotonic() - start >= 0.1


def test_pickled_handles_keep_their_interface(store):
    q = store.queue("q", 5)
    d = store.deque("q")
    q2 = pickle.loads(pickle.dumps(q))
    d2 = pickle.loads(pickle.dumps(d))
    assert type(q2) is shmkit.Queue and type(d2) is shmkit.Deque
    q2.put("x")
    assert d2.popleft() == "x" and q2.maxsize == 5


def test_bad_input(store):
    store.hash_map("m")
    with pytest.raises(shmkit.WrongKindError):
        store.deque("m")
    with pytest.raises(shmkit.WrongKindError):
        store.queue("m")
    with pytest.raises(ValueError):
        store.deque("d", overflow="drop")
    with pytest.raises(shmkit.InvalidOptionsError):
        store.deque("d", 0)
    with pytest.raises(shmkit.ObjectNotFoundError):
        store.queue("missing", create=False)
    d = store.deque("d")
    with pytest.raises(ValueError):
        d.popleft(timeout=-1)
    d.close()
    with pytest.raises(shmkit.ClosedError):
        d.append(1)


def _consume(q, n):
    return [q.get(timeout=60) for _ in range(n)]


def test_a_get_blocked_in_another_process_wakes_when_an_item_is_put(store):
    q = store.queue("q")
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(1) as pool:
        result = pool.apply_async(_consume, (q, 1))
        # The child is blocked once it registered as a waiter.
        wait_until(lambda: q.stats().get("pop_waiters") == 1, "the child blocks in get()")
        q.put("hello")
        assert result.get(timeout=60) == ["hello"]


def _square_into(q, x):
    q.put((x, x * x))
    return x


def test_pool_and_executor_workers_use_a_queue_passed_to_them(store):
    q = store.queue("results")
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        assert sorted(pool.starmap(_square_into, [(q, i) for i in range(20)])) == list(range(20))
    with concurrent.futures.ProcessPoolExecutor(2) as ex:
        assert sorted(ex.map(_square_into, [q] * 20, range(20, 40))) == list(range(20, 40))
    got = sorted(q.get_many(100, timeout=10))
    assert got == [(i, i * i) for i in range(40)]


def test_four_producers_and_four_consumers_deliver_every_item_once(store):
    q = store.queue("q", maxsize=1000)
    ctx = multiprocessing.get_context("spawn")
    per = 20_000
    with ctx.Pool(8) as pool:
        consumers = [pool.apply_async(_workers.queue_consume, (q, per)) for _ in range(4)]
        producers = [pool.apply_async(_workers.queue_produce, (q, p, per)) for p in range(4)]
        for p in producers:
            p.get(timeout=300)
        got = [c.get(timeout=300) for c in consumers]
    seen = collections.Counter()
    for items in got:
        last = {}
        for p, s in items:
            assert last.get(p, -1) < s, "a producer's items came out of order"
            last[p] = s
            seen[(p, s)] += 1
    assert len(seen) == 4 * per and set(seen.values()) == {1}
    assert q.empty()


def test_ctrl_c_interrupts_a_blocked_get(store_name):
    code = textwrap.dedent(
        f"""
        import sys, shmkit
        q = shmkit.Store({store_name!r}).queue("q")
        print("waiting", flush=True)
        try:
            q.get()
        except KeyboardInterrupt:
            sys.exit(42)
        sys.exit(1)
        """
    )
    q = shmkit.Store(store_name).queue("q")
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "waiting"
        wait_until(lambda: q.stats().get("pop_waiters") == 1, "the child blocks in get()")
        child.send_signal(signal.SIGINT)
        assert child.wait(timeout=60) == 42
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    # The interrupted waiter unregistered.
    assert q.stats().get("pop_waiters") == 0
