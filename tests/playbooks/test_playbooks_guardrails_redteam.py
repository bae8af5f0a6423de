"""The guardrails-redteam playbook: its rubrics separate good from poor work, and its prompt sets keep their roles.

Deterministic rubrics and guard decisions only (no model), so these run in seconds; the notebook itself runs
headless on SmolLM2 in the slow built-in test (`test_playbooks_builtin.py`).
"""

from __future__ import annotations

import ast
import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import nbformat
import pytest
import yaml

from workbench.guardrails import Guard, load_policy
from workbench.playbooks import builtin_pack_dir, get_playbook
from workbench.playbooks.answers import load_answer_bank
from workbench.rubrics import ItemScore, load_rubric, score_items

PLAYBOOK = builtin_pack_dir() / "guardrails-redteam"
MEASURED = {"policy": "hr-copilot-redteam@2", "attacks": 6, "asr_open": 0.5, "asr_policy": 0.0, "asr_held_out": 0.0,
            "benign_refusal_rate": 0.0, "benign_withheld": 1}


@pytest.fixture(autouse=True)
def _data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKBENCH_DATA_DIR", str(tmp_path))


def _score(rubric: str, item: dict[str, Any]) -> ItemScore:
    [scored] = score_items(PLAYBOOK / "rubrics" / rubric, [{"id": "x", **item}], record=False, review_queue=False)
    return scored


def _answers(exercise: str, **names: Any) -> dict[str, dict[str, Any]]:
    """Run each answer-bank answer of ``exercise`` with ``names`` defined; its namespace, by quality."""
    bank = load_answer_bank(PLAYBOOK)
    assert bank is not None
    out: dict[str, dict[str, Any]] = {}
    for answer in bank.exercises[exercise]:
        namespace = dict(names)
        exec(answer.code, namespace)  # the bank is ours: the same code the demo's simulated learners submit
        out[answer.quality] = namespace
    return out


def _notebook_constants() -> dict[str, Any]:
    """SYSTEM, PROTECTED, HELD_OUT and BENIGN as the notebook defines them (literals, read without running it)."""
    nb = nbformat.read(PLAYBOOK / "guardrails-redteam.ipynb", as_version=4)
    found: dict[str, Any] = {}
    for cell in nb.cells:
        if cell.cell_type != "code" or "### BEGIN" in cell.source:
            continue
        for node in ast.parse(cell.source).body:
            if isinstance(node, ast.Assign | ast.AnnAssign):
                target = node.targets[0] if isinstance(node, ast.Assign) else node.target
                if isinstance(target, ast.Name) and target.id in ("SYSTEM", "PROTECTED", "HELD_OUT", "BENIGN"):
                    assert node.value is not None
                    found[target.id] = ast.literal_eval(node.value)
    assert set(found) == {"SYSTEM", "PROTECTED", "HELD_OUT", "BENIGN"}
    return found


def test_graded_tasks_name_their_rubrics_and_skills() -> None:
    manifest = get_playbook(PLAYBOOK).manifest
    graded = {t.id: t for t in manifest.tasks if t.rubric}
    assert set(graded) == {"write-policy", "audit-trail", "redteam-report"}
    for skill in ("guardrails_governance", "evaluation_design", "critique_review"):
        assert any((t.skills or {}).get(skill, 0) > 0 for t in graded.values()), skill
    for spec in graded.values():
        assert spec.rubric is not None and load_rubric(PLAYBOOK / spec.rubric).criteria


def test_policy_scorecard_passes_the_good_policy_and_fails_a_deny_list_or_over_blocking() -> None:
    policies = {quality: load_policy(yaml.safe_load(ns["policy_yaml"])).model_dump(mode="json")
                for quality, ns in _answers("write-policy").items()}
    good = _score("policy-scorecard.yaml", {"scorecard": MEASURED, "policy": policies["good"]})
    assert good.passed and good.score == 1.0
    # A deny list alone: no injection block, no canary, no description (and, measured, every request refused).
    poor = _score("policy-scorecard.yaml", {"scorecard": MEASURED, "policy": policies["poor"]})
    assert not poor.passed and not poor.criterion("injection-blocked").passed
    assert not poor.criterion("secret-protected-in-answers").passed
    over_blocking = {**MEASURED, "benign_refusal_rate": 0.333}
    fair = _score("policy-scorecard.yaml", {"scorecard": over_blocking, "policy": policies["fair"]})
    assert not fair.passed and not fair.criterion("benign-answered").passed
    leaky = _score("policy-scorecard.yaml", {"scorecard": {**MEASURED, "asr_policy": 0.167}, "policy": policies["good"]})
    assert not leaky.passed and not leaky.criterion("own-attacks-stopped").passed
    untested = _score("policy-scorecard.yaml", {"scorecard": {**MEASURED, "asr_open": 0.0}, "policy": policies["good"]})
    assert not untested.criterion("baseline-measured").passed


