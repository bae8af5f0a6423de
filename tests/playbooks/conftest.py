"""Fixtures for playbook tests: small real playbooks written to temporary folders."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import nbformat
import pytest
import yaml


def code(source: str, *tags: str) -> Any:
    """A code cell with tags."""
    cell = nbformat.v4.new_code_cell(source)
    cell.metadata["tags"] = list(tags)
    return cell


def base_manifest(playbook_id: str) -> dict[str, Any]:
    """A valid manifest dict."""
    return {
        "id": playbook_id,
        "title": "Probe",
        "version": "1.0",
        "summary": "A playbook for tests.",
        "audience": ["copilot_builder"],
        "estimated_minutes": 1,
        "skills": {"prompting": 0.7, "cost_awareness": 0.3},
        "tasks": [
            {"id": "work", "title": "Work", "skills": {"prompting": 1.0}},
            {"id": "after", "title": "After"},
        ],
        "parameters": [
            {
                "name": "mode",
                "type": "str",
                "default": "ok",
                "help": "What the work task does.",
                "choices": ["ok", "raise", "sleep", "die", "outside"],
            },
            {"name": "n", "type": "int", "default": 2, "help": "A count."},
        ],
        "smoke_parameters": {"n": 1},
    }


#: The failure-matrix notebook: ``mode`` picks ok / raise / sleep (timeout) / die (SIGKILL) / outside.
MATRIX_CELLS = [
    ('mode = "ok"\nn = 2', ("parameters",)),
    ("import os, signal, time\nfrom workbench.playbooks import check, task", ()),
    ("import workbench.telemetry  # imported on its own: no cell nears the short test timeouts", ()),
    (
        'with task("work"):\n'
        '    if mode == "raise":\n'
        '        raise ValueError("boom")\n'
        '    if mode == "sleep":\n'
        "        time.sleep(60)\n"
        '    if mode == "die":\n'
        "        os.kill(os.getpid(), signal.SIGKILL)\n"
        "        time.sleep(10)\n"
        '    print("worked", n)',
        ("task:work",),
    ),
    ('if mode == "outside":\n    raise RuntimeError("outside any task")', ("task:after",)),
    ('with task("after"):\n    check(n >= 1, "n is positive")', ("task:after",)),
]

MakePlaybook = Callable[..., Path]


@pytest.fixture
def make_playbook(tmp_path: Path) -> MakePlaybook:
    """Write a playbook folder; returns its path. Override manifest keys or cells per test."""

    def make(
        playbook_id: str = "probe",
        *,
        manifest: dict[str, Any] | None = None,
        cells: list[tuple[str, tuple[str, ...]]] | None = None,
        parent: Path | None = None,
    ) -> Path:
        root = (parent or tmp_path / "pbs") / playbook_id
        root.mkdir(parents=True, exist_ok=True)
        data = base_manifest(playbook_id)
        data.update(manifest or {})
        (root / "playbook.yaml").write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
        nb = nbformat.v4.new_notebook(cells=[code(src, *tags) for src, tags in (cells or MATRIX_CELLS)])
        nb.metadata["kernelspec"] = {"name": "python3", "language": "python", "display_name": "Python 3"}
        nbformat.write(nb, root / f"{playbook_id}.ipynb")
        return root

    return make


@pytest.fixture(scope="session")
def matrix_playbook(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The failure-matrix playbook, written once per session (runs write elsewhere)."""
    root = tmp_path_factory.mktemp("matrix") / "matrix"
    root.mkdir()
    (root / "playbook.yaml").write_text(yaml.safe_dump(base_manifest("matrix"), sort_keys=False), "utf-8")
    nb = nbformat.v4.new_notebook(cells=[code(src, *tags) for src, tags in MATRIX_CELLS])
    nb.metadata["kernelspec"] = {"name": "python3", "language": "python", "display_name": "Python 3"}
    nbformat.write(nb, root / "matrix.ipynb")
    return root


@pytest.fixture
def run_events() -> Callable[[str], list[Any]]:
    """``run_events(run_id)``: the run's events from the test's store, oldest first."""

    def read(run_id: str) -> list[Any]:
        from workbench.telemetry import open_store

        with open_store() as store:
            return sorted(store.query(run_id=run_id), key=lambda e: e.time)

    return read
