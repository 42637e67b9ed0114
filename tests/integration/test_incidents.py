"""Incidents and their conversations (issue 11, seed 004, docs/timeclock.md)
through the gateway, the bus, PostgreSQL and a real SMTP server: reasons
per service (at the start and/or the end, imported from another service,
codes unique per service); incidents declared by the worker, the client or
staff within the window (4 hours before the start to 24 hours after the
later end); their moves; the conversation each opens, with files and
staff's internal messages, every other participant emailed; combined mode
(an incident with a clocking, both or neither). Every refusal writes
nothing."""
import uuid
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from conftest import ok, refused, rfc, text_of
from fieldwork_common.db import engine_url
from fieldwork_common.testing.waiting import wait_until

NOW = datetime.now(timezone.utc).replace(microsecond=0)


class Provider:
    """A company with incidents (and clocking) on, its admin and manager
    (the company's address gets the provider's emails), a worker and a
    client with logins, an at_home service with reasons at the start, at
    the end and at both, and a validated billable contract."""

    def __init__(self, world, **settings):
        self.world = world
        tag = uuid.uuid4().hex[:6]
        self.company = world.company(email=f"bureau-{tag}@example.test")
        self.client = world.client(self.company)
        self.technician = world.technician(self.company)
        self.type = world.intervention_type("at_home")
        contract = world.contract(self.client, billable=True)
        self.contract = ok(world.admin.request("PUT", f"/contracts/{contract['id']}/state", json={
            "state": "validated", "version": contract["version"]}))
        self.admin = world.login_for("admin", company_id=self.company["id"])
        self.manager = world.login_for("manager", company_id=self.company["id"])
        self.worker = world.login_for("technician", technician_id=self.technician["id"])
        self.client_user = world.login_for("client", client_id=self.client["id"])
        ok(self.admin.request("PUT", "/timeclock/settings", json={"values": {
            "clocking_enabled": True, "incidents_enabled": True, **settings}}))
        self.start_only = self.reason("ABSENT", "Client absent", at_start=True, at_end=False)
        self.end_only = self.reason("UNFINISHED", "Travail non terminé", at_start=False, at_end=True)
        self.both = self.reason("DAMAGE", "Dégât constaté")
        self.home = ok(world.admin.post("/interventions", {
            "client_id": self.client["id"], "equipment_id": world.equipment(self.client)["id"],
            "type_id": self.type["id"], "technician_id": self.technician["id"],
            "location": "at_home", "description": "Ménage"}), 201)

    def reason(self, code, label, type_id=None, **when):
        return ok(self.admin.post("/incident-reasons", {
            "type_id": type_id or self.type["id"], "code": code, "label": label, **when}), 201)

    def visit(self, start=None, hours=2):
        start = start or NOW - timedelta(minutes=10)
        [visit] = ok(self.manager.post(f"/interventions/{self.home['id']}/visits", {
            "start_at": rfc(start), "end_at": rfc(start + timedelta(hours=hours)),
            "contract_id": self.contract["id"]}), 201)["items"]
        wait_until(lambda: self.manager.get(f"/visits/{visit['id']}/incidents").status_code == 200,
                   message="timeclock knows the visit")
        return visit

    def declare(self, visit, reason, as_user=None, **body):
        return (as_user or self.worker).post(f"/visits/{visit['id']}/incidents",
                                             {"reason_id": reason["id"], **body})


@pytest.fixture(scope="module")
def provider(world):
    return Provider(world)


def incidents_of(service_db, visit):
    return service_db("timeclock", "SELECT count(*) FROM incidents WHERE visit_id = :v",
                      v=visit["id"])[0][0]


# --- reasons ----------------------------------------------------------------------------

