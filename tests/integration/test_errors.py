"""Bad input gets a clear 4xx with {"error": {"code", "message", "details"}},
and leaves nothing half-written (issue 2, "Errors and bad input")."""
import base64
import json
import signal
import time
import uuid

import jwt
import pytest

from conftest import JWT_SECRET
from fieldwork_common.testing.waiting import wait_until


def assert_error(response, status, code):
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    return body["error"]


# --- 400 ---------------------------------------------------------------------

def test_invalid_json_is_400(admin):
    error = assert_error(admin.request("POST", "/companies", data="{not json",
                                       headers={"Content-Type": "application/json"}),
                         400, "invalid_input")
    assert "JSON" in error["message"]


def test_a_body_that_is_not_an_object_is_400(admin):
    assert_error(admin.post("/companies", ["a list"]), 400, "invalid_input")


def test_unknown_fields_are_refused(admin):
    error = assert_error(admin.post("/companies", {"name": "A", "colour": "red"}), 400, "invalid_input")
    assert "colour" in error["details"]["fields"]


def test_wrong_types_are_refused(admin):
    error = assert_error(admin.post("/companies", {"name": 42}), 400, "invalid_input")
    assert "name" in error["details"]["fields"]
    error = assert_error(admin.post("/clients", {"name": "A", "email": "not-an-email",
                                                 "company_id": "nope"}), 400, "invalid_input")
    assert {"email", "company_id"} <= set(error["details"]["fields"])


def test_a_reference_to_nothing_is_404(admin):
    """An id in a body that names nothing the caller may see is answered as
    another company's would be: 404 naming the field (issue 9)."""
    error = assert_error(admin.post("/clients", {"name": "A", "email": "a@example.test",
                                                 "company_id": str(uuid.uuid4())}), 404, "not_found")
    assert "company_id" in error["details"]


def test_location_must_match_the_type_and_nothing_is_written(world, admin, service_db):
    company = world.company()
    client = world.client(company)
    body = {"client_id": client["id"], "equipment_id": world.equipment(client)["id"],
            "type_id": world.intervention_type("workshop")["id"],
            "technician_id": world.technician(company)["id"], "location": "at_home"}
    error = assert_error(admin.post("/interventions", body), 400, "invalid_input")
    assert error["details"] == {"location": "at_home", "type_location": "workshop"}
    assert "at_home" in error["message"] and "workshop" in error["message"]
    assert service_db("interventions", "SELECT count(*) FROM interventions WHERE client_id = :c",
                      c=client["id"])[0][0] == 0
    assert service_db("interventions", "SELECT count(*) FROM outbox WHERE event_type = "
                      "'intervention.created' AND envelope->'data'->>'client_id' = :c",
                      c=client["id"])[0][0] == 0


def test_equipment_of_another_client_is_400(world, admin):
    company = world.company()
    client, other = world.client(company), world.client(company)
    body = {"client_id": client["id"], "equipment_id": world.equipment(other)["id"],
            "type_id": world.intervention_type()["id"],
            "technician_id": world.technician(company)["id"], "location": "workshop"}
    error = assert_error(admin.post("/interventions", body), 400, "invalid_input")
    assert error["details"]["equipment_id"]


def test_a_login_needs_the_link_its_role_requires(admin):
    error = assert_error(admin.post("/users", {"email": f"c-{uuid.uuid4().hex[:6]}@example.test",
                                               "password": "long-enough", "role": "client"}),
                         400, "invalid_input")
    assert "client_id" in error["details"]["fields"]


# --- 401 -----------------------------------------------------------------------

def _b64(obj):
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()


def _claims(**overrides):
    now = int(time.time())
    return {"sub": str(uuid.uuid4()), "sid": str(uuid.uuid4()), "role": "admin", "iat": now,
            "exp": now + 600, **overrides}


