"""The manager's skills heatmap widget (anywidget): a thin view over :mod:`workbench.skills`.

State lives in synced traits: ``data`` (the heatmap payload, the same one the HTML report draws), ``view``
(``teams`` or ``people``), ``mode`` (``level`` or ``gap``), ``selected`` (the clicked cell) and ``drilldown``
(the evidence behind it). The front end only draws and reports clicks; the drill-down is computed in Python from
the report (:meth:`SkillsReport.drilldown`), so it works and is tested without a browser::

    from workbench.widgets.skills import SkillsHeatmap

    w = SkillsHeatmap.from_store(team="support-ops")   # or SkillsHeatmap(report)
    w                                                  # the heatmap in JupyterLab; click a cell
    w.select("people", 0, 3); w.drilldown              # the same without a browser
"""

from __future__ import annotations

import pathlib
from typing import Any

import anywidget
import traitlets

from workbench.skills.render import report_payload, static_text
from workbench.skills.report import ALL, SkillsReport, build_report, learner_view, suppressed_label

_STATIC = pathlib.Path(__file__).parent / "static"

#: Synced trait names; ``static/skills.js`` reads the same ones (a test keeps them in step).
FIELDS: tuple[str, ...] = ("data", "view", "mode", "selected", "drilldown")


def _esm() -> str:
    # The shared heatmap drawing code (also inlined in the HTML report) followed by the widget's glue module.
    return static_text("heatmap.js") + "\n" + (_STATIC / "skills.js").read_text(encoding="utf-8")


def _css() -> str:
    return static_text("report.css") + "\n" + (_STATIC / "skills.css").read_text(encoding="utf-8")


class SkillsHeatmap(anywidget.AnyWidget):
    """People x skills and team x skills heatmap with gaps to role targets and drill-down to the evidence.

    Args:
        report: A computed :class:`~workbench.skills.report.SkillsReport`.
        view: ``"teams"`` (manager reports) or ``"people"``.
        mode: ``"level"`` or ``"gap"``.
        max_people: People rows drawn.
        max_teams: Team rows drawn.
    """

    _esm = _esm()
    _css = _css()

    data = traitlets.Dict().tag(sync=True)
    view = traitlets.Unicode("teams").tag(sync=True)
    mode = traitlets.Unicode("level").tag(sync=True)
    selected = traitlets.Dict().tag(sync=True)
    drilldown = traitlets.Dict().tag(sync=True)

    def __init__(self, report: SkillsReport, *, view: str | None = None, mode: str = "level",
                 max_people: int = 250, max_teams: int = 100, **kwargs: Any) -> None:
        payload = report_payload(report, max_people=max_people, max_teams=max_teams)
        payload.pop("drill", None)  # computed on demand in Python (see _on_selected)
        default_view = "teams" if "teams" in payload["views"] else "people"
        super().__init__(data=payload, view=view or default_view, mode=mode, **kwargs)
        self._report = report

    # -- constructors ----------------------------------------------------------------------------------
    @classmethod
    def from_store(cls, store: Any = None, **kwargs: Any) -> SkillsHeatmap:
        """A manager widget over :func:`~workbench.skills.report.build_report` (its keyword arguments)."""
        widget_args = {k: kwargs.pop(k) for k in ("view", "mode", "max_people", "max_teams") if k in kwargs}
        return cls(build_report(store, **kwargs), **widget_args)

    @classmethod
    def for_learner(cls, store: Any = None, *, requester: str, **kwargs: Any) -> SkillsHeatmap:
        """A learner's own heatmap (:func:`~workbench.skills.report.learner_view`; refuses anyone else)."""
        return cls(learner_view(store, requester=requester, **kwargs), view="people")

    @property
    def report(self) -> SkillsReport:
        """The report drawn."""
        return self._report

    # -- actions ---------------------------------------------------------------------------------------
    def select(self, view: str, row: int, col: int) -> dict[str, Any]:
        """Select a cell (as a click does) and return its drill-down."""
        self.selected = {"view": view, "row": int(row), "col": int(col)}
        return self.drilldown

    @traitlets.validate("view")
    def _valid_view(self, proposal: Any) -> str:
        value = proposal["value"]
        if value not in (self.data.get("views") or {"teams": 1, "people": 1}):
            raise traitlets.TraitError(f"view must be one of {sorted(self.data.get('views', {}))}")
        return str(value)

    @traitlets.validate("mode")
    def _valid_mode(self, proposal: Any) -> str:
        if proposal["value"] not in ("level", "gap"):
            raise traitlets.TraitError("mode must be 'level' or 'gap'")
        return str(proposal["value"])

    @traitlets.observe("selected")
    def _on_selected(self, change: Any) -> None:
        self.drilldown = self.cell_drilldown(**change["new"]) if change["new"] else {}

    def cell_drilldown(self, view: str, row: int, col: int) -> dict[str, Any]:
        """The drill-down of one drawn cell: a title, a one-line summary and tables of members and evidence."""
        data = self.data
        grid = data["views"].get(view)
        if grid is None or not 0 <= row < len(grid["rows"]) or not 0 <= col < len(data["skills"]):
            return {"title": "no such cell", "summary": "", "tables": []}
        report = self._report
        row_id = grid["rows"][row]["id"]
        skill = data["skills"][col]
        title = f"{grid['rows'][row]['label']} · {skill['name']}"
        sup = grid["rows"][row]["suppressed"] or (grid.get("suppressed") and grid["suppressed"][row][col] == 1)
        if sup:
            label = suppressed_label(report.min_group_size)
            return {"title": title, "summary": label, "tables": [],
                    "note": f"This group is {label}: too few learners to show without identifying them."}
        level = grid["level"][row][col]
        if level is None:
            return {"title": title, "summary": "no evidence yet", "tables": []}
        parts = [f"level {level:.1f}"]
        if view == "people" and grid["lo"][row][col] is not None:
            parts.append(f"80% interval {grid['lo'][row][col]:.1f}-{grid['hi'][row][col]:.1f}")
        if grid["target"][row][col] is not None:
            parts.append(f"target {grid['target'][row][col]:g}")
        if grid["gap"][row][col] is not None:
            parts.append(f"gap {grid['gap'][row][col]:+.1f}")
        parts.append(f"{grid['n'][row][col]:g} {'learners' if view == 'teams' else 'evidence items'}")
        tables = []
        if view == "teams":
            people = report.people
            members = people.loc[people["skill"] == skill["id"]]
            if row_id != ALL:
                members = members.loc[members["team"] == row_id]
            members = members.sort_values("gap", ascending=False).head(25)
            tables.append({
                "title": "Members (largest gaps first)",
                "columns": ["learner", "level", "low", "high", "target", "evidence", "status"],
                "rows": [[r.learner, round(r.level, 2), round(r.level_lo, 2), round(r.level_hi, 2),
                          None if r.target != r.target else r.target, int(r.n_evidence), r.status]
                         for r in members.itertuples(index=False)],
            })
        items = report.drilldown(row_id, skill["id"], view=view, limit=50)
        columns = ["time", "source", "scorer", "criterion", "outcome", "weight_now", "playbook", "task", "run_id",
                   "event_id"]
        tables.append({"title": "Evidence, newest first", "columns": columns,
                       "rows": [[item.get(c) for c in columns] for item in items]})
        return {"title": title, "summary": " · ".join(parts), "tables": tables}
