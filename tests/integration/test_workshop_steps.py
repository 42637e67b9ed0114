"""The five workshop steps (seed 000), statuses, reassignment, reopening and
history, through the gateway and the bus: every accepted move, every refused
one (409 naming the allowed moves), the fields a move may carry (400
elsewhere), who may do it (403/404), and the events each change publishes,
read from RabbitMQ with a plain AMQP consumer."""
import socket
import threading
import time
import uuid
from contextlib import contextmanager
from datetime import datetime

import pytest
from kombu import Connection, Consumer, Exchange, Queue

from conftest import created

PATH = ("picked_up", "in_workshop", "final_tests", "awaiting_pickup", "delivered")
ALLOWED = {
    "picked_up": ["in_workshop"],
    "in_workshop": ["final_tests"],
    "final_tests": ["awaiting_pickup", "in_workshop"],
    "awaiting_pickup": ["delivered"],
    "delivered": [],
}
EXCHANGE = Exchange("interventions.events", type="topic", durable=True)


# --- a plain AMQP subscriber to interventions.events --------------------------------

class Events:
    def __init__(self, connection):
        self.connection = connection
        self.received = []

    def on_message(self, body, message):
        self.received.append(body)
        message.ack()

    def about(self, aggregate_id):
        return [e for e in self.received if e.get("aggregate_id") == aggregate_id]

    def wait_for(self, event_type, aggregate_id, count=1, timeout=20.0):
        """The `count` events of this type about this object, once they all arrived."""
        deadline = time.monotonic() + timeout
        while True:
            found = [e for e in self.about(aggregate_id) if e["event_type"] == event_type]
            if len(found) >= count:
                return found
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                seen = [e["event_type"] for e in self.about(aggregate_id)]
                raise AssertionError(f"timed out waiting for {count} {event_type} of "
                                     f"{aggregate_id}; got {seen}")
            try:
                self.connection.drain_events(timeout=min(remaining, 1.0))
            except socket.timeout:
                pass


@contextmanager
def events(isolation):
    with Connection(isolation.amqp_uri) as connection:
        queue = Queue(f"workshop-test-{uuid.uuid4().hex}", exchange=EXCHANGE,
                      routing_key="intervention.#", durable=False, exclusive=True, auto_delete=True)
        sub = Events(connection)
        with Consumer(connection.channel(), queues=[queue], callbacks=[sub.on_message],
                      accept=["json"]):
            yield sub


def instant(text):
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def error(response, status):
    assert response.status_code == status, response.text
    return response.json()["error"]


@pytest.fixture()
def shop(world):
    """A company with a client, a technician (and its login) and a workshop
    intervention of theirs."""
    company = world.company()
    client = world.client(company)
    technician = world.technician(company)
    intervention = world.intervention(client=client, technician=technician)
    return {"company": company, "client": client, "technician": technician,
            "intervention": intervention,
            "technician_user": world.login_for("technician", technician_id=technician["id"])}


# --- the whole path -------------------------------------------------------------------

