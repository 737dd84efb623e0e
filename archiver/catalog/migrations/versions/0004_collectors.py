"""collectors: accounts, cursors, collection runs, alerts, items' publication times.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_AUTO_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("platform", sa.String(64), nullable=False),
        sa.Column("platform_id", sa.String(512), nullable=False),
        sa.Column("handle", sa.String(512), nullable=False),
        sa.Column("base_url", sa.String(2048), nullable=False),
        sa.Column("department", sa.String(256)),
        sa.Column("tags", sa.Text, nullable=False),
        sa.Column("interval_seconds", sa.Integer, nullable=False),
        sa.Column("options", sa.Text, nullable=False),
        sa.Column("credential_names", sa.Text, nullable=False),
        sa.Column("credentials_kek", sa.String(128)),
        sa.Column("credentials_key", sa.Text),
        sa.Column("credentials_ct", sa.Text),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("paused_reason", sa.Text),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("updated_at", sa.String(32), nullable=False),
        sa.Column("removed_at", sa.String(32)),
    )
    op.create_index("ix_accounts_platform", "accounts", ["platform", "platform_id"])
    op.create_table(
        "collector_cursors",
        sa.Column("account_id", sa.String(32), primary_key=True),
        sa.Column("cursor", sa.Text, nullable=False),
        sa.Column("run_seq", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.String(32), nullable=False),
    )
    op.create_table(
        "collection_runs",
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                  primary_key=True, autoincrement=False),
        sa.Column("account_id", sa.String(32), nullable=False),
        sa.Column("platform", sa.String(64), nullable=False),
        sa.Column("started_at", sa.String(32), nullable=False),
        sa.Column("finished_at", sa.String(32), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("window_start", sa.String(32)),
        sa.Column("window_end", sa.String(32)),
        sa.Column("listed", sa.Integer, nullable=False),
        sa.Column("looked_up", sa.Integer, nullable=False),
        sa.Column("requests", sa.Integer, nullable=False),
        sa.Column("archived", sa.Integer, nullable=False),
        sa.Column("events", sa.Text, nullable=False),
        sa.Column("error", sa.Text),
        sa.Column("retry_at", sa.String(32)),
    )
    op.create_index("ix_collection_runs_account", "collection_runs", ["account_id", "seq"])
    op.create_table(
        "collector_alerts",
        sa.Column("id", _AUTO_ID, primary_key=True, autoincrement=True),
        sa.Column("account_id", sa.String(32), nullable=False),
        sa.Column("time", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("cleared_at", sa.String(32)),
    )
    op.create_index("ix_collector_alerts_account", "collector_alerts", ["account_id", "id"])
    op.create_table(
        "item_published",
        sa.Column("platform", sa.String(64), primary_key=True),
        sa.Column("item_id", sa.String(512), primary_key=True),
        sa.Column("published_at", sa.String(32)),
    )

    # -- media (issue 6, media storage): its own block, see schema.py `media` -------------
    op.create_table(
        "media",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("mime", sa.String(128), nullable=False),
        sa.Column("seq", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_media_fingerprint", "media", ["fingerprint"])


def downgrade() -> None:
    op.drop_table("media")  # media block
    for name in ("item_published", "collector_alerts", "collection_runs",
                 "collector_cursors", "accounts"):
        op.drop_table(name)
