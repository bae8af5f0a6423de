"""Report files: a self-contained HTML page (no external resource), PNG heatmaps and CSV tables."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from workbench.skills import build_report, load_taxonomy, parse_taxonomy
from workbench.skills.render import report_payload, write_csv

from .helpers import score

EXTERNAL = re.compile(r"^\s*(https?:)?//", re.IGNORECASE)
CSS_URL = re.compile(r"url\(\s*['\"]?\s*(https?:)?//", re.IGNORECASE)


class _Refs(HTMLParser):
    """Collects every attribute that can load a resource, and inline styles and scripts."""

    def __init__(self) -> None:
        super().__init__()
        self.refs: list[tuple[str, str, str]] = []
        self.tags: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        for name, value in attrs:
            if name in {"src", "href", "srcset", "action", "data", "poster", "xlink:href", "style"} and value:
                self.refs.append((tag, name, value))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _parse(path: Path) -> _Refs:
    parser = _Refs()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


def test_html_report_loads_no_external_resource(written_report: Path) -> None:
    html = written_report / "report.html"
    parsed = _parse(html)
    for tag, name, value in parsed.refs:
        assert not EXTERNAL.match(value), f"<{tag} {name}={value!r}> loads an external resource"
        assert not CSS_URL.search(value)
    assert "link" not in parsed.tags and "iframe" not in parsed.tags and "img" not in parsed.tags
    inline = "".join(parsed.text)
    assert not CSS_URL.search(inline), "a CSS url() points outside the file"
    assert not re.search(r"\b(src|href)\s*=\s*['\"]?\s*(https?:)?//", inline, re.IGNORECASE)
    text = html.read_text(encoding="utf-8")
    assert "http://" not in text and "https://" not in text  # not even a string the page could fetch
    assert "Content-Security-Policy" in text and "default-src 'none'" in text


def test_html_embeds_the_heatmap_data(written_report: Path, cohort_report: Any) -> None:
    text = (written_report / "report.html").read_text(encoding="utf-8")
    match = re.search(r'<script type="application/json" id="wb-data">(.*?)</script>', text, re.S)
    assert match
    data = json.loads(match.group(1))
    assert [s["id"] for s in data["skills"]] == cohort_report.taxonomy.skill_ids
    teams = data["views"]["teams"]
    assert teams["rows"][0]["id"] == "all"
    assert any(r["suppressed"] and r["sub"] == "suppressed (n<5)" for r in teams["rows"])
    people = data["views"]["people"]
    assert len(people["rows"]) == cohort_report.people["learner"].nunique()
    assert len(people["level"][0]) == len(data["skills"])
    # Every drawn people cell with evidence has its drill-down, with event ids.
    drawn = sum(v is not None for row in people["level"] for v in row)
    assert len(data["drill"]["people"]) == drawn
    cell = next(iter(data["drill"]["people"].values()))
    assert cell["items"] and len(cell["items"][0]) == len(data["drill_columns"])
    assert data["drill_columns"][-1] == "event_id"
    team_cell = next(iter(data["drill"]["teams"].values()))
    assert team_cell["members"] and team_cell["n_members"] >= 5
    assert data["outcomes"]["team"]["rows"]
    assert data["trends"]["periods"]


def test_script_breaking_names_are_escaped(tmp_path: Path) -> None:
    evil = "</script><script>alert(1)</script>"
    events = [score(f"l{i}", "prompting", 0.5, team=evil) for i in range(6)]
    report = build_report(events, as_of="2026-02-01", out_dir=tmp_path, formats=("html",))
    text = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert evil not in text
    assert text.count("<script") == 2  # the data block and the code, nothing injected
    payload = report_payload(report)
    assert payload["views"]["teams"]["rows"][1]["id"] == evil


def test_png_and_csv_outputs(written_report: Path, cohort_report: Any) -> None:
    for name in ("heatmap_teams.png", "heatmap_people.png", "trends.png"):
        data = (written_report / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5_000
    people = pd.read_csv(written_report / "people_skills.csv")
    assert len(people) == len(cohort_report.people)
    assert {"learner", "team", "role", "skill", "level", "level_lo", "level_hi", "target", "gap", "status",
            "n_evidence", "last_evidence"} <= set(people.columns)
    teams = pd.read_csv(written_report / "teams_skills.csv")
    assert teams.loc[teams["team"] == "small-team", "level"].isna().all()
    evidence = pd.read_csv(written_report / "evidence.csv")
    assert len(evidence) == len(cohort_report.evidence)
    assert evidence["event_id"].str.len().eq(36).all()
    for name in ("trends", "outcomes_by_team", "outcomes_by_task", "outcomes_by_period", "outcomes_by_all",
                 "people_levels", "unknown_skills"):
        assert (written_report / f"{name}.csv").is_file(), name
    summary = json.loads((written_report / "report.json").read_text())
    assert summary["counts"]["learners"] == 45 and summary["files"]["html"].endswith("report.html")


def test_csv_quoting_and_missing_values(tmp_path: Path) -> None:
    frame = pd.DataFrame({
        "text": ['plain', 'with, comma', 'with "quote"', "line\nbreak", None],
        "number": [1.23456789, float("nan"), 2.0, 3.5, 0.0],
        "count": [1, 2, 3, 4, 5],
        "time": pd.to_datetime(["2026-01-01T10:00:00+02:00", None, "2026-01-02", "2026-01-03", "2026-01-04"],
                               utc=True, format="mixed"),
    })
    path = tmp_path / "x.csv"
    write_csv(frame, path)
    back = pd.read_csv(path, keep_default_na=False)
    assert back["text"].tolist() == ['plain', 'with, comma', 'with "quote"', "line\nbreak", ""]
    assert back["number"].tolist()[:2] == ["1.2346", ""]
    assert back["count"].tolist() == [1, 2, 3, 4, 5]
    assert back["time"].tolist()[0] == "2026-01-01T08:00:00.000000" and back["time"].tolist()[1] == ""


def test_csv_text_of_every_column_kind_in_chunks(tmp_path: Path) -> None:
    """The exact text for each kind of column (Arrow formats it; the text is what Python's own formatting gave),
    the same whichever chunk a row falls in."""
    frame = pd.DataFrame({
        "float": [1.0, 0.12346, -0.0, 1e15, float("inf")],
        "small": [0.0001, 2.5, 99999999999999.9, None, -3.00004],
        "int": [1, -2, 3, 40, 5],
        "flag": [True, False, True, False, True],
        "text": pd.array(["a", None, 'b"c', "ünï", "x\ry"], dtype="str"),
        "mixed": [None, 1, "a,b", 2.5, ["x"]],
        "category": pd.Categorical(["a", "b", None, "a", "c,d"]),
        "time": pd.to_datetime(["2026-01-01T10:00:00.123456+02:00", None, "2026-01-02", "1999-12-31T23:59:59Z",
                                "2026-03-04T05:06:07"], utc=True, format="mixed"),
        "naive": pd.to_datetime(["2026-01-01", None, "2026-01-02", "2026-01-03", "2026-01-04"]),
    })
    expected = (
        "float,small,int,flag,text,mixed,category,time,naive\n"
        "1.0,0.0001,1,True,a,,a,2026-01-01T08:00:00.123456,2026-01-01T00:00:00.000000\n"
        "0.1235,2.5,-2,False,,1,b,,\n"
        '-0.0,99999999999999.9,3,True,"b""c","a,b",,2026-01-02T00:00:00.000000,2026-01-02T00:00:00.000000\n'
        "1000000000000000.0,,40,False,ünï,2.5,a,1999-12-31T23:59:59.000000,2026-01-03T00:00:00.000000\n"
        ',-3.0,5,True,"x\ry",[\'x\'],"c,d",2026-03-04T05:06:07.000000,2026-01-04T00:00:00.000000\n'
    )
    for chunk in (2, 250_000):
        path = tmp_path / f"chunk{chunk}.csv"
        write_csv(frame, path, chunk=chunk)
        assert path.read_bytes().decode("utf-8") == expected, chunk
    write_csv(frame.iloc[:0], tmp_path / "empty.csv")
    assert (tmp_path / "empty.csv").read_text() == expected.splitlines()[0] + "\n"
    write_csv(frame[["int"]], tmp_path / "one.csv")
    assert (tmp_path / "one.csv").read_text() == "int\n1\n-2\n3\n40\n5\n"


def test_reports_export_each_skills_public_ids(written_report: Path, cohort_report: Any) -> None:
    """report.json, skill_external_ids.csv and the HTML data carry every skill's ESCO / O*NET ids to join on."""
    tax = cohort_report.taxonomy
    expected = {s.id: s.external_ids.as_dict() for s in tax.skills}
    assert sum(bool(v) for v in expected.values()) == 10  # the shipped mapping (datasets/skills/EXTERNAL_IDS.md)
    summary = json.loads((written_report / "report.json").read_text())
    assert {s["id"]: s["external_ids"] for s in summary["skills"]} == expected
    assert summary["files"]["csv_skill_external_ids"].endswith("skill_external_ids.csv")
    # The CSV: one row per skill and id, joinable on (framework, external_id).
    table = pd.read_csv(written_report / "skill_external_ids.csv", dtype=str)
    assert list(table.columns) == ["skill", "skill_name", "framework", "external_id"]
    assert len(table) == sum(len(ids) for per in expected.values() for ids in per.values())
    row = table.loc[(table["framework"] == "onet") & (table["external_id"] == "2.B.4.h")]
    assert row[["skill", "skill_name"]].values.tolist() == [["evaluation_design", "Evaluation design"]]
    esco = table.loc[table["framework"] == "esco"].set_index("skill")["external_id"]
    assert esco["guardrails_governance"] == "http://data.europa.eu/esco/skill/33a82b83-c838-4889-ae62-fae1317481eb"
    # The HTML: the embedded data holds them (the About tab lists them); the page text has no URL in clear.
    text = (written_report / "report.html").read_text(encoding="utf-8")
    match = re.search(r'<script type="application/json" id="wb-data">(.*?)</script>', text, re.S)
    assert match
    data = json.loads(match.group(1))
    assert {s["id"]: s["external_ids"] for s in data["skills"]} == expected
    assert "http://data.europa.eu" not in text and "publicIds(s.external_ids)" in text


def test_taxonomy_without_public_ids_writes_an_empty_join_table(tmp_path: Path) -> None:
    data = yaml.safe_load(Path(load_taxonomy().source).read_text())  # type: ignore[arg-type]
    for skill in data["skills"]:
        skill.pop("external_ids", None)
    events = [score(f"l{i}", "prompting", 0.5) for i in range(6)]
    build_report(events, as_of="2026-02-01", taxonomy=parse_taxonomy(data), out_dir=tmp_path, formats=("csv",))
    table = pd.read_csv(tmp_path / "skill_external_ids.csv")
    assert table.empty and list(table.columns) == ["skill", "skill_name", "framework", "external_id"]
    summary = json.loads((tmp_path / "report.json").read_text())
    assert all(s["external_ids"] == {} for s in summary["skills"])
