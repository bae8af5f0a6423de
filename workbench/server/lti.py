"""LTI 1.3 launches into Workbench, on the hub side: an LMS signs a learner in and opens a playbook.

Used by ``extensions/jupyterhub/jupyterhub_config.py`` when ``WORKBENCH_HUB_AUTH=lti13`` (see the README there,
"Launching from an LMS (LTI 1.3)"). It runs in the JupyterHub process, not in a learner's server, and needs
``jupyterhub-ltiauthenticator`` (1.6 or newer) installed on the hub.

- :func:`lti13_settings` reads the platform's registration from the environment (``WORKBENCH_LTI_*``) and fails
  with the variable's name and how to fix it;
- :class:`WorkbenchLTI13Authenticator` is ``ltiauthenticator``'s ``LTI13Authenticator`` (OIDC third-party login
  initiation, the platform's signed ``id_token`` checked against its JWKS, state and nonce) with two additions:
  the hub user name comes from a stable, non-identifying claim (``sub`` by default; names and e-mail addresses are
  refused, because Workbench keeps no raw names), and a launch whose custom parameters carry ``playbook=<id>``
  lands the learner on ``/user/<name>/workbench/launch/<id>`` (the single-user server is spawned on the way),
  which starts or resumes that playbook and opens its notebook in JupyterLab; when the launch also carries
  the Assignment and Grade Services claim, the link is kept in the organisation's store so that the playbook's
  score can go back to the LMS (:mod:`workbench.playbooks.lti_ags`; keeping it never fails a launch);
- ``/hub/lti13/jwks`` serves the tool's public key set (from ``WORKBENCH_LTI_TOOL_KEY``) for the LMS.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urlencode

from jupyterhub.handlers import BaseHandler
from jupyterhub.utils import url_path_join
from ltiauthenticator.lti13.auth import LTI13Authenticator
from ltiauthenticator.lti13.constants import LTI13_CUSTOM_CLAIM
from ltiauthenticator.lti13.handlers import LTI13CallbackHandler

from workbench.errors import ConfigError, ValidationError

#: Claims that identify a person by name or address: never a hub user name here (Workbench keeps no raw names).
PII_CLAIMS = frozenset({"name", "given_name", "family_name", "middle_name", "nickname", "email",
                        "preferred_username", "custom_email", "custom_name"})  # fmt: skip
#: The custom launch parameter naming the playbook to open.
PLAYBOOK_PARAMETER = "playbook"

_REQUIRED = {
    "WORKBENCH_LTI_ISSUER": ("issuer", "the platform's issuer id (its 'iss'), e.g. https://canvas.instructure.com"),
    "WORKBENCH_LTI_CLIENT_ID": ("client_id", "the client id the LMS gave this tool (comma-separated for several)"),
    "WORKBENCH_LTI_JWKS_URL": ("jwks_endpoint", "the platform's public key set, e.g. https://lms/.../jwks"),
    "WORKBENCH_LTI_AUTHORIZE_URL": ("authorize_url", "the platform's OIDC authorization endpoint"),
}  # fmt: skip


def lti13_settings(environ: Mapping[str, str]) -> dict[str, Any]:
    """``WorkbenchLTI13Authenticator``'s settings from ``WORKBENCH_LTI_*`` in ``environ``.

    Raises:
        ValidationError: a required variable is missing, or the user name claim would be a person's name.
    """
    settings: dict[str, Any] = {}
    for var, (trait, what) in _REQUIRED.items():
        value = environ.get(var, "").strip()
        if not value:
            raise ValidationError(f"{var} is not set", field=var, hint=f"set {var} to {what}")
        settings[trait] = value
    settings["client_id"] = {c.strip() for c in settings["client_id"].split(",") if c.strip()}
    claim = environ.get("WORKBENCH_LTI_USERNAME_CLAIM", "").strip() or "sub"
    if claim.lower() in PII_CLAIMS:
        raise ValidationError(
            f"WORKBENCH_LTI_USERNAME_CLAIM={claim} would make a person's name or address the hub user name",
            field="WORKBENCH_LTI_USERNAME_CLAIM",
            hint="use 'sub' (the default: the platform's stable, opaque user id) or a custom parameter holding an "
            "opaque id, e.g. custom_lms_user_id",
        )
    settings["username_key"] = claim
    return settings


def playbook_next_url(hub_base_url: str, user_url: str, user_name: str, playbook: str) -> str:
    """Where a launch for ``playbook`` goes: spawn the learner's server, then its ``workbench/launch/<id>``."""
    target = url_path_join(user_url, "workbench", "launch", quote(playbook, safe=""))
    return url_path_join(hub_base_url, "spawn", quote(user_name, safe="")) + "?" + urlencode({"next": target})