def test_the_whole_workshop_path_with_its_events_and_history(world, isolation, shop):
    me = shop["technician_user"]
    intervention = shop["intervention"]
    assert (intervention["step"], intervention["state"], intervention["version"]) == ("picked_up", "open", 1)
    with events(isolation) as bus:
        current = world.move(intervention, "in_workshop", as_user=me).json()
        assert (current["step"], current["state"], current["version"]) == ("in_workshop", "open", 2)

        response = world.move(current, "final_tests", as_user=me, diagnostic="Fan clogged",
                              tests_performed=["boot", "stress 1h"])
        assert response.status_code == 200, response.text
        assert response.headers["ETag"] == '"3"'
        current = response.json()
        assert current["diagnostic"] == "Fan clogged"
        assert current["tests_performed"] == ["boot", "stress 1h"]

        # a failed test: back to the workshop, then the final tests again
        current = world.move(current, "in_workshop", as_user=me).json()
        assert current["step"] == "in_workshop" and current["diagnostic"] == "Fan clogged"
        current = world.move(current, "final_tests", as_user=me, diagnostic="Fan replaced",
                             tests_performed=["boot"]).json()

        response = world.move(current, "awaiting_pickup", as_user=me,
                              pickup_at="2026-12-01T10:00:00+01:00", pickup_kind="delivery")
        assert response.status_code == 200, response.text
        current = response.json()
        assert current["state"] == "closed" and current["closed_at"] is not None
        assert instant(current["pickup_at"]) == instant("2026-12-01T09:00:00Z")
        assert current["pickup_kind"] == "delivery" and current["completed_at"] is None

        current = world.move(current, "delivered", as_user=me).json()
        assert (current["step"], current["state"], current["version"]) == ("delivered", "completed", 7)
        assert current["completed_at"] is not None
        assert instant(current["updated_at"]) == instant(current["completed_at"])

        moved = bus.wait_for("intervention.step_changed", intervention["id"], count=6)
        [closed] = bus.wait_for("intervention.closed", intervention["id"])
        [delivered] = bus.wait_for("intervention.delivered", intervention["id"])

    assert [(e["data"]["from_step"], e["data"]["to_step"], e["data"]["version"]) for e in moved] == [
        ("picked_up", "in_workshop", 2), ("in_workshop", "final_tests", 3),
        ("final_tests", "in_workshop", 4), ("in_workshop", "final_tests", 5),
        ("final_tests", "awaiting_pickup", 6), ("awaiting_pickup", "delivered", 7)]
    last = moved[-1]["data"]
    assert last["state"] == "completed"
    assert {key: last[key] for key in ("id", "company_id", "client_id", "technician_id")} == {
        "id": intervention["id"], "company_id": shop["company"]["id"],
        "client_id": shop["client"]["id"], "technician_id": shop["technician"]["id"]}

    data = closed["data"]
    assert data["reference"] == intervention["id"].replace("-", "")[:8].upper()
    assert data["company"]["id"] == shop["company"]["id"]
    assert set(data["company"]) == {"id", "name", "email", "phone", "address"}
    assert data["client"] == {key: shop["client"][key] for key in ("id", "name", "email", "locale")}
    assert data["technician"] == {key: shop["technician"][key] for key in ("id", "name", "email")}
    assert data["equipment"]["id"] == intervention["equipment_id"]
    assert set(data["equipment"]) == {"id", "kind", "brand", "model", "serial_number"}
    assert data["pickup_at"] == "2026-12-01T09:00:00Z" and data["pickup_kind"] == "delivery"
    assert data["version"] == 6

    data = delivered["data"]
    assert data["company"]["survey_enabled"] is False
    assert data["client"]["id"] == shop["client"]["id"] and data["version"] == 7
    assert instant(data["delivered_at"]) == instant(current["completed_at"])

    history = world.admin.get(f"/interventions/{intervention['id']}/history")
    assert history.status_code == 200, history.text
    items = history.json()["items"]
    assert [item["kind"] for item in items] == ["created"] + ["step"] * 6
    assert [(item["data"]["from"], item["data"]["to"]) for item in items[1:]] == [
        (e["data"]["from_step"], e["data"]["to_step"]) for e in moved]
    assert items[0]["author_role"] == "admin"
    assert {item["author_role"] for item in items[1:]} == {"technician"}
    assert [item["author_id"] for item in items[1:]] == [e["data"]["by"] for e in moved]
    assert items[0]["author_id"] != items[1]["author_id"]
    assert items[2]["data"]["tests_performed"] == ["boot", "stress 1h"]
    assert items[5]["data"]["pickup_kind"] == "delivery"
    assert [instant(item["at"]) for item in items] == sorted(instant(item["at"]) for item in items)


