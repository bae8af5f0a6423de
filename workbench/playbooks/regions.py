"""Solution regions in playbook notebooks (nbgrader-style) and normalised fingerprints of their code.

Authors mark each exercise's answer inside a code cell (the convention in ``playbooks/README.md``)::

    ### BEGIN SOLUTION <exercise-id>
    ### HINT: <one line of hint text>          (zero or more, right after BEGIN)
    my_prompt = "You are the Acme help desk. Answer in one sentence."
    ### END SOLUTION

The learner version replaces each region, at the BEGIN marker's indentation, with a stub
(:func:`stub_source`). A solution's *fingerprint* is the SHA-256 of its normalised tokens
(:func:`normalised_tokens`: comments, blank lines, indentation and line breaks inside brackets dropped; string
and number literals compared by value, so quote style and ``1_000`` vs ``1000`` do not matter; adjacent
string literals joined; trailing commas dropped). :func:`contains` tells whether code contains a solution, so a
learner cell that pastes the shipped solution, even re-indented or re-quoted, is recognised.

Pure Python (no nbformat): the kernel-side API uses it too.
"""

from __future__ import annotations

import ast
import hashlib
import io
import re
import textwrap
import tokenize
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

#: Exercise ids: lower-case letters, digits and ``-``, starting with a letter or digit.
EXERCISE_ID = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_BEGIN = re.compile(r"^(?P<indent>[ \t]*)###[ \t]*BEGIN SOLUTION(?:[ \t]+(?P<id>\S*))?[ \t]*(?P<rest>.*)$")
_END = re.compile(r"^[ \t]*###[ \t]*END SOLUTION[ \t]*(?P<rest>.*)$")
_HINT = re.compile(r"^[ \t]*###[ \t]*HINT:[ \t]?(?P<text>.*)$")
#: Lines that look like a marker but are not one (wrong case, too few '#'): reported, never ignored silently.
_LOOSE = re.compile(r"^[ \t]*#+[ \t]*(BEGIN|END)[ \t_-]*SOLUTION|^[ \t]*#+[ \t]*HINT[ \t]*:", re.IGNORECASE)
_SEPARATOR = ";"
_CLOSING = frozenset(")]}")


@dataclass(frozen=True)
class SolutionRegion:
    """One solution region.

    Attributes:
        exercise: The exercise id.
        cell: Index of the cell in the notebook.
        begin_line: 1-based line of ``### BEGIN SOLUTION`` in the cell.
        end_line: 1-based line of ``### END SOLUTION``.
        indent: The BEGIN marker's indentation (the stub gets the same).
        hints: The HINT lines' text, in order.
        body: The solution's lines as written (with their indentation).
    """

    exercise: str
    cell: int
    begin_line: int
    end_line: int
    indent: str
    hints: tuple[str, ...]
    body: str

    @property
    def code(self) -> str:
        """The solution dedented (what a learner would paste)."""
        return textwrap.dedent(self.body)


@dataclass(frozen=True)
class MarkerProblem:
    """A malformed marker: where it is, what is wrong, how to fix it.

    Attributes:
        cell: Index of the cell in the notebook.
        line: 1-based line in the cell, when known.
        message: What is wrong.
        hint: How to fix it.
    """

    cell: int
    line: int | None
    message: str
    hint: str

    @property
    def where(self) -> str:
        """``cell N, line M`` (1-based line in the cell; cells counted from 0 as in ``cells[N]``)."""
        return f"cell {self.cell}" + (f", line {self.line}" if self.line else "")


@dataclass
class _Open:
    exercise: str
    line: int
    indent: str
    valid: bool
    hints: list[str] = field(default_factory=list)
    body: list[str] = field(default_factory=list)
    in_hints: bool = True


_FIX_BEGIN = "write `### BEGIN SOLUTION <exercise-id>` (the task's id, or <task-id>-<n>) on its own line"


