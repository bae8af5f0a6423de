"""The built-in pack: every playbook validates, and `workbench playbook test` passes headless on the default model.

The lessons run on SmolLM2-135M-Instruct (their `model_name` parameter names it), so the slow test builds it into
the test cache first; their checks are written for that model's greedy (and seeded) behaviour.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from workbench.cli import main
from workbench.playbooks import builtin_pack_dir, discover_playbooks, learner_progress, validate_playbook
from workbench.playbooks.smoke import SMOKE_LEARNER

BUILTIN = (
    "prompting-fundamentals",
    "critique-rubrics",
    "rag-wiring",
    "qlora-finetuning",
    "support-copilot-capstone",
    "evaluation-suites",
    "cost-latency",
    "data-curation",
    "guardrails-redteam",
    "preference-tuning",
    "support-analyst-capstone",
    "learning-author-capstone",
)


def test_builtin_pack_is_discovered_and_valid() -> None:
    builtins = [pb for pb in discover_playbooks() if pb.source == "builtin"]
    assert set(BUILTIN) <= {pb.id for pb in builtins}
    assert all(pb.root.parent == builtin_pack_dir().resolve() for pb in builtins)
    for pb in builtins:
        assert validate_playbook(pb) == [], pb.id


def test_builtin_lessons_run_on_the_default_model_and_mark_their_exercises() -> None:
    """Every lesson names SmolLM2 (when it has a model parameter) and every task has a solution region."""
    for pb in (p for p in discover_playbooks() if p.source == "builtin"):
        model = next((p for p in pb.manifest.parameters if p.name == "model_name"), None)
        assert model is None or model.default == "smollm2-135m-instruct", pb.id
        source = (pb.root / pb.manifest.notebook_name).read_text(encoding="utf-8")
        for spec in pb.manifest.tasks:
            assert f"### BEGIN SOLUTION {spec.id}" in source, (pb.id, spec.id)


#: Lessons whose walk-through must show the learner no library noise (warnings, progress bars, stray reprs).
QUIET_LESSONS = ("rag-wiring", "qlora-finetuning")
#: What library noise looks like in a cell's output: a Python warning, a progress bar, a thread's repr.
NOISE = re.compile(r"Warning\b|\bwarn\(|warnings\.warn|it/s\]|<Thread\(|Loading weights")


def noise_in(notebook: Path) -> list[str]:
    """Cell outputs of an executed notebook that a learner would take for a problem: stderr, warnings, bars."""
    found = []
    for index, cell in enumerate(json.loads(notebook.read_text(encoding="utf-8"))["cells"]):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream":
                text = "".join(output.get("text", ""))
                if output.get("name") == "stderr" or NOISE.search(text):
                    found.append(f"cell {index} {output.get('name')}: {text[:300]}")
            elif output.get("output_type") in ("display_data", "execute_result"):
                text = "".join(output.get("data", {}).get("text/plain", ""))
                if NOISE.search(text):
                    found.append(f"cell {index} {output['output_type']}: {text[:300]}")
    return found


def test_noise_in_finds_warnings_bars_and_stderr(tmp_path: Path) -> None:
    cells = [
        {"cell_type": "code", "outputs": [{"output_type": "stream", "name": "stdout", "text": ["fine\n"]}]},
        {"cell_type": "code", "outputs": [{"output_type": "stream", "name": "stderr", "text": ["some log line\n"]}]},
        {"cell_type": "code", "outputs": [{"output_type": "stream", "name": "stdout",
                                           "text": ["/x.py:3: UserWarning: dtype\n  warnings.warn(\n"]}]},
        {"cell_type": "code", "outputs": [{"output_type": "display_data",
                                           "data": {"text/plain": "Loading weights:  10%| 27/272 [00:01<00:09, 25it/s]"}}]},
        {"cell_type": "code", "outputs": [{"output_type": "execute_result", "data": {"text/plain": "<Thread(t, started)>"}}]},
        {"cell_type": "markdown", "source": "Warning: prose may say so"},
    ]
    notebook = tmp_path / "out.ipynb"
    notebook.write_text(json.dumps({"cells": cells}))
    assert [line.split(":")[0] for line in noise_in(notebook)] == ["cell 1 stderr", "cell 2 stdout", "cell 3 display_data", "cell 4 execute_result"]


# Twelve lessons (all but the authoring capstone on SmolLM2): about 4 minutes on 2 quiet cores; the deadline leaves room for a shared machine.
@pytest.mark.slow
@pytest.mark.timeout(2400)
def test_playbook_test_passes_for_every_builtin_and_its_learner_version_fails(capsys: pytest.CaptureFixture[str], smollm2_dir: Path) -> None:
    try:
        code = main(["playbook", "test", "--json"])
    except SystemExit as exc:
        code = int(exc.code or 0)
    report = json.loads(capsys.readouterr().out)
    failures = {
        p["playbook"]: p["run"] and (p["run"]["error_type"], p["run"]["error_message"])
        for p in report["playbooks"]
        if not p["ok"]
    }
    assert code == 0 and report["ok"], failures
    # Both versions ran: the learner version (stubs in place of the answers) fails every graded task.
    for p in report["playbooks"]:
        assert p["released"] is not None and not p["released"]["ok"], p["playbook"]
        assert p["passing_unchanged"] == [], p["playbook"]
    # The lessons' evidence is in the store: every task of every lesson completed.
    for playbook in BUILTIN:
        [progress] = learner_progress(SMOKE_LEARNER, playbook=playbook)
        assert progress.done, (playbook, [(t.id, t.status) for t in progress.tasks])
    # A learner's walk through these lessons (the author version: every cell runs) shows no library noise, and
    # the first model load says what it is doing instead of sitting silent.
    runs = {p["playbook"]: Path(p["run"]["output_path"]) for p in report["playbooks"]}
    for playbook in QUIET_LESSONS:
        assert noise_in(runs[playbook]) == [], playbook
    assert "smollm2-135m-instruct ready (" in runs["rag-wiring"].read_text(encoding="utf-8")
    # The rubric scored the learner's prompt of the prompting lesson.
    [progress] = learner_progress(SMOKE_LEARNER, playbook="prompting-fundamentals")
    review = next(t for t in progress.tasks if t.id == "prompt-review")
    assert review.score == 1.0 and review.passed

