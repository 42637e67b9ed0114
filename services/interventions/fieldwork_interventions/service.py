"""The interventions service: master data and interventions.

Every RPC takes the caller's principal from the context (put there by the
gateway) and checks object-level access itself (access.py). Every change
is committed with its events in one transaction (outbox). The RPCs live in
one mixin per wing, `rpc/<wing>.py`, with its rules in `domain/<wing>.py`:
masterdata, interventions, workshop, visits, reads, files.
"""
from fieldwork_common import operations  # modules: `nameko run` must not see the mixins as services
from fieldwork_common.consumer import Topology
from fieldwork_common.db import Database
from fieldwork_common.principal import CurrentPrincipal

from fieldwork_interventions import SERVICE_NAME
from fieldwork_interventions.rpc import (files, interventions, masterdata, reads, reports, visits,
                                         workshop)


class InterventionsService(masterdata.MasterData, interventions.Interventions, workshop.Workshop,
                           visits.Visits, reports.Reports, reads.Reads, files.Files, operations.Operations):
    name = SERVICE_NAME

    db = Database(SERVICE_NAME, "fieldwork_interventions:migrations")
    principal = CurrentPrincipal()
    topology = Topology()
