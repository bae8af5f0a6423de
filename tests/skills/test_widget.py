"""The manager heatmap widget: state in traits, drill-down computed in Python (no browser needed)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import traitlets

from workbench.errors import PolicyViolation
from workbench.widgets.skills import FIELDS, SkillsHeatmap

STATIC = Path(__file__).resolve().parents[2] / "workbench" / "widgets" / "static" / "skills.js"


def test_widget_state_and_drilldown(cohort_report: Any) -> None:
    w = SkillsHeatmap(cohort_report)
    assert w.view == "teams" and w.mode == "level"
    assert set(w.data["views"]) == {"teams", "people"}
    assert "drill" not in w.data  # computed on demand
    json.dumps(w.data)  # JSON-ready for the front end
    # Team cell "everyone x first skill": summary, members and evidence.
    d = w.select("teams", 0, 0)
    assert w.selected == {"view": "teams", "row": 0, "col": 0}
    assert d["title"].startswith("everyone in view")
    assert "learners" in d["summary"]
    titles = [t["title"] for t in d["tables"]]
    assert titles == ["Members (largest gaps first)", "Evidence, newest first"]
    assert all(len(row) == len(d["tables"][1]["columns"]) for row in d["tables"][1]["rows"])
    # A people cell lists that learner's evidence with event ids.
    people = w.data["views"]["people"]
    i, j = next((i, j) for i, row in enumerate(people["level"]) for j, v in enumerate(row) if v is not None)
    d = w.select("people", i, j)
    items = d["tables"][0]["rows"]
    assert len(items) == people["n"][i][j]
    assert all(len(row[-1]) == 36 for row in items)
    assert "interval" in d["summary"]


def test_suppressed_and_empty_cells(cohort_report: Any) -> None:
    w = SkillsHeatmap(cohort_report)
    rows = w.data["views"]["teams"]["rows"]
    small = next(i for i, r in enumerate(rows) if r["id"] == "small-team")
    d = w.select("teams", small, 0)
    assert d["summary"] == "suppressed (n<5)" and d["tables"] == []
    assert w.select("teams", 999, 0)["title"] == "no such cell"


def test_view_and_mode_are_validated(cohort_report: Any) -> None:
    w = SkillsHeatmap(cohort_report, view="people", mode="gap")
    assert (w.view, w.mode) == ("people", "gap")
    with pytest.raises(traitlets.TraitError):
        w.mode = "rainbow"
    with pytest.raises(traitlets.TraitError):
        w.view = "galaxy"


def test_front_end_uses_the_same_fields() -> None:
    js = STATIC.read_text()
    declared = re.search(r"const FIELDS = \[(.*?)\];", js).group(1)
    assert [f.strip().strip('"') for f in declared.split(",")] == list(FIELDS)
    assert "export default" in js
    assert "WorkbenchHeatmap" in SkillsHeatmap._esm and "export default" in SkillsHeatmap._esm
    assert "http://" not in SkillsHeatmap._esm and "https://" not in SkillsHeatmap._esm


def test_constructors(cohort_db: tuple[str, Any]) -> None:
    url, cohort = cohort_db
    w = SkillsHeatmap.from_store(url, team="claims", min_group_size=2, as_of="2026-07-01")
    assert w.report.filters["team"] == "claims"
    me, other = cohort.roster[0], cohort.roster[1]
    mine = SkillsHeatmap.for_learner(url, requester=me["raw_id"], as_of="2026-07-01")
    assert mine.view == "people" and "teams" not in mine.data["views"]
    assert [r["id"] for r in mine.data["views"]["people"]["rows"]] == [me["learner"]]
    with pytest.raises(PolicyViolation):
        SkillsHeatmap.for_learner(url, requester=me["raw_id"], learner=other["raw_id"])
