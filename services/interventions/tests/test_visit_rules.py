"""Seed 001 / issue 10: the one table of moves of a visit (domain/visits.py),
every move tested, and the values, states and deadlines around it. Plain
Python: no broker, no database.

The expected table below is written out from the seed and the issue, not
read from the code, so that a change of the domain's table breaks a test.
"""
import itertools
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from types import SimpleNamespace as Row

import pytest

from fieldwork_common.errors import Conflict, Forbidden, InvalidInput
from fieldwork_common.principal import Principal
from fieldwork_interventions.domain import visits as flow

UTC = timezone.utc
NOW = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)

WORKER, CLIENT, STAFF, SYSTEM = "worker", "client", "staff", "system"
ACTORS = (WORKER, CLIENT, STAFF, SYSTEM)
STATES = ("planned", "done", "disputed", "arbitration", "validated", "cancelled")

# move: (from states, to state, actors, events, portal, after_end, before_start)
EXPECTED = {
    # staff plan; the seed's worker also adds a visit from its portal
    "plan": ((None,), "planned", {STAFF, WORKER}, ("visit.planned",), False, False, False),
    "reschedule": (("planned",), "planned", {STAFF}, ("visit.rescheduled",), False, False, False),
    "cancel": (("planned",), "cancelled", {STAFF}, ("visit.cancelled",), False, False, True),
    # the worker (or staff on its behalf) once the end has passed; it may
    # amend its declaration while the client has not answered (done → done)
    "declare_done": (("planned", "done"), "done", {WORKER, STAFF}, ("visit.declared",),
                     True, True, False),
    # a visit that did not take place: declared cancelled once it has started
    # (staff cancel it until then)
    "declare_cancelled": (("planned", "done"), "cancelled", {WORKER, STAFF}, ("visit.declared",),
                          True, False, False),
    # only a visit the worker declared done ("Réalisé") is answered by its client
    "client_validate": (("done",), "validated", {CLIENT}, ("visit.validated",), True, False, False),
    "client_dispute": (("done",), "disputed", {CLIENT}, ("visit.disputed",), True, False, False),
    "client_cancel": (("done",), "cancelled", {CLIENT}, ("visit.cancelled",), True, False, False),
    # the worker accepts or refuses the client's correction; refused → a manager
    "accept_dispute": (("disputed",), "validated", {WORKER},
                       ("visit.dispute_accepted", "visit.validated"), True, False, False),
    "refuse_dispute": (("disputed",), "arbitration", {WORKER}, ("visit.dispute_refused",),
                       True, False, False),
    # a manager settles a refused correction (or steps in on an unanswered dispute)
    "arbitrate": (("disputed", "arbitration"), "validated", {STAFF},
                  ("visit.arbitrated", "visit.validated"), False, False, False),
    "validate_on_behalf": (("done",), "validated", {STAFF}, ("visit.validated",),
                           False, False, False),
    "tacit": (("done",), "validated", {SYSTEM}, ("visit.validated",), False, False, False),
}
AFTER_START = {"declare_cancelled"}   # only once the visit has started
SOURCES = {name: row[0] for name, row in EXPECTED.items()}
TARGET = {name: row[1] for name, row in EXPECTED.items()}
WHO = {name: row[2] for name, row in EXPECTED.items()}
PORTAL = {name for name, row in EXPECTED.items() if row[4]}


def visit(state, start_at=None, end_at=None, technician_id="t1", client_id="c1"):
    """A visit of technician t1 at client c1 of company co1; by default it
    ended an hour before NOW."""
    end_at = end_at or NOW - HOUR
    start_at = start_at or end_at - 2 * HOUR
    return Row(id="v1", state=state, start_at=start_at, end_at=end_at,
               technician_id=technician_id, client_id=client_id, company_id="co1")


def suited_visit(name, state):
    """A visit in `state` whose times suit the move `name`: still to start
    for a move made before the start, ended for every other one."""
    if state is None:
        return None
    if EXPECTED[name][6]:  # before_start
        return visit(state, start_at=NOW + DAY, end_at=NOW + DAY + HOUR)
    return visit(state)


