"""``validate``: the notebook mirrors the manifest, outputs are stripped, rubrics and skills exist."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from exercise_playbook import MATRIX_EXERCISE_CELLS

from workbench.errors import ValidationError
from workbench.playbooks import new_playbook, prepare_run, validate_playbook
from workbench.playbooks.validate import errors_only


def _fields(problems) -> dict[str, str]:
    return {p.field or "": p.message for p in problems}


def test_scaffold_is_valid_out_of_the_box(tmp_path: Path) -> None:
    pb = new_playbook("fresh-lesson", tmp_path, skills={"prompting": 0.6, "cost_awareness": 0.4})
    assert validate_playbook(pb) == []
    assert (pb.root / "rubrics" / "fresh-lesson.yaml").is_file()
    assert pb.manifest.skills == {"prompting": 0.6, "cost_awareness": 0.4}
    with pytest.raises(ValidationError, match="already exists"):
        new_playbook("fresh-lesson", tmp_path)
    with pytest.raises(ValidationError) as info:
        new_playbook("Bad Id", tmp_path)
    assert info.value.field == "id"


def test_notebook_without_parameters_cell(make_playbook) -> None:
    root = make_playbook("probe", cells=[("x = 1", ()), ('print("hi")', ("task:work", "task:after"))])
    problems = validate_playbook(root)
    assert _fields(problems)["parameters"] == "the notebook has no cell tagged 'parameters'"
    assert problems[0].file.endswith("probe.ipynb")
    with pytest.raises(ValidationError) as info:  # the runner refuses it before starting a kernel
        prepare_run(root)
    assert info.value.field == "parameters" and info.value.file.endswith("probe.ipynb")


def test_parameters_cell_must_mirror_manifest(make_playbook) -> None:
    cells = [
        ('mode = "ok"\nn = 3\nextra = True', ("parameters",)),
        ("pass", ("task:work", "task:after")),
    ]
    problems = validate_playbook(make_playbook("probe", cells=cells))
    fields = _fields(problems)
    assert "defaults to 3 in the notebook but 2" in fields["parameters.n"]
    assert "does not declare" in fields["parameters.extra"]
    line = next(p.line for p in problems if p.field == "parameters.extra")
    assert line == 3


def test_outputs_must_be_stripped_and_task_tags_used(make_playbook) -> None:
    root = make_playbook("probe")
    nb = nbformat.read(root / "probe.ipynb", as_version=4)
    nb.cells[1].outputs = [nbformat.v4.new_output("stream", name="stdout", text="hi\n")]
    nb.cells[1].execution_count = 1
    for cell in nb.cells:
        cell.metadata["tags"] = [t for t in cell.metadata.get("tags", []) if t != "task:after"]
    nbformat.write(nb, root / "probe.ipynb")
    fields = _fields(validate_playbook(root))
    assert "outputs" in fields["cells[1]"]
    assert "task:after" in fields["tasks[1].cell_tag"]


def test_task_calls_must_name_manifest_tasks(make_playbook) -> None:
    cells = [
        ('mode = "ok"\nn = 2', ("parameters",)),
        ('from workbench.playbooks import task\nwith task("wrok"):\n    pass', ("task:work", "task:after")),
        ('with task("after"):\n    pass', ()),
    ]
    problems = validate_playbook(make_playbook("probe", cells=cells))
    by_field = {p.field: p for p in problems}
    assert "task('wrok') names no task" in by_field["cells[1]"].message
    assert by_field["tasks[0]"].severity == "warning" and "never be recorded" in by_field["tasks[0]"].message


def test_missing_rubric_unknown_skill_and_role(make_playbook) -> None:
    root = make_playbook(
        "probe",
        cells=MATRIX_EXERCISE_CELLS,  # a graded task needs a solution region; this test is about the manifest
        manifest={
            "audience": ["astronaut"],
            "skills": {"prompting": 0.5, "juggling": 0.5},
            "tasks": [
                {"id": "work", "title": "Work", "rubric": "rubrics/missing.yaml"},
                {"id": "after", "title": "After"},
            ],
        },
    )
    problems = errors_only(validate_playbook(root))
    fields = _fields(problems)
    assert "rubric 'rubrics/missing.yaml' does not exist" in fields["tasks[0].rubric"]
    assert fields["skills.juggling"] == "unknown skill 'juggling'"
    assert fields["audience"] == "unknown role 'astronaut'"
    assert all(p.file.endswith("playbook.yaml") for p in problems)


def test_invalid_rubric_file_is_reported_with_its_location(make_playbook) -> None:
    root = make_playbook(
        "probe",
        manifest={
            "tasks": [
                {"id": "work", "title": "Work", "rubric": "rubrics/bad.yaml"},
                {"id": "after", "title": "After"},
            ]
        },
    )
    (root / "rubrics").mkdir()
    (root / "rubrics" / "bad.yaml").write_text("id: bad\nversion: 1\ncriteria: 7\n")
    problems = _fields(validate_playbook(root))
    assert "rubric 'rubrics/bad.yaml' is invalid" in problems["tasks[0].rubric"]
