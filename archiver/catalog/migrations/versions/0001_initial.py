"""Initial catalog: records, segments, data keys, items, tree hashes, checkpoints, meta.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# SQLite's rowid (INTEGER PRIMARY KEY) for the sequence-like keys; BIGINT elsewhere.
SEQ_KEY = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "records",
        sa.Column("seq", SEQ_KEY, primary_key=True, autoincrement=False),
        sa.Column("time", sa.String(32), nullable=False),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("kid", sa.String(64), nullable=False),
        sa.Column("record_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("segment_first", sa.BigInteger, nullable=False),
        sa.Column("platform", sa.String(64)),
        sa.Column("account", sa.String(512)),
        sa.Column("item_id", sa.String(512)),
        sa.Column("kind", sa.String(64)),
        sa.Column("event", sa.String(32)),
        sa.Column("action", sa.String(64)),
        sa.Column("destroyed_at", sa.String(32)),
    )
    op.create_index("ix_records_item", "records", ["platform", "item_id", "seq"])
    op.create_table(
        "segments",
        sa.Column("first", SEQ_KEY, primary_key=True, autoincrement=False),
        sa.Column("last", sa.BigInteger, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("bytes", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "data_keys",
        sa.Column("kid", sa.String(64), primary_key=True),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("segment_first", sa.BigInteger, nullable=False),
        sa.Column("kek", sa.String(128), nullable=False),
        sa.Column("wrapped", sa.Text, nullable=False),
    )
    op.create_index("ix_data_keys_seq", "data_keys", ["seq"])
    op.create_table(
        "items",
        sa.Column("platform", sa.String(64), primary_key=True),
        sa.Column("item_id", sa.String(512), primary_key=True),
        sa.Column("account", sa.String(512), nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("parent_id", sa.String(512)),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("fingerprint", sa.String(64)),
        sa.Column("first_seq", sa.BigInteger, nullable=False),
        sa.Column("latest_seq", sa.BigInteger, nullable=False),
        sa.Column("versions", sa.Integer, nullable=False),
        sa.Column("first_seen", sa.String(32), nullable=False),
        sa.Column("observed_at", sa.String(32), nullable=False),
        sa.Column("last_seen", sa.String(32), nullable=False),
    )
    op.create_index("ix_items_account", "items", ["platform", "account"])
    op.create_index("ix_items_parent", "items", ["platform", "parent_id"])
    op.create_table(
        "tree_hashes",
        sa.Column("idx", SEQ_KEY, primary_key=True, autoincrement=False),
        sa.Column("hash", sa.LargeBinary(32), nullable=False),
    )
    op.create_table(
        "checkpoints",
        sa.Column("size", SEQ_KEY, primary_key=True, autoincrement=False),
        sa.Column("root", sa.LargeBinary(32), nullable=False),
        sa.Column("note", sa.LargeBinary, nullable=False),
    )
    op.create_table(
        "meta",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )


def downgrade() -> None:
    for name in ("meta", "checkpoints", "tree_hashes", "items", "data_keys", "segments",
                 "records"):
        op.drop_table(name)
