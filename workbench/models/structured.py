"""JSON mode: constrained decoding that keeps a local model's output one valid JSON object.

``GenerationParams(response_format="json_object")`` (OpenAI's name for it; Ollama's ``format: json``) makes a
local model's every token keep the output a prefix of a JSON object, and lets it end only once the object is
closed. The OpenAI-compatible backend passes the same setting to the endpoint.

How: :class:`JsonAutomaton` is a character-level pushdown automaton of JSON (objects, arrays, strings with
escapes, numbers, ``true``/``false``/``null``) with immutable states, and :class:`JsonLogitsProcessor` checks
candidate tokens *lazily*: in the order of the model's scores, it feeds each token's text to the automaton and
keeps the first ``candidates`` that stay valid (1 for greedy decoding, the sampling pool otherwise), masking the
rest. A model that already writes JSON pays a few automaton steps per token instead of a scan of its whole
vocabulary (49,152 tokens for SmolLM2); only when none of the top 256 tokens fits is the whole vocabulary
scanned. Whitespace between tokens is capped so a small model cannot pad forever.

Why not a library: see :mod:`workbench.rubrics.constrained` (xgrammar needs triton on Linux; outlines brings a
dozen dependencies); this automaton is dependency-free and batches.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Generic, TypeVar

#: Most whitespace characters in a row outside strings (pretty-printing needs a newline and some indent).
MAX_WHITESPACE = 8
#: Most nesting levels.
MAX_DEPTH = 16
#: Candidates examined in score order before the whole vocabulary is scanned.
LAZY_WINDOW = 256

# Modes of the automaton. A state is (mode, stack, data, whitespace run); the stack holds "o"/"a" per open
# container; data is mode-specific.
_START, _VALUE, _KEY_OR_END, _KEY, _COLON, _AFTER, _STRING, _NUMBER, _LITERAL, _DONE = range(10)
_WS = frozenset(" \n\t\r")
_ESCAPES = frozenset('"\\/bfnrt')
_HEX = frozenset("0123456789abcdefABCDEF")
_LITERALS = {"t": "rue", "f": "alse", "n": "ull"}

State = tuple[int, tuple[str, ...], Any, int]
S = TypeVar("S", bound=tuple[Any, ...])


class CharAutomaton(Generic[S]):
    """A character-level automaton with immutable tuple states: :meth:`step` reads one character.

    Subclasses set ``initial`` (the state before any text) and ``done`` (the first field of a state that has
    read a complete text) and define :meth:`step`; feeding text and acceptance are shared.
    """

    initial: S
    done: int

    def step(self, state: S, ch: str) -> S | None:
        """The state after ``ch``, or ``None`` when ``ch`` cannot follow."""
        raise NotImplementedError

    def feed(self, state: S | None, text: str) -> S | None:
        """The state after ``text``; ``None`` once any character cannot follow."""
        for ch in text:
            if state is None:
                return None
            state = self.step(state, ch)
        return state

    def is_done(self, state: S | None) -> bool:
        """Whether ``state`` has read a complete text (only what the automaton allows after it may follow)."""
        return state is not None and state[0] == self.done

    def accepts(self, text: str) -> bool:
        """Whether ``text`` is exactly one complete text of the automaton's language."""
        return self.is_done(self.feed(self.initial, text))


class JsonAutomaton(CharAutomaton[State]):
    """Accepts exactly the texts that are one JSON object (optionally padded with a little whitespace)."""

    initial: State = (_START, (), None, 0)
    done = _DONE

    def step(self, state: State, ch: str) -> State | None:
        """The state after ``ch``, or ``None`` when ``ch`` cannot follow."""
        mode, stack, data, ws = state
        if ch in _WS and mode in (_START, _VALUE, _KEY_OR_END, _KEY, _COLON, _AFTER, _DONE):
            return (mode, stack, data, ws + 1) if ws < MAX_WHITESPACE else None
        if mode == _STRING:
            return _string_step(stack, data, ch)
        if mode == _NUMBER:
            after = _number_step(data, ch)
            if after is not None:
                return (_NUMBER, stack, after, 0)
            if data not in ("int", "frac", "exp", "zero"):
                return None
            return self.step(_closed_value(stack), ch)  # the number ended; ch must follow a value
        if mode == _LITERAL:
            if ch != data[0]:
                return None
            return (_LITERAL, stack, data[1:], 0) if len(data) > 1 else _closed_value(stack)
        return _structural_step(mode, stack, data, ch)


def _closed_value(stack: tuple[str, ...]) -> State:
    """The state after a complete value inside ``stack`` (a number or literal whose end is only now seen)."""
    return (_AFTER, stack, None, 0) if stack else (_DONE, (), None, 0)


def _open(stack: tuple[str, ...], kind: str) -> State | None:
    if len(stack) >= MAX_DEPTH:
        return None
    return (_KEY_OR_END, (*stack, "o"), None, 0) if kind == "o" else (_VALUE, (*stack, "a"), "first", 0)


def _value_start(stack: tuple[str, ...], ch: str) -> State | None:
    if ch == "{":
        return _open(stack, "o")
    if ch == "[":
        return _open(stack, "a")
    if ch == '"':
        return (_STRING, stack, ("value", 0), 0)
    if ch == "-":
        return (_NUMBER, stack, "sign", 0)
    if ch == "0":
        return (_NUMBER, stack, "zero", 0)
    if ch.isdigit() and ch.isascii():
        return (_NUMBER, stack, "int", 0)
    if ch in _LITERALS:
        return (_LITERAL, stack, _LITERALS[ch], 0)
    return None


