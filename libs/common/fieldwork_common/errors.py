"""Errors that cross the RPC boundary as themselves.

nameko serialises an exception raised by a worker as its type path and its
args; registering a type with `deserialize_to_instance` makes the caller
(the gateway, or another service) get the same type back, with `code`,
`message` and `details` intact, instead of a bare RemoteError. The gateway
maps each type to an HTTP status in one place.
"""
import json

from nameko.exceptions import deserialize_to_instance


class FieldworkError(Exception):
    code = "error"
    http_status = 500

    def __init__(self, message, details=None):
        # nameko turns every non-string arg into a string on the way back;
        # details travel as JSON so numbers and lists keep their type.
        if isinstance(details, str):
            details = json.loads(details)
        self.message = message
        self.details = details or {}
        super().__init__(message, json.dumps(self.details, default=str))

    def __str__(self):
        return self.message

    # HTTP headers that go with the answer (Retry-After of a 429)
    headers = {}

    def as_body(self):
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


@deserialize_to_instance
class InvalidInput(FieldworkError):
    code = "invalid_input"
    http_status = 400


@deserialize_to_instance
class Unauthenticated(FieldworkError):
    code = "unauthenticated"
    http_status = 401


@deserialize_to_instance
class Forbidden(FieldworkError):
    code = "forbidden"
    http_status = 403


@deserialize_to_instance
class NotFound(FieldworkError):
    code = "not_found"
    http_status = 404


@deserialize_to_instance
class Conflict(FieldworkError):
    code = "conflict"
    http_status = 409


@deserialize_to_instance
class Gone(FieldworkError):
    """What the caller names existed but is no more (an expired link)."""
    code = "gone"
    http_status = 410


@deserialize_to_instance
class PayloadTooLarge(FieldworkError):
    """Over a size limit; `details` names the limit (`limit_bytes`)."""
    code = "payload_too_large"
    http_status = 413


@deserialize_to_instance
class UnsupportedMediaType(FieldworkError):
    """A content type that is not accepted; `details` lists those that are."""
    code = "unsupported_media_type"
    http_status = 415


@deserialize_to_instance
class PreconditionRequired(FieldworkError):
    code = "precondition_required"
    http_status = 428


@deserialize_to_instance
class TooManyRequests(FieldworkError):
    """Refused for now; `retry_after` seconds later it may work."""
    code = "too_many_requests"
    http_status = 429

    def __init__(self, message, details=None, retry_after=None):
        super().__init__(message, details)
        if retry_after is None:
            retry_after = self.details.get("retry_after_s")
        self.headers = {"Retry-After": str(int(retry_after))} if retry_after is not None else {}


@deserialize_to_instance
class Unavailable(FieldworkError):
    code = "service_unavailable"
    http_status = 503


@deserialize_to_instance
class Refused(FieldworkError):
    """A domain rule refuses the command, and says which: the body's `code`
    is the rule (`details["rule"]`, e.g. `already_clocked_in`), the status
    `details["status"]` (422 by default: the request is well formed but the
    rule forbids it; 409 where the object's state is what refuses)."""
    http_status = 422

    def __init__(self, message, details=None):
        super().__init__(message, details)
        self.code = str(self.details.get("rule", "refused"))
        self.http_status = int(self.details.get("status", 422))


def refuse(rule, message, status=422, **details):
    """The Refused error of `rule`, to raise."""
    return Refused(message, {"rule": rule, "status": status, **details})
