"""clockings: copies of visits, places (position, signing key, NFC tags),
settings, clockings with their rules as constraints

Revision ID: 0004_clockings
Revises: 0003_timers
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID

revision = "0004_clockings"
down_revision = "0003_timers"
branch_labels = None
depends_on = None


def _uuid(name, *args, nullable=False, **kw):
    return sa.Column(name, UUID(as_uuid=False), *args, nullable=nullable, **kw)


def _instant(name, nullable=False, **kw):
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable, **kw)


def upgrade():
    op.create_table(
        "places",
        _uuid("id", primary_key=True),
        _uuid("company_id"), _uuid("client_id"), _uuid("site_id", nullable=True),
        sa.Column("label", sa.Text),
        sa.Column("lat", sa.Float), sa.Column("lon", sa.Float),
        sa.Column("radius_m", sa.Integer),
        sa.Column("key", sa.LargeBinary, nullable=False),
        sa.Column("key_version", sa.Integer, nullable=False, server_default="1"),
        _instant("created_at", server_default=sa.func.now()),
        sa.Column("version", sa.Integer, nullable=False, server_default="1"),
        sa.CheckConstraint("lat IS NULL OR (lat BETWEEN -90 AND 90)", name="places_lat"),
        sa.CheckConstraint("lon IS NULL OR (lon BETWEEN -180 AND 180)", name="places_lon"),
        sa.CheckConstraint("(lat IS NULL) = (lon IS NULL)", name="places_position"),
    )
    # one place per client's home and per site
    op.execute("CREATE UNIQUE INDEX places_client_site ON places (client_id, site_id) "
               "NULLS NOT DISTINCT")
    op.create_index("places_company", "places", ["company_id", "created_at", "id"])

    op.create_table(
        "known_visits",
        _uuid("id", primary_key=True),
        _uuid("intervention_id"), _uuid("company_id"), _uuid("client_id"),
        _uuid("technician_id"), _uuid("type_id"), _uuid("site_id", nullable=True),
        _uuid("place_id", sa.ForeignKey("places.id")),
        sa.Column("state", sa.Text, nullable=False),
        _instant("planned_start_at"), _instant("planned_end_at"),
        _instant("start_at"), _instant("end_at"),
        sa.Column("reference", sa.Text),
        sa.Column("version", sa.Integer, nullable=False),
        _instant("updated_at", server_default=sa.func.now()),
    )

    op.create_table(
        "nfc_tags",
        _uuid("id", primary_key=True),
        _uuid("place_id", sa.ForeignKey("places.id")),
        _uuid("company_id"),
        sa.Column("uid", sa.Text, nullable=False),
        sa.Column("label", sa.Text),
        sa.Column("last_counter", sa.BigInteger),
        sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
        _instant("created_at", server_default=sa.func.now()),
        sa.Column("version", sa.Integer, nullable=False, server_default="1"),
    )
    # a physical tag is registered once (while active)
    op.create_index("nfc_tags_uid", "nfc_tags", ["uid"], unique=True,
                    postgresql_where=sa.text("active"))

    op.create_table(
        "used_codes",
        _uuid("place_id", sa.ForeignKey("places.id"), primary_key=True),
        sa.Column("step", sa.BigInteger, primary_key=True),
        _uuid("clocking_id"),
        _instant("used_at", server_default=sa.func.now()),
    )

    op.create_table(
        "clocking_settings",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        _uuid("company_id"), _uuid("type_id", nullable=True),
        sa.Column("values", JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
        _instant("updated_at", server_default=sa.func.now()),
        sa.Column("updated_by", sa.Text),
        sa.Column("version", sa.Integer, nullable=False, server_default="1"),
    )
    op.execute("CREATE UNIQUE INDEX clocking_settings_scope ON clocking_settings "
               "(company_id, type_id) NULLS NOT DISTINCT")

    op.create_table(
        "clockings",
        _uuid("id", primary_key=True),
        _uuid("visit_id", sa.ForeignKey("known_visits.id")),
        _uuid("technician_id"), _uuid("company_id"), _uuid("client_id"), _uuid("place_id"),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("method", sa.Text, nullable=False),
        _uuid("in_id", nullable=True),
        _instant("at"), _instant("device_time", nullable=True), _instant("server_time"),
        sa.Column("lat", sa.Float), sa.Column("lon", sa.Float),
        sa.Column("accuracy_m", sa.Float), sa.Column("distance_m", sa.Float),
        sa.Column("geo_status", sa.Text),
        _uuid("nfc_tag_id", nullable=True),
        sa.Column("flags", ARRAY(sa.Text), nullable=False, server_default="{}"),
        sa.Column("status", sa.Text, nullable=False, server_default="recorded"),
        # a correction and the row it supersedes name each other: checked at commit
        _uuid("supersedes", sa.ForeignKey("clockings.id", deferrable=True, initially="DEFERRED"),
              nullable=True),
        _uuid("superseded_by", sa.ForeignKey("clockings.id", deferrable=True, initially="DEFERRED"),
              nullable=True),
        sa.Column("reason", sa.Text), sa.Column("decision_reason", sa.Text),
        sa.Column("decided_by", sa.Text), _instant("decided_at", nullable=True),
        sa.Column("created_by", sa.Text, nullable=False),
        sa.Column("created_by_role", sa.Text, nullable=False),
        _instant("created_at", server_default=sa.func.now()),
        sa.Column("version", sa.Integer, nullable=False, server_default="1"),
        sa.CheckConstraint("kind IN ('in', 'out')", name="clockings_kind"),
        sa.CheckConstraint("method IN ('manual', 'qr', 'nfc', 'correction')", name="clockings_method"),
        sa.CheckConstraint("status IN ('recorded', 'validated', 'rejected', 'superseded')",
                           name="clockings_status"),
        # an out closes an in; an in closes nothing
        sa.CheckConstraint("(kind = 'out') = (in_id IS NOT NULL)", name="clockings_out_has_in"),
        sa.CheckConstraint("(status = 'superseded') = (superseded_by IS NOT NULL)",
                           name="clockings_superseded"),
        sa.UniqueConstraint("id", "visit_id", "technician_id", name="clockings_id_visit_worker"),
        # the in an out closes is of the same visit and the same worker
        sa.ForeignKeyConstraint(["in_id", "visit_id", "technician_id"],
                                ["clockings.id", "clockings.visit_id", "clockings.technician_id"],
                                name="clockings_in_same_visit"),
    )
    # an in is closed by one out in force
    op.create_index("clockings_one_out_per_in", "clockings", ["in_id"], unique=True,
                    postgresql_where=sa.text("kind = 'out' AND status <> 'superseded'"))
    op.create_index("clockings_visit", "clockings", ["visit_id", "created_at", "id"])
    op.create_index("clockings_company", "clockings", ["company_id", "created_at", "id"])
    op.create_index("clockings_worker", "clockings", ["technician_id", "created_at", "id"])

    op.create_table(
        "open_clockins",
        _uuid("technician_id", primary_key=True),
        _uuid("visit_id"),
        # made before its clocking row in the same transaction
        _uuid("clocking_id", sa.ForeignKey("clockings.id", deferrable=True, initially="DEFERRED")),
        _instant("since"),
    )


def downgrade():
    for table in ("open_clockins", "clockings", "clocking_settings", "used_codes", "nfc_tags",
                  "known_visits", "places"):
        op.drop_table(table)
