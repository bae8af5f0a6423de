"""Audited erasure of one learner's events, on real SQLite and PostgreSQL: the one way past append-only."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa

from workbench.cli import main
from workbench.errors import ValidationError
from workbench.telemetry import Event, open_store, pseudonymize
from workbench.telemetry.maintenance import erase_learner, erasures

T0 = datetime(2025, 6, 1, 9, 0, tzinfo=timezone.utc)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A store with 3 events of ana and 2 of ben."""
    url = f"sqlite:///{tmp_path / 'erase.db'}" if request.param == "sqlite" else request.getfixturevalue("pg_url")
    with open_store(url) as store:
        store.append_many([Event.new("score", learner="ana", time=T0, attributes={"i": i}) for i in range(3)]
                          + [Event.new("review", learner="ben", time=T0) for _ in range(2)])
    return str(url)


def _refused(url: str, statement: str) -> str:
    engine = sa.create_engine(url)
    try:
        with pytest.raises(sa.exc.DBAPIError) as info, engine.begin() as conn:
            conn.exec_driver_sql(statement)
        return str(info.value.orig)
    finally:
        engine.dispose()


def test_erasure_deletes_one_learners_events_and_records_it(url: str) -> None:
    record = erase_learner("ana", requested_by="dpo@example.com", reason="learner request #12", store=url)
    assert (record.learner, record.events, record.requested_by) == (pseudonymize("ana"), 3, "dpo@example.com")
    with open_store(url) as store:
        assert store.count() == 2 and store.count(learner="ana") == 0 and store.count(learner="ben") == 2
    [logged] = erasures(url)
    assert logged == record
    assert erasures(url, learner="ben") == []
    again = erase_learner(pseudonymize("ana"), requested_by="dpo", reason="second request", store=url)
    assert again.events == 0  # nothing left, and the request is still on record
    assert [e.events for e in erasures(url, learner="ana")] == [3, 0]


def test_everything_else_stays_append_only(url: str) -> None:
    erase_learner("ana", requested_by="dpo", reason="test", store=url)
    assert "append-only" in _refused(url, "DELETE FROM events")
    assert "append-only" in _refused(url, "UPDATE events SET team = 'x'")
    assert "audit log is append-only" in _refused(url, "DELETE FROM erasures")
    assert "audit log is append-only" in _refused(url, "UPDATE erasures SET events = 0")
    # Opening the gate by hand without an audit record is refused too.
    assert "audit record" in _refused(url, f"INSERT INTO erasure_pending VALUES ('x', '{pseudonymize('ben')}')")
    with open_store(url) as store:
        assert store.count(learner="ben") == 2


def test_an_erasure_names_who_and_why(url: str) -> None:
    for kwargs in ({"requested_by": " ", "reason": "r"}, {"requested_by": "dpo", "reason": ""}):
        with pytest.raises(ValidationError, match="erasure needs"):
            erase_learner("ana", store=url, **kwargs)  # type: ignore[arg-type]
    assert erasures(url) == []


def test_cli_erase_and_list(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["telemetry", "erase", "ben", "--requested-by", "admin", "--reason", "left the company",
                 "--url", url, "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert (record["learner"], record["events"]) == (pseudonymize("ben"), 2)
    assert main(["telemetry", "erasures", "--url", url, "--json"]) == 0
    assert [e["id"] for e in json.loads(capsys.readouterr().out)] == [record["id"]]
    assert main(["telemetry", "erasures", "--url", url]) == 0
    assert "left the company" in capsys.readouterr().out
