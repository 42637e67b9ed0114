"""The visits wing (seed 001, issue 10, docs/visits.md): visits of at_home
and on_site interventions, planned, rescheduled, cancelled, then validated
by the worker and by the client, disputes answered and settled, batch
validation on the client's behalf, reminders and tacit validation on the
shared timers, the validation board, the reason catalogs.

Every move goes the same way (`_move`): lock the intervention, then the
visit (always in that order, so that batches and single moves never
deadlock), ask domain/visits.py whether this actor may make this move
now, check the version, apply the values, record the entry (every value
ever proposed is a row), set the deadlines, let the intervention follow
its visits, publish the events: one transaction.
"""
import uuid
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import sqlalchemy as sa
from fieldwork_common.commands import command
from fieldwork_common.envelope import rfc3339
from fieldwork_common.errors import Conflict, Forbidden, InvalidInput, NotFound
from fieldwork_common.pagination import page
from fieldwork_common.rpc import rpc
from fieldwork_common.serialize import as_dict, checked_text, is_uuid, parse_instant
from fieldwork_common.timers import timer_handler

from fieldwork_interventions.access import (
    _technician_company_ids, resolve, resolve_filter, scope, sees_company, visibility, visible)
from fieldwork_interventions.changes import (
    CLIENT_CONTACT, COMPANY_CONTACT, TECHNICIAN_CONTACT, InterventionChanges)
from fieldwork_interventions.domain import rules
from fieldwork_interventions.domain import visits as flow
from fieldwork_interventions.models import (
    Client, Company, Contract, Intervention, InterventionType, Technician, Visit,
    VisitEntry, VisitReason)

VISIT_FIELDS = ("id", "intervention_id", "company_id", "client_id", "technician_id", "type_id",
                "contract_id", "state", "start_at", "end_at", "km", "comment", "mission_order",
                "created_by_worker", "series_id", "reason_id", "state_since", "declared_at",
                "declared_by", "validated_at", "validated_by", "validation_mode", "on_behalf_of",
                "created_by", "created_at", "updated_at", "version")
ENTRY_FIELDS = ("id", "move", "from_state", "to_state", "start_at", "end_at", "km",
                "technician_id", "reason_id", "comment", "decision", "accepted", "author_id",
                "author_role", "on_behalf_of", "at")
REASON_FIELDS = ("id", "company_id", "kind", "label", "position", "active", "created_at", "version")
# what every visit event carries (the visit after the change, who and
# when, the contacts notifications needs), then what each event adds
# (docs/asyncapi.yaml documents exactly these; the contract test checks it)
VISIT_EVENT_COMMON = ("id", "intervention_id", "company_id", "client_id", "technician_id",
                      "type_id", "contract_id", "site_id", "state", "start_at", "end_at", "km",
                      "comment", "mission_order", "version", "reference", "at", "by", "by_role",
                      "company", "client", "technician", "type")
VISIT_EVENT_EXTRAS = {
    "visit.planned": ("created_by_worker", "series_id"),
    "visit.rescheduled": ("previous",),
    "visit.cancelled": ("reason", "cancelled_by"),
    "visit.declared": ("outcome", "reason"),
    "visit.disputed": ("reason", "proposal"),
    "visit.dispute_accepted": ("proposal",),
    "visit.dispute_refused": ("proposal", "answer_comment"),
    "visit.arbitrated": ("decision", "arbitration_reason"),
    "visit.validated": ("mode", "on_behalf_of"),
    "visit.reminder": ("stage", "waiting_since", "tacit_at"),
}
VISIT_EVENT_FIELDS = {event_type: VISIT_EVENT_COMMON + extras
                      for event_type, extras in VISIT_EVENT_EXTRAS.items()}
STATE_CHANGED_FIELDS = ("id", "company_id", "client_id", "technician_id", "from_state",
                        "to_state", "at", "by", "version")
MAX_TEXT = 5000
MAX_BATCH = 500
MAX_PLANNING_DAYS = 92
BOARD_WAITING = ("worker", "client", "manager")


def now():
    return datetime.now(timezone.utc)


def _km(value):
    return float(value) if isinstance(value, Decimal) else value


def visit_dict(visit, at=None):
    """A visit as answered: its fields, who it waits for and whether it is
    still to do."""
    item = as_dict(visit, VISIT_FIELDS)
    item["km"] = _km(visit.km)
    moment = at or now()
    item["awaiting"] = flow.awaiting(visit.state, visit.end_at, moment)
    item["to_do"] = visit.state == "planned" and visit.end_at > moment
    return item


def _text(value, field, required=False):
    return checked_text(value, field, required, MAX_TEXT)


def _instant(value, field):
    return None if value is None else parse_instant(value, field)


def _values(visit):
    return {"start_at": visit.start_at, "end_at": visit.end_at, "km": visit.km}


def _plain_values(values):
    return {"start_at": rfc3339(values["start_at"]) if values.get("start_at") else None,
            "end_at": rfc3339(values["end_at"]) if values.get("end_at") else None,
            "km": _km(values.get("km"))}


