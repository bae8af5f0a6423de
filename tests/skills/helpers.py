"""Small builders of contract-shaped events for the skills tests."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from workbench.telemetry import Event

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


def at(days: float) -> datetime:
    """``T0`` plus ``days``."""
    return T0 + timedelta(days=days)


def score(learner: str, skill: str | None, value: float, *, days: float = 0, scorer: str = "deterministic",
          confidence: float = 1.0, team: str = "team-a", subject: str = "learner", criterion: str | None = "c1",
          task: str = "t1", playbook: str = "pb", run_id: str = "run-1", **extra: Any) -> Event:
    """One rubric criterion score event."""
    return Event(kind="score", learner=learner, team=team, playbook=playbook, task=task, run_id=run_id,
                 time=at(days), attributes={"rubric": "r", "rubric_version": 1, "criterion": criterion,
                                            "skill": skill, "score": value, "scorer": scorer,
                                            "confidence": confidence, "subject": subject, **extra})


def task(learner: str, kind: str, skills: Any, *, days: float = 0, team: str = "team-a", task: str = "t1",
         playbook: str = "pb", duration: float | None = 60.0, run_id: str = "run-1", **attrs: Any) -> Event:
    """A task_started / task_completed / task_failed event."""
    attributes = dict(attrs)
    if skills is not None:
        attributes["skills"] = skills
    return Event(kind=kind, learner=learner, team=team, playbook=playbook, task=task, run_id=run_id,
                 time=at(days), duration_s=duration if kind != "task_started" else None, attributes=attributes)


def event(kind: str, learner: str, *, days: float = 0, team: str = "team-a", task: str = "t1",
          playbook: str = "pb", **attributes: Any) -> Event:
    """Any other event kind."""
    return Event(kind=kind, learner=learner, team=team, playbook=playbook, task=task, time=at(days),
                 attributes=attributes)
