"""A real Workbench copilot server for tests: uvicorn on 127.0.0.1 (a free port) in a thread, or a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from wb_lab import free_port

ROOT = Path(__file__).resolve().parents[2]


class LiveServer:
    """uvicorn serving ``app`` on 127.0.0.1 in a background thread (``with LiveServer(app) as server:``)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.port = free_port()
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="test-copilot-server", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        return f"{self.url}/v1"

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 60
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the test server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(60)


def start_cli_server(spec: Path, port: int, *args: str) -> subprocess.Popen[bytes]:
    """``workbench copilot serve SPEC`` as a subprocess on 127.0.0.1:``port`` (this test's settings)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    cmd = [sys.executable, "-m", "workbench.cli", "copilot", "serve", str(spec), "--port", str(port),
           "--log-level", "warning", *args]  # fmt: skip
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def wait_healthy(url: str, proc: subprocess.Popen[bytes] | None = None, timeout: float = 120) -> None:
    """Wait until ``url``/health answers 200."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            out = proc.stdout.read().decode() if proc.stdout else ""
            raise RuntimeError(f"the server exited with {proc.returncode}: {out}")
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not become healthy in {timeout} s")


def chat_body(content: str, model: str = "it-helpdesk", **extra: Any) -> dict[str, Any]:
    """A minimal chat completion request."""
    return {"model": model, "messages": [{"role": "user", "content": content}], **extra}


def make_app(spec: Path, model: Any, *, api_keys: tuple[str, ...] = (), canary_share: float | None = None) -> Any:
    """The app serving ``spec`` on the shared tiny model."""
    from workbench.copilots import Copilot
    from workbench.serving import build_app

    return build_app([Copilot(spec, backend=model)], api_keys=api_keys, canary_share=canary_share)
