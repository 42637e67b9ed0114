"""the HTML part of each email

Revision ID: 0005_email_html
Revises: 0004_invalidated_surveys
"""
import sqlalchemy as sa
from alembic import op

revision = "0005_email_html"
down_revision = "0004_invalidated_surveys"
branch_labels = None
depends_on = None


def upgrade():
    # kept with the email, like its text and attachments, so that a retry or
    # an operator's resend sends the same email (null: an email recorded
    # before, sent as text only)
    op.add_column("emails", sa.Column("html_body", sa.Text))


def downgrade():
    op.drop_column("emails", "html_body")
