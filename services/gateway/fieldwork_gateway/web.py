"""What every wing's routes stand on.

Routes are declared once, with what each needs: who may call it, the body
it takes, what it answers. From that one declaration come the Flask view
(authentication, role check, body validation), the OpenAPI document and
the authorization table the tests walk. `api` is the one declaration of
every wing; `call` reaches a service with the caller's principal; versions
travel as ETag / If-Match.
"""
import hashlib
from datetime import datetime
import json
import re
import uuid
from dataclasses import dataclass, field

from flask import current_app, g, jsonify, request
from marshmallow import ValidationError

from fieldwork_common.errors import Forbidden, InvalidInput, PayloadTooLarge, PreconditionRequired
from fieldwork_gateway.auth import claims_from_header

PUBLIC = None  # roles=PUBLIC: no token needed


@dataclass
class Route:
    path: str
    method: str
    endpoint: str
    summary: str
    roles: tuple | None
    body: type | None
    response: type | None
    status: int
    tag: str
    path_params: tuple = field(default_factory=tuple)
    query: type | None = None
    description: str = ""
    errors: dict = field(default_factory=dict)  # statuses beyond the usual ones: {429: "why"}
    platform: bool = False  # admins of the whole platform only (no company): operations
    # a multipart/form-data body instead of JSON: its fields, documented and
    # walked like a body's, read by the view itself (it streams them)
    form: type | None = None


class Api:
    def __init__(self):
        self.routes = []

    def route(self, path, method, *, summary, roles, body=None, response=None, status=200,
              tag="default", query=None, description="", errors=None, platform=False, form=None):
        def decorator(view):
            params = tuple(part[1:-1].split(":")[-1] for part in path.split("/")
                           if part.startswith("<"))
            route = Route(path=path, method=method.upper(), endpoint=view.__name__,
                          summary=summary, roles=roles, body=body, response=response,
                          status=status, tag=tag, path_params=params, query=query,
                          description=description or (view.__doc__ or "").strip(),
                          errors=dict(errors or {}), platform=platform, form=form)
            self.routes.append(route)
            route.view = _wrap(route, view)
            return view
        return decorator

    def register(self, app):
        for route in self.routes:
            app.add_url_rule(route.path, endpoint=f"{route.method}:{route.endpoint}",
                             view_func=route.view, methods=[route.method])


def _wrap(route, view):
    def handler(**path_args):
        if route.roles is not PUBLIC:
            claims = claims_from_header(request.headers.get("Authorization"),
                                        current_app.config["SETTINGS"].jwt_secret)
            g.session_id = claims["sid"]
            g.principal = current_app.extensions["accounts"].principal_for(claims)
            if g.principal.role not in route.roles:
                raise Forbidden(f"The role '{g.principal.role}' may not do this.",
                                {"allowed_roles": list(route.roles)})
            if route.platform and g.principal.company_id is not None:
                # operations see every company's events and emails
                raise Forbidden("Only an admin of the whole platform (no company) may do this.",
                                {"allowed_roles": list(route.roles), "platform": True})
        else:
            g.principal = None
        kwargs = dict(path_args)
        if route.body is not None:
            kwargs["body"] = load(route.body(), json_body())
        if route.method in MUTATING and route.roles is not PUBLIC:  # commands, not the login
            g.idempotency = _idempotency(route, kwargs)
        if route.query is not None:
            kwargs["query"] = load(route.query(), request.args.to_dict(), "query")
        result = view(**kwargs)
        if isinstance(result, tuple):  # (body, status) or (body, status, headers)
            return result
        return jsonify(result), route.status
    handler.__name__ = f"{route.method}_{route.endpoint}"
    return handler


MUTATING = ("POST", "PUT", "PATCH", "DELETE")
IDEMPOTENCY_KEY = re.compile(r"[\x21-\x7e]{1,255}")


def _idempotency(route, kwargs):
    """(scoped key, request hash) for this mutating request.

    The client's `Idempotency-Key`, scoped to the caller and the route, or
    one made for this request alone: even then, a request that RabbitMQ
    redelivers to another replica (the first was killed mid-call) runs once.
    """
    supplied = request.headers.get("Idempotency-Key")
    if supplied is not None and not IDEMPOTENCY_KEY.fullmatch(supplied):
        raise InvalidInput("Idempotency-Key must be 1 to 255 visible ASCII characters.",
                           {"header": "Idempotency-Key"})
    key = supplied or uuid.uuid4().hex
    scope = hashlib.sha256(f"{g.principal.user_id}|{route.method}|{request.path}|{key}".encode()).hexdigest()
    # no password, even hashed, is kept with the stored answer
    hashed = {k: ({f: v for f, v in value.items() if "password" not in f}
                  if isinstance(value, dict) else value) for k, value in kwargs.items()}
    body = json.dumps(hashed, sort_keys=True, default=str)
    return scope, hashlib.sha256(body.encode()).hexdigest()


