"""The playbook manifest: ``playbooks/<id>/playbook.yaml``, validated with pydantic.

A manifest says what a playbook teaches (skills with weights), what the learner does (tasks, each tied to
notebook cells by a tag and optionally scored by a rubric) and how it runs (parameters mirrored by the
notebook's ``parameters`` cell, smoke parameters for CI, requirements, prerequisites).

Every error names the file, the line and the field, with a hint (:func:`load_manifest`).
"""

from __future__ import annotations

import keyword
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic import ValidationError as PydanticValidationError

from workbench._yaml import format_loc, load_yaml, located_error, parse_loc, schema_issues, yaml_lines
from workbench.errors import ValidationError

#: The manifest's file name inside a playbook folder.
MANIFEST_NAME = "playbook.yaml"
#: Parameter names the runner injects into every run; manifests may not declare them.
RESERVED_PARAMETERS: tuple[str, ...] = ("workbench_learner", "workbench_run_id")
#: Device kinds a playbook can declare it runs on.
DeviceKind = Literal["cpu", "cuda", "rocm", "xpu", "npu", "mps"]
#: Types a parameter can declare.
ParameterType = Literal["str", "int", "float", "bool", "list", "dict"]

_PREFIXED = re.compile(r"^([a-z_][\w.\[\]]*): (.*)$", re.S)
_SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
_PY_TYPES: dict[str, tuple[type, ...]] = {
    "str": (str,),
    "int": (int,),
    "float": (int, float),
    "bool": (bool,),
    "list": (list,),
    "dict": (dict,),
}


def is_playbook_id(value: str) -> bool:
    """Whether ``value`` is a well-formed playbook (or task) id: lower-case letters, digits, ``-`` and ``_``."""
    return bool(_SLUG.fullmatch(value))


def _slug(value: str, what: str) -> str:
    if not _SLUG.match(value):
        raise ValueError(
            f"{what} '{value}' must be lower-case letters, digits, '-' or '_', starting with a letter or digit"
        )
    return value


def matches_type(value: Any, type_name: str) -> bool:
    """Whether ``value`` is a valid value of the parameter type ``type_name`` (``None`` always is)."""
    if value is None:
        return True
    if type_name in ("int", "float") and isinstance(value, bool):
        return False
    return isinstance(value, _PY_TYPES[type_name])


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ParameterSpec(_Frozen):
    """One run parameter; the notebook's ``parameters`` cell assigns the same name the same default.

    Attributes:
        name: A Python identifier (not a keyword, not starting with ``workbench_``).
        type: One of ``str``, ``int``, ``float``, ``bool``, ``list``, ``dict``.
        default: The value used when a run does not set it (``null`` allowed).
        help: One line for ``workbench playbook run --help``-style listings.
        choices: Allowed values, when the set is closed.
        min: Smallest allowed value (numbers only).
        max: Largest allowed value (numbers only).
    """

    name: str
    type: ParameterType = "str"
    default: Any = None
    help: str = ""
    choices: list[Any] | None = None
    min: float | None = None
    max: float | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not value.isidentifier() or keyword.iskeyword(value):
            raise ValueError(f"parameter name '{value}' is not a Python identifier")
        if value.startswith("workbench_"):
            raise ValueError(
                f"parameter name '{value}' is reserved: names starting with 'workbench_' are injected by the runner"
            )
        return value

    @model_validator(mode="after")
    def _default_matches(self) -> ParameterSpec:
        if isinstance(self.default, int) and not isinstance(self.default, bool) and self.type == "float":
            object.__setattr__(self, "default", float(self.default))
        if not matches_type(self.default, self.type):
            raise ValueError(
                f"default {self.default!r} of parameter '{self.name}' is not of type '{self.type}'"
            )
        if (self.min is not None or self.max is not None) and self.type not in ("int", "float"):
            raise ValueError(f"min/max apply to int and float parameters, not to '{self.type}'")
        return self


