"""The LLM judge: a rubric prompt, schema-constrained verdicts, k seeded samples, agreement as confidence.

How a verdict is produced depends on the backend:

- **transformers backends** (``backend.model`` and ``backend.tokenizer`` exist, e.g. ``workbench-tiny`` or a
  local folder): batched ``generate`` with :class:`~workbench.rubrics.constrained.VerdictLogitsProcessor`, so
  every sample is valid JSON of the schema ``{"score": <level>, "rationale": "<short>"}``, even from a tiny
  model. ``k`` samples per item come from one ``generate`` call (``num_return_sequences``), seeded.
- **other backends** (OpenAI-compatible endpoints): the endpoint's JSON-schema response format, then
  validation; an invalid answer is retried up to ``retries`` times.

The verdict is the most frequent score among the samples (ties go to the lower score); its share of the
``k`` samples is the confidence. A verdict below ``min_confidence``, or with no valid sample, goes to the human
review queue.
"""

from __future__ import annotations

import contextlib
import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import Field

from workbench.rubrics.constrained import VerdictAutomaton, verdict_schema
from workbench.rubrics.context import ScoringContext
from workbench.rubrics.scorers.base import CriterionView, Scorer, ScorerConfig, ScoreResult, text_of
from workbench.rubrics.scorers.deterministic import extract_json

#: Labels used for item fields in the default judge prompt (other fields use their name, capitalised).
FIELD_LABELS = {"input": "Question", "question": "Question", "output": "Answer", "prompt": "Prompt"}

DEFAULT_SYSTEM = "You are a strict grader. Reply with JSON only."


class JudgeConfig(ScorerConfig):
    """An LLM judge for one criterion.

    The default prompt shows the criterion, its levels and the item's ``context_fields`` and ``field``;
    ``instructions`` adds rubric-wide guidance (leniency, what to ignore). ``model`` overrides the model
    given to :func:`~workbench.rubrics.score_items`.
    """

    type: Literal["judge"] = "judge"
    context_fields: tuple[str, ...] = Field((), description="Item fields shown before the scored field.")
    instructions: str | None = Field(None, description="Extra guidance added to the judge's system prompt.")
    k: int = Field(3, ge=1, le=32, description="Samples per item; agreement across them is the confidence.")
    temperature: float = Field(0.7, ge=0.0, le=2.0, description="Sampling temperature (0 = greedy, k=1).")
    seed: int = 0
    min_confidence: float = Field(0.6, ge=0.0, le=1.0, description="Below this, a human reviews the item.")
    max_rationale: int = Field(48, ge=8, le=400, description="Most characters in a rationale.")
    max_field_chars: int = Field(600, ge=20, description="Each shown field is cut to this many characters.")
    constrained: bool = Field(True, description="Constrain decoding to the verdict schema (transformers).")
    retries: int = Field(2, ge=0, le=10, description="Extra tries for an invalid answer (endpoints).")
    batch_size: int = Field(16, ge=1, description="Items per generate call (transformers).")
    model: str | None = None

    def input_fields(self) -> tuple[str, ...]:
        return (*self.context_fields, self.field)


@dataclass
class JudgeSample:
    """One judge answer: the raw text and, when it validates, the score and rationale."""

    text: str
    score: int | None
    rationale: str | None
    error: str | None = None

    @property
    def valid(self) -> bool:
        """Whether the answer is a schema-valid verdict."""
        return self.score is not None


def judge_messages(criterion: CriterionView, item: Mapping[str, Any], config: JudgeConfig) -> list[dict[str, str]]:
    """The chat messages asking for a verdict on ``item`` for ``criterion``."""
    levels = "; ".join(f"{level.score} = {level.descriptor}" for level in criterion.levels)
    scores = ", ".join(str(s) for s in criterion.level_scores)
    system = f"{DEFAULT_SYSTEM}\nCriterion: {criterion.description}\nLevels: {levels}."
    if config.instructions:
        system += f"\n{config.instructions.strip()}"
    system += f'\nReply as {{"score": <{scores}>, "rationale": "<one short sentence>"}}.'
    lines = []
    for name in (*config.context_fields, config.field):
        label = FIELD_LABELS.get(name, name.replace("_", " ").capitalize())
        value = text_of(item[name])
        if len(value) > config.max_field_chars:
            value = value[: config.max_field_chars - 3] + "..."
        lines.append(f"{label}: {value}")
    return [{"role": "system", "content": system}, {"role": "user", "content": "\n".join(lines)}]


