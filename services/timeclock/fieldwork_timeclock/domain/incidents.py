"""The rules of an incident (seed 004, issue 11, docs/timeclock.md), as plain
functions and one table of moves.

A worker (or the client, or staff) declares an incident on a visit from
4 hours before its planned start until 24 hours after its end (the later
of the planned and the actual end); a reason offered at the start only is
refused after the end, one offered at the end only before the start.

    open ──acknowledge──► acknowledged ──resolve──► resolved ──close──► closed
      │                        │
      └──────── cancel ────────┴──► cancelled   (its author within an hour
                                                 of declaring it, or staff)
"""
import re
from datetime import timedelta

from fieldwork_common.errors import InvalidInput, refuse

STATES = ("open", "acknowledged", "resolved", "closed", "cancelled")
MOMENTS = ("start", "end")
BEFORE_START = timedelta(hours=4)
AFTER_END = timedelta(hours=24)
AUTHOR_MAY_CANCEL = timedelta(hours=1)
CODE = re.compile(r"[A-Za-z0-9_.-]{1,40}")

#: (from, to) → who may make the move, and whether it needs a reason.
#: `staff`: the company's admins and managers; `author`: whoever declared
#: it (within AUTHOR_MAY_CANCEL for a cancel).
MOVES = {
    ("open", "acknowledged"): ({"staff"}, False),
    ("open", "resolved"): ({"staff"}, True),
    ("acknowledged", "resolved"): ({"staff"}, True),
    ("resolved", "closed"): ({"staff"}, False),
    ("open", "cancelled"): ({"staff", "author"}, True),
    ("acknowledged", "cancelled"): ({"staff"}, True),
}


def check_code(code):
    if not isinstance(code, str) or not CODE.fullmatch(code):
        raise InvalidInput("A reason's code is 1 to 40 letters, digits, '_', '-' or '.'.",
                           {"field": "code"})
    return code


def window(planned_start, planned_end, actual_end=None):
    """(earliest, latest) moments an incident may be declared on the visit."""
    end = max(planned_end, actual_end or planned_end)
    return planned_start - BEFORE_START, end + AFTER_END


def moment_of(now, planned_start, planned_end, actual_end, at_start, at_end, moment=None):
    """The moment (start or end) of an incident declared `now` with a
    reason offered `at_start`/`at_end`, checked against the window;
    `moment` is the declarer's choice, else the one the reason and the
    time point to."""
    earliest, latest = window(planned_start, planned_end, actual_end)
    if not earliest <= now <= latest:
        raise refuse("outside_incident_window",
                     "An incident is declared from 4 hours before the visit's start until "
                     "24 hours after its end.",
                     earliest=earliest.isoformat(), latest=latest.isoformat())
    end = max(planned_end, actual_end or planned_end)
    if at_start and not at_end and now > end:
        raise refuse("reason_not_allowed_now", "This reason is for the start of a visit; the "
                     "visit has ended.", allowed="start")
    if at_end and not at_start and now < planned_start:
        raise refuse("reason_not_allowed_now", "This reason is for the end of a visit; the "
                     "visit has not started.", allowed="end")
    if moment is None:
        return "start" if at_start and (not at_end or now < end) else "end"
    if moment not in MOMENTS:
        raise InvalidInput("moment is start or end.", {"moment": moment})
    if (moment == "start" and not at_start) or (moment == "end" and not at_end):
        raise refuse("reason_not_allowed_now", f"This reason is not offered at the {moment} of "
                     "a visit.", allowed="start" if at_start else "end")
    return moment


def check_move(state, target, actor, is_author, declared_at, now, reason):
    """Whether `actor` ('staff', 'worker', 'client') may move an incident
    from `state` to `target` now; refused with the rule otherwise."""
    if target not in STATES:
        raise InvalidInput(f"state is one of {', '.join(STATES[1:])}.", {"state": target})
    move = MOVES.get((state, target))
    if move is None:
        allowed = sorted(t for (f, t) in MOVES if f == state)
        raise refuse("invalid_transition", f"An incident {state} cannot become {target}.",
                     status=409, state=state, target=target, allowed=allowed)
    who, needs_reason = move
    staff = actor == "staff"
    if not (staff and "staff" in who) and not (is_author and "author" in who):
        raise refuse("not_allowed", "Only the provider's staff (or the incident's author, to "
                     "cancel it within an hour) make this move.", status=403)
    if not staff and now - declared_at > AUTHOR_MAY_CANCEL:
        raise refuse("cancel_window_passed", "Its author cancels an incident within an hour of "
                     "declaring it; ask the provider.", status=409,
                     until=(declared_at + AUTHOR_MAY_CANCEL).isoformat())
    if needs_reason and staff and not reason:
        raise InvalidInput("This move needs a reason.", {"reason": "required"})
    return True