def moves_from(state):
    return sorted(name for name, sources in SOURCES.items() if state in sources)


# --- the table itself --------------------------------------------------------------------

def test_the_six_states_and_the_final_ones():
    assert flow.STATES == STATES
    assert flow.FINAL_STATES == ("validated", "cancelled")


def test_the_table_has_exactly_the_expected_moves():
    assert set(flow.MOVES) == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_move_is_declared_as_the_seed_and_the_issue_say(name):
    sources, target, actors, events, portal, after_end, before_start = EXPECTED[name]
    move = flow.MOVES[name]
    assert move.name == name
    assert set(move.sources) == set(sources)
    assert move.target == target
    assert set(move.actors) == actors
    assert move.events == events
    assert (move.portal, move.after_end, move.before_start) == (portal, after_end, before_start)
    assert move.after_start == (name in AFTER_START)


def test_every_target_is_a_state():
    assert {move.target for move in flow.MOVES.values()} <= set(STATES)


@pytest.mark.parametrize("state", flow.FINAL_STATES)
def test_nothing_leaves_a_final_state(state):
    assert flow.moves_from(state) == []


@pytest.mark.parametrize("state", [None, *STATES])
def test_the_moves_from_each_state(state):
    assert flow.moves_from(state) == moves_from(state)


def test_a_visit_waits_for_someone_in_every_state_that_is_not_final():
    assert flow.AWAITING == {"planned": "worker", "done": "client", "disputed": "worker",
                             "arbitration": "manager"}
    assert set(flow.AWAITING) == set(STATES) - set(flow.FINAL_STATES)


def test_the_validation_mode_each_validating_move_ends_in():
    assert flow.MODE_OF == {"client_validate": "client", "accept_dispute": "client",
                            "validate_on_behalf": "on_behalf", "tacit": "tacit",
                            "arbitrate": "arbitrated"}
    validating = {name for name, move in flow.MOVES.items() if move.target == "validated"}
    assert set(flow.MODE_OF) == validating
    assert set(flow.MODE_OF.values()) == set(flow.VALIDATION_MODES)


# --- every move × every state × every actor ----------------------------------------------

CROSS = list(itertools.product(sorted(set(flow.MOVES) | set(EXPECTED)), (None, *flow.STATES),
                               ACTORS))


@pytest.mark.parametrize("name,state,actor", CROSS)
def test_every_move_from_every_state_by_every_actor(name, state, actor):
    declared = flow.MOVES[name]
    # the domain's own declaration agrees with the expected table on this triple
    assert (actor in declared.actors) is (actor in WHO[name])
    assert (state in declared.sources) is (state in SOURCES[name])

    subject = suited_visit(name, state)
    if actor not in WHO[name]:
        with pytest.raises(Forbidden) as caught:
            flow.check_move(name, subject, actor, NOW, portal_validation=True)
        assert (caught.value.code, caught.value.http_status) == ("forbidden", 403)
        assert caught.value.details["move"] == name
        assert set(caught.value.details["by"]) == WHO[name]
    elif state not in SOURCES[name]:
        with pytest.raises(Conflict) as caught:
            flow.check_move(name, subject, actor, NOW, portal_validation=True)
        assert (caught.value.code, caught.value.http_status) == ("conflict", 409)
        details = caught.value.details
        assert (details["move"], details["state"]) == (name, state)
        assert set(details["allowed_from"]) == set(SOURCES[name])
        assert details["moves_from_here"] == moves_from(state)
    else:
        move = flow.check_move(name, subject, actor, NOW, portal_validation=True)
        assert (move.name, move.target) == (name, TARGET[name])


def test_a_wrong_actor_is_refused_before_the_state_is_looked_at():
    with pytest.raises(Forbidden):
        flow.check_move("arbitrate", visit("validated"), CLIENT, NOW, portal_validation=False)


def test_nobody_outside_the_table_moves_a_visit():
    with pytest.raises(Forbidden):
        flow.check_move("client_validate", visit("done"), None, NOW, portal_validation=True)


# --- the portal module -------------------------------------------------------------------

