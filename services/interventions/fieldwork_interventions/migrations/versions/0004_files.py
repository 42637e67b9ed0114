"""files (issue 9 §3): the metadata of files kept in the object store, and
the files attached to interventions

Revision ID: 0004_files
Revises: 0003_timers
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

revision = "0004_files"
down_revision = "0003_timers"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "files",
        sa.Column("id", UUID(as_uuid=False), primary_key=True),
        sa.Column("company_id", UUID(as_uuid=False), sa.ForeignKey("companies.id"), nullable=False),
        sa.Column("uploaded_by", sa.Text, nullable=False),
        sa.Column("uploaded_by_role", sa.Text, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("content_type", sa.Text, nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("sha256", sa.Text, nullable=False),
        sa.Column("original_name", sa.Text),
        sa.Column("original_key", sa.Text, nullable=False, unique=True),
        sa.Column("thumbnail_key", sa.Text),
        sa.Column("client_key", sa.Text),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False,
                  server_default=sa.func.now()),
        sa.CheckConstraint("kind IN ('photo', 'video', 'document', 'signature')", name="files_kind"),
        sa.CheckConstraint("size > 0", name="files_size"),
        sa.CheckConstraint("sha256 ~ '^[0-9a-f]{64}$'", name="files_sha256"),
    )
    op.create_index("files_company", "files", ["company_id", "created_at", "id"])
    op.create_index("files_uploaded_by", "files", ["uploaded_by"])
    op.create_table(
        "intervention_attachments",
        sa.Column("intervention_id", UUID(as_uuid=False), sa.ForeignKey("interventions.id"),
                  primary_key=True),
        sa.Column("file_id", UUID(as_uuid=False), sa.ForeignKey("files.id"), primary_key=True),
        sa.Column("visible_to_client", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("attached_by", sa.Text, nullable=False),
        sa.Column("attached_at", sa.DateTime(timezone=True), nullable=False,
                  server_default=sa.func.now()),
    )
    # an intervention's attachments, newest first (keyset on attached_at, file_id)
    op.create_index("intervention_attachments_list", "intervention_attachments",
                    ["intervention_id", "attached_at", "file_id"])
    # who may see a file through what it is attached to (access.scope("file"))
    op.create_index("intervention_attachments_file", "intervention_attachments", ["file_id"])


def downgrade():
    op.drop_table("intervention_attachments")
    op.drop_table("files")
