"""The routes under a ``base_url``, as every single-user server under JupyterHub has one (``/user/<name>/``).

jupyter_server prepends the base URL to extension routes itself; Workbench once prepended it too, so under a hub
every route answered 404 (found by tests/browser/test_workbench_hub.py, which runs the real hub; this test keeps
the fix fast to check).
"""

from __future__ import annotations

from pathlib import Path

from wb_server_helpers import start_server, stop_server

#: The team identity provider (team_identity.py): tok-ana is ana.
TEAM_ARGS = [
    "--ServerApp.identity_provider_class=team_identity.TeamIdentityProvider",
    "--IdentityProvider.token=unused-shared-token",
]


def test_routes_live_under_the_servers_base_url(tmp_path: Path) -> None:
    folders = [tmp_path / name for name in ("root", "state", "data")]
    for folder in folders:
        folder.mkdir()
    server = start_server(*folders, [*TEAM_ARGS, "--ServerApp.base_url=/user/ana/"])
    try:
        with server.client("tok-ana") as ana:
            me = ana.get("/user/ana/workbench/api/me")
            assert me.status_code == 200, me.text
            assert me.json()["manager"] is False
            assert ana.get("/user/ana/workbench/api/catalog").status_code == 200
            assert ana.get("/user/ana/user/ana/workbench/api/me").status_code == 404  # the base URL once, not twice
            assert ana.get("/workbench/api/me").status_code == 404
    finally:
        stop_server(server)
