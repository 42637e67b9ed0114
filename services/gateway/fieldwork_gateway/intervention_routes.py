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
