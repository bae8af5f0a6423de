"""REST handlers under ``/workbench/api/`` (see :mod:`workbench.server` for the route table).

Every verb is ``@tornado.web.authenticated``; jupyter_server's ``JupyterHandler.prepare`` checks the XSRF token
of every non-GET request made with a login cookie (token-authenticated requests are exempt by Jupyter's design,
since a page on another site cannot forge an ``Authorization`` header). Nothing here relaxes either check.

Blocking work (discovery, the telemetry store, pandas reports) runs in a worker thread so the server stays
responsive. Errors are JSON ``{"error", "message", "hint"}``: a bad request of any kind is a 4xx (body limit,
JSON, id and path rules in :mod:`workbench.server.safety`), and no response carries an absolute server path.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any, TypeVar

from jupyter_server.base.handlers import APIHandler, JupyterHandler
from tornado import web

from workbench.errors import NotFoundError, PolicyViolation, StoreError, ValidationError, WorkbenchError
from workbench.server.safety import (
    MAX_ID_CHARS,
    ApiError,
    check_body_size,
    check_id,
    decode_json_object,
    path_roots,
    public_body,
    public_path,
    shown,
)

T = TypeVar("T")

_ERROR_CODES = {400: "bad_request", 401: "unauthenticated", 403: "forbidden", 404: "not_found",
                405: "method_not_allowed", 409: "conflict", 413: "body_too_large", 500: "internal_error",
                503: "unavailable"}


def _from_workbench(exc: WorkbenchError) -> ApiError:
    from workbench.server.workspace import CorruptRecordError

    status, code = 400, "invalid"
    if isinstance(exc, NotFoundError):
        status, code = 404, "not_found"
    elif isinstance(exc, PolicyViolation):
        status, code = 403, "forbidden"
    elif isinstance(exc, CorruptRecordError):
        status, code = 409, "corrupted_progress_record"
    elif isinstance(exc, StoreError):
        status, code = 503, "store_unavailable"
    elif isinstance(exc, ValidationError):
        status, code = 400, "invalid"
    return ApiError(status, code, exc.message, exc.hint, field=exc.field, file=exc.file)


class WorkbenchHandler(APIHandler):
    """Base: the app, the learner, JSON bodies and errors."""

    @property
    def wb(self) -> Any:
        """The :class:`~workbench.server.app.WorkbenchApp`."""
        return self.settings["workbench_app"]

    @property
    def learner_raw(self) -> str:
        """The requesting learner's raw id."""
        return str(self.wb.raw_learner(self.current_user))

    @property
    def learner(self) -> str:
        """The requesting learner's pseudonym."""
        from workbench.telemetry import pseudonymize

        return pseudonymize(self.learner_raw)

    async def blocking(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run ``fn`` in a worker thread, turning Workbench errors into JSON API errors."""
        try:
            return await asyncio.to_thread(fn, *args, **kwargs)
        except WorkbenchError as exc:
            raise _from_workbench(exc) from exc
        except Exception as exc:
            from sqlalchemy.exc import SQLAlchemyError

            if isinstance(exc, SQLAlchemyError):
                raise ApiError(
                    503, "store_unavailable",
                    f"the progress store could not be read ({type(exc).__name__})",
                    "check WORKBENCH_STORE_URL; a corrupted SQLite file must be moved aside (the server will "
                    "start a new one)",
                ) from exc
            raise

    async def prepare(self) -> None:  # type: ignore[override]
        """jupyter_server's checks (auth, XSRF, origin), then the body size limit, before any parsing."""
        await super().prepare()
        check_body_size(self.request.headers.get("Content-Length"), self.request.body)

    def json_body(self) -> dict[str, Any]:
        """The request's JSON object body (empty body = ``{}``); see :mod:`workbench.server.safety`."""
        return decode_json_object(self.request.body or b"")

    def query_id(self, name: str) -> str | None:
        """An id-like query argument (``team``, ``skill``, ``role``...), ``None`` when absent or empty."""
        value = self.get_query_argument(name, None) or None
        return check_id(value, name) if value is not None else None

    def public_roots(self) -> list[Any]:
        """Folders that paths in responses are made relative to (the server root first)."""
        return path_roots(getattr(self.wb.server, "root_dir", None))

    def reply(self, data: Any, status: int = 200) -> None:
        """Write ``data`` as JSON."""
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(data, default=str))

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """Every error as ``{"error", "message", "hint"}``, including Jupyter's own 403 (auth, XSRF)."""
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, ApiError):
            body = exc.body
        else:
            message = getattr(exc, "log_message", None) or self._reason
            hint = None
            if status_code == 403:
                message = message or "forbidden"
                hint = ("log in to Jupyter (token or password); requests that change something also need the "
                        "_xsrf cookie echoed in an X-XSRFToken header")
            elif status_code == 500:
                message = "unexpected server error; see the Jupyter server log"
            body = {"error": _ERROR_CODES.get(status_code, "error"), "message": message, "hint": hint}
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(public_body(body, self.public_roots()), default=str))


