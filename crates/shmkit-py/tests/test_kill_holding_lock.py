"""A Python process SIGKILLed while it holds a shard lock: the next process to need the lock
takes it over (it would wait forever otherwise: every wait here has a watchdog that fails the
test instead of hanging the run), the shard is repaired, and the key holds one of the values
that were written — never a torn or half-built one.

The victim increments a 1 MiB int in a loop: `incr` copies, adds and rebuilds the value
inside the shard lock, so the lock is held most of the time. The parent reads the shard's
lock word straight from the store file (docs/FORMAT.md), kills the victim while it sees the
word held, and counts the kills after which the dead process still owned the lock.
"""

from __future__ import annotations

import multiprocessing
import os
import signal

import _workers
from _support import WATCHDOG, StoreFile, run_with_deadline, wait_until

KILLS = 10
BASE = 1 << (8 * (1 << 20) - 2)  # a 1 MiB int
RECOVERED = "recovered from a writer that died holding the lock"


def test_writer_killed_while_holding_a_shard_lock(store, m):
    m["big"] = BASE
    m.update({f"n{i}": i for i in range(1000)})  # bystanders, in every shard
    signals = store.hash_map("signals")
    ctx = multiprocessing.get_context("spawn")
    done = 0  # increments known to be in the value
    held = 0  # kills that left the shard lock owned by the dead victim
    with StoreFile(store.path) as f:
        shard, _, _ = f.find_key("m", b"\x06big")
        assert len(f.live_slots(shard)) > 1, "no bystander shares the victim's shard"
        for kill in range(KILLS):
            victim = ctx.Process(target=_workers.incr_forever, args=(m, "big", signals))
            victim.start()
            try:
                wait_until(lambda: signals.get("started") == victim.pid, "the victim has incremented")
                wait_until(lambda: f.lock_owner(shard) != 0, "the victim holds the shard lock")
                os.kill(victim.pid, signal.SIGKILL)
                victim.join(WATCHDOG)
            finally:
                if victim.is_alive():
                    victim.kill()
                    victim.join()
            assert victim.exitcode == -signal.SIGKILL
            owner = f.lock_owner(shard)
            held += owner != 0
            where = f"kill {kill}, lock owner after the kill {owner:#x}"
            if kill % 2 == 0:
                # verify() takes every shard lock: it takes this one over and says so.
                report = run_with_deadline(m.verify, f"verify() after {where}")
                recovered = any(RECOVERED in note for note in report["repaired"])
                assert recovered == (owner != 0), (where, report)
                assert report["clean"], (where, report)
            # Odd kills: the first to need the lock is the increment below.
            value = run_with_deadline(lambda: m["big"], f"read after {where}")
            assert type(value) is int, where
            count = value - BASE
            # One of the values written: the victim's increments on top of ours, at least the
            # one it finished before it said it started.
            assert done + 1 <= count <= done + 100_000, (where, count, done)
            after = run_with_deadline(lambda: m.incr("big"), f"increment after {where}")
            assert after == value + 1, where
            done = count + 1
            assert f.lock_owner(shard) == 0, f"{where}: lock still held after the increment"
    assert held >= KILLS // 2, f"only {held} of {KILLS} kills landed while the lock was held"
    assert m["big"] == BASE + done
    assert all(m[f"n{i}"] == i for i in range(1000))
    report = m.verify()
    assert report["clean"], report
    assert report["repaired"] == [] and report["entries"] == 1001
    # The whole-store check sees what the killed writers left (locks taken over, blocks they
    # allocated and never published); the repair frees it, and a second repair has nothing
    # left to do.
    before = store.check()
    assert all(sev != "problem" for sev, _ in before["findings"]), before
    assert ("m", "hash_map", "consistent", 1001) in before["objects"], before
    fixed = store.repair()
    assert fixed["clean"], fixed
    assert fixed["not_repaired"] == [], fixed
    leaked = [what for sev, what in before["findings"] if "reachable from no structure" in what]
    assert bool(leaked) == any("leaked block" in r for r in fixed["repaired"]), (before, fixed)
    assert store.check()["clean"]
    assert store.repair()["repaired"] == []
