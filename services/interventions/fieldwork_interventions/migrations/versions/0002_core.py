"""interventions core (issue 4): settings, sites, contracts, statuses,
multi-company technicians, deactivation, steps and statuses on
interventions, history, access tokens

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


def _id():
    return sa.Column("id", UUID(as_uuid=False), primary_key=True)


def _created():
    return sa.Column("created_at", sa.DateTime(timezone=True), nullable=False,
                     server_default=sa.func.now())


def _ref(name, target, nullable=False):
    return sa.Column(name, UUID(as_uuid=False), sa.ForeignKey(target), nullable=nullable)


def _active():
    return sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true())


def _version():
    return sa.Column("version", sa.Integer, nullable=False, server_default="1")


def upgrade():
    for table in ("companies", "technicians", "clients", "intervention_types", "equipment"):
        op.add_column(table, _active())
        op.add_column(table, _version())
    op.add_column("companies", sa.Column("email", sa.Text))
    op.add_column("companies", sa.Column("phone", sa.Text))
    op.add_column("companies", sa.Column("address", sa.Text))
    op.add_column("companies", sa.Column("survey_enabled", sa.Boolean, nullable=False,
                                         server_default=sa.false()))
    op.add_column("technicians", sa.Column("phone", sa.Text))
    op.add_column("clients", sa.Column("phone", sa.Text))
    op.add_column("clients", sa.Column("address", sa.Text))

    op.create_table("settings",
                    sa.Column("id", sa.Integer, primary_key=True),
                    sa.Column("multi_company", sa.Boolean, nullable=False, server_default=sa.true()),
                    _ref("main_company_id", "companies.id", nullable=True), _version(),
                    sa.CheckConstraint("id = 1", name="settings_one_row"))
    op.execute("INSERT INTO settings (id, multi_company) VALUES (1, true)")

    op.create_table("technician_companies",
                    sa.Column("technician_id", UUID(as_uuid=False), sa.ForeignKey("technicians.id"),
                              primary_key=True),
                    sa.Column("company_id", UUID(as_uuid=False), sa.ForeignKey("companies.id"),
                              primary_key=True))
    op.create_table("sites", _id(), _ref("client_id", "clients.id"),
                    sa.Column("name", sa.Text, nullable=False), sa.Column("address", sa.Text),
                    _active(), _created(), _version())
    op.create_index("sites_client", "sites", ["client_id"])
    op.add_column("equipment", _ref("site_id", "sites.id", nullable=True))
    op.create_table("contracts", _id(), _ref("client_id", "clients.id"),
                    _ref("company_id", "companies.id"),
                    sa.Column("reference", sa.Text, nullable=False),
                    sa.Column("billable", sa.Boolean, nullable=False, server_default=sa.true()),
                    sa.Column("state", sa.Text, nullable=False, server_default="draft"),
                    sa.Column("starts_on", sa.Date), sa.Column("ends_on", sa.Date),
                    _active(), _created(), _version(),
                    sa.CheckConstraint("state IN ('draft', 'validated', 'active', 'ended')",
                                       name="contracts_state"))
    op.create_index("contracts_client", "contracts", ["client_id"])
    op.create_table("statuses", _id(), sa.Column("label", sa.Text, nullable=False),
                    sa.Column("colour", sa.Text, nullable=False, server_default="#808080"),
                    sa.Column("position", sa.Integer, nullable=False, server_default="0"),
                    _active(), _created(), _version())

    op.add_column("interventions", _ref("site_id", "sites.id", nullable=True))
    op.add_column("interventions", _ref("contract_id", "contracts.id", nullable=True))
    op.add_column("interventions", _ref("status_id", "statuses.id", nullable=True))
    op.add_column("interventions", sa.Column("diagnostic", sa.Text))
    op.add_column("interventions", sa.Column("tests_performed", JSONB, nullable=False,
                                             server_default=sa.text("'[]'::jsonb")))
    op.add_column("interventions", sa.Column("pickup_at", sa.DateTime(timezone=True)))
    op.add_column("interventions", sa.Column("pickup_kind", sa.Text))
    op.add_column("interventions", sa.Column("closed_at", sa.DateTime(timezone=True)))
    op.add_column("interventions", sa.Column("completed_at", sa.DateTime(timezone=True)))
    op.add_column("interventions", sa.Column("updated_at", sa.DateTime(timezone=True),
                                             nullable=False, server_default=sa.func.now()))
    op.create_check_constraint(
        "interventions_step", "interventions",
        "step IS NULL OR step IN ('picked_up', 'in_workshop', 'final_tests', "
        "'awaiting_pickup', 'delivered')")
    op.create_check_constraint("interventions_state", "interventions",
                               "state IN ('open', 'closed', 'completed')")
    # lists: newest first, a page at a time (keyset on created_at, id)
    for column in ("company_id", "client_id", "technician_id"):
        op.drop_index(f"interventions_{column}", "interventions")
        op.create_index(f"interventions_{column}", "interventions", [column, "created_at", "id"])
    op.create_index("interventions_created", "interventions", ["created_at", "id"])
    # lists filtered by step or state, for every company or one (docs/performance.md): a
    # rare value (the few interventions still in the workshop among years of delivered
    # ones) stays an index range instead of a scan of the company's whole history
    for column in ("step", "state"):
        op.create_index(f"interventions_{column}", "interventions", [column, "created_at", "id"])
        op.create_index(f"interventions_company_id_{column}", "interventions",
                        ["company_id", column, "created_at", "id"])
    op.create_index("interventions_pickup", "interventions", ["pickup_at"],
                    postgresql_where=sa.text("pickup_at IS NOT NULL"))

    op.create_table("intervention_history",
                    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
                    _ref("intervention_id", "interventions.id"),
                    sa.Column("kind", sa.Text, nullable=False),
                    sa.Column("data", JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
                    sa.Column("author_id", sa.Text, nullable=False),
                    sa.Column("author_role", sa.Text, nullable=False),
                    sa.Column("at", sa.DateTime(timezone=True), nullable=False,
                              server_default=sa.func.now()))
    op.create_index("intervention_history_intervention", "intervention_history",
                    ["intervention_id", "id"])

    op.create_table("access_tokens",
                    sa.Column("token_hash", sa.Text, primary_key=True),
                    sa.Column("kind", sa.Text, nullable=False),
                    sa.Column("subject_id", UUID(as_uuid=False), nullable=False),
                    sa.Column("expires_at", sa.DateTime(timezone=True)),
                    sa.Column("revoked", sa.Boolean, nullable=False, server_default=sa.false()),
                    sa.Column("created_by", sa.Text), _created())
    op.create_index("access_tokens_subject", "access_tokens", ["kind", "subject_id"])


def downgrade():
    raise NotImplementedError("0002 is not reversible: restore a backup instead")
