"""The preference-tuning playbook's rubrics grade what they claim, and its shipped pairs teach the reply policy.

Deterministic rubrics only (no model), so these run in about a second; the notebook itself runs in the slow
builtin test (`workbench playbook test`).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from workbench.playbooks import builtin_pack_dir
from workbench.rubrics import rubric_judge, score_items
from workbench.settings import get_settings

ROOT = builtin_pack_dir() / "preference-tuning"


def _score(rubric: str, items: list[dict[str, Any]]) -> list[Any]:
    return score_items(ROOT / "rubrics" / rubric, items, record=False, subject="learner", review_queue=False)


def _pairs(name: str) -> list[dict[str, str]]:
    path = get_settings().datasets_dir / "finetune" / "support-replies" / name
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_every_shipped_pair_prefers_the_policy_reply_and_the_judge_sees_it_blind() -> None:
    pairs = _pairs("train.jsonl") + _pairs("eval.jsonl")
    assert len(pairs) == 52 and len({p["prompt"] for p in pairs}) == 52
    chosen = _score("reply-policy.yaml", [{"id": p["id"], "output": p["chosen"]} for p in pairs])
    rejected = _score("reply-policy.yaml", [{"id": p["id"], "output": p["rejected"]} for p in pairs])
    assert all(c.passed and c.score == 1.0 for c in chosen)
    assert all(not r.passed and r.score < c.score for r, c in zip(rejected, chosen, strict=True))
    assert all(s.passed for s in _score("preference-pair.yaml", pairs))
    # The arena's judge votes for the policy reply whichever side it sits on.
    judge = rubric_judge(ROOT / "rubrics" / "reply-policy.yaml")
    pair = pairs[0]
    assert judge({"prompt": pair["prompt"]}, pair["chosen"], pair["rejected"]) == "left"
    assert judge({"prompt": pair["prompt"]}, pair["rejected"], pair["chosen"]) == "right"
    assert judge({"prompt": pair["prompt"]}, pair["chosen"], pair["chosen"]) == "tie"


def test_the_preference_pair_rubric_refuses_unsafe_chosen_replies_and_noise() -> None:
    good = {"id": "g", "prompt": "The kiosk printer is offline.",
            "chosen": "Thanks for reporting this. Restart the printer from its power switch. If that does not help, "
                      "reply with its asset number and we will take it from there.",
            "rejected": "Obviously you unplugged it. Restart the printer."}  # fmt: skip
    unsafe = {**good, "id": "u", "chosen": "Thanks! Send me your password and I will restart it. Reply with the time."}
    noise = {**good, "id": "n", "rejected": "asdf"}
    scored = {s.item: s for s in _score("preference-pair.yaml", [good, unsafe, noise])}
    assert scored["g"].passed
    assert not scored["u"].passed and not {c.criterion: c.passed for c in scored["u"].criteria}["chosen-safe"]
    assert not {c.criterion: c.passed for c in scored["n"].criteria}["rejected-realistic"]


def test_verdict_rubric_orders_the_answer_bank() -> None:
    bank = yaml.safe_load(Path(ROOT / "answers.yaml").read_text(encoding="utf-8"))["exercises"]["verdict"]
    numbers = {"win_rate": 0.58, "low": 0.32, "high": 0.81}
    results = {}
    for answer in bank:
        scope: dict[str, Any] = {**numbers, "arena": type("A", (), {"votes": [None] * 12})()}
        exec(answer["code"], scope)  # the bank's verdicts are f-strings over the notebook's variables
        [s] = _score("verdict.yaml", [{"id": answer["quality"], "verdict": scope["my_verdict"]}])
        results[answer["quality"]] = s
    assert results["good"].passed and not results["fair"].passed and not results["poor"].passed
    assert results["good"].score > results["fair"].score > results["poor"].score


def test_the_shipped_preference_files_are_what_their_script_writes() -> None:
    script = get_settings().datasets_dir / "finetune" / "support-replies" / "make_support_replies.py"
    done = subprocess.run([sys.executable, str(script), "--check"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout
