"""The ``workbench`` jupyter_server extension app and its configuration.

Enable it with ``c.ServerApp.jpserver_extensions = {"workbench": True}`` (the installed
``jupyter-config/server-config/workbench.json`` does this). Configure it as ``c.WorkbenchApp.<trait>``.

Who the learner is: with a real identity provider (JupyterHub, or any provider configured on the server) the
learner is the authenticated user's name. jupyter_server's default provider authenticates a single shared token
and invents a random "Anonymous <moon>" user per browser, which would scatter one person's progress over many
ids; there the learner is the server's owner (``WorkbenchApp.learner``, else ``settings.learner``, else the
login name). The ``identity`` trait forces either behaviour. Ids are only ever stored as pseudonyms.

Who is a manager: a user named in ``WorkbenchApp.manager_users``, or a member of the group
``WorkbenchApp.manager_group`` (default: the ``WORKBENCH_MANAGER_GROUP`` environment variable, which a JupyterHub
spawner sets). Under JupyterHub the groups are the hub's: every single-user server learns them from the hub's user
model (its OAuth token always carries ``read:users:groups`` for the user themself), so managers are managed in
one place, the hub, not per server. See ``extensions/jupyterhub/``.
"""

from __future__ import annotations

import getpass
import os
from pathlib import Path
from typing import Any

from jupyter_server.auth.identity import IdentityProvider, PasswordIdentityProvider
from jupyter_server.extension.application import ExtensionApp
from jupyter_server.utils import url_path_join
from traitlets import Enum, List, Unicode, default, validate

from workbench import __version__


def user_groups(user: Any) -> set[str]:
    """The groups an authenticated jupyter_server user belongs to, as its identity provider knows them.

    JupyterHub's single-user identity provider keeps the hub's user model (with ``groups``) as ``user.hub_user``;
    other providers may set a ``groups`` attribute. A user without either is in no group.
    """
    hub_user = getattr(user, "hub_user", None)
    groups = hub_user.get("groups") if isinstance(hub_user, dict) else getattr(user, "groups", None)
    return {str(g) for g in groups or () if str(g)}


def manager_names(values: Any) -> list[str]:
    """Names from ``values``: each item a name, a JSON list of names or comma-separated names; blanks dropped."""
    import json

    names: list[str] = []
    for item in [values] if isinstance(values, str) else list(values or ()):
        text = str(item).strip()
        if text.startswith("["):
            try:
                parsed = json.loads(text)
            except json.JSONDecodeError:
                parsed = text.strip("[]").replace('"', "").replace("'", "").split(",")
            names.extend(str(p).strip() for p in parsed)
        else:
            names.extend(part.strip() for part in text.split(","))
    return list(dict.fromkeys(n for n in names if n))


