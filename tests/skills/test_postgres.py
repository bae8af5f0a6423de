"""The report reads a real PostgreSQL store the same way as SQLite (COPY-written cohort, paged reads)."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest

from workbench.playbooks import task_skill_weights
from workbench.skills import build_report, generate_cohort
from workbench.telemetry import open_store

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def test_report_from_postgres_matches_sqlite(postgres_url: str, tmp_path: Path) -> None:
    end = datetime(2026, 5, 1, tzinfo=timezone.utc)
    sqlite_url = f"sqlite:///{tmp_path / 'same.db'}"
    for url in (postgres_url, sqlite_url):
        with open_store(url) as store:
            generate_cohort(store, learners=14, events=1_200, seed=21, end=end, learner_prefix="pg-skills-",
                            playbooks=task_skill_weights())
    # The session's PostgreSQL is shared with other tests: read only this cohort's team and time window.
    window = {"team": "support-ops", "since": "2025-10-01", "until": "2026-05-02", "as_of": "2026-05-02"}
    pg = build_report(postgres_url, **window)
    lite = build_report(sqlite_url, **window)
    assert not pg.empty and pg.counts["events"] == lite.counts["events"]
    cols = ["learner", "skill", "level", "level_lo", "level_hi", "n_evidence"]
    left = pg.people[cols].sort_values(["learner", "skill"]).reset_index(drop=True)
    right = lite.people[cols].sort_values(["learner", "skill"]).reset_index(drop=True)
    assert left[["learner", "skill", "n_evidence"]].equals(right[["learner", "skill", "n_evidence"]])
    assert (left["level"] - right["level"]).abs().max() < 1e-9
