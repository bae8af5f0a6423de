"""LTI grade passback: the links an LMS launched learners from, and what was last sent to each.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04

``lti_links`` (:mod:`workbench.playbooks.lti_ags`) holds, per learner and LMS line item, the launch's Assignment and
Grade Services claim (line item URL, scopes), the platform's issuer, client id and deployment, the learner's
pseudonym and the platform's opaque ``sub`` (the score's ``userId``), plus the last score sent, when, and the last
error. No name or e-mail address.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "lti_links",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("learner", sa.String(64), nullable=False),
        sa.Column("sub", sa.String(255), nullable=False),
        sa.Column("playbook", sa.String(200), nullable=False),
        sa.Column("issuer", sa.String(500), nullable=False),
        sa.Column("client_id", sa.String(255), nullable=False),
        sa.Column("deployment_id", sa.String(255), nullable=False),
        sa.Column("lineitem", sa.Text(), nullable=False),
        sa.Column("scopes", sa.Text(), nullable=False),
        sa.Column("launched_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent", sa.Text()),
        sa.Column("sent_at", sa.DateTime(timezone=True)),
        sa.Column("error", sa.Text()),
        sa.Column("attempted_at", sa.DateTime(timezone=True)),
    )
    op.create_index("ix_lti_links_learner", "lti_links", ["learner"])


def downgrade() -> None:
    op.drop_index("ix_lti_links_learner", table_name="lti_links")
    op.drop_table("lti_links")
