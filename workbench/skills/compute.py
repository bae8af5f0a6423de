"""Computing a skills report: events -> learners, evidence, estimates, team aggregates, trends and outcomes.

:func:`compute_report` runs the steps in order (each a small function passing small dataclasses) and returns
a :class:`~workbench.skills.report_data.ReportData`. The privacy rules (pseudonyms, suppression of small teams
and cells) are applied here, so every view of the result inherits them; see :mod:`workbench.skills.report`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import numpy as np
import pandas as pd

from workbench.errors import ValidationError
from workbench.skills._perf import Stopwatch
from workbench.skills.evidence import Evidence, extract_evidence, pseudonymous, utc_timestamp
from workbench.skills.outcomes import (
    OutcomeEvents,
    outcome_metrics,
    prepare_outcome_columns,
    prepare_outcome_events,
    suppress_small,
)
from workbench.skills.proficiency import EstimatorConfig, add_gaps, estimate_proficiency, trend_frame
from workbench.skills.report_data import ALL, NO_TEAM, ReportData, suppressed_label
from workbench.skills.taxonomy import Taxonomy


@dataclass(frozen=True)
class ReportSpec:
    """Which view of the events to compute.

    Attributes:
        scope: ``"manager"`` (small groups suppressed) or ``"learner"`` (one learner's own view).
        filters: The filters applied (recorded in the report).
        title: The report title.
        role: Compare everyone in view with this role's targets.
        roles: Learner id (raw or pseudonym) -> role id, for per-learner targets.
        as_of: The time of the estimate; default now (or the newest event, if later).
        period: Trend granularity, ``"month"`` or ``"week"``.
        min_group_size: Suppression threshold; default ``settings.min_group_size``.
        config: Proficiency model parameters (default :class:`EstimatorConfig`).
    """

    scope: str
    filters: dict[str, Any]
    title: str
    role: str | None = None
    roles: Mapping[str, str] | None = None
    as_of: datetime | str | None = None
    period: str = "month"
    min_group_size: int | None = None
    config: EstimatorConfig | None = None


@dataclass
class _Estimates:
    """Who is in view and their per-skill estimates (with targets and gaps)."""

    learners: pd.DataFrame
    evidence: Evidence
    people: pd.DataFrame
    messages: list[str] = field(default_factory=list)


def compute_report(events: pd.DataFrame, tax: Taxonomy, spec: ReportSpec) -> ReportData:
    """The report over ``events`` (a normalised events frame, see :func:`~workbench.skills.load_events`)."""
    from workbench.settings import get_settings

    settings = get_settings()
    config, k = _model(spec, settings)
    watch = Stopwatch()
    stamp = _as_of(events["time"].max() if len(events) else None, spec.as_of)
    events = events.assign(learner=pseudonymous(events["learner"]))
    est = _estimate(events, tax, spec, config, stamp, watch)
    prices = _prices(settings)
    return _finish(est, tax, spec, _Totals(len(events), stamp, k, config), watch,
                   lambda team_of: prepare_outcome_events(events, prices, team_of=team_of, period=spec.period))


def compute_report_in_sql(store: Any, tax: Taxonomy, spec: ReportSpec, filters: dict[str, Any]) -> ReportData:
    """The manager report over the events of ``store`` in view of ``filters`` (team, since, until), with the
    heavy aggregation in the database (:mod:`workbench.skills.sql_report`); the same result as
    :func:`compute_report` over the same events."""
    from workbench.settings import get_settings
    from workbench.skills.sql_estimates import estimate_in_sql
    from workbench.skills.sql_report import (
        concurrent_reads,
        read_evidence,
        read_learners,
        read_outcome_columns,
        read_overview,
    )

    settings = get_settings()
    config, k = _model(spec, settings)
    watch = Stopwatch()
    overview = read_overview(store, filters)
    stamp = _as_of(overview.newest, spec.as_of)
    messages: list[str] = []
    with concurrent_reads(store) as submit:
        # The database computes the estimates, learners and outcome rows while this process reads the evidence.
        estimated = submit(estimate_in_sql, store, tax.skill_ids, as_of=stamp, config=config, **filters)
        narrow_rows = submit(read_outcome_columns, store, filters)
        learner_rows = submit(read_learners, store, filters)
        evidence = read_evidence(store, tax.skill_ids, config.weights, filters)
        watch.lap("evidence")
        raw = learner_rows.result()
        frame = raw.assign(learner=pseudonymous(raw["learner"]),
                           team=raw["team"].where(raw["team"].notna(), NO_TEAM),
                           role=raw["recorded_role"]).sort_values("learner").reset_index(drop=True)
        learners = _with_roles(frame, role=spec.role, roles=spec.roles, tax=tax, messages=messages)
        watch.lap("learners")
        people = estimated.result()
        people = _with_targets(people.assign(learner=pseudonymous(people["learner"])), learners, tax)
        watch.lap("estimate")
        est = _Estimates(learners, evidence, people, messages)
        prices = _prices(settings)

        def encode(team_of: Mapping[str, str]) -> OutcomeEvents:
            narrow = narrow_rows.result()
            narrow["learner"] = pseudonymous(narrow["learner"])
            return prepare_outcome_columns(narrow, prices, team_of=team_of, period=spec.period)

        return _finish(est, tax, spec, _Totals(overview.events, stamp, k, config), watch, encode)


@dataclass(frozen=True)
class _Totals:
    """The view's event count, estimate time, suppression threshold and model."""

    events: int
    stamp: pd.Timestamp
    k: int
    config: EstimatorConfig


def _model(spec: ReportSpec, settings: Any) -> tuple[EstimatorConfig, int]:
    k = int(spec.min_group_size if spec.min_group_size is not None else settings.min_group_size)
    if k < 1:
        raise ValidationError("min_group_size must be at least 1", field="min_group_size", hint="e.g. 5")
    return spec.config or EstimatorConfig(), k


def _prices(settings: Any) -> dict[str, tuple[float, float]]:
    return {name: (p.input_per_1k, p.output_per_1k) for name, p in settings.prices.items()}


def _finish(
    est: _Estimates, tax: Taxonomy, spec: ReportSpec, totals: _Totals, watch: Stopwatch,
    encode_outcomes: Callable[[Mapping[str, str]], OutcomeEvents],
) -> ReportData:
    """Suppression, team table, trends, outcomes, drill-down index and messages over the estimates."""
    k, stamp, config = totals.k, totals.stamp, totals.config
    visible = _restrict_to_visible(est, k, spec.scope)
    teams = _team_table(est.people, est.learners, tax, k, scope=spec.scope)
    watch.lap("aggregate")
    trends = _trends(est.evidence.frame, est.people, est.learners, stamp, spec.period, config, k, scope=spec.scope)
    watch.lap("trends")
    team_of = dict(zip(est.learners["learner"], est.learners["team"], strict=True)) if not est.learners.empty else {}
    outcomes = _outcomes(encode_outcomes(team_of), k, scope=spec.scope)
    watch.lap("outcomes")
    evidence = _drilldown_evidence(_with_uncounted(est.evidence), visible, stamp, config)
    watch.lap("drilldown_index")
    _explain(est.messages, totals.events, est.evidence, est.learners, tax, k, scope=spec.scope)
    return ReportData(
        taxonomy=tax,
        scope=spec.scope,
        as_of=stamp,
        filters=spec.filters,
        min_group_size=k,
        learners=est.learners,
        people=est.people,
        teams=teams,
        trends=trends,
        outcomes=outcomes,
        evidence=evidence,
        unknown_skills=est.evidence.unknown,
        messages=est.messages,
        counts=_counts(totals.events, est, visible, tax),
        timings=dict(watch.wall),
        cpu_timings=dict(watch.cpu),
        title=spec.title,
        period=spec.period,
    )


def _as_of(newest: pd.Timestamp | None, as_of: datetime | str | None) -> pd.Timestamp:
    """The estimate's time: ``as_of``, else now (or the newest event, if later)."""
    if as_of is not None:
        return utc_timestamp(as_of)
    now = pd.Timestamp(datetime.now(timezone.utc))
    return max(now, newest) if newest is not None and pd.notna(newest) else now


def _estimate(
    events: pd.DataFrame, tax: Taxonomy, spec: ReportSpec, config: EstimatorConfig, stamp: pd.Timestamp,
    watch: Stopwatch,
) -> _Estimates:
    """Learners (team, role), their evidence and their per-skill estimates against role targets."""
    messages: list[str] = []
    learners = _learner_table(events, role=spec.role, roles=spec.roles, tax=tax, messages=messages)
    evidence = extract_evidence(events, tax.skill_ids, weights=config.weights)
    watch.lap("evidence")
    people = estimate_proficiency(evidence.frame, as_of=stamp, config=config)
    people = _with_targets(people, learners, tax)
    watch.lap("estimate")
    return _Estimates(learners, evidence, people, messages)


def _restrict_to_visible(est: _Estimates, k: int, scope: str) -> set[str]:
    """Mark who may be shown (manager views hide teams under ``k`` learners) and drop the others' estimates."""
    learners = est.learners
    if scope == "manager":
        team_size = learners.groupby("team")["learner"].size()
        learners["visible"] = learners["team"].map(team_size).to_numpy() >= k
    else:
        learners["visible"] = True
    visible = set(learners.loc[learners["visible"], "learner"])
    est.people = est.people.loc[est.people["learner"].isin(visible)].reset_index(drop=True)
    return visible


def _with_uncounted(evidence: Evidence) -> pd.DataFrame:
    """Counted evidence plus the rows whose origin does not count (weight 0): the drill-down shows both."""
    if evidence.uncounted.empty:
        return evidence.frame
    if evidence.frame.empty:
        return evidence.uncounted
    return pd.concat([evidence.frame, evidence.uncounted], ignore_index=True)


def _drilldown_evidence(
    evidence: pd.DataFrame, visible: set[str], stamp: pd.Timestamp, config: EstimatorConfig
) -> pd.DataFrame:
    """Evidence of visible learners, with ``weight_now``: the weight after recency decay at ``stamp``."""
    ev = evidence
    shown = ev["learner"].isin(visible).to_numpy()
    if not shown.all():
        ev = ev.loc[shown].reset_index(drop=True)
    return ev.assign(weight_now=ev["weight"].to_numpy() * np.exp2(
        -np.maximum(stamp.value - ev["time"].to_numpy(dtype="datetime64[ns]").view("int64"), 0)
        / 86_400e9
        / config.half_life_days
    ))


def _counts(n_events: int, est: _Estimates, visible: set[str], tax: Taxonomy) -> dict[str, int]:
    evidence, learners = est.evidence, est.learners
    return {
        "events": n_events,
        "evidence": len(evidence.frame),
        "learners": len(learners),
        "visible_learners": len(visible),
        "teams": int(learners["team"].nunique()),
        "skills": len(tax.skills),
        "cells": len(est.people),
        "unknown_skill_evidence": int(evidence.unknown["events"].sum()) if not evidence.unknown.empty else 0,
        "invalid_scores": evidence.invalid,
        "uncounted_evidence": len(evidence.uncounted),
        "solution_evidence": int((evidence.uncounted["origin"] == "solution").sum()),
    }


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
    if role is None:
        # The latest 'role' attribute on the learner's task events (recorded by the runner and the generator).
        kinds = events["kind"].to_numpy()[has]
        task_rows = np.flatnonzero((kinds == "task_started") | (kinds == "task_completed") | (kinds == "task_failed"))
        task_rows = task_rows[np.argsort(t[task_rows], kind="stable")]
        attrs = events["attributes"].to_numpy()[has][task_rows]
        recorded = np.asarray([a.get("role") if isinstance(a, dict) else None for a in attrs], dtype=object)
        ok = pd.notna(recorded)
        latest_role = pd.Series(recorded[ok]).groupby(codes[task_rows][ok]).last()
        frame["role"] = latest_role.reindex(range(n)).to_numpy(dtype=object)
    return _with_roles(frame, role=role, roles=roles, tax=tax, messages=messages)


def _with_roles(
    frame: pd.DataFrame, *, role: str | None, roles: Mapping[str, str] | None, tax: Taxonomy, messages: list[str]
) -> pd.DataFrame:
    """The learner table with its ``role`` column resolved: ``role`` for everyone, else the roster ``roles``,
    else the recorded role already in the column; roles the taxonomy lacks are dropped with a message."""
    columns = ["learner", "team", "role", "events", "first_seen", "last_seen"]
    if role is not None:
        frame["role"] = role
    else:
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


def _outcomes(encoded: OutcomeEvents, k: int, *, scope: str) -> dict[str, pd.DataFrame]:
    limit = 1 if scope == "learner" else k
    out = {}
    for name, by in (("all", None), ("team", "team"), ("task", "task"), ("period", "period")):
        table = suppress_small(outcome_metrics(encoded, by), limit)
        table.index.name = {"all": "group", "team": "team", "task": "task", "period": "period"}[name]
        out[name] = table.reset_index()
    return out


def _explain(
    messages: list[str],
    n_events: int,
    evidence: Evidence,
    learners: pd.DataFrame,
    tax: Taxonomy,
    k: int,
    *,
    scope: str,
) -> None:
    if n_events == 0:
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
    copied = evidence.uncounted.loc[evidence.uncounted["origin"] == "solution"]
    if not copied.empty and (scope == "learner" or not learners.empty):
        who = copied["learner"].nunique()
        messages.append(
            f"{who} learner(s) submitted answers identical to the shipped solutions ({copied['event_id'].nunique()} "
            "events): that work counts for nothing and the drill-down shows it with origin 'solution'."
        )
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
