"""xAPI statements round-trip through a real learning record store (Ralph, started here), and none is lost.

The LRS is Ralph (``ralph-malph``) in its own venv (``make lrs``; its pins conflict with Workbench's), run with
its file-system backend on a free loopback port and HTTP basic auth. ``make test`` names it in
``WORKBENCH_TEST_LRS``; without that variable (a bare ``pytest``) the LRS tests are skipped, saying how to run
them.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from wb_lab import free_port

from workbench.errors import ConfigError
from workbench.telemetry import Recorder, open_store
from workbench.telemetry.xapi import VERBS, XapiConfig, XapiForwarder, statement_id, statements_of

USER, PASSWORD = "workbench", "lrs-s3cret"
#: Ralph's API app under uvicorn, as ``ralph runserver -b fs`` starts it, with one change: Ralph 5.1's file-system
#: backend creates its statements file on the first write and refuses every later write ("already exists and
#: overwrite is not allowed"), so the LRS would take one batch in its life. Writes append instead; the API, its
#: validation, auth, duplicate handling and queries are Ralph's own.
_SERVE = """
import sys, uvicorn
from ralph.backends.data.base import BaseOperationType
from ralph.backends.lrs.fs import FSLRSBackend
FSLRSBackend.default_operation_type = BaseOperationType.APPEND
uvicorn.run("ralph.api:app", host="127.0.0.1", port=int(sys.argv[1]), log_level="info")
"""


class Lrs:
    """A running Ralph LRS."""

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint

    def config(self, **overrides: Any) -> XapiConfig:
        return XapiConfig(**{"endpoint": self.endpoint, "username": USER, "password": PASSWORD, **overrides})

    def statements(self) -> list[dict[str, Any]]:
        """Every statement the LRS holds (following ``more`` links)."""
        found: list[dict[str, Any]] = []
        url = f"{self.endpoint}/statements?limit=500"
        with httpx.Client(auth=(USER, PASSWORD), headers={"X-Experience-API-Version": "1.0.3"}) as http:
            while url:
                page = http.get(url, timeout=30)
                page.raise_for_status()
                body = page.json()
                found.extend(body["statements"])
                more = body.get("more")
                url = f"{self.endpoint.rsplit('/xAPI', 1)[0]}{more}" if more else ""
        return found


@pytest.fixture(scope="module")
def lrs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lrs]:
    ralph = os.environ.get("WORKBENCH_TEST_LRS")
    if not ralph:
        pytest.skip("no learning record store: run `make test` (it installs Ralph with `make lrs`)")
    assert Path(ralph).is_file(), f"WORKBENCH_TEST_LRS={ralph} does not exist: run `make lrs`"
    base = tmp_path_factory.mktemp("lrs")
    env = {**os.environ, "RALPH_APP_DIR": str(base / "app"), "RALPH_RUNSERVER_BACKEND": "fs"}
    subprocess.run([ralph, "auth", "-u", USER, "-p", PASSWORD, "-s", "all", "-M", "mailto:lrs@example.org", "-w"],
                   env=env, check=True, capture_output=True, timeout=120)  # fmt: skip
    port = free_port()
    log = (base / "lrs.log").open("wb")
    env.update(RALPH_BACKENDS__LRS__FS__DEFAULT_DIRECTORY_PATH=str(base / "data"))
    python = str(Path(ralph).with_name("python"))
    proc = subprocess.Popen([python, "-c", _SERVE, str(port)], env=env, stdout=log, stderr=subprocess.STDOUT)
    endpoint = f"http://127.0.0.1:{port}/xAPI"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/__heartbeat__", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, (base / "lrs.log").read_text()[-2000:]
            time.sleep(0.3)
        yield Lrs(endpoint)
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def _learner_work(settings: Any) -> None:
    """One learner's playbook task (started, completed), a failed attempt, two scores, and other events."""
    with Recorder(flush_interval_s=0) as rec:
        common = {"learner": "ana", "team": "support", "playbook": "prompting-fundamentals", "run_id": "run-1"}
        rec.emit("task_started", task="first-prompt", attributes={"attempt": 1}, **common)
        rec.emit("task_completed", task="first-prompt", duration_s=12.5, attributes={"attempt": 1}, **common)
        rec.emit("task_failed", task="prompt-review", duration_s=3.0, **common)
        rec.emit("score", task="prompt-review", status="passed", attributes={
            "score": 0.75, "raw_score": 3, "max_score": 4, "passed": True, "subject": "learner"}, **common)  # fmt: skip
        # Not for the LRS: a copilot's answer score, a per-criterion score, a generation, a task outside any playbook.
        rec.emit("score", task="evaluate", attributes={"score": 0.1, "subject": "copilot"}, **common)
        rec.emit("score", task="prompt-review", attributes={"score": 1.0, "criterion": "clear"}, **common)
        rec.emit("generation", task="first-prompt", **common)
        rec.emit("task_completed", task="outside-any-playbook")


