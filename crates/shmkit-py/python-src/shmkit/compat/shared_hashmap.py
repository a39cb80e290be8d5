"""Drop-in replacement for ``SharedHashMap`` of the PyPI package ``shared-hashmap`` 0.2.0.

Change one import and an existing program runs on shmkit::

    # from shared_hashmap import SharedHashMap
    from shmkit.compat.shared_hashmap import SharedHashMap

Same constructor, methods, attributes, exceptions and messages:

- ``SharedHashMap(name, capacity=1024, max_key_size=256, max_value_size=1024, create=True)``;
  ``create=True`` on an existing name raises ``FileExistsError``, ``create=False`` on a
  missing one ``FileNotFoundError``; an attacher reads ``capacity``, ``max_key_size`` and
  ``max_value_size`` from the creator.
- ``set``, ``get(key, default=None)``, ``delete`` (returns bool), ``size()``, ``close()``
  (the data stays for the other processes), ``unlink()``, ``in``, ``[]`` (``KeyError`` when
  missing), ``del``, context manager.
- ``ValueError("Serialized key size N exceeds maximum M")`` (and the same for values), with
  the sizes measured as the original serializes: UTF-8 length of a ``str``, ``len`` of
  ``bytes``, digits of ``str(int)``, 0 for ``None``, ``pickle.dumps`` length otherwise.
- Keys match by exact type as in the original: ``1``, ``"1"``, ``True`` and ``1.0`` are four
  different keys.

Deliberate differences (each one is a limitation of the original that shmkit does not have):

- ``capacity`` is kept and reported but is not a limit: the map grows, so "Hash table is
  full" never happens.
- ``bool`` values read back as ``True``/``False`` (the original stores them as the text
  ``"True"`` and fails to read them back); floats are stored natively instead of pickled.
- Thread- and process-safe without torn reads: every operation is atomic.
- No process deletes the data by exiting (the original's resource tracker can unlink the
  shared memory when the creating process ends); only ``unlink()`` removes it.
- Operations on a closed map raise ``shmkit.ClosedError`` (a ``ValueError``).

The data lives in the shmkit store ``shared_hashmap.<name>`` (a hash of the name is used when
it contains characters a store name cannot), so ``shmkit`` tools can inspect it.
"""

from __future__ import annotations

import errno
import hashlib
import os
import pickle
import re
import time
from typing import Any, Literal

from .. import _shmkit
from ..errors import ObjectNotFoundError, StoreExistsError, StoreNotFoundError

_META = "shared_hashmap.meta"
_DATA = "shared_hashmap.data"
_PREFIX = "shared_hashmap."
_VALID = re.compile(r"[A-Za-z0-9._-]{1,180}")
# Bucket layout of the original, for the informational ``bucket_size``/``total_size``.
_ORIGINAL_HEADER_SIZE = 18
_ORIGINAL_METADATA_SIZE = 32


def _store_name(name: str) -> str:
    """The shmkit store holding the map ``name`` (deterministic, so every process agrees)."""
    bare = name[1:] if name.startswith("/") else name
    if _VALID.fullmatch(bare) and not bare.startswith("."):
        return _PREFIX + "n." + bare
    digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:40]
    return _PREFIX + "h." + digest


def _serialized_size(obj: Any) -> int:
    """Length of ``obj`` as shared-hashmap 0.2.0 serializes it (its size limits use this)."""
    if obj is None:
        return 0
    if isinstance(obj, str):
        return len(obj) if obj.isascii() else len(obj.encode("utf-8"))
    if isinstance(obj, bytes):
        return len(obj)
    if isinstance(obj, int):
        return len(str(obj))
    return len(pickle.dumps(obj))


def _attach(name: str) -> SharedHashMap:
    return SharedHashMap(name, create=False)


class SharedHashMap:
    """A process-safe hash map in shared memory, API-compatible with shared-hashmap 0.2.0."""

    def __init__(
        self,
        name: str,
        capacity: int = 1024,
        max_key_size: int = 256,
        max_value_size: int = 1024,
        create: bool = True,
    ):
        self.name = name
        self._store_name = _store_name(name)
        if create:
            try:
                store = _shmkit.Store(self._store_name, create=True, exclusive=True)
            except StoreExistsError:
                raise StoreExistsError(errno.EEXIST, os.strerror(errno.EEXIST), "/" + name) from None
            meta = store.hash_map(_META)
            meta.update(capacity=capacity, max_key_size=max_key_size, max_value_size=max_value_size)
            data = store.hash_map(_DATA, exact_keys=True)
            meta["ready"] = True
        else:
            try:
                store = _shmkit.Store(self._store_name, create=False)
            except StoreNotFoundError:
                raise StoreNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), "/" + name) from None
            meta = self._wait_for_metadata(store, name)
            data = store.hash_map(_DATA, create=False, exact_keys=True)
            capacity, max_key_size, max_value_size = (
                meta["capacity"],
                meta["max_key_size"],
                meta["max_value_size"],
            )
        self.capacity = capacity
        self.max_key_size = max_key_size
        self.max_value_size = max_value_size
        self.bucket_size = ((_ORIGINAL_HEADER_SIZE + max_key_size + max_value_size + 7) // 8) * 8
        self.total_size = _ORIGINAL_METADATA_SIZE + self.bucket_size * capacity
        self._store = store
        self._data = data

    @staticmethod
    def _wait_for_metadata(store: _shmkit.Store, name: str) -> _shmkit.HashMap:
        """The creator writes the metadata right after creating the store: wait for it."""
        for _ in range(100):
            try:
                meta = store.hash_map(_META, create=False)
                if meta.get("ready"):
                    return meta
            except ObjectNotFoundError:
                pass
            time.sleep(0.001)
        raise RuntimeError(f"Failed to read valid metadata from shared memory '{name}'.")

    def set(self, key: Any, value: Any) -> None:
        """Sets ``key`` to ``value``. ValueError if either serializes beyond its maximum."""
        key_size = _serialized_size(key)
        if key_size > self.max_key_size:
            raise ValueError(f"Serialized key size {key_size} exceeds maximum {self.max_key_size}")
        value_size = _serialized_size(value)
        if value_size > self.max_value_size:
            raise ValueError(f"Serialized value size {value_size} exceeds maximum {self.max_value_size}")
        self._data[key] = value

    def get(self, key: Any, default: Any = None) -> Any:
        """The value of ``key``, or ``default``."""
        return self._data.get(key, default)

    def delete(self, key: Any) -> bool:
        """Removes ``key``; True if it was present."""
        return self._data.discard(key)

    def __contains__(self, key: Any) -> bool:
        return key in self._data

    def __getitem__(self, key: Any) -> Any:
        return self._data[key]

    def __setitem__(self, key: Any, value: Any) -> None:
        self.set(key, value)

    def __delitem__(self, key: Any) -> None:
        del self._data[key]

    def size(self) -> int:
        """Number of items."""
        return len(self._data)

    def close(self) -> None:
        """Detaches this handle; the data stays for the other processes."""
        self._data.close()
        self._store.close()

    def unlink(self) -> None:
        """Deletes the shared data (FileNotFoundError if already deleted)."""
        try:
            _shmkit.remove(self._store_name)
        except StoreNotFoundError:
            raise StoreNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), "/" + self.name) from None

    def __enter__(self) -> SharedHashMap:
        return self

    def __exit__(self, exc_type: object, exc_val: object, exc_tb: object) -> Literal[False]:
        self.close()
        return False

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return (_attach, (self.name,))

    def __repr__(self) -> str:
        return f"SharedHashMap({self.name!r}, capacity={self.capacity})"


__all__ = ["SharedHashMap"]
