"""shmkit.Array: NumPy arrays on shared memory — dtypes and shapes stored in the object,
zero-copy views, other processes (spawn children) and a Rust program reading and writing the
same records, views that outlive their handle, and bad input."""

from __future__ import annotations

import multiprocessing
import pickle
import subprocess

import numpy as np
import pytest

import shmkit

import _workers
from _support import rust_example

RECORD = np.dtype([("x", "<f8"), ("y", "<f8"), ("id", "<u4"), ("flag", "u1")], align=True)

DTYPES = [
    "f8",
    "f4",
    "f2",
    "i1",
    "i2",
    "i4",
    "i8",
    "u1",
    "u8",
    "?",
    "S5",
    "U3",
    "c8",
    "c16",
    ">i4",
    ">f8",
    np.dtype([("a", "i1"), ("b", "<i8")]),
    np.dtype([("a", "i1"), ("b", "<i8")], align=True),
    np.dtype([("x", "<f8", (3,)), ("n", "<i4")]),
    np.dtype([("p", [("x", "<f4"), ("y", "<f4")]), ("id", "<u2")]),
    np.dtype([("s", "S3"), ("v", "<f4", (2, 2))]),
    RECORD,
]


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_every_dtype_round_trips_with_its_layout(store, dtype):
    dt = np.dtype(dtype)
    a = store.array("a", dt, (4, 3))
    assert isinstance(a, np.ndarray)
    assert a.dtype == dt and a.shape == (4, 3) and a.dtype.itemsize == dt.itemsize
    if dt.names is None:
        assert a.dtype.str == dt.str  # byte order kept
    else:
        assert [a.dtype.fields[n][1] for n in dt.names] == [dt.fields[n][1] for n in dt.names]
    assert not a.any() if dt.names is None else a.tobytes() == bytes(a.nbytes)  # created zeroed
    rng = np.random.default_rng(7)
    raw = rng.integers(0, 2, size=a.nbytes, dtype=np.uint8).tobytes()
    a.view(np.uint8).reshape(-1)[:] = np.frombuffer(raw, dtype=np.uint8)
    b = store.array("a")  # adopts the stored dtype and shape
    assert b.dtype == dt and b.shape == (4, 3)
    assert b.tobytes() == raw
    assert np.shares_memory(a, b)


def test_a_view_is_zero_copy_and_aligned(store):
    a = store.array("a", "f8", 1000)
    assert a.ctypes.data % 64 == 0
    assert a.flags.c_contiguous and a.flags.writeable
    handle = store.array("a", numpy=False)
    assert isinstance(handle, shmkit.Array)
    assert (handle.shape, handle.format, handle.itemsize, handle.nbytes, handle.ndim, len(handle)) == (
        (1000,), "d", 8, 8000, 1, 1000
    )
    view = memoryview(handle)
    assert (view.format, view.shape, view.strides, view.readonly) == ("d", (1000,), (8,), False)
    a[7] = 2.5
    assert view[7] == 2.5  # the same bytes
    view[8] = -1.0
    assert a[8] == -1.0
    assert np.shares_memory(a, np.asarray(handle))


def test_multi_dimensional_strides_and_fortran_requests(store):
    h = store.array("g", "i4", (2, 3, 4), numpy=False)
    assert memoryview(h).strides == (48, 16, 4)
    assert np.asarray(h).strides == (48, 16, 4)
    g = np.asarray(h)
    g[1, 2, 3] = 9
    assert memoryview(h).tobytes()[-4:] == (9).to_bytes(4, "little")
    # A 0-dimensional array is one element.
    s = store.array("s", "f8", ())
    assert s.shape == () and s.size == 1


def test_another_process_sees_writes_and_writes_back(store, store_name):
    a = store.array("a", "i8", 10)
    a[:] = np.arange(10) * 100
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(1) as pool:
        seen = pool.apply(_workers.array_write, (store_name, "a"))
        # The child saw the parent's values and changed them in place.
        assert seen == [42] + [i * 100 + i for i in range(1, 10)]
        assert a.tolist() == seen
        shape, values = pool.apply(_workers.array_read, (store.array("a", numpy=False),))
    assert shape == (10,) and values == seen