def check_verdict(value: Any, scores: Sequence[int], max_rationale: int | None = None) -> str | None:
    """Why ``value`` does not match :func:`verdict_schema` (``None`` when it does).

    A direct check of that fixed schema: ``import jsonschema`` costs seconds here (its format checker builds
    a grammar at import), and the judge validates every sample. The tests hold this equal to jsonschema.
    """
    if not isinstance(value, dict):
        return "the verdict is not a JSON object"
    extra = sorted(set(value) - {"score", "rationale"})
    if extra:
        return f"unexpected field(s): {', '.join(extra)}"
    score, rationale = value.get("score"), value.get("rationale")
    if isinstance(score, float) and score.is_integer():
        score = int(score)  # JSON Schema counts 2.0 as the integer 2
    if "score" not in value or "rationale" not in value:
        return "'score' and 'rationale' are required"
    if isinstance(score, bool) or not isinstance(score, int) or score not in scores:
        return f"score {score!r} is not one of {list(scores)}"
    if not isinstance(rationale, str) or not rationale:
        return "rationale must be a non-empty string"
    if max_rationale is not None and len(rationale) > max_rationale:
        return f"rationale is longer than {max_rationale} characters"
    return None


def parse_verdict(text: str, scores: Sequence[int], max_rationale: int | None = None) -> JudgeSample:
    """Validate a judge answer against :func:`verdict_schema` (taking the first JSON object in the text).

    ``max_rationale=None`` drops the length limit (for unconstrained answers, which nothing keeps short).
    """
    try:
        value = extract_json(text)
    except ValueError as exc:
        return JudgeSample(text, None, None, f"not JSON: {exc}")
    error = check_verdict(value, scores, max_rationale)
    if error is not None:
        return JudgeSample(text, None, None, f"schema: {error}")
    return JudgeSample(text, int(value["score"]), str(value["rationale"]))


def is_transformers_backend(backend: Any) -> bool:
    """Whether ``backend`` exposes a transformers model and tokenizer (constrained decoding works)."""
    return getattr(backend, "model", None) is not None and getattr(backend, "tokenizer", None) is not None


def run_judge(
    backend: Any,
    conversations: Sequence[Sequence[Mapping[str, str]]],
    scores: Sequence[int],
    *,
    k: int = 3,
    temperature: float = 0.7,
    seed: int = 0,
    max_rationale: int = 48,
    constrained: bool = True,
    retries: int = 2,
    batch_size: int = 16,
) -> list[list[JudgeSample]]:
    """``k`` verdict samples for each conversation (one list of samples per conversation)."""
    if not conversations:
        return []
    sampling = _Sampling(scores, k, temperature, seed, max_rationale)
    if is_transformers_backend(backend):
        return _run_transformers(backend, conversations, sampling, constrained=constrained, batch_size=batch_size)
    return _run_endpoint(backend, conversations, sampling, retries=retries)


@dataclass(frozen=True)
class _Sampling:
    """How verdicts are sampled, whatever the backend: the levels, samples per item, temperature, seed, cap."""

    scores: Sequence[int]
    k: int
    temperature: float
    seed: int
    max_rationale: int


def _render(tokenizer: Any, backend: Any, messages: Sequence[Mapping[str, str]]) -> str:
    if getattr(tokenizer, "chat_template", None):
        return str(tokenizer.apply_chat_template(list(messages), tokenize=False, add_generation_prompt=True))
    return str(backend.render_chat(list(messages)))


def _eos_ids(model: Any, tokenizer: Any) -> list[int]:
    eos = getattr(model.generation_config, "eos_token_id", None)
    if eos is None:
        eos = tokenizer.eos_token_id
    ids = list(eos) if isinstance(eos, list | tuple) else [eos]
    return [int(i) for i in ids if i is not None]


