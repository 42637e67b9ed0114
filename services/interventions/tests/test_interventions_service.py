"""The service's entrypoints with nameko's worker_factory: the database is
replaced at the boundary by a fake unit of work, so these run without
broker or database."""
import time
from contextlib import contextmanager
from types import SimpleNamespace as Row

import pytest
from nameko.testing.services import worker_factory

from fieldwork_common.db import CallContext
from fieldwork_common.errors import Conflict, Forbidden, InvalidInput, NotFound, Unavailable
from fieldwork_common.principal import Principal
from fieldwork_common.testing.fakes import FakeDb
from fieldwork_interventions.domain import rules
from fieldwork_interventions.models import HistoryEntry
from fieldwork_interventions.service import InterventionsService


def service_for(role, call=None, **links):
    db = FakeDb(call)
    return worker_factory(InterventionsService, db=db,
                          principal=Principal(user_id="u", role=role, **links)), db


@pytest.mark.parametrize("role", ["manager", "client"])
def test_creation_is_refused_and_nothing_is_written(role):
    service, db = service_for(role, company_id="c")
    with pytest.raises(Forbidden):
        service.create_intervention(client_id="c", equipment_id="e", type_id="t",
                                    location="workshop")
    assert db.committed == []


def test_master_data_is_configured_by_admins_only():
    service, db = service_for("manager", company_id="c")
    with pytest.raises(Forbidden):
        service.create_company("Shop")
    with pytest.raises(Forbidden):
        service.create_intervention_type("Repair", "workshop")
    assert db.committed == []


def test_an_admin_creates_a_company_and_its_event_in_one_unit_of_work():
    service, db = service_for("admin")
    service.create_company("Shop")
    [uow] = db.committed
    assert [event_type for event_type, _, _ in uow.events] == ["company.created"]


def test_a_client_gets_one_of_the_email_languages():
    service, db = service_for("admin")
    with pytest.raises(InvalidInput) as caught:
        service.create_client("A", "a@example.test", "c", locale="de")
    assert caught.value.details["allowed"] == ["fr", "en"]
    assert db.committed == []


def test_a_command_whose_caller_stopped_waiting_is_not_run():
    service, db = service_for("admin", call=CallContext(deadline=time.time() - 1))
    with pytest.raises(Unavailable) as caught:
        service.create_company("Shop")
    assert caught.value.details == {"reason": "deadline_passed"}
    assert db.committed == [] and db.rolled_back == []


def test_the_response_is_remembered_under_the_idempotency_key():
    service, db = service_for("admin", call=CallContext(idempotency_key="k1", request_hash="h"))
    result = service.create_company("Shop")
    [uow] = db.committed
    assert uow.remembered == {"create_company:k1": result}


def test_health_pings_the_database():
    service = worker_factory(InterventionsService)
    assert service.health() == {"service": "interventions", "status": "ok"}
    service.db.ping.assert_called_once()


# --- the workflow: steps, statuses, reopening, creation, with a fake unit of work -------

IDS = {name: f"00000000-0000-4000-8000-00000000000{n}" for n, name in enumerate(
    ("intervention", "company", "client", "technician", "equipment", "type", "status", "other"))}


def records():
    return {
        "Company": Row(id=IDS["company"], name="Shop", email="shop@example.test", phone=None,
                       address=None, survey_enabled=True, active=True),
        "Client": Row(id=IDS["client"], name="Ann", email="ann@example.test", locale="en",
                      company_id=IDS["company"], active=True),
        "Technician": Row(id=IDS["technician"], name="Tom", email="tom@example.test",
                          company_id=IDS["company"], active=True),
        "Equipment": Row(id=IDS["equipment"], client_id=IDS["client"], kind="laptop", brand="L",
                         model=None, serial_number="SN", active=True),
        "InterventionType": Row(id=IDS["type"], name="Repair", location="workshop", active=True),
        "Status": Row(id=IDS["status"], label="Waiting for parts", colour="#ff8800", active=True),
    }


def intervention(step="in_workshop", state="open", location="workshop", **extra):
    from datetime import datetime, timezone
    at = datetime(2026, 1, 1, tzinfo=timezone.utc)
    return Row(**{"id": IDS["intervention"], "company_id": IDS["company"], "client_id": IDS["client"],
                  "equipment_id": IDS["equipment"], "type_id": IDS["type"],
                  "technician_id": IDS["technician"], "site_id": None, "contract_id": None,
                  "location": location, "description": "", "step": step, "state": state,
                  "status_id": None, "diagnostic": None, "tests_performed": [], "pickup_at": None,
                  "pickup_kind": None, "closed_at": None, "completed_at": None, "created_by": "u",
                  "created_at": at, "updated_at": at, "version": 3, **extra})


