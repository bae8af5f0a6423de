"""What both telemetry store backends share: the ``events`` table, store URLs, and event <-> row conversion."""

from __future__ import annotations

import contextlib
import json
import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import URL, make_url

from workbench.errors import StoreError, ValidationError
from workbench.settings import redact_url
from workbench.telemetry.events import EVENT_FIELDS, Event, EventKind

STRING_COLUMNS = ("learner", "team", "playbook", "task", "run_id", "kind", "status")
#: Event columns :meth:`TelemetryStore.query` filters on.
FILTER_COLUMNS = (*STRING_COLUMNS, "id")

metadata = sa.MetaData()

#: The ``events`` table. ``seq`` (insertion order) is internal; the rest are :class:`Event` fields.
events_table = sa.Table(
    "events",
    metadata,
    sa.Column(
        "seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True
    ),
    sa.Column("id", sa.String(36), nullable=False),
    sa.Column("time", sa.DateTime(timezone=True), nullable=False),
    sa.Column("schema_version", sa.SmallInteger(), nullable=False),
    sa.Column("learner", sa.String(64)),
    sa.Column("team", sa.String(200)),
    sa.Column("playbook", sa.String(200)),
    sa.Column("task", sa.String(200)),
    sa.Column("run_id", sa.String(200)),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("duration_s", sa.Float()),
    sa.Column("status", sa.String(64)),
    sa.Column("attributes", sa.JSON().with_variant(JSONB(), "postgresql"), nullable=False),
    sa.Index("ux_events_id", "id", unique=True),
    sa.Index("ix_events_learner", "learner"),
    sa.Index("ix_events_team", "team"),
    sa.Index("ix_events_kind", "kind"),
    sa.Index("ix_events_time", "time"),
    sa.Index("ix_events_playbook_task", "playbook", "task"),
    sa.Index("ix_events_run_id", "run_id"),
)

#: The erasure audit log: one row per deliberate deletion of a learner's events (append-only itself).
erasures_table = sa.Table(
    "erasures",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("time", sa.DateTime(timezone=True), nullable=False),
    sa.Column("learner", sa.String(64), nullable=False),
    sa.Column("requested_by", sa.String(200), nullable=False),
    sa.Column("reason", sa.Text(), nullable=False),
    sa.Column("events", sa.Integer(), nullable=False),
    sa.Index("ix_erasures_learner", "learner"),
)

#: The gate of an erasure in progress: present only inside the erasing transaction. The ``events`` trigger lets
#: a DELETE through only for a learner listed here, and a row here needs its ``erasures`` audit row first.
erasure_pending_table = sa.Table(
    "erasure_pending",
    metadata,
    sa.Column("erasure_id", sa.String(36), primary_key=True),
    sa.Column("learner", sa.String(64), nullable=False),
    sa.Index("ix_erasure_pending_learner", "learner"),
)

#: Events a learning record store acknowledged (``workbench.telemetry.xapi``): what is not here is still to send.
xapi_sent_table = sa.Table(
    "xapi_sent",
    metadata,
    sa.Column("event_id", sa.String(36), primary_key=True),
    sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
)

#: LTI Assignment and Grade Services links (``workbench.playbooks.lti_ags``): one row per learner and LMS line item
#: an LMS launched them from, with what was last sent there. Keyed by a hash of (issuer, client id, deployment,
#: line item, sub). ``sub`` is the platform's opaque user id (needed as the score's ``userId``); no name, no
#: e-mail. ``learner`` is the pseudonym the learner's events carry.
lti_links_table = sa.Table(
    "lti_links",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("learner", sa.String(64), nullable=False),
    sa.Column("sub", sa.String(255), nullable=False),
    sa.Column("playbook", sa.String(200), nullable=False),
    sa.Column("issuer", sa.String(500), nullable=False),
    sa.Column("client_id", sa.String(255), nullable=False),
    sa.Column("deployment_id", sa.String(255), nullable=False),
    sa.Column("lineitem", sa.Text(), nullable=False),
    sa.Column("scopes", sa.Text(), nullable=False),
    sa.Column("launched_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("sent", sa.Text()),
    sa.Column("sent_at", sa.DateTime(timezone=True)),
    sa.Column("error", sa.Text()),
    sa.Column("attempted_at", sa.DateTime(timezone=True)),
    sa.Index("ix_lti_links_learner", "learner"),
)

APPEND_ONLY_MESSAGE = "telemetry events are append-only"
#: What the audit log's own triggers say.
AUDIT_APPEND_ONLY_MESSAGE = "the erasure audit log is append-only"
#: What the gate's trigger says to an erasure without its audit record.
UNAUDITED_ERASURE_MESSAGE = "an erasure needs its audit record in erasures first"

#: The table Alembic keeps the store's schema revision in (not ``alembic_version``: an organisation's database
#: may hold other applications' Alembic histories).
VERSION_TABLE = "workbench_schema_version"
#: The newest schema revision this code knows (the head of ``workbench/telemetry/migrations``; a test checks).
HEAD_REVISION = "0004"
#: The revision of a store created before migrations existed (an ``events`` table and no version table).
BASELINE_REVISION = "0001"

#: Database -> (the one driver Workbench uses, how a wrong driver is named, the URL form to write).
_DRIVERS = {
    "postgresql": ("psycopg", "the driver '{driver}'; Workbench uses psycopg 3", "postgresql+psycopg://..."),
    "sqlite": ("pysqlite", "the SQLite driver '{driver}'", "sqlite:///path/to/telemetry.db"),
}


def dumps(value: Any) -> str:
    """Compact JSON, as stored in the ``attributes`` column."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def redact(url: str) -> str:
    """``url`` with any password hidden, also for strings that are not valid URLs."""
    text = redact_url(url)
    return re.sub(r"(^|[/\s])([^:/@\s]+):([^@/\s]+)@", r"\1\2:***@", text) if "://" not in text else text


def parse_time(value: datetime | str) -> datetime:
    """A filter bound (datetime or ISO 8601 text; naive means UTC) as an aware UTC datetime."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise ValidationError(
                f"'{value}' is not a date or time", field="since/until", hint="use ISO 8601: 2025-01-31T12:00"
            ) from None
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


