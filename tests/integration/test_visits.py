"""Visits of interventions at a client's and their validation from both
portals (issue 10, seed 001, docs/visits.md), through the gateway, the bus,
PostgreSQL, the shared timers and a real SMTP server: plan (one, a weekly
series, by the worker with a mission order), reschedule, cancel; the
worker declares, the client validates, disputes or cancels, the worker
accepts or refuses, a manager settles; batch validation in the client's
place; the board and its CSV; reminders and tacit validation; the
intervention follows its visits; bad input and stale versions write
nothing; two real concurrent moves → one 200, one 409."""
import csv
import io
import threading
import uuid
from datetime import datetime, timedelta, timezone
from urllib.parse import quote

import pytest

from conftest import ok, rfc, text_of
from fieldwork_common import ics
from fieldwork_common.testing.waiting import wait_until

NOW = datetime.now(timezone.utc).replace(second=0, microsecond=0)


def error(response, status, code=None):
    assert response.status_code == status, response.text
    body = response.json()["error"]
    assert set(body) >= {"code", "message", "details"}
    if code:
        assert body["code"] == code, body
    return body


class Shop:
    """One company with portal validation on, its staff, a worker and a
    client (each with a login), a billable validated contract and both
    reason catalogs."""

    def __init__(self, world, portal_validation=True, **settings):
        self.world = world
        tag = uuid.uuid4().hex[:6]
        self.company = world.company(email=f"gestion-{tag}@example.test", phone="01 02 03 04 05",
                                     portal_validation=portal_validation, **settings)
        self.client = world.client(self.company)
        self.technician = world.technician(self.company)
        self.type = world.intervention_type("at_home")
        self.contract = self.validated_contract(self.client)
        self.admin = world.login_for("admin", company_id=self.company["id"])
        self.manager = world.login_for("manager", company_id=self.company["id"])
        self.worker = world.login_for("technician", technician_id=self.technician["id"])
        self.client_user = world.login_for("client", client_id=self.client["id"])
        self.refusal = self.reason("refusal", "Horaires inexacts")
        self.cancellation = self.reason("cancellation", "Client absent")

    def validated_contract(self, client, billable=True, state="validated"):
        contract = self.world.contract(client, billable=billable)
        if state != "draft":
            contract = ok(self.world.admin.request("PUT", f"/contracts/{contract['id']}/state",
                                                   json={"state": state,
                                                         "version": contract["version"]}))
        return contract

    def reason(self, kind, label):
        return ok(self.admin.post("/visit-reasons", {"kind": kind, "label": label}), 201)

    def intervention(self):
        body = {"client_id": self.client["id"], "equipment_id": self.world.equipment(self.client)["id"],
                "type_id": self.type["id"], "technician_id": self.technician["id"],
                "location": "at_home", "description": "Ménage hebdomadaire"}
        return ok(self.world.admin.post("/interventions", body), 201)

    def plan(self, intervention=None, start=None, hours=2, as_user=None, **body):
        """One visit (past by default: it ended an hour ago)."""
        intervention = intervention or self.intervention()
        start = start or NOW - timedelta(hours=hours + 1)
        [visit] = ok((as_user or self.manager).post(
            f"/interventions/{intervention['id']}/visits",
            {"start_at": rfc(start), "end_at": rfc(start + timedelta(hours=hours)),
             "contract_id": self.contract["id"], **body}), 201)["items"]
        return visit

    def visit(self, visit_id, as_user=None):
        return ok((as_user or self.manager).get(f"/visits/{visit_id}"))

    def declare(self, visit, as_user=None, **body):
        return (as_user or self.worker).post(f"/visits/{visit['id']}/worker-validation",
                                            {"outcome": "done", "version": visit["version"], **body})

    def answer(self, visit, **body):
        return self.client_user.post(f"/visits/{visit['id']}/client-validation",
                                     {"version": visit["version"], **body})

    def done(self, **declared):
        """A visit its worker declared done."""
        return ok(self.declare(self.plan(), **declared))

    def disputed(self, km=8):
        visit = self.done(km=12.5)
        return ok(self.answer(visit, decision="dispute", reason_id=self.refusal["id"], km=km))


@pytest.fixture(scope="module")
def shop(world):
    return Shop(world)


@pytest.fixture(scope="module")
def staff_only(world):
    """A company whose portal validation module is off."""
    return Shop(world, portal_validation=False)


def intervention_state(admin, intervention_id):
    return ok(admin.get(f"/interventions/{intervention_id}"))["state"]


