"""Where events live: an append-only ``events`` table behind SQLAlchemy 2 Core.

Two backends, chosen by URL (:func:`open_store`):

- **SQLite** (the default, ``sqlite:///<data_dir>/telemetry.db``; :mod:`~workbench.telemetry.sqlite_backend`):
  WAL journal, ``synchronous=NORMAL`` (consistent always; durable across process crashes, not across power
  loss), ``busy_timeout`` 30 s, writes in ``BEGIN IMMEDIATE`` transactions retried with jitter when the
  database stays locked. All writes of a process go through ONE connection per database file
  (:func:`workbench._sqlite.shared_writer`), shared by every store opened on it: the SQLite bundled with
  CPython (< 3.51.3) has the WAL-reset bug when several connections of a process write or checkpoint at once.
  Reads use separate pooled connections. SQLite on a network filesystem (NFS, SMB) is refused: its locking is
  not reliable there; use PostgreSQL.
- **PostgreSQL** (``postgresql+psycopg://user:pass@host/db``; ``postgresql://`` and ``postgres://`` are read
  as psycopg 3; :mod:`~workbench.telemetry.postgres_backend`): ``attributes`` is JSONB, batches are written
  with ``COPY``, and a trigger refuses ``UPDATE``, ``DELETE`` and ``TRUNCATE`` on ``events``.

Both refuse changes to stored events with triggers: there is no update API, and the one way to delete is an
audited erasure of one learner's events (:func:`workbench.telemetry.maintenance.erase_learner`), recorded in the
store's own append-only ``erasures`` log in the same transaction.

The schema is versioned with Alembic (:mod:`workbench.telemetry.migrate`): opening a store upgrades an older
database to the head revision, once, under a lock.

A batch written by :meth:`TelemetryStore.append_many` is one transaction: it is stored completely or not at
all, and it is durable (across a crash of the writing process) when the call returns.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import URL, Connection

from workbench._sqlite import BUSY_TIMEOUT_S, ProcessShared, is_memory
from workbench.errors import StoreError, ValidationError
from workbench.telemetry.backend import StoreBackend
from workbench.telemetry.events import EVENT_FIELDS, Event, EventKind
from workbench.telemetry.postgres_backend import CONNECT_TIMEOUT_S, PostgresBackend
from workbench.telemetry.privacy import pseudonymize
from workbench.telemetry.schema import (
    FILTER_COLUMNS,
    as_utc,
    event_columns,
    events_table,
    kind_value,
    metadata,
    normalize_url,
    parse_time,
    row_to_event,
)
from workbench.telemetry.sql_dialect import SqlDialect, dialect_for
from workbench.telemetry.sqlite_backend import NETWORK_FILESYSTEMS, SqliteBackend

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)

#: Seconds SQLite waits for a lock held by another connection before reporting "database is locked".
SQLITE_BUSY_TIMEOUT_S = BUSY_TIMEOUT_S
#: Attempts of a write transaction that keeps failing with "database is locked" (after the busy timeout).
WRITE_ATTEMPTS = 5

__all__ = [
    "CONNECT_TIMEOUT_S",
    "NETWORK_FILESYSTEMS",
    "SQLITE_BUSY_TIMEOUT_S",
    "WRITE_ATTEMPTS",
    "TelemetryStore",
    "events_table",
    "metadata",
    "normalize_url",
    "open_store",
]


# --------------------------------------------------------------------------------------------------------------
# One backend (engine + the process's single writer connection) per database, shared by the stores opened on it

_backends: ProcessShared[StoreBackend] = ProcessShared()


def _new_backend(url: URL) -> StoreBackend:
    return PostgresBackend(url) if url.get_backend_name() == "postgresql" else SqliteBackend(url)


def _migrated_backend(url: URL) -> StoreBackend:
    backend = _new_backend(url)
    backend.ensure_schema()  # disposes the backend when it fails
    return backend


def _acquire_backend(url: URL) -> StoreBackend:
    postgres = url.get_backend_name() == "postgresql"
    # Each in-memory SQLite store is its own database.
    key = (
        None
        if not postgres and is_memory(url.database)
        else (os.getpid(), url.render_as_string(hide_password=False))
    )
    return _backends.acquire(key, lambda: _migrated_backend(url))


@contextmanager
def store_backend(url: str | Path | None = None, *, migrate: bool = True) -> Iterator[StoreBackend]:
    """A private backend of the store at ``url`` (default: settings) for administration, disposed on exit.

    Args:
        url: The store URL.
        migrate: Bring the schema to head first (``False``: as it is, for :func:`~.maintenance.upgrade_store`).
    """
    if url is None:
        from workbench.settings import get_settings

        url = str(get_settings().store_url)
    backend = _new_backend(normalize_url(url))
    try:
        if migrate:
            backend.ensure_schema()
        yield backend
    finally:
        backend.dispose()


def _release_backend(backend: StoreBackend) -> None:
    if _backends.release(backend):
        backend.dispose()


# --------------------------------------------------------------------------------------------------------------
# The store


class TelemetryStore:
    """An append-only event store (see the module docstring). Open one with :func:`open_store`.

    Thread-safe. Usable as a context manager; :meth:`close` releases the connections.
    """

    def __init__(self, url: str | Path) -> None:
        self._backend = _acquire_backend(normalize_url(url))
        self._closed = False

    # -- description ---------------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The store URL with any password hidden (safe to print)."""
        return self._backend.text

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._closed

    @property
    def dialect(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        return self._backend.dialect

    @property
    def path(self) -> Path | None:
        """The SQLite file, or ``None`` (PostgreSQL, in-memory SQLite)."""
        return self._backend.path

    def describe(self) -> dict[str, Any]:
        """A JSON-ready summary: URL (redacted), dialect, server or library version, event count."""
        info: dict[str, Any] = {
            "url": self.url,
            "dialect": self.dialect,
            "path": str(self.path or "") or None,
        }
        with self._reading("describe") as conn:
            info.update(self._backend.describe(conn))
            info["events"] = conn.execute(sa.select(sa.func.count()).select_from(events_table)).scalar_one()
        return info

    # -- writing -------------------------------------------------------------------------------------------

    def append(self, event: Event) -> None:
        """Store one event; durable when this returns."""
        self.append_many([event])

    def append_many(self, events: Iterable[Event]) -> int:
        """Store events in one transaction: all or none; durable when this returns.

        Args:
            events: The events.

        Returns:
            How many were stored.

        Raises:
            StoreError: When the store cannot be written (after retries for a locked SQLite database).
            TypeError: When an item is not an :class:`Event`.
        """
        batch = list(events)
        for item in batch:
            if not isinstance(item, Event):
                raise TypeError(f"append_many() takes Event objects, got {type(item).__name__}")
        if not batch:
            return 0
        self._check_open()
        backend = self._backend
        for attempt in range(1, WRITE_ATTEMPTS + 1):
            started = time.monotonic()
            try:
                with backend.writing() as conn:
                    backend.write_batch(conn, batch)
                return len(batch)
            except sa.exc.DBAPIError as exc:
                if exc.connection_invalidated and attempt < WRITE_ATTEMPTS:
                    continue  # the server closed the connection; a fresh one is taken on the next attempt
                delay = backend.retry_delay(exc, attempt, time.monotonic() - started)
                if delay is not None and attempt < WRITE_ATTEMPTS:
                    log.warning("telemetry store locked; retrying in %.2f s (attempt %d)", delay, attempt)
                    time.sleep(delay)
                    continue
                raise backend.error("cannot write to", exc) from None
        raise AssertionError("unreachable")  # pragma: no cover

    # -- reading -------------------------------------------------------------------------------------------

    def query(
        self,
        *,
        learner: str | Iterable[str] | None = None,
        team: str | Iterable[str] | None = None,
        playbook: str | Iterable[str] | None = None,
        task: str | Iterable[str] | None = None,
        kind: EventKind | str | Iterable[EventKind | str] | None = None,
        run_id: str | Iterable[str] | None = None,
        status: str | Iterable[str] | None = None,
        since: datetime | str | None = None,
        until: datetime | str | None = None,
        limit: int | None = None,
        newest_first: bool = False,
    ) -> list[Event]:
        """Events matching every given filter, oldest first (or newest first).

        Each filter takes one value or several (any match). ``learner`` takes raw ids or pseudonyms.
        ``since`` is inclusive, ``until`` exclusive (datetimes or ISO strings; naive means UTC).
        """
        where = self._where(locals())
        order = (
            (events_table.c.time.desc(), events_table.c.seq.desc())
            if newest_first
            else (
                events_table.c.time,
                events_table.c.seq,
            )
        )
        stmt = sa.select(*event_columns()).where(*where).order_by(*order)
        if limit is not None:
            stmt = stmt.limit(int(limit))
        with self._reading("read") as conn:
            rows = conn.execute(stmt).all()
        return [row_to_event(row) for row in rows]

    def count(self, **filters: Any) -> int:
        """How many events match the filters of :meth:`query`."""
        stmt = sa.select(sa.func.count()).select_from(events_table).where(*self._where(filters))
        with self._reading("read") as conn:
            return int(conn.execute(stmt).scalar_one())

    def distinct(self, column: str, **filters: Any) -> list[Any]:
        """The sorted distinct non-null values of an event column (``team``, ``kind``...) among matches."""
        col = self._column(column)
        stmt = sa.select(col).where(col.is_not(None), *self._where(filters)).distinct().order_by(col)
        with self._reading("read") as conn:
            return list(conn.execute(stmt).scalars())

    def value_counts(self, column: str, **filters: Any) -> dict[Any, int]:
        """``{value: count}`` of an event column among matches, most frequent first (``None`` included)."""
        col = self._column(column)
        n = sa.func.count().label("n")
        stmt = sa.select(col, n).where(*self._where(filters)).group_by(col).order_by(n.desc(), col)
        with self._reading("read") as conn:
            return {value: int(count) for value, count in conn.execute(stmt).all()}

    def time_range(self, **filters: Any) -> tuple[datetime | None, datetime | None]:
        """The first and last event time among matches (UTC), or ``(None, None)``."""
        t = events_table.c.time
        stmt = sa.select(sa.func.min(t), sa.func.max(t)).where(*self._where(filters))
        with self._reading("read") as conn:
            first, last = conn.execute(stmt).one()
        return (as_utc(first) if first is not None else None, as_utc(last) if last is not None else None)

    def to_frame(
        self, *, limit: int | None = None, attribute_columns: Sequence[str] = (), **filters: Any
    ) -> pd.DataFrame:
        """Matching events as a pandas DataFrame, in insertion order.

        Columns are the event fields (``time`` as UTC datetimes, ``attributes`` as dicts), plus one column per
        name in ``attribute_columns`` holding that attribute (missing: ``None``).

        Args:
            limit: At most this many events.
            attribute_columns: Attribute keys to copy into their own columns (``"gen_ai.usage.input_tokens"``).
            **filters: The filters of :meth:`query`.
        """
        stmt = self._frame_select(filters)
        if limit is not None:
            stmt = stmt.limit(int(limit))
        with self._reading("read") as conn:
            return self._read_frame(stmt, conn, attribute_columns)

    def iter_frames(
        self, *, chunksize: int = 100_000, attribute_columns: Sequence[str] = (), **filters: Any
    ) -> Iterator[pd.DataFrame]:
        """Matching events as DataFrames of at most ``chunksize`` rows, in insertion order.

        Pages by the primary key (keyset pagination), so each page is one short indexed query and no
        transaction stays open while the caller works on a page: fit for millions of events.
        """
        if chunksize < 1:
            raise ValueError("chunksize must be at least 1")
        last = None
        while True:
            stmt = self._frame_select(filters)
            if last is not None:
                stmt = stmt.where(events_table.c.seq > last)
            stmt = stmt.limit(chunksize)
            with self._reading("read") as conn:
                frame = self._read_frame(stmt, conn, attribute_columns, keep_seq=True)
            if frame.empty:
                return
            last = int(frame["seq"].iloc[-1])
            yield frame.drop(columns="seq")
            if len(frame) < chunksize:
                return

    # -- companion tables ----------------------------------------------------------------------------------

    def connection(self, action: str, *, write: bool = False) -> contextlib.AbstractContextManager[Connection]:
        """A SQLAlchemy connection for tables that live beside the events in this database (the copilot
        registry keeps its versions here, so a team's PostgreSQL holds them too).

        Writes go through the process's one writer connection, in a transaction committed when the block ends
        (rolled back on an error), like the store's own writes; reads use a pooled connection. Database errors
        become :class:`~workbench.errors.StoreError` naming ``action`` and the fix.

        Args:
            action: What the caller does, for error messages (``"read the copilot registry"``).
            write: Whether the block writes.
        """
        self._check_open()
        return _ReadGuard(self._backend, action, write=write)

    # -- raw SQL (the skills report's aggregation) ------------------------------------------------------------

    def sql(self) -> _ReadGuard:
        """A read connection for SQL the methods above do not cover (the skills report aggregates in SQL).

        Use it as ``with store.sql() as conn:``; the transaction is rolled back on exit and database errors
        become :class:`StoreError`. Statements must only read.
        """
        return self._reading("read")

    @property
    def sql_dialect(self) -> SqlDialect:
        """The SQL fragments this database spells its own way (JSON attributes, times), for :meth:`sql`."""
        return dialect_for(self._backend.dialect)

    def time_value(self, value: datetime | str) -> Any:
        """``value`` (datetime or ISO text; naive = UTC) as a raw-SQL parameter compared like stored times."""
        return self._backend.time_value(parse_time(value))

    def libpq_uri(self) -> str:
        """A PostgreSQL store's libpq connection URI (password included; never log it).

        Raises:
            StoreError: The store is not PostgreSQL.
        """
        uri = getattr(self._backend, "libpq_uri", None)
        if uri is None:
            raise StoreError(f"{self.url} is not a PostgreSQL store", hint="use a postgresql+psycopg:// URL")
        return str(uri())

    def reopen(self) -> TelemetryStore:
        """A new store on the same database (its holder may close this one)."""
        return TelemetryStore(self._backend.url.render_as_string(hide_password=False))

    # -- lifecycle -----------------------------------------------------------------------------------------

    def close(self) -> None:
        """Release this store's hold on the connections (closed when the last store on the database closes)."""
        if not self._closed:
            self._closed = True
            _release_backend(self._backend)

    def __enter__(self) -> TelemetryStore:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"TelemetryStore({self.url!r})"

    # -- internals -----------------------------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise StoreError(
                f"the telemetry store {self.url} is closed", hint="open it again with open_store()"
            )

    def _reading(self, action: str) -> _ReadGuard:
        self._check_open()
        return _ReadGuard(self._backend, action)

    @staticmethod
    def _column(name: str) -> sa.Column[Any]:
        if name not in EVENT_FIELDS or name == "attributes":
            raise ValidationError(
                f"'{name}' is not an event column",
                field="column",
                hint=f"use one of {[f for f in EVENT_FIELDS if f != 'attributes']}",
            )
        return events_table.c[name]

    def _where(self, filters: dict[str, Any]) -> list[sa.ColumnElement[bool]]:
        where: list[sa.ColumnElement[bool]] = []
        known = {*FILTER_COLUMNS, "since", "until", "limit", "newest_first", "self"}
        unknown = sorted(set(filters) - known)
        if unknown:
            raise ValidationError(
                f"unknown event filter(s) {unknown}", field="filters", hint=f"use {sorted(known - {'self'})}"
            )
        for name in FILTER_COLUMNS:
            value = filters.get(name)
            if value is None:
                continue
            values = [value] if isinstance(value, str) else list(value)
            if name == "learner":
                values = [pseudonymize(str(v)) for v in values]
            elif name == "kind":
                values = [kind_value(v) for v in values]
            column = events_table.c[name]
            where.append(column == values[0] if len(values) == 1 else column.in_(values))
        if filters.get("since") is not None:
            where.append(events_table.c.time >= self._backend.bind_time(parse_time(filters["since"])))
        if filters.get("until") is not None:
            where.append(events_table.c.time < self._backend.bind_time(parse_time(filters["until"])))
        return where

    def _frame_select(self, filters: dict[str, Any]) -> sa.Select[Any]:
        columns = [
            events_table.c.seq,
            *(self._backend.frame_column(n, events_table.c[n]) for n in EVENT_FIELDS),
        ]
        return sa.select(*columns).where(*self._where(filters)).order_by(events_table.c.seq)

    def _read_frame(
        self, stmt: sa.Select[Any], conn: Connection, attribute_columns: Sequence[str], keep_seq: bool = False
    ) -> pd.DataFrame:
        import pandas as pd

        frame = self._backend.read_frame(stmt, conn)
        frame["duration_s"] = pd.to_numeric(frame["duration_s"], errors="coerce").astype("float64")
        if attribute_columns:
            attributes = frame["attributes"].tolist()
            for key in attribute_columns:
                frame[key] = [a.get(key) for a in attributes]
        return frame if keep_seq else frame.drop(columns="seq")


