"""The skills taxonomy: skills (grouped), proficiency levels 0-4 and roles with a target level per skill.

A taxonomy is a YAML file validated with pydantic. A bad file raises
:class:`~workbench.errors.ValidationError` naming the file, the line and the field (``skills[3].id``) and how to
fix it. The default taxonomy is ``datasets/skills/genai-copilot.yaml``.

Format::

    id: genai-copilot
    version: 1
    title: GenAI copilot skills
    min_graded_tasks: 2          # optional: rubric-graded tasks per skill the catalog should have
    levels:                      # exactly the levels 0..4, in order
      - {level: 0, name: none, descriptor: "..."}
      ...
    skills:
      - {id: prompting, name: Prompting, group: Build, description: "...", evidence: ["..."]}
      - id: critique_review
        ...
        external_ids:            # optional: the skill's public ids (see workbench/skills/external_ids.py)
          onet: [2.A.2.a]        # also esco: [http://data.europa.eu/esco/skill/<uuid>], lightcast: [<id>]
    roles:
      - id: copilot_builder
        name: Copilot builder
        targets: {prompting: 3, ...}   # skills left out have no target for this role
        path: [prompting-fundamentals, ...]  # optional: playbook ids in the recommended order
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from workbench._yaml import LineMap, Loc, format_loc, load_yaml, located_error, schema_issues
from workbench.errors import NotFoundError, ValidationError
from workbench.skills.external_ids import ExternalIds

#: Proficiency levels every taxonomy uses.
LEVELS: tuple[int, ...] = (0, 1, 2, 3, 4)
#: Highest level; mastery 1.0 maps to it.
MAX_LEVEL = 4
#: Name of the taxonomy shipped with Workbench.
DEFAULT_TAXONOMY = "genai-copilot"

_ID = re.compile(r"^[a-z][a-z0-9_]*$")


class _ReferenceError(ValidationError):
    """A cross-reference inside the taxonomy is wrong; carries the location for the file-level error."""

    def __init__(self, message: str, loc: Loc, hint: str) -> None:
        super().__init__(f"invalid taxonomy: {message}", field=format_loc(loc), hint=hint)
        self.loc = loc


def _add_unique(seen: set[str], kind: str, index: int, item_id: str) -> None:
    """Add the id of ``{kind}s[index]`` to ``seen``; an id seen before is an error naming that entry."""
    if item_id in seen:
        raise _ReferenceError(
            f"{kind} id '{item_id}' appears twice", (f"{kind}s", index, "id"), f"{kind} ids must be unique"
        )
    seen.add(item_id)


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class LevelDescriptor(_Frozen):
    """One proficiency level: its number, a short name and what a person at that level can do."""

    level: int = Field(ge=0, le=MAX_LEVEL)
    name: str = Field(min_length=1)
    descriptor: str = Field(min_length=1)


class Skill(_Frozen):
    """A skill: stable id, display name, the group it rolls up into, and what it covers."""

    id: str
    name: str = Field(min_length=1)
    group: str = Field(min_length=1)
    description: str = Field(min_length=1)
    #: Observable evidence that counts for this skill (documentation for authors and managers).
    evidence: tuple[str, ...] = ()
    #: The skill's ids in ESCO, O*NET and Lightcast, exported by the reports so HR systems can join on them.
    external_ids: ExternalIds = Field(default_factory=ExternalIds)

    @field_validator("id")
    @classmethod
    def _slug(cls, value: str) -> str:
        if not _ID.match(value):
            raise ValueError(f"'{value}' is not a valid id: use lower case letters, digits and '_'")
        return value


class Role(_Frozen):
    """A job role and the level it needs in each skill (skills left out have no target)."""

    id: str
    name: str = Field(min_length=1)
    description: str = ""
    targets: dict[str, int] = Field(default_factory=dict)
    #: Playbook ids in the order the role takes them (advice, not a lock: see ``workbench.playbooks.paths``).
    path: tuple[str, ...] = ()

    @field_validator("id")
    @classmethod
    def _slug(cls, value: str) -> str:
        return Skill._slug(value)

    @field_validator("targets")
    @classmethod
    def _levels(cls, value: dict[str, int]) -> dict[str, int]:
        for skill, level in value.items():
            if not isinstance(level, int) or isinstance(level, bool) or not 0 <= level <= MAX_LEVEL:
                raise ValueError(f"target of '{skill}' is {level!r}; targets are whole levels 0..{MAX_LEVEL}")
        return value


class Taxonomy(_Frozen):
    """A validated skills taxonomy."""

    id: str
    version: int = Field(default=1, ge=1)
    title: str = ""
    description: str = ""
    levels: tuple[LevelDescriptor, ...]
    skills: tuple[Skill, ...] = Field(min_length=1)
    roles: tuple[Role, ...] = ()
    #: The fewest rubric-graded playbook tasks each skill should have (``workbench playbook validate --coverage``
    #: fails below it; 0: no floor).
    min_graded_tasks: int = Field(default=0, ge=0)
    #: Where it was loaded from (not part of the file).
    source: str | None = Field(default=None, exclude=True)

    @field_validator("levels")
    @classmethod
    def _all_levels(cls, value: tuple[LevelDescriptor, ...]) -> tuple[LevelDescriptor, ...]:
        got = tuple(level.level for level in value)
        if got != LEVELS:
            raise ValueError(f"levels must be exactly {list(LEVELS)} in order, got {list(got)}")
        return value

    @model_validator(mode="after")
    def _references(self) -> Taxonomy:
        seen: set[str] = set()
        for i, skill in enumerate(self.skills):
            _add_unique(seen, "skill", i, skill.id)
        roles: set[str] = set()
        for i, role in enumerate(self.roles):
            _add_unique(roles, "role", i, role.id)
            unknown = sorted(set(role.targets) - seen)
            if unknown:
                raise _ReferenceError(
                    f"role '{role.id}' has targets for unknown skills {unknown}",
                    ("roles", i, "targets", unknown[0]),
                    f"use skill ids defined under 'skills' ({', '.join(sorted(seen))})",
                )
        return self

    # -- lookups -----------------------------------------------------------------------------------------
    @property
    def skill_ids(self) -> list[str]:
        """Skill ids in file order."""
        return [skill.id for skill in self.skills]

    @property
    def role_ids(self) -> list[str]:
        """Role ids in file order."""
        return [role.id for role in self.roles]

    def skill(self, skill_id: str) -> Skill:
        """The skill with this id (``NotFoundError`` otherwise)."""
        for skill in self.skills:
            if skill.id == skill_id:
                return skill
        raise NotFoundError(
            f"taxonomy '{self.id}' has no skill '{skill_id}'",
            hint=f"known skills: {', '.join(self.skill_ids)}",
        )

    def role(self, role_id: str) -> Role:
        """The role with this id (``NotFoundError`` otherwise)."""
        for role in self.roles:
            if role.id == role_id:
                return role
        raise NotFoundError(
            f"taxonomy '{self.id}' has no role '{role_id}'",
            field="role",
            hint=f"known roles: {', '.join(self.role_ids) or '(none)'}",
        )

    def targets(self, role_id: str) -> dict[str, int]:
        """Target level per skill for ``role_id`` (skills without a target are left out)."""
        return dict(self.role(role_id).targets)

    def target_matrix(self) -> dict[str, dict[str, int]]:
        """``{role_id: {skill_id: target}}`` for every role."""
        return {role.id: dict(role.targets) for role in self.roles}

    def level_name(self, level: int) -> str:
        """The name of a whole level (``"proficient"`` for 3)."""
        return self.levels[max(0, min(MAX_LEVEL, int(level)))].name

    def external_id_rows(self) -> list[dict[str, str]]:
        """One row per public id of every skill (``skill``, ``skill_name``, ``framework``, ``external_id``),
        skills in file order: the join table the reports export."""
        return [
            {"skill": skill.id, "skill_name": skill.name, "framework": framework, "external_id": value}
            for skill in self.skills
            for framework, value in skill.external_ids.pairs()
        ]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form (used by reports and the widget)."""
        return self.model_dump(mode="json")