class ShopDb(FakeDb):
    """A fake database holding one intervention (what SELECT … FOR UPDATE
    finds) and the records `session.get` finds, by model name."""

    def __init__(self, row=None, found=None, settings=None):
        super().__init__()
        self.row = row
        self.found = found or records()
        if settings is not None:
            self.found["Settings"] = settings
        self.added = []

    def selected(self, query):
        """What a select finds: the intervention held (the fake does not
        apply the caller's scope: test it with `principal`), or a record."""
        name = getattr(query.column_descriptions[0].get("entity"), "__name__", None)
        if name == "Intervention":
            return self.row if self.row is not None and (
                self.principal is None or rules.can_see_intervention(self.principal, self.row)) else None
        return self.found.get(name)

    principal = None

    @contextmanager
    def unit_of_work(self):
        with super().unit_of_work() as uow:
            uow.session.get.side_effect = lambda model, key: self.found.get(model.__name__)
            # what a reference resolves to (access.visible selects one record)
            uow.session.scalars.side_effect = lambda query: FirstOf(self.selected(query))
            uow.session.add.side_effect = self.added.append
            yield uow


class FirstOf:
    def __init__(self, row):
        self.row = row

    def first(self):
        return self.row

    def all(self):
        return [self.row] if self.row is not None else []


def workflow_for(principal, row=None, **kw):
    db = ShopDb(row, **kw)
    db.principal = principal  # the scope the real query would apply
    return worker_factory(InterventionsService, db=db, principal=principal), db


TECHNICIAN = Principal(user_id="tu", role="technician", technician_id=IDS["technician"])
ADMIN = Principal(user_id="au", role="admin")


def history(db):
    return [(entry.kind, entry.data) for entry in db.added if isinstance(entry, HistoryEntry)]


def test_a_move_changes_step_and_version_writes_history_and_publishes_in_one_unit_of_work():
    service, db = workflow_for(TECHNICIAN, intervention("in_workshop"))
    result = service.change_step(IDS["intervention"], "final_tests", diagnostic="Fan",
                                 tests_performed=["boot"])
    assert (result["step"], result["state"], result["version"]) == ("final_tests", "open", 4)
    assert result["diagnostic"] == "Fan" and result["tests_performed"] == ["boot"]
    [uow] = db.committed
    [(event_type, aggregate_id, data)] = uow.events
    assert (event_type, aggregate_id) == ("intervention.step_changed", IDS["intervention"])
    assert set(data) == {"id", "company_id", "client_id", "technician_id", "from_step", "to_step",
                         "state", "at", "by", "version"}
    assert (data["from_step"], data["to_step"], data["by"], data["version"]) == (
        "in_workshop", "final_tests", "tu", 4)
    assert history(db) == [("step", {"from": "in_workshop", "to": "final_tests", "state": "open",
                                     "diagnostic": "Fan", "tests_performed": ["boot"]})]
    [entry] = [e for e in db.added if isinstance(e, HistoryEntry)]
    assert (entry.author_id, entry.author_role) == ("tu", "technician")


def test_awaiting_pickup_closes_and_publishes_what_notifications_needs():
    service, db = workflow_for(TECHNICIAN, intervention("final_tests"))
    result = service.change_step(IDS["intervention"], "awaiting_pickup",
                                 pickup_at="2026-03-01T10:00:00+01:00", pickup_kind="delivery")
    assert result["state"] == "closed" and result["pickup_at"] == "2026-03-01T09:00:00Z"
    assert result["closed_at"] is not None
    [uow] = db.committed
    assert [event_type for event_type, _, _ in uow.events] == [
        "intervention.step_changed", "intervention.closed"]
    closed = uow.events[1][2]
    assert closed["reference"] == "00000000"
    assert closed["company"] == {"id": IDS["company"], "name": "Shop", "email": "shop@example.test",
                                 "phone": None, "address": None}
    assert closed["client"] == {"id": IDS["client"], "name": "Ann", "email": "ann@example.test",
                                "locale": "en"}
    assert closed["technician"] == {"id": IDS["technician"], "name": "Tom", "email": "tom@example.test"}
    assert closed["equipment"] == {"id": IDS["equipment"], "kind": "laptop", "brand": "L",
                                   "model": None, "serial_number": "SN"}
    assert (closed["pickup_at"], closed["pickup_kind"]) == ("2026-03-01T09:00:00Z", "delivery")
    assert closed["closed_at"] == result["closed_at"] and closed["version"] == 4


