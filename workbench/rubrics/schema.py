"""The rubric format: criteria with weights, levels, skill ids and a scorer each; a pass threshold; a version.

A rubric is YAML (see ``workbench/rubrics/builtin/*.yaml``)::

    id: summary-quality
    version: 1
    title: Summary quality
    description: ...
    pass_threshold: 0.6          # of the weighted, normalised score (0..1)
    total_weight: 1.0            # the declared sum of the weights (checked)
    criteria:
      - id: overlap
        description: Covers the reference's content.
        weight: 0.5
        skill: evaluation_design # a taxonomy skill id (checked)
        levels:                  # contiguous integer scores from 0
          - {score: 0, descriptor: Unrelated to the reference.}
          - {score: 1, descriptor: Some overlap.}
          - {score: 2, descriptor: Close to the reference.}
        scorer: {type: rouge_l, field: output, reference_field: reference}

Loading validates everything with pydantic and turns the first problem into a
:class:`~workbench.errors.ValidationError` naming the file, the line and the field, with a fix.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializeAsAny,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic import ValidationError as PydanticValidationError

from workbench._yaml import LineMap, YamlDocument, format_loc, load_yaml, located_error, schema_issues
from workbench.errors import NotFoundError, ValidationError
from workbench.rubrics.scorers import SCORERS, RubricFieldError, ScorerConfig

#: Skill ids of the default taxonomy (datasets/skills/genai-copilot.yaml).
DEFAULT_SKILL_IDS: frozenset[str] = frozenset(
    {
        "prompting",
        "structured_output",
        "retrieval_design",
        "retrieval_evaluation",
        "evaluation_design",
        "critique_review",
        "fine_tuning",
        "quantization_deployment",
        "data_curation",
        "guardrails_governance",
        "cost_awareness",
        "copilot_building",
        "playbook_authoring",
    }
)

#: Where the built-in rubrics live.
BUILTIN_DIR = Path(__file__).resolve().parent / "builtin"

_ID = re.compile(r"^[a-z0-9][a-z0-9_\-]*$")


def _check_id(value: str, example: str) -> str:
    if not _ID.match(value):
        raise ValueError(f"ids use lower-case letters, digits, '-' and '_' (e.g. '{example}')")
    return value


class Level(BaseModel):
    """One level of a criterion: an integer score and what earns it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    score: int = Field(ge=0)
    descriptor: str = Field(min_length=1)


class Criterion(BaseModel):
    """One thing a rubric scores, with its weight, skill, levels and scorer."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1)
    description: str = Field(min_length=1)
    weight: float = Field(gt=0)
    skill: str = Field(min_length=1, description="Skill id in the taxonomy this criterion is evidence for.")
    levels: tuple[Level, ...] = Field(min_length=2)
    scorer: SerializeAsAny[ScorerConfig]
    pass_threshold: float | None = Field(
        None, ge=0, le=1, description="Normalised score this criterion needs to pass; default the rubric's."
    )
    required: bool = Field(False, description="When true, failing this criterion fails the whole item.")

    @field_validator("id")
    @classmethod
    def _slug(cls, value: str) -> str:
        return _check_id(value, "cites-sources")

    @field_validator("skill")
    @classmethod
    def _known_skill(cls, value: str, info: ValidationInfo) -> str:
        skills = (info.context or {}).get("skills", DEFAULT_SKILL_IDS)
        if skills is not None and value not in skills:
            raise RubricFieldError(
                (),
                f"unknown skill id '{value}'",
                hint=f"use one of the taxonomy's skill ids: {', '.join(sorted(skills))}",
            )
        return value

    @field_validator("scorer", mode="before")
    @classmethod
    def _build_scorer(cls, value: Any, info: ValidationInfo) -> ScorerConfig:
        if isinstance(value, ScorerConfig):
            return value
        if not isinstance(value, dict):
            raise RubricFieldError((), "must be a mapping with a 'type'", hint="e.g. scorer: {type: regex, ...}")
        kind = value.get("type")
        if kind is None:
            raise RubricFieldError(("type",), "the scorer has no 'type'", hint=f"one of: {', '.join(SCORERS)}")
        if kind not in SCORERS:
            raise RubricFieldError(("type",), f"unknown scorer type '{kind}'", hint=f"one of: {', '.join(SCORERS)}")
        config_class = SCORERS.get(str(kind)).config_class
        return config_class.model_validate(value, context=info.context)

    @model_validator(mode="after")
    def _check_levels(self) -> Criterion:
        for index, level in enumerate(self.levels):
            if level.score != index:
                got = ", ".join(str(lv.score) for lv in self.levels)
                raise RubricFieldError(
                    ("levels", index, "score"),
                    f"level scores must run 0, 1, 2... without gaps; got {got}",
                    hint=f"renumber the levels so that this one has score {index}",
                )
        try:
            self.scorer.check_levels(self.level_scores)
        except RubricFieldError as exc:
            raise RubricFieldError(("scorer", *exc.path), exc.message, exc.hint) from None
        return self

    @property
    def level_scores(self) -> list[int]:
        """The level scores, 0..max."""
        return [level.score for level in self.levels]

    @property
    def max_score(self) -> int:
        """The top level's score."""
        return self.levels[-1].score

    def descriptor(self, score: int) -> str:
        """The descriptor of the level with ``score``."""
        return self.levels[score].descriptor


