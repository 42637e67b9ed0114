"""Visits of interventions at a client's (seed 001, DESIGN.md §4): the one
table of moves, who may make each, the values a move may carry, the state
an intervention takes from its visits, and the deadlines each state sets.

Plain Python: the service loads the visit, asks `check_move()`, and stores
what the move says.

    planned ──declare_done──► done ──client_validate──────────────► validated
       │  ╲                    │  ╲──client_dispute──► disputed ──accept_dispute──►  ▲
       │   declare_cancelled   │                        │  ╲                        │
       │     ▼                 │                        │   refuse_dispute ──► arbitration
       └─cancel─► cancelled ◄──┘client_cancel           └────────── arbitrate ──────┘
                                 (validate_on_behalf and tacit: done → validated)
"""
from dataclasses import dataclass
from datetime import timedelta, timezone
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from fieldwork_common.errors import Conflict, Forbidden, InvalidInput

STATES = ("planned", "done", "disputed", "arbitration", "validated", "cancelled")
FINAL_STATES = ("validated", "cancelled")
# while planned, a visit is "to do" ("à réaliser", N/B in the seed's worker portal)
AWAITING = {"planned": "worker", "done": "client", "disputed": "worker", "arbitration": "manager"}
LOCATIONS = ("at_home", "on_site")
VALIDATION_MODES = ("client", "on_behalf", "tacit", "arbitrated")
REASON_KINDS = ("refusal", "cancellation")
DECISIONS = ("worker", "client", "custom")

MAX_DURATION = timedelta(hours=24)
MAX_SERIES = 200          # occurrences a weekly series may create at once
MAX_SERIES_SPAN = timedelta(days=366)
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# a weekly series repeats at the same wall-clock time here (the time zone
# the platform's emails and pages speak)
SERIES_ZONE = ZoneInfo("Europe/Paris")
WORKER_REMINDER_AFTER = timedelta(hours=24)   # after a visit's end, if not declared


# Who makes a move: the visit's worker (its technician), its client, the
# staff of its company (an admin in its scope or the company's manager),
# or the platform itself (a timer).
WORKER, CLIENT, STAFF, SYSTEM = "worker", "client", "staff", "system"


@dataclass(frozen=True)
class Move:
    name: str
    sources: tuple      # the states it starts from
    target: str
    actors: tuple       # who may make it
    events: tuple       # what it publishes
    portal: bool = False        # a worker or client makes it only with the portal module on
    after_end: bool = False     # only once the visit's end has passed
    after_start: bool = False   # only once the visit has started
    before_start: bool = False  # only before the visit starts


MOVES = {m.name: m for m in (
    Move("plan", (None,), "planned", (STAFF, WORKER), ("visit.planned",)),
    Move("reschedule", ("planned",), "planned", (STAFF,), ("visit.rescheduled",)),
    Move("cancel", ("planned",), "cancelled", (STAFF,), ("visit.cancelled",), before_start=True),
    # the worker validates from its portal (staff may do it on its behalf);
    # it may amend its declaration as long as the client has not answered
    Move("declare_done", ("planned", "done"), "done", (WORKER, STAFF), ("visit.declared",),
         portal=True, after_end=True),
    # a visit that did not take place (the client was out…): as soon as it
    # has started, staff having cancelled it until then
    Move("declare_cancelled", ("planned", "done"), "cancelled", (WORKER, STAFF),
         ("visit.declared",), portal=True, after_start=True),
    Move("client_validate", ("done",), "validated", (CLIENT,), ("visit.validated",), portal=True),
    Move("client_dispute", ("done",), "disputed", (CLIENT,), ("visit.disputed",), portal=True),
    Move("client_cancel", ("done",), "cancelled", (CLIENT,), ("visit.cancelled",), portal=True),
    Move("accept_dispute", ("disputed",), "validated", (WORKER,),
         ("visit.dispute_accepted", "visit.validated"), portal=True),
    Move("refuse_dispute", ("disputed",), "arbitration", (WORKER,), ("visit.dispute_refused",),
         portal=True),
    # a manager settles a refused correction, or steps in on a dispute the
    # worker leaves unanswered
    Move("arbitrate", ("disputed", "arbitration"), "validated", (STAFF,),
         ("visit.arbitrated", "visit.validated")),
    Move("validate_on_behalf", ("done",), "validated", (STAFF,), ("visit.validated",)),
    Move("tacit", ("done",), "validated", (SYSTEM,), ("visit.validated",)),
)}

# the validation mode a move ends in
MODE_OF = {"client_validate": "client", "accept_dispute": "client",
           "validate_on_behalf": "on_behalf", "tacit": "tacit", "arbitrate": "arbitrated"}


def actor_of(principal, visit):
    """worker, client, staff or system for this caller and this visit (the
    caller already sees the visit); None for anyone else."""
    if principal is None:
        return SYSTEM
    if principal.role == "technician":
        return WORKER if principal.technician_id == visit.technician_id else None
    if principal.role == "client":
        return CLIENT if principal.client_id == visit.client_id else None
    if principal.role in ("admin", "manager"):
        return STAFF
    return None


