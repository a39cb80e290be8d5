"""The examples in the package's docstrings run as written."""

from __future__ import annotations

import doctest

import shmkit


def test_package_docstring_example():
    try:
        result = doctest.testmod(shmkit, raise_on_error=False, verbose=False)
    finally:
        try:
            shmkit.remove("demo-doc")
        except FileNotFoundError:
            pass
    assert result.attempted >= 3
    assert result.failed == 0
