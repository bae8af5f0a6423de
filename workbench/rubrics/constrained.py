"""Constrained decoding of judge verdicts: a token-level automaton as a transformers ``LogitsProcessor``.

The judge's output language is fixed and tiny::

    {"score": <one of the level scores>, "rationale": "<1..N printable ASCII chars, no quote or backslash>"}

so a hand-written automaton beats a general structured-generation library here. At each step the processor
masks every token whose text would leave the language (tokens may span several characters or cross from the
score into the rationale); end-of-sequence is allowed only once the closing brace is out. The rationale's
character cap bounds the output, so ``max_new_tokens = automaton.max_chars + 1`` always finishes: every
sequence the model can produce parses as JSON and validates against :func:`verdict_schema`.

Why not a library: xgrammar 0.2.8 was checked here and works offline with transformers 5.23 (its
``contrib.hf.LogitsProcessor``; 10/10 valid with ``any_whitespace=False``, 7/10 with the default, where a tiny
model pads with whitespace until it runs out of tokens), but it requires ``triton`` and ``apache-tvm-ffi``
on Linux (hundreds of MB for a CPU-only install) and took ~0.9 s a call unbatched on the built-in model.
outlines 1.x brings outlines-core plus a dozen dependencies for the same one schema. The automaton below is
~200 lines, has no dependencies, batches, and is tested on 200+ calls.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from workbench.models.structured import CharAutomaton
from workbench.models.tokens import token_texts

#: Characters allowed inside the rationale: printable ASCII without the quote and the backslash, so the
#: string never needs escaping.
RATIONALE_CHARS = frozenset(chr(c) for c in range(0x20, 0x7F)) - {'"', "\\"}

# Automaton phases.
_HEAD, _SCORE, _MID, _RATIONALE, _TAIL, _DONE = range(6)

State = tuple[int, Any]


def verdict_schema(scores: Sequence[int], max_rationale: int = 48) -> dict[str, Any]:
    """The JSON Schema of a judge verdict for a criterion whose levels are ``scores``."""
    return {
        "type": "object",
        "properties": {
            "score": {"type": "integer", "enum": list(scores)},
            "rationale": {"type": "string", "minLength": 1, "maxLength": max_rationale},
        },
        "required": ["score", "rationale"],
        "additionalProperties": False,
    }


class VerdictAutomaton(CharAutomaton[State]):
    """Character-level automaton of the verdict language for one set of level scores.

    States are small tuples ``(phase, data)``: the position in a literal, the score digits so far, or the
    number of rationale characters so far.

    Args:
        scores: The allowed scores (the criterion's level scores).
        max_rationale: Most characters in the rationale.
        min_rationale: Fewest characters in the rationale.
    """

    HEAD = '{"score": '
    MID = ', "rationale": "'
    TAIL = '"}'
    done = _DONE

    def __init__(self, scores: Sequence[int], max_rationale: int = 48, min_rationale: int = 1) -> None:
        if not scores:
            raise ValueError("a verdict needs at least one allowed score")
        if not 0 <= min_rationale <= max_rationale:
            raise ValueError("need 0 <= min_rationale <= max_rationale")
        self.scores = tuple(str(int(s)) for s in scores)
        self.max_rationale = max_rationale
        self.min_rationale = min_rationale
        self.initial: State = (_HEAD, 0)

    @property
    def max_chars(self) -> int:
        """The longest verdict in characters (and so in tokens: every token has at least one)."""
        return len(self.HEAD) + max(map(len, self.scores)) + len(self.MID) + self.max_rationale + len(self.TAIL)

    def step(self, state: State, ch: str) -> State | None:
        """The state after reading ``ch``, or ``None`` when ``ch`` leaves the language."""
        phase, data = state
        if phase == _HEAD:
            if ch != self.HEAD[data]:
                return None
            return (_HEAD, data + 1) if data + 1 < len(self.HEAD) else (_SCORE, "")
        if phase == _SCORE:
            typed = data + ch
            if any(s.startswith(typed) for s in self.scores):
                return (_SCORE, typed)
            if data in self.scores and ch == self.MID[0]:
                return (_MID, 1)
            return None
        if phase == _MID:
            if ch != self.MID[data]:
                return None
            return (_MID, data + 1) if data + 1 < len(self.MID) else (_RATIONALE, 0)
        if phase == _RATIONALE:
            if ch in RATIONALE_CHARS and data < self.max_rationale:
                return (_RATIONALE, data + 1)
            if ch == self.TAIL[0] and data >= self.min_rationale:
                return (_TAIL, 1)
            return None
        if phase == _TAIL:
            if ch != self.TAIL[data]:
                return None
            return (_TAIL, data + 1) if data + 1 < len(self.TAIL) else (_DONE, None)
        return None


class _VocabIndex:
    """Per (tokenizer, automaton) lookups: allowed-token masks per state, cached."""

    def __init__(self, automaton: VerdictAutomaton, texts: list[str | None], vocab_size: int) -> None:
        import torch

        self.automaton = automaton
        self.texts = texts
        self.vocab_size = vocab_size
        self.by_first: dict[str, list[int]] = {}
        lead = torch.zeros(vocab_size, dtype=torch.long)
        pure = torch.zeros(vocab_size, dtype=torch.bool)
        closing = torch.zeros(vocab_size, dtype=torch.bool)
        for token_id, text in enumerate(texts[:vocab_size]):
            if not text:
                continue
            self.by_first.setdefault(text[0], []).append(token_id)
            n = 0
            while n < len(text) and text[n] in RATIONALE_CHARS:
                n += 1
            lead[token_id] = n
            rest = text[n:]
            pure[token_id] = rest == "" and n > 0
            closing[token_id] = rest in ('"', '"}')
        self.lead, self.pure, self.closing = lead, pure, closing
        self._masks: dict[State, Any] = {}

    def allowed(self, state: State | None) -> Any:
        """A boolean mask over the vocabulary of tokens allowed after ``state``."""
        import torch

        key: State = state if state is not None else (_DONE, None)
        mask = self._masks.get(key)
        if mask is not None:
            return mask
        a = self.automaton
        phase, data = key
        if phase == _RATIONALE:
            room = a.max_rationale - data
            fits = self.lead <= room
            mask = (self.pure & fits) | (self.closing & fits & (self.lead >= a.min_rationale - data))
        else:
            mask = torch.zeros(self.vocab_size, dtype=torch.bool)
            if phase != _DONE:
                for first, ids in self.by_first.items():
                    if a.step(key, first) is None:
                        continue
                    for token_id in ids:
                        text = self.texts[token_id]
                        assert text is not None
                        if a.feed(key, text) is not None:
                            mask[token_id] = True
        self._masks[key] = mask
        return mask


class VerdictLogitsProcessor:
    """A transformers ``LogitsProcessor`` that keeps every row of a batch inside the verdict language.

    Works with greedy search and sampling, left-padded batches and ``num_return_sequences``. Create one per
    ``generate`` call (it tracks the rows' states).

    Args:
        automaton: The verdict language.
        tokenizer: The model's tokenizer.
        eos_token_id: The end-of-sequence token(s), allowed only after a complete verdict.
        vocab_size: The width of the model's logits (may exceed the tokenizer's length).
    """

    def __init__(
        self, automaton: VerdictAutomaton, tokenizer: Any, eos_token_id: int | Sequence[int], vocab_size: int
    ) -> None:
        self.automaton = automaton
        self.eos_token_ids = [eos_token_id] if isinstance(eos_token_id, int) else list(eos_token_id)
        self.index = _index_for(automaton, tokenizer, vocab_size)
        self._prompt_len: int | None = None
        self._states: list[State | None] = []
        self._on_device: dict[tuple[State, str], Any] = {}  # masks copied to the logits' device, once each

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        import torch

        rows, length = input_ids.shape
        if self._prompt_len is None:
            self._prompt_len = length
            self._states = [self.automaton.initial] * rows
        else:
            last = input_ids[:, -1].tolist()
            texts = self.index.texts
            for row, token_id in enumerate(last):
                state = self._states[row]
                if state is None or self.automaton.is_done(state):
                    self._states[row] = (_DONE, None) if state is not None else None
                    continue
                text = texts[token_id] if token_id < len(texts) else None
                self._states[row] = self.automaton.feed(state, text) if text else None
        width = scores.shape[-1]
        allowed = torch.zeros((rows, width), dtype=torch.bool, device=scores.device)
        for row, state in enumerate(self._states):
            if state is None or self.automaton.is_done(state):
                allowed[row, self.eos_token_ids] = True  # finished (or, defensively, lost): end here
                continue
            key = (state, str(scores.device))
            mask = self._on_device.get(key)
            if mask is None:
                mask = self._on_device[key] = self.index.allowed(state).to(scores.device)
            n = min(width, mask.shape[0])
            allowed[row, :n] = mask[:n]
        return scores.masked_fill(~allowed, float("-inf"))


_INDEXES: dict[tuple[int, tuple[str, ...], int, int, int], _VocabIndex] = {}


def _index_for(automaton: VerdictAutomaton, tokenizer: Any, vocab_size: int) -> _VocabIndex:
    key = (id(tokenizer), automaton.scores, automaton.max_rationale, automaton.min_rationale, vocab_size)
    index = _INDEXES.get(key)
    if index is None or index.texts is not token_texts(tokenizer):
        # Share the automaton of the first index: the masks are cached per state and depend only on the key.
        index = _VocabIndex(automaton, token_texts(tokenizer), vocab_size)
        if len(_INDEXES) > 32:
            _INDEXES.clear()
        _INDEXES[key] = index
    return index