def test_the_events_match_the_asyncapi_document(world, isolation, shop):
    from test_event_contract import Contract  # the document's validators (tests/integration)
    contract = Contract()
    with events(isolation) as bus:
        intervention = world.intervention(client=shop["client"], technician=shop["technician"])
        current = world.walk_to(intervention, "awaiting_pickup")
        current = world.move(current, "delivered").json()
        reopened = world.admin.post(f"/interventions/{intervention['id']}/reopen")
        assert reopened.status_code == 200, reopened.text
        for event_type in ("intervention.created", "intervention.assigned",
                           "intervention.step_changed", "intervention.closed",
                           "intervention.delivered", "intervention.reopened"):
            bus.wait_for(event_type, intervention["id"])
        received = bus.about(intervention["id"])
    for envelope in received:
        assert contract.errors(envelope["event_type"], envelope) == [], envelope["event_type"]


# --- refused moves ----------------------------------------------------------------------

def test_every_move_outside_the_table_is_409_naming_the_allowed_moves(world, shop):
    current = shop["intervention"]
    for position, step in enumerate(PATH):
        if position:
            current = world.walk_to(current, step)
        for target in PATH:
            if target in ALLOWED[step]:
                continue
            refused = error(world.move(current, target), 409)
            assert refused["code"] == "conflict", refused
            assert refused["details"] == {"from": step, "to": target, "allowed": ALLOWED[step]}
    after = world.admin.get(f"/interventions/{current['id']}").json()
    assert (after["step"], after["version"]) == ("delivered", 5)  # refusals changed nothing


def test_an_intervention_outside_the_workshop_has_no_steps(world):
    for location in ("at_home", "on_site"):
        intervention = world.intervention(location=location)
        assert intervention["step"] is None
        refused = error(world.move(intervention, "in_workshop"), 409)
        assert "workshop" in refused["message"] and refused["details"]["location"] == location


def test_an_unknown_step_or_field_is_400(world, shop):
    intervention = shop["intervention"]
    assert error(world.move(intervention, "repaired"), 400)["details"]["fields"]["step"]
    assert error(world.move(intervention, "in_workshop", colour="red"), 400)["details"]["fields"]["colour"]
    missing = world.admin.request("PUT", f"/interventions/{intervention['id']}/step", json={})
    assert error(missing, 400)["details"]["fields"]["step"]


def test_the_diagnostic_goes_with_the_final_tests_only(world, shop):
    intervention = shop["intervention"]
    refused = error(world.move(intervention, "in_workshop", diagnostic="x"), 400)
    assert refused["details"]["fields"] == ["diagnostic"]
    refused = error(world.move(intervention, "in_workshop", tests_performed=["boot"]), 400)
    assert refused["details"]["fields"] == ["tests_performed"]
    current = world.walk_to(intervention, "in_workshop")
    bad = error(world.move(current, "final_tests", tests_performed="boot"), 400)
    assert "tests_performed" in bad["details"]["fields"]
    bad = error(world.move(current, "final_tests", tests_performed=[""]), 400)
    assert "tests_performed" in bad["details"]["fields"]
    current = world.walk_to(current, "final_tests")  # the diagnostic is optional
    assert current["diagnostic"] is None and current["tests_performed"] == []
    refused = error(world.move(current, "awaiting_pickup", diagnostic="late"), 400)
    assert refused["details"]["fields"] == ["diagnostic"]


def test_the_pickup_date_goes_with_awaiting_pickup_only(world, shop):
    intervention = world.walk_to(shop["intervention"], "in_workshop")
    refused = error(world.move(intervention, "final_tests", pickup_at="2026-12-01T10:00:00Z"), 400)
    assert refused["details"]["fields"] == ["pickup_at"]
    refused = error(world.move(intervention, "final_tests", pickup_kind="pickup"), 400)
    assert refused["details"]["fields"] == ["pickup_kind"]
    current = world.walk_to(intervention, "final_tests")
    no_offset = error(world.move(current, "awaiting_pickup", pickup_at="2026-12-01T10:00:00"), 400)
    assert "pickup_at" in no_offset["details"]["fields"]
    not_a_date = error(world.move(current, "awaiting_pickup", pickup_at="tomorrow"), 400)
    assert "pickup_at" in not_a_date["details"]["fields"]
    bad_kind = error(world.move(current, "awaiting_pickup", pickup_kind="drone"), 400)
    assert "pickup_kind" in bad_kind["details"]["fields"]
    closed = world.move(current, "awaiting_pickup", pickup_at="2026-12-01T10:00:00Z").json()
    assert closed["pickup_kind"] == "pickup"  # the default kind of a dated pickup
    delivered = world.move(closed, "delivered", pickup_at="2026-12-02T10:00:00Z")
    assert error(delivered, 400)["details"]["fields"] == ["pickup_at"]


