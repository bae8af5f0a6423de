"""Solution regions: parsing, the learner version (``release``), ``validate``'s marker checks, fingerprints."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
import yaml
from exercise_playbook import (
    ANSWERS,
    CELLS,
    COUNT_SOLUTION,
    REVIEW_SOLUTION,
    write_exercise_playbook,
)

from workbench.cli import main
from workbench.errors import ValidationError
from workbench.playbooks import (
    PlaybookManifest,
    learner_notebook,
    load_manifest,
    new_playbook,
    release_notebook,
    release_playbook,
    validate_playbook,
)
from workbench.playbooks.exercises import Exercise, classify, combine, exercises_of_notebook, release_info
from workbench.playbooks.regions import (
    cell_regions,
    contains,
    fingerprint,
    normalised_tokens,
    stub_source,
)
from workbench.playbooks.session import KernelSession
from workbench.playbooks.validate import errors_only


def _run_cli(capsys: pytest.CaptureFixture[str], args: list[str]) -> tuple[int, dict]:
    try:
        code = main([*args, "--json"])
    except SystemExit as exc:
        code = int(exc.code or 0)
    return code, json.loads(capsys.readouterr().out or "{}")


def test_regions_parse_with_hints_and_become_stubs_in_the_learner_version(tmp_path: Path) -> None:
    root = write_exercise_playbook(tmp_path)
    regions, problems = cell_regions(CELLS[2][0], cell=2)
    assert problems == []
    [count] = regions
    assert (count.exercise, count.cell, count.begin_line, count.end_line, count.indent) == ("count", 2, 2, 7, "    ")
    assert count.hints == ("str.split() breaks a text into its words.", "len() of that list is the count.")
    assert count.code == COUNT_SOLUTION.rstrip("\n")

    author = nbformat.read(root / "evidence-probe.ipynb", as_version=4)
    author.cells[2].outputs = [nbformat.v4.new_output("stream", name="stdout", text="3\n")]
    author.cells[2].execution_count = 4
    released = release_notebook(author, yaml_manifest(root))
    code = released.cells[2].source
    # The stub is the agreed text, at the region's indentation, and the author notebook is left alone.
    assert stub_source("count", "    ") in code
    assert code.splitlines()[1:4] == [
        "    # EXERCISE count: write your own answer here, then run the cell.",
        '    # Stuck? hint("count") shows a hint (it is recorded).',
        '    raise NotImplementedError("exercise count: write your answer here")',
    ]
    assert "BEGIN SOLUTION" in author.cells[2].source and "len(text.split())" in author.cells[2].source
    assert "HINT" not in code and "len(text.split())" not in code and "check(count_words" in code
    assert released.cells[2].outputs == [] and released.cells[2].execution_count is None
    # The region outside a task block became a stub too; no released cell contains a shipped solution.
    assert released.cells[3].source.startswith("# EXERCISE review:")
    solutions = {"count": fingerprint(COUNT_SOLUTION), "review": fingerprint(REVIEW_SOLUTION)}
    assert not any(contains(c.source, fp) for c in released.cells for fp in solutions.values())
    # Hints and fingerprints moved to metadata: what the kernel reads.
    info = release_info(released.metadata)
    assert info is not None and info["playbook"] == "evidence-probe"
    exercises = exercises_of_notebook(released, {})
    assert exercises["count"].hints == count.hints and exercises["count"].task == "count"
    assert exercises["review"].task == "review" and exercises["review"].solution == solutions["review"]
    assert exercises_of_notebook(author, {"task:count": "count", "task:review": "review"}) == exercises


def yaml_manifest(root: Path) -> PlaybookManifest:
    return load_manifest(root)


def test_fingerprints_ignore_layout_comments_and_quote_style() -> None:
    solution = fingerprint(REVIEW_SOLUTION)
    same = [
        "my_prompt = 'Classify the support ticket. Reply with JSON only, with the fields intent and urgency.'",
        'my_prompt  =  (\n    "Classify the support ticket. "  # the task\n'
        '    "Reply with JSON only, with the fields intent and urgency."\n)',
        'with task("review"):\n    # pasted\n    my_prompt = "Classify the support ticket. Reply with JSON only, '
        'with the fields intent and urgency."\n    check(True, "x")',
    ]
    assert all(contains(code, solution) for code in same)
    different = 'my_prompt = "Classify the support ticket. Reply with JSON only, with the field intent."'
    assert not contains(different, solution)
    assert normalised_tokens("xs = [1, 2,]  # c") == normalised_tokens("xs=[1,2]") == ["xs", "=", "[", "1", ",", "2", "]"]
    assert normalised_tokens("n = 1_000") == normalised_tokens("n = 1000")
    assert contains("%pip install nothing\n" + COUNT_SOLUTION, fingerprint(COUNT_SOLUTION))  # magics do not hide it


def test_validate_names_file_cell_and_line_of_every_marker_problem(tmp_path: Path) -> None:
    cells = list(CELLS)
    cells[2] = (
        'with task("count"):\n'
        "    ### BEGIN SOLUTION count\n"
        "    def count_words(text):\n"
        "        return len(text.split())\n"
        "    ### BEGIN SOLUTION count-2\n"  # nested (line 5)
        "    ### END SOLUTION\n"
        "    ### END SOLUTION\n"  # unmatched (line 7)
        "    ### HINT: too late\n"  # hint outside a region (line 8)
        '    check(count_words("a b") == 2, "two")',
        ("task:count",),
    )
    cells[3] = (
        "### BEGIN SOLUTION Review!\n"  # bad id (line 1)
        'my_prompt = "x"\n'
        "### END SOLUTION\n"
        "## begin solution\n"  # malformed (line 4)
        "### BEGIN SOLUTION reveiw\n"  # names no task (line 5)
        'my_prompt = "Reply with JSON only, fields intent and urgency."\n'
        "### END SOLUTION\n"
        "### BEGIN SOLUTION count\n"  # duplicate id (line 8)
        "x = 1\n"
        "### END SOLUTION\n"
        "### BEGIN SOLUTION review\n"  # never closed (line 11)
        "y = 2",
        ("task:review",),
    )
    root = write_exercise_playbook(tmp_path, cells=cells, answers=None)
    problems = errors_only(validate_playbook(root))
    by_message = {p.message: p for p in problems}
    expected = {
        "cell 2, line 5: BEGIN SOLUTION inside region 'count'": "cells[2]",
        "cell 2, line 7: END SOLUTION without a BEGIN SOLUTION": "cells[2]",
        "cell 2, line 8: HINT line outside a region": "cells[2]",
        "cell 3, line 1: BEGIN SOLUTION needs one exercise id": "cells[3]",
        "cell 3, line 4: malformed marker": "cells[3]",
        "cell 3, line 5: exercise id 'reveiw' names no task of the manifest": "cells[3]",
        "cell 3, line 8: exercise id 'count' is used twice (first in cell 2, line 2)": "cells[3]",
        "cell 3, line 11: BEGIN SOLUTION 'review' is never closed": "cells[3]",
        "graded task 'review' has no solution region": "tasks[1]",
    }
    for start, field in expected.items():
        found = [p for m, p in by_message.items() if m.startswith(start)]
        assert found, f"no problem starting {start!r} in {sorted(by_message)}"
        assert found[0].field == field and found[0].file.endswith("evidence-probe.ipynb") and found[0].hint
    # The learner version refuses to release a notebook with malformed markers, naming the first.
    with pytest.raises(ValidationError) as info:
        release_playbook(root, tmp_path / "out")
    assert "cell 2, line 5" in info.value.message and info.value.field == "cells[2]"
    assert not (tmp_path / "out").exists()


def test_graded_tasks_need_regions_and_the_notebook_needs_hint(tmp_path: Path) -> None:
    cells = list(CELLS)
    cells[1] = ("from workbench.playbooks import check, task\nfrom workbench.rubrics import score_items", ())
    cells[2] = ('with task("count"):\n    check(len(sample.split()) == 3, "three words")', ("task:count",))
    root = write_exercise_playbook(tmp_path, cells=cells, answers=None)
    fields = {p.field: p for p in errors_only(validate_playbook(root))}
    assert "graded task 'count' has no solution region" in fields["tasks[0]"].message
    assert "never imports `hint`" in fields["hint"].message
    assert "tasks[1]" not in fields  # review has its region (in the cell before its task block)


def test_answer_bank_is_checked_against_the_regions(tmp_path: Path) -> None:
    bank = yaml.safe_load(ANSWERS)
    bank["exercises"]["count"] = [{"quality": "good", "code": COUNT_SOLUTION}]
    bank["exercises"]["nope"] = [{"quality": "poor", "code": "x = 1"}]
    root = write_exercise_playbook(tmp_path, answers=yaml.safe_dump(bank, sort_keys=False))
    problems = [p for p in errors_only(validate_playbook(root)) if p.file.endswith("answers.yaml")]
    messages = " | ".join(p.message for p in problems)
    assert "exercise 'count' needs a fair or poor answer" in messages
    assert "answer 1 of 'count' is the shipped solution" in messages
    assert "answers for exercise 'nope'" in messages
    assert all(p.line for p in problems)
    (root / "answers.yaml").write_text("version: 1\nexercises:\n  count:\n    - quality: great\n      code: x\n")
    [bad] = [p for p in validate_playbook(root) if p.file.endswith("answers.yaml")]
    assert bad.field == "exercises.count[0].quality" and bad.line == 4


def test_release_cli_writes_the_learner_copy_without_the_answer_bank(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    root = write_exercise_playbook(tmp_path / "pbs")
    code, data = _run_cli(capsys, ["playbook", "release", str(root), "--out", str(tmp_path / "out")])
    assert code == 0 and data["exercises"] == {"count": {"task": "count", "hints": 2},
                                               "review": {"task": "review", "hints": 1}}
    copy = Path(data["path"])
    assert copy == tmp_path / "out" / "evidence-probe"
    assert (copy / "playbook.yaml").is_file() and (copy / "rubrics" / "review.yaml").is_file()
    assert not (copy / "answers.yaml").exists()
    nb = nbformat.read(copy / "evidence-probe.ipynb", as_version=4)
    assert "raise NotImplementedError" in nb.cells[2].source and "### BEGIN" not in nb.cells[3].source
    assert validate_playbook(copy) == []  # a learner version is a valid playbook: its stubs cover the tasks
    code, again = _run_cli(capsys, ["playbook", "release", str(root), "--out", str(tmp_path / "out")])
    assert code == 2 and "already exists" in again["message"] and "--force" in again["hint"]  # never overwritten
    release_playbook(root, tmp_path / "out", force=True)
    with pytest.raises(ValidationError, match="inside the playbook's own folder") as info:
        release_playbook(root, root.parent)
    assert info.value.field == "out"


def test_scaffold_ships_regions_hints_and_an_answer_bank(tmp_path: Path) -> None:
    pb = new_playbook("marked-lesson", tmp_path)
    assert validate_playbook(pb) == []
    source = "\n".join(c.source for c in nbformat.read(pb.notebook_path, as_version=4).cells)
    assert "### BEGIN SOLUTION warm-up" in source and "### HINT:" in source and "import check, hint, task" in source
    assert (pb.root / "answers.yaml").is_file()
    learner = learner_notebook(pb)
    assert sum("raise NotImplementedError" in c.source for c in learner.cells) == 2


def test_the_session_reads_origin_from_the_newest_version_of_each_cell() -> None:
    exercise = Exercise("count", "count", ("a hint",), fingerprint(COUNT_SOLUTION))
    stub = 'with task("count"):\n' + stub_source("count", "    ") + "\n    check(count_words('') == 0, 'x')"
    own = 'with task("count"):\n    def count_words(t):\n        return len(t.split(" ")) if t else 0\n    check(1, "x")'
    session = KernelSession()
    session.record_cell("import x", key="c1")
    session.record_cell(stub, key="c2")
    assert classify(session.sources_for("count"), exercise) == "stub"
    session.record_cell(own, key="c2")  # JupyterLab: the edited cell replaces its older version
    assert classify(session.sources_for("count"), exercise) == "learner"
    session.record_cell("x = 1\n" + COUNT_SOLUTION, key="c3")  # then pasted the solution in a new cell
    assert classify(session.sources_for("count"), exercise) == "solution"
    session.reset()
    assert session.cells == [] and classify(session.sources_for("count"), exercise) == "learner"
    # A task with several exercises takes the strongest origin: an untouched stub, then a copied solution.
    assert combine(["learner", "solution"]) == "solution" and combine(["solution", "stub"]) == "stub"
    assert combine([]) == "learner"
    # A commented-out stub line is no stub.
    assert classify(["# " + stub.splitlines()[3].strip()], exercise) == "learner"


def test_a_run_never_reuses_an_input_notebook_left_in_its_folder_by_an_earlier_run(tmp_path: Path) -> None:
    """`playbook run --output DIR/x.ipynb` twice into one folder: the second run writes its own learner input."""
    from workbench.playbooks.runner import prepare_run

    root = write_exercise_playbook(tmp_path / "pb")
    out = tmp_path / "runs" / "mine.ipynb"
    out.parent.mkdir()
    first = prepare_run(root, learner="ana", output_path=out)
    stale = first.input_path()
    stale.write_text('{"stale": true}')  # what an older playbook version (or a crash) left behind
    second = prepare_run(root, learner="ana", output_path=out)
    assert second.input_path() == stale
    assert nbformat.reads(stale.read_text(), as_version=4).cells, "the second run executed a stale input file"
    assert second.input_path().read_text() == stale.read_text()  # written once per run, then reused by that run