def _catalog(skill: str | None, role: str | None, workspace: Any) -> dict[str, Any]:
    from workbench.playbooks import discover_playbooks, filter_playbooks

    catalog = discover_playbooks()
    rows = []
    for pb in filter_playbooks(catalog, skill=skill, role=role):
        m = pb.manifest
        row = pb.summary()
        row.pop("path", None)  # server paths are not the learner's business
        row["tasks"] = [{"id": t.id, "title": t.title, "done": t.done} for t in m.tasks]
        row["parameters"] = [
            {"name": p.name, "type": p.type, "default": p.default, "help": p.help} for p in m.parameters
        ]
        row["started"] = (workspace / m.id / m.notebook_name).exists()
        rows.append(row)
    skills: list[dict[str, str]] = []
    roles: list[dict[str, str]] = []
    try:
        from workbench.skills.taxonomy import load_taxonomy

        tax = load_taxonomy()
        skills = [{"id": s.id, "name": s.name} for s in tax.skills]
        roles = [{"id": r.id, "name": getattr(r, "name", r.id)} for r in tax.roles]
    except WorkbenchError:
        pass  # the catalog still works without a taxonomy; filters then list ids only
    return {
        "playbooks": rows,
        "filters": {"skill": skill, "role": role},
        "skills": skills,
        "roles": roles,
        "broken": [{"folder": k, "message": v.message, "hint": v.hint} for k, v in catalog.broken.items()],
    }


class MeHandler(WorkbenchHandler):
    """``GET /workbench/api/me``: who you are to Workbench."""

    @web.authenticated
    async def get(self) -> None:
        """Reply with the pseudonym, display name and permissions."""
        from workbench.settings import get_settings

        user = self.current_user
        self.reply({
            "learner": self.learner,
            "name": getattr(user, "display_name", None) or user.username,
            "manager": self.wb.is_manager(user),
            "role": get_settings().role,
            "per_user": self.wb.per_user(),
        })


class CatalogHandler(WorkbenchHandler):
    """``GET /workbench/api/catalog?skill=&role=``: the playbooks you can start."""

    @web.authenticated
    async def get(self) -> None:
        """Reply with the (filtered) catalog."""
        skill, role = self.query_id("skill"), self.query_id("role")
        _, workspace = self.wb.workspace_for(self.current_user)
        self.reply(await self.blocking(_catalog, skill, role, workspace))


def _catalog_playbook(playbook_id: str) -> Any:
    """The playbook with this id; a malformed or over-long id is unknown before anything touches the disk."""
    from workbench.playbooks import get_playbook, is_playbook_id

    if len(playbook_id) > MAX_ID_CHARS or not is_playbook_id(playbook_id):
        raise NotFoundError(
            f"unknown playbook '{shown(playbook_id)}'", field="playbook",
            hint="pass a playbook id from the catalog (lower-case letters, digits, '-' and '_')",
        )  # fmt: skip
    return get_playbook(playbook_id)


def _start(playbook_id: str, workspace: Any, root: Any, learner: str, params: dict[str, Any]) -> dict[str, Any]:
    from workbench.server.workspace import start_or_resume

    playbook = _catalog_playbook(playbook_id)
    result = start_or_resume(playbook, workspace, learner=learner, parameters=params)
    return {
        "playbook": result.playbook,
        "status": result.status,
        "path": result.notebook.relative_to(root).as_posix(),
        "folder": result.folder.relative_to(root).as_posix(),
        "run_id": result.run_id,
        "parameters": result.parameters,
        "notices": result.notices,
    }


class StartHandler(WorkbenchHandler):
    """``POST /workbench/api/playbooks/<id>/start`` with ``{"parameters": {...}}``: start or resume."""

    @web.authenticated
    async def post(self, playbook_id: str) -> None:
        """Materialise (or find) the learner's notebook; reply with its path relative to the server root."""
        body = self.json_body()
        params = body.get("parameters") or {}
        if not isinstance(params, dict):
            raise ApiError(400, "invalid", "'parameters' must be an object", 'send {"parameters": {"name": value}}')
        root, workspace = self.wb.workspace_for(self.current_user)
        data = await self.blocking(_start, playbook_id, workspace, root, self.learner, params)
        self.reply(data, 201 if data["status"] == "started" else 200)


