"""email attachments, local copy of companies, satisfaction surveys, reopenings seen

Revision ID: 0002
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB, UUID

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("emails", sa.Column("attachments", JSONB))
    op.create_table(
        "companies",
        sa.Column("id", UUID(as_uuid=False), primary_key=True),
        sa.Column("name", sa.Text, nullable=False, server_default=""),
        sa.Column("survey_enabled", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("version", sa.Integer),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False,
                  server_default=sa.func.now()),
    )
    op.create_table(
        "reopenings",
        sa.Column("intervention_id", UUID(as_uuid=False), primary_key=True),
        sa.Column("version", sa.Integer),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )
    op.create_table(
        "surveys",
        sa.Column("id", UUID(as_uuid=False), primary_key=True),
        sa.Column("event_id", UUID(as_uuid=False), nullable=False, unique=True),
        sa.Column("token_hash", sa.Text, unique=True),
        sa.Column("intervention_id", UUID(as_uuid=False), nullable=False),
        sa.Column("intervention_version", sa.Integer),
        sa.Column("company_id", UUID(as_uuid=False)),
        sa.Column("technician_id", UUID(as_uuid=False)),
        sa.Column("client_id", UUID(as_uuid=False)),
        sa.Column("recipient", sa.Text, nullable=False),
        sa.Column("language", sa.Text, nullable=False),
        sa.Column("context", JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True)),
        sa.Column("expires_at", sa.DateTime(timezone=True)),
        sa.Column("status", sa.Text, nullable=False, server_default="scheduled"),
        sa.Column("cancel_reason", sa.Text),
        sa.Column("score", sa.SmallInteger),
        sa.Column("comment", sa.Text),
        sa.Column("answered_at", sa.DateTime(timezone=True)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False,
                  server_default=sa.func.now()),
        sa.CheckConstraint("status IN ('scheduled', 'sent', 'cancelled', 'answered')",
                           name="surveys_status"),
        sa.CheckConstraint("score IS NULL OR score BETWEEN 1 AND 5", name="surveys_score"),
    )
    op.create_index("surveys_due", "surveys", ["due_at"],
                    postgresql_where=sa.text("status = 'scheduled'"))
    op.create_index("surveys_intervention", "surveys", ["intervention_id"])
    op.create_index("surveys_answered", "surveys", ["company_id", "technician_id", "answered_at"],
                    postgresql_where=sa.text("status = 'answered'"))


def downgrade():
    op.drop_table("surveys")
    op.drop_table("reopenings")
    op.drop_table("companies")
    op.drop_column("emails", "attachments")
