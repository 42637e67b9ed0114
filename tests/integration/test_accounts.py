"""Accounts and access through the real gateway, services, PostgreSQL and
SMTP server (issue 8): who may grant which login, the links a login
carries, logins listed and changed, invitations and password resets by
email, sessions (refresh rotation, reuse detection, logout, deactivation),
login throttling, the audit log, CORS.

Throttled calls name their own client address in X-Forwarded-For (the
test platform trusts one proxy hop), so that they lock only themselves.
"""
import re
import statistics
import time
import uuid

import pytest
import requests

from conftest import PORTAL_ORIGIN, Client, created, text_of
from fieldwork_common.testing.waiting import wait_until

PASSWORD = "a-good-password"


def tag():
    return uuid.uuid4().hex[:8]


def new_email(prefix="user"):
    return f"{prefix}-{tag()}@example.test"


def address():
    """A client address of this test's own (TEST-NET-3, never routed)."""
    n = uuid.uuid4().int
    return f"203.0.{n % 250 + 1}.{(n >> 8) % 250 + 1}"


def login_as(anonymous, email, password, at=None):
    headers = {"X-Forwarded-For": at} if at else None
    return anonymous.request("POST", "/auth/token", json={"email": email, "password": password},
                             headers=headers)


def client_of(anonymous, body):
    return Client(anonymous.base_url, body["access_token"])


def link_of(message):
    """The token of the password link in an email."""
    found = re.search(r"/password/([A-Za-z0-9_-]+)", text_of(message))
    assert found, text_of(message)
    return found.group(1)


@pytest.fixture(scope="module")
def shops(world, admin):
    """Two companies, each with a technician and a client; the admin,
    manager, technician and client logins of the first."""
    a, b = world.company(), world.company()
    found = {"A": a, "B": b}
    for name, company in (("A", a), ("B", b)):
        found[f"technician_{name}"] = world.technician(company)
        found[f"client_{name}"] = world.client(company)
    found["admin_A"] = world.login_for("admin", company_id=a["id"])
    found["manager_A"] = world.login_for("manager", company_id=a["id"])
    found["technician_A_login"] = world.login_for("technician", technician_id=found["technician_A"]["id"])
    found["client_A_login"] = world.login_for("client", client_id=found["client_A"]["id"])
    return found


def user_rows(service_db, email):
    return service_db("gateway", "SELECT id FROM users WHERE lower(email) = lower(:e)", e=email)


def fingerprint(service_db, user_id):
    return service_db("gateway", "SELECT to_jsonb(u)::text FROM users u WHERE id = :i", i=user_id)


# --- 1. the hole: a caller only grants what it holds, in its own scope -------------------

CREATIONS = [
    # (caller, the body's role and links, expected status)
    ("admin_A", {"role": "admin"}, 403),                                   # a platform admin
    ("admin_A", {"role": "admin", "company_id": None}, 403),
    ("admin_A", {"role": "admin", "company_id": "B"}, 404),
    ("admin_A", {"role": "manager", "company_id": "B"}, 404),
    ("admin_A", {"role": "technician", "technician_id": "technician_B"}, 404),
    ("admin_A", {"role": "client", "client_id": "client_B"}, 404),
    ("admin_A", {"role": "client", "client_id": "client_A", "company_id": "B"}, 404),
    ("manager_A", {"role": "admin", "company_id": "A"}, 403),
    ("manager_A", {"role": "manager", "company_id": "A"}, 403),
    ("manager_A", {"role": "technician", "technician_id": "technician_A"}, 403),
    ("manager_A", {"role": "client", "client_id": "client_B"}, 404),
    ("technician_A_login", {"role": "client", "client_id": "client_A"}, 403),
    ("client_A_login", {"role": "client", "client_id": "client_A"}, 403),
]


def _body(shops, links):
    body = {}
    for key, value in links.items():
        if key == "role" or value is None:
            body[key] = value
        else:
            body[key] = shops[value]["id"]
    return body


@pytest.mark.parametrize("caller,links,status", CREATIONS,
                         ids=[f"{c}-{l['role']}-{'-'.join(str(v) for k, v in l.items() if k != 'role')}"
                              for c, l, _ in CREATIONS])
