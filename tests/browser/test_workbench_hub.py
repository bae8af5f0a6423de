"""Workbench under a real JupyterHub on loopback, driven through the hub's login page in Debian chromium.

The hub runs ``extensions/jupyterhub/jupyterhub_config.py`` as shipped (dummy authenticator with a password,
``SimpleLocalProcessSpawner``, configurable-http-proxy from ``make chp``), with one PostgreSQL store (the session's
embedded server, a fresh database) given in the hub's environment. Two learners log in, each starts the
critique-rubrics playbook from the Workbench sidebar and runs a task in their own kernel; each sees only their own
progress. ``boss`` is named nowhere in Workbench's config: a member of the hub group ``workbench-managers``, he sees
the team report with both learners' evidence; a learner is refused the manager routes. The events of both
single-user servers are in the one PostgreSQL database, and nowhere else.

Sizing figures (hub start, a learner's server start, memory per single-user server and per kernel) are printed
and kept in ``test-artifacts/hub-sizing.json``.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
import sqlalchemy as sa
from playwright.sync_api import Page, expect
from wb_lab import ARTIFACTS, KERNEL_READY, ROOT, free_port, require_chromium, screenshot, terminate

from workbench.telemetry import open_store

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.postgres]

CONFIG = ROOT / "extensions" / "jupyterhub" / "jupyterhub_config.py"
CHP = ROOT / ".npm-chp" / "node_modules" / ".bin" / "configurable-http-proxy"
PASSWORD = "hub-test-password"
MANAGER_GROUP = "workbench-managers"
TEAM = "support-ops"
PB = "critique-rubrics"


@dataclass
class Hub:
    """A running JupyterHub: its public URL, the store its users write, and what was measured."""

    url: str
    store_url: str
    homes: Path
    proc: subprocess.Popen[bytes]
    log: Path
    sizing: dict[str, Any] = field(default_factory=dict)

    def user_url(self, user: str, path: str = "") -> str:
        return f"{self.url}/user/{user}/{path}"


def _fresh_database(server_url: str) -> str:
    """A new, empty database on the session's PostgreSQL server: the organisation's store."""
    name = "wb_hub_" + uuid.uuid4().hex[:10]
    engine = sa.create_engine(server_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    engine.dispose()
    return sa.make_url(server_url).set(database=name).render_as_string(hide_password=False)


def _quiet_homes(homes: Path, users: list[str]) -> None:
    """Each user's JupyterLab without the news prompt (no network here), as a site image would ship it."""
    for user in users:
        folder = homes / user / ".jupyter" / "lab" / "user-settings" / "@jupyterlab" / "apputils-extension"
        folder.mkdir(parents=True)
        (folder / "notification.jupyterlab-settings").write_text(json.dumps({"fetchNews": "false"}))


def _hub_env(store_url: str, homes: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("WORKBENCH_DATA_DIR", "WORKBENCH_STORE_URL")}
    env.update(
        PATH=os.pathsep.join([str(CHP.parent), str(Path(sys.executable).parent), env.get("PATH", "")]),
        PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
        WORKBENCH_STORE_URL=store_url,
        WORKBENCH_PSEUDONYM_SALT="hub-test-salt",
        WORKBENCH_TEAM=TEAM,
        WORKBENCH_MIN_GROUP_SIZE="2",  # two learners make a team worth showing in this test
        WORKBENCH_MANAGER_GROUP=MANAGER_GROUP,
        WORKBENCH_HUB_MANAGERS="boss",
        WORKBENCH_HUB_PASSWORD=PASSWORD,
        WORKBENCH_HUB_HOMES=str(homes),
    )
    return env


