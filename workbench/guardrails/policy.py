"""The guardrail policy: one YAML file, validated with pydantic, with a built-in default.

A policy says which PII kinds to look for and what to do with them in prompts and outputs, which models and
terms are allowed or denied, how strict the injection heuristics are, what output checks run, the per-learner
rate limit and token budget, and where the audit log goes. Every section has safe defaults, so a team's policy
file only lists what it changes; an unknown key is an error (a typo must not silently weaken a policy).

Example::

    name: finance-team
    version: 3
    pii: {prompt: block}
    models: {deny: ["openai:*"]}
    terms: {deny: ["project nightingale"]}
    limits: {requests_per_minute: 20, tokens_per_day: 200000}
"""

from __future__ import annotations

import fnmatch
import re
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from workbench._yaml import load_yaml
from workbench.errors import NotFoundError, ValidationError
from workbench.guardrails.pii import DEFAULT_KINDS, PII_KINDS

Action = Literal["allow", "redact", "block"]

DEFAULT_POLICY_PATH = Path(__file__).with_name("default_policy.yaml")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PiiPolicy(_Section):
    """PII handling. ``prompt``/``output``: allow (only telemetry is redacted), redact or block."""

    kinds: list[str] = Field(default_factory=lambda: list(DEFAULT_KINDS))
    prompt: Action = "redact"
    output: Action = "redact"
    detectors: list[str] = Field(default_factory=list, description="registered extra detectors, e.g. 'ner'")
    allow: list[str] = Field(default_factory=list, description="exact values never treated as PII")

    @field_validator("kinds")
    @classmethod
    def _known_kinds(cls, value: list[str]) -> list[str]:
        unknown = sorted(set(value) - set(PII_KINDS))
        if unknown:
            raise ValueError(f"unknown PII kind(s) {unknown}; known: {list(PII_KINDS)}")
        return value


class ListPolicy(_Section):
    """Allow and deny lists. Models use glob patterns (``openai:*``); terms are case-insensitive phrases."""

    allow: list[str] = Field(default_factory=list)
    deny: list[str] = Field(default_factory=list)


class InjectionRule(_Section):
    """What to do when the injection score reaches ``threshold``."""

    threshold: float = Field(default=0.5, ge=0.0, le=1.0)
    action: Literal["allow", "block"] = "allow"


class InjectionPolicy(_Section):
    """Injection heuristics for user prompts and for retrieved text."""

    user: InjectionRule = InjectionRule(threshold=0.5, action="allow")
    retrieved: InjectionRule = InjectionRule(threshold=0.5, action="block")


_CANARY_MIN_CHARS = 4


def canary_key(text: str) -> str:
    """``text`` as canaries are compared: lower case, letters and digits only (``Z-E-P-H-Y-R 7`` -> ``zephyr7``)."""
    return "".join(ch for ch in text.lower() if ch.isalnum())


class OutputPolicy(_Section):
    """Checks on generated text (PII handling is under ``pii.output``).

    ``canaries`` are values that must never reach a user, typically a marker or secret planted in the system
    prompt (a canary token): an output that contains one is withheld. Unlike ``terms.deny``, they are checked on
    outputs only (the system prompt that holds them still reaches the model), and matched ignoring case, spaces
    and punctuation, so a spelled-out ``Z-E-P-H-Y-R 7`` counts too. Audit entries never repeat them. Like the
    other output checks they judge the whole answer: a streamed answer is withheld at the end, after its pieces.
    """

    secrets: Action = "redact"
    system_prompt_leak: Literal["allow", "block"] = "block"
    canaries: list[str] = Field(default_factory=list, description="values no output may contain (see above)")
    max_chars: int | None = Field(default=None, ge=1)

    @field_validator("canaries")
    @classmethod
    def _distinctive(cls, value: list[str]) -> list[str]:
        short = [c for c in value if len(canary_key(c)) < _CANARY_MIN_CHARS]
        if short:
            raise ValueError(
                f"canary {short[0]!r} has fewer than {_CANARY_MIN_CHARS} letters or digits: it would match ordinary "
                "text; use a longer, distinctive value"
            )
        return value


class LimitsPolicy(_Section):
    """Per-learner limits, persisted in SQLite so they hold across processes. ``None`` = unlimited."""

    requests_per_minute: int | None = Field(default=300, ge=1)
    tokens_per_day: int | None = Field(default=2_000_000, ge=1)


class AuditPolicy(_Section):
    """The append-only, hash-chained audit log."""

    path: Path | None = Field(default=None, description="default <data_dir>/guardrails/audit.jsonl")
    fsync: bool = Field(default=False, description="fsync every entry (survives power loss; slower)")


