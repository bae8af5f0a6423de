"""Where events live: an append-only ``events`` table behind SQLAlchemy 2 Core.

Two backends, chosen by URL (:func:`open_store`):

- **SQLite** (the default, ``sqlite:///<data_dir>/telemetry.db``): WAL journal, ``synchronous=NORMAL``
  (consistent always; durable across process crashes, not across power loss), ``busy_timeout`` 30 s, writes in
  ``BEGIN IMMEDIATE`` transactions retried with jitter when the database stays locked. All writes of a process
  go through ONE connection per database file, shared by every store opened on it: the SQLite bundled with
  CPython (< 3.51.3) has the WAL-reset bug when several connections of a process write or checkpoint at once.
  Reads use separate pooled connections. SQLite on a network filesystem (NFS, SMB) is refused: its locking is
  not reliable there; use PostgreSQL.
- **PostgreSQL** (``postgresql+psycopg://user:pass@host/db``; ``postgresql://`` and ``postgres://`` are read
  as psycopg 3): ``attributes`` is JSONB, batches are written with ``COPY``, and a trigger refuses
  ``UPDATE``, ``DELETE`` and ``TRUNCATE`` on ``events``.

Both refuse changes to stored events (SQLite with triggers too): there is no update or delete API. An
administrator who must erase data (a retention policy) drops the triggers deliberately.

A batch written by :meth:`TelemetryStore.append_many` is one transaction: it is stored completely or not at
all, and it is durable (across a crash of the writing process) when the call returns.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import random
import re
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy import event as sa_event
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.pool import StaticPool

from workbench.errors import StoreError, ValidationError
from workbench.settings import redact_url
from workbench.telemetry.events import EVENT_FIELDS, Event, EventKind
from workbench.telemetry.privacy import pseudonymize

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)

#: Seconds SQLite waits for a lock held by another connection before reporting "database is locked".
SQLITE_BUSY_TIMEOUT_S = 30.0
#: Attempts of a write transaction that keeps failing with "database is locked" (after the busy timeout).
WRITE_ATTEMPTS = 5
#: Seconds to wait for a PostgreSQL server to accept a connection.
CONNECT_TIMEOUT_S = 5
#: Filesystems where SQLite's locking cannot be trusted.
NETWORK_FILESYSTEMS = frozenset({"nfs", "nfs4", "cifs", "smbfs", "smb3", "fuse.sshfs", "afs", "ncpfs"})

_STRING_COLUMNS = ("learner", "team", "playbook", "task", "run_id", "kind", "status")
_FILTER_COLUMNS = (*_STRING_COLUMNS, "id")

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

_APPEND_ONLY_MESSAGE = "telemetry events are append-only"
_SQLITE_TRIGGERS = (
    "CREATE TRIGGER IF NOT EXISTS events_append_only_update BEFORE UPDATE ON events "
    f"BEGIN SELECT RAISE(ABORT, '{_APPEND_ONLY_MESSAGE}'); END",
    "CREATE TRIGGER IF NOT EXISTS events_append_only_delete BEFORE DELETE ON events "
    f"BEGIN SELECT RAISE(ABORT, '{_APPEND_ONLY_MESSAGE}'); END",
)
_PG_TRIGGERS = (
    "CREATE OR REPLACE FUNCTION workbench_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
    f"BEGIN RAISE EXCEPTION '{_APPEND_ONLY_MESSAGE}'; END $$",
    "DO $$ BEGIN "
    "IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = 'events_append_only' "
    "AND tgrelid = 'events'::regclass) THEN "
    "CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON events "
    "FOR EACH ROW EXECUTE FUNCTION workbench_events_append_only(); END IF; "
    "IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = 'events_no_truncate' "
    "AND tgrelid = 'events'::regclass) THEN "
    "CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON events "
    "FOR EACH STATEMENT EXECUTE FUNCTION workbench_events_append_only(); END IF; END $$",
)
# Serialises schema creation between processes on PostgreSQL (pg_advisory_xact_lock key: "wbevents").
_PG_SCHEMA_LOCK = 0x7762_6576_656E_7473 & 0x7FFF_FFFF_FFFF_FFFF

_COPY_COLUMNS = EVENT_FIELDS
_WRITER_FLAG = "workbench_writer"


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _redact(url: str) -> str:
    """``url`` with any password hidden, also for strings that are not valid URLs."""
    text = redact_url(url)
    return re.sub(r"(^|[/\s])([^:/@\s]+):([^@/\s]+)@", r"\1\2:***@", text) if "://" not in text else text


def _utc(value: datetime | str) -> datetime:
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


def _is_locked(exc: BaseException) -> bool:
    text = str(getattr(exc, "orig", exc)).lower()
    return "database is locked" in text or "database is busy" in text or "database table is locked" in text


def _filesystem_type(path: Path) -> str | None:
    """The filesystem type (from /proc/mounts) of the mount holding ``path``; ``None`` off Linux."""
    try:
        mounts = Path("/proc/mounts").read_text().splitlines()
    except OSError:
        return None
    best, fstype = "", None
    target = str(path.resolve())
    for line in mounts:
        parts = line.split()
        if len(parts) < 3:
            continue
        point = parts[1].replace("\\040", " ")
        if (target == point or target.startswith(point.rstrip("/") + "/")) and len(point) >= len(best):
            best, fstype = point, parts[2]
    return fstype


# --------------------------------------------------------------------------------------------------------------
# URL handling


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
            f"malformed telemetry store URL '{_redact(text)}': it has no '<database>://' scheme",
            field="store_url",
            hint=f"set WORKBENCH_STORE_URL (or store_url in workbench.toml) to {hint_forms}",
        )
    try:
        parsed = make_url(text)
    except (sa.exc.ArgumentError, ValueError) as exc:
        raise StoreError(
            f"malformed telemetry store URL '{_redact(text)}': {exc}",
            field="store_url",
            hint=f"use {hint_forms}; percent-encode special characters in the password (@ is %40)",
        ) from None
    backend, _, driver = parsed.drivername.partition("+")
    if backend in ("postgres", "postgresql"):
        if driver not in ("", "psycopg"):
            raise StoreError(
                f"telemetry store URL '{_redact(text)}' asks for the driver '{driver}'; Workbench uses psycopg 3",
                field="store_url",
                hint="write the URL as postgresql+psycopg://...",
            )
        return parsed.set(drivername="postgresql+psycopg")
    if backend == "sqlite":
        if driver not in ("", "pysqlite"):
            raise StoreError(
                f"telemetry store URL '{_redact(text)}' asks for the SQLite driver '{driver}'",
                field="store_url",
                hint="write the URL as sqlite:///path/to/telemetry.db",
            )
        database = parsed.database
        if database and database != ":memory:" and not database.startswith("file:"):
            parsed = parsed.set(database=str(Path(database).expanduser()))
        return parsed.set(drivername="sqlite+pysqlite")
    raise StoreError(
        f"unsupported telemetry store '{backend}' in URL '{_redact(text)}'",
        field="store_url",
        hint=f"use SQLite or PostgreSQL: {hint_forms}",
    )


# --------------------------------------------------------------------------------------------------------------
# One backend (engine + the process's single writer connection) per database, shared by the stores opened on it


class _Backend:
    """The engine of one database in this process and its one writer connection."""

    def __init__(self, url: URL) -> None:
        self.url = url
        self.dialect = "postgresql" if url.get_backend_name() == "postgresql" else "sqlite"
        shown = url if self.dialect == "postgresql" else url.set(drivername="sqlite")
        self.text = _redact(shown.render_as_string(hide_password=False))
        self.memory = self.dialect == "sqlite" and (not url.database or url.database == ":memory:")
        self.path: Path | None = None
        self.lock = threading.RLock()
        self.refs = 0
        self._writer: Connection | None = None
        self._pid = os.getpid()
        if self.dialect == "sqlite" and not self.memory:
            self.path = self._prepare_sqlite_path(url.database or "")
        self.engine = self._create_engine()
        self._ensure_schema()

    # -- setup ---------------------------------------------------------------------------------------------

    def _prepare_sqlite_path(self, database: str) -> Path:
        path = Path(database[5:].split("?", 1)[0] if database.startswith("file:") else database)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(
                f"cannot create the folder '{path.parent}' of the telemetry store {self.text}: {exc.strerror}",
                field="store_url",
                hint="choose a writable location (WORKBENCH_STORE_URL or WORKBENCH_DATA_DIR)",
            ) from None
        fstype = _filesystem_type(path.parent)
        if fstype in NETWORK_FILESYSTEMS:
            raise StoreError(
                f"the telemetry store {self.text} is on a network filesystem ({fstype}), where SQLite's "
                "locking is unreliable and the database can be corrupted",
                field="store_url",
                hint="put the SQLite file on a local disk, or use PostgreSQL (postgresql+psycopg://...)",
            )
        return path

    def _create_engine(self) -> Engine:
        if self.dialect == "postgresql":
            return sa.create_engine(
                self.url,
                pool_pre_ping=True,
                pool_size=2,
                max_overflow=4,
                connect_args={
                    "connect_timeout": CONNECT_TIMEOUT_S,
                    "application_name": "workbench-telemetry",
                },
                json_serializer=_dumps,
            )
        kwargs: dict[str, Any] = {
            "connect_args": {"timeout": SQLITE_BUSY_TIMEOUT_S, "check_same_thread": False},
            "json_serializer": _dumps,
        }
        if self.memory:
            kwargs["poolclass"] = StaticPool
        engine = sa.create_engine(self.url, **kwargs)

        @sa_event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
            # Autocommit at the driver level, so that the "begin" hook below controls BEGIN itself.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute(f"PRAGMA busy_timeout = {int(SQLITE_BUSY_TIMEOUT_S * 1000)}")
            if not self.memory:
                cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = NORMAL")
            cursor.close()

        @sa_event.listens_for(engine, "begin")
        def _on_begin(conn: Connection) -> None:
            # Writers take the write lock up front: a deferred transaction that upgrades from read to write can
            # fail with SQLITE_BUSY without waiting on the busy timeout.
            conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.info.get(_WRITER_FLAG) else "BEGIN")

        return engine

    def _ensure_schema(self) -> None:
        try:
            with self.reading() as conn:
                present = sa.inspect(conn).has_table("events")
            if present:
                return
            with self.writing() as conn:
                if self.dialect == "postgresql":
                    conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_SCHEMA_LOCK})
                metadata.create_all(conn, checkfirst=True)
                for statement in _PG_TRIGGERS if self.dialect == "postgresql" else _SQLITE_TRIGGERS:
                    conn.exec_driver_sql(statement)
        except sa.exc.DBAPIError as exc:
            self.dispose()
            raise self.error("cannot open", exc) from None

    # -- connections ---------------------------------------------------------------------------------------

    def _check_fork(self) -> None:
        if os.getpid() != self._pid:
            # A forked child must not use its parent's connections: drop them without closing them.
            self.engine.dispose(close=False)
            self._writer = None
            self.lock = threading.RLock()
            self._pid = os.getpid()

    def _writer_connection(self) -> Connection:
        if self._writer is None or self._writer.closed or self._writer.invalidated:
            if self._writer is not None:
                self._writer.close()
            self._writer = self.engine.connect()
            self._writer.info[_WRITER_FLAG] = True
        return self._writer

    class _Tx:
        def __init__(self, backend: _Backend, write: bool) -> None:
            self.backend, self.write = backend, write
            self.conn: Connection | None = None
            self.owned = False

        def __enter__(self) -> Connection:
            b = self.backend
            b._check_fork()
            if self.write or b.memory:
                b.lock.acquire()
                try:
                    self.conn = b._writer_connection()
                    if self.conn.in_transaction():  # left over from a failed commit
                        self.conn.rollback()
                    self.conn.begin()
                except BaseException:
                    b.lock.release()
                    raise
            else:
                self.conn = b.engine.connect()
                self.owned = True
            return self.conn

        def __exit__(
            self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
        ) -> None:
            assert self.conn is not None
            try:
                if self.owned:
                    self.conn.close()  # read transactions are rolled back
                elif exc_type is None:
                    try:
                        self.conn.commit()
                    except BaseException:
                        _quiet_rollback(self.conn)
                        raise
                else:
                    _quiet_rollback(self.conn)
            finally:
                if not self.owned:
                    self.backend.lock.release()

    def reading(self) -> _Backend._Tx:
        """A connection for reads (pooled; the writer connection for in-memory SQLite)."""
        return _Backend._Tx(self, write=False)

    def writing(self) -> _Backend._Tx:
        """The writer connection, locked for this thread, in a write transaction committed on exit."""
        return _Backend._Tx(self, write=True)

    def error(self, action: str, exc: BaseException) -> StoreError:
        """A :class:`StoreError` for a failed operation, with the URL redacted and a fix."""
        detail = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        if self.dialect == "postgresql":
            hint = (
                "check that the PostgreSQL server is running and reachable, and the user, password and database "
                "in WORKBENCH_STORE_URL; unset it to use the local SQLite store"
            )
        elif _is_locked(exc):
            hint = "another process holds the SQLite write lock too long; retry, or use PostgreSQL for many writers"
        else:
            hint = "check that the SQLite file and its folder are writable and the disk is not full"
        return StoreError(f"{action} the telemetry store {self.text}: {detail}", field="store_url", hint=hint)

    def dispose(self) -> None:
        """Close the writer connection and the pool."""
        with self.lock:
            if self._writer is not None and os.getpid() == self._pid:
                with contextlib.suppress(sa.exc.DBAPIError):
                    self._writer.close()
            self._writer = None
            self.engine.dispose()


_backends: dict[tuple[int, str], _Backend] = {}
_backends_lock = threading.Lock()


def _acquire_backend(url: URL) -> _Backend:
    key = (os.getpid(), url.render_as_string(hide_password=False))
    with _backends_lock:
        backend = _backends.get(key)
        if backend is None or backend.memory:  # each in-memory store is its own database
            backend = _Backend(url)
            if not backend.memory:
                _backends[key] = backend
        backend.refs += 1
        return backend


def _release_backend(backend: _Backend) -> None:
    with _backends_lock:
        backend.refs -= 1
        if backend.refs > 0:
            return
        key = (os.getpid(), backend.url.render_as_string(hide_password=False))
        if _backends.get(key) is backend:
            del _backends[key]
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
            if self.dialect == "sqlite":
                info["sqlite_version"] = sqlite3.sqlite_version
                info["journal_mode"] = conn.exec_driver_sql("PRAGMA journal_mode").scalar()
            else:
                info["server_version"] = conn.exec_driver_sql("SHOW server_version").scalar()
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
                    if backend.dialect == "postgresql":
                        _copy_rows(conn, batch)
                    else:
                        conn.exec_driver_sql(_sqlite_insert(), [_sqlite_row(e) for e in batch])
                return len(batch)
            except sa.exc.DBAPIError as exc:
                if exc.connection_invalidated and attempt < WRITE_ATTEMPTS:
                    continue  # the server closed the connection; a fresh one is taken on the next attempt
                waited = time.monotonic() - started
                # Retry locks reported at once (WAL recovery, a checkpoint); one that outlasted the busy
                # timeout is held by a stuck process and retrying would only stall the caller longer.
                quick = waited < SQLITE_BUSY_TIMEOUT_S / 2
                if backend.dialect == "sqlite" and _is_locked(exc) and quick and attempt < WRITE_ATTEMPTS:
                    delay = random.uniform(0.05, 0.25) * 2 ** (attempt - 1)
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
        stmt = sa.select(*_event_columns()).where(*where).order_by(*order)
        if limit is not None:
            stmt = stmt.limit(int(limit))
        with self._reading("read") as conn:
            rows = conn.execute(stmt).all()
        return [_row_to_event(row) for row in rows]

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
        return (_as_utc(first) if first is not None else None, _as_utc(last) if last is not None else None)

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
        known = {*_FILTER_COLUMNS, "since", "until", "limit", "newest_first", "self"}
        unknown = sorted(set(filters) - known)
        if unknown:
            raise ValidationError(
                f"unknown event filter(s) {unknown}", field="filters", hint=f"use {sorted(known - {'self'})}"
            )
        for name in _FILTER_COLUMNS:
            value = filters.get(name)
            if value is None:
                continue
            values = [value] if isinstance(value, str) else list(value)
            if name == "learner":
                values = [pseudonymize(str(v)) for v in values]
            elif name == "kind":
                values = [_kind_value(v) for v in values]
            column = events_table.c[name]
            where.append(column == values[0] if len(values) == 1 else column.in_(values))
        if filters.get("since") is not None:
            where.append(events_table.c.time >= self._bind_time(filters["since"]))
        if filters.get("until") is not None:
            where.append(events_table.c.time < self._bind_time(filters["until"]))
        return where

    def _bind_time(self, value: datetime | str) -> Any:
        utc = _utc(value)
        if self.dialect == "sqlite":
            # SQLite holds naive UTC text in SQLAlchemy's format, compared as text: bind the same text (a plain
            # string parameter, so the raw-cursor frame reader below can pass it on unchanged).
            return sa.literal(_sqlite_time(utc), sa.String())
        return utc

    def _frame_select(self, filters: dict[str, Any]) -> sa.Select[Any]:
        columns: list[Any] = [events_table.c.seq]
        for name in EVENT_FIELDS:
            column: Any = events_table.c[name]
            if name in ("time", "attributes") and self.dialect == "sqlite":
                # Parsed in bulk by pandas/json below: much faster than SQLAlchemy's per-row processors.
                column = sa.type_coerce(column, sa.String()).label(name)
            columns.append(column)
        return sa.select(*columns).where(*self._where(filters)).order_by(events_table.c.seq)

    def _read_frame(
        self, stmt: sa.Select[Any], conn: Connection, attribute_columns: Sequence[str], keep_seq: bool = False
    ) -> pd.DataFrame:
        import pandas as pd

        if self.dialect == "sqlite":
            # Core compiles the query; the driver's cursor runs it. pandas reads sqlite3 connections natively,
            # which skips SQLAlchemy's per-row Result machinery (about 2x faster for large frames).
            compiled = stmt.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
            params = compiled.construct_params()
            args = [params[name] for name in compiled.positiontup or ()]
            frame = pd.read_sql(str(compiled), conn.connection.dbapi_connection, params=args)
        else:
            frame = pd.read_sql(stmt, conn)
        if frame.empty:
            frame = pd.DataFrame({c: pd.Series(dtype=object) for c in ("seq", *EVENT_FIELDS)})
        if self.dialect == "sqlite":
            frame["time"] = pd.to_datetime(frame["time"], utc=True, format="ISO8601")
            texts = [a or "{}" for a in frame["attributes"].tolist()]
            # One parse of a JSON array beats one json.loads call per row.
            frame["attributes"] = json.loads("[" + ",".join(texts) + "]") if texts else []
        else:
            frame["time"] = pd.to_datetime(frame["time"], utc=True)
            frame["attributes"] = [a if a is not None else {} for a in frame["attributes"].tolist()]
        frame["duration_s"] = pd.to_numeric(frame["duration_s"], errors="coerce").astype("float64")
        if attribute_columns:
            attributes = frame["attributes"].tolist()
            for key in attribute_columns:
                frame[key] = [a.get(key) for a in attributes]
        return frame if keep_seq else frame.drop(columns="seq")


class _ReadGuard:
    """A read (or write) connection that turns database errors into :class:`StoreError`."""

    def __init__(self, backend: _Backend, action: str, *, write: bool = False) -> None:
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


def _quiet_rollback(conn: Connection) -> None:
    with contextlib.suppress(sa.exc.DBAPIError):  # the connection is gone; the pool replaces it
        conn.rollback()


def _kind_value(value: EventKind | str) -> str:
    try:
        return EventKind(value).value
    except ValueError:
        raise ValidationError(
            f"'{value}' is not an event kind", field="kind", hint=f"use one of {[k.value for k in EventKind]}"
        ) from None


def _as_utc(value: datetime | str) -> datetime:
    if isinstance(value, str):  # SQLite aggregates (min/max) come back as text
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def _event_columns() -> list[sa.Column[Any]]:
    return [events_table.c[name] for name in EVENT_FIELDS]


def _row_to_event(row: sa.Row[Any]) -> Event:
    data = row._asdict()
    data["time"] = _as_utc(data["time"])
    with contextlib.suppress(ValueError):  # a kind added by a newer Workbench keeps its text
        data["kind"] = EventKind(data["kind"])
    data["attributes"] = data["attributes"] or {}
    # Stored events were validated when written: skip re-validation (and re-masking) on the way out.
    return Event.model_construct(**data)


@lru_cache(maxsize=1)
def _sqlite_insert() -> str:
    """The ``INSERT`` of one event, compiled once from the Core table for SQLite's ``?`` placeholders."""
    from sqlalchemy.dialects import sqlite

    stmt = events_table.insert().values({name: sa.bindparam(name) for name in EVENT_FIELDS})
    return str(stmt.compile(dialect=sqlite.dialect()))


