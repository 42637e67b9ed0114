"""Intervention resources: creation, changes, steps, statuses, history,
lists, calendar, tracking."""
from flask import jsonify, request

from fieldwork_common.errors import InvalidInput, PreconditionRequired
from fieldwork_gateway import schemas
from fieldwork_gateway.routes import ALL, api, call


# --- interventions ---------------------------------------------------------------

@api.route("/interventions", "POST", summary="Create an intervention (admin, or a technician for itself)",
           roles=("admin", "technician"), body=schemas.InterventionIn,
           response=schemas.Intervention, status=201, tag="interventions")
def create_intervention(body):
    """Publishes `intervention.created`; the client is emailed."""
    return call("interventions", "create_intervention", **body)


@api.route("/interventions/<intervention_id>", "GET", summary="An intervention", roles=ALL,
           response=schemas.Intervention, tag="interventions")
def get_intervention(intervention_id):
    """404 for an intervention the caller may not see. The `ETag` header is
    its version: send it back in `If-Match` to update it."""
    return with_etag(call("interventions", "get_intervention", intervention_id=intervention_id))


@api.route("/interventions/<intervention_id>", "PATCH", summary="Change an intervention's description",
           roles=("admin", "manager", "technician"), body=schemas.InterventionPatch,
           response=schemas.Intervention, tag="interventions")
def update_intervention(intervention_id, body):
    """Optimistic concurrency: the version comes from `If-Match` (the ETag of
    a GET) or the body's `version`; if someone changed the intervention
    since, 409 with the current version. Publishes `intervention.updated`."""
    version = expected_version(body.pop("version", None))
    return with_etag(call("interventions", "update_intervention", intervention_id=intervention_id,
                          version=version, changes=body))


def expected_version(from_body):
    header = request.headers.get("If-Match")
    if header is not None:
        try:
            from_header = int(header.strip().removeprefix("W/").strip('"'))
        except ValueError:
            raise InvalidInput("If-Match must be the ETag of the resource.", {"header": "If-Match"}) from None
        if from_body is not None and from_body != from_header:
            raise InvalidInput("If-Match and version disagree.", {"if_match": from_header, "version": from_body})
        return from_header
    if from_body is None:
        raise PreconditionRequired("Send the version you read: an If-Match header or a version field.",
                                   {"header": "If-Match"})
    return from_body


def with_etag(resource):
    response = jsonify(resource)
    response.headers["ETag"] = f'"{resource["version"]}"'
    return response, 200


def optional_version():
    """The If-Match version when one is sent (a stale one answers 409), else None."""
    if request.headers.get("If-Match") is None:
        return None
    return expected_version(None)


WORKERS = ("admin", "manager", "technician")


# --- workshop steps, statuses, assignment, history ----------------------------------

@api.route("/interventions/<intervention_id>/step", "PUT",
           summary="Move a workshop intervention to another step",
           roles=WORKERS, body=schemas.StepIn, response=schemas.Intervention, tag="interventions")
def change_step(intervention_id, body):
    """picked_up → in_workshop → final_tests → awaiting_pickup → delivered, and
    back from final_tests to in_workshop; any other move is 409 with the
    allowed moves in `details.allowed`. Only workshop interventions have steps
    (others: 409). `diagnostic` and `tests_performed` go with final_tests,
    `pickup_at` and `pickup_kind` with awaiting_pickup (elsewhere: 400).
    awaiting_pickup closes the intervention, delivered completes it.
    Publishes `intervention.step_changed`, and `intervention.closed` or
    `intervention.delivered`. An `If-Match` header, when sent, must be the
    current version."""
    if body.get("pickup_at") is not None:
        body["pickup_at"] = body["pickup_at"].isoformat()
    return with_etag(call("interventions", "change_step", intervention_id=intervention_id,
                          version=optional_version(), **body))


@api.route("/interventions/<intervention_id>/status", "PUT",
           summary="Show a status of the catalog (step in_workshop only)",
           roles=WORKERS, body=schemas.StatusIn, response=schemas.Intervention, tag="interventions")
def set_status(intervention_id, body):
    """Only in the step in_workshop (otherwise 409); the status must exist in
    the catalog and be active (otherwise 400): statuses are prepared by admins
    beforehand, never created here. It stays shown after the step has passed.
    Publishes `intervention.status_changed`."""
    return with_etag(call("interventions", "set_status", intervention_id=intervention_id,
                          status_id=body["status_id"], version=optional_version()))


@api.route("/interventions/<intervention_id>/status", "DELETE",
           summary="Reset (remove) the status shown", roles=WORKERS,
           response=schemas.Intervention, tag="interventions")
def reset_status(intervention_id):
    """In any step; 409 when no status is shown. Publishes `intervention.status_reset`."""
    return with_etag(call("interventions", "reset_status", intervention_id=intervention_id,
                          version=optional_version()))


@api.route("/interventions/<intervention_id>/assignment", "PUT",
           summary="Give an intervention to another technician (admin, manager)",
           roles=("admin", "manager"), body=schemas.AssignmentIn, response=schemas.Intervention,
           tag="interventions")
def reassign_intervention(intervention_id, body):
    """The company becomes the technician's, or `company_id` when it is one
    the technician works for (the main company when multi-company is off).
    A manager keeps it in its company. Publishes `intervention.assigned`."""
    return with_etag(call("interventions", "reassign_intervention",
                          intervention_id=intervention_id, version=optional_version(), **body))


@api.route("/interventions/<intervention_id>/reopen", "POST",
           summary="Reopen a closed or completed intervention (admin, manager)",
           roles=("admin", "manager"), response=schemas.Intervention, tag="interventions")
def reopen_intervention(intervention_id):
    """Back to in_workshop, state open; the closing, completion and pickup
    dates are cleared. 409 unless closed or completed. Publishes
    `intervention.reopened`."""
    return with_etag(call("interventions", "reopen_intervention",
                          intervention_id=intervention_id, version=optional_version()))


@api.route("/interventions/<intervention_id>/history", "GET",
           summary="Every change of an intervention, oldest first", roles=WORKERS,
           response=schemas.History, tag="interventions")
def intervention_history(intervention_id):
    """Creation, steps, statuses, assignments, field changes and reopenings,
    each with its author and time. A client follows its intervention on the
    tracking page instead (403)."""
    return call("interventions", "intervention_history", intervention_id=intervention_id)
