"""Customer requests (seed 002, issue 12, docs/requests.md): the types a
company offers, requests from the client portal, the field or staff, the
actions that message the end customer, internal notes and the history.
The requests service owns them."""

from fieldwork_gateway.fields import Intervention, MasterQuery
from fieldwork_gateway.web import ADMIN, ALL, STAFF, api, call, expected_version, resolved, with_etag
from fieldwork_gateway.wings.requests import schemas

TAG = "requests"
#: who cancels and reopens: staff, and the request's client (never a technician)
STAFF_AND_CLIENTS = ("admin", "manager", "client")
#: the filters that name master data, resolved by interventions in the caller's scope
REFERENCES = {"company_id": "company", "client_id": "client"}


# --- types ------------------------------------------------------------------------------

@api.route("/request-types", "GET", summary="The request types of the company", roles=ALL,
           query=schemas.RequestTypeQuery, response=schemas.RequestTypeList, tag=TAG)
def list_request_types(query):
    """Staff: their company's; technicians and clients: their company's, to pick one."""
    return call("requests", "list_request_types", **resolved(query, REFERENCES))


@api.route("/request-types", "POST", summary="Add a request type", roles=ADMIN,
           body=schemas.RequestTypeIn, response=schemas.RequestType, status=201, tag=TAG)
def create_request_type(body):
    """Labels are unique per company (409)."""
    return call("requests", "create_request_type", **resolved(body, REFERENCES)), 201


@api.route("/request-types/<type_id>", "PATCH", summary="Change a request type", roles=ADMIN,
           body=schemas.RequestTypePatch, response=schemas.RequestType, tag=TAG)
def update_request_type(type_id, body):
    version = expected_version(body.pop("version", None))
    return with_etag(call("requests", "update_request_type", type_id=type_id, version=version,
                          changes=body))


# --- requests ---------------------------------------------------------------------------

@api.route("/requests", "POST", summary="Create a request", roles=ALL, body=schemas.RequestIn,
           response=schemas.Request, status=201, tag=TAG)
def create_request(body):
    """A client for itself (source portal), a technician from the field,
    staff for one of their clients with the source (phone, email, other).
    Numbered DEM-<year>-<6 digits> per company."""
    return call("requests", "create_request", **body), 201


@api.route("/requests", "GET", summary="Requests, newest first", roles=ALL,
           query=schemas.RequestQuery, response=schemas.RequestList, tag=TAG)
def list_requests(query):
    """Staff: their company's; a technician: those it created; a client: its own."""
    return call("requests", "list_requests", **resolved(query, REFERENCES))


@api.route("/requests/<request_id>", "GET", summary="A request", roles=ALL,
           response=schemas.Request, tag=TAG)
def get_request(request_id):
    return with_etag(call("requests", "get_request", request_id=request_id))


@api.route("/requests/<request_id>/actions", "POST",
           summary="Message the end customer with a status", roles=STAFF, body=schemas.ActionIn,
           response=schemas.Request, status=201, tag=TAG, errors={409: "request_closed"})
def add_request_action(request_id, body):
    """The request's status follows its latest action (in_progress, planned, closed)."""
    return call("requests", "add_request_action", request_id=request_id, **body), 201


@api.route("/requests/<request_id>/actions", "GET", summary="A request's actions, oldest first",
           roles=ALL, query=MasterQuery, response=schemas.ActionList, tag=TAG)
def list_request_actions(request_id, query):
    """Staff see the internal notes too; technicians and clients never do."""
    return call("requests", "list_request_actions", request_id=request_id, **query)


@api.route("/requests/<request_id>/notes", "POST", summary="Add an internal note", roles=STAFF,
           body=schemas.NoteIn, response=schemas.RequestAction, status=201, tag=TAG)
def add_request_note(request_id, body):
    """Never shown to the client."""
    return call("requests", "add_request_note", request_id=request_id, **body), 201


@api.route("/requests/<request_id>/history", "GET", summary="What happened to a request, in order",
           roles=ALL, query=MasterQuery, response=schemas.HistoryList, tag=TAG)
def request_history(request_id, query):
    """Every creation, action and note with who and when; never editable.
    Internal notes for staff only."""
    return call("requests", "request_history", request_id=request_id, **query)


@api.route("/requests/<request_id>", "PATCH", summary="Change a request's type, symptom, "
           "description or site", roles=STAFF, body=schemas.RequestPatch,
           response=schemas.Request, tag=TAG, errors={409: "request_closed"})
def update_request(request_id, body):
    """Each change is in the history with its old and new value. Publishes request.updated."""
    version = expected_version(body.pop("version", None))
    return with_etag(call("requests", "update_request", request_id=request_id, version=version,
                          changes=body))


@api.route("/requests/<request_id>/cancel", "POST", summary="Cancel a request",
           roles=STAFF_AND_CLIENTS,
           body=schemas.RequestCancelIn, response=schemas.Request, tag=TAG,
           errors={409: "request_closed, cancel_too_late"})
def cancel_request(request_id, body):
    """Its client while nothing happened yet (still new, no action); staff
    with a reason. Publishes request.closed (outcome cancelled)."""
    return with_etag(call("requests", "cancel_request", request_id=request_id, **body))


@api.route("/requests/<request_id>/reopen", "POST", summary="Reopen a closed or cancelled request",
           roles=STAFF_AND_CLIENTS, body=schemas.RequestReopenIn, response=schemas.Request, tag=TAG,
           errors={409: "request_open, reopen_window_passed"})
def reopen_request(request_id, body):
    """Staff or its client, within the company's reopen_days of its closing,
    with a reason; it is in progress again. Publishes request.reopened."""
    return with_etag(call("requests", "reopen_request", request_id=request_id, **body))


