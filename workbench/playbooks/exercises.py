"""A playbook's exercises as the kernel sees them, and whose work a piece of code is (its *origin*).

Each exercise is a solution region of the author notebook (:mod:`.regions`): its id, its task, its hints and
the fingerprint of its solution. The kernel reads them from the notebook next to the manifest: a learner
version keeps them in its metadata (``metadata.workbench.release``, written by ``workbench playbook release``),
an author version has them in its regions. Light on purpose (``json``, no nbformat): it runs in every kernel.

Origins (recorded on every task and score event, see :mod:`workbench.telemetry.events`):

- ``learner``: the learner's own code (an edited stub, or code that is neither the stub nor the solution);
- ``solution``: code that contains the shipped solution (normalised, :func:`~.regions.contains`), or any run of
  the author version by someone other than CI;
- ``author``: CI / ``workbench playbook test`` runs;
- ``stub``: the learner version's stub, still in place.

Only ``learner`` work counts towards proficiency (:mod:`workbench.skills.evidence`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from workbench.playbooks.regions import (
    Fingerprint,
    SolutionRegion,
    cell_source,
    contains,
    exercise_comment,
    fingerprint,
    notebook_regions,
    stub_raise,
)

Origin = Literal["learner", "solution", "author", "stub"]
#: Every origin, and the one that counts towards proficiency.
ORIGINS: tuple[str, ...] = ("learner", "solution", "author", "stub")
COUNTED_ORIGIN = "learner"
#: Key of the release information in a learner notebook's ``metadata.workbench``.
RELEASE_KEY = "release"
#: Version of that information's layout.
RELEASE_FORMAT = 1
#: When a task has several exercises, the task's origin is the strongest of theirs in this order.
_PRECEDENCE = {"stub": 3, "solution": 2, "learner": 1}


@dataclass(frozen=True)
class Exercise:
    """One exercise of a playbook.

    Attributes:
        id: The exercise id (a region's id).
        task: The manifest task it belongs to (``None`` when it cannot be told; ``validate`` reports it).
        hints: Its hints, in the order :func:`~workbench.playbooks.hint` reveals them.
        solution: The fingerprint of its shipped solution.
        cell: The index of its cell in the notebook.
    """

    id: str
    task: str | None
    hints: tuple[str, ...]
    solution: Fingerprint
    cell: int = 0

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form (a learner notebook's metadata)."""
        return {"task": self.task, "hints": list(self.hints), "solution": self.solution.to_dict(), "cell": self.cell}

    @classmethod
    def from_dict(cls, exercise_id: str, data: Mapping[str, Any]) -> Exercise:
        """The inverse of :meth:`to_dict`."""
        return cls(
            exercise_id,
            data.get("task"),
            tuple(str(h) for h in data.get("hints") or ()),
            Fingerprint.from_dict(data.get("solution") or {}),
            int(data.get("cell") or 0),
        )


def task_for_id(exercise_id: str, task_ids: Iterable[str]) -> str | None:
    """The task an exercise id names: the task's own id, or ``<task-id>-<suffix>`` (longest task id wins)."""
    ids = sorted(task_ids, key=len, reverse=True)
    if exercise_id in ids:
        return exercise_id
    return next((t for t in ids if exercise_id.startswith(t + "-")), None)


def cell_task(cells: Sequence[Mapping[str, Any]], index: int, tags_to_tasks: Mapping[str, str]) -> str | None:
    """The task a cell belongs to by its tags: its own task tag, else the nearest tagged cell above it."""
    for i in range(min(index, len(cells) - 1), -1, -1):
        for tag in (cells[i].get("metadata") or {}).get("tags") or ():
            if tag in tags_to_tasks:
                return tags_to_tasks[tag]
    return None


def exercises_from_regions(
    regions: Iterable[SolutionRegion], cells: Sequence[Mapping[str, Any]], tags_to_tasks: Mapping[str, str]
) -> dict[str, Exercise]:
    """Exercises of an author notebook's regions: the id names the task, else the cell's task tag does."""
    out: dict[str, Exercise] = {}
    for region in regions:
        task = task_for_id(region.exercise, tags_to_tasks.values()) or cell_task(cells, region.cell, tags_to_tasks)
        out[region.exercise] = Exercise(region.exercise, task, region.hints, fingerprint(region.code), region.cell)
    return out


def release_info(metadata: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """A learner notebook's release information (``metadata.workbench.release``), or ``None``."""
    info = (metadata.get("workbench") or {}).get(RELEASE_KEY) if isinstance(metadata, Mapping) else None
    return info if isinstance(info, Mapping) else None


def exercises_of_notebook(nb: Mapping[str, Any], tags_to_tasks: Mapping[str, str]) -> dict[str, Exercise]:
    """The exercises of a notebook (parsed JSON or nbformat node): its release information, else its regions."""
    info = release_info(nb.get("metadata") or {})
    if info is not None:
        return {k: Exercise.from_dict(k, v) for k, v in (info.get("exercises") or {}).items()}
    cells = list(nb.get("cells") or [])
    regions, _ = notebook_regions(cells)
    return exercises_from_regions(regions, cells, tags_to_tasks)


@lru_cache(maxsize=16)
def _exercises_at(path: str, mtime_ns: int, tags: tuple[tuple[str, str], ...]) -> dict[str, Exercise]:
    try:
        nb = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return exercises_of_notebook(nb if isinstance(nb, dict) else {}, dict(tags))


def load_exercises(folder: Path, notebook_name: str, tags_to_tasks: Mapping[str, str]) -> dict[str, Exercise]:
    """The exercises of the playbook notebook ``folder/notebook_name`` (cached until the file changes).

    Args:
        folder: The playbook folder (author folder, a released copy or a learner's workspace).
        notebook_name: The notebook's file name.
        tags_to_tasks: Manifest cell tag -> task id.
    """
    path = folder / notebook_name
    try:
        mtime = path.stat().st_mtime_ns
    except OSError:
        return {}
    return _exercises_at(str(path), mtime, tuple(sorted(tags_to_tasks.items())))


def signal(source: str, exercise: Exercise) -> str | None:
    """What ``source`` says about ``exercise``: ``stub``, ``solution``, ``learner`` (its comment only) or ``None``.

    The stub counts only while its ``raise`` line is live code (not commented out).
    """
    raise_line = stub_raise(exercise.id)
    if any(line.strip() == raise_line for line in source.splitlines()):
        return "stub"
    if contains(source, exercise.solution):
        return "solution"
    if exercise_comment(exercise.id) in source or f"BEGIN SOLUTION {exercise.id}" in source:
        return "learner"
    return None


def combine(origins: Iterable[str]) -> str:
    """One origin for several exercises: ``stub`` over ``solution`` over ``learner`` (``learner`` when none)."""
    found = [o for o in origins if o in _PRECEDENCE]
    return max(found, key=_PRECEDENCE.__getitem__) if found else COUNTED_ORIGIN


def classify(sources_newest_first: Iterable[str], exercise: Exercise) -> str:
    """The origin of ``exercise`` from the code that ran, newest first: the newest signal, else ``learner``."""
    for source in sources_newest_first:
        found = signal(source, exercise)
        if found is not None:
            return found
    return COUNTED_ORIGIN


__all__ = [
    "COUNTED_ORIGIN",
    "ORIGINS",
    "RELEASE_FORMAT",
    "RELEASE_KEY",
    "Exercise",
    "Origin",
    "cell_source",
    "cell_task",
    "classify",
    "combine",
    "exercises_from_regions",
    "exercises_of_notebook",
    "load_exercises",
    "release_info",
    "signal",
    "task_for_id",
]
