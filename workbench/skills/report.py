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
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from workbench.errors import PolicyViolation, ValidationError
from workbench.skills._perf import Stopwatch, paused_gc
from workbench.skills.evidence import (
    Evidence,
    extract_evidence,
    load_events,
    pseudonymous,
    utc_timestamp,
)
from workbench.skills.outcomes import outcome_metrics, prepare_outcome_events, suppress_small
from workbench.skills.proficiency import EstimatorConfig, add_gaps, estimate_proficiency, trend_frame
from workbench.skills.taxonomy import Taxonomy, load_taxonomy

#: Label of learners whose events carry no team.
NO_TEAM = "(no team)"
#: Group label of the whole view in team tables and trends.
ALL = "all"
#: Output formats :meth:`SkillsReport.write` knows.
FORMATS: tuple[str, ...] = ("html", "png", "csv")


def suppressed_label(min_group_size: int) -> str:
    """What a suppressed cell shows: ``"suppressed (n<5)"``."""
    return f"suppressed (n<{min_group_size})"


@dataclass
class SkillsReport:
    """A computed skills report. Frames are pandas DataFrames in long form.

    Attributes:
        taxonomy: The taxonomy used.
        scope: ``"manager"`` or ``"learner"``.
        as_of: The time estimates are for (UTC).
        filters: The filters applied (team, role, learner, since, until).
        min_group_size: Groups smaller than this are suppressed (manager scope).
        learners: One row per learner in view: learner, team, role, events, first_seen, last_seen, visible.
        people: One row per visible (learner, skill) with evidence: level, its interval, target, gap, status...
        teams: One row per (team, skill), plus the ``all`` team: level mean/sd, gap, shares, suppression.
        trends: Mean level and gap per period, team (and ``all``) and skill, as estimated at each period's end.
        outcomes: Outcome metrics by ``team``, ``task``, ``period`` and ``all``.
        evidence: Evidence rows of visible learners (``weight_now`` = weight after recency decay at ``as_of``).
        unknown_skills: Evidence naming skills the taxonomy lacks (skill, events, learners, example ids).
        messages: What a reader must know (empty store, suppressed teams, unknown skills...).
        counts: Sizes (events, evidence, learners...).
        timings: Seconds per stage.
        paths: Files written by :meth:`write` (format or name -> path).
    """

    taxonomy: Taxonomy
    scope: str
    as_of: pd.Timestamp
    filters: dict[str, Any]
    min_group_size: int
    learners: pd.DataFrame
    people: pd.DataFrame
    teams: pd.DataFrame
    trends: pd.DataFrame
    outcomes: dict[str, pd.DataFrame]
    evidence: pd.DataFrame
    unknown_skills: pd.DataFrame
    messages: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    cpu_timings: dict[str, float] = field(default_factory=dict)
    paths: dict[str, Path] = field(default_factory=dict)
    title: str = "Skills-gap report"
    period: str = "month"

    @property
    def empty(self) -> bool:
        """Whether there was no evidence to report."""
        return self.people.empty

    @property
    def suppressed_teams(self) -> list[str]:
        """Teams hidden because they have fewer than ``min_group_size`` learners."""
        if self.teams.empty:
            return []
        cached = self.__dict__.get("_suppressed_teams")
        if cached is not None and cached[0] is self.teams:
            return list(cached[1])
        rows = self.teams.loc[self.teams["suppressed"] & (self.teams["reason"] == "team")]
        names = sorted(pd.unique(rows["team"]).tolist())
        self.__dict__["_suppressed_teams"] = (self.teams, names)
        return list(names)

    def matrix(self, view: str = "people", value: str = "level") -> pd.DataFrame:
        """A wide heatmap matrix: rows are learners (``view="people"``) or teams, columns the skills.

        Args:
            view: ``"people"`` or ``"teams"``.
            value: Any numeric column: ``level``, ``gap``, ``level_lo``, ``target``, ``n_evidence``...
        """
        frame = self.people if view == "people" else self.teams
        key = "learner" if view == "people" else "team"
        if frame.empty:
            return pd.DataFrame(columns=self.taxonomy.skill_ids)
        wide = frame.pivot_table(index=key, columns="skill", values=value, aggfunc="first", dropna=False)
        return wide.reindex(columns=self.taxonomy.skill_ids)

    def drilldown(self, row: str, skill: str, *, view: str = "people", limit: int | None = 50) -> list[dict[str, Any]]:
        """The evidence behind one heatmap cell, newest first.

        Args:
            row: A learner pseudonym (or raw id) for ``view="people"``, a team name for ``view="teams"``.
            skill: The skill id.
            view: ``"people"`` or ``"teams"``.
            limit: At most this many items (``None``: all).

        Returns:
            Dicts with event_id, time, learner, playbook, task, run_id, source, scorer, criterion, outcome
            (score 0..1), weight and weight_now. Empty for a suppressed team or an unknown cell.
        """
        ev = self.evidence
        if ev.empty:
            return []
        if view == "people":
            from workbench.telemetry import pseudonymize

            mask = (ev["learner"] == pseudonymize(row)) & (ev["skill"] == skill)
        else:
            if row in self.suppressed_teams:
                return []
            if row == ALL:
                mask = ev["skill"] == skill
            else:
                members = self.learners.loc[self.learners["team"] == row, "learner"]
                mask = ev["learner"].isin(members) & (ev["skill"] == skill)
                cell = self.teams.loc[(self.teams["team"] == row) & (self.teams["skill"] == skill)]
                if not cell.empty and bool(cell["suppressed"].iloc[0]):
                    return []
        rows = ev.loc[mask].sort_values("time", ascending=False)
        if limit is not None:
            rows = rows.head(limit)
        return _records(rows)

    def summary(self) -> dict[str, Any]:
        """A small JSON-ready summary (what ``workbench report --json`` prints)."""
        top: list[dict[str, Any]] = []
        overall = self.teams.loc[(self.teams["team"] == ALL) & ~self.teams["suppressed"]] if not self.teams.empty \
            else self.teams
        if not overall.empty:
            ranked = overall.dropna(subset=["gap"]).sort_values("gap", ascending=False).head(5)
            top = [
                {"skill": r.skill, "mean_gap": round(float(r.gap), 2), "mean_level": round(float(r.level), 2)}
                for r in ranked.itertuples()
            ]
        return {
            "title": self.title,
            "scope": self.scope,
            "taxonomy": {"id": self.taxonomy.id, "version": self.taxonomy.version, "source": self.taxonomy.source},
            "as_of": self.as_of.isoformat(),
            "filters": {k: v for k, v in self.filters.items() if v is not None},
            "min_group_size": self.min_group_size,
            "counts": dict(self.counts),
            "suppressed_teams": len(self.suppressed_teams),
            "unknown_skills": self.unknown_skills.to_dict(orient="records"),
            "largest_gaps": top,
            "messages": list(self.messages),
            "timings_s": {k: round(v, 3) for k, v in self.timings.items()},
            "cpu_s": {k: round(v, 3) for k, v in self.cpu_timings.items()},
            "files": {k: str(v) for k, v in self.paths.items()},
        }

    def to_payload(self, *, max_people: int = 250, max_teams: int = 100) -> dict[str, Any]:
        """The data the HTML report and the manager widget draw (heatmaps, drill-downs, trends, outcomes)."""
        from workbench.skills.render import report_payload

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
        from workbench.skills.render import write_report

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
) -> SkillsReport:
    """Build the manager's skills-gap report, and write it when ``out_dir`` is given.

    Args:
        source: A ``TelemetryStore``, a store URL, an events DataFrame or ``None`` (the store in settings).
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

    Raises:
        NotFoundError: Unknown taxonomy file or role.
        StoreError: The store cannot be read.
    """
    with paused_gc():
        return _build_report(
            source, taxonomy=taxonomy, team=team, role=role, roles=roles, out_dir=out_dir, formats=formats,
            as_of=as_of, since=since, until=until, period=period, min_group_size=min_group_size, config=config,
            title=title, max_people=max_people, max_teams=max_teams,
        )


