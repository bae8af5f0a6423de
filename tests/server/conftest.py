"""A real Jupyter server (subprocess, free port) with the Workbench extension and per-person tokens.

The server is the product as deployed: jupyter_server's own auth and XSRF machinery, nothing patched. Only the
identity provider is a test one (:mod:`team_identity`): ``tok-ana`` is ana, ``tok-ben`` is ben, ``tok-boss``
is boss (a manager by configuration), ``tok-gus`` is gus (a manager as a member of the managers' group, named by
``WORKBENCH_MANAGER_GROUP`` as a JupyterHub spawner sets it).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from team_identity import MANAGER_GROUP
from wb_server_helpers import Server, start_server, stop_server

TEAM_ARGS = [
    "--ServerApp.identity_provider_class=team_identity.TeamIdentityProvider",
    "--IdentityProvider.token=unused-shared-token",
    # The JSON-list form people type (traitlets alone would keep '["boss"]' as one literal name).
    '--WorkbenchApp.manager_users=["boss"]',
]


@pytest.fixture(scope="module")
def team_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One server per test module, with three people and one manager."""
    base = tmp_path_factory.mktemp("team-server")
    root, state, data = base / "root", base / "state", base / "data"
    for p in (root, state, data):
        p.mkdir()
    server = start_server(root, state, data, TEAM_ARGS, {"WORKBENCH_MANAGER_GROUP": MANAGER_GROUP})
    yield server
    stop_server(server)
