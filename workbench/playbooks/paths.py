"""Paths and next steps: a learner's ordered path for their role, the next playbook for their largest gap, and
the playbooks that close a team's gaps for the fewest learner-hours.

- A role in the taxonomy lists an ordered ``path`` of playbook ids. Order is advice, not a lock: a step whose
  earlier steps are not done says which ones are *recommended first*, and the learner may start it anyway.
- :func:`learner_path` reads the learner's own skills view (:func:`workbench.skills.learner_view`: levels and
  gaps against the role's targets; a skill with no evidence yet is at level 0) and their progress per playbook.
  The **next** playbook is the unfinished one that trains the skill with the largest gap most (weight of that
  skill in the playbook's manifest), the path's order breaking ties; with no gaps left, the first unfinished
  step of the path.
- :func:`team_recommendations` scores every playbook for a team from the manager's report (small teams are
  suppressed there, so nothing is recommended for them): for each learner who has not finished it, the
  gap-weighted skill it would close, ``sum over skills of min(gap, 1) x the playbook's weight for the skill``
  (a playbook is taken to raise a skill by one level at most), divided by the learner-hours it costs
  (``estimated_minutes / 60`` per learner). The best value per hour comes first.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from workbench.playbooks.discovery import Playbook, discover_playbooks


@dataclass(frozen=True)
class PathStep:
    """One playbook of a role's path, for one learner."""

    playbook: str
    title: str
    minutes: int
    status: str  # done | in_progress | not_started | missing (not installed here)
    recommended_first: tuple[str, ...] = ()


@dataclass(frozen=True)
class NextStep:
    """The playbook to do next and why."""

    playbook: str
    title: str
    skill: str | None
    gap: float | None
    reason: str
    recommended_first: tuple[str, ...] = ()


@dataclass
class LearnerPath:
    """A learner's path for their role, their gaps and the next step."""

    learner: str
    role: str | None
    steps: list[PathStep] = field(default_factory=list)
    gaps: dict[str, float] = field(default_factory=dict)
    next: NextStep | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (``workbench playbook path --json``, the sidebar)."""
        return {"learner": self.learner, "role": self.role, "steps": [asdict(s) for s in self.steps],
                "gaps": self.gaps, "next": asdict(self.next) if self.next else None}  # fmt: skip


@dataclass(frozen=True)
class Recommendation:
    """A playbook's value for a team: gap-weighted skill closed, learner-hours, and their ratio."""

    team: str
    playbook: str
    title: str
    learners: int
    gap_closed: float
    learner_hours: float
    skills: dict[str, float]

    @property
    def per_hour(self) -> float:
        """Gap-weighted skill closed per learner-hour."""
        return self.gap_closed / self.learner_hours if self.learner_hours else 0.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {**asdict(self), "per_hour": round(self.per_hour, 4)}


def _status(progress: Any) -> str:
    if progress is None or not any(t.status != "not_started" for t in progress.tasks):
        return "not_started"
    return "done" if progress.done else "in_progress"


def _progress_by_playbook(learner: str, store: Any) -> dict[str, Any]:
    from workbench.playbooks.progress import learner_progress

    return {p.playbook: p for p in learner_progress(learner, store=store)}


def _gaps(people: Any, targets: Mapping[str, int]) -> dict[str, float]:
    """Gap per skill with a target: target minus the estimated level (0 without evidence), never below 0."""
    levels = {} if people.empty else dict(zip(people["skill"], people["level"].astype(float), strict=True))
    return {skill: round(max(0.0, target - levels.get(skill, 0.0)), 3) for skill, target in targets.items()}


def learner_path(
    learner: str | None = None,
    *,
    role: str | None = None,
    taxonomy: Any = None,
    source: Any = None,
    extra_dirs: Iterable[str | Path] = (),
) -> LearnerPath:
    """The requesting learner's path, gaps and next playbook (their own data only).

    Args:
        learner: Raw id or pseudonym (default: ``settings.learner``).
        role: The role (default ``settings.role``); without one there is no path and no target.
        taxonomy: Taxonomy file or name (default: the shipped one).
        source: A ``TelemetryStore``, a store URL or ``None`` (the store in settings).
        extra_dirs: More playbook folders.

    Raises:
        NotFoundError: An unknown role.
    """
    from workbench.settings import get_settings
    from workbench.skills import learner_view, load_taxonomy
    from workbench.telemetry import pseudonymize

    settings = get_settings()
    who = learner or settings.learner or "anonymous"
    tax = load_taxonomy(taxonomy)
    role = role or settings.role
    targets = dict(tax.role(role).targets) if role else {}
    path_ids = tuple(tax.role(role).path) if role else ()
    report = learner_view(source, requester=who, taxonomy=tax, role=role)
    with _opened(source) as store:
        progress = _progress_by_playbook(who, store)
    catalog = {pb.id: pb for pb in discover_playbooks(extra_dirs)}
    steps = _steps(path_ids, catalog, progress)
    gaps = _gaps(report.people, targets)
    result = LearnerPath(pseudonymize(who), role, steps, gaps)
    result.next = _next_step(gaps, steps, catalog, progress)
    return result


