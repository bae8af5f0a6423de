"""The people x skills estimates with the heavy aggregation in the database: one SQL query per report.

:func:`estimate_in_sql` returns what :func:`~workbench.skills.proficiency.estimate_proficiency` returns for the
evidence :func:`~workbench.skills.evidence.extract_evidence` extracts from the same events, but the events never
leave the database: one query reads the evidence out of the JSON attributes (score events' ``skill``, ``score``,
``scorer``, ``confidence``, ``subject``; task outcomes' ``skills`` mapping; everyone's ``origin``, ``attempt``
and ``hints``), weighs it with the same :class:`~workbench.skills.evidence.EvidenceWeights`, decays it to
``as_of`` and sums it ``GROUP BY learner, skill``. Python receives one row per (learner, skill) (about 300,000 for
10,000 learners x 30 skills instead of 1,000,000 events) and only adds the Beta credible interval, which SQL
lacks. It runs on SQLite and PostgreSQL alike; the few expressions they spell differently come from the store's
:attr:`~workbench.telemetry.store.TelemetryStore.sql_dialect`.

Same rules as the Python path, checked by a test on both stores: only the learner's own work counts (``origin``
``learner`` or unrecorded), help taken discounts the weight, evidence naming a skill outside the taxonomy and
score events without a numeric score are left out, and rows whose weight is 0 are not evidence. One difference
in what is accepted: a score, confidence or weight written as a JSON *string* (``"0.5"``) is read by the Python
path and ignored here; Workbench's own writers (rubric scorers, the playbook runner, the synthetic cohorts)
always write numbers.

The estimates carry no names: learners are the pseudonyms stored in the events. Suppression of small groups is
applied afterwards by the report exactly as for the Python path (``workbench.skills.compute``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa

from workbench.errors import StoreError
from workbench.skills.evidence import EvidenceWeights, utc_timestamp
from workbench.skills.proficiency import EstimatorConfig, PairSums, empty_proficiency, proficiency_from_sums

#: Event kinds that are evidence (score events, and task outcomes with a ``skills`` mapping).
EVIDENCE_KINDS = ("score", "task_completed", "task_failed")


def estimate_in_sql(
    source: Any = None,
    skills: Sequence[str] = (),
    *,
    as_of: datetime | str | pd.Timestamp,
    config: EstimatorConfig | None = None,
    team: str | None = None,
    since: datetime | str | None = None,
    until: datetime | str | None = None,
) -> pd.DataFrame:
    """Proficiency per (learner, skill), aggregated by the database (see the module docstring).

    Args:
        source: A ``TelemetryStore``, a store URL, or ``None`` for the store in settings.
        skills: The taxonomy's skill ids; evidence for other ids is left out.
        as_of: The time the estimate is for; later evidence is ignored, older evidence decays.
        config: Model parameters.
        team: Only events of this team.
        since: Only events at or after this time.
        until: Only events before this time.

    Returns:
        One row per (learner, skill) with evidence, columns
        :data:`~workbench.skills.proficiency.PROFICIENCY_COLUMNS`, ordered by learner and skill.

    Raises:
        StoreError: The store cannot be read.
    """
    from workbench.telemetry import open_store

    config = config or EstimatorConfig()
    stamp = utc_timestamp(as_of)
    owned = source is None or isinstance(source, str)
    store = open_store(source) if owned else source
    try:
        statement, params = _query(store, list(skills), stamp, config, team=team, since=since, until=until)
        try:
            with store.sql() as conn:
                for setting in store.sql_dialect.aggregation_settings():
                    conn.exec_driver_sql(setting)
                rows = conn.execute(statement, params).all()
        except StoreError:
            raise
        except sa.exc.SQLAlchemyError as exc:
            raise StoreError(
                f"cannot aggregate the skills evidence in the telemetry store {store.url}: {exc}",
                hint="check that the store is reachable; SQLite needs version 3.38 or later (JSON and math "
                "functions)",
            ) from exc
    finally:
        if owned:
            store.close()
    return _frame(rows, config)


def _frame(rows: Sequence[Any], config: EstimatorConfig) -> pd.DataFrame:
    if not rows:
        return empty_proficiency()
    learner, skill, count, success, failure, weight, last = zip(*rows, strict=True)
    last_ns = pd.to_datetime(pd.Series(last), utc=True, format="ISO8601").to_numpy(dtype="datetime64[ns]")
    return proficiency_from_sums(
        learner=np.asarray(learner, dtype=object),
        skill=np.asarray(skill, dtype=object),
        sums=PairSums(
            success=np.asarray(success, dtype=float),
            failure=np.asarray(failure, dtype=float),
            count=np.asarray(count, dtype=np.int64),
            weight=np.asarray(weight, dtype=float),
            last_ns=last_ns.view("int64"),
        ),
        config=config,
    )


def _query(
    store: Any, skills: list[str], as_of: pd.Timestamp, config: EstimatorConfig, **filters: Any
) -> tuple[sa.TextClause, dict[str, Any]]:
    """The one statement and its parameters."""
    d = store.sql_dialect
    w = config.weights
    params: dict[str, Any] = {
        "as_of": store.time_value(as_of.to_pydatetime()),
        "as_of_epoch": as_of.value / 1e9,
        "half_life_s": config.half_life_days * 86_400.0,
        "skills": skills,
        "origins": list(w.counted_origins),
        "min_effort": w.min_effort,
        "hint_discount": w.hint_discount,
        "attempt_discount": w.attempt_discount,
        "score_trials": w.score_trials,
        "task_w": w.task,
        "completed": w.completed_value,
        "failed": w.failed_value,
        "two": 2.0,
        "one": 1.0,
        "zero": 0.0,
    }
    where = "e.learner IS NOT NULL AND e.time <= :as_of AND " + event_filter(store, params, filters, EVIDENCE_KINDS)
    sql = _SQL.format(
        help=_help_factor(d, w),
        where=where,
        score_weight=_score_weight(d, w, params),
        **_evidence_parts(d),
    )
    statement = sa.text(sql).bindparams(
        sa.bindparam("skills", expanding=True),
        sa.bindparam("kinds", expanding=True),
        sa.bindparam("origins", expanding=True),
    )
    return statement, params


def event_filter(store: Any, params: dict[str, Any], filters: dict[str, Any], kinds: Sequence[str]) -> str:
    """The WHERE clause of a report's view of the events (kinds, team, since, until), values bound in ``params``."""
    params["kinds"] = list(kinds)
    where = ["e.kind IN :kinds"]
    if filters.get("team") is not None:
        where.append("e.team = :team")
        params["team"] = filters["team"]
    for name, op in (("since", ">="), ("until", "<")):
        if filters.get(name) is not None:
            where.append(f"e.time {op} :{name}")
            params[name] = store.time_value(filters[name])
    return " AND ".join(where)


