"""Skills-gap reports: people x skills and team x skills heatmaps, gaps, trends and outcome metrics.

:func:`build_report` is the manager's report (``workbench report`` and the end of ``workbench demo`` call it);
:func:`learner_view` is a learner's own report. Both return a :class:`SkillsReport` whose frames are the whole
result (the HTML, PNG and CSV files are views of it) and whose :meth:`SkillsReport.drilldown` returns the
evidence behind any cell (event ids, runs, scores).

Privacy rules (manager views):

- Learner ids are pseudonyms (``workbench.telemetry.pseudonymize``); raw ids never reach a report.
- A team with fewer than ``min_group_size`` learners (settings, default 5) is suppressed everywhere: its team
  row shows "suppressed (n<5)" and its members are left out of the people view too (otherwise the people view
  would undo the suppression). A team x skill cell with evidence from fewer than ``min_group_size`` learners is
  suppressed the same way, and so are outcome and trend groups.
- A learner view shows only the requesting learner's own data and refuses anyone else's.

Where roles come from (for the targets): the ``role`` argument (everyone in the view is compared with that
role), else ``roles`` (a mapping of learner id to role id, e.g. from an HR roster), else the latest ``role``
attribute on the learner's events (the synthetic cohorts and the playbook runner record it on
``task_started``). A learner without a role has levels but no gaps.

Where the work happens: on a telemetry store (a ``TelemetryStore``, a store URL or ``None``), the manager report
reads aggregates and narrow rows computed by the database (:mod:`~workbench.skills.sql_report`, with the people x
skills estimates from :func:`~workbench.skills.sql_estimates.estimate_in_sql`), never every event; an events
frame (or iterable of events) is computed in pandas. Both give the same report (tested on SQLite and PostgreSQL).
A learner view reads only the learner's own events.

Where the code lives: :mod:`~workbench.skills.compute` computes the frames (a
:class:`~workbench.skills.report_data.ReportData`); :mod:`~workbench.skills.payload` and
:mod:`~workbench.skills.render` draw them; this module builds the views and :class:`SkillsReport`, the data plus
writing itself, is where the two meet (so render never imports back).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import fields
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from workbench.errors import PolicyViolation, ValidationError
from workbench.skills._perf import Stopwatch, paused_gc
from workbench.skills.compute import ReportSpec, compute_report, compute_report_in_sql
from workbench.skills.evidence import load_events, utc_timestamp
from workbench.skills.payload import report_payload
from workbench.skills.proficiency import EstimatorConfig
from workbench.skills.render import write_report
from workbench.skills.report_data import ALL, FORMATS, NO_TEAM, ReportData, suppressed_label
from workbench.skills.taxonomy import Taxonomy, load_taxonomy

__all__ = [
    "ALL",
    "FORMATS",
    "NO_TEAM",
    "REPORT_TTL_S",
    "SkillsReport",
    "build_report",
    "cached_report",
    "learner_ids",
    "learner_view",
    "suppressed_label",
]


class SkillsReport(ReportData):
    """A computed skills report (see :class:`~workbench.skills.report_data.ReportData` for its frames) that
    draws and writes itself."""

    @classmethod
    def of(cls, data: ReportData) -> SkillsReport:
        """The report holding ``data``'s frames (shared, not copied)."""
        return cls(**{f.name: getattr(data, f.name) for f in fields(ReportData)})

    def to_payload(self, *, max_people: int = 250, max_teams: int = 100) -> dict[str, Any]:
        """The data the HTML report and the manager widget draw (heatmaps, drill-downs, trends, outcomes)."""
        return report_payload(self, max_people=max_people, max_teams=max_teams)

    def write(
        self,
        out_dir: str | Path,
        formats: Sequence[str] = FORMATS,
        *,
        max_people: int = 250,
        max_teams: int = 100,
    ) -> dict[str, Path]:
        """Write the report files into ``out_dir`` and return them (also kept in :attr:`paths`).

        Args:
            out_dir: The folder (created).
            formats: Any of ``html`` (``report.html``, self-contained, works offline), ``png`` (heatmaps and
                trends) and ``csv`` (every frame, long form).
            max_people: People rows drawn in the HTML and PNG (the CSV files have everyone).
            max_teams: Team rows drawn in the HTML and PNG.
        """
        unknown = sorted(set(formats) - set(FORMATS))
        if unknown:
            raise ValidationError(
                f"unknown report format(s) {unknown}", field="formats", hint=f"use any of {list(FORMATS)}"
            )
        watch = Stopwatch()
        paths = write_report(self, Path(out_dir), formats, max_people=max_people, max_teams=max_teams)
        self.paths.update(paths)
        watch.lap("write")
        self.timings["write"] = watch.wall["write"]
        self.cpu_timings["write"] = watch.cpu["write"]
        return paths



