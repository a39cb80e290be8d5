"""The exception hierarchy of shmkit.

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
KeyTooLargeError          ValueError                          a key beyond the map's limit
ValueTooLargeError        ValueError                          a value beyond the map's limit
NotAnIntegerError         TypeError                           ``incr`` on a value of another type
DecodeError               ValueError                          stored bytes are not a value this build reads
LockTimeoutError          TimeoutError                        a lock held by a live process too long
ClosedError               ValueError                          use of a closed handle
StoreIOError              OSError                             any other system error
========================  ==================================  =========================================
"""

from __future__ import annotations


class Error(Exception):
    """Base class of every shmkit error."""


class StoreNotFoundError(Error, FileNotFoundError):
    """No store exists under that name or path."""


class StoreExistsError(Error, FileExistsError):
    """A store (or another file) already has that name and creation was exclusive."""


class PermissionDeniedError(Error, PermissionError):
    """The store file may not be opened or created by this process."""


class InvalidNameError(Error, ValueError):
    """A store or object name that cannot be used."""


class InvalidOptionsError(Error, ValueError):
    """Store options that contradict each other or are out of range."""


class NotAStoreError(Error, ValueError):
    """The file exists but is not a complete shmkit store (empty, foreign or truncated)."""


class UnsupportedVersionError(Error, ValueError):
    """The store was written in a format version this build does not read."""


class CorruptError(Error):
    """Shared state is damaged (bad checksum, offsets out of bounds, broken links)."""


class StoreFullError(Error, MemoryError):
    """The store cannot grow any more (file system full or reserved size reached)."""


class RegistryFullError(Error):
    """All process slots of the store are held by live processes."""


class ObjectNotFoundError(Error, KeyError):
    """No structure of that name exists in the store."""


class WrongKindError(Error, TypeError):
    """The name belongs to a structure of another kind."""


class KeyNotFoundError(Error, KeyError):
    """The key is not in the map (raised by ``m[key]``, ``del m[key]``, ``pop``)."""


class KeyTooLargeError(Error, ValueError):
    """The encoded key is larger than the map accepts."""


class ValueTooLargeError(Error, ValueError):
    """The encoded value is larger than the map accepts."""


class NotAnIntegerError(Error, TypeError):
    """``incr`` on a value that is not a number of the expected type."""


class DecodeError(Error, ValueError):
    """Stored bytes that are not a value this build can decode."""


class LockTimeoutError(Error, TimeoutError):
    """A lock was held by a live process for longer than the timeout."""


class ClosedError(Error, ValueError):
    """The handle was closed."""


class StoreIOError(Error, OSError):
    """A system error not covered by a more specific class."""


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
    "KeyTooLargeError",
    "ValueTooLargeError",
    "NotAnIntegerError",
    "DecodeError",
    "LockTimeoutError",
    "ClosedError",
    "StoreIOError",
]
