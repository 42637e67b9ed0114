"""The calendar of pickup and delivery dates (JSON) and the ICS feeds
calendar apps subscribe to, through the gateway and the bus."""
from datetime import datetime, timedelta, timezone
from urllib.parse import quote, urlsplit

import pytest

from conftest import rfc
from fieldwork_common import ics

NOW = datetime.now(timezone.utc).replace(second=0, microsecond=0)
P1 = NOW + timedelta(days=10, hours=3)      # pickup of i1 (t1) and i3 (company B)
P2 = NOW + timedelta(days=3)                # delivery of i2 (t2)


@pytest.fixture(scope="module")
def shop(world):
    a, b = world.company(), world.company()
    t1, t2, t3 = world.technician(a), world.technician(a), world.technician(b)
    c1, c3 = world.client(a), world.client(b)
    i1 = world.walk_to(world.intervention(client=c1, technician=t1), "awaiting_pickup",
                       pickup_at=rfc(P1), pickup_kind="pickup")
    i2 = world.walk_to(world.intervention(client=c1, technician=t2), "awaiting_pickup",
                       pickup_at=rfc(P2), pickup_kind="delivery")
    i3 = world.walk_to(world.intervention(client=c3, technician=t3), "awaiting_pickup",
                       pickup_at=rfc(P1))
    i4 = world.walk_to(world.intervention(client=c1, technician=t1), "in_workshop")  # no date
    return {"a": a, "b": b, "t1": t1, "t2": t2, "t3": t3, "c1": c1, "c3": c3,
            "i1": i1, "i2": i2, "i3": i3, "i4": i4,
            "manager_a": world.login_for("manager", company_id=a["id"]),
            "tech_1": world.login_for("technician", technician_id=t1["id"])}


def window(user, start=NOW, end=NOW + timedelta(days=30), **params):
    query = f"from={quote(rfc(start))}&to={quote(rfc(end))}" + "".join(
        f"&{k}={v}" for k, v in params.items())
    return user.get(f"/calendar?{query}")


def items(user, **kw):
    response = window(user, **kw)
    assert response.status_code == 200, response.text
    return response.json()["items"]


def ids(found):
    return [item["intervention_id"] for item in found]


def test_the_calendar_lists_pickup_dates_in_time_order_with_what_to_hand_back(admin, shop):
    found = items(admin, company_id=shop["a"]["id"])
    assert ids(found) == [shop["i2"]["id"], shop["i1"]["id"]]
    i1 = shop["i1"]
    assert found[1] == {
        "intervention_id": i1["id"], "reference": i1["id"][:8].upper(),
        "pickup_at": rfc(P1), "pickup_kind": "pickup", "step": "awaiting_pickup",
        "state": "closed", "company_id": shop["a"]["id"], "technician_id": shop["t1"]["id"],
        "client": {"id": shop["c1"]["id"], "name": shop["c1"]["name"]},
        "equipment": {"kind": "laptop", "brand": "Lenovo", "model": "T14"}}
    assert found[0]["pickup_kind"] == "delivery"


def test_each_role_sees_only_its_dates(world, admin, shop):
    assert ids(items(shop["tech_1"])) == [shop["i1"]["id"]]
    assert ids(items(admin, technician_id=shop["t2"]["id"])) == [shop["i2"]["id"]]
    assert ids(items(shop["manager_a"])) == [shop["i2"]["id"], shop["i1"]["id"]]
    # another company's is not its to name (issue 9): 404, as in a body
    foreign = window(shop["manager_a"], company_id=shop["b"]["id"])
    assert foreign.status_code == 404 and foreign.json()["error"]["details"] == {
        "company_id": shop["b"]["id"]}
    client_1 = world.login_for("client", client_id=shop["c1"]["id"])
    assert ids(items(client_1)) == [shop["i2"]["id"], shop["i1"]["id"]]
    client_3 = world.login_for("client", client_id=shop["c3"]["id"])
    assert ids(items(client_3)) == [shop["i3"]["id"]]
    admin_b = world.login_for("admin", company_id=shop["b"]["id"])
    assert ids(items(admin_b)) == [shop["i3"]["id"]]


def test_from_is_included_and_to_excluded(admin, shop):
    a = shop["a"]["id"]
    assert ids(items(admin, start=P1, end=P1 + timedelta(hours=1), company_id=a)) == [shop["i1"]["id"]]
    assert items(admin, start=P1 - timedelta(hours=1), end=P1, company_id=a) == []
    assert len(items(admin, start=NOW, end=NOW + timedelta(days=366), company_id=a)) == 2


@pytest.mark.parametrize("query", [
    "from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z",
    "from=2026-01-01T00:00:00Z&to=2026-01-01T00:00:00Z",
    "from=2026-01-01T00:00:00Z&to=2027-01-03T00:00:00Z",      # 367 days
    "from=2026-01-01T00:00:00Z",
    "to=2026-01-01T00:00:00Z",
    "from=2026-01-01T00:00:00&to=2026-02-01T00:00:00Z",        # no offset
    "from=soon&to=later",
    "from=2026-01-01T00:00:00Z&to=2026-02-01T00:00:00Z&technician_id=bob",
    "from=2026-01-01T00:00:00Z&to=2026-02-01T00:00:00Z&colour=red",
])
def test_a_bad_range_is_400(admin, query):
    response = admin.get(f"/calendar?{query}")
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"]


