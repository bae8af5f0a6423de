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


_BUILTINS = sorted((pb for pb in discover_playbooks() if pb.source == "builtin"), key=lambda pb: pb.id)


@pytest.mark.slow
@pytest.mark.parametrize("pb", _BUILTINS, ids=lambda pb: pb.id)
def test_builtin_learner_version_fails_every_graded_task_and_author_version_passes(pb, tiny_model_dir) -> None:
    from workbench.playbooks import smoke_test
    from workbench.playbooks.exercise_checks import graded_tasks
    from workbench.playbooks.notebook import read_notebook
    from workbench.playbooks.regions import notebook_regions

    nb = read_notebook(pb.notebook_path)
    if not notebook_regions(nb.cells)[0]:
        pytest.skip(f"{pb.id} has no solution regions yet: its exercises still ship their answers (issue 20)")
    graded = graded_tasks(pb.manifest, nb)
    assert graded, f"{pb.id} grades nothing"
    [result] = smoke_test([pb])
    assert result.run is not None and result.run.ok, (result.status, result.run and result.run.error_message)
    assert result.released is not None and not result.released.ok
    assert result.passing_unchanged == [], f"{pb.id}: graded tasks pass with their stubs unchanged"
    assert result.ok, [str(p) for p in result.problems]