PORTAL_CASES = [(name, actor) for name in sorted(EXPECTED) for actor in sorted(WHO[name])
                if SOURCES[name] != (None,)]


@pytest.mark.parametrize("name,actor", PORTAL_CASES)
def test_portal_validation_off_refuses_worker_and_client_moves_only(name, actor):
    subject = suited_visit(name, SOURCES[name][0])
    if name in PORTAL and actor in (WORKER, CLIENT):
        with pytest.raises(Conflict) as caught:
            flow.check_move(name, subject, actor, NOW, portal_validation=False)
        assert caught.value.details == {"setting": "portal_validation", "value": False}
    else:
        assert flow.check_move(name, subject, actor, NOW, portal_validation=False).target == \
            TARGET[name]


def test_portal_validation_off_is_named_whatever_the_state():
    with pytest.raises(Conflict) as caught:
        flow.check_move("client_validate", visit("validated"), CLIENT, NOW, portal_validation=False)
    assert caught.value.details["setting"] == "portal_validation"


@pytest.mark.parametrize("name", ["declare_done", "declare_cancelled"])
def test_with_portal_validation_off_staff_declare_in_the_workers_place(name):
    assert flow.check_move(name, visit("planned"), STAFF, NOW, portal_validation=False)


# --- still to do, already started -------------------------------------------------------

@pytest.mark.parametrize("actor", [WORKER, STAFF])
def test_a_visit_whose_end_is_in_the_future_cannot_be_declared_done(actor):
    to_do = visit("planned", end_at=NOW + HOUR)
    with pytest.raises(Conflict) as caught:
        flow.check_move("declare_done", to_do, actor, NOW, portal_validation=True)
    assert caught.value.details == {"state": "planned", "end_at": to_do.end_at.isoformat(),
                                    "to_do": True}


@pytest.mark.parametrize("actor", [WORKER, STAFF])
def test_a_visit_is_declared_cancelled_once_started_not_before(actor):
    ahead = visit("planned", start_at=NOW + HOUR, end_at=NOW + 2 * HOUR)
    with pytest.raises(Conflict) as caught:
        flow.check_move("declare_cancelled", ahead, actor, NOW, portal_validation=True)
    assert caught.value.details == {"state": "planned", "start_at": ahead.start_at.isoformat(),
                                    "to_do": True}
    # the client was out: said as soon as the visit has started
    ongoing = visit("planned", start_at=NOW - HOUR, end_at=NOW + HOUR)
    assert flow.check_move("declare_cancelled", ongoing, actor, NOW, portal_validation=True)
    assert flow.check_move("declare_cancelled", visit("planned", start_at=NOW, end_at=NOW + HOUR),
                           actor, NOW, portal_validation=True)


def test_a_visit_in_progress_cannot_be_declared():
    ongoing = visit("planned", start_at=NOW - HOUR, end_at=NOW + HOUR)
    with pytest.raises(Conflict) as caught:
        flow.check_move("declare_done", ongoing, WORKER, NOW, portal_validation=True)
    assert caught.value.details["to_do"] is True


def test_a_visit_is_declared_once_its_end_is_reached():
    assert flow.check_move("declare_done", visit("planned", end_at=NOW), WORKER, NOW, True)


@pytest.mark.parametrize("name,actor", [("client_validate", CLIENT), ("client_dispute", CLIENT),
                                        ("client_cancel", CLIENT), ("validate_on_behalf", STAFF),
                                        ("tacit", SYSTEM)])
def test_a_visit_still_to_do_cannot_be_validated(name, actor):
    with pytest.raises(Conflict) as caught:
        flow.check_move(name, visit("planned", end_at=NOW + DAY), actor, NOW, True)
    assert caught.value.details["state"] == "planned"
    assert caught.value.details["allowed_from"] == ["done"]


@pytest.mark.parametrize("state", ["disputed", "arbitration"])
def test_validation_on_the_clients_behalf_is_refused_for_an_open_dispute(state):
    with pytest.raises(Conflict) as caught:
        flow.check_move("validate_on_behalf", visit(state), STAFF, NOW, True)
    assert caught.value.details["state"] == state


