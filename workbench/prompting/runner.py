"""One guarded, recorded generation: the path the playground, the widget and ``workbench generate`` share.

:func:`guarded_generate` does, in order:

1. refuse an empty prompt (:class:`~workbench.errors.ValidationError`);
2. the guard's preflight: model allow/deny, prompt checks (deny terms, injection, PII redaction), retrieved
   text, the learner's rate limit and token budget; a block raises :class:`~workbench.errors.PolicyViolation`;
3. generate (streamed or not); the backend refuses a prompt longer than its context
   (:class:`~workbench.errors.ContextLengthError`) and clips ``max_new_tokens`` to the room left; streamed text is released through a :class:`StreamRedactor`, so raw PII from
   the model never reaches the screen either;
4. output checks (PII, secrets, deny terms, system-prompt leak);
5. one ``generation`` telemetry event (OpenTelemetry GenAI attribute names, cost, template ``id@version``,
   and only redacted text), buffered by the telemetry recorder so the hot path never waits on the store.

The guard and the telemetry cost microseconds to a millisecond; ``bench/prompting.py`` measures the ratio.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from workbench.errors import ValidationError
from workbench.guardrails import DEFAULT_KINDS, Guard, StreamRedactor, redact
from workbench.prompting.templates import RenderedPrompt

if TYPE_CHECKING:  # pragma: no cover
    from workbench.models import ChatBackend, GenerationParams

Messages = list[dict[str, str]]
OnText = Callable[[str], None]

_PARAM_NAMES = ("max_new_tokens", "temperature", "top_p", "seed", "stop")


@dataclass
class GenerationResult:
    """What one guarded generation produced (also a playground history entry).

    Attributes:
        id: Unique id of this run.
        text: The output as shown (after output checks: redacted, or withheld when blocked).
        model: The model's name.
        template: ``id@version`` when a template was used.
        messages: The prompt as sent to the model (after prompt redaction).
        params: The generation parameters used.
        input_tokens: Prompt tokens.
        output_tokens: Generated tokens.
        latency_s: Wall time of the generation.
        ttft_s: Time to the first token (streamed runs; else the backend's figure).
        finish_reason: ``stop``, ``length``...
        bits: Weight precision of the model (4, 8, 16, 32) when known.
        cost: Estimated cost from ``settings.prices``.
        status: ``ok``, or ``blocked`` when the output was withheld.
        label: The variant's label in a comparison.
        decisions: Guardrail decisions (check, action, kinds, reasons), no raw text.
        started_at: When the run started (UTC, ISO 8601).
        notes: Adjustments made (e.g. ``max_new_tokens`` clamped to the context).
    """

    id: str
    text: str
    model: str
    template: str | None
    messages: Messages
    params: dict[str, Any]
    input_tokens: int
    output_tokens: int
    latency_s: float
    ttft_s: float | None
    finish_reason: str | None
    bits: int | None
    cost: float
    status: str = "ok"
    label: str | None = None
    decisions: list[dict[str, Any]] = field(default_factory=list)
    started_at: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def prompt(self) -> str:
        """The final user turn as sent."""
        return next((m["content"] for m in reversed(self.messages) if m["role"] == "user"), "")

    @property
    def tokens_per_s(self) -> float | None:
        """Output tokens per second of generation time."""
        return self.output_tokens / self.latency_s if self.latency_s > 0 else None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (history, widget state, ``--json``)."""
        data = asdict(self)
        data["tokens_per_s"] = round(self.tokens_per_s, 2) if self.tokens_per_s else None
        return data

    def metrics(self) -> dict[str, Any]:
        """The numbers a comparison table shows."""
        return {
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "latency_s": round(self.latency_s, 4),
            "ttft_s": round(self.ttft_s, 4) if self.ttft_s is not None else None,
            "tokens_per_s": round(self.tokens_per_s, 1) if self.tokens_per_s else None,
            "cost": self.cost,
        }


def build_params(*layers: Mapping[str, Any] | Any | None) -> GenerationParams:
    """Merge parameter layers (later wins; ``None`` values skipped) into a ``GenerationParams``."""
    from workbench.models import GenerationParams

    merged: dict[str, Any] = {}
    for layer in layers:
        if layer is None:
            continue
        items = layer.items() if isinstance(layer, Mapping) else _params_dict(layer).items()
        for key, value in items:
            if key in _PARAM_NAMES and value is not None:
                merged[key] = value
    if "stop" in merged:
        merged["stop"] = tuple(merged["stop"])
    try:
        return GenerationParams(**merged)
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"invalid generation parameters: {exc}", hint="max_new_tokens >= 1, temperature >= 0, 0 < top_p <= 1") from None


