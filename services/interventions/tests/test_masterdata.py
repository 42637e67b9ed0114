"""Master data rules (domain.masterdata) and the master-data RPCs that
refuse before touching the database, with nameko's worker_factory."""
from datetime import date

import pytest
from nameko.testing.services import worker_factory

from fieldwork_common.errors import Conflict, Forbidden, InvalidInput
from fieldwork_common.principal import Principal
from fieldwork_common.testing.fakes import FakeDb
from fieldwork_interventions.rpc import masterdata
from fieldwork_interventions.domain import masterdata as md
from fieldwork_interventions.service import InterventionsService


def service_for(role, **links):
    db = FakeDb()
    return worker_factory(InterventionsService, db=db,
                          principal=Principal(user_id="u", role=role, **links)), db


# --- the contract state machine ---------------------------------------------------

@pytest.mark.parametrize("current, wanted", [
    ("draft", "validated"), ("validated", "active"), ("active", "ended")])
def test_a_contract_moves_one_state_forward(current, wanted):
    assert md.contract_move(current, wanted) == wanted


@pytest.mark.parametrize("current, wanted, allowed", [
    ("draft", "active", ["validated"]), ("active", "draft", ["ended"]),
    ("ended", "active", []), ("validated", "validated", ["active"])])
def test_any_other_contract_move_is_a_conflict_naming_the_allowed_ones(current, wanted, allowed):
    with pytest.raises(Conflict) as caught:
        md.contract_move(current, wanted)
    assert caught.value.details == {"state": current, "wanted": wanted, "allowed": allowed}


def test_an_unknown_contract_state_is_bad_input():
    with pytest.raises(InvalidInput) as caught:
        md.contract_move("draft", "signed")
    assert caught.value.details["allowed"] == list(md.CONTRACT_STATES)


def test_the_moves_cover_every_state():
    assert set(md.CONTRACT_MOVES) == set(md.CONTRACT_STATES)
    assert all(set(moves) <= set(md.CONTRACT_STATES) for moves in md.CONTRACT_MOVES.values())


# --- values ---------------------------------------------------------------------------

def test_a_colour_is_hexadecimal_rrggbb_stored_lower_case():
    assert md.colour("#1E90ff") == "#1e90ff"
    for bad in ("1e90ff", "#1e90f", "#1e90ffa", "#gggggg", "red", None, 123):
        with pytest.raises(InvalidInput):
            md.colour(bad)


def test_dates_and_periods():
    assert md.a_date("starts_on", "2026-02-01") == date(2026, 2, 1)
    assert md.a_date("starts_on", None) is None
    with pytest.raises(InvalidInput) as caught:
        md.a_date("ends_on", "tomorrow")
    assert caught.value.details == {"ends_on": "tomorrow"}
    md.check_period(date(2026, 1, 1), date(2026, 1, 1))
    md.check_period(None, date(2026, 1, 1))
    with pytest.raises(InvalidInput):
        md.check_period(date(2026, 1, 2), date(2026, 1, 1))


def test_changes_must_be_editable_and_not_null_where_required():
    md.check_changes("company", {"survey_enabled": True, "email": None})
    with pytest.raises(InvalidInput) as caught:
        md.check_changes("site", {"client_id": "x", "name": "S"})
    assert caught.value.details["fields"] == ["client_id"]
    with pytest.raises(InvalidInput):
        md.check_changes("status", {})
    with pytest.raises(InvalidInput) as caught:
        md.check_changes("client", {"name": None})
    assert caught.value.details == {"fields": ["name"]}
    assert "state" not in md.EDITABLE["contract"]  # it has its own command


def test_a_stale_version_is_a_conflict():
    md.check_version("company", 3, 3)
    with pytest.raises(Conflict) as caught:
        md.check_version("company", 3, 2)
    assert caught.value.details == {"current_version": 3, "your_version": 2}
    with pytest.raises(InvalidInput):
        md.check_version("company", 3, "3")


def test_a_referenced_record_is_not_deleted():
    md.check_deletable("client", {"sites": 0, "equipment": 0})
    with pytest.raises(Conflict) as caught:
        md.check_deletable("client", {"sites": 0, "equipment": 2})
    assert caught.value.details["referenced_by"] == {"equipment": 2}
    assert "deactivate" in caught.value.message


def test_a_used_type_keeps_its_location():
    md.check_location_change("workshop", "at_home", 0)
    md.check_location_change("workshop", "workshop", 4)
    with pytest.raises(Conflict):
        md.check_location_change("workshop", "at_home", 1)


def test_multi_company_off_needs_a_main_company():
    md.check_settings(True, None)
    md.check_settings(False, "c1")
    with pytest.raises(InvalidInput):
        md.check_settings(False, None)
    with pytest.raises(InvalidInput):
        md.check_settings("no", "c1")


def test_a_technician_lists_its_own_company_first_without_repeats():
    assert md.company_ids("a", ["c", "a", "b", "c"]) == ["a", "b", "c"]
    assert md.company_ids("a", None) == ["a"]


def test_a_name_filter_is_trimmed_and_bounded():
    assert md.contains("  shop ") == "shop"
    assert md.contains("   ") is None
    with pytest.raises(InvalidInput):
        md.contains("x" * 201)


# --- the RPCs ---------------------------------------------------------------------------

def test_a_company_is_created_with_its_full_record_in_the_event():
    service, db = service_for("admin")
    result = service.create_company("Shop", email="s@example.test", survey_enabled=True)
    [(event_type, _, data)] = db.published
    assert event_type == "company.created"
    assert set(data) == set(masterdata.COMPANY_FIELDS)
    assert data == result
    assert (data["survey_enabled"], data["active"], data["version"]) == (True, True, 1)


def test_companies_types_statuses_and_settings_are_for_global_admins():
    service, db = service_for("admin", company_id="c1")
    for call in (lambda: service.create_company("Shop"),
                 lambda: service.create_intervention_type("Repair", "workshop"),
                 lambda: service.create_status("Waiting"),
                 lambda: service.update_settings(True)):
        with pytest.raises(Forbidden):
            call()
    assert db.committed == []


@pytest.mark.parametrize("role", ["manager", "technician", "client"])
def test_only_admins_change_master_data(role):
    service, db = service_for(role, company_id="c1")
    for call in (lambda: service.update_client("x", 1, {"name": "N"}),
                 lambda: service.delete_site("x"),
                 lambda: service.create_site("x", "Site"),
                 lambda: service.set_contract_state("x", "validated")):
        with pytest.raises(Forbidden):
            call()
    assert db.committed == []


def test_a_status_needs_a_colour_and_an_integer_position():
    service, db = service_for("admin")
    with pytest.raises(InvalidInput):
        service.create_status("Waiting", colour="blue")
    with pytest.raises(InvalidInput):
        service.create_status("Waiting", position="first")
    status = service.create_status("Waiting", colour="#ABCDEF", position=2)
    assert status["colour"] == "#abcdef"
    assert [event_type for event_type, _, _ in db.published] == ["status.created"]


def test_turning_multi_company_off_without_a_main_company_writes_nothing():
    service, db = service_for("admin")
    with pytest.raises(InvalidInput):
        service.update_settings(False)
    assert db.committed == []
