"""Who may do what, route by route (DESIGN.md §3, issue 4 "Authorization").

TABLE below is the specification, written by hand: for every route of the
gateway, the roles that may call it, a valid body for the object-level
check, and the kind of object its path names. The tests

1. fail when the gateway has a route TABLE does not list (or the reverse),
   reading the live Flask URL map, OpenAPI and docs pages included;
2. call every route as every role (and without a token) against the running
   platform: a role the table does not list gets 403, no token gets 401, a
   listed role gets past the gate (never 401/403, never a 5xx);
3. call every route that names an object with an object of ANOTHER company,
   as the admin, manager, technician and client of a first company: 404
   (it reveals nothing), or 403 where the role may not call the route at all.
"""
import uuid
from urllib.parse import urlencode

import pytest

from fieldwork_common.testing.waiting import wait_until
from conftest import World

A, M, T, C = "admin", "manager", "technician", "client"
ALL = {A, M, T, C}
PUBLIC = "public"  # no token needed (the path's token, if any, is the key)
PAGES = "pages"     # the OpenAPI document and its page: public, not in the API

# (method, Flask rule) -> (who may call it, the kind of object its path
# names (None: nothing owned by a company), a valid body for that call)
TABLE = {
    ("POST", "/auth/token"): (PUBLIC, None, None),
    ("GET", "/health"): (PUBLIC, None, None),
    ("GET", "/openapi.json"): (PAGES, None, None),
    ("GET", "/docs"): (PAGES, None, None),
    ("GET", "/docs/assets/<path:name>"): (PAGES, None, None),
    # accounts (the gateway's own): sessions and passwords for everyone,
    # logins for admins and managers (who grant clients only), the audit for admins
    ("POST", "/auth/refresh"): (PUBLIC, None, None),
    ("POST", "/auth/password-reset"): (PUBLIC, None, None),
    ("POST", "/auth/password"): (PUBLIC, None, None),
    ("GET", "/password/<token>"): (PUBLIC, None, None),
    ("POST", "/password/<token>"): (PUBLIC, None, None),
    ("POST", "/auth/logout"): (ALL, None, None),
    ("GET", "/account"): (ALL, None, None),
    ("PUT", "/account/password"): (ALL, None, None),
    ("GET", "/account/sessions"): (ALL, None, None),
    ("DELETE", "/account/sessions"): (ALL, None, None),
    ("DELETE", "/account/sessions/<session_id>"): (ALL, "session", None),
    ("POST", "/users"): ({A, M}, None, None),
    ("GET", "/users"): ({A, M}, None, None),
    ("GET", "/users/<user_id>"): ({A, M}, "user", None),
    ("PATCH", "/users/<user_id>"): ({A, M}, "user", lambda w: {"active": False, "version": 1}),
    ("POST", "/users/<user_id>/invitation"): ({A, M}, "user", None),
    ("GET", "/admin/audit"): ({A}, None, None),
    ("GET", "/admin/dead-letters"): ({A}, None, None),
    ("POST", "/admin/dead-letters/replay"): ({A}, None, None),
    ("GET", "/admin/emails"): ({A}, None, None),
    ("POST", "/admin/emails/<email_id>/resend"): ({A}, None, None),
    # interventions
    ("POST", "/interventions"): ({A, T}, None, None),
    ("GET", "/interventions"): (ALL, None, None),
    ("GET", "/interventions/<intervention_id>"): (ALL, "intervention", None),
    ("PATCH", "/interventions/<intervention_id>"): (
        {A, M, T}, "intervention", lambda w: {"description": "x", "version": 1}),
    ("PUT", "/interventions/<intervention_id>/step"): (
        {A, M, T}, "intervention", lambda w: {"step": "in_workshop"}),
    ("PUT", "/interventions/<intervention_id>/status"): (
        {A, M, T}, "intervention", lambda w: {"status_id": w["status"]["id"]}),
    ("DELETE", "/interventions/<intervention_id>/status"): ({A, M, T}, "intervention", None),
    ("PUT", "/interventions/<intervention_id>/assignment"): (
        {A, M}, "intervention", lambda w: {"technician_id": w["technician"]["id"]}),
    ("POST", "/interventions/<intervention_id>/reopen"): ({A, M}, "intervention", None),
    ("GET", "/interventions/<intervention_id>/history"): ({A, M, T}, "intervention", None),
    ("GET", "/interventions/<intervention_id>/tracking"): (ALL, "intervention", None),
    ("POST", "/interventions/<intervention_id>/tracking-links"): ({A}, "intervention", None),
    ("GET", "/calendar"): (ALL, None, None),
    ("POST", "/calendar/feeds"): ({A, M, T}, None, None),
    ("GET", "/calendar/feeds/<token>"): (PUBLIC, None, None),
    ("DELETE", "/calendar/feeds/<token>"): ({A, M, T}, None, None),
    ("GET", "/track/<token>"): (PUBLIC, None, None),
    ("GET", "/survey/<token>"): (PUBLIC, None, None),
    ("POST", "/survey/<token>"): (PUBLIC, None, None),
    ("GET", "/surveys/summary"): ({A, M}, None, None),
    # master data: admins configure, the others read what concerns them
    ("GET", "/settings"): ({A, M}, None, None),
    ("PUT", "/settings"): ({A}, None, None),
    ("POST", "/companies"): ({A}, None, None),
    ("GET", "/companies"): ({A, M, T}, None, None),
    ("GET", "/companies/<company_id>"): ({A, M, T}, "company", None),
    ("PATCH", "/companies/<company_id>"): ({A}, "company", lambda w: {"name": "x", "version": 1}),
    ("DELETE", "/companies/<company_id>"): ({A}, "company", None),
    ("POST", "/technicians"): ({A}, None, None),
    ("GET", "/technicians"): ({A, M, T}, None, None),
    ("GET", "/technicians/<technician_id>"): ({A, M, T}, "technician", None),
    ("PATCH", "/technicians/<technician_id>"): (
        {A}, "technician", lambda w: {"name": "x", "version": 1}),
    ("DELETE", "/technicians/<technician_id>"): ({A}, "technician", None),
    ("POST", "/clients"): ({A}, None, None),
    ("GET", "/clients"): (ALL, None, None),
    ("GET", "/clients/<client_id>"): (ALL, "client", None),
    ("PATCH", "/clients/<client_id>"): ({A}, "client", lambda w: {"name": "x", "version": 1}),
    ("DELETE", "/clients/<client_id>"): ({A}, "client", None),
    ("POST", "/sites"): ({A}, None, None),
    ("GET", "/sites"): (ALL, None, None),
    ("GET", "/sites/<site_id>"): (ALL, "site", None),
    ("PATCH", "/sites/<site_id>"): ({A}, "site", lambda w: {"name": "x", "version": 1}),
    ("DELETE", "/sites/<site_id>"): ({A}, "site", None),
    ("POST", "/equipment"): ({A}, None, None),
    ("GET", "/equipment"): (ALL, None, None),
    ("GET", "/equipment/<equipment_id>"): (ALL, "equipment", None),
    ("PATCH", "/equipment/<equipment_id>"): ({A}, "equipment", lambda w: {"kind": "x", "version": 1}),
    ("DELETE", "/equipment/<equipment_id>"): ({A}, "equipment", None),
    ("POST", "/contracts"): ({A}, None, None),
    ("GET", "/contracts"): ({A, M, C}, None, None),
    ("GET", "/contracts/<contract_id>"): ({A, M, C}, "contract", None),
    ("PATCH", "/contracts/<contract_id>"): (
        {A}, "contract", lambda w: {"reference": "x", "version": 1}),
    ("DELETE", "/contracts/<contract_id>"): ({A}, "contract", None),
    ("PUT", "/contracts/<contract_id>/state"): ({A}, "contract", lambda w: {"state": "validated"}),
    ("POST", "/intervention-types"): ({A}, None, None),
    ("GET", "/intervention-types"): (ALL, None, None),
    ("GET", "/intervention-types/<type_id>"): (ALL, None, None),        # a shared catalog
    ("PATCH", "/intervention-types/<type_id>"): ({A}, None, None),
    ("DELETE", "/intervention-types/<type_id>"): ({A}, None, None),
    ("POST", "/statuses"): ({A}, None, None),
    ("GET", "/statuses"): (ALL, None, None),
    ("GET", "/statuses/<status_id>"): (ALL, None, None),                 # a shared catalog
    ("PATCH", "/statuses/<status_id>"): ({A}, None, None),
    ("DELETE", "/statuses/<status_id>"): ({A}, None, None),
    # files: anyone uploads (for its company) and reads what it may see
    ("POST", "/files"): (ALL, None, None),
    ("GET", "/files/<file_id>"): (ALL, "file", None),
    ("GET", "/files/<file_id>/thumbnail"): (ALL, "file", None),
    ("POST", "/interventions/<intervention_id>/attachments"): (
        ALL, "intervention", lambda w: {"file_id": w["file"]["id"], "visible_to_client": True}),
    ("GET", "/interventions/<intervention_id>/attachments"): (ALL, "intervention", None),
    # visits: staff and the worker plan; staff reschedule, cancel, settle and
    # validate in the client's place; the worker declares and answers a
    # dispute, the client validates; the board is for staff
    ("POST", "/interventions/<intervention_id>/visits"): (
        {A, M, T}, "intervention", lambda w: {"start_at": "2030-01-01T08:00:00Z",
                                              "end_at": "2030-01-01T09:00:00Z"}),
    ("GET", "/visits"): (ALL, None, None),
    ("GET", "/planning"): (ALL, None, None),
    ("GET", "/visits/<visit_id>"): (ALL, "visit", None),
    ("PATCH", "/visits/<visit_id>"): (
        {A, M}, "visit", lambda w: {"start_at": "2030-01-01T08:00:00Z", "version": 1}),
    ("POST", "/visits/<visit_id>/cancel"): (
        {A, M}, "visit", lambda w: {"reason_id": w["visit_reason"]["id"], "version": 1}),
    ("GET", "/visits/<visit_id>/history"): (ALL, "visit", None),
    ("POST", "/visits/<visit_id>/worker-validation"): (
        {A, M, T}, "visit", lambda w: {"outcome": "done", "version": 1}),
    ("POST", "/visits/<visit_id>/client-validation"): (
        {C}, "visit", lambda w: {"decision": "validate", "version": 1}),
    ("POST", "/visits/<visit_id>/dispute-answer"): (
        {T}, "visit", lambda w: {"accept": True, "version": 1}),
    ("POST", "/visits/<visit_id>/arbitration"): (
        {A, M}, "visit", lambda w: {"decide": "worker", "reason": "x", "version": 1}),
    ("POST", "/visits/validate-batch"): ({A, M}, None, None),
    ("GET", "/validation-board"): ({A, M}, None, None),
    ("GET", "/validation-board.csv"): ({A, M}, None, None),
    ("GET", "/visit-reasons"): (ALL, None, None),
    ("POST", "/visit-reasons"): ({A}, None, None),
    ("PATCH", "/visit-reasons/<reason_id>"): (
        {A}, "visit_reason", lambda w: {"label": "x", "version": 1}),
    # timeclock: admins set the settings and the places up, staff read them;
    # the worker clocks (staff for it), everyone of the visit reads what is
    # shared; staff correct and decide
    ("GET", "/timeclock/settings"): ({A, M}, None, None),
    ("PUT", "/timeclock/settings"): ({A}, None, None),
    ("GET", "/clocking-places"): ({A, M}, None, None),
    ("GET", "/clocking-places/<place_id>"): ({A, M}, "place", None),
    ("PATCH", "/clocking-places/<place_id>"): (
        {A}, "place", lambda w: {"label": "x", "version": 1}),
    ("GET", "/clocking-places/<place_id>/qr"): ({A}, "place", None),
    ("GET", "/clocking-places/<place_id>/rotating-device"): ({A}, "place", None),
    ("POST", "/clocking-places/<place_id>/key"): ({A}, "place", lambda w: {"version": 1}),
    ("POST", "/clocking-places/<place_id>/nfc-tags"): (
        {A}, "place", lambda w: {"uid": "04AABBCCDDEEFF"}),
    ("GET", "/clocking-places/<place_id>/nfc-tags"): ({A, M}, "place", None),
    ("DELETE", "/nfc-tags/<tag_id>"): ({A}, "nfc_tag", None),
    ("POST", "/visits/<visit_id>/clockings"): ({A, M, T}, "visit", lambda w: {"kind": "in"}),
    ("GET", "/visits/<visit_id>/clockings"): (ALL, "visit", None),
    ("GET", "/clockings"): ({A, M, T}, None, None),
    ("GET", "/clockings/<clocking_id>"): ({A, M, T}, "clocking", None),
    ("POST", "/clockings/<clocking_id>/corrections"): (
        {A, M}, "clocking", lambda w: {"at": "2026-01-01T08:00:00Z", "reason": "x", "version": 1}),
    ("POST", "/clockings/<clocking_id>/decision"): (
        {A, M}, "clocking", lambda w: {"decision": "validate", "version": 1}),
    # incidents: admins set the reasons up; the visit's worker, client and
    # staff declare, read and talk; staff (or the author, to cancel) move them
    ("GET", "/incident-reasons"): ({A, M}, None, None),
    ("POST", "/incident-reasons"): ({A}, None, None),
    ("PATCH", "/incident-reasons/<reason_id>"): (
        {A}, "incident_reason", lambda w: {"label": "x", "version": 1}),
    ("POST", "/incident-reasons/import"): ({A}, None, None),
    ("GET", "/visits/<visit_id>/incident-reasons"): (ALL, "visit", None),
    ("POST", "/visits/<visit_id>/incidents"): (
        ALL, "visit", lambda w: {"reason_id": w["incident_reason"]["id"]}),
    ("GET", "/visits/<visit_id>/incidents"): (ALL, "visit", None),
    ("GET", "/incidents"): (ALL, None, None),
    ("GET", "/incidents/<incident_id>"): (ALL, "incident", None),
    ("POST", "/incidents/<incident_id>/state"): (
        ALL, "incident", lambda w: {"state": "cancelled", "reason": "x", "version": 1}),
    ("GET", "/conversations"): (ALL, None, None),
    ("GET", "/conversations/<conversation_id>"): (ALL, "conversation", None),
    ("POST", "/conversations/<conversation_id>/messages"): (
        ALL, "conversation", lambda w: {"body": "x"}),
    # requests: admins set the types up; everyone creates (a client for
    # itself) and reads what is its; staff message the customer and note
    ("GET", "/request-types"): (ALL, None, None),
    ("POST", "/request-types"): ({A}, None, None),
    ("PATCH", "/request-types/<type_id>"): (
        {A}, "request_type", lambda w: {"label": "x", "version": 1}),
    ("POST", "/requests"): (ALL, None, None),
    ("GET", "/requests"): (ALL, None, None),
    ("GET", "/requests/<request_id>"): (ALL, "request", None),
    ("POST", "/requests/<request_id>/actions"): (
        {A, M}, "request", lambda w: {"status": "closed", "message": "x"}),
    ("GET", "/requests/<request_id>/actions"): (ALL, "request", None),
    ("POST", "/requests/<request_id>/notes"): ({A, M}, "request", lambda w: {"message": "x"}),
    ("GET", "/requests/<request_id>/history"): (ALL, "request", None),
    ("PATCH", "/requests/<request_id>"): ({A, M}, "request", lambda w: {"symptom": "x", "version": 1}),
    ("POST", "/requests/<request_id>/cancel"): ({A, M, C}, "request", lambda w: {"reason": "x"}),
    ("POST", "/requests/<request_id>/reopen"): ({A, M, C}, "request", lambda w: {"reason": "x"}),
    ("GET", "/request-settings"): ({A, M}, None, None),
    ("PUT", "/request-settings"): ({A}, None, None),
    ("POST", "/requests/<request_id>/equipment"): (
        ALL, "request", lambda w: {"equipment_id": w["equipment"]["id"]}),
    ("GET", "/requests/<request_id>/equipment"): (ALL, "request", None),
    ("PATCH", "/requests/<request_id>/equipment/<line_id>"): (
        ALL, "request", lambda w: {"symptom": "x"}),
    ("DELETE", "/requests/<request_id>/equipment/<line_id>"): (ALL, "request", None),
    ("POST", "/requests/<request_id>/documents"): (
        ALL, "request", lambda w: {"file_id": w["file"]["id"]}),
    ("GET", "/requests/<request_id>/documents"): (ALL, "request", None),
    ("POST", "/requests/<request_id>/interventions"): (
        {A, T}, "request", lambda w: {"type_id": str(uuid.uuid4()), "location": "workshop"}),
    ("GET", "/requests/<request_id>/interventions"): (ALL, "request", None),
    ("POST", "/requests/<request_id>/equipment-returns"): (
        {A, M}, "request", lambda w: {"equipment_id": w["equipment"]["id"],
                                      "destination": "workshop"}),
    ("GET", "/requests/<request_id>/equipment-returns"): (ALL, "request", None),
    ("GET", "/equipment-returns/<return_id>"): (ALL, "equipment_return", None),
    ("POST", "/equipment-returns/<return_id>/state"): (
        {A, M}, "equipment_return", lambda w: {"state": "received"}),
    ("POST", "/equipment-returns/<return_id>/interventions"): (
        {A, T}, "equipment_return", lambda w: {"type_id": str(uuid.uuid4())}),
    # field work: the platform's admin writes the checklist templates (types are
    # shared); the intervention's technician fills in its checklist, staff read it
    ("POST", "/checklist-templates"): ({A}, None, None),
    ("GET", "/checklist-templates"): (ALL, None, None),
    ("GET", "/checklist-templates/<template_id>"): (ALL, None, None),   # of a shared catalog
    ("GET", "/interventions/<intervention_id>/checklist"): ({A, M, T}, "intervention", None),
    ("PUT", "/interventions/<intervention_id>/checklist/<item_key>"): (
        {T}, "intervention", lambda w: {"value": True}),
    ("GET", "/interventions/<intervention_id>/checklist/history"): (
        {A, M, T}, "intervention", None),
    ("POST", "/interventions/<intervention_id>/comments"): (
        {A, M, T}, "intervention", lambda w: {"body": "x"}),
    ("GET", "/interventions/<intervention_id>/comments"): (ALL, "intervention", None),
    ("POST", "/interventions/<intervention_id>/measurements"): (
        {T}, "intervention", lambda w: {"parameter": "P", "value": 1}),
    ("GET", "/interventions/<intervention_id>/measurements"): ({A, M, T}, "intervention", None),
}


