"""Scoring items with a rubric: one instrument for copilot outputs and learner submissions.

Every verdict becomes telemetry: one ``score`` event per criterion (attributes ``rubric``, ``rubric_version``,
``criterion``, ``skill``, ``score`` 0..1, ``raw_score``, ``max_score``, ``passed``, ``scorer``, ``confidence``,
``item``, ``subject``) and one with ``criterion=None`` for the item's weighted score. Verdicts a human should
check (low judge agreement, no valid judge answer, a scorer error) go to the review queue.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from workbench.errors import NotFoundError, ValidationError, WorkbenchError
from workbench.rubrics.context import ScoringContext
from workbench.rubrics.review import ReviewQueue
from workbench.rubrics.schema import Criterion, Rubric, load_rubric
from workbench.rubrics.scorers import SCORERS, Scorer, ScoreResult
from workbench.rubrics.verdicts import CriterionScore, ItemScore

Subject = Literal["learner", "copilot"]


def _item_id(item: Mapping[str, Any], index: int) -> str:
    value = item.get("id")
    return str(value) if value is not None else f"item-{index + 1}"


def validate_items(
    rubric: Rubric,
    items: Sequence[Mapping[str, Any]],
    *,
    file: str | Path | None = None,
    lines: Sequence[int] | None = None,
) -> None:
    """Check that every item has the fields the rubric's scorers read.

    Raises:
        ValidationError: naming the file, the line (JSONL) or item number, and the missing field.
    """
    needed = rubric.input_fields()
    for index, item in enumerate(items):
        line = lines[index] if lines is not None else index + 1
        where = f"line {line}" if file is not None else f"item {index + 1}"
        if not isinstance(item, Mapping):
            raise ValidationError(
                f"{where} is not a JSON object", file=file, line=line if file else None,
                hint='each line must be an object like {"id": "a1", "output": "..."}',
            )
        for name in needed:
            if name not in item or item[name] is None:
                users = [c.id for c in rubric.criteria if name in c.scorer.input_fields()]
                raise ValidationError(
                    f"{where} (id {_item_id(item, index)!r}) has no field '{name}', which rubric "
                    f"'{rubric.id}' needs for criteria {', '.join(users)}",
                    file=file, line=line if file else None, field=name,
                    hint=f"add '{name}' to every item; this rubric reads: {', '.join(needed)}",
                )


def load_items(path: str | Path) -> tuple[list[dict[str, Any]], list[int]]:
    """Read a JSONL file: the items and their 1-based line numbers (blank lines skipped).

    Raises:
        NotFoundError: the file does not exist.
        ValidationError: a line is not a JSON object (names the line).
    """
    file = Path(path)
    if not file.is_file():
        raise NotFoundError(f"input file '{file}' does not exist", hint="give a JSONL file, one item per line")
    items, lines = [], []
    with file.open(encoding="utf-8") as handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            try:
                value = json.loads(raw)
            except ValueError as exc:
                raise ValidationError(
                    f"line {number} is not valid JSON: {exc}", file=file, line=number,
                    hint="each line must be one JSON object",
                ) from None
            if not isinstance(value, dict):
                raise ValidationError(
                    f"line {number} is not a JSON object", file=file, line=number,
                    hint='each line must be an object like {"id": "a1", "output": "..."}',
                )
            items.append(value)
            lines.append(number)
    return items, lines


def _safe_score(scorer: Scorer, items: Sequence[Mapping[str, Any]], ctx: ScoringContext) -> list[ScoreResult]:
    try:
        return scorer.score(items, ctx)
    except WorkbenchError:
        raise
    except (ValueError, TypeError, KeyError, LookupError):
        pass
    # One bad item must not sink the batch: score items one by one and flag the failures for review.
    results = []
    for item in items:
        try:
            results.append(scorer.score_one(item, ctx))
        except WorkbenchError:
            raise
        except (ValueError, TypeError, KeyError, LookupError) as exc:
            results.append(ScoreResult(value=0.0, rationale=f"could not score: {exc}"[:200], confidence=0.0,
                                       review_reason="scorer_error"))
    return results


def score_items(
    rubric: Rubric | str | Path,
    items: Iterable[Mapping[str, Any]],
    *,
    backend: Any = None,
    model: str | None = None,
    k: int | None = None,
    seed: int = 0,
    record: bool = True,
    subject: Subject = "copilot",
    review_queue: ReviewQueue | Literal[False] | None = None,
    review_sample: float = 0.0,
    task: str | None = None,
    source: str | Path | None = None,
    lines: Sequence[int] | None = None,
) -> list[ItemScore]:
    """Score ``items`` with ``rubric``.

    Args:
        rubric: A :class:`Rubric`, a rubric file or a built-in id.
        items: Dicts with the fields the rubric reads (``id`` optional; an item's own ``subject`` wins).
        backend: ``ChatBackend`` for judges; default load ``model`` (or the default model) when a judge runs.
        model: Model name for judges when no backend is given.
        k: Overrides each judge's number of samples.
        seed: Added to each judge's seed.
        record: Write ``score`` telemetry events (one per criterion + one overall per item).
        subject: Whose work this is: ``"copilot"`` (model outputs) or ``"learner"`` (submissions).
        review_queue: Where low-confidence verdicts go; default the queue under ``settings.data_dir``;
            ``False`` to route nothing.
        review_sample: Share (0..1) of the *confident* judge verdicts also sent to review, picked by a
            stable hash of rubric, criterion and item: the calibration set that makes AI-human agreement
            (kappa) unbiased, since low-confidence verdicts alone are the hard cases.
        task: Telemetry task for the events (default: the recorder's context).
        source, lines: The input file and line numbers, for error messages.

    Returns:
        One :class:`ItemScore` per item, in order.
    """
    rub = load_rubric(rubric)
    if not 0.0 <= review_sample <= 1.0:
        raise ValidationError(f"review_sample must be in 0..1, got {review_sample}", field="review_sample",
                              hint="e.g. 0.1 sends one confident judge verdict in ten to a human")
    batch = list(items)
    validate_items(rub, batch, file=source, lines=lines)
    ctx = ScoringContext(backend=backend, model=model, k=k, seed=seed)
    runs = [_run_criterion(rub, criterion, batch, ctx, review_sample) for criterion in rub.criteria]
    queue = None
    if review_queue is not False and any(r.review_reason for run in runs for r in run.results):
        queue = ReviewQueue() if review_queue is None else review_queue
    scored = [_item_score(rub, runs, index, item, subject, queue) for index, item in enumerate(batch)]
    if record:
        record_scores(rub, scored, task=task)
    return scored


@dataclass
class _CriterionRun:
    """One criterion's scorer and its results over the batch (in item order)."""

    criterion: Criterion
    scorer: Scorer
    results: list[ScoreResult]


def _run_criterion(
    rubric: Rubric, criterion: Criterion, batch: Sequence[Mapping[str, Any]], ctx: ScoringContext, review_sample: float
) -> _CriterionRun:
    """Score the batch on one criterion; mark the calibration sample of confident judge verdicts for review."""
    scorer = SCORERS.get(criterion.scorer.type)(criterion.scorer, criterion)
    results = _safe_score(scorer, batch, ctx)
    if review_sample > 0 and scorer.kind == "judge":
        for index, result in enumerate(results):
            if result.review_reason is None and _sampled(rubric, criterion.id, _item_id(batch[index], index),
                                                         review_sample):
                result.review_reason = "calibration_sample"
    return _CriterionRun(criterion, scorer, results)


def _item_score(
    rubric: Rubric, runs: Sequence[_CriterionRun], index: int, item: Mapping[str, Any], subject: str,
    queue: ReviewQueue | None,
) -> ItemScore:
    """One item's verdict from every criterion's result (sending those that need a human to ``queue``)."""
    who = str(item.get("subject") or subject)
    criteria: list[CriterionScore] = []
    for run in runs:
        criterion, result = run.criterion, run.results[index]
        raw = run.scorer.level_for(result)
        norm = raw / criterion.max_score
        threshold = criterion.pass_threshold if criterion.pass_threshold is not None else rubric.pass_threshold
        cs = CriterionScore(
            criterion=criterion.id, skill=criterion.skill, scorer=run.scorer.kind,
            scorer_type=criterion.scorer.type, raw_score=raw, max_score=criterion.max_score, score=norm,
            passed=norm >= threshold, confidence=result.confidence, rationale=result.rationale,
            weight=criterion.weight, review_reason=result.review_reason, details=result.details,
        )
        if cs.review_reason and queue is not None:
            cs.review_id = queue.add(rubric, criterion.id, item, cs, subject=who).id
        criteria.append(cs)
    overall = sum(c.score * c.weight for c in criteria) / rubric.total_weight
    gated = all(c.passed for c, run in zip(criteria, runs, strict=True) if run.criterion.required)
    return ItemScore(
        item=_item_id(item, index), rubric=rubric.id, rubric_version=rubric.version, subject=who, score=overall,
        passed=overall >= rubric.pass_threshold and gated, criteria=criteria,
    )


def _sampled(rubric: Rubric, criterion: str, item_id: str, share: float) -> bool:
    import hashlib

    digest = hashlib.sha256(f"{rubric.id}@{rubric.version}/{criterion}/{item_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < share


def score_file(rubric: Rubric | str | Path, path: str | Path, **kwargs: Any) -> list[ItemScore]:
    """:func:`score_items` on a JSONL file (errors name its lines)."""
    items, lines = load_items(path)
    return score_items(rubric, items, source=path, lines=lines, **kwargs)


def score_attributes(rubric: Rubric, item: ItemScore, criterion: CriterionScore | None) -> dict[str, Any]:
    """The ``score`` event attributes for one criterion verdict, or the overall one (``criterion=None``)."""
    if criterion is None:
        return {
            "rubric": rubric.id, "rubric_version": rubric.version, "criterion": None, "skill": None,
            "skills": _skill_weights(rubric), "score": item.score, "raw_score": item.score, "max_score": 1,
            "passed": item.passed, "scorer": _overall_kind(item), "confidence": item.confidence,
            "item": item.item, "subject": item.subject,
        }
    return {
        "rubric": rubric.id, "rubric_version": rubric.version, "criterion": criterion.criterion,
        "skill": criterion.skill, "score": criterion.score, "raw_score": criterion.raw_score,
        "max_score": criterion.max_score, "passed": criterion.passed, "scorer": criterion.scorer,
        "confidence": criterion.confidence, "item": item.item, "subject": item.subject,
    }


def _skill_weights(rubric: Rubric) -> dict[str, float]:
    weights: dict[str, float] = {}
    for c in rubric.criteria:
        weights[c.skill] = weights.get(c.skill, 0.0) + c.weight / rubric.total_weight
    return weights


def _overall_kind(item: ItemScore) -> str:
    kinds = {c.scorer for c in item.criteria}
    return kinds.pop() if len(kinds) == 1 else "mixed"


def record_scores(rubric: Rubric, scored: Sequence[ItemScore], *, task: str | None = None) -> int:
    """Write the ``score`` events of ``scored`` (durably: flushed before returning); returns how many."""
    from workbench.telemetry import get_recorder

    recorder = get_recorder()
    count = 0
    for item in scored:
        for c in item.criteria:
            recorder.emit("score", task=task, status="passed" if c.passed else "failed",
                          **score_attributes(rubric, item, c))
            count += 1
        recorder.emit("score", task=task, status="passed" if item.passed else "failed",
                      **score_attributes(rubric, item, None))
        count += 1
    recorder.flush()
    return count


def summarize(scored: Sequence[ItemScore]) -> dict[str, Any]:
    """Totals over items: count, pass rate, mean score, per-criterion means and items sent to review."""
    if not scored:
        return {"items": 0, "passed": 0, "pass_rate": None, "mean_score": None, "criteria": {}, "to_review": 0}
    criteria: dict[str, dict[str, Any]] = {}
    for item in scored:
        for c in item.criteria:
            entry = criteria.setdefault(c.criterion, {"skill": c.skill, "scorer": c.scorer_type, "scores": []})
            entry["scores"].append(c.score)
    for entry in criteria.values():
        values = entry.pop("scores")
        entry["mean_score"] = sum(values) / len(values)
    passed = sum(item.passed for item in scored)
    return {
        "items": len(scored),
        "passed": passed,
        "pass_rate": passed / len(scored),
        "mean_score": sum(item.score for item in scored) / len(scored),
        "criteria": criteria,
        "to_review": sum(c.needs_review for item in scored for c in item.criteria),
    }