# -- loading -------------------------------------------------------------------------------------------------
def default_taxonomy_path() -> Path:
    """The shipped default taxonomy file."""
    from workbench.settings import get_settings

    return Path(get_settings().datasets_dir) / "skills" / f"{DEFAULT_TAXONOMY}.yaml"


def load_taxonomy(source: str | Path | Taxonomy | None = None) -> Taxonomy:
    """Load and validate a taxonomy.

    Args:
        source: A YAML path, the name of a shipped taxonomy (``"genai-copilot"``), an already loaded
            :class:`Taxonomy` (returned as is), or ``None`` for the default.

    Raises:
        NotFoundError: The file or name does not exist.
        ValidationError: The file does not match the schema (the message names file, line and field).
    """
    if isinstance(source, Taxonomy):
        return source
    path = _resolve(source)
    return _load_cached(str(path), path.stat().st_mtime_ns)


def parse_taxonomy(data: Mapping[str, Any], *, source: str = "<taxonomy>") -> Taxonomy:
    """Validate an in-memory taxonomy mapping (errors name ``source`` and the field)."""
    return _validate(dict(data), source=source, lines=None)


def _resolve(source: str | Path | None) -> Path:
    if source is None:
        path = default_taxonomy_path()
    else:
        path = Path(source).expanduser()
        if not path.exists() and not path.suffix:
            from workbench.settings import get_settings

            shipped = Path(get_settings().datasets_dir) / "skills" / f"{source}.yaml"
            if shipped.exists():
                path = shipped
    if not path.is_file():
        raise NotFoundError(
            f"taxonomy file '{path}' does not exist",
            file=path,
            hint="pass a YAML file (see datasets/skills/genai-copilot.yaml) or the name of a shipped taxonomy",
        )
    return path