def cell_regions(source: str, cell: int = 0) -> tuple[list[SolutionRegion], list[MarkerProblem]]:
    """The solution regions of one code cell's ``source``, and its marker problems."""
    regions: list[SolutionRegion] = []
    problems: list[MarkerProblem] = []
    current: _Open | None = None

    def problem(line: int | None, message: str, hint: str) -> None:
        problems.append(MarkerProblem(cell, line, message, hint))

    for number, line in enumerate(source.splitlines(), 1):
        begin, end, hint = _BEGIN.match(line), _END.match(line), _HINT.match(line)
        if begin:
            exercise = begin.group("id") or ""
            if current is not None:
                problem(number, f"BEGIN SOLUTION inside region '{current.exercise}' (opened on line "
                        f"{current.line}): regions never nest",
                        "close the first region with `### END SOLUTION` before opening the next")
                continue
            valid = bool(EXERCISE_ID.match(exercise)) and not begin.group("rest")
            if not valid:
                problem(number, f"BEGIN SOLUTION needs one exercise id of lower-case letters, digits and '-' "
                        f"(got '{(exercise + ' ' + begin.group('rest')).strip()}')", _FIX_BEGIN)
            current = _Open(exercise, number, begin.group("indent"), valid)
        elif end:
            if current is None:
                problem(number, "END SOLUTION without a BEGIN SOLUTION above it",
                        "add the matching `### BEGIN SOLUTION <exercise-id>` or remove this line")
                continue
            region = _close(current, cell, number, problem)
            if region is not None:
                regions.append(region)
            current = None
        elif hint:
            if current is not None and current.in_hints:
                text = hint.group("text").strip()
                if text:
                    current.hints.append(text)
                else:
                    problem(number, "empty HINT line", "write the hint after `### HINT: ` or remove the line")
            else:
                where = "after the region's first code line" if current is not None else "outside a region"
                problem(number, f"HINT line {where}: hints go right after BEGIN SOLUTION",
                        "move the `### HINT: ...` lines directly under `### BEGIN SOLUTION <exercise-id>`")
        elif _LOOSE.match(line):
            problem(number, f"malformed marker: {line.strip()!r}",
                    "markers are exactly `### BEGIN SOLUTION <id>`, `### HINT: text` and `### END SOLUTION`")
        elif current is not None:
            if line.strip():
                current.in_hints = False
            current.body.append(line)
    if current is not None:
        problem(current.line, f"BEGIN SOLUTION '{current.exercise}' is never closed",
                "add `### END SOLUTION` after the solution's last line (in the same cell)")
    return regions, problems


def _close(current: _Open, cell: int, end_line: int, problem: Callable[[int | None, str, str], None]
           ) -> SolutionRegion | None:
    body = "\n".join(current.body)
    if current.valid and not normalised_tokens(body):
        problem(current.line, f"region '{current.exercise}' has no solution code",
                "put the working answer between the markers (CI runs it)")
        return None
    if not current.valid:
        return None
    return SolutionRegion(current.exercise, cell, current.line, end_line, current.indent, tuple(current.hints),
                          body)


def cell_source(cell: Mapping[str, Any]) -> str:
    """A notebook cell's source as one string (nbformat keeps a string; raw JSON may hold a list of lines)."""
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)


def notebook_regions(cells: Sequence[Mapping[str, Any]]) -> tuple[list[SolutionRegion], list[MarkerProblem]]:
    """Every solution region of a notebook's code cells, and every marker problem (duplicate ids included)."""
    regions: list[SolutionRegion] = []
    problems: list[MarkerProblem] = []
    seen: dict[str, SolutionRegion] = {}
    for index, cell in enumerate(cells):
        if cell.get("cell_type") != "code":
            continue
        found, wrong = cell_regions(cell_source(cell), index)
        problems += wrong
        for region in found:
            first = seen.get(region.exercise)
            if first is not None:
                problems.append(MarkerProblem(
                    index, region.begin_line,
                    f"exercise id '{region.exercise}' is used twice (first in cell {first.cell}, line "
                    f"{first.begin_line})",
                    "give each region its own id: <task-id>-1, <task-id>-2 ... when a task has several"))
                continue
            seen[region.exercise] = region
            regions.append(region)
    return regions, problems


