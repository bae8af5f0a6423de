"""``validate``'s exercise checks: well-formed solution regions, ids naming tasks, every graded task covered.

A *graded* task is one with a ``rubric:`` or whose cells call ``check(...)``: its completion is evidence of a
skill, so the learner version must not ship its answer. Checks, each a :class:`~.problems.Problem` naming the
notebook, the cell and the line:

- markers are well-formed: no unmatched BEGIN/END, no nesting, valid and unique ids, hints right after BEGIN;
- each exercise id names a manifest task (``<task-id>`` or ``<task-id>-<n>``), the task whose cell holds it;
- every graded task has at least one region (a learner version's stubs count: its metadata names their tasks);
- a notebook with regions imports ``hint`` (every stub tells the learner to call it);
- a solution of very little code is a warning (learners would write it identically by chance);
- the answer bank (``answers.yaml``), when there is one, loads, names only exercises of the notebook, gives
  each a good and a fair-or-poor answer, and none identical to the shipped solution.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from workbench.errors import ValidationError
from workbench.playbooks.answers import load_answer_bank
from workbench.playbooks.exercises import cell_task, exercises_of_notebook, release_info, task_for_id
from workbench.playbooks.manifest import PlaybookManifest
from workbench.playbooks.problems import Problem
from workbench.playbooks.regions import SolutionRegion, fingerprint, normalised_tokens, notebook_regions

#: Solutions shorter than this many characters of normalised code (tokens joined) get a warning.
MIN_SOLUTION_CHARS = 12
_CHECK_CALL = re.compile(r"\bcheck\(")
_TASK_CALL = re.compile(r"""\btask\(\s*["']([^"']+)["']""")
_API_IMPORT = re.compile(r"from\s+workbench\.playbooks(?:\.kernel)?\s+import\s+(\([^)]*\)|[^\n]*)")


def graded_tasks(manifest: PlaybookManifest, nb: Any) -> set[str]:
    """Ids of the tasks that are graded: a rubric, or a ``check(`` in a cell of the task."""
    graded = {t.id for t in manifest.tasks if t.rubric}
    tags = {t.tag: t.id for t in manifest.tasks}
    known = {t.id for t in manifest.tasks}
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or not _CHECK_CALL.search(cell.source):
            continue
        opened = [t for t in _TASK_CALL.findall(cell.source) if t in known]
        by_tag = cell_task(nb.cells, index, tags)
        graded.update(opened or ([by_tag] if by_tag else []))
    return graded


def _imports_hint(nb: Any) -> bool:
    return any(
        cell.cell_type == "code" and any(re.search(r"\bhint\b", m) for m in _API_IMPORT.findall(cell.source))
        for cell in nb.cells
    )


def exercise_problems(manifest: PlaybookManifest, nb: Any, root: Path, nfile: str) -> list[Problem]:
    """Every exercise problem of a playbook's notebook ``nb`` (and of its answer bank in ``root``)."""
    regions, marker_problems = notebook_regions(nb.cells)
    problems = [Problem(nfile, f"{p.where}: {p.message}", f"cells[{p.cell}]", hint=p.hint) for p in marker_problems]
    covered = set()
    for region in regions:
        task, problem = _region_task(manifest, nb, region, nfile)
        if problem is not None:
            problems.append(problem)
        if task is not None:
            covered.add(task)
        if len("".join(normalised_tokens(region.code))) < MIN_SOLUTION_CHARS:
            problems.append(Problem(
                nfile, f"cell {region.cell}, line {region.begin_line}: the solution of '{region.exercise}' is so "
                "short that learners will write it identically by chance (and be flagged as copying it)",
                f"cells[{region.cell}]", severity="warning",
                hint="make the exercise ask for more than a few characters of code"))
    released = release_info(nb.metadata)
    if released is not None:  # a learner version: its exercises are stubs, their tasks are in the metadata
        covered |= {e.task for e in exercises_of_notebook(nb, {}).values() if e.task}
    graded = graded_tasks(manifest, nb)
    for i, spec in enumerate(manifest.tasks):
        if spec.id in graded and spec.id not in covered:
            problems.append(Problem(
                nfile, f"graded task '{spec.id}' has no solution region, so the learner version would ship its "
                "answer and pass unchanged", f"tasks[{i}]",
                hint=f"wrap the exercise's answer in `### BEGIN SOLUTION {spec.id}` ... `### END SOLUTION` "
                "(playbooks/README.md)"))
    if (regions or covered) and not _imports_hint(nb):
        problems.append(Problem(
            nfile, "the notebook has solution regions but never imports `hint`, which every stub tells the "
            "learner to call", "hint", hint="import it with the kernel API: `from workbench.playbooks import "
            "check, hint, task`"))
    return problems + answer_bank_problems(root, regions)


def _region_task(manifest: PlaybookManifest, nb: Any, region: SolutionRegion, nfile: str
                 ) -> tuple[str | None, Problem | None]:
    """The task a region belongs to, or the problem with its id."""
    ids = [t.id for t in manifest.tasks]
    by_id = task_for_id(region.exercise, ids)
    by_cell = cell_task(nb.cells, region.cell, {t.tag: t.id for t in manifest.tasks})
    where = f"cell {region.cell}, line {region.begin_line}"
    if by_id is None:
        return None, Problem(
            nfile, f"{where}: exercise id '{region.exercise}' names no task of the manifest",
            f"cells[{region.cell}]",
            hint=f"use the task's id, or <task-id>-<n> when a task has several exercises (tasks: {', '.join(ids)})")
    if by_cell is not None and by_cell != by_id:
        return None, Problem(
            nfile, f"{where}: exercise '{region.exercise}' names task '{by_id}' but sits in a cell of task "
            f"'{by_cell}'", f"cells[{region.cell}]",
            hint="name the exercise after the task whose cells hold it, or move the region there")
    return by_id, None


def answer_bank_problems(root: Path, regions: list[SolutionRegion]) -> list[Problem]:
    """Problems of the playbook's ``answers.yaml`` against the notebook's regions (none without a bank)."""
    try:
        bank = load_answer_bank(root)
    except ValidationError as exc:
        return [Problem.of(exc)]
    if bank is None:
        return []
    afile = str(bank.path)
    solutions = {r.exercise: fingerprint(r.code) for r in regions}
    problems = [
        Problem(afile, f"answers for exercise '{name}', which the notebook has no region for",
                f"exercises.{name}", bank.line_of(name), hint=f"use the regions' ids: {', '.join(solutions)}")
        for name in bank.exercises if name not in solutions
    ]
    for name, solution in solutions.items():
        qualities = bank.qualities(name)
        missing = [what for what, ok in (("a good answer", "good" in qualities),
                                          ("a fair or poor answer", bool(qualities & {"fair", "poor"}))) if not ok]
        if missing:
            problems.append(Problem(afile, f"exercise '{name}' needs {' and '.join(missing)}",
                                    f"exercises.{name}", bank.line_of(name),
                                    hint="simulated learners of every skill pick from these"))
        for n, answer in enumerate(bank.exercises.get(name, ())):
            if fingerprint(answer.code) == solution:
                problems.append(Problem(
                    afile, f"answer {n + 1} of '{name}' is the shipped solution (it would be flagged as copied)",
                    f"exercises.{name}[{n}]", bank.line_of(name), hint="write a different answer"))
    return problems


__all__ = ["MIN_SOLUTION_CHARS", "answer_bank_problems", "exercise_problems", "graded_tasks"]