class WorkbenchLTI13CallbackHandler(LTI13CallbackHandler):  # type: ignore[misc]  # untyped base
    """The launch (``/hub/lti13/oauth_callback``): after the upstream checks, open the launch's playbook."""

    _playbook: str | None = None
    _id_token: dict[str, Any] | None = None

    def decode_and_validate_launch_request(self) -> dict[str, Any]:
        """The verified ``id_token``; remembers its ``custom.playbook`` for :meth:`get_next_url`."""
        id_token: dict[str, Any] = super().decode_and_validate_launch_request()
        custom = id_token.get(LTI13_CUSTOM_CLAIM) or {}
        playbook = custom.get(PLAYBOOK_PARAMETER) if isinstance(custom, dict) else None
        self._playbook = (str(playbook).strip() or None) if playbook is not None else None
        self._id_token = id_token
        return id_token

    async def redirect_to_next_url(self, user: Any) -> None:
        """Keep the launch's grade passback link (when it has one), then go on to the playbook."""
        if self._id_token is not None and self._playbook:
            await self._keep_link(self._id_token, self._playbook, user.name)
        await super().redirect_to_next_url(user)

    async def _keep_link(self, id_token: dict[str, Any], playbook: str, user_name: str) -> None:
        from workbench.playbooks.lti_ags import link_from_launch, remember_launch
        from workbench.telemetry import pseudonymize

        link = link_from_launch(id_token, playbook, pseudonymize(user_name))
        if link is None:
            return
        try:  # a store that cannot be written must not stop the learner: the next launch keeps the link
            await asyncio.to_thread(remember_launch, link)
        except Exception as exc:  # any store failure; logged without the learner's ids
            self.log.warning(
                "LTI: could not keep the grade passback link of a launch (%s)", type(exc).__name__
            )

    def get_next_url(self, user: Any = None) -> str:
        """The playbook's launch page when the launch names one; else upstream's (``target_link_uri``, home)."""
        if self._playbook and user is not None:
            return playbook_next_url(self.hub.base_url, user.url, user.name, self._playbook)
        return str(super().get_next_url(user))


class ToolJWKSHandler(BaseHandler):  # type: ignore[misc]  # untyped base
    """``/hub/lti13/jwks``: the tool's public key set, which the LMS uses to check the tool's token requests."""

    async def get(self) -> None:
        from workbench.playbooks.lti_ags import load_tool_key

        try:
            jwks = load_tool_key().jwks()
        except ConfigError as exc:
            self.set_status(404)
            self.set_header("Content-Type", "application/json")
            self.finish(json.dumps({"error": "not_configured", "message": exc.message, "hint": exc.hint}))
            return
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(jwks))


class WorkbenchLTI13Authenticator(LTI13Authenticator):  # type: ignore[misc]  # untyped base
    """``LTI13Authenticator`` whose launches open a playbook (see the module docstring)."""

    callback_handler = WorkbenchLTI13CallbackHandler

    def get_handlers(self, app: Any) -> list[Any]:
        """Upstream's routes plus the tool's JWKS (``/hub/lti13/jwks``)."""
        handlers: list[Any] = super().get_handlers(app)
        return [*handlers, (url_path_join("", "lti13", "jwks"), ToolJWKSHandler)]
