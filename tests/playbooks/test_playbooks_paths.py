"""Paths and next steps: a role's ordered path, the next playbook for the largest gap, and team recommendations."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from workbench.errors import NotFoundError
from workbench.playbooks import discover_playbooks
from workbench.playbooks.paths import learner_path, team_recommendations
from workbench.skills import load_taxonomy
from workbench.telemetry import Event, open_store, pseudonymize

NOW = datetime.now(timezone.utc)


def _finish(learner: str, playbook: str, team: str, score: float, days_ago: float = 1.0) -> list[Event]:
    """Every task of a built-in playbook started and completed, each with a rubric score on its skills."""
    [pb] = [p for p in discover_playbooks() if p.id == playbook]
    events: list[Event] = []
    t = NOW - timedelta(days=days_ago)
    for i, spec in enumerate(pb.manifest.tasks):
        when = t + timedelta(minutes=i)
        skills = dict(spec.skills or pb.manifest.skills)
        common: dict[str, Any] = {
            "learner": learner,
            "team": team,
            "playbook": playbook,
            "task": spec.id,
            "run_id": f"{learner}-{playbook}",
        }
        events.append(Event(kind="task_started", time=when, attributes={"skills": skills}, **common))
        events.append(
            Event(
                kind="task_completed",
                time=when + timedelta(seconds=30),
                duration_s=30.0,
                attributes={"skills": skills},
                **common,
            )
        )
        for skill in skills:
            events.append(
                Event(
                    kind="score",
                    time=when + timedelta(seconds=31),
                    **common,
                    attributes={
                        "rubric": "r",
                        "rubric_version": 1,
                        "criterion": skill,
                        "skill": skill,
                        "score": score,
                        "scorer": "deterministic",
                        "confidence": 1.0,
                        "subject": "learner",
                    },
                )
            )
    return events


def test_the_shipped_roles_have_paths_of_installed_playbooks() -> None:
    installed = {pb.id for pb in discover_playbooks()}
    for role in load_taxonomy().roles:
        assert role.path, role.id
        assert set(role.path) <= installed, (role.id, set(role.path) - installed)


def test_a_learner_sees_their_path_their_gaps_and_the_next_playbook_for_the_largest_gap() -> None:
    store = open_store()
    store.append_many(_finish("ana", "prompting-fundamentals", "support", 1.0))
    path = learner_path("ana", role="support_analyst", source=store)
    assert path.learner == pseudonymize("ana") and path.role == "support_analyst"
    assert [s.playbook for s in path.steps] == list(load_taxonomy().role("support_analyst").path)
    first, second, *_ = path.steps
    assert first.status == "done" and first.recommended_first == ()
    assert second.status == "not_started" and second.recommended_first == ()
    # Later steps recommend (never require) the unfinished ones before them.
    assert path.steps[2].recommended_first == (second.playbook,)
    # The next playbook trains the skill with the largest gap, and is not one already done.
    assert path.next is not None and path.next.playbook != "prompting-fundamentals"
    largest = max(path.gaps.values())
    assert path.next.gap == largest and path.gaps[path.next.skill] == largest
    [next_pb] = [p for p in discover_playbooks() if p.id == path.next.playbook]
    assert next_pb.manifest.skills.get(path.next.skill, 0) > 0
    # Prompting was just shown at the top level: its gap is smaller than a skill never practised.
    assert path.gaps["prompting"] < path.gaps["critique_review"]
    assert path.to_dict()["next"]["playbook"] == path.next.playbook
    store.close()


def test_without_evidence_every_gap_is_the_full_target_and_nothing_is_done() -> None:
    store = open_store()
    path = learner_path("newcomer", role="copilot_builder", source=store)
    targets = load_taxonomy().role("copilot_builder").targets
    assert path.gaps == {skill: float(level) for skill, level in targets.items()}
    assert {s.status for s in path.steps} == {"not_started"}
    assert path.next is not None and path.next.gap == max(targets.values())
    store.close()


def test_no_role_means_no_path_and_an_unknown_role_is_a_clear_error() -> None:
    store = open_store()
    path = learner_path("ana", source=store)
    assert path.steps == [] and path.gaps == {} and path.next is None
    with pytest.raises(NotFoundError, match="no-such-role"):
        learner_path("ana", role="no-such-role", source=store)
    store.close()


def test_team_recommendations_rank_by_gap_closed_per_learner_hour_and_skip_what_people_finished() -> None:
    store = open_store()
    learners = [f"p{i}" for i in range(6)]
    for who in learners:
        store.append_many(_finish(who, "prompting-fundamentals", "support", 0.9))
    roles = dict.fromkeys(learners, "support_analyst")
    recs = team_recommendations(source=store, roles=roles, limit=10)
    assert set(recs) == {"support"}
    ranked = recs["support"]
    assert ranked and "prompting-fundamentals" not in {r.playbook for r in ranked}  # everyone finished it
    assert [r.per_hour for r in ranked] == sorted((r.per_hour for r in ranked), reverse=True)
    top = ranked[0]
    assert top.learners == 6 and top.learner_hours == pytest.approx(6 * _minutes(top.playbook) / 60, abs=1e-3)
    assert top.gap_closed == pytest.approx(sum(top.skills.values()), abs=1e-3)
    store.close()


def test_small_teams_get_no_recommendation() -> None:
    store = open_store()
    store.append_many(_finish("solo", "prompting-fundamentals", "tiny-team", 0.9))
    assert team_recommendations(source=store, roles={"solo": "support_analyst"}) == {}
    store.close()


def _minutes(playbook: str) -> int:
    [pb] = [p for p in discover_playbooks() if p.id == playbook]
    return pb.manifest.estimated_minutes


def test_cli_path_and_recommend(capsys: pytest.CaptureFixture[str]) -> None:
    from workbench.cli import main

    store = open_store()
    for who in [f"p{i}" for i in range(5)]:
        store.append_many(_finish(who, "prompting-fundamentals", "support", 0.9))
    store.close()
    assert main(["playbook", "path", "--learner", "p0", "--role", "support_analyst", "--json"]) in (0, None)
    shown = json.loads(capsys.readouterr().out)
    assert shown["steps"][0] == {**shown["steps"][0], "playbook": "prompting-fundamentals", "status": "done"}
    assert shown["next"]["playbook"] != "prompting-fundamentals"
    assert main(["playbook", "path", "--learner", "p0", "--role", "support_analyst"]) in (0, None)
    text = capsys.readouterr().out
    assert "path for role 'support_analyst'" in text and f"next: {shown['next']['playbook']}" in text
    roster = Path("roster.csv")
    roster.write_text("learner,role\n" + "".join(f"p{i},support_analyst\n" for i in range(5)), encoding="utf-8")
    assert main(["playbook", "recommend", "--roster", str(roster), "--json"]) in (0, None)
    teams = json.loads(capsys.readouterr().out)["teams"]
    assert list(teams) == ["support"] and teams["support"][0]["learners"] == 5
    # A user's mistake is a clear error (exit 2), not a traceback.
    try:
        code = main(["playbook", "path", "--learner", "p0", "--role", "no-such-role"])
    except SystemExit as exc:
        code = int(exc.code or 0)
    captured = capsys.readouterr()
    assert code == 2 and "no-such-role" in captured.err and "Traceback" not in captured.err


def test_the_demo_history_shows_several_teams_roles_and_weeks_and_a_next_playbook_per_team() -> None:
    from rich.console import Console

    from workbench.cli.demo import seed_history, show_recommendations

    history = seed_history(Console(quiet=True))
    roles = history["roles"]
    assert history["learners"] >= 50 and len(history["teams"]) >= 5 and len(set(roles.values())) >= 3
    store = open_store()
    first, last = store.time_range()
    assert first is not None and last is not None and (last - first).days >= 8 * 7  # several weeks (six months)
    store.close()
    recs = show_recommendations(Console(quiet=True), roles)
    assert "small-team" in history["teams"] and "small-team" not in recs  # below the minimum group size
    assert len(recs) >= 4 and all(rows for rows in recs.values())
    someone = next(iter(roles))
    path = learner_path(someone, role=roles[someone])
    assert path.steps and path.next is not None and path.gaps
