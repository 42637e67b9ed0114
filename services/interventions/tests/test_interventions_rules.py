"""Seed 000 creation rules and object access, without broker or database."""
from types import SimpleNamespace as Row

import pytest

from fieldwork_common.errors import Forbidden, InvalidInput, NotFound
from fieldwork_common.principal import Principal
from fieldwork_interventions.domain import rules

TECH = Row(id="t1", company_id="co1")
CLIENT = Row(id="c1", company_id="co1")
EQUIPMENT = Row(id="e1", client_id="c1")
WORKSHOP = Row(id="k1", location="workshop")
ADMIN = Principal(user_id="a", role="admin")


def assign(principal, technician=TECH, equipment=EQUIPMENT, kind=WORKSHOP, location="workshop",
           requested="t1", client=CLIENT, **company):
    return rules.assign_on_creation(principal, technician=technician, client=client,
                                    equipment=equipment, intervention_type=kind,
                                    location=location, requested_technician_id=requested, **company)


def test_an_admin_picks_the_technician_whose_company_is_preselected():
    assert assign(ADMIN) == rules.Assignment(technician_id="t1", company_id="co1")


def test_an_admin_must_pick_a_technician():
    with pytest.raises(InvalidInput):
        assign(ADMIN, technician=None, requested=None)


@pytest.mark.parametrize("role", ["manager", "client"])
def test_only_admins_and_technicians_create(role):
    with pytest.raises(Forbidden):
        assign(Principal(user_id="u", role=role, company_id="co1"))


def test_a_technician_is_assigned_automatically():
    me = Principal(user_id="u", role="technician", technician_id="t1")
    assert assign(me, requested=None).technician_id == "t1"


def test_a_technician_cannot_create_for_another():
    me = Principal(user_id="u", role="technician", technician_id="t1")
    with pytest.raises(Forbidden):
        assign(me, requested="t2")


def test_a_technician_without_a_record_is_refused():
    me = Principal(user_id="u", role="technician", technician_id="gone")
    with pytest.raises(NotFound):
        assign(me, technician=None, requested=None)


def test_equipment_must_be_the_clients():
    with pytest.raises(InvalidInput) as caught:
        assign(ADMIN, equipment=Row(id="e2", client_id="other"))
    assert caught.value.details["equipment_id"] == "e2"


def test_location_must_match_the_type_and_the_error_names_both():
    with pytest.raises(InvalidInput) as caught:
        assign(ADMIN, location="on_site")
    assert caught.value.details == {"location": "on_site", "type_location": "workshop"}


def test_a_workshop_repair_starts_picked_up():
    assert rules.first_step("workshop") == "picked_up"
    assert rules.first_step("at_home") is None


INTERVENTION = Row(company_id="co1", technician_id="t1", client_id="c1")


@pytest.mark.parametrize("principal,visible", [
    (Principal(user_id="a", role="admin"), True),
    (Principal(user_id="a", role="admin", company_id="co1"), True),
    (Principal(user_id="a", role="admin", company_id="co2"), False),
    (Principal(user_id="m", role="manager", company_id="co1"), True),
    (Principal(user_id="m", role="manager", company_id="co2"), False),
    (Principal(user_id="t", role="technician", technician_id="t1"), True),
    (Principal(user_id="t", role="technician", technician_id="t2", company_id="co1"), False),
    (Principal(user_id="c", role="client", client_id="c1"), True),
    (Principal(user_id="c", role="client", client_id="c2"), False),
    (None, False),
])
def test_who_sees_an_intervention(principal, visible):
    assert rules.can_see_intervention(principal, INTERVENTION) is visible


# --- the company of a new intervention, deactivated records, sites, contracts ----------

def test_an_intervention_belongs_to_its_clients_company():
    """Issue 9: a company's staff would otherwise see another company's client."""
    theirs = Row(id="c2", company_id="co2")
    assert assign(ADMIN, client=theirs, equipment=Row(id="e2", client_id="c2"),
                  technician_company_ids=("co2",)).company_id == "co2"
    with pytest.raises(InvalidInput) as caught:
        assign(ADMIN, company_id="co2", technician_company_ids=("co2",))
    assert caught.value.details == {"company_id": "co2", "client_company_id": "co1"}


