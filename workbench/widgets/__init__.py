"""Interactive notebook widgets (anywidget). Thin: state in traitlets, logic in the layers below.

Widgets are imported lazily by name so that ``import workbench.widgets`` stays light.
"""

from __future__ import annotations

import importlib
from typing import Any

_WIDGETS: dict[str, str] = {
    "PlaygroundWidget": "workbench.widgets.playground",
    "RagWidget": "workbench.widgets.rag",
    "ReviewWidget": "workbench.widgets.review",
    "SkillsHeatmap": "workbench.widgets.skills",
    "TuningWidget": "workbench.widgets.tuning",
}

__all__ = sorted(_WIDGETS)


def __getattr__(name: str) -> Any:
    module = _WIDGETS.get(name)
    if module is None:
        raise AttributeError(f"module 'workbench.widgets' has no attribute '{name}'")
    return getattr(importlib.import_module(module), name)
