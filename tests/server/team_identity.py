"""A small identity provider for tests: one token per person, like JupyterHub gives every user their own.

It stands in for JupyterHub at the true edge (who is logged in); everything behind it is real jupyter_server.
"""

from __future__ import annotations

from typing import Any

from jupyter_server.auth import IdentityProvider, User

TOKENS = {"tok-ana": "ana", "tok-ben": "ben", "tok-boss": "boss"}


class TeamIdentityProvider(IdentityProvider):
    """Maps each token in :data:`TOKENS` to its user; no token, no user."""

    @property
    def auth_enabled(self) -> bool:
        return True

    async def get_user_token(self, handler: Any) -> User | None:
        name = TOKENS.get(self.get_token(handler) or "")
        return User(username=name, name=name.title(), display_name=name.title()) if name else None
