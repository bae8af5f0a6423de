"""The kernel's memory of one playbook session: the cells that ran, task attempts and hints revealed.

Whose work a task scores is read from the code that ran (:func:`~.exercises.classify`). An IPython
``pre_run_cell`` hook (installed when the kernel API is imported) keeps the cells of the session, newest last;
JupyterLab sends each cell's id, so a re-run cell replaces its older version, and headless runs (papermill,
nbclient) run each cell once in order. For a task, the cells since the last block of *another* task come first
(the task's own cells), then the older ones; the newest cell that shows the exercise's stub, its shipped
solution or its ``# EXERCISE`` comment decides (:func:`.exercises.classify`). The cell that opens the task is
always included: it is read from the caller's frame when the hook was not installed yet.

Attempts count ``task()`` entries per task; hints count hints revealed per exercise. Both start from what the
store already holds for the run id (a learner's workspace keeps its run id across kernel restarts).
"""

from __future__ import annotations

import linecache
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

#: Cells kept per session (older ones are forgotten).
MAX_CELLS = 400
_PACKAGE = str(Path(__file__).resolve().parent.parent)
PriorReader = Callable[[str], tuple[int, dict[str, int]]]


@dataclass
class _Cell:
    seq: int
    key: str | None
    source: str


@dataclass
class KernelSession:
    """Cells, task marks, attempts and hints of one playbook run in one kernel (reset between batch runs)."""

    cells: list[_Cell] = field(default_factory=list)
    seq: int = 0
    marks: list[tuple[int, str]] = field(default_factory=list)
    attempts: dict[str, int] = field(default_factory=dict)
    hints: dict[str, int] = field(default_factory=dict)
    loaded: set[str] = field(default_factory=set)
    #: Task id -> the live event attributes of its open ``task()`` block (hints revealed inside update them).
    active: dict[str, dict[str, Any]] = field(default_factory=dict)

    def reset(self) -> None:
        """Forget everything (a new run in a reused kernel)."""
        self.cells.clear()
        self.marks.clear()
        self.attempts.clear()
        self.hints.clear()
        self.loaded.clear()
        self.active.clear()

    def record_cell(self, source: str, key: str | None = None) -> None:
        """Remember a cell that is about to run; a cell id replaces that cell's older version."""
        if key is not None:
            self.cells = [c for c in self.cells if c.key != key]
        self.seq += 1
        self.cells.append(_Cell(self.seq, key, source))
        if len(self.cells) > MAX_CELLS:
            del self.cells[: len(self.cells) - MAX_CELLS]

    def ensure_current(self, source: str | None) -> None:
        """Make sure the running cell is remembered (when the hook was installed during it)."""
        if source and not any(c.source == source for c in self.cells[-3:]):
            self.record_cell(source)

    def mark_task(self, task_id: str) -> None:
        """Note that ``task_id``'s block starts in the newest cell."""
        self.marks.append((self.seq, task_id))

    def sources_for(self, task_id: str) -> list[str]:
        """Cell sources for ``task_id``, newest first: those since another task's block, then the older ones."""
        boundary = max((seq for seq, t in self.marks if t != task_id), default=0)
        newest = list(reversed(self.cells))
        return [c.source for c in newest if c.seq > boundary] + [c.source for c in newest if c.seq <= boundary]

    def load_prior(self, task_id: str, reader: PriorReader) -> None:
        """Start ``task_id``'s counts from what the store holds for this run (once per task)."""
        if task_id in self.loaded:
            return
        self.loaded.add(task_id)
        attempts, hints = reader(task_id)
        self.attempts[task_id] = max(self.attempts.get(task_id, 0), attempts)
        for exercise, count in hints.items():
            self.hints[exercise] = max(self.hints.get(exercise, 0), count)

    def next_attempt(self, task_id: str, reader: PriorReader) -> int:
        """Count one more attempt at ``task_id``; returns its number (1 for the first)."""
        self.load_prior(task_id, reader)
        self.attempts[task_id] = self.attempts.get(task_id, 0) + 1
        return self.attempts[task_id]

    def task_hints(self, exercises: list[str]) -> int:
        """Hints revealed so far for these exercises."""
        return sum(self.hints.get(e, 0) for e in exercises)

    def hint_revealed(self, exercise: str, task_id: str | None, count: int) -> None:
        """Note that ``count`` hints of ``exercise`` are now revealed (and tell its open task block)."""
        added = count - self.hints.get(exercise, 0)
        self.hints[exercise] = count
        live = self.active.get(task_id or "")
        if live is not None and added > 0:
            live["hints"] = int(live.get("hints", 0)) + added


#: The session of this process (one kernel runs one playbook run at a time).
session = KernelSession()
_hooked: set[int] = set()


def _pre_run_cell(info: Any) -> None:
    session.record_cell(str(getattr(info, "raw_cell", "") or ""), getattr(info, "cell_id", None) or None)


def install_hook() -> None:
    """Register the ``pre_run_cell`` hook in the running IPython shell, once (no-op outside IPython)."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None  # type: ignore[attr-defined]
    if shell is None or id(shell) in _hooked:
        return
    shell.events.register("pre_run_cell", _pre_run_cell)
    _hooked.add(id(shell))
    history = getattr(getattr(shell, "history_manager", None), "input_hist_raw", None)
    if history:  # the cell importing the API already started: remember it too
        session.record_cell(str(history[-1]))


def caller_source() -> str | None:
    """The source of the code that called into the kernel API: the running cell (or script), via linecache."""
    frame: FrameType | None = sys._getframe(1)
    while frame is not None:
        filename = frame.f_code.co_filename
        if not (filename.startswith(_PACKAGE) or filename.endswith("contextlib.py")):
            lines = linecache.getlines(filename)
            return "".join(lines) or None
        frame = frame.f_back
    return None


__all__ = ["MAX_CELLS", "KernelSession", "caller_source", "install_hook", "session"]
