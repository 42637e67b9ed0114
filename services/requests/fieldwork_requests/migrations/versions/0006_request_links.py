"""requests: equipment lines (each with its symptom), documents from the
files store, and the interventions created from a request with their live
state (kept current from the intervention events)

Revision ID: 0006_request_links
Revises: 0005_request_events
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

revision = "0006_request_links"
down_revision = "0005_request_events"
branch_labels = None
depends_on = None


def _uuid(name, *args, nullable=False, **kw):
    return sa.Column(name, UUID(as_uuid=False), *args, nullable=nullable, **kw)


def _instant(name, nullable=False, **kw):
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable, **kw)


def upgrade():
    op.create_table(
        "request_equipment",
        _uuid("id", primary_key=True),
        _uuid("request_id", sa.ForeignKey("requests.id")),
        _uuid("equipment_id"),
        sa.Column("symptom", sa.Text),
        sa.Column("added_by", sa.Text, nullable=False),
        _instant("added_at", server_default=sa.func.now()),
        _instant("removed_at", nullable=True),
    )
    # one line in force per equipment of a request
    op.create_index("request_equipment_once", "request_equipment", ["request_id", "equipment_id"],
                    unique=True, postgresql_where=sa.text("removed_at IS NULL"))
    op.create_table(
        "request_documents",
        _uuid("id", primary_key=True),
        _uuid("request_id", sa.ForeignKey("requests.id")),
        _uuid("file_id"),
        sa.Column("visible_to_client", sa.Boolean, nullable=False),
        sa.Column("by", sa.Text, nullable=False),
        sa.Column("by_role", sa.Text, nullable=False),
        _instant("at", server_default=sa.func.now()),
        sa.UniqueConstraint("request_id", "file_id", name="request_documents_once"),
    )
    op.create_table(
        "request_interventions",
        _uuid("intervention_id", primary_key=True),
        _uuid("request_id", sa.ForeignKey("requests.id")),
        sa.Column("location", sa.Text, nullable=False),
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("step", sa.Text),
        # the intervention's version the link reflects: an older event never overwrites it
        sa.Column("version", sa.Integer, nullable=False),
        _instant("created_at", server_default=sa.func.now()),
        _instant("updated_at", server_default=sa.func.now()),
    )
    op.create_index("request_interventions_request", "request_interventions", ["request_id"])


def downgrade():
    for table in ("request_interventions", "request_documents", "request_equipment"):
        op.drop_table(table)
