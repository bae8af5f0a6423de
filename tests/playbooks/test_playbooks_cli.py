"""``workbench playbook ...``: the authoring loop end to end, and user errors without tracebacks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from exercise_playbook import MATRIX_EXERCISE_CELLS

from workbench.cli import main


def _main(args: list[str]) -> int:
    """``workbench ARGS`` in-process; the exit code (commands end with SystemExit on failure)."""
    try:
        return main(args)
    except SystemExit as exc:
        return int(exc.code or 0)


def _json(capsys: pytest.CaptureFixture[str], args: list[str]) -> tuple[int, dict]:
    code = _main([*args, "--json"])
    out = capsys.readouterr().out
    return code, json.loads(out)


def test_help_lists_every_subcommand(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["playbook", "--help"]) == 0
    out = capsys.readouterr().out
    for name in ("new", "validate", "release", "run", "batch", "test", "list", "progress"):
        assert name in out


def test_user_errors_name_the_field(capsys: pytest.CaptureFixture[str], make_playbook) -> None:
    code, data = _json(capsys, ["playbook", "run", "no-such-playbook"])
    assert code == 2 and data["error"] == "NotFoundError" and data["field"] == "playbook"
    root = make_playbook("probe")
    code, data = _json(capsys, ["playbook", "run", str(root), "-p", "n=lots"])
    assert code == 2 and data["field"] == "parameters.n" and data["file"].endswith("playbook.yaml")
    code, data = _json(capsys, ["playbook", "run", str(root), "-p", "colour=red"])
    assert code == 2 and data["field"] == "parameters.colour"
    code, data = _json(capsys, ["playbook", "batch", str(root)])
    assert code == 2 and "nothing to run" in data["message"]


def test_validate_reports_problems_with_exit_code(capsys: pytest.CaptureFixture[str], make_playbook) -> None:
    good = make_playbook("probe", cells=MATRIX_EXERCISE_CELLS)  # valid: its graded task has a solution region
    bad = make_playbook("bad", cells=[("x = 1", ())])
    code, data = _json(capsys, ["playbook", "validate", str(good), str(bad)])
    assert code == 1 and not data["ok"]
    assert data["playbooks"][str(good)]["ok"]
    problems = data["playbooks"][str(bad)]["problems"]
    assert any(p["field"] == "parameters" and p["file"].endswith("bad.ipynb") for p in problems)
    assert _main(["playbook", "validate", str(good)]) == 0
    assert "ok" in capsys.readouterr().out


def test_list_filters_by_skill_and_role(capsys: pytest.CaptureFixture[str], make_playbook, tmp_path: Path) -> None:
    parent = tmp_path / "mine"
    make_playbook("probe", parent=parent)  # prompting (playbook and task), cost_awareness; for copilot_builder
    make_playbook("tasky", parent=parent, manifest={"skills": {"cost_awareness": 1.0}, "audience": []})
    make_playbook("other", parent=parent, manifest={"skills": {"fine_tuning": 1.0}, "audience": ["ml_engineer"],
                                                    "tasks": [{"id": "work", "title": "Work"}]})

    def ids(*filters: str) -> list[str]:
        code, listing = _json(capsys, ["playbook", "list", "--dir", str(parent), *filters])
        assert code == 0
        return sorted(p["id"] for p in listing["playbooks"] if p["source"] == "path")

    assert ids() == ["other", "probe", "tasky"]
    assert ids("--skill", "prompting") == ["probe", "tasky"]  # tasky's task 'work' maps prompting
    assert ids("--skill", "fine_tuning") == ["other"]
    assert ids("--role", "ml_engineer") == ["other", "tasky"]  # an empty audience is for everyone
    assert ids("--skill", "prompting", "--role", "ml_engineer") == ["tasky"]
    code, listing = _json(capsys, ["playbook", "list", "--dir", str(parent), "--skill", "no_such_skill"])
    assert code == 0 and listing["playbooks"] == [] and listing["filters"] == {"skill": "no_such_skill", "role": None}
    assert _main(["playbook", "list", "--dir", str(parent), "--skill", "no_such_skill"]) == 0
    assert "no playbooks match" in capsys.readouterr().out


def test_filter_playbooks_is_the_catalog_filter(make_playbook, tmp_path: Path) -> None:
    from workbench.playbooks import discover_playbooks, filter_playbooks

    parent = tmp_path / "mine"
    make_playbook("probe", parent=parent)
    make_playbook("other", parent=parent, manifest={"skills": {"fine_tuning": 1.0}, "audience": ["ml_engineer"],
                                                    "tasks": [{"id": "work", "title": "Work"}]})
    catalog = discover_playbooks([parent])
    everything = filter_playbooks(catalog)
    assert [pb.id for pb in everything] == [pb.id for pb in catalog]
    assert filter_playbooks(catalog, skill="", role="") == everything
    mine = [pb.id for pb in filter_playbooks(catalog, skill="fine_tuning", role="ml_engineer") if pb.source == "path"]
    assert mine == ["other"]
    assert [pb.id for pb in filter_playbooks(catalog, role="support_analyst") if pb.source == "path"] == []


@pytest.mark.slow
def test_author_loop_new_list_run_batch_test_progress(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, created = _json(
        capsys, ["playbook", "new", "my-lesson", "--skill", "prompting=0.6", "--skill", "cost_awareness=0.4"]
    )
    assert code == 0 and Path(created["path"]) == tmp_path / "playbooks" / "my-lesson"

    code, listing = _json(capsys, ["playbook", "list"])
    mine = next(p for p in listing["playbooks"] if p["id"] == "my-lesson")
    assert mine["source"] == "cwd" and mine["skills"] == {"prompting": 0.6, "cost_awareness": 0.4}

    # Learners get the learner version: the scaffold's exercises are stubs, so it fails until answered.
    code, released = _json(capsys, ["playbook", "run", "my-lesson", "--learner", "eve"])
    assert code == 1 and released["status"] == "failed" and released["error_type"] == "NotImplementedError"

    code, run = _json(capsys, ["playbook", "run", "my-lesson", "--author", "--learner", "ana", "-p", "repeats=3"])
    assert code == 0 and run["status"] == "completed" and run["parameters"]["repeats"] == 3

    code, batch = _json(
        capsys, ["playbook", "batch", "my-lesson", "--author", "--learners", "ben,cy", "--workers", "1"])
    assert code == 0 and batch["counts"] == {"completed": 2} and batch["kernel_starts"] == 1

    code, smoke = _json(capsys, ["playbook", "test", "my-lesson"])
    assert code == 0 and smoke["ok"]
    assert smoke["playbooks"][0]["run"]["parameters"]["repeats"] == 1  # the smoke parameters applied

    code, progress = _json(capsys, ["playbook", "progress", "--learner", "ana"])
    [mine] = progress["playbooks"]
    assert mine["done"] and mine["completed"] == 2 and mine["next_task"] is None
    assert _main(["playbook", "progress", "--learner", "ana"]) == 0
    assert "2/2 tasks" in capsys.readouterr().out