def live_routes():
    """(method, rule) of every route the gateway's Flask app serves."""
    from fieldwork_gateway.app import create_app
    from fieldwork_gateway.settings import Settings

    class NoPool:
        def cluster(self, *args, **kwargs):
            raise AssertionError("no RPC in this test")
    app = create_app(Settings(jwt_secret="x" * 40, amqp_uri="memory://",
                              database_url="postgresql://x@y/z"), rpc_pool=NoPool(), accounts=object())
    return {(method, rule.rule) for rule in app.url_map.iter_rules() if rule.endpoint != "static"
            for method in rule.methods - {"HEAD", "OPTIONS"}}


def test_every_route_of_the_gateway_is_in_the_table():
    live = live_routes()
    assert sorted(live - set(TABLE)) == [], "routes missing from the authorization table"
    assert sorted(set(TABLE) - live) == [], "the table names routes the gateway does not have"


def path_for(rule, ids):
    """The rule with each <param> replaced by ids[param] (or a fresh UUID)."""
    parts = []
    for part in rule.split("/"):
        if part.startswith("<"):
            name = part[1:-1].split(":")[-1]
            parts.append(ids.get(name, str(uuid.uuid4())))
        else:
            parts.append(part)
    return "/".join(parts)


@pytest.fixture(scope="module")
def people(world, admin):
    """The admin (all companies), and the manager, technician and client of
    one company, logged in; the admin of that company too."""
    company = world.company()
    technician = world.technician(company)
    client = world.client(company)

    def logins():
        return {
            A: world.login_for("admin"),
            M: world.login_for("manager", company_id=company["id"]),
            T: world.login_for("technician", technician_id=technician["id"]),
            C: world.login_for("client", client_id=client["id"]),
            "company_admin": world.login_for("admin", company_id=company["id"]),
        }
    found = logins()
    found["spare"] = logins  # for the calls that end every session of their caller
    return found


