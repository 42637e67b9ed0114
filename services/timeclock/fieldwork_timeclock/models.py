"""Tables of the timeclock database (docs/timeclock.md).

The rules a clocking must obey are in the database, not only in code
(migration 0004): a worker has at most one open clock-in (`open_clockins`,
keyed by the worker); an `out` names the `in` it closes, of the same visit
and worker (a composite foreign key), and an `in` is closed at most once by
a clocking in force (a partial unique index); a rotating QR code is used
once (`used_codes`); a tag's counter only goes up (`nfc_tags.last_counter`,
changed under a row lock)."""
import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from fieldwork_common.intervention_copies import KnownInterventionColumns


def new_id():
    return str(uuid.uuid4())


class Base(DeclarativeBase):
    type_annotation_map = {str: sa.Text}


def uuid_column(*args, **kw):
    return mapped_column(UUID(as_uuid=False), *args, **kw)


def instant(**kw):
    return mapped_column(sa.DateTime(timezone=True), **kw)


class KnownIntervention(KnownInterventionColumns, Base):
    """This service's copy of each intervention (fieldwork_common.intervention_copies)."""


class KnownVisit(Base):
    """This service's copy of each visit, from the visit events (it never
    goes back to an older version). `planned_*` are the planning's times
    (visit.planned / visit.rescheduled), `start_at`/`end_at` the times in
    force (the worker's once declared)."""
    __tablename__ = "known_visits"
    id: Mapped[str] = uuid_column(primary_key=True)
    intervention_id: Mapped[str] = uuid_column()
    company_id: Mapped[str] = uuid_column()
    client_id: Mapped[str] = uuid_column()
    technician_id: Mapped[str] = uuid_column()
    type_id: Mapped[str] = uuid_column()
    site_id: Mapped[str | None] = uuid_column(nullable=True)
    place_id: Mapped[str] = uuid_column(sa.ForeignKey("places.id"))
    state: Mapped[str]
    planned_start_at: Mapped[datetime] = instant()
    planned_end_at: Mapped[datetime] = instant()
    start_at: Mapped[datetime] = instant()
    end_at: Mapped[datetime] = instant()
    reference: Mapped[str | None]
    # the company, client, technician and type as the visit events carry them
    contacts: Mapped[dict] = mapped_column(JSONB, default=dict)
    version: Mapped[int]
    updated_at: Mapped[datetime] = instant(server_default=sa.func.now())


class Place(Base):
    """Where visits happen: a client's home (`site_id` null) or one of its
    sites. It carries its position (for geolocation), its signing key (QR
    codes) and its NFC tags. Made when the first visit there is known."""
    __tablename__ = "places"
    id: Mapped[str] = uuid_column(primary_key=True, default=new_id)
    company_id: Mapped[str] = uuid_column()
    client_id: Mapped[str] = uuid_column()
    site_id: Mapped[str | None] = uuid_column(nullable=True)
    label: Mapped[str | None]
    lat: Mapped[float | None] = mapped_column(sa.Float)
    lon: Mapped[float | None] = mapped_column(sa.Float)
    radius_m: Mapped[int | None]
    key: Mapped[bytes] = mapped_column(sa.LargeBinary)
    key_version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = instant(server_default=sa.func.now())
    version: Mapped[int] = mapped_column(default=1)


class NfcTag(Base):
    """A tag registered at a place; `last_counter` is the highest counter it
    has sent (a tag that sends one must send a higher one each time)."""
    __tablename__ = "nfc_tags"
    id: Mapped[str] = uuid_column(primary_key=True, default=new_id)
    place_id: Mapped[str] = uuid_column(sa.ForeignKey("places.id"))
    company_id: Mapped[str] = uuid_column()
    uid: Mapped[str]
    label: Mapped[str | None]
    last_counter: Mapped[int | None] = mapped_column(sa.BigInteger)
    active: Mapped[bool] = mapped_column(sa.Boolean, default=True)
    created_at: Mapped[datetime] = instant(server_default=sa.func.now())
    version: Mapped[int] = mapped_column(default=1)


