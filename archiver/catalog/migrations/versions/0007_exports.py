"""exports: evidence export jobs (archiver/exports/jobs.py): who asked, the scope, progress,
the package's path, SHA-256 and size, when its download expires.

Revision ID: 0007
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "exports",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("requested_by", sa.String(256), nullable=False),
        sa.Column("requested_at", sa.String(32), nullable=False),
        sa.Column("scope", sa.Text, nullable=False),
        sa.Column("options", sa.Text, nullable=False),
        sa.Column("download_hours", sa.Integer, nullable=False),
        sa.Column("done", sa.BigInteger, nullable=False),
        sa.Column("total", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.String(32), nullable=False),
        sa.Column("finished_at", sa.String(32)),
        sa.Column("expires_at", sa.String(32)),
        sa.Column("path", sa.Text),
        sa.Column("sha256", sa.String(64)),
        sa.Column("bytes", sa.BigInteger),
        sa.Column("summary", sa.Text),
        sa.Column("error", sa.Text),
        sa.Column("created_seq", sa.BigInteger, nullable=False),
        sa.Column("completed_seq", sa.BigInteger),
        sa.Column("downloads", sa.Integer, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("exports")