class TaskSpec(_Frozen):
    """One thing the learner does.

    Attributes:
        id: Slug, unique within the playbook; what ``workbench.playbooks.task("id")`` names.
        title: Short imperative title.
        cell_tag: Tag of the notebook cells that belong to the task (default ``task:<id>``).
        rubric: A rubric file (relative to the playbook folder) or a rubric id, when the task is scored.
        skills: Skill weights for this task; default: the playbook's skills.
        done: What counts as done, in one sentence (shown to learners and reviewers).
    """

    id: str
    title: str
    cell_tag: str | None = None
    rubric: str | None = None
    skills: dict[str, float] | None = None
    done: str = ""

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        return _slug(value, "task id")

    @field_validator("skills")
    @classmethod
    def _weights(cls, value: dict[str, float] | None) -> dict[str, float] | None:
        return _check_weights(value) if value is not None else None

    @property
    def tag(self) -> str:
        """The notebook cell tag of this task."""
        return self.cell_tag or f"task:{self.id}"


def _check_weights(value: Mapping[str, float]) -> dict[str, float]:
    for skill, weight in value.items():
        if not 0 < weight <= 1:
            raise ValueError(f"weight of skill '{skill}' must be in (0, 1], got {weight}")
    return dict(value)


class Requirements(_Frozen):
    """What a machine needs to run the playbook.

    Attributes:
        min_memory_gb: Free RAM needed, in GiB.
        devices: Device kinds it runs on (``cpu``, ``cuda``, ``rocm``, ``xpu``, ``npu``, ``mps``).
        gpu: ``none``, ``optional`` (faster with one) or ``required``.
        packages: Importable module names it needs beyond Workbench's own dependencies.
    """

    min_memory_gb: float = Field(0.0, ge=0)
    devices: list[DeviceKind] = Field(default_factory=lambda: list[DeviceKind](["cpu"]))
    gpu: Literal["none", "optional", "required"] = "none"
    packages: list[str] = Field(default_factory=list)


class PlaybookManifest(_Frozen):
    """The validated content of a ``playbook.yaml`` (see the module docstring)."""

    id: str
    title: str
    version: str
    summary: str
    audience: list[str] = Field(default_factory=list, description="Role ids from the skills taxonomy.")
    estimated_minutes: int = Field(..., gt=0)
    notebook: str | None = Field(None, description="Notebook file in the folder; default <id>.ipynb.")
    kernel: str = "python3"
    skills: dict[str, float]
    tasks: list[TaskSpec] = Field(..., min_length=1)
    parameters: list[ParameterSpec] = Field(default_factory=list)
    smoke_parameters: dict[str, Any] = Field(default_factory=dict)
    requirements: Requirements = Field(default_factory=lambda: Requirements.model_validate({}))
    prerequisites: list[str] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        return _slug(value, "playbook id")

    @field_validator("version", mode="before")
    @classmethod
    def _version(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int | float) and not isinstance(value, bool) else value

    @field_validator("skills")
    @classmethod
    def _skills(cls, value: dict[str, float]) -> dict[str, float]:
        if not value:
            raise ValueError("list at least one skill (taxonomy id: weight)")
        return _check_weights(value)

    @model_validator(mode="after")
    def _consistent(self) -> PlaybookManifest:
        if self.notebook is None:
            object.__setattr__(self, "notebook", f"{self.id}.ipynb")
        seen: set[str] = set()
        for task in self.tasks:
            if task.id in seen:
                raise ValueError(f"tasks: task id '{task.id}' appears twice")
            seen.add(task.id)
        names = [p.name for p in self.parameters]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"parameters: parameter '{dupes[0]}' is declared twice")
        specs = {p.name: p for p in self.parameters}
        for name, value in self.smoke_parameters.items():
            if name not in specs:
                raise ValueError(
                    f"smoke_parameters.{name}: '{name}' is not a declared parameter "
                    f"(known: {', '.join(specs) or 'none'})"
                )
            if not matches_type(value, specs[name].type):
                raise ValueError(f"smoke_parameters.{name}: {value!r} is not of type '{specs[name].type}'")
        return self

    @property
    def notebook_name(self) -> str:
        """The notebook's file name (``notebook`` or ``<id>.ipynb``)."""
        return self.notebook or f"{self.id}.ipynb"

    def task(self, task_id: str) -> TaskSpec | None:
        """The task with id ``task_id``, or ``None``."""
        return next((t for t in self.tasks if t.id == task_id), None)

    def skills_for(self, task_id: str) -> dict[str, float]:
        """Skill weights recorded with ``task_id``'s events: the task's own, else the playbook's."""
        task = self.task(task_id)
        if task is not None and task.skills is not None:
            return dict(task.skills)
        return dict(self.skills)

    def parameter(self, name: str) -> ParameterSpec | None:
        """The parameter named ``name``, or ``None``."""
        return next((p for p in self.parameters if p.name == name), None)


