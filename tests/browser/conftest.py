"""Real JupyterLab (subprocess, free port, token) with the Workbench extensions, driven by Debian chromium.

Python Playwright drives ``/usr/bin/chromium`` (never ``playwright install``). The lab loads the built
frontend from ``workbench/labextension`` (built by installing the project, or ``jlpm build`` in
``extensions/lab``) through ``LabApp.extra_labextensions_path``, so the test sees the extension as built.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
]
TOKEN = "browser-test-token"
ARTIFACTS = ROOT / "test-artifacts"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Lab:
    """A running JupyterLab: URL, folders, and a way to restart it on the same port."""

    port: int
    root: Path
    state: Path
    env: dict[str, str]
    args: list[str]
    proc: subprocess.Popen[bytes] | None = None
    logs: list[Path] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        log = self.state / f"lab-{len(self.logs)}.log"
        self.logs.append(log)
        self.proc = subprocess.Popen([sys.executable, "-m", "jupyterlab", *self.args], env=self.env,
                                     stdout=log.open("wb"), stderr=subprocess.STDOUT, cwd=self.root)
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(f"{self.url}/api/status", params={"token": TOKEN}, timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.proc.kill()
                raise RuntimeError(log.read_text()[-4000:])
            time.sleep(0.3)

    def stop(self) -> None:
        if self.proc is None:
            return
        self.proc.terminate()  # SIGTERM: the server shuts its kernels down and exits
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None


@pytest.fixture(scope="session")
def lab_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian chromium is not installed (make browsers / apt-get install chromium)")
    built = ROOT / "workbench" / "labextension"
    if not (built / "package.json").is_file():
        pytest.fail("the frontend extension is not built (pip install the project, or jlpm build in extensions/lab)")
    base = tmp_path_factory.mktemp("lab")
    root, state = base / "root", base / "state"
    root.mkdir()
    (state / "labext").mkdir(parents=True)
    (state / "labext" / "workbench-lab").symlink_to(built)
    notif = state / "settings" / "@jupyterlab" / "apputils-extension"
    notif.mkdir(parents=True)
    (notif / "notification.jupyterlab-settings").write_text(json.dumps({"fetchNews": "false"}))
    env = dict(
        os.environ,
        JUPYTER_CONFIG_DIR=str(state / "config"),
        JUPYTER_RUNTIME_DIR=str(state / "runtime"),
        JUPYTERLAB_WORKSPACES_DIR=str(state / "workspaces"),
        JUPYTERLAB_SETTINGS_DIR=str(state / "settings"),
        WORKBENCH_DATA_DIR=str(base / "data"),
        PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    )
    port = _free_port()
    args = [
        "--no-browser", "--allow-root", f"--port={port}", "--ServerApp.port_retries=0", "--ServerApp.ip=127.0.0.1",
        f"--IdentityProvider.token={TOKEN}", f"--ServerApp.root_dir={root}", "--LabApp.expose_app_in_browser=True",
        f"--LabApp.extra_labextensions_path={state / 'labext'}",
        "--ServerApp.jpserver_extensions={'workbench.server': True}",
        "--WorkbenchApp.learner=newbie",
    ]
    lab = Lab(port, root, state, env, args)
    lab.start()
    yield lab
    lab.stop()


@pytest.fixture(scope="session")
def browser(chromium_browser: Any) -> Any:
    """The session's shared chromium (tests/conftest.py)."""
    return chromium_browser


@pytest.fixture
def page(browser: Any, lab_server: Lab) -> Iterator[Any]:
    ctx = browser.new_context(viewport={"width": 1400, "height": 900})
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.wb_errors = errors  # a test that stops the server on purpose may clear what that causes
    page.goto(f"{lab_server.url}/lab?reset&token={TOKEN}")
    page.wait_for_function("() => window.jupyterapp && window.jupyterapp.started", timeout=90000)
    page.locator(".jp-Launcher").wait_for(timeout=90000)
    yield page
    with contextlib.suppress(Exception):  # the server may be down in a restart test
        page.evaluate("() => window.jupyterapp.serviceManager.sessions.shutdownAll()")
    ctx.close()
    assert not errors, errors
