"""Schema migrations of the telemetry store (Alembic), and how a store brings its database up to date.

The revisions live in ``workbench/telemetry/migrations/versions`` (``0001``: the events table as every store had
it before migrations existed; ``0002``: the erasure audit log). The revision a database is at is kept in
:data:`~workbench.telemetry.schema.VERSION_TABLE`.

Opening a store (:func:`~workbench.telemetry.store.open_store`) checks the revision with one small query and
upgrades only when it is behind, inside one write transaction that also takes the backend's schema lock
(PostgreSQL: an advisory lock; SQLite: the write lock), so that many single-user servers starting at once run
each migration exactly once. An administrator may instead upgrade deliberately (``workbench telemetry migrate``,
or ``--sql`` to print the DDL for review) before rolling out a new Workbench version.

A database created before migrations existed (an ``events`` table, no version table) is stamped ``0001`` and
upgraded from there. A database at a revision this code does not know (written by a newer Workbench) is
refused with a clear error rather than touched.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from workbench.errors import StoreError
from workbench.telemetry.schema import BASELINE_REVISION, HEAD_REVISION, VERSION_TABLE

if TYPE_CHECKING:
    from alembic.config import Config
    from sqlalchemy.engine import Connection

#: The folder of ``env.py`` and ``versions/``.
MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


@dataclass(frozen=True)
class SchemaState:
    """Where a database's telemetry schema stands.

    Attributes:
        revision: The recorded revision (``None``: no version table).
        has_events: Whether the ``events`` table exists.
    """

    revision: str | None
    has_events: bool

    @property
    def effective(self) -> str | None:
        """The revision the schema is at: a pre-migration store counts as the baseline revision."""
        if self.revision is None and self.has_events:
            return BASELINE_REVISION
        return self.revision

    @property
    def current(self) -> bool:
        """Whether the schema is at the head revision."""
        return self.revision == HEAD_REVISION


def schema_state(conn: Connection) -> SchemaState:
    """The schema state of the database behind ``conn`` (two catalog lookups and one small query)."""
    inspector = sa.inspect(conn)
    revision = None
    if inspector.has_table(VERSION_TABLE):
        revision = conn.execute(sa.text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar()
    return SchemaState(revision=revision, has_events=inspector.has_table("events"))


@lru_cache(maxsize=1)
def known_revisions() -> tuple[str, ...]:
    """Every revision of the migration scripts, oldest first."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config())
    return tuple(reversed([rev.revision for rev in script.walk_revisions()]))


def alembic_config(url: str | None = None, *, connection: Connection | None = None, output: Any = None) -> Config:
    """An Alembic configuration for the telemetry migrations (no ``alembic.ini`` needed).

    Args:
        url: The database URL (for offline ``--sql`` output or the ``alembic`` command's own connection).
        connection: An open connection to migrate inside its transaction.
        output: Where offline mode writes its SQL.
    """
    from alembic.config import Config

    cfg = Config(output_buffer=output) if output is not None else Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url is not None:
        # ConfigParser interpolates '%': a percent-encoded password must be escaped.
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def upgrade_connection(conn: Connection, target: str = "head") -> SchemaState:
    """Upgrade the database behind ``conn`` to ``target`` inside the connection's transaction.

    A pre-migration store is stamped :data:`~workbench.telemetry.schema.BASELINE_REVISION` first.

    Returns:
        The state before the upgrade.

    Raises:
        StoreError: The database is at a revision this code does not know.
    """
    from alembic import command

    before = schema_state(conn)
    check_known(before)
    cfg = alembic_config(connection=conn)
    if before.revision is None and before.has_events:
        command.stamp(cfg, BASELINE_REVISION)
    command.upgrade(cfg, target)
    return before


def downgrade_connection(conn: Connection, target: str) -> None:
    """Downgrade the database behind ``conn`` to ``target`` (tests and a rollback of a release)."""
    from alembic import command

    command.downgrade(alembic_config(connection=conn), target)


def check_known(state: SchemaState) -> None:
    """Refuse a database written by a newer Workbench (a revision the scripts here do not know)."""
    if state.revision is not None and state.revision not in known_revisions():
        raise StoreError(
            f"the telemetry store's schema is at revision {state.revision}, which this Workbench does not know "
            f"(its newest is {HEAD_REVISION})",
            field="store_url",
            hint="a newer Workbench upgraded this database: upgrade Workbench here too (pip install -U workbench)",
        )


def migration_sql(url: str, target: str = "head", *, start: str | None = None) -> str:
    """The DDL that upgrades a database of ``url``'s dialect from ``start`` (default: empty) to ``target``.

    Offline: nothing connects to the database. For a DBA who applies schema changes by hand.
    """
    from alembic import command

    buffer = io.StringIO()
    cfg = alembic_config(url, output=buffer)
    command.upgrade(cfg, f"{start}:{target}" if start else target, sql=True)
    return buffer.getvalue()
