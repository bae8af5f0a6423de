"""The SQLite telemetry backend (the default store, ``sqlite:///<data_dir>/telemetry.db``).

Connections come from :mod:`workbench._sqlite`: WAL journal, ``synchronous=NORMAL`` (consistent always;
durable across process crashes, not across power loss), ``busy_timeout`` 30 s. All writes of a process go
through the ONE writer connection :func:`~workbench._sqlite.shared_writer` keeps per database file (the bundled
SQLite has the WAL-reset bug with several writer connections in a process), in ``BEGIN IMMEDIATE``
transactions; reads use separate pooled connections. SQLite on a network filesystem (NFS, SMB) is refused: its
locking is not reliable there.
"""

from __future__ import annotations

import json
import random
import sqlite3
from collections.abc import Callable
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy import event as sa_event
from sqlalchemy.engine import URL, Connection, Engine
from sqlalchemy.pool import StaticPool

from workbench._sqlite import SqliteOptions, SqliteWriter, connect, is_memory, release_writer, shared_writer
from workbench.errors import StoreError
from workbench.telemetry.backend import StoreBackend, frame_or_empty
from workbench.telemetry.events import EVENT_FIELDS, Event
from workbench.telemetry.schema import dumps, event_values, events_table

if TYPE_CHECKING:
    import threading

    import pandas as pd

#: The pragmas of every telemetry connection.
OPTIONS = SqliteOptions(wal=True, synchronous="NORMAL")
#: Filesystems where SQLite's locking cannot be trusted.
NETWORK_FILESYSTEMS = frozenset({"nfs", "nfs4", "cifs", "smbfs", "smb3", "fuse.sshfs", "afs", "ncpfs"})

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


def is_locked(exc: BaseException) -> bool:
    """Whether ``exc`` (a driver error, or SQLAlchemy's wrapper of one) says the database is locked."""
    text = str(getattr(exc, "orig", exc)).lower()
    return "database is locked" in text or "database is busy" in text or "database table is locked" in text


def sqlite_time(value: datetime) -> str:
    """A UTC datetime as SQLAlchemy stores it in SQLite: naive, space-separated, always with microseconds."""
    return value.astimezone(timezone.utc).replace(tzinfo=None).isoformat(" ", "microseconds")


@lru_cache(maxsize=1)
def _insert() -> str:
    """The ``INSERT`` of one event, compiled once from the Core table for SQLite's ``?`` placeholders."""
    from sqlalchemy.dialects import sqlite

    stmt = events_table.insert().values({name: sa.bindparam(name) for name in EVENT_FIELDS})
    return str(stmt.compile(dialect=sqlite.dialect()))


def _engine(url: URL, creator: Callable[[], sqlite3.Connection], *, single: bool, begin: str) -> Engine:
    """An engine whose connections come from ``creator``; every transaction starts with ``begin``."""
    kwargs: dict[str, Any] = {"creator": creator, "json_serializer": dumps}
    if single:
        kwargs["poolclass"] = StaticPool
    engine = sa.create_engine(url, **kwargs)

    @sa_event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # The driver is in autocommit mode (see workbench._sqlite), so this hook says BEGIN itself.
        conn.exec_driver_sql(begin)

    return engine


