"""Bodies of the visits routes (issue 10, seed 001, docs/visits.md)."""
from marshmallow import Schema, fields, validate

from fieldwork_gateway.fields import Id, Instant, page_of, text, version_field

STATES = ("planned", "done", "disputed", "arbitration", "validated", "cancelled")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
WAITING = ("worker", "client", "manager")


def km_field(**kw):
    return fields.Float(allow_nan=False, validate=validate.Range(min=0, max=100000), metadata={
        "description": "kilometres, ≥ 0, one decimal at most, at most the company's max_visit_km"},
        **kw)


class Repeat(Schema):
    weekly_on = fields.List(fields.String(validate=validate.OneOf(WEEKDAYS)), required=True,
                            validate=validate.Length(min=1, max=7))
    until = fields.Date(required=True, metadata={"description": "the last day of the series (included)"})


class VisitIn(Schema):
    start_at = Instant(required=True)
    end_at = Instant(required=True, metadata={"description": "after start_at, at most 24 h later"})
    technician_id = Id(metadata={"description": "staff: default the intervention's technician; "
                                                "a technician plans only for itself"})
    contract_id = Id(metadata={"description": "the client's billable contract, validated or "
                                              "active; default the intervention's. A technician "
                                              "names none: its visit takes the intervention's"})
    repeat = fields.Nested(Repeat, metadata={"description": "a weekly series: one visit per day "
                                                            "of weekly_on until `until`"})
    mission_order = text(5000, metadata={"description": "the mission order (ordre de mission)"})


class Visit(Schema):
    id = Id()
    intervention_id = Id()
    company_id = Id()
    client_id = Id()
    technician_id = Id()
    type_id = Id(metadata={"description": "the service (the intervention's type)"})
    contract_id = Id()
    state = fields.String(metadata={"description": ", ".join(STATES)})
    start_at = fields.DateTime()
    end_at = fields.DateTime()
    km = fields.Float(allow_none=True)
    comment = fields.String(allow_none=True)
    mission_order = fields.String(allow_none=True)
    created_by_worker = fields.Boolean()
    series_id = Id(allow_none=True)
    reason_id = Id(allow_none=True, metadata={"description": "the cancellation reason"})
    state_since = fields.DateTime()
    declared_at = fields.DateTime(allow_none=True)
    declared_by = fields.String(allow_none=True)
    validated_at = fields.DateTime(allow_none=True)
    validated_by = fields.String(allow_none=True)
    validation_mode = fields.String(allow_none=True, metadata={
        "description": "client, on_behalf, tacit or arbitrated"})
    on_behalf_of = Id(allow_none=True)
    awaiting = fields.String(allow_none=True, metadata={
        "description": "who it waits for: worker, client or manager; null when nobody"})
    to_do = fields.Boolean(metadata={"description": "planned and its end not yet passed"})
    created_by = fields.String()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
    version = fields.Integer()


class Planned(Schema):
    items = fields.List(fields.Nested(Visit))


VisitList = page_of(Visit, "VisitList")


class VisitQuery(Schema):
    state = fields.String(validate=validate.OneOf(STATES))
    client_id = Id()
    technician_id = Id()
    type_id = Id(metadata={"description": "the service"})
    intervention_id = Id()
    company_id = Id()
    start = Instant(data_key="from", metadata={"description": "start_at >= from"})
    end = Instant(data_key="to", metadata={"description": "start_at < to"})
    overdue = fields.Boolean(metadata={"description": "true: to validate by the worker (planned, "
                                                      "its end passed)"})
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))
    after = fields.String(validate=validate.Length(min=1, max=500))


class PlanningQuery(Schema):
    start = Instant(required=True, data_key="from")
    end = Instant(required=True, data_key="to", metadata={"description": "at most 92 days after from"})
    technician_id = Id()
    client_id = Id()
    company_id = Id()
    include_cancelled = fields.Boolean(load_default=False)
    limit = fields.Integer(load_default=200, validate=validate.Range(min=1, max=200))
    after = fields.String(validate=validate.Length(min=1, max=500))


class Party(Schema):
    id = Id()
    name = fields.String()
    address = fields.String(allow_none=True)


class PlanningItem(Visit):
    reference = fields.String()
    client = fields.Nested(Party)
    technician = fields.Nested(Party)
    type = fields.Nested(Party)


Planning = page_of(PlanningItem, "Planning")


class VisitPatch(Schema):
    start_at = Instant()
    end_at = Instant()
    technician_id = Id(metadata={"description": "reassign to this technician of the company"})
    version = version_field()


class CancelIn(Schema):
    reason_id = Id(required=True, metadata={"description": "a cancellation reason of the catalog"})
    comment = text(5000)
    version = version_field()


class NextVisit(Schema):
    start_at = Instant(required=True)
    end_at = Instant(required=True)
    comment = text(5000, metadata={"description": "the mission order (default the comment)"})


