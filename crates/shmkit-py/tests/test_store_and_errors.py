"""Store lifecycle and the exception hierarchy."""

from __future__ import annotations

import errno
import os

import pytest

import shmkit
from shmkit import errors

from _support import cannot_run


def test_create_open_names_close_unlink(store_name):
    with shmkit.Store(store_name) as store:
        store.hash_map("a")["x"] = 1
        store.hash_map("b")
        assert sorted(store.names()) == ["a", "b"]
        assert sorted(store.objects()) == [("a", "hash_map"), ("b", "hash_map")]
        assert store.path.endswith("shmkit." + store_name)
        assert os.getpid() in store.attached_pids()
        assert store.verify()["clean"]
    assert store.closed
    with pytest.raises(shmkit.ClosedError):
        store.hash_map("a")
    again = shmkit.Store(store_name, create=False)
    assert again.hash_map("a")["x"] == 1
    again.unlink()
    with pytest.raises(FileNotFoundError):
        shmkit.Store(store_name, create=False)


def test_maps_outlive_a_closed_store(store_name):
    store = shmkit.Store(store_name)
    m = store.hash_map("m")
    store.close()
    m["still"] = "works"
    assert m["still"] == "works"


def test_store_by_path(tmp_path):
    path = str(tmp_path / "on-disk.store")
    with shmkit.Store(path) as store:
        store.hash_map("m")["k"] = "v"
    with shmkit.Store(path, create=False) as store:
        assert store.hash_map("m")["k"] == "v"
    shmkit.remove(path)
    assert not os.path.exists(path)


def test_remove(store_name):
    shmkit.Store(store_name).close()
    shmkit.remove(store_name)
    with pytest.raises(shmkit.StoreNotFoundError):
        shmkit.remove(store_name)


