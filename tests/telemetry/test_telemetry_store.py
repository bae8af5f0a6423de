"""The SQLite store: opening, filters, frames, append-only, errors."""

from __future__ import annotations

import sqlite3
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from workbench.errors import StoreError, ValidationError
from workbench.telemetry import Event, EventKind, TelemetryStore, open_store, pseudonymize, sqlite_backend

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=timezone.utc)


def _sample() -> list[Event]:
    out = []
    for i in range(30):
        out.append(
            Event.new(
                EventKind.SCORE if i % 3 == 0 else EventKind.GENERATION,
                time=T0 + timedelta(minutes=i),
                learner=f"learner-{i % 5}",
                team="red" if i % 2 else "blue",
                playbook="rag-101" if i < 20 else "prompting-101",
                task=f"task-{i % 4}",
                run_id=f"run-{i // 10}",
                status="pass" if i % 3 == 0 else None,
                duration_s=i / 10,
                attributes={"i": i, "skill": "prompting" if i % 2 else "retrieval_design"},
            )
        )
    return out


@pytest.fixture
def filled(store: TelemetryStore) -> TelemetryStore:
    assert store.append_many(_sample()) == 30
    return store


def test_default_store_lives_in_the_data_dir(settings) -> None:  # type: ignore[no-untyped-def]
    with open_store() as store:
        assert store.dialect == "sqlite"
        assert store.path == settings.data_dir / "telemetry.db"
        assert store.path.is_file()
        info = store.describe()
    assert info["journal_mode"] == "wal"
    assert info["events"] == 0


