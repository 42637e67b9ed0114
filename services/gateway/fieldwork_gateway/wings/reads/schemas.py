"""Bodies of the read side: lists, calendar and feeds, tracking."""
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from fieldwork_gateway.fields import WORKSHOP_STEPS, Id, Instant, Intervention, page_of


STATES = ("open", "closed", "completed")
class InterventionQuery(Schema):
    company_id = Id()
    technician_id = Id()
    client_id = Id()
    step = fields.String(validate=validate.OneOf(WORKSHOP_STEPS))
    state = fields.String(validate=validate.OneOf(STATES))
    created_from = Instant(metadata={
        "description": "RFC 3339 with its offset; created_at >= created_from"})
    created_to = Instant(metadata={
        "description": "RFC 3339 with its offset; created_at < created_to"})
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))
    after = fields.String(validate=validate.Length(min=1, max=500), metadata={
        "description": "the next_cursor of the previous page"})


InterventionList = page_of(Intervention, "InterventionList")


class CalendarQuery(Schema):
    start = Instant(required=True, data_key="from", metadata={
        "description": "RFC 3339 with its offset; pickup_at >= from"})
    end = Instant(required=True, data_key="to", metadata={
        "description": "RFC 3339 with its offset; pickup_at < to; at most 366 days after from"})
    technician_id = Id()
    company_id = Id()


class CalendarItem(Schema):
    class CalendarClient(Schema):
        id = Id()
        name = fields.String()

    class CalendarEquipment(Schema):
        kind = fields.String()
        brand = fields.String(allow_none=True)
        model = fields.String(allow_none=True)

    intervention_id = Id()
    reference = fields.String()
    pickup_at = fields.DateTime()
    pickup_kind = fields.String(allow_none=True, metadata={"description": "pickup or delivery"})
    step = fields.String(allow_none=True)
    state = fields.String()
    company_id = Id()
    technician_id = Id()
    client = fields.Nested(CalendarClient)
    equipment = fields.Nested(CalendarEquipment)


class CalendarVisit(Schema):
    class CalendarNamed(Schema):
        id = Id()
        name = fields.String()

    visit_id = Id()
    intervention_id = Id()
    reference = fields.String()
    start_at = fields.DateTime()
    end_at = fields.DateTime()
    state = fields.String()
    company_id = Id()
    technician = fields.Nested(CalendarNamed)
    client = fields.Nested(CalendarNamed)
    type = fields.Nested(CalendarNamed)


class Calendar(Schema):
    items = fields.List(fields.Nested(CalendarItem), metadata={
        "description": "the workshop's pickup and delivery dates"})
    visits = fields.List(fields.Nested(CalendarVisit), metadata={
        "description": "the visits (not cancelled) that overlap [from, to)"})


class CalendarFeedIn(Schema):
    technician_id = Id()
    company_id = Id()

    @validates_schema
    def one_subject(self, data, **kwargs):
        if bool(data.get("technician_id")) == bool(data.get("company_id")):
            raise ValidationError("give either technician_id or company_id", "technician_id")


class CalendarFeed(Schema):
    url = fields.String(metadata={"description": "the ICS feed to subscribe to; it is the key: keep it private"})
    kind = fields.String(metadata={"description": "technician or company"})
    subject_id = Id()


class Tracking(Schema):
    class TrackedCompany(Schema):
        name = fields.String()
        phone = fields.String(allow_none=True)
        email = fields.String(allow_none=True)

    class TrackedEquipment(Schema):
        kind = fields.String()
        brand = fields.String(allow_none=True)
        model = fields.String(allow_none=True)

    class ReachedStep(Schema):
        step = fields.String()
        reached_at = fields.DateTime()

    class TrackedStatus(Schema):
        label = fields.String()
        colour = fields.String()

    intervention_id = Id()
    reference = fields.String()
    company = fields.Nested(TrackedCompany)
    equipment = fields.Nested(TrackedEquipment)
    steps = fields.List(fields.Nested(ReachedStep), metadata={
        "description": "the steps passed, in order, each with the time it was (last) reached"})
    class TrackedVisit(Schema):
        start_at = fields.DateTime()
        end_at = fields.DateTime()
        state = fields.String()
        technician_name = fields.String()
        km = fields.Float(allow_none=True)

    current_step = fields.String(allow_none=True)
    state = fields.String()
    status = fields.Nested(TrackedStatus, allow_none=True)
    pickup_at = fields.DateTime(allow_none=True)
    pickup_kind = fields.String(allow_none=True)
    locale = fields.String()
    visits = fields.List(fields.Nested(TrackedVisit), metadata={
        "description": "at a client's: its visits (not cancelled), in time order"})


class TrackingLink(Schema):
    url = fields.String(metadata={"description": "PUBLIC_URL + /track/<token>; the link is the key"})
    expires_at = fields.DateTime()
