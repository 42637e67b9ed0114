"""The timeclock service: clockings and incidents (seed 004).

So far it keeps a local copy of interventions (who works on which, for
whom), which clockings and incidents will be checked against.
"""

from fieldwork_common import operations  # a module: `nameko run` must not see the mixin as a service
from fieldwork_common.consumer import Topology, event_handler
from fieldwork_common.db import Database
from fieldwork_common.principal import CurrentPrincipal
from fieldwork_common.projection import follow_assignment, store_copy

from fieldwork_timeclock import SERVICE_NAME
from fieldwork_timeclock.models import KnownIntervention


class TimeclockService(operations.Operations):
    name = SERVICE_NAME

    db = Database(SERVICE_NAME, "fieldwork_timeclock:migrations")
    principal = CurrentPrincipal()
    topology = Topology()

    @event_handler("interventions", "intervention.created")
    def on_intervention_created(self, envelope):
        """Keeps the intervention's technician, client and company."""
        store_copy(self.db, envelope, KnownIntervention,
                   "timeclock.on_intervention_created", version_column="version")

    @event_handler("interventions", "intervention.assigned")
    def on_intervention_assigned(self, envelope):
        """The copy follows a reassignment (technician, company, version),
        unless it is already newer than the event. An event that arrives
        before the copy exists raises (CopyMissing), so that it is retried
        once intervention.created has arrived; the creation-time one
        (previous_technician_id null) carries nothing new and is dropped."""
        follow_assignment(self.db, envelope, KnownIntervention,
                          "timeclock.on_intervention_assigned")