# Calls that end the caller's sessions: the walks make them as other logins
# of the same roles and company, so that the walks' own logins stay usable.
SESSION_ENDING = {("POST", "/auth/logout"), ("DELETE", "/account/sessions")}


def caller_for(people, role, method, rule):
    if (method, rule) in SESSION_ENDING:
        spares = people.setdefault(("spares", method, rule), {})
        if not spares:
            spares.update(people["spare"]())
        return spares[role]
    return people[role]


def gate_ok(status):
    return status not in (401, 403, 405) and status < 500


@pytest.mark.parametrize("method,rule", sorted(TABLE), ids=lambda v: v)
def test_each_role_gets_through_the_gate_only_where_the_table_says(method, rule, people, anonymous):
    allowed, _, _ = TABLE[(method, rule)]
    path = path_for(rule, {"name": "swagger-ui.css"})
    body = {} if method in ("POST", "PUT", "PATCH") else None
    if allowed in (PUBLIC, PAGES):
        for caller in (anonymous, *(people[role] for role in (A, M, T, C, "company_admin"))):
            response = caller.request(method, path, json=body)
            assert gate_ok(response.status_code), (method, path, response.status_code, response.text)
        return
    response = anonymous.request(method, path, json=body)
    assert response.status_code == 401, (method, path, response.text)
    assert response.json()["error"]["code"] == "unauthenticated"
    for role in (A, M, T, C):
        response = caller_for(people, role, method, rule).request(method, path, json=body)
        if role in allowed:
            assert gate_ok(response.status_code), (role, method, path, response.status_code,
                                                   response.text)
        else:
            assert response.status_code == 403, (role, method, path, response.text)
            assert response.json()["error"]["details"]["allowed_roles"] == sorted(allowed) or \
                set(response.json()["error"]["details"]["allowed_roles"]) == allowed


