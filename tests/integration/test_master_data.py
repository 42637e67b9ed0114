"""Master data through the gateway (issue 4): companies, technicians,
clients, sites, equipment, contracts, intervention types, the catalog of
statuses and the settings. Create, read, update with the version read,
deactivate, delete only what nothing references, list with filters and
cursor pagination; admins configure, managers read, technicians and
clients see what concerns them (anything else: 404)."""
import uuid

import pytest

from conftest import ok
from fieldwork_common.testing.waiting import wait_until


def error(response, status, code=None):
    assert response.status_code == status, response.text
    body = response.json()["error"]
    if code:
        assert body["code"] == code, body
    return body


def events(service_db, aggregate_id, event_type):
    """The data of the events recorded (outbox) for one record, oldest first."""
    return [row[0] for row in service_db(
        "interventions", "SELECT envelope->'data' FROM outbox WHERE aggregate_id = :a "
        "AND event_type = :t ORDER BY id", a=aggregate_id, t=event_type)]


def ids(response):
    return [item["id"] for item in ok(response)["items"]]


def delete(user, path):
    return user.request("DELETE", path)


# --- companies ------------------------------------------------------------------

def test_a_company_has_contact_details_and_the_survey_option(world, admin, service_db):
    company = world.company(email="shop@example.test", phone="+33 1 23 45 67 89",
                            address="3 rue du Port, Brest", survey_enabled=True)
    assert {k: company[k] for k in ("email", "phone", "address", "survey_enabled", "active",
                                    "version")} == {
        "email": "shop@example.test", "phone": "+33 1 23 45 67 89",
        "address": "3 rue du Port, Brest", "survey_enabled": True, "active": True, "version": 1}
    read = admin.get(f"/companies/{company['id']}")
    assert ok(read) == company
    assert read.headers["ETag"] == '"1"'
    assert events(service_db, company["id"], "company.created") == [company]
    plain = world.company()
    assert plain["survey_enabled"] is False and plain["email"] is None


def test_a_company_is_updated_with_the_version_read(world, admin, service_db):
    company = world.company()
    path = f"/companies/{company['id']}"
    updated = ok(admin.request("PATCH", path, json={"survey_enabled": True, "phone": "0102"},
                               headers={"If-Match": '"1"'}))
    assert updated["survey_enabled"] is True and updated["phone"] == "0102"
    assert updated["version"] == 2 and updated["name"] == company["name"]

    stale = error(world.patch(path, 1, name="Lost update"), 409, "conflict")
    assert stale["details"] == {"current_version": 2, "your_version": 1}
    error(admin.request("PATCH", path, json={"name": "No version"}), 428, "precondition_required")
    assert ok(admin.get(path))["name"] == company["name"]

    [event] = wait_until(lambda: events(service_db, company["id"], "company.updated"),
                         message="company.updated recorded")
    assert event == updated


def test_bad_company_input_is_refused(world, admin):
    error(admin.post("/companies", {"name": "X", "colour": "#ffffff"}), 400, "invalid_input")
    error(admin.post("/companies", {"name": "X", "email": "not an email"}), 400)
    error(admin.post("/companies", {"name": ""}), 400)
    company = world.company()
    error(world.patch(f"/companies/{company['id']}", 1, created_at="2020-01-01T00:00:00Z"), 400)
    error(world.patch(f"/companies/{company['id']}", 1), 400)  # nothing to change
    error(admin.get("/companies/not-a-uuid"), 404, "not_found")
    error(admin.get(f"/companies/{uuid.uuid4()}"), 404, "not_found")


def test_a_deactivated_company_stays_readable_and_filters_out(world, admin):
    tag = uuid.uuid4().hex[:8]
    kept = world.company(name=f"Keep {tag}")
    gone = world.company(name=f"Gone {tag}")
    deactivated = ok(world.patch(f"/companies/{gone['id']}", 1, active=False))
    assert deactivated["active"] is False
    assert ok(admin.get(f"/companies/{gone['id']}"))["active"] is False
    assert ids(admin.get(f"/companies?q={tag}")) == [gone["id"], kept["id"]]  # newest first
    assert ids(admin.get(f"/companies?q={tag}&active=true")) == [kept["id"]]
    assert ids(admin.get(f"/companies?q={tag.upper()}&active=false")) == [gone["id"]]
    # a deactivated company takes no new client
    error(admin.post("/clients", {"name": "C", "email": "c@example.test", "company_id": gone["id"]}),
          400, "invalid_input")


