"""The timeclock service: clockings and incidents (seed 004).

So far it keeps a local copy of interventions (who works on which, for
whom), which clockings and incidents will be checked against.
"""
# modules: `nameko run` must not see the mixins as services
from fieldwork_common import intervention_copies, operations
from fieldwork_common.consumer import Topology
from fieldwork_common.db import Database
from fieldwork_common.principal import CurrentPrincipal

from fieldwork_timeclock import SERVICE_NAME
from fieldwork_timeclock.models import KnownIntervention


class TimeclockService(intervention_copies.FollowsInterventions, operations.Operations):
    name = SERVICE_NAME

    db = Database(SERVICE_NAME, "fieldwork_timeclock:migrations")
    principal = CurrentPrincipal()
    topology = Topology()
    copy_model = KnownIntervention
