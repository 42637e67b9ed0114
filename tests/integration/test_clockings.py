"""Clockings (issue 11, seed 004, docs/timeclock.md) through the gateway,
the bus (timeclock's copy of visits comes from the visit events) and
PostgreSQL: the settings of a company and of a service; clock-in and
clock-out by the visit's worker (manual, QR code printed or rotating,
NFC tag with its counter, geolocation, the allowed delay, the device's
clock); repeated taps; the rules the database holds (one open clock-in
per worker, an out closes an in of the same visit); clients reading what
is shared; managers correcting, validating and rejecting; two real
concurrent clock-ins of one worker make one row. Every refusal writes
nothing."""
import io
import threading
import uuid
from datetime import datetime, timedelta, timezone

import pyotp
import pytest
import segno
from PIL import Image

from conftest import ok, refused, rfc
from fieldwork_common.testing.waiting import wait_until

NOW = datetime.now(timezone.utc).replace(microsecond=0)
PARIS = (48.8566, 2.3522)


class Site:
    """A company with clocking turned on, its admin and two managers, a
    worker and a client with logins, an at_home service and a billable
    validated contract; `visit()` plans one that is happening now and waits
    until timeclock knows it."""

    def __init__(self, world, **settings):
        self.world = world
        self.company = world.company()
        self.client = world.client(self.company)
        self.technician = world.technician(self.company)
        self.type = world.intervention_type("at_home")
        contract = world.contract(self.client, billable=True)
        self.contract = ok(world.admin.request("PUT", f"/contracts/{contract['id']}/state", json={
            "state": "validated", "version": contract["version"]}))
        self.admin = world.login_for("admin", company_id=self.company["id"])
        self.manager = world.login_for("manager", company_id=self.company["id"])
        self.manager2 = world.login_for("manager", company_id=self.company["id"])
        self.worker = world.login_for("technician", technician_id=self.technician["id"])
        self.client_user = world.login_for("client", client_id=self.client["id"])
        self.settings({"clocking_enabled": True, **settings})
        self.home = self.intervention()

    def settings(self, values, type_id=None):
        body = {"values": values, **({"type_id": type_id} if type_id else {})}
        return ok(self.admin.request("PUT", "/timeclock/settings", json=body))

    def intervention(self, site_id=None):
        body = {"client_id": self.client["id"], "equipment_id": self.world.equipment(self.client)["id"],
                "type_id": self.type["id"], "technician_id": self.technician["id"],
                "location": "on_site" if site_id else "at_home", "description": "Entretien",
                **({"site_id": site_id} if site_id else {})}
        return ok(self.world.admin.post("/interventions", body), 201)

    def visit(self, start=None, hours=2, intervention=None):
        start = start or NOW - timedelta(minutes=5)
        [visit] = ok(self.manager.post(f"/interventions/{(intervention or self.home)['id']}/visits", {
            "start_at": rfc(start), "end_at": rfc(start + timedelta(hours=hours)),
            "contract_id": self.contract["id"]}), 201)["items"]
        wait_until(lambda: self.manager.get(f"/visits/{visit['id']}/clockings").status_code == 200,
                   message="timeclock knows the visit")
        return visit

    def clock(self, visit, kind="in", as_user=None, **body):
        return (as_user or self.worker).post(f"/visits/{visit['id']}/clockings",
                                             {"kind": kind, **body})

    def rows(self, visit):
        return ok(self.manager.get(f"/visits/{visit['id']}/clockings"))["items"]

    def place(self, visit):
        [place] = [p for p in ok(self.manager.get(
            f"/clocking-places?client_id={self.client['id']}"))["items"]
            if p["site_id"] is None]
        return place


@pytest.fixture(scope="module")
def site(world):
    return Site(world)


def count(service_db, visit):
    return service_db("timeclock", "SELECT count(*) FROM clockings WHERE visit_id = :v",
                      v=visit["id"])[0][0]


# --- settings ---------------------------------------------------------------------------

