"""Who creates an intervention, for whom, in which company, with what
(seed 000), every rule through the gateway."""
import uuid

import pytest

from test_workshop_steps import error, events


@pytest.fixture()
def shop(world):
    company = world.company()
    client = world.client(company)
    return {"company": company, "client": client, "technician": world.technician(company),
            "equipment": world.equipment(client), "type": world.intervention_type("workshop")}


def body(shop, **overrides):
    return {"client_id": shop["client"]["id"], "equipment_id": shop["equipment"]["id"],
            "type_id": shop["type"]["id"], "technician_id": shop["technician"]["id"],
            "location": "workshop", "description": "Screen flickers", **overrides}


def create(user, payload):
    return user.post("/interventions", payload)


def created(response):
    assert response.status_code == 201, response.text
    return response.json()


# --- who creates -------------------------------------------------------------------------

@pytest.mark.parametrize("role", ["manager", "client"])
def test_only_admins_and_technicians_create(world, shop, role, service_db):
    links = {"manager": {"company_id": shop["company"]["id"]},
             "client": {"client_id": shop["client"]["id"]}}[role]
    user = world.login_for(role, **links)
    refused = error(create(user, body(shop)), 403)
    assert refused["code"] == "forbidden"
    [(count,)] = service_db("interventions", "SELECT count(*) FROM interventions WHERE client_id = :c",
                            c=shop["client"]["id"])
    assert count == 0


def test_an_admin_must_pick_the_technician(world, shop):
    refused = error(create(world.admin, body(shop, technician_id=None)), 400)
    assert refused["details"] == {"technician_id": "required"}
    unknown = error(create(world.admin, body(shop, technician_id=str(uuid.uuid4()))), 404)
    assert "technician_id" in unknown["details"]


def test_the_technicians_company_is_the_interventions(world, isolation, shop):
    with events(isolation) as bus:
        intervention = created(create(world.admin, body(shop)))
        [assigned] = bus.wait_for("intervention.assigned", intervention["id"])
        [announced] = bus.wait_for("intervention.created", intervention["id"])
    assert intervention["company_id"] == shop["company"]["id"]
    assert intervention["technician_id"] == shop["technician"]["id"]
    assert (intervention["step"], intervention["state"], intervention["version"]) == ("picked_up", "open", 1)
    assert intervention["status_id"] is None and intervention["tests_performed"] == []
    assert assigned["data"]["previous_technician_id"] is None
    assert assigned["data"]["technician_id"] == shop["technician"]["id"]
    assert assigned["data"]["company_id"] == shop["company"]["id"]
    assert announced["data"]["company_id"] == shop["company"]["id"]
    [entry] = world.admin.get(f"/interventions/{intervention['id']}/history").json()["items"]
    assert entry["kind"] == "created" and entry["author_role"] == "admin"
    assert entry["data"]["company_id"] == shop["company"]["id"]


def test_an_intervention_belongs_to_its_clients_company(world, shop):
    """The technician may work for several companies; the intervention is
    its client's company's (issue 9: another company's staff would see it)."""
    second, elsewhere = world.company(), world.company()
    technician = created(world.admin.post("/technicians", {
        "name": "Multi", "email": f"multi-{uuid.uuid4().hex[:6]}@example.test",
        "company_id": shop["company"]["id"], "company_ids": [second["id"]]}))
    default = created(create(world.admin, body(shop, technician_id=technician["id"])))
    assert default["company_id"] == shop["company"]["id"]
    # a client of its second company: the intervention is that company's
    theirs = world.client(second)
    picked = created(create(world.admin, body(shop, technician_id=technician["id"],
                                              client_id=theirs["id"],
                                              equipment_id=world.equipment(theirs)["id"])))
    assert picked["company_id"] == second["id"]
    # another company than the client's, even one the technician works for: 400
    refused = error(create(world.admin, body(shop, technician_id=technician["id"],
                                             company_id=second["id"])), 400)
    assert refused["details"] == {"company_id": second["id"],
                                  "client_company_id": shop["company"]["id"]}
    # a client of a company the technician does not work for: 400
    stranger = world.client(elsewhere)
    refused = error(create(world.admin, body(shop, technician_id=technician["id"],
                                             client_id=stranger["id"],
                                             equipment_id=world.equipment(stranger)["id"])), 400)
    assert refused["details"]["company_id"] == elsewhere["id"]
    assert set(refused["details"]["technician_company_ids"]) == {shop["company"]["id"], second["id"]}
    unknown = error(create(world.admin, body(shop, company_id=str(uuid.uuid4()))), 404)
    assert "company_id" in unknown["details"]


