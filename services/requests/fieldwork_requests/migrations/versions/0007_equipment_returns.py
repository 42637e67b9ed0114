"""requests: equipment returns (to the workshop or a supplier) and their
life; the indexes of the platform admin's list (every company, newest
first) and of a status within a company

Revision ID: 0007_equipment_returns
Revises: 0006_request_links
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

revision = "0007_equipment_returns"
down_revision = "0006_request_links"
branch_labels = None
depends_on = None


def _uuid(name, *args, nullable=False, **kw):
    return sa.Column(name, UUID(as_uuid=False), *args, nullable=nullable, **kw)


def _instant(name, nullable=False, **kw):
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable, **kw)


def upgrade():
    op.create_table(
        "equipment_returns",
        _uuid("id", primary_key=True),
        _uuid("request_id", sa.ForeignKey("requests.id")),
        _uuid("company_id"), _uuid("client_id"), _uuid("equipment_id"),
        sa.Column("destination", sa.Text, nullable=False),
        sa.Column("supplier", sa.Text),
        sa.Column("note", sa.Text),
        sa.Column("state", sa.Text, nullable=False, server_default="requested"),
        _uuid("intervention_id", nullable=True),
        sa.Column("created_by", sa.Text, nullable=False),
        _instant("created_at", server_default=sa.func.now()),
        _instant("updated_at", server_default=sa.func.now()),
        sa.Column("version", sa.Integer, nullable=False, server_default="1"),
        sa.CheckConstraint("destination IN ('workshop', 'supplier')",
                           name="equipment_returns_destination"),
        sa.CheckConstraint("state IN ('requested', 'received', 'sent_back', 'closed')",
                           name="equipment_returns_state"),
    )
    op.create_index("equipment_returns_request", "equipment_returns", ["request_id"])
    op.create_index("requests_created", "requests", ["created_at", "id"])
    # customer service works on the open ones: a status within a company, newest first
    op.create_index("requests_company_status", "requests",
                    ["company_id", "status", "created_at", "id"])


def downgrade():
    op.drop_index("requests_company_status", table_name="requests")
    op.drop_index("requests_created", table_name="requests")
    op.drop_table("equipment_returns")
