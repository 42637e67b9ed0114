"""Bodies of the workshop routes: steps and statuses (seed 000)."""
from marshmallow import Schema, fields, validate

from fieldwork_gateway.fields import WORKSHOP_STEPS, Id, Instant, text


class StepIn(Schema):
    step = fields.String(required=True, validate=validate.OneOf(WORKSHOP_STEPS))
    diagnostic = fields.String(validate=validate.Length(max=10000), metadata={
        "description": "only when moving to final_tests"})
    tests_performed = fields.List(text(500), validate=validate.Length(max=100), metadata={
        "description": "only when moving to final_tests"})
    pickup_at = Instant(metadata={
        "description": "only when moving to awaiting_pickup: RFC 3339 with its offset"})
    pickup_kind = fields.String(validate=validate.OneOf(("pickup", "delivery")), metadata={
        "description": "only when moving to awaiting_pickup (default pickup when a date is given)"})


class StatusIn(Schema):
    status_id = Id(required=True)
