"""The events table: the schema of every store created before migrations existed.

Revision ID: 0001
Revises:
Create Date: 2026-12-03

Stores created by earlier Workbench versions have exactly this schema and no version table; opening one stamps
it as 0001 before upgrading (see :mod:`workbench.telemetry.migrate`).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

MESSAGE = "telemetry events are append-only"

SQLITE_TRIGGERS = (
    "CREATE TRIGGER IF NOT EXISTS events_append_only_update BEFORE UPDATE ON events "
    f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END",
    "CREATE TRIGGER IF NOT EXISTS events_append_only_delete BEFORE DELETE ON events "
    f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END",
)
POSTGRES_TRIGGERS = (
    "CREATE OR REPLACE FUNCTION workbench_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
    f"BEGIN RAISE EXCEPTION '{MESSAGE}'; END $$",
    "CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON events "
    "FOR EACH ROW EXECUTE FUNCTION workbench_events_append_only()",
    "CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON events "
    "FOR EACH STATEMENT EXECUTE FUNCTION workbench_events_append_only()",
)


def upgrade() -> None:
    op.create_table(
        "events",
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
    )
    op.create_index("ux_events_id", "events", ["id"], unique=True)
    for name, columns in (
        ("ix_events_learner", ["learner"]),
        ("ix_events_team", ["team"]),
        ("ix_events_kind", ["kind"]),
        ("ix_events_time", ["time"]),
        ("ix_events_playbook_task", ["playbook", "task"]),
        ("ix_events_run_id", ["run_id"]),
    ):
        op.create_index(name, "events", columns)
    postgres = op.get_context().dialect.name == "postgresql"
    for statement in POSTGRES_TRIGGERS if postgres else SQLITE_TRIGGERS:
        op.execute(statement)


def downgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        op.execute("DROP TABLE events")
        op.execute("DROP FUNCTION workbench_events_append_only()")
    else:
        op.execute("DROP TABLE events")
