"""Fine-tuning data: instruction and chat JSONL, validated line by line, rendered with the chat template.

Two record formats (one JSON object per line; blank lines and lines starting with ``//`` are skipped):

- instruction: ``{"instruction": "...", "input": "..." (optional), "output": "...", "system": "..." (optional)}``
- chat: ``{"messages": [{"role": "system"|"user"|"assistant", "content": "..."}, ...]}``; the last message is
  the assistant's.

Any other keys (``id``, ``category``...) are kept as metadata. Validation collects *every* bad line and raises
one :class:`~workbench.errors.ValidationError` that lists them by number, so a learner fixes a file in one pass.

Examples become token sequences through the tokenizer's chat template (the built-in model has one); only the
assistant's tokens are learnt unless ``train_on_prompt`` is set. A tokenizer without a template gets a plain
``### User / ### Assistant`` layout.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from workbench.errors import ContextLengthError, ValidationError

Role = Literal["system", "user", "assistant"]
ROLES: tuple[str, ...] = ("system", "user", "assistant")
#: Bad lines listed in one error message (the rest are counted).
MAX_REPORTED_ERRORS = 10
IGNORE_INDEX = -100
#: What one good line looks like (shown when a file has none).
EXAMPLE_LINES = (
    '{"instruction": "Summarise the ticket", "output": "The printer is out of toner."} or '
    '{"messages": [{"role": "user", "content": "..."}, {"role": "assistant", "content": "..."}]}'
)


@dataclass(frozen=True)
class Example:
    """One training example as chat messages.

    Attributes:
        messages: ``({"role": ..., "content": ...}, ...)``; the last one is the assistant's answer.
        line: 1-based line number in ``source``.
        source: The file it came from.
        id: The record's ``id`` or ``<file stem>:<line>``.
        meta: The record's other keys.
    """

    messages: tuple[dict[str, str], ...]
    line: int
    source: str
    id: str
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def prompt_messages(self) -> list[dict[str, str]]:
        """The messages before the final answer (what a model is prompted with)."""
        return [dict(m) for m in self.messages[:-1]]

    @property
    def answer(self) -> str:
        """The final assistant message's content (the reference answer)."""
        return self.messages[-1]["content"]


@dataclass(frozen=True)
class LineError:
    """A bad line: where and why."""

    line: int
    message: str


