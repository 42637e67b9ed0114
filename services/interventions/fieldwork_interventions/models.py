"""SQLAlchemy tables of the interventions database."""
import uuid
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def new_id():
    return str(uuid.uuid4())


class Base(DeclarativeBase):
    type_annotation_map = {str: sa.Text}


def id_column():
    return mapped_column(UUID(as_uuid=False), primary_key=True, default=new_id)


def ref(target, nullable=False):
    return mapped_column(UUID(as_uuid=False), sa.ForeignKey(target), nullable=nullable)


def created_at():
    return mapped_column(sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now())


def active():
    """Master data is deactivated, never deleted once referenced."""
    return mapped_column(sa.Boolean, nullable=False, default=True, server_default=sa.true())


class Settings(Base):
    """One row (id = 1): platform-wide settings. When multi-company is off,
    everything belongs to the main company."""
    __tablename__ = "settings"
    id: Mapped[int] = mapped_column(primary_key=True, default=1)
    multi_company: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=True)
    main_company_id: Mapped[str | None] = ref("companies.id", nullable=True)
    version: Mapped[int] = mapped_column(default=1)


class Company(Base):
    __tablename__ = "companies"
    id: Mapped[str] = id_column()
    name: Mapped[str]
    email: Mapped[str | None]
    phone: Mapped[str | None]
    address: Mapped[str | None]
    # emails a satisfaction survey to the client when an intervention is delivered
    survey_enabled: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=False)
    # visits (issue 10, docs/visits.md): the portal validation module, the
    # days before a reminder, tacit validation, the kilometres a visit may carry
    portal_validation: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=False)
    validation_reminder_days: Mapped[int] = mapped_column(default=3)
    tacit_validation: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=False)
    max_visit_km: Mapped[int] = mapped_column(default=1000)
    active: Mapped[bool] = active()
    created_at: Mapped[datetime] = created_at()
    version: Mapped[int] = mapped_column(default=1)


class Technician(Base):
    """A technician belongs to one company (`company_id`) and may work for
    others too (`technician_companies`)."""
    __tablename__ = "technicians"
    id: Mapped[str] = id_column()
    name: Mapped[str]
    email: Mapped[str]
    phone: Mapped[str | None]
    company_id: Mapped[str] = ref("companies.id")
    active: Mapped[bool] = active()
    created_at: Mapped[datetime] = created_at()
    version: Mapped[int] = mapped_column(default=1)


technician_companies = sa.Table(
    "technician_companies", Base.metadata,
    sa.Column("technician_id", UUID(as_uuid=False), sa.ForeignKey("technicians.id"), primary_key=True),
    sa.Column("company_id", UUID(as_uuid=False), sa.ForeignKey("companies.id"), primary_key=True),
)


class Client(Base):
    __tablename__ = "clients"
    id: Mapped[str] = id_column()
    name: Mapped[str]
    email: Mapped[str]
    phone: Mapped[str | None]
    address: Mapped[str | None]
    locale: Mapped[str] = mapped_column(default="fr")
    company_id: Mapped[str] = ref("companies.id")
    active: Mapped[bool] = active()
    created_at: Mapped[datetime] = created_at()
    version: Mapped[int] = mapped_column(default=1)


class Site(Base):
    """A place of a client's where interventions happen (`on_site`)."""
    __tablename__ = "sites"
    id: Mapped[str] = id_column()
    client_id: Mapped[str] = ref("clients.id")
    name: Mapped[str]
    address: Mapped[str | None]
    active: Mapped[bool] = active()
    created_at: Mapped[datetime] = created_at()
    version: Mapped[int] = mapped_column(default=1)


class InterventionType(Base):
    __tablename__ = "intervention_types"
    id: Mapped[str] = id_column()
    name: Mapped[str]
    location: Mapped[str]
    active: Mapped[bool] = active()
    created_at: Mapped[datetime] = created_at()
    version: Mapped[int] = mapped_column(default=1)


class Equipment(Base):
    __tablename__ = "equipment"
    id: Mapped[str] = id_column()
    client_id: Mapped[str] = ref("clients.id")
    site_id: Mapped[str | None] = ref("sites.id", nullable=True)
    kind: Mapped[str]
    brand: Mapped[str | None]
    model: Mapped[str | None]
    serial_number: Mapped[str | None]
    active: Mapped[bool] = active()
    created_at: Mapped[datetime] = created_at()
    version: Mapped[int] = mapped_column(default=1)


