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
    """Named implementations of one kind, from code and from the ``group`` entry-point group.

    Built-ins can be declared the way plugins are, as ``"module:attribute"`` entry points of the group
    (``builtins=``), loaded through the same :class:`~importlib.metadata.EntryPoint` door when first asked for.
    Declared in code rather than only in ``pyproject.toml``, they work from a source checkout on ``PYTHONPATH``
    (no installed metadata) and with ``WORKBENCH_LOAD_PLUGINS=0``; and since the registry holds references, not
    objects, the module defining a registry never imports its implementations (no import side effects, no
    import circle). A built-in wins over a plugin of the same name.

    Args:
        kind: What an item is, for messages (``"scorer"``).
        group: The entry-point group plugins register in.
        builtins: Name -> ``"module:attribute"`` of the built-in implementations (a built-in that fails to
            import raises: it is a bug, not a broken plugin).
    """

    def __init__(self, kind: str, group: str | None = None, *, builtins: dict[str, str] | None = None) -> None:
        self.kind = kind
        self.group = group
        self._items: dict[str, T] = {}
        self._builtins = {
            name: EntryPoint(name=name, value=value, group=group or "") for name, value in (builtins or {}).items()
        }
        self._loaded = group is None
        self.load_failures: dict[str, str] = {}

    def register(self, name: str, item: T | None = None, *, replace: bool = False) -> Callable[[T], T] | T:
        """Register ``item`` under ``name``; usable as a decorator when ``item`` is omitted."""

        def add(obj: T) -> T:
            if name in self._builtins and not replace:
                self._load_builtin(name)
            if name in self._items and not replace and self._items[name] is not obj:
                raise PluginError(
                    f"{self.kind} '{name}' is already registered",
                    hint="pick another name, or pass replace=True to override it on purpose",
                )
            self._builtins.pop(name, None)
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

    def _load_builtin(self, name: str) -> None:
        self._items[name] = self._builtins.pop(name).load()

    def get(self, name: str) -> T:
        """The implementation registered as ``name``; a :class:`PluginError` listing the known names if none."""
        self._load_entry_points()
        if name in self._builtins:
            self._load_builtin(name)
        try:
            return self._items[name]
        except KeyError:
            known = ", ".join(self.names()) or "none"
            failure = self.load_failures.get(name)
            hint = f"it failed to load: {failure}" if failure else f"known {self.kind}s: {known}"
            raise PluginError(f"unknown {self.kind} '{name}'", hint=hint) from None

    def names(self) -> list[str]:
        """Sorted names of every registered implementation."""
        self._load_entry_points()
        return sorted({*self._items, *self._builtins})

    def __contains__(self, name: object) -> bool:
        self._load_entry_points()
        return name in self._items or name in self._builtins

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())


def _is_builtin(ep: EntryPoint) -> bool:
    """Whether ``ep`` is declared by the ``workbench`` distribution itself (a built-in, not a plugin)."""
    return ep.dist is not None and ep.dist.name.lower() == "workbench"
