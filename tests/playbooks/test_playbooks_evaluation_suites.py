"""The evaluation-suites playbook's rubrics grade what its tasks claim: deterministic scorers, no model, fast.

The headless run of the lesson itself (author and learner versions) is the slow built-in test; these pin the
rubrics the graded tasks rely on, so a rubric edit that lets bad work through fails here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from workbench.playbooks import builtin_pack_dir, get_playbook
from workbench.playbooks.answers import load_answer_bank
from workbench.rubrics import ItemScore, load_rubric, score_items

PLAYBOOK = builtin_pack_dir() / "evaluation-suites"


def _score(rubric: str, item: dict[str, Any]) -> ItemScore:
    [scored] = score_items(PLAYBOOK / "rubrics" / rubric, [item], record=False, review_queue=False)
    return scored


@pytest.fixture(autouse=True)
def _data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKBENCH_DATA_DIR", str(tmp_path))


def test_graded_tasks_name_their_rubrics_and_skills() -> None:
    manifest = get_playbook(PLAYBOOK).manifest
    graded = {t.id: t for t in manifest.tasks if t.rubric}
    assert len(graded) >= 3
    for skill in ("retrieval_evaluation", "retrieval_design", "structured_output"):
        assert any(t.skills.get(skill, 0) > 0 for t in graded.values()), skill
    for spec in graded.values():
        assert load_rubric(PLAYBOOK / spec.rubric).criteria


def test_answer_json_rubric_separates_schema_valid_from_merely_json() -> None:
    page = {"source": "collections/collections.md"}
    good = _score("answer-json.yaml", {"output": '{"answer": "deque", "source": "collections/collections.md"}',
                                       "reference": page})
    extra_key = _score("answer-json.yaml", {"output": '{"answer": "deque", "source": "x", "type": "Question"}',
                                            "reference": page})
    prose = _score("answer-json.yaml", {"output": "The container is the Docker container.", "reference": page})
    wrong_page = _score("answer-json.yaml", {"output": '{"answer": "list", "source": "list"}', "reference": page})
    assert good.passed and good.criterion("cites-retrieved-page").passed
    assert not extra_key.criterion("valid-schema").passed and not extra_key.passed
    assert not prose.passed
    assert wrong_page.criterion("valid-schema").passed and not wrong_page.criterion("cites-retrieved-page").passed


def test_golden_item_rubric_rejects_keywords_and_bad_page_ids() -> None:
    record = {"id": "g1", "question": "How do I keep only the last lines of a log in memory?",
              "relevant": ["collections/collections.md"], "answer": "deque(maxlen=n)"}
    assert _score("golden-item.yaml", {**record, "record": record}).passed
    keyword = {**record, "question": "deque"}
    assert not _score("golden-item.yaml", {**keyword, "record": keyword}).passed
    bad_id = {**record, "relevant": ["collections"]}
    assert not _score("golden-item.yaml", {**bad_id, "record": bad_id}).passed


def test_retrieval_decision_rubric_needs_a_complete_record_and_a_reasoned_verdict() -> None:
    reason = "hybrid RRF moves nDCG from 0.957 to 0.950 and recall@5 stays 0.957; q169 regresses"
    decision = {"baseline": "v1-bm25", "candidate": "v2-hybrid", "delta_ndcg": -0.007, "delta_recall": 0.0,
                "regressions": ["q169"], "ship": False, "reason": reason}
    assert _score("retrieval-decision.yaml", {"decision": decision, "reason": reason}).passed
    partial = {"ship": True, "reason": reason}
    assert not _score("retrieval-decision.yaml", {"decision": partial, "reason": reason}).passed
    vague = {**decision, "reason": "the candidate looks better"}
    assert not _score("retrieval-decision.yaml", {"decision": vague, "reason": vague["reason"]}).passed


def test_regression_report_rubric_fails_the_answer_banks_poor_report_and_personal_data() -> None:
    bank = load_answer_bank(PLAYBOOK)
    assert bank is not None
    poor = next(a for a in bank.exercises["regression-report"] if a.quality == "poor")
    poor_report = poor.code.split('"')[1]  # report = "<text>"
    assert not _score("regression-report.yaml", {"output": poor_report}).passed
    report = ("Baseline v1-bm25 against candidate v2-hybrid on 24 questions: nDCG 0.972 -> 0.950, recall@5 0.957 "
              "-> 0.957, one regressed question (q169). JSON valid rate 0.00 -> 1.00 after the prompt fix. The "
              "grader's agreement with the reviewer is 1.00 (kappa 1.00), the LLM judge's 0.62 (kappa 0.00). "
              "Verdict: no-go.")
    assert _score("regression-report.yaml", {"output": report}).passed
    leaky = report + " Questions to alex.miller@example.com."
    assert not _score("regression-report.yaml", {"output": leaky}).passed


def test_judge_rubric_is_one_binary_judge_criterion() -> None:
    rubric = load_rubric(PLAYBOOK / "rubrics" / "judge-acceptable.yaml")
    [criterion] = rubric.criteria
    assert criterion.scorer.type == "judge" and criterion.level_scores == [0, 1]
