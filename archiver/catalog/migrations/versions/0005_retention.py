"""retention: policies (with versions), legal holds (append-only history), disposition runs
with per-record outcomes, tombstones of destroyed records, retention facts, account tags
and events, and the objects under an S3 legal hold.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "retention_policies",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("name", sa.String(2000), nullable=False),
        sa.Column("schedule_code", sa.String(2000), nullable=False),
        sa.Column("authority", sa.String(2000), nullable=False),
        sa.Column("doc", sa.Text, nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("created_by", sa.String(256), nullable=False),
        sa.Column("updated_at", sa.String(32), nullable=False),
        sa.Column("retired_at", sa.String(32)),
    )
    op.create_table(
        "retention_policy_versions",
        sa.Column("policy_id", sa.String(40), primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("change", sa.String(16), nullable=False),
        sa.Column("doc", sa.Text, nullable=False),
        sa.Column("time", sa.String(32), nullable=False),
        sa.Column("actor", sa.String(256), nullable=False),
        sa.Column("log_seq", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "legal_holds",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("matter_name", sa.String(2000), nullable=False),
        sa.Column("matter_number", sa.String(2000), nullable=False),
        sa.Column("doc", sa.Text, nullable=False),
        sa.Column("placed_at", sa.String(32), nullable=False),
        sa.Column("placed_by", sa.String(256), nullable=False),
        sa.Column("released_at", sa.String(32)),
        sa.Column("released_by", sa.String(256)),
    )
    op.create_table(
        "legal_hold_events",
        sa.Column("hold_id", sa.String(40), primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("change", sa.String(16), nullable=False),
        sa.Column("doc", sa.Text, nullable=False),
        sa.Column("time", sa.String(32), nullable=False),
        sa.Column("actor", sa.String(256), nullable=False),
        sa.Column("log_seq", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "disposition_runs",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("as_of", sa.String(32), nullable=False),
        sa.Column("tombstone", sa.String(16), nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("created_by", sa.String(256), nullable=False),
        sa.Column("creator_id", sa.String(256), nullable=False),
        sa.Column("approved_at", sa.String(32)),
        sa.Column("approved_by", sa.String(256)),
        sa.Column("approver_id", sa.String(256)),
        sa.Column("executed_at", sa.String(32)),
        sa.Column("executed_by", sa.String(256)),
        sa.Column("finished_at", sa.String(32)),
        sa.Column("cancelled_at", sa.String(32)),
        sa.Column("cancelled_by", sa.String(256)),
        sa.Column("preview", sa.Text, nullable=False),
        sa.Column("certificate", sa.Text),
    )
    op.create_table(
        "disposition_items",
        sa.Column("run_id", sa.String(40), primary_key=True),
        sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("policy_id", sa.String(40), nullable=False),
        sa.Column("policy_version", sa.Integer, nullable=False),
        sa.Column("outcome", sa.String(24), nullable=False),
        sa.Column("decision", sa.String(16)),
        sa.Column("hold_ids", sa.Text),
        sa.Column("done_at", sa.String(32)),
    )
    op.create_index("ix_disposition_items_outcome", "disposition_items", ["run_id", "outcome"])
    op.create_table(
        "destroyed_records",
        sa.Column("seq", _SEQ, primary_key=True, autoincrement=False),
        sa.Column("run_id", sa.String(40), nullable=False),
        sa.Column("destroyed_at", sa.String(32), nullable=False),
        sa.Column("record_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("tombstone", sa.String(16), nullable=False),
        sa.Column("platform", sa.String(64)),
        sa.Column("account", sa.String(512)),
        sa.Column("item_id", sa.String(512)),
        sa.Column("kind", sa.String(64)),
        sa.Column("event", sa.String(32)),
        sa.Column("captured_at", sa.String(32)),
        sa.Column("published_at", sa.String(32)),
        sa.Column("policy_id", sa.String(40), nullable=False),
        sa.Column("schedule_code", sa.String(2000), nullable=False),
        sa.Column("authority", sa.String(2000), nullable=False),
        sa.Column("log_seq", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "retention_facts",
        sa.Column("seq", _SEQ, primary_key=True, autoincrement=False),
        sa.Column("published_at", sa.String(32)),
    )
    op.create_table(
        "retention_media_refs",
        sa.Column("media_id", sa.String(64), primary_key=True),
        sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
    )
    op.create_index("ix_retention_media_refs_seq", "retention_media_refs", ["seq"])
    op.create_table(
        "retention_accounts",
        sa.Column("platform", sa.String(64), primary_key=True),
        sa.Column("account", sa.String(512), primary_key=True),
        sa.Column("tags", sa.Text, nullable=False),
        sa.Column("events", sa.Text, nullable=False),
    )
    op.create_table(
        "object_legal_holds",
        sa.Column("key", sa.String(512), primary_key=True),
        sa.Column("since", sa.String(32), nullable=False),
    )


def downgrade() -> None:
    for name in ("object_legal_holds", "retention_accounts", "retention_media_refs",
                 "retention_facts",
                 "destroyed_records", "disposition_items", "disposition_runs",
                 "legal_hold_events", "legal_holds", "retention_policy_versions",
                 "retention_policies"):
        op.drop_table(name)
