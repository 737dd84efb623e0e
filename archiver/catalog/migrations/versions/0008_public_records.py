"""public records: response sets and their redaction layer (archiver/redaction), alert
rules and the alerts they raised (archiver/alerts). The catalog's own tables: the archived
records never change; every change to these is also a `system` record in the log.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def _id() -> sa.Column:
    return sa.Column("id", sa.String(40), primary_key=True)


def upgrade() -> None:
    op.create_table(
        "response_sets",
        _id(),
        sa.Column("name", sa.String(2000), nullable=False),
        sa.Column("request_ref", sa.String(2000), nullable=False),
        sa.Column("scope", sa.Text, nullable=False),
        sa.Column("seqs", sa.Text, nullable=False),
        sa.Column("created_by", sa.String(256), nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("log_seq", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "redactions",
        _id(),
        sa.Column("response_id", sa.String(40), nullable=False),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("target", sa.String(16), nullable=False),
        sa.Column("spec", sa.Text, nullable=False),
        sa.Column("code", sa.String(64), nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("created_by", sa.String(256), nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("reviewed_by", sa.String(256)),
        sa.Column("reviewed_at", sa.String(32)),
        sa.Column("review_note", sa.Text),
        sa.Column("log_seq", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_redactions_response", "redactions", ["response_id", "seq"])
    op.create_table(
        "alert_rules",
        _id(),
        sa.Column("name", sa.String(2000), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("config", sa.Text, nullable=False),
        sa.Column("channels", sa.Text, nullable=False),
        sa.Column("muted", sa.Integer, nullable=False),
        sa.Column("created_by", sa.String(256), nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("updated_at", sa.String(32), nullable=False),
    )
    op.create_table(
        "alerts",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True,
                  autoincrement=True),
        sa.Column("rule_id", sa.String(40), nullable=False),
        sa.Column("time", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("details", sa.Text, nullable=False),
        sa.Column("deliveries", sa.Text, nullable=False),
    )
    op.create_index("ix_alerts_rule", "alerts", ["rule_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_alerts_rule", "alerts")
    op.drop_table("alerts")
    op.drop_table("alert_rules")
    op.drop_index("ix_redactions_response", "redactions")
    op.drop_table("redactions")
    op.drop_table("response_sets")
