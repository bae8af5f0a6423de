"""JSON mode: the automaton accepts exactly JSON objects, and constrained generation stays valid JSON."""

from __future__ import annotations

import json
import random

import pytest

from workbench.errors import ValidationError
from workbench.models import GenerationParams
from workbench.models.structured import JsonAutomaton

VALID = [
    "{}",
    '{"a": 1}',
    '{"name": "Ana", "team": "Support"}',
    '{\n  "n": -0.5e+3, "t": true, "f": false, "z": null,\n  "l": [1, [2, {}], "x"], "e": []\n}',
    '{"s": "quote \\" slash \\\\ uni \\u00e9 tab \\t"}',
    '{"deep": {"er": {"est": [0, 10, 2.25]}}}',
]
INVALID = [
    "", "[]", '"str"', "{", '{"a": }', '{"a" 1}', '{"a": 1,}', '{a: 1}', "{'a': 1}", '{"a": 01}',
    '{"a": 1}}', '{"a": tru}', '{"a": "\\x"}', '{"a": "line\nbreak"}', '{"a": 1} {"b": 2}', '{"a": .5}',
]  # fmt: skip


@pytest.mark.parametrize("text", VALID)
def test_accepts_json_objects(text: str) -> None:
    assert JsonAutomaton().accepts(text)
    json.loads(text)


@pytest.mark.parametrize("text", INVALID)
def test_rejects_everything_else(text: str) -> None:
    assert not JsonAutomaton().accepts(text)


def test_agrees_with_the_json_module_on_random_mutations() -> None:
    rng = random.Random(7)
    automaton, alphabet = JsonAutomaton(), '{}[]":,0123456789.-eE tfnrulas\\'
    checked = 0
    for _ in range(3000):
        text = list(rng.choice(VALID))
        for _ in range(rng.randint(1, 3)):
            pos = rng.randrange(len(text) + 1)
            if rng.random() < 0.5 and text:
                text.pop(min(pos, len(text) - 1))
            else:
                text.insert(pos, rng.choice(alphabet))
        s = "".join(text)
        try:
            parsed = json.loads(s)
            expected = isinstance(parsed, dict) and "  " * 5 not in s
        except ValueError:
            expected = False
        if "\n" in s or "  " in s:
            continue  # whitespace runs are capped on purpose; json accepts any run
        assert automaton.accepts(s) == expected, s
        checked += 1
    assert checked > 2000


def test_response_format_is_validated() -> None:
    assert GenerationParams(response_format="json_object").json_mode
    with pytest.raises(ValidationError, match="response_format"):
        GenerationParams(response_format="yaml")


def test_constrained_generation_on_the_tiny_model_stays_inside_json(tiny_model) -> None:  # type: ignore[no-untyped-def]
    automaton = JsonAutomaton()
    prompts = ["How do I reset my password?", "Reply in JSON.", "My VPN is broken", "Order a laptop"]
    for gen in tiny_model.generate_batch(prompts, max_new_tokens=40, response_format="json_object"):
        state = automaton.feed(automaton.initial, gen.text)
        assert state is not None, gen.text  # always a prefix of a JSON object
        if gen.finish_reason == "stop":
            assert isinstance(json.loads(gen.text), dict)


@pytest.mark.slow
def test_smollm2_writes_valid_json_only_when_constrained(smollm2) -> None:  # type: ignore[no-untyped-def]
    prompt = "Extract the person's name and city as JSON: Bruno lives in Porto."
    free = smollm2.generate(prompt, max_new_tokens=48)
    constrained = smollm2.generate(prompt, max_new_tokens=48, response_format="json_object")
    assert json.loads(constrained.text) == {"name": "Bruno", "city": "Porto"}
    with pytest.raises(ValueError):
        json.loads(free.text)  # the model goes on explaining after its JSON: a lesson in itself