def test_delivered_completes_and_carries_the_survey_option():
    service, db = workflow_for(ADMIN, intervention("awaiting_pickup", "closed"))
    result = service.change_step(IDS["intervention"], "delivered")
    assert (result["state"], result["completed_at"] is not None) == ("completed", True)
    [uow] = db.committed
    delivered = uow.events[1][2]
    assert uow.events[1][0] == "intervention.delivered"
    assert delivered["company"]["survey_enabled"] is True
    assert set(delivered) == {"id", "reference", "company", "client", "technician", "equipment",
                              "delivered_at", "version"}


@pytest.mark.parametrize("call,error", [
    (lambda s: s.change_step(IDS["intervention"], "delivered"), Conflict),
    (lambda s: s.change_step(IDS["intervention"], "final_tests", pickup_at="2026-01-01T00:00:00Z"),
     InvalidInput),
    (lambda s: s.change_step(IDS["intervention"], "final_tests", tests_performed="boot"), InvalidInput),
    (lambda s: s.change_step(IDS["intervention"], "final_tests", version=2), Conflict),
    (lambda s: s.reset_status(IDS["intervention"]), Conflict),
    (lambda s: s.reopen_intervention(IDS["intervention"]), Conflict),
])
def test_a_refused_change_writes_and_publishes_nothing(call, error):
    service, db = workflow_for(ADMIN, intervention("in_workshop"))
    with pytest.raises(error):
        call(service)
    assert db.committed == [] and len(db.rolled_back) == 1


def test_a_pickup_date_needs_its_offset():
    service, db = workflow_for(ADMIN, intervention("final_tests"))
    with pytest.raises(InvalidInput) as caught:
        service.change_step(IDS["intervention"], "awaiting_pickup", pickup_at="2026-03-01T10:00:00")
    assert caught.value.details == {"pickup_at": "2026-03-01T10:00:00"}


def test_only_workshop_interventions_have_steps():
    service, db = workflow_for(ADMIN, intervention(None, location="at_home"))
    with pytest.raises(Conflict) as caught:
        service.change_step(IDS["intervention"], "in_workshop")
    assert caught.value.details == {"location": "at_home"}


@pytest.mark.parametrize("principal,error", [
    (Principal(user_id="c", role="client", client_id=IDS["client"]), Forbidden),
    (Principal(user_id="c", role="client", client_id=IDS["other"]), NotFound),
    (Principal(user_id="m", role="manager", company_id=IDS["other"]), NotFound),
    (Principal(user_id="t", role="technician", technician_id=IDS["other"]), NotFound),
])
def test_who_may_not_move_it(principal, error):
    service, db = workflow_for(principal, intervention("in_workshop"))
    with pytest.raises(error):
        service.change_step(IDS["intervention"], "final_tests")
    assert db.committed == []


def test_a_status_of_the_catalog_is_set_in_the_workshop():
    service, db = workflow_for(TECHNICIAN, intervention("in_workshop"))
    result = service.set_status(IDS["intervention"], IDS["status"])
    assert result["status_id"] == IDS["status"] and result["version"] == 4
    [uow] = db.committed
    [(event_type, _, data)] = uow.events
    assert event_type == "intervention.status_changed"
    assert data["status"] == {"id": IDS["status"], "label": "Waiting for parts", "colour": "#ff8800"}
    assert data["previous_status_id"] is None
    assert history(db)[0][0] == "status"


@pytest.mark.parametrize("step", ["picked_up", "final_tests", "awaiting_pickup", "delivered"])
def test_a_status_is_refused_outside_the_workshop_step(step):
    service, db = workflow_for(ADMIN, intervention(step))
    with pytest.raises(Conflict) as caught:
        service.set_status(IDS["intervention"], IDS["status"])
    assert caught.value.details == {"step": step, "required_step": "in_workshop"}


def test_a_deactivated_or_unknown_status_is_bad_input():
    found = records()
    found["Status"] = Row(**{**vars(found["Status"]), "active": False})
    service, db = workflow_for(ADMIN, intervention("in_workshop"), found=found)
    with pytest.raises(InvalidInput):
        service.set_status(IDS["intervention"], IDS["status"])
    with pytest.raises(InvalidInput):
        service.set_status(IDS["intervention"], "not-a-uuid")
    del found["Status"]
    with pytest.raises(NotFound):
        service.set_status(IDS["intervention"], IDS["status"])
    assert db.committed == []