def test_missing_folders_are_created_and_path_objects_accepted(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "c" / "events.db"
    with open_store(path) as store:
        store.append(Event.new("score"))
    with open_store(f"sqlite:///{path}") as store:
        assert store.count() == 1


def test_connections_are_tuned_for_concurrency(store: TelemetryStore) -> None:
    with store._backend.writing() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 30_000


def test_one_writer_connection_per_process(store_path: Path) -> None:
    a = open_store(f"sqlite:///{store_path}")
    b = open_store(store_path)
    try:
        assert a._backend is b._backend
        a.append(Event.new("score"))
        b.append(Event.new("score"))
        assert a._backend._writer is not None
    finally:
        a.close()
    assert b.count() == 2  # b still works after a closed
    b.close()
    with pytest.raises(StoreError, match="closed"):
        b.count()


def test_the_writer_is_the_shared_sqlite_writer_of_the_file(store: TelemetryStore, store_path: Path) -> None:
    from workbench._sqlite import release_writer, shared_writer

    store.append(Event.new("score"))
    writer = shared_writer(store_path, sqlite_backend.OPTIONS)
    try:
        assert store._backend._writer is not None
        assert store._backend._writer.connection.dbapi_connection is writer.connection()
    finally:
        release_writer(writer)
    store.append(Event.new("score"))  # releasing our hold left the store's connection open
    assert store.count() == 2


def test_query_filters(filled: TelemetryStore) -> None:
    assert filled.count() == 30
    assert filled.count(kind="score") == 10
    assert filled.count(kind=[EventKind.SCORE, "generation"]) == 30
    assert filled.count(learner="learner-1") == 6
    assert filled.count(learner=pseudonymize("learner-1")) == 6
    assert filled.count(learner=["learner-1", "learner-2"]) == 12
    assert filled.count(team="red") == 15
    assert filled.count(playbook="rag-101", task="task-0") == 5
    assert filled.count(run_id="run-2") == 10
    assert filled.count(status="pass") == 10
    assert filled.count(since=T0 + timedelta(minutes=10)) == 20
    assert filled.count(until=T0 + timedelta(minutes=10)) == 10
    assert filled.count(since="2025-03-01T09:05:00Z", until="2025-03-01T09:15:00+00:00") == 10
    # A filter in another time zone means the same instant.
    plus2 = timezone(timedelta(hours=2))
    assert filled.count(since=datetime(2025, 3, 1, 11, 10, tzinfo=plus2)) == 20
    events = filled.query(team="blue", kind="score", limit=2)
    assert [e.attributes["i"] for e in events] == [0, 6]
    latest = filled.query(limit=3, newest_first=True)
    assert [e.attributes["i"] for e in latest] == [29, 28, 27]
    assert filled.query(learner="nobody") == []


def test_distinct_value_counts_and_time_range(filled: TelemetryStore) -> None:
    assert filled.distinct("team") == ["blue", "red"]
    assert filled.distinct("playbook", team="red") == ["prompting-101", "rag-101"]
    assert filled.value_counts("kind") == {"generation": 20, "score": 10}
    assert filled.value_counts("status") == {None: 20, "pass": 10}
    first, last = filled.time_range()
    assert (first, last) == (T0, T0 + timedelta(minutes=29))
    assert filled.time_range(learner="nobody") == (None, None)


def test_bad_filters_are_explained(filled: TelemetryStore) -> None:
    with pytest.raises(ValidationError, match="not an event kind") as info:
        filled.count(kind="generations")
    assert "generation" in (info.value.hint or "")
    with pytest.raises(ValidationError, match="unknown event filter"):
        filled.count(colour="red")
    with pytest.raises(ValidationError, match="not an event column"):
        filled.distinct("attributes")
    with pytest.raises(ValidationError, match="ISO 8601"):
        filled.count(since="last tuesday")


def test_to_frame(filled: TelemetryStore) -> None:
    import pandas as pd

    frame = filled.to_frame(kind="score", attribute_columns=["skill", "missing"])
    assert list(frame.columns[:12]) == list(Event.model_fields)
    assert len(frame) == 10
    assert isinstance(frame["time"].dtype, pd.DatetimeTZDtype) and str(frame["time"].dt.tz) == "UTC"
    assert frame["time"].iloc[0] == pd.Timestamp(T0)
    assert frame["attributes"].iloc[1] == {"i": 3, "skill": "prompting"}
    assert frame["skill"].tolist()[:2] == ["retrieval_design", "prompting"]
    assert frame["missing"].isna().all()
    assert frame["duration_s"].dtype == "float64"
    assert filled.to_frame(limit=4).shape[0] == 4
    empty = filled.to_frame(learner="nobody")
    assert empty.empty and "attributes" in empty.columns


def test_iter_frames_pages_through_everything(filled: TelemetryStore) -> None:
    frames = list(filled.iter_frames(chunksize=7))
    assert [len(f) for f in frames] == [7, 7, 7, 7, 2]
    ids = [i for f in frames for i in f["id"]]
    assert len(set(ids)) == 30
    assert [a["i"] for f in frames for a in f["attributes"]] == list(range(30))
    assert sum(len(f) for f in filled.iter_frames(chunksize=4, kind="score")) == 10
    assert list(filled.iter_frames(learner="nobody")) == []


def test_events_are_append_only(filled: TelemetryStore, store_path: Path) -> None:
    assert not hasattr(filled, "update") and not hasattr(filled, "delete")
    raw = sqlite3.connect(store_path)
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        raw.execute("UPDATE events SET team = 'x'")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        raw.execute("DELETE FROM events")
    raw.close()
    assert filled.count(team="x") == 0 and filled.count() == 30


def test_a_batch_is_all_or_nothing(store: TelemetryStore) -> None:
    first = Event.new("score")
    store.append(first)
    with pytest.raises(StoreError, match="cannot write"):
        store.append_many([Event.new("score"), Event.new("score"), first])  # duplicate id at the end
    assert store.count() == 1
    store.append_many([Event.new("score")])  # the writer connection is usable again
    assert store.count() == 2
    with pytest.raises(TypeError):
        store.append_many([{"kind": "score"}])  # type: ignore[list-item]


def test_waits_for_another_process_holding_the_write_lock(store: TelemetryStore, store_path: Path) -> None:
    other = sqlite3.connect(store_path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    released = threading.Timer(0.3, lambda: other.execute("COMMIT"))
    released.start()
    started = time.monotonic()
    store.append(Event.new("score"))  # blocks on the busy timeout, then succeeds
    assert time.monotonic() - started >= 0.2
    released.join()
    other.close()
    assert store.count() == 1


def test_in_memory_store() -> None:
    with open_store("sqlite://") as store:
        store.append_many([Event.new("score") for _ in range(3)])
        assert store.count() == 3
        assert len(store.to_frame()) == 3


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("not a url", "no '<database>://' scheme"),
        ("admin:hunter2@dbhost/wb", "no '<database>://' scheme"),
        ("postgresql+psycopg://admin:hunter2@host:notaport/db", "malformed telemetry store URL"),
        ("mysql://admin:hunter2@host/db", "unsupported telemetry store 'mysql'"),
        ("postgresql+psycopg2://admin:hunter2@host/db", "Workbench uses psycopg 3"),
    ],
)
def test_malformed_urls_are_explained(url: str, message: str) -> None:
    with pytest.raises(StoreError, match=message) as info:
        open_store(url)
    text = str(info.value)
    assert "hunter2" not in text
    assert info.value.hint and info.value.field == "store_url"


def test_malformed_url_from_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    from workbench.settings import reset_settings

    monkeypatch.setenv("WORKBENCH_STORE_URL", "sqlite//missing-colon.db")
    reset_settings()
    with pytest.raises(StoreError, match=r"sqlite//missing-colon\.db") as info:
        open_store()
    assert "WORKBENCH_STORE_URL" in (info.value.hint or "")


def test_unreachable_postgres_is_a_clear_error() -> None:
    url = "postgresql+psycopg://admin:hunter2@127.0.0.1:1/workbench"
    with pytest.raises(StoreError, match="cannot open the telemetry store") as info:
        open_store(url)
    assert "postgresql+psycopg://admin:***@127.0.0.1:1/workbench" in str(info.value)
    assert "hunter2" not in str(info.value)
    assert "server is running" in (info.value.hint or "")


def test_unwritable_folder_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(StoreError, match="cannot create the folder"):
        open_store(blocker / "sub" / "t.db")


def test_network_filesystems_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sqlite_backend, "_filesystem_type", lambda path: "nfs4")
    with pytest.raises(StoreError, match="network filesystem") as info:
        open_store(tmp_path / "t.db")
    assert "PostgreSQL" in (info.value.hint or "")


def test_filesystem_type_of_a_local_folder(tmp_path: Path) -> None:
    assert sqlite_backend._filesystem_type(tmp_path) not in sqlite_backend.NETWORK_FILESYSTEMS