# The query. ``ev``: the evidence kinds' events in view, each with its help factor (0 when the origin does not
# count); PostgreSQL materialises it once for both branches (cheaper than two scans of the JSON). ``evidence``: one row per (event, skill) with outcome ``y`` and weight ``w``, as extract_evidence makes
# them. The final SELECT decays each weight to ``as_of`` and sums per (learner, skill).
_SQL = """
WITH ev AS (
  SELECT e.learner AS learner, e.time AS time, e.kind AS kind, e.attributes AS attributes, {help} AS help
  FROM events e
  WHERE {where}
),
evidence AS (
  SELECT learner, time, skill, {clip_score} AS y, {score_weight} AS w
  FROM (
    SELECT learner, time, help, attributes, {score_skill} AS skill, {score} AS score
    FROM ev WHERE kind = 'score'
  ) s
  WHERE skill IN :skills AND score IS NOT NULL
  UNION ALL
  SELECT ev.learner, ev.time, {entry_skill}, CASE WHEN ev.kind = 'task_completed' THEN :completed ELSE :failed END,
         :task_w * {entry_weight} * ev.help
  FROM ev {entry_join}
  WHERE ev.kind <> 'score' AND {entry_skill} IN :skills
)
SELECT learner, skill, COUNT(*) AS n, SUM(wd * y) AS success, SUM(wd * (:one - y)) AS failure, SUM(wd) AS weight,
       MAX(time) AS last
FROM (
  SELECT learner, skill, time, y, w * power(:two, -({age}) / :half_life_s) AS wd
  FROM evidence WHERE w > :zero
) decayed
GROUP BY learner, skill
ORDER BY learner, skill
"""


def _help_factor(d: Any, w: EvidenceWeights) -> str:
    """Whose work (counted origins) and how much help it took, as in ``evidence._provenance``."""
    origin = d.json_text("e.attributes", "origin")
    counted = f"{origin} IN :origins"
    if w.count_unrecorded:
        counted = f"({origin} IS NULL OR {counted})"
    hints = d.greatest(f"COALESCE({d.json_number('e.attributes', 'hints')}, :zero)", ":zero")
    attempt = d.greatest(f"COALESCE({d.json_number('e.attributes', 'attempt')}, :one)", ":one")
    effort = d.greatest(":min_effort", f"power(:hint_discount, {hints}) * power(:attempt_discount, {attempt} - :one)")
    return f"CASE WHEN {counted} THEN {effort} ELSE :zero END"


def _clip01(d: Any, value: str) -> str:
    return d.least(d.greatest(value, ":zero"), ":one")


def _lookup(value: str, table: dict[str, float], default: str, params: dict[str, Any], prefix: str) -> str:
    """``CASE value WHEN k THEN v ... ELSE default END`` with every key and weight bound as a parameter."""
    if not table:
        return default
    cases = []
    for i, (key, weight) in enumerate(table.items()):
        params[f"{prefix}_k{i}"], params[f"{prefix}_v{i}"] = key, float(weight)
        cases.append(f"WHEN :{prefix}_k{i} THEN :{prefix}_v{i}")
    return f"(CASE {value} {' '.join(cases)} ELSE {default} END)"


def _score_weight(d: Any, w: EvidenceWeights, params: dict[str, Any]) -> str:
    params["unknown_scorer"] = w.unknown_scorer
    scorer = _lookup(d.json_text("attributes", "scorer"), dict(w.scorer), ":unknown_scorer", params, "scorer")
    subject = _lookup(d.json_text("attributes", "subject"), dict(w.subject), ":one", params, "subject")
    confidence = _clip01(d, f"COALESCE({d.json_number('attributes', 'confidence')}, :one)")
    return f":score_trials * {scorer} * {confidence} * {subject} * help"


def _evidence_parts(d: Any) -> dict[str, str]:
    raw = d.json_number("attributes", "raw_score")
    top = d.json_number("attributes", "max_score")
    # Without a numeric score, raw_score / max_score (as evidence._score_of); max_score 0 gives no score.
    ratio = f"(CASE WHEN {raw} IS NOT NULL AND {top} <> :zero THEN {raw} / {top} END)"
    join, skill, weight = d.skill_entries("ev.attributes", "skills")
    return {
        "score_skill": d.json_text("attributes", "skill"),
        "score": f"COALESCE({d.json_number('attributes', 'score')}, {ratio})",
        "clip_score": _clip01(d, "score"),
        "entry_join": join,
        "entry_skill": skill,
        "entry_weight": _clip01(d, weight),
        "age": d.greatest(f":as_of_epoch - {d.epoch_seconds('time')}", ":zero"),
    }
