"""requests: the automatic closing a company turns on (auto_close_days)

Revision ID: 0008_auto_close
Revises: 0007_equipment_returns
"""
import sqlalchemy as sa
from alembic import op

revision = "0008_auto_close"
down_revision = "0007_equipment_returns"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("request_settings", sa.Column("auto_close_days", sa.Integer, nullable=True))
    op.create_check_constraint("request_settings_auto_close_days", "request_settings",
                               "auto_close_days IS NULL OR auto_close_days BETWEEN 1 AND 3650")


def downgrade():
    op.drop_constraint("request_settings_auto_close_days", "request_settings")
    op.drop_column("request_settings", "auto_close_days")
