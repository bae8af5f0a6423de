"""Whose work evidence is (``origin``) and the help it took (``hints``, ``attempt``): what counts, and how much."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from workbench.skills import EvidenceWeights, build_report, extract_evidence, load_events
from workbench.skills.payload import DRILL_COLUMNS, report_payload
from workbench.telemetry import pseudonymize

from .helpers import at, score, task

SKILLS = ["prompting", "structured_output"]
AS_OF = at(1).isoformat()


def _events() -> list:
    return [
        # own: their own passing answer, no help
        score("own", "prompting", 1.0, origin="learner", attempt=1, hints=0),
        task("own", "task_completed", {"prompting": 1.0}, origin="learner", attempt=1, hints=0),
        # sol: the shipped solution, a perfect score that must count for nothing
        score("sol", "prompting", 1.0, origin="solution", attempt=1, hints=0),
        task("sol", "task_completed", {"prompting": 1.0}, origin="solution", attempt=1, hints=0),
        # stu: ran the stub unchanged
        task("stu", "task_failed", {"prompting": 1.0}, origin="stub", attempt=1, hints=0),
        # ci: an author / CI run
        task("ci", "task_completed", {"prompting": 1.0}, origin="author"),
        # old: recorded before origins existed: counted as the learner's own, as before
        score("old", "prompting", 1.0),
        # helped: passed at the third attempt after two hints
        score("helped", "prompting", 1.0, origin="learner", attempt=3, hints=2),
        task("helped", "task_completed", {"prompting": 1.0}, origin="learner", attempt=3, hints=2),
    ]


def test_only_learner_work_counts_and_help_lowers_the_weight() -> None:
    evidence = extract_evidence(load_events(_events()), SKILLS)
    counted = evidence.frame
    assert set(counted["learner"]) == {pseudonymize(n) for n in ("own", "old", "helped")}
    assert counted["counted"].all() and (counted["weight"] > 0).all()
    assert set(counted["origin"].dropna()) == {"learner"} and counted["origin"].isna().sum() == 1  # "old"
    held = evidence.uncounted
    assert dict(zip(held["learner"], held["origin"], strict=False)) == {
        pseudonymize("sol"): "solution", pseudonymize("stu"): "stub", pseudonymize("ci"): "author"}
    assert (held["weight"] == 0).all() and not held["counted"].any()

    w = EvidenceWeights()
    weight = counted.set_index(["learner", "source"])["weight"]
    discount = w.hint_discount**2 * w.attempt_discount**2
    assert weight[(pseudonymize("helped"), "score")] == pytest.approx(weight[(pseudonymize("own"), "score")] * discount)
    assert weight[(pseudonymize("helped"), "task_completed")] == pytest.approx(w.task * discount)
    # Help never takes evidence below min_effort of its full weight.
    many = extract_evidence(load_events([score("x", "prompting", 1.0, origin="learner", hints=9, attempt=9)]),
                            SKILLS).frame
    assert many["weight"].iloc[0] == pytest.approx(w.score_trials * w.scorer["deterministic"] * w.min_effort)
    # The weights are configurable: a strict reading counts no event without an origin.
    strict = extract_evidence(load_events(_events()), SKILLS, weights=EvidenceWeights(count_unrecorded=False))
    assert pseudonymize("old") not in set(strict.frame["learner"])


def test_report_gives_solution_copies_no_proficiency_and_flags_them(tmp_path: Path) -> None:
    frame = pd.DataFrame([e.to_row() for e in _events()])
    report = build_report(frame, as_of=AS_OF, min_group_size=1, out_dir=tmp_path)
    people = set(report.people["learner"])
    assert people == {pseudonymize(n) for n in ("own", "old", "helped")}
    level = report.people.set_index("learner")["level"]
    assert level[pseudonymize("own")] > level[pseudonymize("helped")] > 1.0  # help taken: less, not no, credit
    assert report.counts["uncounted_evidence"] == 4 and report.counts["solution_evidence"] == 2
    assert any("1 learner(s) submitted answers identical to the shipped solutions" in m for m in report.messages)

    items = report.drilldown("sol", "prompting", limit=None)
    assert {(i["source"], i["origin"], i["counted"], i["outcome"], i["weight_now"]) for i in items} == {
        ("score", "solution", False, 1.0, 0.0), ("task_completed", "solution", False, 0.75, 0.0)}
    team_items = report.drilldown("team-a", "prompting", view="teams", limit=None)
    assert {i["origin"] for i in team_items} >= {"solution", "stub", "author", "learner"}

    payload = report_payload(report)
    assert payload["drill_columns"] == list(DRILL_COLUMNS) and "origin" in DRILL_COLUMNS
    rows = payload["views"]["people"]["rows"]
    flagged = next(r for r in rows if r["id"] == pseudonymize("sol"))  # drawn, though it has no estimate
    assert "⚑ 2 solution-identical submission(s), not counted" in flagged["sub"]
    index = [r["id"] for r in rows].index(pseudonymize("sol"))
    cell = payload["drill"]["people"][f"{index}:0"]
    origin = DRILL_COLUMNS.index("origin")
    assert {item[origin] for item in cell["items"]} == {"solution (not counted)"}
    mine = payload["drill"]["people"][f"{[r['id'] for r in rows].index(pseudonymize('old'))}:0"]
    assert {item[origin] for item in mine["items"]} == {"learner (unrecorded)"}

    csv = pd.read_csv(report.paths["csv_evidence"])
    assert {"origin", "counted"} <= set(csv.columns)
    assert set(csv.loc[csv["origin"] == "solution", "counted"]) == {False}
