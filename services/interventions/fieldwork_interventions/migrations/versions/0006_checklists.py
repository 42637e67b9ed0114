"""reports (field work): versioned checklist templates per intervention type,
the checklist of an intervention (the version it started on) and its
answers, with every answer kept in order

Revision ID: 0006_checklists
Revises: 0005_visits
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB, UUID

revision = "0006_checklists"
down_revision = "0005_visits"
branch_labels = None
depends_on = None


def _uuid(name, *args, nullable=False, **kw):
    return sa.Column(name, UUID(as_uuid=False), *args, nullable=nullable, **kw)


def _instant(name, nullable=False, **kw):
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable, **kw)


def upgrade():
    op.create_table(
        "checklist_templates",
        _uuid("id", primary_key=True),
        _uuid("type_id", sa.ForeignKey("intervention_types.id")),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("items", JSONB, nullable=False),
        sa.Column("created_by", sa.Text, nullable=False),
        _instant("created_at", server_default=sa.func.now()),
        sa.UniqueConstraint("type_id", "version", name="checklist_templates_version"),
    )
    op.create_table(
        "intervention_checklists",
        _uuid("intervention_id", sa.ForeignKey("interventions.id"), primary_key=True),
        _uuid("template_id", sa.ForeignKey("checklist_templates.id")),
        sa.Column("started_by", sa.Text, nullable=False),
        _instant("started_at", server_default=sa.func.now()),
    )
    op.create_table(
        "checklist_answers",
        _uuid("intervention_id", sa.ForeignKey("intervention_checklists.intervention_id"),
              primary_key=True),
        sa.Column("item_key", sa.Text, primary_key=True),
        sa.Column("value", JSONB, nullable=False),
        sa.Column("note", sa.Text),
        sa.Column("flagged", sa.Boolean, nullable=False),
        sa.Column("answered_by", sa.Text, nullable=False),
        _instant("answered_at"),
    )
    # every answer given, in order (the one in force is in checklist_answers)
    op.create_table(
        "checklist_answer_entries",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        _uuid("intervention_id", sa.ForeignKey("intervention_checklists.intervention_id")),
        sa.Column("item_key", sa.Text, nullable=False),
        sa.Column("value", JSONB, nullable=False),
        sa.Column("note", sa.Text),
        sa.Column("flagged", sa.Boolean, nullable=False),
        sa.Column("answered_by", sa.Text, nullable=False),
        _instant("answered_at"),
    )
    op.create_index("checklist_answer_entries_intervention", "checklist_answer_entries",
                    ["intervention_id", "id"])


def downgrade():
    for table in ("checklist_answer_entries", "checklist_answers", "intervention_checklists",
                  "checklist_templates"):
        op.drop_table(table)