def test_closing_without_a_date_leaves_it_unplanned(world, shop):
    closed = world.walk_to(shop["intervention"], "awaiting_pickup")
    assert (closed["state"], closed["pickup_at"], closed["pickup_kind"]) == ("closed", None, None)


# --- who may move it ----------------------------------------------------------------------

def test_who_may_move_an_intervention(world, shop):
    intervention = shop["intervention"]
    own_client = world.login_for("client", client_id=shop["client"]["id"])
    assert error(world.move(intervention, "in_workshop", as_user=own_client), 403)["code"] == "forbidden"

    other = world.company()
    foreign_manager = world.login_for("manager", company_id=other["id"])
    assert error(world.move(intervention, "in_workshop", as_user=foreign_manager), 404)
    foreign_technician = world.login_for("technician", technician_id=world.technician(other)["id"])
    assert error(world.move(intervention, "in_workshop", as_user=foreign_technician), 404)
    foreign_admin = world.login_for("admin", company_id=other["id"])
    assert error(world.move(intervention, "in_workshop", as_user=foreign_admin), 404)
    assert world.admin.get(f"/interventions/{intervention['id']}").json()["version"] == 1

    manager = world.login_for("manager", company_id=shop["company"]["id"])
    moved = world.move(intervention, "in_workshop", as_user=manager)
    assert moved.status_code == 200, moved.text
    moved = world.move(moved.json(), "final_tests", as_user=shop["technician_user"])
    assert moved.status_code == 200, moved.text
    assert world.move(moved.json(), "awaiting_pickup").status_code == 200


def test_an_unknown_intervention_is_404(world):
    assert error(world.move({"id": str(uuid.uuid4())}, "in_workshop"), 404)
    assert error(world.move({"id": "not-a-uuid"}, "in_workshop"), 404)


def test_a_stale_if_match_is_409_and_a_current_one_passes(world, shop):
    intervention = shop["intervention"]
    path = f"/interventions/{intervention['id']}/step"
    stale = world.admin.request("PUT", path, json={"step": "in_workshop"}, headers={"If-Match": '"7"'})
    assert error(stale, 409)["details"] == {"current_version": 1, "your_version": 7}
    garbage = world.admin.request("PUT", path, json={"step": "in_workshop"}, headers={"If-Match": "x"})
    assert error(garbage, 400)
    current = world.admin.request("PUT", path, json={"step": "in_workshop"}, headers={"If-Match": '"1"'})
    assert current.status_code == 200 and current.json()["version"] == 2