@lru_cache(maxsize=16)
def _load_cached(path: str, _mtime: int) -> Taxonomy:
    data, lines = load_yaml(
        Path(path).read_text(encoding="utf-8"),
        file=path,
        message="taxonomy is not valid YAML",
        hint="fix the YAML syntax (indentation, quotes, colons)",
    )
    if not isinstance(data, dict):
        raise ValidationError(
            "taxonomy must be a mapping with 'id', 'levels', 'skills' and 'roles'",
            file=path,
            line=1,
            hint="see datasets/skills/genai-copilot.yaml for the format",
        )
    return _validate(data, source=path, lines=lines)


def _validate(data: dict[str, Any], *, source: str, lines: LineMap | None) -> Taxonomy:
    from pydantic import ValidationError as PydanticValidationError

    try:
        return Taxonomy.model_validate({**data, "source": source})
    except _ReferenceError as exc:
        raise located_error(
            ValidationError, exc.message, exc.loc, file=source, lines=lines, hint=exc.hint
        ) from None
    except PydanticValidationError as exc:
        issue = schema_issues(exc)[0]
        raise located_error(
            ValidationError,
            f"invalid taxonomy: {issue.message}",
            issue.loc,
            file=source,
            lines=lines,
            hint=_hint(issue.loc, issue.kind),
        ) from None


def _hint(loc: Loc, kind: str) -> str:
    head = loc[0] if loc else ""
    if head == "skills" and "external_ids" in loc:
        return (
            "external_ids takes the lists esco (http://data.europa.eu/esco/skill/<uuid>), onet (content model "
            "element ids such as 2.A.2.a) and lightcast (Open Skills ids); see workbench/skills/external_ids.py"
        )
    if kind == "missing":
        return f"add the required field '{loc[-1]}'"
    if kind == "extra_forbidden":
        return f"remove or rename '{loc[-1]}' (allowed fields are documented in workbench/skills/taxonomy.py)"
    if head == "levels":
        return "list exactly the levels 0, 1, 2, 3, 4, each with a name and a descriptor"
    if head == "roles":
        return "role targets must name skills defined under 'skills' and be whole levels 0..4"
    if head == "skills":
        return "each skill needs a unique id (lower_snake_case), a name, a group and a description"
    return "see datasets/skills/genai-copilot.yaml for a valid taxonomy"
