"""Fixtures of the telemetry tests: a fresh SQLite store per test, a fresh PostgreSQL database per test."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from workbench.telemetry import TelemetryStore, clear_context, open_store


@pytest.fixture(autouse=True)
def _clean_context() -> Iterator[None]:
    clear_context()
    yield
    clear_context()


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    return tmp_path / "store" / "telemetry.db"


@pytest.fixture
def store(store_path: Path) -> Iterator[TelemetryStore]:
    with open_store(f"sqlite:///{store_path}") as s:
        yield s


@pytest.fixture
def pg_url(postgres_url: str) -> str:
    """A URL of a new, empty database on the session's PostgreSQL server."""
    name = "wb_" + uuid.uuid4().hex[:12]
    engine = sa.create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    engine.dispose()
    return sa.make_url(postgres_url).set(database=name).render_as_string(hide_password=False)