class WorkerValidationIn(Schema):
    outcome = fields.String(required=True, validate=validate.OneOf(("done", "cancelled")))
    start_at = Instant(metadata={"description": "the actual start (default the planned one)"})
    end_at = Instant()
    km = km_field()
    comment = text(5000)
    cancel_reason_id = Id(metadata={"description": "with outcome=cancelled, optional"})
    next_visit = fields.Nested(NextVisit, metadata={"description": "add a new visit (it carries "
                                                                   "a mission order)"})
    version = version_field()


class WorkerValidated(Visit):
    next_visit = fields.Nested(Visit)


class ClientValidationIn(Schema):
    decision = fields.String(required=True, validate=validate.OneOf(("validate", "dispute", "cancel")))
    reason_id = Id(metadata={"description": "dispute: a refusal reason; cancel: a cancellation "
                                            "reason"})
    start_at = Instant(metadata={"description": "dispute: the corrected start"})
    end_at = Instant()
    km = km_field()
    comment = text(5000)
    version = version_field()


class DisputeAnswerIn(Schema):
    accept = fields.Boolean(required=True)
    comment = text(5000)
    version = version_field()


class ArbitrationIn(Schema):
    decide = fields.String(required=True, validate=validate.OneOf(("worker", "client", "custom")))
    reason = text(5000, required=True, metadata={"description": "shown to the worker and the client"})
    start_at = Instant(metadata={"description": "decide=custom"})
    end_at = Instant()
    km = km_field()
    version = version_field()


class VisitHistoryItem(Schema):
    id = fields.Integer()
    move = fields.String()
    from_state = fields.String(allow_none=True)
    to_state = fields.String()
    start_at = fields.DateTime(allow_none=True)
    end_at = fields.DateTime(allow_none=True)
    km = fields.Float(allow_none=True)
    technician_id = Id(allow_none=True)
    reason_id = Id(allow_none=True)
    comment = fields.String(allow_none=True)
    decision = fields.String(allow_none=True)
    accepted = fields.Boolean(allow_none=True, metadata={
        "description": "its values applied (true), turned down (false), waiting or none (null)"})
    author_id = fields.String()
    author_role = fields.String()
    on_behalf_of = Id(allow_none=True)
    at = fields.DateTime()


class VisitHistory(Schema):
    items = fields.List(fields.Nested(VisitHistoryItem))


class BatchIn(Schema):
    visit_ids = fields.List(Id(), required=True, validate=validate.Length(min=1, max=500))


class BatchItem(Schema):
    id = fields.String()
    validated = fields.Boolean()
    visit = fields.Nested(Visit)
    error = fields.Dict(metadata={"description": "why this one was refused: {code, message, details}"})


class BatchResult(Schema):
    items = fields.List(fields.Nested(BatchItem))
    validated = fields.Integer()
    refused = fields.Integer()


class BoardQuery(Schema):
    waiting_for = fields.String(validate=validate.OneOf(WAITING))
    client_id = Id()
    technician_id = Id()
    type_id = Id()
    company_id = Id()
    start = Instant(data_key="from", metadata={"description": "start_at >= from"})
    end = Instant(data_key="to", metadata={"description": "start_at < to"})
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))
    after = fields.String(validate=validate.Length(min=1, max=500))


class CsvQuery(BoardQuery):
    class Meta:
        exclude = ("limit", "after")


class BoardItem(Schema):
    id = Id()
    intervention_id = Id()
    reference = fields.String()
    company_id = Id()
    client = fields.Nested(Party)
    technician = fields.Nested(Party)
    type_id = Id()
    state = fields.String()
    start_at = fields.DateTime()
    end_at = fields.DateTime()
    km = fields.Float(allow_none=True)
    waiting_for = fields.String(metadata={"description": "worker, client or manager"})
    waiting_since = fields.DateTime()
    version = fields.Integer()


class Totals(Schema):
    worker = fields.Integer()
    client = fields.Integer()
    manager = fields.Integer()
    all = fields.Integer()


class Board(Schema):
    items = fields.List(fields.Nested(BoardItem))
    next_cursor = fields.String(allow_none=True)
    totals = fields.Nested(Totals, metadata={"description": "per party, for the same filters"})


class ReasonIn(Schema):
    kind = fields.String(required=True, validate=validate.OneOf(("refusal", "cancellation")))
    label = text(200, required=True)
    position = fields.Integer(load_default=0, validate=validate.Range(min=0, max=10000))
    company_id = Id(metadata={"description": "default the admin's company"})


class Reason(Schema):
    id = Id()
    company_id = Id()
    kind = fields.String()
    label = fields.String()
    position = fields.Integer()
    active = fields.Boolean()
    created_at = fields.DateTime()
    version = fields.Integer()


class ReasonPatch(Schema):
    label = text(200)
    position = fields.Integer(validate=validate.Range(min=0, max=10000))
    active = fields.Boolean()
    version = version_field()


class ReasonQuery(Schema):
    kind = fields.String(validate=validate.OneOf(("refusal", "cancellation")))
    company_id = Id()
    active = fields.Boolean()
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=200))
    after = fields.String(validate=validate.Length(min=1, max=500))


ReasonList = page_of(Reason, "ReasonList")
