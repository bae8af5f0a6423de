"""A small generic registry: built-ins and plugins register through the same door (entry points).

Entry points are loaded lazily, the first time a registry is read, and a plugin that fails to import is
recorded in :attr:`Registry.load_failures` instead of breaking the registry (fault isolation). Set
``WORKBENCH_LOAD_PLUGINS=0`` to ignore third-party entry points (tests do); the entry points the ``workbench``
distribution declares itself (its built-ins, such as the ``adapter`` model source) load either way.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from importlib.metadata import EntryPoint, entry_points
from typing import Generic, TypeVar

from workbench.errors import PluginError

T = TypeVar("T")


class Registry(Generic[T]):
    """Named implementations of one kind, from code and from the ``group`` entry-point group."""

    def __init__(self, kind: str, group: str | None = None) -> None:
        self.kind = kind
        self.group = group
        self._items: dict[str, T] = {}
        self._loaded = group is None
        self.load_failures: dict[str, str] = {}

    def register(self, name: str, item: T | None = None, *, replace: bool = False) -> Callable[[T], T] | T:
        """Register ``item`` under ``name``; usable as a decorator when ``item`` is omitted."""

        def add(obj: T) -> T:
            if name in self._items and not replace and self._items[name] is not obj:
                raise PluginError(
                    f"{self.kind} '{name}' is already registered",
                    hint="pick another name, or pass replace=True to override it on purpose",
                )
            self._items[name] = obj
            return obj

        return add if item is None else add(item)

    def _load_entry_points(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        plugins = os.environ.get("WORKBENCH_LOAD_PLUGINS", "1").lower() not in {"0", "false", "no"}
        assert self.group is not None
        for ep in entry_points(group=self.group):
            if ep.name in self._items or not (plugins or _is_builtin(ep)):
                continue
            try:
                self._items[ep.name] = ep.load()
            except Exception as exc:  # a broken plugin must not break the product
                self.load_failures[ep.name] = f"{type(exc).__name__}: {exc}"

    def get(self, name: str) -> T:
        """The implementation registered as ``name``; a :class:`PluginError` listing the known names if none."""
        self._load_entry_points()
        try:
            return self._items[name]
        except KeyError:
            known = ", ".join(sorted(self._items)) or "none"
            failure = self.load_failures.get(name)
            hint = f"it failed to load: {failure}" if failure else f"known {self.kind}s: {known}"
            raise PluginError(f"unknown {self.kind} '{name}'", hint=hint) from None

    def names(self) -> list[str]:
        """Sorted names of every registered implementation."""
        self._load_entry_points()
        return sorted(self._items)

    def __contains__(self, name: object) -> bool:
        self._load_entry_points()
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())


def _is_builtin(ep: EntryPoint) -> bool:
    """Whether ``ep`` is declared by the ``workbench`` distribution itself (a built-in, not a plugin)."""
    return ep.dist is not None and ep.dist.name.lower() == "workbench"
