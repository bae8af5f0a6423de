"""The manager report read with SQL aggregates equals the report computed in Python from every event.

``build_report(store)`` reads the store through ``workbench.skills.sql_report`` (aggregates and narrow rows);
``build_report(load_events(store))`` is the Python path over all events (the reference). Both must give the
same frames, messages, counts, payload (the HTML's data) and files, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import math
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from workbench.skills import SkillsReport, build_report, generate_cohort, load_events
from workbench.telemetry import Event, open_store, pseudonymize

from .helpers import at, event, task
from .test_sql_estimates import EDGE_AS_OF, _edge_events, pg_database  # noqa: F401  (fixture)

FRAMES = ("learners", "people", "teams", "trends", "evidence", "unknown_skills")


def _close(a: Any, b: Any, path: str) -> None:
    """Equal JSON-like values; floats up to summation order."""
    if isinstance(a, float) and isinstance(b, float):
        assert (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9), path
    elif isinstance(a, dict):
        assert isinstance(b, dict) and list(a) == list(b), path
        for key in a:
            _close(a[key], b[key], f"{path}.{key}")
    elif isinstance(a, list | tuple):
        assert isinstance(b, list | tuple) and len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _close(x, y, f"{path}[{i}]")
    else:
        assert a == b, f"{path}: {a!r} != {b!r}"


def _frames_equal(sql: pd.DataFrame, python: pd.DataFrame, name: str) -> None:
    assert list(sql.columns) == list(python.columns), name
    assert len(sql) == len(python), name
    pd.testing.assert_frame_equal(sql.reset_index(drop=True), python.reset_index(drop=True), check_exact=False,
                                  rtol=1e-9, atol=1e-9, check_dtype=False, obj=name)


def assert_same_report(sql: SkillsReport, python: SkillsReport) -> None:
    for name in FRAMES:
        _frames_equal(getattr(sql, name), getattr(python, name), name)
    assert list(sql.outcomes) == list(python.outcomes)
    for name in sql.outcomes:
        _frames_equal(sql.outcomes[name], python.outcomes[name], f"outcomes[{name}]")
    assert sql.messages == python.messages
    assert sql.counts == python.counts
    assert sql.as_of == python.as_of
    left, right = sql.summary(), python.summary()
    for side in (left, right):
        side.pop("timings_s"), side.pop("cpu_s"), side.pop("files")
    _close(left, right, "summary")
    _close(sql.to_payload(), python.to_payload(), "payload")


def _both(url: str, **options: Any) -> tuple[SkillsReport, SkillsReport]:
    with open_store(url) as store:
        sql = build_report(store, engine="sql", **options)
        python = build_report(load_events(store), **options)  # the events frame is filtered in pandas
    assert "evidence" in sql.timings and "load" not in sql.timings  # the SQL path ran, not a full load
    assert "load" in python.timings
    return sql, python


def _outcome_events() -> list[Event]:
    """Outcome rules: tokens and cost given or priced, guardrail actions, reviews, retries."""
    gen = {"kind": "generation", "team": "team-a", "playbook": "pb", "task": "t1"}
    out = [
        Event(learner="ana", time=at(2), **gen, attributes={  # type: ignore[arg-type]
            "gen_ai.usage.input_tokens": 12, "gen_ai.usage.output_tokens": 30, "gen_ai.request.model": "workbench-tiny"}),
        Event(learner="bo", time=at(3), **gen, attributes={"gen_ai.usage.input_tokens": 5, "cost": 0.25}),  # type: ignore[arg-type]
        Event(learner="bo", time=at(3), **gen, attributes={  # type: ignore[arg-type]
            "gen_ai.usage.input_tokens": True, "gen_ai.usage.output_tokens": None}),
        event("guardrail", "ana", days=4, action="block"),
        event("guardrail", "bo", days=4, action="allow"),
        event("review", "cy", days=5),
        task("ana", "task_failed", {"prompting": 1.0}, days=5, role="ml_engineer"),
        task("ana", "task_completed", {"prompting": 1.0}, days=6, role="copilot_builder"),
        task("ana", "task_completed", {"prompting": 1.0}, days=7, role="nobody"),
        task("ana", "task_started", {"prompting": 1.0}, days=8),
    ]
    return out


@pytest.mark.parametrize("k", [1, 4])
def test_sql_report_follows_every_rule_on_sqlite(tmp_path: Path, k: int) -> None:
    url = f"sqlite:///{tmp_path / 'edges.db'}"
    with open_store(url) as store:
        store.append_many(_edge_events() + _outcome_events())
    sql, python = _both(url, as_of=EDGE_AS_OF, min_group_size=k)
    assert_same_report(sql, python)
    assert sql.counts["uncounted_evidence"] > 0 and sql.counts["invalid_scores"] > 0
    assert not sql.unknown_skills.empty
    if k == 4:  # team-a has three learners: suppressed, and its members are out of the people view
        assert sql.suppressed_teams == ["team-a"]
        assert sql.people.empty and sql.evidence.empty
    else:
        assert pseudonymize("ana") in set(sql.people["learner"])
    for options in ({"team": "team-b"}, {"since": at(2).isoformat(), "until": at(9).isoformat()},
                    {"role": "copilot_builder", "period": "week"}, {"roles": {"bo": "ml_engineer"}}):
        assert_same_report(*_both(url, as_of=EDGE_AS_OF, min_group_size=k, **options))


def test_sql_report_of_an_empty_store_and_an_unknown_team(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    with open_store(url):
        pass
    assert_same_report(*_both(url, as_of=EDGE_AS_OF))
    sql, _ = _both(url, as_of=EDGE_AS_OF, team="nope")
    assert sql.messages[0].startswith("no events for team 'nope'")


def test_sql_report_equals_the_python_report_on_a_cohort_and_writes_the_same_files(
    cohort_db: tuple[str, Any], tmp_path: Path
) -> None:
    from .conftest import AS_OF

    url, _ = cohort_db
    sql, python = _both(url, as_of=AS_OF)
    assert len(sql.people) > 300 and len(sql.trends) > 50 and sql.suppressed_teams == python.suppressed_teams
    assert_same_report(sql, python)
    sql.write(tmp_path / "sql", ["csv"])
    python.write(tmp_path / "python", ["csv"])
    for name in sorted(p.name for p in (tmp_path / "python").glob("*.csv")):
        left = pd.read_csv(tmp_path / "sql" / name)
        right = pd.read_csv(tmp_path / "python" / name)
        _frames_equal(left, right, name)
    # The drill-down behind a cell is the same evidence, newest first.
    learner, skill = sql.people[["learner", "skill"]].iloc[0]
    _close(sql.drilldown(learner, skill), python.drilldown(learner, skill), "drilldown")


@pytest.mark.postgres
def test_sql_report_on_postgres_equals_the_python_report(pg_database: str) -> None:  # noqa: F811
    end = datetime(2026, 5, 1, tzinfo=timezone.utc)
    with open_store(pg_database) as store:
        store.append_many(_edge_events() + _outcome_events())
        generate_cohort(store, learners=30, events=3_000, seed=5, end=end)
    sql, python = _both(pg_database, as_of="2026-05-02T00:00:00+00:00", min_group_size=3)
    assert len(sql.people) > 100 and len(sql.outcomes["task"]) > 3
    assert_same_report(sql, python)
    assert_same_report(*_both(pg_database, as_of="2026-05-02T00:00:00+00:00", team="team-b", period="week"))
    # Times and text bound as parameters on the Arrow (ADBC) reads: a window, and a team no event has whose name
    # would break a query that pasted it in.
    window = {"since": "2026-02-01T00:00:00+00:00", "until": "2026-04-01T00:00:00+00:00"}
    assert_same_report(*_both(pg_database, as_of="2026-05-02T00:00:00+00:00", min_group_size=3, **window))
    sql, python = _both(pg_database, as_of="2026-05-02T00:00:00+00:00", team="o'brien %(x)s $1")
    assert sql.empty and python.empty and sql.counts["events"] == 0
    assert_same_report(sql, python)


def test_auto_engine_aggregates_in_sql_on_postgresql_only_and_refuses_an_unknown_engine(tmp_path: Path) -> None:
    """``auto``: SQLite reports load the events (measured faster there), PostgreSQL ones aggregate in SQL."""
    from workbench.errors import ValidationError
    from workbench.skills.report import _use_sql

    url = f"sqlite:///{tmp_path / 'events.db'}"
    assert not _use_sql(url, "auto") and _use_sql(url, "sql") and not _use_sql("postgresql://h/db", "pandas")
    assert _use_sql("postgresql+psycopg://h/db", "auto")
    with pytest.raises(ValidationError, match="unknown report engine 'fast'"):
        build_report(url, engine="fast")


@pytest.mark.postgres
def test_the_report_connection_uri_keeps_the_store_and_refuses_sqlite(pg_database: str, tmp_path: Path) -> None:  # noqa: F811
    """The Arrow (ADBC) reads connect with the store's own libpq URI; a SQLite store has none."""
    import adbc_driver_postgresql.dbapi as adbc

    from workbench.errors import StoreError

    with open_store(pg_database) as store:
        uri = store.libpq_uri()
        assert uri.startswith("postgresql://") and "application_name=workbench-telemetry" in uri
        with adbc.connect(uri) as conn, conn.cursor() as cursor:
            cursor.execute("SELECT current_database(), current_setting('application_name')")
            database, name = cursor.fetchone()
        with store.sql() as sa_conn:
            assert database == sa_conn.exec_driver_sql("SELECT current_database()").scalar()
        assert name == "workbench-telemetry"
    with open_store(f"sqlite:///{tmp_path / 'events.db'}") as store, pytest.raises(StoreError, match="not a PostgreSQL"):
        store.libpq_uri()