@pytest.mark.parametrize("start_at", [NOW, NOW - HOUR])
def test_staff_cancel_only_before_the_visit_starts(start_at):
    started = visit("planned", start_at=start_at, end_at=NOW + HOUR)
    with pytest.raises(Conflict) as caught:
        flow.check_move("cancel", started, STAFF, NOW, portal_validation=True)
    assert caught.value.details == {"start_at": start_at.isoformat()}


def test_staff_cancel_a_second_before_the_start():
    soon = visit("planned", start_at=NOW + timedelta(seconds=1), end_at=NOW + HOUR)
    assert flow.check_move("cancel", soon, STAFF, NOW, True).target == "cancelled"


def test_staff_reschedule_a_planned_visit_at_any_time():
    assert flow.check_move("reschedule", visit("planned", end_at=NOW + DAY), STAFF, NOW, True)
    assert flow.check_move("reschedule", visit("planned"), STAFF, NOW, True)


# --- who is who ---------------------------------------------------------------------------

VISIT = visit("disputed")


@pytest.mark.parametrize("principal,actor", [
    (Principal(user_id="t", role="technician", technician_id="t1", company_id="co1"), WORKER),
    (Principal(user_id="t", role="technician", technician_id="t2", company_id="co1"), None),
    (Principal(user_id="c", role="client", client_id="c1", company_id="co1"), CLIENT),
    (Principal(user_id="c", role="client", client_id="c2", company_id="co1"), None),
    (Principal(user_id="m", role="manager", company_id="co1"), STAFF),
    (Principal(user_id="a", role="admin", company_id="co1"), STAFF),
    (Principal(user_id="a", role="admin"), STAFF),
    (Principal(user_id="x", role="auditor", company_id="co1"), None),
    (None, SYSTEM),
])
def test_who_acts_on_a_visit(principal, actor):
    assert flow.actor_of(principal, VISIT) == actor


@pytest.mark.parametrize("principal", [
    Principal(user_id="t", role="technician", technician_id="t1"),
    Principal(user_id="c", role="client", client_id="c1"),
])
def test_the_worker_or_the_client_of_a_visit_never_arbitrates_it(principal):
    with pytest.raises(Forbidden):
        flow.check_move("arbitrate", VISIT, flow.actor_of(principal, VISIT), NOW, True)


# --- who a visit waits for, since when, and its intervention -----------------------------

@pytest.mark.parametrize("state,end_at,waits_for", [
    ("planned", NOW + HOUR, None),          # to do ("N/B"): nobody yet
    ("planned", NOW, "worker"),
    ("planned", NOW - HOUR, "worker"),
    ("done", NOW - HOUR, "client"),
    ("disputed", NOW - HOUR, "worker"),
    ("arbitration", NOW - HOUR, "manager"),
    ("validated", NOW - HOUR, None),
    ("cancelled", NOW - HOUR, None),
    ("cancelled", NOW + HOUR, None),
])
def test_who_a_visit_waits_for(state, end_at, waits_for):
    assert flow.awaiting(state, end_at, NOW) == waits_for


@pytest.mark.parametrize("state,since", [
    ("planned", "end"), ("done", "move"), ("disputed", "move"), ("arbitration", "move"),
    ("validated", None), ("cancelled", None),
])
def test_since_when_a_visit_waits(state, since):
    end_at, moved_at = NOW - DAY, NOW
    expected = {"end": end_at, "move": moved_at, None: None}[since]
    assert flow.waiting_since(state, end_at, moved_at) == expected


@pytest.mark.parametrize("states,expected", [
    ([], "open"),
    (["planned"], "open"),
    (["planned", "validated"], "open"),
    (["done", "planned", "cancelled"], "open"),
    (["done"], "closed"),
    (["done", "validated"], "closed"),
    (["disputed", "cancelled"], "closed"),
    (["arbitration", "validated"], "closed"),
    (["validated"], "completed"),
    (["cancelled"], "completed"),
    (["validated", "cancelled", "validated"], "completed"),
])
def test_an_intervention_follows_its_visits(states, expected):
    assert flow.intervention_state(states) == expected
    assert flow.intervention_state(iter(states)) == expected


