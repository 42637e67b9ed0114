"""Field types and bodies that every wing shares: ids, instants, bounded
text, list pages, the error body, versions, and the intervention as
answered (by the interventions, workshop and reads wings). Unknown fields
are refused (marshmallow's RAISE), and every string has a length limit."""
from marshmallow import Schema, ValidationError, fields, validate

LOCATIONS = ("workshop", "at_home", "on_site")
LOCALES = ("fr", "en")


class Id(fields.UUID):
    """A UUID, handed on as its string form (what services and JSON use)."""

    def _deserialize(self, value, attr, data, **kwargs):
        return str(super()._deserialize(value, attr, data, **kwargs))


class Instant(fields.AwareDateTime):
    """An RFC 3339 date-time with its offset, handed on in UTC: an offset
    PostgreSQL would refuse (beyond ±15:59) or a moment that has no UTC
    equivalent is a 400 here, never a server error later."""

    def _deserialize(self, value, attr, data, **kwargs):
        from datetime import timezone
        moment = super()._deserialize(value, attr, data, **kwargs)
        try:
            return moment.astimezone(timezone.utc)
        except OverflowError:
            raise ValidationError("Out of range.") from None


def text(max_length=200, **kw):
    return fields.String(validate=validate.Length(min=1, max=max_length), **kw)


def page_of(item, name, description=None):
    """The answer of a list: a page of `item` and the cursor of the next."""
    return Schema.from_dict({
        "items": fields.List(fields.Nested(item), metadata={"description": description}
                             if description else {}),
        "next_cursor": fields.String(allow_none=True, metadata={
            "description": "pass as `after` for the next page; null on the last page"}),
    }, name=name)


class Error(Schema):
    class Inner(Schema):
        code = fields.String(required=True)
        message = fields.String(required=True)
        details = fields.Dict(required=True)
    error = fields.Nested(Inner, required=True)


def version_field():
    return fields.Integer(validate=validate.Range(min=1), metadata={
        "description": "the version you read; or send it as If-Match"})


class MasterQuery(Schema):
    """limit and after (cursor pagination) for every master-data list."""
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))
    after = fields.String(validate=validate.Length(min=1, max=500),
                          metadata={"description": "the next_cursor of the previous page"})


WORKSHOP_STEPS = ("picked_up", "in_workshop", "final_tests", "awaiting_pickup", "delivered")


class Intervention(Schema):
    id = Id()
    company_id = Id()
    client_id = Id()
    equipment_id = Id()
    type_id = Id()
    technician_id = Id()
    location = fields.String()
    description = fields.String()
    site_id = Id(allow_none=True)
    contract_id = Id(allow_none=True)
    step = fields.String(allow_none=True, metadata={
        "description": "picked_up, in_workshop, final_tests, awaiting_pickup, delivered; "
                       "null for interventions outside the workshop"})
    state = fields.String(metadata={"description": "open, closed or completed"})
    status_id = Id(allow_none=True, metadata={"description": "the status of the catalog shown"})
    diagnostic = fields.String(allow_none=True)
    tests_performed = fields.List(fields.String())
    pickup_at = fields.DateTime(allow_none=True)
    pickup_kind = fields.String(allow_none=True, metadata={"description": "pickup or delivery"})
    closed_at = fields.DateTime(allow_none=True)
    completed_at = fields.DateTime(allow_none=True)
    created_by = fields.String()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
    version = fields.Integer()
