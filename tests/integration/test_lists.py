"""GET /interventions through the gateway and the bus: what each role sees,
each filter, cursor pagination, bad input."""
import uuid
from datetime import datetime, timedelta, timezone

import pytest

from conftest import created
from fieldwork_common.pagination import encode_cursor


def build(world, client, technician, count):
    """`count` workshop interventions of one client and technician (one
    equipment, one type), oldest first."""
    equipment = world.equipment(client)
    kind = world.intervention_type("workshop")
    made = []
    for n in range(count):
        made.append(created(world.admin.post("/interventions", {
            "client_id": client["id"], "equipment_id": equipment["id"], "type_id": kind["id"],
            "technician_id": technician["id"], "location": "workshop",
            "description": f"intervention {n}"})))
    return made


@pytest.fixture(scope="module")
def shops(world):
    """Company A: technicians t1, t2, clients c1 (3 interventions with t1), c2 (2 with t2).
    Company B: t3, c3 (2 interventions)."""
    a, b = world.company(), world.company()
    t1, t2, t3 = world.technician(a), world.technician(a), world.technician(b)
    c1, c2, c3 = world.client(a), world.client(a), world.client(b)
    return {
        "a": a, "b": b, "t1": t1, "t2": t2, "t3": t3, "c1": c1, "c2": c2, "c3": c3,
        "c1_items": build(world, c1, t1, 3), "c2_items": build(world, c2, t2, 2),
        "c3_items": build(world, c3, t3, 2),
    }


def listing(user, **params):
    query = "&".join(f"{k}={v}" for k, v in params.items())
    response = user.get("/interventions" + (f"?{query}" if query else ""))
    assert response.status_code == 200, response.text
    return response.json()


def refused(user, **params):
    """A filter on an id the caller may not see is 404, as in a body (issue 9):
    another company's record is not even acknowledged."""
    query = "&".join(f"{k}={v}" for k, v in params.items())
    response = user.get(f"/interventions?{query}")
    assert response.status_code == 404, response.text
    assert set(params) & set(response.json()["error"]["details"])
    return response.json()


def everything(user, **params):
    """Every page, following next_cursor."""
    items, after = [], None
    while True:
        page = listing(user, **params, **({"after": after} if after else {}))
        items += page["items"]
        after = page["next_cursor"]
        if after is None:
            return items


def ids(items):
    return [item["id"] for item in items]


def test_a_client_sees_only_its_own(world, shops):
    client = world.login_for("client", client_id=shops["c1"]["id"])
    seen = everything(client)
    assert sorted(ids(seen)) == sorted(ids(shops["c1_items"]))
    # another client's (even of the same company) is not its to name
    refused(client, client_id=shops["c2"]["id"])
    refused(client, company_id=shops["a"]["id"])
    assert listing(client, client_id=shops["c1"]["id"])["items"] == seen[:50]


def test_a_technician_sees_only_those_assigned_to_it(world, shops):
    technician = world.login_for("technician", technician_id=shops["t2"]["id"])
    assert sorted(ids(everything(technician))) == sorted(ids(shops["c2_items"]))
    refused(technician, technician_id=shops["t1"]["id"])


def test_a_manager_sees_its_companys(world, shops):
    manager = world.login_for("manager", company_id=shops["a"]["id"])
    expected = ids(shops["c1_items"]) + ids(shops["c2_items"])
    assert sorted(ids(everything(manager))) == sorted(expected)
    refused(manager, company_id=shops["b"]["id"])
    refused(manager, client_id=shops["c3"]["id"])


def test_an_admin_of_one_company_sees_that_companys_and_a_global_admin_all(world, shops, admin):
    company_admin = world.login_for("admin", company_id=shops["b"]["id"])
    assert sorted(ids(everything(company_admin))) == sorted(ids(shops["c3_items"]))
    refused(company_admin, company_id=shops["a"]["id"])
    refused(company_admin, technician_id=shops["t1"]["id"])
    # the global admin sees every company's, here filtered per company
    for company, items in (("a", shops["c1_items"] + shops["c2_items"]), ("b", shops["c3_items"])):
        assert sorted(ids(everything(admin, company_id=shops[company]["id"]))) == sorted(ids(items))


