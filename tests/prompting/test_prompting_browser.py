"""The playground widget in a real JupyterLab (Debian chromium via Python Playwright).

Streamed text appears progressively in the output box, the metrics line fills in, and the comparison view
shows one column per variant; the kernel-side state agrees. The widget front end is anywidget's prebuilt
lab extension plus ``workbench/widgets/static/playground.js``: no Workbench lab extension is needed.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
]  # fmt: skip
TOKEN = "playground-test-token"
KERNEL_READY = """() => {
  const w = window.jupyterapp.shell.currentWidget;
  const k = w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel;
  return !!k && k.connectionStatus === 'connected' && k.status === 'idle';
}"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def lab_url(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path) -> Iterator[str]:
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian chromium is not installed (apt-get install chromium)")
    import httpx

    base = tmp_path_factory.mktemp("playground-lab")
    root, state = base / "root", base / "state"
    root.mkdir()
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
    log = (state / "lab.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root", f"--port={port}",
         "--ServerApp.port_retries=0", "--ServerApp.ip=127.0.0.1", f"--IdentityProvider.token={TOKEN}",
         f"--ServerApp.root_dir={root}", "--LabApp.expose_app_in_browser=True"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=root,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            if httpx.get(f"{url}/api/status", params={"token": TOKEN}, timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError((state / "lab.log").read_text()[-4000:])
        time.sleep(0.3)
    yield url
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    log.close()


@pytest.fixture
def page(lab_url: str, chromium_browser: Any) -> Iterator[Any]:
    ctx = chromium_browser.new_context(viewport={"width": 1400, "height": 1000})
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{lab_url}/lab?reset&token={TOKEN}")
    page.wait_for_function("() => window.jupyterapp && window.jupyterapp.started", timeout=120000)
    page.locator(".jp-Launcher").wait_for(timeout=120000)
    yield page
    page.evaluate("() => window.jupyterapp.serviceManager.sessions.shutdownAll()")
    ctx.close()
    assert not errors, errors


def run_in_last_cell(page: Any, code: str) -> None:
    page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Cell").last.locator(".cm-content").click()
    page.keyboard.press("Control+a")
    page.keyboard.insert_text(code)
    page.keyboard.press("Shift+Enter")


def test_streamed_output_and_comparison_in_the_browser(page: Any, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    page.locator('.jp-LauncherCard[data-category="Notebook"]').first.click()
    page.wait_for_function(KERNEL_READY, timeout=120000)
    nb = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden)")
    run_in_last_cell(
        page,
        "from workbench.widgets.playground import PlaygroundWidget\n"
        "w = PlaygroundWidget(prompt='Once upon a time there was', max_new_tokens=48, stream=True)\n"
        "w.variables = {'text': 'The export failed on Monday.'}\n"
        "w.variants = [{'template': 'summarise@1'}, {'template': 'summarise@2', 'label': 'v2'}]\n"
        "w",
    )
    widget = nb.locator(".wb-playground")
    expect(widget).to_be_visible(timeout=180000)
    expect(widget.locator(".wb-status")).to_have_text("idle")
    # Record every text the output box shows, to see the stream arrive in pieces.
    page.evaluate(
        """() => {
          const out = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) .wb-output');
          window.__wbSeen = [];
          new MutationObserver(() => window.__wbSeen.push(out.textContent))
            .observe(out, {childList: true, characterData: true, subtree: true});
        }"""
    )
    widget.locator(".wb-run").click()
    expect(widget.locator(".wb-status")).to_have_text("done", timeout=180000)
    final = widget.locator(".wb-output").text_content() or ""
    seen = [s for s in page.evaluate("() => window.__wbSeen") if s]
    assert final.strip(), "no output"
    assert len(set(seen)) >= 2, f"the text did not stream: {seen}"
    assert all(final.startswith(s) for s in seen), seen  # each view was a prefix of the final text
    expect(widget.locator(".wb-metrics")).to_contain_text("TTFT")

    widget.locator(".wb-compare").click()
    columns = widget.locator(".wb-variant")
    expect(widget.locator('.wb-variant[data-status="ok"]')).to_have_count(2, timeout=180000)
    expect(widget.locator(".wb-status")).to_have_text("done")
    expect(columns).to_have_count(2)
    expect(columns.nth(0).locator(".wb-variant-label")).to_have_text("summarise@1")
    expect(columns.nth(1).locator(".wb-variant-label")).to_have_text("v2")
    for i in range(2):
        assert (columns.nth(i).locator(".wb-variant-text").text_content() or "").strip()
        expect(columns.nth(i).locator(".wb-variant-metrics")).to_contain_text("latency")

    run_in_last_cell(page, "print('PYSTATE', w.status, len(w.history), [r['status'] for r in w.comparison])")
    expect(nb.locator(".jp-OutputArea-output", has_text="PYSTATE done 3 ['ok', 'ok']")).to_be_visible(timeout=60000)
    page.screenshot(path=str(tmp_path / "playground.png"))
