"""The data-curation playbook's rubrics grade what they claim: leakage, personal data, damaged labels, thin cards.

Deterministic rubrics only (no model), so these run in a second; the notebook itself runs in the slow builtin test.
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from workbench.playbooks import builtin_pack_dir
from workbench.rubrics import score_items

ROOT = builtin_pack_dir() / "data-curation"
TRIAGE = '{"category": "network", "priority": "high"}'
GOOD_AUDIT = {"leaked_from_test": 0, "train_dev_overlap": 0, "duplicates_in_train": 0, "label_ratio": 1.0,
              "labels_in_train": 6, "labels_in_dev": 6, "train_size": 108}


def _score(rubric: str, item: dict[str, object]) -> tuple[bool, float, dict[str, bool]]:
    [s] = score_items(ROOT / "rubrics" / rubric, [item], record=False, subject="learner", review_queue=False)
    return s.passed, s.score, {c.criterion: c.passed for c in s.criteria}


def test_split_audit_fails_leakage_even_when_everything_else_is_right() -> None:
    assert _score("split-audit.yaml", {"id": "ok", "audit": json.dumps(GOOD_AUDIT)})[0]
    leaked, _, criteria = _score("split-audit.yaml", {"id": "leak", "audit": json.dumps({**GOOD_AUDIT, "leaked_from_test": 3})})
    assert not leaked and not criteria["no-test-leakage"]
    _, _, criteria = _score("split-audit.yaml", {"id": "skew", "audit": json.dumps({**GOOD_AUDIT, "label_ratio": 2.9})})
    assert not criteria["balanced-labels"] and criteria["no-test-leakage"]
    assert not _score("split-audit.yaml", {"id": "tiny", "audit": json.dumps({**GOOD_AUDIT, "label_ratio": 2.9, "train_size": 12})})[0]


def test_scrubbed_ticket_requires_no_personal_data_and_an_untouched_answer() -> None:
    clean = {"id": "a", "ticket": "The VPN drops every hour since the update. Thanks, [PERSON] ([EMAIL], [PHONE])",
             "answer": TRIAGE, "reference": TRIAGE}
    assert _score("scrubbed-ticket.yaml", clean)[0]
    leaky, _, criteria = _score("scrubbed-ticket.yaml", {**clean, "ticket": "The VPN drops. Mail tom.becker@example.com"})
    assert not leaky and not criteria["no-personal-data"]
    damaged, _, criteria = _score("scrubbed-ticket.yaml", {**clean, "answer": '{"category": "[PERSON]", "priority": "high"}'})
    assert not damaged and not criteria["answer-unchanged"]
    assert not _score("scrubbed-ticket.yaml", {**clean, "ticket": "[PERSON] [EMAIL]"})[2]["ticket-kept"]


def test_data_card_rubric_orders_the_answer_bank_and_rejects_personal_data() -> None:
    bank = yaml.safe_load(Path(ROOT / "answers.yaml").read_text(encoding="utf-8"))["exercises"]["data-card"]
    numbers = {"messy": "362", "dups": "58", "leaked": "12", "train": "108", "dev": "12", "held": "90"}
    cards = {}
    for answer in bank:
        # The bank's cards are f-strings over the notebook's variables: fill them with plausible numbers.
        text = answer["code"].split('"""')[1] if '"""' in answer["code"] else answer["code"].split('"')[1]
        for expr, value in [("{len(messy)}", numbers["messy"]), ("{duplicates_removed}", numbers["dups"]),
                            ("{leaked_removed}", numbers["leaked"]), ("{len(train_set)}", numbers["train"]),
                            ("{len(dev_set)}", numbers["dev"]), ("{len(held_out)}", numbers["held"]),
                            ("{model_name}", "smollm2-135m-instruct"), ("{eval_examples}", "24")]:
            text = text.replace(expr, value)
        for key in ("raw_after", "cur_after"):
            for score in ("format_compliance", "field_accuracy"):
                text = text.replace(f"{{{key}['{score}']:.2f}}", "0.75")
        cards[answer["quality"]] = _score("data-card.yaml", {"id": answer["quality"], "card": text})
    assert cards["good"][0] and not cards["fair"][0] and not cards["poor"][0]
    assert cards["good"][1] > cards["fair"][1] > cards["poor"][1]
    assert not cards["poor"][2]["no-personal-data"]
