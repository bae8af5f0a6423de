"""The manager report's reads with the heavy work in the database: aggregates and narrow rows, never the events.

:func:`~workbench.skills.report.build_report` on a telemetry store reads the store through these functions
instead of loading every event into pandas (the Python path, :func:`~workbench.skills.evidence.load_events`,
stays for event frames, for learner views and as the reference the tests compare against):

- :func:`read_overview`: the number of report events and the newest time (``COUNT``/``MAX``);
- :func:`read_learners`: one row per learner from ``GROUP BY learner, team`` and ``GROUP BY learner, role``
  aggregates (events, first and last time, the latest team and recorded ``role``);
- :func:`read_evidence`: the evidence rows (the drill-down index: one row per event and skill), with scores,
  weights, help discounts and origins computed from the JSON attributes in SQL; no attribute is parsed in Python;
- :func:`read_outcome_columns`: the outcome events' few numbers (duration, tokens, cost, model, guardrail
  action) extracted from the JSON in SQL.

On PostgreSQL the bulk rows (evidence and outcome rows) are read as Arrow columns through ADBC
(``adbc-driver-postgresql``) rather than a Python object per value, and :func:`concurrent_reads` lets the server
compute the estimates, the learners and the outcome rows on other connections while this process reads the
evidence (``bench/skills.py``: the whole report on 1,000,000 events went from 38 s to under 20 s).

The people x skills estimates come from :func:`~workbench.skills.sql_estimates.estimate_in_sql` (one ``GROUP BY
learner, skill`` query). What stays in Python: the Beta intervals, team aggregates and trends over the
(learner, skill) rows and evidence rows, the outcome metrics (medians and attempts-until-first-completion) over
the narrow outcome rows. The SQL is written once; SQLite and PostgreSQL differ only in the fragments of the
store's :attr:`~workbench.telemetry.store.TelemetryStore.sql_dialect`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa

from workbench.errors import StoreError
from workbench.skills.evidence import (
    REPORT_KINDS,
    Evidence,
    EvidenceWeights,
    _empty_evidence,
    _evidence_frame,
    _Provenance,
    _summarise_unknown,
    pseudonymous,
)
from workbench.skills.sql_estimates import (
    EVIDENCE_KINDS,
    _clip01,
    _evidence_parts,
    _help_factor,
    _score_weight,
    event_filter,
)

#: Event kinds the outcome metrics read (``workbench.skills.outcomes``).
OUTCOME_KINDS = ("task_started", "task_completed", "task_failed", "generation", "review", "guardrail")


@contextmanager
def concurrent_reads(store: Any) -> Iterator[Callable[..., Future[Any]]]:
    """``submit(fn, *args, **kwargs) -> Future``: on PostgreSQL each read runs on its own pooled connection in a
    worker thread, so the server computes one aggregate while this process parses another's rows (the driver
    releases the GIL while it waits); elsewhere (SQLite computes in this process) each runs at once, in order.
    Leaving the block waits for every read."""
    if store.sql_dialect.name != "postgresql":
        def now(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Future[Any]:
            done: Future[Any] = Future()
            try:
                done.set_result(fn(*args, **kwargs))
            except Exception as exc:  # re-raised by .result(), as a worker's would be
                done.set_exception(exc)
            return done

        yield now
        return
    with ThreadPoolExecutor(max_workers=3, thread_name_prefix="skills-report-sql") as pool:
        yield pool.submit


@dataclass(frozen=True)
class Overview:
    """The report events in view: how many, and the newest time (``None`` when there are none)."""

    events: int
    newest: pd.Timestamp | None


def _statement(sql: str, expanding: Sequence[str]) -> sa.TextClause:
    """``sql`` with its ``expanding`` parameters bound as lists (``IN :kinds``)."""
    return sa.text(sql).bindparams(*(sa.bindparam(name, expanding=True) for name in expanding))


def _rows(store: Any, sql: str, params: dict[str, Any], *expanding: str) -> list[Any]:
    statement = _statement(sql, expanding)
    try:
        with store.sql() as conn:
            for setting in store.sql_dialect.aggregation_settings():
                conn.exec_driver_sql(setting)
            return list(conn.execute(statement, params).all())
    except StoreError:
        raise
    except sa.exc.SQLAlchemyError as exc:
        raise StoreError(
            f"cannot read the skills report from the telemetry store {store.url}: {exc}",
            hint="check that the store is reachable; SQLite needs version 3.38 or later (JSON and math functions)",
        ) from exc


def _frame(store: Any, sql: str, params: dict[str, Any], columns: Sequence[str], *expanding: str) -> pd.DataFrame:
    """The rows of ``sql`` as a frame with ``columns`` (numbers as numbers; text as ``str`` values, NULL missing).

    On PostgreSQL the rows are read as Arrow columns through ADBC (``adbc-driver-postgresql``, Apache Arrow's
    database connectivity: libpq's binary protocol decoded in C++ straight into columns) on a connection of its
    own: for the report's hundreds of thousands of evidence rows several times cheaper than psycopg's Python
    object per value (1,000,000 events: the evidence rows take about 2 s of CPU here instead of 13 s). SQLite reads
    through SQLAlchemy as every other query.
    """
    if store.sql_dialect.name != "postgresql":
        return pd.DataFrame.from_records(_rows(store, sql, params, *expanding), columns=list(columns))
    import adbc_driver_postgresql.dbapi as adbc
    from sqlalchemy.dialects import postgresql

    statement = _statement(sql, expanding)
    compiled = statement.bindparams(**params).compile(
        dialect=postgresql.dialect(), compile_kwargs={"render_postcompile": True})
    query, values = _numbered(compiled.string, compiled.params)
    try:
        with adbc.connect(store.libpq_uri()) as conn, conn.cursor() as cursor:
            for setting in store.sql_dialect.aggregation_settings():
                cursor.execute(setting)
            cursor.execute(query, parameters=values or None)
            table = cursor.fetch_arrow_table()
    except adbc.Error as exc:
        raise StoreError(
            f"cannot read the skills report from the telemetry store {store.url}: {exc}",
            hint="check that the store is reachable",
        ) from exc
    if table.num_columns != len(columns):
        raise StoreError(f"the skills report's query returned {table.num_columns} columns, "
                         f"expected {len(columns)}", hint="this is a bug in Workbench: please report it")
    # Text comes as pandas' Arrow-backed ``str`` columns (NULL as missing) without a Python object per value.
    return table.rename_columns(list(columns)).to_pandas()


def _numbered(sql: str, params: dict[str, Any]) -> tuple[str, tuple[Any, ...]]:
    """A query compiled for psycopg (``%(name)s`` placeholders, ``%%`` for ``%``) in libpq's numbered style
    (``$1``), with its parameters in that order."""
    order: dict[str, int] = {}

    def number(match: re.Match[str]) -> str:
        return f"${order.setdefault(match.group(1), len(order) + 1)}"

    query = re.sub(r"%\((\w+)\)s", number, sql).replace("%%", "%")
    return query, tuple(params[name] for name in order)


def _time_column(d: Any, column: str) -> str:
    """How a bulk read selects a time column: PostgreSQL sends epoch seconds (a double is far cheaper to send and
    convert than a datetime object per row); SQLite sends its stored text, which pandas parses vectorised."""
    return d.epoch_seconds(column) if d.name == "postgresql" else column


def _times(values: Sequence[Any]) -> pd.Series:
    """Times as read (SQLite: naive UTC text; PostgreSQL: epoch seconds or aware datetimes) as UTC timestamps."""
    if len(values) == 0:
        return pd.Series(dtype="datetime64[ns, UTC]")
    if isinstance(values[0], float):
        # Microseconds survive a double (|error| < 0.3 us at today's epoch): round back to whole microseconds.
        micros = np.round(np.asarray(values, dtype=float) * 1e6).astype(np.int64)
        return pd.Series(pd.to_datetime(micros, unit="us", utc=True)).astype("datetime64[ns, UTC]")
    return pd.Series(pd.to_datetime(list(values), utc=True, format="ISO8601")).astype("datetime64[ns, UTC]")


def read_overview(store: Any, filters: dict[str, Any]) -> Overview:
    """How many report events are in view, and the newest one's time."""
    params: dict[str, Any] = {}
    sql = f"SELECT COUNT(*), MAX(e.time) FROM events e WHERE {event_filter(store, params, filters, REPORT_KINDS)}"
    count, newest = _rows(store, sql, params, "kinds")[0]
    return Overview(int(count), None if newest is None else _times([newest]).iloc[0])


# Per (learner, team): events, first and last time, and the newest seq at the last time; per (learner, role) the
# same for the recorded role. A few rows per learner: Python picks each learner's latest team and role. (Plain
# GROUP BYs: on SQLite a ROW_NUMBER() window over every event sorts a million rows and costs far more.)
_LEARNER_TEAMS_SQL = """
SELECT e.learner, e.team, COUNT(*), MIN(e.time), MAX(e.time), MAX(e.seq)
FROM events e WHERE e.learner IS NOT NULL AND {where}
GROUP BY e.learner, e.team
"""
_LEARNER_ROLES_SQL = """
SELECT learner, role, MAX(time), MAX(seq) FROM (
  SELECT e.learner AS learner, {role} AS role, e.time AS time, e.seq AS seq
  FROM events e WHERE e.learner IS NOT NULL AND {where} AND e.kind IN :task_kinds
) r WHERE role IS NOT NULL
GROUP BY learner, role
"""


def read_learners(store: Any, filters: dict[str, Any]) -> pd.DataFrame:
    """One row per learner in view (sorted): ``learner``, ``events``, ``first_seen``, ``last_seen``, the latest
    ``team`` (``None`` when no event has one) and ``recorded_role`` (the latest ``role`` attribute on a task
    event). "Latest" is by time, then by insertion order."""
    params: dict[str, Any] = {"task_kinds": ["task_started", "task_completed", "task_failed"]}
    where = event_filter(store, params, filters, REPORT_KINDS)
    columns = ["learner", "team", "n", "first", "last", "seq"]
    teams = pd.DataFrame.from_records(_rows(store, _LEARNER_TEAMS_SQL.format(where=where), params, "kinds"),
                                      columns=columns)
    role = store.sql_dialect.json_text("e.attributes", "role")
    roles = pd.DataFrame.from_records(
        _rows(store, _LEARNER_ROLES_SQL.format(where=where, role=role), params, "kinds", "task_kinds"),
        columns=["learner", "role", "last", "seq"])
    for frame in (teams, roles):
        for column in ("first", "last"):
            if column in frame:
                frame[column] = _times(frame[column].tolist()).array
    per = teams.groupby("learner", sort=True).agg(events=("n", "sum"), first_seen=("first", "min"),
                                                  last_seen=("last", "max"))
    out = per.reset_index().assign(events=lambda f: f["events"].astype(np.int64))
    out["team"] = out["learner"].map(_latest(teams.loc[teams["team"].notna()], "team"))
    out["recorded_role"] = out["learner"].map(_latest(roles, "role"))
    for column in ("team", "recorded_role"):
        out[column] = out[column].astype(object).where(out[column].notna(), None)
    return out.loc[:, ["learner", "events", "first_seen", "last_seen", "team", "recorded_role"]]


def _latest(rows: pd.DataFrame, column: str) -> pd.Series:
    """Learner -> the ``column`` value of their newest row (by last time, then seq)."""
    if rows.empty:
        return pd.Series(dtype=object)
    newest = rows.sort_values(["learner", "last", "seq"], kind="stable").drop_duplicates("learner", keep="last")
    return pd.Series(newest[column].to_numpy(dtype=object), index=newest["learner"].to_numpy(dtype=object))


_EVIDENCE_SQL = """
WITH ev AS (
  SELECT e.seq AS seq, e.id AS id, e.time AS time, e.learner AS learner, e.team AS team, e.playbook AS playbook,
         e.task AS task, e.run_id AS run_id, e.kind AS kind, e.attributes AS attributes, {origin} AS origin,
         {counted} AS counted, {help} AS help
  FROM events e WHERE {where}
)
SELECT 0 AS part, seq, id, {time_out} AS time, learner, team, playbook, task, run_id, skill, 'score' AS source, scorer, criterion,
       CASE WHEN score IS NOT NULL THEN {clip_score} END AS outcome, {score_weight} AS weight, origin, counted
FROM (
  SELECT seq, id, time, learner, team, playbook, task, run_id, attributes, origin, counted, help,
         {score_skill} AS skill, {score} AS score, COALESCE({scorer}, 'unknown') AS scorer, {criterion} AS criterion
  FROM ev WHERE kind = 'score'
) s
WHERE skill IS NOT NULL AND skill <> ''
UNION ALL
SELECT 1, ev.seq, ev.id, {ev_time_out}, ev.learner, ev.team, ev.playbook, ev.task, ev.run_id, {entry_skill}, ev.kind,
       'task', NULL, CASE WHEN ev.kind = 'task_completed' THEN :completed ELSE :failed END,
       :task_w * {entry_weight} * ev.help, ev.origin, ev.counted
FROM ev {entry_join}
WHERE ev.kind <> 'score'
"""

_EVIDENCE_COLUMNS = ["part", "seq", "event_id", "time", "learner", "team", "playbook", "task", "run_id", "skill",
                     "source", "scorer", "criterion", "outcome", "weight", "origin", "counted"]


def _evidence_params(w: EvidenceWeights) -> dict[str, Any]:
    return {
        "origins": list(w.counted_origins), "min_effort": w.min_effort, "hint_discount": w.hint_discount,
        "attempt_discount": w.attempt_discount, "score_trials": w.score_trials, "task_w": w.task,
        "completed": w.completed_value, "failed": w.failed_value, "one": 1.0, "zero": 0.0,
    }


def read_evidence(store: Any, skills: Sequence[str], weights: EvidenceWeights, filters: dict[str, Any]) -> Evidence:
    """The evidence of the events in view, as :func:`~workbench.skills.evidence.extract_evidence` makes it from
    the same events (same rows, same order, same columns), computed from the JSON attributes in SQL."""
    d = store.sql_dialect
    params = _evidence_params(weights)
    origin = d.json_text("e.attributes", "origin")
    counted = f"{origin} IN :origins" + (f" OR {origin} IS NULL" if weights.count_unrecorded else "")
    parts = _evidence_parts(d)
    sql = _EVIDENCE_SQL.format(
        where=event_filter(store, params, filters, EVIDENCE_KINDS), origin=origin,
        counted=f"CASE WHEN {counted} THEN 1 ELSE 0 END", help=_help_factor(d, weights),
        score_weight=_score_weight(d, weights, params), scorer=d.json_text("attributes", "scorer"),
        criterion=d.json_text("attributes", "criterion"), clip_score=_clip01(d, "score"),
        score_skill=parts["score_skill"], score=parts["score"], entry_skill=parts["entry_skill"],
        entry_weight=parts["entry_weight"], entry_join=parts["entry_join"], time_out=_time_column(d, "time"),
        ev_time_out=_time_column(d, "ev.time"),
    )
    rows = _frame(store, sql, params, _EVIDENCE_COLUMNS, "kinds", "origins")
    # Scores first, then task outcomes, each in event order (a stable sort keeps a mapping's entries in order).
    # The database usually sends them so: then no row is moved.
    part = rows["part"].to_numpy()
    order = np.lexsort((rows["seq"].to_numpy(), part))
    if not np.array_equal(order, np.arange(len(order))):
        rows = rows.take(order).reset_index(drop=True)
        part = part[order]
    n_scores = int((part == 0).sum())
    score_rows, task_rows = rows.iloc[:n_scores], rows.iloc[n_scores:]
    valid = score_rows["outcome"].notna().to_numpy()
    invalid = int((~valid).sum())
    scores = _evidence_part(score_rows.loc[valid] if invalid else score_rows)
    tasks = _evidence_part(task_rows)
    frame = pd.concat([f for f in (scores, tasks) if not f.empty] or [_empty_evidence()], ignore_index=True)
    return _split_evidence(frame, set(skills), invalid)


def _evidence_part(rows: pd.DataFrame) -> pd.DataFrame:
    """Evidence rows of one kind built as ``extract_evidence`` builds them (same columns, same dtypes)."""
    if rows.empty:
        return _empty_evidence()
    is_score = bool(rows["part"].iloc[0] == 0)
    rows = rows.reset_index(drop=True)
    events = pd.DataFrame({"id": rows["event_id"], "time": _times(rows["time"].tolist())})
    for column in ("learner", "team", "playbook", "task", "run_id"):
        events[column] = rows[column]
    if isinstance(rows["skill"].dtype, pd.StringDtype):  # PostgreSQL: text or NULL (JSON null in a list)
        skill: Any = rows["skill"].fillna("None").array
    else:  # SQLite: a list entry may be a JSON number
        skill = np.asarray([v if isinstance(v, str) else str(v) for v in rows["skill"]], dtype=object)
    counted = rows["counted"].to_numpy().astype(bool)
    made = _Provenance(rows["origin"].to_numpy(dtype=object), counted, np.zeros(len(rows)))
    return _evidence_frame(
        events, skill=skill,
        source="score" if is_score else _text(rows["source"]),
        scorer=_text(rows["scorer"]) if is_score else "task",
        criterion=rows["criterion"].to_numpy(dtype=object) if is_score else None,
        outcome=rows["outcome"].to_numpy(dtype=float), weight=rows["weight"].to_numpy(dtype=float), provenance=made,
    )


def _text(values: pd.Series) -> Any:
    """A text column as the evidence frame takes it: Arrow-backed text as it is, anything else as objects."""
    return values.array if isinstance(values.dtype, pd.StringDtype) else values.to_numpy(dtype=object)


def _split_evidence(frame: pd.DataFrame, known: set[str], invalid: int) -> Evidence:
    """Counted, uncounted and unknown-skill rows (the same rules as ``extract_evidence``)."""
    has_learner = frame["learner"].notna().to_numpy()
    is_known = frame["skill"].isin(known).to_numpy()
    counted = frame["counted"].to_numpy(dtype=bool)
    unknown = _summarise_unknown(frame.loc[has_learner & ~is_known])
    uncounted = frame.loc[has_learner & is_known & ~counted].reset_index(drop=True)
    uncounted["learner"] = pseudonymous(uncounted["learner"])
    keep = has_learner & is_known & counted & (frame["weight"].to_numpy() > 0)
    frame = frame.loc[keep].reset_index(drop=True)
    frame["learner"] = pseudonymous(frame["learner"])
    return Evidence(frame=frame, unknown=unknown, invalid=invalid, uncounted=uncounted)


_OUTCOMES_SQL = """
SELECT e.kind, e.learner, e.team, e.playbook, e.task, {time}, e.duration_s,
       CASE WHEN e.kind = 'generation' THEN {tin} END, CASE WHEN e.kind = 'generation' THEN {tout} END,
       CASE WHEN e.kind = 'generation' THEN {cost} END, CASE WHEN e.kind = 'generation' THEN {model} END,
       CASE WHEN e.kind = 'guardrail' THEN {action} END
FROM events e WHERE {where}
ORDER BY e.seq
"""

#: Columns of :func:`read_outcome_columns` (what ``outcomes.prepare_outcome_columns`` reads).
OUTCOME_COLUMNS = ["kind", "learner", "team", "playbook", "task", "time", "duration_s", "input_tokens",
                   "output_tokens", "cost", "model", "action"]


def read_outcome_columns(store: Any, filters: dict[str, Any]) -> pd.DataFrame:
    """The outcome events in view, one narrow row each, the attributes they need extracted in SQL."""
    d = store.sql_dialect
    params: dict[str, Any] = {}
    sql = _OUTCOMES_SQL.format(
        where=event_filter(store, params, filters, OUTCOME_KINDS),
        tin=d.json_number("e.attributes", "gen_ai.usage.input_tokens"),
        tout=d.json_number("e.attributes", "gen_ai.usage.output_tokens"),
        cost=d.json_number("e.attributes", "cost"),
        model=d.json_text("e.attributes", "gen_ai.request.model"),
        action=d.json_text("e.attributes", "action"), time=_time_column(d, "e.time"),
    )
    frame = _frame(store, sql, params, OUTCOME_COLUMNS, "kinds")
    frame["time"] = _times(frame["time"].tolist()).array
    for column in ("duration_s", "input_tokens", "output_tokens", "cost"):
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype(float)
    return frame