class Contract(Base):
    """A client's contract: draft → validated → active → ended."""
    __tablename__ = "contracts"
    id: Mapped[str] = id_column()
    client_id: Mapped[str] = ref("clients.id")
    company_id: Mapped[str] = ref("companies.id")
    reference: Mapped[str]
    billable: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=True)
    state: Mapped[str] = mapped_column(default="draft")
    starts_on: Mapped[date | None] = mapped_column(sa.Date)
    ends_on: Mapped[date | None] = mapped_column(sa.Date)
    active: Mapped[bool] = active()
    created_at: Mapped[datetime] = created_at()
    version: Mapped[int] = mapped_column(default=1)


class Status(Base):
    """The catalog of statuses an admin prepares beforehand; an intervention
    in the workshop shows one of them (seed 000)."""
    __tablename__ = "statuses"
    id: Mapped[str] = id_column()
    label: Mapped[str]
    colour: Mapped[str] = mapped_column(default="#808080")  # #rrggbb
    position: Mapped[int] = mapped_column(default=0)
    active: Mapped[bool] = active()
    created_at: Mapped[datetime] = created_at()
    version: Mapped[int] = mapped_column(default=1)


class Intervention(Base):
    # Indexes (migrations 0001/0002, for the lists' keyset on (created_at, id)):
    # (created_at, id); (company_id | client_id | technician_id, created_at, id);
    # (step | state, created_at, id); (company_id, step | state, created_at, id);
    # pickup_at where set (the calendar).
    __tablename__ = "interventions"
    id: Mapped[str] = id_column()
    company_id: Mapped[str] = ref("companies.id")
    client_id: Mapped[str] = ref("clients.id")
    equipment_id: Mapped[str] = ref("equipment.id")
    type_id: Mapped[str] = ref("intervention_types.id")
    technician_id: Mapped[str] = ref("technicians.id")
    site_id: Mapped[str | None] = ref("sites.id", nullable=True)
    contract_id: Mapped[str | None] = ref("contracts.id", nullable=True)
    location: Mapped[str]
    description: Mapped[str] = mapped_column(default="")
    step: Mapped[str | None]
    state: Mapped[str] = mapped_column(default="open")  # open, closed, completed
    status_id: Mapped[str | None] = ref("statuses.id", nullable=True)
    diagnostic: Mapped[str | None]
    tests_performed: Mapped[list] = mapped_column(JSONB, nullable=False, default=list,
                                                  server_default=sa.text("'[]'::jsonb"))
    pickup_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    pickup_kind: Mapped[str | None]  # pickup (the client comes) or delivery (we bring it)
    closed_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    completed_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    created_by: Mapped[str]
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), nullable=False,
                                                 server_default=sa.func.now())
    version: Mapped[int] = mapped_column(default=1)


class HistoryEntry(Base):
    """Every change of an intervention, with its author and time:
    `kind` is created, step, status, status_reset, assignment, fields,
    reopened or attachment; `data` says what changed."""
    __tablename__ = "intervention_history"
    id: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(), primary_key=True)
    intervention_id: Mapped[str] = ref("interventions.id")
    kind: Mapped[str]
    data: Mapped[dict] = mapped_column(JSONB, nullable=False, default=dict)
    author_id: Mapped[str]
    author_role: Mapped[str]
    at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), nullable=False,
                                         server_default=sa.func.now())


class AccessToken(Base):
    """Unguessable tokens for pages opened without login: a client's
    tracking page (`kind` tracking, `subject_id` the intervention) and the
    calendar feeds apps subscribe to (`kind` calendar_technician or
    calendar_company). Only a SHA-256 of the token is kept."""
    __tablename__ = "access_tokens"
    token_hash: Mapped[str] = mapped_column(primary_key=True)
    kind: Mapped[str]
    subject_id: Mapped[str] = mapped_column(UUID(as_uuid=False))
    expires_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    revoked: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=False)
    created_by: Mapped[str | None]
    created_at: Mapped[datetime] = created_at()


