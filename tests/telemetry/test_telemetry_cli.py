"""``workbench telemetry stats`` and ``tail``."""

from __future__ import annotations

import json

import pytest

from workbench.cli import main
from workbench.telemetry import Event, open_store, pseudonymize


@pytest.fixture
def url(tmp_path) -> str:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    with open_store(url) as store:
        store.append_many(
            [Event.new("generation", learner="ana", team="red", attributes={"n": i}) for i in range(3)]
            + [Event.new("score", learner="bob", team="blue", status="pass", duration_s=1.5)]
        )
    return url


def test_stats_json(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["telemetry", "stats", "--url", url, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["events"] == 4
    assert data["by_kind"] == {"generation": 3, "score": 1}
    assert data["by_learner"] == {pseudonymize("ana"): 3, pseudonymize("bob"): 1}
    assert data["by_team"] == {"red": 3, "blue": 1}
    assert data["store"].endswith("cli.db")
    assert (data["learners"], data["teams"]) == (2, 2)


def test_stats_lists_the_busiest(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["telemetry", "stats", "--url", url, "--top", "1"]) == 0
    out = capsys.readouterr().out
    assert (
        "by learner (busiest 1 of 2):" in out
        and pseudonymize("ana") in out
        and pseudonymize("bob") not in out
    )


def test_stats_text_uses_settings_store(capsys: pytest.CaptureFixture[str], monkeypatch, url: str) -> None:  # type: ignore[no-untyped-def]
    from workbench.settings import reset_settings

    monkeypatch.setenv("WORKBENCH_STORE_URL", url)
    reset_settings()
    assert main(["telemetry", "stats"]) == 0
    out = capsys.readouterr().out
    assert "events:  4" in out and "by kind:" in out and "generation" in out


def test_stats_redacts_the_password(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["telemetry", "stats", "--url", "postgresql+psycopg://me:hunter2@127.0.0.1:1/db", "--json"])
    assert code == 2
    data = json.loads(capsys.readouterr().out)
    assert data["error"] == "StoreError" and "hunter2" not in json.dumps(data)
    assert "me:***@127.0.0.1:1" in data["message"]


def test_tail(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["telemetry", "tail", "-n", "2", "--url", url]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2
    assert "generation" in lines[0] and '"n":2' in lines[0]
    assert "score" in lines[1] and "pass" in lines[1] and "1.500s" in lines[1]


def test_tail_json_with_kind(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["telemetry", "tail", "--kind", "generation", "--json", "--url", url]) == 0
    events = json.loads(capsys.readouterr().out)
    assert [e["attributes"]["n"] for e in events] == [0, 1, 2]
    assert {e["kind"] for e in events} == {"generation"}


def test_bad_kind_is_an_error(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["telemetry", "tail", "--kind", "nope", "--url", url]) == 2
    assert "not an event kind" in capsys.readouterr().err


def test_malformed_url(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["telemetry", "stats", "--url", "nonsense"]) == 2
    err = capsys.readouterr().err
    assert "malformed telemetry store URL 'nonsense'" in err and "hint:" in err
