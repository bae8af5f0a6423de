"""Scorer registry: every ``scorer.type`` a rubric can name, each a config + implementation pair.

Built-ins: deterministic (``regex``, ``contains``, ``excludes``, ``json_schema``, ``json_match``, ``length``,
``citations``, ``pii_free``), reference-based (``similarity``, ``rouge_l``, ``token_f1``) and ``judge``.
Plugins register :class:`Scorer` subclasses in the ``workbench.scorers`` entry-point group.
"""

from __future__ import annotations

from workbench.rubrics import judge as judge  # registers "judge"
from workbench.rubrics.scorers import deterministic as deterministic
from workbench.rubrics.scorers import reference as reference
from workbench.rubrics.scorers.base import (
    SCORERS,
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
    "RubricFieldError",
    "ScoreResult",
    "Scorer",
    "ScorerConfig",
    "ThresholdMixin",
    "register_scorer",
    "text_of",
]
