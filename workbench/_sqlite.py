"""One SQLite setup for every Workbench store: pragmas, and one writer connection per process and file.

Three stores keep SQLite files: telemetry events (``telemetry.db``), guardrail usage (``guardrails/usage.db``)
and the review queue (``reviews.db``). They all open connections here:

- :func:`connect` opens a connection with the store's :class:`SqliteOptions` applied (WAL journal,
  ``busy_timeout``, ``synchronous`` level, foreign keys), in driver autocommit mode (``isolation_level=None``):
  callers say ``BEGIN`` themselves, so a writer can take the write lock up front with ``BEGIN IMMEDIATE``.
- :func:`shared_writer` hands out the process's ONE writer connection to a database file, shared by every
  store opened on it and guarded by a lock: the SQLite bundled with CPython (< 3.51.3) has the WAL-reset bug
  when several connections of one process write or checkpoint the same file at once. Other processes have
  their own writer; WAL and the busy timeout let them take turns.

A forked child never uses its parent's connection: the writer notices the new process id and opens its own.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, Literal, TypeVar

#: Seconds a connection waits for a lock held by another connection before reporting "database is locked".
BUSY_TIMEOUT_S = 30.0

Synchronous = Literal["OFF", "NORMAL", "FULL", "EXTRA"]

T = TypeVar("T")


@dataclass(frozen=True)
class SqliteOptions:
    """The pragmas applied to every connection of a store.

    Attributes:
        wal: Write-ahead log journal (readers do not block the writer). Ignored for in-memory databases.
        synchronous: ``NORMAL`` is consistent always and durable across process crashes (not power loss) in WAL
            mode; ``FULL`` is also durable across power loss, at a cost per commit.
        busy_timeout_s: How long to wait for another connection's lock.
        foreign_keys: Enforce ``FOREIGN KEY`` constraints (SQLite leaves them off by default).
    """

    wal: bool = True
    synchronous: Synchronous = "NORMAL"
    busy_timeout_s: float = BUSY_TIMEOUT_S
    foreign_keys: bool = False


def is_memory(database: str | Path | None) -> bool:
    """Whether ``database`` names an in-memory database (``None``, ``""`` or ``":memory:"``)."""
    return database is None or str(database) in ("", ":memory:")


def apply_pragmas(conn: sqlite3.Connection, options: SqliteOptions, *, memory: bool = False) -> None:
    """Apply ``options`` to an open connection (the busy timeout first, so that switching to WAL waits)."""
    conn.execute(f"PRAGMA busy_timeout = {int(options.busy_timeout_s * 1000)}")
    if options.wal and not memory:
        conn.execute("PRAGMA journal_mode = WAL")
    conn.execute(f"PRAGMA synchronous = {options.synchronous}")
    conn.execute(f"PRAGMA foreign_keys = {'ON' if options.foreign_keys else 'OFF'}")


def connect(
    database: str | Path | None,
    options: SqliteOptions,
    *,
    uri: bool = False,
    factory: type[sqlite3.Connection] = sqlite3.Connection,
) -> sqlite3.Connection:
    """A new connection to ``database`` (``None``: a new in-memory database) with ``options`` applied.

    The connection is in driver autocommit mode (``isolation_level=None``) and may be used from any thread
    (``check_same_thread=False``): callers serialise its use themselves.

    Raises:
        sqlite3.Error: When the file cannot be opened or the pragmas cannot be set.
    """
    target = ":memory:" if is_memory(database) else str(database)
    conn = sqlite3.connect(
        target,
        timeout=options.busy_timeout_s,
        isolation_level=None,
        check_same_thread=False,
        uri=uri,
        factory=factory,
    )
    try:
        apply_pragmas(conn, options, memory=is_memory(database))
    except BaseException:
        conn.close()
        raise
    return conn


class SharedConnection(sqlite3.Connection):
    """The connection a :class:`SqliteWriter` owns: ``close()`` leaves it open.

    Code that wraps the writer's connection (SQLAlchemy's pool, when it disposes an engine) may call
    ``close()``; only the writer closes it for good, when its last user releases it.
    """

    def close(self) -> None:
        """Do nothing: the owning :class:`SqliteWriter` closes this connection."""

    def close_for_good(self) -> None:
        """Close the connection."""
        super().close()


class SqliteWriter:
    """The process's one writer connection to a SQLite database, shared by threads under a lock.

    Get one with :func:`shared_writer` (a file) or construct one for a private in-memory database.

    Args:
        database: The file, or ``None`` for a new in-memory database.
        options: The pragmas.
        uri: ``database`` is a ``file:`` URI.
    """

    def __init__(self, database: str | Path | None, options: SqliteOptions, *, uri: bool = False) -> None:
        self.database = None if is_memory(database) else str(database)
        self.options = options
        self.uri = uri
        self._conn: SharedConnection | None = None
        self._lock = threading.RLock()
        self._pid = os.getpid()

    @property
    def memory(self) -> bool:
        """Whether this is an in-memory database."""
        return self.database is None

    @property
    def lock(self) -> threading.RLock:
        """The lock every use of the connection holds (a new one in a forked child)."""
        self._check_fork()
        return self._lock

    def _check_fork(self) -> None:
        if os.getpid() != self._pid:
            # A forked child must not use (nor close) its parent's connection: forget it and open its own.
            self._conn = None
            self._lock = threading.RLock()
            self._pid = os.getpid()

    def connection(self) -> SharedConnection:
        """The connection, opened on first use. Hold :attr:`lock` while using it."""
        self._check_fork()
        if self._conn is None:
            conn = connect(self.database, self.options, uri=self.uri, factory=SharedConnection)
            assert isinstance(conn, SharedConnection)
            self._conn = conn
        return self._conn

    @contextmanager
    def locked(self) -> Iterator[sqlite3.Connection]:
        """The connection, for this thread alone; each statement commits on its own (autocommit)."""
        with self.lock:
            yield self.connection()

    @contextmanager
    def transaction(self, *, immediate: bool = True) -> Iterator[sqlite3.Connection]:
        """The connection in a transaction committed on exit, rolled back on an exception.

        Args:
            immediate: ``BEGIN IMMEDIATE``: take the write lock up front. A deferred transaction that upgrades
                from reading to writing can fail with ``SQLITE_BUSY`` without waiting on the busy timeout.
        """
        with self.lock:
            conn = self.connection()
            if conn.in_transaction:  # left over from a failed commit
                conn.rollback()
            conn.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")
            try:
                yield conn
            except BaseException:
                if conn.in_transaction:
                    conn.rollback()
                raise
            conn.commit()

    def close(self) -> None:
        """Close the connection now (a later use opens a new one)."""
        with self.lock:
            if self._conn is not None:
                self._conn.close_for_good()
            self._conn = None


class ProcessShared(Generic[T]):
    """Objects shared by every holder of one key in this process, counted so that the last holder closes them.

    The one-per-process registries of the stores use it: :func:`shared_writer` (a writer per SQLite file) and
    the telemetry store's backends (an engine per database URL).
    """

    def __init__(self) -> None:
        self._items: dict[Hashable, T] = {}
        self._holders: dict[int, int] = {}
        self._lock = threading.Lock()

    def acquire(
        self, key: Hashable | None, create: Callable[[], T], check: Callable[[T], None] | None = None
    ) -> T:
        """The object of ``key``, made by ``create()`` for its first holder (``key=None``: a private one).

        Args:
            key: What identifies the shared object; ``None`` makes a new object nobody else gets.
            create: Makes the object (under this registry's lock, so racing threads make one).
            check: Called with an existing object before it is handed out (it may raise).
        """
        with self._lock:
            item = self._items.get(key) if key is not None else None
            if item is None:
                item = create()
                if key is not None:
                    self._items[key] = item
            elif check is not None:
                check(item)
            self._holders[id(item)] = self._holders.get(id(item), 0) + 1
            return item

    def release(self, item: T) -> bool:
        """Drop one holder of ``item``; ``True`` when that was the last one (the caller then closes it)."""
        with self._lock:
            left = self._holders.get(id(item), 1) - 1
            if left > 0:
                self._holders[id(item)] = left
                return False
            self._holders.pop(id(item), None)
            for key in [k for k, v in self._items.items() if v is item]:
                del self._items[key]
            return True


_writers: ProcessShared[SqliteWriter] = ProcessShared()


def _key(path: str | Path) -> str:
    return str(Path(path).expanduser().resolve())


def shared_writer(
    path: str | Path, options: SqliteOptions, *, database: str | None = None, uri: bool = False
) -> SqliteWriter:
    """The process's writer of the SQLite file ``path``; hand it back with :func:`release_writer`.

    Every caller asking for the same file (after resolving links and ``..``) gets the same writer.

    Args:
        path: The database file (its folder must exist).
        options: The pragmas; every caller of one file must ask for the same ones.
        database: What to open instead of ``path`` (a ``file:`` URI naming the same file), with ``uri``.
        uri: ``database`` is a ``file:`` URI.

    Raises:
        ValueError: When the file's writer was opened with other options.
    """
    key = _key(path)

    def same_options(writer: SqliteWriter) -> None:
        if writer.options != options:
            raise ValueError(f"the SQLite file {key} is already open with {writer.options}, not {options}")

    return _writers.acquire(key, lambda: SqliteWriter(database or key, options, uri=uri), same_options)


def release_writer(writer: SqliteWriter) -> None:
    """Give back a writer from :func:`shared_writer`; the last release closes its connection."""
    if _writers.release(writer):
        writer.close()
