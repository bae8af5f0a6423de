"""The REST routes against a real Jupyter server: auth, XSRF, privacy, start/resume, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import nbformat
import pytest
from wb_server_helpers import Server

from workbench.telemetry import Event, EventKind, open_store, pseudonymize

PB = "prompting-fundamentals"
ROUTES = [
    ("GET", "/workbench/api/me"),
    ("GET", "/workbench/api/catalog"),
    ("POST", f"/workbench/api/playbooks/{PB}/start"),
    ("GET", f"/workbench/api/playbooks/{PB}/progress"),
    ("GET", "/workbench/api/progress"),
    ("GET", "/workbench/api/skills"),
    ("GET", "/workbench/api/path"),
    ("GET", "/workbench/api/report"),
    ("GET", "/workbench/api/report/evidence?team=all&skill=prompting"),
]


def _error(response: httpx.Response) -> dict[str, str]:
    body = response.json()
    assert {"error", "message", "hint"} <= set(body), body
    return body


def _record(server: Server, learner: str, task: str, kind: EventKind = EventKind.TASK_COMPLETED) -> None:
    with open_store(f"sqlite:///{server.data_dir}/telemetry.db") as store:
        store.append(Event.new(kind, learner=pseudonymize(learner), playbook=PB, task=task, run_id="r1",
                               duration_s=1.0))


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_every_route_refuses_requests_without_a_token(team_server: Server, method: str, path: str) -> None:
    with team_server.client() as anonymous:
        response = anonymous.request(method, path, json={} if method == "POST" else None)
    assert response.status_code in (401, 403)
    assert _error(response)["error"] == "forbidden"


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_every_route_refuses_a_wrong_token(team_server: Server, method: str, path: str) -> None:
    with team_server.client("not-a-token") as client:
        response = client.request(method, path, json={} if method == "POST" else None)
    assert response.status_code in (401, 403)


def test_mutating_route_needs_the_xsrf_header_with_a_login_cookie(team_server: Server) -> None:
    with team_server.client() as browser:
        # Log in the way a browser does (token in the URL once), then only cookies are sent.
        assert browser.get("/lab", params={"token": "tok-ana"}).status_code == 200
        assert "_xsrf" in browser.cookies
        no_header = browser.post(f"/workbench/api/playbooks/{PB}/start", json={})
        assert no_header.status_code == 403
        assert "_xsrf" in _error(no_header)["message"].lower() or "xsrf" in no_header.text.lower()
        assert not (team_server.root / "workbench" / "ana").exists()  # nothing happened
        wrong = browser.post(f"/workbench/api/playbooks/{PB}/start", json={}, headers={"X-XSRFToken": "forged"})
        assert wrong.status_code == 403
        ok = browser.post(f"/workbench/api/playbooks/{PB}/start", json={},
                          headers={"X-XSRFToken": browser.cookies["_xsrf"]})
        assert ok.status_code in (200, 201), ok.text
        # GETs with the cookie alone are fine (they change nothing).
        assert browser.get("/workbench/api/me").json()["name"] == "Ana"


def test_a_learner_cannot_read_another_learners_progress(team_server: Server) -> None:
    _record(team_server, "ben", "first-generation")
    with team_server.client("tok-ana") as ana, team_server.client("tok-ben") as ben:
        for path in (f"/workbench/api/playbooks/{PB}/progress", "/workbench/api/progress", "/workbench/api/skills",
                     "/workbench/api/path"):
            for who in ("ben", pseudonymize("ben")):
                refused = ana.get(path, params={"learner": who})
                assert refused.status_code == 403, path
                assert "your own" in _error(refused)["message"]
        mine = ana.get(f"/workbench/api/playbooks/{PB}/progress").json()
        assert mine["learner"] == pseudonymize("ana") and mine["completed"] == 0
        assert ana.get("/workbench/api/progress").json()["playbooks"] == []
        his = ben.get(f"/workbench/api/playbooks/{PB}/progress").json()
        assert his["learner"] == pseudonymize("ben")
        assert his["tasks"][0]["status"] == "completed"
        assert his["completed"] == 1
        # Asking for yourself by name is fine.
        assert ben.get("/workbench/api/progress", params={"learner": "ben"}).status_code == 200
        # Your path is yours: your pseudonym, the steps of your role (none without one), the next playbook.
        path = ben.get("/workbench/api/path").json()
        assert path["learner"] == pseudonymize("ben") and {"steps", "gaps", "next"} <= set(path)


def test_manager_report_is_role_gated(team_server: Server) -> None:
    with team_server.client("tok-ana") as ana, team_server.client("tok-boss") as boss:
        refused = ana.get("/workbench/api/report")
        assert refused.status_code == 403
        assert "manager_users" in _error(refused)["hint"]
        assert ana.get("/workbench/api/me").json()["manager"] is False
        assert boss.get("/workbench/api/me").json()["manager"] is True
        report = boss.get("/workbench/api/report")
        assert report.status_code == 200, report.text
        assert report.json()["summary"]["scope"] == "manager"


def test_members_of_the_managers_group_are_managers_and_other_groups_are_not(team_server: Server) -> None:
    # gus is named nowhere in the server's config: only his hub group (WORKBENCH_MANAGER_GROUP) makes him one.
    with team_server.client("tok-gus") as gus, team_server.client("tok-ben") as ben:
        assert gus.get("/workbench/api/me").json()["manager"] is True
        assert gus.get("/workbench/api/report").status_code == 200
        assert ben.get("/workbench/api/me").json()["manager"] is False  # in a group, not the managers' one
        refused = ben.get("/workbench/api/report")
        assert refused.status_code == 403 and "manager_group" in _error(refused)["hint"]


def test_manager_group_comes_from_config_or_the_spawner_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from jupyterhub.singleuser.extension import JupyterHubUser

    from workbench.server.app import WorkbenchApp, user_groups

    member = JupyterHubUser({"name": "gus", "groups": ["leads", "workbench-managers"]})
    assert user_groups(member) == {"leads", "workbench-managers"}
    assert user_groups(JupyterHubUser({"name": "ana"})) == set()  # a model without groups: in none

    monkeypatch.setenv("WORKBENCH_MANAGER_GROUP", " workbench-managers ")
    assert WorkbenchApp().manager_group == "workbench-managers"  # the spawner's environment
    assert WorkbenchApp(manager_group="leads").manager_group == "leads"  # config wins over the environment
    monkeypatch.delenv("WORKBENCH_MANAGER_GROUP")
    assert WorkbenchApp().manager_group == ""  # no group configured: nobody is a manager by group


def test_manager_report_table_suppresses_small_teams_and_drills_down(team_server: Server) -> None:
    from workbench.playbooks import task_skill_weights
    from workbench.skills import generate_cohort, load_cohort_spec
    from workbench.telemetry import is_pseudonym

    # The demo cohort, smaller: two regular teams (>= 6 people) and a 3-person team below the threshold of 5.
    cohort = generate_cohort(f"sqlite:///{team_server.data_dir}/telemetry.db", load_cohort_spec("demo-cohort"),
                             learners=30, playbooks=task_skill_weights())
    sizes: dict[str, int] = {}
    for person in cohort.roster:
        sizes[person["team"]] = sizes.get(person["team"], 0) + 1
    assert sizes["small-team"] == 3 and min(n for t, n in sizes.items() if t != "small-team") >= 5
    big = max(sizes, key=sizes.__getitem__)
    evidence = "/workbench/api/report/evidence"
    with team_server.client("tok-boss") as boss, team_server.client("tok-ana") as ana:
        data = boss.get("/workbench/api/report").json()
        # (Other tests' learners without a team form a suppressed "(no team)" group too.)
        assert "small-team" in data["suppressed_teams"] and big not in data["suppressed_teams"]
        assert data["suppressed_label"] == "suppressed (n<5)"
        assert set(data["skill_names"]) == set(data["skills"]) and data["all_team"] == "all"
        # The level scale (0-4 with the taxonomy's names) and the roles whose targets the panel can compare with.
        assert [(lv["level"], lv["name"]) for lv in data["levels"]][::4] == [(0, "none"), (4, "expert")]
        assert "copilot_builder" in {r["id"] for r in data["roles"]} and data["role"] is None
        rows = {(r["team"], r["skill"]): r for r in data["teams"]}
        assert {t for t, _ in rows} >= {big, "small-team", "all"}
        small = [r for (t, _), r in rows.items() if t == "small-team"]
        assert small and all(r["suppressed"] and r["level"] is None and r["reason"] == "team" for r in small)
        shown = [r for (t, _), r in rows.items() if t == big and not r["suppressed"]]
        assert shown and all(isinstance(r["level"], float) and r["learners"] >= 5 for r in shown)

        skill = shown[0]["skill"]
        cell = boss.get(evidence, params={"team": big, "skill": skill, "limit": 5}).json()
        assert cell["suppressed"] is False and cell["skill_name"] == data["skill_names"][skill]
        assert cell["n"] > 5 and len(cell["items"]) == 5
        first = cell["items"][0]
        assert {"event_id", "time", "learner", "playbook", "task", "outcome"} <= set(first)
        assert all(is_pseudonym(i["learner"]) for i in cell["items"])
        assert [i["time"] for i in cell["items"]] == sorted((i["time"] for i in cell["items"]), reverse=True)

        hidden = boss.get(evidence, params={"team": "small-team", "skill": skill}).json()
        assert hidden["suppressed"] is True and hidden["items"] == [] and hidden["n"] == 0
        assert boss.get(evidence, params={"team": "nope", "skill": skill}).status_code == 404
        assert boss.get(evidence, params={"team": big, "skill": "nope"}).status_code == 404
        assert _error(boss.get(evidence, params={"team": big})).get("error") == "invalid"
        assert boss.get(evidence, params={"team": big, "skill": skill, "limit": "x"}).status_code == 400
        refused = ana.get(evidence, params={"team": big, "skill": skill})
        assert refused.status_code == 403 and "manager_users" in _error(refused)["hint"]


def test_catalog_filters_by_skill_and_role(team_server: Server) -> None:
    with team_server.client("tok-ana") as ana:
        everything = ana.get("/workbench/api/catalog").json()
        row = next(p for p in everything["playbooks"] if p["id"] == PB)
        assert row["tasks"][0]["id"] == "first-generation" and "path" not in row
        assert {s["id"] for s in everything["skills"]} >= {"prompting", "fine_tuning"}
        ids = lambda **q: [p["id"] for p in ana.get("/workbench/api/catalog", params=q).json()["playbooks"]]  # noqa: E731
        assert PB in ids(skill="prompting")
        assert PB in ids(skill="cost_awareness")
        assert PB not in ids(skill="fine_tuning")
        assert PB in ids(role="ml_engineer")
        assert PB not in ids(role="nobody")
        assert PB in ids(skill="prompting", role="copilot_builder")


def test_start_materialises_with_parameters_and_resume_never_overwrites(team_server: Server) -> None:
    with team_server.client("tok-ben") as ben:
        started = ben.post(f"/workbench/api/playbooks/{PB}/start", json={"parameters": {"max_new_tokens": "20"}})
        assert started.status_code == 201, started.text
        data = started.json()
        assert data["status"] == "started" and data["parameters"]["max_new_tokens"] == 20
        notebook = team_server.root / data["path"]
        assert data["path"] == f"workbench/ben/{PB}/{PB}.ipynb"
        assert (notebook.parent / "playbook.yaml").is_file()
        assert (notebook.parent / "rubrics").is_dir()
        nb = nbformat.read(notebook, as_version=4)
        injected = next(c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", []))
        assert "max_new_tokens = 20" in injected.source
        assert pseudonymize("ben") in injected.source and "'ben'" not in injected.source
        assert nb.cells.index(injected) == 1 + next(
            i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", []))

        # The learner works in the notebook; starting again resumes it untouched.
        nb.cells.append(nbformat.v4.new_code_cell("my_own_work = 42"))
        nbformat.write(nb, notebook)
        before = notebook.read_text()
        again = ben.post(f"/workbench/api/playbooks/{PB}/start", json={"parameters": {"max_new_tokens": 99}})
        assert again.status_code == 200
        assert again.json()["status"] == "resumed"
        assert again.json()["run_id"] == data["run_id"]
        assert any("not applied" in n for n in again.json()["notices"])
        assert notebook.read_text() == before
        progress = ben.get(f"/workbench/api/playbooks/{PB}/progress").json()
        assert progress["workspace"]["path"] == data["path"]


def test_bad_input_gets_json_errors_with_hints(team_server: Server) -> None:
    with team_server.client("tok-ana") as ana:
        unknown = ana.post("/workbench/api/playbooks/no-such-playbook/start", json={})
        assert unknown.status_code == 404
        body = _error(unknown)
        assert body["error"] == "not_found" and "no-such-playbook" in body["message"]
        assert PB in body["hint"]
        assert ana.get("/workbench/api/playbooks/no-such-playbook/progress").status_code == 404
        assert ana.post(f"/workbench/api/playbooks/{PB}/start",
                        json={"parameters": {"nope": 1}}).json()["error"] == "invalid"
        typed = ana.post(f"/workbench/api/playbooks/{PB}/start", json={"parameters": {"max_new_tokens": "many"}})
        assert typed.status_code == 400 and _error(typed)["hint"]
        not_json = ana.post(f"/workbench/api/playbooks/{PB}/start", content=b"{oops")
        assert not_json.status_code == 400 and _error(not_json)["error"] == "bad_json"
        assert ana.post(f"/workbench/api/playbooks/{PB}/start", json={"parameters": [1]}).status_code == 400
        assert ana.post("/workbench/api/playbooks/..%2F..%2Fetc/start", json={}).status_code in (400, 404)


def test_corrupted_progress_record_is_reported_then_repaired(team_server: Server) -> None:
    with team_server.client("tok-boss") as boss:
        data = boss.post(f"/workbench/api/playbooks/{PB}/start", json={}).json()
        record = team_server.root / data["folder"] / ".workbench-run.json"
        record.write_text('{"run_id": "lab-1", "playb')  # a crash mid-write by some other tool
        broken = boss.get(f"/workbench/api/playbooks/{PB}/progress")
        assert broken.status_code == 409
        body = _error(broken)
        assert body["error"] == "corrupted_progress_record"
        assert "corrupted" in body["message"] and "Start/Resume" in body["hint"]
        repaired = boss.post(f"/workbench/api/playbooks/{PB}/start", json={})
        assert repaired.status_code == 200 and repaired.json()["status"] == "resumed"
        assert any("moved to" in n for n in repaired.json()["notices"])
        assert boss.get(f"/workbench/api/playbooks/{PB}/progress").status_code == 200
        assert list(record.parent.glob(".workbench-run.json.corrupt-*"))


def test_workspace_stays_inside_the_server_root(tmp_path: Path) -> None:
    from workbench.errors import ValidationError
    from workbench.server.workspace import check_inside

    assert check_inside(tmp_path, tmp_path / "workbench") == (tmp_path / "workbench").resolve()
    with pytest.raises(ValidationError, match="outside the server's root"):
        check_inside(tmp_path / "root", tmp_path / "root" / ".." / "elsewhere")


def test_injected_cell_round_trips_parameters() -> None:
    from workbench.server.workspace import injected_source

    source = injected_source({"a": "x'y", "n": 3, "f": 0.5}, learner="p_0123456789abcdef", playbook="pb",
                             run_id="lab-1")
    scope: dict[str, object] = {}
    exec(compile(source.replace("_wb_set_context(", "dict("), "<cell>", "exec"), scope)
    assert scope["a"] == "x'y" and scope["n"] == 3 and scope["f"] == 0.5
    assert json.dumps(source)  # plain text


def test_manager_users_accepts_every_command_line_form() -> None:
    from workbench.server.app import WorkbenchApp, manager_names

    assert manager_names(['["ana", "ben"]']) == ["ana", "ben"]  # a JSON list typed on the command line
    assert manager_names(["ana", "ben"]) == ["ana", "ben"]  # traitlets' repeated option
    assert manager_names(["ana, ben", " ", "ana"]) == ["ana", "ben"]  # comma-separated, blanks and repeats dropped
    assert manager_names("['ana','ben']") == ["ana", "ben"]  # single quotes: not JSON, still names
    assert WorkbenchApp(manager_users=['["boss"]']).manager_users == ["boss"]