def _build_report(
    source: Any,
    *,
    taxonomy: str | Path | Taxonomy | None,
    team: str | None,
    role: str | None,
    roles: Mapping[str, str] | None,
    out_dir: str | Path | None,
    formats: Sequence[str],
    as_of: datetime | str | None,
    since: datetime | str | None,
    until: datetime | str | None,
    period: str,
    min_group_size: int | None,
    config: EstimatorConfig | None,
    title: str | None,
    max_people: int,
    max_teams: int,
) -> SkillsReport:
    tax = load_taxonomy(taxonomy)
    if role is not None:
        tax.role(role)
    watch = Stopwatch()
    events = load_events(source, team=team, since=since, until=until)
    watch.lap("load")
    report = _compute(
        events,
        tax,
        scope="manager",
        filters={"team": team, "role": role, "since": _iso(since), "until": _iso(until)},
        role=role,
        roles=roles,
        as_of=as_of,
        period=period,
        min_group_size=min_group_size,
        config=config,
        title=title or (f"Skills-gap report: team {team}" if team else "Skills-gap report"),
    )
    report.timings = {**watch.wall, **report.timings}
    report.cpu_timings = {**watch.cpu, **report.cpu_timings}
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
        return _learner_report(source, who=who, tax=tax, role=role, out_dir=out_dir, formats=formats,
                               as_of=as_of, period=period, config=config)


