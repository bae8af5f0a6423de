"""The scorer seam: each scorer is a frozen config (validated from the rubric YAML) plus an implementation.

Built-ins register through the same door as plugins: :data:`SCORERS` is a registry over the
``workbench.scorers`` entry-point group, whose entries are :class:`Scorer` subclasses, and the built-ins are
entry points of that group declared here (``module:Class``), imported when a rubric first names them. A scorer turns each item into a :class:`ScoreResult` on its own 0..1
scale (``value``); the criterion's levels come from that value (``thresholds`` when given, else the nearest
level), except for judges, which answer with a level directly.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

from pydantic import BaseModel, ConfigDict, Field

from workbench._registry import Registry
from workbench.rubrics.context import ScoringContext


class RubricFieldError(ValueError):
    """A rubric value is wrong; ``path`` is relative to the model being validated (for error locations)."""

    def __init__(self, path: tuple[str | int, ...], message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.path = path
        self.message = message
        self.hint = hint


class ScorerConfig(BaseModel):
    """Fields every scorer has. Subclasses add their own and set ``type`` to a one-value Literal."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: str
    field: str = Field("output", min_length=1, description="The input field scored.")

    def input_fields(self) -> tuple[str, ...]:
        """Item fields this scorer needs; an item without one is rejected before scoring."""
        return (self.field,)

    def check_levels(self, scores: Sequence[int]) -> None:
        """Raise :class:`RubricFieldError` when this config does not fit the criterion's levels."""


class ThresholdMixin(BaseModel):
    """Maps a 0..1 value to a level through ascending cut points (one per level above 0)."""

    thresholds: tuple[float, ...] | None = Field(
        None,
        description="Ascending cut points in 0..1, one per level above 0: level = how many the value reaches. "
        "Default: the nearest level to value * max_score.",
    )

    def check_levels(self, scores: Sequence[int]) -> None:
        if self.thresholds is None:
            return
        need = len(scores) - 1
        if len(self.thresholds) != need:
            raise RubricFieldError(
                ("thresholds",),
                f"has {len(self.thresholds)} cut points but the criterion has {need} levels above 0",
                hint=f"give exactly {need} ascending values in 0..1",
            )
        if list(self.thresholds) != sorted(self.thresholds) or not all(0 <= t <= 1 for t in self.thresholds):
            raise RubricFieldError(("thresholds",), "cut points must be ascending values in 0..1")


@dataclass
class ScoreResult:
    """One scorer's verdict on one item.

    Attributes:
        value: The scorer's own measure in 0..1 (fraction of checks passed, similarity, F1...).
        rationale: Why, in a short sentence (never raw PII).
        level: The level chosen; ``None`` lets the criterion map ``value`` to a level.
        confidence: 0..1; deterministic scorers are sure (1.0), judges report agreement across samples.
        review_reason: Set when a human should look at this verdict (the item goes to the review queue).
        details: Extra data for reports (per-sample judge scores, matched terms...).
    """

    value: float
    rationale: str
    level: int | None = None
    confidence: float = 1.0
    review_reason: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


class LevelView(Protocol):
    """What a scorer reads of one criterion level."""

    @property
    def score(self) -> int: ...

    @property
    def descriptor(self) -> str: ...


class CriterionView(Protocol):
    """What a scorer reads of its criterion (:class:`~workbench.rubrics.schema.Criterion` is one).

    A protocol rather than the class: the schema builds each criterion's scorer config through :data:`SCORERS`,
    so this module cannot import the schema back.
    """

    @property
    def description(self) -> str: ...

    @property
    def levels(self) -> Sequence[LevelView]: ...

    @property
    def level_scores(self) -> list[int]: ...


class Scorer(ABC):
    """The implementation half of a scorer. Subclasses set ``config_class`` and ``kind``."""

    config_class: ClassVar[type[ScorerConfig]]
    #: "deterministic", "reference" or "judge" (the ``scorer`` attribute of score events).
    kind: ClassVar[str] = "deterministic"

    def __init__(self, config: ScorerConfig, criterion: CriterionView) -> None:
        self.config = config
        self.criterion = criterion

    def score(self, items: Sequence[Mapping[str, Any]], ctx: ScoringContext) -> list[ScoreResult]:
        """Score a batch of items (override to batch model calls)."""
        return [self.score_one(item, ctx) for item in items]

    @abstractmethod
    def score_one(self, item: Mapping[str, Any], ctx: ScoringContext) -> ScoreResult:
        """Score one item."""

    def level_for(self, result: ScoreResult) -> int:
        """The criterion level for ``result``."""
        scores = self.criterion.level_scores
        if result.level is not None:
            return result.level
        value = 0.0 if math.isnan(result.value) else min(max(result.value, 0.0), 1.0)
        thresholds = getattr(self.config, "thresholds", None)
        if thresholds:
            return scores[sum(1 for t in thresholds if value >= t)]
        return scores[round(value * (len(scores) - 1))]


_DETERMINISTIC = "workbench.rubrics.scorers.deterministic"
_REFERENCE = "workbench.rubrics.scorers.reference"

#: Every scorer type: the built-ins (entry points declared here), plugins from the ``workbench.scorers`` group.
SCORERS: Registry[type[Scorer]] = Registry(
    "scorer",
    "workbench.scorers",
    builtins={
        "regex": f"{_DETERMINISTIC}:RegexScorer",
        "contains": f"{_DETERMINISTIC}:ContainsScorer",
        "excludes": f"{_DETERMINISTIC}:ExcludesScorer",
        "json_schema": f"{_DETERMINISTIC}:JsonSchemaScorer",
        "json_match": f"{_DETERMINISTIC}:JsonMatchScorer",
        "length": f"{_DETERMINISTIC}:LengthScorer",
        "citations": f"{_DETERMINISTIC}:CitationsScorer",
        "pii_free": f"{_DETERMINISTIC}:PiiFreeScorer",
        "similarity": f"{_REFERENCE}:SimilarityScorer",
        "rouge_l": f"{_REFERENCE}:RougeLScorer",
        "token_f1": f"{_REFERENCE}:TokenF1Scorer",
        "judge": "workbench.rubrics.judge:JudgeScorer",
    },
)


def register_scorer(name: str) -> Callable[[type[Scorer]], type[Scorer]]:
    """Class decorator: register a :class:`Scorer` subclass as scorer type ``name``."""

    def add(cls: type[Scorer]) -> type[Scorer]:
        SCORERS.register(name, cls)
        return cls

    return add


def text_of(value: Any) -> str:
    """An item field as text: strings as they are, anything else as compact JSON."""
    if isinstance(value, str):
        return value
    import json

    return json.dumps(value, ensure_ascii=False, sort_keys=True)
