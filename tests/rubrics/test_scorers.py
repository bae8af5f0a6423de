"""Each deterministic and reference scorer, with passing and failing cases."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pytest

from workbench.rubrics import SCORERS, ScoringContext
from workbench.rubrics.schema import Criterion
from workbench.rubrics.scorers.deterministic import extract_json, source_ids
from workbench.rubrics.scorers.reference import token_f1


def _criterion(scorer: dict[str, Any], levels: int = 2, **extra: Any) -> Criterion:
    return Criterion.model_validate(
        {
            "id": "c",
            "description": "test",
            "weight": 1,
            "skill": "prompting",
            "levels": [{"score": i, "descriptor": f"level {i}"} for i in range(levels)],
            "scorer": scorer,
            **extra,
        }
    )


def _score(scorer: dict[str, Any], item: Mapping[str, Any], levels: int = 2) -> tuple[float, int, str]:
    criterion = _criterion(scorer, levels)
    impl = SCORERS.get(criterion.scorer.type)(criterion.scorer, criterion)
    result = impl.score([item], ScoringContext())[0]
    return result.value, impl.level_for(result), result.rationale


def test_regex() -> None:
    cfg = {"type": "regex", "pattern": r"TICKET-\d+"}
    assert _score(cfg, {"output": "see TICKET-12"})[:2] == (1.0, 1)
    assert _score(cfg, {"output": "see ticket 12"})[:2] == (0.0, 0)
    assert _score({**cfg, "ignore_case": True, "pattern": "ticket"}, {"output": "TICKET"})[0] == 1.0
    assert _score({**cfg, "full_match": True}, {"output": "TICKET-1 and more"})[0] == 0.0
    forbidden = {"type": "regex", "pattern": "!{2,}", "must_match": False}
    assert _score(forbidden, {"output": "calm."})[0] == 1.0
    value, _, why = _score(forbidden, {"output": "now!!"})
    assert value == 0.0 and "forbidden" in why


def test_contains_all_any_and_partial_credit() -> None:
    cfg = {"type": "contains", "values": ["refund", "receipt", "days"]}
    assert _score(cfg, {"output": "Refund within 30 days with the receipt."}, levels=4)[:2] == (1.0, 3)
    value, level, why = _score(cfg, {"output": "A refund is possible."}, levels=4)
    assert value == pytest.approx(1 / 3) and level == 1 and "missing: receipt, days" in why
    assert _score(cfg, {"output": "nothing"})[0] == 0.0
    any_cfg = {**cfg, "mode": "any"}
    assert _score(any_cfg, {"output": "bring the RECEIPT"})[0] == 1.0
    assert _score({**any_cfg, "case_sensitive": True}, {"output": "bring the RECEIPT"})[0] == 0.0
    assert _score({**any_cfg, "whole_word": True, "values": ["day"]}, {"output": "30 days"})[0] == 0.0


def test_excludes() -> None:
    cfg = {"type": "excludes", "values": ["guarantee", "lorem ipsum"]}
    assert _score(cfg, {"output": "We will try our best."})[:2] == (1.0, 1)
    value, level, why = _score(cfg, {"output": "We GUARANTEE it. Lorem ipsum."})
    assert (value, level) == (0.0, 0) and "guarantee" in why and "lorem ipsum" in why


SCHEMA = {"type": "object", "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
          "required": ["name", "age"]}


def test_json_schema_inline_and_per_item() -> None:
    cfg = {"type": "json_schema", "schema": SCHEMA}
    assert _score(cfg, {"output": '{"name": "Ana", "age": 31}'})[0] == 1.0
    assert _score(cfg, {"output": 'Here you go:\n```json\n{"name": "Ana", "age": 31}\n```'})[0] == 1.0
    value, _, why = _score(cfg, {"output": '{"name": "Ana", "age": "31"}'})
    assert value == 0.0 and "age" in why
    value, _, why = _score(cfg, {"output": "no json here"})
    assert value == 0.0 and "not JSON" in why
    assert _score({**cfg, "extract": False}, {"output": 'x {"name": "Ana", "age": 1}'})[0] == 0.0
    per_item = {"type": "json_schema", "schema_field": "schema"}
    assert _score(per_item, {"output": '{"id": 1}', "schema": {"required": ["id"]}})[0] == 1.0
    assert _score(per_item, {"output": '{"id": 1}', "schema": json.dumps({"required": ["name"]})})[0] == 0.0
    assert _score(cfg, {"output": {"name": "Ana", "age": 3}})[0] == 1.0  # already-parsed JSON


def test_json_match() -> None:
    cfg = {"type": "json_match", "thresholds": [0.5, 1.0]}
    ref = {"name": "Ana Lima", "city": "Porto", "age": 31}
    assert _score(cfg, {"output": '{"name": "ana  lima", "city": "Porto", "age": 31}', "reference": ref}, 3)[:2] == (1.0, 2)
    value, level, why = _score(cfg, {"output": '{"name": "Ana Lima", "city": "Lisbon"}', "reference": ref}, 3)
    assert value == pytest.approx(1 / 3) and level == 0 and "city" in why and "age" in why
    assert _score(cfg, {"output": "oops", "reference": ref}, 3)[0] == 0.0


def test_length() -> None:
    cfg = {"type": "length", "unit": "words", "min": 3, "max": 5}
    assert _score(cfg, {"output": "one two three four"})[0] == 1.0
    value, _, why = _score(cfg, {"output": "one two"})
    assert value == 0.0 and "2 words" in why and "outside" in why
    assert _score(cfg, {"output": "a b c d e f"})[0] == 0.0
    assert _score({"type": "length", "unit": "chars", "max": 5}, {"output": "abcdef"})[0] == 0.0


def test_citations() -> None:
    cfg = {"type": "citations"}
    sources = [{"id": "handbook/leave.md", "text": "..."}, {"id": "faq.md", "text": "..."}]
    good = {"output": "Take 25 days [handbook/leave.md]; ask HR [faq.md].", "sources": sources}
    assert _score(cfg, good, 3)[:2] == (1.0, 2)
    half = {"output": "Take 25 days [handbook/leave.md, made-up.md].", "sources": sources}
    value, level, why = _score(cfg, half, 3)
    assert value == 0.5 and level == 1 and "made-up.md" in why
    none = {"output": "Take 25 days.", "sources": sources}
    value, _, why = _score(cfg, none, 3)
    assert value == 0.0 and "0 citation" in why
    assert _score(cfg, {"output": "[a]", "sources": ["a", "b"]})[0] == 1.0
    assert source_ids({"a": "text", "b": "text"}) == {"a", "b"}
    assert _score({**cfg, "min_citations": 2}, {"output": "[a]", "sources": ["a"]})[0] == 0.0


def test_pii_free_uses_guardrails_and_never_echoes_values() -> None:
    cfg = {"type": "pii_free"}
    assert _score(cfg, {"output": "Reset it from the portal."})[0] == 1.0
    value, _, why = _score(cfg, {"output": "Mail ana.lima@example.com or call +44 20 7946 0958."})
    assert value == 0.0 and "email" in why
    assert "ana.lima" not in why
    assert _score({**cfg, "kinds": ["credit_card"]}, {"output": "Mail ana.lima@example.com"})[0] == 1.0


def test_token_f1() -> None:
    assert token_f1("The cat sat.", "the cat sat") == 1.0
    assert token_f1("a dog", "the cat") == 0.0
    assert token_f1("cat sat on mat", "the cat sat") == pytest.approx(2 * (2 / 4) * (2 / 2) / (2 / 4 + 2 / 2))
    cfg = {"type": "token_f1", "thresholds": [0.2, 0.4, 0.6]}
    assert _score(cfg, {"output": "25 days of leave", "reference": ["twenty", "25 days of leave a year"]}, 4)[1] == 3
    assert _score(cfg, {"output": "ask your manager", "reference": "25 days of leave"}, 4)[:2] == (0.0, 0)


def test_rouge_l() -> None:
    cfg = {"type": "rouge_l"}
    assert _score(cfg, {"output": "the staff get 25 days of leave", "reference": "staff get 25 days of leave"}, 4)[1] == 3
    value, level, why = _score(cfg, {"output": "printers are on floor two", "reference": "staff get 25 days leave"}, 4)
    assert value < 0.2 and level == 0 and "ROUGE-L" in why


def test_extract_json() -> None:
    assert extract_json('noise {"a": [1, {"b": 2}]} tail') == {"a": [1, {"b": 2}]}
    assert extract_json("[1, 2]") == [1, 2]
    with pytest.raises(ValueError):
        extract_json("{not json")


def test_builtin_scorers_register_as_entry_points_without_import_side_effects() -> None:
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from workbench.rubrics import SCORERS, load_rubric\n"
        "print(sorted(SCORERS))\n"
        "print('workbench.rubrics.judge' in sys.modules)\n"
        "load_rubric('summary-quality')\n"
        "print(SCORERS.get('judge').__module__)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split("\n")
    assert out[0] == str(sorted([
        "citations", "contains", "excludes", "json_match", "json_schema", "judge", "length", "pii_free", "regex",
        "rouge_l", "similarity", "token_f1",
    ]))
    assert out[1] == "False"  # listing the scorers imports none of them
    assert out[2] == "workbench.rubrics.judge"
