"""Audited erasure: the erasures audit log and the gate that lets one learner's events be deleted.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-03

Events stay append-only: UPDATE and TRUNCATE are still refused, and so is a DELETE, unless the same
transaction has listed the learner in ``erasure_pending``, which in turn needs an ``erasures`` audit row for
that learner first. :func:`workbench.telemetry.erasure.erase_learner` does the three steps in one transaction
and removes the gate before committing, so the audit row and the deletion commit together or not at all. The
audit log refuses UPDATE and DELETE itself.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

EVENTS = "telemetry events are append-only"
AUDIT = "the erasure audit log is append-only"
UNAUDITED = "an erasure needs its audit record in erasures first"

SQLITE_UP = (
    "DROP TRIGGER IF EXISTS events_append_only_delete",
    "CREATE TRIGGER events_append_only_delete BEFORE DELETE ON events "
    "WHEN NOT EXISTS (SELECT 1 FROM erasure_pending p WHERE p.learner = OLD.learner) "
    f"BEGIN SELECT RAISE(ABORT, '{EVENTS}'); END",
    f"CREATE TRIGGER erasures_append_only_update BEFORE UPDATE ON erasures BEGIN SELECT RAISE(ABORT, '{AUDIT}'); END",
    f"CREATE TRIGGER erasures_append_only_delete BEFORE DELETE ON erasures BEGIN SELECT RAISE(ABORT, '{AUDIT}'); END",
    "CREATE TRIGGER erasure_pending_audited BEFORE INSERT ON erasure_pending "
    "WHEN NOT EXISTS (SELECT 1 FROM erasures e WHERE e.id = NEW.erasure_id AND e.learner = NEW.learner) "
    f"BEGIN SELECT RAISE(ABORT, '{UNAUDITED}'); END",
)
SQLITE_DOWN = (
    "DROP TRIGGER IF EXISTS events_append_only_delete",
    "CREATE TRIGGER events_append_only_delete BEFORE DELETE ON events "
    f"BEGIN SELECT RAISE(ABORT, '{EVENTS}'); END",
)
POSTGRES_UP = (
    # One function for the row triggers (UPDATE, DELETE) and the statement trigger (TRUNCATE) of events.
    "CREATE OR REPLACE FUNCTION workbench_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
    "IF TG_OP = 'DELETE' AND EXISTS (SELECT 1 FROM erasure_pending p WHERE p.learner = OLD.learner) THEN "
    "RETURN OLD; END IF; "
    f"RAISE EXCEPTION '{EVENTS}'; END $$",
    "CREATE FUNCTION workbench_erasures_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
    f"BEGIN RAISE EXCEPTION '{AUDIT}'; END $$",
    "CREATE TRIGGER erasures_append_only BEFORE UPDATE OR DELETE ON erasures "
    "FOR EACH ROW EXECUTE FUNCTION workbench_erasures_append_only()",
    "CREATE TRIGGER erasures_no_truncate BEFORE TRUNCATE ON erasures "
    "FOR EACH STATEMENT EXECUTE FUNCTION workbench_erasures_append_only()",
    "CREATE FUNCTION workbench_erasure_audited() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
    "IF NOT EXISTS (SELECT 1 FROM erasures e WHERE e.id = NEW.erasure_id AND e.learner = NEW.learner) THEN "
    f"RAISE EXCEPTION '{UNAUDITED}'; END IF; RETURN NEW; END $$",
    "CREATE TRIGGER erasure_pending_audited BEFORE INSERT ON erasure_pending "
    "FOR EACH ROW EXECUTE FUNCTION workbench_erasure_audited()",
)
POSTGRES_DOWN = (
    "CREATE OR REPLACE FUNCTION workbench_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
    f"BEGIN RAISE EXCEPTION '{EVENTS}'; END $$",
)


def upgrade() -> None:
    op.create_table(
        "erasures",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("learner", sa.String(64), nullable=False),
        sa.Column("requested_by", sa.String(200), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("events", sa.Integer(), nullable=False),
    )
    op.create_index("ix_erasures_learner", "erasures", ["learner"])
    op.create_table(
        "erasure_pending",
        sa.Column("erasure_id", sa.String(36), primary_key=True),
        sa.Column("learner", sa.String(64), nullable=False),
    )
    op.create_index("ix_erasure_pending_learner", "erasure_pending", ["learner"])
    postgres = op.get_context().dialect.name == "postgresql"
    for statement in POSTGRES_UP if postgres else SQLITE_UP:
        op.execute(statement)


def downgrade() -> None:
    postgres = op.get_context().dialect.name == "postgresql"
    for statement in POSTGRES_DOWN if postgres else SQLITE_DOWN:
        op.execute(statement)
    op.drop_table("erasure_pending")
    op.drop_table("erasures")
    if postgres:
        op.execute("DROP FUNCTION workbench_erasure_audited()")
        op.execute("DROP FUNCTION workbench_erasures_append_only()")