def test_companies_are_listed_a_page_at_a_time(world, admin):
    tag = uuid.uuid4().hex[:8]
    made = [world.company(name=f"Paged {tag} {n}") for n in range(3)]
    first = ok(admin.get(f"/companies?q={tag}&limit=2"))
    assert [c["id"] for c in first["items"]] == [made[2]["id"], made[1]["id"]]
    assert first["next_cursor"]
    second = ok(admin.get(f"/companies?q={tag}&limit=2&after={first['next_cursor']}"))
    assert [c["id"] for c in second["items"]] == [made[0]["id"]]
    assert second["next_cursor"] is None
    error(admin.get("/companies?after=garbage!"), 400, "invalid_input")
    error(admin.get("/companies?limit=0"), 400)
    error(admin.get("/companies?colour=red"), 400)


def test_a_company_is_deleted_only_when_nothing_references_it(world, admin, service_db):
    used = world.company()
    world.client(used)
    refused = error(delete(admin, f"/companies/{used['id']}"), 409, "conflict")
    assert refused["details"]["referenced_by"] == {"clients": 1}
    assert "deactivate" in refused["message"]

    unused = world.company()
    ok(delete(admin, f"/companies/{unused['id']}"), 204)
    error(admin.get(f"/companies/{unused['id']}"), 404)
    assert events(service_db, unused["id"], "company.deleted") == [{"id": unused["id"]}]
    error(delete(admin, f"/companies/{unused['id']}"), 404)


# --- statuses -----------------------------------------------------------------------

def test_the_catalog_of_statuses(world, admin, service_db):
    status = world.status(label="Waiting for parts", colour="#FFAA00", position=3)
    assert {k: status[k] for k in ("label", "colour", "position", "active", "version")} == {
        "label": "Waiting for parts", "colour": "#ffaa00", "position": 3, "active": True, "version": 1}
    path = f"/statuses/{status['id']}"
    assert ok(admin.get(path)) == status
    assert events(service_db, status["id"], "status.created") == [status]

    changed = ok(world.patch(path, 1, colour="#00aa00", label="Parts ordered"))
    assert changed["colour"] == "#00aa00" and changed["version"] == 2
    assert events(service_db, status["id"], "status.updated") == [changed]
    error(world.patch(path, 1, position=1), 409)
    error(world.patch(path, 2, colour="green"), 400, "invalid_input")
    error(admin.post("/statuses", {"label": "Bad", "colour": "#12345"}), 400, "invalid_input")
    error(admin.post("/statuses", {"label": "Bad", "color": "#123456"}), 400)  # unknown field

    ok(delete(admin, path), 204)
    error(admin.get(path), 404)
    assert events(service_db, status["id"], "status.deleted") == [{"id": status["id"]}]


def test_a_status_shown_by_an_intervention_is_deactivated_not_deleted(world, admin):
    status = world.status()
    intervention = world.walk_to(world.intervention(), "in_workshop")
    ok(admin.request("PUT", f"/interventions/{intervention['id']}/status",
                     json={"status_id": status["id"]}))
    refused = error(delete(admin, f"/statuses/{status['id']}"), 409, "conflict")
    assert refused["details"]["referenced_by"] == {"interventions": 1}
    assert ok(world.patch(f"/statuses/{status['id']}", 1, active=False))["active"] is False
    assert ok(admin.get(f"/statuses/{status['id']}"))["active"] is False


def test_statuses_are_listed_by_position_then_label_a_page_at_a_time(world, admin):
    low = -999000  # before any other status of this run
    b = world.status(label="B second", position=low)
    a = world.status(label="A first", position=low)
    c = world.status(label="A third", position=low + 1)
    off = world.status(label="Off", position=low + 1, active=False)
    first = ok(admin.get("/statuses?limit=2"))
    assert [s["id"] for s in first["items"]] == [a["id"], b["id"]]
    second = ok(admin.get(f"/statuses?limit=2&after={first['next_cursor']}"))
    assert [s["id"] for s in second["items"]] == [c["id"], off["id"]]
    active = [s["id"] for s in ok(admin.get("/statuses?active=true&limit=200"))["items"]]
    assert c["id"] in active and off["id"] not in active
    error(admin.get("/statuses?after=bm90LWEtY3Vyc29y"), 400, "invalid_input")


