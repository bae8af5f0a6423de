"""Dynamic batching: concurrent requests share ``generate_batch`` calls instead of queuing one by one.

:class:`DynamicBatcher` owns one worker thread per model. A request submits its prompt and parameters and waits
on a future; the worker takes the first waiting request, lets others join for up to ``max_wait_s`` (or until
``max_batch_size`` have joined), groups them by generation parameters (a batch shares them), and runs one
``backend.generate_batch`` per group. Streamed requests batch too: they group apart from whole ones and share one
``backend.stream_batch`` call, whose rows advance together while each request reads its own token stream
(:mod:`workbench.models.batch_stream`). When a batched call fails (one prompt too long for the context, say),
the group's requests run one at a time, so the error reaches only the request that caused it.

:class:`BatchedModel` is the per-request face of a batcher: it speaks the :class:`~workbench.models.ChatBackend`
protocol (so :func:`workbench.prompting.guarded_generate` uses it unchanged), sends ``generate`` and ``stream``
through the batcher, and adds the request's ``response_format`` (JSON mode) to its parameters.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from workbench.errors import WorkbenchError

if TYPE_CHECKING:
    from workbench.models import ChatBackend, Generation, GenerationParams, GenerationStream


@dataclass
class _Request:
    prompt: Any
    params: GenerationParams
    stream: bool = False  # the future then holds a GenerationStream
    future: Future[Any] = field(default_factory=Future)


@dataclass
class BatchStats:
    """What a batcher has done: requests, batched calls, the largest batch, and the batch-size histogram."""

    requests: int = 0
    batches: int = 0
    largest: int = 0
    sizes: dict[int, int] = field(default_factory=dict)

    @property
    def mean_batch(self) -> float:
        """Requests per ``generate_batch`` call."""
        return self.requests / self.batches if self.batches else 0.0


class Ticket:
    """An announced request (see :meth:`DynamicBatcher.announce`); :meth:`arrive` is idempotent."""

    def __init__(self, batcher: DynamicBatcher) -> None:
        self._batcher: DynamicBatcher | None = batcher

    def arrive(self) -> None:
        """The request submitted, or will not: stop waiting for it."""
        batcher, self._batcher = self._batcher, None
        if batcher is not None:
            with batcher._lock:
                batcher._coming -= 1


class DynamicBatcher:
    """Groups concurrent generations into shared ``generate_batch`` calls (see the module docstring).

    Args:
        backend: The loaded model.
        max_batch_size: Most requests in one call.
        max_wait_s: Longest the first request of a batch waits for others to join.
        max_gather_s: Longest it waits while announced requests are still on their way.
        on_batch: Called with each batch's size (metrics).
    """

    #: How often the worker looks again while announced requests are on their way.
    POLL_S = 0.005

    def __init__(
        self,
        backend: ChatBackend,
        *,
        max_batch_size: int = 16,
        max_wait_s: float = 0.01,
        max_gather_s: float = 2.0,
        on_batch: Any = None,
    ) -> None:
        self.backend = backend
        self.max_batch_size = max(1, int(max_batch_size))
        self.max_wait_s = max(0.0, float(max_wait_s))
        self.max_gather_s = max(self.max_wait_s, float(max_gather_s))
        self._coming = 0  # announced requests that have not submitted yet
        self._local = threading.local()
        self.stats = BatchStats()
        self.on_batch = on_batch
        self._queue: queue.Queue[_Request | None] = queue.Queue()
        self._closed = False
        self._lock = threading.Lock()
        self._worker = threading.Thread(target=self._run, name=f"workbench-batcher-{backend.name}", daemon=True)
        self._worker.start()

    def announce(self) -> Ticket:
        """Announce a request as it reaches the server (it will submit later, from whichever thread answers it)."""
        with self._lock:
            self._coming += 1
        return Ticket(self)

    @contextmanager
    def expecting(self, ticket: Ticket | None = None) -> Iterator[None]:
        """Answer an announced request in this thread: its :meth:`submit` (or the end of the block) marks it
        arrived. Without a ``ticket``, the request is announced now."""
        self._local.ticket = ticket if ticket is not None else self.announce()
        try:
            yield
        finally:
            self._arrived()

    def _arrived(self) -> None:
        ticket = getattr(self._local, "ticket", None)
        if ticket is not None:
            self._local.ticket = None
            ticket.arrive()

    def submit(self, prompt: Any, params: GenerationParams, *, stream: bool = False) -> Future[Any]:
        """Queue one generation; the future holds its :class:`~workbench.models.Generation` (or its error), or
        with ``stream`` its :class:`~workbench.models.GenerationStream`, started as part of a batch."""
        request = _Request(prompt, params, stream)
        with self._lock:
            if self._closed:
                raise RuntimeError("the batcher is closed")
            self._queue.put(request)
        self._arrived()
        return request.future

    def generate(self, prompt: Any, params: GenerationParams) -> Generation:
        """Submit and wait."""
        return self.submit(prompt, params).result()

    def close(self, timeout: float | None = None) -> None:
        """Stop accepting requests, finish the queued ones, and stop the worker."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._queue.put(None)
        self._worker.join(timeout)

    # -- the worker -------------------------------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch, stop = self._collect(first)
            self._execute(batch)
            if stop:
                return

    def _collect(self, first: _Request) -> tuple[list[_Request], bool]:
        """``first`` and the requests that join it (see the module docstring); whether the close marker came."""
        batch = [first]
        started = time.monotonic()
        wait_end, gather_end = started + self.max_wait_s, started + self.max_gather_s
        while len(batch) < self.max_batch_size:
            with self._lock:
                coming = self._coming
            remaining = (gather_end if coming else wait_end) - time.monotonic()
            try:
                if remaining > 0:
                    item = self._queue.get(timeout=min(remaining, self.POLL_S) if coming else remaining)
                else:
                    item = self._queue.get_nowait()
            except queue.Empty:
                if remaining > 0:
                    continue
                break
            if item is None:
                return batch, True
            batch.append(item)
        return batch, False

    def _execute(self, batch: list[_Request]) -> None:
        groups: dict[tuple[GenerationParams, bool], list[_Request]] = {}
        for request in batch:
            if request.future.set_running_or_notify_cancel():
                groups.setdefault((request.params, request.stream), []).append(request)
        for (params, stream), group in groups.items():
            self._generate(group, params, stream=stream)

    def _generate(self, group: list[_Request], params: GenerationParams, *, stream: bool) -> None:
        self._count(len(group))
        prompts = [r.prompt for r in group]
        try:
            if stream:
                results: list[Any] = _stream_batch(self.backend, prompts, params)
            else:
                results = self.backend.generate_batch(prompts, params)
        except BaseException as exc:
            if len(group) == 1 or not isinstance(exc, WorkbenchError | ValueError | RuntimeError):
                for request in group:
                    request.future.set_exception(exc)
                return
            for request in group:  # find the request that failed; the others still get their answers
                self._generate_one(request, params)
            return
        for request, result in zip(group, results, strict=True):
            request.future.set_result(result)

    def _generate_one(self, request: _Request, params: GenerationParams) -> None:
        try:
            run = self.backend.stream if request.stream else self.backend.generate
            request.future.set_result(run(request.prompt, params))
        except BaseException as exc:
            request.future.set_exception(exc)

    def _count(self, size: int) -> None:
        stats = self.stats
        stats.requests += size
        stats.batches += 1
        stats.largest = max(stats.largest, size)
        stats.sizes[size] = stats.sizes.get(size, 0) + 1
        if self.on_batch is not None:
            self.on_batch(size)


