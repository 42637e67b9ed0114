"""The five workshop steps of an intervention (seed 000) and the moves
between them. Plain Python: the service loads the intervention, asks
`move()`, and stores what it answers.

    picked_up ──► in_workshop ──► final_tests ──► awaiting_pickup ──► delivered
                       ▲               │
                       └───────────────┘   (back to the workshop after a failed test)
"""
from dataclasses import dataclass

from fieldwork_common.errors import Conflict

STEPS = ("picked_up", "in_workshop", "final_tests", "awaiting_pickup", "delivered")

# from → the steps one may go to
MOVES = {
    "picked_up": ("in_workshop",),
    "in_workshop": ("final_tests",),
    "final_tests": ("awaiting_pickup", "in_workshop"),
    "awaiting_pickup": ("delivered",),
    "delivered": (),
}

# the intervention's state once a step is reached
STATE_AFTER = {
    "picked_up": "open",
    "in_workshop": "open",
    "final_tests": "open",
    "awaiting_pickup": "closed",     # "met fin à l'intervention, elle sera donc Fermée"
    "delivered": "completed",        # "clôture intégralement l'intervention"
}

# the only step in which a status from the catalog may be set or changed
STATUS_STEP = "in_workshop"

PICKUP_KINDS = ("pickup", "delivery")


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