def test_every_role_reads_the_catalog_and_only_admins_change_it(world):
    status = world.status()
    company = world.company()
    for user in (world.login_for("manager", company_id=company["id"]),
                 world.login_for("technician", technician_id=world.technician(company)["id"]),
                 world.login_for("client", client_id=world.client(company)["id"])):
        assert ok(user.get(f"/statuses/{status['id']}"))["id"] == status["id"]
        assert ok(user.get("/statuses"))["items"]
        error(user.post("/statuses", {"label": "Mine"}), 403, "forbidden")
        error(world.patch(f"/statuses/{status['id']}", 1, as_user=user, label="Mine"), 403)
    company_admin = world.login_for("admin", company_id=company["id"])
    error(company_admin.post("/statuses", {"label": "Mine"}), 403)  # the catalog is global


# --- technicians, clients, sites, equipment ------------------------------------------------

def test_a_technician_works_for_other_companies_too(world, admin, service_db):
    home, other, third = world.company(), world.company(), world.company()
    technician = created_ok(admin.post("/technicians", {
        "name": "Ana", "email": "ana@example.test", "phone": "0601", "company_id": home["id"],
        "company_ids": [other["id"], home["id"]]}))
    assert technician["company_ids"] == [home["id"], other["id"]]
    assert events(service_db, technician["id"], "technician.created") == [technician]
    assert technician["id"] in ids(admin.get(f"/technicians?company_id={other['id']}"))
    assert technician["id"] not in ids(admin.get(f"/technicians?company_id={third['id']}"))
    manager = world.login_for("manager", company_id=other["id"])
    assert ok(manager.get(f"/technicians/{technician['id']}"))["id"] == technician["id"]

    moved = ok(world.patch(f"/technicians/{technician['id']}", 1, company_ids=[third["id"]]))
    assert moved["company_ids"] == [home["id"], third["id"]]
    error(manager.get(f"/technicians/{technician['id']}"), 404)
    error(world.patch(f"/technicians/{technician['id']}", 2, company_ids=[str(uuid.uuid4())]), 404)
    rehomed = ok(world.patch(f"/technicians/{technician['id']}", 2, company_id=third["id"]))
    assert (rehomed["company_id"], rehomed["company_ids"]) == (third["id"], [third["id"]])
    error(admin.post("/technicians", {"name": "X", "email": "x@example.test",
                                      "company_id": str(uuid.uuid4())}), 404)


def test_a_technician_and_a_client_are_deleted_only_unreferenced(world, admin):
    company = world.company()
    technician, client = world.technician(company), world.client(company)
    intervention = world.intervention(client=client, technician=technician)
    refused = error(delete(admin, f"/technicians/{technician['id']}"), 409)
    assert refused["details"]["referenced_by"] == {"interventions": 1}
    refused = error(delete(admin, f"/clients/{client['id']}"), 409)
    assert refused["details"]["referenced_by"] == {"equipment": 1, "interventions": 1}
    ok(world.patch(f"/technicians/{technician['id']}", 1, active=False))
    assert ok(admin.get(f"/interventions/{intervention['id']}"))["technician_id"] == technician["id"]
    assert ok(admin.get(f"/technicians/{technician['id']}"))["active"] is False

    with_login = world.technician(company)
    world.login_for("technician", technician_id=with_login["id"])
    refused = error(delete(admin, f"/technicians/{with_login['id']}"), 409)
    assert refused["details"]["referenced_by"] == {"users": 1}

    spare_technician, spare_client = world.technician(company), world.client(company)
    ok(delete(admin, f"/technicians/{spare_technician['id']}"), 204)
    ok(delete(admin, f"/clients/{spare_client['id']}"), 204)
    error(admin.get(f"/clients/{spare_client['id']}"), 404)


def test_clients_are_updated_and_listed_by_company(world, admin, service_db):
    company, other = world.company(), world.company()
    client = world.client(company)
    also = world.client(company)
    foreign = world.client(other)
    changed = ok(world.patch(f"/clients/{client['id']}", 1, phone="0700", address="Quimper",
                             locale="en"))
    assert (changed["phone"], changed["address"], changed["locale"]) == ("0700", "Quimper", "en")
    assert events(service_db, client["id"], "client.updated") == [changed]
    error(world.patch(f"/clients/{client['id']}", 2, locale="de"), 400)
    error(world.patch(f"/clients/{client['id']}", 2, company_id=other["id"]), 400)  # not movable
    listed = ids(admin.get(f"/clients?company_id={company['id']}"))
    assert listed == [also["id"], client["id"]] and foreign["id"] not in listed
    assert ids(admin.get(f"/clients?company_id={company['id']}&q={client['name'][-8:]}")) == [client["id"]]