def _run_transformers(
    backend: Any,
    conversations: Sequence[Sequence[Mapping[str, str]]],
    sampling: _Sampling,
    *,
    constrained: bool,
    batch_size: int,
) -> list[list[JudgeSample]]:
    import torch

    from workbench.rubrics.constrained import VerdictLogitsProcessor

    scores, k, temperature = sampling.scores, sampling.k, sampling.temperature
    seed, max_rationale = sampling.seed, sampling.max_rationale
    model, tokenizer = backend.model, backend.tokenizer
    automaton = VerdictAutomaton(scores, max_rationale=max_rationale)
    max_new = automaton.max_chars + 1
    eos_ids = _eos_ids(model, tokenizer)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else eos_ids[0]
    context = int(
        getattr(backend, "context_length", None) or getattr(model.config, "max_position_embeddings", None) or 2048
    )
    budget = max(16, context - max_new)
    sample = temperature > 0
    if not sample:
        k = 1
    texts = [_render(tokenizer, backend, conv) for conv in conversations]
    bos = getattr(tokenizer, "bos_token", None)
    results: list[list[JudgeSample]] = []
    lock = getattr(backend, "_lock", None) or contextlib.nullcontext()  # the backend's generate lock, if any
    old_side = tokenizer.padding_side
    tokenizer.padding_side = "left"  # generation continues from the right end of every row
    try:
        for start in range(0, len(texts), batch_size):
            chunk = texts[start : start + batch_size]
            add_special = not (bos and chunk[0].startswith(bos))
            rows = [tokenizer(t, add_special_tokens=add_special)["input_ids"] for t in chunk]
            # Keep the end of an over-long prompt (the answer and the reply cue) within the context.
            rows = [r if len(r) <= budget else r[:1] + r[len(r) - budget + 1 :] for r in rows]
            enc = tokenizer.pad({"input_ids": rows}, return_tensors="pt", padding=True)
            enc = {name: tensor.to(model.device) for name, tensor in enc.items()}
            processors = []
            if constrained:
                processors.append(VerdictLogitsProcessor(automaton, tokenizer, eos_ids, model.config.vocab_size))
            kwargs: dict[str, Any] = {
                "max_new_tokens": max_new,
                "do_sample": sample,
                "num_return_sequences": k,
                "pad_token_id": pad_id,
                "eos_token_id": eos_ids,
                "logits_processor": processors,
            }
            if sample:
                kwargs.update(temperature=temperature, top_k=0, top_p=1.0)
            else:
                kwargs.update(temperature=None, top_k=None, top_p=None)
            with lock, torch.random.fork_rng(devices=[]), torch.inference_mode():
                torch.manual_seed(seed + start)
                out = model.generate(**enc, **kwargs)
            prompt_len = enc["input_ids"].shape[1]
            decoded = tokenizer.batch_decode(out[:, prompt_len:], skip_special_tokens=True)
            for i in range(len(chunk)):
                group = decoded[i * k : (i + 1) * k]
                results.append([parse_verdict(t, scores, max_rationale if constrained else None) for t in group])
    finally:
        tokenizer.padding_side = old_side
    return results


def _run_endpoint(
    backend: Any, conversations: Sequence[Sequence[Mapping[str, str]]], sampling: _Sampling, *, retries: int
) -> list[list[JudgeSample]]:
    from workbench.models import GenerationParams

    scores, k, temperature = sampling.scores, sampling.k, sampling.temperature
    seed, max_rationale = sampling.seed, sampling.max_rationale
    schema = verdict_schema(scores, max_rationale)
    formats: list[dict[str, Any] | None] = [
        {"type": "json_schema", "json_schema": {"name": "verdict", "schema": schema, "strict": True}},
        {"type": "json_object"},
        None,  # the endpoint supports neither: prompt, then validate
    ]
    max_new = VerdictAutomaton(scores, max_rationale).max_chars + 16
    if temperature <= 0:
        k = 1
    results = []
    for conv in conversations:
        samples = []
        for i in range(k):
            sample = JudgeSample("", None, None, "not tried")
            for attempt in range(retries + 1):
                params = GenerationParams(
                    max_new_tokens=max_new, temperature=temperature, seed=seed + i * (retries + 1) + attempt
                )
                text = _endpoint_answer(backend, conv, params, formats)
                sample = parse_verdict(text, scores, max_rationale)
                if sample.valid:
                    break
            samples.append(sample)
        results.append(samples)
    return results


