"""Constrained decoding: the verdict automaton, its token masks, and 200+ schema-valid judge calls."""

from __future__ import annotations

import json

import jsonschema
import pytest

from workbench.rubrics.constrained import (
    RATIONALE_CHARS,
    VerdictAutomaton,
    VerdictLogitsProcessor,
    token_texts,
    verdict_schema,
)
from workbench.rubrics.judge import judge_messages, parse_verdict, run_judge
from workbench.rubrics.schema import load_rubric


def test_automaton_accepts_exactly_the_verdict_language() -> None:
    a = VerdictAutomaton([0, 1, 2, 3], max_rationale=10)
    assert a.accepts('{"score": 2, "rationale": "Good."}')
    assert a.accepts('{"score": 0, "rationale": "0123456789"}')
    for bad in (
        '{"score": 4, "rationale": "Good."}',       # not a level
        '{"score": 2, "rationale": ""}',            # empty rationale
        '{"score": 2, "rationale": "01234567890"}',  # over the cap
        '{"score": 2, "rationale": "say \\"hi\\""}',  # quotes would need escaping
        '{"score":2, "rationale": "Good."}',        # not the canonical spacing
        '{"score": 2, "rationale": "Good."} ',      # trailing text
        '{"score": 2, "rationale": "Good."',        # unfinished
        '{"score": 12, "rationale": "Good."}',
    ):
        assert not a.accepts(bad), bad
    assert a.max_chars == len('{"score": 2, "rationale": "0123456789"}')


def test_multi_digit_scores() -> None:
    a = VerdictAutomaton(range(11), max_rationale=5)
    assert a.accepts('{"score": 10, "rationale": "ok"}')
    assert a.accepts('{"score": 1, "rationale": "ok"}')
    assert not a.accepts('{"score": 11, "rationale": "ok"}')
    state = a.feed(a.initial, '{"score": 1')
    assert a.step(state, "0") is not None and a.step(state, ",") is not None and a.step(state, "1") is None


def test_every_accepted_string_is_schema_valid() -> None:
    a = VerdictAutomaton([0, 1, 2], max_rationale=12)
    schema = verdict_schema([0, 1, 2], 12)
    for score in (0, 1, 2):
        for rationale in ("x", "A fine, short one", "a" * 12, "!#$%&'()*+,-./:;<=>?@[]^_`{|}~"[:12]):
            text = json.dumps({"score": score, "rationale": rationale})
            if a.accepts(text):
                jsonschema.validate(json.loads(text), schema)
    assert '"' not in RATIONALE_CHARS and "\\" not in RATIONALE_CHARS and "\n" not in RATIONALE_CHARS


def test_token_masks_on_the_tiny_tokenizer(judge_model) -> None:  # type: ignore[no-untyped-def]
    import torch

    tok = judge_model.tokenizer
    texts = token_texts(tok)
    assert len(texts) == len(tok)
    assert all(texts[i] is None for i in tok.all_special_ids)
    a = VerdictAutomaton([0, 1, 2, 3], max_rationale=20)
    proc = VerdictLogitsProcessor(a, tok, [tok.eos_token_id], judge_model.model.config.vocab_size)
    width = judge_model.model.config.vocab_size
    out = proc(torch.zeros((2, 3), dtype=torch.long), torch.zeros((2, width)))
    allowed = [i for i in range(width) if out[0, i] == 0]
    assert allowed and all(texts[i] is not None and '{"score": '.startswith(texts[i][:10]) for i in allowed)
    # Masks inside the rationale respect the remaining room.
    state = a.feed(a.initial, '{"score": 1, "rationale": "' + "x" * 19)
    mask = proc.index.allowed(state)
    for i in torch.nonzero(mask).flatten().tolist():
        assert a.feed(state, texts[i]) is not None


@pytest.mark.slow
def test_judge_returns_schema_valid_json_in_200_calls(judge_model) -> None:  # type: ignore[no-untyped-def]
    """The issue's bar: every one of >= 200 judge calls on the built-in tiny model is schema-valid JSON."""
    rubric = load_rubric("tone-policy")
    criterion = rubric.criterion("polite-tone")
    replies = [
        "Happy to help! Open Settings, choose Printers and add the printer by its floor name.",
        "Go away.",
        "Restart the laptop. Then try again.",
        "Thanks for waiting, your VPN is fixed; sign in again and it should work.",
        "That is not my problem, read the manual.",
    ]
    items = [{"id": f"i{n}", "output": f"{replies[n % len(replies)]} (#{n})"} for n in range(50)]
    conversations = [judge_messages(criterion, item, criterion.scorer) for item in items]  # type: ignore[arg-type]
    samples = run_judge(judge_model, conversations, criterion.level_scores, k=4, temperature=1.0, seed=3,
                        max_rationale=32, batch_size=25)
    flat = [s for group in samples for s in group]
    assert len(flat) == 200
    schema = verdict_schema(criterion.level_scores, 32)
    for sample in flat:
        jsonschema.validate(json.loads(sample.text), schema)  # raw model text, not a repaired version
        assert sample.valid and sample.score in criterion.level_scores
    # Sampling explores: not every sample is the same verdict.
    assert len({s.text for s in flat}) > 1


def test_parse_verdict() -> None:
    ok = parse_verdict('noise {"score": 2, "rationale": "fine"} noise', [0, 1, 2])
    assert ok.valid and ok.score == 2 and ok.rationale == "fine"
    assert parse_verdict('{"score": 5, "rationale": "x"}', [0, 1, 2]).error.startswith("schema")  # type: ignore[union-attr]
    assert parse_verdict("I think it is a 2", [0, 1, 2]).error.startswith("not JSON")  # type: ignore[union-attr]
    assert not parse_verdict('{"score": 1, "rationale": "' + "x" * 60 + '"}', [0, 1], 48).valid
    assert parse_verdict('{"score": 1, "rationale": "' + "x" * 60 + '"}', [0, 1], None).valid


@pytest.mark.parametrize(
    "value",
    [
        {"score": 2, "rationale": "ok"},
        {"score": 2, "rationale": ""},
        {"score": 4, "rationale": "ok"},
        {"score": True, "rationale": "ok"},
        {"score": 2.0, "rationale": "ok"},
        {"score": "2", "rationale": "ok"},
        {"score": 2},
        {"rationale": "ok"},
        {"score": 2, "rationale": "ok", "extra": 1},
        {"score": 2, "rationale": "x" * 49},
        {"score": 2, "rationale": 7},
        [2, "ok"],
        "ok",
    ],
)
def test_check_verdict_agrees_with_jsonschema(value: object) -> None:
    from workbench.rubrics.judge import check_verdict

    schema = verdict_schema([0, 1, 2, 3], 48)
    valid = jsonschema.Draft202012Validator(schema).is_valid(value)
    assert (check_verdict(value, [0, 1, 2, 3], 48) is None) == valid
