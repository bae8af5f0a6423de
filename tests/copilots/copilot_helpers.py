"""Helpers of the copilot tests: edit a spec like a user would, find a line, read the test's events."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def set_field(spec_file: Path, old: str, new: str) -> None:
    """Replace one line's text in a spec file (tests edit the scaffold's YAML like a user would)."""
    text = spec_file.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {spec_file}"
    spec_file.write_text(text.replace(old, new, 1), encoding="utf-8")


def line_of(spec_file: Path, needle: str) -> int:
    """The 1-based line of the first line of ``spec_file`` containing ``needle``."""
    for number, line in enumerate(spec_file.read_text(encoding="utf-8").splitlines(), start=1):
        if needle in line:
            return number
    raise AssertionError(f"{needle!r} not in {spec_file}")


def store_events(kind: str) -> list[Any]:
    """Events of ``kind`` in the test's telemetry store (after flushing the default recorder)."""
    from workbench.telemetry import get_recorder, open_store

    get_recorder().flush()
    with open_store() as store:
        return list(store.query(kind=kind))
