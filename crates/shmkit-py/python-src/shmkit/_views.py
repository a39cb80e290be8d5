"""Dict-style views of a shmkit.HashMap.

The ``collections.abc`` views iterate keys and then look each one up, which races with other
processes deleting keys. These views iterate the map's own items instead, one shard copy at a
time (weakly consistent: never an error because the map changed).
"""

from __future__ import annotations

from collections.abc import ItemsView as _ItemsView
from collections.abc import Iterator
from collections.abc import KeysView as _KeysView
from collections.abc import ValuesView as _ValuesView
from typing import Any


class KeysView(_KeysView[Any]):
    __slots__ = ()

    def __iter__(self) -> Iterator[Any]:
        return iter(self._mapping)  # type: ignore[attr-defined]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({list(self)!r})"


class ValuesView(_ValuesView[Any]):
    __slots__ = ()

    def __iter__(self) -> Iterator[Any]:
        return self._mapping._iter_values()  # type: ignore[attr-defined,no-any-return]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({list(self)!r})"


class ItemsView(_ItemsView[Any, Any]):
    __slots__ = ()

    def __iter__(self) -> Iterator[tuple[Any, Any]]:
        return self._mapping._iter_items()  # type: ignore[attr-defined,no-any-return]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({list(self)!r})"
