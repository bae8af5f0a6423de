"""Evidence extraction and the proficiency model (Beta posterior with weights and recency)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.special import betaincinv

from workbench.errors import ConfigError
from workbench.skills import (
    EstimatorConfig,
    EvidenceWeights,
    estimate_proficiency,
    extract_evidence,
    load_events,
)
from workbench.skills.proficiency import add_gaps, trend_frame
from workbench.telemetry import pseudonymize

from .helpers import at, event, score, task

SKILLS = ["prompting", "fine_tuning", "evaluation_design"]


def _evidence(events: list, skills: list[str] = SKILLS, **kw):  # type: ignore[no-untyped-def]
    return extract_evidence(load_events(events), skills, **kw)


def _estimate(events: list, *, days: float = 0, **cfg) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    ev = _evidence(events).frame
    return estimate_proficiency(ev, as_of=pd.Timestamp(at(days)), config=EstimatorConfig(**cfg))


def test_score_and_task_events_become_evidence() -> None:
    events = [
        score("ana", "prompting", 0.75, scorer="judge", confidence=0.5),
        score("ana", None, 0.6, criterion=None),  # the overall score: no skill, not evidence
        task("ana", "task_completed", {"prompting": 0.7, "evaluation_design": 0.3}),
        task("ana", "task_failed", ["fine_tuning"]),
        task("ana", "task_started", {"prompting": 1.0}),  # a start is not evidence
        event("generation", "ana", **{"gen_ai.usage.input_tokens": 5}),
    ]
    ev = _evidence(events).frame
    assert len(ev) == 4
    assert set(ev["learner"]) == {pseudonymize("ana")}  # raw ids become pseudonyms
    judge = ev.loc[ev["source"] == "score"].iloc[0]
    w = EvidenceWeights()
    assert judge["weight"] == pytest.approx(w.score_trials * w.scorer["judge"] * 0.5)
    assert judge["outcome"] == 0.75 and judge["criterion"] == "c1"
    done = ev.loc[ev["source"] == "task_completed"].set_index("skill")
    assert done.loc["prompting", "weight"] == pytest.approx(w.task * 0.7)
    assert done.loc["prompting", "outcome"] == w.completed_value
    failed = ev.loc[ev["source"] == "task_failed"].iloc[0]
    assert failed["skill"] == "fine_tuning" and failed["outcome"] == w.failed_value
    assert ev["event_id"].notna().all() and ev["run_id"].eq("run-1").all()


def test_unknown_skills_are_reported_not_fatal() -> None:
    events = [score("ana", "prompting", 1.0), score("ana", "juggling", 1.0), score("bo", "juggling", 0.5),
              task("bo", "task_completed", {"astrology": 1.0})]
    evidence = _evidence(events)
    assert list(evidence.frame["skill"]) == ["prompting"]
    unknown = evidence.unknown.set_index("skill")
    assert unknown.loc["juggling", "events"] == 2 and unknown.loc["juggling", "learners"] == 2
    assert unknown.loc["astrology", "events"] == 1
    assert len(unknown.loc["juggling", "example_event_ids"]) == 2


def test_bad_scores_are_counted_and_raw_scores_used() -> None:
    events = [score("ana", "prompting", "high"), score("ana", "prompting", None, raw_score=3, max_score=4),
              score("ana", "prompting", 7.0)]
    evidence = _evidence(events)
    assert evidence.invalid == 1
    assert sorted(evidence.frame["outcome"]) == [0.75, 1.0]  # 7.0 is clipped to 1


def test_posterior_matches_the_beta_model() -> None:
    cfg = EstimatorConfig()
    events = [score("ana", "prompting", 0.5, days=0), score("ana", "prompting", 1.0, days=0)]
    row = _estimate(events).iloc[0]
    w = EvidenceWeights().score_trials * 0.8  # deterministic scorer, confidence 1
    alpha = cfg.a0 + w * 1.5
    beta = cfg.b0 + w * 0.5
    assert row["alpha"] == pytest.approx(alpha) and row["beta"] == pytest.approx(beta)
    assert row["level"] == pytest.approx(4 * alpha / (alpha + beta))
    assert row["level_lo"] == pytest.approx(4 * betaincinv(alpha, beta, 0.1))
    assert row["level_hi"] == pytest.approx(4 * betaincinv(alpha, beta, 0.9))
    assert row["n_evidence"] == 2


def test_more_evidence_narrows_the_interval() -> None:
    few = _estimate([score("ana", "prompting", 0.75)]).iloc[0]
    many = _estimate([score("ana", "prompting", 0.75, task=f"t{i}") for i in range(12)]).iloc[0]
    assert (many["level_hi"] - many["level_lo"]) < (few["level_hi"] - few["level_lo"]) / 2
    assert many["level"] == pytest.approx(3.0, abs=0.2)  # converges to 4 * 0.75
    assert 0 <= few["level_lo"] <= few["level"] <= few["level_hi"] <= 4


def test_recent_evidence_outweighs_old() -> None:
    old_low = [score("ana", "prompting", 0.0, days=d) for d in range(0, 5)]
    new_high = [score("ana", "prompting", 1.0, days=d) for d in range(360, 365)]
    row = _estimate(old_low + new_high, days=365).iloc[0]
    assert row["level"] > 2.8
    no_decay = _estimate(old_low + new_high, days=365, half_life_days=1e9).iloc[0]
    assert no_decay["level"] == pytest.approx(2.0, abs=0.25)
    # Evidence after as_of is ignored.
    assert _estimate(old_low + new_high, days=10).iloc[0]["n_evidence"] == 5


def test_a_confident_human_counts_more_than_an_unsure_judge() -> None:
    human = _estimate([score("ana", "prompting", 0.0, scorer="human"),
                       score("ana", "prompting", 1.0, scorer="judge", confidence=0.3)]).iloc[0]
    assert human["level"] < 1.5


def test_gaps_and_status() -> None:
    frame = pd.DataFrame({"level": [3.5, 1.0, 2.5, 2.0], "level_lo": [3.0, 0.5, 1.5, 1.0],
                          "level_hi": [3.9, 1.8, 3.2, 3.0]})
    out = add_gaps(frame, pd.Series([3, 3, 3, np.nan]))
    assert list(out["status"]) == ["met", "below", "near", "no target"]
    assert out["gap"].iloc[1] == pytest.approx(2.0)
    assert out["gap_lo"].iloc[1] == pytest.approx(1.2) and out["gap_hi"].iloc[1] == pytest.approx(2.5)


def test_trend_follows_a_learning_curve() -> None:
    events = [score("ana", "prompting", min(1.0, 0.1 + 0.1 * m), days=30 * m + 5) for m in range(8)]
    ev = _evidence(events).frame
    pairs = pd.DataFrame({"learner": [pseudonymize("ana")], "skill": ["prompting"], "group": ["a"],
                          "target": [3.0]})
    tr = trend_frame(ev, pair_group=pairs, period="month", as_of=pd.Timestamp(at(240)), config=EstimatorConfig())
    levels = tr["level"].to_numpy()
    assert len(levels) >= 8 and np.all(np.diff(levels) > 0)
    assert tr["gap"].iloc[-1] == pytest.approx(3.0 - levels[-1])
    # The last period's estimate equals the direct estimate at as_of.
    direct = estimate_proficiency(ev, as_of=pd.Timestamp(at(240)), config=EstimatorConfig()).iloc[0]
    assert levels[-1] == pytest.approx(direct["level"])
    weekly = trend_frame(ev, pair_group=pairs, period="week", as_of=pd.Timestamp(at(240)), config=EstimatorConfig())
    assert len(weekly) > len(tr)


def test_estimator_config_is_validated() -> None:
    with pytest.raises(ConfigError) as info:
        EstimatorConfig(half_life_days=0)
    assert info.value.field == "half_life_days"
    with pytest.raises(ConfigError):
        EstimatorConfig(credible=1.5)


def test_estimate_is_vectorised_over_many_learners() -> None:
    rng = np.random.default_rng(0)
    n = 20_000
    ev = pd.DataFrame({
        "learner": [f"p_{i % 2000:016x}" for i in range(n)],
        "skill": rng.choice(SKILLS, n),
        "time": pd.Timestamp(at(0)) + pd.to_timedelta(rng.integers(0, 200, n), unit="D"),
        "outcome": rng.random(n),
        "weight": np.ones(n),
    })
    out = estimate_proficiency(ev, as_of=pd.Timestamp(at(200)))
    assert len(out) == len(ev.groupby(["learner", "skill"]))
    assert out["n_evidence"].sum() == n
