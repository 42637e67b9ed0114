"""Receiving an upload (`POST /files`, docs/files.md): the multipart body is
read as a stream, a chunk at a time, and its file goes to the object store
as it arrives; no part of the gateway holds the whole file.

1. the form fields before the file (`kind`, `company_id`), at most 64 KiB;
2. `interventions.prepare_upload`: the file's company (resolved in the
   caller's scope), the kind's limit and accepted types — before a byte is
   written;
3. the first 8 KiB of the file: its type, detected from the bytes (415 if
   the kind does not take it); then the bytes, to the store, counted against
   the limit (413) and hashed (SHA-256) on the way;
4. for JPEG, PNG and WebP: the thumbnail and the client copy (images.py);
5. `interventions.register_file`. If anything fails — the client cuts the
   upload, a limit, the registration — the objects written are deleted and
   nothing is registered: no file row ever names bytes that are not there,
   and no bytes are left that a row does not name (but see docs/files.md
   for a gateway killed mid-upload, and a registration left unanswered).
"""
import itertools
import logging
import tempfile
import uuid

import filetype
from flask import request
from werkzeug.exceptions import ClientDisconnected, RequestEntityTooLarge
from werkzeug.sansio.multipart import (NEED_DATA, Data, Epilogue, Field, File, MultipartDecoder,
                                       Preamble)

from fieldwork_common import files
from fieldwork_common.errors import (FieldworkError, InvalidInput, PayloadTooLarge, Unavailable,
                                     UnsupportedMediaType)
from fieldwork_gateway.web import call, load, rehash_idempotency
from fieldwork_gateway.wings.files import images, schemas

log = logging.getLogger(__name__)

CHUNK = 64 * 1024
BEFORE_FILE_MAX = 64 * 1024    # the fields and part headers before the file's bytes
AFTER_FILE_MAX = 4 * 1024      # the closing boundary, an epilogue
FIELD_MAX = 1024
SNIFF_BYTES = 8192             # what filetype reads to recognise a type
SPOOL_IN_MEMORY = 8 * 1024 * 1024  # an image beyond this waits for its derivatives in a temp file
REFUSED_DRAIN_MAX = 1024 * 1024    # read after a refusal before the file's limit is known
FIELDS = ("kind", "company_id")
UNLIMITED = 2 ** 62


def incomplete():
    return InvalidInput("The upload ended before the end of its form: it was cut, and nothing "
                        "was kept.", {"reason": "incomplete"})


class FormStream:
    """A multipart/form-data body, read from `stream` a chunk at a time,
    never more than `budget` bytes in all."""

    def __init__(self, stream, boundary):
        self.stream = stream
        self.decoder = MultipartDecoder(boundary, max_form_memory_size=BEFORE_FILE_MAX + 2 * CHUNK)
        self.read_bytes = 0
        self.budget = BEFORE_FILE_MAX
        self.limit = None
        self.ended = False

    def _read(self):
        if self.read_bytes >= self.budget:
            raise self._too_large()
        try:
            chunk = self.stream.read(min(CHUNK, self.budget - self.read_bytes + 1))
        except RequestEntityTooLarge:
            raise self._too_large() from None
        except (ClientDisconnected, OSError):
            self.ended = True
            raise incomplete() from None
        except Exception as exc:  # the server's own reader: a malformed chunked body
            log.info("an upload's body could not be read: %s", exc)
            self.ended = True
            raise incomplete() from None
        if not chunk:
            self.ended = True
            return b""
        self.read_bytes += len(chunk)
        if self.read_bytes > self.budget:
            raise self._too_large()
        return chunk

    def _too_large(self):
        if self.limit is None:
            return PayloadTooLarge("The form fields before the file are too large.",
                                   {"limit_bytes": BEFORE_FILE_MAX, "part": "fields"})
        return PayloadTooLarge(f"The file is larger than the limit of {self.limit} bytes.",
                               {"limit_bytes": self.limit})

    def _next(self):
        while True:
            try:
                event = self.decoder.next_event()
            except ValueError:  # no closing boundary before the end, or broken headers
                raise (incomplete() if self.ended else InvalidInput(
                    "The multipart body is malformed.", {"reason": "malformed"})) from None
            except RequestEntityTooLarge:
                raise self._too_large() from None
            if event is not NEED_DATA:
                return event
            chunk = self._read()
            self.decoder.receive_data(chunk if chunk else None)

    def fields(self):
        """The fields before the file: ({name: text}, the file's name)."""
        values, current = {}, None
        while True:
            event = self._next()
            if isinstance(event, Preamble):
                continue
            if isinstance(event, Field):
                if event.name == "file":
                    raise _missing_file("The field `file` must be a file part (with a filename).")
                if event.name not in FIELDS:
                    raise InvalidInput("Unknown form field.",
                                       {"field": event.name, "allowed": [*FIELDS, "file"]})
                if event.name in values:
                    raise InvalidInput("A form field is sent twice.", {"field": event.name})
                current = event.name
                values[current] = bytearray()
            elif isinstance(event, Data):
                if current is not None:
                    values[current] += event.data
                    if len(values[current]) > FIELD_MAX:
                        raise InvalidInput("A form field is too long.",
                                           {"field": current, "max_bytes": FIELD_MAX})
                    if not event.more_data:
                        current = None
            elif isinstance(event, File):
                if event.name != "file":
                    raise InvalidInput("Unknown form field.",
                                       {"field": event.name, "allowed": [*FIELDS, "file"]})
                return {name: _text(name, value) for name, value in values.items()}, event.filename
            elif isinstance(event, Epilogue):
                raise _missing_file("The form has no `file` part.")

    def allow_file(self, limit):
        """From here on, the file's bytes: at most `limit`, then the end."""
        self.limit = limit
        self.budget = self.read_bytes + limit + AFTER_FILE_MAX

    def file_data(self):
        """The file's bytes, chunk by chunk; then the form must end."""
        while True:
            event = self._next()
            if not isinstance(event, Data):
                raise InvalidInput("The multipart body is malformed.", {"reason": "malformed"})
            if event.data:
                yield event.data
            if not event.more_data:
                break
        event = self._next()
        if isinstance(event, (Field, File)):
            raise InvalidInput("The file must be the last part of the form.",
                               {"field": event.name})
        if not isinstance(event, Epilogue):
            raise InvalidInput("The multipart body is malformed.", {"reason": "malformed"})

    def drain(self, at_most):
        """Read what the client still sends (at most `at_most` bytes), so
        that it reads the refusal instead of a reset connection."""
        self.budget = self.read_bytes + at_most
        try:
            while not self.ended and self.read_bytes < self.budget:
                self._read()
        except FieldworkError:
            pass