def history(user, visit):
    return ok(user.get(f"/visits/{visit['id']}/history"))["items"]


def email_to(smtp, address, subject_start, containing=""):
    """The latest email to `address` whose subject starts with
    `subject_start` (and whose text contains `containing`), once it came."""
    found = wait_until(lambda: [m for m in smtp.to(address) if str(m["Subject"]).startswith(subject_start)
                                and containing in text_of(m)], 30,
                       message=f"an email '{subject_start}…' to {address}")
    return found[-1]


# --- the worker declares, the client validates -------------------------------------------

def test_the_worker_declares_its_times_and_km_and_the_client_validates(shop, smtp, admin):
    intervention = shop.intervention()
    assert intervention["state"] == "open"
    visit = shop.plan(intervention)
    assert visit["state"] == "planned" and visit["awaiting"] == "worker" and not visit["to_do"]
    start = NOW - timedelta(hours=3, minutes=15)
    declared = ok(shop.declare(visit, start_at=rfc(start), end_at=rfc(start + timedelta(hours=2)),
                               km=12.3, comment="Vitres et sols"))
    # the times given become the planning's; km kept exactly
    assert (declared["state"], declared["km"], declared["comment"]) == ("done", 12.3, "Vitres et sols")
    assert declared["start_at"] == rfc(start) and declared["awaiting"] == "client"
    assert declared["declared_by"] and declared["version"] == visit["version"] + 1
    assert intervention_state(admin, intervention["id"]) == "closed"
    planning = ok(shop.client_user.get(
        f"/planning?from={quote(rfc(NOW - timedelta(days=1)))}&to={quote(rfc(NOW))}"))["items"]
    assert [(p["id"], p["start_at"]) for p in planning if p["id"] == visit["id"]] == \
        [(visit["id"], rfc(start))]
    # the client is emailed: the times in Paris time, the km, the comment
    message = email_to(smtp, shop.client["email"], "Intervention du")
    body = text_of(message)
    assert "12,3 km" in body and "Vitres et sols" in body and intervention["id"][:8].upper() in body

    validated = ok(shop.answer(declared, decision="validate"))
    assert (validated["state"], validated["validation_mode"]) == ("validated", "client")
    assert validated["validated_by"] and validated["validated_at"] and validated["awaiting"] is None
    assert intervention_state(admin, intervention["id"]) == "completed"
    moves = [(h["move"], h["from_state"], h["to_state"], h["author_role"]) for h in history(shop.client_user, visit)]
    assert moves == [("plan", None, "planned", "manager"),
                     ("declare_done", "planned", "done", "technician"),
                     ("client_validate", "done", "validated", "client")]
    declared_row = history(shop.worker, visit)[1]
    assert (declared_row["km"], declared_row["start_at"]) == (12.3, rfc(start))


def test_a_visit_still_to_do_is_not_offered_for_validation(shop):
    visit = shop.plan(start=NOW + timedelta(days=1))
    assert visit["to_do"] and visit["awaiting"] is None
    refused = error(shop.declare(visit), 409, "conflict")
    assert refused["details"]["to_do"] is True
    error(shop.answer(visit, decision="validate"), 409)
    # the client cannot validate a planned visit whose end has passed either
    past = shop.plan()
    assert error(shop.answer(past, decision="validate"), 409)["details"]["allowed_from"] == ["done"]
    assert shop.visit(past["id"])["version"] == past["version"]


def test_the_worker_may_amend_until_the_client_answers(shop):
    visit = shop.done(km=10)
    amended = ok(shop.declare(visit, km=11.5, comment="Oubli du trajet retour"))
    assert amended["km"] == 11.5 and amended["state"] == "done"
    ok(shop.answer(amended, decision="validate"))
    error(shop.declare(shop.visit(visit["id"])), 409)


def test_the_worker_declares_a_visit_cancelled_with_a_reason_and_the_client_is_told(shop, smtp):
    visit = shop.plan()
    cancelled = ok(shop.declare(visit, outcome="cancelled", cancel_reason_id=shop.cancellation["id"]))
    assert cancelled["state"] == "cancelled" and cancelled["reason_id"] == shop.cancellation["id"]
    message = email_to(smtp, shop.client["email"], "Intervention du", containing="Client absent")
    assert "annulée" in str(message["Subject"])


