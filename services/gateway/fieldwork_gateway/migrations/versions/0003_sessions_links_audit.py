"""accounts and access: versioned users with a locale (a password only once
chosen), sessions with rotating refresh tokens, one-time links
(invitations, password resets), login throttling, the security audit log

Revision ID: 0003
Revises: 0002
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB, UUID

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade():
    op.alter_column("users", "password_hash", nullable=True)  # invited, no password yet
    op.add_column("users", sa.Column("locale", sa.Text, nullable=False, server_default="fr"))
    op.add_column("users", sa.Column("version", sa.Integer, nullable=False, server_default="1"))
    op.add_column("users", sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False,
                                     server_default=sa.func.now()))
    op.add_column("users", sa.Column("password_changed_at", sa.DateTime(timezone=True)))
    op.execute("UPDATE users SET password_changed_at = created_at")
    op.create_index("users_company", "users", ["company_id", "created_at"])

    op.create_table(
        "sessions",
        sa.Column("id", UUID(as_uuid=False), primary_key=True),
        sa.Column("user_id", UUID(as_uuid=False), sa.ForeignKey("users.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("refreshed_at", sa.DateTime(timezone=True)),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True)),
        sa.Column("revoked_reason", sa.Text),
        sa.Column("address", sa.Text),
        sa.Column("user_agent", sa.Text),
    )
    op.create_index("sessions_user_open", "sessions", ["user_id"],
                    postgresql_where=sa.text("revoked_at IS NULL"))
    op.create_table(
        "refresh_tokens",
        sa.Column("token_hash", sa.Text, primary_key=True),
        sa.Column("session_id", UUID(as_uuid=False), sa.ForeignKey("sessions.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True)),
    )
    op.create_index("refresh_tokens_session", "refresh_tokens", ["session_id"])

    op.create_table(
        "account_links",
        sa.Column("id", UUID(as_uuid=False), primary_key=True),
        sa.Column("token_hash", sa.Text, nullable=False, unique=True),
        sa.Column("user_id", UUID(as_uuid=False), sa.ForeignKey("users.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("purpose", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("created_by", UUID(as_uuid=False)),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True)),
        sa.Column("revoked_at", sa.DateTime(timezone=True)),
        sa.CheckConstraint("purpose IN ('invitation', 'password_reset')", name="account_links_purpose"),
    )
    op.create_index("account_links_user", "account_links", ["user_id", "purpose", "created_at"])

    op.create_table(
        "login_throttle",
        sa.Column("key", sa.Text, primary_key=True),
        sa.Column("failures", sa.Integer, nullable=False),
        sa.Column("last_failure_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True)),
    )

    op.create_table(
        "audit_events",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("user_id", UUID(as_uuid=False)),
        sa.Column("email", sa.Text),
        sa.Column("company_id", UUID(as_uuid=False)),
        sa.Column("actor_id", UUID(as_uuid=False)),
        sa.Column("address", sa.Text),
        sa.Column("details", JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
    )
    op.create_index("audit_events_company", "audit_events", ["company_id", "id"])
    op.create_index("audit_events_user", "audit_events", ["user_id", "id"])


def downgrade():
    for table in ("audit_events", "login_throttle", "account_links", "refresh_tokens", "sessions"):
        op.drop_table(table)
    op.drop_index("users_company", "users")
    for column in ("password_changed_at", "updated_at", "version", "locale"):
        op.drop_column("users", column)