def test_sites_and_equipment_belong_to_one_client(world, admin, service_db):
    company = world.company()
    client, neighbour = world.client(company), world.client(company)
    site = world.site(client)
    assert site["client_id"] == client["id"] and site["active"] is True
    assert events(service_db, site["id"], "site.created") == [site]
    foreign_site = world.site(neighbour)

    body = {"client_id": client["id"], "kind": "printer"}
    equipment = created_ok(admin.post("/equipment", {**body, "site_id": site["id"]}))
    assert equipment["site_id"] == site["id"]
    refused = error(admin.post("/equipment", {**body, "site_id": foreign_site["id"]}), 400)
    assert refused["details"] == {"site_id": foreign_site["id"], "client_id": client["id"]}
    error(world.patch(f"/equipment/{equipment['id']}", 1, site_id=foreign_site["id"]), 400)
    unplaced = created_ok(admin.post("/equipment", body))

    assert ids(admin.get(f"/equipment?site_id={site['id']}")) == [equipment["id"]]
    assert ids(admin.get(f"/equipment?client_id={client['id']}")) == [unplaced["id"], equipment["id"]]
    assert ids(admin.get(f"/sites?client_id={client['id']}")) == [site["id"]]

    refused = error(delete(admin, f"/sites/{site['id']}"), 409)
    assert refused["details"]["referenced_by"] == {"equipment": 1}
    moved = ok(world.patch(f"/equipment/{equipment['id']}", 1, site_id=None, model="LaserJet"))
    assert moved["site_id"] is None and moved["model"] == "LaserJet"
    ok(world.patch(f"/sites/{site['id']}", 1, active=False))
    assert ids(admin.get(f"/sites?client_id={client['id']}&active=false")) == [site["id"]]
    error(admin.post("/equipment", {**body, "site_id": site["id"]}), 400)  # deactivated
    ok(delete(admin, f"/sites/{site['id']}"), 204)
    ok(delete(admin, f"/equipment/{unplaced['id']}"), 204)
    assert events(service_db, unplaced["id"], "equipment.deleted") == [{"id": unplaced["id"]}]


# --- contracts ----------------------------------------------------------------------------

def test_a_contract_goes_from_draft_to_ended(world, admin, service_db):
    company = world.company()
    client = world.client(company)
    contract = world.contract(client, billable=False, starts_on="2026-01-01", ends_on="2026-12-31")
    assert (contract["state"], contract["company_id"], contract["billable"]) == ("draft", company["id"], False)
    assert (contract["starts_on"], contract["ends_on"]) == ("2026-01-01", "2026-12-31")
    path = f"/contracts/{contract['id']}"

    skipped = error(admin.request("PUT", f"{path}/state", json={"state": "active"}), 409, "conflict")
    assert skipped["details"]["allowed"] == ["validated"]
    for state in ("validated", "active", "ended"):
        moved = ok(admin.request("PUT", f"{path}/state", json={"state": state}))
        assert moved["state"] == state
    back = error(admin.request("PUT", f"{path}/state", json={"state": "active"}), 409)
    assert back["details"]["allowed"] == []
    error(admin.request("PUT", f"{path}/state", json={"state": "signed"}), 400)
    states = [e["state"] for e in events(service_db, contract["id"], "contract.updated")]
    assert states == ["validated", "active", "ended"]
    error(world.patch(path, 4, state="draft"), 400)  # the state has its own route


def test_contracts_are_checked_and_listed(world, admin):
    company, other = world.company(), world.company()
    client = world.client(company)
    error(admin.post("/contracts", {"client_id": client["id"], "reference": "R",
                                    "starts_on": "2026-05-01", "ends_on": "2026-04-01"}), 400)
    error(admin.post("/contracts", {"client_id": client["id"], "reference": "R",
                                    "starts_on": "tomorrow"}), 400)
    billable = world.contract(client)
    # a contract is its client's company's (issue 9)
    refused = error(admin.post("/contracts", {"client_id": client["id"], "reference": "R",
                                              "company_id": other["id"]}), 400)
    assert refused["details"] == {"company_id": other["id"], "client_company_id": company["id"]}
    free = world.contract(client, billable=False, company_id=company["id"])
    assert free["company_id"] == company["id"] and billable["billable"] is True
    ok(admin.request("PUT", f"/contracts/{free['id']}/state", json={"state": "validated"}))
    assert ids(admin.get(f"/contracts?client_id={client['id']}")) == [free["id"], billable["id"]]
    assert ids(admin.get(f"/contracts?client_id={client['id']}&billable=true")) == [billable["id"]]
    assert ids(admin.get(f"/contracts?client_id={client['id']}&state=validated")) == [free["id"]]
    changed = ok(world.patch(f"/contracts/{billable['id']}", 1, ends_on="2027-06-30"))
    assert changed["ends_on"] == "2027-06-30"
    error(world.patch(f"/contracts/{billable['id']}", 2, starts_on="2028-01-01"), 400)
    ok(delete(admin, f"/contracts/{billable['id']}"), 204)


