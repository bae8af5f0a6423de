"""A small identity provider for tests: one token per person, like JupyterHub gives every user their own.

It stands in for JupyterHub at the true edge (who is logged in); everything behind it is real jupyter_server.
Its users are JupyterHub's own single-user ``JupyterHubUser`` objects built from a hub user model (name and
``groups``, as the hub's ``/hub/api/user`` answers a single-user server), so the group check meets the shape a
real hub gives (proven end to end in tests/browser/test_workbench_hub.py).
"""

from __future__ import annotations

from typing import Any

from jupyter_server.auth import IdentityProvider, User
from jupyterhub.singleuser.extension import JupyterHubUser

TOKENS = {"tok-ana": "ana", "tok-ben": "ben", "tok-boss": "boss", "tok-gus": "gus"}
#: Hub groups: gus manages through the managers' group (WORKBENCH_MANAGER_GROUP), boss by name (manager_users).
GROUPS = {"ana": ["learners"], "ben": ["learners"], "gus": ["learners", "workbench-managers"]}
MANAGER_GROUP = "workbench-managers"


class TeamIdentityProvider(IdentityProvider):
    """Maps each token in :data:`TOKENS` to its user; no token, no user."""

    @property
    def auth_enabled(self) -> bool:
        return True

    async def get_user_token(self, handler: Any) -> User | None:
        name = TOKENS.get(self.get_token(handler) or "")
        if not name:
            return None
        info = {"name": name.title(), "display_name": name.title()}
        return JupyterHubUser({"kind": "user", "name": name, "groups": GROUPS.get(name, []), "user_info": info})
