"""Evaluation of a base or tuned model on held-out examples: perplexity and generation scores.

- **Perplexity** of the reference answers (only the answer tokens count, as in training): lower is better.
- **Generation scores**: greedy answers to the held-out prompts, scored by a scorer:

  - ``house_format``: the answer starts with ``Answer:`` and ends with a ticket tag ``[ticket: <topic>]``
    (``format_compliance``), and the tag is the reference's (``tag_accuracy``);
  - ``json_fields``: the answer is one JSON object with the reference's keys (``format_compliance``), each
    field equals the reference's (``field_accuracy``, the mean over fields), all of them (``exact_match``);
    the shipped ticket-triage set (``{"category", "priority"}``) uses it;
  - ``exact``: the answer equals the reference (``exact_match``).

- **Rubric scores** (hook): with ``evaluation.rubric`` set and :mod:`workbench.rubrics` installed, the answers
  are scored by that rubric too (``rubric_score``, the mean weighted score).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from workbench.tuning.data import Example, TokenizedExample, collate, render_chat

#: The house answer format of the shipped fine-tuning set (datasets/finetune/house-format).
HOUSE_FORMAT = re.compile(r"^Answer: \S.*\[ticket: [a-z]+\]$", re.S)
TICKET_TAG = re.compile(r"\[ticket: [a-z]+\]")


def house_format_ok(text: str) -> bool:
    """Whether ``text`` follows the house format: ``Answer: ...`` ending with ``[ticket: <topic>]``."""
    return bool(HOUSE_FORMAT.match(text.strip()))


def ticket_tag(text: str) -> str | None:
    """The last ticket tag in ``text`` (``[ticket: vpn]``), or ``None``."""
    found = TICKET_TAG.findall(text)
    return found[-1] if found else None


@dataclass
class EvalResult:
    """Scores of one model on held-out examples.

    Attributes:
        loss: Mean token loss of the reference answers.
        perplexity: ``exp(loss)``.
        scores: Generation scores (``format_compliance``, ``tag_accuracy``, ``exact_match``, ``rubric_score``).
        examples: Examples evaluated for perplexity.
        generated: Examples generated for the scores.
        samples: A few (prompt, output, reference) triples for the run card.
    """

    loss: float | None
    perplexity: float | None
    scores: dict[str, float] = field(default_factory=dict)
    examples: int = 0
    generated: int = 0
    samples: list[dict[str, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "loss": _round(self.loss),
            "perplexity": _round(self.perplexity),
            "scores": {k: _round(v) for k, v in self.scores.items()},
            "examples": self.examples,
            "generated": self.generated,
            "samples": self.samples,
        }


def _round(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else round(value, 5)


def _device_of(model: Any) -> Any:
    try:
        return next(model.parameters()).device
    except StopIteration:  # pragma: no cover
        return "cpu"


def eval_loss(
    model: Any, items: Sequence[TokenizedExample], *, pad_id: int, batch_size: int = 8
) -> float | None:
    """Mean loss per learnt token over ``items`` (``None`` when there are none)."""
    import torch

    if not items:
        return None
    device = _device_of(model)
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    with torch.no_grad():
        for start in range(0, len(items), batch_size):
            batch = {k: v.to(device) for k, v in collate(items[start : start + batch_size], pad_id).items()}
            logits = model(
                input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]
            ).logits.float()
            labels = batch["labels"][:, 1:]
            logp = torch.log_softmax(logits[:, :-1], dim=-1)
            mask = labels != -100
            picked = logp.gather(-1, labels.clamp(min=0).unsqueeze(-1)).squeeze(-1)
            total += float(-(picked * mask).sum())
            count += int(mask.sum())
    if was_training:
        model.train()
    return total / count if count else None


def generate_answers(
    model: Any, tokenizer: Any, examples: Sequence[Example], *, max_new_tokens: int = 48, batch_size: int = 16
) -> list[str]:
    """Greedy answers to each example's prompt (left-padded batches)."""
    import torch

    if not examples:
        return []
    device = _device_of(model)
    was_training = model.training
    model.eval()
    side = tokenizer.padding_side
    tokenizer.padding_side = "left"
    outputs: list[str] = []
    gen_config = getattr(model, "generation_config", None)
    eos = getattr(gen_config, "eos_token_id", None) or tokenizer.eos_token_id
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    try:
        for start in range(0, len(examples), batch_size):
            chunk = examples[start : start + batch_size]
            prompts = [render_chat(tokenizer, e.prompt_messages, add_generation_prompt=True) for e in chunk]
            enc = tokenizer(prompts, return_tensors="pt", padding=True).to(device)
            with torch.no_grad():
                out = model.generate(
                    **enc,
                    max_new_tokens=max_new_tokens,
                    do_sample=False,
                    eos_token_id=eos,
                    pad_token_id=pad,
                )
            for row in out[:, enc["input_ids"].shape[1] :]:
                outputs.append(tokenizer.decode(row, skip_special_tokens=True).strip())
    finally:
        tokenizer.padding_side = side
        if was_training:
            model.train()
    return outputs