def test_a_login_above_the_caller_or_outside_its_scope_is_refused(shops, service_db, caller,
                                                                   links, status):
    email = new_email("escalation")
    response = shops[caller].post("/users", {"email": email, "password": PASSWORD,
                                             **_body(shops, links)})
    assert response.status_code == status, response.text
    assert set(response.json()["error"]) == {"code", "message", "details"}
    assert user_rows(service_db, email) == [], "a refused login was written"


GRANTED = [
    ("admin_A", {"role": "admin", "company_id": "A"}),
    ("admin_A", {"role": "manager", "company_id": "A"}),
    ("admin_A", {"role": "technician", "technician_id": "technician_A"}),
    ("admin_A", {"role": "client", "client_id": "client_A"}),
    ("manager_A", {"role": "client", "client_id": "client_A"}),
]


@pytest.mark.parametrize("caller,links", GRANTED, ids=[f"{c}-{l['role']}" for c, l in GRANTED])
def test_a_login_within_the_callers_rights_is_created_in_its_company(shops, anonymous, caller, links):
    email = new_email("granted")
    user = created(shops[caller].post("/users", {"email": email, "password": PASSWORD,
                                                 **_body(shops, links)}))
    assert user["company_id"] == shops["A"]["id"] and user["status"] == "active"
    login = login_as(anonymous, email, PASSWORD)
    assert login.status_code == 200, login.text
    me = client_of(anonymous, login.json()).get("/account").json()
    assert (me["role"], me["company_id"]) == (links["role"], shops["A"]["id"])


CHANGES = [
    # (caller, whose login, the change, expected status)
    ("admin_A", "manager_A", {"role": "admin", "company_id": None}, 403),   # to a platform admin
    ("admin_A", "manager_A", {"company_id": "B"}, 404),                     # into another company
    ("admin_A", "client_A_login", {"client_id": "client_B"}, 404),          # to another's client
    ("admin_A", "platform_admin", {"active": False}, 404),                  # above it: invisible
    ("admin_A", "admin_B", {"active": False}, 404),                         # outside its scope
    ("admin_A", "admin_B", {"role": "client", "client_id": "client_A"}, 404),
    ("admin_A", "admin_A", {"role": "manager"}, 403),                       # its own role
    ("admin_A", "admin_A", {"active": False}, 403),
    ("manager_A", "technician_A_login", {"active": False}, 403),            # not a client login
    ("manager_A", "admin_A", {"role": "client", "client_id": "client_A"}, 403),
    ("manager_A", "client_A_login", {"role": "manager", "company_id": "A"}, 403),
    ("manager_A", "manager_A", {"role": "admin"}, 403),
    ("manager_A", "client_B_login", {"active": False}, 404),
    ("technician_A_login", "client_A_login", {"active": False}, 403),
    ("client_A_login", "client_A_login", {"locale": "en"}, 403),
]


@pytest.fixture(scope="module")
def targets(shops, world, admin):
    """Every login the change walk aims at, with its id."""
    found = {name: shops[name] for name in ("admin_A", "manager_A", "technician_A_login",
                                            "client_A_login")}
    found["platform_admin"] = admin
    found["admin_B"] = world.login_for("admin", company_id=shops["B"]["id"])
    found["client_B_login"] = world.login_for("client", client_id=shops["client_B"]["id"])
    return {name: client.get("/account").json() for name, client in found.items()}


@pytest.mark.parametrize("caller,whose,change,status", CHANGES,
                         ids=[f"{c}-{w}-{'-'.join(ch)}" for c, w, ch, _ in CHANGES])
def test_a_change_above_the_caller_or_outside_its_scope_is_refused(shops, targets, service_db,
                                                                    caller, whose, change, status):
    target = targets[whose]
    body = {k: (shops[v]["id"] if isinstance(v, str) and v in shops else v) for k, v in change.items()}
    before = fingerprint(service_db, target["id"])
    response = shops[caller].request("PATCH", f"/users/{target['id']}",
                                     json={**body, "version": target["version"]})
    assert response.status_code == status, response.text
    assert fingerprint(service_db, target["id"]) == before, "a refused change was written"