def test_without_multi_company_the_main_company_is_taken(world, shop):
    main = world.company()
    settings = world.admin.get("/settings").json()
    assert settings["multi_company"] is True
    try:
        response = world.admin.request("PUT", "/settings", json={
            "multi_company": False, "main_company_id": main["id"]})
        assert response.status_code == 200, response.text
        intervention = created(create(world.admin, body(shop)))
        assert intervention["company_id"] == main["id"]
        me = world.login_for("technician", technician_id=shop["technician"]["id"])
        mine = created(create(me, body(shop, technician_id=None)))
        assert mine["company_id"] == main["id"]
        refused = error(create(world.admin, body(shop, company_id=shop["company"]["id"])), 400)
        assert refused["details"] == {"company_id": shop["company"]["id"], "main_company_id": main["id"]}
    finally:
        restored = world.admin.request("PUT", "/settings", json={"multi_company": True})
        assert restored.status_code == 200, restored.text
    assert created(create(world.admin, body(shop)))["company_id"] == shop["company"]["id"]


def test_an_admin_of_one_company_creates_only_in_it(world, shop):
    own_admin = world.login_for("admin", company_id=shop["company"]["id"])
    assert created(create(own_admin, body(shop)))["company_id"] == shop["company"]["id"]
    foreign_admin = world.login_for("admin", company_id=world.company()["id"])
    # another company's client, equipment and technician are not its to name
    assert "client_id" in error(create(foreign_admin, body(shop)), 404)["details"]


# --- a technician creates for itself ---------------------------------------------------------

def test_a_technician_is_assigned_automatically_with_its_company(world, shop):
    me = world.login_for("technician", technician_id=shop["technician"]["id"])
    intervention = created(create(me, body(shop, technician_id=None)))
    assert intervention["technician_id"] == shop["technician"]["id"]
    assert intervention["company_id"] == shop["company"]["id"]
    explicit = created(create(me, body(shop)))  # naming itself is fine
    assert explicit["technician_id"] == shop["technician"]["id"]
    [entry] = me.get(f"/interventions/{intervention['id']}/history").json()["items"]
    assert (entry["kind"], entry["author_role"]) == ("created", "technician")


def test_a_technician_cannot_create_for_another_technician(world, shop, service_db):
    me = world.login_for("technician", technician_id=shop["technician"]["id"])
    colleague = world.technician(shop["company"])
    refused = error(create(me, body(shop, technician_id=colleague["id"])), 403)
    assert refused["details"] == {"technician_id": colleague["id"]}
    [(count,)] = service_db("interventions", "SELECT count(*) FROM interventions WHERE technician_id = :t",
                            t=colleague["id"])
    assert count == 0


def test_a_technician_cannot_pick_another_company(world, shop):
    second = world.company()
    technician = created(world.admin.post("/technicians", {
        "name": "Multi", "email": f"multi-{uuid.uuid4().hex[:6]}@example.test",
        "company_id": shop["company"]["id"], "company_ids": [second["id"]]}))
    me = world.login_for("technician", technician_id=technician["id"])
    refused = error(create(me, body(shop, technician_id=None, company_id=second["id"])), 400)
    assert refused["details"]["company_id"] == second["id"]


# --- client, equipment, type ------------------------------------------------------------------

def test_the_client_and_its_equipment_are_required(world, shop):
    for missing in ("client_id", "equipment_id", "type_id", "location"):
        payload = body(shop)
        del payload[missing]
        assert missing in error(create(world.admin, payload), 400)["details"]["fields"]
    unknown = error(create(world.admin, body(shop, client_id=str(uuid.uuid4()))), 404)
    assert "client_id" in unknown["details"]


def test_equipment_of_another_client_is_refused(world, shop):
    someone_else = world.client(shop["company"])
    refused = error(create(world.admin, body(shop, equipment_id=world.equipment(someone_else)["id"])), 400)
    assert refused["details"]["client_id"] == shop["client"]["id"]
    assert "equipment" in refused["message"]


@pytest.mark.parametrize("type_location,location", [
    ("workshop", "on_site"), ("workshop", "at_home"), ("at_home", "on_site"),
    ("on_site", "at_home"), ("at_home", "workshop"), ("on_site", "workshop")])
