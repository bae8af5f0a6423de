"""Learner progress from telemetry: finished tasks, scores, time spent, and where to resume.

Everything is read back from the store (the same events the notebooks and runners wrote), so progress made
interactively in JupyterLab and in headless runs counts alike. A task is *completed* once any
``task_completed`` exists for it; otherwise its latest outcome decides (*failed*, or *in_progress* for a start
without an end). Resume = the first task, in manifest order, that is not completed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from workbench.playbooks.discovery import Playbook, discover_playbooks, get_playbook

_TASK_KINDS = ("task_started", "task_completed", "task_failed")


@dataclass
class TaskProgress:
    """One task's standing for one learner.

    Attributes:
        id: Task id.
        title: Task title.
        status: ``completed``, ``failed``, ``in_progress`` or ``not_started``.
        attempts: How many times it was started.
        time_spent_s: Sum of the recorded durations.
        score: Latest overall rubric score (0..1) recorded in the task, if any.
        passed: Whether that score passed its rubric.
        last_activity: Time of the latest event.
    """

    id: str
    title: str
    status: str = "not_started"
    attempts: int = 0
    time_spent_s: float = 0.0
    score: float | None = None
    passed: bool | None = None
    last_activity: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form."""
        return {
            "id": self.id,
            "title": self.title,
            "status": self.status,
            "attempts": self.attempts,
            "time_spent_s": round(self.time_spent_s, 3),
            "score": self.score,
            "passed": self.passed,
            "last_activity": self.last_activity.isoformat() if self.last_activity else None,
        }


@dataclass
class PlaybookProgress:
    """A learner's progress through one playbook.

    Attributes:
        playbook: Playbook id.
        title: Playbook title.
        learner: The learner's pseudonym.
        tasks: Per task, in manifest order.
        runs: Distinct run ids seen.
    """

    playbook: str
    title: str
    learner: str
    tasks: list[TaskProgress] = field(default_factory=list)
    runs: int = 0

    @property
    def completed(self) -> int:
        """Number of completed tasks."""
        return sum(t.status == "completed" for t in self.tasks)

    @property
    def done(self) -> bool:
        """Whether every task is completed."""
        return self.completed == len(self.tasks)

    @property
    def time_spent_s(self) -> float:
        """Total recorded task time."""
        return sum(t.time_spent_s for t in self.tasks)

    @property
    def next_task(self) -> TaskProgress | None:
        """Where to resume: the first task not completed, or ``None`` when done."""
        return next((t for t in self.tasks if t.status != "completed"), None)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form (``--json``)."""
        nxt = self.next_task
        return {
            "playbook": self.playbook,
            "title": self.title,
            "learner": self.learner,
            "completed": self.completed,
            "total": len(self.tasks),
            "done": self.done,
            "time_spent_s": round(self.time_spent_s, 3),
            "runs": self.runs,
            "next_task": nxt.id if nxt else None,
            "tasks": [t.to_dict() for t in self.tasks],
        }


def _progress_of(playbook: Playbook, learner: str, events: list[Any]) -> PlaybookProgress:
    tasks = {t.id: TaskProgress(t.id, t.title) for t in playbook.manifest.tasks}
    latest: dict[str, str] = {}
    runs = set()
    for event in sorted(events, key=lambda e: e.time):
        if event.run_id:
            runs.add(event.run_id)
        tp = tasks.get(event.task or "")
        if tp is None:
            continue
        kind = str(event.kind)
        tp.last_activity = event.time
        if kind == "task_started":
            tp.attempts += 1
            latest[tp.id] = "in_progress"
        elif kind in ("task_completed", "task_failed"):
            tp.time_spent_s += event.duration_s or 0.0
            latest[tp.id] = "completed" if kind == "task_completed" else "failed"
            if kind == "task_completed":
                tp.status = "completed"
        elif (
            kind == "score"
            and event.attributes.get("criterion") is None
            # Copilot outputs scored inside a lesson are not the learner's own work.
            and event.attributes.get("subject", "learner") == "learner"
        ):
            score = event.attributes.get("score")
            if isinstance(score, int | float):
                tp.score = float(score)
                passed = event.attributes.get("passed")
                tp.passed = bool(passed) if passed is not None else None
    for task_id, tp in tasks.items():
        if tp.status != "completed":
            tp.status = latest.get(task_id, "not_started")
    return PlaybookProgress(playbook.id, playbook.manifest.title, learner, list(tasks.values()), len(runs))


def learner_progress(
    learner: str,
    *,
    playbook: str | Path | Playbook | None = None,
    store: Any = None,
    extra_dirs: Iterable[str | Path] = (),
) -> list[PlaybookProgress]:
    """A learner's progress in ``playbook``, or in every known playbook they have events for.

    Args:
        learner: Raw learner id or pseudonym.
        playbook: Limit to this playbook (listed even without events).
        store: A :class:`~workbench.telemetry.TelemetryStore` (default: the settings' store).
        extra_dirs: More folders to discover playbooks in.
    """
    from workbench.settings import get_settings
    from workbench.telemetry import open_store, pseudonymize

    pseudonym = pseudonymize(learner)
    owned = store is None
    store = open_store(get_settings().store_url) if owned else store
    try:
        pb = get_playbook(playbook, extra_dirs) if playbook is not None else None
        filters: dict[str, Any] = {"learner": pseudonym}
        if pb is not None:
            filters["playbook"] = pb.id
        events = [e for e in store.query(**filters) if str(e.kind) in (*_TASK_KINDS, "score")]
    finally:
        if owned:
            store.close()
    if pb is not None:
        return [_progress_of(pb, pseudonym, events)]
    catalog = discover_playbooks(extra_dirs)
    seen = [p for p in dict.fromkeys(e.playbook for e in events) if p in catalog.playbooks]
    return [
        _progress_of(catalog.playbooks[p], pseudonym, [e for e in events if e.playbook == p]) for p in seen
    ]
