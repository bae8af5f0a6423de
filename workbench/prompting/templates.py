"""Versioned prompt templates: YAML files with a Jinja2 body, typed variables and few-shot examples.

A template file (``workbench/prompting/templates/*.yaml`` for the built-ins, ``<data_dir>/templates`` and any
folder passed in ``dirs`` for a team's own) looks like::

    id: summarise
    version: 2
    title: Summarise a document
    description: A short, faithful summary for a named audience.
    skill: prompting                 # skills-taxonomy id the template exercises (optional)
    tags: [summarisation]
    variables:
      - {name: text, type: str, description: The text to summarise}
      - {name: max_words, type: int, default: 60}
      - {name: audience, type: choice, choices: [executive, engineer, customer], default: engineer}
    system: You summarise documents faithfully. Never add facts.
    examples:                        # few-shot turns, rendered before the real one
      - variables: {text: "...", max_words: 20}
        output: "..."
    template: |
      Summarise for a {{ audience }} in at most {{ max_words }} words:
      {{ text }}
    parameters: {temperature: 0.2, max_new_tokens: 120}

Bodies render in Jinja2's *sandboxed* environment with ``StrictUndefined``: a template cannot reach Python
internals, and an undeclared or missing variable is an error that names the template and the variable.
Templates are compiled and checked when loaded, so a syntax error points at the file and line.
"""

from __future__ import annotations

import contextlib
import difflib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

from workbench._yaml import load_yaml
from workbench.errors import NotFoundError, ValidationError

BUILTIN_DIR = Path(__file__).with_name("templates")

VarType = Literal["str", "int", "float", "bool", "list", "choice", "json"]
_ID = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


