"""Seed 000 creation rules and object access, without broker or database."""
from types import SimpleNamespace as Row

import pytest

from fieldwork_common.errors import Forbidden, InvalidInput, NotFound
from fieldwork_common.principal import Principal
from fieldwork_interventions.domain import rules

TECH = Row(id="t1", company_id="co1")
CLIENT = Row(id="c1")
EQUIPMENT = Row(id="e1", client_id="c1")
WORKSHOP = Row(id="k1", location="workshop")
ADMIN = Principal(user_id="a", role="admin")


def assign(principal, technician=TECH, equipment=EQUIPMENT, kind=WORKSHOP, location="workshop",
           requested="t1"):
    return rules.assign_on_creation(principal, technician=technician, client=CLIENT,
                                    equipment=equipment, intervention_type=kind,
                                    location=location, requested_technician_id=requested)


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
