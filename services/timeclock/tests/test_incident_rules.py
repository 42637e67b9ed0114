"""The rules of an incident (domain/incidents.py): the window, the moments
a reason allows, and every move of the table by every actor."""
from datetime import datetime, timedelta, timezone

import pytest

from fieldwork_common.errors import InvalidInput, Refused
from fieldwork_timeclock.domain import incidents as rules

START = datetime(2026, 12, 3, 9, 0, tzinfo=timezone.utc)
END = START + timedelta(hours=2)
H = timedelta(hours=1)


def refused(rule, call, *args, **kwargs):
    with pytest.raises(Refused) as caught:
        call(*args, **kwargs)
    assert caught.value.code == rule, caught.value.details
    return caught.value


@pytest.mark.parametrize("offset,inside", [
    (-4 * H - timedelta(seconds=1), False), (-4 * H, True), (H, True),
    (2 * H + 24 * H, True), (2 * H + 24 * H + timedelta(seconds=1), False)])
def test_from_four_hours_before_the_start_to_a_day_after_the_end(offset, inside):
    now = START + offset
    if inside:
        assert rules.moment_of(now, START, END, None, True, True) in rules.MOMENTS
    else:
        error = refused("outside_incident_window", rules.moment_of, now, START, END, None, True, True)
        assert error.http_status == 422 and error.details["earliest"] == (START - 4 * H).isoformat()


def test_the_later_of_the_planned_and_actual_end():
    actual = END + 5 * H
    now = END + 26 * H
    refused("outside_incident_window", rules.moment_of, now, START, END, None, True, True)
    assert rules.moment_of(now, START, END, actual, False, True) == "end"
    # an actual end earlier than planned does not shorten the window
    assert rules.window(START, END, END - H) == (START - 4 * H, END + 24 * H)


def test_a_start_only_reason_after_the_end_an_end_only_one_before_the_start():
    refused("reason_not_allowed_now", rules.moment_of, END + H, START, END, None, True, False)
    refused("reason_not_allowed_now", rules.moment_of, START - H, START, END, None, False, True)
    assert rules.moment_of(START - H, START, END, None, True, False) == "start"
    assert rules.moment_of(END + H, START, END, None, False, True) == "end"
    assert rules.moment_of(START + H, START, END, None, True, True) == "start"
    assert rules.moment_of(END + H, START, END, None, True, True) == "end"
    assert rules.moment_of(START + H, START, END, None, True, True, "end") == "end"
    refused("reason_not_allowed_now", rules.moment_of, START + H, START, END, None, True, False, "end")
    with pytest.raises(InvalidInput):
        rules.moment_of(START + H, START, END, None, True, True, "middle")


def test_codes():
    assert rules.check_code("NO_SHOW-1.2") == "NO_SHOW-1.2"
    for bad in ("", "a b", "x" * 41, None, "é"):
        with pytest.raises(InvalidInput):
            rules.check_code(bad)


ACTORS = ("staff", "worker", "client")


@pytest.mark.parametrize("state", rules.STATES)
@pytest.mark.parametrize("target", rules.STATES[1:])
@pytest.mark.parametrize("actor", ACTORS)
@pytest.mark.parametrize("is_author", (False, True))
def test_every_move_by_every_actor(state, target, actor, is_author):
    """The table written out: staff make every move of MOVES; its author
    (worker or client, or staff) only cancels an open one, within an hour."""
    declared = START
    soon, late = START + timedelta(minutes=30), START + timedelta(minutes=61)
    reason = "parce que"
    move = (state, target)
    if move not in rules.MOVES:
        error = refused("invalid_transition", rules.check_move, state, target, actor, is_author,
                        declared, soon, reason)
        assert error.http_status == 409
        return
    who, _ = rules.MOVES[move]
    if actor == "staff":
        assert rules.check_move(state, target, actor, is_author, declared, late, reason)
    elif is_author and "author" in who:
        assert rules.check_move(state, target, actor, is_author, declared, soon, None)
        refused("cancel_window_passed", rules.check_move, state, target, actor, is_author,
                declared, late, None)
    else:
        error = refused("not_allowed", rules.check_move, state, target, actor, is_author,
                        declared, soon, reason)
        assert error.http_status == 403


def test_staff_give_a_reason_to_resolve_or_cancel():
    for target in ("resolved", "cancelled"):
        with pytest.raises(InvalidInput):
            rules.check_move("open", target, "staff", False, START, START, None)
    assert rules.check_move("open", "acknowledged", "staff", False, START, START, None)
    with pytest.raises(InvalidInput):
        rules.check_move("open", "reopened", "staff", False, START, START, None)
