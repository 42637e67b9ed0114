"""The requests service: customer service requests (seed 002).

It keeps a local copy of interventions (to link requests to them and
check access without calling back) and owns the requests: their types per
company, their actions and notes, their history (docs/requests.md). The
RPCs live in one mixin per wing, `rpc/<wing>.py`, with their rules in
`domain/<wing>.py`.
"""
# modules: `nameko run` must not see the mixins as services
from fieldwork_common import intervention_copies, operations
from fieldwork_common.consumer import Topology
from fieldwork_common.db import Database
from fieldwork_common.principal import CurrentPrincipal
from fieldwork_common.rpc import RpcProxy

from fieldwork_requests import SERVICE_NAME
from fieldwork_requests.models import KnownIntervention
from fieldwork_requests.rpc import requests


class RequestsService(intervention_copies.FollowsInterventions, requests.Requests,
                      operations.Operations):
    name = SERVICE_NAME

    db = Database(SERVICE_NAME, "fieldwork_requests:migrations")
    principal = CurrentPrincipal()
    topology = Topology()
    copy_model = KnownIntervention
    # clients, sites and companies are resolved in the caller's scope (the one resolver)
    interventions = RpcProxy("interventions")