def test_two_concurrent_moves_cannot_both_pass(world, service_db):
    for _ in range(3):
        intervention = world.walk_to(world.intervention(), "in_workshop")
        barrier = threading.Barrier(2)
        answers = []

        def move():
            barrier.wait()
            answers.append(world.move(intervention, "final_tests"))
        threads = [threading.Thread(target=move) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(answer.status_code for answer in answers) == [200, 409], [a.text for a in answers]
        [(steps,)] = service_db(
            "interventions", "SELECT count(*) FROM intervention_history "
            "WHERE intervention_id = :id AND kind = 'step'", id=intervention["id"])
        assert steps == 2  # picked_up → in_workshop, and one of the two


# --- reopening ------------------------------------------------------------------------------

def test_a_closed_or_completed_intervention_is_reopened_back_in_the_workshop(world, isolation, shop):
    intervention = shop["intervention"]
    with events(isolation) as bus:
        closed = world.walk_to(intervention, "awaiting_pickup", pickup_at="2026-12-01T10:00:00Z")
        manager = world.login_for("manager", company_id=shop["company"]["id"])
        response = manager.post(f"/interventions/{intervention['id']}/reopen")
        assert response.status_code == 200, response.text
        reopened = response.json()
        assert (reopened["step"], reopened["state"]) == ("in_workshop", "open")
        assert reopened["closed_at"] is None and reopened["pickup_at"] is None
        assert reopened["pickup_kind"] is None and reopened["version"] == closed["version"] + 1

        completed = world.move(world.walk_to(reopened, "final_tests"), "awaiting_pickup").json()
        completed = world.move(completed, "delivered").json()
        again = world.admin.post(f"/interventions/{intervention['id']}/reopen").json()
        assert (again["step"], again["state"], again["completed_at"]) == ("in_workshop", "open", None)
        first, second = bus.wait_for("intervention.reopened", intervention["id"], count=2)
    assert (first["data"]["from_step"], first["data"]["to_step"], first["data"]["state"]) == (
        "awaiting_pickup", "in_workshop", "open")
    assert second["data"]["from_step"] == "delivered" and second["data"]["version"] == again["version"]
    history = world.admin.get(f"/interventions/{intervention['id']}/history").json()["items"]
    reopenings = [item for item in history if item["kind"] == "reopened"]
    assert [item["data"]["from_state"] for item in reopenings] == ["closed", "completed"]
    assert [item["author_role"] for item in reopenings] == ["manager", "admin"]


def test_only_a_closed_or_completed_intervention_is_reopened_by_staff(world, shop):
    intervention = shop["intervention"]
    path = f"/interventions/{intervention['id']}/reopen"
    refused = error(world.admin.post(path), 409)
    assert refused["details"] == {"state": "open", "reopenable": ["closed", "completed"]}
    world.walk_to(intervention, "awaiting_pickup")
    assert error(shop["technician_user"].post(path), 403)
    own_client = world.login_for("client", client_id=shop["client"]["id"])
    assert error(own_client.post(path), 403)
    foreign_manager = world.login_for("manager", company_id=world.company()["id"])
    assert error(foreign_manager.post(path), 404)
    assert world.admin.get(f"/interventions/{intervention['id']}").json()["state"] == "closed"


# --- reassignment ------------------------------------------------------------------------

def test_an_admin_gives_an_intervention_to_another_technician(world, isolation, shop):
    """Also to one of another company who works for the client's company too:
    the intervention stays in its client's company (issue 9)."""
    intervention = shop["intervention"]
    other_company = world.company()
    newcomer = created(world.admin.post("/technicians", {
        "name": "Newcomer", "email": f"newcomer-{uuid.uuid4().hex[:6]}@example.test",
        "company_id": other_company["id"], "company_ids": [shop["company"]["id"]]}))
    with events(isolation) as bus:
        response = world.admin.request("PUT", f"/interventions/{intervention['id']}/assignment",
                                       json={"technician_id": newcomer["id"]})
        assert response.status_code == 200, response.text
        [assigned] = bus.wait_for("intervention.assigned", intervention["id"])
    moved = response.json()
    assert (moved["technician_id"], moved["company_id"]) == (newcomer["id"], shop["company"]["id"])
    assert moved["version"] == 2
    assert assigned["data"]["previous_technician_id"] == shop["technician"]["id"]
    assert assigned["data"]["technician"] == {key: newcomer[key] for key in ("id", "name", "email")}
    assert assigned["data"]["company_id"] == shop["company"]["id"]
    # the former technician no longer sees it
    assert error(shop["technician_user"].get(f"/interventions/{intervention['id']}"), 404)
    [entry] = [item for item in world.admin.get(f"/interventions/{intervention['id']}/history")
               .json()["items"] if item["kind"] == "assignment"]
    assert entry["data"] == {"from_technician_id": shop["technician"]["id"],
                             "to_technician_id": newcomer["id"],
                             "from_company_id": shop["company"]["id"],
                             "to_company_id": shop["company"]["id"]}
    # one who does not work for the client's company is refused, nothing moves
    stranger = world.technician(other_company)
    refused = error(world.admin.request("PUT", f"/interventions/{intervention['id']}/assignment",
                                        json={"technician_id": stranger["id"]}), 400)
    assert refused["details"]["company_id"] == shop["company"]["id"]


def test_who_may_reassign_and_to_whom(world, shop):
    intervention = shop["intervention"]
    path = f"/interventions/{intervention['id']}/assignment"
    colleague = world.technician(shop["company"])
    stranger = world.technician(world.company())
    manager = world.login_for("manager", company_id=shop["company"]["id"])
    # another company's technician is not the manager's to name
    assert error(manager.request("PUT", path, json={"technician_id": stranger["id"]}), 404)
    assert error(shop["technician_user"].request("PUT", path, json={"technician_id": colleague["id"]}), 403)
    own_client = world.login_for("client", client_id=shop["client"]["id"])
    assert error(own_client.request("PUT", path, json={"technician_id": colleague["id"]}), 403)
    foreign = world.login_for("manager", company_id=world.company()["id"])
    assert error(foreign.request("PUT", path, json={"technician_id": colleague["id"]}), 404)
    unknown = error(world.admin.request("PUT", path, json={"technician_id": str(uuid.uuid4())}), 404)
    assert "technician_id" in unknown["details"]
    elsewhere = world.company()
    not_the_clients = error(world.admin.request("PUT", path, json={"technician_id": colleague["id"],
                                                                    "company_id": elsewhere["id"]}), 400)
    assert not_the_clients["details"] == {"company_id": elsewhere["id"],
                                          "client_company_id": shop["company"]["id"]}
    response = manager.request("PUT", path, json={"technician_id": colleague["id"]})
    assert response.status_code == 200, response.text
    assert response.json()["technician_id"] == colleague["id"]


# --- history and field changes ------------------------------------------------------------

def test_the_history_says_who_changed_what(world, shop):
    intervention = shop["intervention"]
    patched = shop["technician_user"].request("PATCH", f"/interventions/{intervention['id']}",
                                              json={"description": "Battery too", "version": 1})
    assert patched.status_code == 200, patched.text
    history = world.admin.get(f"/interventions/{intervention['id']}/history")
    assert history.status_code == 200
    created, fields = history.json()["items"]
    assert created["kind"] == "created" and created["author_role"] == "admin"
    assert created["data"]["technician_id"] == shop["technician"]["id"]
    assert created["data"]["step"] == "picked_up"
    assert fields["kind"] == "fields" and fields["author_role"] == "technician"
    assert fields["data"] == {"before": {"description": "Screen flickers"},
                              "after": {"description": "Battery too"}}
    assert set(fields) == {"id", "kind", "data", "author_id", "author_role", "at"}
    nothing = shop["technician_user"].request("PATCH", f"/interventions/{intervention['id']}",
                                              json={"version": 2})
    assert error(nothing, 400)["details"] == {"editable": ["description"]}
    assert len(world.admin.get(f"/interventions/{intervention['id']}/history").json()["items"]) == 2


def test_who_reads_the_history(world, shop):
    path = f"/interventions/{shop['intervention']['id']}/history"
    assert shop["technician_user"].get(path).status_code == 200
    assert world.login_for("manager", company_id=shop["company"]["id"]).get(path).status_code == 200
    own_client = world.login_for("client", client_id=shop["client"]["id"])
    assert error(own_client.get(path), 403)
    other = world.company()
    assert error(world.login_for("manager", company_id=other["id"]).get(path), 404)
    assert error(world.login_for("technician", technician_id=world.technician(other)["id"]).get(path), 404)
    assert error(world.admin.get(f"/interventions/{uuid.uuid4()}/history"), 404)


# --- statuses ------------------------------------------------------------------------------

def test_a_status_is_set_in_the_workshop_stays_after_and_is_reset(world, isolation, shop):
    me = shop["technician_user"]
    waiting, quote = world.status(label="Waiting for parts", colour="#ff8800"), world.status()
    intervention = shop["intervention"]
    path = f"/interventions/{intervention['id']}/status"
    with events(isolation) as bus:
        refused = error(me.request("PUT", path, json={"status_id": waiting["id"]}), 409)
        assert refused["details"] == {"step": "picked_up", "required_step": "in_workshop"}
        current = world.walk_to(intervention, "in_workshop")
        response = me.request("PUT", path, json={"status_id": waiting["id"]})
        assert response.status_code == 200, response.text
        assert response.json()["status_id"] == waiting["id"]
        current = me.request("PUT", path, json={"status_id": quote["id"]}).json()
        assert current["status_id"] == quote["id"] and current["version"] == 4

        current = world.walk_to(current, "final_tests")
        assert current["status_id"] == quote["id"]  # it stays shown after the step
        refused = error(me.request("PUT", path, json={"status_id": waiting["id"]}), 409)
        assert refused["details"]["step"] == "final_tests"
        # back to the workshop to change it, as the seed says
        current = world.move(current, "in_workshop").json()
        current = me.request("PUT", path, json={"status_id": waiting["id"]}).json()
        current = world.walk_to(current, "awaiting_pickup")
        assert current["status_id"] == waiting["id"]

        reset = me.request("DELETE", path)
        assert reset.status_code == 200, reset.text
        assert reset.json()["status_id"] is None
        again = error(me.request("DELETE", path), 409)
        assert again["details"] == {"status_id": None}

        changes = bus.wait_for("intervention.status_changed", intervention["id"], count=3)
        [cleared] = bus.wait_for("intervention.status_reset", intervention["id"])
    assert [(e["data"]["status"]["id"], e["data"]["previous_status_id"]) for e in changes] == [
        (waiting["id"], None), (quote["id"], waiting["id"]), (waiting["id"], quote["id"])]
    assert changes[0]["data"]["status"] == {"id": waiting["id"], "label": "Waiting for parts",
                                            "colour": "#ff8800"}
    assert cleared["data"]["previous_status_id"] == waiting["id"]
    assert cleared["data"]["client_id"] == shop["client"]["id"]
    kinds = [item["kind"] for item in world.admin.get(
        f"/interventions/{intervention['id']}/history").json()["items"]]
    assert kinds.count("status") == 3 and kinds[-1] == "status_reset"


def test_only_an_active_status_of_the_catalog_is_shown(world, shop):
    current = world.walk_to(shop["intervention"], "in_workshop")
    path = f"/interventions/{current['id']}/status"
    retired = world.status(active=False)
    assert error(world.admin.request("PUT", path, json={"status_id": retired["id"]}), 400)[
        "details"] == {"status_id": retired["id"]}
    unknown = str(uuid.uuid4())
    assert error(world.admin.request("PUT", path, json={"status_id": unknown}), 404)[
        "details"] == {"status_id": unknown}
    # a status is never created from an intervention
    assert error(world.admin.request("PUT", path, json={"label": "New one"}), 400)["details"]["fields"]
    assert world.admin.get(f"/interventions/{current['id']}").json()["status_id"] is None


def test_who_may_set_a_status(world, shop):
    status = world.status()
    current = world.walk_to(shop["intervention"], "in_workshop")
    path = f"/interventions/{current['id']}/status"
    own_client = world.login_for("client", client_id=shop["client"]["id"])
    assert error(own_client.request("PUT", path, json={"status_id": status["id"]}), 403)
    assert error(own_client.request("DELETE", path), 403)
    foreign = world.login_for("manager", company_id=world.company()["id"])
    assert error(foreign.request("PUT", path, json={"status_id": status["id"]}), 404)
    manager = world.login_for("manager", company_id=shop["company"]["id"])
    assert manager.request("PUT", path, json={"status_id": status["id"]}).status_code == 200
    assert error(foreign.request("DELETE", path), 404)
    assert manager.request("DELETE", path).status_code == 200


def test_an_intervention_outside_the_workshop_has_no_status(world):
    intervention = world.intervention(location="on_site")
    refused = error(world.admin.request("PUT", f"/interventions/{intervention['id']}/status",
                                        json={"status_id": world.status()["id"]}), 409)
    assert refused["details"] == {"step": None, "required_step": "in_workshop"}