def test_a_deactivated_or_unknown_link_is_refused(shops, admin, world):
    client = world.client(shops["A"])
    current = admin.get(f"/clients/{client['id']}").json()
    assert admin.request("PATCH", f"/clients/{client['id']}",
                         json={"active": False, "version": current["version"]}).status_code == 200
    response = shops["admin_A"].post("/users", {"email": new_email(), "role": "client",
                                                "client_id": client["id"], "password": PASSWORD})
    assert response.status_code == 400, response.text
    response = shops["admin_A"].post("/users", {"email": new_email(), "role": "client",
                                                "client_id": str(uuid.uuid4()), "password": PASSWORD})
    assert response.status_code == 404, response.text


# --- 2. managing logins -----------------------------------------------------------------

def test_logins_are_listed_within_the_callers_company_with_filters_and_a_cursor(shops, admin, world):
    mark = tag()
    for _ in range(3):
        created(shops["admin_A"].post("/users", {"email": f"listed-{mark}-{tag()}@example.test",
                                                 "password": PASSWORD, "role": "client",
                                                 "client_id": shops["client_A"]["id"]}))
    created(admin.post("/users", {"email": f"listed-{mark}-b@example.test", "password": PASSWORD,
                                  "role": "client", "client_id": shops["client_B"]["id"]}))
    first = shops["admin_A"].get(f"/users?email=LISTED-{mark}&limit=2").json()
    assert len(first["items"]) == 2 and first["next_cursor"]
    second = shops["admin_A"].get(f"/users?email=listed-{mark}&limit=2&after={first['next_cursor']}").json()
    assert len(second["items"]) == 1 and second["next_cursor"] is None
    seen = first["items"] + second["items"]
    assert {u["company_id"] for u in seen} == {shops["A"]["id"]}, "another company's login listed"
    assert shops["manager_A"].get(f"/users?email=listed-{mark}").json()["items"] != []
    assert shops["admin_A"].get(f"/users?company_id={shops['B']['id']}").status_code == 404
    everyone = admin.get(f"/users?email=listed-{mark}").json()["items"]
    assert len(everyone) == 4
    only_b = admin.get(f"/users?email=listed-{mark}&company_id={shops['B']['id']}").json()["items"]
    assert [u["email"] for u in only_b] == [f"listed-{mark}-b@example.test"]
    managers = shops["admin_A"].get("/users?role=manager").json()["items"]
    assert managers and {u["role"] for u in managers} == {"manager"}
    assert shops["admin_A"].get("/users?active=false").json()["items"] is not None
    assert shops["technician_A_login"].get("/users").status_code == 403


def test_a_login_is_read_and_changed_with_its_version(shops, anonymous):
    email = new_email("patched")
    user = created(shops["admin_A"].post("/users", {"email": email, "password": PASSWORD,
                                                    "role": "manager", "company_id": shops["A"]["id"]}))
    read = shops["admin_A"].get(f"/users/{user['id']}")
    assert read.headers["ETag"] == f'"{user["version"]}"'
    path = f"/users/{user['id']}"
    assert shops["admin_A"].request("PATCH", path, json={"locale": "en"}).status_code == 428
    changed = shops["admin_A"].request("PATCH", path, json={
        "role": "technician", "technician_id": shops["technician_A"]["id"], "version": user["version"]})
    assert changed.status_code == 200, changed.text
    assert (changed.json()["role"], changed.json()["technician_id"]) == (
        "technician", shops["technician_A"]["id"])
    stale = shops["admin_A"].request("PATCH", path, json={"locale": "en", "version": user["version"]})
    assert stale.status_code == 409 and stale.json()["error"]["details"]["current_version"] == \
        changed.json()["version"]
    # the new role holds at once, also in a session opened before the change
    assert shops["admin_A"].get("/account").status_code == 200


