"""Lazy optional imports: check availability without importing, and fail with an install hint."""

from __future__ import annotations

import importlib
import importlib.util
from functools import cache
from types import ModuleType

from workbench.errors import MissingExtraError


@cache
def is_available(module: str) -> bool:
    """Whether ``module`` can be imported, without importing it."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def require(module: str, *, package: str | None = None, extra: str | None = None) -> ModuleType:
    """Import ``module`` or raise :class:`MissingExtraError` naming the package to install."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingExtraError(package or module.split(".")[0], extra) from exc
