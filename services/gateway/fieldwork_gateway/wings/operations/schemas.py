"""Bodies of the operations routes: health, dead letters, the email log."""
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from fieldwork_gateway.fields import Id, page_of


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


EmailList = page_of(Email, "EmailList")
