"""The Recorder: batching, durability on flush, threads, track(), the process default."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from workbench.errors import StoreError
from workbench.telemetry import (
    EventKind,
    Recorder,
    TelemetryStore,
    get_recorder,
    open_store,
    pseudonymize,
    record,
    set_context,
    track,
)
from workbench.telemetry.recorder import _reset_default_recorder

HERE = Path(__file__).parent


def test_events_are_batched_and_acknowledged_by_flush(store: TelemetryStore) -> None:
    recorder = Recorder(store, batch_size=5, flush_interval_s=0)
    events = [recorder.emit("generation", n=i) for i in range(4)]
    assert recorder.pending == 4 and store.count() == 0
    recorder.emit("generation", n=4)  # the fifth fills the batch: written now
    assert recorder.pending == 0 and store.count() == 5
    recorder.emit("score", n=5)
    assert recorder.flush() == 1
    assert recorder.flush() == 0
    assert store.count() == 6 and recorder.written == 6
    assert [e.id for e in store.query(kind="generation")] == [e.id for e in events] + [
        store.query(kind="generation")[-1].id
    ]
    recorder.close()
    assert not store._closed  # the recorder did not open it, so it does not close it


def test_the_background_thread_flushes_after_the_interval(store: TelemetryStore) -> None:
    recorder = Recorder(store, batch_size=1000, flush_interval_s=0.05)
    recorder.emit("retrieval", k=4)
    deadline = time.monotonic() + 10
    while store.count() == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert store.count() == 1
    recorder.close()


def test_emit_takes_dotted_attributes_and_context_overrides(store: TelemetryStore) -> None:
    set_context(learner="ana", team="blue", playbook="rag-101")
    recorder = Recorder(store, flush_interval_s=0)
    event = recorder.emit(
        "generation",
        attributes={"gen_ai.request.model": "workbench-tiny", "gen_ai.usage.output_tokens": 9},
        team="red",
        run_id="r1",
        latency_s=0.5,
    )
    recorder.flush()
    (stored,) = store.query()
    assert stored == event
    assert stored.attributes == {
        "gen_ai.request.model": "workbench-tiny",
        "gen_ai.usage.output_tokens": 9,
        "latency_s": 0.5,
    }
    assert (stored.learner, stored.team, stored.playbook, stored.run_id) == (
        pseudonymize("ana"),
        "red",
        "rag-101",
        "r1",
    )


def test_many_threads_lose_nothing(store: TelemetryStore) -> None:
    recorder = Recorder(store, batch_size=64, flush_interval_s=0.01)

    def work(worker: int) -> None:
        for i in range(300):
            recorder.emit("training_step", learner=f"w{worker}", step=i)
            if i % 100 == 0:
                recorder.flush()

    threads = [threading.Thread(target=work, args=(w,)) for w in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    recorder.flush()
    assert store.count() == 2400
    assert set(store.value_counts("learner").values()) == {300}
    assert len(set(store.to_frame()["id"])) == 2400
    recorder.close()


def test_track_records_start_and_completion(store: TelemetryStore) -> None:
    recorder = Recorder(store, flush_interval_s=0)
    with track("build-index", recorder=recorder, skills={"retrieval_design": 1.0}) as task:
        inner = recorder.emit("retrieval", k=3)
        time.sleep(0.01)
        task.set(chunks=120)
    recorder.flush()
    started, retrieval, completed = store.query()
    assert (started.kind, started.status, started.task) == (EventKind.TASK_STARTED, "started", "build-index")
    assert retrieval == inner and inner.task == "build-index"
    assert (completed.kind, completed.status) == (EventKind.TASK_COMPLETED, "completed")
    assert completed.duration_s is not None and completed.duration_s >= 0.01
    assert completed.attributes["chunks"] == 120
    assert completed.attributes["skills"] == {"retrieval_design": 1.0}
    assert started.attributes["span_id"] == completed.attributes["span_id"] == task.span_id
    assert task.event == completed


def test_track_records_failures_and_reraises(store: TelemetryStore) -> None:
    recorder = Recorder(store, flush_interval_s=0)
    with pytest.raises(ZeroDivisionError), track("divide", recorder=recorder, attempt=2) as task:
        task.set(partial=True)
        1 / 0  # noqa: B018
    with pytest.raises(KeyboardInterrupt), track("interrupted", recorder=recorder):
        raise KeyboardInterrupt
    recorder.flush()
    failed = store.query(kind="task_failed")
    assert [e.task for e in failed] == ["divide", "interrupted"]
    first = failed[0]
    assert first.status == "failed" and first.duration_s is not None
    assert first.attributes["error_type"] == "ZeroDivisionError"
    assert first.attributes["error_message"] == "division by zero"
    assert first.attributes["attempt"] == 2 and first.attributes["partial"] is True
    assert failed[1].attributes["error_type"] == "KeyboardInterrupt"
    assert store.count(kind="task_completed") == 0


def test_record_and_track_use_the_default_recorder(settings) -> None:  # type: ignore[no-untyped-def]
    assert get_recorder() is get_recorder()
    set_context(learner="ana")
    record("score", score=0.5, criterion="clarity")
    with track("t1"):
        pass
    _reset_default_recorder()  # flushes and closes
    with open_store(settings.store_url) as store:
        assert store.count() == 3
        assert store.distinct("learner") == [pseudonymize("ana")]
    assert get_recorder().pending == 0  # a fresh default


def test_an_unwritable_store_never_breaks_emit(tmp_path: Path) -> None:
    recorder = Recorder(url="postgresql+psycopg://u:pw@127.0.0.1:1/db", batch_size=2, flush_interval_s=0)
    recorder.emit("score")
    recorder.emit("score")  # the batch is full: the write fails, quietly
    assert recorder.pending == 2
    with pytest.raises(StoreError, match=r"127\.0\.0\.1:1"):
        recorder.flush()
    assert recorder.pending == 2  # kept for the next try
    recorder._url = tmp_path / "recovered.db"  # the store comes back
    assert recorder.flush() == 2
    recorder.close()


def test_automatic_writes_back_off_while_the_store_is_down() -> None:
    recorder = Recorder(url="postgresql+psycopg://u@127.0.0.1:1/db", batch_size=1, flush_interval_s=0)
    recorder.emit("score")  # fails: the next automatic write waits
    assert recorder._retry_at > time.monotonic()
    for _ in range(5):
        recorder.emit("score")  # buffered without another connection attempt
    assert recorder.pending == 6
    recorder._closed = True


def test_buffer_is_bounded_while_the_store_is_down() -> None:
    recorder = Recorder(
        url="postgresql+psycopg://u@127.0.0.1:1/db", batch_size=2, flush_interval_s=0, max_buffered=5
    )
    for _ in range(9):
        recorder.emit("score")
        recorder._retry_at = 0.0  # skip the backoff between automatic writes
    assert recorder.pending <= 5
    assert recorder.dropped + recorder.pending == 9
    recorder._closed = True  # nothing to flush to


def test_events_are_flushed_at_interpreter_exit(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'exit.db'}"
    subprocess.run(
        [sys.executable, str(HERE / "telemetry_workers.py"), "exit-without-flush", url],
        check=True,
        timeout=120,
    )
    with open_store(url) as store:
        assert store.count(kind="retrieval") == 3


def test_closed_recorder_refuses_events(store: TelemetryStore) -> None:
    recorder = Recorder(store, flush_interval_s=0)
    recorder.close()
    with pytest.raises(StoreError, match="closed"):
        recorder.emit("score")
