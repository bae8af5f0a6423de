"""Batched streaming: several prompts share one ``model.generate`` call and each gets its own token stream.

A server that streams answers one request at a time holds the model for a whole generation per client; here
the rows of a left-padded batch advance together, and a transformers streamer (:class:`_RowFanOut`) hands each
step's tokens to one queue per row. Each row's :class:`~workbench.models.GenerationStream` decodes its own
tokens incrementally (holding back an incomplete UTF-8 character), applies its stop strings, and ends when
its row ends: at an end-of-turn token, at a stop string, when its reader closes it (a client that left), or at
the batch's token limit. A per-row stopping criterion marks a closed row finished, so the batch stops once
every row is done instead of generating for readers that are gone.

Why not transformers' own ``TextIteratorStreamer``: it accepts batch size 1 only.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Generator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from workbench.models.generation import Generation, GenerationParams, GenerationStream, StopScanner


class RowBackend(Protocol):
    """What a batched stream needs from :class:`~workbench.models.transformers_backend.TransformersBackend`."""

    name: str
    tokenizer: Any
    _eos_ids: list[int]

    def _max_new(self, n_tokens: int, params: GenerationParams) -> int: ...

    def _generate_kwargs(
        self, params: GenerationParams, max_new: int, cancel: threading.Event, prompt_len: int
    ) -> dict[str, Any]: ...

    def _inputs(self, ids: list[list[int]]) -> dict[str, Any]: ...

    def _run(self, inputs: Any, params: GenerationParams, kwargs: dict[str, Any]) -> Any: ...

    def _finish(
        self, new_ids: list[int], params: GenerationParams, *, input_tokens: int, latency: float,
        ttft: float | None, text: str | None = None, stopped: bool = False,
    ) -> Generation: ...  # fmt: skip

_END = object()


@dataclass
class _Row:
    """One prompt's share of the batch: its tokens so far and the queue its reader waits on."""

    input_tokens: int
    ids: list[int] = field(default_factory=list)
    pieces: queue.Queue[Any] = field(default_factory=queue.Queue)
    closed: threading.Event = field(default_factory=threading.Event)
    ended: bool = False  # an end-of-turn token came
    finished: bool = False  # nothing more goes to the reader
    emitted: int = 0  # characters of the decoded text already handed out
    ttft: float | None = None


class _RowFanOut:
    """A transformers streamer: ``put`` receives each step's tokens for the whole batch (the prompt first)."""

    def __init__(self, rows: list[_Row], tokenizer: Any, eos_ids: Sequence[int], started: float) -> None:
        self.rows, self.tokenizer, self.eos_ids, self.started = rows, tokenizer, set(eos_ids), started
        self._prompt_seen = False

    def put(self, value: Any) -> None:
        if not self._prompt_seen:
            self._prompt_seen = True  # the first call carries the prompts
            return
        now = time.perf_counter() - self.started
        for row, token in zip(self.rows, value.reshape(-1).tolist(), strict=True):
            if row.finished:
                continue
            if row.ttft is None:
                row.ttft = now
            if token in self.eos_ids:
                row.ended = True
                self._finish(row)
                continue
            row.ids.append(int(token))
            text = self.tokenizer.decode(row.ids, skip_special_tokens=True, clean_up_tokenization_spaces=False)
            if len(text) > row.emitted and not text.endswith("\ufffd"):  # hold back half a character
                row.pieces.put(text[row.emitted :])
                row.emitted = len(text)
            if row.closed.is_set():
                self._finish(row)

    def end(self) -> None:
        for row in self.rows:
            self._finish(row)

    def fail(self, exc: BaseException) -> None:
        for row in self.rows:
            if not row.finished:
                row.finished = True
                row.pieces.put(exc)

    def _finish(self, row: _Row) -> None:
        if not row.finished:
            row.finished = True
            row.pieces.put(_END)


class _RowsClosed:
    """Stopping criterion: a row whose reader closed its stream is done (the others go on)."""

    def __init__(self, rows: list[_Row]) -> None:
        self.rows = rows

    def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
        import torch

        done = [row.closed.is_set() for row in self.rows]
        return torch.tensor(done, dtype=torch.bool, device=input_ids.device)


def stream_rows(
    backend: RowBackend, encoded: list[list[int]], params: GenerationParams
) -> list[GenerationStream]:
    """Start one batched generation of the token lists ``encoded``; one stream per row, in order.

    The generation runs in its own thread from now on; each stream delivers its row's text as it comes.
    """
    rows = [_Row(input_tokens=len(ids)) for ids in encoded]
    width = max(len(ids) for ids in encoded)
    max_new = min(backend._max_new(len(ids), params) for ids in encoded)
    kwargs = backend._generate_kwargs(params, max_new, threading.Event(), width)
    kwargs["stopping_criteria"].append(_RowsClosed(rows))
    started = time.perf_counter()
    fan_out = _RowFanOut(rows, backend.tokenizer, backend._eos_ids, started)
    inputs = backend._inputs(encoded)

    def work() -> None:
        try:
            backend._run(inputs, params, {**kwargs, "streamer": fan_out})
        except BaseException as exc:
            fan_out.fail(exc)
        else:
            fan_out.end()

    threading.Thread(target=work, name=f"workbench-generate-batch-{backend.name}", daemon=True).start()
    return [GenerationStream(_chunks(backend, row, params, started), on_close=row.closed.set) for row in rows]


def _chunks(
    backend: RowBackend, row: _Row, params: GenerationParams, started: float
) -> Generator[str, None, Generation]:
    """One row's text pieces (stop strings applied); returns its :class:`Generation`."""
    scanner = StopScanner(params.stop)
    pieces: list[str] = []
    try:
        while True:
            item = row.pieces.get()
            if item is _END:
                break
            if isinstance(item, BaseException):
                raise item
            emitted = scanner.feed(item)
            if emitted:
                pieces.append(emitted)
                yield emitted
            if scanner.stopped:
                break
        tail = scanner.flush()
        if tail:
            pieces.append(tail)
            yield tail
    finally:
        row.closed.set()  # this row needs no more tokens
    ids = list(row.ids) + ([backend._eos_ids[0]] if row.ended and backend._eos_ids else [])
    return backend._finish(
        ids,
        params,
        input_tokens=row.input_tokens,
        latency=time.perf_counter() - started,
        ttft=row.ttft,
        text="".join(pieces),
        stopped=scanner.stopped,
    )
