"""shmkit: data structures in named shared memory, shared by many processes at memory speed.

>>> import os, shmkit
>>> name = f"demo-{os.getpid()}"  # a store name unique to this process
>>> with shmkit.Store(name) as store:
...     users = store.hash_map("users")
...     users["ada"] = {"born": 1815}
...     users.incr("visits")
1
>>> shmkit.remove(name)

A ``HashMap`` behaves like a ``dict`` (it is registered as a
``collections.abc.MutableMapping``). Keys and values keep their Python type: ``None``,
``bool``, ``int`` (any size), ``float``, ``bytes`` and ``str`` are stored in the encoding
shared with Rust and C; anything else is pickled. Keys follow dict equality for numbers
(``True``, ``1`` and ``1.0`` are one key, read back as ``1``), while ``1``, ``"1"`` and
``b"1"`` are three keys. ``raw=True`` maps take and return plain ``bytes``.

An ``AtomicVector`` (``store.atomic_vector("v", 8)``) is a growable list of 64-bit integers
with atomic operations (``add``, ``compare_exchange``, bit operations, ``wait``/``notify``).

An ``Array`` (``store.array("grid", "f8", (100, 100))``) is a fixed-size array of plain
records whose dtype and shape live in the store; ``store.array`` returns a NumPy array on the
shared memory (zero-copy, through the buffer protocol), ``numpy=False`` the handle.

A ``Deque`` (``store.deque("jobs")``) is a ``collections.deque`` of typed values shared by
processes, whose pops can wait (``d.popleft(timeout=1.0)``); a ``Queue``
(``store.queue("jobs")``) is the same shared deque with ``queue.Queue``'s interface
(``put``/``get``, ``queue.Empty``/``queue.Full``), a drop-in for ``multiprocessing.Queue``
that survives killed processes. A ``PriorityQueue`` (``store.priority_queue("tasks")``) is
``queue.PriorityQueue``'s interface: ``pq.put((priority, task))`` orders as Python orders
the tuples, and equal priorities come out in the order they were put. Blocked calls sleep on
a shared futex; Ctrl-C interrupts them.

An ``OrderedMap`` (``store.ordered_map("events")``) is a ``MutableMapping`` whose keys are
ordered keys (below) and iterate in order: range and prefix scans in either direction
(``m.items(start, stop, prefix=..., reverse=True)``), ``floor``/``ceiling``, ``count`` of a
range, ``popitem(last=False)``, ``incr`` and ``compare_and_set``, shared by processes.

``shmkit.encode_key(obj)`` turns ``None``, numbers, ``bytes``, ``str`` and tuples of them into
bytes that sort as the objects do (ints and floats in one exact order, tuples element by
element); ``shmkit.decode_key(data)`` turns them back.

Handles pickle by name, so they can be passed to ``multiprocessing`` and
``concurrent.futures`` workers (``spawn`` and ``fork``). No process ever deletes a store by
merely attaching and exiting: only ``Store.unlink()`` / ``shmkit.remove()`` do.

Security: pickled values are unpickled on read. Anyone who can write to a store can make
readers run code; give stores the permissions (``mode=``) of the people you trust.
"""

from __future__ import annotations

from collections.abc import MutableMapping

from . import errors
from ._shmkit import (
    MISSING,
    PICKLE_PROTOCOL,
    Array,
    AtomicVector,
    Deque,
    HashMap,
    OrderedMap,
    PriorityQueue,
    Queue,
    SharedObject,
    Store,
    decode_key,
    encode_key,
    remove,
    remove_if_unused,
)
# Every exception class, as `shmkit.<Name>` too (the list is errors.__all__).
from .errors import *  # noqa: F403

MutableMapping.register(HashMap)
MutableMapping.register(OrderedMap)

__all__ = [
    "MISSING",
    "PICKLE_PROTOCOL",
    "Array",
    "AtomicVector",
    "Deque",
    "HashMap",
    "OrderedMap",
    "PriorityQueue",
    "Queue",
    "SharedObject",
    "Store",
    "decode_key",
    "encode_key",
    "remove",
    "remove_if_unused",
    "errors",
    *errors.__all__,
]