def test_each_filter(world, shops, admin):
    a = shops["a"]["id"]
    assert sorted(ids(everything(admin, technician_id=shops["t1"]["id"]))) == sorted(ids(shops["c1_items"]))
    assert sorted(ids(everything(admin, client_id=shops["c2"]["id"]))) == sorted(ids(shops["c2_items"]))

    moved = world.walk_to(shops["c1_items"][0], "in_workshop")
    assert ids(everything(admin, company_id=a, step="in_workshop")) == [moved["id"]]
    assert moved["id"] not in ids(everything(admin, company_id=a, step="picked_up"))

    closed = world.walk_to(shops["c2_items"][0], "awaiting_pickup")
    assert closed["state"] == "closed"
    assert ids(everything(admin, company_id=a, state="closed")) == [closed["id"]]
    assert closed["id"] not in ids(everything(admin, company_id=a, state="open"))
    assert ids(everything(admin, company_id=a, step="awaiting_pickup", state="closed")) == [closed["id"]]
    # the state follows from the step: a step with another state lists nothing
    assert listing(admin, company_id=a, step="awaiting_pickup", state="open") == {
        "items": [], "next_cursor": None}


def test_created_between_includes_from_and_excludes_to(shops, admin):
    mine = sorted(shops["c1_items"], key=lambda i: i["created_at"])
    start, end = mine[1]["created_at"], mine[2]["created_at"]
    found = everything(admin, client_id=shops["c1"]["id"], created_from=quote(start),
                       created_to=quote(end))
    assert ids(found) == [mine[1]["id"]]
    later = everything(admin, client_id=shops["c1"]["id"], created_from=quote(start))
    assert sorted(ids(later)) == sorted([mine[1]["id"], mine[2]["id"]])
    before = datetime.fromisoformat(mine[0]["created_at"]) - timedelta(days=1)
    assert everything(admin, client_id=shops["c1"]["id"], created_to=quote(before.isoformat())) == []


def quote(moment):
    return moment.replace("+", "%2B")


def test_pages_follow_each_other_without_duplicates_or_gaps(shops, admin):
    a = shops["a"]["id"]
    expected = sorted(shops["c1_items"] + shops["c2_items"],
                      key=lambda i: (i["created_at"], i["id"]), reverse=True)
    pages, after = [], None
    while True:
        page = listing(admin, company_id=a, limit=2, **({"after": after} if after else {}))
        pages.append(ids(page["items"]))
        after = page["next_cursor"]
        if after is None:
            break
    assert [len(p) for p in pages] == [2, 2, 1]
    assert [i for p in pages for i in p] == ids(expected)  # newest first, each once


def test_the_default_page_is_50_and_items_are_whole_interventions(shops, admin):
    page = listing(admin, company_id=shops["b"]["id"])
    assert page["next_cursor"] is None
    item = page["items"][0]
    assert {"id", "company_id", "client_id", "technician_id", "step", "state", "created_at",
            "version", "pickup_at"} <= set(item)


@pytest.mark.parametrize("query", [
    "after=not-a-cursor", "after=" + encode_cursor(datetime(2026, 1, 1, tzinfo=timezone.utc), "x"),
    "step=on_the_moon", "state=lost", "company_id=42", "technician_id=x", "client_id=",
    "created_from=yesterday", "created_from=2026-01-01T00:00:00",  # no offset
    "limit=0", "limit=201", "limit=ten", "colour=red",
])
def test_bad_filters_and_cursors_are_400(admin, query):
    response = admin.get(f"/interventions?{query}")
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"]


def test_an_unknown_company_is_404(admin):
    refused(admin, company_id=str(uuid.uuid4()))
