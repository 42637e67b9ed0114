"""The read side without broker or database: the tracking timeline built
from history rows, tokens, and the checks the view RPCs make before they
touch the database (nameko's worker_factory, FakeDb at the boundary)."""
from datetime import datetime, timedelta, timezone

import pytest
from nameko.testing.services import worker_factory

from fieldwork_common.errors import Forbidden, InvalidInput
from fieldwork_common.pagination import encode_cursor
from fieldwork_common.principal import Principal
from fieldwork_common.testing.fakes import FakeDb
from fieldwork_interventions.rpc import reads as views
from fieldwork_interventions.domain import reads as tracking
from fieldwork_interventions.service import InterventionsService

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=timezone.utc)


def at(hours):
    return T0 + timedelta(hours=hours)


def step(from_, to, hours):
    return ("step", {"from": from_, "to": to, "state": "open"}, at(hours))


def timeline(path):
    return [(r.step, r.at) for r in path]


# --- the tracking timeline ---------------------------------------------------------

def test_a_new_intervention_shows_its_first_step_at_creation():
    assert timeline(tracking.steps_reached("picked_up", T0, [])) == [("picked_up", T0)]


def test_each_move_adds_the_step_reached_with_its_time():
    history = [("created", {"step": "picked_up"}, T0), step("picked_up", "in_workshop", 1),
               ("status", {"status_id": "s"}, at(2)), step("in_workshop", "final_tests", 3),
               step("final_tests", "awaiting_pickup", 4)]
    assert timeline(tracking.steps_reached("awaiting_pickup", T0, history)) == [
        ("picked_up", T0), ("in_workshop", at(1)), ("final_tests", at(3)),
        ("awaiting_pickup", at(4))]


def test_a_move_back_to_the_workshop_cuts_the_path_and_dates_the_step_anew():
    history = [step("picked_up", "in_workshop", 1), step("in_workshop", "final_tests", 2),
               step("final_tests", "in_workshop", 3)]
    assert timeline(tracking.steps_reached("in_workshop", T0, history)) == [
        ("picked_up", T0), ("in_workshop", at(3))]
    history.append(step("in_workshop", "final_tests", 5))
    assert timeline(tracking.steps_reached("final_tests", T0, history)) == [
        ("picked_up", T0), ("in_workshop", at(3)), ("final_tests", at(5))]


def test_a_reopening_reads_like_a_move():
    history = [step("picked_up", "in_workshop", 1), step("in_workshop", "final_tests", 2),
               step("final_tests", "awaiting_pickup", 3),
               ("reopened", {"from_step": "awaiting_pickup", "to_step": "in_workshop"}, at(4))]
    assert timeline(tracking.steps_reached("in_workshop", T0, history)) == [
        ("picked_up", T0), ("in_workshop", at(4))]


def test_an_intervention_outside_the_workshop_has_no_steps():
    assert tracking.steps_reached(None, T0, []) == []


def test_the_reference_is_the_ids_first_eight_hex_digits_upper_case():
    assert tracking.reference("ab12cd34-0000-4000-8000-000000000000") == "AB12CD34"


def test_only_a_hash_of_a_token_is_kept_and_tokens_differ():
    first, second = tracking.new_token(), tracking.new_token()
    assert first != second and len(first) >= 43
    assert tracking.token_hash(first) != first and len(tracking.token_hash(first)) == 64


@pytest.mark.parametrize("raw, days", [(None, 90), ("30", 30), ("0", 90), ("-1", 90),
                                        ("soon", 90), ("0.5", 0.5)])
def test_tracking_links_last_the_configured_days(raw, days):
    assert tracking.parse_days(raw) == days


def test_a_token_opens_its_page_only_while_valid():
    now = T0
    assert tracking.usable("tracking", "tracking", False, now + timedelta(days=1), now)
    assert not tracking.usable("tracking", "tracking", False, now - timedelta(seconds=1), now)
    assert not tracking.usable("tracking", "tracking", True, None, now)
    assert not tracking.usable("calendar_company", "tracking", False, None, now)


# --- the service's checks before the database ---------------------------------------

def service_for(role, **links):
    db = FakeDb()
    return worker_factory(InterventionsService, db=db,
                          principal=Principal(user_id="u", role=role, **links)), db


@pytest.mark.parametrize("principal, column, value", [
    (Principal("u", "client", client_id="c1"), "client_id", "c1"),
    (Principal("u", "technician", technician_id="t1"), "technician_id", "t1"),
    (Principal("u", "manager", company_id="k1"), "company_id", "k1"),
    (Principal("u", "admin", company_id="k1"), "company_id", "k1"),
])
def test_each_role_lists_only_what_it_may_see(principal, column, value):
    [condition] = views.visibility(principal)
    assert condition.left.name == column and condition.right.value == value


def test_a_global_admin_lists_everything():
    assert views.visibility(Principal("u", "admin")) == []


@pytest.mark.parametrize("kwargs", [
    {"company_id": "nope"}, {"step": "on_the_moon"}, {"state": "lost"},
    {"created_from": "yesterday"}, {"created_to": "2026-01-01T00:00:00"},  # no offset
    {"after": "not-a-cursor"}, {"after": encode_cursor(T0, "not-an-id")}, {"limit": 0},
    {"limit": 201},
])
def test_bad_list_filters_are_bad_input(kwargs):
    service, _ = service_for("admin")
    with pytest.raises(InvalidInput):
        service.list_interventions(**kwargs)


@pytest.mark.parametrize("start, end", [
    ("2026-02-01T00:00:00Z", "2026-01-01T00:00:00Z"),        # backwards
    ("2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z"),        # empty
    ("2026-01-01T00:00:00Z", "2027-01-03T00:00:00Z"),        # 367 days
    ("2026-01-01", "2026-02-01T00:00:00Z"),                  # no offset
    (None, "2026-02-01T00:00:00Z"),
])
def test_a_calendar_range_must_be_ordered_and_at_most_366_days(start, end):
    service, _ = service_for("admin")
    with pytest.raises(InvalidInput):
        service.calendar(start, end)


def test_a_client_gets_no_calendar_feed():
    service, db = service_for("client", client_id="c1")
    with pytest.raises(Forbidden):
        service.create_calendar_feed(company_id="k1")
    assert db.committed == []


def test_a_feed_is_for_a_technician_or_a_company_not_both():
    service, db = service_for("admin")
    with pytest.raises(InvalidInput):
        service.create_calendar_feed(technician_id="00000000-0000-4000-8000-000000000001",
                                     company_id="00000000-0000-4000-8000-000000000002")
    assert db.committed == []


def test_a_technician_subscribes_only_to_its_own_calendar():
    service, db = service_for("technician", technician_id="00000000-0000-4000-8000-000000000001")
    with pytest.raises(Forbidden):
        service.create_calendar_feed(company_id="00000000-0000-4000-8000-000000000002")
    assert db.committed == []


@pytest.mark.parametrize("role", ["manager", "technician", "client"])
def test_only_admins_and_the_platform_issue_tracking_links(role):
    service, db = service_for(role, company_id="k1")
    with pytest.raises(Forbidden):
        service.issue_tracking_token("00000000-0000-4000-8000-000000000001")
    assert db.committed == []


def test_a_step_and_a_state_that_cannot_go_together_list_nothing_without_a_query():
    service, db = service_for("admin")
    db.session.reset_mock()
    assert service.list_interventions(step="delivered", state="open") == {"items": [], "next_cursor": None}
    db.session.assert_not_called()
