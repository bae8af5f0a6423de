"""Exact agreement and (weighted) Cohen's kappa against worked examples and scikit-learn."""

from __future__ import annotations

import random

import pytest

from workbench.rubrics import exact_agreement, kappa_reference, weighted_kappa


def _pairs(table: list[list[int]]) -> tuple[list[int], list[int]]:
    """Expand a confusion matrix (rows: rater A, columns: rater B) into two score lists."""
    a, b = [], []
    for i, row in enumerate(table):
        for j, count in enumerate(row):
            a += [i] * count
            b += [j] * count
    return a, b


def test_unweighted_textbook_example() -> None:
    """The classic 2x2 example (50 grant proposals, two readers; Wikipedia "Cohen's kappa").

    Yes/Yes 20, Yes/No 5, No/Yes 10, No/No 15: p_o = 35/50 = 0.7; p_yes = 0.5 * 0.6 = 0.3,
    p_no = 0.5 * 0.4 = 0.2, p_e = 0.5; kappa = (0.7 - 0.5) / (1 - 0.5) = 0.4.
    """
    a, b = _pairs([[20, 5], [10, 15]])
    assert exact_agreement(a, b) == pytest.approx(0.7)
    assert kappa_reference(a, b) == pytest.approx(0.4)
    assert weighted_kappa(a, b, weights=None) == pytest.approx(0.4)


def test_weighted_worked_example() -> None:
    """A 3-level example worked by hand (Cohen 1968 formula: kappa_w = 1 - sum(w*O) / sum(w*E)).

    Observed (n = 10)      Expected E_ij = row_i * col_j / n
        3 1 0  | 4             1.6 1.2 1.2
        1 2 1  | 4             1.6 1.2 1.2
        0 0 2  | 2             0.8 0.6 0.6
        4 3 3

    Linear weights |i-j|:     sum(w*O) = 3; sum(w*E) = (1.2+1.6+1.2+0.6) + 2*(1.2+0.8) = 8.6
                              kappa = 1 - 3/8.6 = 28/43 = 0.65116
    Quadratic weights (i-j)^2: sum(w*O) = 3; sum(w*E) = 4.6 + 4*2.0 = 12.6
                              kappa = 1 - 3/12.6 = 16/21 = 0.76190
    Unweighted:               p_o = 0.7, p_e = (1.6+1.2+0.6)/10 = 0.34, kappa = 0.36/0.66 = 6/11
    """
    a, b = _pairs([[3, 1, 0], [1, 2, 1], [0, 0, 2]])
    assert exact_agreement(a, b) == pytest.approx(0.7)
    assert kappa_reference(a, b, weights="linear") == pytest.approx(28 / 43)
    assert kappa_reference(a, b, weights="quadratic") == pytest.approx(16 / 21)
    assert kappa_reference(a, b) == pytest.approx(6 / 11)
    assert weighted_kappa(a, b, weights="linear") == pytest.approx(28 / 43)
    assert weighted_kappa(a, b) == pytest.approx(16 / 21)  # quadratic is the default


def test_reference_matches_scikit_learn_on_random_ratings() -> None:
    sklearn = pytest.importorskip("sklearn.metrics")
    rnd = random.Random(7)
    for _ in range(25):
        levels = rnd.randint(2, 5)
        a = [rnd.randrange(levels) for _ in range(40)]
        b = [x if rnd.random() < 0.6 else rnd.randrange(levels) for x in a]
        for weights in (None, "linear", "quadratic"):
            expected = sklearn.cohen_kappa_score(a, b, labels=list(range(levels)), weights=weights)
            got = kappa_reference(a, b, labels=range(levels), weights=weights)
            assert got == pytest.approx(expected)


def test_edge_cases() -> None:
    assert exact_agreement([], []) is None
    assert weighted_kappa([], []) is None
    assert kappa_reference([2, 2, 2], [2, 2, 2]) is None  # undefined: no chance disagreement
    assert weighted_kappa([2, 2, 2], [2, 2, 2]) is None
    assert kappa_reference([0, 1, 2], [0, 1, 2], weights="quadratic") == pytest.approx(1.0)
    assert kappa_reference([0, 1], [1, 0]) == pytest.approx(-1.0)
    with pytest.raises(ValueError, match="different numbers"):
        exact_agreement([1], [1, 2])
