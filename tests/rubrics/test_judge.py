"""The LLM judge in scoring: k seeded samples, agreement as confidence, review routing, endpoints."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

from workbench.rubrics import ReviewQueue, load_rubric, score_items
from workbench.rubrics.judge import JudgeSample, aggregate, judge_messages, run_judge
from workbench.telemetry import open_store

ITEMS = [
    {"id": "kind", "output": "Happy to help! Open Settings, choose Printers and add the printer by its floor name."},
    {"id": "rude", "output": "Go away and read the manual."},
    {"id": "short", "output": "Restart it."},
]


def _judge_only(rubric_id: str, criterion: str, **scorer: Any):  # type: ignore[no-untyped-def]
    rubric = load_rubric(rubric_id)
    crit = rubric.criterion(criterion)
    crit = crit.model_copy(update={"weight": 1.0, "scorer": crit.scorer.model_copy(update=scorer)})
    return rubric.model_copy(update={"criteria": (crit,), "total_weight": 1.0})


def test_aggregate_mode_and_confidence() -> None:
    s = [JudgeSample("", 2, "a"), JudgeSample("", 2, "b"), JudgeSample("", 1, "c")]
    assert aggregate(s, 3) == (2, pytest.approx(2 / 3), "a")
    tie = [JudgeSample("", 3, "x"), JudgeSample("", 1, "y")]
    assert aggregate(tie, 2)[:2] == (1, 0.5)  # ties go to the lower score
    invalid = [JudgeSample("", None, None, "not JSON"), JudgeSample("", 2, "ok")]
    assert aggregate(invalid, 2) == (2, 0.5, "ok")  # an invalid sample lowers confidence
    score, confidence, why = aggregate([JudgeSample("x", None, None, "not JSON: nope")], 1)
    assert score is None and confidence == 0.0 and "no valid judge answer" in why


def test_judge_scores_with_confidence_and_telemetry(judge_model) -> None:  # type: ignore[no-untyped-def]
    rubric = _judge_only("tone-policy", "polite-tone", k=3)
    scored = score_items(rubric, ITEMS, backend=judge_model, review_queue=False, subject="copilot")
    for item in scored:
        [c] = item.criteria
        assert c.scorer == "judge" and c.scorer_type == "judge"
        assert 0 <= c.raw_score <= 3 and c.max_score == 3
        assert c.confidence in (pytest.approx(1 / 3), pytest.approx(2 / 3), 1.0)
        assert len(c.details["samples"]) == 3 and c.details["valid"] == 3
        assert c.rationale
    again = score_items(rubric, ITEMS, backend=judge_model, record=False, review_queue=False)
    assert [i.criteria[0].details["samples"] for i in again] == [i.criteria[0].details["samples"] for i in scored]
    with open_store() as store:
        events = [e for e in store.query(kind="score") if e.attributes["criterion"] == "polite-tone"]
    assert len(events) == 3 and all(e.attributes["scorer"] == "judge" for e in events)
    assert {e.attributes["confidence"] for e in events} <= {1 / 3, 2 / 3, 1.0}


def test_low_confidence_goes_to_the_review_queue(judge_model, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    # min_confidence 1.0: any disagreement among the k samples sends the verdict to a human.
    rubric = _judge_only("tone-policy", "polite-tone", k=4, temperature=1.5, min_confidence=1.0)
    queue = ReviewQueue(tmp_path / "q.db")
    scored = score_items(rubric, ITEMS, backend=judge_model, record=False, review_queue=queue)
    flagged = [i for i in scored if i.criteria[0].needs_review]
    assert flagged, "a hot sampler should disagree with itself at least once"
    pending = queue.pending()
    assert {p.item_id for p in pending} == {i.item for i in flagged}
    for p in pending:
        assert p.reason == "low_confidence" and p.confidence < 1.0 and p.criterion == "polite-tone"
        match = next(i for i in flagged if i.item == p.item_id)
        assert match.criteria[0].review_id == p.id


def test_greedy_judge_is_one_sample_and_k_override(judge_model) -> None:  # type: ignore[no-untyped-def]
    greedy = _judge_only("tone-policy", "polite-tone", temperature=0.0, k=5)
    [item] = score_items(greedy, ITEMS[:1], backend=judge_model, record=False, review_queue=False)
    assert len(item.criteria[0].details["samples"]) == 1 and item.criteria[0].confidence == 1.0
    sampled = _judge_only("tone-policy", "polite-tone")
    [item] = score_items(sampled, ITEMS[:1], backend=judge_model, k=2, record=False, review_queue=False)
    assert len(item.criteria[0].details["samples"]) == 2


def test_unconstrained_judge_invalid_output_is_flagged(judge_model) -> None:  # type: ignore[no-untyped-def]
    rubric = load_rubric("tone-policy")
    crit = rubric.criterion("polite-tone")
    convs = [judge_messages(crit, item, crit.scorer) for item in ITEMS]  # type: ignore[arg-type]
    samples = run_judge(judge_model, convs, crit.level_scores, k=2, temperature=1.0, constrained=False,
                        max_rationale=8)
    # With an 8-character cap the budget is too short for the model's usual rationales: some must fail,
    # and each failure says why.
    flat = [s for g in samples for s in g]
    assert any(not s.valid for s in flat)
    assert all(s.error for s in flat if not s.valid)


def test_long_items_are_cut_to_fit_the_context(judge_model) -> None:  # type: ignore[no-untyped-def]
    rubric = _judge_only("summary-quality", "coverage", k=1, temperature=0.0, max_field_chars=100_000)
    item = {"id": "long", "input": "word " * 3000, "output": "A summary."}
    [scored] = score_items(rubric, [item], backend=judge_model, record=False, review_queue=False)
    assert scored.criteria[0].details["valid"] == 1


# --- OpenAI-compatible endpoints: a local fake server (the true edge) -----------------------------------------


class _FakeEndpoint(BaseHTTPRequestHandler):
    answers: ClassVar[list[str]] = []
    reject_schema: ClassVar[bool] = False
    requests: ClassVar[list[dict[str, Any]]] = []

    def log_message(self, *args: Any) -> None:
        pass

    def _send(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        self._send(200, {"object": "list", "data": [{"id": "judge", "object": "model"}]})

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).requests.append(body)
        fmt = (body.get("response_format") or {}).get("type")
        if fmt == "json_schema" and type(self).reject_schema:
            self._send(400, {"error": {"message": "response_format json_schema is not supported", "type": "invalid_request_error"}})
            return
        text = type(self).answers.pop(0) if type(self).answers else '{"score": 1, "rationale": "default"}'
        self._send(200, {
            "id": "x", "object": "chat.completion", "created": 0, "model": "judge",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
        })


@pytest.fixture
def endpoint() -> Iterator[str]:
    _FakeEndpoint.answers, _FakeEndpoint.requests, _FakeEndpoint.reject_schema = [], [], False
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FakeEndpoint)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


def test_endpoint_judge_uses_json_schema_and_retries(endpoint: str) -> None:
    from workbench.models import load_model

    backend = load_model("openai:judge", base_url=endpoint)
    _FakeEndpoint.answers = ["I would say 2.", '{"score": 2, "rationale": "Polite."}', '{"score": 2, "rationale": "Kind."}']
    rubric = _judge_only("tone-policy", "polite-tone", k=2, retries=2)
    [item] = score_items(rubric, ITEMS[:1], backend=backend, record=False, review_queue=False)
    c = item.criteria[0]
    assert c.raw_score == 2 and c.confidence == 1.0 and c.rationale == "Polite."
    assert len(_FakeEndpoint.requests) == 3  # one invalid answer retried
    first = _FakeEndpoint.requests[0]
    assert first["response_format"]["type"] == "json_schema"
    assert first["response_format"]["json_schema"]["schema"]["properties"]["score"]["enum"] == [0, 1, 2, 3]
    assert [r["seed"] for r in _FakeEndpoint.requests] == [0, 1, 3]


def test_endpoint_without_json_schema_falls_back(endpoint: str) -> None:
    from workbench.models import load_model

    backend = load_model("openai:judge", base_url=endpoint)
    _FakeEndpoint.reject_schema = True
    _FakeEndpoint.answers = ["nope", "still nope", "no"]
    rubric = _judge_only("tone-policy", "polite-tone", k=1, retries=2)
    [item] = score_items(rubric, ITEMS[:1], backend=backend, record=False, review_queue=False)
    c = item.criteria[0]
    assert c.review_reason == "invalid_judge_output" and c.confidence == 0.0
    kinds = [(r.get("response_format") or {}).get("type") for r in _FakeEndpoint.requests]
    assert kinds == ["json_schema", "json_object", "json_object", "json_object"]


def test_calibration_sample_sends_confident_verdicts_too(judge_model, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    rubric = _judge_only("tone-policy", "polite-tone", k=1, temperature=0.0)
    items = [{"id": f"c{i}", "output": "Thanks, done."} for i in range(6)]
    queue = ReviewQueue(tmp_path / "q.db")
    scored = score_items(rubric, items, backend=judge_model, record=False, review_queue=queue, review_sample=1.0)
    assert all(i.criteria[0].review_reason == "calibration_sample" for i in scored)
    assert len(queue.pending()) == 6
    none = score_items(rubric, items, backend=judge_model, record=False, review_queue=queue, review_sample=0.0)
    assert not any(i.criteria[0].needs_review for i in none)
    half = score_items(rubric, [{"id": f"h{i}", "output": "ok"} for i in range(80)], backend=judge_model,
                       record=False, review_queue=False, review_sample=0.25)
    share = sum(i.criteria[0].needs_review for i in half) / 80
    assert 0.1 < share < 0.45


@pytest.mark.slow
def test_every_builtin_rubric_scores_its_example(judge_model) -> None:  # type: ignore[no-untyped-def]
    """One instrument end to end: each built-in rubric on its shipped example (embedder and judge included)."""
    from workbench.rubrics import example_file, list_rubrics, score_file

    for rubric in list_rubrics():
        scored = score_file(rubric, example_file(rubric), backend=judge_model, k=1, record=False,  # type: ignore[arg-type]
                            review_queue=False)
        assert scored and all(0.0 <= s.score <= 1.0 for s in scored)
        assert all(len(s.criteria) == len(rubric.criteria) for s in scored)
        # The shipped examples start with a good item and include a bad one: deterministic checks see it.
        assert max(s.score for s in scored) > min(s.score for s in scored), rubric.id