def _missing_file(message):
    return InvalidInput(message + " Send multipart/form-data with the form fields first and the "
                                  "file last, in a part named `file`.", {"field": "file"})


def _text(name, value):
    try:
        return bytes(value).decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput("A form field must be UTF-8 text.", {"field": name}) from None


def boundary():
    """The multipart boundary of this request, or 400."""
    value = request.mimetype_params.get("boundary", "")
    if request.mimetype != "multipart/form-data" or not 1 <= len(value) <= 200:
        raise _missing_file("No file.")
    return value.encode("latin-1", "replace")


def _sniff(chunks):
    """The first SNIFF_BYTES of the file (less when it is shorter)."""
    head = bytearray()
    for chunk in chunks:
        head += chunk
        if len(head) >= SNIFF_BYTES:
            break
    return bytes(head)


def receive():
    """Stream the upload to the store and register it: the file as answered."""
    separator = boundary()
    form = FormStream(_input(), separator)
    store = files.store()
    writer, spool, written = None, None, []
    file_id = str(uuid.uuid4())
    hopeless = False  # the body announces more than a refusal could read
    registering = False
    try:
        fields, name = form.fields()
        given = load(schemas.UploadFields(), fields, "form")
        kind = given["kind"]
        plan = call("interventions", "prepare_upload", kind=kind, company_id=given.get("company_id"))
        limit, company_id = plan["max_bytes"], plan["company_id"]
        form.allow_file(limit)
        if (request.content_length or 0) > form.budget:
            hopeless = True
            raise PayloadTooLarge(f"A {kind} may be at most {limit} bytes.",
                                  {"kind": kind, "limit_bytes": limit})
        chunks = form.file_data()
        head = _sniff(chunks)
        if not head:
            raise InvalidInput("The file is empty.", {"field": "file"})
        detected = filetype.guess_mime(head)
        if detected not in plan["accepted"]:
            raise UnsupportedMediaType(
                f"A {kind} must be one of: {', '.join(plan['accepted'])}.",
                {"kind": kind, "content_type": detected, "accepted": plan["accepted"]})
        writer = store.writer(files.object_key(company_id, file_id), detected, limit)
        if detected in plan["derivatives"]:
            spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)
        try:
            for chunk in itertools.chain([head], chunks):
                writer.write(chunk)
                if spool is not None:
                    spool.write(chunk)
        except PayloadTooLarge as exc:
            exc.details.setdefault("kind", kind)
            raise
        stored = writer.complete()
        written.append(stored.key)
        derived = None
        if spool is not None:
            spool.seek(0)
            derived = images.derive(spool)
            for variant, copy in (("thumbnail", derived.thumbnail), ("client", derived.client)):
                key = files.object_key(company_id, file_id, variant)
                store.put_bytes(key, copy.data, copy.content_type)
                written.append(key)
        # the same Idempotency-Key with another file is a conflict, not this answer
        rehash_idempotency({"kind": kind, "company_id": company_id, "size": stored.size,
                            "sha256": stored.sha256, "name": name})
        registering = True
        answer = call("interventions", "register_file", file_id=file_id, kind=kind,
                      content_type=detected, size=stored.size, sha256=stored.sha256,
                      company_id=company_id, original_name=name, thumbnail=derived is not None,
                      client_copy=derived is not None)
    except BaseException as exc:
        if registering and isinstance(exc, Unavailable):
            # No answer: the registration may have been committed and its
            # reply lost. Deleting could leave a row naming nothing; keeping
            # leaves at worst bytes no row names (files_sweep removes them).
            log.warning("registration of %s unanswered: its objects are kept", file_id)
            raise
        if writer is not None:
            writer.abort()
        _delete(store, written)
        if isinstance(exc, FieldworkError) and not form.ended and not hopeless:
            form.drain(form.limit + AFTER_FILE_MAX if form.limit else REFUSED_DRAIN_MAX)
        raise
    finally:
        if spool is not None:
            spool.close()
    if answer["id"] != file_id:  # a repeat of an upload (its Idempotency-Key): the first answer
        _delete(store, written)
    return answer


def _input():
    # This reader counts every byte itself (FormStream.budget): the app's
    # 1 MB limit of a request is lifted for this request only (None would
    # mean the app's). JSON bodies keep theirs (web.json_body).
    request.max_content_length = UNLIMITED
    return request.stream


def _delete(store, keys):
    try:
        store.delete(*keys)
    except FieldworkError:
        log.error("could not delete the objects of a refused upload: %s", keys)