# --- intervention types ------------------------------------------------------------------

def test_a_used_type_keeps_its_location_and_is_not_deleted(world, admin, service_db):
    intervention = world.intervention()
    path = f"/intervention-types/{intervention['type_id']}"
    kind = ok(admin.get(path))
    refused = error(world.patch(path, kind["version"], location="at_home"), 409)
    assert refused["details"]["location"] == "workshop"
    renamed = ok(world.patch(path, kind["version"], name="Bench repair"))
    assert renamed["name"] == "Bench repair" and renamed["location"] == "workshop"
    assert events(service_db, kind["id"], "intervention_type.updated") == [renamed]
    refused = error(delete(admin, path), 409)
    assert refused["details"]["referenced_by"] == {"interventions": 1}

    unused = world.intervention_type("on_site")
    moved = ok(world.patch(f"/intervention-types/{unused['id']}", 1, location="at_home"))
    assert moved["location"] == "at_home"
    assert unused["id"] in ids(admin.get("/intervention-types?location=at_home&limit=200"))
    assert unused["id"] not in ids(admin.get("/intervention-types?location=on_site&limit=200"))
    ok(world.patch(f"/intervention-types/{unused['id']}", 2, active=False))
    assert unused["id"] not in ids(admin.get("/intervention-types?active=true&limit=200"))
    ok(delete(admin, f"/intervention-types/{unused['id']}"), 204)
    error(admin.get("/intervention-types?location=moon"), 400)


# --- settings ----------------------------------------------------------------------------

def test_multi_company_off_needs_a_main_company(world, admin, service_db):
    company = world.company()
    manager = world.login_for("manager", company_id=company["id"])
    settings = ok(manager.get("/settings"))
    assert settings["multi_company"] is True
    refused = error(admin.request("PUT", "/settings", json={"multi_company": False}), 400)
    assert "main_company_id" in refused["details"]
    error(admin.request("PUT", "/settings", json={"multi_company": False,
                                                  "main_company_id": str(uuid.uuid4())}), 404)
    error(manager.request("PUT", "/settings", json={"multi_company": True}), 403)
    company_admin = world.login_for("admin", company_id=company["id"])
    error(company_admin.request("PUT", "/settings", json={"multi_company": True}), 403)
    technician = world.login_for("technician", technician_id=world.technician(company)["id"])
    error(technician.get("/settings"), 403)
    try:
        single = ok(admin.request("PUT", "/settings", json={
            "multi_company": False, "main_company_id": company["id"]}))
        assert single["multi_company"] is False and single["main_company_id"] == company["id"]
        assert ok(admin.get("/settings")) == single
        assert events(service_db, "settings", "settings.updated")[-1] == single
        # the main company cannot be deactivated nor deleted meanwhile
        error(world.patch(f"/companies/{company['id']}", 1, active=False), 409)
        error(delete(admin, f"/companies/{company['id']}"), 409)
        error(admin.request("PUT", "/settings", json={"multi_company": True,
                                                      "version": single["version"] - 1}), 409)
    finally:
        ok(admin.request("PUT", "/settings", json={"multi_company": True}))


# --- who sees what ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def two_shops(world, admin):
    """Two companies, each with a technician, a client with a site, an
    equipment and a contract."""
    shops = []
    for _ in range(2):
        company = world.company()
        client = world.client(company)
        site = world.site(client)
        shops.append({
            "company": company, "client": client, "site": site,
            "technician": world.technician(company),
            "equipment": created_ok(admin.post("/equipment", {
                "client_id": client["id"], "kind": "laptop", "site_id": site["id"]})),
            "contract": world.contract(client)})
    shops[0]["type"] = world.intervention_type()
    shops[0]["status"] = world.status()
    return shops


