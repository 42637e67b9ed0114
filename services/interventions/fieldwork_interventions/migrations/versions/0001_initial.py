"""master data, interventions, outbox and inbox

Revision ID: 0001
Revises:
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

from fieldwork_common.outbox import create_messaging_tables

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _id():
    return sa.Column("id", UUID(as_uuid=False), primary_key=True)


def _created():
    return sa.Column("created_at", sa.DateTime(timezone=True), nullable=False,
                     server_default=sa.func.now())


def _ref(name, target):
    return sa.Column(name, UUID(as_uuid=False), sa.ForeignKey(target), nullable=False)


def upgrade():
    create_messaging_tables(op)
    op.create_table("companies", _id(), sa.Column("name", sa.Text, nullable=False), _created())
    op.create_table("technicians", _id(), sa.Column("name", sa.Text, nullable=False),
                    sa.Column("email", sa.Text, nullable=False),
                    _ref("company_id", "companies.id"), _created())
    op.create_table("clients", _id(), sa.Column("name", sa.Text, nullable=False),
                    sa.Column("email", sa.Text, nullable=False),
                    sa.Column("locale", sa.Text, nullable=False, server_default="fr"),
                    _ref("company_id", "companies.id"), _created())
    op.create_table("intervention_types", _id(), sa.Column("name", sa.Text, nullable=False),
                    sa.Column("location", sa.Text, nullable=False), _created(),
                    sa.CheckConstraint("location IN ('workshop', 'at_home', 'on_site')",
                                       name="intervention_types_location"))
    op.create_table("equipment", _id(), _ref("client_id", "clients.id"),
                    sa.Column("kind", sa.Text, nullable=False),
                    sa.Column("brand", sa.Text), sa.Column("model", sa.Text),
                    sa.Column("serial_number", sa.Text), _created())
    op.create_index("equipment_client", "equipment", ["client_id"])
    op.create_table(
        "interventions", _id(),
        _ref("company_id", "companies.id"), _ref("client_id", "clients.id"),
        _ref("equipment_id", "equipment.id"), _ref("type_id", "intervention_types.id"),
        _ref("technician_id", "technicians.id"),
        sa.Column("location", sa.Text, nullable=False),
        sa.Column("description", sa.Text, nullable=False, server_default=""),
        sa.Column("step", sa.Text), sa.Column("state", sa.Text, nullable=False, server_default="open"),
        sa.Column("created_by", sa.Text, nullable=False), _created(),
        sa.Column("version", sa.Integer, nullable=False, server_default="1"),
    )
    for column in ("company_id", "client_id", "technician_id"):
        op.create_index(f"interventions_{column}", "interventions", [column, "created_at"])


def downgrade():
    for table in ("interventions", "equipment", "intervention_types", "clients",
                  "technicians", "companies", "inbox", "outbox"):
        op.drop_table(table)
