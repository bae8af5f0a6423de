"""Critique rubrics: one instrument for copilot outputs and learner work.

- :func:`load_rubric` / :func:`list_rubrics`: the rubric format (:mod:`workbench.rubrics.schema`), with six
  built-ins (``prompt-quality``, ``rag-faithfulness``, ``summary-quality``, ``json-extraction``,
  ``tone-policy``, ``finetune-data-quality``).
- :func:`score_items` / :func:`score_file`: score items, write ``score`` telemetry events, send uncertain
  verdicts to the :class:`ReviewQueue`.
- Scorers (:data:`SCORERS`): deterministic, reference-based and a schema-constrained LLM judge
  (:mod:`workbench.rubrics.judge`, :mod:`workbench.rubrics.constrained`).
- :class:`ReviewQueue` and :func:`weighted_kappa`: human review and AI-human agreement.
- :func:`measure_agreement` (:mod:`workbench.rubrics.calibration`): a rubric's scorers against a labelled set's
  human levels (deterministic scorers, the judge, its confident verdicts and the share sent to review); the
  judge model follows :func:`judge_model_name` (``WORKBENCH_JUDGE_MODEL``, else the default model).

Importing this package loads no torch or transformers; judges load them when they run.
"""

from __future__ import annotations

from workbench.rubrics.agreement import exact_agreement, kappa_reference, weighted_kappa
from workbench.rubrics.arena import ArenaResult, ArenaVote, rubric_judge, run_arena, wilson_interval
from workbench.rubrics.calibration import (
    AgreementReport,
    CriterionCalibration,
    LabelledSet,
    RaterAgreement,
    labelled_set,
    load_labelled_set,
    measure_agreement,
)
from workbench.rubrics.context import ScoringContext, judge_model_name
from workbench.rubrics.review import AgreementRow, ReviewItem, ReviewQueue
from workbench.rubrics.schema import (
    DEFAULT_SKILL_IDS,
    Criterion,
    Level,
    Rubric,
    example_file,
    list_rubrics,
    load_rubric,
    load_taxonomy_ids,
)
from workbench.rubrics.scorers import SCORERS, Scorer, ScorerConfig, ScoreResult, register_scorer
from workbench.rubrics.scoring import (
    load_items,
    record_scores,
    score_file,
    score_items,
    summarize,
    validate_items,
)
from workbench.rubrics.verdicts import CriterionScore, ItemScore

__all__ = [
    "DEFAULT_SKILL_IDS",
    "SCORERS",
    "AgreementReport",
    "AgreementRow",
    "ArenaResult",
    "ArenaVote",
    "Criterion",
    "CriterionCalibration",
    "CriterionScore",
    "ItemScore",
    "LabelledSet",
    "Level",
    "RaterAgreement",
    "ReviewItem",
    "ReviewQueue",
    "Rubric",
    "ScoreResult",
    "Scorer",
    "ScorerConfig",
    "ScoringContext",
    "exact_agreement",
    "example_file",
    "judge_model_name",
    "kappa_reference",
    "labelled_set",
    "list_rubrics",
    "load_items",
    "load_labelled_set",
    "load_rubric",
    "load_taxonomy_ids",
    "measure_agreement",
    "record_scores",
    "register_scorer",
    "rubric_judge",
    "run_arena",
    "score_file",
    "score_items",
    "summarize",
    "validate_items",
    "weighted_kappa",
    "wilson_interval",
]
