"""Each error class raised by the real condition it names (not only its place in the
hierarchy), and the store working afterwards: RegistryFullError (attach, and a forked child),
CorruptError (damaged header, damaged map) with `repair()`, KeyTooLargeError.

Not here, because no Python call can reach them: LockTimeoutError (no operation of the
Python API waits with a timeout: shard, allocator and directory locks wait as long as their
owner lives, and take over from a dead one) and ValueTooLargeError (the limit is one store
block, 2**46 bytes, far beyond any value this machine can build).
"""

from __future__ import annotations

import multiprocessing
import os
import select

import pytest

import shmkit

import _workers
from _support import (
    HEADER_CREATED_NS,
    WATCHDOG,
    StoreFile,
    cannot_run,
    mem_available,
    wait_child,
    wait_until,
)

# HashMap keys may be up to u32::MAX - 7 bytes (MAX_KEY_LEN in the core).
MAX_KEY_LEN = 2**32 - 1 - 7


def _apply(pool, fn, *args):
    return pool.apply_async(fn, args).get(WATCHDOG)


def _start_holder(ctx, store):
    """A spawned process holding one registry slot of `store` until released (or this
    process dies: then its end of the pipe closes)."""
    release, holder_end = ctx.Pipe()
    holder = ctx.Process(target=_workers.hold_attachment, args=(store.path, holder_end))
    holder.start()
    holder_end.close()
    wait_until(lambda: holder.pid in store.attached_pids(), "the holder has attached")
    return holder, release


def _release(holder, release):
    """Lets the holder go and waits for it; kills it if it does not exit."""
    if not release.closed:
        release.send(None)  # (a forked child may hold a copy of this end: closing is not enough)
        release.close()
    holder.join(WATCHDOG)
    if holder.is_alive():
        holder.kill()
        holder.join()


def _stop(holder, release):
    _release(holder, release)
    assert holder.exitcode == 0, "the process holding a registry slot did not exit by itself"


def test_registry_full_on_attach_then_attach_works_once_a_slot_frees(names):
    name = names()
    store = shmkit.Store(name, max_processes=2)
    m = store.hash_map("m")
    m["k"] = "v"
    ctx = multiprocessing.get_context("spawn")
    holder, release = _start_holder(ctx, store)
    try:
        assert sorted(store.attached_pids()) == sorted([os.getpid(), holder.pid])
        with ctx.Pool(1) as pool:
            result = _apply(pool, _workers.try_attach_and_read, store.path, "k")
            assert result[:2] == ("RegistryFullError", True), result
            # The store is unaffected for the processes attached.
            m["during"] = 1
            _stop(holder, release)
            # A slot is free again: the same process attaches now.
            assert _apply(pool, _workers.try_attach_and_read, store.path, "k") == ("ok", "v")
    finally:
        _release(holder, release)
    assert m["during"] == 1
    assert m.verify()["clean"]
    assert store.verify()["clean"]


def test_registry_full_in_forked_child_then_its_next_call_works(names):
    """A child forked while every slot is taken cannot write (RegistryFullError, a read still
    works: reads take no lock); once a slot frees, its next write claims it and succeeds."""
    name = names()
    store = shmkit.Store(name, max_processes=2)
    m = store.hash_map("m")
    m["k"] = "v"
    ctx = multiprocessing.get_context("spawn")
    holder, release = _start_holder(ctx, store)
    try:
        to_parent_r, to_parent_w = os.pipe()
        to_child_r, to_child_w = os.pipe()
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                os.close(to_parent_r)
                os.close(to_child_w)
                try:
                    m["child"] = "first try"
                    status = b"write succeeded without a slot"
                except shmkit.RegistryFullError:
                    status = b"full" if m["k"] == "v" else b"read failed"
                except BaseException as e:
                    status = repr(e).encode()[:64]
                os.write(to_parent_w, status.ljust(64))
                if os.read(to_child_r, 1) == b"g":
                    m["child"] = "second try"
                    code = 0 if os.getpid() in store.attached_pids() else 2
            finally:
                os._exit(code)
        os.close(to_parent_w)
        os.close(to_child_r)
        ready, _, _ = select.select([to_parent_r], [], [], WATCHDOG)
        status = os.read(to_parent_r, 64).strip() if ready else b"(no answer from the child)"
        if status == b"full":
            _stop(holder, release)
            os.write(to_child_w, b"g")
        else:
            os.write(to_child_w, b"x")
        wait = wait_child(pid, "forked child without a registry slot")
        os.close(to_parent_r)
        os.close(to_child_w)
    finally:
        _release(holder, release)
    assert status == b"full", status
    assert os.WIFEXITED(wait) and os.WEXITSTATUS(wait) == 0, wait
    assert m["child"] == "second try"
    assert m.verify()["clean"]
    assert store.verify()["clean"]
    assert m.verify()["busy"] == [] and store.verify()["busy"] == []


