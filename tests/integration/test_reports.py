"""Field work (issue 13, seed 003, docs/reports.md), first part, through the
gateway and PostgreSQL: versioned checklist templates per intervention
type, and the checklist the assigned technician fills in on site (each
kind of item, a number outside its range flagged and needing a note, a
photo of the files store, every answer kept). Every refusal writes nothing."""
import uuid

import pytest

from conftest import ok, refused

ITEMS = [
    {"key": "power_off", "kind": "check", "label": "Alimentation coupée", "required": True},
    {"key": "leak", "kind": "yes_no_na", "label": "Fuite constatée", "required": True},
    {"key": "pressure", "kind": "number", "label": "Pression", "unit": "bar", "min": 1,
     "max": 2.5, "required": True},
    {"key": "remarks", "kind": "text", "label": "Remarques"},
    {"key": "state", "kind": "choice", "label": "État général", "choices": ["bon", "moyen", "usé"]},
    {"key": "plate", "kind": "photo", "label": "Photo de la plaque", "help": "Lisible"},
]


class Field:
    def __init__(self, world):
        self.world = world
        self.company = world.company()
        self.client = world.client(self.company)
        self.technician = world.technician(self.company)
        self.type = world.intervention_type("workshop")
        self.template = ok(world.admin.post("/checklist-templates", {
            "type_id": self.type["id"], "items": ITEMS}), 201)
        self.worker = world.login_for("technician", technician_id=self.technician["id"])
        self.manager = world.login_for("manager", company_id=self.company["id"])

    def intervention(self):
        return ok(self.world.admin.post("/interventions", {
            "client_id": self.client["id"], "equipment_id": self.world.equipment(self.client)["id"],
            "type_id": self.type["id"], "technician_id": self.technician["id"],
            "location": "workshop", "description": "Entretien chaudière"}), 201)

    def answer(self, intervention, key, as_user=None, **body):
        return (as_user or self.worker).request(
            "PUT", f"/interventions/{intervention['id']}/checklist/{key}", json=body)


@pytest.fixture(scope="module")
def field(world):
    return Field(world)


def entries(service_db, intervention):
    return service_db("interventions", "SELECT count(*) FROM checklist_answer_entries "
                      "WHERE intervention_id = :i", i=intervention["id"])[0][0]


def test_templates_are_versioned_per_type_and_checked(world, field):
    assert field.template["version"] == 1
    second = ok(world.admin.post("/checklist-templates", {
        "type_id": field.type["id"], "items": ITEMS[:2]}), 201)
    assert second["version"] == 2
    versions = [t["version"] for t in ok(field.manager.get(
        f"/checklist-templates?type_id={field.type['id']}"))["items"]]
    assert versions == [2, 1]
    company_admin = world.login_for("admin", company_id=field.company["id"])
    refused(company_admin.post("/checklist-templates", {"type_id": field.type["id"],
                                                        "items": ITEMS}), 403, "forbidden")
    refused(field.worker.post("/checklist-templates", {"type_id": field.type["id"],
                                                       "items": ITEMS}), 403, "forbidden")
    for items in ([], [{**ITEMS[0]}, {**ITEMS[0]}],                       # empty, a key twice
                  [{"key": "p", "kind": "number", "label": "P", "min": 3, "max": 1}],
                  [{"key": "c", "kind": "choice", "label": "C", "choices": ["seul"]}],
                  [{"key": "Bad Key", "kind": "check", "label": "X"}]):
        refused(world.admin.post("/checklist-templates", {"type_id": field.type["id"],
                                                          "items": items}), 400, "invalid_input")
    refused(world.admin.post("/checklist-templates", {"type_id": str(uuid.uuid4()),
                                                      "items": ITEMS}), 404, "not_found")
    # back to the full checklist for the next tests
    field.template = ok(world.admin.post("/checklist-templates", {
        "type_id": field.type["id"], "items": ITEMS}), 201)