def check_move(name, visit, actor, now, portal_validation):
    """The move `name` of `visit` by `actor` at `now`, or the error that
    refuses it: 403 for an actor the table does not list, 409 for the
    portal module off, a state it does not start from, a visit not yet
    ended (or already started)."""
    move = MOVES[name]
    if actor not in move.actors:
        raise Forbidden(f"The move '{name}' is made by: {', '.join(move.actors)}.",
                        {"move": name, "by": list(move.actors)})
    if move.portal and actor in (WORKER, CLIENT) and not portal_validation:
        raise Conflict("Portal validation is off for this company: its staff validate visits.",
                       {"setting": "portal_validation", "value": False})
    state = visit.state if visit is not None else None
    if state not in move.sources:
        raise Conflict(f"A visit cannot '{name}' from the state '{state}'.",
                       {"move": name, "state": state, "allowed_from": list(move.sources),
                        "moves_from_here": moves_from(state)})
    if move.after_end and visit.end_at > now:
        raise Conflict("This visit is still to do: it is validated once its end has passed.",
                       {"state": state, "end_at": visit.end_at.isoformat(), "to_do": True})
    if move.after_start and visit.start_at > now:
        raise Conflict("This visit has not started: staff cancel it (with a reason) until then.",
                       {"state": state, "start_at": visit.start_at.isoformat(), "to_do": True})
    if move.before_start and visit.start_at <= now:
        raise Conflict("This visit has started: it can no longer be cancelled by staff; its "
                       "worker (or staff on its behalf) declares it cancelled.",
                       {"start_at": visit.start_at.isoformat()})
    return move


def moves_from(state):
    return sorted(name for name, move in MOVES.items() if state in move.sources)


def awaiting(state, end_at, now):
    """Who the visit waits for: worker, client or manager; None when nobody
    (to do in the future, validated, cancelled)."""
    if state == "planned" and end_at > now:
        return None
    return AWAITING.get(state)


def waiting_since(state, end_at, at):
    """What the board sorts on: a planned visit waits from its end, a moved
    one from its move; a final one waits no more."""
    if state == "planned":
        return end_at
    return None if state in FINAL_STATES else at


def intervention_state(visit_states):
    """An at_home/on_site intervention's state from its visits' states:
    open while one is to do (or there is none), closed when the worker has
    declared them all, completed when every one is validated or cancelled."""
    states = list(visit_states)
    if not states or "planned" in states:
        return "open"
    if any(state not in FINAL_STATES for state in states):
        return "closed"
    return "completed"


# --- values ------------------------------------------------------------------------------

def check_times(start_at, end_at):
    """end after start, at most 24 hours apart (400 otherwise)."""
    if end_at <= start_at:
        raise InvalidInput("end_at must be after start_at.",
                           {"start_at": start_at.isoformat(), "end_at": end_at.isoformat()})
    if end_at - start_at > MAX_DURATION:
        raise InvalidInput("A visit lasts at most 24 hours.",
                           {"start_at": start_at.isoformat(), "end_at": end_at.isoformat(),
                            "max_hours": 24})


def check_km(km, limit):
    """Kilometres: a number ≥ 0 with at most one decimal, at most the
    company's limit; answered as a Decimal (exact)."""
    if km is None:
        return None
    if isinstance(km, bool):
        raise InvalidInput("km must be a number.", {"km": km})
    try:
        value = Decimal(str(km))
    except (InvalidOperation, ValueError):
        raise InvalidInput("km must be a number.", {"km": km}) from None
    if not value.is_finite() or value < 0:
        raise InvalidInput("km must be zero or more.", {"km": km})
    if value > limit:   # before any rounding: 1e30 is refused, not a decimal overflow
        raise InvalidInput(f"km is at most {limit} for a visit in this company.",
                           {"km": km, "max_visit_km": limit})
    if value != value.quantize(Decimal("0.1")):
        raise InvalidInput("km has at most one decimal.", {"km": km})
    return abs(value.quantize(Decimal("0.1")))  # -0 is 0


def check_contract(contract, client_id):
    """A visit's contract: the client's (400), billable (400), validated or
    active (409 naming its state)."""
    if contract.client_id != client_id:
        raise InvalidInput("This contract is not the client's.",
                           {"contract_id": contract.id, "client_id": client_id})
    if not contract.billable:
        raise InvalidInput("A visit needs a billable contract.",
                           {"contract_id": contract.id, "billable": False})
    if contract.state not in ("validated", "active") or contract.active is False:
        raise Conflict(f"This contract is '{contract.state}': a visit needs a validated or active "
                       "contract.", {"contract_id": contract.id, "state": contract.state,
                                     "active": contract.active, "allowed": ["validated", "active"]})


