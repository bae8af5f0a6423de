"""Lazy package exports: names load from their submodules on first use (PEP 562 module ``__getattr__``).

Packages whose public names live in heavy submodules (torch, transformers, langchain, pandas, papermill) keep
``import workbench.<package>`` light by mapping each name to the module that defines it::

    _EXPORTS = {"RagIndex": "workbench.rag.index", "load_model": "backends"}
    __getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())

A module name with a dot is absolute; one without is a submodule of the package (``"backends"`` is
``workbench.models.backends``). A name is imported once: the value is stored in the package's namespace, so
later lookups do not reach ``__getattr__`` again.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(
    package: str, exports: Mapping[str, str], namespace: dict[str, Any]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` of a package that exports ``exports`` lazily.

    Args:
        package: The package's ``__name__``.
        exports: Public name -> the module that defines it (absolute, or a submodule name of ``package``).
        namespace: The package's ``globals()``; loaded names are stored there.

    Returns:
        ``(__getattr__, __dir__)``, to assign at the package's top level.
    """

    def __getattr__(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module '{package}' has no attribute '{name}'")
        value = getattr(importlib.import_module(module if "." in module else f"{package}.{module}"), name)
        namespace[name] = value  # later lookups skip this function
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(exports))

    return __getattr__, __dir__