# -- building --------------------------------------------------------------------------------------------
def build_report(
    source: Any = None,
    *,
    taxonomy: str | Path | Taxonomy | None = None,
    team: str | None = None,
    role: str | None = None,
    roles: Mapping[str, str] | None = None,
    out_dir: str | Path | None = None,
    formats: Sequence[str] = FORMATS,
    as_of: datetime | str | None = None,
    since: datetime | str | None = None,
    until: datetime | str | None = None,
    period: str = "month",
    min_group_size: int | None = None,
    config: EstimatorConfig | None = None,
    title: str | None = None,
    max_people: int = 250,
    max_teams: int = 100,
    engine: str = "auto",
) -> SkillsReport:
    """Build the manager's skills-gap report, and write it when ``out_dir`` is given.

    Args:
        source: A ``TelemetryStore``, a store URL or ``None`` (the store in settings); or an events DataFrame /
            iterable of events (always computed in pandas).
        taxonomy: Taxonomy file or name; default ``datasets/skills/genai-copilot.yaml``.
        team: Only this team.
        role: Compare everyone in view with this role's targets.
        roles: Learner id (raw or pseudonym) -> role id, for per-learner targets.
        out_dir: Write the files here (see :meth:`SkillsReport.write`).
        formats: Which files to write.
        as_of: The time of the estimate; default now (or the newest event, if later).
        since: Only evidence at or after this time.
        until: Only evidence before this time.
        period: Trend granularity, ``"month"`` or ``"week"``.
        min_group_size: Suppression threshold; default ``settings.min_group_size``.
        config: Proficiency model parameters.
        title: Report title.
        max_people: People rows drawn in HTML/PNG.
        max_teams: Team rows drawn in HTML/PNG.
        engine: For a store: ``sql`` (aggregates and narrow rows computed by the database,
            :mod:`~workbench.skills.sql_report`), ``pandas`` (every event loaded, computed in pandas) or ``auto``:
            ``sql`` on PostgreSQL, ``pandas`` on SQLite, where ``bench/skills.py`` measured the pandas path faster
            (1,000,000 events: 24 s against 34 s; SQLite evaluates the JSON in this process either way). Both
            give the same report (``tests/skills/test_sql_report.py``).

    Raises:
        ValidationError: An unknown ``engine``.
        NotFoundError: Unknown taxonomy file or role.
        StoreError: The store cannot be read.
    """
    with paused_gc():
        tax = load_taxonomy(taxonomy)
        if role is not None:
            tax.role(role)
        spec = ReportSpec(
            scope="manager",
            filters={"team": team, "role": role, "since": _iso(since), "until": _iso(until)},
            title=title or (f"Skills-gap report: team {team}" if team else "Skills-gap report"),
            role=role, roles=roles, as_of=as_of, period=period, min_group_size=min_group_size, config=config,
        )
        watch = Stopwatch()
        if _is_store(source) and _use_sql(source, engine):
            report = _computed_in_sql(source, tax, spec, {"team": team, "since": since, "until": until}, watch)
        else:
            events = load_events(source, team=team, since=since, until=until)
            watch.lap("load")
            report = _computed(events, tax, spec, watch)
        if team is not None and report.counts.get("events", 0) == 0:
            report.messages.insert(0, f"no events for team '{team}': check the team name (teams are case-sensitive).")
        if out_dir is not None:
            report.write(out_dir, formats, max_people=max_people, max_teams=max_teams)
        return report


def learner_view(
    source: Any = None,
    *,
    requester: str,
    learner: str | None = None,
    taxonomy: str | Path | Taxonomy | None = None,
    role: str | None = None,
    out_dir: str | Path | None = None,
    formats: Sequence[str] = FORMATS,
    as_of: datetime | str | None = None,
    period: str = "month",
    config: EstimatorConfig | None = None,
) -> SkillsReport:
    """A learner's own skills report: their levels, gaps, trends, outcomes and evidence, and nobody else's.

    Args:
        source: As for :func:`build_report`.
        requester: Who asks (raw id or pseudonym).
        learner: Whose report (default: the requester). Anyone else is refused.
        taxonomy: Taxonomy file or name.
        role: The learner's role; default ``settings.role``, else the ``role`` attribute on their events.
        out_dir: Write the files here.
        formats: Which files to write.
        as_of: The time of the estimate.
        period: Trend granularity.
        config: Proficiency model parameters.

    Raises:
        PolicyViolation: ``learner`` is not the requester.
    """
    from workbench.settings import get_settings
    from workbench.telemetry import pseudonymize

    who = pseudonymize(requester)
    target = pseudonymize(learner) if learner is not None else who
    if target != who:
        raise PolicyViolation(
            "a learner view shows only the requesting learner's own data",
            field="learner",
            hint="ask for your own report (learner=None), or ask a manager for a team report, "
            "which shows groups of at least min_group_size learners",
        )
    tax = load_taxonomy(taxonomy)
    role = role or get_settings().role
    if role is not None:
        tax.role(role)
    with paused_gc():
        watch = Stopwatch()
        events = load_events(source, learner=who)
        watch.lap("load")
        spec = ReportSpec(scope="learner", filters={"learner": who, "role": role}, title="My skills", role=role,
                          as_of=as_of, period=period, min_group_size=1, config=config)
        report = _computed(events, tax, spec, watch)
        if out_dir is not None:
            report.write(out_dir, formats)
        return report


