"""timers (fieldwork_common.timers); the surveys still scheduled get theirs

Revision ID: 0003_timers
Revises: 0002
"""
import sqlalchemy as sa
from alembic import op

from fieldwork_common.timers import create_timers_table

revision = "0003_timers"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade():
    create_timers_table(op)
    # surveys scheduled by the poll this replaces: one `survey.due` timer each,
    # keyed by the survey's id, due when the survey was
    op.execute(sa.text(
        "INSERT INTO timers (kind, key, due_at, next_attempt_at) "
        "SELECT 'survey.due', id::text, due_at, due_at FROM surveys WHERE status = 'scheduled' "
        "ON CONFLICT (kind, key) DO NOTHING"))


def downgrade():
    op.drop_table("timers")
