"""The workshop (seed 000): the five steps, the statuses of the catalog,
reopening."""
from fieldwork_gateway.web import WORKERS, api, call, optional_version, with_etag
from fieldwork_gateway.fields import Intervention
from fieldwork_gateway.wings.workshop import schemas


@api.route("/interventions/<intervention_id>/step", "PUT",
           summary="Move a workshop intervention to another step",
           roles=WORKERS, body=schemas.StepIn, response=Intervention, tag="interventions")
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
           roles=WORKERS, body=schemas.StatusIn, response=Intervention, tag="interventions")
def set_status(intervention_id, body):
    """Only in the step in_workshop (otherwise 409); the status must exist in
    the catalog and be active (otherwise 400): statuses are prepared by admins
    beforehand, never created here. It stays shown after the step has passed.
    Publishes `intervention.status_changed`."""
    return with_etag(call("interventions", "set_status", intervention_id=intervention_id,
                          status_id=body["status_id"], version=optional_version()))


@api.route("/interventions/<intervention_id>/status", "DELETE",
           summary="Reset (remove) the status shown", roles=WORKERS,
           response=Intervention, tag="interventions")
def reset_status(intervention_id):
    """In any step; 409 when no status is shown. Publishes `intervention.status_reset`."""
    return with_etag(call("interventions", "reset_status", intervention_id=intervention_id,
                          version=optional_version()))


@api.route("/interventions/<intervention_id>/reopen", "POST",
           summary="Reopen a closed or completed intervention (admin, manager)",
           roles=("admin", "manager"), response=Intervention, tag="interventions")
def reopen_intervention(intervention_id):
    """Back to in_workshop, state open; the closing, completion and pickup
    dates are cleared. 409 unless closed or completed. Publishes
    `intervention.reopened`."""
    return with_etag(call("interventions", "reopen_intervention",
                          intervention_id=intervention_id, version=optional_version()))