def replace_regions(source: str, regions: Iterable[SolutionRegion], replacement: Callable[[SolutionRegion], str]
                    ) -> str:
    """``source`` with each region (markers included) replaced by ``replacement(region)`` (whole lines)."""
    lines = source.splitlines()
    for region in sorted(regions, key=lambda r: r.begin_line, reverse=True):
        new = replacement(region).splitlines()
        lines[region.begin_line - 1 : region.end_line] = new
    out = "\n".join(lines)
    return out + "\n" if source.endswith("\n") else out


def stub_raise(exercise: str) -> str:
    """The stub's ``raise`` line (without indentation): running it unchanged fails the exercise."""
    return f'raise NotImplementedError("exercise {exercise}: write your answer here")'


def exercise_comment(exercise: str) -> str:
    """The start of the stub's first comment line, which names the exercise."""
    return f"# EXERCISE {exercise}:"


def stub_source(exercise: str, indent: str = "") -> str:
    """What the learner version has in place of a region (three lines at ``indent``)."""
    lines = [
        f"{exercise_comment(exercise)} write your own answer here, then run the cell.",
        f'# Stuck? hint("{exercise}") shows a hint (it is recorded).',
        stub_raise(exercise),
    ]
    return "\n".join(indent + line for line in lines)


def reindent(code: str, indent: str) -> str:
    """``code`` dedented, then indented by ``indent`` (blank lines stay blank)."""
    lines = textwrap.dedent(code).strip("\n").splitlines()
    return "\n".join(indent + line if line.strip() else "" for line in lines)


# -- normalised fingerprints ----------------------------------------------------------------------------
_DROPPED = frozenset(
    {tokenize.COMMENT, tokenize.NL, tokenize.INDENT, tokenize.DEDENT, tokenize.ENCODING, tokenize.ENDMARKER}
)
_NO_VALUE = object()


