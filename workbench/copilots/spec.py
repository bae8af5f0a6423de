"""The copilot spec: ``copilot.yaml``, validated with pydantic; errors name the file, the line and the field.

A copilot is a model (name or folder, an optional LoRA adapter, bits), a versioned prompt template, optional
retrieval over an index, a guardrail policy, an evaluation suite with thresholds, service-level objectives and
serving options::

    id: it-helpdesk
    version: 3                      # a string or a number; a registered version is immutable
    title: IT helpdesk copilot
    model: {name: smollm2-135m-instruct, adapter: null, bits: null}
    prompt:
      template: answer-with-citations@1      # id@version (pinned), or a template YAML beside the spec
      question_variable: question            # default: the template's first required text variable
      context_variable: sources              # default: the template's variable marked `retrieved`
      variables: {}                          # fixed values for the template's other variables
      parameters: {max_new_tokens: 128, temperature: 0}
    retrieval: {index: ./index, mode: hybrid, k: 4}   # optional
    guardrails: {policy: null}               # a policy YAML, or null for the built-in default
    evaluation:
      questions: eval/questions.jsonl        # {"question", "reference", "relevant"?: [source ids]}
      rubric: rubric.yaml                    # a rubric file or a built-in rubric id
      thresholds: {rubric_pass_rate: 0.6, retrieval_recall: 0.8, groundedness: 0.5}
    slo: {p95_latency_s: 5.0, cost_per_1k_tokens: 0.0, guardrail_violation_rate: 0.05}
    serving: {canary_share: 0.1, max_batch_size: 16, max_wait_ms: 10, max_gather_ms: 2000, cache: {enabled: false}}

Relative paths are read from the spec's folder. :func:`load_spec` checks the schema;
:func:`check_references` checks what the spec points at (files, template, rubric, variables), each problem
reported at the line of the field that names it.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator
from pydantic import ValidationError as PydanticValidationError

from workbench._yaml import LineMap, Loc, SourcedDocument, load_yaml, located_error, schema_issues
from workbench.errors import NotFoundError, ValidationError, WorkbenchError

#: The file name ``new`` writes and folders are searched for.
SPEC_NAME = "copilot.yaml"
_ID = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
_VERSION = re.compile(r"^[0-9A-Za-z][0-9A-Za-z.+_-]*$")
_TEMPLATE_REF = re.compile(r"^[a-z0-9][a-z0-9_-]*@v?[0-9]+$")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ModelSection(_Section):
    """The model: a name ``load_model`` knows or a folder, an optional LoRA adapter folder, and bits."""

    name: str = Field(min_length=1)
    adapter: Path | None = None
    bits: Literal[4, 8, 16, 32] | None = None


class PromptParameters(_Section):
    """Generation parameters; a request's own values (``max_tokens``, ``temperature``...) override them."""

    max_new_tokens: int | None = Field(default=None, ge=1)
    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    top_p: float | None = Field(default=None, gt=0.0, le=1.0)
    stop: list[str] | None = None

    def as_dict(self) -> dict[str, Any]:
        """Only the parameters that are set."""
        return {k: v for k, v in self.model_dump().items() if v is not None}


class PromptSection(_Section):
    """How a chat turn becomes the model's prompt (see :mod:`workbench.copilots.runtime`)."""

    template: str | None = None
    question_variable: str | None = None
    context_variable: str | None = None
    variables: dict[str, Any] = Field(default_factory=dict)
    system: str | None = None
    parameters: PromptParameters = PromptParameters()

    @field_validator("template")
    @classmethod
    def _pinned(cls, value: str | None) -> str | None:
        if value is None or value.endswith((".yaml", ".yml")) or _TEMPLATE_REF.match(value):
            return value
        raise ValueError(
            f"template '{value}' is not pinned to a version: write it as id@version (e.g. {value}@1) "
            "or give a template YAML file"
        )


class RetrievalSection(_Section):
    """Retrieval over a saved :class:`~workbench.rag.RagIndex` folder; ``k`` defaults to ``workbench.rag.DEFAULT_K``."""

    index: Path
    mode: Literal["dense", "bm25", "hybrid"] = "hybrid"
    k: int | None = Field(default=None, ge=1, le=50)


class GuardrailsSection(_Section):
    """The guardrail policy: a YAML file, or ``null`` for the built-in default."""

    policy: Path | None = None