# --- times, kilometres, contract ---------------------------------------------------------

START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize("end_at,max_hours", [
    (START - HOUR, None),
    (START, None),
    (START + timedelta(hours=24, seconds=1), 24),
    (START + 2 * DAY, 24),
])
def test_bad_times_are_refused(end_at, max_hours):
    with pytest.raises(InvalidInput) as caught:
        flow.check_times(START, end_at)
    assert (caught.value.code, caught.value.http_status) == ("invalid_input", 400)
    details = caught.value.details
    assert (details["start_at"], details["end_at"]) == (START.isoformat(), end_at.isoformat())
    assert details.get("max_hours") == max_hours


@pytest.mark.parametrize("end_at", [START + timedelta(minutes=1), START + 24 * HOUR])
def test_a_visit_of_up_to_exactly_24_hours_is_accepted(end_at):
    assert flow.check_times(START, end_at) is None


def test_times_with_different_offsets_compare_as_instants():
    paris = timezone(timedelta(hours=1))
    flow.check_times(datetime(2026, 1, 5, 10, 0, tzinfo=paris), datetime(2026, 1, 5, 9, 30, tzinfo=UTC))
    with pytest.raises(InvalidInput):
        flow.check_times(datetime(2026, 1, 5, 10, 0, tzinfo=paris),
                         datetime(2026, 1, 5, 8, 30, tzinfo=UTC))


@pytest.mark.parametrize("km,expected", [
    (None, None),
    (0, "0.0"),
    (12, "12.0"),
    (12.5, "12.5"),
    (Decimal("12.5"), "12.5"),
    ("12.50", "12.5"),
    (Decimal("999.9"), "999.9"),
    (1000, "1000.0"),                        # the company's limit itself
])
def test_kilometres_accepted_are_kept_exact(km, expected):
    value = flow.check_km(km, 1000)
    if expected is None:
        assert value is None
    else:
        assert isinstance(value, Decimal)
        assert value == Decimal(expected) and str(value) == expected


@pytest.mark.parametrize("km,details", [
    (-0.1, {"km": -0.1}),
    (-5, {"km": -5}),
    (12.25, {"km": 12.25}),
    (0.1 + 0.2, {"km": 0.1 + 0.2}),          # a float's binary noise is not one decimal
    (Decimal("1.05"), {"km": Decimal("1.05")}),
    (1000.1, {"km": 1000.1, "max_visit_km": 1000}),
    (5000, {"km": 5000, "max_visit_km": 1000}),
    (True, {"km": True}),
    ("twelve", {"km": "twelve"}),
    (float("nan"), None),
    (float("inf"), {"km": float("inf")}),
])
def test_bad_kilometres_are_refused(km, details):
    with pytest.raises(InvalidInput) as caught:
        flow.check_km(km, 1000)
    assert caught.value.http_status == 400
    if details is not None:
        assert caught.value.details == details
    else:
        assert "km" in caught.value.details


def test_the_limit_is_the_companys():
    assert flow.check_km(50, 50) == Decimal("50.0")
    with pytest.raises(InvalidInput) as caught:
        flow.check_km(50.1, 50)
    assert caught.value.details == {"km": 50.1, "max_visit_km": 50}


@pytest.mark.parametrize("km", ["1e30", 1e30, "1e999999"])
def test_a_huge_number_of_kilometres_is_a_bad_input_not_a_server_error(km):
    with pytest.raises(InvalidInput) as caught:
        flow.check_km(km, 1000)
    assert caught.value.details["max_visit_km"] == 1000


def test_minus_zero_kilometres_is_zero():
    assert str(flow.check_km("-0", 1000)) == "0.0"


def contract(**changes):
    return Row(**{"id": "k1", "client_id": "c1", "billable": True, "state": "validated",
                  "active": True, **changes})


@pytest.mark.parametrize("state", ["validated", "active"])
def test_a_billable_validated_or_active_contract_of_the_client_is_accepted(state):
    assert flow.check_contract(contract(state=state), "c1") is None


