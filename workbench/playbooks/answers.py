"""Answer banks: simulated learners' answers to a playbook's exercises, for the demo and tests.

``playbooks/<id>/answers.yaml`` (the convention agreed in ``playbooks/README.md``)::

    version: 1
    exercises:
      <exercise-id>:
        - quality: good        # good | fair | poor
          code: |
            my_prompt = "..."
        - quality: poor
          code: |
            my_prompt = "answer"

Each ``code`` replaces the exercise's region in the learner version (same indentation rules as the solution).
A simulated learner (:class:`SimulatedLearner`) picks, per exercise, a good answer with probability ``skill``
and a fair or poor one otherwise; weaker learners reveal hints more often (the answer then starts with
``hint("<exercise-id>")``); a learner who ``copies_solution`` submits the shipped solution, which the grading
path flags as ``solution`` and counts for nothing. :func:`simulated_jobs` turns a cohort into batch jobs that
run through the real kernel, the real checks and rubrics, and the real telemetry.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic import ValidationError as PydanticValidationError

from workbench._yaml import LineMap, format_loc, line_for, load_yaml, located_error, schema_issues
from workbench.errors import ValidationError
from workbench.playbooks.discovery import Playbook, get_playbook
from workbench.playbooks.notebook import read_notebook
from workbench.playbooks.regions import notebook_regions
from workbench.playbooks.release import ANSWERS_NAME, release_notebook

Quality = Literal["good", "fair", "poor"]
QUALITIES: tuple[str, ...] = ("good", "fair", "poor")
#: A learner of skill ``s`` reveals a hint for an exercise with probability ``(1 - s) * HINT_RATE``.
HINT_RATE = 0.6
_FORMAT_HINT = "see playbooks/README.md: version: 1, exercises: {<exercise-id>: [{quality: good|fair|poor, code: ...}]}"


class Answer(BaseModel):
    """One simulated answer: its quality and the code that replaces the exercise's region."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    quality: Quality
    code: str

    @field_validator("code")
    @classmethod
    def _has_code(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("the answer's code is empty")
        return value


class _BankFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: Literal[1]
    exercises: dict[str, list[Answer]] = Field(min_length=1)

    @field_validator("exercises")
    @classmethod
    def _answers(cls, value: dict[str, list[Answer]]) -> dict[str, list[Answer]]:
        empty = [k for k, v in value.items() if not v]
        if empty:
            raise ValueError(f"exercise '{empty[0]}' lists no answers")
        return value


@dataclass(frozen=True)
class AnswerBank:
    """A playbook's answer bank.

    Attributes:
        playbook: The playbook id.
        path: The ``answers.yaml`` file.
        exercises: Exercise id -> its answers.
        lines: The file's line map (for error messages).
    """

    playbook: str
    path: Path
    exercises: dict[str, tuple[Answer, ...]]
    lines: LineMap = field(default_factory=dict)

    def line_of(self, exercise: str) -> int | None:
        """The file line of an exercise's entry."""
        return line_for(self.lines, ("exercises", exercise))

    def qualities(self, exercise: str) -> set[str]:
        """The qualities the bank has for ``exercise``."""
        return {a.quality for a in self.exercises.get(exercise, ())}


def load_answer_bank(playbook: str | Path | Playbook) -> AnswerBank | None:
    """The playbook's ``answers.yaml``, or ``None`` when it has none.

    Raises:
        ValidationError: Naming the file, line and field of the first problem.
    """
    pb = get_playbook(playbook)
    path = pb.root / ANSWERS_NAME
    if not path.is_file():
        return None
    data, lines = load_yaml(path.read_text(encoding="utf-8"), file=path, message="the answer bank is not valid YAML")
    try:
        parsed = _BankFile.model_validate(data)
    except PydanticValidationError as exc:
        issue = schema_issues(exc)[0]
        message = "this required field is missing" if issue.kind == "missing" else issue.message
        raise located_error(ValidationError, message, issue.loc, file=path, lines=lines, hint=_FORMAT_HINT,
                            field=format_loc(issue.loc) or None) from None
    return AnswerBank(pb.id, path, {k: tuple(v) for k, v in parsed.exercises.items()}, lines)


@dataclass(frozen=True)
class SimulatedLearner:
    """A simulated learner of a cohort.

    Attributes:
        learner: Raw learner id (stored as a pseudonym).
        team: Their team.
        skill: 0..1, the chance of a good answer to each exercise (else fair or poor, evenly).
        copies_solution: Submit the shipped solution instead (flagged ``solution``, counted for nothing).
        parameters: Manifest parameters of their run.
    """

    learner: str
    team: str | None = None
    skill: float = 0.5
    copies_solution: bool = False
    parameters: Mapping[str, Any] = field(default_factory=dict)


def _quality(skill: float, available: set[str], rng: random.Random) -> str:
    weights = {"good": skill, "fair": (1 - skill) / 2, "poor": (1 - skill) / 2}
    options = [q for q in QUALITIES if q in available]
    return rng.choices(options, [max(weights[q], 1e-6) for q in options])[0]


def choose_answers(
    bank: AnswerBank, solutions: Mapping[str, str], learner: SimulatedLearner, rng: random.Random
) -> dict[str, str]:
    """Exercise id -> the code ``learner`` submits (exercises the bank lacks keep their stub)."""
    out: dict[str, str] = {}
    for exercise, solution in solutions.items():
        if learner.copies_solution:
            code = solution
        else:
            answers = bank.exercises.get(exercise, ())
            if not answers:
                continue
            quality = _quality(learner.skill, {a.quality for a in answers}, rng)
            code = rng.choice([a for a in answers if a.quality == quality]).code
        if rng.random() < (1 - learner.skill) * HINT_RATE:
            code = f'hint("{exercise}")\n' + code
        out[exercise] = code
    return out


def solutions_of(playbook: str | Path | Playbook) -> dict[str, str]:
    """Exercise id -> the shipped solution's code (dedented), from the author notebook."""
    pb = get_playbook(playbook)
    regions, _ = notebook_regions(read_notebook(pb.notebook_path).cells)
    return {r.exercise: r.code for r in regions}


def simulated_jobs(
    playbook: str | Path | Playbook, learners: Sequence[SimulatedLearner], *, seed: int = 0
) -> list[Any]:
    """Batch jobs that run the learner version with each simulated learner's answers in place of the stubs.

    Raises:
        ValidationError: When the playbook has no answer bank.
    """
    from workbench.playbooks.batch import BatchJob

    pb = get_playbook(playbook)
    bank = load_answer_bank(pb)
    if bank is None:
        raise ValidationError(
            "the playbook has no answer bank, so simulated learners have nothing to submit",
            file=pb.root / ANSWERS_NAME,
            hint=_FORMAT_HINT,
        )
    author = read_notebook(pb.notebook_path)
    solutions = solutions_of(pb)
    jobs = []
    for learner in learners:
        rng = random.Random(f"{seed}:{pb.id}:{learner.learner}")
        answers = choose_answers(bank, solutions, learner, rng)
        nb = release_notebook(author, pb.manifest, file=pb.notebook_path, answers=answers)
        jobs.append(BatchJob(learner=learner.learner, team=learner.team, parameters=dict(learner.parameters),
                             notebook=nb))
    return jobs


def cohort_of(names: Iterable[tuple[str, str | None]], *, copier: int | None = None) -> list[SimulatedLearner]:
    """Simulated learners with skills spread evenly from strong (0.95) to weak (0.15), in the given order.

    Args:
        names: (learner id, team) pairs.
        copier: Index of the learner who submits the shipped solutions (``None``: nobody).
    """
    pairs = list(names)
    n = max(1, len(pairs) - 1)
    return [
        SimulatedLearner(name, team, skill=round(0.95 - 0.8 * i / n, 3), copies_solution=i == copier)
        for i, (name, team) in enumerate(pairs)
    ]


__all__ = [
    "HINT_RATE",
    "QUALITIES",
    "Answer",
    "AnswerBank",
    "SimulatedLearner",
    "choose_answers",
    "cohort_of",
    "load_answer_bank",
    "simulated_jobs",
    "solutions_of",
]
