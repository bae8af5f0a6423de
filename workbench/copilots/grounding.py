"""Citations and groundedness of a cited answer: a lexical check that needs no judge model.

An answer cites a passage as ``[2]`` (its number in the prompt, as ``answer-with-citations`` asks) or as
``[source/id.md]`` (its source id). An answer is **cited** when at least one citation names a passage that was
in its prompt; a cited answer is **grounded** when every citation names such a passage and at least
:data:`MIN_SUPPORT` of the answer's content words (four letters or more, citations removed) occur in the passages
it cites. It is a proxy: it catches invented citations and answers that cite one thing and say another, not
subtle contradictions (a rubric's judge criterion does that, at the cost of a model call).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

#: Share of an answer's content words that must occur in the passages it cites.
MIN_SUPPORT = 0.5
_CITATION = re.compile(r"\[([^\[\]\n]{1,200})\]")
_WORD = re.compile(r"[A-Za-z0-9]{4,}")


@dataclass(frozen=True)
class Grounding:
    """How an answer cites its passages.

    Attributes:
        citations: What the answer cites, as written (``2``, ``data/csv.md``).
        cited: Passage positions (0-based) the valid citations name, first-seen order.
        invalid: Citations that name no passage of the prompt.
        support: Share of the answer's content words found in the cited passages (``None`` when uncited).
    """

    citations: tuple[str, ...]
    cited: tuple[int, ...]
    invalid: tuple[str, ...]
    support: float | None

    @property
    def is_cited(self) -> bool:
        """At least one citation names a passage of the prompt."""
        return bool(self.cited)

    @property
    def grounded(self) -> bool | None:
        """Cited, every citation valid, and supported; ``None`` for an answer that cites nothing."""
        if not self.is_cited:
            return None
        return not self.invalid and (self.support or 0.0) >= MIN_SUPPORT


def ground(answer: str, passages: Sequence[str], sources: Sequence[str]) -> Grounding:
    """Check ``answer``'s citations against the ``passages`` of its prompt (with their ``sources`` ids)."""
    citations: list[str] = []
    cited: list[int] = []
    invalid: list[str] = []
    for match in _CITATION.finditer(answer):
        for part in (p.strip() for p in match.group(1).split(",")):
            if not part:
                continue
            citations.append(part)
            position = _position(part, len(passages), sources)
            if position is None:
                invalid.append(part)
            elif position not in cited:
                cited.append(position)
    support = None
    if cited:
        words = {w.lower() for w in _WORD.findall(_CITATION.sub(" ", answer))}
        known = {w.lower() for i in cited for w in _WORD.findall(passages[i])}
        support = 1.0 if not words else len(words & known) / len(words)
    return Grounding(tuple(citations), tuple(cited), tuple(invalid), support)


def _position(citation: str, count: int, sources: Sequence[str]) -> int | None:
    if citation.isdigit():
        number = int(citation)
        return number - 1 if 1 <= number <= count else None
    return next((i for i, source in enumerate(sources) if source == citation), None)
