"""the probe's tables: outbox and inbox, timers, effects of fired timers

Revision ID: 0001
Revises:
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

from fieldwork_common.outbox import create_messaging_tables
from fieldwork_common.timers import create_timers_table

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    create_messaging_tables(op)
    create_timers_table(op)
    # no unique key on purpose: a timer fired twice would show as two rows
    op.create_table(
        "effects",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("key", sa.Text, nullable=False),
        sa.Column("replica", sa.Integer, nullable=False),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("payload", JSONB),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False,
                  server_default=sa.text("clock_timestamp()")),
    )
    op.create_table("fixes", sa.Column("key", sa.Text, primary_key=True))


def downgrade():
    for table in ("fixes", "effects", "timers", "idempotency_keys", "inbox", "outbox"):
        op.drop_table(table)
