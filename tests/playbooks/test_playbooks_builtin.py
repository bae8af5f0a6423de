"""The built-in pack: every playbook validates, and `workbench playbook test` passes headless on the default model.

The lessons run on SmolLM2-135M-Instruct (their `model_name` parameter names it), so the slow test builds it into
the test cache first; their checks are written for that model's greedy (and seeded) behaviour.
"""

from __future__ import annotations

import json
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
    "preference-tuning",
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


# Ten notebook runs on SmolLM2: about 4 minutes on 2 quiet cores; the deadline leaves room for a shared machine.
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
    # The rubric scored the learner's prompt of the prompting lesson.
    [progress] = learner_progress(SMOKE_LEARNER, playbook="prompting-fundamentals")
    review = next(t for t in progress.tasks if t.id == "prompt-review")
    assert review.score == 1.0 and review.passed