def test_the_technician_must_work_for_the_clients_company():
    with pytest.raises(InvalidInput) as caught:
        assign(ADMIN, client=Row(id="c3", company_id="co3"), equipment=Row(id="e3", client_id="c3"),
               technician_company_ids=("co2",))
    assert caught.value.details == {"company_id": "co3", "technician_id": "t1",
                                    "technician_company_ids": ["co1", "co2"]}


def test_naming_the_clients_company_is_fine():
    assert assign(ADMIN, company_id="co1").company_id == "co1"


def test_a_technician_creates_in_its_clients_company():
    me = Principal(user_id="u", role="technician", technician_id="t1")
    assert assign(me, requested=None).company_id == "co1"
    with pytest.raises(InvalidInput):
        assign(me, requested=None, company_id="co2", technician_company_ids=("co2",))


def test_without_multi_company_everything_belongs_to_the_main_company():
    assert assign(ADMIN, multi_company=False, main_company_id="main").company_id == "main"
    me = Principal(user_id="u", role="technician", technician_id="t1")
    assert assign(me, requested=None, multi_company=False, main_company_id="main").company_id == "main"
    with pytest.raises(InvalidInput) as caught:
        assign(ADMIN, company_id="co1", multi_company=False, main_company_id="main")
    assert caught.value.details == {"company_id": "co1", "main_company_id": "main"}


@pytest.mark.parametrize("field", ["client", "equipment", "type", "technician"])
def test_deactivated_records_cannot_be_used(field):
    records = {"client": Row(id="c1", active=True), "equipment": Row(id="e1", client_id="c1", active=True),
               "type": Row(id="k1", location="workshop", active=True),
               "technician": Row(id="t1", company_id="co1", active=True)}
    records[field] = Row(**{**vars(records[field]), "active": False})
    with pytest.raises(InvalidInput) as caught:
        rules.assign_on_creation(ADMIN, technician=records["technician"], client=records["client"],
                                 equipment=records["equipment"], intervention_type=records["type"],
                                 location="workshop", requested_technician_id="t1")
    assert caught.value.details == {f"{field}_id": records[field].id}


def test_a_site_must_be_the_clients_and_active():
    rules.check_site(None, CLIENT)
    rules.check_site(Row(id="s1", client_id="c1", active=True), CLIENT)
    with pytest.raises(InvalidInput) as caught:
        rules.check_site(Row(id="s2", client_id="other", active=True), CLIENT)
    assert caught.value.details == {"site_id": "s2", "client_id": "c1"}
    with pytest.raises(InvalidInput):
        rules.check_site(Row(id="s3", client_id="c1", active=False), CLIENT)


@pytest.mark.parametrize("state,ok", [("draft", False), ("validated", True), ("active", True),
                                      ("ended", False)])
def test_a_contract_must_be_the_clients_validated_or_active(state, ok):
    contract = Row(id="k", client_id="c1", state=state, active=True)
    if ok:
        rules.check_contract(contract, CLIENT)
    else:
        with pytest.raises(InvalidInput) as caught:
            rules.check_contract(contract, CLIENT)
        assert caught.value.details["state"] == state


def test_another_clients_contract_is_refused():
    with pytest.raises(InvalidInput) as caught:
        rules.check_contract(Row(id="k", client_id="other", state="active", active=True), CLIENT)
    assert caught.value.details == {"contract_id": "k", "client_id": "c1"}


@pytest.mark.parametrize("principal,works,manages", [
    (Principal(user_id="a", role="admin"), True, True),
    (Principal(user_id="m", role="manager", company_id="co1"), True, True),
    (Principal(user_id="m", role="manager", company_id="co2"), False, False),
    (Principal(user_id="t", role="technician", technician_id="t1"), True, False),
    (Principal(user_id="c", role="client", client_id="c1"), False, False),
    (None, False, False),
])
def test_who_moves_and_who_manages_an_intervention(principal, works, manages):
    assert rules.can_work_on(principal, INTERVENTION) is works
    assert rules.can_manage_intervention(principal, INTERVENTION) is manages
