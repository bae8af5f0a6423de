"""A blind side-by-side arena: two models answer the same prompts, a judge picks a side, win rate with a CI.

What makes it blind: for every prompt the two answers are shown as ``left`` and ``right`` in a random order
(seeded, so a run can be repeated), and the judge sees only the sides, never which model wrote which. The
vote is mapped back to the models afterwards. A judge with a position bias (always ``left``, say) therefore
lands near a 50 % win rate instead of crowning whichever model was passed first.

Judges are callables ``judge(prompt, left, right) -> "left" | "right" | "tie"``:

- :func:`rubric_judge` scores both answers with a rubric (:func:`~workbench.rubrics.score_items`, deterministic
  scorers or the local judge) and votes for the higher score (a tie within ``margin``);
- a person voting in a notebook is one too (any callable will do).

The win rate counts a tie as half a win; its 95 % interval is Wilson's score interval over the decided votes
plus ties as halves (:func:`wilson_interval`), the usual choice for small samples.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from workbench.errors import ValidationError

Side = Literal["left", "right", "tie"]
Judge = Callable[[Mapping[str, Any], str, str], str]


@dataclass(frozen=True)
class ArenaVote:
    """One prompt's match: which model sat on the left, both answers, the judge's side and the winner."""

    prompt_id: str
    left: str
    right: str
    left_text: str
    right_text: str
    side: Side
    winner: str | None  # the model's label, or None for a tie


@dataclass
class ArenaResult:
    """An arena's outcome for model ``a`` against model ``b``."""

    a: str
    b: str
    votes: list[ArenaVote] = field(default_factory=list)

    @property
    def wins(self) -> dict[str, float]:
        """Wins per model (a tie is half a win each)."""
        won = {self.a: 0.0, self.b: 0.0}
        for vote in self.votes:
            if vote.winner is None:
                won[self.a] += 0.5
                won[self.b] += 0.5
            else:
                won[vote.winner] += 1.0
        return won

    def win_rate(self, model: str | None = None) -> float:
        """Share of matches ``model`` (default ``a``) won, ties counting half."""
        model = model or self.a
        return self.wins[model] / len(self.votes) if self.votes else 0.0

    def interval(self, model: str | None = None, z: float = 1.96) -> tuple[float, float]:
        """The Wilson score interval of :meth:`win_rate` (95 % by default)."""
        return wilson_interval(self.wins[model or self.a], len(self.votes), z=z)

    def positions(self, model: str | None = None) -> dict[str, int]:
        """How often ``model`` (default ``a``) sat on each side: the randomisation, made visible."""
        model = model or self.a
        return {"left": sum(v.left == model for v in self.votes), "right": sum(v.right == model for v in self.votes)}

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary and votes."""
        low, high = self.interval()
        return {
            "a": self.a, "b": self.b, "matches": len(self.votes), "wins": self.wins,
            "win_rate": round(self.win_rate(), 4), "ci95": [round(low, 4), round(high, 4)],
            "positions": self.positions(), "votes": [vote.__dict__ for vote in self.votes],
        }  # fmt: skip


def wilson_interval(successes: float, n: int, *, z: float = 1.96) -> tuple[float, float]:
    """Wilson's score interval of a proportion ``successes / n`` (``(0, 1)`` when ``n`` is 0)."""
    if n <= 0:
        return 0.0, 1.0
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def run_arena(
    prompts: Sequence[Mapping[str, Any]],
    a: tuple[str, Any],
    b: tuple[str, Any],
    judge: Judge,
    *,
    seed: int = 0,
    max_new_tokens: int = 64,
) -> ArenaResult:
    """Both models answer every prompt; the judge votes blind on shuffled sides.

    Args:
        prompts: ``{"id"?, "prompt"`` (or ``"question"``)``, ...}`` each; the rest (a ``reference``, say) is
            passed to the judge.
        a, b: ``(label, ChatBackend)`` of the two sides (greedy generation).
        judge: ``judge(prompt_item, left_text, right_text) -> "left" | "right" | "tie"``.
        seed: Seeds the side order of every prompt.
        max_new_tokens: Longest answer.

    Raises:
        ValidationError: No prompts, two sides with one label, a prompt without text, or a judge answering
            something else than a side.
    """
    if not prompts:
        raise ValidationError("the arena needs at least one prompt", field="prompts")
    if a[0] == b[0]:
        raise ValidationError(f"both sides are called '{a[0]}'", field="labels", hint="give the models two labels")
    rng = random.Random(seed)
    result = ArenaResult(a[0], b[0])
    for i, item in enumerate(prompts):
        text = str(item.get("prompt") or item.get("question") or "")
        if not text.strip():
            raise ValidationError(f"prompt {i} has no text", field=f"prompts[{i}].prompt")
        answers = {label: model.generate(text, max_new_tokens=max_new_tokens).text for label, model in (a, b)}
        left, right = (a[0], b[0]) if rng.random() < 0.5 else (b[0], a[0])
        side = judge(item, answers[left], answers[right])
        if side not in ("left", "right", "tie"):
            raise ValidationError(f"the judge answered {side!r} for prompt {i}", field="judge",
                                  hint="a judge returns 'left', 'right' or 'tie'")  # fmt: skip
        winner = left if side == "left" else right if side == "right" else None
        result.votes.append(ArenaVote(str(item.get("id") or i), left, right, answers[left], answers[right],
                                      side, winner))  # type: ignore[arg-type]  # fmt: skip
    return result


def rubric_judge(rubric: Any, *, margin: float = 0.0, backend: Any = None, source: str | Path | None = None) -> Judge:
    """A judge that scores both answers with ``rubric`` (as ``output``) and votes for the higher score.

    Args:
        rubric: A :class:`~workbench.rubrics.Rubric`, a rubric file or a built-in id.
        margin: Scores closer than this are a tie.
        backend: The judge model for judged criteria (default: the rubric's).
        source: The prompts file, for error messages.
    """
    from workbench.rubrics.scoring import score_items

    def judge(item: Mapping[str, Any], left: str, right: str) -> str:
        base = {k: v for k, v in item.items() if k not in ("output", "id")}
        scored = score_items(rubric, [{**base, "id": "left", "output": left}, {**base, "id": "right", "output": right}],
                             backend=backend, record=False, review_queue=False, source=source)  # fmt: skip
        diff = scored[0].score - scored[1].score
        return "tie" if abs(diff) <= margin else "left" if diff > 0 else "right"

    return judge


__all__ = ["ArenaResult", "ArenaVote", "Judge", "rubric_judge", "run_arena", "wilson_interval"]
