"""a sent survey invalidated by a reopening of its intervention

Revision ID: 0004_invalidated_surveys
Revises: 0003_timers
"""
import sqlalchemy as sa
from alembic import op

revision = "0004_invalidated_surveys"
down_revision = "0003_timers"
branch_labels = None
depends_on = None


def upgrade():
    op.drop_constraint("surveys_status", "surveys", type_="check")
    op.create_check_constraint(
        "surveys_status", "surveys",
        "status IN ('scheduled', 'sent', 'cancelled', 'answered', 'invalidated')")
    op.add_column("surveys", sa.Column("invalidated_at", sa.DateTime(timezone=True)))


def downgrade():
    op.drop_column("surveys", "invalidated_at")
    op.execute("UPDATE surveys SET status = 'cancelled' WHERE status = 'invalidated'")
    op.drop_constraint("surveys_status", "surveys", type_="check")
    op.create_check_constraint("surveys_status", "surveys",
                               "status IN ('scheduled', 'sent', 'cancelled', 'answered')")