class WorkbenchApp(ExtensionApp):
    """Workbench's REST routes under ``/workbench/api/`` (see :mod:`workbench.server`)."""

    name = "workbench"
    description = "Workbench: playbook catalog, start/resume, progress, skills and manager reports."
    load_other_extensions = True

    manager_users = List(
        Unicode(),
        default_value=[],
        help="User names allowed to read the manager report (GET /workbench/api/report). Empty: nobody. "
        "On the command line: --WorkbenchApp.manager_users=ana (repeat for more), or a JSON list "
        "--WorkbenchApp.manager_users='[\"ana\", \"ben\"]', or comma-separated names.",
    ).tag(config=True)

    @validate("manager_users")
    def _split_manager_users(self, proposal: Any) -> list[str]:
        """Accept every way people write a list on the command line: traitlets' repeated option, a JSON list
        (which traitlets would otherwise keep as one literal name, ``'["ana"]'``) and comma-separated names."""
        return manager_names(proposal["value"])

    manager_group = Unicode(
        help="A group whose members may read the manager report, besides WorkbenchApp.manager_users: under "
        "JupyterHub a hub group (e.g. 'workbench-managers'), so managers are managed at the hub. Empty: no group. "
        "Default: the WORKBENCH_MANAGER_GROUP environment variable (set it in the hub's Spawner.environment).",
    ).tag(config=True)

    @default("manager_group")
    def _manager_group_from_env(self) -> str:
        return os.environ.get("WORKBENCH_MANAGER_GROUP", "").strip()

    workspace_dir = Unicode(
        "workbench",
        help="Folder, relative to ServerApp.root_dir, where started playbooks are materialised. "
        "With per-user identities each user gets a sub-folder named after them.",
    ).tag(config=True)

    identity = Enum(
        ["auto", "user", "owner"],
        default_value="auto",
        help="Who the learner is: 'user' = the authenticated user's name; 'owner' = the server's owner "
        "(WorkbenchApp.learner / settings.learner / login name); 'auto' = 'owner' with jupyter_server's default "
        "single-token identity provider (whose users are random per browser), else 'user'.",
    ).tag(config=True)

    learner = Unicode(
        "",
        help="The owner's raw learner id for identity='owner' (default: settings.learner, else the login name).",
    ).tag(config=True)

    @property
    def server(self) -> Any:
        """The linked ServerApp (always set once jupyter_server has loaded the extension)."""
        assert self.serverapp is not None, "the extension is not linked to a server yet"
        return self.serverapp

    def initialize_settings(self) -> None:
        """Share this app with the handlers through the tornado settings."""
        self.settings.update({"workbench_app": self})
        self.log.info("Workbench %s server extension: routes under /workbench/api/", __version__)

    def initialize_handlers(self) -> None:
        """Register the routes."""
        from workbench.server import handlers as h

        # Relative to the server's base_url, which jupyter_server prepends to extension routes itself (under
        # JupyterHub the base_url is /user/<name>/; prepending it here too made every route a 404 there).
        base = url_path_join("/", "workbench", "api")
        pb = r"(?P<playbook_id>[^/]*)"  # an empty id reaches the handler too: a JSON 404, not an HTML page
        self.handlers.extend(
            [
                (url_path_join(base, "me"), h.MeHandler),
                (url_path_join(base, "catalog"), h.CatalogHandler),
                (url_path_join(base, "playbooks", pb, "start"), h.StartHandler),
                (url_path_join(base, "playbooks", pb, "progress"), h.PlaybookProgressHandler),
                (url_path_join(base, "progress"), h.ProgressHandler),
                (url_path_join(base, "skills"), h.SkillsHandler),
                (url_path_join(base, "path"), h.PathHandler),
                (url_path_join(base, "report"), h.ReportHandler),
                (url_path_join(base, "report", "evidence"), h.ReportEvidenceHandler),
                # A page (not under api/): where an LMS launch lands, see workbench.server.lti.
                (url_path_join("/", "workbench", "launch", pb), h.LaunchHandler),
            ]
        )

    # -- identity -----------------------------------------------------------------------------------------
    def per_user(self) -> bool:
        """Whether learners are the authenticated users (else the server's owner)."""
        if self.identity != "auto":
            return self.identity == "user"
        # jupyter_server's own providers (shared token / password) invent a random user per browser.
        return type(self.server.identity_provider) not in (IdentityProvider, PasswordIdentityProvider)

    def owner(self) -> str:
        """The server owner's raw learner id."""
        if self.learner:
            return self.learner
        from workbench.settings import get_settings

        return get_settings().learner or getpass.getuser()

    def raw_learner(self, user: Any) -> str:
        """The raw learner id of an authenticated jupyter_server user."""
        return str(user.username) if self.per_user() else self.owner()

    def is_manager(self, user: Any) -> bool:
        """Whether ``user`` may read the manager report."""
        names = set(self.manager_users)
        if str(user.username) in names or (not self.per_user() and self.owner() in names):
            return True
        return bool(self.manager_group) and self.manager_group in user_groups(user)

    def workspace_for(self, user: Any) -> tuple[Path, Path]:
        """(server root, the user's workspace folder); the workspace is always inside the root."""
        from workbench.server.workspace import check_inside, slug

        root = Path(self.server.root_dir).expanduser().resolve()
        folder = root / self.workspace_dir
        if self.per_user():
            folder = folder / slug(str(user.username))
        return root, check_inside(root, folder)
