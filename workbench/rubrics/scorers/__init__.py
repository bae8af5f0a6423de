"""Scorer registry: every ``scorer.type`` a rubric can name, each a config + implementation pair.

Built-ins: deterministic (``regex``, ``contains``, ``excludes``, ``json_schema``, ``json_match``, ``length``,
``citations``, ``pii_free``), reference-based (``similarity``, ``rouge_l``, ``token_f1``) and ``judge``.
They are entry points of the ``workbench.scorers`` group declared in :mod:`workbench.rubrics.scorers.base`,
loaded the way plugins' :class:`Scorer` subclasses in that group are: on first use, not by importing this package.
"""

from __future__ import annotations

from workbench.rubrics.scorers.base import (
    SCORERS,
    CriterionView,
    RubricFieldError,
    Scorer,
    ScorerConfig,
    ScoreResult,
    ThresholdMixin,
    register_scorer,
    text_of,
)

__all__ = [
    "SCORERS",
    "CriterionView",
    "RubricFieldError",
    "ScoreResult",
    "Scorer",
    "ScorerConfig",
    "ThresholdMixin",
    "register_scorer",
    "text_of",
]
