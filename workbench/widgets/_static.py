"""The widgets' front-end files (``workbench/widgets/static``), composed into the ES modules anywidget loads."""

from __future__ import annotations

import pathlib

STATIC = pathlib.Path(__file__).parent / "static"


def widget_esm(name: str) -> str:
    """``static/dom.js`` (the shared ``h``/``fmt`` helpers) followed by the view module ``static/<name>``."""
    return (STATIC / "dom.js").read_text(encoding="utf-8") + "\n" + (STATIC / name).read_text(encoding="utf-8")
