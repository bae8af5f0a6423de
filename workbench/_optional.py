"""Lazy optional imports: check availability without importing, and fail with an install hint.

Some runtimes phone home when imported. OpenVINO's converter (``openvino.tools.ovc``, imported by
``import openvino``) starts a Google Analytics session through the ``openvino_telemetry`` package unless the user
has opted out in ``~/intel/openvino_telemetry``: on a fresh machine it tries to reach the network from a
subprocess. Workbench promises no egress and no telemetry outside its own store, so :func:`require` imports
such a runtime with its telemetry package blocked (:data:`PHONES_HOME`); OpenVINO then uses its own built-in
stub (``openvino.tools.ovc.telemetry_stub``), which sends nothing. The user's consent file is left untouched.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
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


#: Runtimes whose import would send telemetry, and the package that sends it (blocked before the import).
PHONES_HOME = {"openvino": "openvino_telemetry", "nncf": "openvino_telemetry"}


def require(module: str, *, package: str | None = None, extra: str | None = None) -> ModuleType:
    """Import ``module`` or raise :class:`MissingExtraError` naming the package to install.

    A runtime listed in :data:`PHONES_HOME` is imported with its telemetry package blocked, so it falls back
    to its own no-op stub.
    """
    sender = PHONES_HOME.get(module.split(".")[0])
    if sender is not None and sender not in sys.modules:
        sys.modules[sender] = None  # type: ignore[assignment]  # `import sender` now raises ImportError
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingExtraError(package or module.split(".")[0], extra) from exc
