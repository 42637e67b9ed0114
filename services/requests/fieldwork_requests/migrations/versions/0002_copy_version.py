"""version of each known intervention

Revision ID: 0002
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade():
    # existing copies were made from intervention.created: version 1
    op.add_column("known_interventions",
                  sa.Column("version", sa.Integer, nullable=False, server_default=sa.text("1")))


def downgrade():
    op.drop_column("known_interventions", "version")
