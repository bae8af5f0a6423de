"""LTI Assignment and Grade Services passback against a fake platform on 127.0.0.1 (``tests/fake_lms.py``).

Real store (SQLite, migrated), real learner events, real progress, real HTTP, real RS256 signatures: the only
fake is the LMS, whose token endpoint verifies the tool's signed assertion against the tool's public key.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fake_lms import FakeAGS, start_ags

from workbench.cli import main
from workbench.errors import ConfigError
from workbench.playbooks.lti_ags import (
    AGS_CLAIM,
    SCORE_SCOPE,
    link_from_launch,
    load_tool_key,
    pass_back_grades,
    remember_launch,
    scores_url,
)
from workbench.telemetry import Event, open_store, pseudonymize
from workbench.telemetry.maintenance import erase_learner

PB = "critique-rubrics"  # five tasks
CLIENT_ID = "tool-client-9"
SUB = "Opaque-Sub-7781"  # case kept: the score's userId is the platform's sub as it sent it
REAL_NAME, EMAIL = "Ana Example-Lopez", "ana.lopez@example.org"
LEARNER = pseudonymize(SUB.lower())  # the hub user name (lower-cased sub), pseudonymised


def _key_file(path: Path) -> rsa.RSAPrivateKey:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())  # fmt: skip
    path.write_bytes(pem)
    return key


@pytest.fixture
def tool_key(tmp_path: Path) -> tuple[Path, rsa.RSAPrivateKey]:
    path = tmp_path / "tool.pem"
    return path, _key_file(path)


@pytest.fixture
def lms(tool_key: tuple[Path, rsa.RSAPrivateKey]) -> Iterator[FakeAGS]:
    with start_ags(CLIENT_ID, tool_key[1].public_key()) as fake:
        yield fake


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The organisation's store: a SQLite file, or a new database on the session's PostgreSQL server."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'org.db'}"
    server: str = request.getfixturevalue("postgres_url")
    name = "wb_lti_" + uuid.uuid4().hex[:12]
    engine = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    engine.dispose()
    return sa.make_url(server).set(database=name).render_as_string(hide_password=False)


def _id_token(lms: FakeAGS, lineitem: str, scopes: list[str] | None = None) -> dict[str, Any]:
    return {
        "iss": lms.url, "aud": CLIENT_ID, "sub": SUB, "name": REAL_NAME, "email": EMAIL,
        "https://purl.imsglobal.org/spec/lti/claim/deployment_id": "dep-1",
        AGS_CLAIM: {"scope": scopes if scopes is not None else [SCORE_SCOPE], "lineitem": lineitem},
    }  # fmt: skip


def _env(lms: FakeAGS, key: Path) -> dict[str, str]:
    return {"WORKBENCH_LTI_TOOL_KEY": str(key), "WORKBENCH_LTI_TOKEN_URL": lms.token_url,
            "WORKBENCH_LTI_ISSUER": lms.url}  # fmt: skip


def _task(store: Any, task: str, kind: str = "task_completed", score: float | None = None) -> None:
    store.append(Event.new(kind, learner=LEARNER, playbook=PB, task=task, duration_s=1.0))
    if score is not None:
        store.append(Event.new("score", learner=LEARNER, playbook=PB, task=task,
                               attributes={"score": score, "passed": score >= 0.5}))  # fmt: skip


def _task_in(store_url: str, task: str) -> None:
    with open_store(store_url) as store:
        _task(store, task)


def test_a_score_goes_once_then_again_only_when_it_changes(
    lms: FakeAGS, tool_key: Any, store_url: str
) -> None:
    lineitem = lms.lineitem("li-1", "type_id=7")
    with open_store(store_url) as store:
        remember_launch(link_from_launch(_id_token(lms, lineitem), PB, LEARNER), store)  # type: ignore[arg-type]
        env = _env(lms, tool_key[0])
        assert pass_back_grades(env, store=store).to_dict()["waiting"] == 1  # no task event yet: nothing sent
        assert lms.scores == [] and lms.token_requests == []
        _task(store, "read-rubric")
        _task(store, "deterministic-scorers", score=0.5)
        first = pass_back_grades(env, store=store)
        assert (first.sent, first.failed) == (1, 0), first
        [sent] = lms.scores
        assert (sent["lineitem"], sent["query"]) == ("/lineitems/li-1", "type_id=7")  # /scores in the path
        body = sent["body"]
        assert {k: body[k] for k in body if k != "timestamp"} == {
            "userId": SUB, "scoreGiven": 1.5, "scoreMaximum": 5.0,
            "activityProgress": "InProgress", "gradingProgress": "Pending"}  # fmt: skip
        assert datetime.fromisoformat(body["timestamp"]).tzinfo is not None
        assert lms.refusals == [] and len(lms.token_requests) == 1
        # Unchanged: not sent again (and no token asked for).
        again = pass_back_grades(env, store=store)
        assert (
            (again.sent, again.unchanged) == (0, 1) and len(lms.scores) == 1 and len(lms.token_requests) == 1
        )
        # Every task done: sent again, complete and fully graded.
        for task in ("llm-judge", "review-agreement", "my-critique"):
            _task(store, task)
        assert pass_back_grades(env, store=store).sent == 1
        last = lms.scores[-1]["body"]
        assert (last["scoreGiven"], last["activityProgress"], last["gradingProgress"]) == (4.5, "Completed",
                                                                                           "FullyGraded")  # fmt: skip
        assert lms.refusals == []


def test_an_lms_outage_keeps_the_score_for_the_next_pass(lms: FakeAGS, tool_key: Any, store_url: str) -> None:
    with open_store(store_url) as store:
        remember_launch(link_from_launch(_id_token(lms, lms.lineitem("li-2")), PB, LEARNER), store)  # type: ignore[arg-type]
        _task(store, "read-rubric")
        lms.down = True
        down = pass_back_grades(_env(lms, tool_key[0]), store=store)
        assert (down.sent, down.failed) == (0, 1) and "503" in down.errors[0], down
        with store.connection("read") as conn:
            row = conn.execute(sa.text("SELECT sent, error FROM lti_links")).one()
        assert row.sent is None and "503" in row.error  # kept, with why
        lms.down = False
        up = pass_back_grades(_env(lms, tool_key[0]), store=store)
        assert (up.sent, up.failed) == (1, 0) and lms.scores[0]["body"]["scoreGiven"] == 1.0
        with store.connection("read") as conn:
            assert conn.execute(sa.text("SELECT error FROM lti_links")).scalar() is None


def test_a_refused_token_is_an_error_kept_and_the_score_waits(tmp_path: Path, store_url: str) -> None:
    registered, used = _key_file(tmp_path / "registered.pem"), tmp_path / "other.pem"
    _key_file(used)  # the hub signs with a key the LMS does not know
    with start_ags(CLIENT_ID, registered.public_key()) as lms, open_store(store_url) as store:
        remember_launch(link_from_launch(_id_token(lms, lms.lineitem("li-3")), PB, LEARNER), store)  # type: ignore[arg-type]
        _task(store, "read-rubric")
        result = pass_back_grades(_env(lms, used), store=store)
        assert result.failed == 1 and "token endpoint refused" in result.errors[0]
        assert lms.scores == [] and lms.refusals and lms.refusals[0].startswith("invalid_client")
        # The right key (re-registered): the waiting score goes.
        assert pass_back_grades(_env(lms, tmp_path / "registered.pem"), store=store).sent == 1


def test_the_cli_sends_and_reports_json(
    lms: FakeAGS, tool_key: Any, store_url: str, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    for name, value in {**_env(lms, tool_key[0]), "WORKBENCH_STORE_URL": store_url}.items():
        monkeypatch.setenv(name, value)
    with open_store(store_url) as store:
        remember_launch(link_from_launch(_id_token(lms, lms.lineitem("li-4")), PB, LEARNER), store)  # type: ignore[arg-type]
        _task(store, "read-rubric")
    lms.down = True
    assert main(["lti", "passback", "--json"]) == 1
    assert json.loads(capsys.readouterr().out)["failed"] == 1
    lms.down = False
    assert main(["lti", "passback", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"sent": 1, "unchanged": 0, "waiting": 0, "failed": 0,
                                                    "errors": []}  # fmt: skip
    # As a service (--every): pass after pass, the unchanged score is not sent again.
    _task_in(store_url, "deterministic-scorers")
    assert main(["lti", "passback", "--every", "1", "--passes", "2", "--json"]) == 0
    passes = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(p["sent"], p["unchanged"]) for p in passes] == [(1, 0), (0, 1)] and len(lms.scores) == 2
    assert main(["lti", "jwks"]) == 0
    [jwk] = json.loads(capsys.readouterr().out)["keys"]
    assert jwk["kid"] == load_tool_key().kid and jwk["alg"] == "RS256" and "d" not in jwk  # public only


def test_a_missing_or_bad_key_is_a_clear_error_naming_the_variable(tmp_path: Path, capsys: Any) -> None:
    url = "https://lms.example/token"
    with pytest.raises(ConfigError, match="WORKBENCH_LTI_TOOL_KEY is not set"):
        pass_back_grades({"WORKBENCH_LTI_TOKEN_URL": url})
    with pytest.raises(ConfigError, match=r"WORKBENCH_LTI_TOOL_KEY=.*cannot be read"):
        load_tool_key({"WORKBENCH_LTI_TOOL_KEY": str(tmp_path / "absent.pem")})
    (tmp_path / "bad.pem").write_text("not a key")
    with pytest.raises(ConfigError, match=r"WORKBENCH_LTI_TOOL_KEY=.*not an unencrypted PEM") as info:
        load_tool_key({"WORKBENCH_LTI_TOOL_KEY": str(tmp_path / "bad.pem")})
    assert "openssl genpkey" in (info.value.hint or "")
    _key_file(tmp_path / "ok.pem")
    with pytest.raises(ConfigError, match="WORKBENCH_LTI_TOKEN_URL is not set"):
        pass_back_grades({"WORKBENCH_LTI_TOOL_KEY": str(tmp_path / "ok.pem")})
    assert main(["lti", "jwks"]) == 2  # the CLI: the error and its hint, exit 2
    assert "WORKBENCH_LTI_TOOL_KEY" in capsys.readouterr().err


def test_only_a_graded_launch_of_a_playbook_is_kept_and_no_name_or_address_is_stored(
    lms: FakeAGS, tmp_path: Path
) -> None:
    store_url = f"sqlite:///{tmp_path / 'org.db'}"  # the file's bytes are read below
    lineitem = lms.lineitem("li-5")
    assert link_from_launch(_id_token(lms, lineitem), None, LEARNER) is None  # no playbook
    assert link_from_launch(_id_token(lms, lineitem, scopes=["https://purl.imsglobal.org/spec/lti-ags/scope/"
                                                             "lineitem.readonly"]), PB, LEARNER) is None  # fmt: skip
    assert (
        link_from_launch({k: v for k, v in _id_token(lms, lineitem).items() if k != AGS_CLAIM}, PB, LEARNER)
        is None
    )
    link = link_from_launch(_id_token(lms, lineitem), PB, LEARNER)
    assert link is not None
    with open_store(store_url) as store:
        remember_launch(link, store)
        remember_launch(link, store)  # a relaunch: still one row
        with store.connection("read") as conn:
            rows = [r._asdict() for r in conn.execute(sa.text("SELECT * FROM lti_links"))]
        assert len(rows) == 1 and rows[0]["sub"] == SUB and rows[0]["learner"] == LEARNER
        assert rows[0]["client_id"] == CLIENT_ID and rows[0]["deployment_id"] == "dep-1"
    raw = (tmp_path / "org.db").read_bytes() + b"".join(p.read_bytes() for p in tmp_path.glob("org.db-*"))
    assert REAL_NAME.encode() not in raw and EMAIL.encode() not in raw
    # Erasing the learner erases their links too: nothing more goes to the LMS for them.
    with open_store(store_url) as store:
        erase_learner(LEARNER, requested_by="dpo", reason="request", store=store)
        with store.connection("read") as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM lti_links")).scalar() == 0


def test_scores_url_puts_scores_in_the_path() -> None:
    assert (
        scores_url("https://lms/api/lti/courses/1/line_items/2")
        == "https://lms/api/lti/courses/1/line_items/2/scores"
    )
    assert scores_url("https://lms/mod/lti/services.php/3/lineitems/4/lineitem?type_id=5") == (
        "https://lms/mod/lti/services.php/3/lineitems/4/lineitem/scores?type_id=5")  # fmt: skip