def _endpoint_answer(
    backend: Any, conv: Sequence[Mapping[str, str]], params: Any, formats: list[dict[str, Any] | None]
) -> str:
    """One answer, asking for the strictest response format the endpoint accepts (``formats`` shrinks)."""
    client = getattr(backend, "client", None)
    build = getattr(backend, "_request", None)
    while formats and formats[0] is not None and client is not None and build is not None:
        import openai

        request = build(list(conv), params)
        request["response_format"] = formats[0]
        try:
            response = client.chat.completions.create(**request)
        except openai.BadRequestError:
            formats.pop(0)  # this format is not supported here: try the next one
            continue
        except openai.APIError as exc:
            error = getattr(backend, "_error", None)
            raise (error(exc) if error else exc) from None
        choice = response.choices[0] if response.choices else None
        return (choice.message.content if choice and choice.message else None) or ""
    return str(backend.generate(list(conv), params).text)


def aggregate(samples: Sequence[JudgeSample], k: int) -> tuple[int | None, float, str]:
    """The verdict of ``samples``: (modal score or None, its share of ``k``, a rationale for it)."""
    valid = [s for s in samples if s.valid]
    if not valid:
        return None, 0.0, "no valid judge answer: " + (samples[0].error or "empty") if samples else "no answer"
    counts = Counter(s.score for s in valid if s.score is not None)
    top = max(counts.values())
    score = min(s for s, c in counts.items() if c == top)
    rationale = next(s.rationale for s in valid if s.score == score) or ""
    return score, top / max(k, len(samples), 1), rationale


class JudgeScorer(Scorer):
    """LLM-as-judge scorer (see the module docstring)."""

    config_class = JudgeConfig
    kind = "judge"

    def score(self, items: Sequence[Mapping[str, Any]], ctx: ScoringContext) -> list[ScoreResult]:
        cfg: JudgeConfig = self.config  # type: ignore[assignment]
        if not items:
            return []
        backend = ctx.backend_for(cfg.model)
        k = ctx.k if ctx.k is not None else cfg.k
        if cfg.temperature <= 0:
            k = 1
        scores = self.criterion.level_scores
        conversations = [judge_messages(self.criterion, item, cfg) for item in items]
        all_samples = run_judge(
            backend, conversations, scores, k=k, temperature=cfg.temperature, seed=cfg.seed + ctx.seed,
            max_rationale=cfg.max_rationale, constrained=cfg.constrained, retries=cfg.retries,
            batch_size=cfg.batch_size,
        )
        ctx.judge_calls += sum(len(s) for s in all_samples)
        results = []
        for samples in all_samples:
            score, confidence, rationale = aggregate(samples, k)
            details = {
                "samples": [s.score for s in samples],
                "valid": sum(s.valid for s in samples),
                "model": getattr(backend, "name", None),
            }
            if score is None:
                results.append(ScoreResult(value=0.0, level=scores[0], rationale=rationale, confidence=0.0,
                                           review_reason="invalid_judge_output", details=details))
                continue
            review = "low_confidence" if confidence < cfg.min_confidence else None
            results.append(ScoreResult(
                value=scores.index(score) / max(1, len(scores) - 1), level=score, rationale=rationale,
                confidence=confidence, review_reason=review, details=details,
            ))
        return results

    def score_one(self, item: Mapping[str, Any], ctx: ScoringContext) -> ScoreResult:
        return self.score([item], ctx)[0]


def verdict_json(score: int, rationale: str) -> str:
    """The canonical verdict text (the form constrained decoding produces)."""
    return json.dumps({"score": score, "rationale": rationale})
