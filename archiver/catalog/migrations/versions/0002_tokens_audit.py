"""API tokens and the audit trail: the catalog's own tables, never rebuilt from the log.

The audit trail is append-only in the database as well as in the code: triggers refuse
UPDATE and DELETE on `audit_events` (and TRUNCATE on PostgreSQL), so neither a bug nor
the application's own database role can rewrite history. The table owner can still drop
the triggers; docs/deploy.md says to run the service as a role that does not own it.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_REFUSAL = "audit_events is append-only"


def upgrade() -> None:
    op.create_table(
        "tokens",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("roles", sa.String(256), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("revoked_at", sa.String(32)),
    )
    op.create_table(
        "audit_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True,
                  autoincrement=True),
        sa.Column("time", sa.String(32), nullable=False),
        sa.Column("actor_id", sa.String(32)),
        sa.Column("actor_name", sa.String(128)),
        sa.Column("method", sa.String(16), nullable=False),
        sa.Column("path", sa.String(2048), nullable=False),
        sa.Column("action", sa.String(64)),
        sa.Column("resource", sa.Text),
        sa.Column("remote_addr", sa.String(64)),
        sa.Column("status", sa.Integer, nullable=False),
    )
    op.create_index("ix_audit_events_time", "audit_events", ["time"])
    op.create_index("ix_audit_events_actor", "audit_events", ["actor_id", "id"])
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute(f"""
            CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION '{_REFUSAL}';
            END $$""")
        op.execute("CREATE TRIGGER audit_events_no_change BEFORE UPDATE OR DELETE ON audit_events"
                   " FOR EACH ROW EXECUTE FUNCTION audit_events_append_only()")
        op.execute("CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events"
                   " FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only()")
    elif dialect == "sqlite":
        for verb in ("UPDATE", "DELETE"):
            op.execute(f"CREATE TRIGGER audit_events_no_{verb.lower()} BEFORE {verb} ON "
                       f"audit_events BEGIN SELECT RAISE(ABORT, '{_REFUSAL}'); END")


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_events_no_truncate ON audit_events")
        op.execute("DROP TRIGGER IF EXISTS audit_events_no_change ON audit_events")
        op.execute("DROP FUNCTION IF EXISTS audit_events_append_only()")
    elif dialect == "sqlite":
        for verb in ("update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS audit_events_no_{verb}")
    op.drop_index("ix_audit_events_actor", "audit_events")
    op.drop_index("ix_audit_events_time", "audit_events")
    op.drop_table("audit_events")
    op.drop_table("tokens")
