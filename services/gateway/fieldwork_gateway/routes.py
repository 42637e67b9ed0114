"""The HTTP resources. Views only translate: the role check and the body
come from the route's declaration (api.py), the rules live in services."""
import re

from flask import current_app, g, request

from fieldwork_common.principal import SYSTEM
from fieldwork_gateway import schemas
from fieldwork_gateway.api import PUBLIC, Api

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


# --- health --------------------------------------------------------

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
from fieldwork_gateway.accounts import routes as account_routes  # noqa: E402,F401
from fieldwork_gateway import survey_routes  # noqa: E402,F401
