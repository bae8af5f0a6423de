"""A real JupyterLab for the browser tests: subprocess on a free port, token auth, driven by Debian chromium.

Shared by every browser test that needs a lab (tests/browser, tests/prompting, tests/rag): :func:`make_lab`
prepares an isolated lab (config, runtime, settings, workspaces and Workbench data folders under one base
folder), :meth:`Lab.start`/:meth:`Lab.stop` run it, and :func:`lab_page` opens it in a fresh browser context and
fails the test on any uncaught page error.

With ``workbench=True`` the lab loads the Workbench frontend extension as built (``workbench/labextension``,
from installing the project or ``jlpm build`` in ``extensions/lab``) through
``LabApp.extra_labextensions_path`` and enables the ``workbench.server`` extension. Widgets need no Workbench
lab extension: anywidget's prebuilt one renders them. A missing chromium or extension build is a failure with
the fix, never a skip.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
TOKEN = "browser-test-token"
#: Screenshots kept as test artifacts (git-ignored).
ARTIFACTS = ROOT / "test-artifacts"
BUILT_EXTENSION = ROOT / "workbench" / "labextension"

#: True once the current notebook's kernel is connected and idle.
KERNEL_READY = """() => {
  const w = window.jupyterapp.shell.currentWidget;
  const k = w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel;
  return !!k && k.connectionStatus === 'connected' && k.status === 'idle';
}"""


def free_port() -> int:
    """A free TCP port on localhost."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def require_chromium() -> None:
    """Fail (not skip) when Debian chromium is missing."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (make browsers / apt-get install chromium)")


@dataclass
class Lab:
    """A JupyterLab server: URL, folders, and a way to (re)start it on the same port."""

    port: int
    root: Path
    state: Path
    data_dir: Path
    env: dict[str, str]
    args: list[str]
    learner: str | None = None
    proc: subprocess.Popen[bytes] | None = None
    logs: list[Path] = field(default_factory=list)

    @property
    def url(self) -> str:
        """Base URL of the server."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def store_url(self) -> str:
        """The Workbench telemetry store the server and its kernels write (default SQLite in the data dir)."""
        return f"sqlite:///{self.data_dir / 'telemetry.db'}"

    def start(self, timeout_s: float = 120) -> None:
        """Start the server and wait until ``/api/status`` answers."""
        log = self.state / f"lab-{len(self.logs)}.log"
        self.logs.append(log)
        self.proc = subprocess.Popen([sys.executable, "-m", "jupyterlab", *self.args], env=self.env,
                                     stdout=log.open("wb"), stderr=subprocess.STDOUT, cwd=self.root)
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                if httpx.get(f"{self.url}/api/status", params={"token": TOKEN}, timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.proc.kill()
                self.proc.wait()
                raise RuntimeError(log.read_text()[-4000:])
            time.sleep(0.3)

    def stop(self) -> None:
        """SIGTERM (the server shuts its kernels down), then kill if it lingers."""
        if self.proc is None:
            return
        terminate(self.proc)
        self.proc = None


def terminate(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM a server (it shuts its kernels down), then kill it if it lingers past 30 s."""
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def make_lab(base: Path, *, workbench: bool = True, learner: str | None = None, args: Sequence[str] = (),
             env: dict[str, str] | None = None) -> Lab:
    """An isolated, not yet started lab under ``base`` (``root/`` is the server root, ``data/`` Workbench's).

    Args:
        base: An empty folder.
        workbench: Load the built Workbench lab extension and enable the ``workbench.server`` extension.
        learner: The server owner's learner id (``WorkbenchApp.learner``; with the single-token identity the
            owner is the learner).
        args: Extra server arguments (``--WorkbenchApp.manager_users=ana`` ...).
        env: Extra environment variables.
    """
    require_chromium()
    root, state, data = base / "root", base / "state", base / "data"
    for folder in (root, state, data):
        folder.mkdir(parents=True, exist_ok=True)
    notif = state / "settings" / "@jupyterlab" / "apputils-extension"
    notif.mkdir(parents=True)
    (notif / "notification.jupyterlab-settings").write_text(json.dumps({"fetchNews": "false"}))
    port = free_port()
    server_args = [
        "--no-browser", "--allow-root", f"--port={port}", "--ServerApp.port_retries=0", "--ServerApp.ip=127.0.0.1",
        f"--IdentityProvider.token={TOKEN}", f"--ServerApp.root_dir={root}", "--LabApp.expose_app_in_browser=True",
    ]  # fmt: skip
    if workbench:
        if not (BUILT_EXTENSION / "package.json").is_file():
            pytest.fail("the frontend extension is not built (pip install the project, or make labext)")
        (state / "labext").mkdir()
        (state / "labext" / "workbench-lab").symlink_to(BUILT_EXTENSION)
        server_args += [
            f"--LabApp.extra_labextensions_path={state / 'labext'}",
            "--ServerApp.jpserver_extensions={'workbench.server': True}",
        ]
    if learner is not None:
        server_args.append(f"--WorkbenchApp.learner={learner}")
    full_env = dict(
        os.environ,
        JUPYTER_CONFIG_DIR=str(state / "config"),
        JUPYTER_RUNTIME_DIR=str(state / "runtime"),
        JUPYTERLAB_WORKSPACES_DIR=str(state / "workspaces"),
        JUPYTERLAB_SETTINGS_DIR=str(state / "settings"),
        WORKBENCH_DATA_DIR=str(data),
        PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
        **(env or {}),
    )
    return Lab(port, root, state, data, full_env, [*server_args, *args], learner=learner)


@contextlib.contextmanager
def running(lab: Lab) -> Iterator[Lab]:
    """Start ``lab`` for the ``with`` block (fixtures: ``with running(make_lab(...)) as lab: yield lab``)."""
    lab.start()
    try:
        yield lab
    finally:
        lab.stop()


@contextlib.contextmanager
def lab_page(browser: Any, lab: Lab, *, width: int = 1400, height: int = 900) -> Iterator[Any]:
    """A fresh browser context on the lab (workspace reset), ready once the launcher shows.

    Uncaught page errors raised while the test runs fail it after the ``with`` block. A test that breaks the
    server on purpose lists the messages that causes in ``page.wb_expected_errors`` (substrings). Messages the
    page logs with ``console.error`` are kept in ``page.wb_console_errors`` for tests that assert a clean console. Kernels the
    page started are shut down at the end; errors JupyterLab raises while *that* shutdown cancels in-flight kernel
    requests are the fixture's own doing and do not count.
    """
    ctx = browser.new_context(viewport={"width": width, "height": height})
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.wb_errors = errors
    page.wb_console_errors = console_errors = []
    page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
    page.wb_expected_errors = []
    during_test: list[str] = []
    try:
        page.goto(f"{lab.url}/lab?reset&token={TOKEN}")
        page.wait_for_function("() => window.jupyterapp && window.jupyterapp.started", timeout=120000)
        page.locator(".jp-Launcher").wait_for(timeout=120000)
        yield page
        during_test = [e for e in errors if not any(x in e for x in page.wb_expected_errors)]
    finally:
        with contextlib.suppress(Exception):  # the server may be down in a restart test
            page.evaluate("() => window.jupyterapp.serviceManager.sessions.shutdownAll()")
        ctx.close()
    assert not during_test, during_test


def new_notebook(page: Any) -> Any:
    """Open a new Python notebook from the launcher and wait for its kernel; returns the notebook panel."""
    page.locator('.jp-LauncherCard[data-category="Notebook"]').first.click()
    page.wait_for_function(KERNEL_READY, timeout=120000)
    return page.locator(".jp-NotebookPanel:not(.lm-mod-hidden)")


def run_in_last_cell(page: Any, code: str) -> None:
    """Type ``code`` into the current notebook's last cell and run it (Shift+Enter), as a person would."""
    page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Cell").last.locator(".cm-content").click()
    page.keyboard.press("Control+a")
    page.keyboard.insert_text(code)
    page.keyboard.press("Shift+Enter")


def screenshot(page: Any, name: str) -> Path:
    """Keep a screenshot under ``test-artifacts/`` and return its path."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    page.screenshot(path=str(path))
    return path
