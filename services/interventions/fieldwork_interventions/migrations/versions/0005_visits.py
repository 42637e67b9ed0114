"""visits (issue 10): visits of at_home/on_site interventions, every value
proposed for them, the refusal and cancellation reasons, the companies'
validation settings

Revision ID: 0005_visits
Revises: 0004_files
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

revision = "0005_visits"
down_revision = "0004_files"
branch_labels = None
depends_on = None



def upgrade():
    op.add_column("companies", sa.Column("portal_validation", sa.Boolean, nullable=False,
                                         server_default=sa.false()))
    op.add_column("companies", sa.Column("validation_reminder_days", sa.Integer, nullable=False,
                                         server_default="3"))
    op.add_column("companies", sa.Column("tacit_validation", sa.Boolean, nullable=False,
                                         server_default=sa.false()))
    op.add_column("companies", sa.Column("max_visit_km", sa.Integer, nullable=False,
                                         server_default="1000"))
    op.create_table(
        "visit_reasons",
        sa.Column("id", UUID(as_uuid=False), primary_key=True),
        sa.Column("company_id", UUID(as_uuid=False), sa.ForeignKey("companies.id"), nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("label", sa.Text, nullable=False),
        sa.Column("position", sa.Integer, nullable=False, server_default="0"),
        sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("version", sa.Integer, nullable=False, server_default="1"),
        sa.CheckConstraint("kind IN ('refusal', 'cancellation')", name="visit_reasons_kind"),
    )
    op.create_index("ix_visit_reasons_company", "visit_reasons", ["company_id", "kind", "position"])
    op.create_table(
        "visits",
        sa.Column("id", UUID(as_uuid=False), primary_key=True),
        sa.Column("intervention_id", UUID(as_uuid=False), sa.ForeignKey("interventions.id"),
                  nullable=False),
        sa.Column("company_id", UUID(as_uuid=False), sa.ForeignKey("companies.id"), nullable=False),
        sa.Column("client_id", UUID(as_uuid=False), sa.ForeignKey("clients.id"), nullable=False),
        sa.Column("technician_id", UUID(as_uuid=False), sa.ForeignKey("technicians.id"),
                  nullable=False),
        sa.Column("type_id", UUID(as_uuid=False), sa.ForeignKey("intervention_types.id"),
                  nullable=False),
        sa.Column("contract_id", UUID(as_uuid=False), sa.ForeignKey("contracts.id"), nullable=False),
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("start_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("end_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("km", sa.Numeric(7, 1)),
        sa.Column("comment", sa.Text),
        sa.Column("mission_order", sa.Text),
        sa.Column("created_by_worker", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("series_id", UUID(as_uuid=False)),
        sa.Column("reason_id", UUID(as_uuid=False), sa.ForeignKey("visit_reasons.id")),
        sa.Column("state_since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("waiting_since", sa.DateTime(timezone=True)),
        sa.Column("declared_at", sa.DateTime(timezone=True)),
        sa.Column("declared_by", sa.Text),
        sa.Column("validated_at", sa.DateTime(timezone=True)),
        sa.Column("validated_by", sa.Text),
        sa.Column("validation_mode", sa.Text),
        sa.Column("on_behalf_of", UUID(as_uuid=False)),
        sa.Column("created_by", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("version", sa.Integer, nullable=False, server_default="1"),
        # the rules the code checks, held by the database as well
        sa.CheckConstraint("state IN ('planned', 'done', 'disputed', 'arbitration', 'validated', "
                           "'cancelled')", name="visits_state"),
        sa.CheckConstraint("end_at > start_at AND end_at - start_at <= interval '24 hours'",
                           name="visits_times"),
        sa.CheckConstraint("km IS NULL OR km >= 0", name="visits_km"),
        sa.CheckConstraint("(state = 'validated') = (validation_mode IS NOT NULL)",
                           name="visits_validation_mode"),
    )
    # the planning of a worker, a client, a company; an intervention's visits
    op.create_index("ix_visits_technician_start", "visits", ["technician_id", "start_at", "id"])
    op.create_index("ix_visits_client_start", "visits", ["client_id", "start_at", "id"])
    op.create_index("ix_visits_company_start", "visits", ["company_id", "start_at", "id"])
    op.create_index("ix_visits_intervention", "visits", ["intervention_id", "start_at"])
    op.create_index("ix_visits_start", "visits", ["start_at", "id"])
    # the validation board: what waits, oldest first
    op.create_index("ix_visits_company_waiting", "visits", ["company_id", "waiting_since", "id"],
                    postgresql_where=sa.text("waiting_since IS NOT NULL"))
    op.create_index("ix_visits_waiting", "visits", ["waiting_since", "id"],
                    postgresql_where=sa.text("waiting_since IS NOT NULL"))
    op.create_table(
        "visit_entries",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("visit_id", UUID(as_uuid=False), sa.ForeignKey("visits.id"), nullable=False),
        sa.Column("move", sa.Text, nullable=False),
        sa.Column("from_state", sa.Text),
        sa.Column("to_state", sa.Text, nullable=False),
        sa.Column("start_at", sa.DateTime(timezone=True)),
        sa.Column("end_at", sa.DateTime(timezone=True)),
        sa.Column("km", sa.Numeric(7, 1)),
        sa.Column("technician_id", UUID(as_uuid=False)),
        sa.Column("reason_id", UUID(as_uuid=False)),
        sa.Column("comment", sa.Text),
        sa.Column("decision", sa.Text),
        sa.Column("accepted", sa.Boolean),
        sa.Column("author_id", sa.Text, nullable=False),
        sa.Column("author_role", sa.Text, nullable=False),
        sa.Column("on_behalf_of", UUID(as_uuid=False)),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )
    op.create_index("ix_visit_entries_visit", "visit_entries", ["visit_id", "id"])


def downgrade():
    op.drop_table("visit_entries")
    op.drop_table("visits")
    op.drop_table("visit_reasons")
    for column in ("max_visit_km", "tacit_validation", "validation_reminder_days",
                   "portal_validation"):
        op.drop_column("companies", column)
