"""What every backend speaks: messages, generation parameters, results and streams.

These types are backend-neutral and import nothing heavy.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal, TypedDict

from workbench.errors import ModelError, ValidationError

Role = Literal["system", "user", "assistant"]
ROLES: tuple[str, ...] = ("system", "user", "assistant")


class Message(TypedDict):
    """One chat turn: ``{"role": "system" | "user" | "assistant", "content": str}``."""

    role: Role
    content: str


#: What ``generate`` accepts: a string (one user message) or a list of messages.
Prompt = str | Sequence[Mapping[str, Any]]


def to_messages(prompt: Prompt) -> list[Message]:
    """Normalise a prompt to a list of :class:`Message`; a string becomes one user message.

    Raises:
        ValidationError: A message has no ``role``/``content`` or an unknown role (the field is named).
    """
    if isinstance(prompt, str):
        return [{"role": "user", "content": prompt}]
    messages: list[Message] = []
    for i, raw in enumerate(prompt):
        if not isinstance(raw, Mapping):
            raise ValidationError(
                f"message {i} is a {type(raw).__name__}, not a mapping",
                field=f"messages[{i}]",
                hint='write messages as {"role": "user", "content": "..."}',
            )
        role, content = raw.get("role"), raw.get("content")
        if role not in ROLES:
            raise ValidationError(
                f"message {i} has the role {role!r}",
                field=f"messages[{i}].role",
                hint=f"use one of: {', '.join(ROLES)}",
            )
        if not isinstance(content, str):
            raise ValidationError(
                f"message {i} has no text content",
                field=f"messages[{i}].content",
                hint="content must be a string",
            )
        messages.append({"role": role, "content": content})
    if not messages:
        raise ValidationError(
            "the prompt has no messages", field="messages", hint="pass at least one message"
        )
    return messages


#: Accepted ``GenerationParams.response_format`` values (OpenAI's names).
RESPONSE_FORMATS = (None, "text", "json_object")


@dataclass(frozen=True)
class GenerationParams:
    """How to generate.

    Attributes:
        max_new_tokens: Upper bound on generated tokens (clipped to the room left in the context).
        temperature: 0 means greedy decoding (deterministic); above 0 samples.
        top_p: Nucleus sampling mass (only when sampling).
        seed: Seeds sampling, for reproducible samples.
        stop: Strings that end the output; the output is cut before the first one found.
        response_format: ``"json_object"`` keeps the output one valid JSON object (constrained decoding on
            local models, the endpoint's JSON mode on OpenAI-compatible ones); ``None``/``"text"``: free text.
    """

    max_new_tokens: int = 64
    temperature: float = 0.0
    top_p: float = 1.0
    seed: int | None = None
    stop: tuple[str, ...] = ()
    response_format: str | None = None

    def __post_init__(self) -> None:
        if isinstance(self.stop, str):
            object.__setattr__(self, "stop", (self.stop,))
        else:
            object.__setattr__(self, "stop", tuple(self.stop))
        checks = [
            (self.max_new_tokens >= 1, "max_new_tokens", "must be at least 1"),
            (self.temperature >= 0, "temperature", "must be 0 (greedy) or more"),
            (0 < self.top_p <= 1, "top_p", "must be in (0, 1]"),
            (all(isinstance(s, str) and s for s in self.stop), "stop", "must be non-empty strings"),
            (self.response_format in RESPONSE_FORMATS, "response_format", "must be 'text' or 'json_object'"),
        ]
        for ok, name, rule in checks:
            if not ok:
                raise ValidationError(
                    f"invalid generation parameter {name}={getattr(self, name)!r}: {rule}",
                    field=name,
                    hint="see GenerationParams' docstring for the allowed values",
                )

    @property
    def json_mode(self) -> bool:
        """Whether the output must be one JSON object."""
        return self.response_format == "json_object"

    @property
    def greedy(self) -> bool:
        """Whether decoding is greedy (temperature 0)."""
        return self.temperature == 0

    def merged(self, **overrides: Any) -> GenerationParams:
        """A copy with ``overrides`` applied; unknown names raise :class:`ValidationError`."""
        if not overrides:
            return self
        unknown = set(overrides) - set(self.__dataclass_fields__)
        if unknown:
            raise ValidationError(
                f"unknown generation parameter(s): {', '.join(sorted(unknown))}",
                field=sorted(unknown)[0],
                hint=f"known: {', '.join(self.__dataclass_fields__)}",
            )
        return replace(self, **overrides)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        data = asdict(self)
        data["stop"] = list(self.stop)
        return data


def resolve_params(
    params: GenerationParams | Mapping[str, Any] | None, overrides: Mapping[str, Any]
) -> GenerationParams:
    """``params`` (an object, a dict or ``None``) with keyword ``overrides`` applied."""
    if params is None:
        base = GenerationParams()
    elif isinstance(params, GenerationParams):
        base = params
    elif isinstance(params, Mapping):
        base = GenerationParams().merged(**params)
    else:
        raise ValidationError(
            f"params must be GenerationParams or a dict, not {type(params).__name__}", field="params"
        )
    return base.merged(**overrides)


@dataclass(frozen=True)
class Generation:
    """One finished generation.

    Attributes:
        text: The generated text (without the prompt, cut at a stop string).
        model: The model's id (``workbench-tiny``, a folder path, ``org/name``, or the endpoint's model name).
        input_tokens: Tokens in the rendered prompt.
        output_tokens: Tokens generated.
        latency_s: Wall time from the request to the last token.
        ttft_s: Time to the first generated token (``None`` when unknown, e.g. in batches).
        finish_reason: ``stop`` (end of turn or a stop string) or ``length`` (hit ``max_new_tokens``).
        bits: Bit width the model runs in (``None`` for remote endpoints).
    """

    text: str
    model: str
    input_tokens: int
    output_tokens: int
    latency_s: float
    ttft_s: float | None
    finish_reason: str
    bits: int | None
    metadata: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def tokens_per_s(self) -> float | None:
        """Output tokens per second of decoding (after the first token), when measurable."""
        if self.ttft_s is None or self.output_tokens < 2 or self.latency_s <= self.ttft_s:
            return None
        return (self.output_tokens - 1) / (self.latency_s - self.ttft_s)

    def to_attributes(self) -> dict[str, Any]:
        """Telemetry attributes (OpenTelemetry GenAI names; the prompting layer adds cost and template)."""
        return {
            "gen_ai.request.model": self.model,
            "gen_ai.usage.input_tokens": self.input_tokens,
            "gen_ai.usage.output_tokens": self.output_tokens,
            "gen_ai.response.finish_reasons": [self.finish_reason],
            "latency_s": round(self.latency_s, 6),
            "ttft_s": round(self.ttft_s, 6) if self.ttft_s is not None else None,
            "bits": self.bits,
        }

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


class StopScanner:
    """Finds stop strings in streamed text and releases only text that cannot be the start of one.

    Feed chunks with :meth:`feed`; it returns the text safe to emit now. :attr:`stopped` turns true once a stop
    string appears (everything from it on is dropped). :meth:`flush` returns the held-back tail at the end.
    """

    def __init__(self, stops: Iterable[str]) -> None:
        self.stops = tuple(s for s in stops if s)
        self._hold = max((len(s) for s in self.stops), default=1) - 1
        self._buffer = ""
        self.stopped = False

    def feed(self, chunk: str) -> str:
        """Add ``chunk``; return the text that can be emitted."""
        if self.stopped:
            return ""
        self._buffer += chunk
        cuts = [i for i in (self._buffer.find(s) for s in self.stops) if i >= 0]
        if cuts:
            self.stopped = True
            out, self._buffer = self._buffer[: min(cuts)], ""
            return out
        if self._hold == 0:
            out, self._buffer = self._buffer, ""
            return out
        keep = self._hold
        out, self._buffer = self._buffer[:-keep], self._buffer[-keep:]
        return out

    def flush(self) -> str:
        """The held-back text at the end of the stream."""
        out, self._buffer = ("" if self.stopped else self._buffer), ""
        return out


def cut_at_stop(text: str, stops: Iterable[str]) -> tuple[str, bool]:
    """``text`` cut before its first stop string, and whether one was found."""
    cuts = [i for i in (text.find(s) for s in stops if s) if i >= 0]
    return (text[: min(cuts)], True) if cuts else (text, False)


class GenerationStream:
    """Text chunks as a model produces them; :attr:`result` is the :class:`Generation` after the end.

    Iterate it (``for chunk in stream``) to receive chunks; ``"".join(chunks) == stream.result.text``.
    Reading :attr:`result` before the end consumes the remaining chunks first. :meth:`close` (or leaving a
    ``with`` block) stops generation early.

    Args:
        chunks: The backend's chunk iterator. It must return the final :class:`Generation` as its
            ``StopIteration`` value (``return generation`` in a generator).
        on_close: Called by :meth:`close` to cancel work in progress.
    """

    def __init__(
        self, chunks: Generator[str, None, Generation], on_close: Callable[[], None] | None = None
    ) -> None:
        self._chunks = chunks
        self._on_close = on_close
        self._result: Generation | None = None
        self._done = False
        self._first_chunk_at: float | None = None
        self.started_at = time.perf_counter()

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        if self._done:
            raise StopIteration
        try:
            chunk = next(self._chunks)
        except StopIteration as stop:
            self._done = True
            self._result = stop.value
            raise StopIteration from None
        except BaseException:
            self._done = True
            self.close()
            raise
        if self._first_chunk_at is None:
            self._first_chunk_at = time.perf_counter()
        return chunk

    @property
    def done(self) -> bool:
        """Whether the stream has ended."""
        return self._done

    @property
    def result(self) -> Generation:
        """The finished :class:`Generation` (consumes what is left of the stream)."""
        for _ in self:
            pass
        if self._result is None:
            raise ModelError(
                "the stream was closed before it finished, so it has no result",
                hint="iterate the stream to its end before reading .result",
            )
        return self._result

    def text(self) -> str:
        """Consume the stream and return the whole text."""
        return self.result.text

    def close(self) -> None:
        """Stop generating (idempotent)."""
        if self._on_close is not None:
            on_close, self._on_close = self._on_close, None
            on_close()
        close = getattr(self._chunks, "close", None)
        if close is not None and not self._done:
            self._done = True
            close()

    def __enter__(self) -> GenerationStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "done" if self._done else "open"
        return f"<GenerationStream {state}>"
