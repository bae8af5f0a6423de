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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

from workbench._yaml import YamlDocument, load_yaml
from workbench.errors import NotFoundError, ValidationError
from workbench.prompting.variables import TemplateVariable, coerce_value, type_hint

_ID = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


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


class PromptTemplate(YamlDocument):
    """A versioned prompt template. Load with :func:`~workbench.prompting.get_template` or :func:`load_template`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

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
                        hint=type_hint(var),
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