def _playbook_progress(playbook_id: str, learner: str, workspace: Any, root: Any) -> dict[str, Any]:
    from workbench.playbooks import learner_progress
    from workbench.server.workspace import read_record

    playbook = _catalog_playbook(playbook_id)
    folder = workspace / playbook.id
    record = read_record(folder)  # CorruptRecordError -> 409 with a hint
    progress = learner_progress(learner, playbook=playbook)[0].to_dict()
    notebook = folder / playbook.manifest.notebook_name
    progress["workspace"] = {
        "started": notebook.exists(),
        "path": notebook.relative_to(root).as_posix() if notebook.exists() else None,
        "run_id": record.get("run_id") if record else None,
    }
    return progress


class PlaybookProgressHandler(WorkbenchHandler):
    """``GET /workbench/api/playbooks/<id>/progress``: your checklist for one playbook."""

    @web.authenticated
    async def get(self, playbook_id: str) -> None:
        """Reply with the learner's task statuses."""
        _refuse_other_learner(self)
        root, workspace = self.wb.workspace_for(self.current_user)
        self.reply(await self.blocking(_playbook_progress, playbook_id, self.learner, workspace, root))


def _refuse_other_learner(handler: WorkbenchHandler) -> None:
    """Progress is private: asking for anyone else's is refused, managers included (they get reports)."""
    from workbench.telemetry import pseudonymize

    asked = handler.query_id("learner")
    if asked and pseudonymize(asked) != handler.learner:
        raise ApiError(
            403, "forbidden", "you can only read your own progress",
            "drop the learner parameter; managers see groups in the skills-gap report instead",
        )


def _all_progress(learner: str) -> dict[str, Any]:
    from workbench.playbooks import learner_progress

    return {"learner": learner, "playbooks": [p.to_dict() for p in learner_progress(learner)]}


class ProgressHandler(WorkbenchHandler):
    """``GET /workbench/api/progress``: your progress in every playbook."""

    @web.authenticated
    async def get(self) -> None:
        """Reply with the learner's progress per playbook."""
        _refuse_other_learner(self)
        self.reply(await self.blocking(_all_progress, self.learner))


def _frame_records(frame: Any) -> list[dict[str, Any]]:
    if frame is None or frame.empty:
        return []
    return list(json.loads(frame.to_json(orient="records", date_format="iso", default_handler=str)))


def _public_summary(summary: dict[str, Any]) -> dict[str, Any]:
    """A report summary without server paths: the taxonomy's source and written files as relative ids."""
    roots = path_roots()
    taxonomy = dict(summary.get("taxonomy") or {})
    if taxonomy.get("source"):
        taxonomy["source"] = public_path(taxonomy["source"], roots)
    files = {k: public_path(v, roots) for k, v in (summary.get("files") or {}).items()}
    return {**summary, "taxonomy": taxonomy, "files": files}


def _skills(requester: str) -> dict[str, Any]:
    from workbench.skills import learner_view

    report = learner_view(requester=requester)
    names = {s.id: s.name for s in report.taxonomy.skills}
    keep = ["skill", "level", "level_low", "level_high", "target", "gap", "status", "evidence", "n_evidence"]
    rows = _frame_records(report.people)
    skills = [{k: r[k] for k in keep if k in r} | {"name": names.get(r.get("skill"), r.get("skill"))} for r in rows]
    return {"summary": _public_summary(report.summary()), "skills": skills, "messages": list(report.messages)}


class SkillsHandler(WorkbenchHandler):
    """``GET /workbench/api/skills``: the requesting learner's own skills (nobody else's)."""

    @web.authenticated
    async def get(self) -> None:
        """Reply with levels and gaps per skill."""
        _refuse_other_learner(self)
        self.reply(await self.blocking(_skills, self.learner))


def _path(requester: str) -> dict[str, Any]:
    from workbench.playbooks.paths import learner_path

    return learner_path(requester).to_dict()


class PathHandler(WorkbenchHandler):
    """``GET /workbench/api/path``: the requesting learner's role path, gaps and next playbook."""

    @web.authenticated
    async def get(self) -> None:
        """Reply with the path (steps and their status), the gaps and the next playbook."""
        _refuse_other_learner(self)
        self.reply(await self.blocking(_path, self.learner))


def _report(team: str | None, role: str | None) -> dict[str, Any]:
    from workbench.skills.report import ALL, cached_report, suppressed_label

    report = cached_report(team=team, role=role)
    keep = ["team", "skill", "level", "target", "gap", "team_size", "learners", "suppressed", "reason"]
    teams = [{k: r[k] for k in keep if k in r} for r in _frame_records(report.teams)]
    return {
        "summary": _public_summary(report.summary()),
        "teams": teams,
        "skills": [s.id for s in report.taxonomy.skills],
        "skill_names": {s.id: s.name for s in report.taxonomy.skills},
        "levels": [{"level": lv.level, "name": lv.name, "descriptor": lv.descriptor} for lv in report.taxonomy.levels],
        "roles": [{"id": r.id, "name": r.name} for r in report.taxonomy.roles],
        "role": role,
        "all_team": ALL,
        "min_group_size": report.min_group_size,
        "suppressed_label": suppressed_label(report.min_group_size),
        "suppressed_teams": report.suppressed_teams,
    }