def test_the_worker_adds_a_new_visit_with_a_mission_order_seen_in_both_plannings(shop):
    visit = shop.plan()
    start = NOW + timedelta(days=2)
    answer = ok(shop.declare(visit, comment="Prévoir le produit pour le four",
                             next_visit={"start_at": rfc(start), "end_at": rfc(start + timedelta(hours=1))}))
    added = answer["next_visit"]
    assert added["created_by_worker"] is True and added["mission_order"] == "Prévoir le produit pour le four"
    assert added["technician_id"] == shop.technician["id"] and added["state"] == "planned"
    window = f"from={quote(rfc(NOW + timedelta(days=1)))}&to={quote(rfc(NOW + timedelta(days=3)))}"
    for user in (shop.worker, shop.client_user, shop.manager):
        ids = [item["id"] for item in ok(user.get(f"/planning?{window}"))["items"]]
        assert added["id"] in ids


def test_the_client_cancels_a_done_visit_with_a_cancellation_reason(shop):
    visit = shop.done()
    error(shop.answer(visit, decision="cancel"), 400)
    error(shop.answer(visit, decision="cancel", reason_id=shop.refusal["id"]), 400)
    cancelled = ok(shop.answer(visit, decision="cancel", reason_id=shop.cancellation["id"]))
    assert cancelled["state"] == "cancelled" and cancelled["validation_mode"] is None


# --- disputes ------------------------------------------------------------------------------

def test_a_dispute_keeps_the_planning_until_the_worker_accepts_the_clients_values(shop, smtp, admin):
    visit = shop.done(km=12.5)
    # a dispute needs a refusal reason and a correction
    error(shop.answer(visit, decision="dispute", km=8), 400)
    error(shop.answer(visit, decision="dispute", reason_id=shop.refusal["id"]), 400)
    error(shop.answer(visit, decision="dispute", reason_id=shop.cancellation["id"], km=8), 400)
    corrected_end = NOW - timedelta(hours=1, minutes=30)
    disputed = ok(shop.answer(visit, decision="dispute", reason_id=shop.refusal["id"],
                              end_at=rfc(corrected_end), km=8, comment="Partie plus tôt"))
    assert disputed["state"] == "disputed" and disputed["awaiting"] == "worker"
    # the planning does not change yet
    assert (disputed["km"], disputed["end_at"]) == (12.5, visit["end_at"])
    message = email_to(smtp, shop.technician["email"], "Intervention du")
    assert "contestée" in str(message["Subject"]) and "Horaires inexacts" in text_of(message)
    # the client cannot validate it now; staff cannot batch-validate it
    error(shop.answer(disputed, decision="validate"), 409)
    accepted = ok(shop.worker.post(f"/visits/{visit['id']}/dispute-answer",
                                   {"accept": True, "version": disputed["version"]}))
    assert (accepted["state"], accepted["validation_mode"]) == ("validated", "client")
    assert (accepted["km"], accepted["end_at"]) == (8.0, rfc(corrected_end))
    rows = history(shop.manager, visit)
    assert [r["move"] for r in rows] == ["plan", "declare_done", "client_dispute", "accept_dispute"]
    dispute_row = rows[2]
    assert (dispute_row["km"], dispute_row["end_at"], dispute_row["accepted"], dispute_row["author_role"]) \
        == (8.0, rfc(corrected_end), True, "client")
    assert rows[2]["reason_id"] == shop.refusal["id"] and rows[1]["km"] == 12.5


def test_a_refused_dispute_goes_to_a_manager_who_settles_it_for_both(shop, smtp):
    visit = shop.disputed(km=8)
    refused = ok(shop.worker.post(f"/visits/{visit['id']}/dispute-answer",
                                  {"accept": False, "comment": "Je suis bien resté", "version": visit["version"]}))
    assert refused["state"] == "arbitration" and refused["awaiting"] == "manager"
    assert refused["km"] == 12.5
    message = email_to(smtp, shop.company["email"], "Contestation à arbitrer")
    assert "Je suis bien resté" in text_of(message)
    # never the worker nor the client of the visit
    error(shop.worker.post(f"/visits/{visit['id']}/arbitration",
                           {"decide": "worker", "reason": "x", "version": refused["version"]}), 403)
    error(shop.client_user.post(f"/visits/{visit['id']}/arbitration",
                                {"decide": "client", "reason": "x", "version": refused["version"]}), 403)
    error(shop.manager.post(f"/visits/{visit['id']}/arbitration",
                            {"decide": "custom", "reason": "Badge", "version": refused["version"]}), 400)
    settled = ok(shop.manager.post(f"/visits/{visit['id']}/arbitration",
                                   {"decide": "custom", "km": 10, "reason": "Le badge confirme 10 km",
                                    "version": refused["version"]}))
    assert (settled["state"], settled["validation_mode"], settled["km"]) == ("validated", "arbitrated", 10.0)
    for address in (shop.technician["email"], shop.client["email"]):
        decision = email_to(smtp, address, "Décision sur l'intervention")
        assert "Le badge confirme 10 km" in text_of(decision)
    rows = history(shop.client_user, visit)
    assert [r["move"] for r in rows][-2:] == ["refuse_dispute", "arbitrate"]
    assert rows[-1]["decision"] == "custom" and rows[-1]["comment"] == "Le badge confirme 10 km"
    # the client's correction was turned down: its row says so, its values kept as proposed
    assert (rows[-3]["move"], rows[-3]["accepted"], rows[-3]["km"]) == ("client_dispute", False, 8.0)


