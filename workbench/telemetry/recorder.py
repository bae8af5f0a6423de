"""Recording events from running code: :class:`Recorder`, :func:`record` and :func:`track`.

A recorder buffers events in memory and writes them to its store in batches: when ``batch_size`` events are
waiting, when the oldest has waited ``flush_interval_s`` (a background thread), on :meth:`Recorder.flush`, and
at interpreter exit. Each batch is one transaction. An event is *acknowledged* (durable across a crash of the
process) once a :meth:`~Recorder.flush` call made after it has returned; events still in the buffer are lost if
the process is killed. Emitting never raises for a store problem: a failed automatic write is logged, its events
are kept, and automatic writes back off (1 s doubling to a minute) so an unreachable server does not slow the
caller; at most ``max_buffered`` events are kept (older ones are then dropped and counted in
:attr:`Recorder.dropped`). An explicit :meth:`~Recorder.flush` raises :class:`~workbench.errors.StoreError`.

The process default recorder (:func:`get_recorder`) writes to ``settings.store_url`` and opens the store at
its first write, so importing and emitting cost nothing until then.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
import uuid
import weakref
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from workbench.errors import StoreError
from workbench.telemetry.context import context
from workbench.telemetry.events import Event, EventKind
from workbench.telemetry.store import TelemetryStore, open_store

log = logging.getLogger(__name__)

#: Longest wait between automatic write attempts while the store cannot be written.
MAX_BACKOFF_S = 60.0
#: Longest an error message is kept in a ``task_failed`` event.
MAX_ERROR_MESSAGE = 2000


class Recorder:
    """A buffered, thread-safe event writer (see the module docstring).

    Args:
        store: The store to write to, or ``None`` to open ``url`` at the first write.
        url: The store URL when ``store`` is ``None``; default ``settings.store_url``.
        batch_size: Events buffered before a write; default ``settings.telemetry_batch_size``.
        flush_interval_s: Longest an event waits; default ``settings.telemetry_flush_interval_s``. ``0`` turns
            the background thread off (writes then happen at ``batch_size``, on ``flush()`` and at exit).
        max_buffered: Most events kept while the store cannot be written.
    """

    def __init__(
        self,
        store: TelemetryStore | None = None,
        *,
        url: str | Path | None = None,
        batch_size: int | None = None,
        flush_interval_s: float | None = None,
        max_buffered: int = 100_000,
    ) -> None:
        if batch_size is None or flush_interval_s is None:
            from workbench.settings import get_settings

            settings = get_settings()
            batch_size = settings.telemetry_batch_size if batch_size is None else batch_size
            if flush_interval_s is None:
                flush_interval_s = settings.telemetry_flush_interval_s
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self.batch_size = batch_size
        self.flush_interval_s = float(flush_interval_s)
        self.max_buffered = max(max_buffered, batch_size)
        self._store = store
        self._owns_store = store is None
        self._url = url
        self._buffer: list[Event] = []
        self._oldest = 0.0  # monotonic time the oldest buffered event arrived
        self._buffer_lock = threading.Lock()
        self._flush_lock = threading.Lock()  # one write at a time, in order
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._closed = False
        self._pid = os.getpid()
        self._retry_at = 0.0  # after a failed automatic write, the next one waits until then (backoff)
        self._backoff_s = 0.0
        #: Events dropped because the store could not be written for too long.
        self.dropped = 0
        #: Events written so far.
        self.written = 0
        #: Called after each successful write (the xAPI forwarder's wake-up, when an LRS is configured).
        self.after_write: Callable[[], None] | None = None
        _live.add(self)

    # -- emitting ------------------------------------------------------------------------------------------

    @property
    def store(self) -> TelemetryStore:
        """The store (opened now if it was not yet)."""
        if self._store is None:
            with self._flush_lock:
                if self._store is None:
                    self._store = open_store(self._url)
        return self._store

    def emit(
        self,
        kind: EventKind | str,
        *,
        task: str | None = None,
        duration_s: float | None = None,
        status: str | None = None,
        attributes: Mapping[str, Any] | None = None,
        learner: str | None = None,
        team: str | None = None,
        playbook: str | None = None,
        run_id: str | None = None,
        **more_attributes: Any,
    ) -> Event:
        """Record an event now; returns it (already validated, pseudonymised and masked).

        Args:
            kind: The event kind.
            task: The task; default from the context.
            duration_s: How long it took.
            status: The outcome.
            attributes: Attributes as a mapping (for keys that are not Python names, e.g. ``gen_ai.*``).
            learner: Override the context's learner (raw id or pseudonym).
            team: Override the context's team.
            playbook: Override the context's playbook.
            run_id: Override the context's run id.
            **more_attributes: More attributes.

        Raises:
            pydantic.ValidationError: For an unknown kind or a negative duration (a programming error).
        """
        attrs = {**attributes, **more_attributes} if attributes else more_attributes
        event = Event.new(
            kind,
            task=task,
            duration_s=duration_s,
            status=status,
            attributes=attrs,
            learner=learner,
            team=team,
            playbook=playbook,
            run_id=run_id,
        )
        self.append(event)
        return event

    def append(self, event: Event) -> None:
        """Buffer an event built elsewhere (:meth:`Event.new`, an import)."""
        self._check_fork()
        if self._closed:
            raise StoreError("this telemetry recorder is closed", hint="use get_recorder() or a new Recorder")
        with self._buffer_lock:
            if not self._buffer:
                self._oldest = time.monotonic()
            self._buffer.append(event)
            full = len(self._buffer) >= self.batch_size
        if full and time.monotonic() >= self._retry_at:
            self._flush_quietly()
        elif self.flush_interval_s > 0 and self._thread is None:
            self._start_thread()

    # -- flushing ------------------------------------------------------------------------------------------

    def flush(self) -> int:
        """Write every buffered event; when this returns, all events emitted before the call are durable.

        Returns:
            How many events this call wrote.

        Raises:
            StoreError: When the store cannot be written; the events stay buffered for the next try.
        """
        self._check_fork()
        with self._flush_lock:
            with self._buffer_lock:
                batch, self._buffer = self._buffer, []
            if not batch:
                return 0
            try:
                store = self._store if self._store is not None else self._open_locked()
                store.append_many(batch)
            except BaseException:
                with self._buffer_lock:
                    self._buffer[:0] = batch
                    self._oldest = time.monotonic()
                    overflow = len(self._buffer) - self.max_buffered
                    if overflow > 0:
                        del self._buffer[:overflow]
                        self.dropped += overflow
                        log.error("telemetry buffer full: dropped %d unwritten events", overflow)
                raise
            self.written += len(batch)
        if self.after_write is not None:
            try:
                self.after_write()  # e.g. wake the xAPI forwarder: the events are durable now
            except Exception:
                log.exception("telemetry after-write hook failed")
        return len(batch)

    def _open_locked(self) -> TelemetryStore:
        self._store = open_store(self._url)
        return self._store

    def _flush_quietly(self) -> None:
        """An automatic write: failures are logged, and the next automatic one backs off (up to a minute)."""
        try:
            self.flush()
        except Exception as exc:  # never let telemetry break the caller's work
            self._backoff_s = min(max(self._backoff_s * 2, 1.0), MAX_BACKOFF_S)
            self._retry_at = time.monotonic() + self._backoff_s
            if isinstance(exc, StoreError):
                log.warning(
                    "telemetry events kept for a later write (next try in %.0f s): %s", self._backoff_s, exc
                )
            else:
                log.exception("telemetry flush failed")
        else:
            self._backoff_s, self._retry_at = 0.0, 0.0

    def _start_thread(self) -> None:
        with self._buffer_lock:
            if self._thread is not None or self._closed:
                return
            self._thread = threading.Thread(
                target=_flush_loop, args=(weakref.ref(self),), name="workbench-telemetry-flush", daemon=True
            )
            self._thread.start()

    def _due(self) -> bool:
        now = time.monotonic()
        with self._buffer_lock:
            return (
                bool(self._buffer) and now - self._oldest >= self.flush_interval_s and now >= self._retry_at
            )

    def _check_fork(self) -> None:
        if os.getpid() != self._pid:
            # In a forked child the parent's buffered events belong to the parent (it writes them); the flush
            # thread did not survive the fork, and the locks may have been held by it.
            self._pid = os.getpid()
            self._buffer = []
            self._buffer_lock = threading.Lock()
            self._flush_lock = threading.Lock()
            self._wake = threading.Event()
            self._thread = None

    # -- lifecycle -----------------------------------------------------------------------------------------

    @property
    def pending(self) -> int:
        """Events buffered and not yet written."""
        with self._buffer_lock:
            return len(self._buffer)

    def close(self) -> None:
        """Flush, stop the background thread, and close the store if this recorder opened it."""
        if self._closed:
            return
        try:
            self.flush()
        finally:
            self._closed = True
            self._wake.set()
            thread = self._thread
            if thread is not None and thread is not threading.current_thread():
                thread.join(timeout=5)
            if self._owns_store and self._store is not None:
                self._store.close()
            _live.discard(self)

    def __enter__(self) -> Recorder:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        target = self._store.url if self._store is not None else (self._url or "settings.store_url")
        return f"Recorder({target!s}, batch_size={self.batch_size}, pending={self.pending})"


def _flush_loop(ref: weakref.ref[Recorder]) -> None:
    """The background thread: flush a recorder whose oldest event is due; stop when it is closed or gone."""
    while True:
        recorder = ref()
        if recorder is None or recorder._closed:
            return
        interval = recorder.flush_interval_s
        wake = recorder._wake
        if recorder._due():
            recorder._flush_quietly()
        del recorder
        wake.wait(timeout=max(interval / 4, 0.01))


_live: weakref.WeakSet[Recorder] = weakref.WeakSet()


@atexit.register
def _flush_all_at_exit() -> None:
    for recorder in list(_live):
        if recorder._pid == os.getpid() and not recorder._closed:
            recorder._flush_quietly()


# --------------------------------------------------------------------------------------------------------------
# The process default


_default: Recorder | None = None
_default_lock = threading.Lock()


def get_recorder() -> Recorder:
    """The process default recorder: store from ``settings.store_url``, batching from settings."""
    global _default
    recorder = _default
    if recorder is None or recorder._closed:
        with _default_lock:
            if _default is None or _default._closed:
                from workbench.telemetry.xapi import start_forwarding

                _default = Recorder()
                _default.after_write = start_forwarding()  # None unless a learning record store is configured
            recorder = _default
    return recorder


def _reset_default_recorder() -> None:
    """Close and forget the default recorder (it is rebuilt from fresh settings on next use). For tests."""
    global _default
    with _default_lock:
        recorder, _default = _default, None
    if recorder is not None:
        try:
            recorder.close()
        except Exception:
            log.warning("could not flush the telemetry recorder being reset", exc_info=True)


def record(kind: EventKind | str, **kwargs: Any) -> Event:
    """Emit an event on the default recorder: ``get_recorder().emit(kind, **kwargs)``."""
    return get_recorder().emit(kind, **kwargs)


# --------------------------------------------------------------------------------------------------------------
# track()


class TaskHandle:
    """What ``with track(...) as handle`` yields: add attributes to the completion event with :meth:`set`."""

    def __init__(self, task: str, span_id: str, started: float) -> None:
        self.task = task
        #: Shared by the task's started and completed/failed events, to pair them.
        self.span_id = span_id
        self._started = started
        self.attributes: dict[str, Any] = {}
        #: The completion (or failure) event, once the block has ended.
        self.event: Event | None = None

    def set(self, **attributes: Any) -> None:
        """Add attributes to the ``task_completed`` / ``task_failed`` event."""
        self.attributes.update(attributes)

    def update(self, attributes: Mapping[str, Any]) -> None:
        """Like :meth:`set`, for keys that are not Python names (``gen_ai.*``)."""
        self.attributes.update(attributes)

    @property
    def elapsed_s(self) -> float:
        """Seconds since the task started."""
        return time.perf_counter() - self._started


@contextmanager
def track(task: str, *, recorder: Recorder | None = None, **attributes: Any) -> Iterator[TaskHandle]:
    """Record a task: ``task_started`` now, then ``task_completed`` or ``task_failed`` with its duration.

    Events emitted inside the block carry ``task`` too. On an exception (any, ``KeyboardInterrupt`` included)
    the failure event gets ``error_type`` and ``error_message`` attributes and the exception propagates.

    Args:
        task: The task id.
        recorder: Where to record; default :func:`get_recorder`.
        **attributes: Attributes of all three events (``skills={...}``...).

    Yields:
        A :class:`TaskHandle`.
    """
    rec = recorder or get_recorder()
    span_id = uuid.uuid4().hex[:16]
    with context(task=task):
        rec.emit(EventKind.TASK_STARTED, status="started", attributes={**attributes, "span_id": span_id})
        handle = TaskHandle(task, span_id, time.perf_counter())
        try:
            yield handle
        except BaseException as exc:
            message = str(exc)
            if len(message) > MAX_ERROR_MESSAGE:
                message = message[: MAX_ERROR_MESSAGE - 3] + "..."
            handle.event = rec.emit(
                EventKind.TASK_FAILED,
                duration_s=handle.elapsed_s,
                status="failed",
                attributes={
                    **attributes,
                    **handle.attributes,
                    "span_id": span_id,
                    "error_type": type(exc).__qualname__,
                    "error_message": message,
                },
            )
            raise
        handle.event = rec.emit(
            EventKind.TASK_COMPLETED,
            duration_s=handle.elapsed_s,
            status="completed",
            attributes={**attributes, **handle.attributes, "span_id": span_id},
        )