def occurrences(start_at, end_at, weekly_on=None, until=None, zone=SERIES_ZONE):
    """The (start, end) of each visit to plan, in UTC: one, or one per day
    of `weekly_on` (mon…sun) from the first visit's date until `until` (a
    date, included), at the same wall-clock time in `zone` (Paris: a 10:00
    visit stays at 10:00 across a change of summer time). At most MAX_SERIES."""
    check_times(start_at, end_at)
    start_at, end_at = start_at.astimezone(zone), end_at.astimezone(zone)
    if not weekly_on:
        if until is not None:
            raise InvalidInput("repeat.until goes with repeat.weekly_on.", {"repeat": "weekly_on"})
        return [(start_at.astimezone(timezone.utc), end_at.astimezone(timezone.utc))]
    days = []
    for day in weekly_on:
        if day not in WEEKDAYS:
            raise InvalidInput("weekly_on takes mon, tue, wed, thu, fri, sat, sun.",
                               {"weekly_on": weekly_on})
        days.append(WEEKDAYS.index(day))
    if until is None:
        raise InvalidInput("A weekly series needs repeat.until (a date).", {"repeat": "until"})
    if until < start_at.date():
        raise InvalidInput("repeat.until is before the first visit.",
                           {"until": until.isoformat(), "start_at": start_at.isoformat()})
    if until - start_at.date() > MAX_SERIES_SPAN:
        raise InvalidInput("A series spans at most 366 days.", {"until": until.isoformat()})
    found = []
    duration = end_at - start_at
    day = start_at
    while day.date() <= until:
        if day.weekday() in days:
            # the wall clock kept in `zone`; the instants in UTC
            found.append((day.astimezone(timezone.utc), (day + duration).astimezone(timezone.utc)))
            if len(found) > MAX_SERIES:
                raise InvalidInput(f"A series makes at most {MAX_SERIES} visits at once.",
                                   {"max_visits": MAX_SERIES})
        day += timedelta(days=1)
    if not found:
        raise InvalidInput("This series has no occurrence.", {"weekly_on": weekly_on})
    return found


def decided_values(decision, worker, client, custom):
    """The values a manager's decision fixes: the worker's (the values in
    force), the client's correction, or its own (each of start, end, km
    given or kept from the worker's)."""
    if decision not in DECISIONS:
        raise InvalidInput("decide is worker, client or custom.", {"decide": decision})
    if decision == "worker":
        if any(v is not None for v in custom.values()):
            raise InvalidInput("Values go with decide=custom only.", {"decide": decision})
        return dict(worker)
    if decision == "client":
        if any(v is not None for v in custom.values()):
            raise InvalidInput("Values go with decide=custom only.", {"decide": decision})
        return dict(client)
    if all(v is None for v in custom.values()):
        raise InvalidInput("decide=custom needs start_at, end_at and/or km.", {"decide": decision})
    return {name: custom[name] if custom[name] is not None else worker[name] for name in worker}


# --- deadlines (shared timers, docs/timers.md) --------------------------------------------

REMIND_WORKER, REMIND_CLIENT, REMIND_MANAGER, TACIT = (
    "visit.remind_worker", "visit.remind_client", "visit.remind_manager", "visit.tacit")
TIMER_KINDS = (REMIND_WORKER, REMIND_CLIENT, REMIND_MANAGER, TACIT)


def deadlines(state, end_at, since, reminder_days, tacit_validation):
    """The timers a visit in `state` sets, [(kind, due_at)]; every other
    kind of TIMER_KINDS is cancelled.

    - to do: the worker is reminded a day after the end, a manager after N days;
    - done: the client is reminded after N days, then after 2N days the visit
      is validated tacitly (when the company turns it on; the reminder says
      so) or a manager is reminded;
    - disputed: the worker is reminded after a day, a manager after N days;
    - arbitration: a manager is reminded after N days."""
    days = timedelta(days=reminder_days)
    if state == "planned":
        return [(REMIND_WORKER, end_at + WORKER_REMINDER_AFTER), (REMIND_MANAGER, end_at + days)]
    if state == "done":
        return [(REMIND_CLIENT, since + days),
                (TACIT if tacit_validation else REMIND_MANAGER, since + 2 * days)]
    if state == "disputed":
        return [(REMIND_WORKER, since + WORKER_REMINDER_AFTER), (REMIND_MANAGER, since + days)]
    if state == "arbitration":   # emailed on the refusal; reminded if still unsettled
        return [(REMIND_MANAGER, since + days)]
    return []


def tacit_at(state, since, reminder_days, tacit_validation):
    """When a done visit will be validated tacitly, or None."""
    if state != "done" or not tacit_validation:
        return None
    return since + 2 * timedelta(days=reminder_days)


REMINDER_STAGE = {REMIND_WORKER: "worker", REMIND_CLIENT: "client", REMIND_MANAGER: "manager"}