class TemplateVariable(BaseModel):
    """One typed variable of a template.

    ``retrieved: true`` marks text that comes from documents (RAG): the guard scores it with the stricter
    retrieved-text injection heuristics.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    type: VarType = "str"
    description: str = ""
    default: Any = None
    required: bool | None = None
    choices: list[str] | None = None
    retrieved: bool = False
    multiline: bool = False

    @field_validator("name")
    @classmethod
    def _identifier(cls, value: str) -> str:
        if not value.isidentifier():
            raise ValueError(f"variable name '{value}' must be a Python identifier (letters, digits, _)")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> TemplateVariable:
        if self.type == "choice" and not self.choices:
            raise ValueError(f"variable '{self.name}' has type 'choice' but no 'choices'")
        if self.default is not None:
            try:
                object.__setattr__(self, "default", coerce_value(self, self.default, strict=True))
            except (TypeError, ValueError) as exc:
                raise ValueError(f"default of variable '{self.name}': {exc}") from None
        return self

    @property
    def is_required(self) -> bool:
        """Required unless it has a default (or says ``required: false``)."""
        return self.required if self.required is not None else self.default is None

    def spec(self) -> dict[str, Any]:
        """JSON-ready description (for the widget's form and ``template show``)."""
        return {
            "name": self.name,
            "type": self.type,
            "description": self.description,
            "default": self.default,
            "required": self.is_required,
            "choices": self.choices,
            "retrieved": self.retrieved,
            "multiline": self.multiline or (self.type == "str" and self.default is None),
        }


class FewShotExample(BaseModel):
    """A worked example: either template variables or a literal user turn, and the expected answer."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    variables: dict[str, Any] | None = None
    user: str | None = None
    output: str

    @model_validator(mode="after")
    def _one_input(self) -> FewShotExample:
        if (self.variables is None) == (self.user is None):
            raise ValueError("an example needs exactly one of 'variables' or 'user', plus 'output'")
        return self


class RecommendedParameters(BaseModel):
    """Generation parameters the template works best with (a run may override them)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    top_p: float | None = Field(default=None, gt=0.0, le=1.0)
    max_new_tokens: int | None = Field(default=None, ge=1)
    stop: list[str] | None = None

    def as_dict(self) -> dict[str, Any]:
        """Only the parameters that are set."""
        return {k: v for k, v in self.model_dump().items() if v is not None}


class PromptTemplate(BaseModel):
    """A versioned prompt template. Load with :func:`get_template` or :func:`load_template`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    version: int = Field(ge=1)
    title: str = ""
    description: str = ""
    skill: str | None = None
    tags: list[str] = Field(default_factory=list)
    variables: list[TemplateVariable] = Field(default_factory=list)
    system: str | None = None
    examples: list[FewShotExample] = Field(default_factory=list)
    template: str
    parameters: RecommendedParameters = RecommendedParameters()
    output_format: Literal["text", "json", "markdown"] = "text"

    _source: Path | None = PrivateAttr(None)
    _template_line: int | None = PrivateAttr(None)
    _system_line: int | None = PrivateAttr(None)
    _compiled: Any = PrivateAttr(None)

    @field_validator("id")
    @classmethod
    def _slug(cls, value: str) -> str:
        if not _ID.match(value):
            raise ValueError(f"template id '{value}' must be lower-case letters, digits, '-' or '_'")
        return value

    @model_validator(mode="after")
    def _unique_variables(self) -> PromptTemplate:
        names = [v.name for v in self.variables]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"variables declared twice: {dupes}")
        return self

    @property
    def ref(self) -> str:
        """``id@version``: what telemetry and history record."""
        return f"{self.id}@{self.version}"

    @property
    def source(self) -> Path | None:
        """The YAML file this template came from, if any."""
        return self._source

    def variable(self, name: str) -> TemplateVariable:
        """The declared variable ``name``."""
        for v in self.variables:
            if v.name == name:
                return v
        raise self._error(f"has no variable '{name}'", field=f"variables.{name}", hint=self._known_hint(name))

    def defaults(self) -> dict[str, Any]:
        """Variable defaults (the values a form starts with)."""
        return {v.name: v.default for v in self.variables if v.default is not None}

    def spec(self) -> dict[str, Any]:
        """JSON-ready summary for listings, the CLI and the widget."""
        return {
            "id": self.id,
            "version": self.version,
            "ref": self.ref,
            "title": self.title,
            "description": self.description,
            "skill": self.skill,
            "tags": self.tags,
            "variables": [v.spec() for v in self.variables],
            "system": self.system,
            "examples": len(self.examples),
            "parameters": self.parameters.as_dict(),
            "output_format": self.output_format,
            "source": str(self._source) if self._source else None,
        }

    # ------------------------------------------------------------------------------------------------ render

    def resolve_variables(self, values: Mapping[str, Any] | None = None, *, coerce: bool = False) -> dict[str, Any]:
        """Validate ``values`` against the declared variables and fill in defaults.

        Args:
            values: Variable values.
            coerce: Convert strings to the declared type (for the CLI's ``--var k=v`` and form inputs).

        Raises:
            ValidationError: An unknown, missing or mistyped variable (the message names template and variable).
        """
        values = dict(values or {})
        declared = {v.name: v for v in self.variables}
        unknown = sorted(set(values) - set(declared))
        if unknown:
            name = unknown[0]
            raise self._error(f"has no variable '{name}'", field=f"variables.{name}", hint=self._known_hint(name))
        out: dict[str, Any] = {}
        # Mistyped values first (they are what the caller just typed), then the missing ones.
        for name, var in declared.items():
            if name in values and values[name] is not None:
                try:
                    out[name] = coerce_value(var, values[name], strict=not coerce)
                except (TypeError, ValueError) as exc:
                    raise self._error(
                        f"variable '{name}' {exc}",
                        field=f"variables.{name}",
                        hint=_type_hint(var),
                    ) from None
        for name, var in declared.items():
            if name in out:
                continue
            if var.default is not None:
                out[name] = var.default
            elif var.is_required:
                raise self._error(
                    f"is missing the required variable '{name}'",
                    field=f"variables.{name}",
                    hint=f"pass {name}=... ({var.description or var.type})",
                )
            else:
                out[name] = None
        out = {name: out[name] for name in declared}
        return out

    def render(self, values: Mapping[str, Any] | None = None, *, system: str | None = None, coerce: bool = False) -> RenderedPrompt:
        """Render the template into chat messages (system, few-shot turns, the user turn).

        Args:
            values: Variable values (defaults fill the rest).
            system: Replace the template's system prompt (the playground's "edit system prompt").
            coerce: Convert string values to the declared types.

        Raises:
            ValidationError: Missing, unknown or mistyped variables; an empty rendered prompt; a render error.
        """
        variables = self.resolve_variables(values, coerce=coerce)
        compiled = _compiled(self)
        messages: list[dict[str, str]] = []
        sys_text = self.system if system is None else system
        if sys_text:
            rendered_sys = self._render_one(compiled.system, variables, "system") if system is None else sys_text
            if rendered_sys.strip():
                messages.append({"role": "system", "content": rendered_sys.strip()})
        for i, ex in enumerate(self.examples):
            if ex.variables is not None:
                ex_vars = self.resolve_variables({**variables, **ex.variables})
                user = self._render_one(compiled.body, ex_vars, f"examples[{i}]")
            else:
                user = ex.user or ""
            messages.append({"role": "user", "content": user.strip()})
            messages.append({"role": "assistant", "content": ex.output.strip()})
        prompt = self._render_one(compiled.body, variables, "template").strip()
        if not prompt:
            raise self._error(
                "rendered an empty prompt",
                field="template",
                hint="fill the variables the template uses, or check its {% if %} blocks",
            )
        messages.append({"role": "user", "content": prompt})
        return RenderedPrompt(
            template=self.ref,
            messages=messages,
            prompt=prompt,
            variables=variables,
            parameters=self.parameters.as_dict(),
            retrieved=_retrieved_texts(self.variables, variables),
        )

    def _render_one(self, compiled: Any, variables: Mapping[str, Any], part: str) -> str:
        from jinja2 import TemplateError, UndefinedError
        from jinja2.sandbox import SecurityError

        try:
            return str(compiled.render(**variables))
        except UndefinedError as exc:
            name = _undefined_name(str(exc))
            raise self._error(
                f"uses the undefined variable '{name}' in {part}",
                field=f"variables.{name}",
                hint=f"declare '{name}' under variables, or pass it",
            ) from None
        except SecurityError as exc:
            raise self._error(f"tried an unsafe operation in {part}: {exc}", field=part) from None
        except TemplateError as exc:
            raise self._error(f"failed to render {part}: {exc}", field=part) from None
        except (TypeError, ValueError, AttributeError, KeyError) as exc:
            raise self._error(f"failed to render {part}: {type(exc).__name__}: {exc}", field=part) from None

    def _error(self, what: str, *, field: str | None = None, hint: str | None = None, line: int | None = None) -> ValidationError:
        if line is None and field == "template":
            line = self._template_line
        return ValidationError(f"template '{self.ref}' {what}", file=self._source, line=line, field=field, hint=hint)

    def _known_hint(self, name: str) -> str:
        names = [v.name for v in self.variables]
        close = difflib.get_close_matches(name, names, n=1)
        known = ", ".join(names) or "none"
        return f"did you mean '{close[0]}'? known variables: {known}" if close else f"known variables: {known}"


@dataclass(frozen=True)
class RenderedPrompt:
    """A rendered template, ready for a model.

    Attributes:
        template: ``id@version``.
        messages: Chat messages (system, few-shot turns, user).
        prompt: The final user turn on its own.
        variables: The variables used (defaults filled in).
        parameters: The template's recommended generation parameters.
        retrieved: Values of variables marked ``retrieved`` (documents to injection-check).
    """

    template: str
    messages: list[dict[str, str]]
    prompt: str
    variables: dict[str, Any] = field(default_factory=dict)
    parameters: dict[str, Any] = field(default_factory=dict)
    retrieved: list[str] = field(default_factory=list)

    @property
    def system(self) -> str | None:
        """The system message, if any."""
        return next((m["content"] for m in self.messages if m["role"] == "system"), None)

    def as_text(self) -> str:
        """A plain-text view (for models without a chat template and for display)."""
        return "\n\n".join(f"{m['role']}: {m['content']}" for m in self.messages)


def _retrieved_texts(declared: Sequence[TemplateVariable], values: Mapping[str, Any]) -> list[str]:
    out: list[str] = []
    for var in declared:
        value = values.get(var.name)
        if var.retrieved and value:
            out.extend(str(v) for v in value) if isinstance(value, list) else out.append(str(value))
    return out


# ----------------------------------------------------------------------------------------------- coercion


def coerce_value(var: TemplateVariable, value: Any, *, strict: bool) -> Any:
    """Check (``strict``) or convert (from strings) ``value`` to the variable's type."""
    t = var.type
    if t in ("str", "choice"):
        if not isinstance(value, str):
            if strict:
                raise TypeError(f"must be a string, got {type(value).__name__} {value!r}")
            value = str(value)
        if t == "choice" and var.choices and value not in var.choices:
            raise ValueError(f"must be one of {var.choices}, got {value!r}")
        return value
    if t == "bool":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and not strict:
            low = value.strip().lower()
            if low in {"true", "yes", "1", "on"}:
                return True
            if low in {"false", "no", "0", "off"}:
                return False
        raise TypeError(f"must be true or false, got {value!r}")
    if t == "int":
        if isinstance(value, bool) or not isinstance(value, (int, str)) or (isinstance(value, str) and strict):
            raise TypeError(f"must be an integer, got {type(value).__name__} {value!r}")
        try:
            return int(value)
        except ValueError:
            raise TypeError(f"must be an integer, got {value!r}") from None
    if t == "float":
        if isinstance(value, bool) or not isinstance(value, (int, float, str)) or (isinstance(value, str) and strict):
            raise TypeError(f"must be a number, got {type(value).__name__} {value!r}")
        try:
            return float(value)
        except ValueError:
            raise TypeError(f"must be a number, got {value!r}") from None
    if t == "list":
        if isinstance(value, (list, tuple)):
            return [str(v) if not isinstance(v, (str, dict)) else v for v in value]
        if isinstance(value, str) and not strict:
            text = value.strip()
            if text.startswith("["):
                import json

                try:
                    loaded = json.loads(text)
                except json.JSONDecodeError as exc:
                    raise TypeError(f"is not a valid JSON list: {exc.msg}") from None
                if isinstance(loaded, list):
                    return loaded
            return [part.strip() for part in text.split("||" if "||" in text else ",") if part.strip()]
        raise TypeError(f"must be a list, got {type(value).__name__} {value!r}")
    if t == "json":
        if isinstance(value, str) and not strict:
            import json

            try:
                return json.loads(value)
            except json.JSONDecodeError as exc:
                raise TypeError(f"is not valid JSON: {exc.msg}") from None
        return value
    raise TypeError(f"has an unknown type '{t}'")  # pragma: no cover - the model restricts it


def _type_hint(var: TemplateVariable) -> str:
    return {
        "str": "pass text",
        "choice": f"pick one of {var.choices}",
        "int": "pass a whole number, e.g. 3",
        "float": "pass a number, e.g. 0.5",
        "bool": "pass true or false",
        "list": "pass a list (on the command line: comma-separated, or a JSON list)",
        "json": "pass JSON",
    }[var.type]


_UNDEFINED = re.compile(r"'([^']+)' is undefined|has no attribute '([^']+)'")


def _undefined_name(message: str) -> str:
    m = _UNDEFINED.search(message)
    if not m:
        return "?"
    return m.group(1) or m.group(2)


# ----------------------------------------------------------------------------------------------- compiling


@dataclass(frozen=True)
class _Compiled:
    body: Any
    system: Any


@lru_cache(maxsize=1)
def _environment() -> Any:
    from jinja2 import StrictUndefined
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    env = ImmutableSandboxedEnvironment(
        undefined=StrictUndefined, autoescape=False, trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=False
    )
    env.filters["bullets"] = lambda items: "\n".join(f"- {i}" for i in (items or []))
    env.filters["numbered"] = lambda items: "\n".join(f"[{n}] {i}" for n, i in enumerate(items or [], 1))
    return env


def _compiled(tpl: PromptTemplate) -> _Compiled:
    found: _Compiled | None = tpl._compiled
    if found is None:
        found = _compile(tpl)
        tpl._compiled = found
    return found


def _compile(tpl: PromptTemplate) -> _Compiled:
    from jinja2 import TemplateSyntaxError, meta

    env = _environment()
    parts: dict[str, Any] = {}
    declared = {v.name for v in tpl.variables}
    for part, source, base_line in (
        ("template", tpl.template, tpl._template_line),
        ("system", tpl.system or "", tpl._system_line),
    ):
        try:
            ast = env.parse(source)
            parts[part] = env.from_string(source)
        except TemplateSyntaxError as exc:
            line = base_line + exc.lineno - 1 if base_line is not None and exc.lineno else None
            raise tpl._error(
                f"has a Jinja syntax error in {part}: {exc.message}",
                field=part,
                line=line,
                hint="check the {{ }} and {% %} tags near that line",
            ) from None
        undeclared = sorted(meta.find_undeclared_variables(ast) - declared - set(env.globals))
        if undeclared:
            raise tpl._error(
                f"uses the undeclared variable '{undeclared[0]}' in {part}",
                field=f"variables.{undeclared[0]}",
                line=base_line,
                hint=f"declare it under variables: - {{name: {undeclared[0]}, type: str}}",
            )
    return _Compiled(parts["template"], parts["system"])


# ------------------------------------------------------------------------------------------------- loading


def load_template(source: str | Path | Mapping[str, Any]) -> PromptTemplate:
    """Load, validate and compile one template from a YAML file (or a dict).

    Raises:
        NotFoundError: The file does not exist.
        ValidationError: Bad YAML, a schema error, or a Jinja syntax error (naming the file, line and field).
    """
    path: Path | None = None
    lines: dict[str, int] = {}
    if isinstance(source, Mapping):
        data: Any = dict(source)
    else:
        path = Path(source).expanduser()
        if not path.is_file():
            raise NotFoundError(f"template file '{path}' does not exist", hint="check the path")
        text = path.read_text(encoding="utf-8")
        data, _ = load_yaml(
            text,
            file=path,
            message="template is not valid YAML",
            hint="fix the YAML syntax (indentation, quotes, colons); use 'template: |' for multi-line bodies",
        )
        lines = _field_lines(text)
    if not isinstance(data, dict):
        raise ValidationError("a template must be a YAML mapping", file=path, hint="start with 'id: my-template'")
    from pydantic import ValidationError as PydanticValidationError

    try:
        tpl = PromptTemplate.model_validate(data)
    except PydanticValidationError as exc:
        err = exc.errors()[0]
        loc = [str(p) for p in err["loc"]]
        if len(loc) >= 2 and loc[0] == "variables" and loc[1].isdigit():
            with contextlib.suppress(KeyError, IndexError, TypeError, AttributeError):
                loc[1] = str(data["variables"][int(loc[1])].get("name", loc[1]))
        field = ".".join(loc)
        ident = f"'{data.get('id')}@{data.get('version')}'" if data.get("id") else "(no id)"
        raise ValidationError(
            f"template {ident} is invalid: {err['msg']}",
            file=path,
            line=lines.get(loc[0]) if loc else None,
            field=field,
            hint="see a built-in template for the expected fields (workbench template show summarise)",
        ) from None
    tpl._source = path
    tpl._template_line = lines.get("template.body")
    tpl._system_line = lines.get("system.body")
    _compiled(tpl)  # syntax and undeclared-variable errors surface at load time
    return tpl


def _field_lines(text: str) -> dict[str, int]:
    """1-based line of each top-level key, and of the first line of the template/system bodies."""
    out: dict[str, int] = {}
    try:
        node = yaml.compose(text)
    except yaml.YAMLError:
        return out
    if not isinstance(node, yaml.MappingNode):
        return out
    for key, value in node.value:
        name = str(key.value)
        out[name] = key.start_mark.line + 1
        if name in ("template", "system") and isinstance(value, yaml.ScalarNode):
            block = value.style in ("|", ">")
            out[f"{name}.body"] = value.start_mark.line + 1 + (1 if block else 0)
    return out


def template_dirs(extra: Iterable[str | Path] = ()) -> list[Path]:
    """Folders searched for templates, lowest precedence first: built-ins, ``<data_dir>/templates``, ``extra``."""
    from workbench.settings import get_settings

    dirs = [BUILTIN_DIR, get_settings().data_dir / "templates", *(Path(d).expanduser() for d in extra)]
    return [d for d in dirs if d.is_dir()]


class TemplateLibrary:
    """Every template found in a set of folders, by id and version.

    Later folders override earlier ones for the same ``id@version`` (a team can patch a built-in).
    """

    def __init__(self, dirs: Sequence[str | Path] | None = None) -> None:
        self.dirs = [Path(d) for d in dirs] if dirs is not None else template_dirs()
        self._by_id: dict[str, dict[int, PromptTemplate]] = {}
        for folder in self.dirs:
            for path in sorted(folder.glob("*.yaml")) + sorted(folder.glob("*.yml")):
                tpl = load_template(path)
                self._by_id.setdefault(tpl.id, {})[tpl.version] = tpl

    def ids(self) -> list[str]:
        """Sorted template ids."""
        return sorted(self._by_id)

    def templates(self, *, all_versions: bool = False) -> list[PromptTemplate]:
        """The latest version of each template (or every version)."""
        out: list[PromptTemplate] = []
        for tid in self.ids():
            versions = self._by_id[tid]
            out.extend(versions[v] for v in sorted(versions)) if all_versions else out.append(versions[max(versions)])
        return out

    def versions(self, template_id: str) -> list[int]:
        """The versions of ``template_id``, ascending."""
        return sorted(self._by_id.get(template_id, {}))

    def get(self, ref: str, version: int | None = None) -> PromptTemplate:
        """A template by ``id``, ``id@version`` or ``id`` plus ``version`` (default: the latest).

        Raises:
            NotFoundError: Unknown id or version (with close matches in the hint).
        """
        tid, ver = parse_ref(ref)
        ver = version if version is not None else ver
        versions = self._by_id.get(tid)
        if not versions:
            close = difflib.get_close_matches(tid, self.ids(), n=3)
            hint = f"did you mean {', '.join(close)}?" if close else "run 'workbench template list' to see them"
            raise NotFoundError(f"unknown template '{ref}'", hint=hint, field="template")
        if ver is None:
            return versions[max(versions)]
        if ver not in versions:
            raise NotFoundError(
                f"template '{tid}' has no version {ver}",
                hint=f"available versions: {sorted(versions)}",
                field="template",
            )
        return versions[ver]


def parse_ref(ref: str) -> tuple[str, int | None]:
    """``"summarise@2"`` -> ``("summarise", 2)``; ``"summarise"`` -> ``("summarise", None)``."""
    if "@" not in ref:
        return ref.strip(), None
    tid, _, ver = ref.partition("@")
    ver = ver.strip().lstrip("v")
    if not ver.isdigit():
        raise ValidationError(f"bad template reference '{ref}'", hint="use id or id@version, e.g. summarise@2", field="template")
    return tid.strip(), int(ver)


_LIBRARIES: dict[tuple[str, ...], TemplateLibrary] = {}


def library(dirs: Sequence[str | Path] | None = None, *, reload: bool = False) -> TemplateLibrary:
    """The template library for ``dirs`` (default: built-ins + ``<data_dir>/templates``), cached."""
    resolved = [Path(d) for d in dirs] if dirs is not None else template_dirs()
    key = tuple(str(d) for d in resolved)
    if reload or key not in _LIBRARIES:
        _LIBRARIES[key] = TemplateLibrary(resolved)
    return _LIBRARIES[key]


def get_template(ref: str | PromptTemplate, *, version: int | None = None, dirs: Sequence[str | Path] | None = None) -> PromptTemplate:
    """A template by ``id`` / ``id@version``, or a YAML path (anything ending in .yaml/.yml)."""
    if isinstance(ref, PromptTemplate):
        return ref
    if ref.endswith((".yaml", ".yml")):
        return load_template(ref)
    return library(dirs).get(ref, version)


def list_templates(*, all_versions: bool = False, dirs: Sequence[str | Path] | None = None) -> list[PromptTemplate]:
    """Every template (latest versions unless ``all_versions``)."""
    return library(dirs).templates(all_versions=all_versions)


def render(ref: str | PromptTemplate, variables: Mapping[str, Any] | None = None, **kwargs: Any) -> RenderedPrompt:
    """Shortcut: ``get_template(ref).render(variables, **kwargs)``."""
    return get_template(ref).render(variables, **kwargs)