def test_settings_of_a_company_and_overrides_of_a_service(world, site):
    fresh = world.company()
    admin = world.login_for("admin", company_id=fresh["id"])
    manager = world.login_for("manager", company_id=fresh["id"])
    answer = ok(manager.get("/timeclock/settings"))
    assert answer["version"] == 0 and answer["values"] == {}
    assert answer["settings"]["clocking_enabled"] is False
    assert answer["settings"]["radius_m"] == 200
    kind = world.intervention_type("on_site")
    company = ok(admin.request("PUT", "/timeclock/settings", json={
        "values": {"clocking_enabled": True, "methods": ["manual", "qr"], "early_minutes": 10}}))
    assert company["version"] == 1 and company["settings"]["methods"] == ["manual", "qr"]
    typed = ok(admin.request("PUT", "/timeclock/settings", json={
        "type_id": kind["id"], "values": {"methods": ["nfc"], "share_with_clients": True}}))
    assert typed["settings"]["methods"] == ["nfc"]
    assert typed["settings"]["early_minutes"] == 10  # the company's, not overridden
    assert typed["settings"]["share_with_clients"] is True
    # null: the service follows the company again
    typed = ok(admin.request("PUT", "/timeclock/settings", json={
        "type_id": kind["id"], "values": {"methods": None}}))
    assert typed["settings"]["methods"] == ["manual", "qr"] and typed["values"] == {
        "share_with_clients": True}
    # a stale version, a bad value, an unknown one, a manager, an unknown service
    refused(admin.request("PUT", "/timeclock/settings", json={
        "values": {"radius_m": 50}, "version": 7}), 409, "conflict")
    refused(admin.request("PUT", "/timeclock/settings", json={"values": {"radius_m": 3}}),
            400, "invalid_input")
    refused(admin.request("PUT", "/timeclock/settings", json={"values": {"colour": "red"}}),
            400, "invalid_input")
    refused(manager.request("PUT", "/timeclock/settings", json={"values": {"radius_m": 50}}),
            403, "forbidden")
    refused(admin.request("PUT", "/timeclock/settings", json={
        "type_id": str(uuid.uuid4()), "values": {"radius_m": 50}}), 404, "not_found")
    assert ok(manager.get("/timeclock/settings"))["settings"]["radius_m"] == 200


# --- clock-in, clock-out ----------------------------------------------------------------

def test_a_worker_clocks_in_and_out_and_a_repeated_tap_returns_the_first(site, service_db):
    visit = site.visit()
    first = ok(site.clock(visit, device_time=rfc(datetime.now(timezone.utc))), 201)
    assert first["kind"] == "in" and first["method"] == "manual" and first["status"] == "recorded"
    assert first["technician_id"] == site.technician["id"] and first["flags"] == []
    assert first["device_time"] and first["server_time"] and first["repeated"] is False
    again = ok(site.clock(visit), 200)
    assert again["id"] == first["id"] and again["repeated"] is True
    out_id = str(uuid.uuid4())
    out = ok(site.clock(visit, "out", id=out_id), 201)
    assert out["id"] == out_id and out["in_id"] == first["id"]
    # the same device id, then a double tap of the out: the same clocking
    assert ok(site.clock(visit, "out", id=out_id), 200)["id"] == out_id
    assert ok(site.clock(visit, "out"), 200)["id"] == out_id
    assert count(service_db, visit) == 2
    # the id of another clocking for another move: refused
    refused(site.clock(visit, "in", id=out_id), 409, "conflict")
    assert [r["id"] for r in site.rows(visit)] == [first["id"], out_id]
    assert ok(site.worker.get(f"/clockings/{out_id}"))["in_id"] == first["id"]
    mine = ok(site.worker.get(f"/clockings?visit_id={visit['id']}"))["items"]
    assert {r["id"] for r in mine} == {first["id"], out_id}


def test_one_open_clock_in_per_worker_and_an_out_needs_an_in_of_the_visit(site, service_db):
    a, b = site.visit(), site.visit()
    opened = ok(site.clock(a), 201)
    body = refused(site.clock(b), 409, "already_clocked_in")
    assert body["details"]["visit_id"] == a["id"]
    body = refused(site.clock(b, "out"), 409, "not_clocked_in")
    assert body["details"]["open_visit_id"] == a["id"]
    assert count(service_db, b) == 0
    ok(site.clock(a, "out"), 201)
    ok(site.clock(b), 201)
    ok(site.clock(b, "out"), 201)
    assert opened["id"] in {r["in_id"] for r in site.rows(a)}


