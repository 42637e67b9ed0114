"""Operations: is every service answering, the events the services gave up
on (dead letters), the email log."""
from flask import current_app

from fieldwork_common.principal import SYSTEM
from fieldwork_gateway.web import ADMIN, PUBLIC, SERVICES, api, call
from fieldwork_gateway.wings.operations import schemas


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

@api.route("/admin/dead-letters", "GET", summary="Events the services gave up on (platform admin)",
           roles=ADMIN, platform=True, query=schemas.DeadLetterQuery, response=schemas.DeadLetters, tag="operations")
def list_dead_letters(query):
    """Per service, the events whose handler failed after every retry: the
    envelope, the queue, the attempts and the last error."""
    services = [query["service"]] if query.get("service") else list(SERVICES)
    return {"services": {name: call(name, "list_dead_letters") for name in services}}


@api.route("/admin/dead-letters/replay", "POST", summary="Replay dead letters once their cause is fixed (platform admin)",
           roles=ADMIN, platform=True, body=schemas.DeadLetterReplay, response=schemas.DeadLetterReplayResult,
           tag="operations")
def replay_dead_letters(body):
    """Sends the chosen dead letters (ids, or "all") back to the queue they
    failed in, with their attempt count reset. Handlers are idempotent, so a
    replay never doubles an effect."""
    ids = "all" if body.get("all") else body.get("ids", [])
    return call(body["service"], "replay_dead_letters", ids=ids)


@api.route("/admin/emails", "GET", summary="The email log (platform admin)", roles=ADMIN, platform=True,
           query=schemas.EmailQuery, response=schemas.EmailList, tag="operations")
def list_emails(query):
    """Newest first. `status=dead`: emails that failed every attempt and
    wait for an operator."""
    return call("notifications", "list_emails", **query)


@api.route("/admin/emails/<email_id>/resend", "POST", summary="Send a failed or dead email again (platform admin)",
           roles=ADMIN, platform=True, response=schemas.Email, tag="operations")
def resend_email(email_id):
    return call("notifications", "resend_email", email_id=email_id)
