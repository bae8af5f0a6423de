"""The regression table: a version's evaluation side by side with the promoted version's, per metric and per
question (``workbench copilot eval`` prints it)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from workbench.copilots.evaluation import EvalReport

#: Metrics where a higher value is better (the others, except token counts, are better lower).
HIGHER_IS_BETTER = frozenset({"rubric_pass_rate", "rubric_mean_score", "retrieval_recall", "groundedness", "cited_rate"})
#: Metrics that are neither better nor worse when they move.
NEUTRAL = frozenset({"questions", "input_tokens", "output_tokens"})
#: Metrics shown in the regression table, in order.
TABLE_METRICS = (
    "rubric_pass_rate", "rubric_mean_score", "retrieval_recall", "groundedness", "cited_rate", "latency_p50_s",
    "latency_p95_s", "output_tokens", "cost_per_1k_tokens", "guardrail_flag_rate", "guardrail_violation_rate",
    "error_rate",
)  # fmt: skip


@dataclass(frozen=True)
class MetricRow:
    """One row of the regression table: this version against the promoted one."""

    metric: str
    new: float | None
    old: float | None
    delta: float | None
    verdict: str  # "better", "worse", "same" or "" (no comparison / neutral)


@dataclass(frozen=True)
class QuestionDiff:
    """A question whose outcome changed between the promoted version and this one."""

    id: str
    question: str
    change: str  # "fixed", "broken", "score" or "answer"
    old_score: float | None
    new_score: float | None
    old_answer: str
    new_answer: str


@dataclass(frozen=True)
class Comparison:
    """The regression table and per-question differences against the promoted version (``baseline``)."""

    baseline: str | None
    rows: list[MetricRow]
    questions: list[QuestionDiff]

    @property
    def regressions(self) -> list[str]:
        """Metrics that got worse."""
        return [r.metric for r in self.rows if r.verdict == "worse"]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "baseline": self.baseline,
            "regressions": self.regressions,
            "rows": [r.__dict__ for r in self.rows],
            "questions": [q.__dict__ for q in self.questions],
        }


def _verdict(metric: str, delta: float | None) -> str:
    if delta is None or metric in NEUTRAL:
        return ""
    if abs(delta) < 1e-9:
        return "same"
    return "better" if (delta > 0) == (metric in HIGHER_IS_BETTER) else "worse"


def compare(new: EvalReport, old: EvalReport | None, *, score_change: float = 0.1) -> Comparison:
    """``new`` side by side with ``old`` (the promoted version's last evaluation; ``None``: nothing promoted).

    Args:
        score_change: A rubric score moving at least this much counts as a per-question difference.
    """
    rows = []
    for metric in TABLE_METRICS:
        a = new.metrics.get(metric)
        b = old.metrics.get(metric) if old is not None else None
        delta = a - b if a is not None and b is not None else None
        rows.append(MetricRow(metric, a, b, delta, _verdict(metric, delta)))
    diffs: list[QuestionDiff] = []
    before = {q.id: q for q in old.questions} if old is not None else {}
    for q in new.questions:
        p = before.get(q.id)
        if p is None:
            continue
        change = ""
        if p.rubric_passed is not None and q.rubric_passed is not None and p.rubric_passed != q.rubric_passed:
            change = "fixed" if q.rubric_passed else "broken"
        elif abs((q.rubric_score or 0.0) - (p.rubric_score or 0.0)) >= score_change:
            change = "score"
        elif q.answer != p.answer:
            change = "answer"
        if change:
            diffs.append(QuestionDiff(q.id, q.question, change, p.rubric_score, q.rubric_score, p.answer, q.answer))
    order = {"broken": 0, "fixed": 1, "score": 2, "answer": 3}
    diffs.sort(key=lambda d: order[d.change])
    return Comparison(old.ref if old is not None else None, rows, diffs)


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.4g}"


def format_report(report: EvalReport, comparison: Comparison, *, max_questions: int = 10) -> str:
    """The text ``workbench copilot eval`` prints: metrics vs the baseline, gates, changed questions."""
    base = comparison.baseline or "(none promoted)"
    lines = [f"{report.ref}  vs  {base}", ""]
    width = max(len(m) for m in TABLE_METRICS)
    lines.append(f"{'metric'.ljust(width)}  {'this':>10}  {'promoted':>10}  {'delta':>10}")
    for row in comparison.rows:
        mark = {"worse": "  REGRESSION", "better": "  better"}.get(row.verdict, "")
        lines.append(
            f"{row.metric.ljust(width)}  {_fmt(row.new):>10}  {_fmt(row.old):>10}  {_fmt(row.delta):>10}{mark}"
        )
    lines.append("")
    lines.append("gates: " + ("none set" if not report.gates else ("all passed" if report.passed else "FAILED")))
    lines.extend(f"  {'ok  ' if g.passed else 'FAIL'} {g.describe()}" for g in report.gates)
    if comparison.questions:
        lines.append("")
        lines.append(f"questions that changed ({len(comparison.questions)}):")
        for d in comparison.questions[:max_questions]:
            lines.append(f"  [{d.change}] {d.id}: {d.question}")
            lines.append(f"      promoted ({_fmt(d.old_score)}): {_short(d.old_answer)}")
            lines.append(f"      this     ({_fmt(d.new_score)}): {_short(d.new_answer)}")
    return "\n".join(lines)


def _short(text: str, limit: int = 100) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


