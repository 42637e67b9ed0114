"""Customer requests (issue 12, seed 002, docs/requests.md) through the
gateway, the bus and PostgreSQL: the types a company configures; requests
created by a client (portal), a technician (field) and staff (with the
source), numbered per company and year; who lists and reads what; the
actions that message the end customer (the status follows the latest),
internal notes the client never sees, and the history. Every refusal is a
4xx with the error body and writes nothing."""
import threading
import uuid

import pytest
import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from conftest import ok, refused, text_of
from fieldwork_common.db import engine_url
from fieldwork_common.testing.waiting import wait_until


class Desk:
    """A company's customer service: its admin and a manager, a technician
    and two clients with logins, a site of the first client, two request types."""

    def __init__(self, world):
        self.world = world
        self.company = world.company()
        self.client = world.client(self.company)
        self.other_client = world.client(self.company)
        self.technician = world.technician(self.company)
        self.site = world.site(self.client)
        self.admin = world.login_for("admin", company_id=self.company["id"])
        self.manager = world.login_for("manager", company_id=self.company["id"])
        self.worker = world.login_for("technician", technician_id=self.technician["id"])
        self.client_user = world.login_for("client", client_id=self.client["id"])
        self.other_user = world.login_for("client", client_id=self.other_client["id"])
        self.breakdown = self.type("Panne")
        self.install = self.type("Installation")

    def type(self, label, **fields):
        return ok(self.admin.post("/request-types", {"label": label, **fields}), 201)

    def create(self, as_user=None, **body):
        return (as_user or self.manager).post("/requests", {
            "type_id": self.breakdown["id"], **body})


@pytest.fixture(scope="module")
def desk(world):
    return Desk(world)


@pytest.fixture(scope="module")
def closed_days_ago(isolation):
    """`closed_days_ago(request_id, days)`: moves a request's closing into
    the past, as if those days had gone by."""
    engine = sa.create_engine(engine_url(isolation.database_url("requests")), poolclass=NullPool)

    def age(request_id, days):
        with engine.begin() as conn:
            conn.execute(sa.text("UPDATE requests SET closed_at = closed_at - make_interval(days => :d) "
                                 "WHERE id = :r"), {"d": days, "r": request_id})
    yield age
    engine.dispose()


def rows(service_db, table="requests"):
    return service_db("requests", f"SELECT count(*) FROM {table}")[0][0]


# --- types ------------------------------------------------------------------------------

def test_types_are_configured_per_company_and_read_by_everyone_of_it(world, desk):
    refused(desk.admin.post("/request-types", {"label": "Panne"}), 409, "conflict")
    refused(desk.manager.post("/request-types", {"label": "X"}), 403, "forbidden")
    for user in (desk.manager, desk.worker, desk.client_user):
        labels = [t["label"] for t in ok(user.get("/request-types"))["items"]]
        assert {"Panne", "Installation"} <= set(labels), labels
    # another company's admin sees none of them and cannot change them
    elsewhere = world.login_for("admin", company_id=world.company()["id"])
    assert ok(elsewhere.get("/request-types"))["items"] == []
    refused(elsewhere.request("PATCH", f"/request-types/{desk.install['id']}",
                              json={"label": "Vol", "version": 1}), 404, "not_found")
    changed = ok(desk.admin.request("PATCH", f"/request-types/{desk.install['id']}",
                                    json={"position": 2, "version": desk.install["version"]}))
    assert changed["position"] == 2 and changed["version"] == desk.install["version"] + 1
    desk.install = changed
    refused(desk.admin.request("PATCH", f"/request-types/{desk.install['id']}",
                               json={"label": "Panne", "version": changed["version"]}),
            409, "conflict")


# --- creation ---------------------------------------------------------------------------

def test_a_client_a_technician_and_staff_create_requests_with_their_source(desk):
    mine = ok(desk.create(as_user=desk.client_user, symptom="Plus d'eau chaude",
                          site_id=desk.site["id"]), 201)
    assert (mine["client_id"], mine["source"], mine["status"]) == (desk.client["id"], "portal", "new")
    assert mine["company_id"] == desk.company["id"] and mine["type"]["label"] == "Panne"
    assert mine["number"].startswith("DEM-") and len(mine["number"]) == len("DEM-2026-000001")
    field = ok(desk.create(as_user=desk.worker, client_id=desk.client["id"]), 201)
    assert field["source"] == "field" and field["created_by_technician_id"] == desk.technician["id"]
    phoned = ok(desk.create(client_id=desk.other_client["id"], source="phone",
                            description="Appel du 3"), 201)
    assert phoned["source"] == "phone"
    # numbers follow each other within the company
    numbers = [int(r["number"].rsplit("-", 1)[1]) for r in (mine, field, phoned)]
    assert numbers == sorted(numbers) and len(set(numbers)) == 3