def test_the_database_itself_refuses_an_out_of_another_visit(site, service_db, isolation):
    """The rule is a constraint, not only code: an out naming an in of
    another visit cannot be stored, even written by hand."""
    import sqlalchemy as sa
    from sqlalchemy.exc import IntegrityError
    from fieldwork_common.db import engine_url
    a, b = site.visit(), site.visit()
    opened = ok(site.clock(a), 201)
    ok(site.clock(a, "out"), 201)
    engine = sa.create_engine(engine_url(isolation.database_url("timeclock")))
    try:
        with pytest.raises(IntegrityError):
            with engine.begin() as conn:
                conn.execute(sa.text(
                    "INSERT INTO clockings (id, visit_id, technician_id, company_id, client_id, "
                    "place_id, kind, method, in_id, at, server_time, created_by, created_by_role) "
                    "SELECT gen_random_uuid(), :b, technician_id, company_id, client_id, place_id, "
                    "'out', 'manual', id, now(), now(), 'x', 'technician' FROM clockings "
                    "WHERE id = :in"), {"b": b["id"], "in": opened["id"]})
        with pytest.raises(IntegrityError):  # a second out in force for the same in
            with engine.begin() as conn:
                conn.execute(sa.text(
                    "INSERT INTO clockings (id, visit_id, technician_id, company_id, client_id, "
                    "place_id, kind, method, in_id, at, server_time, created_by, created_by_role) "
                    "SELECT gen_random_uuid(), visit_id, technician_id, company_id, client_id, "
                    "place_id, 'out', 'manual', id, now(), now(), 'x', 'technician' "
                    "FROM clockings WHERE id = :in"), {"in": opened["id"]})
    finally:
        engine.dispose()
    assert count(service_db, b) == 0


def test_the_device_clock_a_future_time_is_refused_a_skewed_one_flagged(site, service_db):
    visit = site.visit()
    refused(site.clock(visit, device_time=rfc(datetime.now(timezone.utc) + timedelta(minutes=10))),
            422, "future_time")
    assert count(service_db, visit) == 0
    skewed = ok(site.clock(visit, device_time=rfc(datetime.now(timezone.utc) - timedelta(hours=3))),
                201)
    assert "device_time_off" in skewed["flags"]
    # it counts at the server's time, not the device's: no back-dating
    assert skewed["at"] == skewed["server_time"] != skewed["device_time"]
    ok(site.clock(visit, "out"), 201)


def test_the_allowed_delay_refuses_or_flags(world, service_db):
    strict = Site(world, outside_window="refuse", early_minutes=15, late_minutes=15)
    tomorrow = strict.visit(start=NOW + timedelta(days=1))
    body = refused(strict.clock(tomorrow), 422, "outside_clocking_window")
    assert body["details"]["earliest"] and body["details"]["latest"]
    assert count(service_db, tomorrow) == 0
    strict.settings({"outside_window": "flag"})
    flagged = ok(strict.clock(tomorrow), 201)
    assert flagged["flags"] == ["outside_window"]
    ok(strict.clock(tomorrow, "out"), 201)
    # a visit that starts now: on time
    assert ok(strict.clock(strict.visit(start=NOW)), 201)["flags"] == []


def test_a_module_turned_off_a_method_not_allowed_a_cancelled_visit(world, site, service_db):
    off = Site(world)
    visit = off.visit()
    off.settings({"clocking_enabled": False})
    body = refused(off.clock(visit), 409, "clocking_disabled")
    assert body["details"]["setting"] == "clocking_enabled"
    off.settings({"clocking_enabled": True, "methods": ["nfc"]})
    refused(off.clock(visit), 422, "method_not_allowed")
    # a service's override allows manual clocking for this service only
    off.settings({"methods": ["manual", "nfc"]}, type_id=off.type["id"])
    ok(off.clock(visit), 201)
    ok(off.clock(visit, "out"), 201)
    later = off.visit(start=NOW + timedelta(days=2))
    reason = ok(off.admin.post("/visit-reasons", {"kind": "cancellation", "label": "Absent"}), 201)
    ok(off.manager.post(f"/visits/{later['id']}/cancel", {"reason_id": reason["id"],
                                                          "version": later["version"]}))
    wait_until(lambda: service_db("timeclock", "SELECT state FROM known_visits WHERE id = :v",
                                  v=later["id"])[0][0] == "cancelled",
               message="the copy follows the cancel")
    refused(off.clock(later), 409, "visit_closed")
    assert count(service_db, later) == 0
    # a client reads, never clocks; another worker's visit does not exist for this one
    refused(off.clock(visit, as_user=off.client_user), 403, "forbidden")
    refused(site.clock(visit), 404, "not_found")


