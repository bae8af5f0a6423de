"""The PostgreSQL telemetry backend (``postgresql+psycopg://user:pass@host/db``).

``attributes`` is JSONB, batches are written with ``COPY``, and a trigger refuses ``UPDATE``, ``DELETE`` and
``TRUNCATE`` on ``events`` (a DELETE goes through only inside an audited erasure, see
:mod:`workbench.telemetry.maintenance`). Schema migrations are serialised between processes with an advisory
lock. Connections are pooled per process and sized from settings (:func:`pool_options`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from workbench.telemetry.backend import StoreBackend, frame_or_empty
from workbench.telemetry.events import EVENT_FIELDS, Event
from workbench.telemetry.schema import dumps, event_values

if TYPE_CHECKING:
    import pandas as pd

#: Seconds to wait for a PostgreSQL server to accept a connection.
CONNECT_TIMEOUT_S = 5
#: ``application_name`` of Workbench's connections (``pg_stat_activity`` shows it).
APPLICATION_NAME = "workbench-telemetry"

# Serialises schema migrations between processes (pg_advisory_xact_lock key: "wbevents").
_SCHEMA_LOCK = 0x7762_6576_656E_7473 & 0x7FFF_FFFF_FFFF_FFFF


def pool_options() -> dict[str, Any]:
    """The engine's pool and connection options, from settings (see "Sizing the pool" in the README).

    Each process (a single-user server, each of its kernels, a batch worker) keeps at most ``store_pool_size``
    idle connections and opens ``store_max_overflow`` more at a peak. Writes take a pooled connection per
    transaction (no connection is pinned), and the server closes connections idle longer than
    ``store_idle_timeout_s``, so idle kernels hold none; ``pool_pre_ping`` replaces a closed one on checkout.
    """
    from workbench.settings import get_settings

    settings = get_settings()
    connect_args: dict[str, Any] = {"connect_timeout": CONNECT_TIMEOUT_S, "application_name": APPLICATION_NAME}
    if settings.store_idle_timeout_s > 0:
        connect_args["options"] = f"-c idle_session_timeout={int(settings.store_idle_timeout_s * 1000)}"
    return {
        "pool_pre_ping": True,
        "pool_size": settings.store_pool_size,
        "max_overflow": settings.store_max_overflow,
        "pool_timeout": 30,
        "connect_args": connect_args,
    }


class PostgresBackend(StoreBackend):
    """A PostgreSQL database and this process's writer connection to it."""

    dialect = "postgresql"
    pinned_writer = False

    def _prepare(self) -> Engine:
        return sa.create_engine(self.url, json_serializer=dumps, **pool_options())

    def libpq_uri(self) -> str:
        """This database as a libpq connection URI (password included), for a driver outside SQLAlchemy's pool:
        the skills report reads its bulk rows as Arrow through ADBC (:mod:`workbench.skills.sql_report`)."""
        url = self.url.set(drivername="postgresql").update_query_dict(
            {"connect_timeout": str(CONNECT_TIMEOUT_S), "application_name": APPLICATION_NAME})
        return url.render_as_string(hide_password=False)

    def lock_schema(self, conn: Connection) -> None:
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _SCHEMA_LOCK})

    def write_batch(self, conn: Connection, batch: list[Event]) -> None:
        """Write a batch with COPY on the transaction of ``conn``."""
        dbapi = conn.connection.dbapi_connection
        assert dbapi is not None
        statement = f"COPY events ({', '.join(EVENT_FIELDS)}) FROM STDIN"
        with dbapi.cursor() as cursor, cursor.copy(statement) as copy:  # type: ignore[attr-defined]
            for e in batch:
                copy.write_row(event_values(e, e.time))

    def hint(self, exc: BaseException) -> str:
        return (
            "check that the PostgreSQL server is running and reachable, and the user, password and database "
            "in WORKBENCH_STORE_URL; unset it to use the local SQLite store"
        )

    def read_frame(self, stmt: sa.Select[Any], conn: Connection) -> pd.DataFrame:
        import pandas as pd

        frame = frame_or_empty(pd.read_sql(stmt, conn))
        frame["time"] = pd.to_datetime(frame["time"], utc=True)
        frame["attributes"] = [a if a is not None else {} for a in frame["attributes"].tolist()]
        return frame

    def describe(self, conn: Connection) -> dict[str, Any]:
        return {"server_version": conn.exec_driver_sql("SHOW server_version").scalar()}