def test_a_structured_array_round_trips_with_rust(store, store_name):
    """The same records from NumPy (an aligned structured dtype) and from a Rust program's
    #[repr(C)] struct (crates/shmkit/examples/array_records.rs)."""
    binary = rust_example("array_records")
    a = store.array("py", RECORD, 5)
    for i in range(5):
        a[i] = (0.25 * i, 10.0 + i, 1000 + i, i % 2)
    out = subprocess.run([binary, "read", store_name, "py"], check=True, capture_output=True, text=True)
    rows = [line.split() for line in out.stdout.splitlines()]
    assert rows == [
        [str(i), _fmt(0.25 * i), _fmt(10.0 + i), str(1000 + i), str(i % 2)] for i in range(5)
    ]
    subprocess.run([binary, "write", store_name, "rust", "7"], check=True)
    r = store.array("rust")
    assert r.dtype.names == ("x", "y", "id", "flag") and r.dtype.itemsize == RECORD.itemsize
    assert r.shape == (7,)
    assert r["x"].tolist() == [1.5 * i for i in range(7)]
    assert r["y"].tolist() == [-float(i) for i in range(7)]
    assert r["id"].tolist() == list(range(7))
    assert r["flag"].tolist() == [i % 2 for i in range(7)]
    # Opening the Rust-made array with NumPy's spelling of the dtype is the same layout.
    assert store.array("rust", RECORD, 7).shape == (7,)


def _fmt(x: float) -> str:
    """A float as Rust's Display prints it (no trailing `.0`)."""
    return str(int(x)) if x == int(x) else repr(x)


def test_views_outlive_closed_handles_and_store(store_name):
    store = shmkit.Store(store_name)
    handle = store.array("a", "f8", 100, numpy=False)
    view = np.asarray(handle)
    mv = memoryview(handle)
    assert handle.exports == 2
    view[:] = 3.0
    handle.close()
    store.close()
    with pytest.raises(shmkit.ClosedError):
        memoryview(handle)  # a closed handle exports nothing new
    del handle
    # The views keep the mapping alive: reading and writing still work.
    assert view.sum() == 300.0
    view[0] = 4.0
    assert mv.cast("B")[:8].tobytes() == np.float64(4.0).tobytes()
    mv.release()
    del view
    with shmkit.Store(store_name) as again:
        assert again.array("a")[0] == 4.0


def test_pickled_handle_reopens_by_name(store):
    h = store.array("a", "u2", (3, 2), numpy=False)
    np.asarray(h)[:] = [[1, 2], [3, 4], [5, 6]]
    again = pickle.loads(pickle.dumps(h))
    assert isinstance(again, shmkit.Array)
    assert np.asarray(again).tolist() == [[1, 2], [3, 4], [5, 6]]


def test_without_numpy_a_format_string_is_the_dtype(store):
    h = store.array("a", "q", 4, numpy=False)
    memoryview(h)[2] = -5
    assert memoryview(h).tolist() == [0, 0, -5, 0]
    assert store.array("a").dtype == np.int64  # NumPy reads the format


def test_bad_input_gets_clear_errors_and_changes_nothing(store):
    store.array("a", "f8", (2, 2))
    with pytest.raises(shmkit.DtypeError) as e:
        store.array("a", "f4", (2, 2))
    assert isinstance(e.value, TypeError)
    with pytest.raises(shmkit.ShapeError) as e:
        store.array("a", "f8", (4,))
    assert isinstance(e.value, ValueError)
    with pytest.raises(shmkit.DtypeError, match="object"):
        store.array("o", object, 3)
    with pytest.raises(shmkit.DtypeError, match="object"):
        store.array("o", np.dtype([("a", "i4"), ("b", object)]), 3)
    with pytest.raises(shmkit.DtypeError):
        store.array("z", np.dtype([]), 3)  # zero-size element
    with pytest.raises(shmkit.DtypeError):
        store.array("d", "M8[ns]", 3)  # NumPy cannot export datetimes in a buffer
    with pytest.raises(shmkit.DtypeError):
        store.array("d", "not a dtype", 3)
    with pytest.raises(shmkit.ShapeError):
        store.array("n", "f8", -1)
    with pytest.raises(shmkit.ShapeError):
        store.array("n", "f8", (2**40, 2**40))
    with pytest.raises(shmkit.ShapeError):
        store.array("n", "f8", (1,) * 33)
    with pytest.raises(shmkit.ShapeError):
        store.array("n", "f8", "abc")
    with pytest.raises(shmkit.ShapeError):
        store.array("missing")  # creating needs a dtype and a shape
    with pytest.raises(shmkit.ObjectNotFoundError):
        store.array("missing", "f8", 3, create=False)
    store.hash_map("m")
    with pytest.raises(shmkit.WrongKindError):
        store.array("m", "f8", 3)
    with pytest.raises(shmkit.StoreFullError):
        store.array("big", "u1", 2**39)  # more than the store may grow to
    # Nothing above created anything or changed "a".
    assert sorted(store.names()) == ["a", "m"]
    assert store.array("a").shape == (2, 2)
    assert store.verify()["clean"]