class Thresholds(_Section):
    """Minimum values a version's evaluation must reach to be promoted (unset: not gated)."""

    rubric_pass_rate: float | None = Field(default=None, ge=0.0, le=1.0)
    retrieval_recall: float | None = Field(default=None, ge=0.0, le=1.0)
    groundedness: float | None = Field(default=None, ge=0.0, le=1.0)


class EvaluationSection(_Section):
    """The evaluation suite: questions with references, a rubric, thresholds."""

    questions: Path
    rubric: str | None = None
    thresholds: Thresholds = Thresholds()
    max_questions: int | None = Field(default=None, ge=1)


class SLO(_Section):
    """Service-level objectives, checked on the evaluation's measurements (unset: not gated)."""

    p95_latency_s: float | None = Field(default=None, gt=0.0)
    cost_per_1k_tokens: float | None = Field(default=None, ge=0.0)
    guardrail_violation_rate: float | None = Field(default=None, ge=0.0, le=1.0)


class CacheSection(_Section):
    """The optional semantic cache of the server (embedding-keyed; keys are redacted prompts)."""

    enabled: bool = False
    similarity: float = Field(default=0.95, gt=0.0, le=1.0)
    max_entries: int = Field(default=1024, ge=1)
    embedder: str | None = None


class ServingSection(_Section):
    """How ``workbench copilot serve`` runs this copilot."""

    name: str | None = Field(default=None, description="the model name clients send; default the copilot id")
    canary_share: float = Field(default=0.1, ge=0.0, le=1.0)
    max_batch_size: int = Field(default=16, ge=1, le=256)
    max_wait_ms: float = Field(default=10.0, ge=0.0, le=10_000.0)
    max_gather_ms: float = Field(
        default=2000.0, ge=0.0, le=60_000.0,
        description="longest a batch waits for requests the server has accepted and is still preparing",
    )
    max_prompt_chars: int = Field(default=32_000, ge=1)
    cache: CacheSection = CacheSection()


class CopilotSpec(_Section, SourcedDocument):
    """A copilot: load with :func:`load_spec`; paths are absolute once loaded from a file."""

    # ``ref`` (id@version: how the registry, telemetry and the CLI name a version) and ``source`` (the YAML
    # file, if any) come from SourcedDocument.

    version: str
    title: str = ""
    description: str = ""
    model: ModelSection
    prompt: PromptSection = PromptSection()
    retrieval: RetrievalSection | None = None
    guardrails: GuardrailsSection = GuardrailsSection()
    evaluation: EvaluationSection | None = None
    slo: SLO = SLO()
    serving: ServingSection = ServingSection()

    _lines: LineMap = PrivateAttr(default_factory=dict)

    @field_validator("id")
    @classmethod
    def _slug(cls, value: str) -> str:
        if not _ID.match(value):
            raise ValueError(f"copilot id '{value}' must be lower-case letters, digits, '-' or '_'")
        return value

    @field_validator("version", mode="before")
    @classmethod
    def _version(cls, value: Any) -> Any:
        if isinstance(value, bool):
            raise ValueError("version must be a string or a number, like 3 or '1.2.0'")
        if isinstance(value, int | float):
            value = str(value)
        if isinstance(value, str) and not _VERSION.match(value):
            raise ValueError(f"version '{value}' may hold only letters, digits and . + _ -")
        return value

    @property
    def served_name(self) -> str:
        """The ``model`` name clients send to the server."""
        return self.serving.name or self.id

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (paths as strings)."""
        return self.model_dump(mode="json")

    def digest(self) -> str:
        """A fingerprint of the spec's content: a registered version may not change under the same version."""
        text = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def error(self, message: str, loc: Loc, *, hint: str | None = None) -> ValidationError:
        """A :class:`ValidationError` about the field at ``loc``, at its line of the spec file."""
        return located_error(ValidationError, message, loc, file=self._source, lines=self._lines, hint=hint)


def load_spec(path: str | Path) -> CopilotSpec:
    """Load a ``copilot.yaml`` (or the folder holding one); relative paths resolve against its folder.

    Raises:
        NotFoundError: No such file.
        ValidationError: Not valid YAML, or a field is missing or invalid (file, line and field named).
    """
    file = Path(path).expanduser()
    if file.is_dir():
        file = file / SPEC_NAME
    if not file.is_file():
        raise NotFoundError(
            f"no copilot spec at '{file}'",
            file=file,
            hint="pass a copilot.yaml (or its folder); 'workbench copilot new ID' writes one",
        )
    text = file.read_text(encoding="utf-8")
    data, lines = load_yaml(text, file=file, message="copilot spec is not valid YAML")
    if not isinstance(data, dict):
        raise ValidationError(
            "a copilot spec must be a mapping (id, version, model, prompt...)",
            file=file,
            line=1,
            hint="start the file with 'id: my-copilot'",
        )
    return spec_from_data(data, file=file, lines=lines)


