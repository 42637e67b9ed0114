"""users

Revision ID: 0001
Revises:
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "users",
        sa.Column("id", UUID(as_uuid=False), primary_key=True),
        sa.Column("email", sa.Text, nullable=False),
        sa.Column("password_hash", sa.Text, nullable=False),
        sa.Column("role", sa.Text, nullable=False),
        sa.Column("company_id", UUID(as_uuid=False)),
        sa.Column("technician_id", UUID(as_uuid=False)),
        sa.Column("client_id", UUID(as_uuid=False)),
        sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.CheckConstraint("role IN ('admin', 'manager', 'technician', 'client')", name="users_role"),
    )
    op.create_index("users_email", "users", [sa.text("lower(email)")], unique=True)


def downgrade():
    op.drop_table("users")
