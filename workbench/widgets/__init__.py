"""Interactive notebook widgets (anywidget). Thin: state in traitlets, logic in the layers below.

Widgets are imported lazily by name so that ``import workbench.widgets`` stays light.
"""

from __future__ import annotations

from workbench._lazy import lazy_exports

_EXPORTS: dict[str, tuple[str, ...]] = {
    "playground": ("PlaygroundWidget",),
    "copilot": ("CopilotWidget",),
    "rag": ("RagWidget",),
    "review": ("ReviewWidget",),
    "skills": ("SkillsHeatmap",),
    "tuning": ("TuningWidget",),
}

__all__, __getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
