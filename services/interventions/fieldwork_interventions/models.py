"""SQLAlchemy tables of the interventions database."""
import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def new_id():
    return str(uuid.uuid4())


class Base(DeclarativeBase):
    type_annotation_map = {str: sa.Text}


def id_column():
    return mapped_column(UUID(as_uuid=False), primary_key=True, default=new_id)


def ref(target):
    return mapped_column(UUID(as_uuid=False), sa.ForeignKey(target), nullable=False)


def created_at():
    return mapped_column(sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now())


class Company(Base):
    __tablename__ = "companies"
    id: Mapped[str] = id_column()
    name: Mapped[str]
    created_at: Mapped[datetime] = created_at()


class Technician(Base):
    __tablename__ = "technicians"
    id: Mapped[str] = id_column()
    name: Mapped[str]
    email: Mapped[str]
    company_id: Mapped[str] = ref("companies.id")
    created_at: Mapped[datetime] = created_at()


class Client(Base):
    __tablename__ = "clients"
    id: Mapped[str] = id_column()
    name: Mapped[str]
    email: Mapped[str]
    locale: Mapped[str] = mapped_column(default="fr")
    company_id: Mapped[str] = ref("companies.id")
    created_at: Mapped[datetime] = created_at()


class InterventionType(Base):
    __tablename__ = "intervention_types"
    id: Mapped[str] = id_column()
    name: Mapped[str]
    location: Mapped[str]
    created_at: Mapped[datetime] = created_at()


class Equipment(Base):
    __tablename__ = "equipment"
    id: Mapped[str] = id_column()
    client_id: Mapped[str] = ref("clients.id")
    kind: Mapped[str]
    brand: Mapped[str | None]
    model: Mapped[str | None]
    serial_number: Mapped[str | None]
    created_at: Mapped[datetime] = created_at()


class Intervention(Base):
    __tablename__ = "interventions"
    id: Mapped[str] = id_column()
    company_id: Mapped[str] = ref("companies.id")
    client_id: Mapped[str] = ref("clients.id")
    equipment_id: Mapped[str] = ref("equipment.id")
    type_id: Mapped[str] = ref("intervention_types.id")
    technician_id: Mapped[str] = ref("technicians.id")
    location: Mapped[str]
    description: Mapped[str] = mapped_column(default="")
    step: Mapped[str | None]
    state: Mapped[str] = mapped_column(default="open")
    created_by: Mapped[str]
    created_at: Mapped[datetime] = created_at()
    version: Mapped[int] = mapped_column(default=1)
