"""The examples in the package's docstrings run as written."""

from __future__ import annotations

import doctest
import os

import shmkit


def test_package_docstring_example(monkeypatch, unique):
    # The example's stores go to a fresh directory of this run (swept with the run's other
    # stores), so a store left by an interrupted run can never change what it prints.
    store_dir = os.path.join("/dev/shm", unique("-doctest"))
    os.mkdir(store_dir)
    monkeypatch.setenv("SHMKIT_DIR", store_dir)
    try:
        result = doctest.testmod(shmkit, raise_on_error=False, verbose=False)
        left = os.listdir(store_dir)
    finally:
        monkeypatch.delenv("SHMKIT_DIR")
        for entry in os.listdir(store_dir):
            os.unlink(os.path.join(store_dir, entry))
        os.rmdir(store_dir)
    assert result.attempted >= 4
    assert result.failed == 0
    assert left == [], f"the example left stores behind: {left}"
