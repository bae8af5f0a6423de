"""Evidence -> proficiency per learner and skill, with its uncertainty, and gaps against role targets.

The model: a Beta-Bernoulli estimate of *mastery* with recency-decayed, weighted pseudo-counts.

Each piece of evidence ``i`` for a (learner, skill) has an outcome ``y_i`` in [0, 1] (a normalised rubric score, or
the value of a completed / failed task) and a weight ``w_i`` (scorer type x scorer confidence x subject, or the
task's skill weight; see :class:`~workbench.skills.evidence.EvidenceWeights`). Recency multiplies the weight by
``2 ** (-age / half_life)``. A graded rubric score counts as three pass/fail trials (it says more than one
pass/fail; see ``EvidenceWeights.score_trials``). Mastery ``m`` (the chance the learner does a task of this skill well) then has the
posterior::

    m ~ Beta(a0 + sum_i w_i d_i y_i,  b0 + sum_i w_i d_i (1 - y_i))

Only the learner's own work is evidence: events whose ``origin`` is ``solution`` (the shipped answer, copied or run
from the author version), ``author`` (CI) or ``stub`` (an untouched exercise) get weight 0 and never reach these
sums (the drill-down still lists them). Help taken lowers ``w_i``: each hint revealed before the work multiplies
it by 0.7 and each attempt after the first by 0.85, never below a quarter of the full weight
(:class:`~workbench.skills.evidence.EvidenceWeights`); so a pass after two hints and three tries still moves the
estimate up, but about a third as much as an unaided first-time pass, while the failed tries count as failures.

The posterior has a weak prior ``Beta(a0, b0)`` (mean 0.25 = "aware", strength 2 pseudo-observations, so one or two rubric
scores already outweigh it). The level estimate is ``4 * E[m]`` on the 0-4 scale, and the credible interval
(80% by default) is ``4 *`` the Beta quantiles. The gap is ``role target - level``.

Why this model and not another:

- **Fractional outcomes.** Rubric scores are graded (0..1), not right/wrong. A Beta update with fractional
  successes takes them as they are; Bayesian Knowledge Tracing assumes binary correctness and needs per-skill
  slip/guess/learn parameters fitted on data we do not have for a new taxonomy.
- **Honest uncertainty.** One perfect score and twenty perfect scores should not look the same. The interval
  width shrinks with the effective amount of evidence and with its agreement, which is what a manager needs to
  tell "confident gap" from "not enough evidence yet".
- **Learning over time.** Exponential decay of the pseudo-counts (a discounted Beta, the same idea as a power
  prior) makes recent evidence dominate, so the estimate follows a learning curve, and old evidence widens the
  interval instead of silently counting forever. It is the steady-state of BKT's "learning" without its fitting.
- **Vectorised and mergeable.** The posterior is two sums per (learner, skill), so 1,000,000 events reduce
  with ``numpy.bincount`` in one pass; sums from shards or time periods add up, which is how the trends are
  computed (a recurrence over periods, never a loop over learners).
- **No peer shrinkage.** The prior is fixed, not fitted on the cohort: an individual's estimate does not move
  because colleagues are strong or weak, which keeps the estimate fair and explainable.

Mapping ``level = 4 * mastery`` treats the rubric scale as the level scale: rubric levels are written against
the same 0-4 descriptors (none, aware, practising, proficient, expert).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from workbench.skills.evidence import EvidenceWeights
from workbench.skills.taxonomy import MAX_LEVEL

_NS_PER_DAY = 86_400 * 1_000_000_000

#: Columns of a proficiency frame.
PROFICIENCY_COLUMNS: tuple[str, ...] = (
    "learner",
    "skill",
    "level",
    "level_lo",
    "level_hi",
    "mastery",
    "alpha",
    "beta",
    "n_evidence",
    "effective_weight",
    "last_evidence",
)


@dataclass(frozen=True)
class EstimatorConfig:
    """Parameters of the proficiency model (see the module docstring).

    Attributes:
        half_life_days: Evidence this old counts half as much as evidence from ``as_of``.
        prior_mean: Prior mastery (0.25 = level 1, "aware").
        prior_strength: Prior pseudo-observations.
        credible: Mass of the credible interval (0.8 = 10th to 90th percentile).
        weights: How much each kind of evidence counts.
    """

    half_life_days: float = 120.0
    prior_mean: float = 0.25
    prior_strength: float = 2.0
    credible: float = 0.8
    weights: EvidenceWeights = field(default_factory=EvidenceWeights)

    def __post_init__(self) -> None:
        from workbench.errors import ConfigError

        if self.half_life_days <= 0:
            raise ConfigError("half_life_days must be positive", field="half_life_days", hint="e.g. 120")
        if not 0 < self.prior_mean < 1:
            raise ConfigError("prior_mean must be between 0 and 1", field="prior_mean", hint="e.g. 0.25")
        if self.prior_strength <= 0:
            raise ConfigError("prior_strength must be positive", field="prior_strength", hint="e.g. 2")
        if not 0 < self.credible < 1:
            raise ConfigError("credible must be between 0 and 1", field="credible", hint="e.g. 0.8")

    @property
    def a0(self) -> float:
        return self.prior_mean * self.prior_strength

    @property
    def b0(self) -> float:
        return (1.0 - self.prior_mean) * self.prior_strength


def beta_interval(alpha: np.ndarray, beta: np.ndarray, credible: float) -> tuple[np.ndarray, np.ndarray]:
    """Equal-tailed credible interval of ``Beta(alpha, beta)`` (vectorised)."""
    lo_q, hi_q = (1.0 - credible) / 2.0, (1.0 + credible) / 2.0
    try:
        from scipy.special import betaincinv
    except ImportError:  # pragma: no cover - scipy ships with the ML stack; keep a normal approximation
        mean = alpha / (alpha + beta)
        sd = np.sqrt(alpha * beta / ((alpha + beta) ** 2 * (alpha + beta + 1.0)))
        from statistics import NormalDist

        z = NormalDist().inv_cdf(hi_q)
        return np.clip(mean - z * sd, 0.0, 1.0), np.clip(mean + z * sd, 0.0, 1.0)
    return betaincinv(alpha, beta, lo_q), betaincinv(alpha, beta, hi_q)


def _decay(times_ns: np.ndarray, as_of_ns: int, half_life_days: float) -> np.ndarray:
    age_days = np.maximum(as_of_ns - times_ns, 0) / _NS_PER_DAY
    return np.exp2(-age_days / half_life_days)


def empty_proficiency() -> pd.DataFrame:
    """A proficiency frame with no rows (and the columns' types)."""
    return pd.DataFrame({c: pd.Series(dtype=float) for c in PROFICIENCY_COLUMNS}).astype(
        {"learner": object, "skill": object, "last_evidence": "datetime64[ns, UTC]"}
    )


def estimate_proficiency(
    evidence: pd.DataFrame,
    *,
    as_of: pd.Timestamp,
    config: EstimatorConfig | None = None,
) -> pd.DataFrame:
    """Proficiency per (learner, skill) from an evidence frame.

    Args:
        evidence: Evidence rows (:func:`~workbench.skills.evidence.extract_evidence`).
        as_of: The time the estimate is for; later evidence is ignored, older evidence decays.
        config: Model parameters.

    Returns:
        One row per (learner, skill) with evidence, columns :data:`PROFICIENCY_COLUMNS`.
    """
    config = config or EstimatorConfig()
    times = evidence["time"].to_numpy(dtype="datetime64[ns]").view("int64")
    keep = times <= as_of.value
    if not keep.all():
        evidence, times = evidence.loc[keep], times[keep]
    if evidence.empty:
        return empty_proficiency()
    learner_codes, learners = pd.factorize(evidence["learner"], sort=False)
    skill_codes, skills = pd.factorize(evidence["skill"], sort=False)
    key = learner_codes.astype(np.int64) * len(skills) + skill_codes
    pair_codes, pairs = pd.factorize(key, sort=False)
    n_pairs = len(pairs)
    w = evidence["weight"].to_numpy(dtype=float) * _decay(times, as_of.value, config.half_life_days)
    y = evidence["outcome"].to_numpy(dtype=float)
    success = np.bincount(pair_codes, weights=w * y, minlength=n_pairs)
    failure = np.bincount(pair_codes, weights=w * (1.0 - y), minlength=n_pairs)
    count = np.bincount(pair_codes, minlength=n_pairs)
    weight = np.bincount(pair_codes, weights=w, minlength=n_pairs)
    last = np.full(n_pairs, np.iinfo(np.int64).min, dtype=np.int64)
    np.maximum.at(last, pair_codes, times)
    pairs_arr = np.asarray(pairs, dtype=np.int64)
    return proficiency_from_sums(
        learner=np.asarray(learners, dtype=object)[pairs_arr // len(skills)],
        skill=np.asarray(skills, dtype=object)[pairs_arr % len(skills)],
        sums=PairSums(success=success, failure=failure, count=count, weight=weight, last_ns=last),
        config=config,
    )


@dataclass(frozen=True)
class PairSums:
    """The sufficient statistics of each (learner, skill): decayed success and failure weight, the number of
    evidence rows, their decayed weight, and the newest evidence time (ns since the epoch, UTC)."""

    success: np.ndarray
    failure: np.ndarray
    count: np.ndarray
    weight: np.ndarray
    last_ns: np.ndarray


def proficiency_from_sums(
    *, learner: np.ndarray, skill: np.ndarray, sums: PairSums, config: EstimatorConfig
) -> pd.DataFrame:
    """A proficiency frame (:data:`PROFICIENCY_COLUMNS`) from per-pair sums, however they were summed (numpy
    here, SQL in :mod:`workbench.skills.sql_estimates`)."""
    alpha = config.a0 + sums.success
    beta = config.b0 + sums.failure
    mastery = alpha / (alpha + beta)
    lo, hi = beta_interval(alpha, beta, config.credible)
    return pd.DataFrame(
        {
            "learner": learner,
            "skill": skill,
            "level": MAX_LEVEL * mastery,
            "level_lo": MAX_LEVEL * lo,
            "level_hi": MAX_LEVEL * hi,
            "mastery": mastery,
            "alpha": alpha,
            "beta": beta,
            "n_evidence": sums.count,
            "effective_weight": sums.weight,
            "last_evidence": pd.to_datetime(sums.last_ns, utc=True),
        }
    )


def add_gaps(proficiency: pd.DataFrame, targets: pd.Series) -> pd.DataFrame:
    """``proficiency`` with ``target``, ``gap`` (target - level), its interval and a ``status``.

    Args:
        proficiency: Rows with ``level``, ``level_lo``, ``level_hi``.
        targets: The target level of each row (NaN where the learner's role sets none), aligned by position.

    Status is ``met`` (estimate at or above target), ``below`` (the whole credible interval is under the
    target: a confident gap), ``near`` (estimate under target but the interval reaches it), or ``no target``.
    """
    out = proficiency.copy()
    target = np.asarray(targets, dtype=float)
    out["target"] = target
    out["gap"] = target - out["level"].to_numpy()
    out["gap_lo"] = target - out["level_hi"].to_numpy()
    out["gap_hi"] = target - out["level_lo"].to_numpy()
    has = np.isfinite(target)
    status = np.where(
        out["level"].to_numpy() >= target, "met", np.where(out["level_hi"].to_numpy() < target, "below", "near")
    )
    out["status"] = np.where(has, status, "no target")
    return out


def trend_frame(
    evidence: pd.DataFrame,
    *,
    pair_group: pd.DataFrame,
    period: str,
    as_of: pd.Timestamp,
    config: EstimatorConfig,
) -> pd.DataFrame:
    """Group-mean level and gap per period, as estimated at the end of each period.

    A learner counts in a period once they have any evidence for the skill by the period's end. The decayed
    sums are carried from one period to the next with a recurrence (``S_k = S_{k-1} * decay + new``), so the
    loop runs over periods, not learners.

    Args:
        evidence: Evidence rows with ``learner``, ``skill``, ``time``, ``outcome``, ``weight``.
        pair_group: One row per (learner, skill) with columns ``learner``, ``skill``, ``group`` (team name,
            or the learner id for a learner's own trend) and ``target`` (NaN when none).
        period: ``"month"`` or ``"week"``.
        as_of: The report time; the last period ends here.
        config: Model parameters.

    Returns:
        Columns ``period`` (label), ``period_end``, ``group``, ``skill``, ``level`` (mean), ``gap`` (mean, over
        learners with a target), ``learners`` (with evidence by then).
    """
    columns = ["period", "period_end", "group", "skill", "level", "gap", "learners"]
    if evidence.empty or pair_group.empty:
        return pd.DataFrame(columns=columns)
    axis = _period_axis(evidence["time"], period, as_of)
    pg = pair_group.reset_index(drop=True)
    pairs = _PairIndex.of(pg)
    adds = _period_sums(evidence, axis, pairs.rows_of(evidence), len(pg), config)
    groups = _Groups.of(pg, pairs)
    rows = _carry_over_periods(axis, adds, groups, pg["target"].to_numpy(dtype=float), config)
    if not rows:
        return pd.DataFrame(columns=columns)
    return pd.concat(rows, ignore_index=True)


@dataclass(frozen=True)
class _PeriodAxis:
    """The trend's periods: labels, end times (ns, the last one clipped to ``as_of``) and each event's period."""

    labels: pd.PeriodIndex
    ends: np.ndarray
    k: np.ndarray
    as_of_ns: int


def _period_axis(times: pd.Series, period: str, as_of: pd.Timestamp) -> _PeriodAxis:
    freq = {"month": "M", "week": "W"}.get(period)
    if freq is None:
        from workbench.errors import ConfigError

        raise ConfigError(f"unknown trend period '{period}'", field="period", hint="use 'month' or 'week'")
    naive = times.dt.tz_convert("UTC").dt.tz_localize(None)
    periods = naive.dt.to_period(freq)
    first, last = periods.min(), pd.Timestamp(as_of).tz_convert("UTC").tz_localize(None).to_period(freq)
    labels = pd.period_range(first, max(first, last), freq=freq)
    ends = np.array(
        [min(p.end_time.tz_localize("UTC").value, as_of.value) for p in labels], dtype=np.int64
    )
    return _PeriodAxis(labels, ends, pd.PeriodIndex(periods).asi8 - first.ordinal, as_of.value)


@dataclass(frozen=True)
class _PairIndex:
    """(learner, skill) pairs of the pair frame on integer codes (no MultiIndex lookups)."""

    learners: pd.Index
    skills: pd.Index
    s_codes: np.ndarray
    keys: pd.Index

    @classmethod
    def of(cls, pg: pd.DataFrame) -> _PairIndex:
        l_codes, l_names = pd.factorize(pg["learner"])
        s_codes, s_names = pd.factorize(pg["skill"])
        ns = max(1, len(s_names))
        return cls(pd.Index(l_names), pd.Index(s_names), s_codes, pd.Index(l_codes.astype(np.int64) * ns + s_codes))

    @property
    def n_skills(self) -> int:
        return max(1, len(self.skills))

    def rows_of(self, evidence: pd.DataFrame) -> np.ndarray:
        """The pair row of each evidence row (-1 for a pair not in the frame)."""
        ev_l = self.learners.get_indexer(evidence["learner"])
        ev_s = self.skills.get_indexer(evidence["skill"])
        known = (ev_l >= 0) & (ev_s >= 0)
        pair = self.keys.get_indexer(np.where(known, ev_l.astype(np.int64) * self.n_skills + ev_s, -1))
        return np.where(known, pair, -1)


@dataclass(frozen=True)
class _PeriodSums:
    """Per pair and period: decayed success and failure weight added, and the evidence count."""

    s: np.ndarray
    f: np.ndarray
    n: np.ndarray


def _period_sums(
    evidence: pd.DataFrame, axis: _PeriodAxis, pair: np.ndarray, n_pairs: int, config: EstimatorConfig
) -> _PeriodSums:
    """Each period's new evidence per pair, decayed to the period's end."""
    k, ends = axis.k, axis.ends
    t_ns = evidence["time"].to_numpy(dtype="datetime64[ns]").view("int64")
    keep = (t_ns <= axis.as_of_ns) & (k < len(axis.labels)) & (pair >= 0)
    pair, k, t_ns = pair[keep], k[keep], t_ns[keep]
    w = evidence["weight"].to_numpy(dtype=float)[keep] * np.exp2(
        -np.maximum(ends[k] - t_ns, 0) / _NS_PER_DAY / config.half_life_days
    )
    y = evidence["outcome"].to_numpy(dtype=float)[keep]
    n_periods = len(axis.labels)
    flat = pair * n_periods + k
    size = n_pairs * n_periods
    return _PeriodSums(
        s=np.bincount(flat, weights=w * y, minlength=size).reshape(n_pairs, n_periods),
        f=np.bincount(flat, weights=w * (1 - y), minlength=size).reshape(n_pairs, n_periods),
        n=np.bincount(flat, minlength=size).reshape(n_pairs, n_periods),
    )


@dataclass(frozen=True)
class _Groups:
    """(group, skill) cells: each pair's cell code, and each cell's group label and skill."""

    codes: np.ndarray
    label: np.ndarray
    skill: np.ndarray

    @classmethod
    def of(cls, pg: pd.DataFrame, pairs: _PairIndex) -> _Groups:
        ns = pairs.n_skills
        g_codes, g_names = pd.factorize(pg["group"], sort=True)
        codes, keys = pd.factorize(g_codes.astype(np.int64) * ns + pairs.s_codes, sort=True)
        keys = np.asarray(keys, dtype=np.int64)
        return cls(codes, np.asarray(g_names, dtype=object)[keys // ns],
                   np.asarray(pairs.skills, dtype=object)[keys % ns])


def _carry_over_periods(
    axis: _PeriodAxis, adds: _PeriodSums, groups: _Groups, target: np.ndarray, config: EstimatorConfig
) -> list[pd.DataFrame]:
    """The recurrence ``S_k = S_{k-1} * decay + new`` over periods, with each period's group means."""
    ends, n_groups = axis.ends, len(groups.label)
    has_target = np.isfinite(target)
    n_pairs = len(target)
    s = np.zeros(n_pairs)
    f = np.zeros(n_pairs)
    n = np.zeros(n_pairs, dtype=np.int64)
    rows = []
    for j in range(len(axis.labels)):
        if j:
            step = np.exp2(-(ends[j] - ends[j - 1]) / _NS_PER_DAY / config.half_life_days)
            s *= step
            f *= step
        s += adds.s[:, j]
        f += adds.f[:, j]
        n += adds.n[:, j]
        seen = n > 0
        level = MAX_LEVEL * (config.a0 + s) / (config.a0 + config.b0 + s + f)
        cnt = np.bincount(groups.codes[seen], minlength=n_groups)
        lvl = np.bincount(groups.codes[seen], weights=level[seen], minlength=n_groups)
        gmask = seen & has_target
        gcnt = np.bincount(groups.codes[gmask], minlength=n_groups)
        gsum = np.bincount(groups.codes[gmask], weights=(target - level)[gmask], minlength=n_groups)
        live = np.flatnonzero(cnt)
        if len(live) == 0:
            continue
        with np.errstate(invalid="ignore", divide="ignore"):
            rows.append(
                pd.DataFrame(
                    {
                        "period": str(axis.labels[j]),
                        "period_end": pd.Timestamp(ends[j], tz="UTC"),
                        "group": groups.label[live],
                        "skill": groups.skill[live],
                        "level": lvl[live] / cnt[live],
                        "gap": np.where(gcnt[live] > 0, gsum[live] / np.maximum(gcnt[live], 1), np.nan),
                        "learners": cnt[live],
                    }
                )
            )
    return rows