def test_the_status_is_reset_in_any_step():
    service, db = workflow_for(ADMIN, intervention("delivered", "completed", status_id=IDS["status"]))
    result = service.reset_status(IDS["intervention"])
    assert result["status_id"] is None
    [uow] = db.committed
    assert uow.events[0][0] == "intervention.status_reset"
    assert uow.events[0][2]["previous_status_id"] == IDS["status"]
    assert history(db) == [("status_reset", {"previous_status_id": IDS["status"]})]


def test_reopening_goes_back_to_the_workshop_and_clears_the_dates():
    from datetime import datetime, timezone
    row = intervention("awaiting_pickup", "closed", closed_at=datetime.now(timezone.utc),
                       pickup_at=datetime.now(timezone.utc), pickup_kind="pickup")
    service, db = workflow_for(Principal(user_id="m", role="manager", company_id=IDS["company"]), row)
    result = service.reopen_intervention(IDS["intervention"])
    assert (result["step"], result["state"], result["closed_at"], result["pickup_at"]) == (
        "in_workshop", "open", None, None)
    [uow] = db.committed
    assert uow.events[0][0] == "intervention.reopened"
    assert history(db)[0] == ("reopened", {"from_step": "awaiting_pickup", "to_step": "in_workshop",
                                           "from_state": "closed", "to_state": "open"})


def test_a_technician_may_not_reopen():
    service, db = workflow_for(TECHNICIAN, intervention("awaiting_pickup", "closed"))
    with pytest.raises(Forbidden):
        service.reopen_intervention(IDS["intervention"])


def test_creation_publishes_created_and_assigned_and_writes_history():
    service, db = workflow_for(ADMIN)
    result = service.create_intervention(IDS["client"], IDS["equipment"], IDS["type"], "workshop",
                                         technician_id=IDS["technician"])
    assert (result["company_id"], result["step"], result["state"]) == (IDS["company"], "picked_up", "open")
    [uow] = db.committed
    assert [event_type for event_type, _, _ in uow.events] == [
        "intervention.created", "intervention.assigned"]
    assigned = uow.events[1][2]
    assert assigned["previous_technician_id"] is None and assigned["technician"]["id"] == IDS["technician"]
    assert history(db)[0][0] == "created"


def test_creation_without_multi_company_takes_the_main_company():
    settings = Row(multi_company=False, main_company_id=IDS["other"])
    service, db = workflow_for(ADMIN, settings=settings)
    result = service.create_intervention(IDS["client"], IDS["equipment"], IDS["type"], "workshop",
                                         technician_id=IDS["technician"])
    assert result["company_id"] == IDS["other"]


def test_creation_with_a_deactivated_client_is_refused():
    found = records()
    found["Client"] = Row(**{**vars(found["Client"]), "active": False})
    service, db = workflow_for(ADMIN, found=found)
    with pytest.raises(InvalidInput) as caught:
        service.create_intervention(IDS["client"], IDS["equipment"], IDS["type"], "workshop",
                                    technician_id=IDS["technician"])
    assert caught.value.details == {"client_id": IDS["client"]}
    assert db.committed == []


def test_a_technician_cannot_create_for_another_technician():
    service, db = workflow_for(TECHNICIAN)
    with pytest.raises(Forbidden):
        service.create_intervention(IDS["client"], IDS["equipment"], IDS["type"], "workshop",
                                    technician_id=IDS["other"])
    assert db.committed == []


def test_a_field_change_is_recorded_with_before_and_after():
    service, db = workflow_for(TECHNICIAN, intervention("in_workshop", description="Old"))
    result = service.update_intervention(IDS["intervention"], 3, {"description": "New"})
    assert (result["description"], result["version"]) == ("New", 4)
    assert history(db) == [("fields", {"before": {"description": "Old"}, "after": {"description": "New"}})]
    [uow] = db.committed
    assert uow.events[0][2] == {"id": IDS["intervention"], "version": 4,
                                "changes": {"description": "New"}, "updated_by": "tu"}


@pytest.mark.parametrize("version,changes,error", [
    (2, {"description": "New"}, Conflict),        # stale
    (3, {}, InvalidInput),                        # nothing to change
    (3, {"step": "delivered"}, InvalidInput),     # steps have their own command
])
def test_a_refused_field_change_writes_nothing(version, changes, error):
    service, db = workflow_for(TECHNICIAN, intervention("in_workshop"))
    with pytest.raises(error):
        service.update_intervention(IDS["intervention"], version, changes)
    assert db.committed == []


