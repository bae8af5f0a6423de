"""Interactive notebook widgets (anywidget). Thin: state in traitlets, logic in the layers below.

Widgets are imported lazily by name so that ``import workbench.widgets`` stays light.
"""

from __future__ import annotations

from workbench._lazy import lazy_exports

_WIDGETS: dict[str, str] = {
    "PlaygroundWidget": "workbench.widgets.playground",
    "RagWidget": "workbench.widgets.rag",
    "ReviewWidget": "workbench.widgets.review",
    "SkillsHeatmap": "workbench.widgets.skills",
    "TuningWidget": "workbench.widgets.tuning",
}

__all__ = sorted(_WIDGETS)

__getattr__, __dir__ = lazy_exports(__name__, _WIDGETS, globals())