@pytest.fixture(scope="module")
def foreign(world, admin):
    """A second company's records: the objects no one of the first company
    may see, let alone change."""
    company = world.company()
    technician = world.technician(company)
    client = world.client(company)
    intervention = world.intervention(client=client, technician=technician)
    site = world.site(client)
    contract = world.contract(client)
    equipment = admin.get(f"/equipment/{intervention['equipment_id']}").json()
    login = world.login_for("client", client_id=client["id"])
    user = login.get("/account").json()
    session = login.get("/account/sessions").json()["items"][0]
    photo = world.file(kind="photo", company_id=company["id"])
    attached = admin.post(f"/interventions/{intervention['id']}/attachments",
                          {"file_id": photo["id"], "visible_to_client": True})
    assert attached.status_code == 201, attached.text
    home, visit, reason = home_visit(world, admin, company, client, technician)
    place, tag, clocking = clocked(world, admin, company, client, technician, visit)
    incident_reason, _, incident = incident_of(admin, company, home, visit)
    return {"incident_reason": incident_reason, "incident": incident,
            "conversation": {"id": incident["conversation_id"]},
            "company": company, "technician": technician, "client": client, "site": site,
            "contract": contract, "equipment": equipment, "intervention": intervention,
            "status": world.status(), "user": user, "session": session, "file": photo,
            "visit": visit, "visit_reason": reason, "place": place, "nfc_tag": tag,
            "clocking": clocking, **requested(admin, company, client)}


def requested(admin, company, client, equipment=None):
    """A request type of the company and a request of its client (typed by
    staff), with `equipment` of the client on it when given."""
    kind = admin.post("/request-types", {"label": f"Panne {uuid.uuid4().hex[:6]}",
                                         "company_id": company["id"]})
    assert kind.status_code == 201, kind.text
    request = admin.post("/requests", {"type_id": kind.json()["id"], "client_id": client["id"],
                                       "source": "phone"})
    assert request.status_code == 201, request.text
    if equipment is not None:
        line = admin.post(f"/requests/{request.json()['id']}/equipment",
                          {"equipment_id": equipment["id"]})
        assert line.status_code == 201, line.text
        request = admin.get(f"/requests/{request.json()['id']}")
    returned = admin.post(f"/requests/{request.json()['id']}/equipment-returns", {
        "equipment_id": (equipment or _equipment_of(admin, client))["id"],
        "destination": "workshop"})
    assert returned.status_code == 201, returned.text
    received = admin.post(f"/equipment-returns/{returned.json()['id']}/state", {"state": "received"})
    assert received.status_code == 200, received.text
    request = admin.get(f"/requests/{request.json()['id']}")
    return {"request_type": kind.json(), "request": request.json(),
            "equipment_return": received.json()}


def _equipment_of(admin, client):
    made = admin.post("/equipment", {"client_id": client["id"], "kind": "boiler"})
    assert made.status_code == 201, made.text
    return made.json()


def incident_of(admin, company, home, visit):
    """Incidents turned on, a reason of the home intervention's service, a
    visit happening now and an incident declared on it (by staff)."""
    from datetime import datetime, timedelta, timezone
    now = datetime.now(timezone.utc).replace(microsecond=0)
    response = admin.request("PUT", "/timeclock/settings", json={
        "company_id": company["id"], "values": {"incidents_enabled": True}})
    assert response.status_code == 200, response.text
    reason = admin.post("/incident-reasons", {"company_id": company["id"],
                                              "type_id": home["type_id"], "code": "WALK",
                                              "label": "Walk"})
    assert reason.status_code == 201, reason.text
    planned = admin.post(f"/interventions/{home['id']}/visits", {
        "start_at": (now - timedelta(minutes=10)).isoformat(),
        "end_at": (now + timedelta(hours=2)).isoformat(), "contract_id": visit["contract_id"]})
    assert planned.status_code == 201, planned.text
    current = planned.json()["items"][0]
    incident = wait_until(lambda: (lambda r: r.json() if r.status_code == 201 else None)(
        admin.post(f"/visits/{current['id']}/incidents", {"reason_id": reason.json()["id"]})),
        message="timeclock knows the visit")
    return reason.json(), current, incident


def clocked(world, admin, company, client, technician, visit):
    """Timeclock's records of the company: clocking turned on, the place of
    the visit with an NFC tag, and a clock-in of its worker on the visit."""
    response = admin.request("PUT", "/timeclock/settings", json={
        "company_id": company["id"], "values": {"clocking_enabled": True}})
    assert response.status_code == 200, response.text
    worker = world.login_for("technician", technician_id=technician["id"])
    clocking = wait_until(lambda: (lambda r: r.json() if r.status_code == 201 else None)(
        worker.post(f"/visits/{visit['id']}/clockings", {"kind": "in"})),
        message="timeclock knows the visit")
    [place] = admin.get(f"/clocking-places?client_id={client['id']}").json()["items"]
    tag = admin.post(f"/clocking-places/{place['id']}/nfc-tags", {"uid": uuid.uuid4().hex[:14]})
    assert tag.status_code == 201, tag.text
    return place, tag.json(), clocking