def _steps(
    path_ids: tuple[str, ...], catalog: Mapping[str, Playbook], progress: Mapping[str, Any]
) -> list[PathStep]:
    steps: list[PathStep] = []
    for pid in path_ids:
        pb = catalog.get(pid)
        status = "missing" if pb is None else _status(progress.get(pid))
        before = tuple(s.playbook for s in steps if s.status != "done")
        title, minutes = (pb.manifest.title, pb.manifest.estimated_minutes) if pb else (pid, 0)
        steps.append(PathStep(pid, title, minutes, status, before if status != "done" else ()))
    return steps


def _next_step(
    gaps: Mapping[str, float],
    steps: list[PathStep],
    catalog: Mapping[str, Playbook],
    progress: Mapping[str, Any],
) -> NextStep | None:
    unfinished = [pb for pid, pb in catalog.items() if _status(progress.get(pid)) != "done"]
    order = {s.playbook: i for i, s in enumerate(steps)}
    first = {s.playbook: s.recommended_first for s in steps}
    for skill, gap in sorted(gaps.items(), key=lambda kv: -kv[1]):
        if gap <= 0:
            break
        trains = [pb for pb in unfinished if pb.manifest.skills.get(skill, 0) > 0]
        if trains:
            best = max(trains, key=lambda pb: (pb.manifest.skills[skill], -order.get(pb.id, len(order))))
            return NextStep(best.id, best.manifest.title, skill, gap,
                            f"your largest gap is {skill} ({gap:.1f} levels under your role's target)",
                            first.get(best.id, ()))  # fmt: skip
    step = next((s for s in steps if s.status not in ("done", "missing")), None)
    if step is None:
        return None
    return NextStep(
        step.playbook, step.title, None, None, "the next step of your role's path", step.recommended_first
    )


def team_recommendations(
    team: str | None = None,
    *,
    taxonomy: Any = None,
    source: Any = None,
    roles: Mapping[str, str] | None = None,
    limit: int = 5,
    extra_dirs: Iterable[str | Path] = (),
) -> dict[str, list[Recommendation]]:
    """Per visible team (or just ``team``), the ``limit`` playbooks that close the most gap-weighted skill per
    learner-hour (see the module docstring). Suppressed teams get no entry.

    Args:
        team: Only this team.
        taxonomy: Taxonomy file or name.
        source: A ``TelemetryStore``, a store URL or ``None`` (the store in settings).
        roles: Learner id (raw or pseudonym) -> role id, for per-learner targets.
        limit: Playbooks per team.
        extra_dirs: More playbook folders.
    """
    from workbench.skills import build_report

    report = build_report(source, taxonomy=taxonomy, team=team, roles=roles, formats=())
    people = report.people
    if people.empty:
        return {}
    people = people[people["gap"].notna() & (people["team"] != "all")]
    catalog = list(discover_playbooks(extra_dirs))
    done = _finished(set(people["learner"]), source)
    out: dict[str, list[Recommendation]] = {}
    for team_name, rows in people.groupby("team"):
        gaps: dict[str, dict[str, float]] = {}
        for row in rows.itertuples(index=False):
            gaps.setdefault(row.learner, {})[row.skill] = max(0.0, float(row.gap))
        ranked = [_value(str(team_name), pb, gaps, done) for pb in catalog]
        kept = sorted((r for r in ranked if r.gap_closed > 0), key=lambda r: (-r.per_hour, r.playbook))
        out[str(team_name)] = kept[:limit]
    return out


def _value(
    team: str, pb: Playbook, gaps: Mapping[str, Mapping[str, float]], done: Mapping[str, set[str]]
) -> Recommendation:
    weights = pb.manifest.skills
    learners = [who for who in gaps if pb.id not in done.get(who, set())]
    per_skill: dict[str, float] = {}
    for who in learners:
        for skill, weight in weights.items():
            per_skill[skill] = per_skill.get(skill, 0.0) + min(gaps[who].get(skill, 0.0), 1.0) * weight
    hours = len(learners) * pb.manifest.estimated_minutes / 60
    closed = sum(per_skill.values())
    return Recommendation(team, pb.id, pb.manifest.title, len(learners), round(closed, 4), round(hours, 3),
                          {k: round(v, 4) for k, v in per_skill.items() if v > 0})  # fmt: skip


def _finished(learners: set[str], source: Any) -> dict[str, set[str]]:
    """Pseudonym -> the playbooks they finished (every task completed)."""
    from workbench.playbooks.progress import learner_progress

    with _opened(source) as store:
        return {who: {p.playbook for p in learner_progress(who, store=store) if p.done} for who in learners}


@contextmanager
def _opened(source: Any) -> Iterator[Any]:
    """The store ``source`` names (opened here and closed after), or ``source`` itself when it is a store."""
    from workbench.telemetry import open_store

    if source is not None and not isinstance(source, (str, Path)):
        yield source
        return
    store = open_store(source)
    try:
        yield store
    finally:
        store.close()