def test_bad_requests_are_refused_and_write_nothing(world, desk, service_db):
    before = rows(service_db)
    foreign_company = world.company()
    foreign_client = world.client(foreign_company)
    foreign_admin = world.login_for("admin", company_id=foreign_company["id"])
    foreign_type = ok(foreign_admin.post("/request-types", {"label": "Panne"}), 201)
    cases = [
        (desk.create(source="phone"), 400, "invalid_input"),                  # no client
        (desk.create(client_id=desk.client["id"]), 400, "invalid_input"),     # staff: no source
        (desk.create(client_id=desk.client["id"], source="portal"), 400, "invalid_input"),
        (desk.create(as_user=desk.client_user, source="phone"), 400, "invalid_input"),
        (desk.create(client_id=foreign_client["id"], source="phone"), 404, "not_found"),
        (desk.create(client_id=desk.client["id"], source="phone",
                     type_id=foreign_type["id"]), 404, "not_found"),
        (desk.create(client_id=desk.client["id"], source="phone",
                     type_id=str(uuid.uuid4())), 404, "not_found"),
        (desk.create(client_id=desk.other_client["id"], source="phone",
                     site_id=desk.site["id"]), 400, "invalid_input"),          # not its site
        (desk.create(as_user=desk.client_user, client_id=desk.other_client["id"]), 404, "not_found"),
        (desk.create(client_id=desk.client["id"], source="fax"), 400, "invalid_input"),
        (desk.manager.post("/requests", {"client_id": desk.client["id"], "source": "phone"}),
         400, "invalid_input"),                                                 # no type
    ]
    for response, status, code in cases:
        refused(response, status, code)
    retired = desk.type(f"Ancien {uuid.uuid4().hex[:4]}")
    ok(desk.admin.request("PATCH", f"/request-types/{retired['id']}",
                          json={"active": False, "version": retired["version"]}))
    refused(desk.create(client_id=desk.client["id"], source="phone", type_id=retired["id"]),
            400, "invalid_input")
    assert rows(service_db) == before


