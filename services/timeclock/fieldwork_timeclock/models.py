"""Tables of the timeclock database."""
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    type_annotation_map = {str: sa.Text}


class KnownIntervention(Base):
    """The little this service keeps of each intervention, fed by
    `intervention.created` and kept up to date by `intervention.assigned`:
    enough to check who may act on it without calling the interventions
    service."""
    __tablename__ = "known_interventions"
    id: Mapped[str] = mapped_column(UUID(as_uuid=False), primary_key=True)
    company_id: Mapped[str] = mapped_column(UUID(as_uuid=False))
    client_id: Mapped[str] = mapped_column(UUID(as_uuid=False))
    technician_id: Mapped[str] = mapped_column(UUID(as_uuid=False))
    location: Mapped[str]
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    # the intervention's version (bumped by each change at the source): an
    # event older than the copy never overwrites it
    version: Mapped[int] = mapped_column(sa.Integer, server_default=sa.text("1"))