def _params_dict(params: Any) -> dict[str, Any]:
    if hasattr(params, "model_dump"):
        return dict(params.model_dump())
    try:
        return asdict(params)
    except TypeError:
        return {k: getattr(params, k) for k in _PARAM_NAMES if hasattr(params, k)}


def price_of(model: str, input_tokens: int, output_tokens: int) -> float:
    """Estimated cost from ``settings.prices`` (tries ``openai:gpt-4o`` and then ``gpt-4o``)."""
    from workbench.settings import get_settings

    settings = get_settings()
    price = settings.prices.get(model)
    if price is None and ":" in model:
        price = settings.prices.get(model.split(":", 1)[1])
    if price is None:
        price = settings.price_for(model)
    return round(price.cost(input_tokens, output_tokens), 8)


def guarded_generate(
    backend: ChatBackend,
    prompt: str | RenderedPrompt | Sequence[Mapping[str, str]],
    *,
    params: Mapping[str, Any] | Any | None = None,
    guard: Guard | None = None,
    template: str | None = None,
    retrieved: Sequence[str] = (),
    stream: bool = False,
    on_text: OnText | None = None,
    learner: str | None = None,
    label: str | None = None,
    task: str | None = None,
    record: bool = True,
) -> GenerationResult:
    """Run one generation through the guard and record it.

    Args:
        backend: A loaded model (``workbench.models.load_model``).
        prompt: A plain prompt, chat messages, or a :class:`RenderedPrompt` (its template, parameters and
            retrieved texts are used).
        params: Generation parameters (a mapping or ``GenerationParams``); they override a template's
            recommended parameters.
        guard: The guard (default: a :class:`~workbench.guardrails.Guard` with the built-in policy).
        template: ``id@version`` to record (taken from a RenderedPrompt when omitted).
        retrieved: Retrieved passages placed in the prompt (scored for injection).
        stream: Stream the output; ``on_text`` receives redacted pieces as they are released.
        on_text: Callback for streamed text.
        learner: Raw learner id or pseudonym (default: the telemetry context).
        label: A label for comparisons.
        task: Telemetry task name.
        record: Emit the ``generation`` telemetry event.

    Raises:
        ValidationError: Empty prompt or invalid parameters.
        ContextLengthError: The prompt does not fit the model's context.
        PolicyViolation: The guard blocked the model, the prompt or the learner's limits.
    """
    guard = guard if guard is not None else default_guard()
    req = _normalise(prompt, template, retrieved)
    if not _has_content(req.source):
        raise ValidationError(
            "the prompt is empty", field="prompt", hint="type a prompt, or pick a template and fill its variables"
        )
    gen_params = build_params(req.params, params)
    model_name = str(getattr(backend, "name", "model"))

    # The prompt is tokenized once, by the backend: it refuses a prompt longer than its context
    # (ContextLengthError) and clips max_new_tokens to the room left; nothing here tokenizes it again.
    pre = guard.preflight(req.source, model=model_name, learner=learner, retrieved=req.retrieved)
    pre.enforce()
    assert pre.prompt is not None
    sent: str | Messages = pre.prompt.text if isinstance(req.source, str) else (pre.prompt.messages or req.source)  # type: ignore[assignment]

    started = datetime.now(timezone.utc).isoformat()
    try:
        run = _run_model(backend, sent, gen_params, guard, stream=stream, on_text=on_text)
    except BaseException:
        # A refused or failed generation does not count against the learner's rate limit or budget.
        if pre.reservation is not None:
            guard.cancel(pre.reservation)
        raise
    generation = run.generation
    gen_params, notes = _fit_context(gen_params, generation, int(getattr(backend, "context_length", 0) or 0))
    out = guard.check_output(generation.text, system=_system_of(sent), model=model_name, learner=pre.learner)
    in_tok, out_tok = int(generation.input_tokens or 0), int(generation.output_tokens or 0)
    if pre.reservation is not None:
        guard.complete(pre.reservation, in_tok + out_tok)
    result = GenerationResult(
        id=uuid.uuid4().hex,
        text=out.text or "",
        model=model_name,
        template=req.template,
        messages=[{"role": "user", "content": sent}] if isinstance(sent, str) else sent,
        params=_params_dict(gen_params),
        input_tokens=in_tok,
        output_tokens=out_tok,
        latency_s=float(generation.latency_s or run.wall),
        ttft_s=run.ttft if run.ttft is not None else getattr(generation, "ttft_s", None),
        finish_reason=getattr(generation, "finish_reason", None),
        bits=getattr(generation, "bits", None) or getattr(backend, "bits", None),
        cost=price_of(model_name, in_tok, out_tok),
        status="blocked" if out.blocked else "ok",
        label=label,
        decisions=[_decision_summary(d) for d in [*pre.decisions, out]],
        started_at=started,
        notes=notes,
    )
    if record:
        _record(result, generation, guard, task=task, learner=pre.learner)
    return result