def spec_from_data(
    data: dict[str, Any], *, file: Path | None = None, lines: LineMap | None = None
) -> CopilotSpec:
    """Validate spec data (a parsed file, or a registry snapshot); paths resolve against ``file``'s folder."""
    try:
        spec = CopilotSpec.model_validate(data)
    except PydanticValidationError as exc:
        issue = schema_issues(exc)[0]
        message = issue.message
        hint = _HINTS.get(str(issue.loc[0]) if issue.loc else "", "see the fields in workbench/copilots/spec.py")
        if issue.kind == "extra_forbidden":
            message, hint = f"unknown field '{issue.loc[-1]}'", "remove it or check its spelling"
        elif issue.kind == "missing":
            hint = f"add the required field '{issue.loc[-1]}'"
        raise located_error(
            ValidationError, f"invalid copilot spec: {message}", issue.loc, file=file, lines=lines, hint=hint
        ) from None
    if file is not None:
        spec = _resolved(spec, file.parent.resolve())
    spec._source = file
    spec._lines = dict(lines or {})
    return spec


_HINTS = {
    "model": "model needs a name: a model name (smollm2-135m-instruct) or a model folder",
    "prompt": "prompt.template is id@version (see 'workbench template list') or a template YAML file",
    "retrieval": "retrieval needs index: <a folder built with 'workbench rag index'>; mode dense|bm25|hybrid",
    "evaluation": "evaluation needs questions: <a JSONL file>; thresholds are fractions from 0 to 1",
    "slo": "SLOs are p95_latency_s (> 0), cost_per_1k_tokens (>= 0), guardrail_violation_rate (0..1)",
    "serving": "canary_share is 0..1; max_batch_size 1..256; max_wait_ms 0..10000",
}


def _under(base: Path, value: Path | None) -> Path | None:
    if value is None:
        return None
    value = value.expanduser()
    return value if value.is_absolute() else (base / value).resolve()


def _resolved(spec: CopilotSpec, base: Path) -> CopilotSpec:
    """``spec`` with its relative paths made absolute under ``base`` (the spec file's folder)."""
    model = spec.model
    name = model.name
    if (base / name).is_dir() and not Path(name).is_absolute():
        name = str((base / name).resolve())  # a model folder next to the spec
    updates: dict[str, Any] = {
        "model": model.model_copy(update={"name": name, "adapter": _under(base, model.adapter)}),
        "guardrails": spec.guardrails.model_copy(update={"policy": _under(base, spec.guardrails.policy)}),
    }
    template = spec.prompt.template
    if template is not None and template.endswith((".yaml", ".yml")):
        updates["prompt"] = spec.prompt.model_copy(update={"template": str(_under(base, Path(template)))})
    if spec.retrieval is not None:
        updates["retrieval"] = spec.retrieval.model_copy(update={"index": _under(base, spec.retrieval.index)})
    if spec.evaluation is not None:
        evaluation = spec.evaluation
        rubric = evaluation.rubric
        if rubric is not None and rubric.endswith((".yaml", ".yml")):
            rubric = str(_under(base, Path(rubric)))
        updates["evaluation"] = evaluation.model_copy(
            update={"questions": _under(base, evaluation.questions), "rubric": rubric}
        )
    return spec.model_copy(update=updates)


# ------------------------------------------------------------------------------------------- references


def check_references(spec: CopilotSpec) -> None:
    """Check what the spec points at: files and folders exist, the template and rubric load, and the
    template's variables fit the prompt section. Loads no model and no index.

    Raises:
        ValidationError: The first problem, at the line of the field that names it, with the fix.
    """
    _check_paths(spec)
    if spec.retrieval is not None and spec.prompt.template is None:
        raise spec.error(
            "retrieval is configured but there is no prompt template to put the passages in",
            ("prompt", "template"),
            hint="use a template with a `retrieved: true` variable, e.g. answer-with-citations@1",
        )
    if spec.prompt.template is not None:
        _check_template(spec)
    if spec.evaluation is not None and spec.evaluation.rubric is not None:
        from workbench.rubrics import load_rubric

        try:
            load_rubric(spec.evaluation.rubric)
        except WorkbenchError as exc:
            raise spec.error(
                f"the evaluation rubric does not load: {exc.message}",
                ("evaluation", "rubric"),
                hint=exc.hint or "give a rubric YAML file or a built-in rubric id",
            ) from None


