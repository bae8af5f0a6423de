"""The telemetry event: one immutable, versioned record of something a learner (or a copilot) did.

Events are append-only. A change to the fields or their meaning bumps :data:`SCHEMA_VERSION`; readers keep
accepting older versions. New attribute conventions and new kinds do not change a field's meaning and keep the
version (readers ignore attributes they do not know, and keep the text of a kind they do not know).

Schema history (version 1 throughout):

- *Evidence origin* (issue 20): ``task_*`` and ``score`` events made inside a playbook task carry ``origin``
  (``learner``: the learner's own edit of an exercise stub; ``solution``: the shipped solution, from the author
  version or pasted into a learner notebook; ``author``: CI / ``workbench playbook test``; ``stub``: the untouched
  stub of the learner version), ``attempt`` (the n-th time the task was run in this run id), ``hints`` (hints
  revealed for the task's exercises before the work) and ``exercises`` (``{exercise id: origin}``). The new kind
  ``hint`` records each hint revealed (``exercise``, ``hint_index``, ``hints_total``). Events written before have
  no ``origin``: readers treat them as the learner's own work, as they were counted before (see
  :mod:`workbench.skills.evidence`). Attribute names for generations follow the OpenTelemetry GenAI semantic conventions
(``gen_ai.request.model``, ``gen_ai.usage.input_tokens``...); see the contracts for each kind's attributes.

Validation makes every event safe to store: the learner id becomes a pseudonym, the time becomes UTC,
attribute values become JSON (tuples to lists, datetimes to ISO strings, NaN/inf to ``None``, unknown objects to
their ``str``), and secret-looking attributes are masked.
"""

from __future__ import annotations

import enum
import math
import os
import sys
from collections.abc import Mapping
from datetime import date, datetime, timezone
from pathlib import PurePath
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from workbench.telemetry.context import resolve_context, scoped_attributes
from workbench.telemetry.privacy import MASK, is_secret_key, mask_value, pseudonymize

#: Version of the event schema written by this code.
SCHEMA_VERSION = 1

if sys.version_info >= (3, 11):
    from enum import StrEnum
else:  # pragma: no cover - Python 3.10

    class StrEnum(str, enum.Enum):
        """``enum.StrEnum`` for Python 3.10."""

        def __str__(self) -> str:
            return str(self.value)


class EventKind(StrEnum):
    """What an event records."""

    TASK_STARTED = "task_started"
    TASK_COMPLETED = "task_completed"
    TASK_FAILED = "task_failed"
    GENERATION = "generation"
    RETRIEVAL = "retrieval"
    TRAINING_STEP = "training_step"
    TRAINING_RUN = "training_run"
    SCORE = "score"
    REVIEW = "review"
    GUARDRAIL = "guardrail"
    #: A learner revealed an exercise's hint (``workbench.playbooks.hint``).
    HINT = "hint"


#: The fields an event carries, in storage order.
EVENT_FIELDS: tuple[str, ...] = (
    "id",
    "time",
    "schema_version",
    "learner",
    "team",
    "playbook",
    "task",
    "run_id",
    "kind",
    "duration_s",
    "status",
    "attributes",
)


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _new_id() -> str:
    # str(uuid.uuid4()) without the UUID object: the same random version-4 id, several times faster.
    raw = bytearray(os.urandom(16))
    raw[6] = (raw[6] & 0x0F) | 0x40
    raw[8] = (raw[8] & 0x3F) | 0x80
    h = raw.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def to_json_value(value: Any, *, mask: bool = False) -> Any:
    """``value`` as plain JSON data (dict/list/str/int/float/bool/None), for attributes.

    Args:
        value: Any value.
        mask: Also mask secrets (:func:`~workbench.telemetry.privacy.mask_secrets`) in the same pass.
    """
    if value is None or value is True or value is False:
        return value
    cls = type(value)
    if cls is str:
        return mask_value(value) if mask else value
    if cls is int:
        return value
    if cls is float:
        # PostgreSQL's JSONB (and strict JSON) has no NaN or infinity.
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        out = {}
        for k, v in value.items():
            key = k if type(k) is str else str(to_json_value(k))
            out[key] = MASK if mask and v is not None and is_secret_key(key) else to_json_value(v, mask=mask)
        return out
    if isinstance(value, list | tuple):
        return [to_json_value(v, mask=mask) for v in value]
    if isinstance(value, set | frozenset):
        return [to_json_value(v, mask=mask) for v in sorted(value, key=str)]
    if isinstance(value, enum.Enum):
        return to_json_value(value.value, mask=mask)
    if isinstance(value, str):  # subclasses of the JSON scalars (numpy.float64 is a float)
        return to_json_value(str(value), mask=mask)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return to_json_value(float(value))
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, PurePath):
        return str(value)
    if isinstance(value, BaseModel):
        return to_json_value(value.model_dump(mode="json"), mask=mask)
    item = getattr(value, "item", None)  # numpy / torch scalars
    if callable(item):
        try:
            return to_json_value(item(), mask=mask)
        except (TypeError, ValueError):
            pass
    tolist = getattr(value, "tolist", None)  # numpy arrays
    if callable(tolist):
        return to_json_value(tolist(), mask=mask)
    return to_json_value(str(value), mask=mask)