# --- ICS feeds -----------------------------------------------------------------------

def subscribe(user, **subject):
    return user.post("/calendar/feeds", subject)


def feed_path(url):
    return urlsplit(url).path


def read_feed(anonymous, url):
    response = anonymous.get(feed_path(url))
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("text/calendar")
    return {str(event["UID"]): event for event in ics.parse(response.content)}


def test_a_company_feed_carries_one_event_per_pickup_date(anonymous, shop):
    response = subscribe(shop["manager_a"], company_id=shop["a"]["id"])
    assert response.status_code == 201, response.text
    feed = response.json()
    assert feed["kind"] == "company" and feed["subject_id"] == shop["a"]["id"]
    assert feed["url"].endswith(".ics") and "/calendar/feeds/" in feed["url"]
    events = read_feed(anonymous, feed["url"])       # no token: calendar apps cannot send one
    i1, i2 = shop["i1"], shop["i2"]
    assert set(events) == {f"{i1['id']}-pickup@fieldwork", f"{i2['id']}-pickup@fieldwork"}
    event = events[f"{i1['id']}-pickup@fieldwork"]
    assert event.decoded("DTSTART") == P1
    assert int(event["SEQUENCE"]) == i1["version"]
    assert i1["id"][:8].upper() in str(event["SUMMARY"])
    assert shop["c1"]["name"] in str(event["SUMMARY"])


def test_a_changed_intervention_keeps_its_uid_with_a_higher_sequence(world, admin, anonymous, shop):
    feed = subscribe(shop["tech_1"], technician_id=shop["t1"]["id"]).json()
    uid = f"{shop['i1']['id']}-pickup@fieldwork"
    before = read_feed(anonymous, feed["url"])
    assert set(before) == {uid}                      # i4 has no date; i2 is t2's
    current = admin.get(f"/interventions/{shop['i1']['id']}").json()
    changed = admin.request("PATCH", f"/interventions/{shop['i1']['id']}",
                            json={"description": "Ready, charger included"},
                            headers={"If-Match": f'"{current["version"]}"'})
    assert changed.status_code == 200, changed.text
    after = read_feed(anonymous, feed["url"])
    assert int(after[uid]["SEQUENCE"]) == changed.json()["version"] > int(before[uid]["SEQUENCE"])


def test_who_may_subscribe_to_which_feed(world, shop):
    tech_1, manager_a = shop["tech_1"], shop["manager_a"]
    assert subscribe(tech_1, technician_id=shop["t2"]["id"]).status_code == 404
    assert subscribe(tech_1, company_id=shop["a"]["id"]).status_code == 403
    assert subscribe(manager_a, technician_id=shop["t2"]["id"]).status_code == 201
    # another company's technician or company: refused as unknown
    assert subscribe(manager_a, technician_id=shop["t3"]["id"]).status_code == 404
    assert subscribe(manager_a, company_id=shop["b"]["id"]).status_code == 404
    admin_b = world.login_for("admin", company_id=shop["b"]["id"])
    assert subscribe(admin_b, technician_id=shop["t1"]["id"]).status_code == 404
    assert subscribe(admin_b, technician_id=shop["t3"]["id"]).status_code == 201
    client = world.login_for("client", client_id=shop["c1"]["id"])
    assert subscribe(client, company_id=shop["a"]["id"]).status_code == 403
    for body in ({}, {"technician_id": shop["t1"]["id"], "company_id": shop["a"]["id"]},
                 {"technician_id": "bob"}, {"company_id": shop["a"]["id"], "colour": "red"}):
        response = manager_a.post("/calendar/feeds", body)
        assert response.status_code == 400, (body, response.text)


def test_a_revoked_or_unknown_feed_is_404(world, admin, anonymous, shop):
    feed = subscribe(shop["manager_a"], company_id=shop["a"]["id"]).json()
    path = feed_path(feed["url"])
    other_manager = world.login_for("manager", company_id=shop["a"]["id"])
    assert other_manager.request("DELETE", path).status_code == 404   # not its creator
    assert shop["tech_1"].request("DELETE", path).status_code == 404
    assert anonymous.request("DELETE", path).status_code == 401
    response = shop["manager_a"].request("DELETE", path)
    assert response.status_code == 204, response.text
    assert anonymous.get(path).status_code == 404
    assert shop["manager_a"].request("DELETE", path).status_code == 404
    # an admin of the company revokes anyone's feed
    tech_feed = subscribe(shop["tech_1"], technician_id=shop["t1"]["id"]).json()
    assert admin.request("DELETE", feed_path(tech_feed["url"])).status_code == 204
    assert anonymous.get(feed_path(tech_feed["url"])).status_code == 404
    assert anonymous.get("/calendar/feeds/not-a-feed-token-at-all.ics").status_code == 404
    assert anonymous.get("/calendar/feeds/x.ics").status_code == 404
