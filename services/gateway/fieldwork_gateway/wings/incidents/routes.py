"""Incidents and their conversations (seed 004, issue 11, docs/timeclock.md):
the reasons each service offers, incidents declared on a visit by its
worker, its client or staff, their moves, and the conversation each one
opens between the client, the worker and the provider. The timeclock
service owns them."""

from fieldwork_gateway.fields import MasterQuery
from fieldwork_gateway.web import ADMIN, ALL, STAFF, api, call, expected_version, resolved, with_etag
from fieldwork_gateway.wings.incidents import schemas

TAG = "incidents"
#: the ids that name master data, resolved by interventions in the caller's scope
REFERENCES = {"company_id": "company", "type_id": "intervention_type", "client_id": "client",
              "technician_id": "technician", "from_type_id": "intervention_type",
              "to_type_id": "intervention_type"}


# --- reasons ----------------------------------------------------------------------------

@api.route("/incident-reasons", "GET", summary="The incident reasons of the company's services",
           roles=STAFF, query=schemas.IncidentReasonQuery, response=schemas.ReasonList, tag=TAG)
def list_incident_reasons(query):
    return call("timeclock", "list_incident_reasons", **resolved(query, REFERENCES))


@api.route("/incident-reasons", "POST", summary="Add an incident reason to a service", roles=ADMIN,
           body=schemas.IncidentReasonIn, response=schemas.IncidentReason, status=201, tag=TAG)
def create_incident_reason(body):
    """Offered at the start and/or the end of the service's visits; its code
    is unique per service (409)."""
    return call("timeclock", "create_incident_reason", **resolved(body, REFERENCES)), 201


@api.route("/incident-reasons/<reason_id>", "PATCH", summary="Change an incident reason",
           roles=ADMIN, body=schemas.IncidentReasonPatch, response=schemas.IncidentReason, tag=TAG)
def update_incident_reason(reason_id, body):
    version = expected_version(body.pop("version", None))
    return with_etag(call("timeclock", "update_incident_reason", reason_id=reason_id,
                          version=version, changes=body))


@api.route("/incident-reasons/import", "POST", summary="Copy a service's reasons to another",
           roles=ADMIN, body=schemas.ImportIn, response=schemas.Imported, tag=TAG)
def import_incident_reasons(body):
    """The source's active reasons are copied; a code the target already has is skipped."""
    return call("timeclock", "import_incident_reasons", **resolved(body, REFERENCES))


@api.route("/visits/<visit_id>/incident-reasons", "GET",
           summary="The reasons one may pick for an incident on this visit", roles=ALL,
           response=schemas.VisitReasons, tag=TAG)
def visit_incident_reasons(visit_id):
    return call("timeclock", "visit_incident_reasons", visit_id=visit_id)


# --- incidents --------------------------------------------------------------------------

@api.route("/visits/<visit_id>/incidents", "POST", summary="Declare an incident on a visit",
           roles=ALL, body=schemas.IncidentIn, response=schemas.Incident, status=201, tag=TAG,
           errors={409: "incidents_disabled",
                   422: "outside_incident_window, reason_not_allowed_now"})
def declare_incident(visit_id, body):
    """Its worker, its client or staff, from 4 hours before the visit's
    planned start until 24 hours after its end (the later of the planned
    and the actual end). A conversation opens with it. Publishes
    incident.declared."""
    return call("timeclock", "declare_incident", visit_id=visit_id, **body), 201


@api.route("/visits/<visit_id>/incidents", "GET", summary="A visit's incidents", roles=ALL,
           response=schemas.IncidentList, tag=TAG)
def visit_incidents(visit_id):
    return call("timeclock", "list_incidents", visit_id=visit_id)


@api.route("/incidents", "GET", summary="Incidents, newest first", roles=ALL,
           query=schemas.IncidentQuery, response=schemas.IncidentList, tag=TAG)
def list_incidents(query):
    """Staff: their company's; a worker or a client: those of its visits."""
    return call("timeclock", "list_incidents", **resolved(query, REFERENCES))


@api.route("/incidents/<incident_id>", "GET", summary="An incident and its history", roles=ALL,
           response=schemas.Incident, tag=TAG)
def get_incident(incident_id):
    return with_etag(call("timeclock", "get_incident", incident_id=incident_id))


@api.route("/incidents/<incident_id>/state", "POST", summary="Move an incident", roles=ALL,
           body=schemas.IncidentMoveIn, response=schemas.Incident, tag=TAG,
           errors={409: "invalid_transition, cancel_window_passed",
                   403: "not_allowed: staff only, or the author cancelling within an hour"})
def move_incident(incident_id, body):
    """Staff acknowledge, resolve (with a reason), close, or cancel (with a
    reason); its author may cancel it within an hour. Publishes incident.updated."""
    version = expected_version(body.pop("version", None))
    return with_etag(call("timeclock", "move_incident", incident_id=incident_id,
                          version=version, **body))


# --- conversations ----------------------------------------------------------------------

@api.route("/conversations", "GET", summary="The caller's conversations", roles=ALL,
           query=MasterQuery, response=schemas.ConversationList, tag=TAG)
def list_conversations(query):
    return call("timeclock", "list_conversations", **query)


@api.route("/conversations/<conversation_id>", "GET", summary="A conversation and its messages",
           roles=ALL, query=MasterQuery, response=schemas.Conversation, tag=TAG)
def get_conversation(conversation_id, query):
    """The client never sees the provider's internal messages."""
    return call("timeclock", "get_conversation", conversation_id=conversation_id, **query)


@api.route("/conversations/<conversation_id>/messages", "POST", summary="Post a message",
           roles=ALL, body=schemas.MessageIn, response=schemas.Message, status=201, tag=TAG)
def post_message(conversation_id, body):
    """By the client, the worker or staff (internal: staff only), with files
    uploaded with POST /files. Every other participant is emailed.
    Publishes conversation.message_posted."""
    return call("timeclock", "post_message", conversation_id=conversation_id, **body), 201