def test_remove_never_removes_a_file_that_is_not_a_store(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_bytes(b"someone else's file, longer than the magic")
    for remove in (shmkit.remove, shmkit.remove_if_unused):
        with pytest.raises(shmkit.NotAStoreError):
            remove(str(path))
    assert path.read_bytes().startswith(b"someone else's")


def test_remove_if_unused_waits_for_other_processes(store_name):
    store = shmkit.Store(store_name)
    store.hash_map("m")["k"] = 1
    read, write = os.pipe()
    go_read, go_write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child attaches by name, reports, and stays until told to leave
        code = 1
        try:
            os.close(read)
            os.close(go_write)
            child_store = shmkit.Store(store_name, create=False)
            os.write(write, b"A")
            os.read(go_read, 1)
            code = 0 if child_store.hash_map("m")["k"] == 1 else 2
        finally:
            os._exit(code)
    os.close(write)
    os.close(go_read)
    try:
        assert os.read(read, 1) == b"A"
        # Our own attachment does not count; the child's does.
        assert shmkit.remove_if_unused(store_name) is False
        with shmkit.Store(store_name, create=False) as again:
            assert again.hash_map("m")["k"] == 1
    finally:
        os.close(go_write)
        _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert shmkit.remove_if_unused(store_name) is True
    with pytest.raises(shmkit.StoreNotFoundError):
        shmkit.Store(store_name, create=False)
    store.close()


def test_missing_store_is_file_not_found(store_name):
    with pytest.raises(FileNotFoundError) as e:
        shmkit.Store(store_name, create=False)
    assert isinstance(e.value, shmkit.StoreNotFoundError)
    assert isinstance(e.value, shmkit.Error)
    assert e.value.errno == errno.ENOENT
    assert e.value.filename.endswith(store_name)


def test_exclusive_create_of_existing_store_is_file_exists(store_name):
    shmkit.Store(store_name).close()
    with pytest.raises(FileExistsError) as e:
        shmkit.Store(store_name, exclusive=True)
    assert isinstance(e.value, shmkit.StoreExistsError)
    # Non-exclusive create attaches.
    shmkit.Store(store_name).close()


@pytest.mark.parametrize("bad", ["", "a b", ".hidden", "x" * 300])
def test_invalid_names_are_value_errors(bad):
    with pytest.raises(ValueError) as e:
        shmkit.Store(bad)
    assert isinstance(e.value, shmkit.InvalidNameError)


def test_invalid_options(store_name):
    with pytest.raises(shmkit.InvalidOptionsError):
        shmkit.Store(store_name, max_processes=0)
    with pytest.raises(shmkit.InvalidOptionsError):
        shmkit.Store(store_name, mode=0o7777)


def test_not_a_store(tmp_path):
    path = tmp_path / "garbage"
    path.write_bytes(b"this is not a store" * 100)
    with pytest.raises(shmkit.NotAStoreError):
        shmkit.Store(str(path), create=False)
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    with pytest.raises(ValueError):
        shmkit.Store(str(empty), create=False)


def test_missing_map_is_key_error(store):
    with pytest.raises(KeyError) as e:
        store.hash_map("nope", create=False)
    assert isinstance(e.value, shmkit.ObjectNotFoundError)


def test_invalid_map_name(store):
    with pytest.raises(shmkit.InvalidNameError):
        store.hash_map("")
    with pytest.raises(ValueError):
        store.hash_map("x" * 500)


def test_full_store_is_memory_error(names):
    name = names("small")
    store = shmkit.Store(name, reserve=4 << 20, initial_size=1 << 20)
    m = store.hash_map("m")
    with pytest.raises(MemoryError) as e:
        for i in range(100_000):
            m[i] = b"x" * 1000
    assert isinstance(e.value, shmkit.StoreFullError)
    # The map stays usable after the failed write.
    assert m[0] == b"x" * 1000
    assert m.verify()["clean"]


def test_permission_denied(store_name):
    """A user without access to a 0o600 store gets PermissionDeniedError (a PermissionError).

    Root bypasses file permissions, so as root a forked child drops to user `nobody` first."""
    store = shmkit.Store(store_name, mode=0o600)
    if os.geteuid() != 0:
        os.chmod(store.path, 0o000)
    pid = os.fork()
    if pid == 0:
        code = 3
        try:
            if os.geteuid() == 0:
                os.setgid(65534)
                os.setuid(65534)
            shmkit.Store(store.path, create=False)
            code = 1
        except shmkit.PermissionDeniedError as e:
            code = 0 if isinstance(e, PermissionError) and e.errno == errno.EACCES else 2
        except BaseException:
            code = 4
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, status


def test_hierarchy():
    expectations = {
        errors.StoreNotFoundError: FileNotFoundError,
        errors.StoreExistsError: FileExistsError,
        errors.PermissionDeniedError: PermissionError,
        errors.InvalidNameError: ValueError,
        errors.InvalidOptionsError: ValueError,
        errors.NotAStoreError: ValueError,
        errors.UnsupportedVersionError: ValueError,
        errors.StoreFullError: MemoryError,
        errors.ObjectNotFoundError: KeyError,
        errors.WrongKindError: TypeError,
        errors.KeyNotFoundError: KeyError,
        errors.IndexOutOfRangeError: IndexError,
        errors.KeyTooLargeError: ValueError,
        errors.ValueTooLargeError: ValueError,
        errors.NotAnIntegerError: TypeError,
        errors.DecodeError: ValueError,
        errors.LockTimeoutError: TimeoutError,
        errors.ClosedError: ValueError,
        errors.StoreIOError: OSError,
    }
    for cls, builtin in expectations.items():
        assert issubclass(cls, shmkit.Error) and issubclass(cls, builtin), cls
        assert getattr(shmkit, cls.__name__) is cls
    assert issubclass(errors.CorruptError, shmkit.Error)
    assert issubclass(errors.RegistryFullError, shmkit.Error)
    assert set(errors.__all__) <= set(shmkit.__all__)


def test_remove_when_unused_store_goes_with_its_last_handle(store_name):
    name = store_name
    s = shmkit.Store(name, remove_when_unused=True)
    s.hash_map("m")["k"] = 1
    other = shmkit.Store(name, create=False)  # the same process: one attachment
    path = s.path
    s.close()
    assert os.path.exists(path), "removed while a handle was still open"
    other.close()
    assert not os.path.exists(path)


def test_a_store_squatted_by_another_user_is_refused(store_name):
    """A name another user created first (mode 0o666, so it could be written by anyone) is
    not adopted: `Store(name)` raises PermissionDeniedError naming the owner; opting in with
    `allow_foreign_owner=True` and the store's mode opens it."""
    if os.geteuid() != 0:
        cannot_run("creating a store as another user needs root")
    pid = os.fork()
    if pid == 0:
        code = 3
        try:
            os.setgid(65534)
            os.setuid(65534)
            shmkit.Store(store_name, mode=0o666).close()
            code = 0
        except BaseException:
            code = 4
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, status
    with pytest.raises(shmkit.PermissionDeniedError, match="owned by uid 65534") as e:
        shmkit.Store(store_name)
    assert isinstance(e.value, PermissionError) and e.value.errno == errno.EACCES
    with pytest.raises(shmkit.PermissionDeniedError, match="owned by uid 65534"):
        shmkit.Store(store_name, create=False)
    with pytest.raises(shmkit.PermissionDeniedError, match="grants more than"):
        shmkit.Store(store_name, allow_foreign_owner=True)
    with shmkit.Store(store_name, allow_foreign_owner=True, mode=0o666) as s:
        s.hash_map("m")["k"] = "v"


def test_a_store_with_a_wider_mode_than_asked_for_is_refused(store_name):
    shmkit.Store(store_name, mode=0o640).close()
    with pytest.raises(shmkit.PermissionDeniedError, match="grants more than"):
        shmkit.Store(store_name)
    shmkit.Store(store_name, mode=0o640).close()
    shmkit.Store(store_name, create=False).close()


def test_error_classes_are_declared_once_in_the_extension():
    from shmkit import _shmkit

    for name in errors.__all__:
        cls = getattr(errors, name)
        assert cls is getattr(_shmkit, name) and cls is getattr(shmkit, name)
        assert cls.__module__ == "shmkit.errors" and cls.__name__ == name
        assert cls.__doc__
