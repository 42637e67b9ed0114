"""Files (issue 9 §3, docs/files.md): the kinds of file, the content types
each accepts, the size limit of each, and who may attach what.

Plain Python: the gateway asks the service for the policy before it
streams an upload (`prepare_upload`), and the service checks it again on
the metadata it registers. The bytes themselves never come here.
"""
import os
import re
from dataclasses import dataclass

from fieldwork_common.errors import (Conflict, Forbidden, InvalidInput, NotFound, PayloadTooLarge,
                                     UnsupportedMediaType)

MiB = 1024 * 1024

# Images Pillow decodes: they get a thumbnail and a client copy without
# EXIF/GPS. HEIC (iPhone photos) is stored, but Pillow 13 cannot decode it:
# no derivatives, and a client is never handed its original.
IMAGES = ("image/jpeg", "image/png", "image/webp")
PHOTOS = IMAGES + ("image/heic",)

# kind -> the content types it accepts, detected from the bytes (never the name)
ACCEPTED = {
    "photo": PHOTOS,                                  # photos of the field report, incidents
    "video": ("video/mp4", "video/quicktime"),
    "document": ("application/pdf",) + PHOTOS,        # a request's documents, a scanned page
    "signature": ("image/png",),                      # the client's signature, drawn on a screen
}
KINDS = tuple(ACCEPTED)

DEFAULT_MAX_BYTES = 25 * MiB                          # every kind, unless set otherwise
DEFAULT_KIND_MAX_BYTES = {"signature": 1 * MiB}       # a drawn signature is a few KB

SHA256 = re.compile(r"[0-9a-f]{64}")
MAX_NAME = 255
CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class Policy:
    """The limit of each kind, in bytes."""
    limits: dict

    def limit(self, kind):
        check_kind(kind)
        return self.limits[kind]

    def describe(self, kind):
        """What the gateway needs to stream an upload of `kind`: its limit,
        the types it accepts, and those that get derivatives."""
        return {"kind": kind, "max_bytes": self.limit(kind), "accepted": list(ACCEPTED[kind]),
                "derivatives": [t for t in ACCEPTED[kind] if has_derivatives(t)]}

    def check(self, kind, content_type, size):
        """The kind exists, accepts this content type, and the size is
        within its limit (415 and 413 name what is accepted)."""
        check_content_type(kind, content_type)
        if not isinstance(size, int) or isinstance(size, bool) or size < 1:
            raise InvalidInput("size must be a positive number of bytes.", {"size": size})
        if size > self.limit(kind):
            raise PayloadTooLarge(f"A {kind} may be at most {self.limit(kind)} bytes.",
                                  {"kind": kind, "limit_bytes": self.limit(kind), "size": size})


def policy_from(environ=None):
    """The limits from the environment: `FILES_MAX_BYTES` for every kind
    (default 25 MiB), `FILES_MAX_BYTES_<KIND>` for one (a signature: 1 MiB,
    or FILES_MAX_BYTES when that is smaller). A value that is not a positive integer stops the start."""
    env = os.environ if environ is None else environ
    every = _positive(env, "FILES_MAX_BYTES", DEFAULT_MAX_BYTES)
    return Policy({kind: _positive(env, f"FILES_MAX_BYTES_{kind.upper()}",
                                   min(DEFAULT_KIND_MAX_BYTES.get(kind, every), every))
                   for kind in KINDS})


def _positive(env, name, default):
    value = env.get(name)
    if value in (None, ""):
        return default
    try:
        number = int(value)
    except ValueError:
        raise ValueError(f"{name} must be a number of bytes, not {value!r}") from None
    if number < 1:
        raise ValueError(f"{name} must be positive, not {value!r}")
    return number


def check_kind(kind):
    if kind not in ACCEPTED:
        raise InvalidInput("Unknown kind of file.", {"kind": kind, "kinds": list(KINDS)})


def check_content_type(kind, content_type):
    check_kind(kind)
    if content_type not in ACCEPTED[kind]:
        raise UnsupportedMediaType(
            f"A {kind} must be one of: {', '.join(ACCEPTED[kind])}.",
            {"kind": kind, "content_type": content_type, "accepted": list(ACCEPTED[kind])})


def has_derivatives(content_type):
    """Whether an image of this type gets a thumbnail and a client copy."""
    return content_type in IMAGES


def check_sha256(value):
    if not isinstance(value, str) or not SHA256.fullmatch(value):
        raise InvalidInput("sha256 must be 64 lower-case hex digits.", {"sha256": value})
    return value


def clean_name(name):
    """The name the uploader gave, as kept: its last path segment, without
    control characters, at most 255 characters; None when nothing is left.
    It is shown and offered as a download name, never used as a path."""
    if name is None:
        return None
    if not isinstance(name, str):
        raise InvalidInput("The file name must be text.", {"original_name": str(name)[:100]})
    name = CONTROL.sub("", name.replace("\\", "/").rsplit("/", 1)[-1]).strip()
    return name[:MAX_NAME] or None


def upload_company(role, requested, own_company_id):
    """The company a file is uploaded for. `own_company_id`: the caller's
    (a client's: its client's company; a technician's: its login's or its
    own company; none for an admin of the whole platform).

    A client uploads for its own company only: naming another is 404, as
    for any record it may not see. Staff may name a company they see (the
    service resolves it); a platform admin must name one."""
    if role == "client":
        if requested is not None and requested != own_company_id:
            raise NotFound("Company not found.", {"company_id": requested})
        return own_company_id
    if requested is not None:
        return requested
    if own_company_id is None:
        raise InvalidInput("Name the company the file belongs to (company_id): an admin of the "
                           "whole platform has none of its own.", {"company_id": "required"})
    return own_company_id


def check_attachment(role, visible_to_client, uploaded_by, user_id, file_company_id,
                     intervention_company_id):
    """A file attached to an intervention belongs to the intervention's
    company (400 otherwise). A client attaches only what it uploaded itself
    (403), and its attachments are visible to it (400)."""
    if not isinstance(visible_to_client, bool):
        raise InvalidInput("visible_to_client must be true or false.",
                           {"visible_to_client": visible_to_client})
    if role == "client":
        if uploaded_by != user_id:
            raise Forbidden("A client attaches only files it uploaded.")
        if not visible_to_client:
            raise InvalidInput("What a client attaches is visible to it: send visible_to_client "
                               "true.", {"visible_to_client": visible_to_client})
    if file_company_id != intervention_company_id:
        raise InvalidInput("The file belongs to another company than the intervention.",
                           {"file_company_id": file_company_id,
                            "intervention_company_id": intervention_company_id})


def served_variant(role, wanted, content_type, has_thumbnail, has_client_copy):
    """Which stored object a caller reads: `wanted` is original or
    thumbnail. A client never reads an image's original (it may carry the
    place it was taken): it gets the copy without EXIF/GPS, and an image
    without such a copy (HEIC) is refused (409)."""
    if wanted == "thumbnail":
        if not has_thumbnail:
            raise NotFound("This file has no thumbnail (only JPEG, PNG and WebP images have one).",
                           {"content_type": content_type})
        return "thumbnail"
    if role == "client" and content_type.startswith("image/"):
        if not has_client_copy:
            raise Conflict("This image has no copy without its location data that a client may "
                           "read; staff can read the original.", {"content_type": content_type})
        return "client"
    return "original"