def as_utc(value: datetime | str) -> datetime:
    """A stored time as an aware UTC datetime (SQLite aggregates such as min/max come back as text)."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def kind_value(value: EventKind | str) -> str:
    """The stored text of an event kind; a clear error for an unknown one."""
    try:
        return EventKind(value).value
    except ValueError:
        raise ValidationError(
            f"'{value}' is not an event kind", field="kind", hint=f"use one of {[k.value for k in EventKind]}"
        ) from None


def event_values(e: Event, time: Any) -> tuple[Any, ...]:
    """The column values of ``e`` in :data:`EVENT_FIELDS` order, with ``time`` as the backend stores it.

    Serialised here rather than by SQLAlchemy's per-value processors: about 3x faster for big batches.
    """
    return (
        e.id,
        time,
        e.schema_version,
        e.learner,
        e.team,
        e.playbook,
        e.task,
        e.run_id,
        e.kind.value,
        e.duration_s,
        e.status,
        dumps(e.attributes),
    )


def event_columns() -> list[sa.Column[Any]]:
    """The table columns of the :class:`Event` fields, in order."""
    return [events_table.c[name] for name in EVENT_FIELDS]


def row_to_event(row: sa.Row[Any]) -> Event:
    """An :class:`Event` from a row of :func:`event_columns`."""
    data = row._asdict()
    data["time"] = as_utc(data["time"])
    with contextlib.suppress(ValueError):  # a kind added by a newer Workbench keeps its text
        data["kind"] = EventKind(data["kind"])
    data["attributes"] = data["attributes"] or {}
    # Stored events were validated when written: skip re-validation (and re-masking) on the way out.
    return Event.model_construct(**data)


def normalize_url(url: str | Path) -> URL:
    """Parse a store URL (or a SQLite file path given as :class:`~pathlib.Path`) into a SQLAlchemy URL.

    Raises:
        StoreError: For a malformed URL or an unsupported database.
    """
    if isinstance(url, Path):
        return URL.create("sqlite+pysqlite", database=str(url.expanduser()))
    text = str(url).strip()
    hint_forms = "sqlite:///path/to/telemetry.db or postgresql+psycopg://user:password@host:5432/dbname"
    if "://" not in text:
        raise StoreError(
            f"malformed telemetry store URL '{redact(text)}': it has no '<database>://' scheme",
            field="store_url",
            hint=f"set WORKBENCH_STORE_URL (or store_url in workbench.toml) to {hint_forms}",
        )
    try:
        parsed = make_url(text)
    except (sa.exc.ArgumentError, ValueError) as exc:
        raise StoreError(
            f"malformed telemetry store URL '{redact(text)}': {exc}",
            field="store_url",
            hint=f"use {hint_forms}; percent-encode special characters in the password (@ is %40)",
        ) from None
    backend, _, driver = parsed.drivername.partition("+")
    backend = "postgresql" if backend == "postgres" else backend
    if backend not in _DRIVERS:
        raise StoreError(
            f"unsupported telemetry store '{backend}' in URL '{redact(text)}'",
            field="store_url",
            hint=f"use SQLite or PostgreSQL: {hint_forms}",
        )
    expected, asked, form = _DRIVERS[backend]
    if driver not in ("", expected):
        raise StoreError(
            f"telemetry store URL '{redact(text)}' asks for {asked.format(driver=driver)}",
            field="store_url",
            hint=f"write the URL as {form}",
        )
    parsed = parsed.set(drivername=f"{backend}+{expected}")
    database = parsed.database
    if backend == "sqlite" and database and database != ":memory:" and not database.startswith("file:"):
        parsed = parsed.set(database=str(Path(database).expanduser()))
    return parsed