def test_a_manager_may_keep_the_workers_or_the_clients_values(shop):
    for decide, km in (("worker", 12.5), ("client", 8.0)):
        visit = shop.disputed(km=8)
        settled = ok(shop.manager.post(f"/visits/{visit['id']}/arbitration",
                                       {"decide": decide, "reason": "Vu", "version": visit["version"]}))
        assert settled["km"] == km and settled["validation_mode"] == "arbitrated"


# --- staff only: portal validation off --------------------------------------------------

def test_with_portal_validation_off_only_staff_validate(staff_only):
    visit = staff_only.plan()
    refused = error(staff_only.declare(visit), 409)
    assert refused["details"]["setting"] == "portal_validation"
    declared = ok(staff_only.declare(visit, as_user=staff_only.manager, km=4))
    assert declared["state"] == "done"
    assert history(staff_only.manager, visit)[-1]["on_behalf_of"] == staff_only.technician["id"]
    refused = error(staff_only.answer(declared, decision="validate"), 409)
    assert refused["details"]["setting"] == "portal_validation"
    result = ok(staff_only.manager.post("/visits/validate-batch", {"visit_ids": [visit["id"]]}))
    [item] = result["items"]
    assert item["validated"] and item["visit"]["validation_mode"] == "on_behalf"
    assert item["visit"]["on_behalf_of"] == staff_only.client["id"]


# --- the board and batch validation -------------------------------------------------------

def test_batch_validation_goes_through_per_id_and_refuses_an_open_dispute(shop):
    done = [shop.done() for _ in range(3)]
    disputed = shop.disputed()
    to_do = shop.plan(start=NOW + timedelta(days=1))
    unknown = str(uuid.uuid4())
    error(shop.worker.post("/visits/validate-batch", {"visit_ids": [done[0]["id"]]}), 403)
    error(shop.client_user.post("/visits/validate-batch", {"visit_ids": [done[0]["id"]]}), 403)
    ids = [d["id"] for d in done] + [disputed["id"], to_do["id"]]
    # an id it cannot see makes the list wrong as a whole: nothing validated
    refused = error(shop.manager.post("/visits/validate-batch", {"visit_ids": ids + [unknown]}), 404)
    assert refused["details"]["visit_ids"] == [unknown]
    assert [shop.visit(d["id"])["state"] for d in done] == ["done"] * 3
    result = ok(shop.manager.post("/visits/validate-batch", {"visit_ids": ids}))
    by_id = {item["id"]: item for item in result["items"]}
    assert [item["id"] for item in result["items"]] == ids
    assert (result["validated"], result["refused"]) == (3, 2)
    for d in done:
        visit = by_id[d["id"]]["visit"]
        assert visit["validation_mode"] == "on_behalf" and visit["on_behalf_of"] == shop.client["id"]
        assert visit["validated_by"]
        assert history(shop.client_user, d)[-1]["on_behalf_of"] == shop.client["id"]
    assert by_id[disputed["id"]]["error"]["details"]["state"] == "disputed"
    assert by_id[to_do["id"]]["error"]["code"] == "conflict"
    assert shop.visit(disputed["id"])["version"] == disputed["version"]


