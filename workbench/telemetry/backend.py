"""The interface of a telemetry store backend: one database's engine and its single writer connection.

:class:`~workbench.telemetry.store.TelemetryStore` holds the dialect-neutral query logic; a backend
(:class:`~workbench.telemetry.sqlite_backend.SqliteBackend`,
:class:`~workbench.telemetry.postgres_backend.PostgresBackend`) owns the connections and the few things each
database does its own way: schema extras, the batch write, time binding, frame decoding and error hints. One
backend per database and process is shared by every store opened on it.
"""

from __future__ import annotations

import contextlib
import os
import threading
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import URL, Connection, Engine

from workbench.errors import StoreError
from workbench.telemetry.events import EVENT_FIELDS, Event
from workbench.telemetry.schema import redact

if TYPE_CHECKING:
    from datetime import datetime

    import pandas as pd


class StoreBackend:
    """The engine of one database in this process and its one writer connection.

    Subclasses create the engine and fill in the dialect's hooks; this class runs transactions on them.
    """

    #: ``"sqlite"`` or ``"postgresql"``.
    dialect = ""
    #: Whether writes go through one connection kept for the process (SQLite), or through pooled ones.
    pinned_writer = True

    def __init__(self, url: URL) -> None:
        self.url = url
        self.text = redact(self._shown_url().render_as_string(hide_password=False))
        #: An in-memory database: reads go through the writer connection too.
        self.memory = False
        #: The SQLite file (``None`` for PostgreSQL and in-memory SQLite).
        self.path: Path | None = None
        self._lock = threading.RLock()
        self._writer: Connection | None = None
        self._pid = os.getpid()
        self.engine = self._prepare()

    # -- the dialect's hooks ----------------------------------------------------------------------------------

    def _shown_url(self) -> URL:
        return self.url

    def _prepare(self) -> Engine:
        """Check the location and create the (reading) engine."""
        raise NotImplementedError

    def _writer_engine(self) -> Engine:
        """The engine whose connection is the process's writer."""
        return self.engine

    def lock_schema(self, conn: Connection) -> None:
        """Serialise schema migrations between processes (called first in the migrating write transaction)."""

    def write_batch(self, conn: Connection, batch: list[Event]) -> None:
        """Insert ``batch`` on the write transaction of ``conn``."""
        raise NotImplementedError

    def retry_delay(self, exc: BaseException, attempt: int, waited_s: float) -> float | None:
        """Seconds to wait before retrying a failed write, or ``None`` to give up."""
        return None

    def hint(self, exc: BaseException) -> str:
        """The fix to suggest for a failed operation."""
        raise NotImplementedError

    def bind_time(self, utc: datetime) -> Any:
        """A time filter bound as the database compares it."""
        return utc

    def time_value(self, utc: datetime) -> Any:
        """A time as a plain parameter value of raw SQL, compared the way this database stores times."""
        return utc

    def frame_column(self, name: str, column: Any) -> Any:
        """The column selected for a DataFrame (a backend may read some as raw text to parse in bulk)."""
        return column

    def read_frame(self, stmt: sa.Select[Any], conn: Connection) -> pd.DataFrame:
        """Run ``stmt`` into a DataFrame with ``time`` as UTC datetimes and ``attributes`` as dicts."""
        raise NotImplementedError

    def describe(self, conn: Connection) -> dict[str, Any]:
        """The server or library version and settings, for :meth:`TelemetryStore.describe`."""
        return {}

    def _after_fork(self) -> None:
        """Drop what a forked child inherited (without closing it: the parent still uses it)."""

    # -- setup ------------------------------------------------------------------------------------------------

    def ensure_schema(self) -> None:
        """Bring the schema to the head revision unless it is there (several processes may race here).

        One small query when the schema is current; otherwise the migrations run in one write transaction that
        holds the schema lock (see :mod:`workbench.telemetry.migrate`).
        """
        from workbench.telemetry.migrate import check_known, schema_state, upgrade_connection

        try:
            with self.reading() as conn:
                state = schema_state(conn)
            if state.current:
                return
            check_known(state)
            with self.writing() as conn:
                self.lock_schema(conn)
                upgrade_connection(conn)
        except sa.exc.DBAPIError as exc:
            self.dispose()
            raise self.error("cannot open", exc) from None
        except StoreError:
            self.dispose()
            raise

    # -- connections ------------------------------------------------------------------------------------------

    @property
    def lock(self) -> threading.RLock:
        """Held while the writer connection is in use."""
        return self._lock

    def _check_fork(self) -> None:
        if os.getpid() != self._pid:
            # A forked child must not use its parent's connections: drop them without closing them.
            self.engine.dispose(close=False)
            self._writer = None
            self._lock = threading.RLock()
            self._pid = os.getpid()
            self._after_fork()

    def _writer_connection(self) -> Connection:
        if self._writer is None or self._writer.closed or self._writer.invalidated:
            if self._writer is not None:
                self._writer.close()
            self._writer = self._writer_engine().connect()
        return self._writer

    def reading(self) -> _Tx:
        """A connection for reads (pooled; the writer connection for an in-memory database)."""
        return _Tx(self, write=False)

    def writing(self) -> _Tx:
        """A write transaction committed on exit: on the process's writer connection, locked for this thread
        (:attr:`pinned_writer`), else on a pooled connection."""
        return _Tx(self, write=True)

    def error(self, action: str, exc: BaseException) -> StoreError:
        """A :class:`StoreError` for a failed operation, with the URL redacted and a fix."""
        detail = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        return StoreError(
            f"{action} the telemetry store {self.text}: {detail}", field="store_url", hint=self.hint(exc)
        )

    def dispose(self) -> None:
        """Close the writer connection and the pool."""
        with self.lock:
            if self._writer is not None and os.getpid() == self._pid:
                with contextlib.suppress(sa.exc.DBAPIError):
                    self._writer.close()
            self._writer = None
            self.engine.dispose()


class _Tx:
    """A transaction on a backend: the locked writer connection, or a pooled read connection."""

    def __init__(self, backend: StoreBackend, write: bool) -> None:
        self.backend, self.write = backend, write
        self.conn: Connection | None = None
        self.owned = False
        self.lock: threading.RLock | None = None

    def __enter__(self) -> Connection:
        b = self.backend
        b._check_fork()
        if self.write and not b.pinned_writer:
            self.conn = b.engine.connect()
            self.owned = True
            self.conn.begin()
        elif self.write or b.memory:
            self.lock = b.lock
            self.lock.acquire()
            try:
                self.conn = b._writer_connection()
                if self.conn.in_transaction():  # left over from a failed commit
                    self.conn.rollback()
                self.conn.begin()
            except BaseException:
                self.lock.release()
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
            if self.owned and not self.write:
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
            if self.owned and self.write:
                self.conn.close()  # back to the pool
            if self.lock is not None:
                self.lock.release()


def _quiet_rollback(conn: Connection) -> None:
    with contextlib.suppress(sa.exc.DBAPIError):  # the connection is gone; the pool replaces it
        conn.rollback()


def frame_or_empty(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame``, or for no rows an empty frame with every column (so that decoding finds them)."""
    if not frame.empty:
        return frame
    import pandas as pd

    return pd.DataFrame({c: pd.Series(dtype=object) for c in ("seq", *EVENT_FIELDS)})
