"""Handles across processes: pickling into spawn/fork children, pools, concurrent writers,
a writer killed with SIGKILL mid-loop, and attaching processes that exit."""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import os
import pickle
import signal

import pytest

import shmkit

import _workers
from _support import wait_until

JOIN_TIMEOUT = 60


@pytest.mark.parametrize("method", ["spawn", "fork"])
def test_pickled_handle_in_child(m, method):
    m["hello"] = "world"
    ctx = multiprocessing.get_context(method)
    with ctx.Pool(1) as pool:
        assert pool.apply(_workers.read_value, (m, "hello")) == "world"
        pid = pool.apply(_workers.write_range, (m, method, 100))
    assert pid != os.getpid()
    assert all(m[f"{method}-{i}"] == i for i in range(100))


def test_handles_pickle_by_name(store, m):
    m["k"] = 1
    again = pickle.loads(pickle.dumps(m))
    assert again["k"] == 1 and again.name == m.name and again.raw == m.raw
    raw = pickle.loads(pickle.dumps(store.hash_map("m", raw=True)))
    assert raw.raw is True
    s2 = pickle.loads(pickle.dumps(store))
    assert s2.hash_map("m")["k"] == 1
    assert pickle.loads(pickle.dumps(shmkit.MISSING)) is shmkit.MISSING


def test_unpickling_never_creates(store_name):
    store = shmkit.Store(store_name)
    data = pickle.dumps(store.hash_map("m"))
    store.unlink()
    with pytest.raises(FileNotFoundError):
        pickle.loads(data)


def test_process_pool_executor_spawn(m):
    ctx = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(2, mp_context=ctx) as pool:
        futures = [pool.submit(_workers.write_range, m, f"p{j}", 200) for j in range(4)]
        for f in futures:
            f.result(timeout=JOIN_TIMEOUT)
    assert len(m) == 800


def test_four_processes_write_concurrently_without_losing_writes(m):
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_workers.write_range, args=(m, f"w{j}", 3000)) for j in range(4)]
    procs += [ctx.Process(target=_workers.incr_many, args=(m, "counter", 1000)) for _ in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(JOIN_TIMEOUT)
        assert p.exitcode == 0
    assert len(m) == 4 * 3000 + 1
    assert m["counter"] == 4000
    for j in range(4):
        assert all(m[f"w{j}-{i}"] == i for i in range(3000))
    assert m.verify()["clean"]


def test_writer_killed_mid_loop_while_others_continue(store, m):
    ctx = multiprocessing.get_context("spawn")
    victim = ctx.Process(target=_workers.write_forever, args=(m, "victim"))
    victim.start()
    wait_until(lambda: "victim-1999" in m, "the victim has written 2000 keys")
    others = [ctx.Process(target=_workers.write_range, args=(m, f"ok{j}", 5000)) for j in range(2)]
    for p in others:
        p.start()
    # Kill only once the others write too, so their writes overlap the victim's.
    wait_until(lambda: all(f"ok{j}-0" in m for j in range(2)), "the other writers have started")
    os.kill(victim.pid, signal.SIGKILL)
    victim.join(JOIN_TIMEOUT)
    assert victim.exitcode == -signal.SIGKILL
    for p in others:
        p.join(JOIN_TIMEOUT)
        assert p.exitcode == 0
    # The survivors' writes are all there.
    for j in range(2):
        assert all(m[f"ok{j}-{i}"] == i for i in range(5000))
    # Every key the victim left has its own value: never torn, never half-written.
    victim_keys = [k for k in m if isinstance(k, str) and k.startswith("victim-")]
    assert len(victim_keys) >= 2000
    assert all(m[k] == int(k.split("-")[1]) for k in victim_keys)
    assert m["total"] >= len(victim_keys) - 1
    report = m.verify()
    assert report["clean"], report
    assert report["entries"] == len(m)
    # The map keeps working for everyone.
    m["after"] = 1
    assert m["after"] == 1


def test_attaching_process_that_exits_deletes_nothing(store_name):
    store = shmkit.Store(store_name)
    store.hash_map("m")["hello"] = "still here"
    for method in ("spawn", "fork"):
        ctx = multiprocessing.get_context(method)
        with ctx.Pool(1) as pool:
            assert pool.apply(_workers.attach_and_exit, (store_name,)) == "still here"
    store.close()
    again = shmkit.Store(store_name, create=False)
    assert again.hash_map("m")["hello"] == "still here"


def test_threads_share_a_handle(m):
    import threading

    def work(t):
        for i in range(2000):
            m[f"t{t}-{i}"] = i
            assert m[f"t{t}-{i}"] == i
            m.incr("count")

    threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(JOIN_TIMEOUT)
    assert m["count"] == 16_000
    assert len(m) == 16_001


def test_inherited_handle_after_os_fork(store, m):
    """A handle created before fork() works in the child as it is (no pickling)."""
    m["parent"] = 1
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            m["child"] = m["parent"] + 1
            m.incr("counter", 5)
            code = 0 if os.getpid() in store.attached_pids() else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, status
    assert m["child"] == 2 and m["counter"] == 5
    assert m.verify()["clean"]
    m["parent-after"] = 3  # the parent's attachment is unaffected
    assert m["parent-after"] == 3