@pytest.mark.parametrize("header", [
    None,
    "Bearer",
    "Basic dXNlcjpwYXNz",
    "Bearer not.a.jwt",
    "Bearer " + _b64({"alg": "none", "typ": "JWT"}) + "." + _b64(_claims()) + ".",
    "Bearer " + jwt.encode(_claims(), "another-secret-also-at-least-32-bytes-long", algorithm="HS256"),
    "Bearer " + jwt.encode(_claims(exp=int(time.time()) - 10), JWT_SECRET, algorithm="HS256"),
    "Bearer " + jwt.encode(_claims(role="superuser"), JWT_SECRET, algorithm="HS256"),
    "Bearer " + jwt.encode({"role": "admin", "sub": "x", "sid": "y"}, JWT_SECRET, algorithm="HS256"),
    # well signed (the secret leaked, say), but naming no session the gateway opened
    "Bearer " + jwt.encode(_claims(), JWT_SECRET, algorithm="HS256"),
    "Bearer " + jwt.encode({k: v for k, v in _claims().items() if k != "sid"}, JWT_SECRET,
                           algorithm="HS256"),
], ids=["missing", "empty", "basic", "garbage", "alg-none", "wrong-secret", "expired",
        "unknown-role", "no-expiry", "no-such-session", "no-session"])
def test_bad_tokens_are_401(anonymous, header):
    headers = {"Authorization": header} if header else {}
    assert_error(anonymous.request("GET", f"/interventions/{uuid.uuid4()}", headers=headers),
                 401, "unauthenticated")


def test_a_wrong_password_is_401(anonymous):
    from conftest import ADMIN_EMAIL
    assert_error(anonymous.post("/auth/token", {"email": ADMIN_EMAIL, "password": "wrong"}),
                 401, "unauthenticated")