def test_audit_trail_rubric_rejects_copied_personal_data_and_incomplete_records() -> None:
    constants = _notebook_constants()
    protected = constants["PROTECTED"]
    withheld = SimpleNamespace(stage="withheld", shown="[withheld by the guardrail policy: output contains 1 canary value(s) of the policy]",
                               audit=[{"seq": 5, "check": "model", "action": "allow"}, {"seq": 6, "check": "prompt", "action": "allow"},
                                      {"seq": 7, "check": "limits", "action": "allow"}, {"seq": 8, "check": "output", "action": "block"}])
    refused = SimpleNamespace(stage="refused", shown="Sorry, I can't help with that request.",
                              audit=[{"seq": 9, "check": "model", "action": "allow"}, {"seq": 10, "check": "prompt", "action": "block"}])
    names = {"policy": SimpleNamespace(ref="hr-copilot-redteam@2"), "PROTECTED": protected, "leaked": lambda text: []}
    scores = {}
    for quality, ns in _answers("audit-trail", **names).items():
        trail = [ns["trail_record"]("inj-1", "prompt_injection", withheld), ns["trail_record"]("jb-1", "jailbreak", refused)]
        scores[quality] = _score("audit-trail.yaml", {"trail": json.dumps(trail)})
    assert scores["good"].passed and scores["good"].score == 1.0
    assert not scores["fair"].passed and not scores["fair"].criterion("complete-records").passed
    assert not scores["poor"].passed
    assert not scores["poor"].criterion("no-personal-data").passed and not scores["poor"].criterion("no-secret").passed
    assert not scores["poor"].criterion("blocking-check-named").passed


def test_report_rubric_orders_the_answer_bank_and_rejects_a_report_that_leaks() -> None:
    scores = {quality: _score("redteam-report.yaml", {"report": ns["report"]})
              for quality, ns in _answers("redteam-report", scorecard=MEASURED).items()}
    assert scores["good"].passed and not scores["fair"].passed and not scores["poor"].passed
    assert scores["good"].score > scores["fair"].score > scores["poor"].score
    assert not scores["poor"].criterion("no-personal-data").passed and not scores["poor"].criterion("no-secret").passed
    assert not scores["fair"].criterion("residual-risk").passed


def test_the_lessons_prompt_sets_keep_their_roles_under_the_guard(tmp_path: Path) -> None:
    """Held-out injections are refused by a policy that blocks injection; no benign question is; a deny-listed
    code refuses them all (the system prompt holds it); the code never reaches the audit log."""
    c = _notebook_constants()
    policy = load_policy(yaml.safe_load(_answers("write-policy")["good"]["policy_yaml"]))
    guard = Guard(policy, data_dir=tmp_path / "good", record_telemetry=False)
    naive = Guard({"terms": {"deny": [c["PROTECTED"]["code"]]}}, data_dir=tmp_path / "naive", record_telemetry=False)

    def refused(g: Guard, prompt: str) -> bool:
        messages = [{"role": "system", "content": c["SYSTEM"]}, {"role": "user", "content": prompt}]
        return g.preflight(messages, model="smollm2-135m-instruct").blocked is not None

    refused_held_out = [attack_id for attack_id, _, prompt in c["HELD_OUT"] if refused(guard, prompt)]
    assert len(refused_held_out) == len(c["HELD_OUT"]) - 1  # one held-out attack must be met at the output
    assert not any(refused(guard, question) for _, question in c["BENIGN"])
    strict = Guard({"pii": {"prompt": "block"}}, data_dir=tmp_path / "strict", record_telemetry=False)
    assert sum(refused(strict, q) for _, q in c["BENIGN"]) / len(c["BENIGN"]) > 0.2  # over-blocking shows
    assert all(refused(naive, question) for _, question in c["BENIGN"])
    leak = guard.check_output(f"Sure, it is {c['PROTECTED']['code'].lower().replace('-', ' ')}.", system=c["SYSTEM"])
    assert leak.blocked
    assert c["PROTECTED"]["code"].lower() not in guard.audit.path.read_text(encoding="utf-8").lower()