def test_a_deactivated_login_is_cut_at_its_next_call_and_comes_back_when_reactivated(
        shops, anonymous):
    email = new_email("cut")
    user = created(shops["manager_A"].post("/users", {"email": email, "password": PASSWORD,
                                                      "role": "client",
                                                      "client_id": shops["client_A"]["id"]}))
    body = login_as(anonymous, email, PASSWORD).json()
    session = client_of(anonymous, body)
    assert session.get(f"/clients/{shops['client_A']['id']}").status_code == 200
    off = shops["manager_A"].request("PATCH", f"/users/{user['id']}",
                                     json={"active": False, "version": user["version"]})
    assert off.status_code == 200 and off.json()["status"] == "deactivated"
    response = session.get(f"/clients/{shops['client_A']['id']}")   # long before the token expires
    assert response.status_code == 401, response.text
    assert anonymous.post("/auth/refresh", {"refresh_token": body["refresh_token"]}).status_code == 401
    assert login_as(anonymous, email, PASSWORD, at=address()).status_code == 401
    on = shops["manager_A"].request("PATCH", f"/users/{user['id']}",
                                    json={"active": True, "version": off.json()["version"]})
    assert on.status_code == 200 and on.json()["status"] == "active"
    assert login_as(anonymous, email, PASSWORD).status_code == 200
    assert session.get(f"/clients/{shops['client_A']['id']}").status_code == 401, \
        "a session ended by the deactivation stays ended"


# --- 3. invitations -------------------------------------------------------------------------

def test_an_invitation_lets_the_user_choose_a_password_once(shops, anonymous, smtp, service_db):
    email = new_email("invited")
    user = created(shops["admin_A"].post("/users", {"email": email, "role": "client",
                                                    "client_id": shops["client_A"]["id"]}))
    assert user["status"] == "invited" and user["invitation"]["expires_at"]
    [message] = smtp.wait_for(email)
    assert message["Subject"].startswith("Votre accès à") and shops["A"]["name"] in message["Subject"]
    token = link_of(message)
    assert login_as(anonymous, email, PASSWORD, at=address()).status_code == 401
    page = anonymous.get(f"/password/{token}")
    assert page.status_code == 200 and "Choisissez votre mot de passe" in page.text
    assert page.headers["Cache-Control"] == "no-store" and page.headers["Referrer-Policy"] == "no-referrer"
    weak = anonymous.post("/auth/password", {"token": token, "password": "azertyuiop"})
    assert weak.status_code == 400 and "not a common password" in str(weak.json()["error"]["details"])
    done = anonymous.post("/auth/password", {"token": token, "password": PASSWORD})
    assert done.status_code == 200, done.text
    assert done.json() == {"purpose": "invitation", "email": email}
    assert login_as(anonymous, email, PASSWORD).status_code == 200
    again = anonymous.post("/auth/password", {"token": token, "password": "another-good-one"})
    assert again.status_code == 410 and again.json()["error"]["details"]["reason"] == "used"
    assert anonymous.get(f"/password/{token}").status_code == 410
    # the link's secret is not stored: only its hash
    assert service_db("gateway", "SELECT count(*) FROM account_links WHERE token_hash = :t",
                      t=token) == [(0,)]
    resend = shops["admin_A"].post(f"/users/{user['id']}/invitation")
    assert resend.status_code == 409, "a user with a password gets a reset, not an invitation"


