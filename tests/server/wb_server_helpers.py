"""Start and stop a real Jupyter server with the Workbench extension (shared by the server and browser tests)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
from wb_lab import free_port, terminate

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent


@dataclass
class Server:
    """A running server: its URL, folders and process."""

    url: str
    root: Path
    data_dir: Path
    proc: subprocess.Popen[bytes]
    log: Path

    def client(self, token: str | None = None) -> httpx.Client:
        """An HTTP client, authenticated by ``Authorization: token`` when ``token`` is given."""
        headers = {"Authorization": f"token {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=60, follow_redirects=False)


def start_server(root: Path, state: Path, data_dir: Path, args: list[str], env_extra: dict[str, str] | None = None,
                 ) -> Server:
    """Start ``jupyter server`` with the Workbench extension enabled and wait until it answers."""
    port = free_port()
    env = dict(
        os.environ,
        JUPYTER_CONFIG_DIR=str(state / "config"),
        JUPYTER_RUNTIME_DIR=str(state / "runtime"),
        JUPYTER_DATA_DIR=str(state / "data"),
        WORKBENCH_DATA_DIR=str(data_dir),
        PYTHONPATH=os.pathsep.join([str(HERE), str(ROOT), os.environ.get("PYTHONPATH", "")]),
        **(env_extra or {}),
    )
    log = state / f"server-{port}.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyter_server", "--no-browser", "--allow-root", f"--port={port}",
         "--ServerApp.port_retries=0", "--ServerApp.ip=127.0.0.1", f"--ServerApp.root_dir={root}",
         "--ServerApp.jpserver_extensions={'workbench.server': True}", *args],
        env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT, cwd=root,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while True:
        try:
            # /api/status needs auth; any HTTP answer means the server is up.
            httpx.get(f"{url}/api/status", timeout=2)
            break
        except httpx.HTTPError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError(log.read_text()[-4000:]) from None
            time.sleep(0.3)
    return Server(url, root, data_dir, proc, log)


def stop_server(server: Server) -> None:
    """SIGTERM, then kill if it lingers."""
    terminate(server.proc)
