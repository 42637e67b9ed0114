"""Bodies of the satisfaction surveys (notifications service)."""
from marshmallow import Schema, fields, validate

from fieldwork_gateway.fields import Id, Instant


class SurveyAnswerIn(Schema):
    """POST /survey/<token> as JSON (the page posts the same as a form)."""
    score = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=5))
    comment = fields.String(allow_none=True, validate=validate.Length(max=2000))


class SurveyAnswer(Schema):
    survey_id = Id()
    intervention_id = Id()
    company_id = Id(allow_none=True)
    technician_id = Id(allow_none=True)
    client_id = Id(allow_none=True)
    score = fields.Integer()
    comment = fields.String(allow_none=True)
    answered_at = fields.DateTime()
    status = fields.String(metadata={"example": "answered"})


class SurveySummaryQuery(Schema):
    company_id = Id(metadata={"description": "a manager: its own company only"})
    technician_id = Id()
    from_ = Instant(data_key="from", metadata={
        "description": "answered at or after (RFC 3339 with offset)"})
    to = Instant(metadata={"description": "answered before (RFC 3339 with offset)"})


class SurveySummary(Schema):
    count = fields.Integer()
    average = fields.Float(allow_none=True, metadata={"description": "null when no answer"})
    distribution = fields.Dict(keys=fields.String(), values=fields.Integer(), metadata={
        "description": 'answers per score, "1" to "5"'})
