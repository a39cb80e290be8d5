"""Helpers for the tests: waiting on observable state, watchdogs that fail instead of hanging,
tests that cannot run here, and a reader of a store file's layout (docs/FORMAT.md).

Importable by the tests only (spawn children import `_workers`, which does not import this).
"""

from __future__ import annotations

import mmap
import os
import signal
import struct
import threading
import time
from typing import Any, Callable

import pytest

# Generous limits that only catch hangs; no test asserts how fast something happens.
WATCHDOG = 60.0


def cannot_run(reason: str) -> None:
    """A test that cannot run in this environment: skipped with `reason` (listed at the end
    of the run), but a failure when the environment variable CI is `true`."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"cannot run here, and CI=true: {reason}", pytrace=False)
    pytest.skip(reason)


def wait_until(predicate: Callable[[], Any], what: str, limit: float = WATCHDOG) -> Any:
    """Polls `predicate` until it returns something true; fails the test after `limit`
    seconds (a watchdog for a hang, not a latency requirement)."""
    deadline = time.monotonic() + limit
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"gave up after {limit:.0f} s waiting until {what}")
        time.sleep(0.001)


def run_with_deadline(fn: Callable[[], Any], what: str, limit: float = WATCHDOG) -> Any:
    """Runs `fn` in a daemon thread and returns its result; fails the test if it has not
    finished after `limit` seconds (e.g. a lock wait that never ends because a dead owner's
    lock is never taken over). The stuck thread is abandoned; the run goes on."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["result"] = fn()
        except BaseException as e:  # re-raised in the test's thread
            box["error"] = e

    thread = threading.Thread(target=target, name=f"deadline: {what}", daemon=True)
    thread.start()
    thread.join(limit)
    if thread.is_alive():
        pytest.fail(f"{what}: still blocked after {limit:.0f} s (hung)")
    if "error" in box:
        raise box["error"]
    return box.get("result")


def wait_child(pid: int, what: str, limit: float = WATCHDOG) -> int:
    """Waits for the forked child `pid` and returns its wait status; SIGKILLs it and fails the
    test if it is still running after `limit` seconds."""
    deadline = time.monotonic() + limit
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return status
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            pytest.fail(f"{what}: child {pid} still running after {limit:.0f} s (hung)")
        time.sleep(0.001)


def mem_available() -> int:
    """MemAvailable of /proc/meminfo in bytes (0 if unknown)."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


# --- The store file, read and written directly (docs/FORMAT.md) ---------------------------

HEADER_CHECKSUMMED = 80          # bytes 0..80 are covered by the header checksum
HEADER_CREATED_NS = 64           # created_unix_ns: checksummed, checked by nothing else
FIRST_DIRECTORY_PAGE = 400
ENTRIES_PER_PAGE = 63
SHARD_STRIDE = 128
TABLE_MAGIC = 0x7AB1E5E7
LIVE_BIT = 1 << 63
OWNER_MASK = 0x7FFF_FFFF         # robust mutex word: bits 0..30 = owner id
RECORD_HEADER = 16


class StoreFile:
    """The bytes of a store file, mapped shared: what this process writes here every process
    attached to the store sees at once (as a stray write or a bit flip would do)."""

    def __init__(self, path: str):
        self._file = open(path, "r+b")
        self.mm = mmap.mmap(self._file.fileno(), 0)

    def close(self) -> None:
        self.mm.close()
        self._file.close()

    def __enter__(self) -> StoreFile:
        return self

    def __exit__(self, *args: object) -> None:
        self.close()

    def u32(self, offset: int) -> int:
        return struct.unpack_from("<I", self.mm, offset)[0]

    def u64(self, offset: int) -> int:
        return struct.unpack_from("<Q", self.mm, offset)[0]

    def set_u64(self, offset: int, value: int) -> None:
        struct.pack_into("<Q", self.mm, offset, value)

    def map_root(self, name: str) -> int:
        """Offset of the root block of the object `name` (from the store's directory)."""
        page = self.u64(FIRST_DIRECTORY_PAGE)
        while page:
            for i in range(ENTRIES_PER_PAGE):  # every entry: `used` is not maintained
                entry = page + 16 + 128 * i
                name_len = self.u32(entry + 8)
                if self.u32(entry) == 1 and self.mm[entry + 32 : entry + 32 + name_len] == name.encode():
                    return self.u64(entry + 16)
            page = self.u64(page)
        raise KeyError(name)

    def shards(self, map_name: str) -> list[int]:
        """Offsets of the shard headers of the hash map `map_name`."""
        root = self.map_root(map_name)
        assert self.mm[root : root + 8] == b"SHMKMAP\0", f"no hash map root at {root}"
        count = self.u32(root + 12)
        first = self.u64(root + 16)
        return [first + SHARD_STRIDE * i for i in range(count)]

    def live_slots(self, shard: int) -> list[tuple[int, int]]:
        """(slot offset, record offset) of every live slot of the shard's current table."""
        table = self.u64(shard + 16)
        assert self.u32(table) == TABLE_MAGIC, f"no table at {table}"
        buckets = self.u64(table + 8)
        slots = []
        for i in range(buckets):
            # Groups of 16 slots after their 16 control bytes (272 bytes), after the header.
            slot = table + 16 + (i // 16) * 272 + 16 + (i % 16) * 16
            if self.u64(slot) & LIVE_BIT:
                slots.append((slot, self.u64(slot + 8)))
        return slots

    def record_key(self, rec: int) -> bytes:
        """The stored key bytes of the record at `rec`."""
        key_len = self.u32(rec)
        return bytes(self.mm[rec + RECORD_HEADER : rec + RECORD_HEADER + key_len])

    def find_key(self, map_name: str, stored_key: bytes) -> tuple[int, int, int]:
        """(shard offset, slot offset, record offset) of the entry whose stored key is
        `stored_key` (for a typed map: the tag byte and the payload, e.g. b"\\x06name")."""
        for shard in self.shards(map_name):
            for slot, rec in self.live_slots(shard):
                if self.record_key(rec) == stored_key:
                    return shard, slot, rec
        raise KeyError(stored_key)

    def lock_owner(self, shard: int) -> int:
        """The owner id in the shard's lock word (0: unlocked)."""
        return self.u32(shard) & OWNER_MASK


def rust_example(name: str) -> str:
    """Builds the Rust example `name` of the core crate (cargo, debug) and returns its path."""
    import subprocess

    root = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
    subprocess.run(["cargo", "build", "--quiet", "-p", "shmkit", "--example", name], cwd=root, check=True)
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(root, "target"))
    return os.path.join(target, "debug", "examples", name)
