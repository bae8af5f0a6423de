"""Lazy package exports: names load from their submodules on first use (PEP 562 module ``__getattr__``).

Packages whose public names live in heavy submodules (torch, transformers, langchain, pandas, papermill) keep
``import workbench.<package>`` light by listing, per module, the names it defines::

    __all__, __getattr__, __dir__ = lazy_exports(
        __name__,
        {"workbench.rag.index": ("RagIndex", "cached_index"), "backends": ("ChatBackend",)},
        globals(),
    )

A module name with a dot is absolute; one without is a submodule of the package (``"backends"`` is
``workbench.models.backends``). A name is imported once: the value is stored in the package's namespace, so
later lookups do not reach ``__getattr__`` again.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Mapping
from typing import Any


def lazy_exports(
    package: str,
    exports: Mapping[str, Iterable[str]],
    namespace: dict[str, Any],
    eager: Iterable[str] = (),
) -> tuple[list[str], Callable[[str], Any], Callable[[], list[str]]]:
    """The ``__all__``, ``__getattr__`` and ``__dir__`` of a package that exports ``exports`` lazily.

    Args:
        package: The package's ``__name__``.
        exports: Module (absolute, or a submodule name of ``package``) -> the public names it defines.
        namespace: The package's ``globals()``; loaded names are stored there.
        eager: Public names the package imports itself at the top level; they join ``__all__``.

    Returns:
        ``(__all__, __getattr__, __dir__)``, to assign at the package's top level; ``__all__`` is sorted.

    Raises:
        ValueError: A name is listed under two modules (a table mistake, caught at import).
    """
    where: dict[str, str] = {}
    for module, names in exports.items():
        absolute = module if "." in module else f"{package}.{module}"
        for name in names:
            if name in where:
                raise ValueError(f"{package}: {name!r} is exported from both {where[name]!r} and {absolute!r}")
            where[name] = absolute

    def __getattr__(name: str) -> Any:
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module '{package}' has no attribute '{name}'")
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value  # later lookups skip this function
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(where))

    return sorted(set(where) | set(eager)), __getattr__, __dir__
