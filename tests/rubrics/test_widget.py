"""The review-queue widget: state in traits, actions as messages, logic in workbench.rubrics."""

from __future__ import annotations

import re
from pathlib import Path

from workbench.rubrics import CriterionScore, ReviewQueue, load_rubric
from workbench.widgets.review import FIELDS, ReviewWidget

STATIC = Path(__file__).resolve().parents[2] / "workbench" / "widgets" / "static"


def _fill(queue: ReviewQueue, n: int = 3) -> None:
    rubric = load_rubric("tone-policy")
    for i in range(n):
        verdict = CriterionScore(
            criterion="polite-tone", skill="copilot_building", scorer="judge", scorer_type="judge", raw_score=2,
            max_score=3, score=2 / 3, passed=False, confidence=0.34, rationale="Mostly polite.", weight=0.45,
            review_reason="low_confidence",
        )
        queue.add(rubric, "polite-tone", {"id": f"i{i}", "output": f"reply {i}", "input": "help?"}, verdict)


def test_fields_match_the_front_end() -> None:
    js = (STATIC / "review.js").read_text(encoding="utf-8")
    declared = re.search(r"export const FIELDS = \[(.*?)\];", js, re.S)
    assert declared is not None
    assert tuple(re.findall(r'"(\w+)"', declared.group(1))) == FIELDS
    for name in FIELDS:
        assert ReviewWidget.class_traits()[name].metadata.get("sync") is True
    assert (STATIC / "review.css").is_file()


def test_review_through_methods_and_messages(tmp_path: Path) -> None:
    queue = ReviewQueue(tmp_path / "q.db")
    _fill(queue)
    w = ReviewWidget(queue=queue, reviewer="rev")
    assert len(w.items) == 3 and w.index == 0 and w.current is not None
    assert w.current["item_id"] == "i0" and w.current["ai_score"] == 2
    assert {f["name"] for f in w.current["fields"]} == {"output", "input"}
    assert w.counts["pending"] == 3 and w.status == "3 pending"

    w.goto(2)
    assert w.current["item_id"] == "i2"
    w._on_action(w, {"action": "goto", "index": 1}, [])
    assert w.current["item_id"] == "i1"

    # Front-end messages: accept the current one, then a bad override, then a good one.
    w._on_action(w, {"action": "accept", "id": w.current["id"], "comment": "ok"}, [])
    assert w.last["status"] == "accepted" and w.last["item_id"] == "i1"
    assert len(w.items) == 2 and w.counts["accepted"] == 1
    current = w.current["id"]
    w._on_action(w, {"action": "override", "id": current, "score": 0, "comment": ""}, [])
    assert "comment" in w.error and w.counts["overridden"] == 0
    w._on_action(w, {"action": "override", "id": current, "score": None, "comment": "x"}, [])
    assert "choose a score" in w.error
    w._on_action(w, {"action": "override", "id": current, "score": 0, "comment": "rude"}, [])
    assert w.error == "" and w.last["human_score"] == 0 and w.counts["overridden"] == 1
    assert queue.get(current).reviewer == "rev"

    rows = {r["criterion"]: r for r in w.agreement}
    assert rows["polite-tone"]["n"] == 2 and rows["polite-tone"]["exact"] == 0.5

    w.accept()
    assert w.current is None and w.status == "nothing to review"
    assert w.accept() is None and w.error == "nothing to review"
    w._on_action(w, {"action": "dance"}, [])
    assert "unknown action" in w.error


def test_rubric_filter(tmp_path: Path) -> None:
    queue = ReviewQueue(tmp_path / "q.db")
    _fill(queue, 2)
    w = ReviewWidget(rubric="summary-quality", queue=queue)
    assert w.items == [] and w.current is None
    w.rubric = "tone-policy"
    assert len(w.items) == 2
