"""The demo's cohort: simulated learners answer the learner version from the answer bank; the heatmap varies."""

from __future__ import annotations

from pathlib import Path

import pytest
from exercise_playbook import write_exercise_playbook
from rich.console import Console

from workbench.cli.demo import run_cohort
from workbench.playbooks import SimulatedLearner, get_playbook, simulated_jobs
from workbench.playbooks.answers import choose_answers, cohort_of, load_answer_bank, solutions_of
from workbench.skills import build_report
from workbench.telemetry import pseudonymize


def test_simulated_answers_follow_skill_and_the_copier_submits_the_solutions(tmp_path: Path) -> None:
    import random

    root = write_exercise_playbook(tmp_path / "pbs")
    bank = load_answer_bank(root)
    assert bank is not None and set(bank.exercises) == {"count", "review"}
    solutions = solutions_of(root)
    strong, weak = SimulatedLearner("s", skill=1.0), SimulatedLearner("w", skill=0.0)
    good = {a.code for name in bank.exercises for a in bank.exercises[name] if a.quality == "good"}
    hinted = 0
    for seed in range(5):
        assert set(choose_answers(bank, solutions, strong, random.Random(seed)).values()) <= good
        for exercise, code in choose_answers(bank, solutions, weak, random.Random(seed)).items():
            prefix = f'hint("{exercise}")\n'
            hinted += code.startswith(prefix)
            assert code.removeprefix(prefix) not in good  # a weak learner's answers are fair or poor...
    assert hinted  # ...and they reveal hints (the strong one never does)
    copier = choose_answers(bank, solutions, SimulatedLearner("c", skill=1.0, copies_solution=True), random.Random(0))
    assert copier == solutions
    people = cohort_of([(f"p{i}", "t") for i in range(6)], copier=3)
    assert [p.skill for p in people] == sorted((p.skill for p in people), reverse=True)
    assert [p.copies_solution for p in people] == [False, False, False, True, False, False]
    jobs = simulated_jobs(get_playbook(root), people[:2])
    assert [j.learner for j in jobs] == ["p0", "p1"] and all(j.notebook is not None for j in jobs)
    assert all("raise NotImplementedError" not in c.source for j in jobs for c in j.notebook.cells)


@pytest.mark.slow
def test_demo_cohort_heatmap_varies_with_the_answers_and_flags_the_copier(tmp_path: Path) -> None:
    root = write_exercise_playbook(tmp_path / "pbs")
    without_bank = write_exercise_playbook(tmp_path / "pbs", playbook_id="no-bank", answers=None)
    summary = run_cohort(Console(quiet=True), 6, tmp_path / "report", [root, without_bank], workers=1)
    assert summary["skipped_playbooks"] == ["no-bank"]
    assert sum(summary["playbook_runs"]["evidence-probe"].values()) == 6
    assert Path(summary["report"]["html"]).is_file() and Path(summary["report"]["csv_evidence"]).is_file()
    copier = next(p["learner"] for p in summary["cohort"] if p["copies_solution"])

    report = build_report(role="copilot_builder")  # the five-person support team is shown, as in the demo
    support = [p["learner"] for p in summary["cohort"] if p["team"] == "support" and not p["copies_solution"]]
    levels = report.people.loc[report.people["skill"] == "structured_output"].set_index("learner")["level"]
    shown = {name: levels.get(pseudonymize(name)) for name in support}
    assert all(v is not None for v in shown.values()), shown
    assert len({round(v, 2) for v in shown.values()}) >= 2  # real differences, from different answers
    ranked = sorted(support, key=lambda n: next(p["skill"] for p in summary["cohort"] if p["learner"] == n))
    assert shown[ranked[-1]] > shown[ranked[0]]  # the strongest simulated learner beats the weakest
    assert pseudonymize(copier) not in set(report.people["learner"])  # the copier earns nothing...

    items = report.drilldown(copier, "structured_output", limit=None)  # ...and the drill-down says why
    assert items and all(i["origin"] == "solution" and not i["counted"] for i in items)
    scored = report.drilldown(ranked[-1], "structured_output", limit=None)
    submitted = [i for i in scored if i["source"] == "score"]
    assert submitted and all(i["origin"] == "learner" and i["counted"] for i in submitted)
    assert all(0.0 <= i["outcome"] <= 1.0 for i in submitted)