def _learner_report(
    source: Any,
    *,
    who: str,
    tax: Taxonomy,
    role: str | None,
    out_dir: str | Path | None,
    formats: Sequence[str],
    as_of: datetime | str | None,
    period: str,
    config: EstimatorConfig | None,
) -> SkillsReport:
    watch = Stopwatch()
    events = load_events(source, learner=who)
    watch.lap("load")
    report = _compute(
        events,
        tax,
        scope="learner",
        filters={"learner": who, "role": role},
        role=role,
        roles=None,
        as_of=as_of,
        period=period,
        min_group_size=1,
        config=config,
        title="My skills",
    )
    report.timings = {**watch.wall, **report.timings}
    report.cpu_timings = {**watch.cpu, **report.cpu_timings}
    if out_dir is not None:
        report.write(out_dir, formats)
    return report


def _iso(value: datetime | str | None) -> str | None:
    return None if value is None else utc_timestamp(value).isoformat()


def _compute(
    events: pd.DataFrame,
    tax: Taxonomy,
    *,
    scope: str,
    filters: dict[str, Any],
    role: str | None,
    roles: Mapping[str, str] | None,
    as_of: datetime | str | None,
    period: str,
    min_group_size: int | None,
    config: EstimatorConfig | None,
    title: str,
) -> SkillsReport:
    from workbench.settings import get_settings

    settings = get_settings()
    config = config or EstimatorConfig()
    k = int(min_group_size if min_group_size is not None else settings.min_group_size)
    if k < 1:
        raise ValidationError("min_group_size must be at least 1", field="min_group_size", hint="e.g. 5")
    watch = Stopwatch()
    now = pd.Timestamp(datetime.now(timezone.utc))
    if as_of is not None:
        stamp = utc_timestamp(as_of)
    elif len(events):
        stamp = max(now, events["time"].max())
    else:
        stamp = now
    events = events.assign(learner=pseudonymous(events["learner"]))
    messages: list[str] = []

    learners = _learner_table(events, role=role, roles=roles, tax=tax, messages=messages)
    evidence = extract_evidence(events, tax.skill_ids, weights=config.weights)
    watch.lap("evidence")

    people = estimate_proficiency(evidence.frame, as_of=stamp, config=config)
    people = _with_targets(people, learners, tax)
    watch.lap("estimate")

    if scope == "manager":
        team_size = learners.groupby("team")["learner"].size()
        learners["visible"] = learners["team"].map(team_size).to_numpy() >= k
    else:
        learners["visible"] = True
    visible = set(learners.loc[learners["visible"], "learner"])
    people = people.loc[people["learner"].isin(visible)].reset_index(drop=True)
    teams = _team_table(people, learners, tax, k, scope=scope)
    watch.lap("aggregate")

    trends = _trends(evidence.frame, people, learners, stamp, period, config, k, scope=scope)
    watch.lap("trends")

    outcomes = _outcomes(events, learners, settings, k, scope=scope, period=period)
    watch.lap("outcomes")

    ev = evidence.frame
    shown = ev["learner"].isin(visible).to_numpy()
    if not shown.all():
        ev = ev.loc[shown].reset_index(drop=True)
    ev = ev.assign(weight_now=ev["weight"].to_numpy() * np.exp2(
        -np.maximum(stamp.value - ev["time"].to_numpy(dtype="datetime64[ns]").view("int64"), 0)
        / 86_400e9
        / config.half_life_days
    ))
    watch.lap("drilldown_index")

    _explain(messages, events, evidence, learners, tax, k, scope=scope)
    counts = {
        "events": len(events),
        "evidence": len(evidence.frame),
        "learners": len(learners),
        "visible_learners": len(visible),
        "teams": int(learners["team"].nunique()),
        "skills": len(tax.skills),
        "cells": len(people),
        "unknown_skill_evidence": int(evidence.unknown["events"].sum()) if not evidence.unknown.empty else 0,
        "invalid_scores": evidence.invalid,
    }
    return SkillsReport(
        taxonomy=tax,
        scope=scope,
        as_of=stamp,
        filters=filters,
        min_group_size=k,
        learners=learners,
        people=people,
        teams=teams,
        trends=trends,
        outcomes=outcomes,
        evidence=ev,
        unknown_skills=evidence.unknown,
        messages=messages,
        counts=counts,
        timings=dict(watch.wall),
        cpu_timings=dict(watch.cpu),
        title=title,
        period=period,
    )


