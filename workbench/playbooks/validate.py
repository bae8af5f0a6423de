"""``workbench playbook validate``: every problem of a playbook, each naming the file, field and fix.

Checks, in order: the manifest schema; the notebook exists and reads; exactly one ``parameters`` cell whose
names and defaults mirror the manifest's parameters; outputs stripped; every task's cell tag is used; every
rubric exists and loads; every skill and audience role exists in the skills taxonomy; prerequisites are known;
solution regions are well-formed and cover every graded task, and the answer bank fits them
(:mod:`.exercise_checks`).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from workbench.errors import ValidationError, WorkbenchError
from workbench.playbooks.discovery import Playbook, discover_playbooks
from workbench.playbooks.exercise_checks import exercise_problems
from workbench.playbooks.manifest import (
    MANIFEST_NAME,
    RESERVED_PARAMETERS,
    PlaybookManifest,
    manifest_problems,
    read_manifest_file,
)
from workbench.playbooks.notebook import (
    PARAMETERS_TAG,
    cell_tags,
    parse_parameters_source,
    read_notebook,
    unstripped_cells,
)
from workbench.playbooks.problems import Problem, errors_only

#: The default taxonomy's role ids, used when the skills package cannot load a taxonomy.
DEFAULT_ROLES = ("copilot_builder", "ml_engineer", "support_analyst", "learning_author")


def taxonomy_ids() -> tuple[set[str], set[str]]:
    """(skill ids, role ids) of the default taxonomy (the contract's ids if it cannot be loaded)."""
    try:
        from workbench.skills.taxonomy import load_taxonomy

        taxonomy = load_taxonomy()
        return set(taxonomy.skill_ids), set(taxonomy.role_ids)
    except (ImportError, WorkbenchError):
        from workbench.rubrics.schema import DEFAULT_SKILL_IDS

        return set(DEFAULT_SKILL_IDS), set(DEFAULT_ROLES)


def validate_playbook(target: str | Path | Playbook) -> list[Problem]:
    """Every problem of the playbook at ``target`` (a folder, its ``playbook.yaml`` or a :class:`Playbook`).

    An empty list means valid. Warnings do not fail validation.
    """
    if isinstance(target, Playbook):
        root = target.root
    else:
        root = Path(target).expanduser()
        if root.name == MANIFEST_NAME:
            root = root.parent
    manifest_path = root / MANIFEST_NAME
    try:
        data, text = read_manifest_file(manifest_path)
    except ValidationError as exc:
        return [Problem.of(exc)]
    schema = manifest_problems(data, manifest_path, text)
    if schema:
        return [Problem.of(e) for e in schema]
    manifest = PlaybookManifest.model_validate(data)
    problems: list[Problem] = []
    mfile = str(manifest_path)
    if manifest.id != root.name:
        problems.append(
            Problem(
                mfile,
                f"id '{manifest.id}' differs from the folder name '{root.name}'",
                "id",
                severity="warning",
                hint="name the folder after the id so authors and tools find it",
            )
        )
    problems += _notebook_problems(manifest, root)
    problems += _rubric_problems(manifest, root, mfile)
    problems += _taxonomy_problems(manifest, mfile)
    problems += _prerequisite_problems(manifest, mfile)
    return problems


def _notebook_problems(manifest: PlaybookManifest, root: Path) -> list[Problem]:
    path = root / manifest.notebook_name
    try:
        nb = read_notebook(path)
    except ValidationError as exc:
        return [Problem.of(exc)]
    nfile = str(path)
    problems: list[Problem] = []
    language = nb.metadata.get("kernelspec", {}).get("language") or nb.metadata.get("language_info", {}).get(
        "name"
    )
    if language and language != "python":
        problems.append(
            Problem(
                nfile,
                f"the notebook's language is '{language}'",
                "metadata.kernelspec",
                hint="playbooks run Python kernels",
            )
        )
    param_cells = [
        i for i, c in enumerate(nb.cells) if c.cell_type == "code" and PARAMETERS_TAG in cell_tags(c)
    ]
    if not param_cells:
        problems.append(
            Problem(
                nfile,
                "the notebook has no cell tagged 'parameters'",
                "parameters",
                hint="add a code cell assigning the manifest's parameters and tag it 'parameters'",
            )
        )
    elif len(param_cells) > 1:
        problems.append(
            Problem(
                nfile,
                f"cells {param_cells} are all tagged 'parameters'",
                f"cells[{param_cells[1]}]",
                hint="keep exactly one parameters cell",
            )
        )
    if param_cells:
        problems += _parameter_cell_problems(manifest, nb.cells[param_cells[0]].source, nfile, param_cells[0])
    for index in unstripped_cells(nb):
        problems.append(
            Problem(
                nfile,
                "the cell still has outputs or an execution count (playbooks ship stripped)",
                f"cells[{index}]",
                hint=f"jupyter nbconvert --clear-output --inplace {path.name}  (or Edit -> Clear Outputs of All Cells)",
            )
        )
        break  # one is enough to make the point; the hint fixes them all
    problems += _task_call_problems(manifest, nb, nfile)
    problems += exercise_problems(manifest, nb, root, nfile)
    used_tags = {tag for c in nb.cells for tag in cell_tags(c)}
    for i, spec in enumerate(manifest.tasks):
        if spec.tag not in used_tags:
            problems.append(
                Problem(
                    nfile,
                    f"no cell is tagged '{spec.tag}' for task '{spec.id}'",
                    f"tasks[{i}].cell_tag",
                    hint=f"tag the task's cells '{spec.tag}' (or set cell_tag in the manifest)",
                )
            )
    return problems


_TASK_CALL = re.compile(r"""\btask\(\s*["']([^"']+)["']""")


def _task_call_problems(manifest: PlaybookManifest, nb: Any, nfile: str) -> list[Problem]:
    """``task("id")`` calls naming no manifest task (errors) and manifest tasks never opened (warnings)."""
    known = {t.id for t in manifest.tasks}
    called: set[str] = set()
    problems: list[Problem] = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        for task_id in _TASK_CALL.findall(cell.source):
            called.add(task_id)
            if task_id not in known:
                problems.append(
                    Problem(
                        nfile,
                        f"task('{task_id}') names no task of the manifest",
                        f"cells[{index}]",
                        hint=f"use one of: {', '.join(t.id for t in manifest.tasks)} (or add it to playbook.yaml)",
                    )
                )
    for i, spec in enumerate(manifest.tasks):
        if spec.id not in called:
            problems.append(
                Problem(
                    nfile,
                    f"no cell opens task('{spec.id}'), so the task can never be recorded as done",
                    f"tasks[{i}]",
                    hint=f'wrap the task\'s work in `with task("{spec.id}"):`',
                    severity="warning",
                )
            )
    return problems


def _parameter_cell_problems(
    manifest: PlaybookManifest, source: str, nfile: str, index: int
) -> list[Problem]:
    field = f"cells[{index}]"
    try:
        assigned = parse_parameters_source(source)
    except SyntaxError as exc:
        return [Problem(nfile, f"the parameters cell is not valid Python: {exc.msg}", field, exc.lineno)]
    problems: list[Problem] = []
    in_cell = {p.name: p for p in assigned if p.name not in RESERVED_PARAMETERS}
    declared = {p.name: p for p in manifest.parameters}
    for name in sorted(set(declared) - set(in_cell)):
        problems.append(
            Problem(
                nfile,
                f"manifest parameter '{name}' is not assigned in the parameters cell",
                f"parameters.{name}",
                hint=f"add `{name} = {declared[name].default!r}` to the parameters cell",
            )
        )
    for name in sorted(set(in_cell) - set(declared)):
        problems.append(
            Problem(
                nfile,
                f"the parameters cell assigns '{name}', which the manifest does not declare",
                f"parameters.{name}",
                line=in_cell[name].line,
                hint="declare it under 'parameters:' in playbook.yaml (name, type, default, help) or remove it",
            )
        )
    for name in sorted(set(in_cell) & set(declared)):
        cell, spec = in_cell[name], declared[name]
        if not cell.literal:
            problems.append(
                Problem(
                    nfile,
                    f"parameter '{name}' has a default that is not a literal",
                    f"parameters.{name}",
                    cell.line,
                    "use a plain value (number, string, list...) so it can be checked",
                    "warning",
                )
            )
            continue
        value = float(cell.value) if spec.type == "float" and isinstance(cell.value, int) else cell.value
        if value != spec.default:
            problems.append(
                Problem(
                    nfile,
                    f"parameter '{name}' defaults to {cell.value!r} in the notebook but {spec.default!r} "
                    "in the manifest",
                    f"parameters.{name}",
                    cell.line,
                    "make the two defaults equal",
                )
            )
    return problems


def _rubric_problems(manifest: PlaybookManifest, root: Path, mfile: str) -> list[Problem]:
    problems: list[Problem] = []
    for i, spec in enumerate(manifest.tasks):
        if not spec.rubric:
            continue
        field = f"tasks[{i}].rubric"
        problem = rubric_problem(spec.rubric, root)
        if problem is not None:
            message, hint = problem
            problems.append(Problem(mfile, message, field, hint=hint))
    return problems


def resolve_rubric(reference: str, root: Path) -> Path | str:
    """A task's rubric reference as a file (relative to the playbook folder) when one exists, else the id."""
    path = (root / reference).resolve()
    return path if path.is_file() else reference


def rubric_problem(reference: str, root: Path) -> tuple[str, str] | None:
    """(message, hint) when the rubric ``reference`` does not exist or does not load, else ``None``."""
    target = resolve_rubric(reference, root)
    looks_like_path = "/" in reference or reference.endswith((".yaml", ".yml"))
    try:
        from workbench.rubrics import load_rubric
    except ImportError:
        load_rubric = None  # type: ignore[assignment]
    if isinstance(target, str) and (looks_like_path or load_rubric is None):
        return (
            f"rubric '{reference}' does not exist",
            f"create {root / reference} (see `workbench playbook new` for a stub) or fix the path",
        )
    if load_rubric is None:
        return None
    try:
        load_rubric(target)
    except WorkbenchError as exc:
        where = f"{exc.file}" + (f":{exc.line}" if exc.line else "") if exc.file else ""
        field = f" (field '{exc.field}')" if exc.field else ""
        return (
            f"rubric '{reference}' is invalid: {where}{field}: {exc.message}",
            exc.hint or "fix the rubric file",
        )
    return None


def _taxonomy_problems(manifest: PlaybookManifest, mfile: str) -> list[Problem]:
    skills, roles = taxonomy_ids()
    problems: list[Problem] = []
    hint = f"use taxonomy skill ids: {', '.join(sorted(skills))}"
    for skill in manifest.skills:
        if skill not in skills:
            problems.append(Problem(mfile, f"unknown skill '{skill}'", f"skills.{skill}", hint=hint))
    for i, spec in enumerate(manifest.tasks):
        for skill in spec.skills or {}:
            if skill not in skills:
                problems.append(
                    Problem(mfile, f"unknown skill '{skill}'", f"tasks[{i}].skills.{skill}", hint=hint)
                )
    for role in manifest.audience:
        if role not in roles:
            problems.append(
                Problem(
                    mfile,
                    f"unknown role '{role}'",
                    "audience",
                    hint=f"use role ids: {', '.join(sorted(roles))}",
                )
            )
    return problems


def _prerequisite_problems(manifest: PlaybookManifest, mfile: str) -> list[Problem]:
    if not manifest.prerequisites:
        return []
    known = discover_playbooks().playbooks
    return [
        Problem(
            mfile,
            f"prerequisite '{p}' is not a known playbook",
            "prerequisites",
            severity="warning",
            hint="check the id with `workbench playbook list`",
        )
        for p in manifest.prerequisites
        if p not in known and p != manifest.id
    ]


__all__ = ["DEFAULT_ROLES", "Problem", "errors_only", "resolve_rubric", "rubric_problem", "taxonomy_ids",
           "validate_playbook"]