def _stream_batch(backend: ChatBackend, prompts: list[Any], params: GenerationParams) -> list[GenerationStream]:
    """The backend's batched streams, or one stream per prompt where it has no batched path."""
    many = getattr(backend, "stream_batch", None)
    if many is not None:
        return list(many(prompts, params))
    return [backend.stream(p, params) for p in prompts]


class BatchedModel:
    """One request's view of a batched model (see the module docstring).

    Args:
        batcher: The model's batcher.
        response_format: ``"json_object"`` for JSON mode, else ``None``.
    """

    def __init__(self, batcher: DynamicBatcher, *, response_format: str | None = None) -> None:
        self.batcher = batcher
        self.inner = batcher.backend
        self.response_format = response_format
        self.name = self.inner.name
        self.context_length = self.inner.context_length
        self.bits = self.inner.bits
        self.stream_handle: GenerationStream | None = None

    def _params(self, params: GenerationParams | Mapping[str, Any] | None, overrides: Mapping[str, Any]) -> Any:
        from workbench.models import GenerationParams

        if isinstance(params, GenerationParams):
            resolved = params.merged(**overrides)
        else:
            resolved = GenerationParams().merged(**{**(params or {}), **overrides})
        return resolved.merged(response_format=self.response_format) if self.response_format else resolved

    def generate(
        self, prompt: Any, params: GenerationParams | Mapping[str, Any] | None = None, **overrides: Any
    ) -> Generation:
        """Generate through the batcher (waits for the shared batch)."""
        return self.batcher.generate(prompt, self._params(params, overrides))

    def stream(
        self, prompt: Any, params: GenerationParams | Mapping[str, Any] | None = None, **overrides: Any
    ) -> GenerationStream:
        """Stream as one row of a shared batch; the handle is kept so a server can close it when the client
        leaves (that row stops; the batch goes on for the others)."""
        from workbench.models import GenerationStream

        future = self.batcher.submit(prompt, self._params(params, overrides), stream=True)

        def chunks() -> Any:
            inner = future.result()
            yield from inner
            return inner.result

        def close() -> None:
            if not future.cancel():  # already started: close the row once its stream exists
                future.add_done_callback(lambda f: None if f.exception() else f.result().close())

        self.stream_handle = GenerationStream(chunks(), on_close=close)
        return self.stream_handle

    def generate_batch(
        self, prompts: Sequence[Any], params: GenerationParams | Mapping[str, Any] | None = None, **overrides: Any
    ) -> list[Generation]:
        """Each prompt through the batcher (they join the same batch)."""
        resolved = self._params(params, overrides)
        futures = [self.batcher.submit(p, resolved) for p in prompts]
        return [f.result() for f in futures]

    def count_tokens(self, text_or_messages: Any) -> int:
        """The model's token count."""
        return self.inner.count_tokens(text_or_messages)

    def render_chat(self, messages: Any) -> str:
        """The model's prompt text."""
        return self.inner.render_chat(messages)

    def memory_footprint(self) -> int | None:
        """The model's weight bytes."""
        return self.inner.memory_footprint()

    def info(self) -> dict[str, Any]:
        """The model's description."""
        return self.inner.info()
