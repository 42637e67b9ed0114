"""The timeclock service: clockings and incidents (seed 004, docs/timeclock.md).

It keeps copies of interventions and of visits (from their events), and
owns the places where visits happen (position, QR key, NFC tags), the
timeclock settings, the clockings, the incidents and their conversations. The RPCs live in one mixin per wing,
`rpc/<wing>.py`, with their rules in `domain/<wing>.py`.
"""
# modules: `nameko run` must not see the mixins as services
from fieldwork_common import intervention_copies, operations
from fieldwork_common.consumer import Topology
from fieldwork_common.db import Database
from fieldwork_common.principal import CurrentPrincipal
from fieldwork_common.rpc import RpcProxy

from fieldwork_timeclock import SERVICE_NAME, visit_copies
from fieldwork_timeclock.models import KnownIntervention
from fieldwork_timeclock.rpc import clockings, incidents


class TimeclockService(intervention_copies.FollowsInterventions, visit_copies.FollowsVisits,
                       clockings.Clockings, incidents.Incidents, operations.Operations):
    name = SERVICE_NAME

    db = Database(SERVICE_NAME, "fieldwork_timeclock:migrations")
    principal = CurrentPrincipal()
    topology = Topology()
    copy_model = KnownIntervention
    # the files of a message are resolved in the caller's scope (the one resolver)
    interventions = RpcProxy("interventions")
