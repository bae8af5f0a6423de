"""Evaluating a copilot on its suite: every question answered through the copilot's own path, then measured.

Per question: the answer (guarded and recorded like any generation), rubric score, retrieval recall@k against
the question's ``relevant`` sources, whether the answer cites and is grounded in its passages
(:mod:`~workbench.copilots.grounding`), wall-clock latency of the whole turn (retrieval, guard, model), tokens,
cost and guardrail decisions. The report's metrics:

================================ =========================================================================
``rubric_pass_rate``             share of answers the rubric passes (``rubric_mean_score``: mean score)
``retrieval_recall``             mean recall@k over questions with ``relevant`` sources (retrieving copilots)
``groundedness``                 share of cited answers that are grounded (``cited_rate``: share that cite)
``latency_p50_s``/``_p95_s``     turn latency percentiles (nearest rank)
``input_tokens``/``output_tokens`` totals; ``cost`` total and ``cost_per_1k_tokens``
``guardrail_flag_rate``          share of questions with any guardrail decision other than a plain allow
``guardrail_violation_rate``     share of answers the output check had to redact or withhold
``error_rate``                   share of questions that failed (blocked prompt, context too long...)
================================ =========================================================================

Every evaluation is evidence for its builder: ``score`` events for the skills ``copilot_building`` (the share
of the spec's gates the version passes) and ``evaluation_design`` (how complete the suite is), inside a tracked
``copilot-eval:<id>@<version>`` task; the rubric's own criteria record their ``score`` events as usual.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from workbench._yaml import jsonl_objects
from workbench.copilots.gates import Gate, check_gates
from workbench.copilots.grounding import ground
from workbench.copilots.runtime import Copilot
from workbench.copilots.spec import CopilotSpec
from workbench.errors import NotFoundError, ValidationError, WorkbenchError

#: Skills an evaluation is evidence for (ids of datasets/skills/genai-copilot.yaml) and the task's weights.
EVIDENCE_SKILLS: dict[str, float] = {"copilot_building": 0.6, "evaluation_design": 0.4}
#: A suite smaller than this counts as thin in the evaluation-design evidence.
MIN_SUITE = 5


@dataclass(frozen=True)
class SuiteQuestion:
    """One evaluation question: ``{"question", "reference" (or "answer"), "relevant"?, "id"?}`` + extra fields."""

    id: str
    question: str
    reference: str
    relevant: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)
    line: int | None = None


def load_suite(path: str | Path) -> list[SuiteQuestion]:
    """Read an evaluation suite (JSONL); other keys of a line are kept for the rubric.

    Raises:
        NotFoundError: No such file.
        ValidationError: A line that is not a JSON object, or lacks a question or reference (line, field named).
    """
    file = Path(path).expanduser()
    if not file.is_file():
        raise NotFoundError(f"no evaluation suite at '{file}'", file=file, hint="point evaluation.questions at a JSONL file")
    shape = 'each line: {"question": "...", "reference": "the expected answer", "relevant": ["source/id.md"]}'
    out: list[SuiteQuestion] = []
    for number, data in jsonl_objects(file.read_text(encoding="utf-8").splitlines(), file=file, hint=shape):
        question, reference = data.pop("question", None), data.pop("reference", data.pop("answer", None))
        relevant = data.pop("relevant", [])
        for name, value in (("question", question), ("reference", reference)):
            if not isinstance(value, str) or not value.strip():
                raise ValidationError(f"missing or empty '{name}'", file=file, line=number, field=name, hint=shape)
        if not isinstance(relevant, list) or not all(isinstance(r, str) and r for r in relevant):
            raise ValidationError(
                "'relevant' must be a list of source ids", file=file, line=number, field="relevant", hint=shape
            )
        qid = str(data.pop("id", f"line{number}"))
        out.append(SuiteQuestion(qid, str(question), str(reference), tuple(relevant), data, number))
    if not out:
        raise ValidationError("the evaluation suite has no questions", file=file, hint=shape)
    return out


@dataclass
class QuestionResult:
    """What one question measured."""

    id: str
    question: str
    reference: str
    answer: str
    status: str = "ok"
    sources: list[str] = field(default_factory=list)
    recall: float | None = None
    cited: bool = False
    grounded: bool | None = None
    rubric_score: float | None = None
    rubric_passed: bool | None = None
    latency_s: float = 0.0
    input_tokens: int = 0
    output_tokens: int = 0
    cost: float = 0.0
    guardrail_flags: list[str] = field(default_factory=list)
    violation: bool = False


@dataclass
class EvalReport:
    """An evaluation of one copilot version: per-question results, metrics and the spec's gates."""

    copilot: str
    version: str
    digest: str
    created_at: str
    questions: list[QuestionResult]
    metrics: dict[str, float | None]
    gates: list[Gate]
    rubric: str | None = None
    k: int | None = None

    @property
    def ref(self) -> str:
        """``id@version``."""
        return f"{self.copilot}@{self.version}"

    @property
    def passed(self) -> bool:
        """Whether every gate passed."""
        return all(g.passed for g in self.gates)

    @property
    def failing(self) -> list[Gate]:
        """The gates that failed."""
        return [g for g in self.gates if not g.passed]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (what the registry stores and ``--json`` prints)."""
        data = asdict(self)
        data["passed"] = self.passed
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EvalReport:
        """Read back :meth:`to_dict`."""
        fields = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        fields["questions"] = [QuestionResult(**q) for q in data.get("questions", [])]
        fields["gates"] = [Gate(**g) for g in data.get("gates", [])]
        return cls(**fields)


def evaluate_copilot(
    copilot: Copilot | CopilotSpec | str | Path, *, limit: int | None = None, record: bool = True
) -> EvalReport:
    """Run a copilot's evaluation suite (see the module docstring for what is measured).

    Args:
        copilot: A :class:`Copilot`, a spec, or a spec path.
        limit: Evaluate only the first ``limit`` questions (default: the spec's ``max_questions``, else all).
        record: Record the rubric scores and the builder's evidence as telemetry.

    Raises:
        ValidationError: The spec has no evaluation section, or the suite or rubric is invalid.
    """
    from workbench.telemetry import track

    cop = copilot if isinstance(copilot, Copilot) else Copilot(copilot)
    spec = cop.spec
    if spec.evaluation is None:
        raise spec.error(
            "the spec has no evaluation section", ("evaluation",),
            hint="add evaluation: {questions: eval/questions.jsonl, rubric: ..., thresholds: ...}",
        )  # fmt: skip
    suite = load_suite(spec.evaluation.questions)
    limit = limit or spec.evaluation.max_questions
    suite = suite[:limit] if limit else suite
    task = f"copilot-eval:{spec.ref}"
    _warm_up(cop)
    with track(task, skills=EVIDENCE_SKILLS, copilot=spec.id, copilot_version=spec.version) as handle:
        asked = [_ask(cop, q, task=task) for q in suite]
        results = [result for result, _ in asked]
        _score(spec, suite, asked, task=task, record=record)
        metrics = summarise(results)
        report = EvalReport(
            copilot=spec.id, version=spec.version, digest=spec.digest(),
            created_at=datetime.now(timezone.utc).isoformat(), questions=results, metrics=metrics,
            gates=check_gates(spec, metrics), rubric=spec.evaluation.rubric,
            k=cop.k if spec.retrieval is not None else None,
        )  # fmt: skip
        handle.set(passed=report.passed, failing=[g.name for g in report.failing], **_rounded(metrics))
        if record:
            record_evidence(spec, report, suite, task=task)
    return report


def _warm_up(copilot: Copilot) -> None:
    """Load the model, guard and index and run one token, so that the first question's latency is a turn's."""
    copilot.load()
    copilot.backend.generate("Hello", max_new_tokens=1)


def _ask(copilot: Copilot, question: SuiteQuestion, *, task: str) -> tuple[QuestionResult, list[str]]:
    """Answer one question through the copilot and measure it; also the passages its prompt held."""
    out = QuestionResult(id=question.id, question=question.question, reference=question.reference, answer="")
    started = time.perf_counter()
    try:
        hits = copilot.retrieve(question.question, record=False)
        if copilot.spec.retrieval is not None and question.relevant:
            from workbench.rag import recall_at_k

            ranked = list(dict.fromkeys(h.source for h in hits))
            out.recall = float(recall_at_k(ranked, question.relevant, copilot.k))
        turn = copilot.prepare(question.question, hits=hits)
        answer = copilot.answer(question.question, turn=turn, task=task)
    except WorkbenchError as exc:
        out.status = f"error: {type(exc).__name__}: {exc.message}"
        out.latency_s = time.perf_counter() - started
        if exc.field in ("prompt", "retrieved", "model", "rate_limit", "token_budget"):
            out.guardrail_flags.append(exc.field)
        return out, []
    out.latency_s = time.perf_counter() - started
    result = answer.result
    out.answer, out.sources = result.text, list(turn.sources)
    out.input_tokens, out.output_tokens, out.cost = result.input_tokens, result.output_tokens, result.cost
    out.guardrail_flags = [d["check"] for d in result.decisions if d["action"] != "allow" or d.get("flagged")]
    out.violation = result.status == "blocked" or any(
        d["check"] == "output" and d["action"] != "allow" for d in result.decisions
    )
    if turn.passages:
        grounding = ground(result.text, turn.passages, turn.sources)
        out.cited, out.grounded = grounding.is_cited, grounding.grounded
    return out, list(turn.passages)


def _score(
    spec: CopilotSpec,
    suite: Sequence[SuiteQuestion],
    asked: Sequence[tuple[QuestionResult, list[str]]],
    *,
    task: str,
    record: bool,
) -> None:
    """Score the answers with the spec's rubric (when it names one), in place."""
    assert spec.evaluation is not None
    if spec.evaluation.rubric is None:
        return
    from workbench.rubrics import score_items

    items = [
        {**q.extra, "id": q.id, "question": q.question, "reference": q.reference, "output": r.answer,
         "sources": [{"id": s, "text": t} for s, t in zip(r.sources, passages, strict=False)]}
        for q, (r, passages) in zip(suite, asked, strict=True)
    ]  # fmt: skip
    scored = score_items(spec.evaluation.rubric, items, record=record, subject="copilot", task=task)
    for (result, _), item in zip(asked, scored, strict=True):
        result.rubric_score, result.rubric_passed = round(item.score, 6), item.passed


def percentile(values: Sequence[float], q: float) -> float | None:
    """The nearest-rank ``q`` percentile (0..100) of ``values``; ``None`` when empty."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def summarise(results: Sequence[QuestionResult]) -> dict[str, float | None]:
    """The report's metrics over per-question results (see the module docstring)."""
    n = len(results) or 1
    scored = [r for r in results if r.rubric_passed is not None]
    recalls = [r.recall for r in results if r.recall is not None]
    cited = [r for r in results if r.cited]
    latencies = [r.latency_s for r in results]
    tokens = sum(r.input_tokens + r.output_tokens for r in results)
    cost = sum(r.cost for r in results)
    return {
        "questions": float(len(results)),
        "rubric_pass_rate": _mean([1.0 if r.rubric_passed else 0.0 for r in scored]),
        "rubric_mean_score": _mean([r.rubric_score or 0.0 for r in scored]),
        "retrieval_recall": _mean(recalls),
        "cited_rate": (len(cited) / n) if any(r.sources for r in results) else None,
        "groundedness": _mean([1.0 if r.grounded else 0.0 for r in cited]),
        "latency_p50_s": percentile(latencies, 50),
        "latency_p95_s": percentile(latencies, 95),
        "input_tokens": float(sum(r.input_tokens for r in results)),
        "output_tokens": float(sum(r.output_tokens for r in results)),
        "cost": cost,
        "cost_per_1k_tokens": cost / tokens * 1000 if tokens else 0.0,
        "guardrail_flag_rate": sum(bool(r.guardrail_flags) for r in results) / n,
        "guardrail_violation_rate": sum(r.violation for r in results) / n,
        "error_rate": sum(r.status != "ok" for r in results) / n,
    }


def _rounded(metrics: Mapping[str, float | None]) -> dict[str, float | None]:
    return {k: (round(v, 6) if v is not None else None) for k, v in metrics.items()}


def suite_design(spec: CopilotSpec, suite: Sequence[SuiteQuestion]) -> dict[str, bool]:
    """The evaluation-design checklist: what a complete suite has (each item is evidence of the skill)."""
    assert spec.evaluation is not None
    checks = {
        f"at least {MIN_SUITE} questions": len(suite) >= MIN_SUITE,
        "a rubric": spec.evaluation.rubric is not None,
        "a quality threshold": any(v is not None for v in spec.evaluation.thresholds.model_dump().values()),
        "a service-level objective": any(v is not None for v in spec.slo.model_dump().values()),
    }
    if spec.retrieval is not None:
        labelled = sum(bool(q.relevant) for q in suite)
        checks["relevance labels on most questions"] = labelled >= 0.8 * len(suite)
    return checks


def record_evidence(spec: CopilotSpec, report: EvalReport, suite: Sequence[SuiteQuestion], *, task: str) -> None:
    """Record the evaluation as ``score`` evidence of the builder's ``copilot_building`` and ``evaluation_design``."""
    from workbench.telemetry import get_recorder

    design = suite_design(spec, suite)
    gates = report.gates
    building = sum(g.passed for g in gates) / len(gates) if gates else (report.metrics["rubric_pass_rate"] or 0.0)
    verdicts: list[tuple[str, str, float, str, dict[str, Any]]] = [
        ("copilot_building", "gates", building, "copilot", {"failing": [g.name for g in report.failing]}),
        ("evaluation_design", "suite-design", sum(design.values()) / len(design), "learner",
         {"missing": [name for name, ok in design.items() if not ok]}),
    ]  # fmt: skip
    recorder = get_recorder()
    for skill, criterion, score, subject, detail in verdicts:
        attributes = {
            "rubric": "copilot-eval", "rubric_version": 1, "criterion": criterion, "skill": skill,
            "score": round(score, 6), "raw_score": round(score, 6), "max_score": 1, "passed": score >= 0.5,
            "scorer": "deterministic", "confidence": 1.0, "item": report.ref, "subject": subject, **detail,
        }  # fmt: skip
        recorder.emit("score", task=task, status="passed" if score >= 0.5 else "failed", attributes=attributes)
    recorder.flush()
