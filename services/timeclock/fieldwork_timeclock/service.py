"""The timeclock service: clockings and incidents (seed 004).

So far it keeps a local copy of interventions (who works on which, for
whom), which clockings and incidents will be checked against.
"""
from nameko.events import event_handler
from nameko.rpc import rpc

from fieldwork_common.db import Database
from fieldwork_common.projection import store_copy

from fieldwork_timeclock import SERVICE_NAME
from fieldwork_timeclock.models import KnownIntervention


class TimeclockService:
    name = SERVICE_NAME

    db = Database(SERVICE_NAME, "fieldwork_timeclock:migrations")

    @rpc
    def health(self):
        self.db.ping()
        return {"service": self.name, "status": "ok"}

    @event_handler("interventions", "intervention.created")
    def on_intervention_created(self, envelope):
        """Keeps the intervention's technician, client and company."""
        store_copy(self.db, envelope, KnownIntervention,
                   "timeclock.on_intervention_created")
