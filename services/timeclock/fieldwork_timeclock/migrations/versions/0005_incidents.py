"""incidents: reasons per service, incidents with their history, one
conversation per incident and its messages; the visits' contacts

Revision ID: 0005_incidents
Revises: 0004_clockings
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID

revision = "0005_incidents"
down_revision = "0004_clockings"
branch_labels = None
depends_on = None


def _uuid(name, *args, nullable=False, **kw):
    return sa.Column(name, UUID(as_uuid=False), *args, nullable=nullable, **kw)


def _instant(name, nullable=False, **kw):
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable, **kw)


def upgrade():
    # the names and addresses the visit events carry (event-carried state for the emails)
    op.add_column("known_visits", sa.Column("contacts", JSONB, nullable=False,
                                            server_default=sa.text("'{}'::jsonb")))
    op.create_table(
        "incident_reasons",
        _uuid("id", primary_key=True),
        _uuid("company_id"), _uuid("type_id"),
        sa.Column("code", sa.Text, nullable=False),
        sa.Column("label", sa.Text, nullable=False),
        sa.Column("at_start", sa.Boolean, nullable=False),
        sa.Column("at_end", sa.Boolean, nullable=False),
        sa.Column("position", sa.Integer, nullable=False, server_default="0"),
        sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
        _instant("created_at", server_default=sa.func.now()),
        sa.Column("version", sa.Integer, nullable=False, server_default="1"),
        sa.CheckConstraint("at_start OR at_end", name="incident_reasons_when"),
        # codes are unique per service (of a company)
        sa.UniqueConstraint("company_id", "type_id", "code", name="incident_reasons_code"),
    )
    op.create_table(
        "incidents",
        _uuid("id", primary_key=True),
        _uuid("visit_id", sa.ForeignKey("known_visits.id")),
        _uuid("company_id"), _uuid("client_id"), _uuid("technician_id"), _uuid("type_id"),
        _uuid("reason_id", sa.ForeignKey("incident_reasons.id")),
        sa.Column("moment", sa.Text, nullable=False),
        sa.Column("description", sa.Text),
        sa.Column("state", sa.Text, nullable=False, server_default="open"),
        _uuid("clocking_id", sa.ForeignKey("clockings.id"), nullable=True),
        sa.Column("author_id", sa.Text, nullable=False),
        sa.Column("author_role", sa.Text, nullable=False),
        _instant("created_at", server_default=sa.func.now()),
        _instant("state_since"),
        sa.Column("version", sa.Integer, nullable=False, server_default="1"),
        sa.CheckConstraint("moment IN ('start', 'end')", name="incidents_moment"),
        sa.CheckConstraint("state IN ('open', 'acknowledged', 'resolved', 'closed', 'cancelled')",
                           name="incidents_state"),
    )
    op.create_index("incidents_visit", "incidents", ["visit_id", "created_at", "id"])
    op.create_index("incidents_company", "incidents", ["company_id", "created_at", "id"])
    op.create_table(
        "incident_entries",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        _uuid("incident_id", sa.ForeignKey("incidents.id")),
        sa.Column("from_state", sa.Text), sa.Column("to_state", sa.Text, nullable=False),
        sa.Column("reason", sa.Text),
        sa.Column("by", sa.Text, nullable=False), sa.Column("by_role", sa.Text, nullable=False),
        _instant("at"),
    )
    op.create_table(
        "conversations",
        _uuid("id", primary_key=True),
        # one conversation per incident
        _uuid("incident_id", sa.ForeignKey("incidents.id"), unique=True),
        _uuid("visit_id"), _uuid("company_id"), _uuid("client_id"), _uuid("technician_id"),
        _instant("created_at", server_default=sa.func.now()),
        _instant("last_message_at", nullable=True),
    )
    op.create_index("conversations_company", "conversations", ["company_id", "created_at", "id"])
    op.create_table(
        "messages",
        _uuid("id", primary_key=True),
        _uuid("conversation_id", sa.ForeignKey("conversations.id")),
        sa.Column("author_id", sa.Text, nullable=False),
        sa.Column("author_role", sa.Text, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("internal", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("file_ids", ARRAY(UUID(as_uuid=False)), nullable=False, server_default="{}"),
        _instant("created_at", server_default=sa.func.now()),
    )
    op.create_index("messages_conversation", "messages", ["conversation_id", "created_at", "id"])


def downgrade():
    for table in ("messages", "conversations", "incident_entries", "incidents", "incident_reasons"):
        op.drop_table(table)
    op.drop_column("known_visits", "contacts")
