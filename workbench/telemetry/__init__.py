"""Telemetry: the evidence every learner action leaves behind (the ``record`` layer).

Events (:class:`Event`, versioned by :data:`SCHEMA_VERSION`) are pseudonymous, masked for secrets and
append-only. Record them with :func:`record` or :func:`track`; read them back from :func:`open_store`::

    from workbench.telemetry import record, track, set_context, open_store

    set_context(learner="ana@example.com", team="support", playbook="rag-101")
    with track("build-index", chunk_size=512) as task:
        ...
        task.set(chunks=120)
    record("generation", attributes={"gen_ai.request.model": "workbench-tiny", "latency_s": 0.12})

    with open_store() as store:
        frame = store.to_frame(kind="generation")

Importing this package loads SQLAlchemy and pydantic, not pandas (only ``to_frame``/``iter_frames`` do).
"""

from __future__ import annotations

from workbench.telemetry.context import (
    CONTEXT_FIELDS,
    clear_context,
    context,
    event_attributes,
    resolve_context,
    scoped_attributes,
    set_context,
)
from workbench.telemetry.events import EVENT_FIELDS, SCHEMA_VERSION, Event, EventKind
from workbench.telemetry.privacy import is_pseudonym, mask_secrets, pseudonymize
from workbench.telemetry.recorder import (
    Recorder,
    TaskHandle,
    _reset_default_recorder,
    get_recorder,
    record,
    track,
)
from workbench.telemetry.store import TelemetryStore, events_table, open_store

__all__ = [
    "CONTEXT_FIELDS",
    "EVENT_FIELDS",
    "SCHEMA_VERSION",
    "Event",
    "EventKind",
    "Recorder",
    "TaskHandle",
    "TelemetryStore",
    "_reset_default_recorder",
    "clear_context",
    "context",
    "event_attributes",
    "events_table",
    "get_recorder",
    "is_pseudonym",
    "mask_secrets",
    "open_store",
    "pseudonymize",
    "record",
    "resolve_context",
    "scoped_attributes",
    "set_context",
    "track",
]
