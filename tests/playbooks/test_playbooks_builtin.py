"""The built-in pack: every playbook validates, and `workbench playbook test` passes headless on the tiny model."""

from __future__ import annotations

import json

import pytest

from workbench.cli import main
from workbench.playbooks import builtin_pack_dir, discover_playbooks, learner_progress, validate_playbook
from workbench.playbooks.smoke import SMOKE_LEARNER


def test_builtin_pack_is_discovered_and_valid() -> None:
    builtins = [pb for pb in discover_playbooks() if pb.source == "builtin"]
    assert "prompting-fundamentals" in {pb.id for pb in builtins}
    assert all(pb.root.parent == builtin_pack_dir().resolve() for pb in builtins)
    for pb in builtins:
        assert validate_playbook(pb) == [], pb.id


@pytest.mark.slow
def test_playbook_test_passes_for_every_builtin(capsys: pytest.CaptureFixture[str], tiny_model_dir) -> None:
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
    # The lesson's evidence is in the store: every task completed, the rubric scored the learner's prompt.
    [progress] = learner_progress(SMOKE_LEARNER, playbook="prompting-fundamentals")
    assert progress.done, [(t.id, t.status) for t in progress.tasks]
    review = next(t for t in progress.tasks if t.id == "prompt-review")
    assert review.score == 1.0 and review.passed
