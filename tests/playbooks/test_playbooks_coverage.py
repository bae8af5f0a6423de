"""The skill x graded-task coverage table (``workbench playbook validate --coverage``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from workbench.cli import main
from workbench.playbooks import discover_playbooks
from workbench.playbooks.authoring import new_playbook
from workbench.playbooks.coverage import skill_coverage
from workbench.skills import load_taxonomy


def _run(args: list[str]) -> int:
    try:
        return int(main(args) or 0)
    except SystemExit as exc:
        return int(exc.code or 0)


def test_a_graded_task_counts_for_each_of_its_skills_and_ungraded_tasks_only_as_tasks(tmp_path: Path) -> None:
    # The scaffold has one ungraded task and one rubric-graded task, both on the playbook's skills.
    pb = new_playbook("probe", tmp_path, skills={"prompting": 0.7, "cost_awareness": 0.3})
    table = skill_coverage([pb], floor=1)
    rows = {r.skill: r for r in table.rows}
    assert set(rows) == {s.id for s in load_taxonomy().skills}  # every skill has a row, covered or not
    assert rows["prompting"].graded == ("probe/reflect",) and rows["prompting"].tasks == 2
    assert rows["cost_awareness"].graded == ("probe/reflect",)
    assert rows["fine_tuning"].graded == () and rows["fine_tuning"].tasks == 0
    assert not table.ok and "fine_tuning" in table.below and "prompting" not in table.below
    assert skill_coverage([pb], floor=0).ok


def test_the_floor_comes_from_the_taxonomy(tmp_path: Path) -> None:
    shipped = load_taxonomy()
    assert shipped.min_graded_tasks == 2
    data = yaml.safe_load(Path(str(shipped.source)).read_text(encoding="utf-8"))
    data["min_graded_tasks"] = 0
    lenient = tmp_path / "lenient.yaml"
    lenient.write_text(yaml.safe_dump(data), encoding="utf-8")
    assert skill_coverage([], taxonomy=lenient).ok
    assert not skill_coverage([], taxonomy=shipped).ok  # an empty catalog covers nothing


def test_cli_prints_the_table_and_fails_below_the_floor(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    new_playbook("probe", tmp_path, skills={"prompting": 1.0})
    code = _run(["playbook", "validate", "--coverage", "--dir", str(tmp_path), "--json"])
    table = json.loads(capsys.readouterr().out)
    assert code == (0 if table["ok"] else 1)
    assert "probe" in table["playbooks"]
    builtin = {pb.id for pb in discover_playbooks()}
    assert set(table["playbooks"]) == builtin | {"probe"}
    prompting = next(row for row in table["skills"] if row["skill"] == "prompting")
    assert "probe/reflect" in prompting["graded_tasks"] and prompting["graded"] == len(prompting["graded_tasks"])
    # Only the named playbook: one graded task per skill it trains, under the shipped floor of 2.
    assert _run(["playbook", "validate", "--coverage", str(tmp_path / "probe")]) == 1
    text = capsys.readouterr().out
    assert "floor 2 graded tasks" in text and "BELOW" in text and "prompting" in text