def _sqlite_row(e: Event) -> tuple[Any, ...]:
    # Serialised here rather than by SQLAlchemy's per-value processors (3x faster for big batches); the time
    # text is exactly SQLAlchemy's SQLite DateTime format (naive UTC, microseconds), so reads and range filters
    # through Core see the same values.
    return (
        e.id,
        _sqlite_time(e.time),
        e.schema_version,
        e.learner,
        e.team,
        e.playbook,
        e.task,
        e.run_id,
        e.kind.value,
        e.duration_s,
        e.status,
        _dumps(e.attributes),
    )


def _sqlite_time(value: datetime) -> str:
    """A UTC datetime as SQLAlchemy stores it in SQLite: naive, space-separated, always with microseconds."""
    return value.astimezone(timezone.utc).replace(tzinfo=None).isoformat(" ", "microseconds")


def _copy_rows(conn: Connection, batch: list[Event]) -> None:
    """Write a batch with PostgreSQL COPY on the transaction of ``conn``."""
    dbapi = conn.connection.dbapi_connection
    assert dbapi is not None
    statement = f"COPY events ({', '.join(_COPY_COLUMNS)}) FROM STDIN"
    with dbapi.cursor() as cursor, cursor.copy(statement) as copy:  # type: ignore[attr-defined]
        for e in batch:
            copy.write_row(
                (
                    e.id,
                    e.time,
                    e.schema_version,
                    e.learner,
                    e.team,
                    e.playbook,
                    e.task,
                    e.run_id,
                    e.kind.value,
                    e.duration_s,
                    e.status,
                    _dumps(e.attributes),
                )
            )


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
