"""collectors: accounts, cursors, collection runs, media (filled in by the collectors work)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
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