class File(Base):
    """A file's metadata (docs/files.md); its bytes are in the object store
    under `original_key` (and, for JPEG, PNG and WebP images, a thumbnail
    and a copy without EXIF/GPS for clients). `kind`: photo, video,
    document or signature; `content_type` was detected from the bytes."""
    __tablename__ = "files"
    id: Mapped[str] = id_column()
    company_id: Mapped[str] = ref("companies.id")
    uploaded_by: Mapped[str]          # the login (user id) that uploaded it
    uploaded_by_role: Mapped[str]
    kind: Mapped[str]
    content_type: Mapped[str]
    size: Mapped[int] = mapped_column(sa.BigInteger)
    sha256: Mapped[str]
    original_name: Mapped[str | None]
    original_key: Mapped[str]
    thumbnail_key: Mapped[str | None]
    client_key: Mapped[str | None]
    created_at: Mapped[datetime] = created_at()


class Attachment(Base):
    """A file attached to an intervention; a client sees it only when
    `visible_to_client`."""
    __tablename__ = "intervention_attachments"
    intervention_id: Mapped[str] = mapped_column(UUID(as_uuid=False), sa.ForeignKey("interventions.id"),
                                                 primary_key=True)
    file_id: Mapped[str] = mapped_column(UUID(as_uuid=False), sa.ForeignKey("files.id"),
                                         primary_key=True)
    visible_to_client: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=False)
    attached_by: Mapped[str]
    attached_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), nullable=False,
                                                  server_default=sa.func.now())


class VisitReason(Base):
    """The reasons a company's admins configure (issue 10): `kind` refusal
    (a client disputes a visit) or cancellation (a visit is cancelled)."""
    __tablename__ = "visit_reasons"
    id: Mapped[str] = id_column()
    company_id: Mapped[str] = ref("companies.id")
    kind: Mapped[str]
    label: Mapped[str]
    position: Mapped[int] = mapped_column(default=0)
    active: Mapped[bool] = active()
    created_at: Mapped[datetime] = created_at()
    version: Mapped[int] = mapped_column(default=1)


class Visit(Base):
    """A visit of an at_home or on_site intervention (seed 001, docs/visits.md):
    planned with its times, worker and billable contract, then declared by
    the worker, validated (or disputed) by the client, settled by a manager.
    `start_at`, `end_at` and `km` are the values in force (the planning);
    every value ever proposed is a VisitEntry. `waiting_since`: when the
    visit began to wait for someone (its end while planned, its last move
    after; null once validated or cancelled): the validation board reads it."""
    __tablename__ = "visits"
    id: Mapped[str] = id_column()
    intervention_id: Mapped[str] = ref("interventions.id")
    company_id: Mapped[str] = ref("companies.id")
    client_id: Mapped[str] = ref("clients.id")
    technician_id: Mapped[str] = ref("technicians.id")
    type_id: Mapped[str] = ref("intervention_types.id")
    contract_id: Mapped[str] = ref("contracts.id")
    state: Mapped[str] = mapped_column(default="planned")
    start_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    end_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    km: Mapped[object | None] = mapped_column(sa.Numeric(7, 1))
    comment: Mapped[str | None]
    mission_order: Mapped[str | None]
    created_by_worker: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=False)
    series_id: Mapped[str | None] = mapped_column(UUID(as_uuid=False))
    reason_id: Mapped[str | None] = ref("visit_reasons.id", nullable=True)
    state_since: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    waiting_since: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    declared_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    declared_by: Mapped[str | None]
    validated_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    validated_by: Mapped[str | None]
    validation_mode: Mapped[str | None]  # client, on_behalf, tacit, arbitrated
    on_behalf_of: Mapped[str | None] = mapped_column(UUID(as_uuid=False))
    created_by: Mapped[str]
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), nullable=False,
                                                 server_default=sa.func.now())
    version: Mapped[int] = mapped_column(default=1)


class VisitEntry(Base):
    """One move of a visit, with the values it proposed or fixed, who and
    when: the visit's history. `accepted`: true when its values were
    applied, false when they were turned down, null while a client's
    correction waits for an answer or when the move carries no values."""
    __tablename__ = "visit_entries"
    id: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(), primary_key=True)
    visit_id: Mapped[str] = ref("visits.id")
    move: Mapped[str]
    from_state: Mapped[str | None]
    to_state: Mapped[str]
    start_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    end_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    km: Mapped[object | None] = mapped_column(sa.Numeric(7, 1))
    technician_id: Mapped[str | None] = mapped_column(UUID(as_uuid=False))
    reason_id: Mapped[str | None] = mapped_column(UUID(as_uuid=False))
    comment: Mapped[str | None]
    decision: Mapped[str | None]
    accepted: Mapped[bool | None] = mapped_column(sa.Boolean)
    author_id: Mapped[str]
    author_role: Mapped[str]
    on_behalf_of: Mapped[str | None] = mapped_column(UUID(as_uuid=False))
    at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), nullable=False,
                                         server_default=sa.func.now())