def test_the_types_location_must_be_the_interventions(world, shop, type_location, location):
    kind = world.intervention_type(type_location)
    refused = error(create(world.admin, body(shop, type_id=kind["id"], location=location)), 400)
    assert refused["details"] == {"location": location, "type_location": type_location}
    assert location in refused["message"] and type_location in refused["message"]


@pytest.mark.parametrize("location", ["at_home", "on_site"])
def test_a_matching_type_outside_the_workshop_has_no_step(world, shop, location):
    kind = world.intervention_type(location)
    intervention = created(create(world.admin, body(shop, type_id=kind["id"], location=location)))
    assert intervention["location"] == location and intervention["step"] is None


# --- deactivated master data --------------------------------------------------------------------

@pytest.mark.parametrize("kind,path,field", [
    ("client", "/clients", "client_id"), ("equipment", "/equipment", "equipment_id"),
    ("type", "/intervention-types", "type_id"), ("technician", "/technicians", "technician_id")])
def test_deactivated_records_cannot_be_used(world, shop, kind, path, field):
    record = shop[kind]
    current = world.admin.get(f"{path}/{record['id']}").json()
    response = world.patch(f"{path}/{record['id']}", current["version"], active=False)
    assert response.status_code == 200, response.text
    refused = error(create(world.admin, body(shop)), 400)
    assert refused["details"] == {field: record["id"]}


def test_a_deactivated_technician_cannot_create_for_itself(world, shop):
    me = world.login_for("technician", technician_id=shop["technician"]["id"])
    current = world.admin.get(f"/technicians/{shop['technician']['id']}").json()
    assert world.patch(f"/technicians/{current['id']}", current["version"], active=False).status_code == 200
    assert error(create(me, body(shop, technician_id=None)), 400)["details"] == {
        "technician_id": shop["technician"]["id"]}


# --- site and contract ------------------------------------------------------------------------

def test_a_site_of_the_client(world, shop):
    site = world.site(shop["client"])
    intervention = created(create(world.admin, body(shop, site_id=site["id"])))
    assert intervention["site_id"] == site["id"]
    elsewhere = world.site(world.client(shop["company"]))
    refused = error(create(world.admin, body(shop, site_id=elsewhere["id"])), 400)
    assert refused["details"] == {"site_id": elsewhere["id"], "client_id": shop["client"]["id"]}
    unknown = error(create(world.admin, body(shop, site_id=str(uuid.uuid4()))), 404)
    assert "site_id" in unknown["details"]
    assert world.patch(f"/sites/{site['id']}", site["version"], active=False).status_code == 200
    assert error(create(world.admin, body(shop, site_id=site["id"])), 400)["details"] == {
        "site_id": site["id"]}


def advance(world, contract, *states):
    for state in states:
        response = world.admin.request("PUT", f"/contracts/{contract['id']}/state", json={"state": state})
        assert response.status_code == 200, response.text
        contract = response.json()
    return contract


def test_a_contract_of_the_client_validated_or_active(world, shop):
    contract = world.contract(shop["client"])
    refused = error(create(world.admin, body(shop, contract_id=contract["id"])), 400)
    assert refused["details"]["state"] == "draft"
    contract = advance(world, contract, "validated")
    assert created(create(world.admin, body(shop, contract_id=contract["id"])))["contract_id"] == contract["id"]
    contract = advance(world, contract, "active")
    assert created(create(world.admin, body(shop, contract_id=contract["id"])))["contract_id"] == contract["id"]
    contract = advance(world, contract, "ended")
    refused = error(create(world.admin, body(shop, contract_id=contract["id"])), 400)
    assert refused["details"]["state"] == "ended"
    theirs = advance(world, world.contract(world.client(shop["company"])), "validated")
    refused = error(create(world.admin, body(shop, contract_id=theirs["id"])), 400)
    assert refused["details"] == {"contract_id": theirs["id"], "client_id": shop["client"]["id"]}


def test_a_deactivated_company_takes_no_new_intervention(world, shop):
    company = world.admin.get(f"/companies/{shop['company']['id']}").json()
    response = world.patch(f"/companies/{company['id']}", company["version"], active=False)
    assert response.status_code == 200, response.text
    refused = error(create(world.admin, body(shop)), 400)
    assert refused["details"] == {"company_id": company["id"]}
