"""The PostgreSQL search engine's index: search documents with a `tsvector`, and its state.

Created on PostgreSQL only: the engine (`[search] engine = "postgres"`) needs a PostgreSQL
catalog, and on SQLite this revision changes nothing.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import TSVECTOR

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.create_table(
        "search_documents",
        sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("platform", sa.Text, nullable=False),
        sa.Column("account", sa.Text, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("event", sa.Text, nullable=False),
        sa.Column("item_id", sa.Text, nullable=False),
        sa.Column("item_key", sa.Text, nullable=False),
        sa.Column("parent_id", sa.Text),
        sa.Column("author_id", sa.Text),
        sa.Column("author_handle", sa.Text),
        sa.Column("author_name", sa.Text),
        sa.Column("lang", sa.Text),
        sa.Column("url", sa.Text),
        sa.Column("published", sa.BigInteger),
        sa.Column("published_at", sa.String(32)),
        sa.Column("published_day", sa.String(10)),
        sa.Column("captured", sa.BigInteger, nullable=False),
        sa.Column("captured_at", sa.String(32), nullable=False),
        sa.Column("captured_day", sa.String(10), nullable=False),
        sa.Column("time", sa.BigInteger, nullable=False),
        sa.Column("hashtags", sa.Text),
        sa.Column("mentions", sa.Text),
        sa.Column("urls", sa.Text),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("tokens", TSVECTOR, nullable=False),
    )
    op.create_index("ix_search_documents_tokens", "search_documents", ["tokens"],
                    postgresql_using="gin")
    op.create_index("ix_search_documents_time", "search_documents", ["time", "seq"])
    op.create_index("ix_search_documents_published", "search_documents", ["published", "seq"])
    op.create_index("ix_search_documents_captured", "search_documents", ["captured", "seq"])
    op.create_index("ix_search_documents_account", "search_documents",
                    ["account", "time", "seq"])
    op.create_index("ix_search_documents_item", "search_documents", ["item_key"])
    op.create_index("ix_search_documents_author", "search_documents", ["author_id"])
    op.create_table(
        "search_state",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("value", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.drop_table("search_state")
    op.drop_table("search_documents")  # its indexes go with it
