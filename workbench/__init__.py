"""Workbench: a Jupyter-based upskilling and copilot-building workbench.

``import workbench`` stays light: it imports no torch, transformers, langchain or papermill. Heavy modules
(``workbench.models``, ``workbench.rag``, ``workbench.tuning``, ``workbench.playbooks``...) import their
dependencies when used.
"""

from __future__ import annotations

from workbench.errors import WorkbenchError
from workbench.settings import WorkbenchSettings, get_settings

__version__ = "0.1.0"



def _jupyter_labextension_paths() -> list[dict[str, str]]:
    """Jupyter's hook: the prebuilt JupyterLab extension (workbench/labextension)."""
    return [{"src": "labextension", "dest": "workbench-lab"}]


__all__ = ["WorkbenchError", "WorkbenchSettings", "__version__", "get_settings"]