class Rubric(YamlDocument):
    """A versioned rubric. Load with :func:`load_rubric`; score with :func:`~workbench.rubrics.score_items`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1)
    title: str = Field(min_length=1)
    description: str = ""
    pass_threshold: float = Field(0.6, ge=0, le=1)
    total_weight: float = Field(1.0, gt=0, description="The declared sum of the criteria weights.")
    tags: tuple[str, ...] = ()
    criteria: tuple[Criterion, ...] = Field(min_length=1)

    @field_validator("id")
    @classmethod
    def _slug(cls, value: str) -> str:
        return _check_id(value, "summary-quality")

    @model_validator(mode="after")
    def _check(self) -> Rubric:
        seen: dict[str, int] = {}
        for index, criterion in enumerate(self.criteria):
            if criterion.id in seen:
                raise RubricFieldError(
                    ("criteria", index, "id"),
                    f"criterion id '{criterion.id}' is used twice (also criteria[{seen[criterion.id]}])",
                    hint="give every criterion its own id",
                )
            seen[criterion.id] = index
        total = sum(c.weight for c in self.criteria)
        if not math.isclose(total, self.total_weight, rel_tol=1e-6, abs_tol=1e-9):
            weights = " + ".join(f"{c.weight:g}" for c in self.criteria)
            raise RubricFieldError(
                ("total_weight",),
                f"the criteria weights sum to {total:g} ({weights}) but total_weight declares {self.total_weight:g}",
                hint="fix the weights or total_weight so that they agree",
            )
        return self

    def criterion(self, criterion_id: str) -> Criterion:
        """The criterion with ``criterion_id``."""
        for criterion in self.criteria:
            if criterion.id == criterion_id:
                return criterion
        raise NotFoundError(
            f"rubric '{self.id}' has no criterion '{criterion_id}'",
            hint=f"criteria: {', '.join(c.id for c in self.criteria)}",
        )

    def input_fields(self) -> list[str]:
        """Item fields the scorers read, in first-use order."""
        fields: list[str] = []
        for criterion in self.criteria:
            for name in criterion.scorer.input_fields():
                if name not in fields:
                    fields.append(name)
        return fields

    def to_dict(self) -> dict[str, Any]:
        """The rubric as plain data (the YAML form)."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


# --- loading -------------------------------------------------------------------------------------------------


def load_taxonomy_ids(path: str | Path) -> frozenset[str]:
    """The skill ids of a taxonomy YAML file (``skills: [{id: ...}, ...]``), each id once.

    Only the skill list is read here (rubrics sit below the skills layer); ``workbench rubric validate
    --taxonomy`` validates the whole file with :func:`workbench.skills.load_taxonomy` and passes its ids.

    Raises:
        NotFoundError: The file cannot be read.
        ValidationError: No skills, a skill without an id, or an id listed twice (the error names the line).
    """
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError:
        raise NotFoundError(f"taxonomy file '{file}' cannot be read", hint="check the path") from None
    data, lines = load_yaml(text, file=file)
    skills = data.get("skills") if isinstance(data, dict) else data
    if not isinstance(skills, list) or not skills:
        raise located_error(
            ValidationError, "a taxonomy needs a non-empty 'skills' list", ("skills",),
            file=file, lines=lines, hint="skills: [{id: prompting, name: Prompting}, ...]",
        )
    ids = set()
    for index, skill in enumerate(skills):
        sid = skill.get("id") if isinstance(skill, dict) else skill
        if not isinstance(sid, str) or not sid:
            raise located_error(
                ValidationError, "every skill needs an 'id'", ("skills", index, "id"), file=file, lines=lines,
                hint="add id: <skill_id>",
            )
        if sid in ids:
            raise located_error(
                ValidationError, f"invalid taxonomy: skill id '{sid}' appears twice", ("skills", index, "id"),
                file=file, lines=lines, hint="skill ids must be unique",
            )
        ids.add(sid)
    return frozenset(ids)


