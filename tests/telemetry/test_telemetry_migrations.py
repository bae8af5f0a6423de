"""Schema migrations (Alembic) on real SQLite and PostgreSQL: from empty, from the pre-migration schema, from
revision 1, concurrent openers, a newer schema refused, and the offline DDL."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from workbench.cli import main
from workbench.errors import StoreError
from workbench.telemetry import Event, open_store
from workbench.telemetry.maintenance import erase_learner, upgrade_store
from workbench.telemetry.migrate import known_revisions, migration_sql, schema_state
from workbench.telemetry.schema import BASELINE_REVISION, HEAD_REVISION, VERSION_TABLE, metadata

ROOT = Path(__file__).resolve().parents[2]
T0 = datetime(2025, 6, 1, 9, 0, tzinfo=timezone.utc)

#: The schema of Workbench 0.1 (before migrations), written as that release's code wrote it.
OLD_SQLITE = (
    "CREATE TABLE events (seq INTEGER NOT NULL PRIMARY KEY, id VARCHAR(36) NOT NULL, time DATETIME NOT NULL, "
    "schema_version SMALLINT NOT NULL, learner VARCHAR(64), team VARCHAR(200), playbook VARCHAR(200), "
    "task VARCHAR(200), run_id VARCHAR(200), kind VARCHAR(32) NOT NULL, duration_s FLOAT, status VARCHAR(64), "
    "attributes JSON NOT NULL)",
    "CREATE UNIQUE INDEX ux_events_id ON events (id)",
    "CREATE INDEX ix_events_learner ON events (learner)",
    "CREATE INDEX ix_events_team ON events (team)",
    "CREATE INDEX ix_events_kind ON events (kind)",
    "CREATE INDEX ix_events_time ON events (time)",
    "CREATE INDEX ix_events_playbook_task ON events (playbook, task)",
    "CREATE INDEX ix_events_run_id ON events (run_id)",
    "CREATE TRIGGER events_append_only_update BEFORE UPDATE ON events "
    "BEGIN SELECT RAISE(ABORT, 'telemetry events are append-only'); END",
    "CREATE TRIGGER events_append_only_delete BEFORE DELETE ON events "
    "BEGIN SELECT RAISE(ABORT, 'telemetry events are append-only'); END",
)
OLD_POSTGRES = (
    "CREATE TABLE events (seq BIGSERIAL PRIMARY KEY, id VARCHAR(36) NOT NULL, time TIMESTAMP WITH TIME ZONE "
    "NOT NULL, schema_version SMALLINT NOT NULL, learner VARCHAR(64), team VARCHAR(200), playbook VARCHAR(200), "
    "task VARCHAR(200), run_id VARCHAR(200), kind VARCHAR(32) NOT NULL, duration_s FLOAT, status VARCHAR(64), "
    "attributes JSONB NOT NULL)",
    *OLD_SQLITE[1:8],
    "CREATE OR REPLACE FUNCTION workbench_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
    "BEGIN RAISE EXCEPTION 'telemetry events are append-only'; END $$",
    "CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON events "
    "FOR EACH ROW EXECUTE FUNCTION workbench_events_append_only()",
    "CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON events "
    "FOR EACH STATEMENT EXECUTE FUNCTION workbench_events_append_only()",
)
OLD_ROW = (
    "INSERT INTO events (id, time, schema_version, learner, team, kind, attributes) VALUES "
    "('{id}', '2025-05-01 10:00:00', 1, '{learner}', 'support', 'score', '{{\"skill\": \"prompting\", \"score\": 0.5}}')"
)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A URL of an empty database: a new SQLite file, or a new database on the session's PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'migrate.db'}"
    return str(request.getfixturevalue("pg_url"))


def _execute(url: str, statements: tuple[str, ...] | list[str]) -> None:
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            for statement in statements:
                conn.exec_driver_sql(statement)
    finally:
        engine.dispose()


def _state(url: str) -> tuple[str | None, bool]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            state = schema_state(conn)
            return state.revision, state.has_events
    finally:
        engine.dispose()


def _diff(url: str) -> list[object]:
    """What differs between the migrated database and the code's table definitions (Alembic autogenerate)."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE})
            return list(compare_metadata(ctx, metadata))
    finally:
        engine.dispose()


def test_the_head_constant_is_the_newest_script() -> None:
    assert known_revisions() == (BASELINE_REVISION, "0002", "0003", HEAD_REVISION)
    assert HEAD_REVISION == "0004"


def test_upgrade_from_an_empty_database(empty_url: str) -> None:
    result = upgrade_store(empty_url)
    assert (result.before, result.after, result.changed) == (None, HEAD_REVISION, True)
    assert _state(empty_url) == (HEAD_REVISION, True)
    assert _diff(empty_url) == []  # the migrations build exactly the tables the code declares
    assert not upgrade_store(empty_url).changed  # a second run finds nothing to do
    with open_store(empty_url) as store:
        store.append(Event.new("score", learner="ana", time=T0, attributes={"skill": "prompting", "score": 1}))
        assert store.count() == 1
        assert erase_learner("ana", requested_by="dpo", reason="test", store=store).events == 1


