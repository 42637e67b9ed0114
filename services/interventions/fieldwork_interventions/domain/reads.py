"""What the client's tracking shows, built from the intervention's history.
Plain Python: the service loads the rows and passes them in.

The steps a client sees are the path to the current step, each step once,
with the time it was (last) reached. A move back (final_tests → in_workshop)
cuts the path at the step it returns to and dates that step anew, so the
timeline always reads in the order of the five steps:

    picked_up 10:00 · in_workshop 11:00 · final_tests 14:00
    back to the workshop at 15:00  →  picked_up 10:00 · in_workshop 15:00
    final tests again at 17:00     →  picked_up 10:00 · in_workshop 15:00 · final_tests 17:00
"""
import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from fieldwork_interventions.domain.rules import reference  # noqa: F401  (what the tracking shows)

# history kinds that move the intervention from one step to another
MOVE_KINDS = ("step", "reopened")

TRACKING = "tracking"
CALENDAR_TECHNICIAN = "calendar_technician"
CALENDAR_COMPANY = "calendar_company"
DEFAULT_TRACKING_DAYS = 90


@dataclass(frozen=True)
class Reached:
    step: str
    at: datetime


def move_of(kind, data):
    """(from, to) of a history row that moved the step, else None. The
    workflow writes {"from", "to"}; {"from_step", "to_step"} is read too."""
    if kind not in MOVE_KINDS or not isinstance(data, dict):
        return None
    to = data.get("to", data.get("to_step"))
    if not to:
        return None
    return data.get("from", data.get("from_step")), to


def steps_reached(current_step, created_at, history):
    """The path to the current step as a list of Reached.

    `history`: (kind, data, at) of the intervention's history rows, oldest
    first. The first step is the `from` of the first move (or the current
    step when it never moved), reached at creation."""
    if current_step is None:
        return []
    moves = [(move, at) for kind, data, at in history
             if (move := move_of(kind, data)) is not None]
    first = (moves[0][0][0] if moves else None) or current_step
    path = [Reached(first, created_at)]
    for (_, to), at in moves:
        for index, reached in enumerate(path):
            if reached.step == to:
                del path[index:]
                break
        path.append(Reached(to, at))
    return path


# --- unguessable tokens ---------------------------------------------------------

def new_token():
    return secrets.token_urlsafe(32)


def token_hash(token):
    """Only this is stored: a database leak gives no working link."""
    return hashlib.sha256(str(token).encode()).hexdigest()


def tracking_expiry(now, days=None):
    return now + timedelta(days=DEFAULT_TRACKING_DAYS if days is None else days)


def parse_days(raw):
    """TRACKING_TOKEN_DAYS: a positive number of days; anything else is the
    default (a typo in the environment must not make links eternal)."""
    try:
        days = float(raw)
    except (TypeError, ValueError):
        return DEFAULT_TRACKING_DAYS
    return days if days > 0 else DEFAULT_TRACKING_DAYS


def usable(token_row_kind, wanted_kind, revoked, expires_at, now):
    """Does a stored token open this page now?"""
    return (token_row_kind == wanted_kind and not revoked
            and (expires_at is None or expires_at > now))