def test_the_board_shows_who_each_visit_waits_for_with_totals_and_a_csv(world):
    shop = Shop(world)
    waiting_worker = shop.plan()
    waiting_client = shop.done()
    waiting_manager = shop.disputed()
    waiting_manager = ok(shop.worker.post(f"/visits/{waiting_manager['id']}/dispute-answer",
                                          {"accept": False, "version": waiting_manager["version"]}))
    shop.plan(start=NOW + timedelta(days=1))          # still to do: waits for nobody
    board = ok(shop.manager.get("/validation-board"))
    rows = {row["id"]: row for row in board["items"]}
    assert set(rows) == {waiting_worker["id"], waiting_client["id"], waiting_manager["id"]}
    assert rows[waiting_worker["id"]]["waiting_for"] == "worker"
    assert rows[waiting_worker["id"]]["waiting_since"] == waiting_worker["end_at"]
    assert rows[waiting_client["id"]]["waiting_for"] == "client"
    assert rows[waiting_manager["id"]]["waiting_for"] == "manager"
    assert board["totals"] == {"worker": 1, "client": 1, "manager": 1, "all": 3}
    only = ok(shop.manager.get("/validation-board?waiting_for=client"))
    assert [r["id"] for r in only["items"]] == [waiting_client["id"]] and only["totals"]["all"] == 1
    page1 = ok(shop.manager.get("/validation-board?limit=2"))
    page2 = ok(shop.manager.get(f"/validation-board?limit=2&after={page1['next_cursor']}"))
    assert len(page1["items"]) == 2 and len(page2["items"]) == 1 and page2["next_cursor"] is None
    response = shop.manager.get("/validation-board.csv")
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("text/csv")
    table = list(csv.DictReader(io.StringIO(response.text)))
    assert {r["id"]: r["waiting_for"] for r in table} == {k: v["waiting_for"] for k, v in rows.items()}
    assert {r["client_name"] for r in table} == {shop.client["name"]}
    error(shop.worker.get("/validation-board"), 403)
    error(shop.client_user.get("/validation-board.csv"), 403)


# --- planning: series, reschedule, cancel --------------------------------------------------

def test_a_weekly_series_makes_one_visit_per_day_each_its_own(shop, anonymous):
    intervention = shop.intervention()
    monday = (NOW + timedelta(days=7 - NOW.weekday())).replace(hour=8, minute=0)
    until = (monday + timedelta(days=20)).date().isoformat()
    planned = ok(shop.manager.post(f"/interventions/{intervention['id']}/visits", {
        "start_at": rfc(monday), "end_at": rfc(monday + timedelta(hours=2)),
        "contract_id": shop.contract["id"], "repeat": {"weekly_on": ["mon", "thu"], "until": until}}),
        201)["items"]
    assert [datetime.fromisoformat(v["start_at"].replace("Z", "+00:00")).weekday() for v in planned] \
        == [0, 3, 0, 3, 0, 3]
    assert len({v["id"] for v in planned}) == 6 and len({v["series_id"] for v in planned}) == 1
    window = f"from={quote(rfc(monday))}&to={quote(rfc(monday + timedelta(days=21)))}"
    for user in (shop.worker, shop.client_user, shop.manager):
        found = [i["id"] for i in ok(user.get(f"/planning?{window}"))["items"]]
        assert found == [v["id"] for v in planned]
    listed = ok(shop.manager.get(f"/visits?intervention_id={intervention['id']}&limit=4"))
    rest = ok(shop.manager.get(f"/visits?intervention_id={intervention['id']}&limit=4"
                               f"&after={listed['next_cursor']}"))
    assert [v["id"] for v in listed["items"] + rest["items"]] == [v["id"] for v in planned]
    # the calendar and the worker's ICS feed carry them
    calendar = ok(shop.worker.get(f"/calendar?{window}"))
    assert [v["visit_id"] for v in calendar["visits"]] == [v["id"] for v in planned]
    feed = ok(shop.worker.post("/calendar/feeds", {"technician_id": shop.technician["id"]}), 201)
    path = "/calendar/feeds/" + feed["url"].split("/calendar/feeds/", 1)[1]
    events = {str(e["UID"]): e for e in ics.parse(anonymous.get(path).content)}
    assert {f"{v['id']}-visit@fieldwork" for v in planned} <= set(events)
    # reschedule one with its version: the others stay
    moved = ok(shop.manager.request("PATCH", f"/visits/{planned[0]['id']}", json={
        "start_at": rfc(monday + timedelta(hours=1)), "end_at": rfc(monday + timedelta(hours=3)),
        "version": planned[0]["version"]}))
    assert moved["start_at"] == rfc(monday + timedelta(hours=1))
    events = {str(e["UID"]): e for e in ics.parse(anonymous.get(path).content)}
    assert int(events[f"{planned[0]['id']}-visit@fieldwork"]["SEQUENCE"]) == moved["version"]
    # stale version: 409, nothing written
    error(shop.manager.request("PATCH", f"/visits/{planned[0]['id']}", json={
        "start_at": rfc(monday), "version": planned[0]["version"]}), 409)
    error(shop.manager.request("PATCH", f"/visits/{planned[0]['id']}", json={"start_at": rfc(monday)}), 428)
    assert shop.visit(planned[0]["id"])["start_at"] == moved["start_at"]
    # cancel one before it happens, with a reason
    error(shop.manager.post(f"/visits/{planned[1]['id']}/cancel", {"version": planned[1]["version"]}), 400)
    cancelled = ok(shop.manager.post(f"/visits/{planned[1]['id']}/cancel", {
        "reason_id": shop.cancellation["id"], "version": planned[1]["version"]}))
    assert cancelled["state"] == "cancelled"
    found = [i["id"] for i in ok(shop.client_user.get(f"/planning?{window}"))["items"]]
    assert planned[1]["id"] not in found and len(found) == 5