@pytest.fixture(scope="module")
def hub(postgres_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    """JupyterHub with the repo's config on free loopback ports; stopped (with every user's server) afterwards."""
    require_chromium()
    if not CHP.exists():
        pytest.fail(f"{CHP.relative_to(ROOT)} is missing: run `make chp` (configurable-http-proxy from npm)")
    base = tmp_path_factory.mktemp("hub")
    homes = base / "homes"
    _quiet_homes(homes, ["ana", "ben", "boss"])
    store_url = _fresh_database(postgres_url)
    port = free_port()
    args = [
        sys.executable, "-m", "jupyterhub", "-f", str(CONFIG),
        f"--JupyterHub.bind_url=http://127.0.0.1:{port}", f"--JupyterHub.hub_port={free_port()}",
        f"--ConfigurableHTTPProxy.api_url=http://127.0.0.1:{free_port()}",
        f"--JupyterHub.db_url=sqlite:///{base / 'jupyterhub.sqlite'}",
        f"--JupyterHub.cookie_secret_file={base / 'cookie_secret'}",
        f"--ConfigurableHTTPProxy.pid_file={base / 'proxy.pid'}",
        # The test reads window.jupyterapp; Jupyter refuses root (CI containers) without allow_root.
        '--Spawner.args=["--LabApp.expose_app_in_browser=True", "--ServerApp.allow_root=True"]',
    ]  # fmt: skip
    log = base / "hub.log"
    started = time.monotonic()
    proc = subprocess.Popen(args, env=_hub_env(store_url, homes), cwd=base, stdout=log.open("wb"),
                            stderr=subprocess.STDOUT)  # fmt: skip
    hub = Hub(f"http://127.0.0.1:{port}", store_url, homes, proc, log)
    try:
        _wait_healthy(hub, timeout_s=120)
        hub.sizing["hub_start_s"] = round(time.monotonic() - started, 1)
        yield hub
    finally:
        terminate(proc)  # cleanup_servers: the hub stops the single-user servers and the proxy with it


def _wait_healthy(hub: Hub, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{hub.url}/hub/health", timeout=2).status_code == 200:
                return
        if hub.proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(hub.log.read_text()[-4000:])
        time.sleep(0.3)


@contextlib.contextmanager
def hub_login(browser: Any, hub: Hub, user: str) -> Iterator[Page]:
    """Log ``user`` in on the hub's login page; yields their JupyterLab once it has started."""
    ctx = browser.new_context(viewport={"width": 1400, "height": 900})
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        started = time.monotonic()
        page.goto(f"{hub.url}/hub/login")
        page.locator("#username_input").fill(user)
        page.locator("#password_input").fill(PASSWORD)
        page.locator("#login_submit").click()
        page.wait_for_url(f"**/user/{user}/lab**", timeout=180000)  # the hub spawns the server, then redirects
        page.wait_for_function("() => window.jupyterapp && window.jupyterapp.started", timeout=120000)
        page.locator(".jp-Launcher").wait_for(timeout=120000)
        hub.sizing.setdefault("login_to_lab_s", {})[user] = round(time.monotonic() - started, 1)
        yield page
    finally:
        with contextlib.suppress(Exception):
            page.evaluate("() => window.jupyterapp.serviceManager.sessions.shutdownAll()")
        ctx.close()
    assert not errors, errors


def api(page: Page, hub: Hub, user: str, path: str, status: int = 200) -> Any:
    """GET a Workbench route with the page's own hub login (its cookies), as the sidebar does."""
    response = page.request.get(hub.user_url(user, f"workbench/api/{path}"))
    assert response.status == status, (path, response.status, response.text())
    return response.json()


def start_and_run(page: Page, code: str) -> Any:
    """Start the playbook from the Workbench sidebar, run its injected cell, then a cell of the learner's own."""
    page.locator('.jp-SideBar li[data-id="workbench-sidebar"]').click()
    sidebar = page.locator("#workbench-sidebar")
    card = sidebar.locator(f'.wb-PlaybookCard[data-playbook-id="{PB}"]')
    expect(card).to_be_visible(timeout=60000)
    card.locator("button.wb-StartButton").click()
    expect(sidebar.locator(".wb-Message")).to_contain_text("Started", timeout=60000)
    expect(sidebar.locator(".wb-Checklist .wb-Task")).to_have_count(5, timeout=30000)
    page.wait_for_function(KERNEL_READY, timeout=120000)
    page.evaluate("""async (code) => {
      const app = window.jupyterapp, panel = app.shell.currentWidget;
      const index = panel.content.widgets.findIndex(
        c => (c.model.getMetadata('tags') || []).includes('injected-parameters'));
      if (index < 0) { throw new Error('no injected-parameters cell'); }
      panel.content.activeCellIndex = index;
      await app.commands.execute('notebook:run-cell');
      await app.commands.execute('notebook:insert-cell-below');
      panel.content.activeCell.model.sharedModel.setSource(code);
      await app.commands.execute('notebook:run-cell');
    }""", code)
    return sidebar


READ_RUBRIC = """from workbench.playbooks import task
from workbench.rubrics import load_rubric
with task("read-rubric"):
    rubric = load_rubric("rag-faithfulness")
    needs_model = [c.id for c in rubric.criteria if c.scorer.type == "judge"]
print("done:", needs_model)"""
NOT_YET = """
with task("deterministic-scorers"):
    raise RuntimeError("not finished yet")"""


def _status(sidebar: Any, task: str) -> Any:
    return sidebar.locator(f'.wb-Task[data-task-id="{task}"]')


def _rss_mb(hub: Hub) -> dict[str, float]:
    """Resident memory of one single-user server and of one of its kernels (MB), from the live processes."""
    servers = [p for p in psutil.Process(hub.proc.pid).children()
               if "jupyterhub.singleuser" in " ".join(p.cmdline())]
    if not servers:
        return {}
    server = servers[0]
    kernels = [c for c in server.children(recursive=True) if "ipykernel" in " ".join(c.cmdline())]
    sizes = {"singleuser_server_mb": round(server.memory_info().rss / 2**20)}
    if kernels:
        sizes["kernel_mb"] = round(kernels[0].memory_info().rss / 2**20)
    return sizes


def _tasks(progress: dict[str, Any]) -> dict[str, str]:
    playbook = next(p for p in progress["playbooks"] if p["playbook"] == PB)
    return {t["id"]: t["status"] for t in playbook["tasks"]}


def _learners_work_apart(browser: Any, hub: Hub) -> dict[str, str]:
    """ana and ben, logged in at once, each start the playbook and run tasks; returns their pseudonyms."""
    with hub_login(browser, hub, "ana") as ana, hub_login(browser, hub, "ben") as ben:
        who = {"ana": api(ana, hub, "ana", "me"), "ben": api(ben, hub, "ben", "me")}
        assert all(me["per_user"] and not me["manager"] for me in who.values()), who  # the hub user is the learner
        assert who["ana"]["learner"] != who["ben"]["learner"]
        ana_bar = start_and_run(ana, READ_RUBRIC)
        ben_bar = start_and_run(ben, READ_RUBRIC + NOT_YET)
        for bar in (ana_bar, ben_bar):
            expect(_status(bar, "read-rubric")).to_have_attribute("data-status", "completed", timeout=120000)
        expect(_status(ben_bar, "deterministic-scorers")).to_have_attribute("data-status", "failed", timeout=120000)
        # Only their own progress: ben's failed attempt is not on ana's checklist, nor in her API answers.
        expect(_status(ana_bar, "deterministic-scorers")).to_have_attribute("data-status", "not_started")
        expect(ana_bar.locator(".wb-ProgressText")).to_contain_text("1 / 5")
        mine = api(ana, hub, "ana", "progress")
        assert mine["learner"] == who["ana"]["learner"]
        assert _tasks(mine) == {**dict.fromkeys(_tasks(mine), "not_started"), "read-rubric": "completed"}
        assert _tasks(api(ben, hub, "ben", "progress"))["deterministic-scorers"] == "failed"
        api(ana, hub, "ana", "progress?learner=ben", status=403)
        # A learner is refused the manager routes, and the sidebar shows no report.
        assert "manager_group" in api(ana, hub, "ana", "report", status=403)["hint"]
        api(ben, hub, "ben", f"report/evidence?team={TEAM}&skill=evaluation_design", status=403)
        expect(ana_bar.locator(".wb-ReportSection")).to_be_hidden()
        # A learner's server cannot be entered with another learner's hub login.
        assert ana.request.get(hub.user_url("ben", "workbench/api/me"), max_redirects=0).status in (302, 403)
        hub.sizing.update(_rss_mb(hub))
        screenshot(ben, "workbench-hub-learner.png")
    return {name: me["learner"] for name, me in who.items()}


def _manager_sees_both(browser: Any, hub: Hub, pseudonyms: dict[str, str]) -> None:
    with hub_login(browser, hub, "boss") as boss:
        assert api(boss, hub, "boss", "me")["manager"] is True  # by hub group: manager_users is empty
        report = api(boss, hub, "boss", "report")
        assert report["summary"]["counts"]["learners"] == 2, report["summary"]
        # The skills read-rubric is evidence for: the team's cells are shown (both learners), not suppressed.
        rows = {r["skill"]: r for r in report["teams"] if r["team"] == TEAM}
        for skill in ("evaluation_design", "critique_review"):
            assert not rows[skill]["suppressed"] and rows[skill]["learners"] == 2, rows[skill]
        cell = api(boss, hub, "boss", f"report/evidence?team={TEAM}&skill=evaluation_design&limit=50")
        assert {item["learner"] for item in cell["items"]} == set(pseudonyms.values()), cell
        # The sidebar summarises the same report and opens the heatmap panel: the team's column, both learners.
        boss.locator('.jp-SideBar li[data-id="workbench-sidebar"]').click()
        section = boss.locator("#workbench-sidebar .wb-ReportSection")
        expect(section.locator(".wb-ReportCounts")).to_contain_text("2 learners", timeout=90000)
        section.locator("button.wb-OpenReport").click()
        heatmap = boss.locator(".jp-MainAreaWidget#workbench-team-report table.wb-Heatmap")
        expect(heatmap).to_be_visible(timeout=90000)
        expect(heatmap.locator(f'th.wb-HeatTeam[data-team="{TEAM}"]')).to_contain_text("n=2")
        screenshot(boss, "workbench-hub-manager.png")


def test_two_learners_and_a_manager_under_jupyterhub_share_one_postgres_store(
    chromium_browser: Any, hub: Hub
) -> None:
    started = time.monotonic()
    pseudonyms = _learners_work_apart(chromium_browser, hub)
    _manager_sees_both(chromium_browser, hub, pseudonyms)

    # Both single-user servers' kernels wrote to the one PostgreSQL database (and to no SQLite of their own).
    with open_store(hub.store_url) as store:
        done = store.query(kind="task_completed", playbook=PB)
        failed = store.query(kind="task_failed", playbook=PB)
    assert {e.learner for e in done} == set(pseudonyms.values())
    assert all(e.team == TEAM and e.task == "read-rubric" for e in done)
    assert [(e.learner, e.task) for e in failed] == [(pseudonyms["ben"], "deterministic-scorers")]
    assert not list(hub.homes.glob("*/.workbench/telemetry.db"))

    hub.sizing["test_s"] = round(time.monotonic() - started, 1)
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "hub-sizing.json").write_text(json.dumps(hub.sizing, indent=2))
    print("hub sizing:", json.dumps(hub.sizing))