@api.route("/request-settings", "GET", summary="The request settings of a company", roles=STAFF,
           query=schemas.RequestSettingsQuery, response=schemas.RequestSettings, tag=TAG)
def get_request_settings(query):
    return call("requests", "get_request_settings", **resolved(query, REFERENCES))


@api.route("/request-settings", "PUT", summary="Set the request settings of a company",
           roles=ADMIN, body=schemas.RequestSettingsIn, response=schemas.RequestSettings, tag=TAG)
def set_request_settings(body):
    return call("requests", "set_request_settings", **resolved(body, REFERENCES))


# --- equipment, documents, interventions -------------------------------------------------

@api.route("/requests/<request_id>/equipment", "POST", summary="Add an equipment line",
           roles=ALL, body=schemas.EquipmentLineIn, response=schemas.EquipmentLine, status=201,
           tag=TAG, errors={409: "request_closed, or the equipment is on the request already"})
def add_request_equipment(request_id, body):
    """An equipment of the request's client, or a new one (created by the
    interventions service, which owns equipment: admins), with its symptom."""
    return call("requests", "add_request_equipment", request_id=request_id, **body), 201


@api.route("/requests/<request_id>/equipment", "GET", summary="A request's equipment lines",
           roles=ALL, response=schemas.EquipmentLineList, tag=TAG)
def list_request_equipment(request_id):
    return call("requests", "list_request_equipment", request_id=request_id)


@api.route("/requests/<request_id>/equipment/<line_id>", "PATCH",
           summary="Set an equipment line's symptom", roles=ALL, body=schemas.EquipmentLinePatch,
           response=schemas.EquipmentLine, tag=TAG)
def update_request_equipment(request_id, line_id, body):
    return call("requests", "update_request_equipment", request_id=request_id, line_id=line_id,
                **body)


@api.route("/requests/<request_id>/equipment/<line_id>", "DELETE",
           summary="Remove an equipment line", roles=ALL, response=schemas.EquipmentLine, tag=TAG)
def remove_request_equipment(request_id, line_id):
    """The line stays in the history."""
    return call("requests", "remove_request_equipment", request_id=request_id, line_id=line_id)


@api.route("/requests/<request_id>/documents", "POST", summary="Add a document", roles=ALL,
           body=schemas.DocumentIn, response=schemas.Document, status=201, tag=TAG)
def add_request_document(request_id, body):
    """A file uploaded with POST /files, of the request's company."""
    return call("requests", "add_request_document", request_id=request_id, **body), 201


@api.route("/requests/<request_id>/documents", "GET", summary="A request's documents", roles=ALL,
           response=schemas.DocumentList, tag=TAG)
def list_request_documents(request_id):
    """A client reads those visible to it."""
    return call("requests", "list_request_documents", request_id=request_id)


@api.route("/requests/<request_id>/interventions", "POST",
           summary="Create an intervention from a request", roles=("admin", "technician"),
           body=schemas.InterventionFromRequestIn, response=Intervention, status=201,
           tag=TAG)
def create_intervention_from_request(request_id, body):
    """Through the interventions service, with its creation rules (seed
    000: admins and technicians), on one of the request's equipment lines;
    linked to the request, whose list shows its live state."""
    return call("requests", "create_intervention_from_request", request_id=request_id,
                **body), 201


@api.route("/requests/<request_id>/interventions", "GET",
           summary="The interventions created from a request, with their state", roles=ALL,
           response=schemas.LinkedInterventionList, tag=TAG)
def list_request_interventions(request_id):
    return call("requests", "list_request_interventions", request_id=request_id)


# --- equipment returns ------------------------------------------------------------------

@api.route("/requests/<request_id>/equipment-returns", "POST",
           summary="Return the client's equipment to the workshop or a supplier", roles=STAFF,
           body=schemas.EquipmentReturnIn, response=schemas.EquipmentReturn, status=201, tag=TAG)
def create_equipment_return(request_id, body):
    """Publishes equipment_return.created; the request is not closed before it is."""
    return call("requests", "create_equipment_return", request_id=request_id, **body), 201


@api.route("/requests/<request_id>/equipment-returns", "GET",
           summary="A request's equipment returns", roles=ALL,
           response=schemas.EquipmentReturnList, tag=TAG)
def list_equipment_returns(request_id):
    return call("requests", "list_equipment_returns", request_id=request_id)


@api.route("/equipment-returns/<return_id>", "GET", summary="An equipment return", roles=ALL,
           response=schemas.EquipmentReturn, tag=TAG)
def get_equipment_return(return_id):
    return with_etag(call("requests", "get_equipment_return", return_id=return_id))


@api.route("/equipment-returns/<return_id>/state", "POST", summary="Move an equipment return",
           roles=STAFF, body=schemas.ReturnMoveIn, response=schemas.EquipmentReturn, tag=TAG,
           errors={409: "invalid_transition"})
def move_equipment_return(return_id, body):
    """requested → received → sent_back → closed, or requested → closed with
    a note. Publishes equipment_return.updated."""
    return with_etag(call("requests", "move_equipment_return", return_id=return_id, **body))


@api.route("/equipment-returns/<return_id>/interventions", "POST",
           summary="A workshop intervention on a received return", roles=("admin", "technician"),
           body=schemas.ReturnInterventionIn, response=Intervention, status=201, tag=TAG,
           errors={409: "return_not_ready"})
def create_intervention_from_return(return_id, body):
    """Through the interventions service's creation rules; linked to the
    return and to its request."""
    return call("requests", "create_intervention_from_return", return_id=return_id, **body), 201