class _ReadGuard:
    """A read (or write) connection that turns database errors into :class:`StoreError`."""

    def __init__(self, backend: StoreBackend, action: str, *, write: bool = False) -> None:
        self._backend, self._action = backend, action
        self._tx = backend.writing() if write else backend.reading()

    def __enter__(self) -> Connection:
        try:
            return self._tx.__enter__()
        except sa.exc.DBAPIError as exc:
            raise self._backend.error(f"cannot {self._action}", exc) from None

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._tx.__exit__(exc_type, exc, tb)
        if isinstance(exc, sa.exc.DBAPIError):
            raise self._backend.error(f"cannot {self._action}", exc) from None


def open_store(url: str | Path | None = None) -> TelemetryStore:
    """Open (creating when needed) the telemetry store at ``url``; default ``settings.store_url``.

    Args:
        url: A SQLAlchemy URL (``sqlite:///file.db``, ``postgresql+psycopg://user:pass@host/db``) or a
            :class:`~pathlib.Path` of a SQLite file. A SQLite file's missing folders are created.

    Raises:
        StoreError: For a malformed URL, an unsupported database, an unreachable server (after
            ``CONNECT_TIMEOUT_S`` at most), or a SQLite file that cannot be created. The message names the URL
            (password hidden) and the fix.
    """
    if url is None:
        from workbench.settings import get_settings

        url = str(get_settings().store_url)
    return TelemetryStore(url)
