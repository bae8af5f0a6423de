"""The event schema, pseudonyms, secret masking and the context."""

from __future__ import annotations

import math
import sqlite3
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pydantic
import pytest

from workbench.settings import reset_settings
from workbench.telemetry import (
    SCHEMA_VERSION,
    Event,
    EventKind,
    TelemetryStore,
    context,
    mask_secrets,
    pseudonymize,
    resolve_context,
    set_context,
)
from workbench.telemetry.privacy import is_secret_key


def test_schema_round_trips_through_json_and_the_store(store: TelemetryStore) -> None:
    event = Event.new(
        EventKind.GENERATION,
        learner="ana@example.com",
        team="support",
        playbook="rag-101",
        task="ask",
        run_id="run-1",
        duration_s=0.25,
        status="ok",
        attributes={
            "gen_ai.request.model": "workbench-tiny",
            "gen_ai.usage.input_tokens": 12,
            "nested": {"a": [1]},
        },
    )
    assert event.schema_version == SCHEMA_VERSION == 1
    assert Event.model_validate_json(event.model_dump_json()) == event
    store.append(event)
    (stored,) = store.query()
    assert stored == event
    assert stored.time.tzinfo is not None and stored.time.utcoffset() == timedelta(0)
    assert isinstance(stored.kind, EventKind)


def test_event_is_frozen_and_strict() -> None:
    event = Event.new("score")
    with pytest.raises(pydantic.ValidationError):
        event.team = "x"  # type: ignore[misc]
    with pytest.raises(pydantic.ValidationError):
        Event(kind="not-a-kind")  # type: ignore[arg-type]
    with pytest.raises(pydantic.ValidationError):
        Event(kind="score", colour="red")  # type: ignore[call-arg]
    with pytest.raises(pydantic.ValidationError):
        Event(kind="score", duration_s=-1)