# --- The core's format parser agrees with NumPy's -------------------------------------------

try:  # NumPy 2
    from numpy._core._internal import _dtype_from_pep3118
except ImportError:  # NumPy 1.x
    from numpy.core._internal import _dtype_from_pep3118


def _numpy_fields(dt, prefix="", base=0, out=None):
    """(name, offset) of every leaf field, nested structures flattened as the core does."""
    out = [] if out is None else out
    for name in dt.names:
        fdt, off = dt.fields[name][:2]
        if fdt.subdtype is not None and fdt.subdtype[0].names is not None:
            sub, shape = fdt.subdtype
            for i in range(int(np.prod(shape))):
                _numpy_fields(sub, f"{prefix}{name}[{i}].", base + off + i * sub.itemsize, out)
        elif fdt.names is not None:
            _numpy_fields(fdt, f"{prefix}{name}.", base + off, out)
        else:
            out.append((f"{prefix}{name}", base + off))
    return out


def _same_layout_as_numpy(fmt: str) -> None:
    dt = _dtype_from_pep3118(fmt)
    itemsize, fields = shmkit._shmkit._element_layout(fmt)
    assert itemsize == dt.itemsize, fmt
    ours = [(name, offset) for name, offset, *_ in fields]
    if dt.names is None:
        assert [(None, 0)] == ours, fmt
    else:
        assert _numpy_fields(dt) == ours, fmt


def _random_format(rng, depth=0) -> str:
    parts = []
    for i in range(rng.integers(1, 5)):
        item = ""
        if rng.random() < 0.3:
            item += rng.choice(["@", "=", "<", ">", "!", "^"])
        if rng.random() < 0.2 and depth < 2:
            body = _random_format(rng, depth + 1)
            count = str(rng.integers(2, 4)) if rng.random() < 0.2 else ""
            item += f"{count}T{{{body}}}"
        else:
            code = rng.choice(["b", "B", "h", "H", "i", "I", "l", "L", "q", "Q", "e", "f", "d", "?", "c", "s", "w", "x", "Zf", "Zd"])
            count = str(rng.integers(1, 4)) if rng.random() < 0.3 else ""
            item += count + code
        if "x" not in item[-1:] or rng.random() < 0.3:
            item += f":n{depth}_{i}:"
        parts.append(item)
    return "".join(parts)


def test_the_core_places_fields_as_numpy_does_for_random_formats():
    rng = np.random.default_rng(3118)
    checked = 0
    for _ in range(3000):
        fmt = _random_format(rng)
        try:
            _dtype_from_pep3118(fmt)
        except Exception:
            continue  # NumPy refuses it; the core may too (it must not crash: below)
        _same_layout_as_numpy(fmt)
        checked += 1
    assert checked > 1000
    for fmt in ["i=b", "T{3T{i:a:=b:b:}:s:}", "T{T{i:a:=b:b:}:s:c:t:}", "T{i:a:>h:b:}", "T{d:f0:d}"]:
        _same_layout_as_numpy(fmt)


def _random_dtype(rng, depth=0):
    if depth < 2 and rng.random() < 0.4:
        n = int(rng.integers(1, 4))
        fields = []
        for i in range(n):
            sub = _random_dtype(rng, depth + 1)
            if rng.random() < 0.2:
                fields.append((f"f{i}", sub, (int(rng.integers(1, 3)),)))
            else:
                fields.append((f"f{i}", sub))
        return np.dtype(fields, align=bool(rng.random() < 0.5))
    return np.dtype(rng.choice(["i1", "<i2", ">i2", "<i4", ">u4", "<i8", "f4", ">f8", "f2", "?", "S3", "U2", "c8", "<c16"]))


def test_random_numpy_dtypes_round_trip_or_are_refused_clearly(store):
    rng = np.random.default_rng(688)
    created = 0
    for i in range(400):
        dt = _random_dtype(rng)
        try:
            a = store.array(f"a{i}", dt, 3)
        except shmkit.DtypeError:
            # Only when NumPy itself cannot read its export of the dtype back.
            try:
                numpy_reads_it = np.asarray(memoryview(np.zeros(2, dt))).dtype == dt
            except Exception:
                numpy_reads_it = False
            assert not numpy_reads_it, f"{dt} refused, yet NumPy reads its export back"
            continue
        assert a.dtype == dt and a.dtype.itemsize == dt.itemsize, dt
        created += 1
    assert created > 300
