"""The exception hierarchy of shmkit.

The classes are declared once, in the extension (``crates/shmkit-py/src/errors.rs``), where
each Rust error's class is chosen from its ``shmkit::ErrorKind``; this module re-exports them
(and they say ``shmkit.errors`` is their module).

Every error shmkit raises is a :class:`shmkit.Error`. Each class also inherits the builtin
exception a Python user would expect for that situation, so existing ``except`` clauses keep
working: a missing store is a :class:`FileNotFoundError`, a missing key a :class:`KeyError`,
a full store a :class:`MemoryError`, and so on.

========================  ==================================  =========================================
class                     also a                              raised when (Rust error)
========================  ==================================  =========================================
StoreNotFoundError        FileNotFoundError                   no store by that name (OpenError::NotFound)
StoreExistsError          FileExistsError                     exclusive create of a taken name
PermissionDeniedError     PermissionError                     the file may not be opened or created
InvalidNameError          ValueError                          bad store or object name
InvalidOptionsError       ValueError                          inconsistent store options
NotAStoreError            ValueError                          the file is not a (complete) shmkit store
UnsupportedVersionError   ValueError                          store written by an incompatible version
CorruptError              --                                  damaged shared state (checksums, offsets)
StoreFullError            MemoryError                         the store cannot grow any more
RegistryFullError         --                                  all process slots of the store are in use
ObjectNotFoundError       KeyError                            no structure of that name in the store
WrongKindError            TypeError                           the name holds another kind of structure
KeyNotFoundError          KeyError                            ``m[key]`` / ``del m[key]`` on a missing key
IndexOutOfRangeError      IndexError                          an atomic vector index (or bit) out of range
DtypeError                TypeError                           an array dtype refused, or not the stored one
ShapeError                ValueError                          an array shape refused, or not the stored one
KeyTooLargeError          ValueError                          a key beyond the map's limit
ValueTooLargeError        ValueError                          a value beyond the map's limit
WrongSizeError            ValueError                          a key or value of another length than a
                                                              fixed-size map's (base of the two below)
WrongKeySizeError         WrongSizeError, ValueError          a key of another length (MapError::WrongKeySize)
WrongValueSizeError       WrongSizeError, ValueError          a value of another length, or ``incr`` on
                                                              values not 8 bytes (MapError::WrongValueSize)
NotAnIntegerError         TypeError                           ``incr`` on a value of another type
DecodeError               ValueError                          stored bytes are not a value this build reads
LockTimeoutError          TimeoutError                        a lock held by a live process too long
EmptyError                IndexError, queue.Empty             a pop or get found no item (in time)
FullError                 queue.Full                          a push or put found a bounded deque full
ClosedError               ValueError                          use of a closed handle
StoreIOError              OSError                             any other system error
========================  ==================================  =========================================
"""

from __future__ import annotations

from ._shmkit import (
    ClosedError,
    CorruptError,
    DecodeError,
    DtypeError,
    EmptyError,
    Error,
    FullError,
    IndexOutOfRangeError,
    InvalidNameError,
    InvalidOptionsError,
    KeyNotFoundError,
    KeyTooLargeError,
    LockTimeoutError,
    NotAStoreError,
    NotAnIntegerError,
    ObjectNotFoundError,
    PermissionDeniedError,
    RegistryFullError,
    ShapeError,
    StoreExistsError,
    StoreFullError,
    StoreIOError,
    StoreNotFoundError,
    UnsupportedVersionError,
    ValueTooLargeError,
    WrongKeySizeError,
    WrongKindError,
    WrongSizeError,
    WrongValueSizeError,
)

__all__ = [
    "Error",
    "StoreNotFoundError",
    "StoreExistsError",
    "PermissionDeniedError",
    "InvalidNameError",
    "InvalidOptionsError",
    "NotAStoreError",
    "UnsupportedVersionError",
    "CorruptError",
    "StoreFullError",
    "RegistryFullError",
    "ObjectNotFoundError",
    "WrongKindError",
    "KeyNotFoundError",
    "DtypeError",
    "ShapeError",
    "IndexOutOfRangeError",
    "KeyTooLargeError",
    "ValueTooLargeError",
    "WrongSizeError",
    "WrongKeySizeError",
    "WrongValueSizeError",
    "NotAnIntegerError",
    "DecodeError",
    "LockTimeoutError",
    "EmptyError",
    "FullError",
    "ClosedError",
    "StoreIOError",
]
