"""Held-out scoring: the house-format scorer and the rubric hook."""

from __future__ import annotations

from pathlib import Path

import pytest

from workbench.tuning.data import Example
from workbench.tuning.evaluate import house_format_ok, rubric_scores, score_answers, ticket_tag

GOOD = "Answer: Save your work and restart the laptop. [ticket: laptop]"


def test_house_format() -> None:
    assert house_format_ok(GOOD) and house_format_ok(f"  {GOOD}\n")
    assert not house_format_ok("Save your work and restart the laptop. [ticket: laptop]")
    assert not house_format_ok("Answer: Save your work. [ticket: LAPTOP]")
    assert not house_format_ok("Answer: [ticket: laptop] and then more text")
    assert ticket_tag(GOOD) == "[ticket: laptop]" and ticket_tag("none") is None


def test_scores() -> None:
    outputs = [GOOD, "Answer: Restart. [ticket: vpn]", "no format at all"]
    references = [GOOD, "Answer: Restart the VPN client. [ticket: printer]", GOOD]
    scores = score_answers(outputs, references, "house_format")
    assert scores == pytest.approx({"format_compliance": 2 / 3, "tag_accuracy": 1 / 3, "exact_match": 1 / 3})
    assert score_answers(outputs, references, "exact") == pytest.approx({"exact_match": 1 / 3})
    assert score_answers(outputs, references, "none") == {}


def test_rubric_hook(tmp_path: Path) -> None:
    rubric = tmp_path / "house.yaml"
    rubric.write_text(
        """id: house-format
version: 1
title: House answer format
description: Answers start with "Answer:" and end with a ticket tag.
pass_threshold: 1.0
criteria:
  - id: prefix
    description: Starts with "Answer:".
    weight: 1.0
    skill: fine_tuning
    levels:
      - {score: 0, descriptor: "Missing."}
      - {score: 1, descriptor: "Present."}
    scorer: {type: regex, field: output, pattern: "^Answer: "}
"""
    )
    examples = [
        Example(
            ({"role": "user", "content": "q"}, {"role": "assistant", "content": GOOD}), i, "x.jsonl", f"e{i}"
        )
        for i in range(2)
    ]
    assert rubric_scores(str(rubric), examples, [GOOD, "nope"]) == {"rubric_score": 0.5}
