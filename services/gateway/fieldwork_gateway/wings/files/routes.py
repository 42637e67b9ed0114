"""Files (issue 9 §3, docs/files.md): uploads streamed to the object store,
downloads streamed back to those who may read them, and the files attached
to interventions."""
import logging
from urllib.parse import quote

from flask import Response

from fieldwork_common import files
from fieldwork_common.errors import NotFound
from fieldwork_gateway.fields import MasterQuery
from fieldwork_gateway.web import ALL, api, call
from fieldwork_gateway.wings.files import schemas, upload

log = logging.getLogger(__name__)

UPLOAD_ERRORS = {
    413: "Larger than the kind's limit (details.limit_bytes)",
    415: "A content type the kind does not accept (details.accepted); detected from the bytes",
}
EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp", "image/heic": "heic",
              "video/mp4": "mp4", "video/quicktime": "mov", "application/pdf": "pdf"}


@api.route("/files", "POST", summary="Upload a file (multipart/form-data)", roles=ALL,
           form=schemas.UploadForm, response=schemas.FileOut, status=201, tag="files",
           errors=UPLOAD_ERRORS)
def upload_file():
    """The form: `kind`, optionally `company_id`, then the `file` itself,
    last. The bytes stream to the object store; the answer gives the file's
    id, size, SHA-256 and the content type detected from its bytes (a lying
    name or declared type changes nothing). A client uploads for its own
    company. JPEG, PNG and WebP images get a thumbnail (≤ 400 px) and a copy
    without EXIF/GPS for clients. 413 over the kind's limit, 415 for a type
    it does not accept, 400 without a file; an upload cut in the middle
    keeps nothing. Read it with GET /files/{id}, attach it with
    POST /interventions/{id}/attachments."""
    return upload.receive(), 201


def _disposition(meta, variant, content_type):
    """inline for images, attachment for the rest, with the uploaded name."""
    name = meta.get("original_name") or f"{meta['id']}.{EXTENSIONS.get(meta['content_type'], 'bin')}"
    if variant == "thumbnail":
        name = f"thumbnail-{name}"
    fallback = "".join(c if 32 <= ord(c) < 127 and c not in '"\\;' else "_" for c in name)
    kind = "inline" if content_type.startswith("image/") else "attachment"
    return f"{kind}; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


def _stream(file_id, variant):
    found = call("interventions", "file_download", file_id=file_id, variant=variant)
    meta = found["file"]
    try:
        stored = files.store().get(found["key"])
    except NotFound:
        log.error("file %s is registered but its %s is not in the store", meta["id"], found["variant"])
        raise NotFound("File not found.", {"file_id": file_id}) from None
    content_type = meta["content_type"] if found["variant"] == "original" else stored.content_type
    headers = {
        "Content-Length": str(stored.length),
        "Content-Disposition": _disposition(meta, variant, content_type),
        "Cache-Control": "private",
        "X-Content-Type-Options": "nosniff",
        # what a browser renders from here runs nothing and loads nothing
        "Content-Security-Policy": "sandbox; default-src 'none'",
    }
    if found["variant"] == "original":
        headers["ETag"] = f'"{meta["sha256"]}"'
    return Response(stored.chunks(), headers=headers, content_type=content_type,
                    direct_passthrough=True), 200


@api.route("/files/<file_id>", "GET", summary="A file's bytes", roles=ALL, tag="files")
def download_file(file_id):
    """Streamed from the object store, with its content type, length and
    `Content-Disposition` (inline for images, attachment otherwise). For
    those who may see the file: its uploader, the admins and managers of its
    company and its technicians, and those who see an intervention it is
    attached to (its client: only attachments visible to the client). A
    client reading an image gets the copy without EXIF/GPS, never the
    original; 404 for a file the caller may not see."""
    return _stream(file_id, "original")


@api.route("/files/<file_id>/thumbnail", "GET", summary="An image's thumbnail (≤ 400 px)",
           roles=ALL, tag="files")
def download_thumbnail(file_id):
    """JPEG, PNG and WebP images only (404 for other files), without
    EXIF/GPS; for those who may read the file."""
    return _stream(file_id, "thumbnail")


@api.route("/interventions/<intervention_id>/attachments", "POST",
           summary="Attach a file to an intervention", roles=ALL, body=schemas.AttachmentIn,
           response=schemas.AttachmentOut, status=201, tag="files")
def attach_file(intervention_id, body):
    """Staff who work on the intervention attach any file of its company;
    its client attaches the files it uploaded (visible to it). The file must
    be one the caller may see (404) and of the intervention's company (400);
    the same file twice is 409. Publishes `intervention.file_attached`; the
    intervention's version does not change."""
    return call("interventions", "attach_file", intervention_id=intervention_id, **body)


@api.route("/interventions/<intervention_id>/attachments", "GET",
           summary="The files attached to an intervention, newest first", roles=ALL,
           query=MasterQuery, response=schemas.AttachmentList, tag="files")
def list_attachments(intervention_id, query):
    """For whoever sees the intervention; its client sees only those visible
    to it. A page at a time: pass `next_cursor` as `after`."""
    return call("interventions", "list_attachments", intervention_id=intervention_id, **query)