class UsedCode(Base):
    """A rotating QR code (one per place and 30-second step) once used."""
    __tablename__ = "used_codes"
    place_id: Mapped[str] = uuid_column(sa.ForeignKey("places.id"), primary_key=True)
    step: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)
    clocking_id: Mapped[str] = uuid_column()
    used_at: Mapped[datetime] = instant(server_default=sa.func.now())


class ClockingSettings(Base):
    """A company's timeclock settings (`type_id` null), and a service's
    (an intervention type's) overrides: a null column follows the
    company's (domain/clockings.effective_settings)."""
    __tablename__ = "clocking_settings"
    id: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(), primary_key=True)
    company_id: Mapped[str] = uuid_column()
    type_id: Mapped[str | None] = uuid_column(nullable=True)
    values: Mapped[dict] = mapped_column(JSONB, default=dict)
    updated_at: Mapped[datetime] = instant(server_default=sa.func.now())
    updated_by: Mapped[str | None]
    version: Mapped[int] = mapped_column(default=1)


class Clocking(Base):
    """One clock-in or clock-out, as evidence: the device's time and the
    server's, how (manual, qr, nfc), where (the position and what it says),
    the flags it raised. Never overwritten: a manager's correction is a new
    row that `supersedes` it (`superseded_by` then names it); a decision
    (validated/rejected) is recorded on the row in force."""
    __tablename__ = "clockings"
    id: Mapped[str] = uuid_column(primary_key=True, default=new_id)
    visit_id: Mapped[str] = uuid_column(sa.ForeignKey("known_visits.id"))
    technician_id: Mapped[str] = uuid_column()
    company_id: Mapped[str] = uuid_column()
    client_id: Mapped[str] = uuid_column()
    place_id: Mapped[str] = uuid_column()
    kind: Mapped[str]  # in, out
    method: Mapped[str]  # manual, qr, nfc, correction
    in_id: Mapped[str | None] = uuid_column(nullable=True)  # an out: the in it closes
    at: Mapped[datetime] = instant()  # the time it counts for
    device_time: Mapped[datetime | None] = instant(nullable=True)
    server_time: Mapped[datetime] = instant()
    lat: Mapped[float | None] = mapped_column(sa.Float)
    lon: Mapped[float | None] = mapped_column(sa.Float)
    accuracy_m: Mapped[float | None] = mapped_column(sa.Float)
    distance_m: Mapped[float | None] = mapped_column(sa.Float)
    geo_status: Mapped[str | None]  # inside, outside, imprecise, no_position, place_unknown
    nfc_tag_id: Mapped[str | None] = uuid_column(nullable=True)
    flags: Mapped[list] = mapped_column(ARRAY(sa.Text), default=list)
    status: Mapped[str] = mapped_column(default="recorded")  # recorded, validated, rejected, superseded
    supersedes: Mapped[str | None] = uuid_column(nullable=True)
    superseded_by: Mapped[str | None] = uuid_column(nullable=True)
    reason: Mapped[str | None]  # of a correction, or a staff entry
    decision_reason: Mapped[str | None]
    decided_by: Mapped[str | None]
    decided_at: Mapped[datetime | None] = instant(nullable=True)
    created_by: Mapped[str]
    created_by_role: Mapped[str]
    created_at: Mapped[datetime] = instant(server_default=sa.func.now())
    version: Mapped[int] = mapped_column(default=1)


class OpenClockIn(Base):
    """The open clock-in of a worker, at most one (the primary key): an `in`
    makes it, the `out` that closes it removes it, in their transactions."""
    __tablename__ = "open_clockins"
    technician_id: Mapped[str] = uuid_column(primary_key=True)
    visit_id: Mapped[str] = uuid_column()
    clocking_id: Mapped[str] = uuid_column()
    since: Mapped[datetime] = instant()