def test_staff_reassign_a_visit_to_another_worker_of_the_company(shop, world):
    other = world.technician(shop.company)
    foreign = world.technician(world.company())
    visit = shop.plan(start=NOW + timedelta(days=3))
    error(shop.manager.request("PATCH", f"/visits/{visit['id']}", json={
        "technician_id": foreign["id"], "version": visit["version"]}), 404)
    moved = ok(shop.manager.request("PATCH", f"/visits/{visit['id']}", json={
        "technician_id": other["id"], "version": visit["version"]}))
    assert moved["technician_id"] == other["id"]
    error(shop.worker.get(f"/visits/{visit['id']}"), 404)      # no longer its visit


def test_a_started_visit_cannot_be_cancelled_by_staff(shop):
    visit = shop.plan()
    error(shop.manager.post(f"/visits/{visit['id']}/cancel", {
        "reason_id": shop.cancellation["id"], "version": visit["version"]}), 409)


def test_the_contract_must_be_the_clients_billable_and_validated(shop, world):
    intervention = shop.intervention()
    body = {"start_at": rfc(NOW + timedelta(days=1)), "end_at": rfc(NOW + timedelta(days=1, hours=1))}
    path = f"/interventions/{intervention['id']}/visits"
    draft = shop.validated_contract(shop.client, state="draft")
    assert error(shop.manager.post(path, {**body, "contract_id": draft["id"]}), 409)["details"]["state"] == "draft"
    free = shop.validated_contract(shop.client, billable=False)
    error(shop.manager.post(path, {**body, "contract_id": free["id"]}), 400)
    other_client = world.client(shop.company)
    theirs = shop.validated_contract(other_client)
    error(shop.manager.post(path, {**body, "contract_id": theirs["id"]}), 400)
    foreign = Shop.validated_contract(shop, world.client(world.company()))
    error(shop.manager.post(path, {**body, "contract_id": foreign["id"]}), 404)
    active = shop.validated_contract(shop.client, state="validated")
    active = ok(world.admin.request("PUT", f"/contracts/{active['id']}/state",
                                    json={"state": "active", "version": active["version"]}))
    ok(shop.manager.post(path, {**body, "contract_id": active["id"]}), 201)
    # a workshop job has steps, not visits
    workshop = world.intervention(client=shop.client, technician=shop.technician)
    error(shop.manager.post(f"/interventions/{workshop['id']}/visits",
                            {**body, "contract_id": shop.contract["id"]}), 409)
    assert ok(shop.manager.get(f"/visits?intervention_id={intervention['id']}"))["items"][0]["contract_id"] \
        == active["id"]


# --- bad input writes nothing ---------------------------------------------------------------

@pytest.mark.parametrize("change,status", [
    ({"end_at": rfc(NOW - timedelta(hours=5))}, 400),                 # before the start
    ({"start_at": rfc(NOW - timedelta(hours=30))}, 400),              # longer than 24 h
    ({"km": -1}, 400),
    ({"km": 1001}, 400),                                              # over the company limit
    ({"km": 1.25}, 400),                                              # tenths at most
    ({"km": "douze"}, 400),
    ({"outcome": "finished"}, 400),
    ({"cancel_reason_id": "00000000-0000-4000-8000-000000000000"}, 400),  # with outcome done
    ({"version": 99}, 409),
])
def test_bad_input_on_a_declaration_is_refused_and_writes_nothing(shop, change, status):
    visit = shop.plan()
    before = history(shop.manager, visit)
    error(shop.declare(visit, **change), status)
    after = shop.visit(visit["id"])
    assert (after["state"], after["version"], after["km"]) == ("planned", visit["version"], None)
    assert history(shop.manager, visit) == before


