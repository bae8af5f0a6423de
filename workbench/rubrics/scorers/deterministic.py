"""Deterministic scorers: regex, contains, excludes, json_schema, json_match, length, citations, pii_free.

Each is sure of itself (confidence 1.0) and explains its verdict without echoing sensitive text.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from workbench.rubrics.context import ScoringContext
from workbench.rubrics.scorers.base import (
    RubricFieldError,
    Scorer,
    ScorerConfig,
    ScoreResult,
    ThresholdMixin,
    text_of,
)


def extract_json(text: str) -> Any:
    """The first JSON value (object or array) in ``text``, e.g. inside a ```json fence.

    Raises:
        ValueError: no JSON object or array parses.
    """
    stripped = text.strip()
    try:
        return json.loads(stripped)
    except ValueError:
        pass
    decoder = json.JSONDecoder()
    for match in re.finditer(r"[\[{]", text):
        try:
            value, _ = decoder.raw_decode(text, match.start())
        except ValueError:
            continue
        return value
    raise ValueError("no JSON object or array found")


# --- regex -------------------------------------------------------------------------------------------------


class RegexConfig(ScorerConfig):
    """Passes when ``pattern`` matches the field (or, with ``must_match: false``, when it does not)."""

    type: Literal["regex"] = "regex"
    pattern: str = Field(min_length=1)
    must_match: bool = True
    full_match: bool = False
    ignore_case: bool = False
    multiline: bool = False
    dotall: bool = False

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a valid regular expression: {exc}") from None
        return value

    def compiled(self) -> re.Pattern[str]:
        """The compiled pattern with the configured flags."""
        flags = (
            (re.IGNORECASE if self.ignore_case else 0)
            | (re.MULTILINE if self.multiline else 0)
            | (re.DOTALL if self.dotall else 0)
        )
        return re.compile(self.pattern, flags)


class RegexScorer(Scorer):
    """Regular-expression check."""

    config_class = RegexConfig

    def score_one(self, item: Mapping[str, Any], ctx: ScoringContext) -> ScoreResult:
        cfg: RegexConfig = self.config  # type: ignore[assignment]
        text = text_of(item[cfg.field])
        pattern = cfg.compiled()
        matched = bool(pattern.fullmatch(text) if cfg.full_match else pattern.search(text))
        ok = matched == cfg.must_match
        if cfg.must_match:
            why = "matches the required pattern" if matched else "does not match the required pattern"
        else:
            why = "matches a forbidden pattern" if matched else "has no forbidden pattern"
        return ScoreResult(value=1.0 if ok else 0.0, rationale=f"{cfg.field} {why}")


# --- contains / excludes -------------------------------------------------------------------------------------


class _TermsConfig(ScorerConfig):
    values: tuple[str, ...] = Field(min_length=1, description="Terms to look for.")
    case_sensitive: bool = False
    whole_word: bool = False

    @field_validator("values")
    @classmethod
    def _non_empty(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if any(not v for v in value):
            raise ValueError("terms must be non-empty strings")
        return value

    def found(self, text: str) -> list[str]:
        """The configured terms present in ``text``."""
        flags = 0 if self.case_sensitive else re.IGNORECASE
        hits = []
        for term in self.values:
            body = re.escape(term)
            if self.whole_word:
                body = rf"(?<!\w){body}(?!\w)"
            if re.search(body, text, flags):
                hits.append(term)
        return hits


class ContainsConfig(ThresholdMixin, _TermsConfig):
    """Passes when the field contains the terms: all of them (partial credit) or any one."""

    type: Literal["contains"] = "contains"
    mode: Literal["all", "any"] = "all"


class ContainsScorer(Scorer):
    """Required terms."""

    config_class = ContainsConfig

    def score_one(self, item: Mapping[str, Any], ctx: ScoringContext) -> ScoreResult:
        cfg: ContainsConfig = self.config  # type: ignore[assignment]
        hits = cfg.found(text_of(item[cfg.field]))
        missing = [t for t in cfg.values if t not in hits]
        value = (1.0 if hits else 0.0) if cfg.mode == "any" else len(hits) / len(cfg.values)
        why = f"contains {len(hits)} of {len(cfg.values)} required terms"
        if missing and (cfg.mode == "all" or not hits):
            why += f"; missing: {', '.join(missing[:5])}"
        return ScoreResult(value=value, rationale=why, details={"found": hits, "missing": missing})


class ExcludesConfig(_TermsConfig):
    """Passes when the field contains none of the terms (a deny list)."""

    type: Literal["excludes"] = "excludes"


class ExcludesScorer(Scorer):
    """Forbidden terms."""

    config_class = ExcludesConfig

    def score_one(self, item: Mapping[str, Any], ctx: ScoringContext) -> ScoreResult:
        cfg: ExcludesConfig = self.config  # type: ignore[assignment]
        hits = cfg.found(text_of(item[cfg.field]))
        why = f"contains forbidden terms: {', '.join(hits[:5])}" if hits else "contains no forbidden terms"
        return ScoreResult(value=0.0 if hits else 1.0, rationale=why, details={"found": hits})


# --- JSON ----------------------------------------------------------------------------------------------------


class JsonSchemaConfig(ScorerConfig):
    """Passes when the field is JSON valid against a JSON Schema.

    The schema is inline (``schema``), in a file (``schema_file``, relative to the rubric), or in each item
    (``schema_field``): exactly one of the three.
    """

    type: Literal["json_schema"] = "json_schema"
    json_schema: dict[str, Any] | None = Field(None, alias="schema")
    schema_file: str | None = None
    schema_field: str | None = None
    extract: bool = Field(True, description="Take the first JSON value in the text (e.g. inside a fence).")

    model_config = {"populate_by_name": True}  # noqa: RUF012 - merged with the base config

    @model_validator(mode="after")
    def _one_source(self, info: ValidationInfo) -> JsonSchemaConfig:
        given = [n for n in ("json_schema", "schema_file", "schema_field") if getattr(self, n) is not None]
        if len(given) != 1:
            raise RubricFieldError(
                ("schema",),
                "needs exactly one of 'schema', 'schema_file' or 'schema_field'"
                + (f" (got {', '.join(given)})" if given else ""),
                hint="give the JSON Schema inline under 'schema', or name a file or an item field",
            )
        if self.schema_file is not None:
            base = (info.context or {}).get("base_dir") if info is not None else None
            path = Path(self.schema_file)
            if not path.is_absolute() and base is not None:
                path = Path(base) / path
            try:
                loaded = json.loads(path.read_text(encoding="utf-8"))
            except OSError:
                raise RubricFieldError(("schema_file",), f"schema file '{path}' cannot be read") from None
            except ValueError as exc:
                raise RubricFieldError(("schema_file",), f"schema file '{path}' is not JSON: {exc}") from None
            object.__setattr__(self, "json_schema", loaded)
        if self.json_schema is not None:
            _check_schema(self.json_schema, ("schema",))
        return self

    def input_fields(self) -> tuple[str, ...]:
        return (self.field, self.schema_field) if self.schema_field else (self.field,)


def _check_schema(schema: Any, path: tuple[str | int, ...]) -> None:
    import jsonschema

    if not isinstance(schema, dict | bool):
        raise RubricFieldError(path, "not a valid JSON Schema: it must be an object (or true/false)")
    cls = jsonschema.validators.validator_for(schema)
    # Like cls.check_schema, minus the format checker: it imports optional parsers that take seconds to build.
    error = jsonschema.exceptions.best_match(cls(cls.META_SCHEMA).iter_errors(schema))
    if error is not None:
        raise RubricFieldError(path, f"not a valid JSON Schema: {error.message}")


class JsonSchemaScorer(Scorer):
    """JSON Schema validity (the ``jsonschema`` package)."""

    config_class = JsonSchemaConfig

    def score_one(self, item: Mapping[str, Any], ctx: ScoringContext) -> ScoreResult:
        import jsonschema

        cfg: JsonSchemaConfig = self.config  # type: ignore[assignment]
        schema = cfg.json_schema
        if cfg.schema_field is not None:
            schema = item[cfg.schema_field]
            if isinstance(schema, str):
                schema = json.loads(schema)
        raw = item[cfg.field]
        if isinstance(raw, str):
            try:
                value = extract_json(raw) if cfg.extract else json.loads(raw)
            except ValueError as exc:
                return ScoreResult(value=0.0, rationale=f"{cfg.field} is not JSON: {exc}")
        else:
            value = raw
        validator = jsonschema.validators.validator_for(schema)(schema)
        errors = sorted(validator.iter_errors(value), key=lambda e: list(e.absolute_path))
        if not errors:
            return ScoreResult(value=1.0, rationale=f"{cfg.field} is valid against the schema")
        first = errors[0]
        where = "/".join(str(p) for p in first.absolute_path) or "(root)"
        return ScoreResult(
            value=0.0,
            rationale=f"{len(errors)} schema error(s); at {where}: {first.message[:120]}",
            details={"errors": len(errors)},
        )


class JsonMatchConfig(ThresholdMixin, ScorerConfig):
    """Fraction of the reference JSON's fields that the output's JSON reproduces exactly."""

    type: Literal["json_match"] = "json_match"
    reference_field: str = "reference"
    fields: tuple[str, ...] | None = Field(None, description="Keys compared; default every reference key.")
    case_sensitive: bool = False

    def input_fields(self) -> tuple[str, ...]:
        return (self.field, self.reference_field)


class JsonMatchScorer(Scorer):
    """Field-by-field extraction correctness against a reference object."""

    config_class = JsonMatchConfig

    def _norm(self, value: Any) -> Any:
        cfg: JsonMatchConfig = self.config  # type: ignore[assignment]
        if isinstance(value, str):
            value = " ".join(value.split())
            return value if cfg.case_sensitive else value.lower()
        return value

    def score_one(self, item: Mapping[str, Any], ctx: ScoringContext) -> ScoreResult:
        cfg: JsonMatchConfig = self.config  # type: ignore[assignment]
        reference = item[cfg.reference_field]
        output = item[cfg.field]
        try:
            if isinstance(reference, str):
                reference = extract_json(reference)
            if isinstance(output, str):
                output = extract_json(output)
        except ValueError as exc:
            return ScoreResult(value=0.0, rationale=f"{cfg.field} is not JSON: {exc}")
        if not isinstance(reference, dict) or not isinstance(output, dict):
            same = self._norm(reference) == self._norm(output)
            return ScoreResult(value=float(same), rationale="matches the reference" if same else "differs")
        keys = list(cfg.fields or reference.keys())
        if not keys:
            return ScoreResult(value=1.0, rationale="the reference has no fields")
        wrong = [k for k in keys if k not in output or self._norm(output[k]) != self._norm(reference.get(k))]
        why = f"{len(keys) - len(wrong)} of {len(keys)} fields match"
        if wrong:
            why += f"; wrong or missing: {', '.join(wrong[:5])}"
        return ScoreResult(value=(len(keys) - len(wrong)) / len(keys), rationale=why, details={"wrong": wrong})


# --- length --------------------------------------------------------------------------------------------------


class LengthConfig(ScorerConfig):
    """Passes when the field's length (characters or words) lies within ``min``..``max``."""

    type: Literal["length"] = "length"
    unit: Literal["chars", "words"] = "words"
    min: int | None = Field(None, ge=0)
    max: int | None = Field(None, ge=0)

    @model_validator(mode="after")
    def _bounds(self) -> LengthConfig:
        if self.min is None and self.max is None:
            raise RubricFieldError(("min",), "needs 'min', 'max' or both", hint="e.g. min: 20, max: 200")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise RubricFieldError(("max",), f"max ({self.max}) is below min ({self.min})")
        return self


class LengthScorer(Scorer):
    """Length bounds."""

    config_class = LengthConfig

    def score_one(self, item: Mapping[str, Any], ctx: ScoringContext) -> ScoreResult:
        cfg: LengthConfig = self.config  # type: ignore[assignment]
        text = text_of(item[cfg.field])
        n = len(text.split()) if cfg.unit == "words" else len(text)
        low = cfg.min if cfg.min is not None else 0
        high = cfg.max if cfg.max is not None else float("inf")
        ok = low <= n <= high
        bound = f"{cfg.min if cfg.min is not None else 0}..{cfg.max if cfg.max is not None else 'any'}"
        why = f"{n} {cfg.unit} ({'within' if ok else 'outside'} {bound})"
        return ScoreResult(value=1.0 if ok else 0.0, rationale=why, details={"length": n})


# --- citations -----------------------------------------------------------------------------------------------


class CitationsConfig(ThresholdMixin, ScorerConfig):
    """Citations present and valid: at least ``min_citations``, each naming one of the item's sources.

    A citation is a match of ``pattern`` whose first group holds one or more source ids (separated by
    commas or semicolons), e.g. ``[handbook/leave.md]``. Sources are a list of ids, a list of objects with
    an ``id`` (or ``source``), or an object keyed by id.
    """

    type: Literal["citations"] = "citations"
    sources_field: str = "sources"
    pattern: str = r"\[([^\[\]\n]+)\]"
    min_citations: int = Field(1, ge=1)

    @field_validator("pattern")
    @classmethod
    def _one_group(cls, value: str) -> str:
        try:
            compiled = re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a valid regular expression: {exc}") from None
        if compiled.groups < 1:
            raise ValueError("the pattern needs a capturing group around the source id")
        return value

    def input_fields(self) -> tuple[str, ...]:
        return (self.field, self.sources_field)


def source_ids(sources: Any) -> set[str]:
    """The ids of an item's sources (see :class:`CitationsConfig`)."""
    if isinstance(sources, Mapping):
        return {str(k) for k in sources}
    ids: set[str] = set()
    if isinstance(sources, str):
        return {sources}
    for source in sources or []:
        if isinstance(source, Mapping):
            sid = source.get("id", source.get("source"))
            if sid is not None:
                ids.add(str(sid))
        else:
            ids.add(str(source))
    return ids


class CitationsScorer(Scorer):
    """Citations present and valid against the item's sources."""

    config_class = CitationsConfig

    def score_one(self, item: Mapping[str, Any], ctx: ScoringContext) -> ScoreResult:
        cfg: CitationsConfig = self.config  # type: ignore[assignment]
        text = text_of(item[cfg.field])
        known = source_ids(item[cfg.sources_field])
        cited = [
            part.strip()
            for match in re.finditer(cfg.pattern, text)
            for part in re.split(r"[,;]", match.group(1))
            if part.strip()
        ]
        if len(cited) < cfg.min_citations:
            return ScoreResult(
                value=0.0, rationale=f"{len(cited)} citation(s); at least {cfg.min_citations} needed"
            )
        invalid = [c for c in cited if c not in known]
        value = (len(cited) - len(invalid)) / len(cited)
        why = f"{len(cited)} citation(s), {len(cited) - len(invalid)} valid"
        if invalid:
            why += f"; not among the sources: {', '.join(sorted(set(invalid))[:5])}"
        return ScoreResult(value=value, rationale=why, details={"cited": cited, "invalid": invalid})


# --- PII -----------------------------------------------------------------------------------------------------


class PiiFreeConfig(ScorerConfig):
    """Passes when guardrails find no PII (optionally only the listed kinds) in the field."""

    type: Literal["pii_free"] = "pii_free"
    kinds: tuple[str, ...] | None = Field(None, description="Only these PII kinds count; default all.")


class PiiFreeScorer(Scorer):
    """No personal data, through :func:`workbench.guardrails.scan_pii`."""

    config_class = PiiFreeConfig

    def score(self, items: Sequence[Mapping[str, Any]], ctx: ScoringContext) -> list[ScoreResult]:
        from workbench.guardrails import scan_pii

        cfg: PiiFreeConfig = self.config  # type: ignore[assignment]
        results = []
        for item in items:
            findings = scan_pii(text_of(item[cfg.field]))
            kinds = sorted({str(f.kind) for f in findings if cfg.kinds is None or str(f.kind) in cfg.kinds})
            if kinds:
                # Name the kinds, never the values (the rationale is stored and shown).
                results.append(ScoreResult(value=0.0, rationale=f"contains PII: {', '.join(kinds)}",
                                           details={"kinds": kinds}))
            else:
                results.append(ScoreResult(value=1.0, rationale="no PII found"))
        return results

    def score_one(self, item: Mapping[str, Any], ctx: ScoringContext) -> ScoreResult:
        return self.score([item], ctx)[0]
