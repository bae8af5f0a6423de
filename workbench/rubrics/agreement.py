"""Agreement between two raters (AI judge and human): exact agreement and weighted Cohen's kappa.

Weighted kappa (Cohen 1968) for ordinal levels: ``kappa = 1 - sum(w * O) / sum(w * E)``, where ``O`` is the
observed confusion matrix, ``E`` the matrix expected by chance (outer product of the marginals, scaled to the
same total) and ``w[i][j]`` the disagreement weight: ``|i - j|`` (linear) or ``(i - j)**2`` (quadratic), or
``0/1`` (unweighted). scikit-learn's ``cohen_kappa_score`` is used when installed; :func:`kappa_reference` is
the same formula in plain Python (tested against a worked example and against scikit-learn).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

Weights = Literal["linear", "quadratic"] | None


def exact_agreement(a: Sequence[int], b: Sequence[int]) -> float | None:
    """Share of items both raters scored the same (``None`` for no items)."""
    _check_pairs(a, b)
    if not a:
        return None
    return sum(x == y for x, y in zip(a, b, strict=True)) / len(a)


def _check_pairs(a: Sequence[int], b: Sequence[int]) -> None:
    if len(a) != len(b):
        raise ValueError(f"the raters scored different numbers of items ({len(a)} and {len(b)})")


def kappa_reference(
    a: Sequence[int], b: Sequence[int], *, labels: Sequence[int] | None = None, weights: Weights = None
) -> float | None:
    """Cohen's kappa, optionally weighted, in plain Python; ``None`` when undefined (no chance disagreement)."""
    _check_pairs(a, b)
    if not a:
        return None
    cats = sorted(set(labels) if labels is not None else set(a) | set(b))
    index = {c: i for i, c in enumerate(cats)}
    k = len(cats)
    observed = [[0.0] * k for _ in range(k)]
    for x, y in zip(a, b, strict=True):
        observed[index[x]][index[y]] += 1
    n = float(len(a))
    rows = [sum(observed[i]) for i in range(k)]
    cols = [sum(observed[i][j] for i in range(k)) for j in range(k)]

    def weight(i: int, j: int) -> float:
        if weights == "linear":
            return abs(i - j)
        if weights == "quadratic":
            return (i - j) ** 2
        return 0.0 if i == j else 1.0

    num = sum(weight(i, j) * observed[i][j] for i in range(k) for j in range(k))
    den = sum(weight(i, j) * rows[i] * cols[j] / n for i in range(k) for j in range(k))
    if den == 0:
        return None
    return 1.0 - num / den


def weighted_kappa(
    a: Sequence[int], b: Sequence[int], *, labels: Sequence[int] | None = None, weights: Weights = "quadratic"
) -> float | None:
    """Cohen's kappa between two raters' ordinal scores (quadratic weights by default).

    Uses scikit-learn's ``cohen_kappa_score`` when it is installed, else :func:`kappa_reference`.
    Returns ``None`` when kappa is undefined (e.g. both raters always gave the same single score).
    """
    _check_pairs(a, b)
    if not a:
        return None
    try:
        from sklearn.metrics import cohen_kappa_score
    except ImportError:
        return kappa_reference(a, b, labels=labels, weights=weights)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # 0/0 -> nan with a RuntimeWarning; we report None instead
        value = float(cohen_kappa_score(list(a), list(b), labels=list(labels) if labels else None, weights=weights))
    return None if math.isnan(value) else value