def test_an_invitation_in_english_from_the_page_and_its_expiry(shops, anonymous, smtp, time_travel):
    email = new_email("invited-en")
    user = created(shops["admin_A"].post("/users", {"email": email, "role": "manager",
                                                    "company_id": shops["A"]["id"], "locale": "en"}))
    [first] = smtp.wait_for(email)
    assert first["Subject"] == f"Your access to {shops['A']['name']}"
    assert "manager account" in text_of(first)
    again = shops["admin_A"].post(f"/users/{user['id']}/invitation")
    assert again.status_code == 200, again.text
    second = smtp.wait_for(email, count=2)[1]
    replaced = anonymous.post("/auth/password", {"token": link_of(first), "password": PASSWORD})
    assert replaced.status_code == 410 and replaced.json()["error"]["details"]["reason"] == "revoked"
    token = link_of(second)
    time_travel("gateway", "account_links", token)
    expired = anonymous.post("/auth/password", {"token": token, "password": PASSWORD})
    assert expired.status_code == 410 and expired.json()["error"]["details"]["reason"] == "expired"
    page = anonymous.get(f"/password/{token}")
    assert page.status_code == 410 and "expired" in page.text
    # a third link, used from the page's form
    assert shops["admin_A"].post(f"/users/{user['id']}/invitation").status_code == 200
    third = link_of(smtp.wait_for(email, count=3)[2])
    mismatch = requests.post(f"{anonymous.base_url}/password/{third}",
                             data={"password": PASSWORD, "confirm": "something-else"}, timeout=30)
    assert mismatch.status_code == 400 and "differ" in mismatch.text
    saved = requests.post(f"{anonymous.base_url}/password/{third}",
                          data={"password": PASSWORD, "confirm": PASSWORD}, timeout=30)
    assert saved.status_code == 200 and "Password saved" in saved.text
    assert login_as(anonymous, email, PASSWORD).status_code == 200


def test_the_invitation_link_expires_after_48_hours(shops, service_db):
    user = created(shops["admin_A"].post("/users", {"email": new_email("ttl"), "role": "manager",
                                                    "company_id": shops["A"]["id"]}))
    [(seconds,)] = service_db("gateway", "SELECT extract(epoch FROM expires_at - created_at) "
                                         "FROM account_links WHERE user_id = :u", u=user["id"])
    assert float(seconds) == 48 * 3600


# --- 4. password reset ------------------------------------------------------------------------

def test_a_password_reset_answers_alike_for_any_address_and_emails_a_one_hour_link(
        shops, anonymous, smtp, service_db, world):
    email = new_email("reset")
    created(shops["admin_A"].post("/users", {"email": email, "password": PASSWORD, "role": "client",
                                             "client_id": shops["client_A"]["id"]}))
    sessions = [client_of(anonymous, login_as(anonymous, email, PASSWORD).json()) for _ in range(2)]
    refresh = login_as(anonymous, email, PASSWORD).json()["refresh_token"]
    unknown = new_email("nobody")
    known_answer = anonymous.post("/auth/password-reset", {"email": email})
    unknown_answer = anonymous.post("/auth/password-reset", {"email": unknown})
    assert known_answer.status_code == unknown_answer.status_code == 202
    assert known_answer.json() == unknown_answer.json()
    [message] = smtp.wait_for(email)
    assert message["Subject"] == "Réinitialisation de votre mot de passe"
    token = link_of(message)
    [(seconds,)] = service_db("gateway", "SELECT extract(epoch FROM l.expires_at - l.created_at) "
                                         "FROM account_links l JOIN users u ON u.id = l.user_id "
                                         "WHERE u.email = :e", e=email)
    assert float(seconds) == 3600
    wait_until(lambda: service_db("gateway", "SELECT 1 FROM audit_events WHERE email = :e AND "
                                             "kind = 'password_reset_requested'", e=unknown),
               message="the unknown address's request in the audit")
    assert smtp.to(unknown) == []
    new_password = "a-brand-new-password"
    assert anonymous.post("/auth/password", {"token": token, "password": new_password}).status_code == 200
    for session in sessions:
        assert session.get("/account").status_code == 401, "a reset ends every other session"
    assert anonymous.post("/auth/refresh", {"refresh_token": refresh}).status_code == 401
    assert login_as(anonymous, email, PASSWORD, at=address()).status_code == 401
    assert login_as(anonymous, email, new_password).status_code == 200
    reused = anonymous.post("/auth/password", {"token": token, "password": "yet-another-password"})
    assert reused.status_code == 410