def test_the_token_answer_has_its_documented_shape(anonymous):
    from conftest import ADMIN_EMAIL, ADMIN_PASSWORD
    body = anonymous.post("/auth/token", {"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}).json()
    assert set(body) == {"access_token", "token_type", "expires_in", "refresh_token",
                         "refresh_expires_in"}
    assert body["token_type"] == "Bearer" and body["expires_in"] > 0
    assert body["refresh_expires_in"] > body["expires_in"]
    assert jwt.get_unverified_header(body["access_token"])["alg"] == "HS256"


# --- 403, 404, 409 ---------------------------------------------------------------

def test_roles_that_may_not_create_interventions_get_403(world):
    company = world.company()
    client = world.client(company)
    body = {"client_id": client["id"], "equipment_id": world.equipment(client)["id"],
            "type_id": world.intervention_type()["id"],
            "technician_id": world.technician(company)["id"], "location": "workshop"}
    manager = world.login_for("manager", company_id=company["id"])
    assert_error(manager.post("/interventions", body), 403, "forbidden")
    customer = world.login_for("client", client_id=client["id"])
    assert_error(customer.post("/interventions", body), 403, "forbidden")
    assert_error(customer.post("/companies", {"name": "Mine"}), 403, "forbidden")


def test_a_technician_creates_only_for_itself(world):
    company = world.company()
    client = world.client(company)
    me, colleague = world.technician(company), world.technician(company)
    tech = world.login_for("technician", technician_id=me["id"])
    body = {"client_id": client["id"], "equipment_id": world.equipment(client)["id"],
            "type_id": world.intervention_type()["id"], "location": "workshop"}
    assert_error(tech.post("/interventions", {**body, "technician_id": colleague["id"]}),
                 403, "forbidden")
    response = tech.post("/interventions", body)
    assert response.status_code == 201, response.text
    assert response.json()["technician_id"] == me["id"]
    assert response.json()["company_id"] == company["id"]


def test_unknown_ids_and_routes_are_404(admin):
    assert_error(admin.get(f"/interventions/{uuid.uuid4()}"), 404, "not_found")
    assert_error(admin.get("/interventions/not-a-uuid"), 404, "not_found")
    assert_error(admin.get("/no-such-route"), 404, "not_found")


def test_a_method_not_allowed_is_405_with_the_error_body(admin):
    assert_error(admin.request("DELETE", "/companies"), 405, "method_not_allowed")


def test_a_second_login_with_the_same_email_is_409(world, admin):
    client = world.client(world.company())
    body = {"email": f"dup-{uuid.uuid4().hex[:6]}@example.test", "password": "long-enough",
            "role": "client", "client_id": client["id"]}
    assert admin.post("/users", body).status_code == 201
    assert_error(admin.post("/users", {**body, "email": body["email"].upper()}), 409, "conflict")


# --- 503 ---------------------------------------------------------------------------

def test_a_service_that_does_not_answer_is_503_then_recovers(platform, admin, world):
    intervention = world.intervention()
    path = f"/interventions/{intervention['id']}"
    interventions = platform.processes["interventions"]
    interventions.signal(signal.SIGSTOP)
    try:
        started = time.monotonic()
        error = assert_error(admin.get(path), 503, "service_unavailable")
        elapsed = time.monotonic() - started
        assert error["details"]["timeout_s"] == 5
        assert 4.5 <= elapsed < 15, elapsed
    finally:
        interventions.signal(signal.SIGCONT)
    wait_until(lambda: admin.get(path).status_code == 200, timeout=30,
               message="interventions answers again")


def test_health_names_the_service_that_does_not_answer(platform, anonymous):
    assert anonymous.get("/health").status_code == 200
    timeclock = platform.processes["timeclock"]
    timeclock.signal(signal.SIGSTOP)
    try:
        response = anonymous.get("/health")
        error = assert_error(response, 503, "service_unavailable")
        assert error["details"]["missing"] == ["timeclock"]
        assert "timeclock" in error["message"]
    finally:
        timeclock.signal(signal.SIGCONT)
    wait_until(lambda: anonymous.get("/health").status_code == 200, timeout=30,
               message="healthy again")


def test_dates_with_any_valid_offset_are_taken_in_utc_and_never_a_server_error(world, admin):
    """RFC 3339 allows offsets PostgreSQL refuses (beyond ±15:59): every
    date a caller sends is converted to UTC first (found by schemathesis:
    `GET /surveys/summary?to=…-21:32` answered 500)."""
    odd = "2026-07-25T04:47:34.13-21:32"
    for path in (f"/surveys/summary?to={odd}", f"/interventions?created_from={odd}",
                 f"/calendar?from={odd}&to=2026-07-30T00:00:00Z"):
        response = admin.get(path.replace("+", "%2B"))
        assert response.status_code == 200, (path, response.text)
    intervention = world.intervention()
    for step in ("in_workshop", "final_tests"):
        assert world.move(intervention, step).status_code == 200
    closed = world.move(intervention, "awaiting_pickup", pickup_at="2030-01-15T10:30:00+20:00")
    assert closed.status_code == 200, closed.text
    assert closed.json()["pickup_at"] == "2030-01-14T14:30:00Z"
    out_of_range = admin.get("/interventions?created_from=0001-01-01T00:00:00%2B05:00")
    assert out_of_range.status_code == 400, out_of_range.text
    assert out_of_range.json()["error"]["code"] == "invalid_input"


def test_a_pickup_date_no_calendar_can_show_is_400(world):
    intervention = world.intervention()
    for step in ("in_workshop", "final_tests"):
        assert world.move(intervention, step).status_code == 200
    response = world.move(intervention, "awaiting_pickup", pickup_at="9999-12-31T23:30:00Z")
    assert response.status_code == 400, response.text
    assert set(response.json()["error"]["details"]) == {"pickup_at"}
    assert world.admin.get(f"/interventions/{intervention['id']}").json()["step"] == "final_tests"


@pytest.mark.parametrize("path", ["/companies", "/clients", "/statuses", "/interventions"])
def test_a_crafted_cursor_is_400_on_every_list(admin, path):
    """A cursor that decodes but whose values do not fit the list's keys
    (here an id that is no UUID) is refused before the database sees it."""
    from datetime import datetime, timezone

    from fieldwork_common.pagination import encode_cursor
    at = datetime(2026, 1, 1, tzinfo=timezone.utc)
    for cursor in (encode_cursor(at, "not-an-id"), encode_cursor(1, "label", "not-an-id")):
        response = admin.get(f"{path}?after={cursor}")
        assert response.status_code == 400, (path, response.text)
        assert response.json()["error"]["code"] == "invalid_input"