class Event(BaseModel):
    """One telemetry event (immutable). Build new ones with :meth:`Event.new`.

    Attributes:
        id: A UUID4 string.
        time: When it happened, in UTC.
        schema_version: The :data:`SCHEMA_VERSION` it was written with.
        learner: The learner's pseudonym (``p_<16 hex>``); a raw id given here is pseudonymised.
        team: The learner's team.
        playbook: The playbook id.
        task: The task id within the playbook.
        run_id: The playbook (or training) run.
        kind: An :class:`EventKind`.
        duration_s: How long it took, in seconds.
        status: Outcome (``started``, ``completed``, ``failed``, ``pass``...).
        attributes: JSON data, by the conventions of the kind. Treat as read-only.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(default_factory=_new_id)
    time: datetime = Field(default_factory=_utcnow)
    schema_version: int = Field(SCHEMA_VERSION, ge=1)
    learner: str | None = None
    team: str | None = None
    playbook: str | None = None
    task: str | None = None
    run_id: str | None = None
    kind: EventKind
    duration_s: float | None = Field(None, ge=0)
    status: str | None = None
    attributes: dict[str, Any] = Field(default_factory=dict)

    @field_validator("time", mode="after")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        if value.tzinfo is None:  # naive times are UTC by convention (that is how SQLite stores them)
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)

    @field_validator("learner", mode="after")
    @classmethod
    def _pseudonymous(cls, value: str | None) -> str | None:
        return pseudonymize(value) if value else None

    @field_validator("attributes", mode="before")
    @classmethod
    def _json_and_masked(cls, value: Any) -> Any:
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            return value  # pydantic reports the type error
        return to_json_value(value, mask=True)

    @classmethod
    def new(cls, kind: EventKind | str, **fields: Any) -> Event:
        """A new event of ``kind``: fresh id and time, context fields filled from the current context.

        Args:
            kind: The event kind.
            **fields: Any event field; context fields given here win over the current context.
        """
        ctx: dict[str, Any] = resolve_context(
            **{k: fields.pop(k) for k in list(fields) if k in _CONTEXT_KEYS}
        )
        scoped = scoped_attributes()
        if scoped:
            fields["attributes"] = {**scoped, **(fields.get("attributes") or {})}
        return cls.model_validate({"kind": kind, **ctx, **fields})

    def to_row(self) -> dict[str, Any]:
        """The event as a flat dict of storage columns (the store's insert format)."""
        return {
            "id": self.id,
            "time": self.time,
            "schema_version": self.schema_version,
            "learner": self.learner,
            "team": self.team,
            "playbook": self.playbook,
            "task": self.task,
            "run_id": self.run_id,
            "kind": self.kind.value,
            "duration_s": self.duration_s,
            "status": self.status,
            "attributes": self.attributes,
        }


_CONTEXT_KEYS = frozenset({"learner", "team", "playbook", "task", "run_id"})