def test_concurrent_creations_get_distinct_numbers(desk):
    answers = []
    barrier = threading.Barrier(6)

    def create():
        barrier.wait()
        answers.append(desk.create(client_id=desk.client["id"], source="email"))

    threads = [threading.Thread(target=create) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [a.status_code for a in answers] == [201] * 6, [a.text for a in answers]
    assert len({a.json()["number"] for a in answers}) == 6


# --- who sees what ----------------------------------------------------------------------

def test_each_role_lists_what_it_may_see_with_filters_and_pages(world, desk):
    by_client = ok(desk.create(as_user=desk.client_user), 201)
    by_worker = ok(desk.create(as_user=desk.worker, client_id=desk.other_client["id"]), 201)
    by_staff = ok(desk.create(client_id=desk.other_client["id"], source="other",
                              type_id=desk.install["id"]), 201)
    staff_ids = {r["id"] for r in ok(desk.manager.get("/requests?limit=200"))["items"]}
    assert {by_client["id"], by_worker["id"], by_staff["id"]} <= staff_ids
    mine = {r["id"] for r in ok(desk.client_user.get("/requests?limit=200"))["items"]}
    assert by_client["id"] in mine and not mine & {by_worker["id"], by_staff["id"]}
    worker = {r["id"] for r in ok(desk.worker.get("/requests?limit=200"))["items"]}
    assert by_worker["id"] in worker and not worker & {by_client["id"], by_staff["id"]}
    # reading one: the others' answer 404
    refused(desk.other_user.get(f"/requests/{by_client['id']}"), 404, "not_found")
    refused(desk.worker.get(f"/requests/{by_staff['id']}"), 404, "not_found")
    assert ok(desk.client_user.get(f"/requests/{by_client['id']}"))["id"] == by_client["id"]
    elsewhere = world.login_for("manager", company_id=world.company()["id"])
    refused(elsewhere.get(f"/requests/{by_client['id']}"), 404, "not_found")
    assert ok(elsewhere.get("/requests"))["items"] == []
    # filters
    installs = ok(desk.manager.get(f"/requests?type_id={desk.install['id']}"))["items"]
    assert [r["id"] for r in installs] == [by_staff["id"]]
    fields = ok(desk.manager.get("/requests?source=field&limit=200"))["items"]
    assert fields and all(r["source"] == "field" for r in fields)
    of_other = ok(desk.manager.get(f"/requests?client_id={desk.other_client['id']}&limit=200"))
    assert {by_worker["id"], by_staff["id"]} <= {r["id"] for r in of_other["items"]}
    assert all(r["client_id"] == desk.other_client["id"] for r in of_other["items"])
    # pages: two at a time, newest first, no repeats
    seen, after = [], None
    while True:
        page = ok(desk.manager.get("/requests?limit=2" + (f"&after={after}" if after else "")))
        seen += [r["id"] for r in page["items"]]
        after = page["next_cursor"]
        if after is None:
            break
    assert len(seen) == len(set(seen)) >= 6
    refused(desk.manager.get("/requests?status=lost"), 400, "invalid_input")


# --- actions, notes, history ------------------------------------------------------------

def test_actions_move_the_status_notes_stay_internal_and_the_history_keeps_all(desk, service_db):
    request = ok(desk.create(as_user=desk.client_user, symptom="Fuite"), 201)
    path = f"/requests/{request['id']}"
    answered = ok(desk.manager.post(path + "/actions", {
        "status": "in_progress", "message": "Nous regardons votre demande.", "channel": "email"}), 201)
    assert answered["status"] == "in_progress" and answered["action"]["message"].startswith("Nous")
    ok(desk.manager.post(path + "/notes", {"message": "Client déjà appelé deux fois"}), 201)
    planned = ok(desk.manager.post(path + "/actions", {
        "status": "planned", "message": "Un technicien passera jeudi.",
        "version": answered["version"]}), 201)
    assert planned["status"] == "planned"
    # a stale version, a client or a technician acting, a status that does not exist
    refused(desk.manager.post(path + "/actions", {"status": "closed", "message": "x",
                                                  "version": answered["version"]}), 409, "conflict")
    refused(desk.client_user.post(path + "/actions", {"status": "closed", "message": "x"}),
            403, "forbidden")
    refused(desk.client_user.post(path + "/notes", {"message": "x"}), 403, "forbidden")
    refused(desk.manager.post(path + "/actions", {"status": "done", "message": "x"}),
            400, "invalid_input")
    # the client reads the messages, never the note; staff read all three
    client_view = ok(desk.client_user.get(path + "/actions"))["items"]
    assert [a["status"] for a in client_view] == ["in_progress", "planned"]
    staff_view = ok(desk.manager.get(path + "/actions"))["items"]
    assert [a["internal"] for a in staff_view] == [False, True, False]
    closed = ok(desk.manager.post(path + "/actions", {"status": "closed",
                                                      "message": "Réparé, merci."}), 201)
    assert closed["status"] == "closed" and closed["closed_at"]
    refused(desk.manager.post(path + "/actions", {"status": "in_progress", "message": "x"}),
            409, "request_closed")
    assert ok(desk.client_user.get(path))["status"] == "closed"
    history = ok(desk.manager.get(path + "/history"))["items"]
    assert [h["kind"] for h in history] == ["created", "action", "note", "action", "action"]
    assert history[1]["details"]["previous_status"] == "new"
    assert [h["kind"] for h in ok(desk.client_user.get(path + "/history"))["items"]] == [
        "created", "action", "action", "action"]
    assert service_db("requests", "SELECT count(*) FROM request_actions WHERE request_id = :r",
                      r=request["id"])[0][0] == 4


# --- changes, cancelling, reopening, settings -------------------------------------------

def test_staff_change_the_fields_each_change_in_the_history(world, desk, service_db):
    request = ok(desk.create(as_user=desk.client_user, symptom="Bruit"), 201)
    path = f"/requests/{request['id']}"
    changed = ok(desk.manager.request("PATCH", path, json={
        "type_id": desk.install["id"], "symptom": "Bruit métallique", "site_id": desk.site["id"],
        "version": request["version"]}))
    assert (changed["type_id"], changed["symptom"], changed["site_id"]) == (
        desk.install["id"], "Bruit métallique", desk.site["id"])
    [entry] = [h for h in ok(desk.manager.get(path + "/history"))["items"] if h["kind"] == "changed"]
    assert entry["details"]["changes"]["symptom"] == {"from": "Bruit", "to": "Bruit métallique"}
    assert set(entry["details"]["changes"]) == {"type_id", "symptom", "site_id"}
    before = service_db("requests", "SELECT version FROM requests WHERE id = :r", r=request["id"])
    foreign_admin = world.login_for("admin", company_id=world.company()["id"])
    foreign_type = ok(foreign_admin.post("/request-types", {"label": "Autre"}), 201)
    for body, status, code in (
            ({"symptom": "x", "version": request["version"]}, 409, "conflict"),    # stale
            ({"symptom": "x"}, 428, "precondition_required"),
            ({"type_id": foreign_type["id"], "version": changed["version"]}, 404, "not_found"),
            ({"type_id": None, "version": changed["version"]}, 400, "invalid_input"),
            ({"number": "DEM-1", "version": changed["version"]}, 400, "invalid_input")):
        refused(desk.manager.request("PATCH", path, json=body), status, code)
    refused(desk.client_user.request("PATCH", path, json={"symptom": "x", "version": 2}),
            403, "forbidden")
    assert service_db("requests", "SELECT version FROM requests WHERE id = :r",
                      r=request["id"]) == before


def test_the_client_cancels_only_before_anything_happened_staff_with_a_reason(desk):
    early = ok(desk.create(as_user=desk.client_user), 201)
    cancelled = ok(desk.client_user.post(f"/requests/{early['id']}/cancel", {}))
    assert cancelled["status"] == "cancelled" and cancelled["closed_at"]
    refused(desk.client_user.post(f"/requests/{early['id']}/cancel", {}), 409, "request_closed")
    handled = ok(desk.create(as_user=desk.client_user), 201)
    ok(desk.manager.post(f"/requests/{handled['id']}/actions",
                         {"status": "in_progress", "message": "Pris en charge"}), 201)
    refused(desk.client_user.post(f"/requests/{handled['id']}/cancel", {}), 409, "cancel_too_late")
    refused(desk.manager.post(f"/requests/{handled['id']}/cancel", {}), 400, "invalid_input")
    refused(desk.worker.post(f"/requests/{handled['id']}/cancel", {"reason": "x"}), 403, "forbidden")
    assert ok(desk.manager.post(f"/requests/{handled['id']}/cancel",
                                {"reason": "Doublon de DEM"}))["status"] == "cancelled"
    kinds = [h["kind"] for h in ok(desk.manager.get(f"/requests/{handled['id']}/history"))["items"]]
    assert kinds == ["created", "action", "cancelled"]


def test_reopening_within_the_company_s_days_with_a_reason(desk, closed_days_ago):
    request = ok(desk.create(as_user=desk.client_user), 201)
    path = f"/requests/{request['id']}"
    refused(desk.client_user.post(path + "/reopen", {"reason": "x"}), 409, "request_open")
    ok(desk.manager.post(path + "/actions", {"status": "closed", "message": "Réglé"}), 201)
    refused(desk.client_user.post(path + "/reopen", {}), 400, "invalid_input")
    reopened = ok(desk.client_user.post(path + "/reopen", {"reason": "Cela recommence"}))
    assert reopened["status"] == "in_progress" and reopened["closed_at"] is None
    ok(desk.manager.post(path + "/actions", {"status": "closed", "message": "Réglé encore"}), 201)
    # the company allows 3 days; the request was closed 4 days ago
    settings = ok(desk.manager.get("/request-settings"))
    assert settings["reopen_days"] == 30 and settings["version"] == 0
    ok(desk.admin.request("PUT", "/request-settings", json={"values": {"reopen_days": 3},
                                                           "version": 0}))
    refused(desk.admin.request("PUT", "/request-settings", json={"values": {"reopen_days": 5},
                                                                "version": 0}), 409, "conflict")
    refused(desk.admin.request("PUT", "/request-settings", json={"values": {"reopen_days": -1}}),
            400, "invalid_input")
    refused(desk.manager.request("PUT", "/request-settings", json={"values": {"reopen_days": 9}}),
            403, "forbidden")
    closed_days_ago(request["id"], 4)
    refused(desk.client_user.post(path + "/reopen", {"reason": "Encore"}), 409, "reopen_window_passed")
    refused(desk.worker.post(path + "/reopen", {"reason": "Encore"}), 403, "forbidden")
    kinds = [h["kind"] for h in ok(desk.manager.get(path + "/history"))["items"]]
    assert kinds == ["created", "action", "reopened", "action"]


# --- equipment, documents, interventions ------------------------------------------------

def test_equipment_lines_existing_or_new_with_their_symptom(world, desk, service_db):
    request = ok(desk.create(as_user=desk.client_user, symptom="Ne démarre plus"), 201)
    path = f"/requests/{request['id']}/equipment"
    own = world.equipment(desk.client)
    line = ok(desk.client_user.post(path, {"equipment_id": own["id"], "symptom": "Voyant rouge"}), 201)
    refused(desk.client_user.post(path, {"equipment_id": own["id"]}), 409, "conflict")
    # another client's equipment (same company, another company), nothing or both
    refused(desk.manager.post(path, {"equipment_id": world.equipment(desk.other_client)["id"]}),
            400, "invalid_input")
    refused(desk.manager.post(path, {"equipment_id": world.equipment(
        world.client(world.company()))["id"]}), 404, "not_found")
    refused(desk.manager.post(path, {}), 400, "invalid_input")
    # a new equipment: created by the interventions service, for those it lets (admins)
    new = ok(desk.admin.post(path, {"equipment": {"kind": "boiler", "brand": "Saunier",
                                                  "serial_number": "SD-1"}}), 201)
    assert ok(desk.admin.get(f"/equipment/{new['equipment_id']}"))["client_id"] == desk.client["id"]
    refused(desk.client_user.post(path, {"equipment": {"kind": "boiler"}}), 403, "forbidden")
    symptom = ok(desk.manager.request("PATCH", f"{path}/{line['id']}", json={"symptom": "Bip"}))
    assert symptom["symptom"] == "Bip"
    ok(desk.manager.request("DELETE", f"{path}/{new['id']}"))
    refused(desk.manager.request("DELETE", f"{path}/{new['id']}"), 404, "not_found")
    listed = ok(desk.client_user.get(path))["items"]
    assert [(x["equipment_id"], x["symptom"]) for x in listed] == [(own["id"], "Bip")]
    kinds = [h["kind"] for h in ok(desk.manager.get(f"/requests/{request['id']}/history"))["items"]]
    assert kinds == ["created", "equipment_added", "equipment_added", "equipment_symptom",
                     "equipment_removed"]
    # another client of the company never sees the lines
    refused(desk.other_user.get(path), 404, "not_found")


def test_documents_staff_choose_what_the_client_sees(world, desk):
    request = ok(desk.create(as_user=desk.client_user), 201)
    path = f"/requests/{request['id']}/documents"
    internal = world.file(as_user=desk.manager, company_id=desk.company["id"])
    shared = world.file(as_user=desk.manager, company_id=desk.company["id"])
    mine = world.file(as_user=desk.client_user)
    ok(desk.manager.post(path, {"file_id": internal["id"]}), 201)
    ok(desk.manager.post(path, {"file_id": shared["id"], "visible_to_client": True}), 201)
    assert ok(desk.client_user.post(path, {"file_id": mine["id"], "visible_to_client": False}),
              201)["visible_to_client"] is True
    refused(desk.manager.post(path, {"file_id": shared["id"]}), 409, "conflict")
    foreign = world.file(company_id=world.company()["id"])
    refused(desk.manager.post(path, {"file_id": foreign["id"]}), 404, "not_found")
    assert {d["file_id"] for d in ok(desk.client_user.get(path))["items"]} == {shared["id"],
                                                                            mine["id"]}
    assert len(ok(desk.manager.get(path))["items"]) == 3
    client_history = ok(desk.client_user.get(f"/requests/{request['id']}/history"))["items"]
    assert [h["details"].get("file_id") for h in client_history if h["kind"] == "document_added"] \
        == [shared["id"], mine["id"]]


def test_an_intervention_from_a_request_carries_its_equipment_and_its_state_follows(world, desk):
    request = ok(desk.create(as_user=desk.client_user, symptom="Écran noir"), 201)
    path = f"/requests/{request['id']}"
    refused(desk.admin.post(path + "/interventions", {
        "type_id": world.intervention_type("workshop")["id"], "location": "workshop",
        "technician_id": desk.technician["id"]}), 400, "invalid_input")       # no equipment yet
    laptop = world.equipment(desk.client)
    ok(desk.client_user.post(path + "/equipment", {"equipment_id": laptop["id"],
                                                   "symptom": "Après une chute"}), 201)
    workshop = world.intervention_type("workshop")
    refused(desk.manager.post(path + "/interventions", {"type_id": workshop["id"],
                                                        "location": "workshop"}), 403, "forbidden")
    made = ok(desk.admin.post(path + "/interventions", {
        "type_id": workshop["id"], "location": "workshop",
        "technician_id": desk.technician["id"]}), 201)
    assert (made["equipment_id"], made["client_id"]) == (laptop["id"], desk.client["id"])
    assert "Écran noir" in made["description"] and "Après une chute" in made["description"]
    [link] = ok(desk.client_user.get(path + "/interventions"))["items"]
    assert (link["intervention_id"], link["state"], link["step"]) == (made["id"], "open", "picked_up")
    # the technician of the intervention now sees the request
    assert ok(desk.worker.get(path))["id"] == request["id"]
    # closing waits for the intervention
    body = refused(desk.manager.post(path + "/actions", {"status": "closed", "message": "Fini"}),
                   409, "open_children")
    assert body["details"]["interventions"] == [made["id"]]
    # the workshop moves it: the request sees its state change
    world.walk_to(made, "awaiting_pickup", pickup_at="2030-12-02T10:30:00+01:00")
    wait_until(lambda: ok(desk.manager.get(path + "/interventions"))["items"][0]["state"] == "closed",
               message="the request follows its intervention")
    [link] = ok(desk.manager.get(path + "/interventions"))["items"]
    assert link["step"] == "awaiting_pickup"
    events = [h for h in ok(desk.client_user.get(path + "/history"))["items"]
              if h["kind"] == "intervention_event"]
    assert events[-1]["details"]["state"] == "closed"
    closed = ok(desk.manager.post(path + "/actions", {"status": "closed", "message": "Prêt"}), 201)
    assert closed["status"] == "closed"
    refused(desk.admin.post(path + "/interventions", {"type_id": workshop["id"],
                                                      "location": "workshop"}), 409, "request_closed")


def test_an_equipment_return_through_its_life_and_a_workshop_intervention_from_it(world, desk):
    request = ok(desk.create(as_user=desk.client_user, symptom="Chaudière en panne"), 201)
    path = f"/requests/{request['id']}"
    boiler = world.equipment(desk.client)
    refused(desk.manager.post(path + "/equipment-returns", {
        "equipment_id": boiler["id"], "destination": "supplier"}), 400, "invalid_input")
    refused(desk.manager.post(path + "/equipment-returns", {
        "equipment_id": world.equipment(desk.other_client)["id"], "destination": "workshop"}),
        400, "invalid_input")
    refused(desk.client_user.post(path + "/equipment-returns", {
        "equipment_id": boiler["id"], "destination": "workshop"}), 403, "forbidden")
    returned = ok(desk.manager.post(path + "/equipment-returns", {
        "equipment_id": boiler["id"], "destination": "workshop", "note": "Carte à tester"}), 201)
    assert returned["state"] == "requested"
    back = f"/equipment-returns/{returned['id']}"
    refused(desk.admin.post(back + "/interventions", {
        "type_id": world.intervention_type("workshop")["id"],
        "technician_id": desk.technician["id"]}), 409, "return_not_ready")
    refused(desk.manager.post(back + "/state", {"state": "sent_back"}), 409, "invalid_transition")
    received = ok(desk.manager.post(back + "/state", {"state": "received"}))
    made = ok(desk.admin.post(back + "/interventions", {
        "type_id": world.intervention_type("workshop")["id"],
        "technician_id": desk.technician["id"]}), 201)
    assert made["location"] == "workshop" and made["equipment_id"] == boiler["id"]
    assert ok(desk.client_user.get(back))["intervention_id"] == made["id"]
    links = ok(desk.manager.get(path + "/interventions"))["items"]
    assert [x["intervention_id"] for x in links] == [made["id"]]
    # the request waits for both the return and the intervention
    body = refused(desk.manager.post(path + "/cancel", {"reason": "x"}), 409, "open_children")
    assert body["details"]["equipment_returns"] == [returned["id"]]
    assert body["details"]["interventions"] == [made["id"]]
    refused(desk.manager.post(back + "/state", {"state": "sent_back",
                                                "version": received["version"]}), 409, "conflict")
    for state in ("sent_back", "closed"):
        ok(desk.manager.post(back + "/state", {"state": state}))
    world.walk_to(made, "delivered")
    wait_until(lambda: ok(desk.manager.get(path + "/interventions"))["items"][0]["state"]
               != "open", message="the request follows its intervention")
    ok(desk.manager.post(path + "/actions", {"status": "closed", "message": "Réparée"}), 201)
    assert [r["state"] for r in ok(desk.client_user.get(path + "/equipment-returns"))["items"]] \
        == ["closed"]
    refused(desk.other_user.get(back), 404, "not_found")
    # never received: closed at once, with a note
    other = ok(desk.create(client_id=desk.client["id"], source="phone"), 201)
    spare = ok(desk.manager.post(f"/requests/{other['id']}/equipment-returns", {
        "equipment_id": boiler["id"], "destination": "supplier", "supplier": "Saunier"}), 201)
    refused(desk.manager.post(f"/equipment-returns/{spare['id']}/state", {"state": "closed"}),
            400, "invalid_input")
    assert ok(desk.manager.post(f"/equipment-returns/{spare['id']}/state", {
        "state": "closed", "note": "Réparé sur place"}))["state"] == "closed"


def test_the_client_is_emailed_the_acknowledgement_and_each_message(world, desk, smtp):
    client = world.client(desk.company, locale="en")
    user = world.login_for("client", client_id=client["id"])
    request = ok(user.post("/requests", {"type_id": desk.breakdown["id"], "symptom": "No heat"}), 201)
    ok(desk.manager.post(f"/requests/{request['id']}/notes", {"message": "Secret interne"}), 201)
    ok(desk.manager.post(f"/requests/{request['id']}/actions", {
        "status": "planned", "message": "A technician comes on Thursday."}), 201)

    def both():
        subjects = {m["Subject"]: m for m in smtp.to(client["email"])}
        return subjects if len(subjects) >= 2 else None
    subjects = wait_until(both, timeout=30, message="the two emails of the request")
    assert f"Your request {request['number']} has been received" in subjects
    [action] = [m for s, m in subjects.items() if s != f"Your request {request['number']} has been received"]
    body = text_of(action)
    assert "A technician comes on Thursday." in body and "Planned" in body
    assert all("Secret interne" not in text_of(m) for m in smtp.to(client["email"]))


def test_equipment_lines_given_at_creation_and_the_linked_interventions_in_the_list(world, desk,
                                                                                    service_db):
    laptop, phone = world.equipment(desk.client), world.equipment(desk.client)
    request = ok(desk.create(as_user=desk.client_user, symptom="Rien ne marche", equipment=[
        {"equipment_id": laptop["id"], "symptom": "Écran noir"},
        {"equipment_id": phone["id"]}]), 201)
    assert request["version"] == 1 and request["intervention_ids"] == []
    lines = ok(desk.client_user.get(f"/requests/{request['id']}/equipment"))["items"]
    assert [(x["equipment_id"], x["symptom"]) for x in lines] == [(laptop["id"], "Écran noir"),
                                                                 (phone["id"], None)]
    # one bad line and nothing is written
    before = rows(service_db)
    foreign = world.equipment(world.client(world.company()))
    refused(desk.create(as_user=desk.client_user, equipment=[
        {"equipment_id": laptop["id"]}, {"equipment_id": foreign["id"]}]), 404, "not_found")
    refused(desk.create(as_user=desk.client_user, equipment=[
        {"equipment_id": laptop["id"]}, {"equipment_id": laptop["id"]}]), 409, "conflict")
    refused(desk.create(as_user=desk.client_user, equipment=[{"symptom": "x"}]),
            400, "invalid_input")
    assert rows(service_db) == before
    made = ok(desk.admin.post(f"/requests/{request['id']}/interventions", {
        "type_id": world.intervention_type("workshop")["id"], "location": "workshop",
        "technician_id": desk.technician["id"], "equipment_id": phone["id"]}), 201)
    assert made["equipment_id"] == phone["id"]
    [listed] = [r for r in ok(desk.manager.get("/requests?limit=200"))["items"]
                if r["id"] == request["id"]]
    assert listed["intervention_ids"] == [made["id"]]
    assert ok(desk.client_user.get(f"/requests/{request['id']}"))["intervention_ids"] == [made["id"]]


@pytest.fixture(scope="module")
def request_timers(isolation):
    """The requests service's timers: `due_now(key)` makes its pending
    auto-close timer due now, as if the company's days had gone by;
    `row(key)` is (status, due_at), None when there is none."""
    engine = sa.create_engine(engine_url(isolation.database_url("requests")), poolclass=NullPool)

    class Timers:
        @staticmethod
        def due_now(key):
            with engine.begin() as conn:
                changed = conn.execute(sa.text(
                    "UPDATE timers SET due_at = now(), next_attempt_at = now() "
                    "WHERE kind = 'request.auto_close' AND key = :key AND status = 'pending'"),
                    {"key": key}).rowcount
            assert changed == 1, key

        @staticmethod
        def row(key):
            with engine.connect() as conn:
                return conn.execute(sa.text(
                    "SELECT status, due_at FROM timers WHERE kind = 'request.auto_close' "
                    "AND key = :key"), {"key": key}).first()
    yield Timers()
    engine.dispose()


def test_a_request_left_without_news_closes_itself_when_the_company_turns_it_on(
        world, request_timers, smtp):
    company = world.company()
    client = world.client(company, locale="en")
    admin = world.login_for("admin", company_id=company["id"])
    manager = world.login_for("manager", company_id=company["id"])
    customer = world.login_for("client", client_id=client["id"])
    kind = ok(admin.post("/request-types", {"label": "Panne"}), 201)
    # off by default: an answer sets no timer
    quiet = ok(customer.post("/requests", {"type_id": kind["id"]}), 201)
    ok(manager.post(f"/requests/{quiet['id']}/actions", {"status": "in_progress",
                                                         "message": "Vos photos ?"}), 201)
    assert request_timers.row(quiet["id"]) is None
    settings = ok(admin.request("PUT", "/request-settings", json={"values": {"auto_close_days": 7}}))
    assert settings["auto_close_days"] == 7
    # answered, then nothing for 7 days: closed by itself, and the client told
    left = ok(customer.post("/requests", {"type_id": kind["id"]}), 201)
    ok(manager.post(f"/requests/{left['id']}/actions", {"status": "in_progress",
                                                        "message": "Send us a photo?"}), 201)
    status, due_at = request_timers.row(left["id"])
    assert status == "pending"
    request_timers.due_now(left["id"])
    closed = wait_until(lambda: (lambda r: r if r["status"] == "closed" else None)(
        ok(customer.get(f"/requests/{left['id']}"))), timeout=30, message="the automatic closing")
    assert closed["closed_at"]
    history = ok(customer.get(f"/requests/{left['id']}/history"))["items"]
    assert history[-1]["kind"] == "auto_closed" and history[-1]["details"]["days"] == 7
    wait_until(lambda: any(m["Subject"] == f"Your request {left['number']} is closed"
                           for m in smtp.to(client["email"])), timeout=30,
               message="the automatic closing's email")
    # something happened since the answer: the timer does nothing
    busy = ok(customer.post("/requests", {"type_id": kind["id"]}), 201)
    ok(manager.post(f"/requests/{busy['id']}/actions", {"status": "in_progress",
                                                        "message": "On regarde"}), 201)
    ok(manager.post(f"/requests/{busy['id']}/notes", {"message": "Rappeler lundi"}), 201)
    ok(manager.request("PATCH", f"/requests/{busy['id']}", json={
        "symptom": "Précisé au téléphone", "version": 2}))
    request_timers.due_now(busy["id"])
    wait_until(lambda: request_timers.row(busy["id"])[0] == "fired", timeout=30,
               message="the timer fired")
    assert ok(customer.get(f"/requests/{busy['id']}"))["status"] == "in_progress"


def test_the_closing_of_the_last_open_intervention_sets_the_automatic_closing(world, request_timers):
    company = world.company()
    client, technician = world.client(company), world.technician(company)
    admin = world.login_for("admin", company_id=company["id"])
    ok(admin.request("PUT", "/request-settings", json={"values": {"auto_close_days": 5}}))
    kind = ok(admin.post("/request-types", {"label": "Panne"}), 201)
    request = ok(admin.post("/requests", {"type_id": kind["id"], "client_id": client["id"],
                                          "source": "phone", "equipment": [
                                              {"equipment_id": world.equipment(client)["id"]}]}), 201)
    path = f"/requests/{request['id']}"
    made = ok(admin.post(path + "/interventions", {
        "type_id": world.intervention_type("workshop")["id"], "location": "workshop",
        "technician_id": technician["id"]}), 201)
    ok(admin.post(path + "/actions", {"status": "planned", "message": "Au garage jeudi"}), 201)
    request_timers.due_now(request["id"])        # fires while the intervention is open
    wait_until(lambda: request_timers.row(request["id"])[0] == "fired", timeout=30,
               message="the timer fired")
    assert ok(admin.get(path))["status"] == "planned"
    world.walk_to(made, "awaiting_pickup", pickup_at="2030-12-02T10:30:00+01:00")
    wait_until(lambda: (request_timers.row(request["id"]) or ("",))[0] == "pending", timeout=30,
               message="a new automatic closing once the work is done")
    request_timers.due_now(request["id"])
    wait_until(lambda: ok(admin.get(path))["status"] == "closed", timeout=30,
               message="the automatic closing")