def test_statements_round_trip_through_a_real_lrs(settings: Any, lrs: Lrs) -> None:
    _learner_work(settings)
    with XapiForwarder(lrs.config()) as forwarder:
        assert forwarder.pending() == 4
        result = forwarder.sync()
    assert (result.sent, result.pending, result.error) == (4, 0, None)
    with open_store() as store:
        events = {e.id: e for e in store.query()}
    stored = {s["id"]: s for s in lrs.statements()}
    mine = {sid: s for sid, s in stored.items() if sid in {statement_id(e) for e in events}}
    assert len(mine) == 4
    by_verb = {s["verb"]["id"]: s for s in mine.values()}
    assert set(by_verb) == set(VERBS.values())
    done = by_verb[VERBS["task_completed"]]
    learner = next(e.learner for e in events.values() if e.task == "first-prompt")
    assert done["actor"]["account"] == {"homePage": "https://workbench.invalid/accounts", "name": learner}
    assert learner.startswith("p_") and "ana" not in str(mine)  # the pseudonym, never the raw id
    assert done["object"]["id"] == "https://workbench.invalid/xapi/playbooks/prompting-fundamentals/tasks/first-prompt"
    assert done["result"] == {"success": True, "completion": True, "duration": "PT12.50S"}
    assert by_verb[VERBS["task_failed"]]["result"]["success"] is False
    scored = by_verb[VERBS["score"]]["result"]
    assert scored["score"] == {"scaled": 0.75, "raw": 3, "min": 0, "max": 4} and scored["success"] is True
    # A second sync sends nothing again.
    with XapiForwarder(lrs.config()) as forwarder:
        assert forwarder.sync().sent == 0


def test_an_unreachable_lrs_loses_no_statement(settings: Any, lrs: Lrs) -> None:
    _learner_work(settings)
    gone = XapiConfig(endpoint=f"http://127.0.0.1:{free_port()}/xAPI", username=USER, password=PASSWORD, timeout_s=2)
    with XapiForwarder(gone) as forwarder:
        result = forwarder.sync()
    assert result.sent == 0 and result.pending == 4 and "unreachable" in (result.error or "")
    with XapiForwarder(lrs.config(password="wrong")) as forwarder:
        refused = forwarder.sync()
    assert refused.sent == 0 and refused.pending == 4 and "401" in (refused.error or "")
    before = len(lrs.statements())
    with XapiForwarder(lrs.config(batch_size=3)) as forwarder:  # later, the LRS is back: all of them go
        assert forwarder.sync().to_dict() == {"sent": 4, "pending": 0, "error": None}
    assert len(lrs.statements()) == before + 4


def test_a_resent_batch_is_stored_once(settings: Any, lrs: Lrs) -> None:
    """The LRS stored a batch but the reply was lost: the same statements go again and are stored once."""
    _learner_work(settings)
    with open_store() as store:
        statements = statements_of(store.query(), lrs.config())
    headers = {"X-Experience-API-Version": "1.0.3"}
    posted = httpx.post(f"{lrs.endpoint}/statements", json=statements, auth=(USER, PASSWORD), headers=headers)
    assert posted.status_code == 200
    before = len(lrs.statements())
    with XapiForwarder(lrs.config()) as forwarder:
        assert forwarder.sync().sent == 4
    assert len(lrs.statements()) == before


def test_the_recorder_wakes_the_forwarder_and_the_cli_syncs(
    settings: Any, lrs: Lrs, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from workbench.cli import main
    from workbench.settings import reset_settings
    from workbench.telemetry.xapi import start_forwarding, stop_forwarding

    with pytest.raises(ConfigError, match="no learning record store"):
        XapiForwarder()
    monkeypatch.setenv("WORKBENCH_XAPI_ENDPOINT", lrs.endpoint)
    monkeypatch.setenv("WORKBENCH_XAPI_USERNAME", USER)
    monkeypatch.setenv("WORKBENCH_XAPI_PASSWORD", PASSWORD)
    reset_settings()
    try:
        wake = start_forwarding()
        assert wake is not None and start_forwarding() == wake  # one thread per process
        with Recorder(flush_interval_s=0) as rec:
            rec.after_write = wake
            rec.emit("task_completed", learner="ana", playbook="rag-wiring", task="build-index")
        deadline = time.monotonic() + 30
        while not [s for s in lrs.statements() if s["object"]["id"].endswith("/rag-wiring/tasks/build-index")]:
            assert time.monotonic() < deadline, "the woken forwarder never sent the statement"
            time.sleep(0.2)
    finally:
        stop_forwarding()
    _learner_work(settings)
    assert main(["telemetry", "xapi-sync", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"sent": 4, "pending": 0, "error": None}
