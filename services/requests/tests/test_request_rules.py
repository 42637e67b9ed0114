"""The rules of a request (domain/requests.py): where it comes from, its
number, the texts, and the actions that move its status."""
import pytest

from fieldwork_common.errors import InvalidInput, Refused
from fieldwork_requests.domain import requests as rules


@pytest.mark.parametrize("role,given,expected", [
    ("client", None, "portal"), ("client", "portal", "portal"),
    ("technician", None, "field"), ("technician", "field", "field"),
    ("admin", "phone", "phone"), ("manager", "email", "email"), ("manager", "other", "other"),
])
def test_the_source_follows_who_creates(role, given, expected):
    assert rules.source_for(role, given) == expected


@pytest.mark.parametrize("role,given", [
    ("client", "phone"), ("client", "field"), ("technician", "portal"), ("technician", "email"),
    ("admin", None), ("manager", "portal"), ("manager", "field"), ("admin", "fax"),
])
def test_a_source_that_does_not_fit_the_creator_is_refused(role, given):
    with pytest.raises(InvalidInput):
        rules.source_for(role, given)


def test_numbers_have_the_year_and_six_digits():
    assert rules.number(2026, 123) == "DEM-2026-000123"
    assert rules.number(2027, 1) == "DEM-2027-000001"


@pytest.mark.parametrize("value", ["", "   ", 12, "x" * 5001])
def test_texts_are_one_to_5000_characters(value):
    with pytest.raises(InvalidInput):
        rules.text(value, "message", required=True)


def test_a_missing_text_is_refused_only_when_required():
    assert rules.text(None, "symptom") is None
    with pytest.raises(InvalidInput):
        rules.text(None, "message", required=True)
    assert rules.text("  Fuite  ", "symptom") == "Fuite"


@pytest.mark.parametrize("current", ["new", "in_progress", "planned"])
@pytest.mark.parametrize("status", rules.ACTION_STATUSES)
def test_an_open_request_takes_every_action_status(current, status):
    assert rules.check_action(current, status) == status


@pytest.mark.parametrize("current", ["closed", "cancelled"])
def test_a_closed_or_cancelled_request_takes_no_action(current):
    with pytest.raises(Refused) as caught:
        rules.check_action(current, "in_progress")
    assert caught.value.details["rule"] == "request_closed"
    assert caught.value.details["status"] == 409


@pytest.mark.parametrize("status,channel", [("new", None), ("cancelled", None), ("done", None),
                                            ("planned", "fax")])
def test_an_action_needs_a_real_status_and_channel(status, channel):
    with pytest.raises(InvalidInput):
        rules.check_action("new", status, channel)


# --- cancelling, reopening, settings ----------------------------------------------------

def test_the_client_cancels_a_new_request_without_a_reason():
    assert rules.check_cancel("client", "new", False, None) is None
    assert rules.check_cancel("client", "new", False, "Plus besoin") == "Plus besoin"


@pytest.mark.parametrize("status,has_actions", [("new", True), ("in_progress", True),
                                                ("planned", False)])
def test_the_client_cannot_cancel_once_customer_service_is_on_it(status, has_actions):
    with pytest.raises(Refused) as caught:
        rules.check_cancel("client", status, has_actions, None)
    assert caught.value.details["rule"] == "cancel_too_late"


@pytest.mark.parametrize("role", ["admin", "manager"])
def test_staff_cancel_an_open_request_with_a_reason(role):
    assert rules.check_cancel(role, "planned", True, "Doublon") == "Doublon"
    with pytest.raises(InvalidInput):
        rules.check_cancel(role, "planned", True, None)


@pytest.mark.parametrize("role", ["client", "admin", "manager"])
@pytest.mark.parametrize("status", ["closed", "cancelled"])
def test_nobody_cancels_a_closed_request(role, status):
    with pytest.raises(Refused) as caught:
        rules.check_cancel(role, status, False, "x")
    assert caught.value.details["rule"] == "request_closed"