def home_visit(world, admin, company, client, technician):
    """An at_home intervention of the company with one visit planned under a
    validated contract, and a cancellation reason of its catalog."""
    contract = world.contract(client)
    response = admin.request("PUT", f"/contracts/{contract['id']}/state",
                             json={"state": "validated", "version": contract["version"]})
    assert response.status_code == 200, response.text
    home = world.intervention(client=client, technician=technician, location="at_home")
    response = admin.post(f"/interventions/{home['id']}/visits", {
        "start_at": "2030-01-01T08:00:00Z", "end_at": "2030-01-01T10:00:00Z",
        "contract_id": contract["id"]})
    assert response.status_code == 201, response.text
    reason = admin.post("/visit-reasons", {"kind": "cancellation", "label": "Absent",
                                           "company_id": company["id"]})
    assert reason.status_code == 201, reason.text
    return home, response.json()["items"][0], reason.json()


OWNED = sorted(key for key, (_, kind, _) in TABLE.items() if kind)


@pytest.mark.parametrize("method,rule", OWNED, ids=lambda v: v)
def test_another_companys_object_is_invisible_to_every_role_of_this_one(method, rule, people,
                                                                        foreign, service_db):
    allowed, kind, make_body = TABLE[(method, rule)]
    param = rule.split("<")[1].split(">")[0]
    path = path_for(rule, {param: foreign[kind]["id"]})
    body = make_body(foreign) if make_body else ({} if method in ("POST", "PUT", "PATCH") else None)
    before = _fingerprint(service_db, kind, foreign[kind]["id"])
    for role in ("company_admin", M, T, C):
        response = caller_for(people, role, method, rule).request(method, path, json=body)
        expected = 404 if (A if role == "company_admin" else role) in allowed else 403
        assert response.status_code == expected, (role, method, path, response.text)
        assert set(response.json()["error"]) == {"code", "message", "details"}
    assert _fingerprint(service_db, kind, foreign[kind]["id"]) == before, "a refused call changed it"


# kind -> (the database, its table)
TABLES = {"intervention": ("interventions", "interventions"),
          "company": ("interventions", "companies"), "technician": ("interventions", "technicians"),
          "client": ("interventions", "clients"), "site": ("interventions", "sites"),
          "equipment": ("interventions", "equipment"), "contract": ("interventions", "contracts"),
          "user": ("gateway", "users"), "session": ("gateway", "sessions"),
          "file": ("interventions", "files"), "visit": ("interventions", "visits"),
          "visit_reason": ("interventions", "visit_reasons"),
          "place": ("timeclock", "places"), "nfc_tag": ("timeclock", "nfc_tags"),
          "clocking": ("timeclock", "clockings"),
          "incident_reason": ("timeclock", "incident_reasons"),
          "incident": ("timeclock", "incidents"), "conversation": ("timeclock", "conversations"),
          "request_type": ("requests", "request_types"), "request": ("requests", "requests"),
          "equipment_return": ("requests", "equipment_returns")}


def _fingerprint(service_db, kind, object_id):
    """The stored row, to prove a refused call wrote nothing."""
    database, table = TABLES[kind]
    rows = wait_until(lambda: service_db(database, f"SELECT to_jsonb(t)::text FROM {table} t "
                                         "WHERE id = :i", i=object_id), message=f"the {kind} row")
    return rows[0][0]


# --- the second walk: every id a body or a filter carries ---------------------------------
#
# For every route, every id field of its body and of its query (read from the
# route's schemas, so that a new field or route fails here until it is
# listed), sent by each role of company A with company B's object in that
# field, the rest of the request valid for A: refused (403 where the role
# may not call the route, else 404: B's object is not A's to see), and
# nothing written.

SHARED = "shared"   # a catalog every company uses (types, statuses): not company-owned
CURSOR = "cursor"   # an id that only pages a list, naming nothing to act on

# (method, rule) -> {field: the kind of B's object to put there}
REFERENCES = {
    ("POST", "/interventions"): {"client_id": "client", "equipment_id": "equipment",
                                 "type_id": SHARED, "technician_id": "technician",
                                 "company_id": "company", "site_id": "site",
                                 "contract_id": "contract"},
    ("PUT", "/interventions/<intervention_id>/status"): {"status_id": SHARED},
    ("PUT", "/interventions/<intervention_id>/assignment"): {"technician_id": "technician",
                                                             "company_id": "company"},
    ("POST", "/technicians"): {"company_id": "company", "company_ids[]": "company"},
    ("PATCH", "/technicians/<technician_id>"): {"company_id": "company", "company_ids[]": "company"},
    ("GET", "/technicians"): {"company_id": "company"},
    ("POST", "/clients"): {"company_id": "company"},
    ("GET", "/clients"): {"company_id": "company"},
    ("POST", "/sites"): {"client_id": "client"},
    ("GET", "/sites"): {"client_id": "client"},
    ("POST", "/equipment"): {"client_id": "client", "site_id": "site"},
    ("PATCH", "/equipment/<equipment_id>"): {"site_id": "site"},
    ("GET", "/equipment"): {"client_id": "client", "site_id": "site"},
    ("POST", "/contracts"): {"client_id": "client", "company_id": "company"},
    ("GET", "/contracts"): {"client_id": "client"},
    ("PUT", "/settings"): {"main_company_id": "company"},
    ("GET", "/interventions"): {"company_id": "company", "technician_id": "technician",
                                "client_id": "client"},
    ("GET", "/calendar"): {"technician_id": "technician", "company_id": "company"},
    ("POST", "/calendar/feeds"): {"technician_id": "technician", "company_id": "company"},
    ("POST", "/users"): {"company_id": "company", "technician_id": "technician",
                         "client_id": "client"},
    ("GET", "/users"): {"company_id": "company"},
    ("PATCH", "/users/<user_id>"): {"company_id": "company", "technician_id": "technician",
                                    "client_id": "client"},
    ("GET", "/admin/audit"): {"user_id": "user", "company_id": "company"},
    ("GET", "/surveys/summary"): {"company_id": "company", "technician_id": "technician"},
    ("GET", "/admin/emails"): {"after": CURSOR},
    ("POST", "/files"): {"company_id": "company"},
    ("POST", "/interventions/<intervention_id>/attachments"): {"file_id": "file"},
    ("POST", "/interventions/<intervention_id>/visits"): {"technician_id": "technician",
                                                          "contract_id": "contract"},
    ("PATCH", "/visits/<visit_id>"): {"technician_id": "technician"},
    ("POST", "/visits/<visit_id>/cancel"): {"reason_id": "visit_reason"},
    ("POST", "/visits/<visit_id>/worker-validation"): {"cancel_reason_id": "visit_reason"},
    ("POST", "/visits/<visit_id>/client-validation"): {"reason_id": "visit_reason"},
    ("POST", "/visits/validate-batch"): {"visit_ids[]": "visit"},
    ("GET", "/visits"): {"client_id": "client", "technician_id": "technician", "type_id": SHARED,
                         "intervention_id": "intervention", "company_id": "company"},
    ("GET", "/planning"): {"client_id": "client", "technician_id": "technician",
                           "company_id": "company"},
    ("GET", "/validation-board"): {"client_id": "client", "technician_id": "technician",
                                   "type_id": SHARED, "company_id": "company"},
    ("GET", "/validation-board.csv"): {"client_id": "client", "technician_id": "technician",
                                       "type_id": SHARED, "company_id": "company"},
    ("GET", "/visit-reasons"): {"company_id": "company"},
    ("POST", "/visit-reasons"): {"company_id": "company"},
    ("GET", "/timeclock/settings"): {"company_id": "company", "type_id": SHARED},
    ("PUT", "/timeclock/settings"): {"company_id": "company", "type_id": SHARED},
    ("GET", "/clocking-places"): {"client_id": "client", "company_id": "company"},
    ("POST", "/visits/<visit_id>/clockings"): {"id": "clocking"},
    ("GET", "/clockings"): {"visit_id": "visit", "technician_id": "technician",
                            "client_id": "client", "company_id": "company"},
    ("GET", "/incident-reasons"): {"type_id": SHARED, "company_id": "company"},
    ("POST", "/incident-reasons"): {"type_id": SHARED, "company_id": "company"},
    ("POST", "/incident-reasons/import"): {"from_type_id": SHARED, "to_type_id": SHARED,
                                           "company_id": "company"},
    ("POST", "/visits/<visit_id>/incidents"): {"reason_id": "incident_reason"},
    ("GET", "/incidents"): {"visit_id": "visit", "type_id": SHARED, "client_id": "client",
                            "technician_id": "technician", "company_id": "company"},
    ("POST", "/conversations/<conversation_id>/messages"): {"file_ids[]": "file"},
    ("GET", "/request-types"): {"company_id": "company"},
    ("POST", "/request-types"): {"company_id": "company"},
    ("POST", "/requests"): {"type_id": "request_type", "client_id": "client", "site_id": "site"},
    ("GET", "/requests"): {"type_id": "request_type", "client_id": "client",
                           "company_id": "company"},
    ("PATCH", "/requests/<request_id>"): {"type_id": "request_type", "site_id": "site"},
    ("GET", "/request-settings"): {"company_id": "company"},
    ("PUT", "/request-settings"): {"company_id": "company"},
    ("POST", "/requests/<request_id>/equipment"): {"equipment_id": "equipment"},
    ("POST", "/requests/<request_id>/documents"): {"file_id": "file"},
    ("POST", "/requests/<request_id>/interventions"): {
        "type_id": SHARED, "technician_id": "technician", "site_id": "site",
        "contract_id": "contract", "equipment_id": "equipment"},
    ("POST", "/requests/<request_id>/equipment-returns"): {"equipment_id": "equipment"},
    ("POST", "/equipment-returns/<return_id>/interventions"): {
        "type_id": SHARED, "technician_id": "technician", "contract_id": "contract"},
    ("POST", "/checklist-templates"): {"type_id": SHARED},
    ("GET", "/checklist-templates"): {"type_id": SHARED},
}

