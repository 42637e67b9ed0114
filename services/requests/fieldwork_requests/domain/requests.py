"""The rules of a customer request (seed 002, issue 12, docs/requests.md),
as plain functions.

A request comes from the client portal (the client itself: source
`portal`), from the field (a technician: `field`) or is typed by staff
after a call, an email or otherwise (`phone`, `email`, `other`). Its
status follows its latest action, a message to the end customer with a
status (in progress, planned, closed); internal notes carry no status.

    new ──action──► in_progress / planned / closed   (the latest action's status)
    new ──cancel (the client, before anything happened; staff with a reason)──► cancelled
    closed / cancelled ──reopen (within reopen_days, with a reason)──► in_progress
"""
from datetime import timedelta

from fieldwork_common.errors import Forbidden, InvalidInput, refuse
from fieldwork_common.serialize import checked_text

SOURCES = ("portal", "field", "phone", "email", "other")
STAFF_SOURCES = ("phone", "email", "other")
STATUSES = ("new", "in_progress", "planned", "closed", "cancelled")
ACTION_STATUSES = ("in_progress", "planned", "closed")
CHANNELS = ("email", "phone", "portal", "other")
MAX_TEXT = 5000
#: the fields staff may change after creation (PATCH /requests/{id})
EDITABLE = ("type_id", "symptom", "description", "site_id")
#: a company's settings until it sets its own; auto_close_days None: off
DEFAULT_SETTINGS = {"reopen_days": 30, "auto_close_days": None}
#: the timer that closes a request left without news (docs/requests.md)
AUTO_CLOSE = "request.auto_close"
#: the statuses an answer leaves a request waiting in, which auto-close ends
AUTO_CLOSED_FROM = ("in_progress", "planned")


def source_for(role, source=None):
    """The source of a request created by `role`: the portal for a client,
    the field for a technician, the one staff name (phone, email, other)."""
    if role == "client":
        if source not in (None, "portal"):
            raise InvalidInput("A client's request comes from the portal.", {"source": source})
        return "portal"
    if role == "technician":
        if source not in (None, "field"):
            raise InvalidInput("A technician's request comes from the field.", {"source": source})
        return "field"
    if source is None:
        raise InvalidInput("Say where the request came from: phone, email or other.",
                           {"source": "required"})
    if source not in STAFF_SOURCES:
        raise InvalidInput("Staff type a request from a call, an email or otherwise.",
                           {"source": source, "allowed": list(STAFF_SOURCES)})
    return source


def number(year, sequence):
    """DEM-2026-000123: the request's number within its company."""
    return f"DEM-{year}-{sequence:06d}"


def text(value, field, required=False, limit=MAX_TEXT):
    """A text a caller sent, checked, without its surrounding blanks."""
    return checked_text(value, field, required, limit, strip=True)


def check_action(current_status, status, channel=None):
    """A message to the customer with a status, on a request still open."""
    if status not in ACTION_STATUSES:
        raise InvalidInput(f"status is one of {', '.join(ACTION_STATUSES)}.", {"status": status})
    if channel is not None and channel not in CHANNELS:
        raise InvalidInput(f"channel is one of {', '.join(CHANNELS)}.", {"channel": channel})
    if current_status in ("closed", "cancelled"):
        raise refuse("request_closed", f"This request is {current_status}: reopen it first.",
                     status=409, request_status=current_status)
    return status


def check_cancel(role, status, has_actions, reason):
    """The client cancels its request while nothing happened yet (still
    new, no action); staff cancel an open request with a reason."""
    if status in ("closed", "cancelled"):
        raise refuse("request_closed", f"This request is {status} already.", status=409,
                     request_status=status)
    if role == "client":
        if status != "new" or has_actions:
            raise refuse("cancel_too_late", "Customer service is handling this request: ask "
                         "them to cancel it.", status=409, request_status=status)
        return text(reason, "reason", limit=2000)
    if role == "technician":
        raise Forbidden("Technicians do not cancel requests.")
    return text(reason, "reason", required=True, limit=2000)


def check_reopen(status, closed_at, now, reopen_days, reason):
    """A closed or cancelled request reopens within `reopen_days` of its
    closing, with a reason."""
    if status not in ("closed", "cancelled"):
        raise refuse("request_open", "This request is open.", status=409, request_status=status)
    until = closed_at + timedelta(days=reopen_days)
    if now > until:
        raise refuse("reopen_window_passed", f"A request reopens within {reopen_days} days of "
                     "its closing: create a new one.", status=409, until=until.isoformat())
    return text(reason, "reason", required=True, limit=2000)


def check_settings(values):
    """reopen_days: 0 to 3650; auto_close_days: 1 to 3650, or None (off)."""
    out = {}
    for name, value in values.items():
        if name not in DEFAULT_SETTINGS:
            raise InvalidInput(f"Unknown setting {name}.", {"field": name})
        if name == "auto_close_days" and value is None:
            out[name] = None
            continue
        low = 1 if name == "auto_close_days" else 0
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= 3650:
            raise InvalidInput(f"{name} is a number of days from {low} to 3650.", {"field": name})
        out[name] = value
    return out


def auto_closes(status, version, expected_version, open_children):
    """Whether the auto-close timer closes the request now: it still waits
    in the status an answer left it in, nothing happened since the timer
    was set (its version), and nothing created from it is open."""
    return status in AUTO_CLOSED_FROM and version == expected_version and not open_children


# --- equipment returns -------------------------------------------------------------------
#
#   requested ──receive──► received ──send back──► sent_back ──close──► closed
#       └────────────────────── close (not needed after all, with a note) ──────┘

RETURN_STATES = ("requested", "received", "sent_back", "closed")
DESTINATIONS = ("workshop", "supplier")
RETURN_MOVES = {("requested", "received"), ("received", "sent_back"), ("sent_back", "closed"),
                ("requested", "closed")}


def check_destination(destination, supplier):
    """Where the equipment goes: our workshop, or a supplier (named)."""
    if destination not in DESTINATIONS:
        raise InvalidInput(f"destination is one of {', '.join(DESTINATIONS)}.",
                           {"destination": destination})
    supplier = text(supplier, "supplier", limit=200)
    if destination == "supplier" and supplier is None:
        raise InvalidInput("Name the supplier the equipment goes to.", {"supplier": "required"})
    return supplier if destination == "supplier" else None


def check_return_move(state, target, note):
    if target not in RETURN_STATES[1:]:  # nothing goes back to requested
        raise InvalidInput(f"state is one of {', '.join(RETURN_STATES[1:])}.", {"state": target})
    if (state, target) not in RETURN_MOVES:
        allowed = sorted(t for (f, t) in RETURN_MOVES if f == state)
        raise refuse("invalid_transition", f"A return {state} cannot become {target}.",
                     status=409, state=state, target=target, allowed=allowed)
    if (state, target) == ("requested", "closed"):
        return text(note, "note", required=True, limit=2000)
    return text(note, "note", limit=2000)