@dataclass(frozen=True)
class _Request:
    """The prompt as given, normalised: text or messages, and what a :class:`RenderedPrompt` brings along."""

    source: str | Messages
    template: str | None
    params: Mapping[str, Any] | None
    retrieved: list[str]


def _normalise(
    prompt: str | RenderedPrompt | Sequence[Mapping[str, str]], template: str | None, retrieved: Sequence[str]
) -> _Request:
    if isinstance(prompt, RenderedPrompt):
        return _Request([dict(m) for m in prompt.messages], template or prompt.template, prompt.parameters,
                        [*prompt.retrieved, *retrieved])
    source: str | Messages = prompt if isinstance(prompt, str) else [dict(m) for m in prompt]
    return _Request(source, template, None, list(retrieved))


@dataclass(frozen=True)
class _ModelRun:
    """What the backend returned, with the wall time and (streamed runs) the time to the first token."""

    generation: Any
    wall: float
    ttft: float | None


def _run_model(
    backend: ChatBackend, sent: str | Messages, params: GenerationParams, guard: Guard, *, stream: bool,
    on_text: OnText | None,
) -> _ModelRun:
    """Generate; streamed text reaches ``on_text`` through the PII redactor when the policy redacts output."""
    t0 = time.perf_counter()
    if not stream:
        generation = backend.generate(sent, params=params)
        return _ModelRun(generation, time.perf_counter() - t0, None)
    pii = guard.policy.pii
    redactor = (
        StreamRedactor(kinds=pii.kinds, detectors=pii.detectors, allow=pii.allow) if pii.output == "redact" else None
    )
    ttft: float | None = None
    handle = backend.stream(sent, params=params)
    for chunk in handle:
        if ttft is None and chunk:
            ttft = time.perf_counter() - t0
        if on_text is not None:
            piece = redactor.feed(chunk) if redactor is not None else chunk
            if piece:
                on_text(piece)
    if on_text is not None and redactor is not None:
        tail = redactor.close()
        if tail:
            on_text(tail)
    return _ModelRun(handle.result, time.perf_counter() - t0, ttft)


