"""Tables of the requests database (docs/requests.md)."""
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from fieldwork_common.intervention_copies import KnownInterventionColumns


class Base(DeclarativeBase):
    type_annotation_map = {str: sa.Text}


class KnownIntervention(KnownInterventionColumns, Base):
    """This service's copy of each intervention (fieldwork_common.intervention_copies)."""


def uuid_column(*args, **kw):
    return mapped_column(UUID(as_uuid=False), *args, **kw)


def instant(**kw):
    return mapped_column(sa.DateTime(timezone=True), **kw)


class RequestType(Base):
    """A type of request a company offers (the list is configured per company)."""
    __tablename__ = "request_types"
    id: Mapped[str] = uuid_column(primary_key=True)
    company_id: Mapped[str] = uuid_column()
    label: Mapped[str]
    position: Mapped[int] = mapped_column(default=0)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = instant(server_default=sa.func.now())
    version: Mapped[int] = mapped_column(default=1)


class RequestCounter(Base):
    __tablename__ = "request_counters"
    company_id: Mapped[str] = uuid_column(primary_key=True)
    year: Mapped[int] = mapped_column(primary_key=True)
    last: Mapped[int]


class Request(Base):
    __tablename__ = "requests"
    id: Mapped[str] = uuid_column(primary_key=True)
    company_id: Mapped[str] = uuid_column()
    client_id: Mapped[str] = uuid_column()
    number: Mapped[str]
    type_id: Mapped[str] = uuid_column(sa.ForeignKey("request_types.id"))
    source: Mapped[str]
    symptom: Mapped[str | None]
    description: Mapped[str | None]
    site_id: Mapped[str | None] = uuid_column(nullable=True)
    status: Mapped[str] = mapped_column(default="new")
    created_by: Mapped[str]
    created_by_role: Mapped[str]
    created_by_technician_id: Mapped[str | None] = uuid_column(nullable=True)
    created_at: Mapped[datetime] = instant()
    updated_at: Mapped[datetime] = instant()
    closed_at: Mapped[datetime | None] = instant(nullable=True)
    version: Mapped[int] = mapped_column(default=1)
    #: the client's and company's names and addresses, as the events carry them
    contacts: Mapped[dict] = mapped_column(JSONB, default=dict)


class RequestSettings(Base):
    """A company's settings of its requests (defaults in domain/requests.py)."""
    __tablename__ = "request_settings"
    company_id: Mapped[str] = uuid_column(primary_key=True)
    reopen_days: Mapped[int]
    auto_close_days: Mapped[int | None]
    version: Mapped[int] = mapped_column(default=1)
    updated_at: Mapped[datetime] = instant(server_default=sa.func.now())
    updated_by: Mapped[str | None]


class RequestAction(Base):
    """A message to the end customer with a status, or (status null,
    internal) a note the client never sees."""
    __tablename__ = "request_actions"
    id: Mapped[str] = uuid_column(primary_key=True)
    request_id: Mapped[str] = uuid_column(sa.ForeignKey("requests.id"))
    status: Mapped[str | None]
    message: Mapped[str]
    channel: Mapped[str | None]
    internal: Mapped[bool]
    by: Mapped[str]
    by_role: Mapped[str]
    at: Mapped[datetime] = instant()


class RequestHistory(Base):
    """What happened to a request, in order; rows are only added."""
    __tablename__ = "request_history"
    id: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(), primary_key=True)
    request_id: Mapped[str] = uuid_column(sa.ForeignKey("requests.id"))
    kind: Mapped[str]
    details: Mapped[dict] = mapped_column(JSONB, default=dict)
    internal: Mapped[bool] = mapped_column(default=False)
    by: Mapped[str]
    by_role: Mapped[str]
    at: Mapped[datetime] = instant()


class RequestEquipment(Base):
    """An equipment line of a request, with its own symptom; a removed line
    stays (removed_at) for the history."""
    __tablename__ = "request_equipment"
    id: Mapped[str] = uuid_column(primary_key=True)
    request_id: Mapped[str] = uuid_column(sa.ForeignKey("requests.id"))
    equipment_id: Mapped[str] = uuid_column()
    symptom: Mapped[str | None]
    added_by: Mapped[str]
    added_at: Mapped[datetime] = instant()
    removed_at: Mapped[datetime | None] = instant(nullable=True)


class RequestDocument(Base):
    __tablename__ = "request_documents"
    id: Mapped[str] = uuid_column(primary_key=True)
    request_id: Mapped[str] = uuid_column(sa.ForeignKey("requests.id"))
    file_id: Mapped[str] = uuid_column()
    visible_to_client: Mapped[bool]
    by: Mapped[str]
    by_role: Mapped[str]
    at: Mapped[datetime] = instant()


class RequestIntervention(Base):
    """An intervention created from a request, its state kept current from
    the intervention events (never older than `version`)."""
    __tablename__ = "request_interventions"
    intervention_id: Mapped[str] = uuid_column(primary_key=True)
    request_id: Mapped[str] = uuid_column(sa.ForeignKey("requests.id"))
    location: Mapped[str]
    state: Mapped[str]
    step: Mapped[str | None]
    version: Mapped[int]
    created_at: Mapped[datetime] = instant()
    updated_at: Mapped[datetime] = instant()


class EquipmentReturn(Base):
    """A return of the client's equipment (to the workshop or a supplier),
    created from a request: requested → received → sent back → closed."""
    __tablename__ = "equipment_returns"
    id: Mapped[str] = uuid_column(primary_key=True)
    request_id: Mapped[str] = uuid_column(sa.ForeignKey("requests.id"))
    company_id: Mapped[str] = uuid_column()
    client_id: Mapped[str] = uuid_column()
    equipment_id: Mapped[str] = uuid_column()
    destination: Mapped[str]
    supplier: Mapped[str | None]
    note: Mapped[str | None]
    state: Mapped[str] = mapped_column(default="requested")
    intervention_id: Mapped[str | None] = uuid_column(nullable=True)
    created_by: Mapped[str]
    created_at: Mapped[datetime] = instant()
    updated_at: Mapped[datetime] = instant()
    version: Mapped[int] = mapped_column(default=1)