# Where a role is refused for another reason than B's object, before that
# object is looked at: a technician names only itself as the technician of
# what it creates and subscribes only to its own calendar; a manager grants
# client logins only; the platform settings are for platform admins.
# (role, method, rule, field) -> status
REFUSED_OTHERWISE = {
    (T, "POST", "/interventions", "technician_id"): 403,
    (T, "POST", "/calendar/feeds", "company_id"): 403,
    (M, "POST", "/users", "technician_id"): 403,
    (M, "POST", "/users", "company_id"): 403,
    (M, "PATCH", "/users/<user_id>", "technician_id"): 403,
    ("company_admin", "PUT", "/settings", "main_company_id"): 403,
    # a worker plans only for itself, under the intervention's contract: it
    # names neither (the walk's valid body, as staff send it, names both)
    (T, "POST", "/interventions/<intervention_id>/visits", "technician_id"): 403,
    (T, "POST", "/interventions/<intervention_id>/visits", "contract_id"): 403,
}


def id_fields():
    """(method, rule, field) of every id field in every route's body and query."""
    from marshmallow import fields as mfields

    from fieldwork_gateway import app as _registers_the_wings  # noqa: F401
    from fieldwork_gateway.fields import Id
    from fieldwork_gateway.web import api
    found = set()
    for route in api.routes:
        for schema in (route.body, route.query, route.form):
            if schema is None:
                continue
            for name, field in schema().fields.items():
                key = field.data_key or name
                if isinstance(field, Id):
                    found.add((route.method, route.path, key))
                elif isinstance(field, mfields.List) and isinstance(field.inner, Id):
                    found.add((route.method, route.path, key + "[]"))
    return found


def test_every_id_field_of_every_route_is_in_the_second_walk():
    listed = {(method, rule, field) for (method, rule), fields in REFERENCES.items()
              for field in fields}
    live = id_fields()
    assert sorted(live - listed) == [], "id fields the walk does not cover"
    assert sorted(listed - live) == [], "the walk names fields the gateway does not have"


@pytest.fixture(scope="module")
def two_companies(world, admin):
    """Company A (whose roles call, logged in) and company B (whose objects
    they send), each with everything an id can name."""
    def company_with_everything():
        company = world.company(portal_validation=True)
        technician = world.technician(company)
        client = world.client(company)
        site = world.site(client)
        contract = world.contract(client)
        response = admin.request("PUT", f"/contracts/{contract['id']}/state", json={"state": "validated"})
        assert response.status_code == 200, response.text
        intervention = world.intervention(client=client, technician=technician)
        equipment = admin.get(f"/equipment/{intervention['equipment_id']}").json()
        login = world.login_for("client", client_id=client["id"])
        home, future, reason = home_visit(world, admin, company, client, technician)
        _, _, clocking = clocked(world, admin, company, client, technician, future)
        incident_reason, current, incident = incident_of(admin, company, home, future)
        past = admin.post(f"/interventions/{home['id']}/visits", {
            "start_at": "2026-01-01T08:00:00Z", "end_at": "2026-01-01T10:00:00Z",
            "contract_id": response.json()["id"]}).json()["items"][0]
        done = admin.post(f"/interventions/{home['id']}/visits", {
            "start_at": "2026-01-02T08:00:00Z", "end_at": "2026-01-02T10:00:00Z",
            "contract_id": response.json()["id"]}).json()["items"][0]
        declared = admin.post(f"/visits/{done['id']}/worker-validation",
                              {"outcome": "done", "version": done["version"]})
        assert declared.status_code == 200, declared.text
        return {"company": company, "technician": technician, "client": client, "site": site,
                "contract": response.json(), "equipment": equipment, "intervention": intervention,
                "user": login.get("/account").json(), "type_id": intervention["type_id"],
                "file": world.file(company_id=company["id"]), "home": home,
                "visit": future, "past_visit": past, "done_visit": declared.json(),
                "visit_reason": reason, "clocking": clocking,
                "incident_reason": incident_reason, "current_visit": current,
                "incident": incident, **requested(admin, company, client, equipment),
                "logins": {"company_admin": world.login_for("admin", company_id=company["id"]),
                           M: world.login_for("manager", company_id=company["id"]),
                           T: world.login_for("technician", technician_id=technician["id"]),
                           C: login}}
    return company_with_everything(), company_with_everything()


