"""A service's local copy of interventions (requests, timeclock): enough
to check who may act on one without calling the interventions service.
The table's columns, and the two handlers that keep it: fed by
`intervention.created`, following `intervention.assigned`, never going back
to an older version (see projection.py)."""
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from fieldwork_common.consumer import event_handler
from fieldwork_common.projection import follow_assignment, store_copy


class KnownInterventionColumns:
    """Mixed into the service's `KnownIntervention` model (its own Base, its
    own migrations)."""
    __tablename__ = "known_interventions"
    id: Mapped[str] = mapped_column(UUID(as_uuid=False), primary_key=True)
    company_id: Mapped[str] = mapped_column(UUID(as_uuid=False))
    client_id: Mapped[str] = mapped_column(UUID(as_uuid=False))
    technician_id: Mapped[str] = mapped_column(UUID(as_uuid=False))
    location: Mapped[str] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    # the intervention's version (bumped by each change at the source): an
    # event older than the copy never overwrites it
    version: Mapped[int] = mapped_column(sa.Integer, server_default=sa.text("1"))


class FollowsInterventions:
    """Mixed into a service that has `name`, `db` and `copy_model` (its
    KnownIntervention model)."""

    @event_handler("interventions", "intervention.created")
    def on_intervention_created(self, envelope):
        """Keeps the intervention's technician, client and company."""
        store_copy(self.db, envelope, self.copy_model, f"{self.name}.on_intervention_created",
                   version_column="version")

    @event_handler("interventions", "intervention.assigned")
    def on_intervention_assigned(self, envelope):
        """The copy follows a reassignment (technician, company, version),
        unless it is already newer than the event. An event that arrives
        before the copy exists raises (CopyMissing), so that it is retried
        once intervention.created has arrived; the creation-time one
        (previous_technician_id null) carries nothing new and is dropped."""
        follow_assignment(self.db, envelope, self.copy_model,
                          f"{self.name}.on_intervention_assigned")