class IncidentReason(Base):
    """A reason a service (an intervention type) of a company offers, at the
    start and/or the end of its visits; `code` unique per service."""
    __tablename__ = "incident_reasons"
    id: Mapped[str] = uuid_column(primary_key=True, default=new_id)
    company_id: Mapped[str] = uuid_column()
    type_id: Mapped[str] = uuid_column()
    code: Mapped[str]
    label: Mapped[str]
    at_start: Mapped[bool] = mapped_column(sa.Boolean)
    at_end: Mapped[bool] = mapped_column(sa.Boolean)
    position: Mapped[int] = mapped_column(default=0)
    active: Mapped[bool] = mapped_column(sa.Boolean, default=True)
    created_at: Mapped[datetime] = instant(server_default=sa.func.now())
    version: Mapped[int] = mapped_column(default=1)


class Incident(Base):
    """An incident declared on a visit by its worker, its client or staff
    (domain/incidents.py: the window, the moves); `clocking_id` when it
    came with a clocking (combined mode)."""
    __tablename__ = "incidents"
    id: Mapped[str] = uuid_column(primary_key=True, default=new_id)
    visit_id: Mapped[str] = uuid_column(sa.ForeignKey("known_visits.id"))
    company_id: Mapped[str] = uuid_column()
    client_id: Mapped[str] = uuid_column()
    technician_id: Mapped[str] = uuid_column()
    type_id: Mapped[str] = uuid_column()
    reason_id: Mapped[str] = uuid_column(sa.ForeignKey("incident_reasons.id"))
    moment: Mapped[str]
    description: Mapped[str | None]
    state: Mapped[str] = mapped_column(default="open")
    clocking_id: Mapped[str | None] = uuid_column(sa.ForeignKey("clockings.id"), nullable=True)
    author_id: Mapped[str]
    author_role: Mapped[str]
    created_at: Mapped[datetime] = instant(server_default=sa.func.now())
    state_since: Mapped[datetime] = instant()
    version: Mapped[int] = mapped_column(default=1)


class IncidentEntry(Base):
    """Each state an incident took, who and when, and why."""
    __tablename__ = "incident_entries"
    id: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(), primary_key=True)
    incident_id: Mapped[str] = uuid_column(sa.ForeignKey("incidents.id"))
    from_state: Mapped[str | None]
    to_state: Mapped[str]
    reason: Mapped[str | None]
    by: Mapped[str]
    by_role: Mapped[str]
    at: Mapped[datetime] = instant()


class Conversation(Base):
    """The conversation an incident opens between its visit's client, its
    worker and the provider (the company's staff)."""
    __tablename__ = "conversations"
    id: Mapped[str] = uuid_column(primary_key=True, default=new_id)
    incident_id: Mapped[str] = uuid_column(sa.ForeignKey("incidents.id"), unique=True)
    visit_id: Mapped[str] = uuid_column()
    company_id: Mapped[str] = uuid_column()
    client_id: Mapped[str] = uuid_column()
    technician_id: Mapped[str] = uuid_column()
    created_at: Mapped[datetime] = instant(server_default=sa.func.now())
    last_message_at: Mapped[datetime | None] = instant(nullable=True)


class Message(Base):
    """A message of a conversation; `internal` ones (staff's) are never
    shown to the client; `file_ids` name files of the files store."""
    __tablename__ = "messages"
    id: Mapped[str] = uuid_column(primary_key=True, default=new_id)
    conversation_id: Mapped[str] = uuid_column(sa.ForeignKey("conversations.id"))
    author_id: Mapped[str]
    author_role: Mapped[str]
    body: Mapped[str]
    internal: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    file_ids: Mapped[list] = mapped_column(ARRAY(UUID(as_uuid=False)), default=list)
    created_at: Mapped[datetime] = instant(server_default=sa.func.now())
