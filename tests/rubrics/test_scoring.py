"""score_items / score_file: per-criterion verdicts, weighted totals, telemetry and input validation."""

from __future__ import annotations

from pathlib import Path

import pytest

from workbench.errors import NotFoundError, ValidationError
from workbench.rubrics import load_items, load_rubric, score_file, score_items, summarize
from workbench.telemetry import open_store


def test_scores_items_with_weights_and_threshold(data_dir: Path) -> None:
    scored = score_file(data_dir / "rubric_valid.yaml", data_dir / "rubric_items.jsonl", record=False)
    assert [s.item for s in scored] == ["r1", "r2", "r3"]
    r1, r2, r3 = scored
    assert r1.score == pytest.approx(1.0) and r1.passed
    # r2: no ticket (0 of weight 1) but short (1 of weight 2): 2/3 >= 0.5
    assert r2.score == pytest.approx(2 / 3) and r2.passed
    assert r2.criterion("mentions-ticket").raw_score == 0 and not r2.criterion("mentions-ticket").passed
    # r3: ticket (1) but too long (0 of weight 2): 1/3 < 0.5
    assert r3.score == pytest.approx(1 / 3) and not r3.passed
    c = r3.criterion("short")
    assert (c.scorer, c.scorer_type, c.skill, c.max_score, c.confidence) == ("deterministic", "length", "prompting", 1, 1.0)
    assert "words" in c.rationale
    summary = summarize(scored)
    assert summary["items"] == 3 and summary["passed"] == 2
    assert summary["criteria"]["short"]["mean_score"] == pytest.approx(2 / 3)
    data = r1.to_dict()
    assert data["criteria"][0]["criterion"] == "mentions-ticket" and data["confidence"] == 1.0


def test_required_criterion_gates_the_item() -> None:
    rubric = load_rubric("tone-policy")
    items = [{"id": "x", "output": "Please mail ana.lima@example.com, we are happy to help."}]
    scored = score_items(rubric.model_copy(update={"criteria": rubric.criteria[:3], "total_weight": 0.55}),
                         items, record=False)
    # 0.30 of 0.55 passes the 0.7 threshold only without the gate: the PII criterion is required.
    assert scored[0].criterion("no-pii").raw_score == 0
    assert not scored[0].passed


def test_every_score_is_a_telemetry_event(data_dir: Path) -> None:
    score_file(data_dir / "rubric_valid.yaml", data_dir / "rubric_items.jsonl", subject="learner", task="critique")
    with open_store() as store:
        events = store.query(kind="score")
    assert len(events) == 3 * (2 + 1)
    per_criterion = [e for e in events if e.attributes["criterion"] is not None]
    overall = [e for e in events if e.attributes["criterion"] is None]
    assert len(per_criterion) == 6 and len(overall) == 3
    first = next(e for e in per_criterion if e.attributes["item"] == "r3" and e.attributes["criterion"] == "short")
    assert first.task == "critique"
    attrs = first.attributes
    for key in ("rubric", "rubric_version", "criterion", "skill", "score", "raw_score", "max_score", "passed",
                "scorer", "confidence", "item", "subject"):
        assert key in attrs
    assert attrs["rubric"] == "test-support-reply" and attrs["rubric_version"] == 2
    assert attrs["skill"] == "prompting" and attrs["subject"] == "learner"
    assert attrs["score"] == 0.0 and attrs["passed"] is False and attrs["scorer"] == "deterministic"
    r1 = next(e for e in overall if e.attributes["item"] == "r1")
    assert r1.attributes["score"] == pytest.approx(1.0) and r1.attributes["passed"] is True
    assert r1.attributes["skills"] == {"copilot_building": pytest.approx(1 / 3), "prompting": pytest.approx(2 / 3)}


def test_same_rubric_scores_copilot_and_learner_work(data_dir: Path) -> None:
    items = [{"id": "model-out", "output": "TICKET-1 fixed."},
             {"id": "ana-submission", "output": "TICKET-2 fixed.", "subject": "learner"}]
    scored = score_items(data_dir / "rubric_valid.yaml", items, record=False)
    assert [s.subject for s in scored] == ["copilot", "learner"]
    assert scored[0].score == scored[1].score


def test_input_line_without_a_needed_field(data_dir: Path) -> None:
    path = data_dir / "rubric_items_missing_field.jsonl"
    with pytest.raises(ValidationError) as info:
        score_file(data_dir / "rubric_valid.yaml", path, record=False)
    err = info.value
    assert err.file == str(path) and err.line == 3 and err.field == "output"
    assert "'r3'" in err.message and "mentions-ticket" in err.message
    assert "output" in (err.hint or "")


def test_plain_items_errors_name_the_item_number(data_dir: Path) -> None:
    with pytest.raises(ValidationError) as info:
        score_items(data_dir / "rubric_valid.yaml", [{"output": "x"}, {"text": "y"}], record=False)
    assert "item 2" in info.value.message and info.value.field == "output" and info.value.line is None


def test_bad_jsonl(tmp_path: Path) -> None:
    path = tmp_path / "items.jsonl"
    path.write_text('{"id": 1, "output": "ok"}\n\n{"id": 2, "output": oops}\n', encoding="utf-8")
    with pytest.raises(ValidationError) as info:
        load_items(path)
    assert info.value.line == 3 and "not valid JSON" in info.value.message
    path.write_text('{"id": 1}\n[1, 2]\n', encoding="utf-8")
    with pytest.raises(ValidationError) as info:
        load_items(path)
    assert info.value.line == 2 and "not a JSON object" in info.value.message
    with pytest.raises(NotFoundError):
        load_items(tmp_path / "missing.jsonl")
    path.write_text('{"id": "a", "output": "x"}\n\n\n{"id": "b", "output": "y"}\n', encoding="utf-8")
    items, lines = load_items(path)
    assert [i["id"] for i in items] == ["a", "b"] and lines == [1, 4]


def test_scorer_error_on_one_item_is_flagged_not_fatal(tmp_path: Path) -> None:
    rubric = tmp_path / "r.yaml"
    rubric.write_text(
        "id: per-item-schema\nversion: 1\ntitle: T\ncriteria:\n  - id: valid\n    description: d\n    weight: 1\n"
        "    skill: structured_output\n    levels: [{score: 0, descriptor: n}, {score: 1, descriptor: y}]\n"
        "    scorer: {type: json_schema, schema_field: schema}\n",
        encoding="utf-8",
    )
    items = [{"id": "ok", "output": "{}", "schema": {"type": "object"}},
             {"id": "bad", "output": "{}", "schema": "{not json"}]
    scored = score_items(rubric, items, record=False, review_queue=False)
    assert scored[0].criteria[0].raw_score == 1
    bad = scored[1].criteria[0]
    assert bad.raw_score == 0 and bad.review_reason == "scorer_error" and bad.confidence == 0.0
