"""The PostgreSQL telemetry backend (``postgresql+psycopg://user:pass@host/db``).

``attributes`` is JSONB, batches are written with ``COPY``, and a trigger refuses ``UPDATE``, ``DELETE`` and
``TRUNCATE`` on ``events``. Schema creation is serialised between processes with an advisory lock.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from workbench.telemetry.backend import StoreBackend, frame_or_empty
from workbench.telemetry.events import EVENT_FIELDS, Event
from workbench.telemetry.schema import APPEND_ONLY_MESSAGE, dumps, event_values, metadata

if TYPE_CHECKING:
    import pandas as pd

#: Seconds to wait for a PostgreSQL server to accept a connection.
CONNECT_TIMEOUT_S = 5

_TRIGGERS = (
    "CREATE OR REPLACE FUNCTION workbench_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
    f"BEGIN RAISE EXCEPTION '{APPEND_ONLY_MESSAGE}'; END $$",
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
# Serialises schema creation between processes (pg_advisory_xact_lock key: "wbevents").
_SCHEMA_LOCK = 0x7762_6576_656E_7473 & 0x7FFF_FFFF_FFFF_FFFF


class PostgresBackend(StoreBackend):
    """A PostgreSQL database and this process's writer connection to it."""

    dialect = "postgresql"

    def _prepare(self) -> Engine:
        return sa.create_engine(
            self.url,
            pool_pre_ping=True,
            pool_size=2,
            max_overflow=4,
            connect_args={"connect_timeout": CONNECT_TIMEOUT_S, "application_name": "workbench-telemetry"},
            json_serializer=dumps,
        )

    def _create_schema(self, conn: Connection) -> None:
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _SCHEMA_LOCK})
        metadata.create_all(conn, checkfirst=True)
        for statement in _TRIGGERS:
            conn.exec_driver_sql(statement)

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
