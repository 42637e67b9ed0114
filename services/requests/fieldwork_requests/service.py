"""The requests service: customer service requests (seed 002).

So far it keeps a local copy of interventions (to link requests to them
and check access without calling back); requests themselves come with
their own issue.
"""
# modules: `nameko run` must not see the mixins as services
from fieldwork_common import intervention_copies, operations
from fieldwork_common.consumer import Topology
from fieldwork_common.db import Database
from fieldwork_common.principal import CurrentPrincipal

from fieldwork_requests import SERVICE_NAME
from fieldwork_requests.models import KnownIntervention


class RequestsService(intervention_copies.FollowsInterventions, operations.Operations):
    name = SERVICE_NAME

    db = Database(SERVICE_NAME, "fieldwork_requests:migrations")
    principal = CurrentPrincipal()
    topology = Topology()
    copy_model = KnownIntervention