class ChecklistTemplate(Base):
    """A version of the checklist of an intervention type (reports wing,
    docs/reports.md); a new version never changes a started checklist."""
    __tablename__ = "checklist_templates"
    id: Mapped[str] = id_column()
    type_id: Mapped[str] = ref("intervention_types.id")
    version: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    items: Mapped[list] = mapped_column(JSONB, nullable=False)
    created_by: Mapped[str] = mapped_column(sa.Text, nullable=False)
    created_at: Mapped[datetime] = created_at()


class InterventionChecklist(Base):
    """The checklist of an intervention: the template version it started on."""
    __tablename__ = "intervention_checklists"
    intervention_id: Mapped[str] = mapped_column(UUID(as_uuid=False),
                                                 sa.ForeignKey("interventions.id"), primary_key=True)
    template_id: Mapped[str] = ref("checklist_templates.id")
    started_by: Mapped[str] = mapped_column(sa.Text, nullable=False)
    started_at: Mapped[datetime] = created_at()


class ChecklistAnswer(Base):
    """The answer in force to one item."""
    __tablename__ = "checklist_answers"
    intervention_id: Mapped[str] = mapped_column(
        UUID(as_uuid=False), sa.ForeignKey("intervention_checklists.intervention_id"),
        primary_key=True)
    item_key: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    value: Mapped[object] = mapped_column(JSONB, nullable=False)
    note: Mapped[str | None] = mapped_column(sa.Text)
    flagged: Mapped[bool] = mapped_column(sa.Boolean, nullable=False)
    answered_by: Mapped[str] = mapped_column(sa.Text, nullable=False)
    answered_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), nullable=False)


class ChecklistAnswerEntry(Base):
    """Every answer given, in order."""
    __tablename__ = "checklist_answer_entries"
    id: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(), primary_key=True)
    intervention_id: Mapped[str] = ref("intervention_checklists.intervention_id")
    item_key: Mapped[str] = mapped_column(sa.Text, nullable=False)
    value: Mapped[object] = mapped_column(JSONB, nullable=False)
    note: Mapped[str | None] = mapped_column(sa.Text)
    flagged: Mapped[bool] = mapped_column(sa.Boolean, nullable=False)
    answered_by: Mapped[str] = mapped_column(sa.Text, nullable=False)
    answered_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), nullable=False)


class InterventionComment(Base):
    """A comment on an intervention: internal, or visible to the client."""
    __tablename__ = "intervention_comments"
    id: Mapped[str] = id_column()
    intervention_id: Mapped[str] = ref("interventions.id")
    body: Mapped[str] = mapped_column(sa.Text, nullable=False)
    visible_to_client: Mapped[bool] = mapped_column(sa.Boolean, nullable=False)
    author_id: Mapped[str] = mapped_column(sa.Text, nullable=False)
    author_role: Mapped[str] = mapped_column(sa.Text, nullable=False)
    at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), nullable=False)


class Measurement(Base):
    """A measurement taken on site, with its accepted range (flagged outside it)."""
    __tablename__ = "measurements"
    id: Mapped[str] = id_column()
    intervention_id: Mapped[str] = ref("interventions.id")
    parameter: Mapped[str] = mapped_column(sa.Text, nullable=False)
    unit: Mapped[str | None] = mapped_column(sa.Text)
    value: Mapped[float] = mapped_column(sa.Float, nullable=False)
    min: Mapped[float | None] = mapped_column(sa.Float)
    max: Mapped[float | None] = mapped_column(sa.Float)
    flagged: Mapped[bool] = mapped_column(sa.Boolean, nullable=False)
    note: Mapped[str | None] = mapped_column(sa.Text)
    by: Mapped[str] = mapped_column(sa.Text, nullable=False)
    at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), nullable=False)
