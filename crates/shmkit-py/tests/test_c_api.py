"""C and Python share one store: the C examples (examples/c/hash_map_demo.c,
examples/c/atomic_vector_demo.c, examples/c/array_demo.c and examples/c/queue_demo.c, linked to the C API of
crates/shmkit-capi) run as separate processes and write typed values, vector elements and
array elements that Python (and NumPy) reads, then read and check what Python wrote, through
real shared memory.

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


@pytest.fixture(scope="module")
def c_array_demo(c_examples) -> str:
    return str(c_examples / "array_demo")


@pytest.fixture(scope="module")
def c_queue_demo(c_examples) -> str:
    return str(c_examples / "queue_demo")


@pytest.fixture(scope="module")
def c_ordered_map_demo(c_examples) -> str:
    return str(c_examples / "ordered_map_demo")


def run_c(binary: str, mode: str, store: str, *object_name: str) -> None:
    proc = subprocess.run(
        [binary, mode, store, *object_name], capture_output=True, text=True, timeout=RUN_TIMEOUT
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
        # C's set_many of encoded ints, read back in one batch.
        assert m.get_many([f"c_batch_{i}" for i in range(51)]) == [i * 3 for i in range(50)] + [None]

        m["py_int"] = 123456789012
        m["py_float"] = -0.25
        m["py_str"] = "snake ✓"
        m["py_bytes"] = b"\x00\x07\xff"
        m["py_true"] = True
        m["py_none"] = None
        m["py_big"] = 2**64  # beyond int64_t: C sees a big int it can decode but not narrow
        assert m.incr("count", 5) == 15
        m.set_many({f"py_batch_{i}": i * i for i in range(100)})  # C reads them with get_many

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


def test_numpy_and_c_read_each_others_arrays(c_array_demo, store_name):
    np = pytest.importorskip("numpy")
    # The record C declares as struct { double x, y; uint32_t id; uint8_t flag; }.
    point = np.dtype([("x", "<f8"), ("y", "<f8"), ("id", "<u4"), ("flag", "u1")], align=True)
    assert point.itemsize == 24
    i = np.arange(50)
    with shmkit.Store(store_name) as store:
        grid = store.array("grid", np.float64, (100, 3))
        grid[:] = np.arange(300, dtype=np.float64).reshape(100, 3) + 0.25
        points = store.array("points", point, (50,))
        points["x"] = i * 1.5
        points["y"] = i * -2.0
        points["id"] = i * 7
        points["flag"] = i % 3 == 0

        # C opens both with its own element types (NumPy's layout must be C's), checks every
        # value, then writes grid[0][0] and points[49].id.
        run_c(c_array_demo, "read", store_name)
        assert grid[0, 0] == -1.0
        assert grid[99, 2] == 299.25, "C changed nothing else"
        assert points[49]["id"] == 4242
        assert points[48]["id"] == 48 * 7

        # C creates and fills arrays; NumPy adopts their stored dtype and shape.
        run_c(c_array_demo, "write", store_name)
        c_grid = store.array("c_grid")
        assert c_grid.dtype == np.float64 and c_grid.shape == (100, 3)
        np.testing.assert_array_equal(
            c_grid, np.arange(300, dtype=np.float64).reshape(100, 3) * 2.0 + 0.25
        )
        c_points = store.array("c_points")
        assert c_points.shape == (50,)
        assert c_points.dtype.itemsize == 24
        assert c_points.dtype.names == ("x", "y", "id", "flag")
        assert c_points.dtype.fields["id"][1] == 16 and c_points.dtype.fields["flag"][1] == 20
        np.testing.assert_array_equal(c_points["x"], i * 3.0)
        np.testing.assert_array_equal(c_points["y"], i * -4.0)
        np.testing.assert_array_equal(c_points["id"], i * 7)
        np.testing.assert_array_equal(c_points["flag"], (i % 3 == 0).astype(np.uint8))
        # The same memory as a structured array with NumPy's own dtype.
        assert store.array("c_points", point, (50,))[10]["id"] == 70
        del grid, points, c_grid, c_points


def test_c_and_python_share_a_work_queue(c_queue_demo, store_name):
    with shmkit.Store(store_name) as store:
        q = store.queue("work")
        # Python puts, a C process gets (blocking while the queue is empty).
        consumer = subprocess.Popen([c_queue_demo, "consume", store_name, "work", "2000"],
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for i in range(2000):
            q.put(i)
        out, err = consumer.communicate(timeout=RUN_TIMEOUT)
        assert consumer.returncode == 0, f"C consume failed:\n{out}{err}"
        assert q.empty()
        # A C process puts, Python gets.
        run_c(c_queue_demo, "produce", store_name, "work", "500")
        assert q.get_many(1000, timeout=10) == list(range(500))


def test_c_pops_what_python_put_in_a_priority_queue_in_order(c_queue_demo, store_name):
    import random

    with shmkit.Store(store_name) as store:
        pq = store.priority_queue("tasks")
        values = list(range(300))
        random.Random(3).shuffle(values)
        pq.put_many(values)
        run_c(c_queue_demo, "pq-consume", store_name, "tasks", "300")
        assert pq.empty()


def test_c_and_python_read_each_others_ordered_maps_in_key_order(c_ordered_map_demo, store_name):
    # Typed tuple keys ("user", i): Python encodes them, C decodes and checks them in key
    # order (numbers order as numbers: 999 before 1000), and the other way round.
    import random

    n = 1500
    with shmkit.Store(store_name) as store:
        m = store.ordered_map("py-wrote")
        ids = list(range(n))
        random.Random(5).shuffle(ids)
        for i in ids:
            m[("user", i)] = i
        run_c(c_ordered_map_demo, "read", store_name, "py-wrote", str(n))

        run_c(c_ordered_map_demo, "write", store_name, "c-wrote", str(n))
        c_wrote = store.ordered_map("c-wrote")
        assert list(c_wrote.items()) == [(("user", i), i) for i in range(n)]
        assert c_wrote.count(prefix=("user",)) == n
        assert c_wrote.floor(("user", 10.5)) == (("user", 10), 10)
