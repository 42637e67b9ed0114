"""requests: the client's and company's contacts the events carry, and the
settings of a company (how long a closed request may be reopened)

Revision ID: 0005_request_events
Revises: 0004_requests
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB, UUID

revision = "0005_request_events"
down_revision = "0004_requests"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("requests", sa.Column("contacts", JSONB, nullable=False,
                                        server_default=sa.text("'{}'::jsonb")))
    op.create_table(
        "request_settings",
        sa.Column("company_id", UUID(as_uuid=False), primary_key=True),
        sa.Column("reopen_days", sa.Integer, nullable=False),
        sa.Column("version", sa.Integer, nullable=False, server_default="1"),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False,
                  server_default=sa.func.now()),
        sa.Column("updated_by", sa.Text),
        sa.CheckConstraint("reopen_days BETWEEN 0 AND 3650", name="request_settings_reopen_days"),
    )


def downgrade():
    op.drop_table("request_settings")
    op.drop_column("requests", "contacts")
