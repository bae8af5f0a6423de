"""The Jupyter server extension: authenticated REST routes under ``/workbench/api/`` for the Workbench sidebar.

Routes (all ``@tornado.web.authenticated``; mutating verbs are XSRF-checked by jupyter_server, never disabled):

======================================================  ================================================================
``GET  /workbench/api/me``                              who the server thinks you are (pseudonym, manager or not)
``GET  /workbench/api/catalog?skill=&role=``            playbooks, filtered by skill id and/or role id
``POST /workbench/api/playbooks/<id>/start``            start or resume: materialise the notebook in your workspace
``GET  /workbench/api/playbooks/<id>/progress``         your task checklist for one playbook
``GET  /workbench/api/progress[?learner=]``             your progress in every playbook (only your own)
``GET  /workbench/api/skills``                          your skills (levels, gaps against your role)
``GET  /workbench/api/path``                            your role's path, your gaps, the next playbook for the largest
``GET  /workbench/api/report[?team=&role=]``            the skills-gap report (``manager_users``, ``manager_group``)
``GET  /workbench/api/report/evidence?team=&skill=``    the evidence behind one team x skill cell (managers only)
``GET  /workbench/launch/<id>``                         a page: start or resume, then open the notebook in JupyterLab
                                                        (where an LMS launch lands, :mod:`workbench.server.lti`)
======================================================  ================================================================

Errors are JSON ``{"error", "message", "hint"}`` with the HTTP status; any request a client can send gets a 4xx,
never a 500. Request bodies are JSON objects of at most 1 MiB (``413`` above that, checked before parsing); ids
are at most 200 characters; responses name files relative to the server root or their folder, never by absolute
path (see :mod:`workbench.server.safety`).

Enable with ``c.ServerApp.jpserver_extensions = {"workbench.server": True}`` (what the installed
``jupyter-config/server-config/workbench.json`` does). This package imports jupyter_server only in
:mod:`workbench.server.app`, so ``import workbench.server`` is cheap.
"""

from __future__ import annotations

from typing import Any

from workbench import __version__


def _jupyter_server_extension_points() -> list[dict[str, Any]]:
    """Jupyter's hook: the extension app (imported here so that importing the package stays light)."""
    from workbench.server.app import WorkbenchApp

    return [{"module": "workbench.server.app", "app": WorkbenchApp}]


__all__ = ["__version__", "_jupyter_server_extension_points"]