def test_damaged_header_is_corrupt_error_for_a_process_that_attaches(names):
    name = names()
    store = shmkit.Store(name)
    m = store.hash_map("m")
    m["k"] = "v"
    ctx = multiprocessing.get_context("spawn")
    with StoreFile(store.path) as f, ctx.Pool(1) as pool:
        original = f.u64(HEADER_CREATED_NS)
        f.set_u64(HEADER_CREATED_NS, original ^ 1)  # one bit of the checksummed header
        try:
            result = _apply(pool, _workers.try_attach_and_read, store.path, "k")
            assert result[:2] == ("CorruptError", True), result
            assert "checksum" in result[2], result
            # Processes attached before the damage validated the header then; they go on.
            m["k2"] = "v2"
        finally:
            f.set_u64(HEADER_CREATED_NS, original)
        assert _apply(pool, _workers.try_attach_and_read, store.path, "k2") == ("ok", "v2")
    assert m.verify()["clean"]


def test_damaged_record_offset_is_corrupt_error_and_repair_drops_the_entry(store, m):
    for i in range(200):
        m[f"k{i}"] = i
    with StoreFile(store.path) as f:
        shard, slot, _ = f.find_key("m", b"\x06k7")
        f.set_u64(slot + 8, 1 << 40)  # the slot's record offset: 8-aligned, outside the store
    for op in (lambda: m["k7"], lambda: m.get("k7"), lambda: "k7" in m, lambda: m.__setitem__("k7", 0)):
        with pytest.raises(shmkit.CorruptError):
            op()
    # Every other entry reads as written.
    assert all(m[f"k{i}"] == i for i in range(200) if i != 7)
    report = m.verify()
    assert not report["clean"]
    # The bad slot, and its shard's counters (which still count the entry).
    assert report["problems"][0][0] == slot and str(1 << 40) in report["problems"][0][1], report
    assert {offset for offset, _ in report["problems"][1:]} <= {shard}, report
    repaired = m.repair()
    assert repaired["clean"], repaired
    assert any("dropped an invalid entry" in note for note in repaired["repaired"]), repaired
    assert repaired["entries"] == 199
    # The damaged entry is gone, everything else is intact, and the key works again.
    assert "k7" not in m and len(m) == 199
    assert m.to_dict() == {f"k{i}": i for i in range(200) if i != 7}
    m["k7"] = "back"
    assert m["k7"] == "back"
    assert m.verify()["clean"]
    assert store.verify()["clean"]


def test_repair_recounts_a_damaged_entry_count(store, m):
    m.update({f"k{i}": i for i in range(100)})
    with StoreFile(store.path) as f:
        shard, _, _ = f.find_key("m", b"\x06k1")
        f.set_u64(shard + 40, f.u64(shard + 40) + 5)  # the shard's `len`
    assert len(m) == 105  # len() sums the shards' counters
    report = m.verify()
    assert not report["clean"]
    assert any("len is" in what for _, what in report["problems"]), report
    repaired = m.repair()
    assert repaired["clean"], repaired
    assert any("recounted len" in note for note in repaired["repaired"]), repaired
    assert len(m) == 100 and m.to_dict() == {f"k{i}": i for i in range(100)}
    assert m.repair()["repaired"] == []  # nothing left to repair


def test_key_too_large(store):
    """A key one byte over the limit (4 GiB): refused before anything is stored. (One
    operation only: each copies 4 GiB; reads and deletes check the key the same way.)"""
    need = MAX_KEY_LEN + 1 + (2 << 30)  # the key is copied once into an encode buffer
    if mem_available() < need:
        cannot_run(f"needs {need >> 30} GiB of available memory for a 4 GiB key")
    raw = store.hash_map("r", raw=True)
    raw[b"k"] = b"v"
    big = bytes(MAX_KEY_LEN + 1)  # zero pages: no memory until the copy reads it
    try:
        with pytest.raises(shmkit.KeyTooLargeError) as e:
            raw[big] = b"v"
        assert isinstance(e.value, ValueError)
        assert str(MAX_KEY_LEN + 1) in str(e.value), e.value
    finally:
        del big
    assert dict(raw.items()) == {b"k": b"v"}
    raw[b"k2"] = b"v2"
    assert raw[b"k2"] == b"v2"
    assert raw.verify()["clean"]
    assert store.verify()["clean"]