def test_another_clients_contract_is_a_bad_input():
    with pytest.raises(InvalidInput) as caught:
        flow.check_contract(contract(client_id="c2", billable=False, state="draft"), "c1")
    assert caught.value.http_status == 400
    assert caught.value.details == {"contract_id": "k1", "client_id": "c1"}


def test_a_contract_that_is_not_billable_is_a_bad_input():
    with pytest.raises(InvalidInput) as caught:
        flow.check_contract(contract(billable=False, state="draft"), "c1")
    assert caught.value.details == {"contract_id": "k1", "billable": False}


@pytest.mark.parametrize("state,active", [("draft", True), ("ended", True), ("active", False),
                                          ("validated", False)])
def test_a_contract_neither_validated_nor_active_is_a_conflict_naming_its_state(state, active):
    with pytest.raises(Conflict) as caught:
        flow.check_contract(contract(state=state, active=active), "c1")
    assert caught.value.http_status == 409
    assert caught.value.details == {"contract_id": "k1", "state": state, "active": active,
                                    "allowed": ["validated", "active"]}


# --- weekly series ------------------------------------------------------------------------

PARIS_WINTER = timezone(timedelta(hours=1))
MONDAY = datetime(2026, 1, 5, 10, 0, tzinfo=PARIS_WINTER)
VISIT_LENGTH = timedelta(minutes=90)


def test_one_visit_without_a_series():
    assert flow.occurrences(MONDAY, MONDAY + VISIT_LENGTH) == [(MONDAY, MONDAY + VISIT_LENGTH)]


def test_a_weekly_series_on_given_days_until_a_date_included():
    found = flow.occurrences(MONDAY, MONDAY + VISIT_LENGTH, ["mon", "thu"], date(2026, 1, 22))
    assert [start.date() for start, _ in found] == [
        date(2026, 1, 5), date(2026, 1, 8), date(2026, 1, 12), date(2026, 1, 15),
        date(2026, 1, 19), date(2026, 1, 22)]
    for start, end in found:
        assert end - start == VISIT_LENGTH
        # answered in UTC: 10:00 in Paris (winter) is 09:00 UTC
        assert (start.hour, start.minute, start.utcoffset()) == (9, 0, timedelta(0))


def test_a_series_starts_on_the_first_given_day_from_the_first_visits_date():
    tuesday = MONDAY + DAY
    found = flow.occurrences(tuesday, tuesday + HOUR, ["mon"], date(2026, 1, 19))
    assert [start.date() for start, _ in found] == [date(2026, 1, 12), date(2026, 1, 19)]


def test_the_weekday_is_the_one_in_paris():
    """00:30 on a Monday in Paris is a Sunday in UTC: Paris decides, however
    the moment was sent."""
    just_after_midnight = datetime(2026, 1, 5, 0, 30, tzinfo=PARIS_WINTER)
    for sent in (just_after_midnight, just_after_midnight.astimezone(UTC)):
        found = flow.occurrences(sent, sent + HOUR, ["mon"], date(2026, 1, 5))
        assert found == [(just_after_midnight, just_after_midnight + HOUR)]
        with pytest.raises(InvalidInput):   # no Sunday in this series
            flow.occurrences(sent, sent + HOUR, ["sun"], date(2026, 1, 5))


def test_a_series_sent_at_a_fixed_offset_keeps_the_paris_wall_clock_across_summer_time():
    """A first visit sent as 10:00+01:00 (or 09:00Z): the series stays at
    10:00 on Paris clocks, i.e. 08:00 UTC after 29 March 2026."""
    first = datetime(2026, 3, 23, 10, 0, tzinfo=PARIS_WINTER)
    for sent in (first, first.astimezone(UTC)):
        found = flow.occurrences(sent, sent + HOUR, ["mon"], date(2026, 4, 6))
        assert [start.hour for start, _ in found] == [9, 8, 8]
        assert all(start.utcoffset() == timedelta(0) for start, _ in found)
        assert all(end - start == HOUR for start, end in found)