def _skills_context(taxonomy: str | Path | Iterable[str] | None) -> frozenset[str]:
    if taxonomy is None:
        return DEFAULT_SKILL_IDS
    if isinstance(taxonomy, str | Path):
        return load_taxonomy_ids(taxonomy)
    return frozenset(taxonomy)


def rubric_from_data(
    data: Any,
    *,
    file: str | Path | None = None,
    lines: LineMap | None = None,
    taxonomy: str | Path | Iterable[str] | None = None,
) -> Rubric:
    """Validate already-parsed rubric data (``lines`` maps paths to lines for error messages)."""
    lines = lines or {}
    if not isinstance(data, dict):
        raise ValidationError(
            "a rubric file must hold a mapping (id, version, title, criteria...)", file=file, line=1,
            hint="see workbench/rubrics/builtin/*.yaml for examples",
        )
    context = {"skills": _skills_context(taxonomy), "base_dir": Path(file).parent if file else None}
    try:
        rubric = Rubric.model_validate(data, context=context)
    except PydanticValidationError as exc:
        raise _translate(exc, file, lines) from None
    if file is not None:
        rubric._source = Path(file)
    return rubric


def _translate(exc: PydanticValidationError, file: str | Path | None, lines: LineMap) -> ValidationError:
    issue = schema_issues(exc)[0]
    loc, message, hint = issue.loc, issue.message, None
    if isinstance(issue.cause, RubricFieldError):
        loc = (*loc, *issue.cause.path)
        message, hint = issue.cause.message, issue.cause.hint
    name = str(loc[-1]) if loc else "value"
    if issue.kind == "missing":
        message = f"'{name}' is required"
        parent = format_loc(loc[:-1]) or "the rubric"
        hint = f"add '{name}' to {parent}"
    elif issue.kind == "extra_forbidden":
        message = f"unknown field '{name}'"
        hint = "remove it or fix its spelling"
    elif hint is None:
        hint = "see the rubric format in workbench/rubrics/schema.py"
    # Scorer configs map the inline schema to 'json_schema' internally; users write 'schema'.
    field = format_loc(loc).replace("json_schema", "schema")
    return located_error(ValidationError, message, loc, file=file, lines=lines, hint=hint, field=field)


def _builtin_path(rubric_id: str) -> Path | None:
    path = BUILTIN_DIR / f"{rubric_id}.yaml"
    return path if path.is_file() else None


def load_rubric(path_or_id: str | Path | Rubric, *, taxonomy: str | Path | Iterable[str] | None = None) -> Rubric:
    """Load a rubric from a YAML file or by built-in id.

    Args:
        path_or_id: A ``.yaml`` path, or the id of a built-in rubric (see :func:`list_rubrics`).
        taxonomy: Skill ids to check against: a taxonomy YAML path or a collection of ids; default the
            default taxonomy's ids.

    Raises:
        NotFoundError: no such file or built-in rubric.
        ValidationError: the file is not a valid rubric (names the file, line and field).
    """
    if isinstance(path_or_id, Rubric):
        return path_or_id
    text_id = str(path_or_id)
    path = Path(text_id).expanduser()
    if not path.is_file():
        builtin = _builtin_path(text_id) if _ID.match(text_id) else None
        if builtin is None:
            known = ", ".join(r.stem for r in sorted(BUILTIN_DIR.glob("*.yaml")))
            raise NotFoundError(
                f"no rubric file or built-in rubric named '{text_id}'",
                hint=f"give a path to a rubric YAML file, or a built-in id: {known}",
            )
        path = builtin
    data, lines = load_yaml(path.read_text(encoding="utf-8"), file=path)
    return rubric_from_data(data, file=path, lines=lines, taxonomy=taxonomy)


def example_file(rubric: str | Rubric) -> Path | None:
    """The example input (JSONL) shipped with a built-in rubric, or ``None`` for other rubrics."""
    rubric_id = rubric.id if isinstance(rubric, Rubric) else str(rubric)
    path = BUILTIN_DIR / "examples" / f"{rubric_id}.jsonl"
    return path if path.is_file() else None


def list_rubrics() -> list[Rubric]:
    """The built-in rubrics, sorted by id."""
    return [load_rubric(path) for path in sorted(BUILTIN_DIR.glob("*.yaml"))]