def test_times_are_utc() -> None:
    naive = Event(kind="score", time=datetime(2025, 1, 2, 3, 4, 5))
    assert naive.time == datetime(2025, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    paris = timezone(timedelta(hours=1))
    aware = Event(kind="score", time=datetime(2025, 1, 2, 4, 4, 5, tzinfo=paris))
    assert aware.time == naive.time and aware.time.tzinfo == timezone.utc


def test_attributes_become_json() -> None:
    event = Event.new(
        "training_run",
        attributes={
            "shape": (2, 3),
            "loss": math.nan,
            "peak": math.inf,
            "path": Path("/tmp/x"),
            "at": datetime(2025, 1, 1, tzinfo=timezone.utc),
            "kinds": {"email", "phone"},
            "kind": EventKind.SCORE,
            1: "int key",
        },
    )
    assert event.attributes == {
        "shape": [2, 3],
        "loss": None,
        "peak": None,
        "path": "/tmp/x",
        "at": "2025-01-01T00:00:00+00:00",
        "kinds": ["email", "phone"],
        "kind": "score",
        "1": "int key",
    }


def test_pseudonymize_is_stable_salted_and_idempotent(monkeypatch: pytest.MonkeyPatch) -> None:
    alias = pseudonymize("ana@example.com")
    assert alias.startswith("p_") and len(alias) == 18
    int(alias[2:], 16)
    assert pseudonymize("ana@example.com") == alias == pseudonymize("  ana@example.com ")
    assert pseudonymize(alias) == alias
    assert pseudonymize("bob@example.com") != alias
    assert pseudonymize("ana@example.com", salt="other") != alias
    monkeypatch.setenv("WORKBENCH_PSEUDONYM_SALT", "org-secret")
    reset_settings()
    assert pseudonymize("ana@example.com") == pseudonymize("ana@example.com", salt="org-secret") != alias


def test_events_store_only_pseudonyms() -> None:
    event = Event.new("score", learner="ana@example.com")
    assert event.learner == pseudonymize("ana@example.com")
    assert Event.model_validate(event.model_dump()).learner == event.learner


@pytest.mark.parametrize(
    "key",
    [
        "api_key",
        "OPENAI_API_KEY",
        "apiKey",
        "x-api-key",
        "password",
        "db.password",
        "token",
        "access_token",
        "authToken",
        "secret",
        "client_secret",
        "Authorization",
        "credentials",
        "private_key",
    ],
)
def test_secret_keys_are_recognised(key: str) -> None:
    assert is_secret_key(key)


@pytest.mark.parametrize(
    "key",
    [
        "gen_ai.usage.input_tokens",
        "gen_ai.usage.output_tokens",
        "max_tokens",
        "token_count",
        "tokens",
        "keyword",
        "monkey",
        "skills",
        "passed",
        "latency_s",
    ],
)
def test_ordinary_keys_are_kept(key: str) -> None:
    assert not is_secret_key(key)


def test_secrets_are_masked_recursively_before_storage(store: TelemetryStore, store_path: Path) -> None:
    event = Event.new(
        "generation",
        attributes={
            "api_key": "sk-live-1234567890abcdef",
            "gen_ai.usage.input_tokens": 7,
            "config": {"endpoint": {"Authorization": "Bearer abc.def", "timeout": 3}, "password": "hunter2"},
            "calls": [{"token": "t0k3n", "n": 1}],
            "header": "Bearer eyJhbGciOiJIUzI1NiJ9",
            "url": "postgresql://admin:hunter3@db.internal/wb",
            "note": "plain text stays",
        },
    )
    assert event.attributes == {
        "api_key": "***",
        "gen_ai.usage.input_tokens": 7,
        "config": {"endpoint": {"Authorization": "***", "timeout": 3}, "password": "***"},
        "calls": [{"token": "***", "n": 1}],
        "header": "***",
        "url": "postgresql://admin:***@db.internal/wb",
        "note": "plain text stays",
    }
    store.append(event)
    raw = sqlite3.connect(store_path).execute("SELECT attributes FROM events").fetchone()[0]
    for secret in ("sk-live", "abc.def", "hunter2", "hunter3", "t0k3n", "eyJhbGci"):
        assert secret not in raw
    assert mask_secrets({"password": None}) == {"password": None}


def test_context_resolution_order(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKBENCH_PLAYBOOK", "from-env")
    monkeypatch.setenv("WORKBENCH_RUN_ID", "run-env")
    monkeypatch.setenv("WORKBENCH_TEAM", "team-env")
    reset_settings()
    assert resolve_context()["playbook"] == "from-env"
    assert resolve_context()["team"] == "team-env"
    set_context(playbook="from-set", learner="ana")
    assert context()["playbook"] == "from-set"
    with context(playbook="from-scope", task="t1"):
        ctx = resolve_context()
        assert (ctx["playbook"], ctx["task"], ctx["run_id"]) == ("from-scope", "t1", "run-env")
        assert resolve_context(playbook="explicit")["playbook"] == "explicit"
        event = Event.new("score")
        assert (event.playbook, event.task, event.learner) == ("from-scope", "t1", pseudonymize("ana"))
    assert resolve_context()["task"] is None
    set_context(playbook=None)
    assert resolve_context()["playbook"] is None
    with pytest.raises(TypeError, match="unknown telemetry context"):
        set_context(colour="red")


def test_learner_defaults_to_env_then_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKBENCH_LEARNER", "env-learner")
    assert Event.new("score").learner == pseudonymize("env-learner")
    monkeypatch.delenv("WORKBENCH_LEARNER")
    reset_settings()
    assert Event.new("score").learner is not None  # the login name, pseudonymised


def test_set_context_is_seen_by_other_threads_but_scopes_are_not() -> None:
    set_context(team="blue")
    seen: dict[str, object] = {}
    with context(task="mine"):
        thread = threading.Thread(target=lambda: seen.update(resolve_context()))
        thread.start()
        thread.join()
    assert seen["team"] == "blue"
    assert seen["task"] is None
