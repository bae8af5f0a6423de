"""Manager and learner reports: heatmap frames, privacy, drill-down, outcomes, bad input."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from workbench.errors import NotFoundError, PolicyViolation
from workbench.skills import build_report, learner_view
from workbench.skills.report import ALL
from workbench.telemetry import is_pseudonym, open_store, pseudonymize

from .conftest import AS_OF
from .helpers import event, score, task


def test_people_and_team_heatmaps(cohort_report: Any, cohort_db: tuple[str, Any]) -> None:
    report = cohort_report
    _, cohort = cohort_db
    assert report.scope == "manager" and not report.empty
    assert report.counts["learners"] == 45
    people = report.people
    assert set(people["skill"]) <= set(report.taxonomy.skill_ids)
    assert people["learner"].map(is_pseudonym).all()
    assert ((people["level_lo"] <= people["level"]) & (people["level"] <= people["level_hi"])).all()
    assert people["level"].between(0, 4).all()
    with_target = people.dropna(subset=["target"])
    assert (with_target["gap"] - (with_target["target"] - with_target["level"])).abs().max() < 1e-9
    # Roles come from the events' role attribute; targets follow the role.
    roles = cohort.roles()
    sample = people.dropna(subset=["target"]).iloc[0]
    assert sample["role"] == roles[sample["learner"]]
    assert sample["target"] == report.taxonomy.targets(sample["role"]).get(sample["skill"])
    teams = report.teams
    assert ALL in set(teams["team"])
    matrix = report.matrix("teams", "level")
    assert list(matrix.columns) == report.taxonomy.skill_ids
    open_cells = teams.loc[~teams["suppressed"]]
    assert (open_cells["learners"] >= 5).all()
    assert report.matrix("people", "gap").shape[0] == people["learner"].nunique()


def test_small_team_is_suppressed_everywhere(cohort_report: Any) -> None:
    report = cohort_report
    assert report.suppressed_teams == ["small-team"]
    small = report.teams.loc[report.teams["team"] == "small-team"]
    assert len(small) == len(report.taxonomy.skills)
    assert small["suppressed"].all() and small["level"].isna().all() and small["team_size"].isna().all()
    hidden = set(report.learners.loc[report.learners["team"] == "small-team", "learner"])
    assert len(hidden) == 3
    assert not hidden & set(report.people["learner"])
    assert not hidden & set(report.evidence["learner"])
    assert report.drilldown("small-team", "prompting", view="teams") == []
    out = report.outcomes["team"].set_index("team")
    assert out.loc["small-team", "suppressed"] and pd.isna(out.loc["small-team", "learners"])
    assert "small-team" not in set(report.trends["group"]) or report.trends.loc[
        report.trends["group"] == "small-team", "suppressed"].all()
    assert any("suppressed (n<5)" in m for m in report.messages)


def test_drilldown_reaches_the_stored_events(cohort_report: Any, cohort_db: tuple[str, Any]) -> None:
    url, _ = cohort_db
    cell = cohort_report.people.sort_values("n_evidence", ascending=False).iloc[0]
    items = cohort_report.drilldown(cell["learner"], cell["skill"])
    assert len(items) == cell["n_evidence"]
    assert [i["time"] for i in items] == sorted((i["time"] for i in items), reverse=True)
    with open_store(url) as store:
        stored = store.to_frame(id=[i["event_id"] for i in items]).set_index("id")
    assert len(stored) == len(items)
    for item in items:
        ev = stored.loc[item["event_id"]]
        assert ev["learner"] == cell["learner"] and ev["run_id"] == item["run_id"]
        if item["source"] == "score":
            assert ev["attributes"]["skill"] == cell["skill"]
            assert ev["attributes"]["score"] == pytest.approx(item["outcome"])
        else:
            assert cell["skill"] in ev["attributes"]["skills"]
    team_items = cohort_report.drilldown(ALL, cell["skill"], view="teams", limit=5)
    assert len(team_items) == 5


def test_unknown_skill_ids_are_reported(cohort_report: Any) -> None:
    unknown = cohort_report.unknown_skills
    assert list(unknown["skill"]) == ["prompt_chaining"]
    assert unknown["events"].iloc[0] > 0
    assert any("prompt_chaining" in m for m in cohort_report.messages)
    assert cohort_report.counts["unknown_skill_evidence"] == unknown["events"].iloc[0]


def test_team_below_the_minimum(cohort_db: tuple[str, Any]) -> None:
    url, _ = cohort_db
    report = build_report(url, team="small-team", as_of=AS_OF)
    assert report.counts["learners"] == 3 and report.counts["visible_learners"] == 0
    assert report.people.empty
    assert report.teams.loc[report.teams["team"] == "small-team", "suppressed"].all()
    assert report.outcomes["all"]["suppressed"].all()
    assert any("suppressed (n<5)" in m for m in report.messages)
    # A lower threshold opens it.
    opened = build_report(url, team="small-team", as_of=AS_OF, min_group_size=2)
    assert opened.counts["visible_learners"] == 3 and not opened.people.empty


def test_empty_store_gives_a_valid_report_with_a_message(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    report = build_report(url, out_dir=tmp_path / "out")
    assert report.empty and report.counts["events"] == 0
    assert "no events" in report.messages[0]
    assert (tmp_path / "out" / "report.html").is_file()
    assert (tmp_path / "out" / "people_skills.csv").is_file()
    assert report.summary()["messages"][0].startswith("no events")


def test_unknown_team_and_role(cohort_db: tuple[str, Any]) -> None:
    url, _ = cohort_db
    report = build_report(url, team="no-such-team", as_of=AS_OF)
    assert "no-such-team" in report.messages[0]
    with pytest.raises(NotFoundError) as info:
        build_report(url, role="astronaut")
    assert info.value.field == "role" and "copilot_builder" in (info.value.hint or "")


def test_role_override_and_roster(cohort_db: tuple[str, Any]) -> None:
    url, cohort = cohort_db
    forced = build_report(url, role="ml_engineer", as_of=AS_OF)
    assert set(forced.people["role"]) == {"ml_engineer"}
    one = cohort.roster[0]
    roster = {one["raw_id"]: "support_analyst"}  # raw ids are accepted and pseudonymised
    mapped = build_report(url, roles=roster, as_of=AS_OF)
    assert mapped.learners.set_index("learner").loc[one["learner"], "role"] == "support_analyst"
    bad = build_report(url, roles={one["raw_id"]: "astronaut"}, as_of=AS_OF)
    assert any("astronaut" in m for m in bad.messages)


def test_learner_view_shows_only_own_data(cohort_db: tuple[str, Any]) -> None:
    url, cohort = cohort_db
    me = next(r for r in cohort.roster if r["team"] != "small-team")
    other = next(r for r in cohort.roster if r["learner"] != me["learner"])
    mine = learner_view(url, requester=me["raw_id"], as_of=AS_OF)
    assert mine.scope == "learner"
    assert set(mine.people["learner"]) == {me["learner"]}
    assert set(mine.evidence["learner"]) == {me["learner"]}
    assert mine.teams.empty
    assert set(mine.trends["group"]) <= {me["learner"]}
    with pytest.raises(PolicyViolation) as info:
        learner_view(url, requester=me["raw_id"], learner=other["raw_id"])
    assert info.value.field == "learner"
    # Asking by pseudonym for oneself is the same person.
    same = learner_view(url, requester=me["learner"], learner=me["raw_id"], as_of=AS_OF)
    assert len(same.people) == len(mine.people)
    # A learner in a small team still sees their own data (suppression protects them from others).
    small = next(r for r in cohort.roster if r["team"] == "small-team")
    assert not learner_view(url, requester=small["raw_id"], as_of=AS_OF).people.empty


def test_outcome_metrics_from_telemetry(tmp_path: Path) -> None:
    members = [f"m{i}" for i in range(5)]
    events = []
    for i, m in enumerate(members):
        events += [
            task(m, "task_started", None, days=i),
            task(m, "task_failed", {"prompting": 1.0}, days=i, duration=100.0),
            task(m, "task_started", None, days=i + 1),
            task(m, "task_completed", {"prompting": 1.0}, days=i + 1, duration=200.0 + i),
            task(m, "task_completed", {"prompting": 1.0}, days=i + 30, duration=50.0),  # practice, not an attempt
            event("generation", m, days=i, **{"gen_ai.request.model": "gpt-4o-mini",
                                             "gen_ai.usage.input_tokens": 1000, "gen_ai.usage.output_tokens": 500}),
            event("generation", m, days=i, cost=0.5, **{"gen_ai.request.model": "x",
                                                       "gen_ai.usage.input_tokens": 10,
                                                       "gen_ai.usage.output_tokens": 0}),
            event("review", m, days=i + 1, ai_score=0.5, human_score=0.75, agreed=False),
            event("guardrail", m, days=i, check="pii", action="redact" if i < 2 else "allow", kinds=["email"]),
            score(m, "prompting", 0.75, days=i + 1),
        ]
    report = build_report(pd.concat([_frame(events)]), as_of="2026-03-01")
    row = report.outcomes["all"].iloc[0]
    assert row["learners"] == 5 and row["tasks"] == 5 and row["tasks_completed"] == 5
    assert row["completion_rate"] == 1.0
    assert row["attempts_per_task"] == pytest.approx(2.0)
    assert row["review_cycles_per_task"] == pytest.approx(1.0)
    assert row["guardrail_incidents"] == 2 and row["incidents_per_100_tasks"] == pytest.approx(40.0)
    assert row["tokens_per_task"] == pytest.approx(1510.0)
    mini = (1000 * 0.00015 + 500 * 0.0006) / 1000
    assert row["cost_per_task"] == pytest.approx(mini + 0.5)
    by_task = report.outcomes["task"].set_index("task")
    assert by_task.loc["pb/t1", "tasks"] == 5
    completed = [200.0, 201.0, 202.0, 203.0, 204.0, 50.0, 50.0, 50.0, 50.0, 50.0]
    assert row["median_time_to_complete_s"] == pytest.approx(float(pd.Series(completed).median()))


def _frame(events: list) -> pd.DataFrame:
    return pd.DataFrame([e.to_row() for e in events])


def test_report_accepts_frames_and_events(cohort_db: tuple[str, Any]) -> None:
    events = [score(f"l{i}", "prompting", 0.5 + i / 20) for i in range(6)]
    from_list = build_report(events, as_of="2026-02-01")
    from_frame = build_report(_frame(events), as_of="2026-02-01")
    assert from_list.people["level"].tolist() == from_frame.people["level"].tolist()
    assert set(from_list.people["learner"]) == {pseudonymize(f"l{i}") for i in range(6)}


def test_cached_report_is_shared_until_the_store_changes_or_the_ttl_passes() -> None:
    from workbench.skills.report import cached_report

    with open_store() as store:
        store.append_many([score(f"cache-{i}", "prompting", 0.8) for i in range(6)])
    first = cached_report()
    assert cached_report() is first  # same store, same count: the drill-downs read the same report
    assert cached_report(team="team-a") is not first  # keyed by team (and role)
    assert cached_report(role="copilot_builder") is not first
    assert cached_report(ttl_s=0.0) is not first  # expired
    again = cached_report()
    with open_store() as store:
        store.append_many([score("cache-new", "prompting", 0.4)])
    fresh = cached_report()
    assert fresh is not again and fresh.counts["events"] == again.counts["events"] + 1
