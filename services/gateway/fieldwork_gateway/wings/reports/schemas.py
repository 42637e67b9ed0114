"""Bodies of the reports routes (issue 13, seed 003, docs/reports.md): the
checklist templates and an intervention's checklist."""
from marshmallow import Schema, fields, validate

from fieldwork_gateway.fields import Id, MasterQuery, page_of, text

KINDS = ("check", "yes_no_na", "number", "text", "choice", "photo")


class ChecklistItem(Schema):
    key = fields.String(required=True, validate=validate.Regexp(r"^[a-z0-9_]{1,40}$"))
    kind = fields.String(required=True, validate=validate.OneOf(KINDS))
    label = text(200, required=True)
    required = fields.Boolean(load_default=False)
    help = text(2000, allow_none=True)
    unit = text(20, allow_none=True, metadata={"description": "number"})
    min = fields.Float(allow_none=True, allow_nan=False, metadata={"description": "number"})
    max = fields.Float(allow_none=True, allow_nan=False, metadata={"description": "number"})
    choices = fields.List(fields.String(validate=validate.Length(min=1, max=200)),
                          metadata={"description": "choice: 2 to 50"})


class ChecklistTemplateIn(Schema):
    type_id = Id(required=True, metadata={"description": "the intervention type"})
    items = fields.List(fields.Nested(ChecklistItem), required=True,
                        validate=validate.Length(min=1, max=200))


class ChecklistTemplate(Schema):
    id = Id()
    type_id = Id()
    version = fields.Integer()
    items = fields.List(fields.Nested(ChecklistItem))
    created_by = fields.String()
    created_at = fields.DateTime()


ChecklistTemplateList = page_of(ChecklistTemplate, "ChecklistTemplateList")


class ChecklistTemplateQuery(MasterQuery):
    type_id = Id()


class ChecklistAnswer(Schema):
    item_key = fields.String()
    value = fields.Raw(metadata={"description": "by the item's kind: a boolean, yes/no/na, a "
                                                "number, a text, a choice, a file id"})
    note = fields.String(allow_none=True)
    flagged = fields.Boolean(metadata={"description": "a number outside the item's range"})
    answered_by = fields.String()
    answered_at = fields.DateTime()


class Checklist(Schema):
    intervention_id = Id()
    template = fields.Nested(ChecklistTemplate, allow_none=True, metadata={
        "description": "the version it started on (else the type's latest); null when none"})
    started_at = fields.DateTime(allow_none=True)
    answers = fields.List(fields.Nested(ChecklistAnswer))
    missing = fields.List(fields.String(), metadata={"description": "required items not answered"})
    flagged = fields.List(fields.String())


class AnswerIn(Schema):
    value = fields.Raw(required=True, allow_none=False)
    note = text(2000, metadata={"description": "required for a number outside its range"})


class AnswerEntry(ChecklistAnswer):
    id = fields.Integer()


AnswerEntryList = page_of(AnswerEntry, "ChecklistAnswerEntryList")


class CommentIn(Schema):
    body = text(5000, required=True)
    visible_to_client = fields.Boolean(load_default=False)


class Comment(Schema):
    id = Id()
    intervention_id = Id()
    body = fields.String()
    visible_to_client = fields.Boolean()
    author_id = fields.String()
    author_role = fields.String()
    at = fields.DateTime()


CommentList = page_of(Comment, "InterventionCommentList")


class MeasurementIn(Schema):
    parameter = text(200, required=True)
    value = fields.Float(required=True, allow_nan=False)
    unit = text(20)
    min = fields.Float(allow_nan=False, metadata={"description": "the accepted range"})
    max = fields.Float(allow_nan=False)
    note = text(2000, metadata={"description": "required for a value outside the range"})


class Measurement(Schema):
    id = Id()
    intervention_id = Id()
    parameter = fields.String()
    unit = fields.String(allow_none=True)
    value = fields.Float()
    min = fields.Float(allow_none=True)
    max = fields.Float(allow_none=True)
    flagged = fields.Boolean()
    note = fields.String(allow_none=True)
    by = fields.String()
    at = fields.DateTime()


MeasurementList = page_of(Measurement, "MeasurementList")