def _close(stack: tuple[str, ...], ch: str) -> State | None:
    if not stack or {"}": "o", "]": "a"}[ch] != stack[-1]:
        return None
    return _closed_value(stack[:-1])


def _structural_step(mode: int, stack: tuple[str, ...], data: Any, ch: str) -> State | None:
    if mode == _START:
        return _open((), "o") if ch == "{" else None
    if mode == _VALUE:
        if ch == "]" and data == "first":
            return _close(stack, ch)
        return _value_start(stack, ch)
    if mode in (_KEY_OR_END, _KEY):
        if ch == '"':
            return (_STRING, stack, ("key", 0), 0)
        return _close(stack, ch) if ch == "}" and mode == _KEY_OR_END else None
    if mode == _COLON:
        return (_VALUE, stack, None, 0) if ch == ":" else None
    if mode == _AFTER:
        if ch == ",":
            return (_KEY, stack, None, 0) if stack[-1] == "o" else (_VALUE, stack, None, 0)
        return _close(stack, ch) if ch in "}]" else None
    return None  # _DONE: only whitespace may follow


def _string_step(stack: tuple[str, ...], data: tuple[str, Any], ch: str) -> State | None:
    role, escape = data
    if escape == "\\":
        if ch == "u":
            return (_STRING, stack, (role, 4), 0)
        return (_STRING, stack, (role, 0), 0) if ch in _ESCAPES else None
    if isinstance(escape, int) and escape > 0:
        return (_STRING, stack, (role, escape - 1), 0) if ch in _HEX else None
    if ch == '"':
        return (_COLON, stack, None, 0) if role == "key" else _closed_value(stack)
    if ch == "\\":
        return (_STRING, stack, (role, "\\"), 0)
    return None if ord(ch) < 0x20 else (_STRING, stack, data, 0)


def _number_step(phase: str, ch: str) -> str | None:
    """The number's next phase after ``ch``, or ``None`` when ``ch`` is not part of it."""
    digit = ch.isascii() and ch.isdigit()
    table = {
        "sign": "zero" if ch == "0" else ("int" if digit else None),
        "zero": "dot" if ch == "." else ("e" if ch in "eE" else None),
        "int": "int" if digit else ("dot" if ch == "." else ("e" if ch in "eE" else None)),
        "dot": "frac" if digit else None,
        "frac": "frac" if digit else ("e" if ch in "eE" else None),
        "e": "esign" if ch in "+-" else ("exp" if digit else None),
        "esign": "exp" if digit else None,
        "exp": "exp" if digit else None,
    }
    return table.get(phase)


class JsonLogitsProcessor:
    """A transformers ``LogitsProcessor`` keeping every row of a batch a prefix of one JSON object.

    Create one per ``generate`` call (it tracks the rows' states).

    Args:
        tokenizer: The model's tokenizer.
        eos_token_id: End-of-sequence token(s), allowed only once the object is complete.
        vocab_size: Width of the model's logits.
        candidates: Valid tokens kept per step, in score order (1 for greedy decoding).
    """

    def __init__(
        self, tokenizer: Any, eos_token_id: int | Sequence[int], vocab_size: int, candidates: int = 1
    ) -> None:
        from workbench.models.tokens import token_texts

        self.automaton = JsonAutomaton()
        self.eos = [eos_token_id] if isinstance(eos_token_id, int) else list(eos_token_id)
        self.texts = token_texts(tokenizer)
        self.vocab_size = vocab_size
        self.candidates = max(1, candidates)
        self._prompt_len: int | None = None
        self.states: list[State | None] = []

    def _advance(self, input_ids: Any) -> None:
        rows, length = input_ids.shape
        if self._prompt_len is None:
            self._prompt_len = length
            self.states = [self.automaton.initial] * rows
            return
        for row, token_id in enumerate(input_ids[:, -1].tolist()):
            state = self.states[row]
            text = self.texts[token_id] if token_id < len(self.texts) else None
            self.states[row] = self.automaton.feed(state, text) if state is not None and text else None

    def _allowed(self, state: State, row_scores: Any) -> list[int]:
        order = row_scores.topk(min(LAZY_WINDOW, row_scores.shape[-1])).indices.tolist()
        found = [t for t in order if self._fits(state, t)][: self.candidates]
        if not found:  # rare: nothing plausible fits; look through the whole vocabulary
            found = [t for t in row_scores.argsort(descending=True).tolist() if self._fits(state, t)][:1]
        return found

    def _fits(self, state: State, token_id: int) -> bool:
        text = self.texts[token_id] if token_id < len(self.texts) else None
        return bool(text) and self.automaton.feed(state, text) is not None  # type: ignore[arg-type]

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        import torch

        self._advance(input_ids)
        allowed = torch.zeros_like(scores, dtype=torch.bool)
        for row, state in enumerate(self.states):
            if state is None or self.automaton.is_done(state):
                allowed[row, self.eos] = True  # complete (or, defensively, lost): end here
                continue
            ids = self._allowed(state, scores[row])
            allowed[row, ids or self.eos] = True
        return scores.masked_fill(~allowed, float("-inf"))