@dataclass(frozen=True)
class Fingerprint:
    """A solution's normalised hash and its length in tokens (the window :func:`contains` slides).

    Attributes:
        sha256: Hex SHA-256 of the normalised tokens.
        tokens: How many normalised tokens.
    """

    sha256: str
    tokens: int

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form (kept in released notebooks' metadata)."""
        return {"sha256": self.sha256, "tokens": self.tokens}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Fingerprint:
        """The inverse of :meth:`to_dict`."""
        return cls(str(data.get("sha256", "")), int(data.get("tokens", 0)))


def _lex(code: str) -> list[tuple[int, str]]:
    """(type, text) tokens of ``code``; line by line when the whole does not tokenize (magics, half code)."""
    text = textwrap.dedent(code)
    out: list[tuple[int, str]] = []
    try:
        for tok in tokenize.generate_tokens(io.StringIO(text).readline):
            out.append((tok.type, tok.string))
        return out
    except tokenize.TokenError:
        return out  # an unclosed bracket at the end: the tokens before it are right
    except (IndentationError, SyntaxError):
        pass
    out = []
    for line in text.splitlines():
        try:
            out += [(t.type, t.string) for t in tokenize.generate_tokens(io.StringIO(line.strip() + "\n").readline)]
        except (tokenize.TokenError, SyntaxError):
            out += [(tokenize.NAME, word) for word in line.split("#", 1)[0].split()]
        out.append((tokenize.NEWLINE, "\n"))
    return out


def _literal(text: str) -> Any:
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return _NO_VALUE


def _requote(text: str) -> str:
    """An f-string (or any literal that is not a constant) with its outer quotes normalised to ``'``."""
    prefix = re.match(r"^[A-Za-z]*", text)
    head = prefix.group(0) if prefix else ""
    body = text[len(head):]
    for quote in ('"""', "'''", '"', "'"):
        if body.startswith(quote) and body.endswith(quote) and len(body) >= 2 * len(quote):
            inner = body[len(quote) : -len(quote)]
            q = "'''" if len(quote) == 3 else "'"
            return head.lower() + q + inner + q
    return text


def normalised_tokens(code: str) -> list[str]:
    """The tokens two pieces of code must share to count as the same answer (see the module docstring)."""
    out: list[str] = []
    pending: list[Any] = []  # adjacent string literals, joined

    def flush() -> None:
        if pending:
            joined: Any = pending[0]
            for value in pending[1:]:
                joined = joined + value if type(value) is type(joined) else joined
            out.append(repr(joined))
            pending.clear()

    fstring_quotes = {getattr(tokenize, "FSTRING_START", -1), getattr(tokenize, "FSTRING_END", -1)}
    for kind, text in _lex(code):
        if kind in _DROPPED:
            continue
        if kind == tokenize.STRING:
            value = _literal(text)
            if value is not _NO_VALUE and isinstance(value, str | bytes):
                pending.append(value)
                continue
        flush()
        if kind == tokenize.NEWLINE or (kind == tokenize.OP and text == _SEPARATOR):
            if out and out[-1] != _SEPARATOR:
                out.append(_SEPARATOR)
        elif kind == tokenize.NUMBER:
            value = _literal(text)
            out.append(text if value is _NO_VALUE else repr(value))
        elif kind == tokenize.STRING or kind in fstring_quotes:
            out.append(_requote(text).replace('"', "'") if kind in fstring_quotes else _requote(text))
        elif kind == tokenize.OP and text in _CLOSING and out and out[-1] == ",":
            out[-1] = text  # a trailing comma says nothing about the answer
        elif kind == tokenize.OP and text == ")" and _grouped_literal(out):
            del out[-2]  # ("a" "b") is the literal 'ab': the parentheses only wrap lines
        else:
            out.append(text)
    flush()
    while out and out[-1] == _SEPARATOR:
        out.pop()
    while out and out[0] == _SEPARATOR:
        out.pop(0)
    return out


def _grouped_literal(out: list[str]) -> bool:
    """Whether ``out`` ends with ``(`` + one string literal that is not a call's argument list."""
    if len(out) < 2 or out[-2] != "(" or out[-1][:1] not in ("'", '"'):
        return False
    before = out[-3] if len(out) >= 3 else ""
    return not (before[:1].isalnum() or before[:1] == "_" or before in (")", "]", "}") or before[:1] in "'\"")


def _digest(tokens: Sequence[str]) -> str:
    return hashlib.sha256("\x1f".join(tokens).encode("utf-8")).hexdigest()


def fingerprint(code: str) -> Fingerprint:
    """The :class:`Fingerprint` of ``code``."""
    tokens = normalised_tokens(code)
    return Fingerprint(_digest(tokens), len(tokens))


@lru_cache(maxsize=1024)
def _cached_tokens(code: str) -> tuple[str, ...]:
    # A kernel checks the same cells for every task it starts: tokenize each version of a cell once.
    return tuple(normalised_tokens(code))


def contains(code: str, solution: Fingerprint) -> bool:
    """Whether ``code``'s normalised tokens contain the solution's, in one piece (a sliding window)."""
    if solution.tokens <= 0:
        return False
    tokens = _cached_tokens(code)
    width = solution.tokens
    return any(_digest(tokens[i : i + width]) == solution.sha256 for i in range(len(tokens) - width + 1))


__all__ = [
    "EXERCISE_ID",
    "Fingerprint",
    "MarkerProblem",
    "SolutionRegion",
    "cell_regions",
    "cell_source",
    "contains",
    "exercise_comment",
    "fingerprint",
    "normalised_tokens",
    "notebook_regions",
    "reindent",
    "replace_regions",
    "stub_raise",
    "stub_source",
]
