"""The interventions service: master data and interventions.

Every RPC takes the caller's principal from the context (put there by the
gateway) and checks object-level access itself. Every change is committed
with its events in one transaction (outbox). The RPCs live in three mixins:
`masterdata`, `workflow` and `views`.
"""
from fieldwork_common import operations  # modules: `nameko run` must not see the mixins as services
from fieldwork_common.consumer import Topology
from fieldwork_common.db import Database
from fieldwork_common.principal import CurrentPrincipal

from fieldwork_interventions import SERVICE_NAME, masterdata, views, workflow


class InterventionsService(masterdata.MasterData, workflow.Workflow, views.Views,
                           operations.Operations):
    name = SERVICE_NAME

    db = Database(SERVICE_NAME, "fieldwork_interventions:migrations")
    principal = CurrentPrincipal()
    topology = Topology()
