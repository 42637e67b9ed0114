"""Bodies of the requests routes (issue 12, seed 002, docs/requests.md)."""
from marshmallow import Schema, fields, validate

from fieldwork_gateway.fields import LOCATIONS, Id, Instant, MasterQuery, page_of, text, version_field

SOURCES = ("portal", "field", "phone", "email", "other")
STATUSES = ("new", "in_progress", "planned", "closed", "cancelled")
ACTION_STATUSES = ("in_progress", "planned", "closed")
CHANNELS = ("email", "phone", "portal", "other")


class RequestTypeQuery(MasterQuery):
    company_id = Id()
    active = fields.Boolean()


class RequestTypeIn(Schema):
    label = text(200, required=True)
    position = fields.Integer(load_default=0, validate=validate.Range(min=0, max=10000))
    company_id = Id(metadata={"description": "default the admin's company"})


class RequestTypePatch(Schema):
    label = text(200)
    position = fields.Integer(validate=validate.Range(min=0, max=10000))
    active = fields.Boolean()
    version = version_field()


class RequestType(Schema):
    id = Id()
    company_id = Id()
    label = fields.String()
    position = fields.Integer()
    active = fields.Boolean()
    created_at = fields.DateTime()
    version = fields.Integer()


RequestTypeList = page_of(RequestType, "RequestTypeList")


class RequestIn(Schema):
    type_id = Id(required=True, metadata={"description": "one of the company's request types"})
    client_id = Id(metadata={"description": "staff and technicians: the client; a client: itself"})
    source = fields.String(validate=validate.OneOf(SOURCES), metadata={
        "description": "staff: phone, email or other (required); portal for a client, field "
                       "for a technician"})
    symptom = text(2000)
    description = text(5000)
    site_id = Id(metadata={"description": "one of the client's sites"})
    equipment = fields.List(fields.Nested("RequestEquipmentAtCreation"), validate=validate.Length(max=50),
                            metadata={"description": "equipment lines: an equipment of the client, "
                                                     "or a new one, each with its symptom"})


class RequestTypeBrief(Schema):
    id = Id()
    label = fields.String()


class RequestAction(Schema):
    id = Id()
    request_id = Id()
    status = fields.String(allow_none=True, metadata={"description": "null for an internal note"})
    message = fields.String()
    channel = fields.String(allow_none=True)
    internal = fields.Boolean()
    by = fields.String()
    by_role = fields.String()
    at = fields.DateTime()


ActionList = page_of(RequestAction, "RequestActionList")


class Request(Schema):
    id = Id()
    company_id = Id()
    client_id = Id()
    number = fields.String(metadata={"description": "DEM-<year>-<6 digits>, per company"})
    type_id = Id()
    type = fields.Nested(RequestTypeBrief)
    source = fields.String(metadata={"description": ", ".join(SOURCES)})
    symptom = fields.String(allow_none=True)
    description = fields.String(allow_none=True)
    site_id = Id(allow_none=True)
    status = fields.String(metadata={"description": "the latest action's; " + ", ".join(STATUSES)})
    created_by = fields.String()
    created_by_role = fields.String()
    created_by_technician_id = Id(allow_none=True)
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
    closed_at = fields.DateTime(allow_none=True)
    version = fields.Integer()
    intervention_ids = fields.List(Id(), metadata={"description": "the interventions created from it"})
    action = fields.Nested(RequestAction, metadata={"description": "POST /requests/{id}/actions only"})


RequestList = page_of(Request, "RequestList")


class RequestQuery(MasterQuery):
    status = fields.String(validate=validate.OneOf(STATUSES))
    type_id = Id()
    client_id = Id()
    company_id = Id()
    source = fields.String(validate=validate.OneOf(SOURCES))
    from_ = Instant(data_key="from", metadata={"description": "created at or after"})
    to = Instant(metadata={"description": "created before"})


class ActionIn(Schema):
    status = fields.String(required=True, validate=validate.OneOf(ACTION_STATUSES))
    message = text(5000, required=True, metadata={"description": "to the end customer"})
    channel = fields.String(validate=validate.OneOf(CHANNELS))
    version = fields.Integer(validate=validate.Range(min=1), metadata={
        "description": "optional: the request's version you read (409 when it changed)"})


class NoteIn(Schema):
    message = text(5000, required=True)


class RequestHistoryEntry(Schema):
    id = fields.Integer()
    kind = fields.String(metadata={"description": "created, action, note"})
    details = fields.Dict()
    by = fields.String()
    by_role = fields.String()
    at = fields.DateTime()


HistoryList = page_of(RequestHistoryEntry, "RequestHistoryList")


class RequestPatch(Schema):
    type_id = Id()
    symptom = text(2000, allow_none=True)
    description = text(5000, allow_none=True)
    site_id = Id(allow_none=True)
    version = version_field()


class RequestCancelIn(Schema):
    reason = text(2000, metadata={"description": "required for staff"})
    version = fields.Integer(validate=validate.Range(min=1))


