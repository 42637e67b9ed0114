"""The HTTP resources. Views only translate: the role check and the body
come from the route's declaration (api.py), the rules live in services."""
import re

from flask import current_app, g, jsonify, request

from fieldwork_common.errors import InvalidInput, NotFound, PreconditionRequired, Unauthenticated
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


# --- master data ---------------------------------------------------------------

@api.route("/companies", "POST", summary="Create a company (shop)", roles=ADMIN,
           body=schemas.CompanyIn, response=schemas.Company, status=201, tag="master data")
def create_company(body):
    return call("interventions", "create_company", **body)


@api.route("/companies/<company_id>", "GET", summary="A company", roles=STAFF,
           response=schemas.Company, tag="master data")
def get_company(company_id):
    return call("interventions", "get_company", company_id=company_id)


@api.route("/technicians", "POST", summary="Create a technician", roles=ADMIN,
           body=schemas.TechnicianIn, response=schemas.Technician, status=201, tag="master data")
def create_technician(body):
    return call("interventions", "create_technician", **body)


@api.route("/technicians/<technician_id>", "GET", summary="A technician",
           roles=("admin", "manager", "technician"), response=schemas.Technician, tag="master data")
def get_technician(technician_id):
    return call("interventions", "get_technician", technician_id=technician_id)


@api.route("/clients", "POST", summary="Create a client", roles=ADMIN,
           body=schemas.ClientIn, response=schemas.Client, status=201, tag="master data")
def create_client(body):
    return call("interventions", "create_client", **body)


@api.route("/clients/<client_id>", "GET", summary="A client", roles=ALL,
           response=schemas.Client, tag="master data")
def get_client(client_id):
    return call("interventions", "get_client", client_id=client_id)


@api.route("/intervention-types", "POST", summary="Create an intervention type", roles=ADMIN,
           body=schemas.InterventionTypeIn, response=schemas.InterventionType, status=201,
           tag="master data")
def create_intervention_type(body):
    return call("interventions", "create_intervention_type", **body)


@api.route("/equipment", "POST", summary="Register a client's equipment", roles=ADMIN,
           body=schemas.EquipmentIn, response=schemas.Equipment, status=201, tag="master data")
def create_equipment(body):
    return call("interventions", "create_equipment", **body)


@api.route("/equipment/<equipment_id>", "GET", summary="An equipment", roles=ALL,
           response=schemas.Equipment, tag="master data")
def get_equipment(equipment_id):
    return call("interventions", "get_equipment", equipment_id=equipment_id)


# --- interventions ---------------------------------------------------------------

@api.route("/interventions", "POST", summary="Create an intervention (admin, or a technician for itself)",
           roles=("admin", "technician"), body=schemas.InterventionIn,
           response=schemas.Intervention, status=201, tag="interventions")
def create_intervention(body):
    """Publishes `intervention.created`; the client is emailed."""
    return call("interventions", "create_intervention", **body)


@api.route("/interventions/<intervention_id>", "GET", summary="An intervention", roles=ALL,
           response=schemas.Intervention, tag="interventions")
def get_intervention(intervention_id):
    """404 for an intervention the caller may not see. The `ETag` header is
    its version: send it back in `If-Match` to update it."""
    return with_etag(call("interventions", "get_intervention", intervention_id=intervention_id))


@api.route("/interventions/<intervention_id>", "PATCH", summary="Change an intervention's description",
           roles=("admin", "manager", "technician"), body=schemas.InterventionPatch,
           response=schemas.Intervention, tag="interventions")
def update_intervention(intervention_id, body):
    """Optimistic concurrency: the version comes from `If-Match` (the ETag of
    a GET) or the body's `version`; if someone changed the intervention
    since, 409 with the current version. Publishes `intervention.updated`."""
    version = expected_version(body.pop("version", None))
    return with_etag(call("interventions", "update_intervention", intervention_id=intervention_id,
                          version=version, changes=body))


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