JSON_MAX_BYTES = 1024 * 1024  # every JSON body, whatever a route's own limit (uploads)


def json_body():
    """The request's JSON object, at most JSON_MAX_BYTES (413 beyond, with
    the limit), read whether or not a Content-Length announced it."""
    too_large = PayloadTooLarge(f"A JSON body may be at most {JSON_MAX_BYTES} bytes.",
                                {"limit_bytes": JSON_MAX_BYTES})
    if (request.content_length or 0) > JSON_MAX_BYTES:
        raise too_large
    raw = bytearray()
    while len(raw) <= JSON_MAX_BYTES:
        chunk = request.stream.read(JSON_MAX_BYTES + 1 - len(raw))
        if not chunk:
            break
        raw += chunk
    if len(raw) > JSON_MAX_BYTES:
        raise too_large
    raw = bytes(raw)
    if not raw:
        raise InvalidInput("A JSON body is required.")
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput("The body is not valid JSON.", {"reason": str(exc)[:200]}) from None
    if not isinstance(body, dict):
        raise InvalidInput("The body must be a JSON object.")
    return body


def rehash_idempotency(content):
    """For a route whose body is not known when the request starts (an
    upload, read as a stream): the request's idempotency hash from what it
    carried, so that the same Idempotency-Key with another file is 409."""
    current = g.get("idempotency")
    if current is not None:
        body = json.dumps(content, sort_keys=True, default=str)
        g.idempotency = (current[0], hashlib.sha256(body.encode()).hexdigest())


def storable(value, where="body"):
    """Refuse text no service can store: a NUL character (PostgreSQL's text
    cannot hold it) or a lone UTF-16 surrogate (JSON allows `\\ud800`, UTF-8
    cannot encode it). 400 naming where, instead of a server error later."""
    if isinstance(value, str):
        if "\x00" in value:
            raise InvalidInput("Text may not contain NUL characters.", {"field": where})
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidInput("Text must be valid Unicode (no lone surrogates).",
                               {"field": where}) from None
    elif isinstance(value, dict):
        for key, item in value.items():
            storable(key, where)
            storable(item, f"{where}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            storable(item, f"{where}[{index}]")
    return value


def load(schema, data, where="body"):
    storable(data, where)
    try:
        return schema.load(data)
    except ValidationError as exc:
        raise InvalidInput("Some fields are invalid.", {"fields": exc.messages}) from None


api = Api()

ALL = ("admin", "manager", "technician", "client")
STAFF = ("admin", "manager")
ADMIN = ("admin",)
WORKERS = ("admin", "manager", "technician")  # who moves an intervention along
SERVICES = ("requests", "interventions", "timeclock", "notifications")


CORRELATION_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def correlation_id():
    """The caller's X-Correlation-Id when it is a sane token, else none (the
    pool makes one): it ends up in every event's envelope."""
    value = request.headers.get("X-Correlation-Id", "")
    return value if CORRELATION_ID.fullmatch(value) else None


def rpc(principal=None):
    """The caller's proxy to the cluster for this request."""
    key, request_hash = g.get("idempotency") or (None, None)
    return current_app.extensions["rpc"].cluster(
        principal if principal is not None else g.principal, correlation_id=correlation_id(),
        idempotency_key=key, request_hash=request_hash)


def call(service, method, **kwargs):
    with rpc() as cluster:
        return getattr(cluster[service], method)(**kwargs)


def resolved(values, references):
    """`values` (a loaded body or query) once every id in it that names
    master data (`references`: {field: kind}) has been checked in the
    caller's scope by the one resolver (interventions.resolve_references:
    404 naming the field), with its date-times as RFC 3339 text for the RPC.
    For the wings whose service is not the one that owns master data."""
    wanted = {field: [kind, values[field]] for field, kind in references.items()
              if values.get(field) is not None}
    if wanted:
        call("interventions", "resolve_references", references=wanted)
    return {key: value.isoformat() if isinstance(value, datetime) else value
            for key, value in values.items()}



def expected_version(from_body):
    header = request.headers.get("If-Match")
    if header is not None:
        try:
            from_header = int(header.strip().removeprefix("W/").strip('"'))
        except ValueError:
            raise InvalidInput("If-Match must be the ETag of the resource.", {"header": "If-Match"}) from None
        if from_body is not None and from_body != from_header:
            raise InvalidInput("If-Match and version disagree.", {"if_match": from_header, "version": from_body})
        return from_header
    if from_body is None:
        raise PreconditionRequired("Send the version you read: an If-Match header or a version field.",
                                   {"header": "If-Match"})
    return from_body


def with_etag(resource):
    response = jsonify(resource)
    response.headers["ETag"] = f'"{resource["version"]}"'
    return response, 200


def optional_version():
    """The If-Match version when one is sent (a stale one answers 409), else None."""
    if request.headers.get("If-Match") is None:
        return None
    return expected_version(None)