class SqliteBackend(StoreBackend):
    """A SQLite database (a file, or in memory) and the process's writer connection to it."""

    dialect = "sqlite"

    def _shown_url(self) -> URL:
        return self.url.set(drivername="sqlite")

    def _prepare(self) -> Engine:
        self.memory = is_memory(self.url.database)
        cargs, cparams = self.url.get_dialect()().create_connect_args(self.url)
        target, uri = str(cargs[0]), bool(cparams.get("uri"))
        if self.memory:
            # Each in-memory store is its own database: a private writer, which serves reads too.
            self.writer = SqliteWriter(None, OPTIONS)
        else:
            self.path = self._prepare_path(self.url.database or "")
            self.writer = shared_writer(self.path, OPTIONS, database=target, uri=uri)
        # Writers take the write lock up front: a deferred transaction that upgrades from read to write can
        # fail with SQLITE_BUSY without waiting on the busy timeout.
        self._writes = _engine(self.url, self.writer.connection, single=True, begin="BEGIN IMMEDIATE")
        if self.memory:
            return self._writes
        return _engine(self.url, lambda: connect(target, OPTIONS, uri=uri), single=False, begin="BEGIN")

    def _prepare_path(self, database: str) -> Path:
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

    # -- connections ------------------------------------------------------------------------------------------

    @property
    def lock(self) -> threading.RLock:
        """The lock of the process's writer connection to this file (shared with every store on it)."""
        return self.writer.lock

    def _writer_engine(self) -> Engine:
        return self._writes

    def _after_fork(self) -> None:
        if self._writes is not self.engine:
            self._writes.dispose(close=False)

    def dispose(self) -> None:
        """Close the read pool and give the writer connection back."""
        super().dispose()
        if self._writes is not self.engine:
            self._writes.dispose()  # its connection belongs to the writer, which closes it
        if self.memory:
            self.writer.close()
        else:
            release_writer(self.writer)

    # -- the dialect's hooks ----------------------------------------------------------------------------------

    def write_batch(self, conn: Connection, batch: list[Event]) -> None:
        # The time text is exactly SQLAlchemy's SQLite DateTime format (naive UTC, microseconds), so reads and
        # range filters through Core see the same values.
        conn.exec_driver_sql(_insert(), [event_values(e, sqlite_time(e.time)) for e in batch])

    def retry_delay(self, exc: BaseException, attempt: int, waited_s: float) -> float | None:
        # Retry locks reported at once (WAL recovery, a checkpoint); one that outlasted the busy timeout is held
        # by a stuck process and retrying would only stall the caller longer.
        if is_locked(exc) and waited_s < OPTIONS.busy_timeout_s / 2:
            return random.uniform(0.05, 0.25) * 2 ** (attempt - 1)
        return None

    def hint(self, exc: BaseException) -> str:
        if is_locked(exc):
            return "another process holds the SQLite write lock too long; retry, or use PostgreSQL for many writers"
        return "check that the SQLite file and its folder are writable and the disk is not full"

    def bind_time(self, utc: datetime) -> Any:
        # SQLite holds naive UTC text in SQLAlchemy's format, compared as text: bind the same text (a plain
        # string parameter, so the raw-cursor frame reader below can pass it on unchanged).
        return sa.literal(sqlite_time(utc), sa.String())

    def time_value(self, utc: datetime) -> Any:
        return sqlite_time(utc)

    def frame_column(self, name: str, column: Any) -> Any:
        if name in ("time", "attributes"):
            # Parsed in bulk by pandas/json below: much faster than SQLAlchemy's per-row processors.
            return sa.type_coerce(column, sa.String()).label(name)
        return column

    def read_frame(self, stmt: sa.Select[Any], conn: Connection) -> pd.DataFrame:
        import pandas as pd

        # Core compiles the query; the driver's cursor runs it. pandas reads sqlite3 connections natively,
        # which skips SQLAlchemy's per-row Result machinery (about 2x faster for large frames).
        compiled = stmt.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
        params = compiled.construct_params()
        args = [params[name] for name in compiled.positiontup or ()]
        frame = frame_or_empty(pd.read_sql(str(compiled), conn.connection.dbapi_connection, params=args))
        frame["time"] = pd.to_datetime(frame["time"], utc=True, format="ISO8601")
        texts = [a or "{}" for a in frame["attributes"].tolist()]
        # One parse of a JSON array beats one json.loads call per row.
        frame["attributes"] = json.loads("[" + ",".join(texts) + "]") if texts else []
        return frame

    def describe(self, conn: Connection) -> dict[str, Any]:
        return {
            "sqlite_version": sqlite3.sqlite_version,
            "journal_mode": conn.exec_driver_sql("PRAGMA journal_mode").scalar(),
        }