# --- geolocation ------------------------------------------------------------------------

def test_geolocation_inside_outside_imprecise_and_required(world, service_db):
    geo = Site(world, geolocation="required", outside_zone="refuse", radius_m=200)
    visit = geo.visit()
    place = geo.place(visit)
    refused(geo.admin.request("PATCH", f"/clocking-places/{place['id']}", json={
        "lat": PARIS[0], "version": place["version"]}), 400, "invalid_input")
    place = ok(geo.admin.request("PATCH", f"/clocking-places/{place['id']}", json={
        "lat": PARIS[0], "lon": PARIS[1], "label": "Chez Mme Martin", "version": place["version"]}))
    refused(geo.clock(visit), 422, "position_required")
    # about 1.1 km north: outside
    body = refused(geo.clock(visit, lat=PARIS[0] + 0.01, lon=PARIS[1], accuracy_m=20), 422,
                   "out_of_zone")
    assert 1000 < body["details"]["distance_m"] < 1200
    refused(geo.clock(visit, lat=PARIS[0], lon=PARIS[1], accuracy_m=800), 422, "position_imprecise")
    assert count(service_db, visit) == 0
    # 250 m away with 60 m accuracy: within the radius plus the accuracy
    inside = ok(geo.clock(visit, lat=PARIS[0] + 0.00225, lon=PARIS[1], accuracy_m=60), 201)
    assert inside["geo_status"] == "inside" and 240 < inside["distance_m"] < 260
    geo.settings({"outside_zone": "flag"})
    out = ok(geo.clock(visit, "out", lat=PARIS[0] + 0.02, lon=PARIS[1], accuracy_m=10), 201)
    assert out["geo_status"] == "outside" and "out_of_zone" in out["flags"]
    # the client sees only whether the worker was on site, when shared
    refused(geo.client_user.get(f"/visits/{visit['id']}/clockings"), 404, "not_found")
    geo.settings({"share_with_clients": True})
    shared = ok(geo.client_user.get(f"/visits/{visit['id']}/clockings"))["items"]
    assert [(r["kind"], r["on_site"]) for r in shared] == [("in", True), ("out", False)]
    assert all("lat" not in r and "flags" not in r and "distance_m" not in r for r in shared)
    refused(geo.client_user.get("/clockings"), 403, "forbidden")


# --- QR codes ---------------------------------------------------------------------------

def test_a_printed_qr_code_a_rotating_one_and_a_renewed_key(world, site, service_db):
    qr = Site(world, methods=["qr"])
    visit = qr.visit()
    place = qr.place(visit)
    text = qr.admin.get(f"/clocking-places/{place['id']}/qr?format=text")
    assert text.status_code == 200 and text.text.startswith(f"FW1:{place['id']}:")
    svg = qr.admin.get(f"/clocking-places/{place['id']}/qr")
    assert svg.headers["Content-Type"].startswith("image/svg+xml")
    # the image is the QR code of that text
    expected = io.BytesIO()
    segno.make(text.text, error="m").save(expected, kind="svg", scale=8, border=4)
    assert svg.content == expected.getvalue()
    png = qr.admin.get(f"/clocking-places/{place['id']}/qr?format=png&scale=4")
    assert png.headers["Content-Type"] == "image/png"
    assert Image.open(io.BytesIO(png.content)).size[0] > 50
    refused(qr.manager.get(f"/clocking-places/{place['id']}/qr"), 403, "forbidden")

    refused(qr.clock(visit, method="qr"), 400, "invalid_input")  # no code
    refused(qr.clock(visit, method="qr", code=text.text[:-4] + "AAAA"), 422, "qr_invalid")
    other = site.place(site.visit())
    other_code = site.admin.get(f"/clocking-places/{other['id']}/qr?format=text").text
    refused(qr.clock(visit, method="qr", code=other_code), 422, "qr_invalid")
    assert count(service_db, visit) == 0
    clocked = ok(qr.clock(visit, method="qr", code=text.text), 201)
    assert clocked["method"] == "qr"

    # the rotating device: any RFC 6238 app, set up from the otpauth URI
    device = ok(qr.admin.get(f"/clocking-places/{place['id']}/rotating-device"))
    totp = pyotp.parse_uri(device["otpauth_uri"])
    assert totp.secret == device["secret"] and totp.interval == 30
    code = totp.now()
    ok(qr.clock(visit, "out", method="qr", code=code), 201)
    second = qr.visit()
    # used once: the same code for another clocking is refused
    refused(qr.clock(second, method="qr", code=code), 422, "qr_replayed")
    refused(qr.clock(second, method="qr", code="123"), 422, "qr_invalid")

    # a new key: the printed code stops working
    renewed = ok(qr.admin.post(f"/clocking-places/{place['id']}/key", {"version": place["version"]}))
    assert renewed["key_version"] == place["key_version"] + 1
    refused(qr.clock(second, method="qr", code=text.text), 422, "qr_invalid")
    fresh = qr.admin.get(f"/clocking-places/{place['id']}/qr?format=text").text
    assert fresh != text.text
    ok(qr.clock(second, method="qr", code=fresh), 201)
    assert count(service_db, second) == 1


