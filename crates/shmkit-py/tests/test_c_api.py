"""C and Python share one store: the C examples (examples/c/hash_map_demo.c and
examples/c/atomic_vector_demo.c, linked to the C API of crates/shmkit-capi) run as separate
processes and write typed values and vector elements that Python reads, then read and check
what Python wrote, through real shared memory.

The C programs are built by ``scripts/test-c.sh --build-only`` (cargo and a C compiler), or
taken from $SHMKIT_C_EXAMPLES (the directory holding both binaries). Without a C compiler
the tests are skipped, saying so.
"""

from __future__ import annotations

import os
import pathlib
import shutil
import subprocess

import pytest

import shmkit

ROOT = pathlib.Path(__file__).resolve().parents[3]
BUILD_TIMEOUT = 900  # a cold debug build of the C API on a slow shared machine
RUN_TIMEOUT = 60


@pytest.fixture(scope="module")
def c_examples() -> pathlib.Path:
    given = os.environ.get("SHMKIT_C_EXAMPLES")
    if given:
        return pathlib.Path(given)
    cc = os.environ.get("CC", "cc")
    if shutil.which(cc) is None:
        pytest.skip(f"no C compiler ({cc}) to build the examples of examples/c")
    built = subprocess.run(
        ["bash", str(ROOT / "scripts" / "test-c.sh"), "--build-only"],
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT,
    )
    assert built.returncode == 0, f"building the C examples failed:\n{built.stderr}"
    return pathlib.Path(built.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def c_demo(c_examples) -> str:
    return str(c_examples / "hash_map_demo")


@pytest.fixture(scope="module")
def c_vector_demo(c_examples) -> str:
    return str(c_examples / "atomic_vector_demo")


def run_c(binary: str, mode: str, store: str, object_name: str) -> None:
    proc = subprocess.run(
        [binary, mode, store, object_name], capture_output=True, text=True, timeout=RUN_TIMEOUT
    )
    assert proc.returncode == 0, f"C {mode} failed ({proc.returncode}):\n{proc.stdout}{proc.stderr}"


def test_c_writes_typed_values_python_reads_and_back(c_demo, store_name):
    with shmkit.Store(store_name) as store:
        m = store.hash_map("shared")

        run_c(c_demo, "write", store_name, "shared")
        got = {k: m[k] for k in ("c_int", "c_float", "c_str", "c_bytes", "c_true", "c_false", "c_none")}
        assert got == {
            "c_int": -1234567890123,
            "c_float": 0.125,
            "c_str": "héllo from C",
            "c_bytes": b"\x00\x01\xfe\xff",
            "c_true": True,
            "c_false": False,
            "c_none": None,
        }
        # Equality alone would let C's false pass as the int 0 (0 == False) and an int as a
        # float: every value must have exactly its Python type.
        types = {k: type(v) for k, v in got.items()}
        assert types == {
            "c_int": int,
            "c_float": float,
            "c_str": str,
            "c_bytes": bytes,
            "c_true": bool,
            "c_false": bool,
            "c_none": type(None),
        }
        assert got["c_true"] is True
        assert got["c_false"] is False
        assert got["c_none"] is None
        assert "c_none" in m
        assert type(m["count"]) is int
        assert m["count"] == 10
        assert m["c_big"] == 2**63  # C's incr past int64_t stored a big int
        assert m.incr("c_big", -1) == 2**63 - 1

        m["py_int"] = 123456789012
        m["py_float"] = -0.25
        m["py_str"] = "snake ✓"
        m["py_bytes"] = b"\x00\x07\xff"
        m["py_true"] = True
        m["py_none"] = None
        m["py_big"] = 2**64  # beyond int64_t: C sees a big int it can decode but not narrow
        assert m.incr("count", 5) == 15

        run_c(c_demo, "read", store_name, "shared")  # checks every value, then count += 1
        assert m["count"] == 16
        assert m["py_big"] == 2**64 + 1


def test_c_and_python_read_each_others_vector_elements(c_vector_demo, store_name):
    with shmkit.Store(store_name) as store:
        v = store.atomic_vector("shared", 16)

        run_c(c_vector_demo, "write", store_name, "shared")
        assert v[0:4] == [-(2**63), 2**63 - 1, -1234567890123, 10]
        assert v.get_bit(4 * 64 + 63)
        assert v[4] == -(2**63), "the top bit is the sign bit"
        assert list(v[5:]) == [0] * 11, "C wrote nothing else"

        v[8] = 123456789012
        v[9] = -5
        v[-1] = -(2**63)
        v.set_bit(10 * 64 + 3)
        run_c(c_vector_demo, "read", store_name, "shared")  # checks them, then adds 1 to [8]
        assert v[8] == 123456789013
        assert len(v) == 16