def test_reasons_per_service_codes_unique_and_imported(world, provider):
    other_type = world.intervention_type("at_home")
    refused(provider.admin.post("/incident-reasons", {
        "type_id": provider.type["id"], "code": "ABSENT", "label": "Encore"}), 409, "conflict")
    refused(provider.admin.post("/incident-reasons", {
        "type_id": provider.type["id"], "code": "NEVER", "label": "x", "at_start": False,
        "at_end": False}), 400, "invalid_input")
    refused(provider.manager.post("/incident-reasons", {
        "type_id": provider.type["id"], "code": "M", "label": "x"}), 403, "forbidden")
    refused(provider.admin.post("/incident-reasons", {
        "type_id": str(uuid.uuid4()), "code": "X", "label": "x"}), 404, "not_found")
    # the same code in another service is another reason
    own = provider.reason("DAMAGE", "Casse", type_id=other_type["id"])
    imported = ok(provider.admin.post("/incident-reasons/import", {
        "from_type_id": provider.type["id"], "to_type_id": other_type["id"]}))
    assert imported["skipped"] == ["DAMAGE"]
    assert sorted(r["code"] for r in imported["imported"]) == ["ABSENT", "UNFINISHED"]
    listed = ok(provider.manager.get(f"/incident-reasons?type_id={other_type['id']}"))["items"]
    assert {(r["code"], r["label"]) for r in listed} == {
        ("DAMAGE", "Casse"), ("ABSENT", "Client absent"), ("UNFINISHED", "Travail non terminé")}
    assert next(r for r in listed if r["code"] == "ABSENT")["at_end"] is False
    changed = ok(provider.admin.request("PATCH", f"/incident-reasons/{own['id']}", json={
        "label": "Casse constatée", "version": own["version"]}))
    assert changed["label"] == "Casse constatée" and changed["version"] == own["version"] + 1
    refused(provider.admin.request("PATCH", f"/incident-reasons/{own['id']}", json={
        "active": False, "version": own["version"]}), 409, "conflict")


# --- the window -------------------------------------------------------------------------

def test_the_window_and_the_moments_of_the_reasons(provider, service_db):
    now_visit = provider.visit()
    visible = ok(provider.worker.get(f"/visits/{now_visit['id']}/incident-reasons"))
    assert {r["code"]: r["allowed_now"] for r in visible["items"]} == {
        "ABSENT": True, "UNFINISHED": True, "DAMAGE": True}
    declared = ok(provider.declare(now_visit, provider.both, description="Vitre fêlée"), 201)
    assert declared["state"] == "open" and declared["moment"] == "start"
    assert declared["reason"]["code"] == "DAMAGE" and declared["conversation_id"]
    assert declared["author_role"] == "technician"

    far = provider.visit(start=NOW + timedelta(days=2))
    body = refused(provider.declare(far, provider.both), 422, "outside_incident_window")
    assert body["details"]["earliest"]
    soon = provider.visit(start=NOW + timedelta(hours=3))  # within the 4 hours before
    refused(provider.declare(soon, provider.end_only), 422, "reason_not_allowed_now")
    assert ok(provider.declare(soon, provider.start_only), 201)["moment"] == "start"

    ended = provider.visit(start=NOW - timedelta(hours=5))  # ended 3 hours ago
    refused(provider.declare(ended, provider.start_only), 422, "reason_not_allowed_now")
    assert ok(provider.declare(ended, provider.end_only), 201)["moment"] == "end"
    long_ago = provider.visit(start=NOW - timedelta(hours=30))  # ended 28 hours ago
    refused(provider.declare(long_ago, provider.both), 422, "outside_incident_window")
    assert incidents_of(service_db, far) == incidents_of(service_db, long_ago) == 0


def test_the_later_actual_end_extends_the_window(provider):
    """Planned to end 25 hours ago, declared (for the worker) as ended 23
    hours ago: 24 hours after the later end, it still takes an incident."""
    start = NOW - timedelta(hours=27)
    visit = provider.visit(start=start, hours=2)
    refused(provider.declare(visit, provider.both), 422, "outside_incident_window")
    declared = ok(provider.manager.post(f"/visits/{visit['id']}/worker-validation", {
        "outcome": "done", "start_at": rfc(start), "end_at": rfc(NOW - timedelta(hours=23)),
        "version": visit["version"]}))
    assert declared["end_at"] == rfc(NOW - timedelta(hours=23))
    wait_until(lambda: provider.declare(visit, provider.end_only).status_code == 201,
               message="the copy takes the actual end")


