"""Verdicts: what scoring an item with a rubric produced (per criterion and overall).

Plain data, below both the scoring loop and the review queue, which each read and write them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from workbench.errors import NotFoundError


@dataclass
class CriterionScore:
    """One criterion's verdict on one item."""

    criterion: str
    skill: str
    scorer: str
    scorer_type: str
    raw_score: int
    max_score: int
    score: float
    passed: bool
    confidence: float
    rationale: str
    weight: float
    review_reason: str | None = None
    review_id: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def needs_review(self) -> bool:
        """Whether this verdict was sent to a human."""
        return self.review_reason is not None


@dataclass
class ItemScore:
    """A rubric's verdict on one item: the weighted score and every criterion's."""

    item: str
    rubric: str
    rubric_version: int
    subject: str
    score: float
    passed: bool
    criteria: list[CriterionScore]

    @property
    def confidence(self) -> float:
        """The lowest criterion confidence."""
        return min((c.confidence for c in self.criteria), default=1.0)

    def criterion(self, criterion_id: str) -> CriterionScore:
        """The verdict of ``criterion_id``."""
        for c in self.criteria:
            if c.criterion == criterion_id:
                return c
        raise NotFoundError(f"no criterion '{criterion_id}' in this score")

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data (the ``--json`` form)."""
        data = asdict(self)
        data["confidence"] = self.confidence
        return data
