"""Scoped event attributes (how a playbook task stamps its events with their origin) and the ``hint`` kind."""

from __future__ import annotations

import threading

from workbench.telemetry import (
    SCHEMA_VERSION,
    EventKind,
    Recorder,
    TelemetryStore,
    event_attributes,
    scoped_attributes,
    track,
)


def test_events_made_in_a_scope_carry_its_attributes(store: TelemetryStore) -> None:
    recorder = Recorder(store, batch_size=100, flush_interval_s=0)
    live = {"origin": "learner", "hints": 0}
    with event_attributes(live), track("count", recorder=recorder, skills={"prompting": 1.0}):
        recorder.emit("score", score=1.0)
        live["hints"] = 1  # read when each event is made: a hint revealed mid-task shows on later events
        recorder.emit("score", score=0.5, origin="explicit wins")
        with event_attributes({"attempt": 2, "origin": "solution"}):  # inner scopes win
            assert scoped_attributes() == {"origin": "solution", "hints": 1, "attempt": 2}
            recorder.emit("generation")
    recorder.emit("generation", n=1)
    assert scoped_attributes() == {}
    recorder.flush()
    events = store.query()
    started, first, second, inner, completed, outside = events
    assert started.attributes["origin"] == "learner" and started.attributes["hints"] == 0
    assert first.attributes["origin"] == "learner" and first.attributes["hints"] == 0
    assert second.attributes["origin"] == "explicit wins" and second.attributes["hints"] == 1
    assert (inner.attributes["origin"], inner.attributes["attempt"]) == ("solution", 2)
    assert completed.kind == EventKind.TASK_COMPLETED and completed.attributes["hints"] == 1
    assert completed.attributes["skills"] == {"prompting": 1.0}
    assert "origin" not in outside.attributes and outside.schema_version == SCHEMA_VERSION


def test_scopes_are_private_to_a_thread() -> None:
    seen: list[dict] = []
    with event_attributes({"origin": "learner"}):
        worker = threading.Thread(target=lambda: seen.append(scoped_attributes()))
        worker.start()
        worker.join()
        assert scoped_attributes() == {"origin": "learner"}
    assert seen == [{}]


def test_hint_events_round_trip(store: TelemetryStore) -> None:
    recorder = Recorder(store, batch_size=100, flush_interval_s=0)
    recorder.emit("hint", task="count", exercise="count", hint_index=1, hints_total=2)
    recorder.flush()
    [event] = store.query(kind="hint")
    assert event.kind == EventKind.HINT and event.attributes == {"exercise": "count", "hint_index": 1, "hints_total": 2}