def test_the_client_declares_and_sees_its_visits_incidents_only(world, provider):
    visit = provider.visit()
    by_client = ok(provider.declare(visit, provider.both, as_user=provider.client_user,
                                    moment="end", description="Odeur de brûlé"), 201)
    assert by_client["author_role"] == "client" and by_client["moment"] == "end"
    seen = ok(provider.client_user.get(f"/visits/{visit['id']}/incidents"))["items"]
    assert [i["id"] for i in seen] == [by_client["id"]]
    assert ok(provider.client_user.get("/incidents"))["items"]
    stranger = world.login_for("client", client_id=world.client(provider.company)["id"])
    refused(stranger.get(f"/incidents/{by_client['id']}"), 404, "not_found")
    refused(stranger.get(f"/visits/{visit['id']}/incidents"), 404, "not_found")
    refused(stranger.post(f"/visits/{visit['id']}/incidents",
                          {"reason_id": provider.both["id"]}), 404, "not_found")
    assert ok(stranger.get("/incidents"))["items"] == []


def test_incidents_turned_off(world, service_db):
    off = Provider(world)
    visit = off.visit()
    ok(off.admin.request("PUT", "/timeclock/settings", json={"values": {"incidents_enabled": False}}))
    body = refused(off.declare(visit, off.both), 409, "incidents_disabled")
    assert body["details"]["setting"] == "incidents_enabled"
    assert incidents_of(service_db, visit) == 0


# --- moves ------------------------------------------------------------------------------

def test_staff_acknowledge_resolve_close_and_the_author_cancels_within_an_hour(
        provider, isolation):
    visit = provider.visit()
    incident = ok(provider.declare(visit, provider.both), 201)
    refused(provider.worker.post(f"/incidents/{incident['id']}/state", {
        "state": "acknowledged", "version": incident["version"]}), 403, "not_allowed")
    refused(provider.manager.post(f"/incidents/{incident['id']}/state", {
        "state": "closed", "version": incident["version"]}), 409, "invalid_transition")
    acknowledged = ok(provider.manager.post(f"/incidents/{incident['id']}/state", {
        "state": "acknowledged", "version": incident["version"]}))
    refused(provider.manager.post(f"/incidents/{incident['id']}/state", {
        "state": "resolved", "version": acknowledged["version"]}), 400, "invalid_input")
    refused(provider.manager.post(f"/incidents/{incident['id']}/state", {
        "state": "resolved", "reason": "x", "version": incident["version"]}), 409, "conflict")
    resolved = ok(provider.manager.post(f"/incidents/{incident['id']}/state", {
        "state": "resolved", "reason": "Vitre remplacée", "version": acknowledged["version"]}))
    closed = ok(provider.manager.post(f"/incidents/{incident['id']}/state", {
        "state": "closed", "version": resolved["version"]}))
    history = ok(provider.client_user.get(f"/incidents/{incident['id']}"))["history"]
    assert [(h["from_state"], h["to_state"]) for h in history] == [
        (None, "open"), ("open", "acknowledged"), ("acknowledged", "resolved"),
        ("resolved", "closed")]
    assert history[2]["reason"] == "Vitre remplacée" and closed["state"] == "closed"

    mine = ok(provider.declare(visit, provider.both), 201)
    cancelled = ok(provider.worker.post(f"/incidents/{mine['id']}/state", {
        "state": "cancelled", "version": mine["version"]}))
    assert cancelled["state"] == "cancelled"
    late = ok(provider.declare(visit, provider.both), 201)
    engine = sa.create_engine(engine_url(isolation.database_url("timeclock")))
    try:
        with engine.begin() as conn:  # as if it had been declared 61 minutes ago
            conn.execute(sa.text("UPDATE incidents SET created_at = now() - interval '61 minutes' "
                                 "WHERE id = :i"), {"i": late["id"]})
    finally:
        engine.dispose()
    refused(provider.worker.post(f"/incidents/{late['id']}/state", {
        "state": "cancelled", "version": late["version"]}), 409, "cancel_window_passed")
    # the client did not declare it: not its to cancel
    refused(provider.client_user.post(f"/incidents/{late['id']}/state", {
        "state": "cancelled", "version": late["version"]}), 403, "not_allowed")
    ok(provider.manager.post(f"/incidents/{late['id']}/state", {
        "state": "cancelled", "reason": "Doublon", "version": late["version"]}))


# --- conversations ----------------------------------------------------------------------

