"""Shared fixtures: unique store names that are always removed, a per-test watchdog, and a
session-wide sweep of every store this run created.

Every store name (and the store directory of the upstream suite) a test makes carries
RUN_PREFIX = ``pytest-<pid>-<random>``. After each test, stores with that prefix that are
still there are removed and the test errors ("left stores behind"); at the end of the session
and at interpreter exit whatever carries the prefix is removed. A run that is killed (or
aborted by the watchdog) cannot clean up; the next run removes the stores of runs whose
process is gone, so an interrupted run never makes a later one fail.
"""

from __future__ import annotations

import atexit
import faulthandler
import itertools
import os
import re
import secrets
import shutil

import pytest

import shmkit

WATCHDOG_SECONDS = 120
RUN_PID = os.getpid()
RUN_PREFIX = f"pytest-{RUN_PID}-{secrets.token_hex(3)}"
_RUN_PATTERN = re.compile(r"pytest-(\d+)-[0-9a-f]{6}(?![0-9a-f])")
_counter = itertools.count()
# Stores whose file name cannot carry the prefix (compat names that are hashed).
_tracked: set[str] = set()


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "watchdog(seconds): this test's own watchdog, when it legitimately runs longer than "
        f"the default {WATCHDOG_SECONDS} s (e.g. it waits for a download)",
    )


def _store_dirs() -> list[str]:
    dirs = {os.environ.get("SHMKIT_DIR") or "/dev/shm", "/dev/shm"}
    return [d for d in sorted(dirs) if os.path.isdir(d)]


def _remove_entry(path: str) -> None:
    try:
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path, ignore_errors=True)
        else:
            os.unlink(path)
    except FileNotFoundError:
        pass


def _entries_with(prefix: str) -> list[str]:
    found = []
    for d in _store_dirs():
        with os.scandir(d) as it:
            found += [e.path for e in it if prefix in e.name]
    return found


def remove_run_stores() -> list[str]:
    """Removes every store (and store directory) this run created; returns their paths."""
    removed = _entries_with(RUN_PREFIX)
    for path in removed:
        _remove_entry(path)
    for name in sorted(_tracked):
        try:
            shmkit.remove(name)
            removed.append(name)
        except FileNotFoundError:
            pass
    _tracked.clear()
    return removed


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stores_of_dead_runs() -> list[str]:
    """Removes what earlier runs, killed before they could clean up, left behind."""
    removed = []
    for d in _store_dirs():
        with os.scandir(d) as it:
            entries = [(e.path, e.name) for e in it]
        for path, name in entries:
            match = _RUN_PATTERN.search(name)
            if match and int(match.group(1)) != RUN_PID and not _pid_alive(int(match.group(1))):
                _remove_entry(path)
                removed.append(path)
    return removed


def _at_exit() -> None:
    if os.getpid() == RUN_PID:  # never in a forked child
        remove_run_stores()


atexit.register(_at_exit)


@pytest.fixture(scope="session", autouse=True)
def remove_this_runs_stores():
    """Before the session: leftovers of dead runs; after it: everything this run created."""
    remove_stores_of_dead_runs()
    yield
    remove_run_stores()


@pytest.fixture(autouse=True)
def no_stores_left_behind():
    """A test that leaves a store of this run behind errors (after its fixtures' teardown,
    which is where the stores of `store_name`/`names` are removed); the stores are removed."""
    yield
    left = _entries_with(RUN_PREFIX)
    for path in left:
        _remove_entry(path)
    assert not left, f"the test left stores behind (removed now): {left}"


@pytest.fixture(autouse=True)
def watchdog(request):
    """Aborts the whole run (with tracebacks) if one test hangs, e.g. on a deadlock.

    Tests that can block wait through `_support.run_with_deadline`/`wait_until` first,
    which fail just that test; this is the last resort."""
    marker = request.node.get_closest_marker("watchdog")
    seconds = marker.args[0] if marker else WATCHDOG_SECONDS
    faulthandler.dump_traceback_later(seconds, exit=True)
    yield
    faulthandler.cancel_dump_traceback_later()


def pytest_terminal_summary(terminalreporter):
    """Lists every skipped test with its reason, so a test that could not run is never
    mistaken for one that passed."""
    skipped = terminalreporter.stats.get("skipped", [])
    if not skipped:
        return
    terminalreporter.section("not run here (CI=true turns these into failures)")
    for report in skipped:
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        terminalreporter.write_line(f"{report.nodeid}: {reason}")


def unique_name(request: pytest.FixtureRequest, suffix: str = "") -> str:
    test = re.sub(r"[^A-Za-z0-9_-]", "-", request.node.name)[:60]
    return f"{RUN_PREFIX}-{test}-{next(_counter)}{suffix}"


def _remove_quietly(name: str) -> None:
    try:
        shmkit.remove(name)
    except FileNotFoundError:
        pass


@pytest.fixture
def run_prefix() -> str:
    """The prefix of every store name of this run (names carrying it are swept)."""
    return RUN_PREFIX


@pytest.fixture
def unique(request):
    """Factory of unique strings carrying the run prefix (no store is made or removed)."""
    return lambda suffix="": unique_name(request, suffix)


@pytest.fixture
def track_store():
    """Registers a store name or path (one that cannot carry the run prefix) to be removed
    after the test, and again at the end of the session if that failed."""
    mine = []

    def track(name: str) -> str:
        mine.append(name)
        _tracked.add(name)
        return name

    yield track
    for name in mine:
        _remove_quietly(name)
        _tracked.discard(name)


@pytest.fixture
def store_name(request):
    """A store name no other test uses; the store is removed after the test."""
    name = unique_name(request)
    yield name
    _remove_quietly(name)


@pytest.fixture
def store(store_name):
    s = shmkit.Store(store_name)
    yield s
    s.close()


@pytest.fixture
def m(store):
    return store.hash_map("m")


@pytest.fixture
def names(request):
    """Factory of further unique store names, all removed after the test."""
    made = []

    def make(suffix: str = "") -> str:
        name = unique_name(request, suffix)
        made.append(name)
        return name

    yield make
    for name in made:
        _remove_quietly(name)
