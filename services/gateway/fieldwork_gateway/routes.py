"""The HTTP resources. Views only translate: the role check and the body
come from the route's declaration (api.py), the rules live in services."""
import re

from flask import current_app, g, request

from fieldwork_common.errors import InvalidInput, NotFound, Unauthenticated
from fieldwork_common.principal import SYSTEM
from fieldwork_gateway import schemas
from fieldwork_gateway.api import PUBLIC, Api
from fieldwork_gateway.auth import issue_token

api = Api()

ALL = ("admin", "manager", "technician", "client")
STAFF = ("admin", "manager")
ADMIN = ("admin",)
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


# --- auth and health --------------------------------------------------------

@api.route("/auth/token", "POST", summary="Log in: exchange email and password for a token",
           roles=PUBLIC, body=schemas.TokenRequest, response=schemas.Token, tag="auth")
def login(body):
    settings = current_app.config["SETTINGS"]
    user = current_app.extensions["accounts"].authenticate(body["email"], body["password"])
    if user is None:
        raise Unauthenticated("Wrong email or password.")
    return {"access_token": issue_token(user, settings.jwt_secret, settings.token_ttl),
            "token_type": "Bearer", "expires_in": settings.token_ttl}


@api.route("/health", "GET", summary="Is every service answering?", roles=PUBLIC,
           response=schemas.Health, tag="operations")
def health():
    """200 when every service answers its health RPC, 503 naming those that
    do not."""
    pool = current_app.extensions["health_rpc"]
    services = {}
    for name in SERVICES:
        try:
            with pool.cluster(SYSTEM) as cluster:
                cluster[name].health()
            services[name] = "ok"
        except Exception as exc:  # any failure means: not healthy
            services[name] = getattr(exc, "message", None) or type(exc).__name__
    missing = [name for name, state in services.items() if state != "ok"]
    if missing:
        return {"error": {"code": "service_unavailable",
                          "message": "Some services do not answer: " + ", ".join(missing),
                          "details": {"services": services, "missing": missing}}}, 503
    return {"status": "ok", "services": services}


# --- accounts ----------------------------------------------------------------

@api.route("/users", "POST", summary="Create a login (admin)", roles=ADMIN,
           body=schemas.UserIn, response=schemas.User, status=201, tag="accounts")
def create_user(body):
    """The linked client, technician or company must exist and be visible to
    the admin; a manager belongs to a company."""
    for key, method in (("client_id", "get_client"), ("technician_id", "get_technician"),
                        ("company_id", "get_company")):
        if body.get(key):
            try:
                linked = call("interventions", method, **{key: body[key]})
            except NotFound:
                raise InvalidInput(f"{key} does not name an existing record.", {key: body[key]}) from None
            if key != "company_id" and not body.get("company_id"):
                body["company_id"] = linked["company_id"]
    return current_app.extensions["accounts"].create_user(**body, idempotency=g.get("idempotency"))


# --- operations ------------------------------------------------------------------

@api.route("/admin/dead-letters", "GET", summary="Events the services gave up on (admin)",
           roles=ADMIN, query=schemas.DeadLetterQuery, response=schemas.DeadLetters, tag="operations")
def list_dead_letters(query):
    """Per service, the events whose handler failed after every retry: the
    envelope, the queue, the attempts and the last error."""
    services = [query["service"]] if query.get("service") else list(SERVICES)
    return {"services": {name: call(name, "list_dead_letters") for name in services}}


@api.route("/admin/dead-letters/replay", "POST", summary="Replay dead letters once their cause is fixed (admin)",
           roles=ADMIN, body=schemas.DeadLetterReplay, response=schemas.DeadLetterReplayResult,
           tag="operations")
def replay_dead_letters(body):
    """Sends the chosen dead letters (ids, or "all") back to the queue they
    failed in, with their attempt count reset. Handlers are idempotent, so a
    replay never doubles an effect."""
    ids = "all" if body.get("all") else body.get("ids", [])
    return call(body["service"], "replay_dead_letters", ids=ids)


@api.route("/admin/emails", "GET", summary="The email log (admin)", roles=ADMIN,
           query=schemas.EmailQuery, response=schemas.EmailList, tag="operations")
def list_emails(query):
    """Newest first. `status=dead`: emails that failed every attempt and
    wait for an operator."""
    return call("notifications", "list_emails", **query)


@api.route("/admin/emails/<email_id>/resend", "POST", summary="Send a failed or dead email again (admin)",
           roles=ADMIN, response=schemas.Email, tag="operations")
def resend_email(email_id):
    return call("notifications", "resend_email", email_id=email_id)


# The other resources declare their routes on the same `api`.
from fieldwork_gateway import intervention_routes, masterdata_routes  # noqa: E402,F401
from fieldwork_gateway import view_routes  # noqa: E402,F401
from fieldwork_gateway import survey_routes  # noqa: E402,F401
