"""Development configuration: ``jupyter lab --config=jupyter_config.py`` (or ``make lab``).

Security stays on: token auth and XSRF checks are Jupyter's defaults and are not relaxed here.
"""

c = get_config()  # type: ignore[name-defined]  # noqa: F821

c.ServerApp.jpserver_extensions = {"workbench.server": True}
# Managers (users who may read the team skills report in the sidebar) are not set here, so the command line can
# set them: `make lab LAB_ARGS='--WorkbenchApp.manager_users=ana'` or `jupyter lab --config=jupyter_config.py
# --WorkbenchApp.manager_users='["ana", "ben"]'`. A setting here would be a default the command line overrides.
c.ServerApp.open_browser = False
c.ServerApp.root_dir = "."
# Jupyter refuses to run as root without this; development containers often run as root.
c.ServerApp.allow_root = True
c.LabApp.expose_app_in_browser = False