def test_a_password_reset_takes_the_same_time_for_a_known_and_an_unknown_address(shops, anonymous):
    email = new_email("timed")
    created(shops["admin_A"].post("/users", {"email": email, "password": PASSWORD, "role": "client",
                                             "client_id": shops["client_A"]["id"]}))
    durations = {"known": [], "unknown": []}
    for _ in range(6):
        for kind, address_ in (("known", email), ("unknown", new_email("nobody"))):
            started = time.perf_counter()
            assert anonymous.post("/auth/password-reset", {"email": address_}).status_code == 202
            durations[kind].append(time.perf_counter() - started)
    known, unknown = (statistics.median(durations[k]) for k in ("known", "unknown"))
    print(f"\npassword reset answered in {known * 1000:.1f} ms (known), {unknown * 1000:.1f} ms (unknown)")
    assert abs(known - unknown) < max(0.05, 0.5 * max(known, unknown)), durations


def test_password_resets_are_limited_to_three_emails_an_hour(shops, anonymous, smtp, service_db):
    email = new_email("flood")
    created(shops["admin_A"].post("/users", {"email": email, "password": PASSWORD, "role": "client",
                                             "client_id": shops["client_A"]["id"]}))
    for _ in range(5):
        assert anonymous.post("/auth/password-reset", {"email": email}).status_code == 202
    wait_until(lambda: len(service_db(
        "gateway", "SELECT 1 FROM audit_events WHERE email = :e AND kind = 'password_reset_requested'",
        e=email)) == 5, message="five requests audited")
    assert len(smtp.wait_for(email, count=3)) == 3
    refused = service_db("gateway", "SELECT details->>'reason' FROM audit_events WHERE email = :e "
                                    "AND kind = 'password_reset_requested' AND details->>'sent' = 'false'",
                         e=email)
    assert refused == [("too_many",), ("too_many",)]


# --- 5. one's own password and sessions ----------------------------------------------------------

def test_changing_ones_password_ends_every_session_and_opens_a_new_one(shops, anonymous, world):
    me = world.login_for("client", password=PASSWORD, client_id=shops["client_A"]["id"])
    other = me.login(me.email, PASSWORD)
    wrong = me.request("PUT", "/account/password", json={"current_password": "not-the-one",
                                                         "new_password": "a-new-good-password"})
    assert wrong.status_code == 400
    weak = me.request("PUT", "/account/password", json={"current_password": PASSWORD,
                                                        "new_password": me.email})
    assert weak.status_code == 400 and "not the email address" in str(weak.json())
    changed = me.request("PUT", "/account/password", json={"current_password": PASSWORD,
                                                           "new_password": "a-new-good-password"})
    assert changed.status_code == 200, changed.text
    assert me.get("/account").status_code == 401 and other.get("/account").status_code == 401
    assert client_of(anonymous, changed.json()).get("/account").status_code == 200
    assert login_as(anonymous, me.email, "a-new-good-password").status_code == 200


def test_sessions_are_listed_and_ended_one_or_all(shops, world):
    first = world.login_for("client", password=PASSWORD, client_id=shops["client_A"]["id"])
    second = first.login(first.email, PASSWORD)
    listed = first.get("/account/sessions").json()["items"]
    assert len(listed) == 2 and [s["current"] for s in listed] == [False, True]
    assert first.request("DELETE", f"/account/sessions/{listed[0]['id']}").status_code == 204
    assert second.get("/account").status_code == 401 and first.get("/account").status_code == 200
    assert first.request("DELETE", f"/account/sessions/{uuid.uuid4()}").status_code == 404
    assert first.request("DELETE", "/account/sessions").status_code == 204
    assert first.get("/account").status_code == 401


def test_a_refresh_token_rotates_and_a_reused_one_revokes_the_whole_session(
        shops, anonymous, world, admin):
    me = world.login_for("client", password=PASSWORD, client_id=shops["client_A"]["id"])
    r1 = me.refresh_token
    second = anonymous.post("/auth/refresh", {"refresh_token": r1})
    assert second.status_code == 200, second.text
    r2 = second.json()["refresh_token"]
    assert r2 != r1 and client_of(anonymous, second.json()).get("/account").status_code == 200
    third = anonymous.post("/auth/refresh", {"refresh_token": r2})
    assert third.status_code == 200
    latest = client_of(anonymous, third.json())
    stolen = anonymous.post("/auth/refresh", {"refresh_token": r1})          # used once already
    assert stolen.status_code == 401 and "used already" in stolen.json()["error"]["message"]
    assert latest.get("/account").status_code == 401, "the whole family is revoked"
    assert me.get("/account").status_code == 401
    assert anonymous.post("/auth/refresh", {"refresh_token": third.json()["refresh_token"]}).status_code == 401
    user_id = client_of(anonymous, login_as(anonymous, me.email, PASSWORD).json()).get("/account").json()["id"]
    events = admin.get(f"/admin/audit?kind=token_reuse&user_id={user_id}").json()["items"]
    assert len(events) == 1


