"""The workshop move table (seed 000), pair by pair, without broker or database."""
import itertools

import pytest

from fieldwork_common.errors import Conflict, InvalidInput
from fieldwork_interventions.domain import workshop as steps

ALLOWED = {
    ("picked_up", "in_workshop"),
    ("in_workshop", "final_tests"),
    ("final_tests", "awaiting_pickup"),
    ("final_tests", "in_workshop"),     # back to the workshop after a failed test
    ("awaiting_pickup", "delivered"),
}
ALLOWED_FROM = {
    "picked_up": ["in_workshop"],
    "in_workshop": ["final_tests"],
    "final_tests": ["awaiting_pickup", "in_workshop"],
    "awaiting_pickup": ["delivered"],
    "delivered": [],
}
ALL_PAIRS = list(itertools.product(steps.STEPS, repeat=2))


def test_the_five_steps_in_order():
    assert steps.STEPS == ("picked_up", "in_workshop", "final_tests", "awaiting_pickup", "delivered")


@pytest.mark.parametrize("step_from,step_to", sorted(ALLOWED))
def test_an_allowed_move(step_from, step_to):
    move = steps.move(step_from, step_to)
    assert (move.step_from, move.step_to) == (step_from, step_to)
    assert move.state == {"awaiting_pickup": "closed", "delivered": "completed"}.get(step_to, "open")


@pytest.mark.parametrize("step_from,step_to", [pair for pair in ALL_PAIRS if pair not in ALLOWED])
def test_every_other_move_is_a_conflict_naming_the_allowed_ones(step_from, step_to):
    with pytest.raises(Conflict) as caught:
        steps.move(step_from, step_to)
    assert caught.value.details == {"from": step_from, "to": step_to,
                                    "allowed": ALLOWED_FROM[step_from]}


def test_the_table_is_exactly_the_seed():
    assert {(a, b) for a, targets in steps.MOVES.items() for b in targets} == ALLOWED
    assert set(steps.MOVES) == set(steps.STEPS)


def test_an_unknown_step_is_a_conflict_listing_the_steps():
    with pytest.raises(Conflict) as caught:
        steps.move("picked_up", "repaired")
    assert caught.value.details["steps"] == list(steps.STEPS)


def test_nothing_leaves_delivered():
    assert steps.allowed_moves("delivered") == ()


@pytest.mark.parametrize("step", steps.STEPS)
def test_a_status_is_set_only_in_the_workshop(step):
    assert steps.can_set_status(step) is (step == "in_workshop")


def test_a_status_is_not_set_without_steps():
    assert steps.can_set_status(None) is False


@pytest.mark.parametrize("step_to,given,refused", [
    ("final_tests", {"diagnostic": "x", "tests_performed": ["boot"]}, None),
    ("awaiting_pickup", {"pickup_at": "2026-01-01T10:00:00Z", "pickup_kind": "pickup"}, None),
    ("in_workshop", {}, None),
    ("in_workshop", {"diagnostic": "x"}, ["diagnostic"]),
    ("awaiting_pickup", {"diagnostic": "x", "tests_performed": []}, ["diagnostic", "tests_performed"]),
    ("final_tests", {"pickup_at": "2026-01-01T10:00:00Z"}, ["pickup_at"]),
    ("delivered", {"pickup_kind": "delivery"}, ["pickup_kind"]),
])
def test_the_fields_a_move_carries(step_to, given, refused):
    if refused is None:
        steps.check_fields(step_to, given)
    else:
        with pytest.raises(InvalidInput) as caught:
            steps.check_fields(step_to, given)
        assert caught.value.details["fields"] == refused


@pytest.mark.parametrize("state", ["closed", "completed"])
def test_a_closed_or_completed_intervention_reopens_in_the_workshop(state):
    assert steps.reopen("awaiting_pickup", state) == ("in_workshop", "open")
    assert steps.reopen(None, state) == (None, "open")


def test_an_open_intervention_is_not_reopened():
    with pytest.raises(Conflict) as caught:
        steps.reopen("in_workshop", "open")
    assert caught.value.details == {"state": "open", "reopenable": ["closed", "completed"]}
