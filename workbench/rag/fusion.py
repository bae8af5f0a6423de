"""Rank fusion of dense and BM25 result lists: reciprocal rank fusion and weighted score fusion.

Both take ranked lists of ``(chunk_id, score)`` (best first) and return one fused ranked list.

- **RRF** (Cormack, Clarke and Büttcher, 2009): ``sum_i w_i / (c + rank_i)`` with ``c = 60``; ranks only, so
  the two score scales never need to agree. LangChain's ``EnsembleRetriever`` uses the same formula.
- **Weighted**: each list's scores are min-max normalised to 0..1 within the query's candidates, then
  ``sum_i w_i * norm_i`` (a chunk missing from a list gets 0 there). Sensitive to the weights, which is the
  point of letting learners turn them.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from workbench.errors import ConfigError

RRF_C = 60
FUSIONS: tuple[str, ...] = ("rrf", "weighted")

Ranked = Sequence[tuple[int, float]]


def check_weights(weights: Sequence[float]) -> tuple[float, float]:
    """Validate ``(dense, bm25)`` weights: two non-negative numbers, not both zero."""
    if len(weights) != 2:
        raise ConfigError(
            f"weights must be two numbers (dense, bm25), not {list(weights)!r}",
            field="weights",
            hint="e.g. 0.5,0.5",
        )
    dense, bm25 = (float(w) for w in weights)
    if dense < 0 or bm25 < 0 or dense + bm25 == 0:
        raise ConfigError(
            f"weights must be non-negative and not both zero, not ({dense}, {bm25})",
            field="weights",
            hint="e.g. 0.7,0.3 to favour dense retrieval",
        )
    return dense, bm25


def reciprocal_rank_fusion(
    lists: Sequence[Ranked], weights: Sequence[float], c: int = RRF_C
) -> list[tuple[int, float]]:
    """Weighted RRF over ranked lists (a list with weight 0 is left out); ties keep first-seen order."""
    scores: dict[int, float] = {}
    for ranked, weight in zip(lists, weights, strict=False):
        if weight == 0:
            continue
        for rank, (chunk_id, _) in enumerate(ranked, start=1):
            scores[chunk_id] = scores.get(chunk_id, 0.0) + weight / (c + rank)
    return sorted(scores.items(), key=lambda item: -item[1])


def weighted_fusion(lists: Sequence[Ranked], weights: Sequence[float]) -> list[tuple[int, float]]:
    """Weighted sum of per-list min-max normalised scores (a list with weight 0 is left out)."""
    scores: dict[int, float] = {}
    for ranked, weight in zip(lists, weights, strict=False):
        if not ranked or weight == 0:
            continue
        values = [score for _, score in ranked]
        low, high = min(values), max(values)
        span = high - low
        for chunk_id, score in ranked:
            norm = (score - low) / span if span > 0 else 1.0
            scores[chunk_id] = scores.get(chunk_id, 0.0) + weight * norm
    return sorted(scores.items(), key=lambda item: -item[1])


def fuse(lists: Sequence[Ranked], weights: Sequence[float], method: str = "rrf") -> list[tuple[int, float]]:
    """Fuse with ``method`` (``rrf`` or ``weighted``)."""
    if method == "rrf":
        return reciprocal_rank_fusion(lists, weights)
    if method == "weighted":
        return weighted_fusion(lists, weights)
    raise ConfigError(f"unknown fusion '{method}'", field="fusion", hint=f"use one of: {', '.join(FUSIONS)}")


def fuse_batch(
    n: int,
    lists: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]],
    weights: Sequence[float],
    method: str,
    k: int,
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`fuse` for a batch of queries at once, in numpy (what the index uses; :func:`fuse` is the reference).

    Args:
        n: Number of indexed chunks; positions are ``0..n-1``.
        lists: Per retriever, ``(positions, scores, valid)`` arrays of shape ``(queries, depth)``, each row
            sorted best first, invalid entries (padding, zero BM25 scores) only at the end of a row.
        weights: One weight per retriever; a weight of 0 leaves that retriever out.
        method: ``rrf`` or ``weighted``.
        k: How many fused results to keep per query.

    Returns:
        ``(positions, scores)`` of shape ``(queries, min(k, n))``, best first; rows with fewer candidates are
        padded with position -1 and score ``-inf``.
    """
    if method not in FUSIONS:
        raise ConfigError(
            f"unknown fusion '{method}'", field="fusion", hint=f"use one of: {', '.join(FUSIONS)}"
        )
    rows = lists[0][0].shape[0]
    fused = np.full((rows, n), -np.inf, dtype=np.float64)
    active = [(pos, score, valid, w) for (pos, score, valid), w in zip(lists, weights, strict=True) if w > 0]
    for pos, _score, valid, _w in active:
        r, c = np.nonzero(valid)
        fused[r, pos[r, c]] = 0.0
    for pos, score, valid, w in active:
        if method == "rrf":
            ranks = np.arange(1, pos.shape[1] + 1, dtype=np.float64)[None, :]
            contribution = np.broadcast_to(w / (RRF_C + ranks), pos.shape)
        else:
            s = score.astype(np.float64)
            low = np.where(valid, s, np.inf).min(axis=1, keepdims=True)
            high = np.where(valid, s, -np.inf).max(axis=1, keepdims=True)
            span = high - low
            with np.errstate(invalid="ignore"):
                norm = np.where(span > 0, (s - low) / np.where(span > 0, span, 1.0), 1.0)
            contribution = w * norm
        r, c = np.nonzero(valid)
        fused[r, pos[r, c]] += contribution[r, c]
    k = min(k, n)
    top = np.argpartition(-fused, k - 1, axis=1)[:, :k] if k < n else np.tile(np.arange(n), (rows, 1))
    top_scores = np.take_along_axis(fused, top, axis=1)
    order = np.lexsort((top, -top_scores), axis=1)  # best first; ties by position, so results are stable
    top = np.take_along_axis(top, order, axis=1)
    top_scores = np.take_along_axis(top_scores, order, axis=1)
    top[~np.isfinite(top_scores)] = -1
    return top, top_scores
