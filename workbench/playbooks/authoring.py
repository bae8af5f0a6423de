"""``workbench playbook new``: scaffold a playbook that validates and passes ``workbench playbook test`` as is.

The scaffold is a working example of every convention: a manifest with skills, tasks, parameters and smoke
parameters; a notebook whose ``parameters`` cell mirrors the manifest, whose task cells are tagged ``task:<id>``
and wrapped in ``task()``, and whose exercises are solution regions (``### BEGIN SOLUTION <id>`` ... ``### END
SOLUTION``, with a hint) that the learner version turns into stubs; a rubric stub in the contract's rubric
format; and an answer bank (``answers.yaml``) of simulated learners' answers, good to poor.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import nbformat
import yaml

from workbench.errors import ValidationError
from workbench.playbooks.discovery import Playbook, load_playbook
from workbench.playbooks.manifest import MANIFEST_NAME

_ID = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


def default_authoring_dir() -> Path:
    """Where ``new`` creates playbooks: the first ``settings.playbook_dirs`` entry, else ``./playbooks``."""
    from workbench.settings import get_settings

    dirs = get_settings().playbook_dirs
    return Path(dirs[0]).expanduser() if dirs else Path.cwd() / "playbooks"


def _manifest(playbook_id: str, title: str, skills: dict[str, float]) -> dict[str, Any]:
    return {
        "id": playbook_id,
        "title": title,
        "version": "0.1.0",
        "summary": f"{title}: what the learner will be able to do afterwards, in one sentence.",
        "audience": ["copilot_builder"],
        "estimated_minutes": 15,
        "notebook": f"{playbook_id}.ipynb",
        "skills": skills,
        "tasks": [
            {
                "id": "warm-up",
                "title": "Build a greeting",
                "cell_tag": "task:warm-up",
                "done": "The greeting repeats the name `repeats` times.",
            },
            {
                "id": "reflect",
                "title": "Write a one-line reflection",
                "cell_tag": "task:reflect",
                "rubric": f"rubrics/{playbook_id}.yaml",
                "done": "The reflection passes the rubric.",
            },
        ],
        "parameters": [
            {"name": "name", "type": "str", "default": "World", "help": "Who to greet."},
            {
                "name": "repeats",
                "type": "int",
                "default": 2,
                "help": "How many greetings.",
                "min": 1,
                "max": 10,
            },
        ],
        "smoke_parameters": {"repeats": 1},
        "requirements": {"min_memory_gb": 0.5, "devices": ["cpu"], "gpu": "none"},
        "prerequisites": [],
    }


def _rubric(playbook_id: str, title: str, skill: str) -> dict[str, Any]:
    return {
        "id": playbook_id,
        "version": 1,
        "title": f"{title}: reflection",
        "description": "Stub rubric: replace the criteria with what good work looks like in this playbook.",
        "pass_threshold": 0.5,
        "criteria": [
            _pass_fail(
                "substantive",
                "The reflection says something (at least 5 words, at most 60).",
                skill,
                ("too short or too long", "right size"),
                {"type": "length", "field": "output", "unit": "words", "min": 5, "max": 60},
            ),
            _pass_fail(
                "mentions-learning",
                "The reflection names something learned or to try next.",
                skill,
                ("no takeaway", "a takeaway"),
                {"type": "contains", "field": "output", "values": ["learn", "try", "next"], "mode": "any"},
            ),
        ],
    }


def _pass_fail(
    criterion_id: str, description: str, skill: str, descriptors: tuple[str, str], scorer: dict[str, Any]
) -> dict[str, Any]:
    """A half-weight stub criterion scored 0 or 1; ``descriptors`` describe the two levels."""
    return {
        "id": criterion_id,
        "description": description,
        "weight": 0.5,
        "skill": skill,
        "levels": [{"score": score, "descriptor": text} for score, text in enumerate(descriptors)],
        "scorer": scorer,
    }


def _notebook(playbook_id: str, title: str) -> Any:
    md, code = nbformat.v4.new_markdown_cell, nbformat.v4.new_code_cell

    def tagged(cell: Any, *tags: str) -> Any:
        cell.metadata["tags"] = list(tags)
        return cell

    cells = [
        md(
            f"# {title}\n\n"
            "What this playbook teaches and why it matters, in two or three sentences.\n\n"
            "**How to work through it:** run the cells from top to bottom. Each exercise is a stub that says "
            "*write your own answer here*: replace it with your code and run the cell. Each task ends with a check "
            "that prints ✓ when you got it right, or tells you what to look at. Stuck? `hint(\"<exercise>\")` "
            "shows a hint (it is recorded)."
        ),
        tagged(
            code(
                "# Parameters: mirrored by playbook.yaml. Runs (`workbench playbook run`) inject new values below.\n"
                'name = "World"\n'
                "repeats = 2\n"
            ),
            "parameters",
        ),
        code("from workbench.playbooks import check, hint, task\nfrom workbench.rubrics import score_items"),
        tagged(
            md(
                "## Task 1: build a greeting\n\n"
                "Explain the concept here. Then the exercise: build `greeting` so that it greets `name` "
                "`repeats` times."
            ),
            "task:warm-up",
        ),
        tagged(
            code(
                'with task("warm-up"):\n'
                "    ### BEGIN SOLUTION warm-up\n"
                '    ### HINT: A string times an integer repeats it: "ab" * 3 == "ababab".\n'
                '    greeting = f"Hello, {name}! " * repeats\n'
                "    ### END SOLUTION\n"
                "    print(greeting.strip())\n"
                '    check(greeting.count("Hello") == repeats, "the greeting repeats `repeats` times",\n'
                '          hint="multiply the string by `repeats`")'
            ),
            "task:warm-up",
        ),
        tagged(
            md(
                "## Task 2: reflect\n\n"
                "Write `reflection`: one line about what you learned and what you will try next. The rubric in "
                "`rubrics/` scores it."
            ),
            "task:reflect",
        ),
        tagged(
            code(
                'with task("reflect"):\n'
                "    ### BEGIN SOLUTION reflect\n"
                "    ### HINT: 5 to 60 words that say what you learned, or what you will try next.\n"
                '    reflection = "I learned how tasks, checks and rubrics fit together; next I will try my own."\n'
                "    ### END SOLUTION\n"
                f'    [review] = score_items("rubrics/{playbook_id}.yaml", [{{"id": "reflection", "output": reflection}}],\n'
                '                           subject="learner", review_queue=False)\n'
                '    print(f"score {review.score:.2f}")\n'
                '    check(review.passed, "the reflection passes the rubric",\n'
                '          hint="say what you learned and what you will try next, in 5 to 60 words")'
            ),
            "task:reflect",
        ),
    ]
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
    }
    nb.metadata["language_info"] = {"name": "python"}
    return nb


#: The scaffold's answer bank (``answers.yaml``): simulated learners' answers, good to poor, per exercise.
_ANSWERS = """\
# Simulated learners' answers (the demo and tests run them through the learner version; never shipped to learners).
version: 1
exercises:
  warm-up:
    - quality: good
      code: |
        greeting = ("Hello, " + name + "! ") * repeats
    - quality: poor
      code: |
        greeting = "Hi " + name
  reflect:
    - quality: good
      code: |
        reflection = "Tasks record my work and rubrics score it; next I will try writing a rubric of my own."
    - quality: fair
      code: |
        reflection = "Rubrics score my reflections by their length and by keywords."
    - quality: poor
      code: |
        reflection = "Done."