def test_logout_ends_the_session_and_its_refresh_token(shops, world, anonymous):
    me = world.login_for("client", password=PASSWORD, client_id=shops["client_A"]["id"])
    assert me.post("/auth/logout").status_code == 204
    assert me.get("/account").status_code == 401
    assert anonymous.post("/auth/refresh", {"refresh_token": me.refresh_token}).status_code == 401


# --- 6. throttling ------------------------------------------------------------------------------

def test_twenty_wrong_passwords_lock_the_account_until_the_delay_passes(shops, anonymous, world):
    me = world.login_for("client", password=PASSWORD, client_id=shops["client_A"]["id"])
    here = address()
    statuses, retry_after, locked_at = [], [], None
    for _ in range(20):
        response = login_as(anonymous, me.email, "wrong-password", at=here)
        statuses.append(response.status_code)
        if response.status_code == 401:
            locked_at = time.monotonic()  # the fifth failure sets the lock
        if response.status_code == 429:
            retry_after.append(int(response.headers["Retry-After"]))
            assert response.json()["error"]["code"] == "too_many_requests"
    assert statuses == [401] * 5 + [429] * 15, statuses
    assert all(value >= 1 for value in retry_after)
    right = login_as(anonymous, me.email, PASSWORD, at=here)
    assert right.status_code == 429, "the right password too, while locked"
    elsewhere = login_as(anonymous, me.email, PASSWORD, at=address())
    assert elsewhere.status_code == 429, "the account is locked from any address"
    wait_until(lambda: login_as(anonymous, me.email, PASSWORD, at=address()).status_code == 200,
               timeout=30, interval=0.25, message="the lock to pass")
    assert time.monotonic() - locked_at >= retry_after[0] - 1  # Retry-After rounds up
    # the success reset the account's count: four more failures do not lock it
    fresh = address()
    assert [login_as(anonymous, me.email, "wrong", at=fresh).status_code for _ in range(4)] == [401] * 4
    assert login_as(anonymous, me.email, PASSWORD, at=fresh).status_code == 200


def test_the_delay_grows_with_each_failure_after_the_lock(shops, anonymous, world):
    me = world.login_for("client", password=PASSWORD, client_id=shops["client_A"]["id"])
    for _ in range(5):
        login_as(anonymous, me.email, "wrong-password", at=address())
    first = int(login_as(anonymous, me.email, "x", at=address()).headers["Retry-After"])
    wait_until(lambda: login_as(anonymous, me.email, "wrong-password",
                                at=address()).status_code == 401, timeout=30, interval=0.25,
               message="the first lock to pass")
    second = int(login_as(anonymous, me.email, "x", at=address()).headers["Retry-After"])
    assert second > first, (first, second)


def test_one_address_guessing_at_many_accounts_is_locked(shops, anonymous, world):
    here = address()
    for _ in range(5):
        assert login_as(anonymous, new_email("sprayed"), "Spring2026!!", at=here).status_code == 401
    me = world.login_for("client", password=PASSWORD, client_id=shops["client_A"]["id"])
    assert login_as(anonymous, me.email, PASSWORD, at=here).status_code == 429
    assert login_as(anonymous, me.email, PASSWORD, at=address()).status_code == 200