# --- NFC --------------------------------------------------------------------------------

def test_an_nfc_tag_of_the_place_whose_counter_must_go_up(world, site, service_db):
    nfc = Site(world, methods=["nfc"])
    visit = nfc.visit()
    place = nfc.place(visit)
    uid = uuid.uuid4().hex[:14].upper()
    tag = ok(nfc.admin.post(f"/clocking-places/{place['id']}/nfc-tags",
                            {"uid": ":".join(uid[i:i + 2] for i in range(0, 14, 2)),
                             "label": "Entrée"}), 201)
    assert tag["uid"] == uid
    refused(nfc.admin.post(f"/clocking-places/{place['id']}/nfc-tags", {"uid": uid}), 409, "conflict")
    assert [t["id"] for t in ok(nfc.manager.get(f"/clocking-places/{place['id']}/nfc-tags"))["items"]] == [tag["id"]]
    refused(nfc.clock(visit, method="nfc", tag={"uid": "04A1B2C3D4E5F6"}), 422, "nfc_invalid")
    clocked = ok(nfc.clock(visit, method="nfc", tag={"uid": uid, "counter": 5}), 201)
    assert clocked["nfc_tag_id"] == tag["id"]
    refused(nfc.clock(visit, "out", method="nfc", tag={"uid": uid, "counter": 5}), 422,
            "nfc_replayed")
    refused(nfc.clock(visit, "out", method="nfc", tag={"uid": uid, "counter": 4}), 422,
            "nfc_replayed")
    assert count(service_db, visit) == 1
    ok(nfc.clock(visit, "out", method="nfc", tag={"uid": uid, "counter": 6}), 201)
    # another place's tag
    other = site.place(site.visit())
    other_uid = uuid.uuid4().hex[:14].upper()
    ok(site.admin.post(f"/clocking-places/{other['id']}/nfc-tags", {"uid": other_uid}), 201)
    second = nfc.visit()
    refused(nfc.clock(second, method="nfc", tag={"uid": other_uid}), 422, "nfc_invalid")
    # withdrawn: refused too
    ok(nfc.admin.request("DELETE", f"/nfc-tags/{tag['id']}"))
    refused(nfc.clock(second, method="nfc", tag={"uid": uid, "counter": 9}), 422, "nfc_invalid")
    assert count(service_db, second) == 0


# --- managers ---------------------------------------------------------------------------

