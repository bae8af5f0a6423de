"""Evaluation, the registry, promotion gates and rollback, on real copilots (workbench-tiny) and a real store."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from copilot_helpers import set_field, store_events

from workbench.cli import main
from workbench.copilots import (
    Copilot,
    evaluate_copilot,
    evaluate_version,
    ground,
    load_spec,
    load_suite,
    new_copilot,
    open_registry,
    promote_version,
    rollback_copilot,
)
from workbench.errors import PromotionError, ValidationError


def _copilot(folder: Path, model: Any) -> Copilot:
    return Copilot(load_spec(folder), backend=model)


def _bump(folder: Path, version: int, *changes: tuple[str, str]) -> None:
    spec_file = folder / "copilot.yaml"
    text = spec_file.read_text(encoding="utf-8")
    current = next(line for line in text.splitlines() if line.startswith("version:"))
    set_field(spec_file, current, f"version: {version}")
    for old, new in changes:
        set_field(spec_file, old, new)


def _gates_that_pass(folder: Path) -> None:
    set_field(folder / "copilot.yaml", "thresholds: {rubric_pass_rate: 0.5}", "thresholds: {rubric_pass_rate: 0.1}")
    set_field(folder / "copilot.yaml", "p95_latency_s: 10.0", "p95_latency_s: 120.0")


def test_evaluation_measures_the_suite_registers_it_and_records_evidence(helpdesk: Path, tiny_model: Any) -> None:
    outcome = evaluate_version(_copilot(helpdesk, tiny_model))
    report = outcome.report
    assert report.ref == "it-helpdesk@1" and len(report.questions) == 8
    metrics = report.metrics
    assert 0.0 <= (metrics["rubric_pass_rate"] or 0) <= 1.0
    assert metrics["latency_p95_s"] is not None and metrics["latency_p50_s"] is not None
    assert metrics["latency_p95_s"] >= metrics["latency_p50_s"] > 0
    assert metrics["output_tokens"] and metrics["output_tokens"] > 0 and metrics["cost_per_1k_tokens"] == 0.0
    assert metrics["retrieval_recall"] is None and metrics["groundedness"] is None  # it does not retrieve
    assert {g.name for g in report.gates} == {
        "threshold.rubric_pass_rate", "slo.p95_latency_s", "slo.cost_per_1k_tokens", "slo.guardrail_violation_rate"
    }  # fmt: skip
    assert outcome.comparison.baseline is None and outcome.stage is None
    with open_registry() as registry:
        assert [v.ref for v in registry.versions("it-helpdesk")] == ["it-helpdesk@1"]
        stored = registry.last_evaluation("it-helpdesk", "1")
    assert stored is not None and stored.metrics == report.metrics and stored.digest == load_spec(helpdesk).digest()

    scores = [e.attributes for e in store_events("score") if e.attributes.get("rubric") == "copilot-eval"]
    assert {s["skill"]: s["subject"] for s in scores} == {"copilot_building": "copilot", "evaluation_design": "learner"}
    design = next(s for s in scores if s["skill"] == "evaluation_design")
    assert design["score"] == 1.0 and design["missing"] == []
    done = [e for e in store_events("task_completed") if e.task == "copilot-eval:it-helpdesk@1"]
    assert done and done[0].attributes["skills"] == {"copilot_building": 0.6, "evaluation_design": 0.4}
    generations = [e for e in store_events("generation") if e.task == "copilot-eval:it-helpdesk@1"]
    assert len(generations) == 8 and generations[0].attributes["template"] == "it-helpdesk-answer@1"


def test_a_new_version_is_compared_with_the_ga_version(helpdesk: Path, tiny_model: Any) -> None:
    _gates_that_pass(helpdesk)
    evaluate_version(_copilot(helpdesk, tiny_model))
    promote_version(helpdesk, "ga")
    _bump(helpdesk, 2, ("max_new_tokens: 64, temperature: 0}", "max_new_tokens: 3, temperature: 0}"))
    outcome = evaluate_version(_copilot(helpdesk, tiny_model))
    comparison = outcome.comparison
    assert comparison.baseline == "it-helpdesk@1"
    rows = {r.metric: r for r in comparison.rows}
    assert rows["output_tokens"].old is not None and rows["output_tokens"].new < rows["output_tokens"].old
    assert rows["rubric_mean_score"].verdict == "worse" and "rubric_mean_score" in comparison.regressions
    assert comparison.questions and {d.change for d in comparison.questions} <= {"broken", "score", "answer"}
    assert all(len(d.new_answer.split()) <= len(d.old_answer.split()) for d in comparison.questions)


def test_promote_refuses_a_failing_gate_and_rollback_restores_the_previous_ga(
    helpdesk: Path, tiny_model: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    _gates_that_pass(helpdesk)
    evaluate_version(_copilot(helpdesk, tiny_model))
    assert main(["copilot", "promote", str(helpdesk), "--to", "ga"]) == 0
    # Version 2 misses its latency objective: promotion is refused, naming the gate.
    _bump(helpdesk, 2, ("p95_latency_s: 120.0", "p95_latency_s: 0.000001"))
    evaluate_version(_copilot(helpdesk, tiny_model))
    assert main(["copilot", "promote", str(helpdesk), "--to", "canary"]) == 2
    err = capsys.readouterr().err
    assert "refusing to promote it-helpdesk@2 to canary: gate slo.p95_latency_s failed" in err and "hint:" in err
    with pytest.raises(PromotionError) as caught:
        promote_version("it-helpdesk@2", "ga")
    assert caught.value.field == "slo.p95_latency_s"
    with open_registry() as registry:
        state = registry.state("it-helpdesk")
    assert (state.ga, state.canary) == ("1", None)
    # Version 3 passes, goes GA; rollback restores version 1.
    _bump(helpdesk, 3, ("p95_latency_s: 0.000001", "p95_latency_s: 120.0"))
    evaluate_version(_copilot(helpdesk, tiny_model))
    assert promote_version(helpdesk, "ga").previous == "1"
    assert main(["copilot", "rollback", "it-helpdesk", "--json"]) == 0
    rolled = json.loads(capsys.readouterr().out)
    assert (rolled["version"], rolled["previous"], rolled["action"]) == ("1", "3", "rollback")
    with open_registry() as registry:
        assert registry.state("it-helpdesk").ga == "1"
    with pytest.raises(PromotionError, match="no previous GA version"):
        rollback_copilot("it-helpdesk")


def test_canary_lifecycle_and_evaluation_required(helpdesk: Path, tiny_model: Any) -> None:
    _gates_that_pass(helpdesk)
    with pytest.raises(PromotionError, match="no evaluation of its registered spec"):
        promote_version(helpdesk, "ga")
    evaluate_version(_copilot(helpdesk, tiny_model))
    promote_version(helpdesk, "ga")
    _bump(helpdesk, 2)
    evaluate_version(_copilot(helpdesk, tiny_model))
    promote_version("it-helpdesk@2", "canary")
    with open_registry() as registry:
        assert (registry.state("it-helpdesk").ga, registry.state("it-helpdesk").canary) == ("1", "2")
        with pytest.raises(PromotionError, match="already canary"):
            registry.promote("it-helpdesk@2", "canary")
    promote_version("it-helpdesk@2", "ga")
    with open_registry() as registry:
        state = registry.state("it-helpdesk")
        assert (state.ga, state.canary, state.ga_stack) == ("2", None, ["1", "2"])
        with pytest.raises(PromotionError, match="has no canary"):
            registry.end_canary("it-helpdesk")


def test_a_registered_version_is_immutable(helpdesk: Path, tiny_model: Any) -> None:
    evaluate_version(_copilot(helpdesk, tiny_model), limit=1)
    set_field(helpdesk / "copilot.yaml", "max_new_tokens: 64, temperature: 0}", "max_new_tokens: 9, temperature: 0}")
    with pytest.raises(ValidationError, match="registered with a different spec") as caught:
        evaluate_version(_copilot(helpdesk, tiny_model), limit=1)
    assert caught.value.field == "version" and "bump" in (caught.value.hint or "")


def test_retrieving_copilot_reports_recall_and_groundedness(
    tmp_path: Path, docs_index: Path, tiny_model: Any
) -> None:
    spec = new_copilot("rag-desk", tmp_path / "rag-desk", model="workbench-tiny", index=docs_index)
    questions = [
        {"question": "How do I reset a forgotten password?", "reference": "Use the self-service portal.",
         "relevant": ["accounts/passwords.md"]},
        {"question": "The VPN keeps disconnecting", "reference": "Restart the VPN client.",
         "relevant": ["network/vpn.md"]},
    ]  # fmt: skip
    (tmp_path / "rag-desk" / "eval" / "questions.jsonl").write_text("\n".join(json.dumps(q) for q in questions))
    report = evaluate_copilot(Copilot(spec, backend=tiny_model), record=False)
    assert report.metrics["retrieval_recall"] == 1.0 and report.k == 4
    assert report.metrics["cited_rate"] is not None
    assert report.questions[0].sources[0] == "accounts/passwords.md"


def test_groundedness_of_cited_answers() -> None:
    passages = ["Reset a password in the self-service portal.", "Restart the VPN client and sign in again."]
    sources = ["accounts/passwords.md", "network/vpn.md"]
    grounded = ground("Use the self-service portal to reset the password [1].", passages, sources)
    assert grounded.is_cited and grounded.grounded and grounded.cited == (0,)
    by_id = ground("Restart the client [network/vpn.md].", passages, sources)
    assert by_id.grounded and by_id.cited == (1,)
    invented = ground("Use the portal [3].", passages, sources)
    assert not invented.is_cited and invented.grounded is None and invented.invalid == ("3",)
    off_topic = ground("Bananas contain potassium, vitamins and fibre [2].", passages, sources)
    assert off_topic.is_cited and off_topic.grounded is False and (off_topic.support or 0) < 0.5
    mixed = ground("Reset the password in the portal [1, 7].", passages, sources)
    assert mixed.is_cited and mixed.grounded is False  # one invented citation


def test_suite_errors_name_the_line_and_field(tmp_path: Path) -> None:
    suite = tmp_path / "q.jsonl"
    suite.write_text('{"question": "a", "reference": "b"}\n\n{"question": "c"}\n')
    with pytest.raises(ValidationError) as caught:
        load_suite(suite)
    assert (caught.value.line, caught.value.field) == (3, "reference")
    suite.write_text('{"question": "a", "answer": "b", "relevant": "x.md"}\n')
    with pytest.raises(ValidationError, match="list of source ids"):
        load_suite(suite)
    suite.write_text('{"question": "a", "answer": "b", "tone": "kind"}\n')
    assert load_suite(suite)[0].extra == {"tone": "kind"}


@pytest.mark.postgres
def test_registry_on_postgresql(postgres_url: str, helpdesk: Path, tiny_model: Any) -> None:
    _gates_that_pass(helpdesk)
    copilot = _copilot(helpdesk, tiny_model)
    report = evaluate_copilot(copilot, limit=2, record=False)
    with open_registry(postgres_url) as registry:
        registry.register(copilot.spec)
        registry.record_evaluation(report)
        registry.promote("it-helpdesk@1", "ga")
        assert registry.state("it-helpdesk").ga == "1"
        assert registry.last_evaluation("it-helpdesk", "1").metrics == report.metrics  # type: ignore[union-attr]
    with open_registry(postgres_url) as registry:  # tables exist now: opened again, nothing is recreated
        assert registry.get("it-helpdesk").ref == "it-helpdesk@1"
        with pytest.raises(PromotionError):
            registry.rollback("it-helpdesk")
