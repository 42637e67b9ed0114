"""Request and response bodies. Unknown fields are refused (marshmallow's
RAISE), and every string has a length limit."""
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from fieldwork_common.principal import ROLES

LOCATIONS = ("workshop", "at_home", "on_site")
LOCALES = ("fr", "en")


class Id(fields.UUID):
    """A UUID, handed on as its string form (what services and JSON use)."""

    def _deserialize(self, value, attr, data, **kwargs):
        return str(super()._deserialize(value, attr, data, **kwargs))


def text(max_length=200, **kw):
    return fields.String(validate=validate.Length(min=1, max=max_length), **kw)


class Error(Schema):
    class Inner(Schema):
        code = fields.String(required=True)
        message = fields.String(required=True)
        details = fields.Dict(required=True)
    error = fields.Nested(Inner, required=True)


class TokenRequest(Schema):
    email = fields.Email(required=True)
    password = fields.String(required=True, validate=validate.Length(min=1, max=200))


class Token(Schema):
    access_token = fields.String(required=True)
    token_type = fields.String(required=True, metadata={"example": "Bearer"})
    expires_in = fields.Integer(required=True, metadata={"description": "seconds"})


class CompanyIn(Schema):
    name = text(required=True)


class Company(CompanyIn):
    id = Id()
    created_at = fields.DateTime()


class TechnicianIn(Schema):
    name = text(required=True)
    email = fields.Email(required=True)
    company_id = Id(required=True)


class Technician(TechnicianIn):
    id = Id()
    created_at = fields.DateTime()


class ClientIn(Schema):
    name = text(required=True)
    email = fields.Email(required=True)
    company_id = Id(required=True)
    locale = fields.String(load_default="fr", validate=validate.OneOf(LOCALES))


class Client(ClientIn):
    id = Id()
    created_at = fields.DateTime()


class InterventionTypeIn(Schema):
    name = text(required=True)
    location = fields.String(required=True, validate=validate.OneOf(LOCATIONS))


class InterventionType(InterventionTypeIn):
    id = Id()
    created_at = fields.DateTime()


class EquipmentIn(Schema):
    client_id = Id(required=True)
    kind = text(required=True)
    brand = text(allow_none=True)
    model = text(allow_none=True)
    serial_number = text(allow_none=True)


class Equipment(EquipmentIn):
    id = Id()
    created_at = fields.DateTime()


class UserIn(Schema):
    email = fields.Email(required=True)
    password = fields.String(required=True, validate=validate.Length(min=8, max=200))
    role = fields.String(required=True, validate=validate.OneOf(ROLES))
    company_id = Id(allow_none=True)
    technician_id = Id(allow_none=True)
    client_id = Id(allow_none=True)

    @validates_schema
    def links_match_role(self, data, **kwargs):
        needs = {"client": "client_id", "technician": "technician_id", "manager": "company_id"}
        needed = needs.get(data.get("role"))
        if needed and not data.get(needed):
            raise ValidationError(f"required for the role '{data['role']}'", needed)
        for key in ("client_id", "technician_id"):
            if data.get(key) and needs.get(data.get("role")) != key:
                raise ValidationError(f"only for the role '{key[:-3]}'", key)


class User(Schema):
    id = Id()
    email = fields.Email()
    role = fields.String()
    company_id = Id(allow_none=True)
    technician_id = Id(allow_none=True)
    client_id = Id(allow_none=True)
    created_at = fields.DateTime()


class InterventionIn(Schema):
    client_id = Id(required=True)
    equipment_id = Id(required=True)
    type_id = Id(required=True)
    technician_id = Id(allow_none=True, metadata={
        "description": "required for an admin; a technician may omit it (itself)"})
    location = fields.String(required=True, validate=validate.OneOf(LOCATIONS))
    description = fields.String(load_default="", validate=validate.Length(max=5000))


class InterventionPatch(Schema):
    description = fields.String(validate=validate.Length(max=5000))
    version = fields.Integer(validate=validate.Range(min=1), metadata={
        "description": "the version you read; or send it as If-Match"})


class Intervention(Schema):
    id = Id()
    company_id = Id()
    client_id = Id()
    equipment_id = Id()
    type_id = Id()
    technician_id = Id()
    location = fields.String()
    description = fields.String()
    step = fields.String(allow_none=True)
    state = fields.String()
    created_by = fields.String()
    created_at = fields.DateTime()
    version = fields.Integer()


class Health(Schema):
    status = fields.String(metadata={"example": "ok"})
    services = fields.Dict(keys=fields.String(), values=fields.String())


SERVICE_NAMES = ("requests", "interventions", "timeclock", "notifications")


class DeadLetterQuery(Schema):
    service = fields.String(validate=validate.OneOf(SERVICE_NAMES))


class DeadLetter(Schema):
    id = fields.String()
    event_type = fields.String(allow_none=True)
    queue = fields.String(allow_none=True)
    attempts = fields.Integer(allow_none=True)
    last_error = fields.String(allow_none=True)
    dead_lettered_at = fields.String(allow_none=True)
    failed_at = fields.List(fields.String())
    original_exchange = fields.String(allow_none=True)
    original_routing_key = fields.String(allow_none=True)
    replays = fields.Integer()
    envelope = fields.Raw(allow_none=True)


class DeadLetters(Schema):
    services = fields.Dict(keys=fields.String(), values=fields.List(fields.Nested(DeadLetter)))


class DeadLetterReplay(Schema):
    service = fields.String(required=True, validate=validate.OneOf(SERVICE_NAMES))
    ids = fields.List(fields.String(validate=validate.Length(min=1, max=200)),
                      validate=validate.Length(max=1000))
    all = fields.Boolean(load_default=False)

    @validates_schema
    def ids_or_all(self, data, **kwargs):
        if bool(data.get("ids")) == bool(data.get("all")):
            raise ValidationError("give either a non-empty ids list or all: true", "ids")


class DeadLetterReplayResult(Schema):
    class Replayed(Schema):
        id = fields.String()
        queue = fields.String()

    class Failed(Schema):
        id = fields.String()
        error = fields.String()

    replayed = fields.List(fields.Nested(Replayed))
    not_found = fields.List(fields.String())
    failed = fields.List(fields.Nested(Failed))
    remaining = fields.Integer(allow_none=True)


class EmailQuery(Schema):
    status = fields.String(validate=validate.OneOf(("pending", "sent", "failed", "dead")))
    recipient = fields.Email()
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))
    after = Id(metadata={"description": "the next_cursor of the previous page"})


class Email(Schema):
    id = Id()
    event_id = Id()
    recipient = fields.Email()
    template = fields.String()
    language = fields.String()
    subject = fields.String()
    status = fields.String()
    attempts = fields.Integer()
    last_error = fields.String(allow_none=True)
    next_attempt_at = fields.DateTime()
    created_at = fields.DateTime()
    sent_at = fields.DateTime(allow_none=True)


class EmailList(Schema):
    items = fields.List(fields.Nested(Email))
    next_cursor = fields.String(allow_none=True, metadata={
        "description": "pass as `after` for the next page; null on the last page"})
