"""reports (field work): comments on an intervention (internal or visible to
the client) and the measurements taken on site

Revision ID: 0007_field_notes
Revises: 0006_checklists
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

revision = "0007_field_notes"
down_revision = "0006_checklists"
branch_labels = None
depends_on = None


def _uuid(name, *args, nullable=False, **kw):
    return sa.Column(name, UUID(as_uuid=False), *args, nullable=nullable, **kw)


def upgrade():
    op.create_table(
        "intervention_comments",
        _uuid("id", primary_key=True),
        _uuid("intervention_id", sa.ForeignKey("interventions.id")),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("visible_to_client", sa.Boolean, nullable=False),
        sa.Column("author_id", sa.Text, nullable=False),
        sa.Column("author_role", sa.Text, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("intervention_comments_intervention", "intervention_comments",
                    ["intervention_id", "at", "id"])
    op.create_table(
        "measurements",
        _uuid("id", primary_key=True),
        _uuid("intervention_id", sa.ForeignKey("interventions.id")),
        sa.Column("parameter", sa.Text, nullable=False),
        sa.Column("unit", sa.Text),
        sa.Column("value", sa.Float, nullable=False),
        sa.Column("min", sa.Float),
        sa.Column("max", sa.Float),
        sa.Column("flagged", sa.Boolean, nullable=False),
        sa.Column("note", sa.Text),
        sa.Column("by", sa.Text, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("measurements_intervention", "measurements", ["intervention_id", "at", "id"])


def downgrade():
    op.drop_table("measurements")
    op.drop_table("intervention_comments")