def _check_paths(spec: CopilotSpec) -> None:
    checks: list[tuple[Path | None, Loc, bool, str]] = [
        (spec.model.adapter, ("model", "adapter"), True, "a folder written by 'workbench tune run'"),
        (spec.guardrails.policy, ("guardrails", "policy"), False, "a policy YAML (see 'workbench guard policy')"),
    ]
    if spec.retrieval is not None:
        checks.append((spec.retrieval.index, ("retrieval", "index"), True, "build one with 'workbench rag index'"))
    if spec.evaluation is not None:
        checks.append((spec.evaluation.questions, ("evaluation", "questions"), False, "a JSONL file of questions"))
    for path, loc, folder, what in checks:
        if path is None:
            continue
        exists = path.is_dir() if folder else path.is_file()
        if not exists:
            kind = "folder" if folder else "file"
            raise spec.error(f"the {kind} '{path}' does not exist", loc, hint=f"point it at {what}")


def _check_template(spec: CopilotSpec) -> None:
    from workbench.prompting import get_template

    assert spec.prompt.template is not None
    try:
        template = get_template(spec.prompt.template)
    except WorkbenchError as exc:
        raise spec.error(exc.message, ("prompt", "template"), hint=exc.hint) from None
    template_slots(spec, template)


@dataclass(frozen=True)
class TemplateSlots:
    """Which template variables a chat turn fills.

    Attributes:
        question: The variable that receives the user's last message.
        context: The variable that receives the retrieved passages (``None``: the template takes none).
    """

    question: str
    context: str | None


def template_slots(spec: CopilotSpec, template: Any) -> TemplateSlots:
    """The question and context variables of ``template`` for ``spec`` (named, or found by type), checked.

    Raises:
        ValidationError: A named variable the template lacks, no variable for the question, retrieval
            without a variable for the passages, or a required variable nothing fills.
    """
    prompt = spec.prompt
    declared = {v.name: v for v in template.variables}
    known = f"its variables: {', '.join(declared) or 'none'}"
    for field in ("question_variable", "context_variable"):
        name = getattr(prompt, field)
        if name is not None and name not in declared:
            raise spec.error(f"template '{template.ref}' has no variable '{name}'", ("prompt", field), hint=known)
    unknown = sorted(set(prompt.variables) - set(declared))
    if unknown:
        raise spec.error(
            f"template '{template.ref}' has no variable '{unknown[0]}'", ("prompt", "variables", unknown[0]), hint=known
        )
    fixed = set(prompt.variables)
    question = prompt.question_variable or next(
        (v.name for v in template.variables if v.type == "str" and not v.retrieved and v.is_required and v.name not in fixed),
        None,
    )
    if question is None:
        raise spec.error(
            f"template '{template.ref}' has no required text variable to receive the user's message",
            ("prompt", "template"),
            hint=f"name one with prompt.question_variable ({known})",
        )
    context = prompt.context_variable or next((v.name for v in template.variables if v.retrieved), None)
    if spec.retrieval is not None and context is None:
        raise spec.error(
            f"retrieval is configured but template '{template.ref}' has no variable for the retrieved passages",
            ("prompt", "context_variable"),
            hint=f"pick a template with a `retrieved: true` variable, or name one here ({known})",
        )
    unfilled = [v.name for v in template.variables if v.is_required and v.name not in {question, context} | fixed]
    if unfilled:
        raise spec.error(
            f"template '{template.ref}' needs the variable '{unfilled[0]}', which nothing fills",
            ("prompt", "variables"),
            hint=f"set prompt.variables.{unfilled[0]} to a fixed value",
        )
    return TemplateSlots(question, context)


def find_specs(roots: Sequence[str | Path] | None = None) -> list[Path]:
    """``copilot.yaml`` files in ``roots`` and up to two folder levels below (default: the current folder and
    ``<data_dir>/copilots``), sorted."""
    if roots is None:
        from workbench.settings import get_settings

        roots = [Path.cwd(), get_settings().data_dir / "copilots"]
    found: set[Path] = set()
    for root in (Path(r).expanduser() for r in roots):
        if root.is_file() and root.name == SPEC_NAME:
            found.add(root.resolve())
        for pattern in (SPEC_NAME, f"*/{SPEC_NAME}", f"*/*/{SPEC_NAME}"):
            found.update(p.resolve() for p in root.glob(pattern) if p.is_file())
    return sorted(found)