def test_a_reason_of_another_companys_catalog_is_not_found(shop, world):
    other = Shop(world)
    visit = shop.done()
    error(shop.answer(visit, decision="dispute", reason_id=other.refusal["id"], km=3), 404)
    error(shop.answer(visit, decision="cancel", reason_id=other.cancellation["id"]), 404)
    assert shop.visit(visit["id"])["version"] == visit["version"]
    # and a deactivated one can no longer be picked
    reason = shop.reason("refusal", "Ancien motif")
    ok(shop.admin.request("PATCH", f"/visit-reasons/{reason['id']}",
                          json={"active": False, "version": reason["version"]}))
    error(shop.answer(visit, decision="dispute", reason_id=reason["id"], km=3), 400)
    labels = [r["label"] for r in ok(shop.client_user.get("/visit-reasons?kind=refusal&active=true"))["items"]]
    assert "Horaires inexacts" in labels and "Ancien motif" not in labels
    # a client picks from its client's company's catalog only
    assert {r["company_id"] for r in ok(shop.client_user.get("/visit-reasons"))["items"]} == \
        {shop.company["id"]}


def test_a_dispute_over_the_km_limit_or_changing_nothing_is_refused(shop):
    visit = shop.done(km=12.5)
    error(shop.answer(visit, decision="dispute", reason_id=shop.refusal["id"], km=5000), 400)
    error(shop.answer(visit, decision="dispute", reason_id=shop.refusal["id"], km=12.5), 400)
    error(shop.answer(visit, decision="validate", km=3), 400)
    assert shop.visit(visit["id"])["state"] == "done"


def test_planning_bad_times_is_refused(shop):
    intervention = shop.intervention()
    path = f"/interventions/{intervention['id']}/visits"
    start = NOW + timedelta(days=1)
    for end in (start - timedelta(minutes=1), start, start + timedelta(hours=24, minutes=1)):
        error(shop.manager.post(path, {"start_at": rfc(start), "end_at": rfc(end),
                                       "contract_id": shop.contract["id"]}), 400)
    error(shop.manager.post(path, {"start_at": "demain", "end_at": rfc(start),
                                   "contract_id": shop.contract["id"]}), 400)
    error(shop.manager.post(path, {"start_at": rfc(start), "end_at": rfc(start + timedelta(hours=1)),
                                   "contract_id": shop.contract["id"],
                                   "repeat": {"weekly_on": ["someday"], "until": "2027-01-01"}}), 400)
    assert ok(shop.manager.get(f"/visits?intervention_id={intervention['id']}"))["items"] == []


# --- concurrency ---------------------------------------------------------------------------

