"""Interventions: creation (seed 000 rules, in the interventions service),
reading, changes, assignment, history."""
from fieldwork_gateway.web import ALL, WORKERS, api, call, expected_version, optional_version, with_etag
from fieldwork_gateway.fields import Intervention
from fieldwork_gateway.wings.interventions import schemas


@api.route("/interventions", "POST", summary="Create an intervention (admin, or a technician for itself)",
           roles=("admin", "technician"), body=schemas.InterventionIn,
           response=Intervention, status=201, tag="interventions")
def create_intervention(body):
    """Publishes `intervention.created`; the client is emailed."""
    return call("interventions", "create_intervention", **body)


@api.route("/interventions/<intervention_id>", "GET", summary="An intervention", roles=ALL,
           response=Intervention, tag="interventions")
def get_intervention(intervention_id):
    """404 for an intervention the caller may not see. The `ETag` header is
    its version: send it back in `If-Match` to update it."""
    return with_etag(call("interventions", "get_intervention", intervention_id=intervention_id))


@api.route("/interventions/<intervention_id>", "PATCH", summary="Change an intervention's description",
           roles=("admin", "manager", "technician"), body=schemas.InterventionPatch,
           response=Intervention, tag="interventions")
def update_intervention(intervention_id, body):
    """Optimistic concurrency: the version comes from `If-Match` (the ETag of
    a GET) or the body's `version`; if someone changed the intervention
    since, 409 with the current version. Publishes `intervention.updated`."""
    version = expected_version(body.pop("version", None))
    return with_etag(call("interventions", "update_intervention", intervention_id=intervention_id,
                          version=version, changes=body))


@api.route("/interventions/<intervention_id>/assignment", "PUT",
           summary="Give an intervention to another technician (admin, manager)",
           roles=("admin", "manager"), body=schemas.AssignmentIn, response=Intervention,
           tag="interventions")
def reassign_intervention(intervention_id, body):
    """The company becomes the technician's, or `company_id` when it is one
    the technician works for (the main company when multi-company is off).
    A manager keeps it in its company. Publishes `intervention.assigned`."""
    return with_etag(call("interventions", "reassign_intervention",
                          intervention_id=intervention_id, version=optional_version(), **body))


@api.route("/interventions/<intervention_id>/history", "GET",
           summary="Every change of an intervention, oldest first", roles=WORKERS,
           response=schemas.History, tag="interventions")
def intervention_history(intervention_id):
    """Creation, steps, statuses, assignments, field changes and reopenings,
    each with its author and time. A client follows its intervention on the
    tracking page instead (403)."""
    return call("interventions", "intervention_history", intervention_id=intervention_id)
