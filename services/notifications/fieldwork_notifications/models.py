"""Tables of the notifications database."""
import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    type_annotation_map = {str: sa.Text}


class Email(Base):
    """Every email, keyed by (event, recipient, template): a redelivered
    event finds its row and sends nothing twice."""
    __tablename__ = "emails"
    __table_args__ = (sa.UniqueConstraint("event_id", "recipient", "template"),)
    id: Mapped[str] = mapped_column(UUID(as_uuid=False), primary_key=True,
                                    default=lambda: str(uuid.uuid4()))
    event_id: Mapped[str] = mapped_column(UUID(as_uuid=False))
    recipient: Mapped[str]
    template: Mapped[str]
    language: Mapped[str]
    subject: Mapped[str]
    body: Mapped[str]                                   # the text part
    html_body: Mapped[str | None]                       # the HTML part (none before 0005)
    status: Mapped[str] = mapped_column(default="pending")  # pending, sent, failed
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None]
    next_attempt_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True),
                                                      server_default=sa.func.now())
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True),
                                                 server_default=sa.func.now())
    sent_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    # [{"filename", "content_type", "data" (base64)}]: kept with the email so
    # that a retry or an operator's resend sends the very same bytes
    attachments: Mapped[list | None] = mapped_column(JSONB)


class Company(Base):
    """Local copy of the interventions service's companies (company.created,
    company.updated): what the survey timer reads when a survey is due."""
    __tablename__ = "companies"
    id: Mapped[str] = mapped_column(UUID(as_uuid=False), primary_key=True)
    name: Mapped[str] = mapped_column(default="")
    survey_enabled: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    version: Mapped[int | None]  # the company's version; older updates are ignored
    # when the copy was first recorded (fieldwork_common.projection.store_copy
    # writes only what the events carry)
    updated_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True),
                                                 server_default=sa.func.now())


class Reopening(Base):
    """The last reopening seen per intervention: a delivery handled after
    it (events of different types may be consumed out of order) plans no
    survey."""
    __tablename__ = "reopenings"
    intervention_id: Mapped[str] = mapped_column(UUID(as_uuid=False), primary_key=True)
    version: Mapped[int | None]
    at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())


class Survey(Base):
    """A satisfaction survey: planned when an intervention is delivered
    (status `scheduled`, due `due_at`), emailed when due (`sent`: the link's
    token, of which only the SHA-256 is kept, expires at `expires_at`), or
    `cancelled` with a reason; `answered` once, with the score and comment;
    `invalidated` when the intervention is reopened after it was sent (its
    link answers 410)."""
    __tablename__ = "surveys"
    __table_args__ = (sa.UniqueConstraint("event_id"),)
    id: Mapped[str] = mapped_column(UUID(as_uuid=False), primary_key=True,
                                    default=lambda: str(uuid.uuid4()))
    event_id: Mapped[str] = mapped_column(UUID(as_uuid=False))  # the intervention.delivered
    token_hash: Mapped[str | None] = mapped_column(unique=True)
    intervention_id: Mapped[str] = mapped_column(UUID(as_uuid=False))
    intervention_version: Mapped[int | None]
    company_id: Mapped[str | None] = mapped_column(UUID(as_uuid=False))
    technician_id: Mapped[str | None] = mapped_column(UUID(as_uuid=False))
    client_id: Mapped[str | None] = mapped_column(UUID(as_uuid=False))
    recipient: Mapped[str]
    language: Mapped[str]
    context: Mapped[dict] = mapped_column(JSONB, default=dict)  # what the email shows
    due_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    sent_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    expires_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    status: Mapped[str] = mapped_column(default="scheduled")
    cancel_reason: Mapped[str | None]
    invalidated_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    score: Mapped[int | None]
    comment: Mapped[str | None]
    answered_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True),
                                                 server_default=sa.func.now())