def test_opening_a_store_of_the_previous_release_upgrades_it_and_keeps_its_events(empty_url: str) -> None:
    postgres = empty_url.startswith("postgresql")
    _execute(empty_url, [*(OLD_POSTGRES if postgres else OLD_SQLITE),
                         OLD_ROW.format(id="old-1", learner="p_0000000000000001"),
                         OLD_ROW.format(id="old-2", learner="p_0000000000000002")])
    assert _state(empty_url) == (None, True)
    with open_store(empty_url) as store:  # opening is enough: stamped 0001, upgraded to head
        assert _state(empty_url) == (HEAD_REVISION, True)
        assert sorted(e.id for e in store.query()) == ["old-1", "old-2"]
        store.append(Event.new("review", learner="ben", time=T0))
        erased = erase_learner("p_0000000000000001", requested_by="dpo", reason="request", store=store)
        assert erased.events == 1 and store.count() == 2
    assert _diff(empty_url) == []
    with pytest.raises(sa.exc.DBAPIError, match="append-only"):
        _execute(empty_url, ["DELETE FROM events"])


def test_upgrade_from_revision_1(empty_url: str) -> None:
    first = upgrade_store(empty_url, BASELINE_REVISION)
    assert (first.before, first.after) == (None, BASELINE_REVISION)
    _execute(empty_url, [OLD_ROW.format(id="r1", learner="p_00000000000000aa")])
    engine = sa.create_engine(empty_url)
    with engine.connect() as conn:
        assert not sa.inspect(conn).has_table("erasures")
    engine.dispose()
    result = upgrade_store(empty_url)
    assert (result.before, result.after) == (BASELINE_REVISION, HEAD_REVISION)
    with open_store(empty_url) as store:
        assert [e.id for e in store.query()] == ["r1"]
    assert _diff(empty_url) == []


def test_upgrade_from_revision_3_adds_the_lti_links_and_keeps_the_events(empty_url: str) -> None:
    upgrade_store(empty_url, "0003")
    _execute(empty_url, [OLD_ROW.format(id="r3", learner="p_00000000000000bb")])
    engine = sa.create_engine(empty_url)
    with engine.connect() as conn:
        assert sa.inspect(conn).has_table("xapi_sent") and not sa.inspect(conn).has_table("lti_links")
    engine.dispose()
    result = upgrade_store(empty_url)
    assert (result.before, result.after) == ("0003", HEAD_REVISION)
    with open_store(empty_url) as store:
        assert [e.id for e in store.query()] == ["r3"]
    assert _diff(empty_url) == []
    _execute(empty_url, ["INSERT INTO lti_links (key, learner, sub, playbook, issuer, client_id, deployment_id, "
                         "lineitem, scopes, launched_at) VALUES ('k', 'p_00000000000000bb', 's', 'pb', 'i', 'c', "
                         "'d', 'https://lms/li', 'x', '2026-12-04 10:00:00')"])  # fmt: skip


def test_a_schema_newer_than_this_workbench_is_refused(empty_url: str) -> None:
    upgrade_store(empty_url)
    _execute(empty_url, [f"UPDATE {VERSION_TABLE} SET version_num = '9999'"])
    with pytest.raises(StoreError, match="revision 9999") as info:
        open_store(empty_url)
    assert "upgrade Workbench" in (info.value.hint or "")


@pytest.mark.postgres
def test_many_servers_opening_an_empty_database_at_once_migrate_it_once(pg_url: str) -> None:
    code = "import sys; from workbench.telemetry import open_store; open_store(sys.argv[1]).close()"
    env = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1"}
    procs = [subprocess.Popen([sys.executable, "-c", code, pg_url], env=env, stderr=subprocess.PIPE)
             for _ in range(6)]
    errors = [p.communicate(timeout=120)[1].decode() for p in procs]
    assert [p.returncode for p in procs] == [0] * 6, errors
    assert _state(pg_url) == (HEAD_REVISION, True)
    assert _diff(pg_url) == []


@pytest.mark.parametrize("url", ["postgresql+psycopg://u@h/db", "sqlite:///x.db"])
def test_offline_ddl_for_a_dba(url: str) -> None:
    sql = migration_sql(url)
    assert "CREATE TABLE events" in sql and "CREATE TABLE erasures" in sql
    assert f"INSERT INTO {VERSION_TABLE}" in sql
    assert ("pg_trigger" in sql or "CREATE TRIGGER" in sql) and "erasure_pending" in sql
    assert "CREATE TABLE events" not in migration_sql(url, start=BASELINE_REVISION)


def test_cli_migrate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    assert main(["telemetry", "migrate", "--url", url, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data == {"url": url, "before": None, "after": HEAD_REVISION, "head": HEAD_REVISION, "changed": True}
    assert main(["telemetry", "migrate", "--url", url]) == 0
    assert "already current" in capsys.readouterr().out
    assert main(["telemetry", "migrate", "--url", url, "--sql"]) == 0
    assert "CREATE TABLE erasures" in capsys.readouterr().out
