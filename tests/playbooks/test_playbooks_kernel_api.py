"""The kernel-side API, exercised in-process: task() events carry the manifest's skills; check() hints."""

from __future__ import annotations

import pytest

from workbench.errors import NotFoundError
from workbench.playbooks import CheckFailed, check, task


def _events():
    from workbench.telemetry import open_store

    with open_store() as store:
        return sorted(store.query(), key=lambda e: e.time)


def test_task_records_started_and_completed_with_skills(
    make_playbook, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_playbook("probe")
    monkeypatch.chdir(root)  # a learner's kernel runs next to the notebook
    with task("work") as t:
        assert t.title == "Work"
        t.set(attempts=2)
    kinds = [(str(e.kind), e.task, e.playbook) for e in _events()]
    assert kinds == [("task_started", "work", "probe"), ("task_completed", "work", "probe")]
    done = _events()[-1]
    assert done.attributes["skills"] == {"prompting": 1.0}
    assert done.attributes["attempts"] == 2
    assert done.duration_s is not None and done.duration_s >= 0
    assert done.learner.startswith("p_")


def test_task_failure_is_recorded_and_reraised(make_playbook, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKBENCH_PLAYBOOK_DIR", str(make_playbook("probe")))
    with pytest.raises(CheckFailed) as info, task("after"):
        check(1 + 1 == 3, "arithmetic works", hint="try 2")
    assert "hint: try 2" in str(info.value)
    failed = _events()[-1]
    assert str(failed.kind) == "task_failed"
    assert failed.attributes["error_type"] == "CheckFailed"
    assert failed.attributes["skills"] == {"prompting": 0.7, "cost_awareness": 0.3}


def test_unknown_task_id_is_an_error_inside_a_playbook(make_playbook, monkeypatch) -> None:
    monkeypatch.chdir(make_playbook("probe"))
    with pytest.raises(NotFoundError) as info, task("typo"):
        pass
    assert "work, after" in (info.value.hint or "")


def test_outside_a_playbook_task_still_tracks(capsys: pytest.CaptureFixture[str]) -> None:
    with task("free-play") as t:
        check(True, "it works")
    assert t.spec is None
    assert "✓ it works" in capsys.readouterr().out
    assert [str(e.kind) for e in _events()] == ["task_started", "task_completed"]


def test_learner_copy_keeps_the_manifest_next_to_the_notebook(make_playbook, tmp_path, monkeypatch) -> None:
    from workbench.errors import ValidationError
    from workbench.playbooks import copy_playbook

    notebook = copy_playbook(make_playbook("probe"), tmp_path / "ana-workspace")
    assert notebook == tmp_path / "ana-workspace" / "probe" / "probe.ipynb" and notebook.is_file()
    monkeypatch.chdir(notebook.parent)  # the learner's kernel
    with task("work"):
        pass
    assert _events()[-1].playbook == "probe" and _events()[-1].attributes["skills"] == {"prompting": 1.0}
    with pytest.raises(ValidationError, match="already has a copy"):
        copy_playbook(notebook.parent, tmp_path / "ana-workspace")
