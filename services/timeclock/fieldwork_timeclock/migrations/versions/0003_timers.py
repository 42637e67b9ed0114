"""timers: the service's durable deadlines (fieldwork_common.timers)

Revision ID: 0003_timers
Revises: 0002
"""
from alembic import op

from fieldwork_common.timers import create_timers_table

revision = "0003_timers"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade():
    create_timers_table(op)


def downgrade():
    op.drop_table("timers")