class TelemetryPolicy(_Section):
    """What generation events may carry (always after redaction)."""

    include_text: bool = True
    max_text_chars: int = Field(default=2000, ge=0)



def _whole_words(terms: list[str]) -> re.Pattern[str] | None:
    """A case-insensitive pattern matching any of ``terms`` as whole words (longest first); ``None`` for none."""
    if not terms:
        return None
    alternatives = sorted((re.escape(t.strip()) for t in terms if t.strip()), key=len, reverse=True)
    return re.compile(r"(?<!\w)(?:" + "|".join(alternatives) + r")(?!\w)", re.IGNORECASE)

class Policy(_Section):
    """A complete guardrail policy. See the module docstring for the YAML form."""

    name: str = "default"
    version: int = 1
    description: str = ""
    pii: PiiPolicy = PiiPolicy()
    models: ListPolicy = ListPolicy()
    terms: ListPolicy = ListPolicy()
    injection: InjectionPolicy = InjectionPolicy()
    output: OutputPolicy = OutputPolicy()
    limits: LimitsPolicy = LimitsPolicy()
    audit: AuditPolicy = AuditPolicy()
    telemetry: TelemetryPolicy = TelemetryPolicy()

    model_config = ConfigDict(extra="forbid", frozen=True, ignored_types=(cached_property,))

    @property
    def ref(self) -> str:
        """``name@version``, written into every audit entry."""
        return f"{self.name}@{self.version}"

    def model_allowed(self, model: str) -> tuple[bool, str]:
        """Whether ``model`` may be used, and why not."""
        for pattern in self.models.deny:
            if fnmatch.fnmatchcase(model, pattern):
                return False, f"model '{model}' matches the deny pattern '{pattern}'"
        if self.models.allow and not any(fnmatch.fnmatchcase(model, p) for p in self.models.allow):
            return False, f"model '{model}' is not in the allow list {self.models.allow}"
        return True, ""

    @cached_property
    def _canary_keys(self) -> list[str]:
        return [canary_key(c) for c in self.output.canaries]

    def leaked_canaries(self, text: str) -> int:
        """How many of the policy's canaries ``text`` contains (ignoring case, spaces and punctuation)."""
        keys = self._canary_keys
        if not keys:
            return 0
        flat = canary_key(text)
        return sum(key in flat for key in keys)

    @cached_property
    def _deny_terms(self) -> re.Pattern[str] | None:
        return _whole_words(self.terms.deny)

    @cached_property
    def _allow_terms(self) -> re.Pattern[str] | None:
        return _whole_words(self.terms.allow)

    def denied_terms(self, text: str) -> list[str]:
        """The deny-listed terms found in ``text`` (as written in the policy), ignoring allow-listed phrases."""
        rx = self._deny_terms
        if rx is None:
            return []
        if self._allow_terms is not None:
            text = self._allow_terms.sub(" ", text)
        hits = {m.group().lower() for m in rx.finditer(text)}
        return [t for t in self.terms.deny if t.strip().lower() in hits]


def default_policy() -> Policy:
    """The built-in policy (``workbench/guardrails/default_policy.yaml``)."""
    return load_policy(DEFAULT_POLICY_PATH)


def load_policy(source: str | Path | dict[str, Any] | Policy | None = None) -> Policy:
    """Load and validate a policy.

    Args:
        source: A YAML file path, a dict, a :class:`Policy`, or ``None`` for the built-in default.

    Returns:
        The validated policy.

    Raises:
        NotFoundError: The file does not exist.
        ValidationError: The YAML is malformed or a field is invalid (the error names the file and field).
    """
    if source is None:
        source = DEFAULT_POLICY_PATH
    if isinstance(source, Policy):
        return source
    path: Path | None = None
    if isinstance(source, dict):
        data: Any = source
    else:
        path = Path(source).expanduser()
        if not path.is_file():
            raise NotFoundError(
                f"policy file '{path}' does not exist",
                hint="pass the path of a YAML policy, or omit it to use the built-in default policy",
            )
        data, _ = load_yaml(
            path.read_text(encoding="utf-8"),
            file=path,
            message="policy is not valid YAML",
            hint="fix the YAML syntax (indentation, quotes, colons)",
        )
        data = data or {}
    if not isinstance(data, dict):
        raise ValidationError("a policy must be a YAML mapping", file=path, hint="start with 'name: my-policy'")
    from pydantic import ValidationError as PydanticValidationError

    try:
        return Policy.model_validate(data)
    except PydanticValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"])
        hint = (
            "remove the key, or check its spelling against the default policy (workbench guard policy)"
            if err["type"] == "extra_forbidden"
            else "see the default policy for the expected values (workbench guard policy)"
        )
        raise ValidationError(f"invalid policy: {err['msg']}", file=path, field=field, hint=hint) from None
