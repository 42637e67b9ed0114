"""Bodies of the files routes: the upload form, a file as answered, and
attachments (docs/files.md)."""
from marshmallow import Schema, ValidationError, fields, validate

from fieldwork_gateway.fields import Id, page_of

KINDS = ("photo", "video", "document", "signature")


class StrictBoolean(fields.Boolean):
    """true or false, not "true", 1 or "yes"."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, bool):
            raise ValidationError("Not a boolean (true or false).")
        return value


class UploadFields(Schema):
    """The form fields sent before the file."""
    kind = fields.String(required=True, validate=validate.OneOf(KINDS), metadata={
        "description": "photo (JPEG, PNG, WebP, HEIC), video (MP4, QuickTime), document (PDF or "
                       "an image), signature (PNG); send it before the file"})
    company_id = Id(metadata={
        "description": "the company the file belongs to: by default the caller's (a client's: "
                       "its client's company, and no other); an admin of the whole platform must "
                       "name one; send it before the file"})


class UploadForm(UploadFields):
    file = fields.Raw(required=True, metadata={
        "type": "string", "format": "binary",
        "description": "the bytes, last part of the form; its type is detected from the bytes, "
                       "never from its name or declared type"})


class FileOut(Schema):
    id = Id()
    company_id = Id()
    kind = fields.String()
    content_type = fields.String(metadata={"description": "detected from the bytes"})
    size = fields.Integer(metadata={"description": "bytes"})
    sha256 = fields.String(metadata={"description": "SHA-256 of the bytes, hex"})
    original_name = fields.String(allow_none=True, metadata={
        "description": "the name it was uploaded with (its last path segment)"})
    uploaded_by = fields.String(metadata={"description": "the login that uploaded it"})
    created_at = fields.DateTime()
    has_thumbnail = fields.Boolean(metadata={
        "description": "JPEG, PNG and WebP images have one (GET /files/{id}/thumbnail)"})


class AttachmentIn(Schema):
    file_id = Id(required=True, metadata={
        "description": "a file the caller may see, of the intervention's company"})
    visible_to_client = StrictBoolean(required=True, metadata={
        "description": "whether the intervention's client may read it (a client's own "
                       "attachments: true)"})


class AttachmentOut(Schema):
    intervention_id = Id()
    file = fields.Nested(FileOut)
    visible_to_client = fields.Boolean()
    attached_by = fields.String()
    attached_at = fields.DateTime()


AttachmentList = page_of(AttachmentOut, "AttachmentList")
