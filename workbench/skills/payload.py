"""The report payload: everything the HTML report and the manager widget draw, as JSON-ready data.

Heatmap grids (people x skills, team x skills), the evidence behind each drawn cell, trends, outcome tables and
the skills the taxonomy lacks. The drawing code (``static/heatmap.js``) reads it; :mod:`workbench.skills.render`
embeds it in the HTML file.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from workbench.skills.report_data import ALL, ReportData, suppressed_label

#: Evidence items kept per people cell in the HTML (the CSV has all).
CELL_EVIDENCE = 20
#: Members and evidence items kept per team cell in the HTML.
TEAM_MEMBERS = 10
TEAM_EVIDENCE = 5
#: Column order of an evidence item in the payload.
DRILL_COLUMNS = ("time", "source", "scorer", "criterion", "score", "origin", "weight_now", "playbook", "task",
                 "run_id", "event_id")


def _num(value: Any, digits: int = 2) -> float | None:
    if value is None:
        return None
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return round(f, digits) if math.isfinite(f) else None


def _grids(frame: pd.DataFrame, key: str, rows: list[str], skills: list[str], columns: dict[str, int]
           ) -> dict[str, list[list[Any]]]:
    """Row x skill grids of several columns at once (``columns``: name -> decimals; -1 = text)."""
    row_pos = pd.Series(np.arange(len(rows)), index=pd.Index(rows, dtype=object))
    col_pos = pd.Series(np.arange(len(skills)), index=pd.Index(skills, dtype=object))
    out: dict[str, list[list[Any]]] = {}
    if frame.empty or not rows:
        return {name: [[None] * len(skills) for _ in rows] for name in columns}
    i = frame[key].map(row_pos).to_numpy()
    j = frame["skill"].map(col_pos).to_numpy()
    ok = ~(pd.isna(i) | pd.isna(j))
    i, j = i[ok].astype(np.int64), j[ok].astype(np.int64)
    for name, digits in columns.items():
        values = frame[name].to_numpy()[ok]
        if digits < 0:
            grid = np.full((len(rows), len(skills)), None, dtype=object)
            grid[i, j] = values
            out[name] = [[v if isinstance(v, str) else None for v in row] for row in grid.tolist()]
        else:
            grid = np.full((len(rows), len(skills)), np.nan)
            grid[i, j] = values.astype(float)
            rounded = np.round(grid, digits)
            out[name] = [[None if v != v else v for v in row] for row in rounded.tolist()]
    return out


def _items(frame: pd.DataFrame) -> list[list[Any]]:
    """Evidence rows as drill-down items (:data:`DRILL_COLUMNS` order), built column-wise."""
    if frame.empty:
        return []
    times = frame["time"].dt.tz_convert("UTC").dt.strftime("%Y-%m-%dT%H:%M:%SZ").tolist()

    def text(column: str) -> list[Any]:
        return [v if isinstance(v, str) else None for v in frame[column].tolist()]

    score = np.round(frame["outcome"].to_numpy(dtype=float), 3).tolist()
    weight = np.round(frame["weight_now"].to_numpy(dtype=float), 3).tolist()
    origin = [_origin_label(o, c) for o, c in zip(frame["origin"].tolist(), frame["counted"].tolist(), strict=True)]
    columns = [times, text("source"), text("scorer"), text("criterion"), score, origin, weight, text("playbook"),
               text("task"), text("run_id"), text("event_id")]
    return [list(row) for row in zip(*columns, strict=True)]


def _origin_label(origin: Any, counted: Any) -> str:
    """How a drill-down item names whose work it was: ``learner``, or e.g. ``solution (not counted)``."""
    name = origin if isinstance(origin, str) else "learner (unrecorded)"
    return name if counted is not False else f"{name} (not counted)"


def flagged_learners(report: ReportData) -> dict[str, int]:
    """Learner -> number of their evidence items identical to the shipped solution (in view)."""
    ev = report.evidence
    if ev.empty or "origin" not in ev:
        return {}
    copied = ev.loc[ev["origin"] == "solution"]
    return {str(k): int(v) for k, v in copied.groupby("learner")["event_id"].nunique().items()}


def people_rows(report: ReportData, max_people: int) -> tuple[list[str], str | None]:
    """Learners drawn in the people heatmap (largest total gaps first when capped) and a note.

    Learners whose only evidence is solution-identical work have no estimate; they are drawn too (empty
    cells whose drill-down shows that work), so a manager sees them flagged rather than not at all.
    """
    people = report.people
    flagged = [lr for lr in flagged_learners(report) if people.empty or lr not in set(people["learner"])]
    if people.empty:
        return flagged[:max_people], None
    learners = pd.unique(people["learner"]).tolist() + flagged
    note = None
    if len(learners) > max_people:
        need = people.assign(_g=people["gap"].clip(lower=0).fillna(0)).groupby("learner")["_g"].sum()
        chosen = set(need.sort_values(ascending=False, kind="stable").head(max_people).index)
        learners = [lr for lr in learners if lr in chosen]
        note = (f"showing the {max_people} of {len(need):,} learners with the largest total gaps; "
                "people_skills.csv has everyone")
    return learners, note


def team_rows(report: ReportData, max_teams: int) -> tuple[list[str], str | None]:
    """Teams drawn in the team heatmap (``all`` first; largest mean gaps first when capped) and a note."""
    teams = report.teams
    if teams.empty:
        return [], None
    names = [t for t in pd.unique(teams["team"]).tolist() if t != ALL]
    note = None
    if len(names) > max_teams:
        gap = teams.loc[teams["team"] != ALL].groupby("team")["gap"].mean().fillna(-np.inf)
        chosen = set(gap.sort_values(ascending=False, kind="stable").head(max_teams).index)
        names = [t for t in names if t in chosen]
        note = (f"showing the {max_teams} of {len(gap):,} teams with the largest mean gaps; "
                "teams_skills.csv has every team")
    return [ALL, *names], note


def report_payload(report: ReportData, *, max_people: int = 250, max_teams: int = 100) -> dict[str, Any]:
    """Everything the HTML report and the widget draw, as JSON-ready data."""
    payload = _header(report)
    rows, payload["views"]["people"] = _people_view(report, max_people)
    payload["drill"]["people"] = _people_drill(report, rows)
    if report.scope != "learner":
        trows, payload["views"]["teams"] = _team_view(report, max_teams)
        payload["drill"]["teams"] = _team_drill(report, trows, report.taxonomy.skill_ids)
    payload["trends"] = _trend_payload(report, payload)
    payload["outcomes"] = {
        name: _table(table) for name, table in report.outcomes.items()
    }
    payload["unknown_skills"] = _table(report.unknown_skills.assign(
        example_event_ids=report.unknown_skills["example_event_ids"].map(lambda ids: ", ".join(ids))
    )) if not report.unknown_skills.empty else None
    return payload


def _header(report: ReportData) -> dict[str, Any]:
    """The payload's frame: meta, messages, the taxonomy's skills and levels, empty views and drill-downs."""
    tax = report.taxonomy
    k = report.min_group_size
    return {
        "meta": {
            "title": report.title,
            "scope": report.scope,
            "as_of": report.as_of.isoformat(timespec="seconds"),
            "taxonomy": {"id": tax.id, "title": tax.title, "version": tax.version},
            "filters": {key: v for key, v in report.filters.items() if v is not None},
            "min_group_size": k,
            "suppressed_label": suppressed_label(k),
            "counts": report.counts,
            "period": report.period,
        },
        "messages": list(report.messages),
        "skills": [{"id": s.id, "name": s.name, "group": s.group, "description": s.description,
                    "external_ids": s.external_ids.as_dict()} for s in tax.skills],
        "levels": [{"level": lv.level, "name": lv.name, "descriptor": lv.descriptor} for lv in tax.levels],
        "drill_columns": list(DRILL_COLUMNS),
        "views": {},
        "drill": {"people": {}, "teams": {}},
    }


def _people_view(report: ReportData, max_people: int) -> tuple[list[str], dict[str, Any]]:
    """The learners drawn and the people x skills view of them."""
    tax = report.taxonomy
    skills = tax.skill_ids
    rows, note = people_rows(report, max_people)
    people = report.people.loc[report.people["learner"].isin(rows)] if rows else report.people.iloc[0:0]
    team_of = dict(zip(report.learners["learner"], report.learners["team"], strict=True))
    role_of = dict(zip(report.learners["learner"], report.learners["role"], strict=True))
    grids = _grids(people, "learner", rows, skills, {"level": 2, "level_lo": 2, "level_hi": 2, "target": 0,
                                                     "gap": 2, "n_evidence": 0, "status": -1})
    role_targets = tax.target_matrix()
    copied = flagged_learners(report)
    return rows, {
        "kind": "people",
        "rows": [
            {"id": lr, "label": lr, "suppressed": False,
             "sub": f"{team_of.get(lr)} · {role_of.get(lr) or 'no role'}" + _flag(copied.get(lr, 0))}
            for lr in rows
        ],
        "level": grids["level"],
        "lo": grids["level_lo"],
        "hi": grids["level_hi"],
        "target": grids["target"],
        "gap": grids["gap"],
        "n": grids["n_evidence"],
        "status": grids["status"],
        # Targets also where a learner has no evidence yet (drawn as "no evidence", target in the tooltip).
        "role_target": [[role_targets.get(role_of.get(lr) or "", {}).get(sk) for sk in skills] for lr in rows],
        "note": note,
    }


def _flag(copied: int) -> str:
    return f" · ⚑ {copied} solution-identical submission(s), not counted" if copied else ""


def _people_drill(report: ReportData, rows: list[str]) -> dict[str, Any]:
    """Per drawn people cell (``"row:col"``): its evidence count and newest :data:`CELL_EVIDENCE` items."""
    ev = report.evidence
    if not rows or ev.empty:
        return {}
    skills = report.taxonomy.skill_ids
    shown = ev.loc[ev["learner"].isin(rows)].sort_values("time", ascending=False, kind="stable")
    counts = shown.groupby(["learner", "skill"]).size().to_dict()
    head = shown.groupby(["learner", "skill"], sort=False).head(CELL_EVIDENCE)
    row_index = {lr: i for i, lr in enumerate(rows)}
    col_index = {sk: j for j, sk in enumerate(skills)}
    drill: dict[str, Any] = {}
    for (learner, skill), item in zip(zip(head["learner"].tolist(), head["skill"].tolist(), strict=True),
                                      _items(head), strict=True):
        key = f"{row_index[learner]}:{col_index[skill]}"
        cell = drill.get(key)
        if cell is None:
            cell = drill[key] = {"n": int(counts[(learner, skill)]), "items": []}
        cell["items"].append(item)
    return drill


def _team_view(report: ReportData, max_teams: int) -> tuple[list[str], dict[str, Any]]:
    """The teams drawn and the team x skills view of them (suppressed teams and cells marked)."""
    k = report.min_group_size
    trows, tnote = team_rows(report, max_teams)
    teams = report.teams.loc[report.teams["team"].isin(trows)]
    suppressed_teams = set(report.suppressed_teams)
    sup = teams.assign(_s=teams["suppressed"].astype(float))
    grids = _grids(sup, "team", trows, report.taxonomy.skill_ids, {"level": 2, "level_sd": 2, "target": 2,
                                                                   "gap": 2, "learners": 0, "coverage": 2,
                                                                   "met_share": 2, "_s": 0})
    return trows, {
        "kind": "teams",
        "rows": [
            {
                "id": t,
                "label": "everyone in view" if t == ALL else t,
                "sub": suppressed_label(k) if t in suppressed_teams else "",
                "suppressed": t in suppressed_teams,
            }
            for t in trows
        ],
        "level": grids["level"],
        "sd": grids["level_sd"],
        "target": grids["target"],
        "gap": grids["gap"],
        "n": grids["learners"],
        "coverage": grids["coverage"],
        "met": grids["met_share"],
        "suppressed": grids["_s"],
        "note": tnote,
    }


def _head_per_group(row: np.ndarray, col: np.ndarray, order_key: np.ndarray, n: int
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Indices of the first ``n`` items per (row, col) by descending ``order_key``, and the group sizes.

    Returns:
        ``(take, group_row_col, counts)``: positions to take (grouped, best first), and per distinct group its
        ``row * n_cols + col`` key and its size.
    """
    if len(row) == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty
    n_cols = int(col.max()) + 1
    key = row.astype(np.int64) * n_cols + col
    order = np.lexsort((-order_key, key))
    sorted_key = key[order]
    starts = np.flatnonzero(np.r_[True, sorted_key[1:] != sorted_key[:-1]])
    counts = np.diff(np.r_[starts, len(sorted_key)])
    rank = np.arange(len(sorted_key)) - np.repeat(starts, counts)
    take = order[rank < n]
    group_key = sorted_key[starts]
    return take, np.stack([group_key // n_cols, group_key % n_cols], axis=1), counts


def _team_drill(report: ReportData, trows: list[str], skills: list[str]) -> dict[str, Any]:
    """Per drawn team cell: its members with the largest gaps and its latest evidence (numpy, no group loops)."""
    people = report.people
    if people.empty or not trows:
        return {}
    teams = report.teams
    suppressed = {(t, sk) for t, sk, x in zip(teams["team"], teams["skill"], teams["suppressed"], strict=True) if x}
    row_index = pd.Index(trows)
    col_index = pd.Index(skills)
    team_of = dict(zip(report.learners["learner"], report.learners["team"], strict=True))
    out: dict[str, Any] = {}

    def add(rows: np.ndarray, frame: pd.DataFrame, members: bool) -> None:
        cols = col_index.get_indexer(frame["skill"])
        ok = (rows >= 0) & (cols >= 0)
        frame, rows, cols = frame.loc[ok], rows[ok], cols[ok]
        if members:
            order = frame["gap"].to_numpy(dtype=float)
            order = np.where(np.isnan(order), -np.inf, order)
            limit = TEAM_MEMBERS
        else:
            order = frame["time"].to_numpy(dtype="datetime64[ns]").view("int64").astype(float)
            limit = TEAM_EVIDENCE
        take, groups, counts = _head_per_group(rows, cols, order, limit)
        for (r, c), n in zip(groups.tolist(), counts.tolist(), strict=True):
            if (trows[r], skills[c]) in suppressed:
                continue
            cell = out.setdefault(f"{r}:{c}", {"members": [], "n_members": 0, "n": 0, "items": []})
            cell["n_members" if members else "n"] = int(n)
        picked = frame.iloc[take]
        keys = [f"{r}:{c}" for r, c in zip(rows[take].tolist(), cols[take].tolist(), strict=True)]
        if members:
            values = zip(picked["learner"].tolist(), np.round(picked["level"].to_numpy(dtype=float), 2).tolist(),
                         np.round(picked["level_lo"].to_numpy(dtype=float), 2).tolist(),
                         np.round(picked["level_hi"].to_numpy(dtype=float), 2).tolist(),
                         picked["n_evidence"].astype(int).tolist(), picked["status"].tolist(), strict=True)
            for key, value in zip(keys, values, strict=True):
                if key in out:
                    out[key]["members"].append(list(value))
        else:
            for key, item in zip(keys, _items(picked), strict=True):
                if key in out:
                    out[key]["items"].append(item)

    ev = report.evidence
    add(row_index.get_indexer(people["team"]), people, True)
    add(row_index.get_indexer(ev["learner"].map(team_of)), ev, False)
    if ALL in row_index:
        everyone = np.full(len(people), row_index.get_loc(ALL), dtype=np.int64)
        add(everyone, people, True)
        add(np.full(len(ev), row_index.get_loc(ALL), dtype=np.int64), ev, False)
    return {k: v for k, v in out.items() if v["members"]}


def _trend_payload(report: ReportData, payload: dict[str, Any]) -> dict[str, Any]:
    tr = report.trends
    if tr.empty:
        return {"periods": [], "groups": {}, "skills": {}}
    periods = sorted(pd.unique(tr["period"]).tolist())
    pos = {p: i for i, p in enumerate(periods)}
    groups: dict[str, list[float | None]] = {}
    shown = {row["id"] for row in payload["views"].get("teams", {}).get("rows", [])}
    if report.scope == "learner":
        shown = set(pd.unique(tr["group"]))
    visible = tr.loc[tr["group"].isin(shown)]
    mean = visible.groupby(["group", "period"])["level"].mean()
    for (group, period), value in mean.items():
        groups.setdefault(str(group), [None] * len(periods))[pos[period]] = _num(value)
    skills: dict[str, list[float | None]] = {}
    base = tr.loc[tr["group"] == ALL] if report.scope != "learner" else tr
    for rec in base.itertuples(index=False):
        skills.setdefault(rec.skill, [None] * len(periods))[pos[rec.period]] = _num(rec.level)
    return {"periods": periods, "groups": groups, "skills": skills}


def _table(frame: pd.DataFrame) -> dict[str, Any]:
    cols = list(frame.columns)
    rows = []
    for rec in frame.itertuples(index=False):
        row: list[Any] = []
        for v in rec:
            if isinstance(v, bool | np.bool_):
                row.append(bool(v))
            elif isinstance(v, int | np.integer):
                row.append(int(v))
            elif isinstance(v, float | np.floating):
                row.append(_num(v, 4))
            elif v is None or (isinstance(v, float) and math.isnan(v)):
                row.append(None)
            else:
                row.append(str(v))
        rows.append(row)
    return {"columns": cols, "rows": rows}