"""


def new_playbook(
    playbook_id: str,
    directory: str | Path | None = None,
    *,
    title: str | None = None,
    skills: dict[str, float] | None = None,
    force: bool = False,
) -> Playbook:
    """Create ``<directory>/<playbook_id>/`` with a manifest, a notebook, a rubric stub and an answer bank.

    Args:
        playbook_id: Lower-case slug.
        directory: Parent folder (default :func:`default_authoring_dir`).
        title: Human title (default from the id).
        skills: Skill weights (default ``{"prompting": 1.0}``).
        force: Overwrite files of an existing folder.

    Raises:
        ValidationError: For a bad id, or an existing playbook without ``force``.
    """
    if not _ID.match(playbook_id):
        raise ValidationError(
            f"'{playbook_id}' is not a valid playbook id",
            field="id",
            hint="use lower-case letters, digits, '-' and '_', e.g. rag-basics",
        )
    root = Path(directory).expanduser() if directory is not None else default_authoring_dir()
    folder = root / playbook_id
    if (folder / MANIFEST_NAME).exists() and not force:
        raise ValidationError(
            "a playbook already exists here",
            file=folder / MANIFEST_NAME,
            hint="pick another id, or pass --force to overwrite its files",
        )
    title = title or playbook_id.replace("-", " ").replace("_", " ").capitalize()
    skills = skills or {"prompting": 1.0}
    (folder / "rubrics").mkdir(parents=True, exist_ok=True)

    def dump(data: dict[str, Any]) -> str:
        return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=110)

    (folder / MANIFEST_NAME).write_text(dump(_manifest(playbook_id, title, skills)), "utf-8")
    (folder / "rubrics" / f"{playbook_id}.yaml").write_text(
        dump(_rubric(playbook_id, title, next(iter(skills)))), "utf-8"
    )
    nbformat.write(_notebook(playbook_id, title), folder / f"{playbook_id}.ipynb")
    (folder / "answers.yaml").write_text(_ANSWERS, "utf-8")
    return load_playbook(folder)


def copy_playbook(playbook: str | Path | Playbook, workspace: str | Path, *, force: bool = False) -> Path:
    """Copy the learner version of a playbook into a learner's ``workspace`` (``<workspace>/<id>/``).

    Learners should work on a copy, never on the shipped (possibly read-only) pack, and on the learner version:
    solution regions become stubs and the answer bank stays behind (:func:`~.release.release_playbook`). The
    copy keeps the manifest and rubrics next to the notebook, so ``task()`` in the learner's kernel still finds
    its skills. Returns the notebook.

    Raises:
        ValidationError: When the copy exists and ``force`` is false (their work would be overwritten).
    """
    from workbench.playbooks.discovery import get_playbook
    from workbench.playbooks.release import release_playbook

    pb = get_playbook(playbook)
    dest = Path(workspace).expanduser() / pb.id
    if dest.exists() and not force:
        raise ValidationError(
            "this learner already has a copy of the playbook",
            file=dest,
            hint="open the existing notebook to resume, or pass force=True to start over",
        )
    return release_playbook(pb, workspace, force=True)
