"""``workbench playbook release``: the learner version of a playbook, where solution regions become stubs.

The author version (the playbook folder, solutions in place) stays the source of truth: ``workbench playbook
test`` runs it with smoke parameters, and also runs the learner version to prove every graded task fails there
(:mod:`.smoke`). The learner version is the same folder with:

- each solution region (:mod:`.regions`) replaced, at the region's indentation, by a stub that names the
  exercise, points to ``hint("<exercise-id>")`` and raises ``NotImplementedError``;
- the HINT lines moved out of the code into ``metadata.workbench.release``, next to each solution's normalised
  fingerprint, which is what the kernel compares learner code with (:mod:`.exercises`);
- outputs stripped, and the answer bank (``answers.yaml``, simulated learners' answers) left out.

Learners get it from the sidebar's Start (the server copies it into their workspace), from ``workbench playbook
run`` (the default version) and from :func:`~workbench.playbooks.copy_playbook`.
"""

from __future__ import annotations

import copy
import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from workbench.errors import ValidationError
from workbench.playbooks.discovery import Playbook, get_playbook
from workbench.playbooks.exercises import RELEASE_FORMAT, RELEASE_KEY, exercises_from_regions
from workbench.playbooks.manifest import PlaybookManifest
from workbench.playbooks.notebook import read_notebook, strip_outputs
from workbench.playbooks.regions import (
    SolutionRegion,
    notebook_regions,
    reindent,
    replace_regions,
    stub_source,
)

#: Files of a playbook folder the learner version leaves out.
ANSWERS_NAME = "answers.yaml"
RELEASE_IGNORE = (ANSWERS_NAME, ".ipynb_checkpoints", "__pycache__")


def release_notebook(
    nb: Any,
    manifest: PlaybookManifest,
    *,
    file: str | Path | None = None,
    answers: Mapping[str, str] | None = None,
) -> Any:
    """The learner version of an author notebook (a copy; ``nb`` is not changed).

    Args:
        nb: The author notebook (nbformat 4).
        manifest: Its playbook's manifest (tasks name the exercises' tasks).
        file: The notebook's path, for error messages.
        answers: Exercise id -> code to put in place of the stub (simulated learners; see :mod:`.answers`).

    Raises:
        ValidationError: For a malformed marker (naming the cell and line), or an answer for no exercise.
    """
    nb = copy.deepcopy(nb)
    regions, problems = notebook_regions(nb.cells)
    if problems:
        first = problems[0]
        more = f" (and {len(problems) - 1} more; run `workbench playbook validate`)" if len(problems) > 1 else ""
        raise ValidationError(f"{first.where}: {first.message}{more}", file=file, field=f"cells[{first.cell}]",
                              hint=first.hint)
    answers = dict(answers or {})
    unknown = sorted(set(answers) - {r.exercise for r in regions})
    if unknown:
        raise ValidationError(
            f"answers for exercises the notebook does not have: {', '.join(unknown)}", file=file,
            field="answers", hint=f"use the regions' ids: {', '.join(r.exercise for r in regions) or 'none'}",
        )

    def replacement(region: SolutionRegion) -> str:
        if region.exercise in answers:
            return reindent(answers[region.exercise], region.indent)
        return stub_source(region.exercise, region.indent)

    by_cell: dict[int, list[SolutionRegion]] = {}
    for region in regions:
        by_cell.setdefault(region.cell, []).append(region)
    for index, found in by_cell.items():
        nb.cells[index].source = replace_regions(nb.cells[index].source, found, replacement)
    strip_outputs(nb)
    exercises = exercises_from_regions(regions, nb.cells, {t.tag: t.id for t in manifest.tasks})
    nb.metadata.setdefault("workbench", {})[RELEASE_KEY] = {
        "format": RELEASE_FORMAT,
        "playbook": manifest.id,
        "playbook_version": manifest.version,
        "exercises": {key: exercise.to_dict() for key, exercise in exercises.items()},
    }
    return nb


def learner_notebook(playbook: str | Path | Playbook, answers: Mapping[str, str] | None = None) -> Any:
    """The learner version of a playbook's notebook, optionally with ``answers`` in place of some stubs."""
    pb = get_playbook(playbook)
    return release_notebook(read_notebook(pb.notebook_path), pb.manifest, file=pb.notebook_path, answers=answers)


def write_notebook(nb: Any, path: Path) -> None:
    """Write ``nb`` atomically (a crash never leaves half a notebook)."""
    import nbformat

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    nbformat.write(nb, str(tmp))
    os.replace(tmp, path)


def release_playbook(playbook: str | Path | Playbook, out_dir: str | Path, *, force: bool = False) -> Path:
    """Write the learner version of ``playbook`` to ``<out_dir>/<id>/``; returns its notebook.

    Args:
        playbook: An id, a folder or a :class:`Playbook`.
        out_dir: Parent folder of the released copy.
        force: Replace an existing copy's files.

    Raises:
        ValidationError: When the copy exists (without ``force``), would overwrite the author version, or
            the notebook's markers are malformed.
    """
    pb = get_playbook(playbook)
    dest = Path(out_dir).expanduser() / pb.id
    if dest.resolve() == pb.root.resolve() or pb.root.resolve() in dest.resolve().parents:
        raise ValidationError(
            "the learner version cannot be written inside the playbook's own folder (it would replace the "
            "author version)", file=dest, field="out", hint="pick another --out folder",
        )
    if dest.exists() and not force:
        raise ValidationError("a released copy of this playbook already exists here", file=dest,
                              hint="pass --force to replace its files, or pick another --out folder")
    nb = learner_notebook(pb)  # first: a malformed marker stops the release before anything is written
    shutil.copytree(pb.root, dest, dirs_exist_ok=True, ignore=shutil.ignore_patterns(*RELEASE_IGNORE))
    (dest / ANSWERS_NAME).unlink(missing_ok=True)
    notebook = dest / pb.manifest.notebook_name
    write_notebook(nb, notebook)
    return notebook


__all__ = ["ANSWERS_NAME", "RELEASE_IGNORE", "learner_notebook", "release_notebook", "release_playbook",
           "write_notebook"]
