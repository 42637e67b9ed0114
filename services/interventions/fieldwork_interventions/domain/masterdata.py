"""Master data rules (DESIGN.md §3): what may change, the contract state
machine, colours, dates, deletion and the platform settings.

Plain Python: no nameko, no SQLAlchemy. The service loads the records and
asks these functions; they answer or raise a Fieldwork error.
"""
import re
from datetime import date

from fieldwork_common.errors import Conflict, InvalidInput

# What PATCH may change, per kind. Anything else is refused (400): the
# owner of a site or an equipment, the company of a client, a contract's
# state (it has its own command) never change by PATCH.
EDITABLE = {
    "company": ("name", "email", "phone", "address", "survey_enabled", "portal_validation",
                "validation_reminder_days", "tacit_validation", "max_visit_km", "active"),
    "technician": ("name", "email", "phone", "company_id", "company_ids", "active"),
    "client": ("name", "email", "phone", "address", "locale", "active"),
    "site": ("name", "address", "active"),
    "equipment": ("kind", "brand", "model", "serial_number", "site_id", "active"),
    "contract": ("reference", "billable", "starts_on", "ends_on", "active"),
    "intervention_type": ("name", "location", "active"),
    "status": ("label", "colour", "position", "active"),
}

# The fields PATCH may set to null; any other editable field needs a value.
NULLABLE = {
    "company": ("email", "phone", "address"),
    "technician": ("phone",),
    "client": ("phone", "address"),
    "site": ("address",),
    "equipment": ("brand", "model", "serial_number", "site_id"),
    "contract": ("starts_on", "ends_on"),
    "intervention_type": (),
    "status": (),
}

# A contract's life: draft → validated → active → ended (one way).
CONTRACT_STATES = ("draft", "validated", "active", "ended")
CONTRACT_MOVES = {
    "draft": ("validated",),
    "validated": ("active",),
    "active": ("ended",),
    "ended": (),
}

COLOUR = re.compile(r"#[0-9a-fA-F]{6}")


def check_changes(kind, changes):
    """`changes` must be a non-empty dict of editable fields."""
    if not isinstance(changes, dict) or not changes:
        raise InvalidInput("Nothing to change.", {"editable": list(EDITABLE[kind])})
    unknown = sorted(set(changes) - set(EDITABLE[kind]))
    if unknown:
        raise InvalidInput("These fields cannot be changed.",
                           {"fields": unknown, "editable": list(EDITABLE[kind])})
    nulls = sorted(key for key, value in changes.items()
                   if value is None and key not in NULLABLE[kind])
    if nulls:
        raise InvalidInput("These fields cannot be null.", {"fields": nulls})


def check_version(kind, current, expected):
    """Optimistic concurrency: the caller must have read the current version."""
    if isinstance(expected, bool) or not isinstance(expected, int):
        raise InvalidInput("version must be an integer.", {"version": expected})
    if current != expected:
        raise Conflict(f"The {kind.replace('_', ' ')} was changed by someone else; reload it and retry.",
                       {"current_version": current, "your_version": expected})


def colour(value):
    """A colour is `#rrggbb`; it is stored lower-case."""
    if not isinstance(value, str) or not COLOUR.fullmatch(value):
        raise InvalidInput("A colour is written #rrggbb (hexadecimal).", {"colour": value})
    return value.lower()


def a_date(field, value):
    """None, a date, or an ISO date string (YYYY-MM-DD)."""
    if value is None or isinstance(value, date):
        return value
    try:
        return date.fromisoformat(value)
    except (TypeError, ValueError):
        raise InvalidInput(f"{field} must be a date (YYYY-MM-DD).", {field: value}) from None


def check_period(starts_on, ends_on):
    if starts_on is not None and ends_on is not None and ends_on < starts_on:
        raise InvalidInput("A contract cannot end before it starts.",
                           {"starts_on": starts_on.isoformat(), "ends_on": ends_on.isoformat()})


def contract_move(current, wanted):
    """The next state of a contract, or Conflict naming the allowed moves."""
    if wanted not in CONTRACT_STATES:
        raise InvalidInput("Unknown contract state.", {"state": wanted, "allowed": list(CONTRACT_STATES)})
    allowed = CONTRACT_MOVES[current]
    if wanted not in allowed:
        raise Conflict(f"A contract cannot go from '{current}' to '{wanted}'.",
                       {"state": current, "wanted": wanted, "allowed": list(allowed)})
    return wanted


def check_deletable(kind, references):
    """`references`: {what: how many} that point at the record. A record
    anything points at is never deleted: deactivate it instead."""
    used = {what: count for what, count in references.items() if count}
    if used:
        raise Conflict(f"This {kind.replace('_', ' ')} is referenced and cannot be deleted; "
                       "deactivate it instead (PATCH with {\"active\": false}).",
                       {"referenced_by": used, "hint": "PATCH {\"active\": false}"})


def check_location_change(current, wanted, used_by):
    """A type's location is part of the interventions made with it."""
    if wanted != current and used_by:
        raise Conflict("This intervention type is used by interventions: its location cannot change.",
                       {"location": current, "wanted": wanted, "interventions": used_by})


def check_settings(multi_company, main_company_id):
    """When multi-company is off, everything belongs to the main company:
    there must be one."""
    if not isinstance(multi_company, bool):
        raise InvalidInput("multi_company must be true or false.", {"multi_company": multi_company})
    if not multi_company and not main_company_id:
        raise InvalidInput("Turning multi-company off needs a main company.",
                           {"main_company_id": "required when multi_company is false"})


def company_ids(primary, others):
    """All the companies of a technician: its own first, then the others it
    also works for (without repeats)."""
    rest = sorted({c for c in (others or ()) if c != primary})
    return [primary, *rest]


def contains(query):
    """A name filter (`q`): trimmed, at most 200 characters, or None."""
    if query is None:
        return None
    if not isinstance(query, str) or len(query) > 200:
        raise InvalidInput("q must be a text of at most 200 characters.", {"q": query})
    query = query.strip()
    return query or None


# A company's visit settings (issue 10, docs/visits.md) and their defaults.
VISIT_SETTINGS = {"portal_validation": False, "validation_reminder_days": 3,
                  "tacit_validation": False, "max_visit_km": 1000}
VISIT_SETTING_RANGES = {"validation_reminder_days": (1, 60), "max_visit_km": (1, 100000)}


def check_visit_settings(settings):
    """The settings given, checked: booleans and integers in range (400)."""
    checked = {}
    for name, value in settings.items():
        if name in VISIT_SETTING_RANGES:
            low, high = VISIT_SETTING_RANGES[name]
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise InvalidInput(f"{name} is an integer from {low} to {high}.",
                                   {name: value, "min": low, "max": high})
        elif name in VISIT_SETTINGS:
            if not isinstance(value, bool):
                raise InvalidInput(f"{name} is true or false.", {name: value})
        else:
            raise InvalidInput("Unknown setting.", {"field": name})
        checked[name] = value
    return checked