def test_a_conversation_between_client_worker_and_provider_with_files_and_emails(
        world, provider, smtp):
    visit = provider.visit()
    incident = ok(provider.declare(visit, provider.both, description="Fuite sous l'évier"), 201)
    conversation = incident["conversation_id"]
    # the provider's address and the client are told of the worker's incident
    wait_until(lambda: smtp.to(provider.company["email"]), timeout=30, message="the provider's email")
    wait_until(lambda: smtp.to(provider.client["email"]), timeout=30, message="the client's email")
    assert "Dégât constaté" in text_of(smtp.to(provider.company["email"])[-1])

    photo = world.file(as_user=provider.client_user, kind="photo")
    said = ok(provider.client_user.post(f"/conversations/{conversation}/messages", {
        "body": "Voici une photo de la fuite", "file_ids": [photo["id"]]}), 201)
    assert said["author_role"] == "client" and said["file_ids"] == [photo["id"]]
    ok(provider.worker.post(f"/conversations/{conversation}/messages",
                            {"body": "Je repasse demain à 9 h"}), 201)
    internal = ok(provider.manager.post(f"/conversations/{conversation}/messages", {
        "body": "Prévoir un joint de 40", "internal": True}), 201)
    refused(provider.client_user.post(f"/conversations/{conversation}/messages", {
        "body": "x", "internal": True}), 403, "forbidden")
    # another company's file cannot be attached
    foreign = world.file(company_id=world.company()["id"])
    refused(provider.manager.post(f"/conversations/{conversation}/messages", {
        "body": "x", "file_ids": [foreign["id"]]}), 404, "not_found")

    as_client = ok(provider.client_user.get(f"/conversations/{conversation}"))
    assert [m["body"] for m in as_client["messages"]] == [
        "Voici une photo de la fuite", "Je repasse demain à 9 h"]
    as_worker = ok(provider.worker.get(f"/conversations/{conversation}"))
    assert internal["id"] in [m["id"] for m in as_worker["messages"]]
    assert conversation in [c["id"] for c in ok(provider.client_user.get("/conversations"))["items"]]

    # the client's message went to the worker and the provider, not to the client itself
    def mentioning(address, words):
        return [m for m in smtp.to(address) if words in text_of(m)]
    wait_until(lambda: mentioning(provider.technician["email"], "Voici une photo"), timeout=30,
               message="the worker's email")
    wait_until(lambda: mentioning(provider.company["email"], "Voici une photo"), timeout=30,
               message="the provider's email")
    wait_until(lambda: mentioning(provider.client["email"], "Je repasse demain"), timeout=30,
               message="the client reads the worker's message")
    assert not mentioning(provider.client["email"], "Voici une photo")
    # an internal message never reaches the client
    wait_until(lambda: mentioning(provider.technician["email"], "joint de 40"), timeout=30,
               message="the worker reads the internal message")
    assert not mentioning(provider.client["email"], "joint de 40")


# --- combined mode ----------------------------------------------------------------------

def test_combined_mode_an_incident_with_a_clocking_both_or_neither(world, service_db):
    combined = Provider(world, combined_mode=True)
    visit = combined.visit()
    clocked = ok(combined.worker.post(f"/visits/{visit['id']}/clockings", {
        "kind": "in", "incident": {"reason_id": combined.start_only["id"],
                                   "description": "Personne à l'arrivée"}}), 201)
    assert clocked["incident"]["clocking_id"] == clocked["id"]
    assert clocked["incident"]["moment"] == "start"
    # a start-only reason with a clock-out: neither is written
    refused(combined.worker.post(f"/visits/{visit['id']}/clockings", {
        "kind": "out", "incident": {"reason_id": combined.start_only["id"]}}), 422,
        "reason_not_allowed_now")
    assert service_db("timeclock", "SELECT count(*) FROM clockings WHERE visit_id = :v",
                      v=visit["id"])[0][0] == 1
    out = ok(combined.worker.post(f"/visits/{visit['id']}/clockings", {
        "kind": "out", "incident": {"reason_id": combined.end_only["id"]}}), 201)
    assert out["incident"]["moment"] == "end"
    # declared afterwards, within the window, too
    ok(combined.declare(visit, combined.both), 201)
    assert incidents_of(service_db, visit) == 3

    plain = Provider(world)  # combined mode off
    other = plain.visit()
    refused(plain.worker.post(f"/visits/{other['id']}/clockings", {
        "kind": "in", "incident": {"reason_id": plain.both["id"]}}), 409, "combined_mode_off")
    assert service_db("timeclock", "SELECT count(*) FROM clockings WHERE visit_id = :v",
                      v=other["id"])[0][0] == 0