def test_a_manager_corrects_another_validates_nobody_decides_on_their_own(site, service_db):
    visit = site.visit()
    clock_in = ok(site.clock(visit), 201)
    clock_out = ok(site.clock(visit, "out"), 201)
    earlier = datetime.fromisoformat(clock_in["at"].replace("Z", "+00:00")) - timedelta(minutes=7)
    refused(site.manager.post(f"/clockings/{clock_in['id']}/corrections", {
        "at": rfc(earlier), "version": clock_in["version"]}), 400, "invalid_input")  # no reason
    # a clock-in after its clock-out: refused
    refused(site.manager.post(f"/clockings/{clock_in['id']}/corrections", {
        "at": rfc(datetime.now(timezone.utc) + timedelta(minutes=1)), "reason": "x",
        "version": clock_in["version"]}), 422, "out_before_in")
    corrected = ok(site.manager.post(f"/clockings/{clock_in['id']}/corrections", {
        "at": rfc(earlier), "reason": "Badge oublié, arrivée constatée à 8 h 53",
        "version": clock_in["version"]}), 201)
    assert corrected["supersedes"] == clock_in["id"] and corrected["method"] == "correction"
    assert corrected["flags"] == ["corrected"] and corrected["status"] == "recorded"
    old = ok(site.manager.get(f"/clockings/{clock_in['id']}"))
    assert old["status"] == "superseded" and old["superseded_by"] == corrected["id"]
    assert old["at"] == clock_in["at"]  # the evidence stays as it was
    refused(site.manager.post(f"/clockings/{clock_in['id']}/corrections", {
        "at": rfc(earlier), "reason": "again", "version": old["version"]}), 409,
        "clocking_superseded")
    # the manager who corrected may not validate its own correction
    refused(site.manager.post(f"/clockings/{corrected['id']}/decision", {
        "decision": "validate", "version": corrected["version"]}), 403, "own_clocking")
    validated = ok(site.manager2.post(f"/clockings/{corrected['id']}/decision", {
        "decision": "validate", "version": corrected["version"]}))
    assert validated["status"] == "validated" and validated["decided_by"]
    refused(site.manager2.post(f"/clockings/{corrected['id']}/decision", {
        "decision": "reject", "reason": "x", "version": validated["version"]}), 409,
        "already_decided")
    # a rejection needs a reason, which the worker reads
    refused(site.manager.post(f"/clockings/{clock_out['id']}/decision", {
        "decision": "reject", "version": clock_out["version"]}), 400, "invalid_input")
    refused(site.manager.post(f"/clockings/{clock_out['id']}/decision", {
        "decision": "reject", "reason": "x", "version": clock_out["version"] + 5}), 409, "conflict")
    ok(site.manager.post(f"/clockings/{clock_out['id']}/decision", {
        "decision": "reject", "reason": "Départ non constaté par le client",
        "version": clock_out["version"]}))
    seen = ok(site.worker.get(f"/clockings/{clock_out['id']}"))
    assert seen["status"] == "rejected" and seen["decision_reason"] == "Départ non constaté par le client"
    refused(site.worker.post(f"/clockings/{clock_out['id']}/decision", {
        "decision": "validate", "version": seen["version"]}), 403, "forbidden")
    to_check = ok(site.manager.get(f"/clockings?visit_id={visit['id']}&status=recorded"))["items"]
    assert to_check == []
    assert count(service_db, visit) == 3


def test_staff_record_a_forgotten_clock_out_for_the_worker(site):
    a, b = site.visit(), site.visit()
    clock_in = ok(site.clock(a), 201)
    refused(site.clock(a, "out", as_user=site.manager), 400, "invalid_input")  # no at, no reason
    left = (datetime.fromisoformat(clock_in["at"].replace("Z", "+00:00"))
            + timedelta(seconds=1)).replace(microsecond=0)
    out = ok(site.clock(a, "out", as_user=site.manager, at=rfc(left),
                        reason="Oubli de pointage, départ confirmé par téléphone"), 201)
    assert out["technician_id"] == site.technician["id"] and out["flags"] == ["by_staff"]
    assert out["at"] == rfc(left)
    # the worker is free to clock in elsewhere
    ok(site.clock(b), 201)
    ok(site.clock(b, "out"), 201)
    # a worker never names the time
    refused(site.clock(b, at=rfc(left)), 400, "invalid_input")


def test_two_concurrent_clock_ins_of_one_worker_make_one_row(site, service_db):
    """Real concurrent requests through the gateway's workers, three rounds:
    both answers name the same clocking, the database holds one."""
    for _ in range(3):
        visit = site.visit()
        barrier = threading.Barrier(2)
        answers = []

        def tap():
            barrier.wait()
            answers.append(site.clock(visit))

        threads = [threading.Thread(target=tap) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(a.status_code for a in answers) == [200, 201], [a.text for a in answers]
        assert len({a.json()["id"] for a in answers}) == 1
        assert count(service_db, visit) == 1
        ok(site.clock(visit, "out"), 201)


def test_concurrent_clock_ins_on_two_visits_one_lands(site, service_db):
    a, b = site.visit(), site.visit()
    barrier = threading.Barrier(2)
    answers = {}

    def tap(visit):
        barrier.wait()
        answers[visit["id"]] = site.clock(visit)

    threads = [threading.Thread(target=tap, args=(v,)) for v in (a, b)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(r.status_code for r in answers.values()) == [201, 409]
    assert count(service_db, a) + count(service_db, b) == 1
    [winner] = [v for v in (a, b) if answers[v["id"]].status_code == 201]
    ok(site.clock(winner, "out"), 201)