@dataclass
class DatasetReport:
    """What :func:`validate_file` found.

    Attributes:
        path: The file checked.
        examples: Valid examples.
        errors: Bad lines.
        formats: How many lines were instruction and chat records.
        sha256: Digest of the file's bytes.
    """

    path: Path
    examples: list[Example]
    errors: list[LineError]
    formats: dict[str, int]
    sha256: str

    @property
    def ok(self) -> bool:
        """No bad lines and at least one example."""
        return not self.errors and bool(self.examples)

    def empty_error(self) -> ValidationError:
        """The error for a file with no examples and no bad lines: empty, or only blank and comment lines."""
        what = "is empty" if not self.path.stat().st_size else "has only blank or comment lines"
        return ValidationError(
            f"the dataset has no examples: the file {what}",
            file=self.path,
            hint=f"add one JSON object per line, e.g. {EXAMPLE_LINES}",
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (for ``--json``)."""
        return {
            "path": str(self.path),
            "ok": self.ok,
            "examples": len(self.examples),
            "formats": self.formats,
            "sha256": self.sha256,
            "errors": [{"line": e.line, "message": e.message} for e in self.errors],
        }


def _parse_record(record: Any, fmt: str) -> tuple[str, list[dict[str, str]]]:
    """(format, messages) of one decoded JSON line, or ValueError saying what is wrong."""
    if not isinstance(record, dict):
        raise ValueError(f"expected a JSON object, got {type(record).__name__}")
    kind = fmt
    if fmt == "auto":
        kind = "chat" if "messages" in record else "instruction"
    if kind == "chat":
        messages = record.get("messages")
        if not isinstance(messages, list) or not messages:
            raise ValueError("'messages' must be a non-empty list of {role, content} objects")
        out = []
        for i, message in enumerate(messages):
            if not isinstance(message, dict):
                raise ValueError(f"messages[{i}] must be an object with 'role' and 'content'")
            role, content = message.get("role"), message.get("content")
            if role not in ROLES:
                raise ValueError(f"messages[{i}].role must be one of {', '.join(ROLES)}, got {role!r}")
            if not isinstance(content, str) or not content.strip():
                raise ValueError(f"messages[{i}].content must be a non-empty string")
            out.append({"role": role, "content": content})
        if out[-1]["role"] != "assistant":
            raise ValueError("the last message must be the assistant's answer (role 'assistant')")
        if not any(m["role"] == "user" for m in out):
            raise ValueError("a chat needs at least one 'user' message")
        return "chat", out
    instruction, output = record.get("instruction"), record.get("output")
    if not isinstance(instruction, str) or not instruction.strip():
        missing = "missing" if "instruction" not in record else "empty or not a string:"
        raise ValueError(f"{missing} 'instruction' (instruction records need 'instruction' and 'output')")
    if not isinstance(output, str) or not output.strip():
        missing = "missing" if "output" not in record else "empty or not a string:"
        raise ValueError(f"{missing} 'output' (instruction records need 'instruction' and 'output')")
    extra = record.get("input")
    if extra is not None and not isinstance(extra, str):
        raise ValueError("'input' must be a string when present")
    user = instruction.strip() + (f"\n\n{extra.strip()}" if extra and extra.strip() else "")
    messages = [{"role": "user", "content": user}, {"role": "assistant", "content": output}]
    system = record.get("system")
    if isinstance(system, str) and system.strip():
        messages.insert(0, {"role": "system", "content": system})
    return "instruction", messages


def validate_file(
    path: str | Path,
    *,
    format: Literal["instruction", "chat", "auto"] = "auto",
    system_prompt: str | None = None,
) -> DatasetReport:
    """Read a JSONL file and check every line; never raises for bad content (see :func:`load_examples`).

    Raises:
        NotFoundError: The file does not exist.
    """
    from workbench.errors import NotFoundError

    path = Path(path)
    if not path.is_file():
        raise NotFoundError(
            f"dataset '{path}' does not exist", file=path, hint="check data.train / data.eval"
        )
    raw = path.read_bytes()
    examples: list[Example] = []
    errors: list[LineError] = []
    formats = {"instruction": 0, "chat": 0}
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        bad_line = raw[: exc.start].count(b"\n") + 1
        errors.append(LineError(bad_line, "not UTF-8 text; save the file as UTF-8"))
        text = raw.decode("utf-8", errors="replace")
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("//"):
            continue
        try:
            record = json.loads(stripped)
        except json.JSONDecodeError as exc:
            errors.append(LineError(number, f"not valid JSON: {exc.msg} (column {exc.colno})"))
            continue
        try:
            kind, messages = _parse_record(record, format)
        except ValueError as exc:
            errors.append(LineError(number, str(exc)))
            continue
        if system_prompt and messages[0]["role"] != "system":
            messages.insert(0, {"role": "system", "content": system_prompt})
        formats[kind] += 1
        meta = {
            k: v
            for k, v in record.items()
            if k not in ("messages", "instruction", "input", "output", "system")
        }
        example_id = str(record.get("id", f"{path.stem}:{number}"))
        examples.append(Example(tuple(messages), number, str(path), example_id, meta))
    return DatasetReport(path, examples, errors, formats, hashlib.sha256(raw).hexdigest())


def load_examples(
    path: str | Path,
    *,
    format: Literal["instruction", "chat", "auto"] = "auto",
    system_prompt: str | None = None,
) -> list[Example]:
    """The examples of a JSONL file.

    Raises:
        NotFoundError: The file does not exist.
        ValidationError: Some lines are bad (all listed by number) or the file has no examples.
    """
    report = validate_file(path, format=format, system_prompt=system_prompt)
    if report.errors:
        shown = "; ".join(f"line {e.line}: {e.message}" for e in report.errors[:MAX_REPORTED_ERRORS])
        more = len(report.errors) - MAX_REPORTED_ERRORS
        if more > 0:
            shown += f"; and {more} more"
        lines = ", ".join(str(e.line) for e in report.errors[:MAX_REPORTED_ERRORS])
        raise ValidationError(
            f"{len(report.errors)} bad line(s) in the dataset: {shown}",
            file=report.path,
            line=report.errors[0].line,
            hint=f"fix or delete line(s) {lines}; run 'workbench tune validate {report.path}' to re-check",
        )
    if not report.examples:
        raise report.empty_error()
    return report.examples


def split_examples(
    examples: Sequence[Example], fraction: float, seed: int
) -> tuple[list[Example], list[Example]]:
    """A deterministic (train, eval) split holding out ``fraction`` (at least one example when > 0)."""
    if fraction <= 0 or len(examples) < 2:
        return list(examples), []
    order = list(range(len(examples)))
    random.Random(seed).shuffle(order)
    n_eval = min(len(examples) - 1, max(1, round(len(examples) * fraction)))
    held = set(order[:n_eval])
    return [e for i, e in enumerate(examples) if i not in held], [
        e for i, e in enumerate(examples) if i in held
    ]


def files_sha256(paths: Iterable[str | Path | None]) -> str:
    """One digest over the bytes of several files (names excluded, order kept): the run card's dataset hash."""
    digest = hashlib.sha256()
    for path in paths:
        if path is None:
            continue
        digest.update(hashlib.sha256(Path(path).read_bytes()).digest())
    return digest.hexdigest()


# --- rendering and tokenisation --------------------------------------------------------------------------------

_FALLBACK_ROLES = {"system": "### System", "user": "### User", "assistant": "### Assistant"}


def render_chat(
    tokenizer: Any, messages: Sequence[dict[str, str]], *, add_generation_prompt: bool = False
) -> str:
    """The text a model sees for ``messages``: the tokenizer's chat template, or a plain fallback layout."""
    if getattr(tokenizer, "chat_template", None):
        return str(
            tokenizer.apply_chat_template(
                list(messages), tokenize=False, add_generation_prompt=add_generation_prompt
            )
        )
    text = "".join(f"{_FALLBACK_ROLES[m['role']]}\n{m['content']}\n" for m in messages)
    if add_generation_prompt:
        text += f"{_FALLBACK_ROLES['assistant']}\n"
    return text


def _answer_spans(tokenizer: Any, messages: Sequence[dict[str, str]]) -> tuple[str, list[tuple[int, int]]]:
    """The full rendered text and the character spans of every assistant turn (content + end-of-turn marker)."""
    full = render_chat(tokenizer, messages)
    eos = getattr(tokenizer, "eos_token", None) or ""
    if not getattr(tokenizer, "chat_template", None) and eos:
        full += eos
    spans = []
    for i, message in enumerate(messages):
        if message["role"] != "assistant":
            continue
        start = len(render_chat(tokenizer, messages[:i], add_generation_prompt=True))
        end = len(full) if i == len(messages) - 1 else len(render_chat(tokenizer, messages[: i + 1]))
        spans.append((start, end))
    return full, spans


@dataclass(frozen=True)
class TokenizedExample:
    """Token ids and labels (``-100`` where nothing is learnt) of one example."""

    input_ids: list[int]
    labels: list[int]
    example: Example

    @property
    def n_tokens(self) -> int:
        """Sequence length."""
        return len(self.input_ids)


def tokenize_examples(
    examples: Sequence[Example],
    tokenizer: Any,
    *,
    max_length: int,
    overlength: Literal["error", "drop", "truncate"] = "error",
    train_on_prompt: bool = False,
) -> tuple[list[TokenizedExample], list[Example]]:
    """Tokenise examples; returns (kept, dropped).

    Raises:
        ContextLengthError: With ``overlength="error"``, when examples exceed ``max_length`` (all listed).
    """
    kept: list[TokenizedExample] = []
    dropped: list[Example] = []
    too_long: list[tuple[Example, int]] = []
    for example in examples:
        text, spans = _answer_spans(tokenizer, example.messages)
        enc = tokenizer(text, return_offsets_mapping=True, verbose=False)  # over-long examples: our policy
        ids = list(enc["input_ids"])
        if train_on_prompt:
            labels = list(ids)
        else:
            labels = []
            for token_id, (start, end) in zip(ids, enc["offset_mapping"], strict=True):
                learnt = end > start and any(s <= start < e for s, e in spans)
                labels.append(token_id if learnt else IGNORE_INDEX)
        if len(ids) > max_length:
            if overlength == "error":
                too_long.append((example, len(ids)))
                continue
            if overlength == "drop":
                dropped.append(example)
                continue
            ids, labels = ids[:max_length], labels[:max_length]
        if all(label == IGNORE_INDEX for label in labels):
            dropped.append(example)  # the answer was truncated away: nothing to learn
            continue
        kept.append(TokenizedExample(ids, labels, example))
    if too_long:
        first = too_long[0][0]
        listed = ", ".join(f"line {e.line} ({n} tokens)" for e, n in too_long[:MAX_REPORTED_ERRORS])
        raise ContextLengthError(
            f"{len(too_long)} example(s) are longer than the {max_length}-token limit: {listed}",
            file=first.source,
            line=first.line,
            field="data.max_length",
            hint="shorten them, or set data.overlength to 'drop' or 'truncate' (or raise data.max_length up to "
            "the model's context length)",
        )
    return kept, dropped


def collate(batch: Sequence[TokenizedExample], pad_id: int) -> dict[str, Any]:
    """Right-padded tensors: ``input_ids``, ``attention_mask``, ``labels`` (``-100`` on padding)."""
    import torch

    width = max(t.n_tokens for t in batch)
    ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
    labels = torch.full((len(batch), width), IGNORE_INDEX, dtype=torch.long)
    mask = torch.zeros((len(batch), width), dtype=torch.long)
    for row, item in enumerate(batch):
        n = item.n_tokens
        ids[row, :n] = torch.tensor(item.input_ids, dtype=torch.long)
        labels[row, :n] = torch.tensor(item.labels, dtype=torch.long)
        mask[row, :n] = 1
    return {"input_ids": ids, "attention_mask": mask, "labels": labels}
