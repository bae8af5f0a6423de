"""The xAPI outbox marker: which events a learning record store has acknowledged.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03

``xapi_sent`` holds the ids of events whose statements an LRS accepted (:mod:`workbench.telemetry.xapi`); the
events not listed there are the queue. It holds ids and times only, nothing about a learner.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "xapi_sent",
        sa.Column("event_id", sa.String(36), primary_key=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("xapi_sent")