def test_a_series_in_the_paris_zone_keeps_its_local_time_across_the_change_to_summer_time():
    paris = flow.SERIES_ZONE     # Europe/Paris
    first = datetime(2026, 3, 23, 10, 0, tzinfo=paris)
    found = flow.occurrences(first, first + HOUR, ["mon"], date(2026, 4, 6))
    assert [start.astimezone(paris).hour for start, _ in found] == [10, 10, 10]
    assert [start.hour for start, _ in found] == [9, 8, 8]
    assert all((end - start, end.astimezone(paris).hour) == (HOUR, 11) for start, end in found)


@pytest.mark.parametrize("weekly_on,until,details", [
    (None, date(2026, 1, 12), {"repeat": "weekly_on"}),
    ([], date(2026, 1, 12), {"repeat": "weekly_on"}),
    (["mon"], None, {"repeat": "until"}),
    (["monday"], date(2026, 1, 12), {"weekly_on": ["monday"]}),
    (["mon", "Tue"], date(2026, 1, 12), {"weekly_on": ["mon", "Tue"]}),
    (["mon"], date(2026, 1, 4), {"until": "2026-01-04", "start_at": MONDAY.isoformat()}),
    (["wed"], date(2026, 1, 6), {"weekly_on": ["wed"]}),     # no occurrence
])
def test_a_bad_series_is_refused(weekly_on, until, details):
    with pytest.raises(InvalidInput) as caught:
        flow.occurrences(MONDAY, MONDAY + HOUR, weekly_on, until)
    assert caught.value.details == details


def test_a_series_checks_the_first_visits_times():
    with pytest.raises(InvalidInput) as caught:
        flow.occurrences(MONDAY, MONDAY - HOUR, ["mon"], date(2026, 2, 1))
    assert "end_at" in caught.value.details


def test_a_series_spans_at_most_366_days():
    assert flow.MAX_SERIES_SPAN == timedelta(days=366)
    last = MONDAY.date() + timedelta(days=366)
    assert len(flow.occurrences(MONDAY, MONDAY + HOUR, ["mon"], last)) == 53
    with pytest.raises(InvalidInput) as caught:
        flow.occurrences(MONDAY, MONDAY + HOUR, ["mon"], last + DAY)
    assert caught.value.details == {"until": (last + DAY).isoformat()}


def test_a_series_makes_at_most_200_visits():
    assert flow.MAX_SERIES == 200
    every_day = list(flow.WEEKDAYS)
    found = flow.occurrences(MONDAY, MONDAY + HOUR, every_day, MONDAY.date() + timedelta(days=199))
    assert len(found) == 200
    with pytest.raises(InvalidInput) as caught:
        flow.occurrences(MONDAY, MONDAY + HOUR, every_day, MONDAY.date() + timedelta(days=200))
    assert caught.value.details == {"max_visits": 200}


# --- a manager's decision -----------------------------------------------------------------

WORKER_VALUES = {"start_at": START, "end_at": START + 2 * HOUR, "km": Decimal("10.0")}
CLIENT_VALUES = {"start_at": START, "end_at": START + HOUR, "km": Decimal("8.0")}
NO_VALUES = {"start_at": None, "end_at": None, "km": None}


@pytest.mark.parametrize("decision,expected", [("worker", WORKER_VALUES),
                                               ("client", CLIENT_VALUES)])
def test_a_manager_decides_for_the_worker_or_the_client(decision, expected):
    values = flow.decided_values(decision, WORKER_VALUES, CLIENT_VALUES, dict(NO_VALUES))
    assert values == expected and values is not expected


def test_a_custom_decision_keeps_the_workers_values_it_does_not_give():
    custom = {**NO_VALUES, "km": Decimal("0.0")}
    assert flow.decided_values("custom", WORKER_VALUES, CLIENT_VALUES, custom) == {
        **WORKER_VALUES, "km": Decimal("0.0")}
    custom = {"start_at": START + HOUR, "end_at": START + 3 * HOUR, "km": Decimal("9.5")}
    assert flow.decided_values("custom", WORKER_VALUES, CLIENT_VALUES, custom) == custom


