"""The five workshop steps of an intervention (seed 000) and the moves
between them. Plain Python: the service loads the intervention, asks
`move()`, and stores what it answers.

    picked_up ──► in_workshop ──► final_tests ──► awaiting_pickup ──► delivered
                       ▲               │
                       └───────────────┘   (back to the workshop after a failed test)
"""
from dataclasses import dataclass

from fieldwork_common.errors import Conflict, InvalidInput
from fieldwork_interventions.domain.rules import STATE_AFTER, WORKSHOP_STEPS as STEPS  # noqa: F401

# from → the steps one may go to
MOVES = {
    "picked_up": ("in_workshop",),
    "in_workshop": ("final_tests",),
    "final_tests": ("awaiting_pickup", "in_workshop"),
    "awaiting_pickup": ("delivered",),
    "delivered": (),
}

# the only step in which a status from the catalog may be set or changed
STATUS_STEP = "in_workshop"

PICKUP_KINDS = ("pickup", "delivery")

# the optional fields a move may carry: the diagnostic when reaching the
# final tests, the pickup or delivery date when reaching awaiting_pickup
FIELDS_OF_MOVE = {
    "final_tests": ("diagnostic", "tests_performed"),
    "awaiting_pickup": ("pickup_at", "pickup_kind"),
}

# a closed or completed intervention may be reopened: back to the workshop
REOPENABLE_STATES = ("closed", "completed")
REOPEN_STEP = "in_workshop"


@dataclass(frozen=True)
class Move:
    step_from: str
    step_to: str
    state: str


def allowed_moves(step):
    return MOVES.get(step, ())


def move(step_from, step_to):
    """The move from `step_from` to `step_to`, or Conflict naming the moves
    that are allowed from here."""
    if step_to not in STEPS:
        raise Conflict(f"Unknown step '{step_to}'.", {"step": step_to, "steps": list(STEPS)})
    allowed = allowed_moves(step_from)
    if step_to not in allowed:
        raise Conflict(
            f"An intervention cannot go from '{step_from}' to '{step_to}'.",
            {"from": step_from, "to": step_to, "allowed": list(allowed)})
    return Move(step_from, step_to, STATE_AFTER[step_to])


def can_set_status(step):
    return step == STATUS_STEP


def check_fields(step_to, given):
    """`given`: the names of the optional fields sent with the move.
    InvalidInput naming those this move does not take."""
    accepted = FIELDS_OF_MOVE.get(step_to, ())
    refused = sorted(name for name in given if name not in accepted)
    if refused:
        raise InvalidInput(
            f"{', '.join(refused)} cannot be sent when moving to '{step_to}'.",
            {"fields": refused, "step": step_to,
             "accepted_by": {name: step for step, names in FIELDS_OF_MOVE.items()
                             for name in refused if name in names}})


def reopen(step, state):
    """Reopening a closed or completed intervention: (new step, new state),
    or Conflict. The step is None for interventions without steps."""
    if state not in REOPENABLE_STATES:
        raise Conflict(f"Only a closed or completed intervention can be reopened; this one is '{state}'.",
                       {"state": state, "reopenable": list(REOPENABLE_STATES)})
    return (REOPEN_STEP if step is not None else None), STATE_AFTER[REOPEN_STEP]
