"""Reference-based scorers: embedding similarity, ROUGE-L (``rouge-score``) and SQuAD-style token F1.

The reference field holds one string or a list of acceptable references; the best match counts.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any, Literal

from pydantic import Field

from workbench.rubrics.context import ScoringContext
from workbench.rubrics.scorers.base import Scorer, ScorerConfig, ScoreResult, ThresholdMixin, text_of


def references_of(value: Any) -> list[str]:
    """A reference field as a list of strings."""
    if isinstance(value, list | tuple):
        return [text_of(v) for v in value] or [""]
    return [text_of(value)]


class _ReferenceConfig(ThresholdMixin, ScorerConfig):
    reference_field: str = Field("reference", min_length=1)

    def input_fields(self) -> tuple[str, ...]:
        return (self.field, self.reference_field)


class _ReferenceScorer(Scorer):
    kind = "reference"
    label = "similarity"

    def _result(self, value: float) -> ScoreResult:
        value = float(min(max(value, 0.0), 1.0))
        return ScoreResult(value=value, rationale=f"{self.label} to the reference {value:.2f}")


# --- embedding similarity ------------------------------------------------------------------------------------


class SimilarityConfig(_ReferenceConfig):
    """Cosine similarity of sentence embeddings (``workbench.models.load_embedder``), clipped to 0..1."""

    type: Literal["similarity"] = "similarity"
    embedder: str | None = Field(None, description="Embedding model; default settings.default_embedder.")


class SimilarityScorer(_ReferenceScorer):
    """Embedding similarity, batched: one embedding call for all outputs and all references."""

    config_class = SimilarityConfig
    label = "embedding similarity"

    def score(self, items: Sequence[Mapping[str, Any]], ctx: ScoringContext) -> list[ScoreResult]:
        import numpy as np

        cfg: SimilarityConfig = self.config  # type: ignore[assignment]
        if not items:
            return []
        embedder = ctx.embedder(cfg.embedder)
        outputs = [text_of(item[cfg.field]) for item in items]
        refs = [references_of(item[cfg.reference_field]) for item in items]
        flat = [r for group in refs for r in group]
        vectors = embedder.embed_documents(outputs + flat)
        out_vecs, ref_vecs = vectors[: len(outputs)], vectors[len(outputs) :]
        results, start = [], 0
        for i, group in enumerate(refs):
            sims = ref_vecs[start : start + len(group)] @ out_vecs[i]
            start += len(group)
            results.append(self._result(float(np.max(sims))))
        return results

    def score_one(self, item: Mapping[str, Any], ctx: ScoringContext) -> ScoreResult:
        return self.score([item], ctx)[0]


# --- ROUGE-L -------------------------------------------------------------------------------------------------


class RougeLConfig(_ReferenceConfig):
    """ROUGE-L F-measure (longest common subsequence), from Google's ``rouge-score`` package."""

    type: Literal["rouge_l"] = "rouge_l"
    use_stemmer: bool = True


@lru_cache(maxsize=2)
def _rouge_scorer(use_stemmer: bool) -> Any:
    from workbench._optional import require

    rouge_scorer = require("rouge_score.rouge_scorer", package="rouge-score")
    return rouge_scorer.RougeScorer(["rougeL"], use_stemmer=use_stemmer)


class RougeLScorer(_ReferenceScorer):
    """ROUGE-L F1 against the best reference."""

    config_class = RougeLConfig
    label = "ROUGE-L F1"

    def score_one(self, item: Mapping[str, Any], ctx: ScoringContext) -> ScoreResult:
        cfg: RougeLConfig = self.config  # type: ignore[assignment]
        scorer = _rouge_scorer(cfg.use_stemmer)
        output = text_of(item[cfg.field])
        best = max(scorer.score(ref, output)["rougeL"].fmeasure for ref in references_of(item[cfg.reference_field]))
        return self._result(best)


# --- token F1 ------------------------------------------------------------------------------------------------


class TokenF1Config(_ReferenceConfig):
    """Token-overlap F1 after SQuAD normalisation (lower case, no punctuation or articles)."""

    type: Literal["token_f1"] = "token_f1"


_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCT = str.maketrans("", "", string.punctuation)


def normalize_answer(text: str) -> list[str]:
    """SQuAD answer normalisation, as tokens."""
    return _ARTICLES.sub(" ", text.lower().translate(_PUNCT)).split()


def token_f1(prediction: str, reference: str) -> float:
    """SQuAD token F1 of ``prediction`` against ``reference`` (1.0 when both are empty)."""
    pred, ref = normalize_answer(prediction), normalize_answer(reference)
    if not pred or not ref:
        return float(pred == ref)
    common = sum((Counter(pred) & Counter(ref)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(pred), common / len(ref)
    return 2 * precision * recall / (precision + recall)


class TokenF1Scorer(_ReferenceScorer):
    """Token F1 against the best reference."""

    config_class = TokenF1Config
    label = "token F1"

    def score_one(self, item: Mapping[str, Any], ctx: ScoringContext) -> ScoreResult:
        cfg: TokenF1Config = self.config  # type: ignore[assignment]
        output = text_of(item[cfg.field])
        return self._result(max(token_f1(output, ref) for ref in references_of(item[cfg.reference_field])))