PATHS = {"company": "/companies", "client": "/clients", "site": "/sites",
         "technician": "/technicians", "equipment": "/equipment", "contract": "/contracts"}


def can_read(user, shop, kind):
    return user.get(f"{PATHS[kind]}/{shop[kind]['id']}").status_code


def test_an_admin_of_a_company_manages_only_its_company(world, two_shops):
    mine, theirs = two_shops
    boss = world.login_for("admin", company_id=mine["company"]["id"])
    for kind in PATHS:
        assert can_read(boss, mine, kind) == 200, kind
        assert can_read(boss, theirs, kind) == 404, kind
    assert ids(boss.get("/companies")) == [mine["company"]["id"]]
    listed = ids(boss.get("/clients"))
    assert mine["client"]["id"] in listed and theirs["client"]["id"] not in listed
    error(boss.post("/clients", {"name": "C", "email": "c@example.test",
                                 "company_id": theirs["company"]["id"]}), 404)
    error(world.patch(f"/clients/{theirs['client']['id']}", 1, as_user=boss, name="Mine"), 404)
    error(boss.post("/companies", {"name": "Another"}), 403)
    ok(world.patch(f"/sites/{mine['site']['id']}", mine["site"]["version"], as_user=boss,
                   address="moved"))


def test_a_manager_reads_its_company_and_changes_nothing(world, two_shops):
    mine, theirs = two_shops
    manager = world.login_for("manager", company_id=mine["company"]["id"])
    for kind in PATHS:
        assert can_read(manager, mine, kind) == 200, kind
        assert can_read(manager, theirs, kind) == 404, kind
    assert ids(manager.get("/contracts")) == [mine["contract"]["id"]]
    assert ids(manager.get("/equipment")) == [mine["equipment"]["id"]]
    error(manager.post("/clients", {"name": "C", "email": "c@example.test",
                                    "company_id": mine["company"]["id"]}), 403, "forbidden")
    error(world.patch(f"/clients/{mine['client']['id']}", 1, as_user=manager, name="X"), 403)
    error(delete(manager, f"/sites/{mine['site']['id']}"), 403)


def test_a_technician_sees_itself_its_company_and_its_clients(world, two_shops):
    mine, theirs = two_shops
    technician = world.login_for("technician", technician_id=mine["technician"]["id"])
    for kind in ("company", "client", "site", "equipment", "technician"):
        assert can_read(technician, mine, kind) == 200, kind
        assert can_read(technician, theirs, kind) == 404, kind
    colleague = world.technician(mine["company"])
    error(technician.get(f"/technicians/{colleague['id']}"), 404)
    assert ids(technician.get("/technicians")) == [mine["technician"]["id"]]
    error(technician.get(f"/contracts/{mine['contract']['id']}"), 403)
    assert ok(technician.get(f"/intervention-types/{mine['type']['id']}"))["id"] == mine["type"]["id"]
    assert ok(technician.get(f"/statuses/{mine['status']['id']}"))["id"] == mine["status"]["id"]
    assert ids(technician.get(f"/sites?client_id={mine['client']['id']}")) == [mine["site"]["id"]]
    error(technician.post("/sites", {"client_id": mine["client"]["id"], "name": "S"}), 403)


def test_a_client_sees_itself_its_sites_equipment_and_contracts(world, two_shops):
    mine, theirs = two_shops
    client = world.login_for("client", client_id=mine["client"]["id"])
    for kind in ("client", "site", "equipment", "contract"):
        assert can_read(client, mine, kind) == 200, kind
        assert can_read(client, theirs, kind) == 404, kind
    neighbour = world.client(mine["company"])
    error(client.get(f"/clients/{neighbour['id']}"), 404)
    assert ids(client.get("/clients")) == [mine["client"]["id"]]
    assert ids(client.get("/contracts")) == [mine["contract"]["id"]]
    assert ids(client.get("/equipment")) == [mine["equipment"]["id"]]
    error(client.get(f"/companies/{mine['company']['id']}"), 403)
    error(client.get(f"/technicians/{mine['technician']['id']}"), 403)
    assert ok(client.get(f"/intervention-types/{mine['type']['id']}"))["location"] == "workshop"
    error(client.post("/equipment", {"client_id": mine["client"]["id"], "kind": "phone"}), 403)


def created_ok(response):
    return ok(response, 201)