def test_technicians_do_not_cancel():
    from fieldwork_common.errors import Forbidden
    with pytest.raises(Forbidden):
        rules.check_cancel("technician", "new", False, "x")


def test_a_request_reopens_within_its_days_with_a_reason():
    from datetime import datetime, timedelta, timezone
    closed = datetime(2026, 3, 1, 12, tzinfo=timezone.utc)
    assert rules.check_reopen("closed", closed, closed + timedelta(days=30), 30, "Encore") == "Encore"
    with pytest.raises(Refused) as caught:
        rules.check_reopen("cancelled", closed, closed + timedelta(days=30, seconds=1), 30, "x")
    assert caught.value.details["rule"] == "reopen_window_passed"
    with pytest.raises(InvalidInput):
        rules.check_reopen("closed", closed, closed, 30, None)
    with pytest.raises(Refused) as caught:
        rules.check_reopen("in_progress", None, closed, 30, "x")
    assert caught.value.details["rule"] == "request_open"
    # zero days: only at the very moment of closing
    assert rules.check_reopen("closed", closed, closed, 0, "x") == "x"


@pytest.mark.parametrize("values", [{"reopen_days": -1}, {"reopen_days": 3651},
                                    {"reopen_days": True}, {"reopen_days": "7"},
                                    {"reopen_days": None}, {"auto_close_days": 0},
                                    {"auto_close_days": 3651}, {"close_after": 3}])
def test_settings_are_checked(values):
    with pytest.raises(InvalidInput):
        rules.check_settings(values)


def test_settings_within_bounds_pass():
    assert rules.check_settings({"reopen_days": 0}) == {"reopen_days": 0}
    assert rules.check_settings({"reopen_days": 3650}) == {"reopen_days": 3650}
    assert rules.check_settings({"auto_close_days": 7}) == {"auto_close_days": 7}
    assert rules.check_settings({"auto_close_days": None}) == {"auto_close_days": None}


@pytest.mark.parametrize("status", ["in_progress", "planned"])
def test_auto_close_ends_a_request_left_waiting_unchanged(status):
    assert rules.auto_closes(status, 4, 4, False)


@pytest.mark.parametrize("status,version,expected,children", [
    ("in_progress", 5, 4, False),      # something happened since the timer was set
    ("planned", 4, 4, True),           # an intervention or a return is still open
    ("closed", 4, 4, False), ("cancelled", 4, 4, False), ("new", 4, 4, False)])
def test_auto_close_leaves_alone_what_changed_or_still_works(status, version, expected, children):
    assert not rules.auto_closes(status, version, expected, children)


# --- equipment returns ------------------------------------------------------------------

def test_a_return_goes_to_the_workshop_or_a_named_supplier():
    assert rules.check_destination("workshop", None) is None
    assert rules.check_destination("workshop", "ignored") is None
    assert rules.check_destination("supplier", "Saunier") == "Saunier"
    for destination, supplier in (("supplier", None), ("supplier", "  "), ("home", None)):
        with pytest.raises(InvalidInput):
            rules.check_destination(destination, supplier)


ALL_RETURN_MOVES = [(a, b) for a in rules.RETURN_STATES for b in rules.RETURN_STATES[1:]]


@pytest.mark.parametrize("state,target", ALL_RETURN_MOVES)
def test_every_move_of_a_return_against_the_table(state, target):
    allowed = {("requested", "received"), ("received", "sent_back"), ("sent_back", "closed"),
               ("requested", "closed")}
    if (state, target) in allowed:
        note = "Jamais reçu" if (state, target) == ("requested", "closed") else None
        rules.check_return_move(state, target, note)
    else:
        with pytest.raises(Refused) as caught:
            rules.check_return_move(state, target, "x")
        assert caught.value.details["rule"] == "invalid_transition"


def test_closing_a_return_never_received_needs_a_note():
    with pytest.raises(InvalidInput):
        rules.check_return_move("requested", "closed", None)
    with pytest.raises(InvalidInput):
        rules.check_return_move("received", "requested", None)
