"""``GET /workbench/launch/<id>``: the page an LMS launch lands on (through the hub, workbench.server.lti).

The LTI flow itself, with a real hub and a fake LMS, is tests/browser/test_workbench_lti.py; here the page alone,
fast, on the team server.
"""

from __future__ import annotations

from urllib.parse import unquote

from wb_server_helpers import Server

PB = "critique-rubrics"


def test_launch_starts_the_playbook_then_opens_its_notebook_and_a_relaunch_resumes_it(team_server: Server) -> None:
    with team_server.client("tok-ana") as ana:
        first = ana.get(f"/workbench/launch/{PB}")
        assert first.status_code == 302, first.text
        location = first.headers["Location"]
        assert location.startswith("/lab/tree/") and location.endswith(".ipynb"), location
        notebook = unquote(location.removeprefix("/lab/tree/"))
        assert (team_server.root / notebook).is_file()
        progress = ana.get(f"/workbench/api/playbooks/{PB}/progress").json()
        assert progress["workspace"]["path"] == notebook
        assert ana.get(f"/workbench/launch/{PB}").headers["Location"] == location  # resumed, not started anew


def test_launch_of_an_unknown_playbook_is_a_page_naming_it(team_server: Server) -> None:
    with team_server.client("tok-ana") as ana:
        page = ana.get("/workbench/launch/no-such-playbook")
    assert page.status_code == 404
    assert "text/html" in page.headers["Content-Type"]
    assert "no-such-playbook" in page.text and "known playbooks" in page.text and "Traceback" not in page.text
    with team_server.client("tok-ana") as ana:
        page = ana.get("/workbench/launch/<script>x")
    assert page.status_code == 404 and "<script>x" not in page.text  # the id is escaped on the page


def test_launch_without_a_login_goes_to_the_login_page(team_server: Server) -> None:
    with team_server.client() as anonymous:
        page = anonymous.get(f"/workbench/launch/{PB}")
    assert page.status_code == 302 and "/login" in page.headers["Location"]