def valid_request(method, rule, a):
    """(path, body, query) of a request that company A's roles may send."""
    body, query = None, {}
    path = rule
    for param, kind in (("intervention_id", "intervention"), ("technician_id", "technician"),
                        ("equipment_id", "equipment"), ("user_id", "user")):
        path = path.replace(f"<{param}>", a[kind]["id"])
    if (method, rule) == ("POST", "/interventions"):
        body = {"client_id": a["client"]["id"], "equipment_id": a["equipment"]["id"],
                "type_id": a["type_id"], "technician_id": a["technician"]["id"],
                "location": "workshop"}
    elif rule.endswith("/assignment"):
        body = {"technician_id": a["technician"]["id"]}
    elif (method, rule) == ("POST", "/technicians"):
        body = {"name": "T", "email": "t@example.test", "company_id": a["company"]["id"]}
    elif method == "PATCH" and rule.startswith("/technicians"):
        body = {"name": "T", "version": a["technician"]["version"]}
    elif (method, rule) == ("POST", "/clients"):
        body = {"name": "C", "email": "c@example.test", "company_id": a["company"]["id"]}
    elif (method, rule) == ("POST", "/sites"):
        body = {"client_id": a["client"]["id"], "name": "S"}
    elif (method, rule) == ("POST", "/equipment"):
        body = {"client_id": a["client"]["id"], "kind": "laptop"}
    elif method == "PATCH" and rule.startswith("/equipment"):
        body = {"version": a["equipment"]["version"]}
    elif (method, rule) == ("POST", "/contracts"):
        body = {"client_id": a["client"]["id"], "reference": "R"}
    elif (method, rule) == ("PUT", "/settings"):
        body = {"multi_company": True}
    elif (method, rule) == ("POST", "/calendar/feeds"):
        body = {"technician_id": a["technician"]["id"]}
    elif (method, rule) == ("POST", "/users"):
        body = {"email": f"walk-{uuid.uuid4().hex[:8]}@example.test", "password": "a-good-password",
                "role": "client", "client_id": a["client"]["id"]}
    elif method == "PATCH" and rule.startswith("/users"):
        body = {"locale": "en", "version": a["user"]["version"]}
    elif (method, rule) == ("GET", "/calendar"):
        query = {"from": "2030-01-01T00:00:00Z", "to": "2030-02-01T00:00:00Z"}
    elif (method, rule) == ("POST", "/files"):
        body = {"kind": "document"}  # a form; the file goes with it (send)
    elif rule.endswith("/attachments"):
        body = {"file_id": a["file"]["id"], "visible_to_client": True}
    elif rule == "/interventions/<intervention_id>/visits":
        path = rule.replace("<intervention_id>", a["home"]["id"])
        body = {"start_at": "2030-02-01T08:00:00Z", "end_at": "2030-02-01T09:00:00Z",
                "contract_id": a["contract"]["id"], "technician_id": a["technician"]["id"]}
    elif (method, rule) == ("POST", "/visits/<visit_id>/clockings"):
        # staff record for the worker, with the time and why
        path = rule.replace("<visit_id>", a["visit"]["id"])
        body = {"kind": "out", "at": "2026-01-01T10:00:00Z", "reason": "Oubli"}
    elif (method, rule) == ("PUT", "/timeclock/settings"):
        body = {"values": {"radius_m": 150}}
    elif (method, rule) == ("POST", "/visits/<visit_id>/incidents"):
        path = rule.replace("<visit_id>", a["current_visit"]["id"])
        body = {"reason_id": a["incident_reason"]["id"]}
    elif (method, rule) == ("POST", "/incident-reasons"):
        body = {"type_id": a["type_id"], "code": f"W{uuid.uuid4().hex[:8]}", "label": "x"}
    elif (method, rule) == ("POST", "/incident-reasons/import"):
        body = {"from_type_id": a["home"]["type_id"], "to_type_id": a["type_id"]}
    elif (method, rule) == ("POST", "/conversations/<conversation_id>/messages"):
        path = rule.replace("<conversation_id>", a["incident"]["conversation_id"])
        body = {"body": "Bonjour"}
    elif rule.startswith("/visits/<visit_id>"):
        # each move on a visit in the state it starts from, with its version
        visit = {"/worker-validation": a["past_visit"],
                 "/client-validation": a["done_visit"]}.get(rule.rsplit("visit_id>", 1)[1], a["visit"])
        path = rule.replace("<visit_id>", visit["id"])
        body = {"PATCH": {"start_at": "2030-01-01T09:00:00Z", "version": visit["version"]},
                "POST": {"version": visit["version"]}}.get(method)
        if rule.endswith("/worker-validation"):
            body.update(outcome="cancelled", cancel_reason_id=a["visit_reason"]["id"])
        elif rule.endswith("/client-validation"):
            body.update(decision="cancel", reason_id=a["visit_reason"]["id"])
        elif rule.endswith("/cancel"):
            body.update(reason_id=a["visit_reason"]["id"])
    elif (method, rule) == ("POST", "/visits/validate-batch"):
        body = {"visit_ids": [a["done_visit"]["id"]]}
    elif (method, rule) == ("GET", "/planning"):
        query = {"from": "2030-01-01T00:00:00Z", "to": "2030-02-01T00:00:00Z"}
    elif (method, rule) == ("POST", "/request-types"):
        body = {"label": f"W{uuid.uuid4().hex[:8]}"}
    elif (method, rule) == ("POST", "/requests"):
        body = {"type_id": a["request_type"]["id"], "client_id": a["client"]["id"],
                "site_id": a["site"]["id"], "source": "phone"}
    elif (method, rule) == ("PATCH", "/requests/<request_id>"):
        path = rule.replace("<request_id>", a["request"]["id"])
        body = {"symptom": "Fuite", "version": a["request"]["version"]}
    elif (method, rule) == ("POST", "/requests/<request_id>/equipment"):
        path = rule.replace("<request_id>", a["request"]["id"])
        body = {"symptom": "Bruit"}
    elif (method, rule) == ("POST", "/requests/<request_id>/documents"):
        path = rule.replace("<request_id>", a["request"]["id"])
        body = {"visible_to_client": True}
    elif (method, rule) == ("POST", "/requests/<request_id>/interventions"):
        path = rule.replace("<request_id>", a["request"]["id"])
        body = {"type_id": a["type_id"], "location": "workshop",
                "technician_id": a["technician"]["id"]}
    elif (method, rule) == ("POST", "/requests/<request_id>/equipment-returns"):
        path = rule.replace("<request_id>", a["request"]["id"])
        body = {"destination": "workshop"}
    elif (method, rule) == ("POST", "/equipment-returns/<return_id>/interventions"):
        path = rule.replace("<return_id>", a["equipment_return"]["id"])
        body = {"type_id": a["type_id"], "technician_id": a["technician"]["id"]}
    elif (method, rule) == ("PUT", "/request-settings"):
        body = {"values": {"reopen_days": 10}}
    elif (method, rule) == ("POST", "/visit-reasons"):
        body = {"kind": "refusal", "label": "Trop court", "company_id": a["company"]["id"]}
    return path, body, query