def _fit_context(params: GenerationParams, generation: Any, context: int) -> tuple[GenerationParams, list[str]]:
    """The parameters as used: ``max_new_tokens`` clipped to the room the context left (with a note)."""
    if not context or generation.input_tokens + params.max_new_tokens <= context:
        return params, []
    room = max(context - generation.input_tokens, 0)
    note = f"max_new_tokens clipped from {params.max_new_tokens} to {room} to fit the context"
    return build_params(_params_dict(params), {"max_new_tokens": max(room, 1)}), [note]


_DEFAULT_GUARD: Guard | None = None


def default_guard() -> Guard:
    """A guard with the built-in policy on the current settings' data dir (rebuilt when that changes)."""
    global _DEFAULT_GUARD
    from workbench.settings import get_settings

    base = get_settings().data_dir / "guardrails"
    if _DEFAULT_GUARD is None or _DEFAULT_GUARD.limiter.path.parent != base:
        _DEFAULT_GUARD = Guard(data_dir=base)
    return _DEFAULT_GUARD


def _has_content(source: str | Messages) -> bool:
    if isinstance(source, str):
        return bool(source.strip())
    return any(m.get("role") == "user" and str(m.get("content", "")).strip() for m in source)


def _system_of(sent: str | Messages) -> str | None:
    if isinstance(sent, str):
        return None
    return next((m["content"] for m in sent if m.get("role") == "system"), None)


def _decision_summary(decision: Any) -> dict[str, Any]:
    return {"check": decision.check, "action": decision.action, "kinds": decision.kinds, "reasons": decision.reasons,
            "flagged": decision.flagged}  # fmt: skip


def _record(result: GenerationResult, generation: Any, guard: Guard, *, task: str | None, learner: str) -> None:
    from workbench.telemetry import record

    attrs: dict[str, Any] = {}
    to_attrs = getattr(generation, "to_attributes", None)
    if callable(to_attrs):
        attrs.update(to_attrs())
    attrs.update(
        {
            "gen_ai.request.model": result.model,
            "gen_ai.usage.input_tokens": result.input_tokens,
            "gen_ai.usage.output_tokens": result.output_tokens,
            "gen_ai.response.finish_reasons": [result.finish_reason] if result.finish_reason else [],
            "gen_ai.request.temperature": result.params.get("temperature"),
            "gen_ai.request.top_p": result.params.get("top_p"),
            "gen_ai.request.max_tokens": result.params.get("max_new_tokens"),
            "latency_s": round(result.latency_s, 6),
            "ttft_s": round(result.ttft_s, 6) if result.ttft_s is not None else None,
            "cost": result.cost,
            "bits": result.bits,
            "template": result.template,
            "guardrail_actions": {d["check"]: d["action"] for d in result.decisions},
            "pii_kinds": sorted({k for d in result.decisions for k in d["kinds"]}),
        }
    )
    if result.label:
        attrs["variant"] = result.label
    tel = guard.policy.telemetry
    if tel.include_text:
        cap = tel.max_text_chars
        # Whatever the policy let the model see or the learner read, telemetry gets redacted text only
        # (re-scanned here only when the policy let raw PII through to the model or the learner).
        pii = guard.policy.pii
        prompt_text = "\n".join(f"{m['role']}: {m['content']}" for m in result.messages)
        if pii.prompt != "redact" or set(pii.kinds) != set(DEFAULT_KINDS):
            prompt_text = redact(prompt_text, allow=pii.allow).text
        output_text = result.text
        if pii.output != "redact" or set(pii.kinds) != set(DEFAULT_KINDS):
            output_text = redact(output_text, allow=pii.allow).text
        attrs["prompt_redacted"] = prompt_text[:cap]
        attrs["output_redacted"] = output_text[:cap]
    # Raw text never goes into telemetry; keys that could carry it are dropped if a backend adds them.
    for key in ("prompt", "output", "completion", "gen_ai.prompt", "gen_ai.completion"):
        attrs.pop(key, None)
    record(
        "generation",
        task=task,
        duration_s=round(result.latency_s, 6),
        status=result.status,
        attributes=attrs,
        learner=learner,
    )