def _refuse_non_manager(handler: WorkbenchHandler) -> None:
    if not handler.wb.is_manager(handler.current_user):
        raise ApiError(
            403, "forbidden", "the skills-gap report is for managers",
            "ask an administrator to add you to the managers' group (c.WorkbenchApp.manager_group; under "
            "JupyterHub a hub group) or to c.WorkbenchApp.manager_users",
        )


class ReportHandler(WorkbenchHandler):
    """``GET /workbench/api/report?team=&role=``: the skills-gap report, for managers (``manager_users`` or
    members of ``manager_group``)."""

    @web.authenticated
    async def get(self) -> None:
        """Reply with the report summary and the team x skill table (small groups suppressed)."""
        _refuse_non_manager(self)
        team, role = self.query_id("team"), self.query_id("role")
        self.reply(await self.blocking(_report, team, role))


def _evidence(team: str, skill: str, role: str | None, limit: int) -> dict[str, Any]:
    from workbench.skills.report import ALL, cached_report, suppressed_label

    report = cached_report(role=role)
    names = {s.id: s.name for s in report.taxonomy.skills}
    if skill not in names:
        raise NotFoundError(f"unknown skill '{shown(skill)}'", field="skill", hint=f"use one of: {', '.join(names)}")
    known = set(report.learners["team"]) | {ALL} if not report.learners.empty else {ALL}
    if team not in known:
        raise NotFoundError(f"unknown team '{shown(team)}'", field="team", hint="pick a team from the report table")
    cell = report.teams.loc[(report.teams["team"] == team) & (report.teams["skill"] == skill)]
    suppressed = team in report.suppressed_teams or (not cell.empty and bool(cell["suppressed"].iloc[0]))
    items = [] if suppressed else report.drilldown(team, skill, view="teams", limit=None)
    return {
        "team": team,
        "skill": skill,
        "skill_name": names[skill],
        "suppressed": suppressed,
        "suppressed_label": suppressed_label(report.min_group_size),
        "n": len(items),
        "items": items[:limit],
    }


class ReportEvidenceHandler(WorkbenchHandler):
    """``GET /workbench/api/report/evidence?team=&skill=``: the evidence behind one team x skill cell (managers).

    Suppressed teams and cells answer ``suppressed: true`` with no items: a drill-down must not undo the
    suppression of the table.
    """

    @web.authenticated
    async def get(self) -> None:
        """Reply with the cell's newest evidence items (``limit``, default 20) and their total count."""
        _refuse_non_manager(self)
        team, skill = self.query_id("team"), self.query_id("skill")
        if not team or not skill:
            raise ApiError(400, "invalid", "team and skill are required", "GET report/evidence?team=T&skill=S")
        try:
            limit = max(1, min(200, int(self.get_query_argument("limit", "20"))))
        except ValueError:
            raise ApiError(400, "invalid", "limit must be a whole number", "e.g. limit=20") from None
        role = self.query_id("role")
        self.reply(await self.blocking(_evidence, team, skill, role, limit))


class LaunchHandler(JupyterHandler):
    """``GET /workbench/launch/<id>``: start or resume the playbook, then open its notebook in JupyterLab.

    A page, not an API route: it is where an LMS launch lands (``workbench.server.lti`` sends the learner here
    through the hub), so an unauthenticated visit is sent to the login (the hub's OAuth) like any Jupyter page,
    and a bad playbook id is an error page naming it. Starting is idempotent (a started playbook is resumed, its
    notebook untouched), which is why a GET may do it.
    """

    @web.authenticated
    async def get(self, playbook_id: str) -> None:
        """Redirect to ``lab/tree/<the learner's notebook>``."""
        from jupyter_server.utils import url_escape, url_path_join

        from workbench.telemetry import pseudonymize

        wb = self.settings["workbench_app"]
        root, workspace = wb.workspace_for(self.current_user)
        learner = pseudonymize(str(wb.raw_learner(self.current_user)))
        try:
            data = await asyncio.to_thread(_start, playbook_id, workspace, root, learner, {})
        except WorkbenchError as exc:
            # The error page with the message and its hint (jupyter_server's own 404 page would drop them).
            status = 404 if isinstance(exc, NotFoundError) else 400
            self.set_status(status)
            message = f"{exc.message}. {exc.hint or ''}".strip()
            self.finish(self.render_template("error.html", status_code=status, exception=exc, message=message,
                                             status_message="Cannot open this playbook"))  # fmt: skip
            return
        self.redirect(url_path_join(self.base_url, "lab", "tree", url_escape(data["path"])))
