"""Synthetic cohorts: contract-shaped events, exact totals, teams, roles, learning curves, drop-outs."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from workbench.errors import ValidationError
from workbench.playbooks import task_skill_weights
from workbench.skills import CohortSpec, generate_events, load_cohort_spec, load_taxonomy
from workbench.telemetry import Event, is_pseudonym

END = datetime(2026, 3, 1, tzinfo=timezone.utc)


def _events(**kw: Any) -> tuple[list[Event], Any]:
    batches, cohort = generate_events(CohortSpec(end=END, **kw), playbooks=task_skill_weights(), batch_size=500)
    events = [e for batch in batches for e in batch]
    return events, cohort


def test_events_follow_the_telemetry_contract() -> None:
    events, cohort = _events(learners=20, seed=3)
    assert cohort.events == len(events) > 0
    kinds = Counter(e.kind.value for e in events)
    assert {"task_started", "task_completed", "score", "generation"} <= set(kinds)
    for e in events[:400]:
        again = Event.model_validate(e.model_dump())  # full validation accepts what the fast path built
        assert again == e
        assert is_pseudonym(e.learner) and e.time.tzinfo is not None and e.time <= END
    scores = [e for e in events if e.kind == "score" and e.attributes["criterion"] is not None]
    a = scores[0].attributes
    assert {"rubric", "rubric_version", "criterion", "skill", "score", "raw_score", "max_score", "passed",
            "scorer", "confidence", "item", "subject"} <= set(a)
    assert 0 <= a["score"] <= 1 and a["scorer"] in {"deterministic", "reference", "judge", "human"}
    skills = set(load_taxonomy().skill_ids)
    assert all(e.attributes["skill"] in skills for e in scores)
    done = next(e for e in events if e.kind == "task_completed")
    assert set(done.attributes["skills"]) <= skills and done.duration_s > 0
    gen = next(e for e in events if e.kind == "generation")
    assert gen.attributes["gen_ai.usage.input_tokens"] > 0 and "cost" in gen.attributes
    started = next(e for e in events if e.kind == "task_started")
    assert started.attributes["role"] in {r["role"] for r in cohort.roster}
    assert len({e.id for e in events}) == len(events)


def test_exact_totals_teams_roles_and_dropouts() -> None:
    events, cohort = _events(learners=60, events=3_000, seed=5, dropout=0.3)
    assert len(events) == 3_000
    teams = Counter(r["team"] for r in cohort.roster)
    assert teams["small-team"] == 3
    assert min(n for t, n in teams.items() if t != "small-team") >= 6
    assert any(r["dropped_out"] for r in cohort.roster)
    assert {r["role"] for r in cohort.roster} <= {"copilot_builder", "ml_engineer", "support_analyst",
                                                  "learning_author"}
    assert set(cohort.roles()) == {r["learner"] for r in cohort.roster}


def test_same_seed_same_cohort() -> None:
    a, _ = _events(learners=10, seed=9)
    b, _ = _events(learners=10, seed=9)
    assert [(e.kind, e.learner, e.time, e.attributes) for e in a] == [(e.kind, e.learner, e.time, e.attributes)
                                                                      for e in b]


def test_learning_curves_show_in_scores() -> None:
    events, _ = _events(learners=30, events=6_000, seed=2, months=8, dropout=0.0)
    scores = sorted((e.time, e.attributes["score"]) for e in events
                    if e.kind == "score" and e.attributes["criterion"] is not None)
    half = len(scores) // 2
    early = sum(s for _, s in scores[:half]) / half
    late = sum(s for _, s in scores[half:]) / (len(scores) - half)
    assert late > early


def test_unknown_skills_can_be_injected() -> None:
    events, _ = _events(learners=10, seed=1, unknown_skills=("astrology",), unknown_rate=0.5)
    assert any(e.kind == "score" and e.attributes.get("skill") == "astrology" for e in events)


def test_cohort_spec_files(tmp_path: Path) -> None:
    spec = load_cohort_spec()
    assert spec.learners == 60 and spec.small_team
    bad = tmp_path / "c.yaml"
    bad.write_text("learners: -3\n")
    with pytest.raises(ValidationError) as info:
        load_cohort_spec(bad)
    assert info.value.field == "learners" and info.value.file == str(bad)


def test_a_cohort_practises_the_playbooks_it_is_given() -> None:
    lessons = {
        "my-lesson": {"draft": {"prompting": 1.0}, "mystery": {"astrology": 1.0}},  # unknown skill: left out
        "empty": {"no-skills": {}},
    }
    batches, cohort = generate_events(CohortSpec(end=END, learners=8, seed=4), playbooks=lessons, batch_size=500)
    events = [e for batch in batches for e in batch]
    assert cohort.playbooks["my-lesson"] == {"draft": {"prompting": 1.0}}
    assert "empty" not in cohort.playbooks
    assert all(pb.startswith("practice-") for pb in cohort.playbooks if pb != "my-lesson")
    assert "practise-prompting" not in {t for tasks in cohort.playbooks.values() for t in tasks}  # covered
    assert any(e.playbook == "my-lesson" and e.task == "draft" for e in events)
    _, generic = generate_events(CohortSpec(end=END, learners=8, seed=4), batch_size=500)
    assert all(pb.startswith("practice-") for pb in generic.playbooks)


def test_the_built_in_playbooks_task_skills_come_from_their_manifests() -> None:
    from workbench.playbooks import discover_playbooks

    weights = task_skill_weights()
    assert weights, "the built-in pack maps tasks to skills"
    catalog = discover_playbooks()
    for playbook_id, tasks in weights.items():
        manifest = catalog.playbooks[playbook_id].manifest
        assert tasks == {t.id: dict(t.skills) for t in manifest.tasks if t.skills}
    assert task_skill_weights([]) == {}


def test_the_skills_package_imports_nothing_from_playbooks() -> None:
    import ast

    import workbench.skills

    root = Path(workbench.skills.__file__).parent
    found = []
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            found += [f"{path.name}: {n}" for n in names if n.startswith("workbench.playbooks")]
    assert not found, found
