"""Administering the telemetry store: schema upgrades and audited erasure of a learner's events.

**Erasure** (retention, a learner's request to be forgotten). Events are append-only: triggers refuse UPDATE,
DELETE and TRUNCATE. :func:`erase_learner` is the one deliberate way through, in ONE transaction:

1. lock out concurrent writers of ``events`` (PostgreSQL: ``SHARE ROW EXCLUSIVE``; SQLite: the write lock),
   so the count recorded is exactly what is deleted;
2. append the audit record to ``erasures`` (who asked, why, when, which pseudonym, how many events);
3. open the gate: a row in ``erasure_pending`` naming the learner, which the database accepts only when the
   audit record exists;
4. delete the learner's events (the ``events`` trigger lets a DELETE through only for a gated learner);
5. close the gate, and commit.

The audit record and the deletion commit together or not at all; the audit log refuses UPDATE and DELETE itself.
Learners are named by raw id or pseudonym; the log keeps only the pseudonym. What an erasure does not reach:
events a process still buffers in memory (a running kernel's recorder flushes within a second), and files
outside the store (workspace notebooks, run folders), and grades an LMS already holds (the learner's LTI links,
``lti_links``, go with their events, so nothing more is sent); the report cache follows the event count, so
reports recompute at once.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from workbench.errors import StoreError, ValidationError
from workbench.telemetry.migrate import schema_state, upgrade_connection
from workbench.telemetry.privacy import pseudonymize
from workbench.telemetry.schema import (
    HEAD_REVISION,
    as_utc,
    erasure_pending_table,
    erasures_table,
    events_table,
    lti_links_table,
)
from workbench.telemetry.store import TelemetryStore, store_backend


@dataclass(frozen=True)
class MigrationResult:
    """What :func:`upgrade_store` did.

    Attributes:
        url: The store (password hidden).
        before: The revision before (``None``: an empty database).
        after: The revision after.
    """

    url: str
    before: str | None
    after: str | None

    @property
    def changed(self) -> bool:
        """Whether anything was migrated."""
        return self.before != self.after

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form (``--json``)."""
        return {"url": self.url, "before": self.before, "after": self.after, "head": HEAD_REVISION,
                "changed": self.changed}


def upgrade_store(url: str | Path | None = None, target: str = "head") -> MigrationResult:
    """Upgrade the telemetry store at ``url`` (default: settings) to revision ``target``.

    Opening a store runs the same upgrade to head; this is the explicit, logged step for a deployment (a Helm
    hook, a release script) and the way to a revision below head.

    Raises:
        StoreError: The database cannot be reached, or is at a revision this Workbench does not know.
    """
    with store_backend(url, migrate=False) as backend:
        try:
            with backend.writing() as conn:
                backend.lock_schema(conn)
                before = upgrade_connection(conn, target)
            with backend.reading() as conn:
                after = schema_state(conn)
        except sa.exc.DBAPIError as exc:
            raise backend.error("cannot migrate", exc) from None
        return MigrationResult(backend.text, before.effective, after.revision)


@dataclass(frozen=True)
class Erasure:
    """One audited erasure (a row of the ``erasures`` log).

    Attributes:
        id: The erasure's id.
        time: When it was committed (UTC).
        learner: The learner's pseudonym.
        requested_by: Who asked for it (an administrator's or the learner's name).
        reason: Why (a ticket, "learner request", "retention policy").
        events: How many events were deleted.
    """

    id: str
    time: datetime
    learner: str
    requested_by: str
    reason: str
    events: int

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form."""
        return {**asdict(self), "time": self.time.isoformat()}


def erase_learner(
    learner: str, *, requested_by: str, reason: str, store: TelemetryStore | str | Path | None = None
) -> Erasure:
    """Delete every event of ``learner`` and record the erasure in the audit log, in one transaction.

    Args:
        learner: Raw learner id or pseudonym.
        requested_by: Who asks (kept in the audit log).
        reason: Why (kept in the audit log).
        store: An open store, a store URL, or ``None`` for the store in settings.

    Returns:
        The audit record (``events`` = how many were deleted; 0 is recorded too).

    Raises:
        ValidationError: Empty ``learner``, ``requested_by`` or ``reason``.
        StoreError: The store cannot be written.
    """
    for name, value in (("learner", learner), ("requested_by", requested_by), ("reason", reason)):
        if not str(value or "").strip():
            raise ValidationError(f"an erasure needs a {name}", field=name,
                                  hint="name the learner, who asked and why: the audit log keeps all three")
    record = Erasure(str(uuid.uuid4()), datetime.now(timezone.utc), pseudonymize(learner.strip()),
                     requested_by.strip()[:200], reason.strip(), 0)
    if isinstance(store, TelemetryStore):
        return _erase(store._backend, record)
    with store_backend(store) as backend:
        return _erase(backend, record)


def _erase(backend: Any, record: Erasure) -> Erasure:
    learner = events_table.c.learner == record.learner
    try:
        with backend.writing() as conn:
            if backend.dialect == "postgresql":
                conn.exec_driver_sql("LOCK TABLE events IN SHARE ROW EXCLUSIVE MODE")
            count = int(conn.execute(sa.select(sa.func.count()).select_from(events_table).where(learner)).scalar_one())
            done = Erasure(**{**asdict(record), "events": count})
            conn.execute(erasures_table.insert().values(**asdict(done)))
            conn.execute(erasure_pending_table.insert().values(erasure_id=done.id, learner=done.learner))
            deleted = conn.execute(events_table.delete().where(learner)).rowcount
            conn.execute(erasure_pending_table.delete().where(erasure_pending_table.c.erasure_id == done.id))
            # The learner's LMS links too (their LMS user id): no score goes back for an erased learner.
            conn.execute(lti_links_table.delete().where(lti_links_table.c.learner == done.learner))
            if deleted != count:  # the lock makes this impossible; refuse rather than log a wrong count
                raise StoreError(f"erasure deleted {deleted} events but counted {count}; rolled back",
                                 hint="retry the erasure")
    except sa.exc.DBAPIError as exc:
        raise backend.error("cannot erase from", exc) from None
    return done


def erasures(store: TelemetryStore | str | Path | None = None, *, learner: str | None = None) -> list[Erasure]:
    """The erasure audit log, oldest first (only ``learner``'s entries when given: raw id or pseudonym)."""
    stmt = sa.select(erasures_table).order_by(erasures_table.c.time, erasures_table.c.id)
    if learner is not None:
        stmt = stmt.where(erasures_table.c.learner == pseudonymize(learner))
    if isinstance(store, TelemetryStore):
        return _read_log(store._backend, stmt)
    with store_backend(store) as backend:
        return _read_log(backend, stmt)


def _read_log(backend: Any, stmt: sa.Select[Any]) -> list[Erasure]:
    try:
        with backend.reading() as conn:
            rows = conn.execute(stmt).all()
    except sa.exc.DBAPIError as exc:
        raise backend.error("cannot read", exc) from None
    return [Erasure(**{**row._asdict(), "time": as_utc(row.time)}) for row in rows]
