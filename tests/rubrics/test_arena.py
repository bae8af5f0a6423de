"""The blind arena: sides shuffled per prompt, votes mapped back to the right model, win rate with its interval."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from workbench.copilots.authoring import SAMPLE_QUESTIONS
from workbench.errors import ValidationError
from workbench.models import Generation, GenerationParams, GenerationStream
from workbench.models.backends import BaseChatBackend
from workbench.rubrics.arena import rubric_judge, run_arena, wilson_interval

PROMPTS = [{"id": f"q{i}", "question": q, "reference": a} for i, (q, a) in enumerate(SAMPLE_QUESTIONS)] * 3

RUBRIC = """\
id: arena-helpful-length
version: 1
title: A helpful length
pass_threshold: 0.5
criteria:
  - id: helpful-length
    description: Long enough to help, short enough for a chat window (6 to 80 words).
    weight: 1.0
    skill: evaluation_design
    levels:
      - {score: 0, descriptor: "Under 6 or over 80 words."}
      - {score: 1, descriptor: "Between 6 and 80 words."}
    scorer: {type: length, field: output, unit: words, min: 6, max: 80}
"""

class Shouter(BaseChatBackend):
    """A known bad model: it answers every question with the same three words."""

    name, context_length, bits = "shouter", 4096, None

    def _stream(self, prompt: Any, params: GenerationParams) -> GenerationStream:
        def chunks() -> Any:
            yield "PLEASE CALL SOMEONE."
            return Generation(text="PLEASE CALL SOMEONE.", model=self.name, input_tokens=1, output_tokens=4,
                              latency_s=0.0, ttft_s=0.0, finish_reason="stop", bits=None)  # fmt: skip

        return GenerationStream(chunks())

    def count_tokens(self, text_or_messages: Any) -> int:
        return 1

    def render_chat(self, messages: Any) -> str:
        return str(messages)


@pytest.fixture
def rubric(tmp_path: Path) -> Path:
    path = tmp_path / "helpful-length.yaml"
    path.write_text(RUBRIC, encoding="utf-8")
    return path


def test_the_better_model_wins_whichever_side_it_sits_on(tiny_model: Any, rubric: Path) -> None:
    judge = rubric_judge(rubric)
    result = run_arena(PROMPTS, ("tiny", tiny_model), ("shouter", Shouter()), judge, seed=7, max_new_tokens=40)
    seats = result.positions("tiny")
    assert seats["left"] >= 5 and seats["right"] >= 5  # the sides really were shuffled
    assert result.win_rate("tiny") >= 0.9 and result.win_rate("shouter") <= 0.1
    won_left = [v for v in result.votes if v.left == "tiny" and v.winner == "tiny"]
    won_right = [v for v in result.votes if v.right == "tiny" and v.winner == "tiny"]
    assert won_left and won_right  # the vote was mapped back through the shuffle both ways
    low, high = result.interval("tiny")
    assert low <= result.win_rate("tiny") <= high and low > 0.5
    # The same models passed the other way round: the same winner.
    swapped = run_arena(PROMPTS, ("shouter", Shouter()), ("tiny", tiny_model), judge, seed=7, max_new_tokens=40)
    assert swapped.win_rate("tiny") == result.win_rate("tiny")


def test_a_judge_that_always_says_left_gets_no_winner(tiny_model: Any) -> None:
    def left(_item: Mapping[str, Any], _left: str, _right: str) -> str:
        return "left"

    result = run_arena(PROMPTS, ("tiny", tiny_model), ("shouter", Shouter()), left, seed=3, max_new_tokens=8)
    # Position bias becomes noise, not a verdict: the win rate is the share of prompts tiny sat on the left.
    assert result.win_rate("tiny") == result.positions("tiny")["left"] / len(PROMPTS)
    low, high = result.interval("tiny")
    assert low < 0.5 < high


def test_ties_count_half_and_bad_input_is_refused(tiny_model: Any) -> None:
    result = run_arena(PROMPTS[:4], ("tiny", tiny_model), ("shouter", Shouter()), lambda *_: "tie", max_new_tokens=4)
    assert result.wins == {"tiny": 2.0, "shouter": 2.0} and result.to_dict()["win_rate"] == 0.5
    with pytest.raises(ValidationError, match="both sides"):
        run_arena(PROMPTS, ("x", tiny_model), ("x", Shouter()), lambda *_: "tie")
    with pytest.raises(ValidationError, match="judge answered 'A'"):
        run_arena(PROMPTS[:1], ("tiny", tiny_model), ("shouter", Shouter()), lambda *_: "A", max_new_tokens=4)
    with pytest.raises(ValidationError, match="at least one prompt"):
        run_arena([], ("tiny", tiny_model), ("shouter", Shouter()), lambda *_: "tie")


@pytest.mark.parametrize(("wins", "n", "low", "high"), [(8, 10, 0.490, 0.943), (0, 10, 0.0, 0.278), (5, 10, 0.237, 0.763)])
def test_wilson_interval_matches_the_textbook(wins: float, n: int, low: float, high: float) -> None:
    got = wilson_interval(wins, n)
    assert got == pytest.approx((low, high), abs=0.001)
    assert wilson_interval(0, 0) == (0.0, 1.0)


