"""The event contract (DESIGN.md §2, docs/asyncapi.yaml).

Real events, published by the running platform, are read the way another
system would read them: with a plain AMQP client (kombu, not nameko), from a
queue of our own bound to the producer's topic exchange. Each one must match
the schema the AsyncAPI document gives for its message, and every event the
services publish must be documented there.

Queues here are exclusive and auto-delete: they vanish with the connection.
"""
import socket
import time
import uuid
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import pytest
import yaml
from jsonschema import Draft7Validator
from kombu import Connection, Consumer, Exchange, Queue, binding
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

from fieldwork_common.envelope import ENVELOPE_FIELDS
from fieldwork_common.testing.waiting import wait_until

ASYNCAPI = Path(__file__).resolve().parents[2] / "docs" / "asyncapi.yaml"
DOC_URI = "urn:fieldwork:asyncapi"  # the base the document's `#/...` refs resolve against
PRODUCER = "interventions"
EXCHANGE = Exchange(f"{PRODUCER}.events", type="topic", durable=True)
TIMEOUT = 20.0


# --- the document -------------------------------------------------------------

class Contract:
    """docs/asyncapi.yaml, with a JSON Schema validator per message."""

    def __init__(self, path=ASYNCAPI):
        with open(path, encoding="utf-8") as f:
            self.doc = yaml.safe_load(f)
        resource = Resource.from_contents(self.doc, default_specification=DRAFT7)
        self.registry = Registry().with_resource(DOC_URI, resource)

    def resolve(self, ref):
        """The node a local `#/a/b` ref points at (KeyError if none)."""
        assert ref.startswith("#/"), f"only local refs are expected, got {ref!r}"
        node = self.doc
        for part in ref[2:].split("/"):
            part = part.replace("~1", "/").replace("~0", "~")
            node = node[int(part)] if isinstance(node, list) else node[part]
        return node

    def producer_of(self, channel):
        exchange = channel["bindings"]["amqp"]["exchange"]["name"]
        return exchange[:-len(".events")] if exchange.endswith(".events") else None

    def channels(self, producer=None):
        return {name: channel for name, channel in self.doc["channels"].items()
                if producer is None or self.producer_of(channel) == producer}

    def message_ref(self, event_type):
        return self.doc["channels"][event_type]["subscribe"]["message"]["$ref"]

    def validator(self, event_type):
        schema = {"$ref": f"{DOC_URI}{self.message_ref(event_type)}/payload"}
        return Draft7Validator(schema, registry=self.registry,
                               format_checker=Draft7Validator.FORMAT_CHECKER)

    def errors(self, event_type, envelope):
        return [f"{'/'.join(map(str, e.absolute_path)) or '<envelope>'}: {e.message}"
                for e in self.validator(event_type).iter_errors(envelope)]


@pytest.fixture(scope="module")
def contract():
    return Contract()


