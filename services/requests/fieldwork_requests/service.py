"""The requests service: customer service requests (seed 002).

So far it keeps a local copy of interventions (to link requests to them
and check access without calling back); requests themselves come with
their own issue.
"""

from fieldwork_common import operations  # a module: `nameko run` must not see the mixin as a service
from fieldwork_common.consumer import Topology, event_handler
from fieldwork_common.db import Database
from fieldwork_common.principal import CurrentPrincipal
from fieldwork_common.projection import follow_assignment, store_copy

from fieldwork_requests import SERVICE_NAME
from fieldwork_requests.models import KnownIntervention


class RequestsService(operations.Operations):
    name = SERVICE_NAME

    db = Database(SERVICE_NAME, "fieldwork_requests:migrations")
    principal = CurrentPrincipal()
    topology = Topology()

    @event_handler("interventions", "intervention.created")
    def on_intervention_created(self, envelope):
        """Keeps the intervention's owner, client and company."""
        store_copy(self.db, envelope, KnownIntervention,
                   "requests.on_intervention_created", version_column="version")

    @event_handler("interventions", "intervention.assigned")
    def on_intervention_assigned(self, envelope):
        """The copy follows a reassignment (technician, company, version),
        unless it is already newer than the event. An event that arrives
        before the copy exists raises (CopyMissing), so that it is retried
        once intervention.created has arrived; the creation-time one
        (previous_technician_id null) carries nothing new and is dropped."""
        follow_assignment(self.db, envelope, KnownIntervention,
                          "requests.on_intervention_assigned")
