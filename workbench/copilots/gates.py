"""Promotion gates: a version's evaluation metrics against its spec's thresholds and service-level objectives.

A gate is one threshold (``evaluation.thresholds``: a minimum) or service-level objective (``slo``: a maximum)
checked on an evaluation's metrics. A metric the copilot does not produce (recall of a copilot that does not
retrieve, groundedness when no answer cites) fails its gate: a threshold set on it cannot be shown to hold.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from workbench.copilots.spec import CopilotSpec

#: Gate name -> (metric, "min" or "max").
GATES: dict[str, tuple[str, str]] = {
    "threshold.rubric_pass_rate": ("rubric_pass_rate", "min"),
    "threshold.retrieval_recall": ("retrieval_recall", "min"),
    "threshold.groundedness": ("groundedness", "min"),
    "slo.p95_latency_s": ("latency_p95_s", "max"),
    "slo.cost_per_1k_tokens": ("cost_per_1k_tokens", "max"),
    "slo.guardrail_violation_rate": ("guardrail_violation_rate", "max"),
}

@dataclass(frozen=True)
class Gate:
    """One checked gate.

    Attributes:
        name: ``threshold.<name>`` or ``slo.<name>``, as the spec's field is called.
        metric: The evaluation metric it reads.
        kind: ``min`` (a threshold) or ``max`` (an SLO).
        limit: The spec's value.
        value: The measured value (``None``: the copilot does not produce it).
        passed: Whether the value meets the limit.
    """

    name: str
    metric: str
    kind: str
    limit: float
    value: float | None
    passed: bool

    def describe(self) -> str:
        """``slo.p95_latency_s: 7.2 > 5.0`` (or ``... = n/a``)."""
        shown = "n/a" if self.value is None else f"{self.value:.4g}"
        relation = ("<" if self.kind == "min" else ">") if not self.passed else ("≥" if self.kind == "min" else "≤")
        return f"{self.name}: {shown} {relation} {self.limit:.4g}"


def check_gates(spec: CopilotSpec, metrics: Mapping[str, float | None]) -> list[Gate]:
    """The spec's thresholds and SLOs checked on ``metrics`` (only the ones the spec sets)."""
    limits: dict[str, float | None] = {}
    if spec.evaluation is not None:
        limits.update({f"threshold.{k}": v for k, v in spec.evaluation.thresholds.model_dump().items()})
    limits.update({f"slo.{k}": v for k, v in spec.slo.model_dump().items()})
    gates = []
    for name, (metric, kind) in GATES.items():
        limit = limits.get(name)
        if limit is None:
            continue
        value = metrics.get(metric)
        ok = value is not None and (value >= limit if kind == "min" else value <= limit)
        gates.append(Gate(name, metric, kind, float(limit), value, bool(ok)))
    return gates


def failing_names(gates: Sequence[Gate]) -> list[str]:
    """Names of the failed gates."""
    return [g.name for g in gates if not g.passed]
