"""The review queue: persistence, accept/override with comment, telemetry, agreement per rubric/criterion."""

from __future__ import annotations

from pathlib import Path

import pytest

from workbench.errors import NotFoundError, ValidationError
from workbench.rubrics import CriterionScore, ReviewQueue, load_rubric
from workbench.telemetry import open_store


def _verdict(criterion: str, raw: int, max_score: int = 3, confidence: float = 0.33) -> CriterionScore:
    return CriterionScore(
        criterion=criterion, skill="copilot_building", scorer="judge", scorer_type="judge", raw_score=raw,
        max_score=max_score, score=raw / max_score, passed=raw / max_score >= 0.7, confidence=confidence,
        rationale="The reply is polite.", weight=0.45, review_reason="low_confidence",
    )


def test_queue_persists_and_redacts(tmp_path: Path) -> None:
    rubric = load_rubric("tone-policy")
    path = tmp_path / "q.db"
    with ReviewQueue(path) as queue:
        added = queue.add(rubric, "polite-tone", {"id": "a1", "output": "Write to ana.lima@example.com"},
                          _verdict("polite-tone", 2), subject="learner")
        assert added.status == "pending" and added.reason == "low_confidence"
    with ReviewQueue(path) as queue:  # a new connection sees it
        [item] = queue.pending()
        assert item.id == added.id and item.item_id == "a1" and item.subject == "learner"
        assert "ana.lima@example.com" not in item.item["output"] and "[EMAIL]" in item.item["output"]
        assert item.criterion_description.startswith("Polite")
        assert [lv["score"] for lv in item.levels] == [0, 1, 2, 3]
        assert (item.ai_score, item.max_score, item.ai_rationale) == (2, 3, "The reply is polite.")
        assert item.pass_threshold == 0.7
        assert queue.counts() == {"pending": 1, "accepted": 0, "overridden": 0}


def test_default_queue_lives_in_the_data_dir(settings) -> None:  # type: ignore[no-untyped-def]
    with ReviewQueue() as queue:
        assert queue.path == settings.data_dir / "reviews.db"


def test_accept_and_override_write_review_and_human_score_events(tmp_path: Path) -> None:
    rubric = load_rubric("tone-policy")
    with ReviewQueue(tmp_path / "q.db") as queue:
        a = queue.add(rubric, "polite-tone", {"id": "a", "output": "Hi"}, _verdict("polite-tone", 2))
        b = queue.add(rubric, "polite-tone", {"id": "b", "output": "Go away"}, _verdict("polite-tone", 2))
        accepted = queue.accept(a.id, comment="fine", reviewer="rev1")
        assert accepted.status == "accepted" and accepted.human_score == 2 and accepted.agreed
        with pytest.raises(ValidationError, match="needs a comment"):
            queue.override(b.id, 0, comment="  ")
        with pytest.raises(ValidationError) as info:
            queue.override(b.id, 7, comment="rude")
        assert info.value.field == "score" and "0 to 3" in (info.value.hint or "")
        overridden = queue.override(b.id, 0, comment="Dismissive, not polite.", reviewer="rev1")
        assert overridden.status == "overridden" and overridden.human_score == 0 and overridden.agreed is False
        assert queue.counts() == {"pending": 0, "accepted": 1, "overridden": 1}
        with pytest.raises(NotFoundError):
            queue.get("nope")
    with open_store() as store:
        reviews = store.query(kind="review")
        human = [e for e in store.query(kind="score") if e.attributes["scorer"] == "human"]
    assert len(reviews) == 2 and len(human) == 2
    by_item = {e.attributes["item"]: e.attributes for e in reviews}
    assert by_item["b"] == {"rubric": "tone-policy", "criterion": "polite-tone", "item": "b", "ai_score": 2,
                            "human_score": 0, "agreed": False, "comment": "Dismissive, not polite."}
    assert by_item["a"]["agreed"] is True
    hb = next(e.attributes for e in human if e.attributes["item"] == "b")
    assert hb["score"] == 0.0 and hb["passed"] is False and hb["confidence"] == 1.0 and hb["skill"] == "copilot_building"


def test_agreement_per_rubric_and_criterion(tmp_path: Path) -> None:
    rubric = load_rubric("tone-policy")
    # (AI, human) pairs for the judge criterion: the worked example of test_agreement, rows AI, columns human.
    pairs = [(0, 0)] * 3 + [(0, 1)] + [(1, 0)] + [(1, 1)] * 2 + [(1, 2)] + [(2, 2)] * 2
    with ReviewQueue(tmp_path / "q.db") as queue:
        for n, (ai, human) in enumerate(pairs):
            review = queue.add(rubric, "polite-tone", {"id": f"i{n}", "output": "x"}, _verdict("polite-tone", ai))
            if ai == human:
                queue.accept(review.id, record=False)
            else:
                queue.override(review.id, human, comment="adjusted", record=False)
        pii = queue.add(rubric, "no-pii", {"id": "p", "output": "x"}, _verdict("no-pii", 1, max_score=1))
        queue.accept(pii.id, record=False)
        queue.add(rubric, "polite-tone", {"id": "pending", "output": "x"}, _verdict("polite-tone", 1))
        rows = {(r.rubric, r.criterion): r for r in queue.agreement()}
    tone = rows[("tone-policy", "polite-tone")]
    assert tone.n == 10 and tone.exact == pytest.approx(0.7)
    # Labels span all 4 levels (0..3), level 3 unused: same kappa as the 3x3 worked example.
    assert tone.kappa_linear == pytest.approx(28 / 43)
    assert tone.kappa_quadratic == pytest.approx(16 / 21)
    assert rows[("tone-policy", "no-pii")].n == 1 and rows[("tone-policy", "no-pii")].kappa_quadratic is None
    pooled = rows[("tone-policy", None)]
    assert pooled.n == 11 and pooled.exact == pytest.approx(8 / 11)


def test_queues_on_one_file_share_the_process_writer_connection(tmp_path: Path) -> None:
    from workbench.errors import StoreError

    rubric = load_rubric("tone-policy")
    first, second = ReviewQueue(tmp_path / "q.db"), ReviewQueue(tmp_path / "q.db")
    assert first._writer is second._writer and first._writer is not None
    conn = first._writer.connection()
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL: a decision survives a power cut
    added = first.add(rubric, "polite-tone", {"id": "a", "output": "Hi"}, _verdict("polite-tone", 2))
    first.close()
    assert [r.id for r in second.pending()] == [added.id]  # the other queue still works
    with pytest.raises(StoreError, match="closed"):
        first.pending()
    second.close()