def test_the_technician_fills_in_the_checklist_on_its_version(world, field, service_db):
    job = field.intervention()
    path = f"/interventions/{job['id']}/checklist"
    before = ok(field.worker.get(path))
    assert before["started_at"] is None and before["template"]["version"] == field.template["version"]
    assert before["missing"] == ["power_off", "leak", "pressure"]
    ok(field.answer(job, "power_off", value=True))
    ok(field.answer(job, "leak", value="na"))
    refused(field.answer(job, "pressure", value=3.2), 422, "note_required")
    flagged = ok(field.answer(job, "pressure", value=3.2, note="Vase d'expansion à regonfler"))
    assert flagged["flagged"] == ["pressure"] and flagged["missing"] == []
    fixed = ok(field.answer(job, "pressure", value=1.8))
    assert fixed["flagged"] == []
    ok(field.answer(job, "state", value="moyen"))
    photo = world.file(as_user=field.worker, kind="photo", company_id=field.company["id"])
    ok(field.answer(job, "plate", value=photo["id"]))
    # a new version of the template does not change a started checklist
    ok(world.admin.post("/checklist-templates", {"type_id": field.type["id"], "items": ITEMS[:1]}),
       201)
    after = ok(field.manager.get(path))
    assert after["template"]["version"] == field.template["version"]
    assert {a["item_key"]: a["value"] for a in after["answers"]} == {
        "power_off": True, "leak": "na", "pressure": 1.8, "state": "moyen", "plate": photo["id"]}
    history = ok(field.manager.get(path + "/history"))["items"]
    assert [(h["item_key"], h["value"]) for h in history if h["item_key"] == "pressure"] == [
        ("pressure", 3.2), ("pressure", 1.8)]
    assert entries(service_db, job) == 6
    field.template = ok(world.admin.post("/checklist-templates", {
        "type_id": field.type["id"], "items": ITEMS}), 201)


def test_bad_answers_and_the_wrong_people_are_refused_and_write_nothing(world, field, service_db):
    job = field.intervention()
    for key, value in (("power_off", "yes"), ("leak", True), ("pressure", "1.5"),
                       ("state", "neuf"), ("remarks", ""), ("plate", "not-an-id")):
        response = field.answer(job, key, value=value)
        assert response.status_code in (400, 404), (key, response.text)
    refused(field.answer(job, "nothing_like_it", value=True), 404, "not_found")
    foreign_photo = world.file(kind="photo", company_id=world.company()["id"])
    refused(field.answer(job, "plate", value=foreign_photo["id"]), 404, "not_found")
    refused(field.answer(job, "power_off", as_user=field.manager, value=True), 403, "forbidden")
    other = world.login_for("technician", technician_id=world.technician(field.company)["id"])
    refused(field.answer(job, "power_off", as_user=other, value=True), 404, "not_found")
    client = world.login_for("client", client_id=field.client["id"])
    refused(client.get(f"/interventions/{job['id']}/checklist"), 403, "forbidden")
    assert entries(service_db, job) == 0
    # closed: no more answers
    done = world.walk_to(job, "awaiting_pickup", pickup_at="2030-12-02T10:30:00+01:00")
    assert done["state"] == "closed"
    refused(field.answer(job, "power_off", value=True), 409, "intervention_closed")
    untyped = world.intervention(client=field.client, technician=field.technician)
    refused(field.answer(untyped, "power_off", value=True), 409, "no_checklist")


def test_comments_internal_or_for_the_client(world, field):
    job = field.intervention()
    path = f"/interventions/{job['id']}/comments"
    ok(field.worker.post(path, {"body": "Client absent à 9 h, revenu à 10 h"}), 201)
    ok(field.worker.post(path, {"body": "Filtre remplacé", "visible_to_client": True}), 201)
    ok(field.manager.post(path, {"body": "Facturer le déplacement"}), 201)
    client = world.login_for("client", client_id=field.client["id"])
    refused(client.post(path, {"body": "x"}), 403, "forbidden")
    other = world.login_for("technician", technician_id=world.technician(field.company)["id"])
    refused(other.post(path, {"body": "x"}), 404, "not_found")
    refused(field.worker.post(path, {"body": ""}), 400, "invalid_input")
    assert [c["body"] for c in ok(client.get(path))["items"]] == ["Filtre remplacé"]
    assert len(ok(field.manager.get(path))["items"]) == 3


def test_measurements_with_their_range(field, service_db):
    job = field.intervention()
    path = f"/interventions/{job['id']}/measurements"
    inside = ok(field.worker.post(path, {"parameter": "Pression", "unit": "bar", "value": 1.6,
                                         "min": 1, "max": 2.5}), 201)
    assert inside["flagged"] is False
    refused(field.worker.post(path, {"parameter": "CO", "unit": "ppm", "value": 60, "max": 50}),
            422, "note_required")
    outside = ok(field.worker.post(path, {"parameter": "CO", "unit": "ppm", "value": 60, "max": 50,
                                          "note": "Ventilation obstruée, dégagée"}), 201)
    assert outside["flagged"] is True
    refused(field.worker.post(path, {"parameter": "T", "value": 1, "min": 5, "max": 2}),
            400, "invalid_input")
    refused(field.manager.post(path, {"parameter": "T", "value": 1}), 403, "forbidden")
    assert [m["parameter"] for m in ok(field.manager.get(path))["items"]] == ["Pression", "CO"]
    assert service_db("interventions", "SELECT count(*) FROM measurements WHERE intervention_id = :i",
                      i=job["id"])[0][0] == 2