def _learner_table(
    events: pd.DataFrame,
    *,
    role: str | None,
    roles: Mapping[str, str] | None,
    tax: Taxonomy,
    messages: list[str],
) -> pd.DataFrame:
    """One row per learner: latest team, role, event count, first and last event (integer group-bys)."""
    columns = ["learner", "team", "role", "events", "first_seen", "last_seen"]
    has = events["learner"].notna().to_numpy()
    if not has.any():
        return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
    learner = events["learner"].to_numpy()[has]
    codes, uniques = pd.factorize(learner, sort=True)
    t = events["time"].to_numpy(dtype="datetime64[ns]").view("int64")[has]
    n = len(uniques)
    by_code = pd.Series(t).groupby(codes)
    frame = pd.DataFrame(
        {
            "learner": np.asarray(uniques, dtype=object),
            "events": np.bincount(codes, minlength=n),
            "first_seen": pd.to_datetime(by_code.min().to_numpy(), utc=True),
            "last_seen": pd.to_datetime(by_code.max().to_numpy(), utc=True),
        }
    )
    order = np.argsort(t, kind="stable")
    teams = events["team"].to_numpy()[has][order]
    ordered_codes = codes[order]
    known = pd.notna(teams)
    latest = pd.Series(teams[known]).groupby(ordered_codes[known]).last()
    frame["team"] = latest.reindex(range(n)).fillna(NO_TEAM).to_numpy(dtype=object)
    if role is not None:
        frame["role"] = role
    else:
        # The latest 'role' attribute on the learner's task events (recorded by the runner and the generator).
        kinds = events["kind"].to_numpy()[has]
        task_rows = np.flatnonzero((kinds == "task_started") | (kinds == "task_completed") | (kinds == "task_failed"))
        task_rows = task_rows[np.argsort(t[task_rows], kind="stable")]
        attrs = events["attributes"].to_numpy()[has][task_rows]
        recorded = np.asarray([a.get("role") if isinstance(a, dict) else None for a in attrs], dtype=object)
        ok = pd.notna(recorded)
        latest_role = pd.Series(recorded[ok]).groupby(codes[task_rows][ok]).last()
        frame["role"] = latest_role.reindex(range(n)).to_numpy(dtype=object)
        if roles:
            from workbench.telemetry import pseudonymize

            given = {pseudonymize(str(key)): value for key, value in roles.items()}
            mapped = frame["learner"].map(given)
            frame["role"] = mapped.where(mapped.notna(), frame["role"])
        known_roles = set(tax.role_ids)
        bad = sorted({str(r) for r in frame["role"].dropna().unique()} - known_roles)
        if bad:
            messages.append(
                f"roles not in taxonomy '{tax.id}' have no targets: {', '.join(bad)} "
                f"(known roles: {', '.join(tax.role_ids)})."
            )
            frame.loc[frame["role"].isin(bad), "role"] = None
    frame["role"] = frame["role"].astype(object).where(frame["role"].notna(), None)
    return frame.loc[:, columns]