def test_the_worker_and_the_client_acting_at_once_one_wins_the_other_gets_409(shop):
    for _ in range(3):
        visit = shop.done(km=5)
        barrier = threading.Barrier(2)
        answers = {}

        def worker():
            barrier.wait()
            answers["worker"] = shop.declare(visit, km=6)

        def client():
            barrier.wait()
            answers["client"] = shop.answer(visit, decision="validate")
        threads = [threading.Thread(target=worker), threading.Thread(target=client)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        codes = sorted(r.status_code for r in answers.values())
        assert codes == [200, 409], {k: r.text for k, r in answers.items()}
        final = shop.visit(visit["id"])
        assert final["version"] == visit["version"] + 1
        winner = "worker" if answers["worker"].status_code == 200 else "client"
        assert final["state"] == ("done" if winner == "worker" else "validated")
        assert final["km"] == (6.0 if winner == "worker" else 5.0)


# --- the intervention follows its visits -------------------------------------------------

def test_the_intervention_is_open_closed_completed_and_reopens(shop, admin):
    intervention = shop.intervention()
    first = shop.plan(intervention)
    second = shop.plan(intervention)
    ok(shop.declare(first))
    assert intervention_state(admin, intervention["id"]) == "open"      # the second is still to validate
    second = ok(shop.declare(second, outcome="cancelled"))
    assert intervention_state(admin, intervention["id"]) == "closed"
    ok(shop.answer(shop.visit(first["id"]), decision="validate"))
    current = ok(admin.get(f"/interventions/{intervention['id']}"))
    assert current["state"] == "completed"
    # completed: reopen before planning another visit
    error(shop.manager.post(f"/interventions/{intervention['id']}/visits", {
        "start_at": rfc(NOW + timedelta(days=1)), "end_at": rfc(NOW + timedelta(days=1, hours=1)),
        "contract_id": shop.contract["id"]}), 409)
    reopened = ok(shop.manager.post(f"/interventions/{intervention['id']}/reopen",
                                    {"version": current["version"]}))
    assert reopened["state"] == "open"
    shop.plan(intervention, start=NOW + timedelta(days=1))
    assert intervention_state(admin, intervention["id"]) == "open"
    changes = ok(admin.get(f"/interventions/{intervention['id']}/history"))["items"]
    assert [(c["kind"], c["data"].get("to_state")) for c in changes] == [
        ("created", None), ("visits", "closed"), ("visits", "completed"), ("reopened", "open")]


def test_the_tracking_shows_the_visits(shop, admin, anonymous):
    intervention = shop.intervention()
    visit = shop.plan(intervention)
    ok(shop.declare(visit, km=7.5))
    tracking = ok(shop.client_user.get(f"/interventions/{intervention['id']}/tracking"))
    assert [(v["state"], v["km"]) for v in tracking["visits"]] == [("done", 7.5)]
    assert tracking["state"] == "closed" and tracking["steps"] == []
    # the page the client's link opens: the visit, and no pickup wording
    link = ok(admin.post(f"/interventions/{intervention['id']}/tracking-links"), 201)
    page = anonymous.get("/track/" + link["url"].split("/track/", 1)[1]).text
    assert 'id="visits"' in page and 'data-state="done"' in page and "Réalisée" in page
    assert "Visites réalisées, en attente de validation" in page and "retrait" not in page


# --- deadlines on the shared timers ------------------------------------------------------

def test_reminders_go_to_the_worker_then_the_client_announcing_tacit_validation(world, smtp, timers):
    due_now, status = timers.due_now, timers.status
    shop = Shop(world, tacit_validation=True, validation_reminder_days=2)
    visit = shop.plan()
    end = datetime.fromisoformat(visit["end_at"].replace("Z", "+00:00"))
    assert status("visit.remind_worker", visit["id"]).due_at == end + timedelta(hours=24)
    due_now("visit.remind_worker", visit["id"])
    reminder = email_to(smtp, shop.technician["email"], "Rappel")
    assert visit["intervention_id"][:8].upper() in text_of(reminder)
    declared = ok(shop.declare(visit, km=2))
    # the planned visit's deadlines are gone: the worker's fired, the manager's cancelled
    assert status("visit.remind_worker", visit["id"]).status == "fired"
    assert status("visit.remind_manager", visit["id"]).status == "cancelled"
    at = datetime.fromisoformat(declared["state_since"].replace("Z", "+00:00"))
    assert status("visit.remind_client", visit["id"]).due_at == at + timedelta(days=2)
    assert status("visit.tacit", visit["id"]).due_at == at + timedelta(days=4)
    due_now("visit.remind_client", visit["id"])
    # the client's reminder announces the tacit validation, with its date
    reminder = email_to(smtp, shop.client["email"], "Rappel", containing="considérée comme validée")
    assert "Sans réponse de votre part d'ici le" in text_of(reminder)
    due_now("visit.tacit", visit["id"])
    validated = wait_until(lambda: (v := shop.visit(visit["id"]))["state"] == "validated" and v, 30,
                           message="tacit validation")
    assert validated["validation_mode"] == "tacit"
    assert history(shop.manager, visit)[-1]["move"] == "tacit"


def test_without_tacit_validation_the_manager_is_reminded_and_nothing_validates(world, smtp, timers):
    due_now, status = timers.due_now, timers.status
    shop = Shop(world)
    declared = shop.done()
    assert status("visit.tacit", declared["id"]) is None
    due_now("visit.remind_manager", declared["id"])
    message = email_to(smtp, shop.company["email"], "Rappel")
    assert "non validée par le client" in str(message["Subject"])
    assert shop.visit(declared["id"])["state"] == "done"


def test_a_stale_timer_does_nothing_once_the_visit_moved_on(world, smtp, timers):
    due_now, status = timers.due_now, timers.status
    shop = Shop(world, tacit_validation=True)
    visit = shop.done()
    ok(shop.answer(visit, decision="validate"))
    assert status("visit.tacit", visit["id"]).status == "cancelled"
    # fired all the same (a race with the move): it sees the visit moved on, does nothing
    due_now("visit.tacit", visit["id"], revive=True)
    wait_until(lambda: status("visit.tacit", visit["id"]).status == "fired", 30,
               message="the stale timer fired")
    after = shop.visit(visit["id"])
    assert (after["state"], after["validation_mode"], after["version"]) == \
        ("validated", "client", visit["version"] + 1)
    assert [h["move"] for h in history(shop.manager, visit)][-1] == "client_validate"
