"""Who and where an event belongs to: learner, team, playbook, task, run id.

Each field is resolved per event, first match wins:

1. the value passed to the call that makes the event (``emit(..., team="x")``);
2. the innermost ``with context(field=...)`` scope (a :class:`contextvars.ContextVar`, so scopes are
   private to a thread or an asyncio task);
3. :func:`set_context` (process-wide: a notebook calls it once and every thread sees it);
4. the environment: ``WORKBENCH_LEARNER``, ``WORKBENCH_TEAM``, ``WORKBENCH_PLAYBOOK``, ``WORKBENCH_TASK``,
   ``WORKBENCH_RUN_ID`` (the playbook runner sets these for the kernels it starts);
5. settings (``learner``, ``team``), and for the learner the login name.

Passing ``None`` clears a field at that level (``set_context(team=None)``). The learner id is stored only as
a pseudonym (:func:`~workbench.telemetry.privacy.pseudonymize`).

Besides these fields, :func:`event_attributes` scopes *attributes* that every event made inside the block carries
(explicit attributes of an event win). The playbook kernel API uses it so that every event of a task, the rubric's
``score`` events included, records whose work it scores (``origin``) and with what help (``attempt``, ``hints``).
"""

from __future__ import annotations

import getpass
import os
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar, Token
from functools import lru_cache
from types import TracebackType
from typing import Any

#: The context fields, in the order events list them.
CONTEXT_FIELDS: tuple[str, ...] = ("learner", "team", "playbook", "task", "run_id")

_ENV = {field: f"WORKBENCH_{field.upper()}" for field in CONTEXT_FIELDS}
_UNSET: Any = object()

_scoped: ContextVar[Mapping[str, str | None] | None] = ContextVar("workbench_telemetry_context", default=None)
_attributes: ContextVar[tuple[Mapping[str, Any], ...]] = ContextVar("workbench_event_attributes", default=())
_process: dict[str, str | None] = {}
_process_lock = threading.Lock()


def _check(fields: Mapping[str, Any]) -> dict[str, str | None]:
    unknown = sorted(set(fields) - set(CONTEXT_FIELDS))
    if unknown:
        raise TypeError(f"unknown telemetry context field(s) {unknown}; known: {list(CONTEXT_FIELDS)}")
    return {k: (None if v is None else str(v)) for k, v in fields.items()}


def set_context(**fields: str | None) -> None:
    """Set context fields for the whole process (every thread), e.g. ``set_context(learner="ana")``.

    Args:
        **fields: Any of ``learner``, ``team``, ``playbook``, ``task``, ``run_id``; ``None`` clears one.

    Raises:
        TypeError: For an unknown field name.
    """
    checked = _check(fields)
    with _process_lock:
        _process.update(checked)


def clear_context() -> None:
    """Forget everything :func:`set_context` set (tests use it)."""
    with _process_lock:
        _process.clear()


def _default(field: str) -> str | None:
    env = os.environ.get(_ENV[field])
    if env:
        return env
    if field in ("learner", "team"):
        from workbench.settings import get_settings

        value = getattr(get_settings(), field)
        if value:
            return str(value)
        if field == "learner":
            return _login()
    return None


@lru_cache(maxsize=1)
def _login() -> str | None:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (containers) and no $USER
        return None


def resolve_context(**explicit: Any) -> dict[str, str | None]:
    """The context an event made now gets (raw learner id, not yet pseudonymised).

    Args:
        **explicit: Values given by the caller; a value of ``None`` counts as unset here.
    """
    scoped = _scoped.get() or {}
    out: dict[str, str | None] = {}
    for field in CONTEXT_FIELDS:
        value = explicit.get(field)
        if value is not None:
            out[field] = str(value)
        elif field in scoped:
            out[field] = scoped[field]
        elif field in _process:
            out[field] = _process[field]
        else:
            out[field] = _default(field)
    return out


class context(Mapping[str, "str | None"]):  # used like a function: ``with context(task="t")``
    """The current context as a mapping; as a ``with`` block, a scope that overrides some fields.

    ``context()["team"]`` reads the resolved team; ``with context(playbook="rag-101", task="index"):``
    sets both for the events made inside the block (in this thread or asyncio task only).

    Args:
        **fields: Fields to override inside the ``with`` block; ``None`` clears one.
    """

    def __init__(self, **fields: str | None) -> None:
        self._fields = _check(fields)
        self._tokens: list[Token[Mapping[str, str | None] | None]] = []

    def _resolved(self) -> dict[str, str | None]:
        merged = resolve_context()
        if not self._tokens:
            merged.update(self._fields)
        return merged

    def __getitem__(self, key: str) -> str | None:
        return self._resolved()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(CONTEXT_FIELDS)

    def __len__(self) -> int:
        return len(CONTEXT_FIELDS)

    def __repr__(self) -> str:
        return f"context({self._resolved()!r})"

    def __enter__(self) -> context:
        self._tokens.append(_scoped.set({**(_scoped.get() or {}), **self._fields}))
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        _scoped.reset(self._tokens.pop())


@contextmanager
def event_attributes(attributes: Mapping[str, Any]) -> Iterator[None]:
    """Give every event made inside the block these attributes (an event's own attributes win).

    The mapping is read when each event is made, so a caller may update it inside the block (the playbook
    kernel API counts hints revealed during a task this way). Scopes nest; inner ones win.

    Args:
        attributes: The attributes (a live mapping, not copied).
    """
    token = _attributes.set((*_attributes.get(), attributes))
    try:
        yield
    finally:
        _attributes.reset(token)


def scoped_attributes() -> dict[str, Any]:
    """The attributes :func:`event_attributes` scopes give events made now (empty outside any scope)."""
    out: dict[str, Any] = {}
    for layer in _attributes.get():
        out.update(layer)
    return out