def test_a_reassignment_publishes_the_previous_technician():
    found = records()
    found["Technician"] = Row(id=IDS["other"], name="Nia", email="nia@example.test",
                              company_id=IDS["company"], active=True)
    service, db = workflow_for(ADMIN, intervention("in_workshop"), found=found)
    result = service.reassign_intervention(IDS["intervention"], IDS["other"])
    assert (result["technician_id"], result["company_id"]) == (IDS["other"], IDS["company"])
    [uow] = db.committed
    [(event_type, _, data)] = uow.events
    assert event_type == "intervention.assigned"
    assert (data["previous_technician_id"], data["technician_id"]) == (IDS["technician"], IDS["other"])
    assert history(db)[0][0] == "assignment"


def test_an_intervention_stays_in_its_clients_company_when_reassigned():
    """A technician who does not work for the client's company is refused
    (through the gateway a manager does not even see it: 404)."""
    found = records()
    found["Technician"] = Row(id=IDS["other"], name="Nia", email="nia@example.test",
                              company_id=IDS["other"], active=True)
    manager = Principal(user_id="m", role="manager", company_id=IDS["company"])
    service, db = workflow_for(manager, intervention("in_workshop"), found=found)
    with pytest.raises(InvalidInput) as caught:
        service.reassign_intervention(IDS["intervention"], IDS["other"])
    assert caught.value.details["company_id"] == IDS["company"]
    assert db.committed == []


def test_every_workflow_event_carries_exactly_its_documented_keys():
    """EVENT_FIELDS is what docs/asyncapi.yaml documents; each command's
    events carry exactly those keys."""
    from datetime import datetime, timezone
    from fieldwork_interventions.changes import EVENT_FIELDS
    published = []
    runs = [
        (ADMIN, None, lambda s: s.create_intervention(IDS["client"], IDS["equipment"], IDS["type"],
                                                      "workshop", technician_id=IDS["technician"])),
        (ADMIN, intervention("in_workshop"), lambda s: s.update_intervention(
            IDS["intervention"], 3, {"description": "x"})),
        (ADMIN, intervention("in_workshop"), lambda s: s.set_status(IDS["intervention"], IDS["status"])),
        (ADMIN, intervention("in_workshop", status_id=IDS["status"]),
         lambda s: s.reset_status(IDS["intervention"])),
        (ADMIN, intervention("final_tests"), lambda s: s.change_step(IDS["intervention"], "awaiting_pickup")),
        (ADMIN, intervention("awaiting_pickup", "closed"),
         lambda s: s.change_step(IDS["intervention"], "delivered")),
        (ADMIN, intervention("delivered", "completed", completed_at=datetime.now(timezone.utc)),
         lambda s: s.reopen_intervention(IDS["intervention"])),
        (ADMIN, intervention("in_workshop"), lambda s: s.attach_file(
            IDS["intervention"], IDS["other"], True)),
    ]
    found = {**records(), "File": Row(
        id=IDS["other"], company_id=IDS["company"], kind="photo", content_type="image/jpeg",
        size=10, sha256="0" * 64, original_name="a.jpg", uploaded_by="au",
        created_at=datetime.now(timezone.utc), thumbnail_key="t")}
    for principal, row, run in runs:
        service, db = workflow_for(principal, row, found=found)
        run(service)
        published += db.published
    assert {event_type for event_type, _, _ in published} == set(EVENT_FIELDS)
    for event_type, _, data in published:
        assert set(data) == set(EVENT_FIELDS[event_type]), event_type


def test_the_asyncapi_document_lists_the_same_keys_all_required():
    from pathlib import Path

    import yaml
    from fieldwork_interventions.changes import EVENT_FIELDS
    doc = yaml.safe_load((Path(__file__).resolve().parents[3] / "docs" / "asyncapi.yaml").read_text())
    for event_type, fields in EVENT_FIELDS.items():
        message_ref = doc["channels"][event_type]["subscribe"]["message"]["$ref"]
        message = doc["components"]["messages"][message_ref.rsplit("/", 1)[1]]
        data_ref = message["payload"]["allOf"][1]["properties"]["data"]["$ref"]
        data = doc["components"]["schemas"][data_ref.rsplit("/", 1)[1]]
        assert data["additionalProperties"] is False, event_type
        assert set(data["properties"]) == set(data["required"]) == set(fields), event_type