def test_a_custom_decision_needs_values():
    with pytest.raises(InvalidInput) as caught:
        flow.decided_values("custom", WORKER_VALUES, CLIENT_VALUES, dict(NO_VALUES))
    assert caught.value.details == {"decide": "custom"}


@pytest.mark.parametrize("decision", ["worker", "client"])
def test_values_go_with_a_custom_decision_only(decision):
    with pytest.raises(InvalidInput) as caught:
        flow.decided_values(decision, WORKER_VALUES, CLIENT_VALUES, {**NO_VALUES, "km": 3})
    assert caught.value.details == {"decide": decision}


@pytest.mark.parametrize("decision", ["manager", "", None, "Worker"])
def test_an_unknown_decision_is_refused(decision):
    with pytest.raises(InvalidInput) as caught:
        flow.decided_values(decision, WORKER_VALUES, CLIENT_VALUES, dict(NO_VALUES))
    assert caught.value.details == {"decide": decision}


# --- deadlines ----------------------------------------------------------------------------

END = datetime(2026, 1, 5, 11, 0, tzinfo=UTC)
SINCE = datetime(2026, 1, 6, 8, 0, tzinfo=UTC)


def test_the_timer_kinds():
    assert flow.TIMER_KINDS == ("visit.remind_worker", "visit.remind_client",
                                "visit.remind_manager", "visit.tacit")
    assert flow.REMINDER_STAGE == {"visit.remind_worker": "worker", "visit.remind_client": "client",
                                   "visit.remind_manager": "manager"}


@pytest.mark.parametrize("tacit", [True, False])
def test_a_planned_visit_reminds_its_worker_a_day_after_its_end_then_a_manager(tacit):
    assert flow.deadlines("planned", END, SINCE, 3, tacit) == [
        ("visit.remind_worker", END + 24 * HOUR), ("visit.remind_manager", END + 3 * DAY)]


def test_a_done_visit_reminds_its_client_then_is_validated_tacitly_when_the_company_wants():
    assert flow.deadlines("done", END, SINCE, 3, True) == [
        ("visit.remind_client", SINCE + 3 * DAY), ("visit.tacit", SINCE + 6 * DAY)]
    assert flow.tacit_at("done", SINCE, 3, True) == SINCE + 6 * DAY


def test_a_done_visit_reminds_a_manager_instead_when_tacit_validation_is_off():
    assert flow.deadlines("done", END, SINCE, 5, False) == [
        ("visit.remind_client", SINCE + 5 * DAY), ("visit.remind_manager", SINCE + 10 * DAY)]
    assert flow.tacit_at("done", SINCE, 5, False) is None


def test_a_disputed_visit_reminds_its_worker_then_a_manager():
    assert flow.deadlines("disputed", END, SINCE, 3, True) == [
        ("visit.remind_worker", SINCE + 24 * HOUR), ("visit.remind_manager", SINCE + 3 * DAY)]


@pytest.mark.parametrize("tacit", [True, False])
def test_a_visit_awaiting_a_managers_decision_reminds_a_manager_after_n_days(tacit):
    assert flow.deadlines("arbitration", END, SINCE, 3, tacit) == [
        ("visit.remind_manager", SINCE + 3 * DAY)]


@pytest.mark.parametrize("state", ["validated", "cancelled"])
@pytest.mark.parametrize("tacit", [True, False])
def test_no_timer_once_it_is_final(state, tacit):
    assert flow.deadlines(state, END, SINCE, 3, tacit) == []


@pytest.mark.parametrize("state", [s for s in STATES if s != "done"])
def test_only_a_done_visit_is_validated_tacitly(state):
    assert flow.tacit_at(state, SINCE, 3, True) is None
    assert all(kind != "visit.tacit" for kind, _ in flow.deadlines(state, END, SINCE, 3, True))


@pytest.mark.parametrize("state,tacit", list(itertools.product(STATES, [True, False])))
def test_every_deadline_is_a_known_kind(state, tacit):
    assert {kind for kind, _ in flow.deadlines(state, END, SINCE, 3, tacit)} <= \
        set(flow.TIMER_KINDS)