def _refs(node, path=""):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield path, value
            else:
                yield from _refs(value, f"{path}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _refs(value, f"{path}/{i}")


# --- a plain AMQP subscriber --------------------------------------------------

class Subscription:
    def __init__(self, connection):
        self.connection = connection
        self.messages = []

    def on_message(self, body, message):
        self.messages.append(message)
        message.ack()

    def wait_until(self, done, what, timeout=TIMEOUT):
        """Drain deliveries until `done(messages)` is truthy; never sleeps
        blindly: each wait ends as soon as a message arrives."""
        deadline = time.monotonic() + timeout
        while True:
            found = done(self.messages)
            if found:
                return found
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                seen = [(m.delivery_info.get("routing_key"), _payload(m).get("aggregate_id"))
                        for m in self.messages]
                raise AssertionError(f"timed out after {timeout}s waiting for {what}; "
                                     f"received {seen}")
            try:
                self.connection.drain_events(timeout=min(remaining, 1.0))
            except socket.timeout:
                pass


@contextmanager
def subscription(amqp_uri, routing_key, exchanges=(PRODUCER,)):
    """Bind a fresh exclusive, auto-delete queue to each producer's
    `<producer>.events` exchange with `routing_key`, and consume from it.
    Exchanges, queue and bindings are declared on entry, so anything
    published after that is delivered."""
    with Connection(amqp_uri) as connection:
        channel = connection.channel()
        queue = Queue(f"contract-test-{uuid.uuid4().hex}", bindings=[
            binding(Exchange(f"{producer}.events", type="topic", durable=True), routing_key=routing_key)
            for producer in exchanges], durable=False, exclusive=True, auto_delete=True)
        sub = Subscription(connection)
        with Consumer(channel, queues=[queue], callbacks=[sub.on_message], accept=["json"]):
            yield sub


def _payload(message):
    try:
        body = message.payload
    except Exception:  # not JSON: the assertions will say so
        return {}
    return body if isinstance(body, dict) else {}


def _data(message):
    data = _payload(message).get("data")
    return data if isinstance(data, dict) else {}


def _instant(text):
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


# --- tests against the running platform ---------------------------------------

def test_a_plain_kombu_consumer_reads_intervention_created(isolation, world, contract):
    company = world.company()
    client = world.client(company, locale="en")
    technician = world.technician(company)
    with subscription(isolation.amqp_uri, "intervention.created") as sub:
        intervention = world.intervention(client=client, technician=technician)
        [message] = sub.wait_until(
            lambda messages: [m for m in messages if _data(m).get("id") == intervention["id"]],
            f"intervention.created of {intervention['id']}")

    assert message.delivery_info["exchange"] == "interventions.events"
    assert message.delivery_info["routing_key"] == "intervention.created"
    assert message.properties.get("delivery_mode") == 2, message.properties
    assert message.content_type == "application/json"
    envelope = message.payload
    assert set(envelope) == set(ENVELOPE_FIELDS) and len(envelope) == 8, sorted(envelope)
    assert envelope["event_type"] == "intervention.created"
    assert envelope["producer"] == "interventions"
    assert envelope["aggregate_id"] == intervention["id"]
    assert envelope["event_version"] == 1
    # What the document promises about the AMQP message itself:
    assert message.properties.get("message_id") == envelope["event_id"]
    assert message.headers.get("nameko.correlation_id") == envelope["correlation_id"]

    assert contract.errors("intervention.created", envelope) == []

    data = envelope["data"]
    for key, value in intervention.items():  # the event carries what the API answered
        if key == "created_at":
            assert _instant(data[key]) == _instant(value)
        else:
            assert data[key] == value, key
    assert data["client"] == {key: client[key] for key in ("id", "name", "email", "locale")}
    assert data["client"]["locale"] == "en"
    assert data["technician"] == {key: technician[key] for key in ("id", "name", "email")}
    assert data["type"]["id"] == intervention["type_id"]
    assert data["type"]["location"] == intervention["location"] == "workshop"


def _ok(response, status=200):
    assert response.status_code == status, response.text
    return response.json() if response.content else None


def _exercise_every_event(world, admin, due_now, auto_close_now):
    """Drive the platform through the gateway so that every documented
    event is published at least once; returns the (event type, aggregate
    id) pairs that must arrive."""
    expected = set()
    company = world.company(survey_enabled=True)
    expected |= {("company.created", company["id"])}
    client = world.client(company)
    technician = world.technician(company)
    other_technician = world.technician(company)
    site = world.site(client)
    contract = world.contract(client)
    status = world.status()
    expected |= {("client.created", client["id"]), ("technician.created", technician["id"]),
                 ("site.created", site["id"]), ("contract.created", contract["id"]),
                 ("status.created", status["id"])}

    # every kind of master data: updated, then a fresh one deleted
    kinds = {"companies": ("company", {"phone": "01 02 03 04 05"}, company),
             "technicians": ("technician", {"phone": "06 00 00 00 00"}, technician),
             "clients": ("client", {"phone": "07 00 00 00 00"}, client),
             "sites": ("site", {"address": "2 rue Neuve"}, site),
             "contracts": ("contract", {"billable": False}, contract),
             "statuses": ("status", {"colour": "#00aa00"}, status)}
    for path, (kind, change, record) in kinds.items():
        _ok(world.patch(f"/{path}/{record['id']}", record["version"], **change))
        expected.add((f"{kind}.updated", record["id"]))
    kind_type = world.intervention_type()
    _ok(world.patch(f"/intervention-types/{kind_type['id']}", kind_type["version"], name="Renamed"))
    expected |= {("intervention_type.created", kind_type["id"]),
                 ("intervention_type.updated", kind_type["id"])}
    equipment = world.equipment(client)
    _ok(world.patch(f"/equipment/{equipment['id']}", equipment["version"], brand="Dell"))
    expected |= {("equipment.created", equipment["id"]), ("equipment.updated", equipment["id"])}

    spare_company = world.company()
    spare_client = world.client(spare_company)
    doomed = {"sites": world.site(spare_client), "contracts": world.contract(spare_client),
              "equipment": world.equipment(spare_client), "statuses": world.status(),
              "intervention-types": world.intervention_type()}
    doomed["technicians"] = world.technician(spare_company)
    for path, record in doomed.items():
        _ok(admin.request("DELETE", f"/{path}/{record['id']}"), 204)
    _ok(admin.request("DELETE", f"/clients/{spare_client['id']}"), 204)
    _ok(admin.request("DELETE", f"/companies/{spare_company['id']}"), 204)
    kind_of = {"sites": "site", "contracts": "contract", "equipment": "equipment",
               "statuses": "status", "intervention-types": "intervention_type",
               "technicians": "technician"}
    expected |= {(f"{kind_of[path]}.deleted", record["id"]) for path, record in doomed.items()}
    expected |= {("client.deleted", spare_client["id"]), ("company.deleted", spare_company["id"])}
    _ok(admin.request("PUT", "/settings", json={"multi_company": True}))
    expected.add(("settings.updated", "settings"))

    # an intervention through its whole life
    intervention = world.intervention(client=client, technician=technician)
    iid = intervention["id"]
    _ok(admin.request("PATCH", f"/interventions/{iid}", json={"description": "Battery too",
                                                               "version": intervention["version"]}))
    _ok(admin.request("PUT", f"/interventions/{iid}/assignment",
                      json={"technician_id": other_technician["id"]}))
    world.walk_to(_ok(admin.get(f"/interventions/{iid}")), "in_workshop")
    _ok(admin.request("PUT", f"/interventions/{iid}/status", json={"status_id": status["id"]}))
    _ok(admin.request("DELETE", f"/interventions/{iid}/status"))
    current = world.walk_to(_ok(admin.get(f"/interventions/{iid}")), "awaiting_pickup",
                            pickup_at="2030-01-15T10:30:00+01:00", pickup_kind="pickup")
    world.walk_to(current, "delivered")
    _ok(admin.request("POST", f"/interventions/{iid}/reopen"))
    document = world.file(company_id=company["id"])
    _ok(admin.post(f"/interventions/{iid}/attachments",
                   {"file_id": document["id"], "visible_to_client": True}), 201)
    expected |= {(event, iid) for event in (
        "intervention.created", "intervention.updated", "intervention.assigned",
        "intervention.step_changed", "intervention.status_changed", "intervention.status_reset",
        "intervention.closed", "intervention.delivered", "intervention.reopened",
        "intervention.file_attached")}

    expected |= _exercise_visits(world, admin, due_now)
    expected |= _exercise_timeclock(world, admin)
    expected |= _exercise_requests(world, admin, auto_close_now)

    # a satisfaction survey, answered (notifications)
    surveyed = world.intervention(client=world.client(company), technician=technician)
    world.walk_to(surveyed, "delivered")
    return expected, surveyed


def _exercise_visits(world, admin, due_now):
    """Every visit event and intervention.state_changed, through the
    gateway (and one reminder, its timer made due)."""
    from datetime import timedelta, timezone
    now = datetime.now(timezone.utc).replace(microsecond=0)

    def rfc(moment):
        return moment.isoformat().replace("+00:00", "Z")
    company = world.company(portal_validation=True, email="gestion@example.test")
    client, technician = world.client(company), world.technician(company)
    contract = world.contract(client)
    contract = _ok(admin.request("PUT", f"/contracts/{contract['id']}/state",
                                 json={"state": "validated", "version": contract["version"]}))
    worker = world.login_for("technician", technician_id=technician["id"])
    customer = world.login_for("client", client_id=client["id"])
    refusal = _ok(admin.post("/visit-reasons", {"kind": "refusal", "label": "Trop court",
                                                "company_id": company["id"]}), 201)
    cancellation = _ok(admin.post("/visit-reasons", {"kind": "cancellation", "label": "Absent",
                                                     "company_id": company["id"]}), 201)
    home = world.intervention(client=client, technician=technician, location="at_home")

    def plan(start, hours=2, intervention=home):
        [visit] = _ok(admin.post(f"/interventions/{intervention['id']}/visits", {
            "start_at": rfc(start), "end_at": rfc(start + timedelta(hours=hours)),
            "contract_id": contract["id"]}), 201)["items"]
        return visit

    def move(user, visit, action, **body):
        return _ok(user.post(f"/visits/{visit['id']}/{action}", {"version": visit["version"], **body}))
    ahead = plan(now + timedelta(days=2))
    first, second = plan(now - timedelta(hours=5)), plan(now - timedelta(hours=4))
    # its own intervention: it stays planned while its reminder is due
    reminded = plan(now - timedelta(hours=3), intervention=world.intervention(
        client=client, technician=technician, location="at_home"))
    ahead = _ok(admin.request("PATCH", f"/visits/{ahead['id']}", json={
        "start_at": rfc(now + timedelta(days=3)), "end_at": rfc(now + timedelta(days=3, hours=2)),
        "version": ahead["version"]}))
    move(admin, ahead, "cancel", reason_id=cancellation["id"])
    accepted = move(worker, first, "worker-validation", outcome="done",
                    km=12.5, comment="Fait")
    accepted = move(customer, accepted, "client-validation", decision="dispute",
                    reason_id=refusal["id"], km=8)
    move(worker, accepted, "dispute-answer", accept=True)
    settled = move(worker, second, "worker-validation", outcome="done")
    settled = move(customer, settled, "client-validation", decision="dispute",
                   reason_id=refusal["id"], km=3)
    settled = move(worker, settled, "dispute-answer", accept=False, comment="Non")
    move(admin, settled, "arbitration", decide="custom", km=2, reason="Vu le badge")
    due_now("visit.remind_worker", reminded["id"])
    return {(event, visit["id"]) for event, visit in (
        ("visit.planned", ahead), ("visit.rescheduled", ahead), ("visit.cancelled", ahead),
        ("visit.declared", accepted), ("visit.disputed", accepted),
        ("visit.dispute_accepted", accepted), ("visit.validated", accepted),
        ("visit.dispute_refused", settled), ("visit.arbitrated", settled),
        ("visit.reminder", reminded))} | {("intervention.state_changed", home["id"])}


def _exercise_timeclock(world, admin):
    """The clocking, incident and conversation events (timeclock), through the gateway."""
    from datetime import timedelta, timezone
    now = datetime.now(timezone.utc).replace(microsecond=0)
    company = world.company()
    client, technician = world.client(company), world.technician(company)
    contract = world.contract(client)
    contract = _ok(admin.request("PUT", f"/contracts/{contract['id']}/state",
                                 json={"state": "validated", "version": contract["version"]}))
    _ok(admin.request("PUT", "/timeclock/settings", json={
        "company_id": company["id"], "values": {"clocking_enabled": True,
                                                "incidents_enabled": True}}))
    worker = world.login_for("technician", technician_id=technician["id"])
    home = world.intervention(client=client, technician=technician, location="at_home")
    [visit] = _ok(admin.post(f"/interventions/{home['id']}/visits", {
        "start_at": (now - timedelta(minutes=5)).isoformat().replace("+00:00", "Z"),
        "end_at": (now + timedelta(hours=1)).isoformat().replace("+00:00", "Z"),
        "contract_id": contract["id"]}), 201)["items"]
    clock_in = wait_until(lambda: (lambda r: r.json() if r.status_code == 201 else None)(
        worker.post(f"/visits/{visit['id']}/clockings", {"kind": "in", "lat": 48.85, "lon": 2.35,
                                                         "accuracy_m": 12})),
        message="timeclock knows the visit")
    clock_out = _ok(worker.post(f"/visits/{visit['id']}/clockings", {"kind": "out"}), 201)
    corrected = _ok(admin.post(f"/clockings/{clock_in['id']}/corrections", {
        "at": clock_in["at"], "reason": "Heure vérifiée", "version": clock_in["version"]}), 201)
    manager = world.login_for("manager", company_id=company["id"])
    _ok(manager.post(f"/clockings/{corrected['id']}/decision", {
        "decision": "validate", "version": corrected["version"]}))
    _ok(manager.post(f"/clockings/{clock_out['id']}/decision", {
        "decision": "reject", "reason": "Non constaté", "version": clock_out["version"]}))
    reason = _ok(admin.post("/incident-reasons", {"company_id": company["id"],
                                                  "type_id": home["type_id"], "code": "LATE",
                                                  "label": "Retard"}), 201)
    incident = _ok(worker.post(f"/visits/{visit['id']}/incidents",
                               {"reason_id": reason["id"], "description": "Bouchons"}), 201)
    _ok(manager.post(f"/incidents/{incident['id']}/state", {"state": "acknowledged",
                                                          "version": incident["version"]}))
    message = _ok(worker.post(f"/conversations/{incident['conversation_id']}/messages",
                              {"body": "Arrivé à 9 h 20"}), 201)
    return {("clocking.recorded", clock_in["id"]), ("clocking.recorded", clock_out["id"]),
            ("clocking.corrected", corrected["id"]), ("clocking.validated", corrected["id"]),
            ("clocking.rejected", clock_out["id"]), ("incident.declared", incident["id"]),
            ("incident.updated", incident["id"]),
            ("conversation.message_posted", message["id"])}


def _exercise_requests(world, admin, auto_close_now):
    """The request events (requests), through the gateway: created by the
    client, changed, answered, closed, reopened, an equipment return through
    its life, then cancelled by staff."""
    company = world.company()
    client = world.client(company)
    customer = world.login_for("client", client_id=client["id"])
    kind = _ok(admin.post("/request-types", {"label": "Panne", "company_id": company["id"]}), 201)
    other = _ok(admin.post("/request-types", {"label": "Devis", "company_id": company["id"]}), 201)
    request = _ok(customer.post("/requests", {"type_id": kind["id"], "symptom": "Fuite"}), 201)
    changed = _ok(admin.request("PATCH", f"/requests/{request['id']}", json={
        "type_id": other["id"], "description": "Sous l'évier", "version": request["version"]}))
    answered = _ok(admin.post(f"/requests/{request['id']}/actions", {
        "status": "in_progress", "message": "Nous regardons.", "channel": "email"}), 201)
    _ok(admin.post(f"/requests/{request['id']}/actions", {
        "status": "closed", "message": "Réglé par téléphone.", "version": answered["version"]}), 201)
    _ok(customer.post(f"/requests/{request['id']}/reopen", {"reason": "La fuite reprend"}))
    equipment = world.equipment(client)
    returned = _ok(admin.post(f"/requests/{request['id']}/equipment-returns", {
        "equipment_id": equipment["id"], "destination": "supplier", "supplier": "Saunier"}), 201)
    received = _ok(admin.post(f"/equipment-returns/{returned['id']}/state", {"state": "received"}))
    _ok(admin.post(f"/equipment-returns/{returned['id']}/state", {
        "state": "sent_back", "version": received["version"]}))
    _ok(admin.post(f"/equipment-returns/{returned['id']}/state", {"state": "closed"}))
    _ok(admin.post(f"/requests/{request['id']}/cancel", {"reason": "Doublon"}))
    # closed by itself after the company's days without news (by system)
    _ok(admin.request("PUT", "/request-settings", json={"company_id": company["id"],
                                                        "values": {"auto_close_days": 3}}))
    quiet = _ok(customer.post("/requests", {"type_id": kind["id"]}), 201)
    _ok(admin.post(f"/requests/{quiet['id']}/actions", {"status": "in_progress",
                                                       "message": "Une photo ?"}), 201)
    auto_close_now(quiet["id"])
    assert changed["type_id"] == other["id"]
    return {(event, request["id"]) for event in (
        "request.created", "request.updated", "request.action_added", "request.closed",
        "request.reopened")} | {("equipment_return.created", returned["id"]),
                                ("equipment_return.updated", returned["id"]),
                                ("request.closed", quiet["id"])}


def _auto_close_now(isolation):
    """Makes a request's pending auto-close timer due now (the requests
    service's timers), as if the company's days had gone by."""
    import sqlalchemy as sa
    from sqlalchemy.pool import NullPool

    from fieldwork_common.db import engine_url

    def due_now(request_id):
        engine = sa.create_engine(engine_url(isolation.database_url("requests")),
                                  poolclass=NullPool)
        try:
            with engine.begin() as conn:
                changed = conn.execute(sa.text(
                    "UPDATE timers SET due_at = now(), next_attempt_at = now() "
                    "WHERE kind = 'request.auto_close' AND key = :key AND status = 'pending'"),
                    {"key": request_id}).rowcount
            assert changed == 1, request_id
        finally:
            engine.dispose()
    return due_now


def _answer_the_survey(smtp, recipient):
    import re

    import requests

    def survey_link():
        for message in smtp.to(recipient):
            body = message.get_body(preferencelist=("plain",)).get_content()
            found = re.search(r"https?://\S+?/survey/[A-Za-z0-9_-]+", body)
            if found:
                return found.group(0)
        return None
    link = wait_until(survey_link, timeout=60, message="the survey email")
    _ok(requests.post(link, json={"score": 5, "comment": "Parfait"}, timeout=30))


def test_every_documented_event_is_published_as_documented(isolation, world, admin, smtp, contract,
                                                            timers):
    documented = contract.channels()
    producers = {contract.producer_of(channel) for channel in documented.values()}
    assert producers == {"interventions", "notifications", "timeclock", "requests"}, producers
    with subscription(isolation.amqp_uri, "#", exchanges=sorted(producers)) as sub:
        expected, surveyed = _exercise_every_event(world, admin, timers.due_now,
                                                   _auto_close_now(isolation))
        client = _ok(admin.get(f"/clients/{surveyed['client_id']}"))
        _answer_the_survey(smtp, client["email"])

        def all_arrived(messages):
            seen = {(m.delivery_info["routing_key"], _payload(m).get("aggregate_id"))
                    for m in messages}
            return expected <= seen and "survey.answered" in {t for t, _ in seen}
        sub.wait_until(all_arrived, f"the events of {sorted(expected)} and survey.answered")
        messages = list(sub.messages)

    by_type = {}
    for message in messages:
        assert message.delivery_info["routing_key"] == _payload(message).get("event_type")
        by_type.setdefault(message.delivery_info["routing_key"], []).append(message)

    undocumented = set(by_type) - set(documented)
    assert not undocumented, f"published but not in docs/asyncapi.yaml: {sorted(undocumented)}"

    for event_type, channel in documented.items():
        assert by_type.get(event_type), f"documented but never published: {event_type}"
        for message in by_type[event_type]:
            assert message.delivery_info["exchange"] == f"{contract.producer_of(channel)}.events"
            assert message.properties.get("delivery_mode") == 2
            assert message.content_type == "application/json"
            errors = contract.errors(event_type, message.payload)
            assert errors == [], f"{event_type} does not match its documented schema: {errors}"
    [answered] = by_type["survey.answered"]
    assert answered.payload["data"]["intervention_id"] == surveyed["id"]
    assert answered.payload["data"]["score"] == 5


# --- the document itself --------------------------------------------------------

def test_the_asyncapi_document_is_valid_and_every_message_has_a_schema(contract):
    doc = contract.doc
    assert doc["asyncapi"] == "2.6.0"
    assert doc["servers"]["production"]["url"] == "rabbitmq:5672"
    assert doc["servers"]["local"]["url"] == "127.0.0.1:5672"
    assert {server["protocol"] for server in doc["servers"].values()} == {"amqp"}

    dangling = []
    for where, ref in _refs(doc):
        try:
            contract.resolve(ref)
        except (KeyError, IndexError, ValueError, TypeError):
            dangling.append(f"{where}: {ref}")
    assert dangling == [], dangling

    schemas = doc["components"]["schemas"]
    for name, schema in schemas.items():
        Draft7Validator.check_schema(schema)

    envelope = schemas["Envelope"]
    assert set(envelope["required"]) == set(envelope["properties"]) == set(ENVELOPE_FIELDS)
    assert envelope["additionalProperties"] is False

    assert doc["channels"], "no channel"
    for event_type, channel in doc["channels"].items():
        amqp = channel["bindings"]["amqp"]
        assert amqp["is"] == "routingKey", event_type
        exchange = amqp["exchange"]
        assert exchange["type"] == "topic" and exchange["durable"] is True, event_type
        assert exchange["name"] == f"{contract.producer_of(channel)}.events", event_type
        message = contract.resolve(contract.message_ref(event_type))
        assert message["payload"]["allOf"][0] == {"$ref": "#/components/schemas/Envelope"}
        specific = message["payload"]["allOf"][1]["properties"]
        assert specific["event_type"] == {"const": event_type}
        assert specific["producer"] == {"const": contract.producer_of(channel)}
        data_ref = specific["data"]["$ref"]
        assert data_ref.startswith("#/components/schemas/"), data_ref
        data_schema = contract.resolve(data_ref)
        assert data_schema["type"] == "object" and data_schema["additionalProperties"] is False
        Draft7Validator.check_schema(message["payload"])
        contract.validator(event_type)  # builds, i.e. every ref in it resolves


def test_documented_payload_fields_are_those_the_service_builds(contract):
    """Static cross-check with the field lists of the interventions service:
    each payload documents exactly the keys the code sets, all required."""
    from fieldwork_interventions.changes import EVENT_FIELDS
    from fieldwork_interventions.rpc import masterdata, visits

    built = dict(EVENT_FIELDS)
    for kind, fields in (("company", masterdata.COMPANY_FIELDS),
                         ("technician", masterdata.TECHNICIAN_FIELDS),
                         ("client", masterdata.CLIENT_FIELDS),
                         ("site", masterdata.SITE_FIELDS),
                         ("equipment", masterdata.EQUIPMENT_FIELDS),
                         ("contract", masterdata.CONTRACT_FIELDS),
                         ("intervention_type", masterdata.TYPE_FIELDS),
                         ("status", masterdata.STATUS_FIELDS)):
        built[f"{kind}.created"] = built[f"{kind}.updated"] = fields
        built[f"{kind}.deleted"] = masterdata.DELETED_FIELDS
    built["settings.updated"] = masterdata.SETTINGS_FIELDS
    built.update(visits.VISIT_EVENT_FIELDS)
    built["intervention.state_changed"] = visits.STATE_CHANGED_FIELDS
    assert set(contract.channels(PRODUCER)) == set(built)
    for event_type, fields in built.items():
        message = contract.resolve(contract.message_ref(event_type))
        data = contract.resolve(message["payload"]["allOf"][1]["properties"]["data"]["$ref"])
        assert set(data["properties"]) == set(fields), event_type
        assert set(data["required"]) == set(fields), event_type


def test_documented_timeclock_fields_are_those_timeclock_builds(contract):
    from fieldwork_timeclock import filing
    from fieldwork_timeclock.rpc import clockings, incidents

    clocking = set(clockings.CLOCKING_FIELDS + clockings.EVENT_EXTRAS)
    incident = set(filing.INCIDENT_FIELDS + filing.INCIDENT_EVENT_EXTRAS)
    built = {"clocking.recorded": clocking, "clocking.corrected": clocking | {"previous"},
             "clocking.validated": clocking, "clocking.rejected": clocking,
             "incident.declared": incident, "incident.updated": incident,
             "conversation.message_posted": set(incidents.MESSAGE_FIELDS
                                                + incidents.MESSAGE_EVENT_EXTRAS)}
    assert set(contract.channels("timeclock")) == set(built)
    for event_type, fields in built.items():
        message = contract.resolve(contract.message_ref(event_type))
        data = contract.resolve(message["payload"]["allOf"][1]["properties"]["data"]["$ref"])
        assert set(data["properties"]) == fields, event_type
        assert set(data["required"]) == fields, event_type


def test_documented_request_fields_are_those_requests_builds(contract):
    from fieldwork_requests.rpc import requests

    built = {event: set(requests.EVENT_COMMON + own) for event, own in requests.EVENT_OWN.items()}
    built["equipment_return.created"] = built["equipment_return.updated"] = set(
        requests.RETURN_FIELDS + requests.RETURN_EVENT_EXTRAS)
    assert set(contract.channels("requests")) == set(built)
    for event_type, fields in built.items():
        message = contract.resolve(contract.message_ref(event_type))
        data = contract.resolve(message["payload"]["allOf"][1]["properties"]["data"]["$ref"])
        assert set(data["properties"]) == fields, event_type
        assert set(data["required"]) == fields, event_type
