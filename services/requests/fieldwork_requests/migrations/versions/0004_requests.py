"""requests: the types of a company, the requests with their number per
company and year, their actions (messages to the client, internal notes)
and their history

Revision ID: 0004_requests
Revises: 0003_timers
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB, UUID

revision = "0004_requests"
down_revision = "0003_timers"
branch_labels = None
depends_on = None


def _uuid(name, *args, nullable=False, **kw):
    return sa.Column(name, UUID(as_uuid=False), *args, nullable=nullable, **kw)


def _instant(name, nullable=False, **kw):
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable, **kw)


def upgrade():
    op.create_table(
        "request_types",
        _uuid("id", primary_key=True),
        _uuid("company_id"),
        sa.Column("label", sa.Text, nullable=False),
        sa.Column("position", sa.Integer, nullable=False, server_default="0"),
        sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
        _instant("created_at", server_default=sa.func.now()),
        sa.Column("version", sa.Integer, nullable=False, server_default="1"),
        sa.UniqueConstraint("company_id", "label", name="request_types_label"),
    )
    # the last number given per company and year (DEM-2026-000123)
    op.create_table(
        "request_counters",
        _uuid("company_id", primary_key=True),
        sa.Column("year", sa.Integer, primary_key=True),
        sa.Column("last", sa.Integer, nullable=False),
    )
    op.create_table(
        "requests",
        _uuid("id", primary_key=True),
        _uuid("company_id"), _uuid("client_id"),
        sa.Column("number", sa.Text, nullable=False),
        _uuid("type_id", sa.ForeignKey("request_types.id")),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("symptom", sa.Text),
        sa.Column("description", sa.Text),
        _uuid("site_id", nullable=True),
        sa.Column("status", sa.Text, nullable=False, server_default="new"),
        sa.Column("created_by", sa.Text, nullable=False),
        sa.Column("created_by_role", sa.Text, nullable=False),
        _uuid("created_by_technician_id", nullable=True),
        _instant("created_at", server_default=sa.func.now()),
        _instant("updated_at", server_default=sa.func.now()),
        _instant("closed_at", nullable=True),
        sa.Column("version", sa.Integer, nullable=False, server_default="1"),
        sa.UniqueConstraint("company_id", "number", name="requests_number"),
        sa.CheckConstraint("source IN ('portal', 'field', 'phone', 'email', 'other')",
                           name="requests_source"),
        sa.CheckConstraint("status IN ('new', 'in_progress', 'planned', 'closed', 'cancelled')",
                           name="requests_status"),
    )
    # the lists: newest first within a company, a client, a technician's
    op.create_index("requests_company_created", "requests", ["company_id", "created_at", "id"])
    op.create_index("requests_client_created", "requests", ["client_id", "created_at", "id"])
    op.create_index("requests_technician_created", "requests",
                    ["created_by_technician_id", "created_at", "id"],
                    postgresql_where=sa.text("created_by_technician_id IS NOT NULL"))
    op.create_table(
        "request_actions",
        _uuid("id", primary_key=True),
        _uuid("request_id", sa.ForeignKey("requests.id")),
        sa.Column("status", sa.Text),  # null for an internal note
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("channel", sa.Text),
        sa.Column("internal", sa.Boolean, nullable=False),
        sa.Column("by", sa.Text, nullable=False),
        sa.Column("by_role", sa.Text, nullable=False),
        _instant("at", server_default=sa.func.now()),
        sa.CheckConstraint("internal = (status IS NULL)", name="request_actions_note"),
        sa.CheckConstraint("status IS NULL OR status IN ('in_progress', 'planned', 'closed')",
                           name="request_actions_status"),
    )
    op.create_index("request_actions_request", "request_actions", ["request_id", "at", "id"])
    # never edited: rows are only added
    op.create_table(
        "request_history",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        _uuid("request_id", sa.ForeignKey("requests.id")),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("details", JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
        sa.Column("internal", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("by", sa.Text, nullable=False),
        sa.Column("by_role", sa.Text, nullable=False),
        _instant("at", server_default=sa.func.now()),
    )
    op.create_index("request_history_request", "request_history", ["request_id", "id"])


def downgrade():
    for table in ("request_history", "request_actions", "requests", "request_counters",
                  "request_types"):
        op.drop_table(table)