def send(caller, method, rule, target, body):
    """The request: a multipart form with a file for an upload, else JSON."""
    if (method, rule) == ("POST", "/files"):
        return caller.request(method, target, data=body, files={"file": ("scan.png", World.PNG)})
    return caller.request(method, target, json=body)


# what else a login's body must say for B's object to be the only thing wrong
LOGIN_OF_LINK = {"technician_id": {"role": "technician", "client_id": None},
                 "client_id": {"role": "client"},
                 "company_id": {"role": "manager", "client_id": None}}


def with_foreign(method, rule, field, body, query, b):
    """The request with B's object in `field`."""
    name = field[:-2] if field.endswith("[]") else field
    value = b[REFERENCES[(method, rule)][field]]["id"]
    value = [value] if field.endswith("[]") else value
    if method == "GET":
        return body, {**query, name: value}
    body = {**(body or {}), name: value}
    if rule == "/users" or rule.startswith("/users/"):
        if not (method == "PATCH" and name == "company_id"):  # a client login moved: its company
            body.update(LOGIN_OF_LINK[name])
        body = {k: v for k, v in body.items() if v is not None}
    if (method, rule) == ("POST", "/calendar/feeds") and name == "company_id":
        body.pop("technician_id")
    return body, query


WRITES = {"/interventions": ("interventions", "interventions"),
          "/technicians": ("interventions", "technicians"), "/clients": ("interventions", "clients"),
          "/sites": ("interventions", "sites"), "/equipment": ("interventions", "equipment"),
          "/contracts": ("interventions", "contracts"),
          "/calendar": ("interventions", "access_tokens"), "/users": ("gateway", "users"),
          "/settings": ("interventions", "settings"), "/files": ("interventions", "files"),
          "/visits": ("interventions", "visits"), "/visit-reasons": ("interventions", "visit_reasons"),
          "/timeclock": ("timeclock", "clocking_settings"),
          "/incident-reasons": ("timeclock", "incident_reasons"),
          "/request-types": ("requests", "request_types"), "/requests": ("requests", "requests"),
          "/request-settings": ("requests", "request_settings"),
          "/equipment-returns": ("requests", "equipment_returns")}
WRITES_OF_ROUTE = {("POST", "/interventions/<intervention_id>/attachments"): (
    "interventions", "intervention_attachments"),
    ("POST", "/interventions/<intervention_id>/visits"): ("interventions", "visits"),
    ("POST", "/visits/<visit_id>/clockings"): ("timeclock", "clockings"),
    ("POST", "/visits/<visit_id>/incidents"): ("timeclock", "incidents"),
    ("POST", "/conversations/<conversation_id>/messages"): ("timeclock", "messages"),
    ("POST", "/requests/<request_id>/equipment"): ("requests", "request_equipment"),
    ("POST", "/requests/<request_id>/documents"): ("requests", "request_documents"),
    ("POST", "/requests/<request_id>/interventions"): ("interventions", "interventions"),
    ("POST", "/requests/<request_id>/equipment-returns"): ("requests", "equipment_returns"),
    ("POST", "/equipment-returns/<return_id>/interventions"): ("interventions", "interventions")}


def stored(service_db, method, rule):
    """What a refused call must leave as it was: every row of the table it
    writes (their count and a digest of their content)."""
    if method == "GET":
        return None
    database, table = WRITES_OF_ROUTE.get((method, rule)) or WRITES["/" + rule.split("/")[1]]
    return service_db(database, f"SELECT count(*), md5(coalesce(string_agg(to_jsonb(t)::text, ',' "
                                f"ORDER BY to_jsonb(t)::text), '')) FROM {table} t")


WALK = sorted((method, rule, field) for (method, rule), fields in REFERENCES.items()
              for field, kind in fields.items() if kind not in (SHARED, CURSOR))


@pytest.mark.parametrize("method,rule,field", WALK, ids=lambda v: v)
def test_another_companys_id_in_a_body_or_filter_is_refused_and_nothing_is_written(
        method, rule, field, two_companies, service_db):
    a, b = two_companies
    allowed = TABLE[(method, rule)][0]
    for role, caller in a["logins"].items():
        path, body, query = valid_request(method, rule, a)
        body, query = with_foreign(method, rule, field, body, query, b)
        before = stored(service_db, method, rule)
        target = path + ("?" + urlencode(query, doseq=True) if query else "")
        response = send(caller, method, rule, target, body)
        as_role = A if role == "company_admin" else role
        expected = REFUSED_OTHERWISE.get((role, method, rule, field),
                                         404 if as_role in allowed else 403)
        assert response.status_code == expected, (role, method, target, body, response.text)
        assert set(response.json()["error"]) == {"code", "message", "details"}
        assert stored(service_db, method, rule) == before, (role, method, rule, field,
                                                            "a refused call wrote")


def test_the_valid_requests_of_the_walk_are_accepted(two_companies):
    """The walk's requests, with A's own objects, pass: what the walk refuses
    is B's object, not a broken request."""
    a, _ = two_companies
    checks = [("GET", "/interventions", "company_admin"), ("GET", "/calendar", M),
              ("GET", "/equipment", C), ("GET", "/technicians", T), ("POST", "/sites", "company_admin"),
              ("POST", "/calendar/feeds", T), ("PUT", "/interventions/<intervention_id>/assignment", M),
              ("POST", "/users", M), ("GET", "/admin/audit", "company_admin"),
              ("POST", "/files", C), ("POST", "/files", T),
              ("POST", "/interventions/<intervention_id>/attachments", T),
              ("GET", "/visits", C), ("GET", "/planning", T), ("GET", "/validation-board", M),
              ("GET", "/validation-board.csv", "company_admin"), ("GET", "/visit-reasons", C),
              ("POST", "/interventions/<intervention_id>/visits", M),
              ("POST", "/visit-reasons", "company_admin"), ("GET", "/timeclock/settings", M),
              ("PUT", "/timeclock/settings", "company_admin"), ("GET", "/clocking-places", M),
              ("GET", "/clockings", T), ("GET", "/clockings", M), ("GET", "/incidents", C),
              ("GET", "/incident-reasons", M), ("POST", "/incident-reasons", "company_admin"),
              ("POST", "/incident-reasons/import", "company_admin"),
              ("POST", "/visits/<visit_id>/incidents", C),
              ("POST", "/conversations/<conversation_id>/messages", T),
              ("GET", "/request-types", C), ("POST", "/request-types", "company_admin"),
              ("POST", "/requests", M), ("GET", "/requests", T), ("GET", "/requests", C)]
    for method, rule, role in checks:
        path, body, query = valid_request(method, rule, a)
        target = path + ("?" + urlencode(query, doseq=True) if query else "")
        response = send(a["logins"][role], method, rule, target, body)
        assert response.status_code < 300, (role, method, target, response.text)