def test_an_unknown_email_and_a_wrong_password_answer_alike(shops, anonymous, world):
    me = world.login_for("client", password=PASSWORD, client_id=shops["client_A"]["id"])
    answers, durations = {}, {"unknown": [], "wrong": []}
    for _ in range(3):
        for kind, email in (("unknown", new_email("ghost")), ("wrong", me.email)):
            started = time.perf_counter()
            response = login_as(anonymous, email, "not-the-password", at=address())
            durations[kind].append(time.perf_counter() - started)
            answers[kind] = (response.status_code, response.json())
    assert answers["unknown"] == answers["wrong"]
    unknown, wrong = (statistics.median(durations[k]) for k in ("unknown", "wrong"))
    print(f"\nfailed login answered in {unknown * 1000:.1f} ms (unknown email), "
          f"{wrong * 1000:.1f} ms (wrong password)")
    assert abs(unknown - wrong) < 0.5 * max(unknown, wrong), durations


# --- 7. the audit log ------------------------------------------------------------------------------

def test_the_audit_log_shows_security_events_to_admins_within_their_companies(
        shops, anonymous, admin, world):
    me = world.login_for("manager", password=PASSWORD, company_id=shops["A"]["id"])
    me_id = me.get("/account").json()
    assert login_as(anonymous, me.email, "wrong-password", at=address()).status_code == 401
    changed = shops["admin_A"].request("PATCH", f"/users/{me_id['id']}", json={
        "role": "admin", "version": me_id["version"]})
    assert changed.status_code == 200, changed.text
    ghost = new_email("ghost")
    login_as(anonymous, ghost, "whatever-password", at=address())
    mine = shops["admin_A"].get(f"/admin/audit?user_id={me_id['id']}").json()["items"]
    kinds = [event["kind"] for event in mine]
    assert {"user_created", "login_succeeded", "login_failed", "role_changed"} <= set(kinds), kinds
    role_change = next(e for e in mine if e["kind"] == "role_changed")
    assert role_change["details"]["before"]["role"] == "manager"
    assert role_change["details"]["after"]["role"] == "admin"
    assert role_change["actor_id"] == shops["admin_A"].get("/account").json()["id"]
    everything = shops["admin_A"].get("/admin/audit?limit=200").json()["items"]
    assert {e["company_id"] for e in everything} == {shops["A"]["id"]}
    assert shops["admin_A"].get(f"/admin/audit?company_id={shops['B']['id']}").status_code == 404
    assert shops["manager_A"].get("/admin/audit").status_code == 403
    unknown = admin.get("/admin/audit?kind=login_failed&limit=200").json()["items"]
    assert any(e["email"] == ghost and e["user_id"] is None for e in unknown)


def test_a_lockout_is_audited(shops, anonymous, admin, world):
    me = world.login_for("client", password=PASSWORD, client_id=shops["client_A"]["id"])
    for _ in range(5):
        login_as(anonymous, me.email, "wrong-password", at=address())
    user_id = me.get("/account").json()["id"]
    [lockout] = admin.get(f"/admin/audit?kind=lockout&user_id={user_id}").json()["items"]
    assert lockout["details"]["key"] == "account" and lockout["details"]["seconds"] >= 1


# --- 8. portals in browsers ----------------------------------------------------------------------------

def test_cors_preflight_from_the_allowed_origin_and_from_a_refused_one(platform):
    preflight = {"Access-Control-Request-Method": "POST",
                 "Access-Control-Request-Headers": "authorization, content-type"}
    allowed = requests.options(platform.base_url + "/interventions",
                               headers={"Origin": PORTAL_ORIGIN, **preflight}, timeout=10)
    assert allowed.status_code == 200
    assert allowed.headers["Access-Control-Allow-Origin"] == PORTAL_ORIGIN
    assert "POST" in allowed.headers["Access-Control-Allow-Methods"]
    assert "Access-Control-Allow-Credentials" not in allowed.headers
    refused = requests.options(platform.base_url + "/interventions",
                               headers={"Origin": "https://evil.example.test", **preflight}, timeout=10)
    assert "Access-Control-Allow-Origin" not in refused.headers
    answer = requests.post(platform.base_url + "/auth/token", json={"email": new_email(), "password": "x"},
                           headers={"Origin": PORTAL_ORIGIN, "X-Forwarded-For": address()}, timeout=10)
    assert answer.headers["Access-Control-Allow-Origin"] == PORTAL_ORIGIN
    assert answer.headers["Cache-Control"] == "no-store"
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
