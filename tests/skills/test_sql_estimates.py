"""The people x skills estimates aggregated in SQL equal the Python path's, on SQLite and on PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa

from workbench.skills import (
    EstimatorConfig,
    EvidenceWeights,
    build_report,
    estimate_in_sql,
    estimate_proficiency,
    extract_evidence,
    generate_cohort,
    load_events,
    load_taxonomy,
)
from workbench.telemetry import Event, open_store, pseudonymize

from .conftest import AS_OF
from .helpers import at, event, score, task

SKILLS = load_taxonomy(None).skill_ids


def _python(store: Any, *, as_of: str, config: EstimatorConfig | None = None, **filters: Any) -> pd.DataFrame:
    """The current path: events into pandas, evidence extracted and summed there."""
    config = config or EstimatorConfig()
    since_until = {k: v for k, v in filters.items() if v is not None}
    events = load_events(store, **since_until)
    evidence = extract_evidence(events, SKILLS, weights=config.weights)
    return estimate_proficiency(evidence.frame, as_of=pd.Timestamp(as_of), config=config)


def assert_same_estimates(sql: pd.DataFrame, python: pd.DataFrame) -> None:
    """Same cells, same counts and newest evidence, same numbers up to summation order."""
    assert list(sql.columns) == list(python.columns)
    assert dict(sql.dtypes) == dict(python.dtypes)
    left = sql.sort_values(["learner", "skill"]).reset_index(drop=True)
    right = python.sort_values(["learner", "skill"]).reset_index(drop=True)
    exact = ["learner", "skill", "n_evidence", "last_evidence"]
    pd.testing.assert_frame_equal(left[exact], right[exact])
    numeric = ["level", "level_lo", "level_hi", "mastery", "alpha", "beta", "effective_weight"]
    pd.testing.assert_frame_equal(left[numeric], right[numeric], check_exact=False, rtol=1e-12, atol=1e-12)


def _edge_events() -> list[Event]:
    """Every rule of the evidence model once: scorers, subjects, confidence, scores given several ways, origins,
    help taken, task skill mappings (object and list), unknown skills, later evidence, other teams."""
    return [
        score("ana", "prompting", 0.8, days=1),
        score("ana", "prompting", 0.4, days=2, scorer="judge", confidence=0.7),
        score("ana", "prompting", 1.0, days=3, scorer="human", subject="copilot"),
        score("ana", "prompting", 0.6, days=4, scorer="peer"),  # unknown scorer
        score("ana", "structured_output", 0.9, days=4, scorer=None),  # type: ignore[arg-type]
        score("ana", "structured_output", True, days=5),  # type: ignore[arg-type]  # a boolean score is 1
        score("ana", "structured_output", None, days=6, raw_score=3, max_score=4),  # type: ignore[arg-type]
        score("ana", "structured_output", None, days=6, raw_score=3, max_score=0),  # type: ignore[arg-type]
        score("ana", "structured_output", None, days=6),  # type: ignore[arg-type]  # no score at all
        score("ana", "retrieval_design", 1.7, days=7),  # clipped to 1
        score("ana", "retrieval_design", -0.2, days=7),  # clipped to 0
        score("ana", "retrieval_design", 0.7, days=8, confidence=0.0),  # weight 0: not evidence
        score("ana", "retrieval_design", 0.7, days=8, confidence=1.5),  # clipped to 1
        score("ana", "retrieval_design", 0.7, days=8, confidence=None),  # type: ignore[arg-type]
        score("bo", "prompting", 0.9, days=9, origin="solution"),  # the shipped solution: counts for nothing
        score("bo", "prompting", 0.9, days=9, origin="learner", hints=2, attempt=3),
        score("bo", "prompting", 0.5, days=9, origin="learner", hints=-1, attempt=0),
        score("bo", "prompting", 0.5, days=10, origin="author"),
        score("bo", "telepathy", 0.9, days=10),  # not in the taxonomy
        score("bo", "", 0.9, days=10),
        task("bo", "task_completed", {"prompting": 0.5, "fine_tuning": 2, "evaluation_design": "x", "data_curation": True}, days=11),
        task("bo", "task_failed", ["prompting", "retrieval_evaluation"], days=12, hints=1),
        task("bo", "task_completed", "prompting", days=12),  # neither a mapping nor a list
        task("bo", "task_completed", None, days=12),
        task("bo", "task_started", {"prompting": 1.0}, days=12),  # not an outcome
        task("cy", "task_completed", {"prompting": 1.0}, days=13, team="team-b", origin="learner", attempt=2),
        score("cy", "prompting", 0.3, days=400),  # after as_of
        Event(kind="score", learner=None, time=at(3), attributes={"skill": "prompting", "score": 1.0}),
        event("generation", "ana", days=3, skill="prompting", score=1.0),  # not evidence
    ]


EDGE_AS_OF = "2026-03-01T00:00:00+00:00"


def _check_edges(url: str) -> None:
    with open_store(url) as store:
        store.append_many(_edge_events())
        sql = estimate_in_sql(store, SKILLS, as_of=EDGE_AS_OF)
        assert_same_estimates(sql, _python(store, as_of=EDGE_AS_OF))
        # The rules did what they say: solution and author copies, zero-confidence scores, scores without a
        # number, zero or non-numeric task weights, unknown skills and later evidence left no trace.
        cells = {(who, skill): n for who, skill, n in sql[["learner", "skill", "n_evidence"]].itertuples(index=False)}
        ana, bo, cy = (pseudonymize(x) for x in ("ana", "bo", "cy"))
        assert cells == {
            (ana, "prompting"): 4, (ana, "structured_output"): 3, (ana, "retrieval_design"): 4,
            (bo, "prompting"): 4, (bo, "fine_tuning"): 1, (bo, "data_curation"): 1, (bo, "retrieval_evaluation"): 1,
            (cy, "prompting"): 1,
        }
        # Filters and another model configuration go through the same query.
        config = EstimatorConfig(half_life_days=30, prior_mean=0.4,
                                 weights=EvidenceWeights(counted_origins=("learner", "author"), count_unrecorded=False,
                                                         scorer={"judge": 0.9}, subject={}))
        assert_same_estimates(estimate_in_sql(store, SKILLS, as_of=EDGE_AS_OF, config=config),
                              _python(store, as_of=EDGE_AS_OF, config=config))
        assert_same_estimates(estimate_in_sql(store, SKILLS, as_of=EDGE_AS_OF, team="team-b"),
                              _python(store, as_of=EDGE_AS_OF, team="team-b"))
        window = {"since": at(2).isoformat(), "until": at(9).isoformat()}
        assert_same_estimates(estimate_in_sql(store, SKILLS, as_of=EDGE_AS_OF, **window),
                              _python(store, as_of=EDGE_AS_OF, **window))


def test_sql_estimates_follow_every_evidence_rule_on_sqlite(tmp_path: Path) -> None:
    _check_edges(f"sqlite:///{tmp_path / 'edges.db'}")


def test_sql_estimates_equal_the_python_path_on_the_session_cohort(cohort_db: tuple[str, Any]) -> None:
    url, _ = cohort_db
    report = build_report(url, as_of=AS_OF, min_group_size=1)
    sql = estimate_in_sql(url, report.taxonomy.skill_ids, as_of=AS_OF)
    assert len(sql) > 300
    assert_same_estimates(sql, _python(url, as_of=AS_OF))
    # And the report's own people frame (its targets and gaps added) has exactly these estimates.
    people = report.people.drop(columns=["team", "role", "target", "gap", "gap_lo", "gap_hi", "status"])
    assert_same_estimates(sql, people.loc[:, list(sql.columns)])


def test_an_empty_view_gives_an_empty_frame(tmp_path: Path) -> None:
    with open_store(f"sqlite:///{tmp_path / 'empty.db'}") as store:
        sql = estimate_in_sql(store, SKILLS, as_of=EDGE_AS_OF)
        assert_same_estimates(sql, _python(store, as_of=EDGE_AS_OF))
        assert sql.empty


# -- PostgreSQL ------------------------------------------------------------------------------------------------
@pytest.fixture
def pg_database(postgres_url: str) -> Iterator[str]:
    """A new, empty database on the session's PostgreSQL server, dropped afterwards."""
    name = "wb_sql_" + uuid.uuid4().hex[:10]
    admin = sa.create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield sa.make_url(postgres_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@pytest.mark.postgres
def test_sql_estimates_follow_every_evidence_rule_on_postgres(pg_database: str) -> None:
    _check_edges(pg_database)


@pytest.mark.postgres
def test_postgres_and_sqlite_give_the_same_estimates_as_the_python_path(pg_database: str, tmp_path: Path) -> None:
    end = datetime(2026, 5, 1, tzinfo=timezone.utc)
    lite = f"sqlite:///{tmp_path / 'same.db'}"
    for url in (pg_database, lite):
        with open_store(url) as store:
            generate_cohort(store, learners=30, events=3_000, seed=5, end=end)
    as_of = "2026-05-02T00:00:00+00:00"
    on_pg = estimate_in_sql(pg_database, SKILLS, as_of=as_of)
    assert len(on_pg) > 100
    assert_same_estimates(on_pg, _python(pg_database, as_of=as_of))
    assert_same_estimates(on_pg, estimate_in_sql(lite, SKILLS, as_of=as_of))
