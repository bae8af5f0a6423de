"""Alembic's environment for the telemetry store.

Three ways in:

- Workbench hands over an open connection in ``config.attributes["connection"]`` (a store opening itself, or
  :func:`workbench.telemetry.migrate.upgrade_store`): the migrations run inside that connection's transaction,
  so a failed revision leaves nothing half-done (PostgreSQL and SQLite both have transactional DDL).
- ``--sql`` (offline mode, :func:`~workbench.telemetry.migrate.migration_sql`): the DDL is printed for a
  database administrator to review and apply.
- The ``alembic`` command with ``sqlalchemy.url`` set: a connection of its own.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context

from workbench.telemetry.schema import VERSION_TABLE, metadata

config = context.config


def _run(connection: sa.engine.Connection) -> None:
    context.configure(connection=connection, target_metadata=metadata, version_table=VERSION_TABLE)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=metadata,
        version_table=VERSION_TABLE,
        literal_binds=True,
    )
    with context.begin_transaction():
        context.run_migrations()
elif config.attributes.get("connection") is not None:
    _run(config.attributes["connection"])
else:
    engine = sa.create_engine(str(config.get_main_option("sqlalchemy.url")))
    try:
        with engine.begin() as conn:
            _run(conn)
    finally:
        engine.dispose()
