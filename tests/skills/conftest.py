"""Shared skills fixtures: a small synthetic cohort in a real SQLite store, built once per session."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

#: The cohort's window ends here, so estimates and trends are reproducible.
END = datetime(2026, 6, 30, 12, 0, tzinfo=timezone.utc)
AS_OF = "2026-07-01T00:00:00+00:00"


@pytest.fixture(scope="session")
def cohort_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Any]]:
    """``(store_url, cohort)``: 45 learners (one 3-person team), ~4,500 events, some unknown-skill scores."""
    from workbench.playbooks import task_skill_weights
    from workbench.skills import generate_cohort
    from workbench.telemetry import open_store

    url = f"sqlite:///{tmp_path_factory.mktemp('skills') / 'cohort.db'}"
    with open_store(url) as store:
        cohort = generate_cohort(
            store, learners=45, events=4_500, seed=11, months=6, end=END, playbooks=task_skill_weights(),
            unknown_skills=("prompt_chaining",), unknown_rate=0.02,
        )
    yield url, cohort


@pytest.fixture(scope="session")
def cohort_report(cohort_db: tuple[str, Any]) -> Any:
    """The manager report over the session cohort (no files written)."""
    from workbench.skills import build_report

    url, _ = cohort_db
    return build_report(url, as_of=AS_OF, min_group_size=5)


@pytest.fixture(scope="session")
def written_report(cohort_report: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The session report written to a folder (HTML, PNG, CSV)."""
    out = tmp_path_factory.mktemp("skills-report")
    cohort_report.write(out)
    return out