class RequestReopenIn(Schema):
    reason = text(2000, required=True)
    version = fields.Integer(validate=validate.Range(min=1))


class RequestSettingsQuery(Schema):
    company_id = Id()


class RequestSettingsValues(Schema):
    reopen_days = fields.Integer(validate=validate.Range(min=0, max=3650), metadata={
        "description": "a closed or cancelled request may be reopened this many days (30)"})
    auto_close_days = fields.Integer(allow_none=True, validate=validate.Range(min=1, max=3650),
                                     metadata={"description": "a request answered (in progress or "
                                               "planned) closes itself after this many days "
                                               "without news; null: off (the default)"})


class RequestSettingsIn(Schema):
    company_id = Id(metadata={"description": "default the admin's company"})
    values = fields.Nested(RequestSettingsValues, required=True)
    version = fields.Integer(validate=validate.Range(min=0), metadata={
        "description": "the version you read (0 when none was stored)"})


class RequestSettings(Schema):
    company_id = Id()
    reopen_days = fields.Integer()
    auto_close_days = fields.Integer(allow_none=True)
    version = fields.Integer()
    updated_at = fields.DateTime(allow_none=True)


class NewEquipment(Schema):
    kind = text(required=True)
    brand = text(allow_none=True)
    model = text(allow_none=True)
    serial_number = text(allow_none=True)
    site_id = Id(allow_none=True, metadata={"description": "one of the client's sites"})


class RequestEquipmentAtCreation(Schema):
    equipment_id = Id(metadata={"description": "an equipment of the request's client"})
    equipment = fields.Nested(NewEquipment, metadata={"description": "or a new one (admins)"})
    symptom = text(2000)


class EquipmentLineIn(Schema):
    equipment_id = Id(metadata={"description": "an equipment of the request's client"})
    equipment = fields.Nested(NewEquipment, metadata={
        "description": "or a new equipment of the client (created by the interventions service: "
                       "admins)"})
    symptom = text(2000)


class EquipmentLinePatch(Schema):
    symptom = text(2000, required=True, allow_none=True)


class EquipmentLine(Schema):
    id = Id()
    request_id = Id()
    equipment_id = Id()
    symptom = fields.String(allow_none=True)
    added_by = fields.String()
    added_at = fields.DateTime()


EquipmentLineList = page_of(EquipmentLine, "RequestEquipmentList")


class DocumentIn(Schema):
    file_id = Id(required=True, metadata={"description": "uploaded with POST /files"})
    visible_to_client = fields.Boolean(metadata={
        "description": "staff: whether the client sees it (default false); a client's are its"})


class Document(Schema):
    id = Id()
    request_id = Id()
    file_id = Id()
    visible_to_client = fields.Boolean()
    by = fields.String()
    by_role = fields.String()
    at = fields.DateTime()


DocumentList = page_of(Document, "RequestDocumentList")


class InterventionFromRequestIn(Schema):
    type_id = Id(required=True)
    location = fields.String(required=True, validate=validate.OneOf(LOCATIONS))
    technician_id = Id(metadata={"description": "an admin picks it; a technician is itself"})
    description = text(5000, metadata={"description": "default: the request's number and symptoms"})
    site_id = Id(metadata={"description": "default: the request's site"})
    contract_id = Id()
    equipment_id = Id(metadata={"description": "one of the request's equipment lines (default: "
                                               "the first)"})


class LinkedIntervention(Schema):
    intervention_id = Id()
    request_id = Id()
    location = fields.String()
    state = fields.String(metadata={"description": "kept current from the intervention events"})
    step = fields.String(allow_none=True)
    version = fields.Integer()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


LinkedInterventionList = page_of(LinkedIntervention, "RequestInterventionList")


RETURN_STATES = ("requested", "received", "sent_back", "closed")


class EquipmentReturnIn(Schema):
    equipment_id = Id(required=True, metadata={"description": "an equipment of the request's client"})
    destination = fields.String(required=True, validate=validate.OneOf(("workshop", "supplier")))
    supplier = text(200, metadata={"description": "required for a supplier"})
    note = text(2000)


class EquipmentReturn(Schema):
    id = Id()
    request_id = Id()
    company_id = Id()
    client_id = Id()
    equipment_id = Id()
    destination = fields.String()
    supplier = fields.String(allow_none=True)
    note = fields.String(allow_none=True)
    state = fields.String(metadata={"description": ", ".join(RETURN_STATES)})
    intervention_id = Id(allow_none=True, metadata={"description": "the workshop intervention made from it"})
    created_by = fields.String()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
    version = fields.Integer()


EquipmentReturnList = page_of(EquipmentReturn, "EquipmentReturnList")


class ReturnMoveIn(Schema):
    state = fields.String(required=True, validate=validate.OneOf(RETURN_STATES[1:]))
    note = text(2000, metadata={"description": "required to close a return never received"})
    version = fields.Integer(validate=validate.Range(min=1))


class ReturnInterventionIn(Schema):
    type_id = Id(required=True, metadata={"description": "a workshop type"})
    technician_id = Id()
    description = text(5000)
    contract_id = Id()