def _with_targets(people: pd.DataFrame, learners: pd.DataFrame, tax: Taxonomy) -> pd.DataFrame:
    targets = pd.DataFrame(
        [(r.id, skill, level) for r in tax.roles for skill, level in r.targets.items()],
        columns=["role", "skill", "target"],
    )
    merged = people.merge(learners[["learner", "team", "role"]], on="learner", how="left")
    merged = merged.merge(targets, on=["role", "skill"], how="left")
    out = add_gaps(merged.drop(columns="target"), merged["target"])
    order = ["learner", "team", "role", "skill", "level", "level_lo", "level_hi", "target", "gap", "gap_lo",
             "gap_hi", "status", "n_evidence", "effective_weight", "mastery", "alpha", "beta", "last_evidence"]
    skill_rank = {s: i for i, s in enumerate(tax.skill_ids)}
    out = out.loc[:, order]
    out["_rank"] = out["skill"].map(skill_rank)
    return out.sort_values(["team", "learner", "_rank"]).drop(columns="_rank").reset_index(drop=True)


def _team_table(
    people: pd.DataFrame, learners: pd.DataFrame, tax: Taxonomy, k: int, *, scope: str
) -> pd.DataFrame:
    """Team x skill aggregates (and the ``all`` row), with small groups suppressed."""
    columns = ["team", "skill", "team_size", "learners", "coverage", "level", "level_sd", "target", "gap",
               "met_share", "below_share", "suppressed", "reason"]
    if learners.empty or scope == "learner":
        return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
    team_size = learners.groupby("team")["learner"].size()
    has_target = people["target"].notna()
    rows = people.loc[:, ["team", "skill", "level", "target", "gap"]].assign(
        _m=(people["status"] == "met").astype(float).where(has_target),
        _b=(people["status"] == "below").astype(float).where(has_target),
    )
    named = {
        "learners": ("level", "size"),
        "level": ("level", "mean"),
        "level_sd": ("level", "std"),
        "target": ("target", "mean"),
        "gap": ("gap", "mean"),
        "met_share": ("_m", "mean"),
        "below_share": ("_b", "mean"),
    }
    frames = []
    if not rows.empty:
        per_team = rows.groupby(["team", "skill"], sort=False).agg(**named).reset_index()
        per_team["team_size"] = per_team["team"].map(team_size).to_numpy()
        overall = rows.groupby("skill", sort=False).agg(**named).reset_index()
        overall.insert(0, "team", ALL)
        overall["team_size"] = int(learners["visible"].sum())
        frames += [per_team, overall]
    # Suppressed teams have no visible people; list them so the report can say they exist.
    small = team_size[team_size < k]
    if len(small):
        frames.append(
            pd.DataFrame(
                [(t, s, int(n)) for t, n in small.items() for s in tax.skill_ids],
                columns=["team", "skill", "team_size"],
            )
        )
    table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)
    for col in ("learners", "level", "level_sd", "target", "gap", "met_share", "below_share"):
        if col not in table:
            table[col] = np.nan
    table["learners"] = table["learners"].astype(float)
    table["coverage"] = table["learners"] / table["team_size"].astype(float)
    team_small = table["team_size"].to_numpy(dtype=float) < k
    cell_small = table["learners"].fillna(0).to_numpy() < k
    table["suppressed"] = team_small | cell_small
    table["reason"] = np.where(team_small, "team", np.where(cell_small, "cell", ""))
    numeric = ["learners", "coverage", "level", "level_sd", "target", "gap", "met_share", "below_share"]
    table.loc[table["suppressed"], numeric] = np.nan
    table.loc[team_small, "team_size"] = np.nan
    skill_rank = {sk: i for i, sk in enumerate(tax.skill_ids)}
    table["_all"] = table["team"] == ALL
    table["_rank"] = table["skill"].map(skill_rank)
    table = table.sort_values(["_all", "team", "_rank"]).drop(columns=["_all", "_rank"])
    return table.loc[:, columns].reset_index(drop=True)


def _trends(
    evidence: pd.DataFrame,
    people: pd.DataFrame,
    learners: pd.DataFrame,
    as_of: pd.Timestamp,
    period: str,
    config: EstimatorConfig,
    k: int,
    *,
    scope: str,
) -> pd.DataFrame:
    columns = ["period", "period_end", "group", "skill", "level", "gap", "learners", "suppressed"]
    if people.empty:
        return pd.DataFrame(columns=columns)
    pairs = people[["learner", "skill", "team", "target"]]
    ev = evidence
    if scope == "learner":
        out = trend_frame(ev, pair_group=pairs.assign(group=pairs["learner"]), period=period, as_of=as_of,
                          config=config)
        out["suppressed"] = False
        return out.loc[:, columns]
    by_team = trend_frame(ev, pair_group=pairs.assign(group=pairs["team"]), period=period, as_of=as_of,
                          config=config)
    overall = trend_frame(ev, pair_group=pairs.assign(group=ALL), period=period, as_of=as_of, config=config)
    out = pd.concat([by_team, overall], ignore_index=True)
    small = out["learners"].to_numpy() < k
    out["suppressed"] = small
    out.loc[small, ["level", "gap", "learners"]] = np.nan
    return out.loc[:, columns]


