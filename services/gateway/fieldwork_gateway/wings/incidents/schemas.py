"""Bodies of the incidents routes (issue 11, seed 004, docs/timeclock.md)."""
from marshmallow import Schema, fields, validate

from fieldwork_gateway.fields import Id, Instant, MasterQuery, page_of, text, version_field

STATES = ("open", "acknowledged", "resolved", "closed", "cancelled")


class IncidentReasonQuery(MasterQuery):
    type_id = Id(metadata={"description": "a service (intervention type)"})
    company_id = Id()
    active = fields.Boolean()


class IncidentReasonIn(Schema):
    type_id = Id(required=True, metadata={"description": "the service offering it"})
    code = fields.String(required=True, validate=validate.Regexp(r"^[A-Za-z0-9_.-]{1,40}$"),
                         metadata={"description": "unique per service"})
    label = text(200, required=True)
    at_start = fields.Boolean(load_default=True, metadata={"description": "offered at the visit's start"})
    at_end = fields.Boolean(load_default=True, metadata={"description": "offered at its end"})
    position = fields.Integer(load_default=0, validate=validate.Range(min=0, max=10000))
    company_id = Id(metadata={"description": "default the admin's company"})


class IncidentReason(Schema):
    id = Id()
    company_id = Id()
    type_id = Id()
    code = fields.String()
    label = fields.String()
    at_start = fields.Boolean()
    at_end = fields.Boolean()
    position = fields.Integer()
    active = fields.Boolean()
    created_at = fields.DateTime()
    version = fields.Integer()
    allowed_now = fields.Boolean(metadata={"description": "in a visit's list: may be picked now"})


ReasonList = page_of(IncidentReason, "IncidentReasonList")


class IncidentWindow(Schema):
    earliest = fields.DateTime()
    latest = fields.DateTime()


class VisitReasons(Schema):
    items = fields.List(fields.Nested(IncidentReason))
    next_cursor = fields.String(allow_none=True)
    window = fields.Nested(IncidentWindow, metadata={"description": "when incidents may be declared"})


class IncidentReasonPatch(Schema):
    label = text(200)
    at_start = fields.Boolean()
    at_end = fields.Boolean()
    position = fields.Integer(validate=validate.Range(min=0, max=10000))
    active = fields.Boolean()
    version = version_field()


class ImportIn(Schema):
    from_type_id = Id(required=True)
    to_type_id = Id(required=True)
    company_id = Id()


class Imported(Schema):
    imported = fields.List(fields.Nested(IncidentReason))
    skipped = fields.List(fields.String(), metadata={"description": "codes the target had already"})


class IncidentIn(Schema):
    reason_id = Id(required=True)
    description = text(5000)
    moment = fields.String(validate=validate.OneOf(("start", "end")), metadata={
        "description": "default: what the reason and the time point to"})


class IncidentReasonBrief(Schema):
    id = Id()
    code = fields.String()
    label = fields.String()


class IncidentEntry(Schema):
    from_state = fields.String(allow_none=True)
    to_state = fields.String()
    reason = fields.String(allow_none=True)
    by = fields.String()
    by_role = fields.String()
    at = fields.DateTime()


class Incident(Schema):
    id = Id()
    visit_id = Id()
    company_id = Id()
    client_id = Id()
    technician_id = Id()
    type_id = Id()
    reason_id = Id()
    reason = fields.Nested(IncidentReasonBrief)
    moment = fields.String(metadata={"description": "start or end"})
    description = fields.String(allow_none=True)
    state = fields.String(metadata={"description": ", ".join(STATES)})
    clocking_id = Id(allow_none=True, metadata={"description": "declared with this clocking"})
    author_id = fields.String()
    author_role = fields.String()
    conversation_id = Id()
    created_at = fields.DateTime()
    state_since = fields.DateTime()
    version = fields.Integer()
    history = fields.List(fields.Nested(IncidentEntry), metadata={"description": "GET /incidents/{id} only"})


IncidentList = page_of(Incident, "IncidentList")


class IncidentQuery(MasterQuery):
    visit_id = Id()
    state = fields.String(validate=validate.OneOf(STATES))
    type_id = Id()
    client_id = Id()
    technician_id = Id()
    company_id = Id()
    from_ = Instant(data_key="from")
    to = Instant()


class IncidentMoveIn(Schema):
    state = fields.String(required=True, validate=validate.OneOf(STATES[1:]))
    reason = text(5000, metadata={"description": "required to resolve, or for staff to cancel"})
    version = version_field()


class Message(Schema):
    id = Id()
    conversation_id = Id()
    author_id = fields.String()
    author_role = fields.String()
    body = fields.String()
    internal = fields.Boolean(metadata={"description": "staff's; never shown to the client"})
    file_ids = fields.List(Id())
    created_at = fields.DateTime()


class Conversation(Schema):
    id = Id()
    incident_id = Id()
    visit_id = Id()
    company_id = Id()
    client_id = Id()
    technician_id = Id()
    created_at = fields.DateTime()
    last_message_at = fields.DateTime(allow_none=True)
    messages = fields.List(fields.Nested(Message), metadata={"description": "oldest first"})
    next_cursor = fields.String(allow_none=True)


ConversationList = page_of(Conversation, "ConversationList")


class MessageIn(Schema):
    body = text(5000, required=True)
    internal = fields.Boolean(load_default=False, metadata={"description": "staff only"})
    file_ids = fields.List(Id(), validate=validate.Length(max=10), metadata={
        "description": "files uploaded with POST /files, of the incident's company"})