class Visits(InterventionChanges):
    """Mixed into InterventionsService (needs `db` and `principal`)."""

    # --- the one way a visit moves ---------------------------------------------------------

    def _lock(self, s, visit_id, field="visit_id"):
        """The intervention, then the visit, locked (in that order); 404 when
        the caller may not see the visit."""
        found = visible(s, self.principal, "visit", visit_id, field=field)
        intervention = s.scalars(sa.select(Intervention).where(Intervention.id == found.intervention_id)
                                 .with_for_update().execution_options(populate_existing=True)).one()
        visit = s.scalars(sa.select(Visit).where(Visit.id == found.id).with_for_update()
                          .execution_options(populate_existing=True)).one()
        return intervention, visit

    def _move(self, uow, visit_id, name, version, apply, locked=None, actor=None):
        """Lock → check the move → version → apply → entry → deadlines →
        the intervention follows → events → answer. `apply(s, visit,
        company, at)` changes the visit's values and answers (entry fields,
        event extras)."""
        s = uow.session
        intervention, visit = locked or self._lock(s, visit_id)
        at = now()
        company = s.get(Company, visit.company_id)
        actor = actor or flow.actor_of(self.principal, visit)
        if actor is None:
            raise Forbidden("Only this visit's worker, client or staff act on it.")
        move = flow.check_move(name, visit, actor, at, company.portal_validation)
        if version is not None and version != visit.version:
            raise Conflict("The visit was changed by someone else; reload it and retry.",
                           {"current_version": visit.version, "your_version": version})
        from_state = visit.state
        entry, extras = apply(s, visit, company, at)
        visit.state = move.target
        visit.state_since = at
        visit.waiting_since = flow.waiting_since(visit.state, visit.end_at, at)
        if name in flow.MODE_OF:
            visit.validation_mode = flow.MODE_OF[name]
            visit.validated_at, visit.validated_by = at, self._author()[0]
        visit.version += 1
        visit.updated_at = at
        author_id, author_role = self._author()
        s.add(VisitEntry(visit_id=visit.id, move=name, from_state=from_state, to_state=visit.state,
                         author_id=author_id, author_role=author_role, at=at, **entry))
        self._deadlines(uow, visit, company)
        s.flush()
        self._follow(uow, intervention, at)
        for event_type in move.events:
            uow.publish(event_type, visit.id, self._event(s, visit, company, at, event_type, extras))
        return visit_dict(visit, at)

    def _deadlines(self, uow, visit, company):
        """The state's timers set, the others cancelled (domain/visits.deadlines)."""
        wanted = dict(flow.deadlines(visit.state, visit.end_at, visit.state_since,
                                     company.validation_reminder_days, company.tacit_validation))
        for kind in flow.TIMER_KINDS:
            if kind in wanted:
                uow.schedule(kind, visit.id, wanted[kind], {"state": visit.state,
                                                           "version": visit.version})
            else:
                uow.cancel_timer(kind, visit.id)

    def _follow(self, uow, intervention, at):
        """The intervention's state from its visits' (domain/visits.py):
        when it changes, its version, its history and intervention.state_changed."""
        s = uow.session
        states = s.scalars(sa.select(Visit.state).where(Visit.intervention_id == intervention.id)).all()
        state = flow.intervention_state(states)
        if state == intervention.state:
            return
        previous = intervention.state
        intervention.state = state
        if state == "open":
            intervention.closed_at = intervention.completed_at = None
        else:
            intervention.closed_at = intervention.closed_at or at
            intervention.completed_at = at if state == "completed" else None
        self._changed(s, intervention, "visits", {"from_state": previous, "to_state": state}, at)
        uow.publish("intervention.state_changed", intervention.id, {
            "id": intervention.id, "company_id": intervention.company_id,
            "client_id": intervention.client_id, "technician_id": intervention.technician_id,
            "from_state": previous, "to_state": state, "at": rfc3339(at),
            "by": self._author()[0], "version": intervention.version})

    def _event(self, s, visit, company, at, event_type, extras):
        """The event's data: the visit, the contacts notifications needs
        (event-carried state), and what this event adds."""
        author_id, author_role = self._author()
        data = {name: value for name, value in visit_dict(visit, at).items()
                if name in VISIT_EVENT_COMMON}
        kind = s.get(InterventionType, visit.type_id)
        data.update(
            site_id=s.get(Intervention, visit.intervention_id).site_id,
            reference=rules.reference(visit.intervention_id), at=rfc3339(at), by=author_id,
            by_role=author_role, company=as_dict(company, COMPANY_CONTACT),
            client=as_dict(s.get(Client, visit.client_id), CLIENT_CONTACT),
            technician=as_dict(s.get(Technician, visit.technician_id), TECHNICIAN_CONTACT),
            type=as_dict(kind, ("id", "name", "location")))
        added = extras.get(event_type, {})
        data.update({name: added.get(name) for name in VISIT_EVENT_EXTRAS[event_type]})
        return data

    def _reason(self, s, visit, reason_id, kind, field="reason_id", required=True):
        """A reason of the visit's company's catalog, of `kind` (404 for
        another company's, 400 for a deactivated one or the wrong kind)."""
        if reason_id is None:
            if required:
                raise InvalidInput(f"{field} is required: a {kind} reason from the catalog.",
                                   {field: "required", "kind": kind})
            return None
        reason = resolve(s, self.principal, "visit_reason", reason_id, field)
        if reason.company_id != visit.company_id:
            raise NotFound("Reason not found.", {field: reason_id})
        if reason.kind != kind:
            raise InvalidInput(f"{field} must be a {kind} reason.",
                               {field: reason_id, "kind": reason.kind, "expected": kind})
        return reason

    # --- planning ------------------------------------------------------------------------------

    @rpc
    @command
    def plan_visits(self, uow, intervention_id, start_at, end_at, contract_id=None,
                    technician_id=None, repeat=None, mission_order=None):
        """Plan one visit, or a weekly series (`repeat` {weekly_on, until}),
        of an at_home/on_site intervention. Staff of its company, or its
        technician (for itself; the visit then carries a mission order and
        its contract comes from the intervention). Publishes visit.planned
        per visit."""
        s = uow.session
        p = self.principal
        intervention = visible(s, p, "intervention", intervention_id, lock=True)
        if not rules.can_work_on(p, intervention):
            raise Forbidden("Staff and the intervention's technician plan visits.")
        repeat = repeat or {}
        if not isinstance(repeat, dict) or set(repeat) - {"weekly_on", "until"}:
            raise InvalidInput("repeat is {weekly_on, until}.", {"repeat": repeat})
        until = repeat.get("until")
        if until is not None and not isinstance(until, date):
            try:
                until = date.fromisoformat(str(until))
            except ValueError:
                raise InvalidInput("repeat.until is a date (YYYY-MM-DD).", {"until": until}) from None
        times = flow.occurrences(_instant(start_at, "start_at"), _instant(end_at, "end_at"),
                                 repeat.get("weekly_on"), until)
        return {"items": self._plan(uow, intervention, times, contract_id, technician_id,
                                    _text(mission_order, "mission_order"))}

    def _plan(self, uow, intervention, times, contract_id, technician_id, mission_order,
              by_worker=None):
        s = uow.session
        p = self.principal
        if intervention.location not in flow.LOCATIONS:
            raise Conflict("Only interventions at a client's (at_home, on_site) have visits; "
                           "workshop jobs have steps.", {"location": intervention.location})
        if intervention.state == "completed":
            raise Conflict("This intervention is completed: reopen it to plan another visit.",
                           {"state": intervention.state})
        worker = by_worker if by_worker is not None else (p is not None and p.role == "technician")
        if worker:
            if contract_id is not None:
                raise Forbidden("A worker plans under the intervention's contract; it names none.",
                                {"contract_id": contract_id})
            if technician_id is not None and technician_id != p.technician_id:
                raise Forbidden("A worker plans visits only for itself.",
                                {"technician_id": technician_id})
            contract = self._inherited_contract(s, intervention)
            technician = s.get(Technician, p.technician_id if p.role == "technician"
                               else intervention.technician_id)
        else:
            contract_id = contract_id or intervention.contract_id
            if contract_id is None:
                raise InvalidInput("contract_id is required: a visit needs a billable contract.",
                                   {"contract_id": "required"})
            contract = resolve(s, p, "contract", contract_id, "contract_id", active=False)
            technician = (resolve(s, p, "technician", technician_id, "technician_id")
                          if technician_id else s.get(Technician, intervention.technician_id))
        flow.check_contract(contract, intervention.client_id)
        self._works_for(s, technician, intervention.company_id)
        company = s.get(Company, intervention.company_id)
        rules.require_active(company=company, technician=technician)
        series_id = str(uuid.uuid4()) if len(times) > 1 else None
        at = now()
        author_id, author_role = self._author()
        planned = []
        for start, end in times:
            visit = Visit(intervention_id=intervention.id, company_id=intervention.company_id,
                          client_id=intervention.client_id, technician_id=technician.id,
                          type_id=intervention.type_id, contract_id=contract.id, state="planned",
                          start_at=start, end_at=end, mission_order=mission_order,
                          created_by_worker=bool(worker), series_id=series_id, state_since=at,
                          waiting_since=end, created_by=author_id, created_at=at, updated_at=at,
                          version=1)
            s.add(visit)
            s.flush()
            s.add(VisitEntry(visit_id=visit.id, move="plan", from_state=None, to_state="planned",
                             start_at=start, end_at=end, technician_id=technician.id,
                             comment=mission_order, accepted=True, author_id=author_id,
                             author_role=author_role, at=at))
            self._deadlines(uow, visit, company)
            planned.append(visit)
        s.flush()
        self._follow(uow, intervention, at)
        for visit in planned:
            uow.publish("visit.planned", visit.id, self._event(
                s, visit, company, at, "visit.planned",
                {"visit.planned": {"created_by_worker": bool(worker), "series_id": series_id}}))
        return [visit_dict(v, at) for v in planned]

    def _inherited_contract(self, s, intervention):
        """The contract a worker's visit comes under: the intervention's, or
        that of its latest visit."""
        contract_id = intervention.contract_id or s.scalar(
            sa.select(Visit.contract_id).where(Visit.intervention_id == intervention.id)
            .order_by(Visit.created_at.desc()).limit(1))
        if contract_id is None:
            raise InvalidInput("This intervention has no contract yet: staff plan its first visit "
                               "with one.", {"contract_id": "required"})
        return s.get(Contract, contract_id)

    def _works_for(self, s, technician, company_id):
        if company_id not in _technician_company_ids(s, technician.id):
            raise InvalidInput("The technician does not work for the intervention's company.",
                               {"technician_id": technician.id, "company_id": company_id})

    @rpc
    @command
    def update_visit(self, uow, visit_id, version, start_at=None, end_at=None, technician_id=None):
        """Staff: reschedule a visit still planned (new times) and/or give it
        to another technician of the company. Publishes visit.rescheduled."""
        if start_at is None and end_at is None and technician_id is None:
            raise InvalidInput("Nothing to change: start_at, end_at or technician_id.",
                               {"editable": ["start_at", "end_at", "technician_id"]})

        def apply(s, visit, company, at):
            previous = {"start_at": rfc3339(visit.start_at), "end_at": rfc3339(visit.end_at),
                        "technician_id": visit.technician_id}
            start = _instant(start_at, "start_at") or visit.start_at
            end = _instant(end_at, "end_at") or visit.end_at
            flow.check_times(start, end)
            if technician_id is not None:
                technician = resolve(s, self.principal, "technician", technician_id, "technician_id")
                self._works_for(s, technician, visit.company_id)
                visit.technician_id = technician.id
            visit.start_at, visit.end_at = start, end
            return ({"start_at": start, "end_at": end, "technician_id": visit.technician_id,
                     "accepted": True},
                    {"visit.rescheduled": {"previous": previous}})
        return self._move(uow, visit_id, "reschedule", version, apply)

    @rpc
    @command
    def cancel_visit(self, uow, visit_id, version, reason_id=None, comment=None):
        """Staff: cancel a planned visit before it starts, with a reason of
        the cancellation catalog. Publishes visit.cancelled."""
        def apply(s, visit, company, at):
            reason = self._reason(s, visit, reason_id, "cancellation")
            visit.reason_id = reason.id
            return ({"reason_id": reason.id, "comment": _text(comment, "comment")},
                    {"visit.cancelled": {"reason": {"id": reason.id, "label": reason.label},
                                         "cancelled_by": "staff"}})
        return self._move(uow, visit_id, "cancel", version, apply)

    # --- validation ----------------------------------------------------------------------------

    @rpc
    @command
    def worker_validation(self, uow, visit_id, version, outcome, start_at=None, end_at=None,
                          km=None, comment=None, cancel_reason_id=None, next_visit=None):
        """The worker (or staff on its behalf), once the visit's end has
        passed: `done` with the times it gives (the planning updates),
        kilometres and a comment, or `cancelled`. It may amend its
        declaration until the client answers. `next_visit` {start_at,
        end_at, comment?} plans a new visit carrying a mission order.
        Publishes visit.declared (and visit.planned)."""
        if outcome not in ("done", "cancelled"):
            raise InvalidInput("outcome is done or cancelled.", {"outcome": outcome})
        s = uow.session
        locked = self._lock(s, visit_id)
        intervention, visit = locked
        actor = flow.actor_of(self.principal, visit)

        def apply(s, visit, company, at):
            start = _instant(start_at, "start_at") or visit.start_at
            end = _instant(end_at, "end_at") or visit.end_at
            flow.check_times(start, end)
            distance = flow.check_km(km, company.max_visit_km)
            note = _text(comment, "comment")
            reason = None
            if outcome == "cancelled":
                if any(v is not None for v in (start_at, end_at, km)):
                    raise InvalidInput("A cancelled visit carries no times or kilometres.",
                                       {"outcome": outcome})
                reason = self._reason(s, visit, cancel_reason_id, "cancellation",
                                      "cancel_reason_id", required=False)
                visit.reason_id = reason.id if reason else None
            elif cancel_reason_id is not None:
                raise InvalidInput("cancel_reason_id goes with outcome=cancelled.",
                                   {"cancel_reason_id": cancel_reason_id})
            else:
                visit.start_at, visit.end_at = start, end
                visit.km = distance
            visit.comment = note
            visit.declared_at, visit.declared_by = at, self._author()[0]
            values = ({"start_at": start, "end_at": end, "km": distance}
                      if outcome == "done" else {})
            return ({**values, "comment": note, "reason_id": reason.id if reason else None,
                     "accepted": True if outcome == "done" else None,
                     "on_behalf_of": visit.technician_id if actor == flow.STAFF else None},
                    {"visit.declared": {"outcome": outcome, "reason": {
                        "id": reason.id, "label": reason.label} if reason else None}})
        name = "declare_done" if outcome == "done" else "declare_cancelled"
        answer = self._move(uow, visit_id, name, version, apply, locked=locked, actor=actor)
        if next_visit is not None:
            if not isinstance(next_visit, dict) or set(next_visit) - {"start_at", "end_at", "comment"}:
                raise InvalidInput("next_visit is {start_at, end_at, comment?}.",
                                   {"next_visit": next_visit})
            start = _instant(next_visit.get("start_at"), "next_visit.start_at")
            end = _instant(next_visit.get("end_at"), "next_visit.end_at")
            if start is None or end is None:
                raise InvalidInput("next_visit needs start_at and end_at.", {"next_visit": "times"})
            flow.check_times(start, end)
            order = _text(next_visit.get("comment"), "next_visit.comment") or comment
            technician_id = visit.technician_id
            answer["next_visit"] = self._plan(uow, intervention, [(start, end)], None, None,
                                              order or None, by_worker=True)[0] \
                if actor == flow.WORKER else self._plan(uow, intervention, [(start, end)],
                                                        visit.contract_id, technician_id,
                                                        order or None)[0]
        return answer

    @rpc
    @command
    def client_validation(self, uow, visit_id, version, decision, reason_id=None, start_at=None,
                          end_at=None, km=None, comment=None):
        """The client, on a visit the worker declared done: `validate` as is;
        `dispute` with a refusal reason and corrected times and/or km (the
        planning does not change until the worker accepts); `cancel` with a
        cancellation reason. Publishes visit.validated, visit.disputed or
        visit.cancelled."""
        names = {"validate": "client_validate", "dispute": "client_dispute",
                 "cancel": "client_cancel"}
        if decision not in names:
            raise InvalidInput("decision is validate, dispute or cancel.", {"decision": decision})
        corrected = {"start_at": start_at, "end_at": end_at, "km": km}

        def apply(s, visit, company, at):
            note = _text(comment, "comment")
            if decision != "dispute" and any(v is not None for v in corrected.values()):
                raise InvalidInput("Corrected values go with decision=dispute only.",
                                   {"decision": decision})
            if decision == "validate":
                if reason_id is not None:
                    raise InvalidInput("reason_id goes with dispute or cancel.", {"reason_id": reason_id})
                return {"comment": note}, {"visit.validated": {"mode": "client", "on_behalf_of": None}}
            if decision == "cancel":
                reason = self._reason(s, visit, reason_id, "cancellation")
                visit.reason_id = reason.id
                return ({"reason_id": reason.id, "comment": note},
                        {"visit.cancelled": {"reason": {"id": reason.id, "label": reason.label},
                                             "cancelled_by": "client"}})
            reason = self._reason(s, visit, reason_id, "refusal")
            if all(v is None for v in corrected.values()):
                raise InvalidInput("A dispute corrects start_at, end_at and/or km.",
                                   {"fields": ["start_at", "end_at", "km"]})
            proposal = {"start_at": _instant(start_at, "start_at") or visit.start_at,
                        "end_at": _instant(end_at, "end_at") or visit.end_at,
                        "km": flow.check_km(km, company.max_visit_km) if km is not None else visit.km}
            flow.check_times(proposal["start_at"], proposal["end_at"])
            if proposal == _values(visit):
                raise InvalidInput("The correction changes nothing: validate the visit instead.",
                                   {"decision": decision})
            return ({**proposal, "reason_id": reason.id, "comment": note, "accepted": None},
                    {"visit.disputed": {"reason": {"id": reason.id, "label": reason.label},
                                        "proposal": _plain_values(proposal)}})
        return self._move(uow, visit_id, names[decision], version, apply)

    def _pending_correction(self, s, visit):
        entry = s.scalars(sa.select(VisitEntry).where(
            VisitEntry.visit_id == visit.id, VisitEntry.move == "client_dispute",
            VisitEntry.accepted.is_(None)).order_by(VisitEntry.id.desc()).limit(1)).first()
        if entry is None:  # the table of moves makes this impossible; never guess values
            raise Conflict("This visit has no correction waiting.", {"state": visit.state})
        return entry

    @rpc
    @command
    def dispute_answer(self, uow, visit_id, version, accept, comment=None):
        """The worker, on a disputed visit: accepting applies the client's
        values (the visit is validated); refusing sends it to a manager.
        Publishes visit.dispute_accepted and visit.validated, or
        visit.dispute_refused."""
        if not isinstance(accept, bool):
            raise InvalidInput("accept is true or false.", {"accept": accept})

        def apply(s, visit, company, at):
            note = _text(comment, "comment")
            correction = self._pending_correction(s, visit)
            proposal = {"start_at": correction.start_at, "end_at": correction.end_at,
                        "km": correction.km}
            if not accept:
                return ({"comment": note},
                        {"visit.dispute_refused": {"proposal": _plain_values(proposal),
                                                   "answer_comment": note}})
            correction.accepted = True
            visit.start_at, visit.end_at, visit.km = (proposal["start_at"], proposal["end_at"],
                                                      proposal["km"])
            return ({**proposal, "comment": note, "accepted": True},
                    {"visit.dispute_accepted": {"proposal": _plain_values(proposal)},
                     "visit.validated": {"mode": "client", "on_behalf_of": None}})
        return self._move(uow, visit_id, "accept_dispute" if accept else "refuse_dispute",
                          version, apply)

    @rpc
    @command
    def arbitrate(self, uow, visit_id, version, decide, reason, start_at=None, end_at=None,
                  km=None):
        """A manager (or an admin) of the visit's company, never its worker
        or client: the worker's values, the client's, or its own; the
        reason is shown to both. Publishes visit.arbitrated and visit.validated."""
        def apply(s, visit, company, at):
            p = self.principal
            if p.technician_id and p.technician_id == visit.technician_id or \
                    p.client_id and p.client_id == visit.client_id:
                raise Forbidden("The worker or the client of a visit never settles it.")
            why = _text(reason, "reason", required=True)
            correction = self._pending_correction(s, visit)
            client = {"start_at": correction.start_at, "end_at": correction.end_at,
                      "km": correction.km}
            custom = {"start_at": _instant(start_at, "start_at"), "end_at": _instant(end_at, "end_at"),
                      "km": flow.check_km(km, company.max_visit_km) if km is not None else None}
            values = flow.decided_values(decide, _values(visit), client, custom)
            flow.check_times(values["start_at"], values["end_at"])
            correction.accepted = decide == "client"
            visit.start_at, visit.end_at, visit.km = values["start_at"], values["end_at"], values["km"]
            return ({**values, "decision": decide, "comment": why, "accepted": True},
                    {"visit.arbitrated": {"decision": decide, "arbitration_reason": why},
                     "visit.validated": {"mode": "arbitrated", "on_behalf_of": None}})
        return self._move(uow, visit_id, "arbitrate", version, apply)

    @rpc
    @command
    def validate_batch(self, uow, visit_ids):
        """Staff: validate done visits in their clients' place, recorded as
        such (who, when, on behalf of which client). Each id is answered on
        its own: validated, or the error that refused it (a visit with an
        open dispute, still to do…); the others go through. An id the
        caller cannot see (another company's, unknown) refuses the whole
        batch (404 naming them): nothing is validated."""
        p = self.principal
        if p is None or p.role not in ("admin", "manager"):
            raise Forbidden("Only staff validate visits in the client's place.")
        if not isinstance(visit_ids, list) or not 1 <= len(visit_ids) <= MAX_BATCH:
            raise InvalidInput(f"visit_ids is a list of 1 to {MAX_BATCH} ids.", {"max": MAX_BATCH})
        s = uow.session
        ids = list(dict.fromkeys(str(v) for v in visit_ids))
        known = [v for v in ids if is_uuid(v)]
        cond = scope("visit", p, s)
        rows = s.execute(sa.select(Visit.id, Visit.intervention_id).where(
            Visit.id.in_(known), *([cond] if cond is not None else []))).all() if known else []
        of = {row.id: row.intervention_id for row in rows}
        unseen = [v for v in ids if v not in of]
        if unseen:  # a list naming what the caller cannot see is wrong as a whole
            raise NotFound("Visit not found: nothing was validated.", {"visit_ids": unseen})
        # lock every intervention, then every visit, in id order: no deadlock
        for intervention_id in sorted(set(of.values())):
            s.execute(sa.select(Intervention.id).where(Intervention.id == intervention_id)
                      .with_for_update())
        results = {}
        for visit_id in sorted(of):
            def apply(s, visit, company, at):
                visit.on_behalf_of = visit.client_id
                return ({"on_behalf_of": visit.client_id},
                        {"visit.validated": {"mode": "on_behalf", "on_behalf_of": visit.client_id}})
            savepoint, mark = s.begin_nested(), uow.mark()
            try:
                intervention = s.get(Intervention, of[visit_id])
                visit = s.scalars(sa.select(Visit).where(Visit.id == visit_id).with_for_update()
                                  .execution_options(populate_existing=True)).one()
                answer = self._move(uow, visit_id, "validate_on_behalf", None, apply,
                                    locked=(intervention, visit))
                savepoint.commit()
                results[visit_id] = {"id": visit_id, "validated": True, "visit": answer}
            except (Conflict, Forbidden, InvalidInput) as exc:
                savepoint.rollback()
                uow.rollback_to(mark)
                results[visit_id] = {"id": visit_id, "validated": False,
                                     "error": {"code": exc.code, "message": exc.message,
                                               "details": exc.details}}
        items = [results[v] for v in ids]
        return {"items": items, "validated": sum(1 for i in items if i["validated"]),
                "refused": sum(1 for i in items if not i["validated"])}

    # --- deadlines --------------------------------------------------------------------------

    def _on_timer(self, uow, timer):
        s = uow.session
        visit = s.get(Visit, timer.key)
        if visit is None:
            return None, None, None
        intervention = s.scalars(sa.select(Intervention).where(Intervention.id == visit.intervention_id)
                                 .with_for_update()).one()
        visit = s.scalars(sa.select(Visit).where(Visit.id == visit.id).with_for_update()
                          .execution_options(populate_existing=True)).one()
        if visit.state != timer.payload.get("state"):
            return None, None, None  # it moved on since: this deadline no longer applies
        return intervention, visit, s.get(Company, visit.company_id)

    def _remind(self, uow, timer):
        intervention, visit, company = self._on_timer(uow, timer)
        if visit is None:
            return
        at = now()
        stage = flow.REMINDER_STAGE[timer.kind]
        tacit = flow.tacit_at(visit.state, visit.state_since, company.validation_reminder_days,
                              company.tacit_validation)
        uow.publish("visit.reminder", visit.id, self._event(
            uow.session, visit, company, at, "visit.reminder", {"visit.reminder": {
                "stage": stage, "waiting_since": rfc3339(visit.waiting_since or visit.end_at),
                "tacit_at": rfc3339(tacit) if tacit else None}}))

    @timer_handler(flow.REMIND_WORKER)
    def on_visit_remind_worker(self, uow, timer):
        """A visit left to validate (or a dispute to answer): remind its worker."""
        self._remind(uow, timer)

    @timer_handler(flow.REMIND_CLIENT)
    def on_visit_remind_client(self, uow, timer):
        """A done visit the client has not answered: remind the client (the
        reminder announces tacit validation when the company has it)."""
        self._remind(uow, timer)

    @timer_handler(flow.REMIND_MANAGER)
    def on_visit_remind_manager(self, uow, timer):
        """Still waiting: remind the company's managers."""
        self._remind(uow, timer)

    @timer_handler(flow.TACIT)
    def on_visit_tacit(self, uow, timer):
        """The client left a done visit unanswered: validated tacitly (only
        when the company turned it on; the timer is set only then)."""
        intervention, visit, company = self._on_timer(uow, timer)
        if visit is None or not company.tacit_validation:
            return

        def apply(s, visit, company, at):
            return {}, {"visit.validated": {"mode": "tacit", "on_behalf_of": None}}
        self._move(uow, visit.id, "tacit", None, apply, locked=(intervention, visit),
                   actor=flow.SYSTEM)

    # --- reading ---------------------------------------------------------------------------

    @rpc
    def get_visit(self, visit_id):
        with self.db.session() as session:
            return visit_dict(visible(session, self.principal, "visit", visit_id))

    @rpc
    def visit_history(self, visit_id):
        """Every move of the visit with the values it proposed or fixed, who
        and when, oldest first: the worker, the client and staff all see it."""
        with self.db.session() as session:
            visit = visible(session, self.principal, "visit", visit_id)
            entries = session.scalars(sa.select(VisitEntry).where(VisitEntry.visit_id == visit.id)
                                      .order_by(VisitEntry.id)).all()
            items = []
            for entry in entries:
                item = as_dict(entry, ENTRY_FIELDS)
                item["km"] = _km(entry.km)
                items.append(item)
            return {"items": items}

    def _visit_filters(self, session, state=None, client_id=None, technician_id=None, type_id=None,
                       intervention_id=None, company_id=None, start=None, end=None, overdue=None):
        p = self.principal
        conditions = visibility(p, Visit)
        for kind, column, value, field in (
                ("client", Visit.client_id, client_id, "client_id"),
                ("technician", Visit.technician_id, technician_id, "technician_id"),
                ("intervention_type", Visit.type_id, type_id, "type_id"),
                ("intervention", Visit.intervention_id, intervention_id, "intervention_id"),
                ("company", Visit.company_id, company_id, "company_id")):
            if value is not None:
                conditions.append(column == resolve_filter(session, p, kind, value, field))
        if state is not None:
            if state not in flow.STATES:
                raise InvalidInput("Unknown state.", {"state": state, "allowed": list(flow.STATES)})
            conditions.append(Visit.state == state)
        start, end = _instant(start, "from"), _instant(end, "to")
        if start is not None and end is not None and not start < end:
            raise InvalidInput("from must be before to.", {"from": rfc3339(start), "to": rfc3339(end)})
        if start is not None:
            conditions.append(Visit.start_at >= start)
        if end is not None:
            conditions.append(Visit.start_at < end)
        if overdue is True:  # to validate by the worker: its end has passed
            conditions += [Visit.state == "planned", Visit.end_at <= now()]
        elif overdue is False:
            conditions.append(sa.not_(sa.and_(Visit.state == "planned", Visit.end_at <= now())))
        return conditions

    @rpc
    def list_visits(self, state=None, client_id=None, technician_id=None, type_id=None,
                    intervention_id=None, company_id=None, start=None, end=None, overdue=None,
                    limit=None, after=None):
        """The visits the caller may see, in time order (start, id), a page
        at a time; filters combine with AND."""
        with self.db.session() as session:
            conditions = self._visit_filters(session, state, client_id, technician_id, type_id,
                                             intervention_id, company_id, start, end, overdue)
            rows, cursor = page(session, sa.select(Visit).where(*conditions), Visit, limit, after,
                                keys=(Visit.start_at, Visit.id), descending=False)
            at = now()
            return {"items": [visit_dict(v, at) for v in rows], "next_cursor": cursor}

    @rpc
    def planning(self, start, end, technician_id=None, client_id=None, company_id=None,
                 include_cancelled=False, limit=None, after=None):
        """The caller's planning in [start, end): a worker's own visits, a
        client's own, a manager's company's (narrowed by the filters), in
        time order, with the names a planning shows. At most 92 days."""
        first, last = _instant(start, "from"), _instant(end, "to")
        if first is None or last is None:
            raise InvalidInput("from and to are required.", {"from": start, "to": end})
        if last - first > timedelta(days=MAX_PLANNING_DAYS):
            raise InvalidInput(f"A planning covers at most {MAX_PLANNING_DAYS} days.",
                               {"max_days": MAX_PLANNING_DAYS})
        with self.db.session() as session:
            conditions = self._visit_filters(session, client_id=client_id,
                                             technician_id=technician_id, company_id=company_id,
                                             start=start, end=end)
            if not include_cancelled:
                conditions.append(Visit.state != "cancelled")
            query = (sa.select(Visit, Client.name.label("client_name"),
                               Client.address.label("client_address"),
                               Technician.name.label("technician_name"),
                               InterventionType.name.label("type_name"))
                     .join(Client, Client.id == Visit.client_id)
                     .join(Technician, Technician.id == Visit.technician_id)
                     .join(InterventionType, InterventionType.id == Visit.type_id)
                     .add_columns(Visit.start_at.label("start_at"), Visit.id.label("id"))
                     .where(*conditions))
            rows, cursor = page(session, query, Visit, limit, after,
                                keys=(Visit.start_at, Visit.id), descending=False, columns=True)
            at = now()
            items = []
            for row in rows:
                item = visit_dict(row.Visit, at)
                item.update(reference=rules.reference(row.Visit.intervention_id),
                            client={"id": row.Visit.client_id, "name": row.client_name,
                                    "address": row.client_address},
                            technician={"id": row.Visit.technician_id, "name": row.technician_name},
                            type={"id": row.Visit.type_id, "name": row.type_name})
                items.append(item)
            return {"items": items, "next_cursor": cursor}

    # --- the validation board ----------------------------------------------------------------

    def _board_conditions(self, session, waiting_for, client_id, technician_id, type_id, start, end,
                          company_id, at):
        p = self.principal
        if p is None or p.role not in ("admin", "manager"):
            raise Forbidden("The validation board is for managers and admins.")
        conditions = self._visit_filters(session, client_id=client_id, technician_id=technician_id,
                                         type_id=type_id, company_id=company_id, start=start,
                                         end=end)
        conditions.append(Visit.waiting_since <= at)  # waits for someone (domain: waiting_since)
        if waiting_for is not None:
            if waiting_for not in BOARD_WAITING:
                raise InvalidInput("waiting_for is worker, client or manager.",
                                   {"waiting_for": waiting_for, "allowed": list(BOARD_WAITING)})
            conditions.append(Visit.state.in_([s for s, who in flow.AWAITING.items()
                                               if who == waiting_for]))
        return conditions

    @rpc
    def validation_board(self, waiting_for=None, client_id=None, technician_id=None, type_id=None,
                         start=None, end=None, company_id=None, limit=None, after=None,
                         totals=True):
        """Every visit waiting for someone (the worker to declare or answer,
        the client to validate, a manager to settle), oldest wait first,
        with who it waits for, since when, and the totals per party for the
        same filters."""
        at = now()
        with self.db.session() as session:
            conditions = self._board_conditions(session, waiting_for, client_id, technician_id,
                                                type_id, start, end, company_id, at)
            query = (sa.select(Visit.id, Visit.intervention_id, Visit.company_id, Visit.client_id,
                               Visit.technician_id, Visit.type_id, Visit.state, Visit.start_at,
                               Visit.end_at, Visit.km, Visit.waiting_since, Visit.version,
                               Client.name.label("client_name"),
                               Technician.name.label("technician_name"))
                     .join(Client, Client.id == Visit.client_id)
                     .join(Technician, Technician.id == Visit.technician_id)
                     .where(*conditions))
            rows, cursor = page(session, query, Visit, limit, after,
                                keys=(Visit.waiting_since, Visit.id), descending=False, columns=True)
            items = [_board_item(row) for row in rows]
            result = {"items": items, "next_cursor": cursor}
            if totals:
                counted = session.execute(
                    sa.select(Visit.state, sa.func.count()).where(*conditions)
                    .group_by(Visit.state)).all()
                sums = {who: 0 for who in BOARD_WAITING}
                for state, count in counted:
                    sums[flow.AWAITING[state]] += count
                result["totals"] = {**sums, "all": sum(sums.values())}
            return result

    # --- the reasons' catalogs --------------------------------------------------------------

    @rpc
    @command
    def create_visit_reason(self, uow, kind, label, company_id=None, position=0):
        """An admin of the company: a refusal or cancellation reason."""
        p = self.principal
        s = uow.session
        if kind not in flow.REASON_KINDS:
            raise InvalidInput("kind is refusal or cancellation.", {"kind": kind})
        company_id = company_id or (p.company_id if p else None)
        if company_id is None:
            raise InvalidInput("company_id is required for an admin of the whole platform.",
                               {"company_id": "required"})
        company = resolve(s, p, "company", company_id, "company_id")
        if p is None or p.role != "admin" or not sees_company(p, company.id):
            raise Forbidden("Only an admin of this company configures its reasons.")
        reason = VisitReason(company_id=company.id, kind=kind, label=_text(label, "label", True),
                             position=int(position or 0), active=True, version=1)
        s.add(reason)
        s.flush()
        return as_dict(reason, REASON_FIELDS)

    @rpc
    @command
    def update_visit_reason(self, uow, reason_id, version, changes):
        """An admin of its company: label, position, active."""
        p = self.principal
        s = uow.session
        reason = visible(s, p, "visit_reason", reason_id, lock=True, field="reason_id")
        if p is None or p.role != "admin":
            raise Forbidden("Only an admin configures the reasons.")
        unknown = set(changes or {}) - {"label", "position", "active"}
        if unknown or not changes:
            raise InvalidInput("label, position or active may change.", {"fields": sorted(unknown)})
        if version != reason.version:
            raise Conflict("The reason was changed by someone else; reload it and retry.",
                           {"current_version": reason.version, "your_version": version})
        if "label" in changes:
            reason.label = _text(changes["label"], "label", True)
        if "position" in changes:
            reason.position = int(changes["position"])
        if "active" in changes:
            reason.active = bool(changes["active"])
        reason.version += 1
        s.flush()
        return as_dict(reason, REASON_FIELDS)

    @rpc
    def list_visit_reasons(self, kind=None, company_id=None, active=None, limit=None, after=None):
        """The reasons the caller may pick: its company's (a client its
        client's company's)."""
        with self.db.session() as session:
            cond = scope("visit_reason", self.principal, session)
            conditions = [cond] if cond is not None else []
            if kind is not None:
                if kind not in flow.REASON_KINDS:
                    raise InvalidInput("kind is refusal or cancellation.", {"kind": kind})
                conditions.append(VisitReason.kind == kind)
            if company_id is not None:
                conditions.append(VisitReason.company_id == resolve_filter(
                    session, self.principal, "company", company_id, "company_id"))
            if active is not None:
                conditions.append(VisitReason.active.is_(bool(active)))
            rows, cursor = page(session, sa.select(VisitReason).where(*conditions), VisitReason,
                                limit, after, keys=(VisitReason.position, VisitReason.id),
                                descending=False)
            return {"items": [as_dict(r, REASON_FIELDS) for r in rows], "next_cursor": cursor}


def _board_item(row):
    return {"id": row.id, "intervention_id": row.intervention_id,
            "reference": rules.reference(row.intervention_id), "company_id": row.company_id,
            "client": {"id": row.client_id, "name": row.client_name},
            "technician": {"id": row.technician_id, "name": row.technician_name},
            "type_id": row.type_id, "state": row.state, "start_at": rfc3339(row.start_at),
            "end_at": rfc3339(row.end_at), "km": _km(row.km),
            "waiting_for": flow.AWAITING[row.state],
            "waiting_since": rfc3339(row.waiting_since), "version": row.version}
