"""Shared fixtures: unique store names that are always removed, and a per-test watchdog."""

from __future__ import annotations

import faulthandler
import itertools
import os
import re

import pytest

import shmkit

WATCHDOG_SECONDS = 120
_counter = itertools.count()


@pytest.fixture(autouse=True)
def watchdog():
    """Aborts the whole run (with tracebacks) if one test hangs, e.g. on a deadlock."""
    faulthandler.dump_traceback_later(WATCHDOG_SECONDS, exit=True)
    yield
    faulthandler.cancel_dump_traceback_later()


def unique_name(request: pytest.FixtureRequest, suffix: str = "") -> str:
    test = re.sub(r"[^A-Za-z0-9_-]", "-", request.node.name)[:80]
    return f"pytest-{test}-{os.getpid()}-{next(_counter)}{suffix}"


def _remove_quietly(name: str) -> None:
    try:
        shmkit.remove(name)
    except FileNotFoundError:
        pass


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
