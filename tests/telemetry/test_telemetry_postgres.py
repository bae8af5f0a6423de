"""The PostgreSQL store against a real server (the session's ``postgres_url``): never skipped."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from workbench.errors import StoreError
from workbench.telemetry import Event, EventKind, Recorder, open_store, pseudonymize, track

pytestmark = pytest.mark.postgres

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=timezone.utc)


def test_round_trip_filters_and_frames(pg_url: str) -> None:
    events = [
        Event.new(
            EventKind.SCORE if i % 2 else EventKind.GENERATION,
            time=T0 + timedelta(seconds=i),
            learner=f"l{i % 3}",
            team="red" if i < 6 else "blue",
            playbook="rag-101",
            task=f"t{i % 2}",
            run_id="run-1",
            duration_s=0.5,
            attributes={
                "i": i,
                "gen_ai.usage.input_tokens": i * 2,
                "nested": {"ok": True},
                "api_key": "sk-x",
            },
        )
        for i in range(10)
    ]
    with open_store(pg_url) as store:
        assert store.dialect == "postgresql"
        assert store.append_many(events) == 10
        assert store.query() == events
        assert store.count(kind="score") == 5
        assert store.count(learner="l1") == 3
        assert store.count(team=["red", "blue"], playbook="rag-101", task="t0") == 5
        assert store.count(since=T0 + timedelta(seconds=4), until=T0 + timedelta(seconds=8)) == 4
        assert store.value_counts("team") == {"red": 6, "blue": 4}
        assert store.distinct("learner") == sorted(pseudonymize(f"l{i}") for i in range(3))
        assert store.time_range() == (T0, T0 + timedelta(seconds=9))
        frame = store.to_frame(attribute_columns=["i"])
        assert frame["i"].tolist() == list(range(10))
        assert frame["attributes"].iloc[0]["api_key"] == "***"
        assert str(frame["time"].dt.tz) == "UTC"
        assert [len(f) for f in store.iter_frames(chunksize=4)] == [4, 4, 2]


def test_attributes_are_jsonb_and_rows_append_only(pg_url: str) -> None:
    with open_store(pg_url) as store:
        store.append(Event.new("score", attributes={"skill": "prompting", "score": 0.75}))
    engine = sa.create_engine(pg_url)
    try:
        with engine.connect() as conn:
            kind = conn.exec_driver_sql(
                "SELECT data_type FROM information_schema.columns "
                "WHERE table_name = 'events' AND column_name = 'attributes'"
            ).scalar()
            assert kind == "jsonb"
            assert conn.exec_driver_sql("SELECT attributes->>'skill' FROM events").scalar() == "prompting"
        for statement in ("UPDATE events SET team = 'x'", "DELETE FROM events", "TRUNCATE events"):
            with pytest.raises(sa.exc.DBAPIError, match="append-only"), engine.begin() as conn:
                conn.exec_driver_sql(statement)
    finally:
        engine.dispose()


def test_recorder_and_track_write_through_copy(pg_url: str) -> None:
    with open_store(pg_url) as store:
        recorder = Recorder(store, batch_size=50, flush_interval_s=0)
        with track("ingest", recorder=recorder) as task:
            for i in range(120):
                recorder.emit("training_step", step=i, loss=float("nan") if i == 7 else 1.0 / (i + 1))
            task.set(steps=120)
        recorder.flush()
        assert store.count() == 122
        assert store.count(task="ingest", kind="training_step") == 120
        (completed,) = store.query(kind="task_completed")
        assert completed.attributes["steps"] == 120
        step7 = next(e for e in store.query(kind="training_step") if e.attributes["step"] == 7)
        assert step7.attributes["loss"] is None  # NaN has no JSONB form


def test_second_open_finds_the_schema(pg_url: str) -> None:
    open_store(pg_url).close()
    with open_store(pg_url.replace("postgresql+psycopg://", "postgresql://", 1)) as store:
        store.append(Event.new("review"))
        assert store.count() == 1


def test_a_missing_database_is_a_clear_error(postgres_url: str) -> None:
    url = sa.make_url(postgres_url).set(database="no_such_db").render_as_string(hide_password=False)
    with pytest.raises(StoreError, match="no_such_db") as info:
        open_store(url)
    assert "database" in (info.value.hint or "")


def test_the_pool_is_sized_from_settings(pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each process keeps ``store_pool_size`` idle connections, opens ``store_max_overflow`` more at a peak and
    closes those after use; the server drops connections idle past ``store_idle_timeout_s``."""
    from contextlib import ExitStack

    from workbench.settings import reset_settings

    monkeypatch.setenv("WORKBENCH_STORE_POOL_SIZE", "3")
    monkeypatch.setenv("WORKBENCH_STORE_MAX_OVERFLOW", "1")
    monkeypatch.setenv("WORKBENCH_STORE_IDLE_TIMEOUT_S", "7")
    reset_settings()
    database = sa.make_url(pg_url).database
    admin = sa.create_engine(pg_url)  # its connections have another application_name

    def held() -> int:
        with admin.connect() as conn:
            return int(conn.execute(sa.text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = :db AND application_name = :app"
            ), {"db": database, "app": "workbench-telemetry"}).scalar_one())

    try:
        with open_store(pg_url) as store:
            with ExitStack() as peak:
                conns = [peak.enter_context(store.sql()) for _ in range(4)]  # pool 3 + overflow 1
                assert {c.exec_driver_sql("SHOW idle_session_timeout").scalar() for c in conns} == {"7s"}
                assert held() == 4
            assert held() == 3  # the overflow connection was closed, the pool keeps three (default: two)
    finally:
        admin.dispose()
