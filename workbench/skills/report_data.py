"""A computed skills report as data: the frames, what they mean, and the queries every view shares.

:class:`ReportData` is what :func:`~workbench.skills.report.build_report` computes and what every view reads:
the HTML payload (:mod:`workbench.skills.payload`), the files (:mod:`workbench.skills.render`), the server and
the widgets. It knows nothing about rendering, so the renderers can import it and the report object
(:class:`~workbench.skills.report.SkillsReport`, which writes itself) can import them: one direction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from workbench.skills.taxonomy import Taxonomy

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
class ReportData:
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
        paths: Files written by :meth:`~workbench.skills.report.SkillsReport.write` (format or name -> path).
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
            (score 0..1), origin (whose work: ``learner``, ``solution``...), counted (whether it counts towards
            the estimate), weight and weight_now. Empty for a suppressed team or an unknown cell.
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
            # Each skill's public ids (ESCO, O*NET, Lightcast): what an HR system joins the CSV skill columns on.
            "skills": [{"id": s.id, "name": s.name, "group": s.group, "external_ids": s.external_ids.as_dict()}
                       for s in self.taxonomy.skills],
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


def _records(rows: pd.DataFrame) -> list[dict[str, Any]]:
    keep = ["event_id", "time", "learner", "playbook", "task", "run_id", "source", "scorer", "criterion",
            "outcome", "origin", "counted", "weight", "weight_now"]
    out = []
    for rec in rows.loc[:, [c for c in keep if c in rows.columns]].to_dict(orient="records"):
        rec["time"] = rec["time"].isoformat() if pd.notna(rec.get("time")) else None
        for key in ("outcome", "weight", "weight_now"):
            if key in rec and rec[key] is not None:
                rec[key] = round(float(rec[key]), 4)
        for key, value in list(rec.items()):
            if isinstance(value, float) and not np.isfinite(value):
                rec[key] = None
        if "counted" in rec:
            rec["counted"] = bool(rec["counted"])
        if "origin" in rec and not isinstance(rec["origin"], str):
            rec["origin"] = None
        out.append(rec)
    return out