def _computed(events: pd.DataFrame, tax: Taxonomy, spec: ReportSpec, watch: Stopwatch) -> SkillsReport:
    """The report over ``events``, its timings led by the loading ones in ``watch``."""
    report = SkillsReport.of(compute_report(events, tax, spec))
    report.timings = {**watch.wall, **report.timings}
    report.cpu_timings = {**watch.cpu, **report.cpu_timings}
    return report


ENGINES = ("auto", "sql", "pandas")


def _use_sql(source: Any, engine: str) -> bool:
    """Whether a store source is aggregated in SQL under ``engine`` (see :func:`build_report`)."""
    if engine not in ENGINES:
        from workbench.errors import ValidationError

        raise ValidationError(f"unknown report engine '{engine}'", field="engine", hint=f"use one of: {', '.join(ENGINES)}")
    if engine != "auto":
        return engine == "sql"
    if hasattr(source, "sql_dialect"):
        return bool(source.sql_dialect.name == "postgresql")
    from workbench.settings import get_settings

    url = str(source if source is not None else get_settings().store_url)
    return url.startswith(("postgresql", "postgres"))


def _is_store(source: Any) -> bool:
    """Whether ``source`` names a telemetry store (read with SQL aggregates) rather than events in memory."""
    return source is None or isinstance(source, str) or hasattr(source, "sql_dialect")


def _computed_in_sql(source: Any, tax: Taxonomy, spec: ReportSpec, filters: dict[str, Any],
                     watch: Stopwatch) -> SkillsReport:
    """The manager report with the heavy aggregation in the store's database (see ``compute_report_in_sql``)."""
    from workbench.telemetry import open_store

    owned = not hasattr(source, "sql_dialect")
    store = open_store(source) if owned else source
    try:
        report = SkillsReport.of(compute_report_in_sql(store, tax, spec, filters))
    finally:
        if owned:
            store.close()
    report.timings = {**watch.wall, **report.timings}
    report.cpu_timings = {**watch.cpu, **report.cpu_timings}
    return report


def _iso(value: datetime | str | None) -> str | None:
    return None if value is None else utc_timestamp(value).isoformat()


# -- the shared manager report ---------------------------------------------------------------------------
#: Seconds a manager report from :func:`cached_report` may be reused.
REPORT_TTL_S = 60.0
_cache: dict[tuple[str, str | None, str | None], tuple[float, int, SkillsReport]] = {}
_cache_lock = threading.Lock()


def cached_report(*, team: str | None = None, role: str | None = None, ttl_s: float = REPORT_TTL_S) -> SkillsReport:
    """The manager's report over the store in settings (:func:`build_report`), computed once and shared.

    A report is reused for up to ``ttl_s`` seconds while the store's event count is unchanged (the store is
    append-only, so a new event means a new report): a report table and the drill-downs into its cells read one
    report instead of recomputing it per request. Thread-safe; keyed by store, team and role.
    """
    from workbench.telemetry import open_store

    with open_store() as store:
        stamp = store.count()
        key = (str(store.url), team, role)
    now = time.monotonic()
    with _cache_lock:
        for old in [k for k, (t, _, _) in _cache.items() if now - t > ttl_s]:
            del _cache[old]
        hit = _cache.get(key)
    if hit is not None and hit[1] == stamp:
        return hit[2]
    report = build_report(team=team, role=role)
    with _cache_lock:
        _cache[key] = (time.monotonic(), stamp, report)
    return report


def learner_ids(values: Iterable[str]) -> list[str]:
    """Pseudonyms of ``values`` (raw ids or pseudonyms), for filters and rosters."""
    from workbench.telemetry import pseudonymize

    return [pseudonymize(v) for v in values]
