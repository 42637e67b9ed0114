"""Bodies of the intervention routes (creation, changes, assignment, history)."""
from marshmallow import Schema, fields, validate

from fieldwork_gateway.fields import LOCATIONS, Id


class InterventionIn(Schema):
    client_id = Id(required=True)
    equipment_id = Id(required=True)
    type_id = Id(required=True)
    technician_id = Id(allow_none=True, metadata={
        "description": "required for an admin; a technician may omit it (itself)"})
    location = fields.String(required=True, validate=validate.OneOf(LOCATIONS))
    description = fields.String(load_default="", validate=validate.Length(max=5000))
    company_id = Id(allow_none=True, metadata={
        "description": "an admin may pick another company the technician works for; "
                       "by default the technician's company (the main company when multi-company is off)"})
    site_id = Id(allow_none=True, metadata={"description": "a site of the client"})
    contract_id = Id(allow_none=True, metadata={
        "description": "a contract of the client, validated or active"})


class InterventionPatch(Schema):
    description = fields.String(validate=validate.Length(max=5000))
    version = fields.Integer(validate=validate.Range(min=1), metadata={
        "description": "the version you read; or send it as If-Match"})


class AssignmentIn(Schema):
    technician_id = Id(required=True)
    company_id = Id(allow_none=True, metadata={
        "description": "another company the technician works for; by default its own"})


class HistoryEntry(Schema):
    id = fields.Integer()
    kind = fields.String(metadata={
        "description": "created, step, status, status_reset, assignment, fields, reopened or attachment (a "
                       "file attached, docs/files.md)"})
    data = fields.Dict(metadata={"description": "what changed"})
    author_id = fields.String()
    author_role = fields.String()
    at = fields.DateTime()


class History(Schema):
    items = fields.List(fields.Nested(HistoryEntry))