def score_answers(outputs: Sequence[str], references: Sequence[str], scorer: str) -> dict[str, float]:
    """Generation scores of ``outputs`` against ``references`` (see the module docstring)."""
    n = len(outputs)
    if n == 0 or scorer == "none":
        return {}
    exact = sum(o.strip() == r.strip() for o, r in zip(outputs, references, strict=True)) / n
    if scorer == "exact":
        return {"exact_match": exact}
    if scorer == "json_fields":
        return json_field_scores(outputs, references)
    compliant = sum(house_format_ok(o) for o in outputs) / n
    tags = (
        sum(
            ticket_tag(o) is not None and ticket_tag(o) == ticket_tag(r)
            for o, r in zip(outputs, references, strict=True)
        )
        / n
    )
    return {"format_compliance": compliant, "tag_accuracy": tags, "exact_match": exact}


def _json_object(text: str) -> dict[str, Any] | None:
    import json

    try:
        value = json.loads(text.strip())
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def json_field_scores(outputs: Sequence[str], references: Sequence[str]) -> dict[str, float]:
    """``format_compliance``, ``field_accuracy`` and ``exact_match`` of JSON answers (see the module docstring)."""
    n = len(outputs)
    compliant = fields = exact = 0.0
    for output, reference in zip(outputs, references, strict=True):
        got, want = _json_object(output), _json_object(reference) or {}
        if got is None or not want:
            continue
        compliant += set(got) == set(want)
        matches = sum(got.get(k) == v for k, v in want.items())
        fields += matches / len(want)
        exact += matches == len(want) and set(got) == set(want)
    return {"format_compliance": compliant / n, "field_accuracy": fields / n, "exact_match": exact / n}


def rubric_scores(rubric: str, examples: Sequence[Example], outputs: Sequence[str]) -> dict[str, float]:
    """Mean rubric score of the answers (hook into :mod:`workbench.rubrics`; empty when unavailable)."""
    try:
        from workbench.rubrics import load_rubric, score_items  # type: ignore[attr-defined]
    except ImportError:
        return {}
    items = [
        {"id": e.id, "input": e.prompt_messages[-1]["content"], "output": o, "reference": e.answer}
        for e, o in zip(examples, outputs, strict=True)
    ]
    results = score_items(load_rubric(rubric), items, record=False)
    values = [float(getattr(r, "score", 0.0)) for r in results]
    return {"rubric_score": sum(values) / len(values)} if values else {}


def evaluate_model(
    model: Any,
    tokenizer: Any,
    items: Sequence[TokenizedExample],
    *,
    scorer: str = "house_format",
    max_examples: int = 24,
    max_new_tokens: int = 48,
    batch_size: int = 8,
    rubric: str | None = None,
) -> EvalResult:
    """Perplexity over ``items`` and generation scores over the first ``max_examples`` of them."""
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    loss = eval_loss(model, items, pad_id=pad, batch_size=batch_size)
    result = EvalResult(
        loss=loss, perplexity=math.exp(loss) if loss is not None else None, examples=len(items)
    )
    chosen = [t.example for t in items[:max_examples]]
    if chosen and (scorer != "none" or rubric):
        outputs = generate_answers(model, tokenizer, chosen, max_new_tokens=max_new_tokens)
        references = [e.answer for e in chosen]
        result.scores = score_answers(outputs, references, scorer)
        if rubric:
            result.scores.update(rubric_scores(rubric, chosen, outputs))
        result.generated = len(outputs)
        result.samples = [
            {"prompt": e.prompt_messages[-1]["content"], "output": o, "reference": e.answer}
            for e, o in list(zip(chosen, outputs, strict=True))[:3]
        ]
    return result


#: The prompt whose logits fingerprint a saved adapter (run card ``adapter.probe``).
PROBE_MESSAGES = ({"role": "user", "content": "How do I reset my password?"},)


def probe_logits(model: Any, tokenizer: Any) -> dict[str, Any]:
    """A fingerprint of the model's next-token logits on a fixed prompt: sha256 of the float32 bytes + a sample.

    Saved on the run card when the adapter is written; a reloaded adapter must reproduce it exactly.
    """
    import hashlib

    import torch

    text = render_chat(tokenizer, list(PROBE_MESSAGES), add_generation_prompt=True)
    enc = tokenizer(text, return_tensors="pt").to(_device_of(model))
    was_training = model.training
    model.eval()
    with torch.no_grad():
        logits = model(**enc).logits[0, -1].float().cpu().contiguous()
    if was_training:
        model.train()
    return {
        "prompt": PROBE_MESSAGES[0]["content"],
        "sha256": hashlib.sha256(logits.numpy().tobytes()).hexdigest(),
        "sample": [float(v) for v in logits[:8]],
    }