def manifest_problems(data: Any, file: Path, text: str = "") -> list[ValidationError]:
    """Every schema problem of ``data`` (parsed YAML) as a :class:`~workbench.errors.ValidationError`."""
    if not isinstance(data, dict):
        return [
            ValidationError(
                "a playbook manifest must be a YAML mapping (id, title, version, summary, skills, tasks...)",
                file=file,
                hint="see `workbench playbook new ID` for a complete example",
            )
        ]
    try:
        PlaybookManifest.model_validate(data)
    except PydanticValidationError as exc:
        lines = yaml_lines(text) if text else None
        problems = []
        for issue in schema_issues(exc, drop=lambda part: str(part).startswith("function-")):
            loc, message = issue.loc, issue.message
            # Cross-field checks report at the model's root and prefix their message with the field.
            prefixed = _PREFIXED.match(message)
            if prefixed and not loc:
                loc, message = parse_loc(prefixed.group(1)), prefixed.group(2)
            if issue.kind == "missing":
                message = "this required field is missing"
            elif issue.kind == "extra_forbidden":
                message = "unknown field"
            hint = _hint_for(issue.kind, format_loc(loc))
            problems.append(located_error(ValidationError, message, loc, file=file, lines=lines, hint=hint))
        return problems
    return []


def _hint_for(error_type: str, field: str) -> str:
    if error_type == "missing":
        return f"add '{field.split('.')[-1]}' to the manifest (`workbench playbook new ID` writes a complete one)"
    if error_type == "extra_forbidden":
        return "remove it or fix its spelling; the fields are listed in workbench.playbooks.PlaybookManifest"
    if field.startswith("parameters"):
        return "each parameter needs name, type (str/int/float/bool/list/dict), default of that type, help"
    if "skills" in field:
        return "map taxonomy skill ids to weights in (0, 1], e.g. {prompting: 0.7, cost_awareness: 0.3}"
    return "fix the value in the manifest; `workbench playbook validate PATH` lists every problem"


def read_manifest_file(path: Path) -> tuple[Any, str]:
    """Parse ``path`` as YAML; returns (data, text). Raises :class:`ValidationError` on bad YAML."""
    try:
        text = path.read_text(encoding="utf-8")
    except (FileNotFoundError, NotADirectoryError):
        if not path.parent.is_dir():
            raise ValidationError(
                "not a playbook folder",
                file=path.parent,
                hint="pass a playbook's folder (the one holding playbook.yaml) or its id",
            ) from None
        raise ValidationError(
            "the playbook has no manifest",
            file=path,
            hint=f"create {MANIFEST_NAME} (`workbench playbook new ID` writes one)",
        ) from None
    data, _ = load_yaml(
        text,
        file=path,
        message="the manifest is not valid YAML",
        hint="check indentation and quoting around that line",
    )
    return data, text


def load_manifest(path: str | Path) -> PlaybookManifest:
    """Load and validate a manifest file (or a playbook folder's ``playbook.yaml``).

    Raises:
        ValidationError: Naming the file, line and field of the first problem, with the count of others.
    """
    path = Path(path)
    if path.is_dir():
        path = path / MANIFEST_NAME
    data, text = read_manifest_file(path)
    problems = manifest_problems(data, path, text)
    if problems:
        first = problems[0]
        more = f" (and {len(problems) - 1} more problem(s); run `workbench playbook validate`)"
        raise ValidationError(
            first.message + (more if len(problems) > 1 else ""),
            file=first.file,
            line=first.line,
            field=first.field,
            hint=first.hint,
        )
    return PlaybookManifest.model_validate(data)