def _outcomes(
    events: pd.DataFrame, learners: pd.DataFrame, settings: Any, k: int, *, scope: str, period: str
) -> dict[str, pd.DataFrame]:
    prices = {name: (p.input_per_1k, p.output_per_1k) for name, p in settings.prices.items()}
    team_of = dict(zip(learners["learner"], learners["team"], strict=True)) if not learners.empty else {}
    encoded = prepare_outcome_events(events, prices, team_of=team_of, period=period)
    limit = 1 if scope == "learner" else k
    out = {}
    for name, by in (("all", None), ("team", "team"), ("task", "task"), ("period", "period")):
        table = suppress_small(outcome_metrics(encoded, by), limit)
        table.index.name = {"all": "group", "team": "team", "task": "task", "period": "period"}[name]
        out[name] = table.reset_index()
    return out


def _explain(
    messages: list[str],
    events: pd.DataFrame,
    evidence: Evidence,
    learners: pd.DataFrame,
    tax: Taxonomy,
    k: int,
    *,
    scope: str,
) -> None:
    if events.empty:
        messages.insert(
            0,
            "no events found in the telemetry store for this view: the report is empty. Learners record "
            "evidence by working through playbooks; `workbench demo` records a synthetic cohort.",
        )
        return
    if evidence.empty:
        messages.append(
            "events were found, but none is skill evidence: score events need attributes.skill, and "
            "task_completed/task_failed events need attributes.skills (the playbook manifest's mapping)."
        )
    if not evidence.unknown.empty:
        listed = ", ".join(f"'{r.skill}' ({r.events} events)" for r in evidence.unknown.head(10).itertuples())
        messages.append(
            f"evidence names skills that taxonomy '{tax.id}' does not define, left out of the estimates: {listed}. "
            "Add them to the taxonomy or fix the rubric / playbook skill mapping."
        )
    if evidence.invalid:
        messages.append(f"{evidence.invalid} score events had no numeric score and were left out.")
    if scope == "manager" and not learners.empty:
        sizes = learners.groupby("team")["learner"].size()
        small = sizes[sizes < k]
        if len(small):
            names = ", ".join(f"'{t}'" for t in list(small.index)[:10])
            more = f" and {len(small) - 10} more" if len(small) > 10 else ""
            messages.append(
                f"{len(small)} team(s) have fewer than {k} learners and are {suppressed_label(k)}: "
                f"{names}{more}. Their members are left out of the people view as well."
            )
        no_role = int(learners.loc[learners["visible"], "role"].isna().sum())
        if no_role:
            messages.append(
                f"{no_role} learner(s) have no role, so no targets or gaps: pass --role, a roster, or record "
                "the 'role' attribute."
            )


def _records(rows: pd.DataFrame) -> list[dict[str, Any]]:
    keep = ["event_id", "time", "learner", "playbook", "task", "run_id", "source", "scorer", "criterion",
            "outcome", "weight", "weight_now"]
    out = []
    for rec in rows.loc[:, [c for c in keep if c in rows.columns]].to_dict(orient="records"):
        rec["time"] = rec["time"].isoformat() if pd.notna(rec.get("time")) else None
        for key in ("outcome", "weight", "weight_now"):
            if key in rec and rec[key] is not None:
                rec[key] = round(float(rec[key]), 4)
        for key, value in list(rec.items()):
            if isinstance(value, float) and not np.isfinite(value):
                rec[key] = None
        out.append(rec)
    return out


def learner_ids(values: Iterable[str]) -> list[str]:
    """Pseudonyms of ``values`` (raw ids or pseudonyms), for filters and rosters."""
    from workbench.telemetry import pseudonymize

    return [pseudonymize(v) for v in values]
